"""Channel states and the one table of legal transitions.

Theory of operation (as h11's ``_state.py``): a channel starts in LINKING (its
SpiceLinkMess is queued at construction), moves to AUTHENTICATING once the server's
SpiceLinkReply arrived and the ticket went out, to READY on link result OK, and to
CLOSED on EOF.  Anything the table does not list is a ProtocolError, after which the
channel sits in ERROR and rejects all input and all commands.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import TypeVar

from spicepy.errors import ProtocolError

__all__ = ["ChannelState", "Trigger", "TRANSITIONS", "next_state", "transition"]

_State = TypeVar("_State", bound=Enum)
_Trigger = TypeVar("_Trigger", bound=Enum)


class ChannelState(Enum):
    LINKING = "linking"  # link message sent, waiting for SpiceLinkReply
    AUTHENTICATING = "authenticating"  # ticket sent, waiting for the link result
    READY = "ready"  # data phase
    CLOSED = "closed"  # EOF seen or close() called
    ERROR = "error"  # a ProtocolError/WireError happened; input is refused


class Trigger(Enum):
    LINK_REPLY = "link_reply"
    LINK_RESULT_OK = "link_result_ok"
    MESSAGE = "message"
    SEND = "send"
    EOF = "eof"
    FAIL = "fail"


S, T = ChannelState, Trigger
TRANSITIONS: dict[tuple[ChannelState, Trigger], ChannelState] = {
    (S.LINKING, T.LINK_REPLY): S.AUTHENTICATING,
    (S.LINKING, T.EOF): S.CLOSED,
    (S.LINKING, T.FAIL): S.ERROR,
    (S.AUTHENTICATING, T.LINK_RESULT_OK): S.READY,
    (S.AUTHENTICATING, T.EOF): S.CLOSED,
    (S.AUTHENTICATING, T.FAIL): S.ERROR,
    (S.READY, T.MESSAGE): S.READY,
    (S.READY, T.SEND): S.READY,
    (S.READY, T.EOF): S.CLOSED,
    (S.READY, T.FAIL): S.ERROR,
    (S.CLOSED, T.EOF): S.CLOSED,
    (S.CLOSED, T.FAIL): S.ERROR,
    (S.ERROR, T.FAIL): S.ERROR,
}


def transition(
    table: Mapping[tuple[_State, _Trigger], _State],
    state: _State,
    trigger: _Trigger,
    what: str = "",
) -> _State:
    """The state ``table`` gives for ``trigger`` in ``state``; ProtocolError
    (its text starting with ``what``) when the table does not list the pair."""
    try:
        return table[(state, trigger)]
    except KeyError:
        raise ProtocolError(
            f"{what}{trigger.value} is not allowed in state {state.value}"
        ) from None


def next_state(state: ChannelState, trigger: Trigger) -> ChannelState:
    """The state after ``trigger``; ProtocolError if the table does not allow it."""
    return transition(TRANSITIONS, state, trigger)
