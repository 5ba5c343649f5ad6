"""Exact behaviour of the channel machines where the broader channel tests
only look at event types: the state table's lifecycle and refusals (by their
text), written against surviving mutants of scripts/mutation.sh
(tests/MUTATION.md)."""

from __future__ import annotations

import struct
import sys
from typing import Any

import pytest

from spicepy.channels._state import ChannelState, Trigger, next_state, transition
from spicepy.channels.link import NeedSecuredError, NeedUnsecuredError, link_error
from spicepy.channels.sasl import SaslCredentials, SaslExchange, pure_sasl_client
from spicepy.errors import AuthenticationError, LinkError, ProtocolError

S, T = ChannelState, Trigger


def test_channel_lifecycle_of_the_module_docstring() -> None:
    # LINKING -> AUTHENTICATING on the link reply -> READY on link result OK,
    # READY stays READY on messages and sends, CLOSED on EOF from any live state
    assert next_state(S.LINKING, T.LINK_REPLY) is S.AUTHENTICATING
    assert next_state(S.AUTHENTICATING, T.LINK_RESULT_OK) is S.READY
    assert next_state(S.READY, T.MESSAGE) is S.READY
    assert next_state(S.READY, T.SEND) is S.READY
    for state in (S.LINKING, S.AUTHENTICATING, S.READY, S.CLOSED):
        assert next_state(state, T.EOF) is S.CLOSED
    for state in S:
        assert next_state(state, T.FAIL) is S.ERROR


def test_channel_refusals_name_trigger_and_state() -> None:
    with pytest.raises(
        ProtocolError, match=r"^message is not allowed in state linking$"
    ):
        next_state(S.LINKING, T.MESSAGE)
    with pytest.raises(ProtocolError, match=r"^send is not allowed in state error$"):
        next_state(S.ERROR, T.SEND)
    with pytest.raises(ProtocolError, match=r"^eof is not allowed in state error$"):
        next_state(S.ERROR, T.EOF)
    with pytest.raises(
        ProtocolError, match=r"^link_reply is not allowed in state ready$"
    ):
        next_state(S.READY, T.LINK_REPLY)
    table = {(S.READY, T.SEND): S.CLOSED}
    assert transition(table, S.READY, T.SEND, "x: ") is S.CLOSED
    with pytest.raises(
        ProtocolError, match=r"^migration: eof is not allowed in state closed$"
    ):
        transition(table, S.CLOSED, T.EOF, "migration: ")


# -- link refusals (spice.proto enum32 link_err: 1..9) ---------------------------------
_LINK_ERRORS = [
    (1, LinkError, "generic link error"),
    (2, LinkError, "invalid magic"),
    (3, LinkError, "invalid data"),
    (4, LinkError, "protocol version mismatch"),
    (5, NeedSecuredError, "the channel needs TLS (NEED_SECURED): use the tls-port"),
    (6, NeedUnsecuredError, "this channel needs a plain connection (NEED_UNSECURED)"),
    (7, AuthenticationError, "the server refused the password (PERMISSION_DENIED)"),
    (8, LinkError, "bad connection id (session id)"),
    (9, LinkError, "channel not available"),
    (42, LinkError, "unknown link error 42"),
]


@pytest.mark.parametrize(("code", "kind", "text"), _LINK_ERRORS)
def test_link_error_type_code_and_text(code: int, kind: type, text: str) -> None:
    for channel, prefix in (("display", "display: "), ("", "")):
        err = link_error(code, channel) if channel else link_error(code)
        assert type(err) is kind
        assert err.error_code == code
        assert str(err) == prefix + text


# -- SASL (spice-gtk: sasl_client_new("spice", host, ...), no security layer) -------
def _feed(exchange: SaslExchange, server: bytes) -> None:
    pos = 0
    while pos < len(server):
        chunk = server[pos : pos + exchange.need]
        pos += len(chunk)
        exchange.feed(chunk)


def test_pure_sasl_client_is_for_service_spice_without_a_layer() -> None:
    pytest.importorskip("puresasl")
    creds = SaslCredentials("alice", "pw", ("PLAIN",), host="vm.example")
    client: Any = pure_sasl_client(creds, "PLAIN")
    assert (client.host, client.service, client.mechanism) == (
        "vm.example",
        "spice",
        "PLAIN",
    )
    assert list(client.qops) == [b"auth"]
    # PLAIN's one message: authzid NUL authcid NUL password (RFC 4616)
    assert client.process(None) == b"\0alice\0pw"


def test_pure_sasl_missing_is_a_link_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "puresasl.client", None)
    with pytest.raises(
        LinkError,
        match=r"^SASL authentication needs pure-sasl \(pip install spicepy\[sasl\]\)$",
    ) as err:
        pure_sasl_client(SaslCredentials("a", "b"), "PLAIN")
    assert err.value.error_code == 1


def test_sasl_refusals_name_the_channel_and_mechanisms() -> None:
    creds = SaslCredentials("a", "b", ("plain", "CRAM-MD5"))

    def never(c: SaslCredentials, m: str) -> Any:
        raise AssertionError("no mechanism is ever made")

    exchange = SaslExchange(creds, "display", client_factory=never)
    with pytest.raises(LinkError) as err:
        _feed(exchange, struct.pack("<I", 9) + b"GSSAPI,NO")
    assert str(err.value) == (
        "display: no common SASL mechanism (server offers GSSAPI, NO; "
        "spicepy tries PLAIN, CRAM-MD5)"
    )
    assert err.value.error_code == 1
    exchange = SaslExchange(creds, client_factory=never)
    with pytest.raises(
        LinkError, match=r"^channel: no common SASL mechanism \(server offers none;"
    ):
        _feed(exchange, struct.pack("<I", 2) + b" ,")


def test_sasl_mechanism_failure_names_it() -> None:
    class Failing:
        complete = False

        def process(self, challenge: bytes | None = None) -> bytes | None:
            raise RuntimeError("bad challenge")

    creds = SaslCredentials("a", "b", ("PLAIN",))
    exchange = SaslExchange(creds, "main", client_factory=lambda c, m: Failing())
    with pytest.raises(LinkError) as err:
        _feed(exchange, struct.pack("<I", 5) + b"PLAIN")
    assert str(err.value) == "main: SASL PLAIN failed: bad challenge"
    assert err.value.error_code == 1
