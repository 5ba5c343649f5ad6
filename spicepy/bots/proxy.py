"""``spicepy proxy``: forward SPICE between a client and a server, recording
the person's keyboard and mouse as a ``spicepy do`` script.

Every accepted connection gets its own upstream connection to the server and
two pumps that forward bytes unchanged; a ``LinkSniffer`` per connection sees
the bytes as they pass and hands inputs-channel messages to one shared
``ScriptRecorder``.  The script file is rewritten after every recorded step,
so stopping the proxy at any moment leaves a complete script.  With ``pcap``
every forwarded chunk also goes to a capture (``pcap_writer``) that ``spicepy
replay`` / ``inspect`` read.  Plain TCP only: a TLS port would need the proxy
to terminate TLS (not done).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

from spicepy.bots.pcap_writer import Connection, PcapWriter
from spicepy.bots.recorder import LinkSniffer, ScriptRecorder
from spicepy.bots.script import dump

log = logging.getLogger(__name__)
CHUNK = 65536


class RecordingProxy:
    """Listens on ``listen``; forwards each connection to ``target``.

    Args:
        listen: (host, port); port 0 picks a free one (see ``port``).
        target: (host, port) of the SPICE server's plain port.
        record: the script file to (re)write, or None.
    """

    def __init__(
        self,
        listen: tuple[str, int],
        target: tuple[str, int],
        record: Path | None = None,
        *,
        pcap: Path | None = None,
        pause_after: float = 1.0,
    ) -> None:
        self.listen = listen
        self.target = target
        self.record = record
        self.recorder = ScriptRecorder(pause_after=pause_after)
        self._pcap_file = pcap.open("wb") if pcap is not None else None
        self._pcap = PcapWriter(self._pcap_file) if self._pcap_file else None
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._loop = asyncio.get_running_loop()

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> RecordingProxy:
        self._server = await asyncio.start_server(self._accept, *self.listen)
        return self

    async def close(self) -> None:
        """Stop listening, cut every connection, write the script."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for w in list(self._writers):
            w.close()  # the pumps see EOF or an error and end
        if self._tasks:
            _, late = await asyncio.wait(list(self._tasks), timeout=5.0)
            for task in late:
                task.cancel()
        self._write()
        if self._pcap_file is not None:
            self._pcap_file.close()

    def script(self) -> str:
        return dump(self.recorder.finish())

    def _write(self) -> None:
        if self.record is not None:
            self.record.write_text(self.script())

    async def _accept(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError as exc:
            log.warning("cannot reach %s:%d: %s", *self.target, exc)
            writer.close()
            self._tasks.discard(task)
            return
        sniffer = LinkSniffer()
        conn = self._pcap_connection(writer, up_writer)
        self._writers |= {writer, up_writer}
        try:
            await asyncio.gather(
                self._pump(reader, up_writer, sniffer, conn, from_client=True),
                self._pump(up_reader, writer, sniffer, conn, from_client=False),
            )
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            for w in (writer, up_writer):
                w.close()
                self._writers.discard(w)
            self._tasks.discard(task)

    async def _pump(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        sniffer: LinkSniffer,
        conn: Connection | None,
        *,
        from_client: bool,
    ) -> None:
        while data := await reader.read(CHUNK):
            if conn is not None:
                conn.data(data, from_client=from_client)
            if from_client:
                now = self._loop.time()
                recorded = False
                for msg in sniffer.client_data(data):
                    self.recorder.feed(msg, now)
                    recorded = True
                if recorded:
                    self._write_partial()
            else:
                sniffer.server_data(data)
            writer.write(data)
            await writer.drain()
        with contextlib.suppress(OSError):
            if writer.can_write_eof():
                writer.write_eof()

    def _pcap_connection(
        self, client: asyncio.StreamWriter, server: asyncio.StreamWriter
    ) -> Connection | None:
        if self._pcap is None:
            return None
        a, b = client.get_extra_info("peername"), server.get_extra_info("peername")
        try:
            return self._pcap.connection((a[0], a[1]), (b[0], b[1]))
        except (ValueError, TypeError, IndexError):
            log.info("not capturing %s -> %s (IPv4 only)", a, b)
            return None

    def _write_partial(self) -> None:
        if self.record is not None:
            self.record.write_text(dump(self.recorder.snapshot()))


def parse_hostport(text: str, default_host: str = "127.0.0.1") -> tuple[str, int]:
    """ "HOST:PORT" or "PORT" -> (host, port).

    Raises:
        ValueError: not a port number.
    """
    host, _, port = text.rpartition(":")
    number = int(port)
    if not 0 <= number <= 65535:
        raise ValueError(f"port {number} out of range")
    return (host or default_host).strip("[]"), number
