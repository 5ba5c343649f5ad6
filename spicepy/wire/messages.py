"""decode_message / encode_message over every registered definition.

Importing this module registers all messages (common, main, display, inputs, cursor,
playback, record, SpiceVMC/port).

Decoding has two twins with the same results and errors: the declarative engine
(``schema.decode_struct``, the readable reference) and the compiled plan interpreter
(``_decode.decode_struct``).  ``FAST`` (from ``twins``) says which one
``decode_message`` uses; ``SPICEPY_PUREPYTHON=1`` or a missing extension selects
the reference.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from spicepy.errors import WireError
from spicepy.wire import msg_common, msg_display, msg_other  # noqa: F401  (registers)
from spicepy.wire.enums import message_name
from spicepy.wire.registry import Message, all_messages, lookup
from spicepy.wire.schema import MAX_MESSAGE_SIZE, encode_struct
from spicepy.wire.twins import FAST
from spicepy.wire.twins import decode_struct as _decode_struct

__all__ = [
    "FAST",
    "UnknownMessage",
    "decode_message",
    "encode_message",
    "named_error",
    "all_messages",
    "Message",
]


@dataclass(frozen=True, slots=True)
class UnknownMessage:
    """A message number with no definition for this channel; its body is kept."""

    channel_type: int
    msg_type: int
    body: bytes
    from_server: bool = True


def decode_message(
    channel_type: int,
    msg_type: int,
    body: bytes | memoryview,
    *,
    from_server: bool = True,
) -> Any:
    """Parse one message body.

    Args:
        channel_type: ChannelType of the connection.
        msg_type: the header's type field.
        body: exactly the message body (payload fields may be views into it).
        from_server: direction (server->client by default).

    Returns:
        The message dataclass, or ``UnknownMessage`` for an undefined number.

    Raises:
        WireError: truncated or inconsistent body.
    """
    if len(body) > MAX_MESSAGE_SIZE:
        raise WireError(f"message of {len(body)} bytes exceeds MAX_MESSAGE_SIZE")
    cls = lookup(channel_type, msg_type, from_server)
    if cls is None:
        return UnknownMessage(channel_type, msg_type, bytes(body), from_server)
    try:
        return _decode_struct(cls, body)
    except WireError as exc:
        raise named_error(channel_type, msg_type, exc, from_server) from exc


def named_error(
    channel_type: int, msg_type: int, exc: WireError, from_server: bool = True
) -> WireError:
    """``exc`` with the message's name in front, as ``decode_message`` raises it
    (for callers that run the chosen ``decode_struct`` twin themselves)."""
    name = message_name(channel_type, msg_type, from_server=from_server)
    return WireError(f"{name}: {exc}")


def encode_message(msg: Any) -> tuple[int, bytes]:
    """Marshal a message dataclass; returns ``(msg_type, body)``.

    Raises:
        ValueError: a count/size field disagrees with its array, or a value overflows.
    """
    if isinstance(msg, UnknownMessage):
        return msg.msg_type, msg.body
    if not isinstance(msg, Message):
        raise TypeError(f"{type(msg).__name__} is not a SPICE message")
    return msg.MSG_TYPE, encode_struct(msg)
