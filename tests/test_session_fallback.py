"""The session's interim channel machine: hostile bytes give SpiceErrors only."""

from __future__ import annotations

import struct

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import given
from hypothesis import strategies as st

from spicepy.errors import SpiceError
from spicepy.session._fallback import FallbackChannel, LinkCompleted, MessageReceived

KEY = rsa.generate_private_key(public_exponent=65537, key_size=1024)
PUBKEY = KEY.public_key().public_bytes(
    serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
)


def link_reply(common: int = 0b1011) -> bytes:
    reply = struct.pack("<I", 0) + PUBKEY + struct.pack("<IIII", 1, 0, 178, common)
    return struct.pack("<4sIII", b"REDQ", 2, 2, len(reply)) + reply


def linked(mini: bool = True) -> FallbackChannel:
    ch = FallbackChannel(2, 0, 7, "pw")
    ch.receive_data(link_reply(0b1011 if mini else 0b0011) + struct.pack("<I", 0))
    assert isinstance(ch.next_event(), LinkCompleted)
    ch.data_to_send()
    return ch


def test_link_message_layout() -> None:
    out = FallbackChannel(3, 1, 99, None, {0}).data_to_send()
    magic, major, minor, size = struct.unpack_from("<4sIII", out)
    assert (magic, major, minor, size) == (b"REDQ", 2, 2, len(out) - 16)
    conn_id, ctype, cid, n_common, n_chan, offset = struct.unpack_from(
        "<IBBIII", out, 16
    )
    assert (conn_id, ctype, cid, n_common, n_chan, offset) == (99, 3, 1, 1, 1, 18)
    assert struct.unpack_from("<II", out, 16 + 18) == (0b1011, 1)


def test_acks_pings_and_messages_byte_by_byte() -> None:
    for mini in (True, False):
        ch = linked(mini)

        def msg(mtype: int, body: bytes, serial: int, mini: bool = mini) -> bytes:
            if mini:
                return struct.pack("<HI", mtype, len(body)) + body
            return struct.pack("<QHII", serial, mtype, len(body), 0) + body

        stream = msg(3, struct.pack("<II", 5, 2), 1)  # SET_ACK generation 5, window 2
        stream += msg(4, struct.pack("<IQ", 9, 1234) + b"pad", 2)  # PING
        stream += msg(302, b"abc", 3)
        for i in range(len(stream)):
            ch.receive_data(stream[i : i + 1])
        events = []
        while (ev := ch.next_event()) is not None:
            events.append(ev)
        assert [e.msg_type for e in events if isinstance(e, MessageReceived)] == [
            3,
            4,
            302,
        ]
        out = ch.data_to_send()
        head = "<HI" if mini else "<QHII"
        pos, sent = 0, []
        while pos < len(out):
            fields = struct.unpack_from(head, out, pos)
            mtype, size = (fields[0], fields[1]) if mini else (fields[1], fields[2])
            pos += struct.calcsize(head)
            sent.append((mtype, out[pos : pos + size]))
            pos += size
        # ACK_SYNC(gen), PONG(id, timestamp), then one ACK after 2 counted messages
        assert sent == [
            (1, struct.pack("<I", 5)),
            (3, struct.pack("<IQ", 9, 1234)),
            (2, b""),
        ]


@given(st.binary(max_size=400))
def test_random_link_replies(data: bytes) -> None:
    ch = FallbackChannel(1, 0, 0, None)
    try:
        ch.receive_data(data)
        ch.receive_data(b"")
    except SpiceError:
        pass


@given(st.binary(max_size=400))
def test_random_messages_after_link(data: bytes) -> None:
    ch = linked()
    try:
        ch.receive_data(data)
        while ch.next_event() is not None:
            pass
        ch.receive_data(b"")
    except SpiceError:
        pass
