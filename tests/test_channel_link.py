"""Link handshake of every channel machine against a fake server side.

This file's server side (``FakeServer``) is built with ``struct`` straight from
PROTOCOL.md section 1, with its own RSA key, so the ticket the machine sends is
decrypted and checked here and the handshake is checked independently of
``spicepy.wire.link``. The other ``test_channel_*`` files drive linked machines
with ``spicepy.testing.fake_server`` through ``_channel_helpers``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import pytest
from _channel_helpers import events
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from spicepy.channels import (
    CHANNEL_CLASSES,
    ChannelClosed,
    ChannelState,
    DisplayChannel,
    InputsChannel,
    LinkCompleted,
    MainChannel,
)
from spicepy.channels.base import Channel
from spicepy.errors import AuthenticationError, LinkError, ProtocolError, SpiceError

MAGIC = 0x51444552  # "REDQ"
AUTH_SELECTION, AUTH_SPICE, AUTH_SASL, MINI_HEADER = 0, 1, 2, 3
ALL_COMMON = (AUTH_SELECTION, AUTH_SPICE, MINI_HEADER)
KEY = rsa.generate_private_key(public_exponent=65537, key_size=1024)
PUB_DER = KEY.public_key().public_bytes(
    serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
)
OAEP = padding.OAEP(
    mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None
)


def words(bits: tuple[int, ...] | frozenset[int]) -> list[int]:
    out = [0] * (max(bits) // 32 + 1) if bits else []
    for bit in bits:
        out[bit // 32] |= 1 << (bit % 32)
    return out


def bits_of(ws: tuple[int, ...] | list[int]) -> frozenset[int]:
    return frozenset(
        i * 32 + b for i, w in enumerate(ws) for b in range(32) if w >> b & 1
    )


def mini(msg_type: int, body: bytes = b"") -> bytes:
    """A message with the 6-byte mini header."""
    return struct.pack("<HI", msg_type, len(body)) + body


def full(serial: int, msg_type: int, body: bytes = b"", sub_list: int = 0) -> bytes:
    """A message with the 18-byte header."""
    return struct.pack("<QHII", serial, msg_type, len(body), sub_list) + body


def link_reply(
    common: tuple[int, ...] = ALL_COMMON,
    channel: tuple[int, ...] = (),
    error: int = 0,
    key: bytes = PUB_DER,
) -> bytes:
    cw, chw = words(common), words(channel)
    body = struct.pack("<I", error) + key + struct.pack("<III", len(cw), len(chw), 178)
    body += struct.pack(f"<{len(cw) + len(chw)}I", *cw, *chw)
    return struct.pack("<IIII", MAGIC, 2, 2, len(body)) + body


@dataclass
class ClientLink:
    """What the client sent during the link, decoded."""

    connection_id: int
    channel_type: int
    channel_id: int
    common_caps: frozenset[int]
    channel_caps: frozenset[int]
    mechanism: int | None
    ticket: bytes  # decrypted


def parse_link_mess(data: bytes) -> tuple[ClientLink, int]:
    magic, major, minor, size = struct.unpack_from("<IIII", data)
    assert (magic, major, minor) == (MAGIC, 2, 2)
    conn, ctype, cid, ncommon, nchan, offset = struct.unpack_from("<IBBIII", data, 16)
    assert offset == 18 and size == 18 + 4 * (ncommon + nchan)
    ws = struct.unpack_from(f"<{ncommon + nchan}I", data, 16 + offset)
    info = ClientLink(
        conn, ctype, cid, bits_of(ws[:ncommon]), bits_of(ws[ncommon:]), None, b""
    )
    return info, 16 + size


class FakeServer:
    """The server side of one link, for driving a machine without sockets.

    Args:
        common, channel: the caps the server advertises.
        password: what the server expects; a mismatch answers PERMISSION_DENIED.
        result: force this link result instead (e.g. NEED_SECURED = 5).
    """

    def __init__(
        self,
        common: tuple[int, ...] = ALL_COMMON,
        channel: tuple[int, ...] = (),
        password: str = "",
        result: int | None = None,
    ) -> None:
        self.common, self.channel = common, channel
        self.password, self.result = password, result

    def link(self, ch: Channel, *, step: int = 0) -> ClientLink:
        """Run the handshake; ``step`` > 0 feeds the server bytes in pieces."""
        info, used = parse_link_mess(ch.data_to_send())
        assert used > 0
        self._feed(ch, link_reply(self.common, self.channel), step)
        sent = ch.data_to_send()
        if AUTH_SELECTION in self.common and AUTH_SELECTION in info.common_caps:
            (info.mechanism,) = struct.unpack_from("<I", sent)
            sent = sent[4:]
        assert len(sent) == 128  # one 1024-bit RSA block
        info.ticket = KEY.decrypt(sent, OAEP)
        code = self.result
        if code is None:
            code = 0 if info.ticket == self.password.encode() + b"\0" else 7
        self._feed(ch, struct.pack("<I", code), step)
        return info

    @staticmethod
    def _feed(ch: Channel, data: bytes, step: int) -> None:
        if step <= 0:
            ch.receive_data(data)
            return
        for i in range(0, len(data), step):
            ch.receive_data(data[i : i + step])


# -- tests ---------------------------------------------------------------------------


@pytest.mark.parametrize("ctype", sorted(CHANNEL_CLASSES))
def test_link_message_names_channel_and_caps(ctype: int) -> None:
    cls = CHANNEL_CLASSES[ctype]
    ch = cls(3, connection_id=0x1234ABCD)
    info, used = parse_link_mess(ch.data_to_send())
    assert used > 16
    assert (info.connection_id, info.channel_type, info.channel_id) == (
        0x1234ABCD,
        ctype,
        3,
    )
    assert info.common_caps == frozenset(ALL_COMMON)  # no SASL: spicepy lacks it
    # playback/record add OPUS when PyAV imports (checked when a machine is made)
    from spicepy.channels.playback import default_playback_caps
    from spicepy.channels.record import default_record_caps

    defaults = {5: default_playback_caps(), 6: default_record_caps()}
    assert info.channel_caps == defaults.get(ctype, frozenset(cls.DEFAULT_CAPS))
    assert ch.state is ChannelState.LINKING and not ch.linked


def test_channel_caps_are_configurable() -> None:
    ch = InputsChannel(0, channel_caps=frozenset({0, 40}), common_caps=frozenset({3}))
    info, _ = parse_link_mess(ch.data_to_send())
    assert info.channel_caps == {0, 40} and info.common_caps == {3}


@pytest.mark.parametrize("password", ["", "secret", "päss wörd", "x" * 60])
def test_ticket_is_the_oaep_encrypted_password(password: str) -> None:
    ch = MainChannel(0, password=password)
    info = FakeServer(password=password).link(ch)
    assert info.mechanism == 1  # SPICE_COMMON_CAP_AUTH_SPICE
    assert info.ticket == password.encode() + b"\0"
    (done,) = events(ch)
    assert done == LinkCompleted(1, 0, frozenset(ALL_COMMON), frozenset(), True)
    assert ch.state is ChannelState.READY and ch.linked


def test_password_longer_than_60_bytes_is_refused() -> None:
    with pytest.raises(ValueError):
        MainChannel(0, password="y" * 61)


def test_wrong_password_raises_authentication_error_and_sticks() -> None:
    ch = MainChannel(0, password="wrong")
    with pytest.raises(AuthenticationError, match="password") as err:
        FakeServer(password="right").link(ch)
    assert err.value.error_code == 7
    assert ch.state is ChannelState.ERROR
    with pytest.raises(ProtocolError):
        ch.receive_data(mini(4, bytes(12)))


def test_need_secured_is_a_link_error_with_its_code() -> None:
    ch = DisplayChannel(0)
    with pytest.raises(LinkError) as err:
        FakeServer(result=5).link(ch)
    assert err.value.error_code == 5 and not isinstance(err.value, AuthenticationError)
    assert "tls" in str(err.value).lower()


@pytest.mark.parametrize("code", [1, 2, 3, 4, 6, 8, 9, 77])
def test_other_link_results_raise_link_error(code: int) -> None:
    ch = DisplayChannel(0)
    with pytest.raises(LinkError) as err:
        FakeServer(result=code).link(ch)
    assert err.value.error_code == code or code == 77
    assert ch.state is ChannelState.ERROR


def test_error_in_link_reply_sends_no_ticket() -> None:
    ch = MainChannel(0)
    ch.data_to_send()
    with pytest.raises(LinkError) as err:
        ch.receive_data(link_reply(error=9))
    assert err.value.error_code == 9
    assert ch.data_to_send() == b""


def test_server_without_auth_selection_gets_the_ticket_alone() -> None:
    ch = MainChannel(0, password="pw")
    info = FakeServer(common=(AUTH_SPICE, MINI_HEADER), password="pw").link(ch)
    assert info.mechanism is None and info.ticket == b"pw\0"
    assert ch.linked


def test_without_mini_header_full_headers_are_used_both_ways() -> None:
    ch = DisplayChannel(0)
    FakeServer(common=(AUTH_SELECTION, AUTH_SPICE)).link(ch)
    (done,) = events(ch)
    assert isinstance(done, LinkCompleted) and not done.mini_header
    init = ch.data_to_send()  # DISPLAY_INIT with an 18-byte header
    serial, msg_type, size, sub = struct.unpack_from("<QHII", init)
    assert (serial, msg_type, size, sub) == (1, 101, 14, 0) and len(init) == 32
    ch.receive_data(full(1, 4, struct.pack("<IQ", 9, 123)))  # PING
    pong = ch.data_to_send()
    assert struct.unpack_from("<QHII", pong) == (2, 3, 12, 0)
    assert pong[18:] == struct.pack("<IQ", 9, 123)


def test_link_fed_byte_by_byte_gives_the_same_result() -> None:
    a, b = MainChannel(0, password="pw"), MainChannel(0, password="pw")
    FakeServer(password="pw").link(a)
    FakeServer(password="pw").link(b, step=1)
    assert events(a) == events(b) and a.linked and b.linked


def test_link_result_and_first_message_in_one_segment() -> None:
    ch = MainChannel(0)
    ch.data_to_send()
    ch.receive_data(link_reply())
    ch.data_to_send()
    ch.receive_data(struct.pack("<I", 0) + mini(4, struct.pack("<IQ", 1, 2)))
    assert [type(e).__name__ for e in events(ch)] == ["LinkCompleted", "PingAnswered"]


def test_bad_magic_and_version() -> None:
    ch = MainChannel(0)
    with pytest.raises(ProtocolError):
        ch.receive_data(b"XXXX" + link_reply()[4:])
    ch = MainChannel(0)
    reply = bytearray(link_reply())
    reply[4:8] = struct.pack("<I", 3)
    with pytest.raises(LinkError) as err:
        ch.receive_data(bytes(reply))
    assert err.value.error_code == 4


@pytest.mark.parametrize(
    "key", [bytes(162), b"\x30" + bytes(161), PUB_DER[:100] + bytes(62)]
)
def test_unusable_public_key_is_a_spice_error(key: bytes) -> None:
    ch = MainChannel(0)
    with pytest.raises(SpiceError):
        ch.receive_data(link_reply(key=key))
    assert ch.state is ChannelState.ERROR


def test_public_key_too_small_for_the_ticket_is_a_link_error() -> None:
    # a 162-byte DER holding a 640-bit modulus (padded out by a long exponent):
    # RSA-OAEP-SHA1 cannot fit the 61-byte ticket into 80 bytes
    key = rsa.RSAPublicNumbers((1 << 414) + 1, (1 << 639) | 12345).public_key()
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert len(der) == 162
    ch = MainChannel(0, password="x" * 60)
    with pytest.raises(LinkError):
        ch.receive_data(link_reply(key=der))
    assert ch.state is ChannelState.ERROR


def test_huge_link_reply_size_is_refused_at_once() -> None:
    ch = MainChannel(0)
    with pytest.raises(ProtocolError):
        ch.receive_data(struct.pack("<IIII", MAGIC, 2, 2, 0xFFFFFFF0))


def test_eof_during_link_is_not_clean() -> None:
    ch = MainChannel(0)
    ch.receive_data(link_reply()[:30])
    ch.receive_data(b"")
    (closed,) = events(ch)
    assert isinstance(closed, ChannelClosed) and not closed.clean
    assert ch.state is ChannelState.CLOSED
