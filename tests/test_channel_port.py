"""Port channel (spicepy.channels.port) on bytes: PORT_INIT, PORT_EVENT and
SpiceVMC data both ways, the spec's order, and arbitrary bodies ending in
SpiceError only.  Bodies follow spice.proto ``channel PortChannel``."""

from __future__ import annotations

import struct

import pytest
from _channel_helpers import drive, drive_pieces, linked, split_messages
from hypothesis import given
from hypothesis import strategies as st

from spicepy.channels import ChannelState
from spicepy.channels.port import (
    PortChannel,
    PortDataReceived,
    PortEventReceived,
    PortInitReceived,
)
from spicepy.channels.spicevmc import MAX_VMC_CHUNK
from spicepy.errors import ProtocolError, SpiceError
from spicepy.testing.fake_server import FakeServer
from spicepy.wire.enums import PortEvent

INIT, EVENT, DATA, COMPRESSED = 201, 202, 101, 102  # spice.proto PortChannel
DATA_C, EVENT_C = 101, 201


def init_body(name: bytes, opened: bool) -> bytes:
    # name_size u32, *name (offset from the body start) u32, opened u8, then name
    return struct.pack("<IIB", len(name), 9, opened) + name


def opened_port(srv: FakeServer) -> bytes:
    return srv.pack_raw(INIT, init_body(b"org.example.test\0", False)) + srv.pack_raw(
        EVENT, bytes([PortEvent.OPENED])
    )


def test_init_event_and_data_become_events() -> None:
    ch, srv = linked(PortChannel)
    stream = (
        opened_port(srv)
        + srv.pack_raw(DATA, b"hello ")
        + srv.pack_raw(COMPRESSED, b"\0world")  # type NONE: the bytes as they are
        + srv.pack_raw(EVENT, bytes([PortEvent.CLOSED]))
    )
    want = [
        PortInitReceived("org.example.test", False),
        PortEventReceived(PortEvent.OPENED),
        PortDataReceived(b"hello "),
        PortDataReceived(b"world"),
        PortEventReceived(PortEvent.CLOSED),
    ]
    assert drive(ch, stream) == want
    assert ch.name == "org.example.test" and not ch.guest_opened
    assert ch.bytes_received == 11
    one, _ = linked(PortChannel)
    assert drive_pieces(one, stream, (1,)) == want


def test_guest_open_state_follows_events() -> None:
    ch, srv = linked(PortChannel)
    drive(ch, srv.pack_raw(INIT, init_body(b"p\0", True)))
    assert ch.guest_opened
    drive(ch, srv.pack_raw(EVENT, bytes([PortEvent.CLOSED])))
    assert not ch.guest_opened
    assert drive(ch, srv.pack_raw(EVENT, b"\x09")) == [PortEventReceived(9)]


def test_client_data_and_events_on_the_wire() -> None:
    ch, srv = linked(PortChannel)
    drive(ch, opened_port(srv))
    ch.send_port_event(PortEvent.OPENED)
    payload = bytes(range(256)) * (MAX_VMC_CHUNK // 256 * 2 + 1)
    ch.send_data(payload)
    msgs = split_messages(ch.data_to_send())
    assert msgs[0] == (EVENT_C, bytes([PortEvent.OPENED]))
    assert [t for t, _ in msgs[1:]] == [DATA_C] * 3
    assert [len(b) for _, b in msgs[1:]] == [MAX_VMC_CHUNK, MAX_VMC_CHUNK, 256]
    assert b"".join(b for _, b in msgs[1:]) == payload
    assert ch.bytes_sent == len(payload)


@pytest.mark.parametrize(
    "first,match",
    [
        ((DATA, b"x"), "before PORT_INIT"),
        ((EVENT, b"\0"), "before PORT_INIT"),
        ((INIT, init_body(b"a\0", True)), "second"),
        ((COMPRESSED, b"\1" + struct.pack("<I", 4) + b"abcd"), "compressed"),
    ],
    ids=["data-first", "event-first", "two-inits", "lz4-unannounced"],
)
def test_order_and_compression_rules(first: tuple[int, bytes], match: str) -> None:
    ch, srv = linked(PortChannel)
    prefix = b"" if match == "before PORT_INIT" else opened_port(srv)
    with pytest.raises(ProtocolError, match=match):
        drive(ch, prefix + srv.pack_raw(*first))
    assert ch.state is ChannelState.ERROR


def test_truncated_init_is_an_error() -> None:
    ch, srv = linked(PortChannel)
    # name_size says 50 bytes, the body holds 3
    with pytest.raises(SpiceError):
        drive(ch, srv.pack_raw(INIT, struct.pack("<IIB", 50, 9, 1) + b"abc"))
    assert ch.state is ChannelState.ERROR


@given(
    msgs=st.lists(
        st.tuples(
            st.sampled_from([INIT, EVENT, DATA, COMPRESSED, 250]),
            st.binary(max_size=40),
        ),
        max_size=6,
    )
)
def test_arbitrary_bodies_give_events_or_spice_errors(
    msgs: list[tuple[int, bytes]],
) -> None:
    ch, srv = linked(PortChannel)
    try:
        drive(ch, b"".join(srv.pack_raw(t, b) for t, b in msgs))
    except SpiceError:
        assert ch.state is ChannelState.ERROR
