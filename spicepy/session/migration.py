"""Live migration of a connected session to another server, as spice-gtk does it.

Theory of operation (protocol side: ``spicepy.channels._migration``).  When the
source main channel reports ``MigrationStarted``, ``MigrationControl`` opens a
second connection for every channel the session has, to the target host and
ports of the message, linking with the session id as connection id (TLS
checked against the target's certificate subject when the message names one).
The target machines are frozen (``Channel.defer_start``): they link but send
no first messages, and their events wait in a bounded per-channel list.  A
seamless migration first asks the target's main channel (DO_SEAMLESS); the
source then hears MIGRATE_CONNECTED[_SEAMLESS], or MIGRATE_CONNECT_ERROR when
anything failed (the session stays on the source).

The switch:
- seamless: each source channel's ``ChannelMigrateReceived`` hands its
  MIGRATE_DATA to its target connection, which continues the source's serials
  (the main channel also its session state and agent) and replaces the source
  connection in the session; canvases, image caches and the GLZ window stay.
  When the last channel switched, the source connections are closed (not
  before: spice-server drops the channels still to hand over when the main
  one goes) and ``Migrated`` is published.
- semi-seamless: on ``MigrationEndReceived`` every source connection is dropped
  and replaced by its target connection at once (waits never see a dead
  channel), the target main channel sends MIGRATE_END, the display canvases
  and the image caches start afresh (spice-gtk ``cache_clear_all``), the old
  primary picture only readable until the target's replaces it; on the
  target's INIT the other channels send their first messages (display INIT)
  and ``Migrated`` is published.
- MIGRATE_CANCEL, a failed connect, or a target that dies before the switch
  drop the target connections and publish ``MigrationFailed``; the session
  goes on with the source.  SWITCH_HOST (the server's fallback) reconnects the
  whole session to the new host from scratch (connection id 0, new canvases).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from spicepy.channels._migration import MigrationState, MigrationTarget
from spicepy.channels.events import (
    ChannelMigrateReceived,
    LinkCompleted,
    MainInitReceived,
    MigrationCancelled,
    MigrationEndReceived,
    MigrationStarted,
    SeamlessHandshakeDone,
    SwitchHostReceived,
)
from spicepy.errors import LinkError, ProtocolError, SpiceError
from spicepy.session.connection import ChannelConnection
from spicepy.session.core import ChannelKey, channel_name
from spicepy.session.transport import TlsConfig, open_stream
from spicepy.session.uri import SpiceUri
from spicepy.wire.enums import ChannelType, LinkErr, MainCap
from spicepy.wire.msg_common import MigrateDataC

if TYPE_CHECKING:
    from spicepy.session.session import Session

__all__ = ["Migrated", "MigrationControl", "MigrationFailed"]

log = logging.getLogger(__name__)

MAIN = (int(ChannelType.MAIN), 0)
#: events a frozen target channel may queue before the switch (a server that
#: sends more to a channel nobody uses yet is not migrating it)
MAX_PENDING_EVENTS = 1000


@dataclass(frozen=True, slots=True)
class Migrated:
    """Session event: the session now talks to the migration target."""

    target: MigrationTarget
    seamless: bool


@dataclass(frozen=True, slots=True)
class MigrationFailed:
    """Session event: a migration did not happen; the session stays where it was
    (unless the source went away too)."""

    reason: str


class MigrationControl:
    """Follows the server's migration messages for one ``Session``
    (``session.migration``); see the module docstring."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self.target: MigrationTarget | None = None
        #: completed migrations (``Migrated`` events published)
        self.completed = 0
        self._seamless = False
        self._handshake: bool | None = None
        self._ending = False
        self._uri: SpiceUri | None = None
        self._tls: TlsConfig | None = None
        self._task: asyncio.Task[None] | None = None
        self._targets: dict[ChannelKey, ChannelConnection] = {}
        self._pending: dict[ChannelKey, list[object]] = {}
        self._switched: set[ChannelKey] = set()
        #: seamless: source connections already switched, kept open until the
        #: last channel switched (spice-server drops every channel of a client
        #: whose main channel hung up, MIGRATE_DATA not yet sent included)
        self._handed_over: list[ChannelConnection] = []
        self._closing: set[asyncio.Task[None]] = set()
        core = session.core
        core.on_event(MigrationStarted, self._on_started)
        core.on_event(MigrationCancelled, self._on_cancelled)
        core.on_event(MigrationEndReceived, self._on_end)
        core.on_event(ChannelMigrateReceived, self._on_channel_migrate)
        core.on_event(SwitchHostReceived, self._on_switch_host)

    @property
    def in_progress(self) -> bool:
        return self.target is not None

    # -- the source's messages (core handlers, inside the source's pump) ----------

    def _on_started(self, key: ChannelKey, event: MigrationStarted, now: float) -> None:
        if self.target is not None:  # the main machine refuses a second BEGIN
            return
        self.target = event.target
        log.info("migration to %s begins", event.target)
        self._task = asyncio.ensure_future(self._connect(event.target))

    def _on_cancelled(
        self, key: ChannelKey, event: MigrationCancelled, now: float
    ) -> None:
        self._abort("cancelled by the server")

    def _on_channel_migrate(
        self, key: ChannelKey, event: ChannelMigrateReceived, now: float
    ) -> None:
        session = self._session
        target = self._targets.get(key)
        source = session.connections.get(key)
        if target is None or source is None or not self._seamless:
            # a lie: this channel is lost; the error ends its connection
            reason = f"{channel_name(key)}: MIGRATE outside a seamless migration"
            self._abort(reason)
            raise ProtocolError(reason)
        machine: Any = target.machine
        machine.continue_from(source.machine)
        if event.data is not None:  # before anything else the target hears
            target.call(machine.send_message, MigrateDataC(event.data))
        try:
            self._switch(key)
        except ProtocolError as exc:
            self._abort(str(exc))
            return
        if not self._targets:
            self._done()

    def _on_end(self, key: ChannelKey, event: MigrationEndReceived, now: float) -> None:
        if MAIN not in self._targets or self._seamless:
            self._abort("MIGRATE_END without connected target channels")
            return
        session = self._session
        self._ending = True
        try:
            for key in list(self._targets):
                self._switch(key)
        except ProtocolError as exc:
            self._abort(str(exc))
            return
        main: Any = session.connections[MAIN]
        main.call(main.machine.send_migrate_end)
        # semi-seamless: the target starts from scratch (spice-gtk resets every
        # display channel and clears the session's caches), but the old primary
        # stays on screen until the target's replaces it (spice-gtk
        # clear_surfaces(keep_primary): no blank screen, no flicker)
        session.core.forget_server(keep_pictures=True)

    def _on_switch_host(
        self, key: ChannelKey, event: SwitchHostReceived, now: float
    ) -> None:
        self._cancel_task()  # the server gave up on a migration we began
        self._drop_targets()
        self.target = event.target
        self._task = asyncio.ensure_future(self._switch_host(event.target))

    # -- the target's events ------------------------------------------------------

    def _on_target_event(
        self, key: ChannelKey, conn: ChannelConnection, event: object
    ) -> None:
        if self._targets.get(key) is not conn:  # switched: a session channel now
            self._session._on_event(key, conn, event)
            if self._ending and key == MAIN and isinstance(event, MainInitReceived):
                self._start_target_channels()
            return
        if isinstance(event, SeamlessHandshakeDone):
            self._handshake = event.seamless
        elif not isinstance(event, LinkCompleted):  # the core keeps its canvases
            pending = self._pending.setdefault(key, [])
            if len(pending) >= MAX_PENDING_EVENTS:
                raise ProtocolError(
                    f"migration target sent {len(pending)} messages to a "
                    "channel before the switch"
                )
            pending.append(event)

    # -- connecting to the target -------------------------------------------------

    async def _connect(self, target: MigrationTarget) -> None:
        session = self._session
        loop = asyncio.get_running_loop()
        deadline = loop.time() + session.timeout
        self._uri = replace(
            session.uri,
            host=target.host,
            port=target.port,
            tls_port=target.tls_port,
            unix_path=None,
        )
        # spice-gtk: the subject when the server names one, else the host name
        self._tls = replace(session.tls, host_subject=target.cert_subject)
        try:
            main = await self._open(MAIN, deadline)
            seamless = False
            machine: Any = main.machine
            if target.seamless and MainCap.SEAMLESS_MIGRATE in (
                machine.server_channel_caps
            ):
                main.call(machine.send_migrate_dst_do_seamless, target.version)
                await session._wait(
                    lambda: self._handshake is not None,
                    session.timeout,
                    "the target's seamless-migration answer",
                    conn=main,
                    deadline=deadline,
                )
                seamless = bool(self._handshake)
            keys = [k for k in session.connections if k != MAIN]
            results = await asyncio.gather(
                *(self._open(k, deadline) for k in keys), return_exceptions=True
            )
            for result in results:
                if isinstance(result, BaseException):
                    raise result
        except (SpiceError, OSError) as exc:
            self._reply(error=True)
            self._abort(f"connecting to {target.host}: {exc}")
            return
        self._seamless = seamless
        self._reply(error=False)
        log.info("migration: target connected (seamless=%s)", seamless)

    def _reply(self, *, error: bool) -> None:
        """MIGRATE_CONNECTED[_SEAMLESS] or CONNECT_ERROR, unless the server
        gave up on this migration meanwhile."""
        source = self._session.connections.get(MAIN)
        if source is None or source.closed.is_set():
            return
        machine: Any = source.machine
        if machine.migration_state is not MigrationState.CONNECTING:
            return
        if error:
            source.call(machine.send_migrate_connect_error)
        else:
            source.call(machine.send_migrate_connected, self._seamless)

    async def _open(self, key: ChannelKey, deadline: float) -> ChannelConnection:
        """One frozen target connection, linked (NEED_SECURED: once more on TLS)."""
        session = self._session
        uri, tls = self._uri, self._tls
        assert uri is not None and tls is not None
        ctype, cid = key
        use_tls = uri.channel_uses_tls(ctype, plain=session.plain) or (
            ctype in session._secure
        )
        for _attempt in range(2):
            port = uri.tls_port if use_tls else uri.port
            if port is None:
                raise LinkError(
                    f"the migration target has no {'TLS' if use_tls else 'plain'} port",
                    LinkErr.NEED_SECURED if use_tls else LinkErr.NEED_UNSECURED,
                )
            reader, writer = await open_stream(
                host=uri.host,
                port=port,
                tls=tls if use_tls else None,
                timeout=session.timeout,
                deadline=deadline,
                proxy=session.proxy,
            )
            machine = session._make_machine(
                ctype, cid, session.core.session_id or 0, secure=use_tls
            )
            if ctype == ChannelType.MAIN:
                machine.migration_target = True
            else:
                machine.defer_start()
            conn = ChannelConnection(
                f"{channel_name(key)}@{uri.host}:{port}",
                machine,
                reader,
                writer,
                lambda c, event: self._on_target_event(key, c, event),
                on_pumped=session._after_pump,
            )
            self._targets[key] = conn
            conn.start()
            try:
                await session._wait(
                    lambda m=machine: bool(m.linked),  # type: ignore[misc]
                    session.timeout,
                    f"{conn.name} link",
                    conn=conn,
                    deadline=deadline,
                )
                return conn
            except LinkError as exc:
                self._targets.pop(key, None)
                await conn.close()
                if exc.error_code != LinkErr.NEED_SECURED or use_tls:
                    raise
                use_tls = True
        raise LinkError("the target refused the channel twice", LinkErr.NEED_SECURED)

    # -- switching ----------------------------------------------------------------

    def _switch(self, key: ChannelKey) -> None:
        """The target connection replaces the source one in the session."""
        session = self._session
        target = self._targets.pop(key)
        if target.closed.is_set():
            raise ProtocolError(f"{target.name} closed before the switch")
        source = session.connections.get(key)
        self._switched.add(key)
        session.connections[key] = target
        session._machines[key] = target
        if source is not None and self._seamless:
            source.detach(hang_up=False)
            self._handed_over.append(source)
        elif source is not None:
            self._retire(source)
        for event in self._pending.pop(key, []):
            session._on_event(key, target, event)

    def _start_target_channels(self) -> None:
        """Semi-seamless, after the target's INIT: the channels say hello."""
        self._ending = False
        for key, conn in self._session.connections.items():
            if key != MAIN and key in self._switched:
                conn.call(conn.machine.start_deferred)  # type: ignore[attr-defined]
        self._done()

    def _done(self) -> None:
        session = self._session
        target = self.target
        assert target is not None and self._uri is not None and self._tls is not None
        session.uri, session.tls = self._uri, self._tls
        seamless = self._seamless
        self._release_sources()
        self._reset()
        self.completed += 1
        log.info("migrated to %s (seamless=%s)", target.host, seamless)
        session._publish(Migrated(target, seamless))
        session._wake()  # waiters re-check (this may run outside any pump)

    async def _switch_host(self, target: MigrationTarget) -> None:
        """SWITCH_HOST: the session starts over on the new host (spice-gtk
        disconnects and reconnects every channel, canvases reset)."""
        session = self._session
        uri = replace(
            session.uri,
            host=target.host,
            port=target.port,
            tls_port=target.tls_port,
            unix_path=None,
        )
        tls = replace(session.tls, host_subject=target.cert_subject)
        for conn in session.connections.values():
            self._retire(conn)
        session.connections.clear()
        session._machines.clear()
        session.skipped_channels.clear()
        session.core.forget_server(new_session=True)
        session.uri, session.tls = uri, tls
        try:
            await session.connect()  # closes the session when it fails
        except SpiceError as exc:
            self._reset()
            session._publish(MigrationFailed(f"switching host: {exc}"))
            session._wake()
            return
        self._uri, self._tls = uri, tls
        self._done()

    # -- giving up ----------------------------------------------------------------

    def _abort(self, reason: str) -> None:
        if self.target is None:
            return
        log.warning("migration failed: %s", reason)
        self._cancel_task()
        self._drop_targets()
        self._reset()
        self._session._publish(MigrationFailed(reason))
        self._session._wake()

    def _cancel_task(self) -> None:
        task = self._task
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    def _reset(self) -> None:
        self.target = None
        self._task = None
        self._seamless = False
        self._handshake = None
        self._ending = False
        self._switched.clear()
        self._pending.clear()

    def _drop_targets(self) -> None:
        for conn in self._targets.values():
            self._retire(conn)
        self._targets.clear()
        self._release_sources()

    def _release_sources(self) -> None:
        for conn in self._handed_over:
            self._retire(conn)
        self._handed_over.clear()

    def _retire(self, conn: ChannelConnection) -> None:
        conn.detach()
        task = asyncio.ensure_future(conn.close())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def close(self) -> None:
        """Stop any migration and close its connections (``Session.close``)."""
        task = self._task
        if task is not None and not task.done() and task is not asyncio.current_task():
            task.cancel()  # (a failed SWITCH_HOST reconnect closes from inside it)
            await asyncio.gather(task, return_exceptions=True)
        self._drop_targets()
        self._reset()
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)
