"""Exact behaviour of the channel machines where the broader channel tests
only look at event types: the state table's lifecycle and refusals (by their
text), written against surviving mutants of scripts/mutation.sh
(tests/MUTATION.md)."""

from __future__ import annotations

import pytest

from spicepy.channels._state import ChannelState, Trigger, next_state, transition
from spicepy.errors import ProtocolError

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
