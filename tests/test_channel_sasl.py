"""SASL inside the link handshake: framing against scripted servers (no sockets)."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spicepy.channels.link import LinkHandshake
from spicepy.channels.sasl import SaslCredentials, SaslExchange, SaslMechanism
from spicepy.errors import AuthenticationError, LinkError, ProtocolError, SpiceError
from spicepy.wire.enums import AuthMechanism, CommonCap, LinkErr
from spicepy.wire.link import LinkMess, LinkReply, caps_to_words, words_to_caps

CREDS = SaslCredentials("alice", "s3cret", ("DIGEST-MD5", "PLAIN"))


def u32(v: int) -> bytes:
    return struct.pack("<I", v)


def framed(data: bytes) -> bytes:
    """Server data as spice-server sends it: length with the trailing NUL."""
    return u32(len(data) + 1) + data + b"\0"


class Scripted:
    """A mechanism that answers each challenge from a script and records them."""

    def __init__(self, answers: list[bytes | None], done_after: int) -> None:
        self.answers = answers
        self.seen: list[bytes | None] = []
        self.done_after = done_after

    @property
    def complete(self) -> bool:
        return len(self.seen) >= self.done_after

    def process(self, challenge: bytes | None = None) -> bytes | None:
        self.seen.append(challenge)
        return self.answers[len(self.seen) - 1]


def run(exchange: SaslExchange, server: bytes) -> bytes:
    """Feed the server's bytes in ``need``-sized chunks; return what the client sent."""
    sent = bytearray()
    pos = 0
    while not exchange.done:
        chunk = server[pos : pos + exchange.need]
        assert len(chunk) == exchange.need, "script ran out"
        pos += exchange.need
        exchange.feed(chunk)
        sent += exchange.data_to_send()
    assert pos == len(server)
    return bytes(sent)


def test_server_first_mechanism_steps_until_complete() -> None:
    mech = Scripted([b"response", None], done_after=2)
    exchange = SaslExchange(CREDS, client_factory=lambda c, m: mech)
    server = u32(len(b"CRAM-MD5 DIGEST-MD5 PLAIN")) + b"CRAM-MD5 DIGEST-MD5 PLAIN"
    server += framed(b"nonce=1") + b"\0" + framed(b"rspauth=2") + b"\1" + u32(0)
    sent = run(exchange, server)
    assert exchange.mechanism == "DIGEST-MD5"
    # name, "no initial response" (0), then the step's answer with its NUL
    assert sent == u32(10) + b"DIGEST-MD5" + u32(0) + framed(b"response")
    # the server's data arrives without the trailing NUL; after the server
    # said complete the client steps no more
    assert mech.seen == [b"nonce=1"]


def test_client_first_mechanism_sends_initial_response() -> None:
    mech = Scripted([b"\0alice\0s3cret"], done_after=1)
    creds = SaslCredentials("alice", "s3cret", ("PLAIN",))
    exchange = SaslExchange(creds, client_factory=lambda c, m: mech)
    server = u32(5) + b"PLAIN" + u32(0) + b"\1" + u32(0)
    sent = run(exchange, server)
    assert sent == u32(5) + b"PLAIN" + framed(b"\0alice\0s3cret")
    assert mech.seen == [None]


def test_first_answer_complete_but_client_not_done_steps_once() -> None:
    mech = Scripted([None, b"unused"], done_after=2)
    exchange = SaslExchange(CREDS, client_factory=lambda c, m: mech)
    server = u32(10) + b"DIGEST-MD5" + framed(b"x") + b"\1" + u32(0)
    sent = run(exchange, server)
    assert mech.seen == [b"x"]  # mutual auth: one step, nothing sent after it
    assert sent == u32(10) + b"DIGEST-MD5" + u32(0)


@pytest.mark.parametrize(
    ("server", "error", "match"),
    [
        (u32(0), ProtocolError, "mechanism list of 0"),
        (u32(301), ProtocolError, "mechanism list of 301"),
        (u32(9) + b"GSSAPI NO", LinkError, "no common SASL mechanism"),
        (u32(5) + b"PLAIN" + u32(2 << 20), ProtocolError, "SASL data of"),
        (u32(5) + b"PLAIN" + u32(0) + b"\1" + u32(7), AuthenticationError, "refused"),
    ],
)
def test_bad_servers(server: bytes, error: type[Exception], match: str) -> None:
    creds = SaslCredentials("a", "b", ("PLAIN",))
    mech = Scripted([b"x"], done_after=1)
    exchange = SaslExchange(creds, client_factory=lambda c, m: mech)
    with pytest.raises(error, match=match):
        run(exchange, server)


def test_mechanism_failure_is_a_link_error() -> None:
    class Failing:
        complete = False

        def process(self, challenge: bytes | None = None) -> bytes | None:
            raise RuntimeError("bad challenge")

    failing: SaslMechanism = Failing()
    exchange = SaslExchange(CREDS, client_factory=lambda c, m: failing)
    with pytest.raises(LinkError, match="bad challenge"):
        run(exchange, u32(10) + b"DIGEST-MD5" + framed(b"x") + b"\0")


# -- inside LinkHandshake -------------------------------------------------------------


def reply_bytes(common: set[int]) -> bytes:
    reply = LinkReply(error=LinkErr.OK, common_caps=caps_to_words(frozenset(common)))
    return reply.pack_with_header()


SASL_ONLY = {
    CommonCap.PROTOCOL_AUTH_SELECTION,
    CommonCap.AUTH_SASL,
    CommonCap.MINI_HEADER,
}


def test_handshake_chooses_sasl_over_tls_and_advertises_it() -> None:
    pytest.importorskip("puresasl")
    link = LinkHandshake(1, sasl=CREDS, secure=True)
    hello = link.data_to_send()
    assert CommonCap.AUTH_SASL in words_to_caps(_common_words(hello))
    # ... SASL complete, SASL result OK, link result OK
    server = reply_bytes(SASL_ONLY) + u32(5) + b"PLAIN" + u32(0) + b"\1" + u32(0)
    server += u32(0)
    rest = link.feed(server + b"DATA")
    assert link.done and rest == b"DATA"
    sent = link.data_to_send()
    # AUTH_SASL, then PLAIN with authzid/user/password and the NUL
    assert sent == u32(AuthMechanism.SASL) + u32(5) + b"PLAIN" + framed(
        b"\0alice\0s3cret"
    )


def _common_words(hello: bytes) -> tuple[int, ...]:
    return LinkMess.parse(hello[16:]).common_caps


def test_plain_connection_refuses_a_sasl_only_server() -> None:
    link = LinkHandshake(1, sasl=CREDS, secure=False)
    assert CommonCap.AUTH_SASL not in words_to_caps(_common_words(link.data_to_send()))
    with pytest.raises(LinkError, match="over TLS only"):
        link.feed(reply_bytes(SASL_ONLY))


def test_eof_during_sasl_means_refused_credentials() -> None:
    link = LinkHandshake(1, sasl=SaslCredentials("a", "b", ("PLAIN",)), secure=True)
    assert link.closed_error() is None
    pytest.importorskip("puresasl")
    link.feed(reply_bytes(SASL_ONLY) + u32(5) + b"PLAIN")
    error = link.closed_error()
    assert isinstance(error, AuthenticationError) and "PLAIN" in str(error)


@given(st.binary(max_size=64))
def test_any_server_bytes_after_the_reply_give_spice_errors(junk: bytes) -> None:
    mech = Scripted([b"a", b"b", b"c", b"d"] * 20, done_after=99)
    exchange = SaslExchange(CREDS, client_factory=lambda c, m: mech)
    pos = 0
    try:
        while not exchange.done and pos + exchange.need <= len(junk):
            chunk = junk[pos : pos + exchange.need]
            pos += exchange.need
            exchange.feed(chunk)
    except SpiceError:
        pass


def test_channel_passes_sasl_and_an_eof_during_it_is_refused_credentials() -> None:
    from spicepy.channels._state import ChannelState
    from spicepy.channels.inputs import InputsChannel

    pytest.importorskip("puresasl")
    creds = SaslCredentials("a", "b", ("PLAIN",))
    channel = InputsChannel(0, sasl=creds, secure=True)
    hello = channel.data_to_send()
    assert CommonCap.AUTH_SASL in words_to_caps(_common_words(hello))
    channel.receive_data(reply_bytes(SASL_ONLY) + u32(5) + b"PLAIN")
    with pytest.raises(AuthenticationError, match="PLAIN"):
        channel.receive_data(b"")
    assert channel.state is ChannelState.ERROR


def test_channel_without_tls_never_offers_sasl() -> None:
    from spicepy.channels.inputs import InputsChannel

    channel = InputsChannel(0, sasl=CREDS, secure=False)
    hello = channel.data_to_send()
    assert CommonCap.AUTH_SASL not in words_to_caps(_common_words(hello))
    channel.receive_data(b"")  # a plain EOF while linking stays an unclean close
    event = channel.next_event()
    assert event is not None and not getattr(event, "clean", True)
