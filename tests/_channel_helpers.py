"""Helpers shared by the ``test_channel_*`` files (no sockets anywhere).

The server side is ``spicepy.testing.fake_server.FakeServer`` (its ``pack`` /
``pack_raw`` frame server messages with the negotiated header); these add the
event draining and the client-side splitting the tests repeat.
"""

from __future__ import annotations

from typing import Any, TypeVar

from spicepy.capture.streams import iter_data_messages
from spicepy.channels.base import Channel
from spicepy.testing.fake_server import FakeServer, link_pair

C = TypeVar("C", bound=Channel)


def events(channel: Channel) -> list[object]:
    """Drain the machine's pending events."""
    out: list[object] = []
    while (ev := channel.next_event()) is not None:
        out.append(ev)
    return out


def drive(channel: Channel, data: bytes) -> list[object]:
    """Feed ``data`` and drain the events."""
    channel.receive_data(data)
    return events(channel)


def drive_pieces(
    channel: Channel, data: bytes, pieces: tuple[int, ...]
) -> list[object]:
    """Feed ``data`` cut into pieces of the given sizes (cycled); drain the events."""
    out: list[object] = []
    pos = k = 0
    while pos < len(data):
        n = pieces[k % len(pieces)]
        out += drive(channel, data[pos : pos + n])
        pos, k = pos + n, k + 1
    return out


def linked(
    cls: type[C], server: FakeServer | None = None, **channel_kw: Any
) -> tuple[C, FakeServer]:
    """A ``cls`` machine past a successful link with ``server`` (a default
    FakeServer: mini headers, auth selection), its events and output drained."""
    srv = server if server is not None else FakeServer()
    ch = cls(**channel_kw)
    link_pair(ch, srv)
    events(ch)
    ch.data_to_send()
    return ch, srv


def split_messages(data: bytes, mini_header: bool = True) -> list[tuple[int, bytes]]:
    """Client bytes as (type, body) pairs (whole messages only)."""
    return [(m.type, m.body) for m in iter_data_messages(data, mini_header)]


def names(evs: list[object]) -> list[str]:
    return [type(e).__name__ for e in evs]
