"""Properties of hostile input beyond "nothing crashed" (test_channel_fuzz.py):

- every error out of ``receive_data`` is a documented one (WireError, or a
  ProtocolError and its LinkError / AuthenticationError subclasses) and leaves
  the channel in ERROR, where it stays;
- a rejected message is not half applied: what the channel holds (position,
  shape cache, modes, tokens, ACK window, unknown-message count, ...) is as it
  was before that message, it queues nothing for it and emits no event for it.

The counters a message bumps *before* it is handled are left out on purpose:
spice-gtk counts a message toward the ACK window and the serial before parsing
it (``spice-channel.c``), so a rejected message that is the last of its window
queues exactly one ACK, and any other rejected message queues nothing.
"""

from __future__ import annotations

import copy
import struct
from typing import Any

import pytest
from _channel_helpers import events, linked
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_wire_messages import build

from spicepy.channels import CHANNEL_CLASSES, ChannelState
from spicepy.channels.base import Channel
from spicepy.errors import ProtocolError, SpiceError, WireError
from spicepy.testing.fake_server import FakeServer
from spicepy.wire import all_messages
from spicepy.wire.messages import encode_message
from spicepy.wire.msg_common import Ack

TYPES = sorted(CHANNEL_CLASSES)
# Bumped before a message is handled (spice-gtk's order, see the docstring), or
# the machine's own plumbing (input buffer, queues, link handshake).
_NOT_STATE = {
    "messages_received",
    "_counts",  # message_counts
    "state",
    "_ack_count",
    "_in_serial",
    "_out_serial",  # an ACK the rejected message completed (see below)
    "_buf",
    "_events",
    "_out",
    "_link",
}


def _observable(ch: Channel) -> dict[str, Any]:
    """Everything else the machine holds (caches included), copied."""
    out: dict[str, Any] = {}
    for k, v in vars(ch).items():
        if k in _NOT_STATE:
            continue
        try:
            out[k] = copy.deepcopy(v)
        except TypeError:  # not copyable: compared by identity
            out[k] = v
    return out | {k: getattr(ch, k) for k in ("ack_window", "ack_generation")}


def _linked(channel_type: int) -> Channel:
    ch, _ = linked(CHANNEL_CLASSES[channel_type], max_message_size=1 << 16)
    return ch


def _linked_pair(channel_type: int) -> tuple[Channel, FakeServer]:
    return linked(CHANNEL_CLASSES[channel_type], max_message_size=1 << 16)


_FUZZ = settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


_DEFS: dict[int, list[type]] = {
    t: sorted(
        (c for c in all_messages() if c.FROM_SERVER and c.CHANNEL in (0, t)),
        key=lambda c: (c.CHANNEL, c.MSG_TYPE),
    )
    for t in TYPES
}


def _message(data: st.DataObject, channel_type: int) -> bytes:
    """One mini-header message of this channel's (or a common) type: a valid
    one built from its definition (random field values, so handlers meet
    values they must refuse), as is, cut short or with flipped bits; or a
    random body under a known number."""
    cls = data.draw(st.sampled_from(_DEFS[channel_type]), label="definition")
    how = data.draw(st.sampled_from(["valid", "cut", "flip", "random"]), label="how")
    if how == "random":
        body = data.draw(st.binary(max_size=200), label="body")
    else:
        body = bytearray(encode_message(build(cls, data))[1])
        if how == "cut" and body:
            body = body[: data.draw(st.integers(0, len(body) - 1), label="cut")]
        elif how == "flip" and body:
            for _ in range(data.draw(st.integers(1, 4), label="flips")):
                pos = data.draw(st.integers(0, len(body) - 1), label="pos")
                body[pos] ^= 1 << data.draw(st.integers(0, 7), label="bit")
    return struct.pack("<HI", cls.MSG_TYPE, len(body)) + bytes(body)


@pytest.mark.parametrize("channel_type", TYPES)
@_FUZZ
@given(data=st.data())
def test_rejected_message_changes_nothing(
    channel_type: int, data: st.DataObject
) -> None:
    ch, srv = _linked_pair(channel_type)
    for _ in range(data.draw(st.integers(1, 6), label="messages")):
        msg = _message(data, channel_type)
        before = _observable(ch)
        # a whole message within the size limit is counted before it is parsed
        # (spice-gtk's spice_channel_recv_msg decrements message_ack_count and
        # sends the ACK before c->parser runs; a parse failure only logs), so
        # it completes the window exactly when it is the window's last message
        framed = ch.state is ChannelState.READY and len(msg) - 6 <= ch.max_message_size
        received, window, count = ch.messages_received, ch.ack_window, ch._ack_count
        completes = framed and window > 0 and count + 1 >= window
        try:
            ch.receive_data(msg)
        except SpiceError as exc:
            assert isinstance(exc, (WireError, ProtocolError)), type(exc)
            assert ch.state is ChannelState.ERROR
            assert _observable(ch) == before, "a rejected message was half applied"
            assert events(ch) == [], "events for a rejected message"
            assert ch.messages_received == received + framed
            replies = srv.client_messages(ch.data_to_send(), channel_type)
            assert replies == ([Ack()] if completes else []), replies
            with pytest.raises(ProtocolError):
                ch.receive_data(b"\0" * 6)
            return
        events(ch)
        ch.data_to_send()


@pytest.mark.parametrize("channel_type", TYPES)
@_FUZZ
@given(chunks=st.lists(st.binary(max_size=300), min_size=1, max_size=6))
def test_every_error_is_documented(channel_type: int, chunks: list[bytes]) -> None:
    """Random bytes, then EOF: only WireError / ProtocolError, then ERROR sticks."""
    ch = _linked(channel_type)
    for chunk in [*chunks, b""]:
        try:
            ch.receive_data(chunk)
        except (WireError, ProtocolError):
            assert ch.state is ChannelState.ERROR
            with pytest.raises(ProtocolError):
                ch.receive_data(b"x")
            return
        events(ch)
        ch.data_to_send()
    assert ch.state is ChannelState.CLOSED  # EOF without an error closes it
