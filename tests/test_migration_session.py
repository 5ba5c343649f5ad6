"""Live migration in the session against two fake servers (source and target)
on 127.0.0.1 port 0: the test plays both servers' side message by message
(``spicepy.testing.fake_server.FakeServer`` frames them), every await bounded."""

from __future__ import annotations

import asyncio
import socket
import struct
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import numpy as np
import pytest
from test_session_connection import LineMachine

from spicepy.channels._migration import MigrationTarget
from spicepy.errors import ProtocolError
from spicepy.session import Session, parse_uri
from spicepy.session.connection import ChannelConnection
from spicepy.session.migration import Migrated, MigrationFailed
from spicepy.testing.fake_server import FakeServer
from spicepy.testing.xspice import free_port
from spicepy.wire import msg_display as md
from spicepy.wire.enums import (
    BrushType,
    ChannelType,
    InputsMsgc,
    MainCap,
    MigrateFlags,
    SurfaceFmt,
)
from spicepy.wire.link import LINK_HEADER_SIZE
from spicepy.wire.msg_common import (
    MainAttachChannels,
    MainChannelsList,
    MainInit,
    MainMigrateBegin,
    MainMigrateBeginSeamless,
    MainMigrateCancel,
    MainMigrateConnected,
    MainMigrateConnectedSeamless,
    MainMigrateConnectError,
    MainMigrateDstDoSeamless,
    MainMigrateDstSeamlessAck,
    MainMigrateDstSeamlessNack,
    MainMigrateEnd,
    MainMigrateEndC,
    MainMigrateSwitchHost,
    MainMouseMode,
    Migrate,
    MigrateData,
    MigrateDataC,
    MigrateFlushMark,
)
from spicepy.wire.types import (
    CLIP_NONE,
    QMASK_NONE,
    Brush,
    ChannelId,
    DisplayBase,
    DstInfo,
    Rect,
)

LIMIT = 10.0
SESSION_ID = 0x5EED
MAIN, INPUTS = int(ChannelType.MAIN), int(ChannelType.INPUTS)
MAIN_CAPS = frozenset(
    {
        MainCap.SEMI_SEAMLESS_MIGRATE,
        MainCap.SEAMLESS_MIGRATE,
        MainCap.AGENT_CONNECTED_TOKENS,
    }
)


class Peer:
    """The server side of one linked channel connection."""

    def __init__(
        self,
        srv: FakeServer,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        ctype: int,
        connection_id: int,
    ) -> None:
        self.srv, self.reader, self.writer = srv, reader, writer
        self.ctype, self.connection_id = ctype, connection_id
        self.received: list[Any] = []

    async def send(self, *msgs: Any) -> None:
        self.writer.write(b"".join(self.srv.pack(m) for m in msgs))
        await self.writer.drain()

    async def recv(self) -> Any:
        """The client's next message (mini header)."""
        async with asyncio.timeout(LIMIT):
            head = await self.reader.readexactly(6)
            _mtype, size = struct.unpack("<HI", head)
            body = await self.reader.readexactly(size)
        [msg] = self.srv.client_messages(head + body, self.ctype)
        self.received.append(msg)
        return msg

    async def expect(self, cls: type) -> Any:
        """Skip to the client's next ``cls`` message."""
        while not isinstance(msg := await self.recv(), cls):
            pass
        return msg

    async def rest(self) -> list[Any]:
        """Every further message the client sent, until it hung up."""
        async with asyncio.timeout(LIMIT):
            data = await self.reader.read()
        return list(self.srv.client_messages(data, self.ctype))

    async def hung_up(self) -> None:
        """Until the client hangs up (TimeoutError if it does not in time)."""
        async with asyncio.timeout(LIMIT):
            await self.reader.read()  # whatever it still sent, then EOF


class Server:
    """Accepts links; each linked connection becomes a ``Peer`` per channel type."""

    def __init__(self, caps: dict[int, frozenset[int]] | None = None) -> None:
        self.caps = caps or {MAIN: MAIN_CAPS}
        self.peers: dict[int, asyncio.Queue[Peer]] = defaultdict(asyncio.Queue)
        self.port = 0

    async def _handle(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        head = await reader.readexactly(LINK_HEADER_SIZE)
        (size,) = struct.unpack_from("<I", head, 12)
        link = head + await reader.readexactly(size)
        _conn_id, ctype = struct.unpack_from("<IB", link, LINK_HEADER_SIZE)
        srv = FakeServer(channel_caps=self.caps.get(ctype, frozenset()))
        writer.write(srv.reply_to(link))
        writer.write(srv.result_for(await reader.readexactly(4 + 128)))
        await writer.drain()
        assert srv.link_mess is not None
        peer = Peer(srv, reader, writer, ctype, srv.link_mess.connection_id)
        await self.peers[ctype].put(peer)

    async def peer(self, ctype: int) -> Peer:
        async with asyncio.timeout(LIMIT):
            return await self.peers[ctype].get()

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Server]:
        server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        async with server:
            yield self


HOST = b"127.0.0.1\0"


def dst(port: int) -> DstInfo:
    return DstInfo(port, 0xFFFF, len(HOST), HOST, 0, None)


def switch_host(port: int) -> MainMigrateSwitchHost:
    return MainMigrateSwitchHost(port, 0xFFFF, len(HOST), HOST, 0, None)


async def attach(main: Peer, session_id: int, *channels: int) -> None:
    """A new session's main channel: INIT, ATTACH_CHANNELS, CHANNELS_LIST."""
    await main.send(MainInit(session_id, 1, 1, 1, 0, 10, 0, 0))
    await main.expect(MainAttachChannels)
    listed = tuple(ChannelId(t, 0) for t in channels)
    await main.send(MainChannelsList(len(listed), listed))


@asynccontextmanager
async def session_on(src: Server) -> AsyncIterator[tuple[Session, Peer, Peer]]:
    """A session linked to ``src`` (main + inputs); yields it, main, inputs."""
    session = Session(parse_uri(f"spice://127.0.0.1:{src.port}"), timeout=LIMIT)
    connecting = asyncio.ensure_future(session.connect())
    main = await src.peer(MAIN)
    await attach(main, SESSION_ID, MAIN, INPUTS)
    inputs = await src.peer(INPUTS)
    async with asyncio.timeout(LIMIT):
        await connecting
    try:
        yield session, main, inputs
    finally:
        async with asyncio.timeout(LIMIT):
            await session.close()


def outcome(session: Session, stream: Any) -> list[object]:
    return [e for e in stream.queue if isinstance(e, Migrated | MigrationFailed)]


async def key_reaches(peer: Peer, session: Session) -> None:
    await session.key_press("a")
    msg = await peer.recv()
    assert msg.MSG_TYPE == InputsMsgc.KEY_DOWN


async def seamless(
    s: Session, smain: Peer, sinputs: Peer, tgt: Server
) -> tuple[Peer, Peer]:
    """One seamless migration to ``tgt``, checked step by step; returns the
    target's main and inputs peers."""
    done = s.migration.completed
    await smain.send(MainMigrateBeginSeamless(dst(tgt.port), 1))
    tmain = await tgt.peer(MAIN)
    assert tmain.connection_id == SESSION_ID
    assert await tmain.expect(MainMigrateDstDoSeamless) == MainMigrateDstDoSeamless(1)
    await tmain.send(MainMigrateDstSeamlessAck())
    tinputs = await tgt.peer(INPUTS)
    assert tinputs.connection_id == SESSION_ID
    await smain.expect(MainMigrateConnectedSeamless)
    # QEMU finished: each source channel hands over (inputs: data only)
    both = MigrateFlags.NEED_FLUSH | MigrateFlags.NEED_DATA_TRANSFER
    await sinputs.send(Migrate(MigrateFlags.NEED_DATA_TRANSFER), MigrateData(b"in"))
    assert await tinputs.recv() == MigrateDataC(b"in")
    await smain.send(Migrate(both))
    await smain.expect(MigrateFlushMark)
    await smain.send(MigrateData(b"main state"))
    assert await tmain.recv() == MigrateDataC(b"main state")
    await s.wait_for(lambda: s.migration.completed > done, LIMIT, "switch")
    assert s.uri.port == tgt.port
    await key_reaches(tinputs, s)
    await sinputs.hung_up()
    await smain.hung_up()
    return tmain, tinputs


def test_seamless_migration_switches_every_channel() -> None:
    async def main() -> None:
        async with (
            Server().running() as src,
            Server().running() as tgt,
            session_on(src) as (s, smain, sinputs),
        ):
            stream = s.events()
            tmain, _ = await seamless(s, smain, sinputs, tgt)
            target = MigrationTarget("127.0.0.1", tgt.port, None, None, True, 1)
            assert outcome(s, stream) == [Migrated(target, True)]
            # the target's messages reach the session from now on
            await tmain.send(MainMouseMode(3, 2))
            await s.wait_for(lambda: s.core.mouse_mode == 2, LIMIT, "mouse mode")

    asyncio.run(main())


def test_seamless_keeps_the_sources_open_until_the_last_channel_switched() -> None:
    """spice-server drops every channel of a client whose main channel hung
    up: a source closed at its own switch lost the channels still handing
    over (seen live: main switched first, inputs' MIGRATE_DATA never came)."""

    async def main() -> None:
        async with (
            Server().running() as src,
            Server().running() as tgt,
            session_on(src) as (s, smain, sinputs),
        ):

            async def drop_the_client() -> None:  # as spice-server does
                await smain.reader.read()
                sinputs.writer.close()

            await smain.send(MainMigrateBeginSeamless(dst(tgt.port), 1))
            tmain = await tgt.peer(MAIN)
            await tmain.expect(MainMigrateDstDoSeamless)
            await tmain.send(MainMigrateDstSeamlessAck())
            tinputs = await tgt.peer(INPUTS)
            await smain.expect(MainMigrateConnectedSeamless)
            both = MigrateFlags.NEED_FLUSH | MigrateFlags.NEED_DATA_TRANSFER
            # main hands over first (spice-server's channel order), then inputs
            await smain.send(Migrate(both))
            await smain.expect(MigrateFlushMark)
            dropper = asyncio.ensure_future(drop_the_client())
            await smain.send(MigrateData(b"main state"))
            assert await tmain.recv() == MigrateDataC(b"main state")
            await sinputs.send(Migrate(both))
            await sinputs.expect(MigrateFlushMark)
            assert not dropper.done()  # main is still open
            await sinputs.send(MigrateData(b"in"))
            assert await tinputs.recv() == MigrateDataC(b"in")
            await s.wait_for(lambda: s.migration.completed == 1, LIMIT, "switch")
            # then every source connection is closed
            async with asyncio.timeout(LIMIT):
                await dropper
            await sinputs.hung_up()
            await key_reaches(tinputs, s)

    asyncio.run(main())


def test_two_migrations_in_a_row() -> None:
    """The target's main channel is the source of the next migration."""

    async def main() -> None:
        async with (
            Server().running() as a,
            Server().running() as b,
            Server().running() as c,
            session_on(a) as (s, amain, ainputs),
        ):
            bmain, binputs = await seamless(s, amain, ainputs, b)
            await seamless(s, bmain, binputs, c)
            assert s.migration.completed == 2

    asyncio.run(main())


def test_semi_seamless_migration_waits_for_the_targets_init() -> None:
    async def main() -> None:
        async with (
            Server().running() as src,
            Server({MAIN: frozenset({MainCap.SEMI_SEAMLESS_MIGRATE})}).running() as tgt,
            session_on(src) as (s, smain, sinputs),
        ):
            stream = s.events()
            await smain.send(MainMigrateBeginSeamless(dst(tgt.port), 1))
            tmain = await tgt.peer(MAIN)
            tinputs = await tgt.peer(INPUTS)
            # the target has no SEAMLESS cap: no DO_SEAMLESS, plain CONNECTED
            assert isinstance(await smain.recv(), MainMigrateConnected)
            await smain.send(MainMigrateEnd())
            assert await tmain.recv() == MainMigrateEndC()
            await sinputs.hung_up()
            await smain.hung_up()
            assert s.migration.completed == 0  # not before the target's INIT
            await tmain.send(MainInit(SESSION_ID, 1, 1, 1, 0, 10, 0, 0))
            await s.wait_for(lambda: s.migration.completed == 1, LIMIT, "switch")
            target = MigrationTarget("127.0.0.1", tgt.port, None, None, True, 1)
            assert outcome(s, stream) == [Migrated(target, False)]
            await key_reaches(tinputs, s)
            # the target links the channels we brought: no ATTACH_CHANNELS
            assert not any(isinstance(m, MainAttachChannels) for m in tmain.received)

    asyncio.run(main())


def test_switch_host_reconnects_from_scratch() -> None:
    async def main() -> None:
        async with (
            Server().running() as src,
            Server().running() as tgt,
            session_on(src) as (s, smain, sinputs),
        ):
            stream = s.events()
            await smain.send(switch_host(tgt.port))
            tmain = await tgt.peer(MAIN)
            assert tmain.connection_id == 0  # a new session, not a migration
            await asyncio.sleep(0.2)  # nothing else links before the new list
            assert tgt.peers[INPUTS].empty()
            await attach(tmain, SESSION_ID + 1, INPUTS)
            tinputs = await tgt.peer(INPUTS)
            assert tinputs.connection_id == SESSION_ID + 1
            await s.wait_for(lambda: s.migration.completed == 1, LIMIT, "switch")
            target = MigrationTarget("127.0.0.1", tgt.port, None)
            assert outcome(s, stream) == [Migrated(target, False)]
            assert s.session_id == SESSION_ID + 1
            await sinputs.hung_up()
            await smain.hung_up()
            await key_reaches(tinputs, s)

    asyncio.run(main())


def test_switch_host_while_connecting_gives_up_the_migration() -> None:
    async def main() -> None:
        stalled: list[asyncio.StreamWriter] = []

        async def never_answer(
            reader: asyncio.StreamReader, writer: asyncio.StreamWriter
        ) -> None:
            stalled.append(writer)  # accepts, never answers the link

        mute = await asyncio.start_server(never_answer, "127.0.0.1", 0)
        mute_port = mute.sockets[0].getsockname()[1]
        async with (
            mute,
            Server().running() as tgt,
            Server().running() as src,
            session_on(src) as (s, smain, _),
        ):
            stream = s.events()
            await smain.send(MainMigrateBegin(dst(mute_port)))
            async with asyncio.timeout(LIMIT):
                while not stalled:
                    await asyncio.sleep(0.01)
            await smain.send(switch_host(tgt.port))
            await attach(await tgt.peer(MAIN), SESSION_ID + 1)
            await s.wait_for(lambda: s.migration.completed == 1, LIMIT, "switch")
            target = MigrationTarget("127.0.0.1", tgt.port, None)
            assert outcome(s, stream) == [Migrated(target, False)]
            # the abandoned connect neither answered the source nor lingers
            assert s.migration._targets == {}
            assert not any(
                isinstance(m, MainMigrateConnected | MainMigrateConnectError)
                for m in await smain.rest()
            )
            for writer in stalled:
                writer.close()

    asyncio.run(main())


def test_cancel_drops_the_target_and_keeps_the_source() -> None:
    async def main() -> None:
        async with (
            Server().running() as src,
            Server().running() as tgt,
            session_on(src) as (s, smain, sinputs),
        ):
            stream = s.events()
            await smain.send(MainMigrateBegin(dst(tgt.port)))
            tmain = await tgt.peer(MAIN)
            tinputs = await tgt.peer(INPUTS)
            await smain.expect(MainMigrateConnected)
            await smain.send(MainMigrateCancel())
            await s.wait_for(lambda: bool(outcome(s, stream)), LIMIT, "the cancel")
            assert outcome(s, stream) == [MigrationFailed("cancelled by the server")]
            await tmain.hung_up()
            await tinputs.hung_up()
            await key_reaches(sinputs, s)

    asyncio.run(main())


def test_unreachable_target_answers_connect_error() -> None:
    async def main() -> None:
        async with (
            Server().running() as src,
            session_on(src) as (s, smain, sinputs),
        ):
            stream = s.events()
            await smain.send(MainMigrateBegin(dst(free_port())))
            await smain.expect(MainMigrateConnectError)
            [failed] = outcome(s, stream)
            assert isinstance(failed, MigrationFailed)
            assert "connecting to 127.0.0.1" in failed.reason
            await key_reaches(sinputs, s)

    asyncio.run(main())


def test_end_without_a_migration_fails_the_session() -> None:
    async def main() -> None:
        async with (
            Server().running() as src,
            session_on(src) as (s, smain, _),
        ):
            await smain.send(MainMigrateEnd())
            with pytest.raises(ProtocolError):
                await s.wait_for(lambda: False, LIMIT, "the main channel to fail")

    asyncio.run(main())


def test_migrate_without_a_seamless_migration_fails_that_channel() -> None:
    async def main() -> None:
        async with (
            Server().running() as src,
            session_on(src) as (s, _, sinputs),
        ):
            await sinputs.send(Migrate(0))
            conn = s.connections[(INPUTS, 0)]
            async with asyncio.timeout(LIMIT):
                await conn.closed.wait()
            assert isinstance(conn.error, ProtocolError)
            assert "outside a seamless migration" in str(conn.error)

    asyncio.run(main())


def test_a_detached_connection_delivers_no_more_events() -> None:
    """What a replaced connection read before it noticed the hang-up is dropped
    (semi-seamless: the source's channels are replaced inside main's pump)."""

    async def main() -> list[object]:
        a, b = socket.socketpair()
        reader, writer = await asyncio.open_connection(sock=a)
        events: list[object] = []
        machine = LineMachine(asyncio.get_running_loop())
        conn = ChannelConnection(
            "t", machine, reader, writer, lambda c, e: events.append(e)
        )
        conn.start()
        b.sendall(b"one\n")
        async with asyncio.timeout(LIMIT):
            while not events:
                await asyncio.sleep(0)
        conn.detach()
        # a read the transport made before it saw the hang-up, then more bytes
        receiver = writer.transport.get_protocol()
        assert isinstance(receiver, asyncio.BufferedProtocol)
        buf = receiver.get_buffer(-1)
        buf[:4] = b"two\n"
        receiver.buffer_updated(4)
        b.sendall(b"three\n")
        for _ in range(20):
            await asyncio.sleep(0)
        assert conn.closed.is_set()
        await conn.close()
        b.close()
        return events

    assert asyncio.run(main()) == ["one"]


def test_a_connection_detached_without_hanging_up_stays_open_and_drops_reads() -> None:
    """Seamless: a switched source stays open until the last channel switched;
    what its server still sends reaches neither the machine nor the session."""

    async def main() -> tuple[list[object], list[bytes]]:
        a, b = socket.socketpair()
        reader, writer = await asyncio.open_connection(sock=a)
        events: list[object] = []
        machine = LineMachine(asyncio.get_running_loop())
        fed: list[bytes] = []
        receive = machine.receive_data

        def feed(data: bytes) -> None:  # what reaches the machine
            fed.append(bytes(data))
            receive(data)

        machine.receive_data = feed  # type: ignore[method-assign]
        conn = ChannelConnection(
            "t", machine, reader, writer, lambda c, e: events.append(e)
        )
        conn.start()
        b.sendall(b"one\n")
        async with asyncio.timeout(LIMIT):
            while not events:
                await asyncio.sleep(0)
        assert b.recv(16) == b"HELLO\n"  # (sent at start)
        conn.detach(hang_up=False)
        b.sendall(b"two\n")
        async with asyncio.timeout(LIMIT):
            while conn.bytes_in < 8:  # the transport read it
                await asyncio.sleep(0)
        assert not conn.closed.is_set()
        b.setblocking(False)
        with pytest.raises(BlockingIOError):  # no hang-up reached the peer
            b.recv(1)
        await conn.close()
        b.close()
        return events, fed

    assert asyncio.run(main()) == (["one"], [b"one\n"])


def test_semi_seamless_keeps_the_old_picture_until_the_targets_primary() -> None:
    """spice-gtk keeps its primary across the reset (clear_surfaces keeping the
    primary): the screen shows the source's last picture until the target's
    SURFACE_CREATE, and nothing of it leaks into the target's surface."""
    display = int(ChannelType.DISPLAY)
    w, h = 64, 48

    def fill(right: int, color: int) -> md.DrawFill:
        base = DisplayBase(0, Rect(0, 0, h, right), CLIP_NONE)
        return md.DrawFill(
            base, md.Fill(Brush(BrushType.SOLID, color=color), 8, QMASK_NONE)
        )

    create = md.SurfaceCreate(0, w, h, SurfaceFmt.FMT_32_xRGB, 1)
    green = np.zeros((h, w, 3), np.uint8)
    green[...] = (0, 255, 0)
    red_left = np.zeros((h, w, 3), np.uint8)
    red_left[:, : w // 2] = (255, 0, 0)

    async def main() -> None:
        caps: dict[int, frozenset[int]] = {
            MAIN: frozenset({MainCap.SEMI_SEAMLESS_MIGRATE})
        }
        async with Server().running() as src, Server(caps).running() as tgt:
            s = Session(parse_uri(f"spice://127.0.0.1:{src.port}"), timeout=LIMIT)
            connecting = asyncio.ensure_future(s.connect())
            smain = await src.peer(MAIN)
            await attach(smain, SESSION_ID, MAIN, display)
            sdisplay = await src.peer(display)
            async with asyncio.timeout(LIMIT):
                await connecting
            try:
                await sdisplay.send(create, fill(w, 0x00FF00), md.DisplayMark())
                await s.wait_for_frame(timeout=LIMIT)
                assert np.array_equal(s.screenshot(), green)
                await smain.send(MainMigrateBeginSeamless(dst(tgt.port), 1))
                tmain = await tgt.peer(MAIN)
                tdisplay = await tgt.peer(display)
                assert isinstance(await smain.recv(), MainMigrateConnected)
                await smain.send(MainMigrateEnd())
                assert await tmain.recv() == MainMigrateEndC()
                await sdisplay.hung_up()
                await smain.hung_up()
                # switched, the display reset: still the source's picture,
                # and the screen API agrees it has one
                assert np.array_equal(s.screenshot(), green)
                assert s.screen.displays == [0]
                assert s.screen.size(0) == (green.shape[1], green.shape[0])
                await tmain.send(MainInit(SESSION_ID, 1, 1, 1, 0, 10, 0, 0))
                await s.wait_for(lambda: s.migration.completed == 1, LIMIT, "switch")
                await tdisplay.expect(md.DisplayInit)
                assert np.array_equal(s.screenshot(), green)
                # the target's primary replaces it: its own pixels only (the
                # right half was never drawn: black, not the old green)
                await tdisplay.send(create, fill(w // 2, 0xFF0000), md.DisplayMark())
                await s.wait_for(lambda: s.core.marks == 1, LIMIT, "target frame")
                assert np.array_equal(s.screenshot(), red_left)
            finally:
                async with asyncio.timeout(LIMIT):
                    await s.close()

    asyncio.run(main())


def test_target_is_reached_on_its_tls_port_checked_against_its_subject(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """MIGRATE_BEGIN names the target's TLS port and certificate subject: the
    target's channels go to that port and its certificate is held to that
    subject (spice-gtk: spice_session_set_migration_session copies sport and
    cert-subject into the migration session), never to the source's."""
    from spicepy.session import migration

    opened: list[tuple[str, int, Any]] = []

    async def refused(**kw: Any) -> Any:
        opened.append((kw["host"], kw["port"], kw["tls"]))
        raise OSError("the test refuses the target")

    monkeypatch.setattr(migration, "open_stream", refused)
    subject = b"C=XX,O=example,CN=target.example\0"

    async def main() -> None:
        async with (
            Server().running() as src,
            session_on(src) as (s, smain, _sinputs),
        ):
            info = DstInfo(5930, 5931, len(HOST), HOST, len(subject), subject)
            await smain.send(MainMigrateBegin(info))
            await smain.expect(MainMigrateConnectError)
            assert s.tls.host_subject is None  # the source's own is untouched

    asyncio.run(main())
    [(host, port, tls)] = opened  # MAIN first; its failure ends the attempt
    assert (host, port) == ("127.0.0.1", 5931)
    assert tls is not None and tls.host_subject == "C=XX,O=example,CN=target.example"


def test_switch_host_takes_the_new_hosts_certificate_subject() -> None:
    """SWITCH_HOST's cert subject replaces the session's: a later TLS link (a
    channel refused with NEED_SECURED, a reconnect) checks the new host's
    certificate against it, not against the old host's subject."""
    subject = b"C=XX,O=example,CN=new-host.example\0"

    async def main() -> None:
        async with (
            Server().running() as src,
            Server().running() as tgt,
            session_on(src) as (s, smain, _sinputs),
        ):
            await smain.send(
                MainMigrateSwitchHost(
                    tgt.port, 0xFFFF, len(HOST), HOST, len(subject), subject
                )
            )
            tmain = await tgt.peer(MAIN)
            await attach(tmain, SESSION_ID + 1, INPUTS)
            await s.wait_for(lambda: s.migration.completed == 1, LIMIT, "switch")
            assert s.tls.host_subject == "C=XX,O=example,CN=new-host.example"
            assert s.uri.port == tgt.port and s.uri.tls_port is None

    asyncio.run(main())


def test_a_target_refusing_seamless_gets_a_semi_seamless_migration() -> None:
    """The target answers MIGRATE_DST_SEAMLESS_NACK: the client tells the source
    MIGRATE_CONNECTED (semi-seamless), not MIGRATE_CONNECTED_SEAMLESS
    (spice-gtk main_handle_migrate_dst_seamless_nack)."""

    async def main() -> None:
        async with (
            Server().running() as src,
            Server().running() as tgt,
            session_on(src) as (_s, smain, _sinputs),
        ):
            await smain.send(MainMigrateBeginSeamless(dst(tgt.port), 1))
            tmain = await tgt.peer(MAIN)
            await tmain.expect(MainMigrateDstDoSeamless)
            await tmain.send(MainMigrateDstSeamlessNack())
            await tgt.peer(INPUTS)
            answer = await smain.recv()
            while not isinstance(
                answer, MainMigrateConnected | MainMigrateConnectedSeamless
            ):
                answer = await smain.recv()
            assert isinstance(answer, MainMigrateConnected)

    asyncio.run(main())
