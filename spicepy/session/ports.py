"""Named spiceports in a session: ``Session.ports``.

Theory of operation: QEMU gives every ``-chardev spiceport,name=N`` its own
PORT channel; the name arrives only after the link, in PORT_INIT
(``channels.port.PortChannel``).  With ``connect(ports=True)`` the session links
them all, and ``open(name)`` returns an asyncio ``StreamReader`` and a
``PortWriter`` for the one named ``name``, after telling the server our side
is open (PORT_EVENT OPENED, as spice-gtk's ``spice_port_channel_event``; QEMU
passes it to the chardev's frontend as CHR_EVENT_OPENED).  Bytes the guest
writes while the port is not open (before ``open``, after ``close``) are kept
up to ``MAX_BACKLOG`` for the next ``open`` and then dropped (counted in
``Port.dropped``).  The guest opening and closing its side
(virtio-serial port open/close) come as ``PortGuestOpened``/``PortGuestClosed``
session events and in ``Port.guest_opened``.  When the channel closes the
reader gets EOF.

There is no flow control from the client toward the server in SPICE: what the
guest writes is buffered in the reader until the application reads it.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from spicepy.channels.port import (
    PortDataReceived,
    PortEventReceived,
    PortInitReceived,
)
from spicepy.errors import ConnectionClosedError, SessionError
from spicepy.session.core import ChannelKey, channel_name
from spicepy.wire.enums import ChannelType, PortEvent

if TYPE_CHECKING:
    from spicepy.session.connection import ChannelConnection
    from spicepy.session.session import Session

log = logging.getLogger(__name__)

__all__ = [
    "MAX_BACKLOG",
    "Port",
    "PortControl",
    "PortGuestClosed",
    "PortGuestOpened",
    "PortWriter",
]

PORT = ChannelType.PORT
#: bytes kept from the guest while nobody has opened the port
MAX_BACKLOG = 1 << 20


@dataclass(frozen=True, slots=True)
class PortGuestOpened:
    """Session event: the guest opened its end of the port."""

    name: str


@dataclass(frozen=True, slots=True)
class PortGuestClosed:
    """Session event: the guest closed its end of the port."""

    name: str


class Port:
    """One spiceport: its channel, the guest's side, our stream once opened."""

    def __init__(self, name: str, key: ChannelKey, conn: ChannelConnection) -> None:
        self.name = name
        self.channel = key
        self.conn = conn
        machine: Any = conn.machine
        self.guest_opened: bool = machine.guest_opened
        self.reader: asyncio.StreamReader | None = None
        self.writer: PortWriter | None = None
        self.backlog = bytearray()
        #: bytes dropped: beyond MAX_BACKLOG while the port is not open
        self.dropped = 0

    def open_stream(self) -> tuple[asyncio.StreamReader, PortWriter]:
        """Our side opens: a new stream (the backlog first), PORT_EVENT OPENED.

        Raises:
            SessionError: the port is open already.
            ConnectionClosedError: its channel is closed.
        """
        if self.writer is not None and not self.writer.is_closing():
            raise SessionError(f"port {self.name!r} is open already")
        if self.conn.closed.is_set():
            raise ConnectionClosedError(f"port {self.name!r}: channel closed")
        reader = asyncio.StreamReader()
        if self.backlog:
            reader.feed_data(bytes(self.backlog))
            self.backlog.clear()
        self.reader, self.writer = reader, PortWriter(self)
        machine: Any = self.conn.machine
        self.conn.call(machine.send_port_event, PortEvent.OPENED)
        return reader, self.writer

    def _data(self, data: bytes) -> None:
        if self.reader is not None:
            self.reader.feed_data(data)
            return
        room = MAX_BACKLOG - len(self.backlog)
        self.backlog += data[:room]
        self.dropped += max(0, len(data) - room)

    def _eof(self) -> None:
        """Our stream ends (closed by us, or the channel closed)."""
        reader, self.reader = self.reader, None
        if reader is not None:
            reader.feed_eof()


class PortWriter:
    """The writing half of an open port (the ``asyncio.StreamWriter`` calls
    an application uses: write, drain, close, wait_closed, is_closing)."""

    def __init__(self, port: Port) -> None:
        self._port = port
        self._closing = False

    @property
    def name(self) -> str:
        return self._port.name

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Queue bytes for the guest.

        Raises:
            ConnectionClosedError: the port or its channel is closed.
        """
        if self._closing:
            raise ConnectionClosedError(f"port {self.name!r} is closed")
        machine: Any = self._port.conn.machine
        self._port.conn.call(machine.send_data, data)

    def writelines(self, lines: list[bytes]) -> None:
        for line in lines:
            self.write(line)

    async def drain(self) -> None:
        """Wait until the channel's socket has room for more."""
        await self._port.conn.drain()

    def is_closing(self) -> bool:
        return self._closing or self._port.conn.closed.is_set()

    def close(self) -> None:
        """Tell the server our side closed (PORT_EVENT CLOSED); the channel
        stays linked and the port can be opened again."""
        if self._closing:
            return
        self._closing = True
        conn = self._port.conn
        if not conn.closed.is_set():
            machine: Any = conn.machine
            conn.call(machine.send_port_event, PortEvent.CLOSED)
        self._port._eof()  # what the guest sends now waits for the next open

    async def wait_closed(self) -> None:
        await asyncio.sleep(0)


class PortControl:
    """The session's spiceports (``connect(ports=True)`` links them)."""

    def __init__(self, session: Session) -> None:
        self._session = session
        #: name -> port, for every port channel whose PORT_INIT arrived
        self.ports: dict[str, Port] = {}
        self._by_key: dict[ChannelKey, Port] = {}
        self._eof_tasks: set[asyncio.Task[None]] = set()
        core = session.core
        core.on_event(PortInitReceived, self._init)
        core.on_event(PortEventReceived, self._event)
        core.on_event(PortDataReceived, self._data)

    @property
    def names(self) -> list[str]:
        return list(self.ports)

    def _unnamed(self) -> list[ChannelKey]:
        """Linked port channels whose PORT_INIT has not come yet (and alive)."""
        return [
            key
            for key, conn in self._session.connections.items()
            if key[0] == PORT and key not in self._by_key and not conn.closed.is_set()
        ]

    async def open(
        self, name: str, *, timeout: float = 10.0
    ) -> tuple[asyncio.StreamReader, PortWriter]:
        """Open the spiceport ``name``: (reader, writer).

        Raises:
            SessionError: no port channels (``connect(ports=True)``), no port of
                that name, or it is open already.
            SpiceTimeoutError: its PORT_INIT did not come within ``timeout``.
        """
        session = self._session
        if not any(t == PORT for t, _ in session.connections):
            raise SessionError(
                "no port channel (connect with ports=True; the server must "
                "offer one, e.g. QEMU -chardev spiceport)"
            )
        await session._wait(
            lambda: name in self.ports or not self._unnamed(),
            timeout,
            f"the port {name!r}",
        )
        port = self.ports.get(name)
        if port is None:
            raise SessionError(
                f"no spiceport named {name!r}; the server has: "
                + (", ".join(sorted(self.ports)) or "none")
            )
        reader, writer = port.open_stream()
        task = asyncio.create_task(self._eof_on_close(port))
        self._eof_tasks.add(task)
        task.add_done_callback(self._eof_tasks.discard)
        log.info("port %r opened on %s", name, channel_name(port.channel))
        return reader, writer

    async def wait_guest_open(self, name: str, timeout: float = 10.0) -> None:
        """Wait until the guest has its end of ``name`` open."""
        port = self.ports.get(name)
        await self._session._wait(
            lambda: name in self.ports and self.ports[name].guest_opened,
            timeout,
            f"the guest to open port {name!r}",
            conn=None if port is None else port.conn,
        )

    async def _eof_on_close(self, port: Port) -> None:
        await port.conn.closed.wait()
        port._eof()

    # -- handlers (inside the connection's pump) ------------------------------------
    def _init(self, key: ChannelKey, event: PortInitReceived, now: float) -> None:
        conn = self._session._machines.get(key)
        if conn is None:
            return
        if event.name in self.ports:
            log.warning("two port channels named %r; keeping the first", event.name)
            return
        port = Port(event.name, key, conn)
        self.ports[event.name] = self._by_key[key] = port
        if port.guest_opened:
            self._session._publish(PortGuestOpened(event.name))

    def _event(self, key: ChannelKey, event: PortEventReceived, now: float) -> None:
        port = self._by_key.get(key)
        if port is None:
            return
        if event.event == PortEvent.OPENED:
            port.guest_opened = True
            self._session._publish(PortGuestOpened(port.name))
        elif event.event == PortEvent.CLOSED:
            port.guest_opened = False
            self._session._publish(PortGuestClosed(port.name))

    def _data(self, key: ChannelKey, event: PortDataReceived, now: float) -> None:
        port = self._by_key.get(key)
        if port is not None:
            port._data(event.data)
