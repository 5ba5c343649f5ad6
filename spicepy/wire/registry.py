"""Message registry: (channel type, direction, number) -> schema dataclass."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

__all__ = ["Message", "message", "lookup", "all_messages", "channel_messages", "COMMON"]

#: Pseudo channel type for the BaseChannel messages every channel shares (< 100).
COMMON = 0

_REGISTRY: dict[tuple[int, bool, int], type[Any]] = {}
C = TypeVar("C", bound=type)


class Message:
    """Mixin of every message dataclass: its number, channel and direction."""

    __slots__ = ()
    MSG_TYPE: ClassVar[int]
    CHANNEL: ClassVar[int]
    FROM_SERVER: ClassVar[bool]


def message(
    channel: int, msg_type: int, *, from_server: bool = True
) -> Callable[[C], C]:
    """Class decorator registering a message definition."""

    def deco(cls: C) -> C:
        key = (int(channel), from_server, int(msg_type))
        if key in _REGISTRY:
            raise RuntimeError(f"duplicate message definition {key}")
        cls.MSG_TYPE = int(msg_type)  # type: ignore[attr-defined]
        cls.CHANNEL = int(channel)  # type: ignore[attr-defined]
        cls.FROM_SERVER = from_server  # type: ignore[attr-defined]
        _REGISTRY[key] = cls
        return cls

    return deco


def lookup(channel_type: int, msg_type: int, from_server: bool) -> type[Any] | None:
    """The definition of a message, falling back to the common ones below 100."""
    cls = _REGISTRY.get((channel_type, from_server, msg_type))
    if cls is None and msg_type < 100:
        cls = _REGISTRY.get((COMMON, from_server, msg_type))
    return cls


def all_messages() -> list[type[Any]]:
    """Every registered definition (for generated tests)."""
    return list(_REGISTRY.values())


def channel_messages(
    channel_type: int, from_server: bool = True
) -> dict[int, type[Any]]:
    """Number -> definition of one channel type's own messages in one direction
    (the common ones below 100 are not in it: see ``lookup``)."""
    return {
        msg_type: cls
        for (channel, server, msg_type), cls in _REGISTRY.items()
        if channel == channel_type and server == from_server
    }
