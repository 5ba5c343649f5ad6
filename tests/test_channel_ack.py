"""The ACK cadence across SET_ACKs (spice-gtk ``spice-channel.c``): a message is
counted before it is handled, so a SET_ACK still counts toward the window it
replaces (and may complete it); its handler answers ACK_SYNC and restarts the
count, so the first ACK after it comes after exactly ``window`` further
messages. A window of 0 turns ACKs off."""

from __future__ import annotations

from typing import Any

from _channel_helpers import drive
from _channel_helpers import linked as helpers_linked
from hypothesis import given
from hypothesis import strategies as st

from spicepy.channels import AckWindowSet
from spicepy.channels.base import Channel
from spicepy.testing.fake_server import FakeServer
from spicepy.wire.enums import ChannelType
from spicepy.wire.msg_common import Ack, AckSync, SetAck
from spicepy.wire.msg_other import CursorHide


class GenericCursor(Channel):
    """The bare base machine on a cursor connection (common behaviour only)."""

    CHANNEL_TYPE = ChannelType.CURSOR


def _linked() -> tuple[GenericCursor, FakeServer]:
    return helpers_linked(GenericCursor, FakeServer(), connection_id=9)


def _replies(ch: GenericCursor, srv: FakeServer) -> list[object]:
    return list(srv.client_messages(ch.data_to_send(), 4))


def test_second_set_ack_restarts_the_count() -> None:
    ch, srv = _linked()
    drive(ch, srv.pack(SetAck(1, 3)))
    assert _replies(ch, srv) == [AckSync(1)]
    drive(ch, srv.pack(CursorHide()))  # 1 of 3
    assert _replies(ch, srv) == []
    assert drive(ch, srv.pack(SetAck(2, 3))) == [AckWindowSet(2, 3)]  # 2 of 3
    assert _replies(ch, srv) == [AckSync(2)]
    acks_at = []
    for i in range(1, 7):
        drive(ch, srv.pack(CursorHide()))
        if _replies(ch, srv) == [Ack()]:
            acks_at.append(i)
    assert acks_at == [3, 6]  # counted from the second SET_ACK, not the first


# A script: ("set", generation, window) or ("msg", n) for n plain messages.
_step = st.one_of(
    st.tuples(st.just("set"), st.integers(0, 2**32 - 1), st.integers(0, 5)),
    st.tuples(st.just("msg"), st.integers(1, 12)),
)


@given(st.lists(_step, min_size=1, max_size=12))
def test_ack_cadence_follows_the_latest_set_ack(script: list[tuple[Any, ...]]) -> None:
    """Model: every message (SET_ACK too) counts toward the current window, an
    ACK goes out each time the count reaches it (then restarts), nothing counts
    while the window is 0, and a SET_ACK's handler restarts the count."""
    ch, srv = _linked()
    window = count = 0

    def count_one() -> int:
        nonlocal count
        if window:
            count += 1
            if count == window:
                count = 0
                return 1
        return 0

    for step in script:
        if step[0] == "set":
            acked = count_one()
            _, generation, window = step
            count = 0
            assert drive(ch, srv.pack(SetAck(generation, window))) == [
                AckWindowSet(generation, window)
            ]
            assert _replies(ch, srv) == [Ack()] * acked + [AckSync(generation)]
            continue
        expected = sum(count_one() for _ in range(step[1]))
        drive(ch, b"".join(srv.pack(CursorHide()) for _ in range(step[1])))
        assert _replies(ch, srv) == [Ack()] * expected, (script, step)
