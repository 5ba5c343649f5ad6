"""Exact behaviour of the channel machines where the broader channel tests
only look at event types: the state table's lifecycle and refusals (by their
text), written against surviving mutants of scripts/mutation.sh
(tests/MUTATION.md)."""

from __future__ import annotations

import pytest

from spicepy.channels._state import ChannelState, Trigger, next_state, transition
from spicepy.channels.link import NeedSecuredError, NeedUnsecuredError, link_error
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
