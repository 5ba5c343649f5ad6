"""Hostile input into every channel machine: random bytes, random message numbers
with random bodies, truncated and oversized messages.  The only acceptable outcomes
are events or a SpiceError (ProtocolError/WireError), after which the channel is in
ERROR; nothing else may escape and every call returns.  test_channel_fuzz_state.py
adds that a rejected message leaves the channel's state as it was."""

from __future__ import annotations

import struct

import pytest
from _channel_helpers import events, linked
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spicepy.channels import CHANNEL_CLASSES, ChannelState
from spicepy.channels.base import Channel
from spicepy.errors import ProtocolError, SpiceError, WireError
from spicepy.wire import all_messages

TYPES = sorted(CHANNEL_CLASSES)
_KNOWN = sorted({c.MSG_TYPE for c in all_messages() if c.FROM_SERVER})


def _linked(channel_type: int) -> Channel:
    ch, _ = linked(CHANNEL_CLASSES[channel_type], max_message_size=1 << 16)
    return ch


def _feed(ch: Channel, chunks: list[bytes]) -> None:
    """Feed chunk by chunk, draining events and output; after a SpiceError the
    channel must be in ERROR and refuse any further input."""
    for chunk in chunks:
        try:
            ch.receive_data(chunk)
        except SpiceError as exc:
            assert isinstance(exc, (WireError, ProtocolError)), type(exc)  # documented
            assert ch.state is ChannelState.ERROR
            with pytest.raises(ProtocolError):
                ch.receive_data(b"x")
            return
        events(ch)
        ch.data_to_send()


_FUZZ = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@pytest.mark.parametrize("channel_type", TYPES)
@_FUZZ
@given(chunks=st.lists(st.binary(max_size=400), min_size=1, max_size=8))
def test_random_bytes_after_link(channel_type: int, chunks: list[bytes]) -> None:
    _feed(_linked(channel_type), [*chunks, b""])


@pytest.mark.parametrize("channel_type", TYPES)
@_FUZZ
@given(
    msgs=st.lists(
        st.tuples(
            st.one_of(st.sampled_from(_KNOWN), st.integers(0, 0xFFFF)),
            st.binary(max_size=120),
            st.integers(-8, 8),
        ),
        max_size=6,
    )
)
def test_random_messages(channel_type: int, msgs: list[tuple[int, bytes, int]]) -> None:
    """Known and unknown numbers with random bodies; the size field may lie a little
    (negative = truncated body, positive = body runs into the next header)."""
    stream = b"".join(
        struct.pack("<HI", t, max(0, len(body) + skew)) + body for t, body, skew in msgs
    )
    _feed(_linked(channel_type), [stream, b""])


@pytest.mark.parametrize("channel_type", TYPES)
def test_oversized_size_field_is_refused_without_buffering(channel_type: int) -> None:
    ch = _linked(channel_type)
    with pytest.raises(SpiceError):
        ch.receive_data(struct.pack("<HI", 101, 0xFFFFFFFF))
    assert ch.state is ChannelState.ERROR
    with pytest.raises(ProtocolError):  # and it sticks
        ch.receive_data(b"x")


@pytest.mark.parametrize("channel_type", TYPES)
@pytest.mark.parametrize("prefix", [b"REDQ", b"REDQ\x02\x00\x00\x00"])
@_FUZZ
@given(data=st.binary(max_size=400))
def test_random_bytes_during_link(
    channel_type: int, prefix: bytes, data: bytes
) -> None:
    """A link header with the right magic (and version) followed by garbage."""
    ch = CHANNEL_CLASSES[channel_type]()
    ch.data_to_send()
    _feed(ch, [prefix + data[:8], data[8:], b""])
