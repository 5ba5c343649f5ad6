"""spicepy.bots.sniffer: following a proxied link through a SPICE ticket or a
SASL exchange (both directions, any chunking), recording an inputs channel's
messages, and keeping a capture without the authentication (no password,
ticket or SASL response) that spicepy's capture reader still follows."""

from __future__ import annotations

import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from spicepy.bots.sniffer import LinkSniffer, _stand_in_key
from spicepy.capture.streams import client_data_start, server_data_start
from spicepy.wire.enums import AuthMechanism, ChannelType, CommonCap
from spicepy.wire.headers import pack_header
from spicepy.wire.link import LinkMess, LinkReply, caps_to_words, words_to_caps
from spicepy.wire.messages import encode_message
from spicepy.wire.msg_other import KeyDown, KeyUp, MousePosition, MousePress

CAPS = caps_to_words(
    {CommonCap.PROTOCOL_AUTH_SELECTION, CommonCap.MINI_HEADER, CommonCap.AUTH_SASL}
)
MESSAGES: list[object] = [KeyDown(0x1E), KeyUp(0x9E), MousePosition(3, 4, 0, 0),
                          MousePress(1, 1)]  # fmt: skip
PASSWORD = b"pa55-w0rd"
TICKET = bytes(range(200, 200 - 128, -1))  # stands for the RSA-encrypted password


def u32(n: int) -> bytes:
    return struct.pack("<I", n)


def record(data: bytes) -> bytes:
    return u32(len(data)) + data


def messages_bytes(channel: int = ChannelType.INPUTS) -> bytes:
    out = b""
    for msg in MESSAGES:
        kind, body = encode_message(msg)
        out += pack_header(kind, len(body), mini=True) + body
    return out


def link(channel: int = ChannelType.INPUTS) -> tuple[bytes, bytes]:
    return (
        LinkMess(0, channel, 0, CAPS).pack_with_header(),
        LinkReply(0, common_caps=CAPS).pack_with_header(),
    )


def captured_reply() -> bytes:
    """The server's reply as the capture keeps it: AUTH_SPICE offered too, with
    a public key a ticket reader can use (a SASL login is kept as a ticket
    login; this server offers SASL only, like QEMU with sasl=on)."""
    caps = caps_to_words({*words_to_caps(CAPS), CommonCap.AUTH_SPICE})
    return LinkReply(0, _stand_in_key(), common_caps=caps).pack_with_header()


def ticket_login(channel: int = ChannelType.INPUTS) -> tuple[bytes, bytes]:
    mess, reply = link(channel)
    client = mess + u32(AuthMechanism.SPICE) + TICKET + messages_bytes()
    server = reply + u32(0) + b"server messages"
    return client, server


def sasl_login(rounds: int) -> tuple[bytes, bytes]:
    """PLAIN (rounds 0: the client speaks first, one server record complete)
    or a challenge/response mechanism with ``rounds`` incomplete server
    records, each answered by the client."""
    mess, reply = link()
    client = mess + u32(AuthMechanism.SASL)
    server = reply + record(b"DIGEST-MD5 PLAIN\0")
    if rounds == 0:
        client += record(b"PLAIN\0") + record(b"\0alice\0" + PASSWORD + b"\0")
    else:
        client += record(b"DIGEST-MD5") + u32(0)
        for i in range(rounds):
            server += record(b"challenge %d\0" % i) + b"\0"
            client += record(b"response with " + PASSWORD + b" %d\0" % i)
    server += u32(0) + b"\1"  # the last server record: no data, complete
    server += u32(0)  # SASL result: OK
    server += u32(0) + b"server messages"  # link result, then the channel
    return client + messages_bytes(), server


def follow(
    client: bytes, server: bytes, cuts: list[int], secure: bool = True
) -> tuple[list[object], bytes, bytes]:
    """Feed both directions in the order a proxy would see them: the server's
    link reply first, then alternating pieces (each side's pieces in order)."""
    sniffer = LinkSniffer(secure=secure)
    got: list[object] = []
    kept = [bytearray(), bytearray()]
    sides = [bytearray(client), bytearray(server)]
    turn = 0
    for n in [*cuts, 1 << 20, 1 << 20]:
        side = sides[turn]
        piece, side[:] = bytes(side[:n]), side[n:]
        if turn == 0:
            got += sniffer.client_data(piece)
        else:
            got += sniffer.server_data(piece)
        for k, from_client in ((0, True), (1, False)):
            kept[k] += sniffer.take_capture(from_client)
        turn ^= 1
    return got, bytes(kept[0]), bytes(kept[1])


def test_ticket_login_is_recorded_and_its_ticket_zeroed() -> None:
    client, server = ticket_login()
    got, kept_c, kept_s = follow(client, server, [400, 400])
    assert got == MESSAGES
    assert TICKET not in kept_c and kept_c == client.replace(TICKET, bytes(128))
    assert kept_s == server.replace(link()[1], captured_reply())


def test_other_channels_pass_unparsed_with_the_ticket_zeroed() -> None:
    client, server = ticket_login(ChannelType.DISPLAY)
    got, kept_c, kept_s = follow(client, server, [1000, 1000])
    assert got == [] and kept_c == client.replace(TICKET, bytes(128))
    assert kept_s == server.replace(link()[1], captured_reply())


def test_sasl_login_is_recorded_and_left_out_of_the_capture() -> None:
    for rounds in (0, 1, 3):
        client, server = sasl_login(rounds)
        got, kept_c, kept_s = follow(client, server, [5] * 200)
        assert got == MESSAGES, rounds
        mess, reply = link()
        # the capture reads as a ticket login: zero ticket, link result, data
        assert kept_c == mess + u32(AuthMechanism.SPICE) + bytes(128) + (
            messages_bytes()
        )
        assert kept_s == captured_reply() + u32(0) + b"server messages"
        assert PASSWORD not in kept_c + kept_s
        # spicepy's capture reader finds the messages where they are
        assert kept_c[client_data_start(kept_c) :] == messages_bytes()
        assert kept_s[server_data_start(kept_s) :] == b"server messages"


def test_sasl_without_tls_is_forwarded_but_not_followed() -> None:
    client, server = sasl_login(1)
    got, kept_c, kept_s = follow(client, server, [64] * 40, secure=False)
    assert got == [] and PASSWORD not in kept_c + kept_s
    assert b"server messages" not in kept_s  # wrapped by the security layer


@settings(max_examples=80, deadline=None)
@given(
    st.integers(0, 3),
    st.lists(st.integers(0, 40), max_size=60),
)
def test_any_chunking_follows_sasl_the_same(rounds: int, cuts: list[int]) -> None:
    client, server = sasl_login(rounds)
    expected = follow(client, server, [1 << 20])
    assert follow(client, server, cuts) == expected


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=300), st.binary(max_size=300), st.booleans())
def test_garbage_is_never_an_error_and_keeps_no_auth(
    junk_c: bytes, junk_s: bytes, sasl: bool
) -> None:
    """Whatever follows the link, no exception escapes and the capture starts
    with the link and a zero ticket (nothing of the authentication)."""
    mess, reply = link()
    mech = u32(AuthMechanism.SASL if sasl else AuthMechanism.SPICE)
    _, kept_c, kept_s = follow(mess + mech + junk_c, reply + junk_s, [50] * 20)
    zero_ticket = mess + u32(AuthMechanism.SPICE) + bytes(128)
    assert kept_c == zero_ticket[: len(kept_c)] or kept_c.startswith(zero_ticket)
    assert kept_s.startswith(captured_reply())
    if sasl and len(junk_s) >= 8:  # the server's SASL part is never kept
        assert junk_s[:8] not in kept_s[len(reply) :]


def test_without_a_capture_nothing_is_kept() -> None:
    """A proxy without --pcap: the messages are recorded, no bytes pile up."""
    client, server = ticket_login(ChannelType.INPUTS)
    sniffer = LinkSniffer(capture=False)
    sniffer.server_data(server[:200])  # the reply, the link result and data
    got = sniffer.client_data(client)
    sniffer.server_data(b"more server data" * 1000)
    assert got == MESSAGES
    assert sniffer.take_capture(True) == b"" and sniffer.take_capture(False) == b""
