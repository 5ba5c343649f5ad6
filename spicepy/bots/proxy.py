"""``spicepy proxy``: forward SPICE between a client and a server, recording
the person's keyboard and mouse as a ``spicepy do`` script.

Every accepted connection gets its own upstream connection to the server and
two pumps that forward bytes unchanged; a ``LinkSniffer`` per connection sees
the bytes as they pass and hands inputs-channel messages to one shared
``ScriptRecorder``.  The script file is rewritten after every recorded step,
so stopping the proxy at any moment leaves a complete script.  With ``pcap``
every connection also goes to a capture (``pcap_writer``) that ``spicepy
replay`` / ``inspect`` read, with the authentication taken out (the sniffer's
``take_capture``: no ticket, password or SASL response is kept).

TLS is terminated, not passed through (a pass-through proxy sees only
ciphertext and could record nothing): the proxy's TLS port presents the
proxy's own certificate (``client_tls``, e.g. an x509 dir made for it; the
client must trust its CA), and each connection to the server's TLS port is
verified like any spicepy connection (``server_tls``: CA, host subject).  The
capture then holds the decrypted SPICE stream.  SASL passes through; over TLS
it has no security layer, so the rest of the connection is recorded too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from pathlib import Path

from spicepy.bots.pcap_writer import Connection, PcapWriter
from spicepy.bots.recorder import ScriptRecorder
from spicepy.bots.script import dump
from spicepy.bots.sniffer import LinkSniffer
from spicepy.errors import SpiceError
from spicepy.session.transport import TlsConfig, open_stream

log = logging.getLogger(__name__)
CHUNK = 65536
#: seconds for one upstream connection (and its TLS handshake)
CONNECT_TIMEOUT = 10.0

Address = tuple[str, int]


def server_context(cert_file: str | Path, key_file: str | Path) -> ssl.SSLContext:
    """The TLS context the proxy's TLS port presents to clients.

    Raises:
        OSError, ssl.SSLError: the certificate or key cannot be loaded.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(str(cert_file), str(key_file))
    return ctx


class RecordingProxy:
    """Listens on ``listen`` (plain) and ``tls_listen`` (TLS); forwards each
    connection to ``target`` / ``tls_target`` of the server.

    Args:
        listen: (host, port) for plain clients, or None; port 0 picks a free
            one (see ``port``).
        target: (host, port) of the server's plain port (with ``listen``).
        record: the script file to (re)write, or None.
        pcap: a capture file of every connection, authentication left out.
        pause_after: gaps this long (s) become ``pause`` steps.
        tls_listen: (host, port) for TLS clients (see ``tls_port``), with
            ``client_tls`` (``server_context``) and ``tls_target``.
        tls_target: (host, port) of the server's TLS port.
        server_tls: how the server's certificate is checked (default: the
            system CAs and the host name).
    """

    def __init__(
        self,
        listen: Address | None,
        target: Address | None,
        record: Path | None = None,
        *,
        pcap: Path | None = None,
        pause_after: float = 1.0,
        tls_listen: Address | None = None,
        tls_target: Address | None = None,
        client_tls: ssl.SSLContext | None = None,
        server_tls: TlsConfig | None = None,
    ) -> None:
        if (listen is None) != (target is None):
            raise ValueError("listen and target go together")
        if not (tls_listen is None) == (tls_target is None) == (client_tls is None):
            raise ValueError("tls_listen, tls_target and client_tls go together")
        if listen is None and tls_listen is None:
            raise ValueError("nothing to listen on")
        self.listen, self.target = listen, target
        self.tls_listen, self.tls_target = tls_listen, tls_target
        self.client_tls = client_tls
        self.server_tls = server_tls or TlsConfig()
        self.record = record
        self.recorder = ScriptRecorder(pause_after=pause_after)
        self._pcap_file = pcap.open("wb") if pcap is not None else None
        self._pcap = PcapWriter(self._pcap_file) if self._pcap_file else None
        self._servers: dict[bool, asyncio.Server] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._loop = asyncio.get_running_loop()

    def _port(self, tls: bool) -> int:
        return int(self._servers[tls].sockets[0].getsockname()[1])

    @property
    def port(self) -> int:
        """The plain listening port."""
        return self._port(False)

    @property
    def tls_port(self) -> int:
        """The TLS listening port."""
        return self._port(True)

    def uri(self) -> str:
        """The URI a client connects to (both ports when both listen)."""
        host = (self.listen or self.tls_listen or ("127.0.0.1", 0))[0]
        if self.listen is not None and self.tls_listen is not None:
            return f"spice://{host}:{self.port}?tls-port={self.tls_port}"
        if self.listen is not None:
            return f"spice://{host}:{self.port}"
        return f"spice+tls://{host}:{self.tls_port}"

    async def start(self) -> RecordingProxy:
        if self.listen is not None:
            self._servers[False] = await asyncio.start_server(
                self._accept_plain, *self.listen
            )
        if self.tls_listen is not None:
            self._servers[True] = await asyncio.start_server(
                self._accept_tls, *self.tls_listen, ssl=self.client_tls
            )
        return self

    async def close(self) -> None:
        """Stop listening, cut every connection, write the script."""
        for server in self._servers.values():
            server.close()
            await server.wait_closed()
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

    async def _accept_plain(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await self._accept(reader, writer, tls=False)

    async def _accept_tls(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await self._accept(reader, writer, tls=True)

    async def _accept(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, tls: bool
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        target = self.tls_target if tls else self.target
        assert target is not None
        try:
            up_reader, up_writer = await open_stream(
                host=target[0],
                port=target[1],
                tls=self.server_tls if tls else None,
                timeout=CONNECT_TIMEOUT,
                proxy="",
            )
        except (SpiceError, ValueError) as exc:
            log.warning("cannot reach %s:%d: %s", *target, exc)
            writer.close()
            self._tasks.discard(task)
            return
        sniffer = LinkSniffer(secure=tls, capture=self._pcap is not None)
        conn = self._pcap_connection(writer, up_writer)
        self._writers |= {writer, up_writer}
        try:
            await asyncio.gather(
                self._pump(reader, up_writer, sniffer, conn, from_client=True),
                self._pump(up_reader, writer, sniffer, conn, from_client=False),
            )
        except (OSError, asyncio.IncompleteReadError, ssl.SSLError):
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
            if from_client:
                messages = sniffer.client_data(data)
            else:  # client input that waited for the server's side
                messages = sniffer.server_data(data)
            now = self._loop.time()
            for msg in messages:
                self.recorder.feed(msg, now)
            if messages:
                self._write_partial()
            if conn is not None:
                for side in (True, False):  # one side may have waited for the other
                    kept = sniffer.take_capture(side)
                    if kept:
                        conn.data(kept, from_client=side)
            writer.write(data)
            await writer.drain()
        with contextlib.suppress(OSError, RuntimeError):
            if writer.can_write_eof():  # a TLS stream cannot half-close
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
