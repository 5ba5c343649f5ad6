"""The public client API: ``spicepy.connect`` (asyncio) and ``connect_sync`` (blocking).

async with spicepy.connect("spice://127.0.0.1:5900", password="pw") as s:
    await s.wait_until_settled()
    s.screenshot("screen.png")

with spicepy.connect_sync("spice://127.0.0.1:5900") as s:
    s.wait_until_settled()
    s.screenshot("screen.png")
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine, Generator, Iterator
from concurrent.futures import Future
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from spicepy.audio import AudioFrame
from spicepy.channels.agent import Monitor
from spicepy.errors import SessionError, SpiceTimeoutError
from spicepy.limits import Limits
from spicepy.session.media import AgentControl, AudioPlayback
from spicepy.session.ports import PortControl, PortWriter
from spicepy.session.session import ChangedRect, Session
from spicepy.session.targets import Target
from spicepy.session.transport import TlsConfig
from spicepy.session.uri import SpiceUri, parse_uri
from spicepy.session.usb import (
    KEY_INTERVAL,
    RedirectedDevice,
    UsbDevice,
    UsbRedirection,
)
from spicepy.wire.enums import ChannelType, ClipboardSelection, ClipboardType

__all__ = [
    "connect",
    "connect_sync",
    "screenshot",
    "Session",
    "SyncAgent",
    "SyncAudio",
    "SyncPort",
    "SyncPorts",
    "SyncSession",
    "SyncUsb",
    "SyncUsbDevice",
]

T = TypeVar("T")
#: disable_channels filters these (the session's opt-ins, record=True..., still apply)
ALL_TYPES = frozenset(ChannelType)


def _make_session(
    uri: str | SpiceUri | Target,
    password: str | None,
    ca_file: str | Path | None,
    host_subject: str | None,
    timeout: float,
    verify: bool,
    preferred_compression: str | None = None,
    *,
    tls: TlsConfig | None = None,
    plain: bool = False,
    proxy: str | None = None,
    username: str | None = None,
    disable_channels: frozenset[int] = frozenset(),
    record: bool = False,
    usbredir: bool = False,
    ports: bool = False,
    limits: Limits | None = None,
) -> Session:
    if isinstance(uri, Target):
        tls = uri.tls if tls is None else tls
        proxy = uri.proxy if proxy is None else proxy
        username = uri.username if username is None else username
        disable_channels = disable_channels | uri.disable_channels
        parsed = uri.uri
    else:
        parsed = parse_uri(uri) if isinstance(uri, str) else uri
    if tls is None:
        tls = TlsConfig()
    if ca_file is not None:
        tls = replace(tls, ca_file=str(ca_file), ca_data=None)
    if host_subject is not None:
        tls = replace(tls, host_subject=host_subject)
    return Session(
        parsed,
        password=password,
        tls=replace(tls, verify=verify and tls.verify),
        timeout=timeout,
        channel_types=ALL_TYPES - disable_channels if disable_channels else None,
        preferred_compression=preferred_compression,
        plain=plain,
        proxy=proxy,
        username=username,
        record=record,
        usbredir=usbredir,
        ports=ports,
        limits=limits,
    )


class _Connector:
    """What ``connect()`` returns: awaitable, or an async context manager."""

    def __init__(self, **kwargs: Any) -> None:
        self._kwargs = kwargs
        self._session: Session | None = None

    async def _open(self) -> Session:
        session = _make_session(**self._kwargs)
        await session.connect()
        return session

    def __await__(self) -> Generator[Any, None, Session]:
        return self._open().__await__()

    async def __aenter__(self) -> Session:
        self._session = await self._open()
        return self._session

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._session is not None:
            await self._session.close()


def connect(
    uri: str | SpiceUri | Target,
    *,
    password: str | None = None,
    ca_file: str | Path | None = None,
    host_subject: str | None = None,
    timeout: float = 10.0,
    verify: bool = True,
    preferred_compression: str | None = None,
    tls: TlsConfig | None = None,
    plain: bool = False,
    proxy: str | None = None,
    username: str | None = None,
    disable_channels: frozenset[int] = frozenset(),
    record: bool = False,
    usbredir: bool = False,
    ports: bool = False,
    limits: Limits | None = None,
) -> _Connector:
    """Connect to a SPICE server and link every channel it offers.

    Use as ``async with connect(...) as session`` or ``session = await connect(...)``
    (then ``await session.close()``).

    Args:
        uri: ``spice://host:port``, ``spice://host?port=..&tls-port=..``,
            ``spice+tls://host:port`` or ``spice+unix:///path``; or a
            ``session.targets.Target`` (a ``.vv`` file or libvirt domain, from
            ``targets.resolve``), whose TLS, proxy, user and disabled channels
            apply unless given here.
        password: the SPICE ticket (overrides ``password=`` in the URI).
        ca_file: PEM CA certificate(s) that signed the server's TLS certificate.
        host_subject: expected certificate subject, e.g. "C=XX,L=city,O=org,CN=name";
            without it the host name is checked against the certificate.
        timeout: one deadline in seconds for the whole connect (every
            connection, TLS handshake and link).
        verify: False disables TLS verification (debugging only).
        preferred_compression: image compression to ask the server for, e.g.
            "lz4" or "lz" (only if the server supports PREFERRED_COMPRESSION).
        tls: a whole ``TlsConfig`` (e.g. a ``.vv``'s CA as PEM data); ``ca_file``
            and ``host_subject`` override its fields.
        plain: with both ports, use the plain one (default: TLS for every
            channel; a channel the server wants secured still gets TLS).
        proxy: HTTP CONNECT proxy ("http://user:pass@host:port"); None:
            ``$SPICE_PROXY``; "": no proxy.
        username: SASL user (over TLS; ``password`` is the secret).
        disable_channels: channel types (``ChannelType``) not to open.
        record: also link the RECORD channel, for ``Session.send_audio`` (the
            guest then sees a microphone).
        usbredir: also link the USBREDIR channels, for ``Session.usb``.
        ports: also link the PORT channels (spiceports), for ``Session.ports``.
        limits: the session's memory budget in bytes (``spicepy.Limits``: surfaces,
            caches, video queue, held messages, agent data) and the size above
            which images decode on a worker thread; default ``DEFAULT_LIMITS``.

    Raises:
        ValueError: a malformed URI or host subject.
        AuthenticationError: wrong or missing password.
        LinkError, SpiceTimeoutError, ConnectionClosedError, SessionError.
    """
    return _Connector(
        uri=uri,
        password=password,
        ca_file=ca_file,
        host_subject=host_subject,
        timeout=timeout,
        verify=verify,
        preferred_compression=preferred_compression,
        tls=tls,
        plain=plain,
        proxy=proxy,
        username=username,
        disable_channels=disable_channels,
        record=record,
        usbredir=usbredir,
        ports=ports,
        limits=limits,
    )


class SyncSession:
    """A blocking facade over ``Session``; its event loop runs in a helper thread."""

    def __init__(self, session: Session, runner: _LoopThread) -> None:
        self.session = session
        self._runner = runner
        #: the guest agent: clipboard, resize, file transfer (``Session.agent``)
        self.agent = SyncAgent(session.agent, runner)
        #: playback audio (``Session.audio``)
        self.audio = SyncAudio(session.audio, runner)
        #: USB redirection (``Session.usb``; ``connect_sync(..., usbredir=True)``)
        self.usb = SyncUsb(session.usb, runner)
        #: spiceports (``Session.ports``; ``connect_sync(..., ports=True)``)
        self.ports = SyncPorts(session.ports, runner)

    def _run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        return self._runner.run(coro, timeout)

    def wait_for_frame(self, timeout: float = 30.0) -> None:
        self._run(self.session.wait_for_frame(timeout))

    def wait_until_settled(self, quiet: float = 0.5, timeout: float = 30.0) -> None:
        self._run(self.session.wait_until_settled(quiet, timeout))

    def wait_for_change(
        self, timeout: float = 30.0, *, since: int | None = None
    ) -> list[ChangedRect]:
        """See ``Session.wait_for_change``."""
        return self._run(self.session.wait_for_change(timeout, since=since))

    @property
    def change_count(self) -> int:
        return self.session.change_count

    def screenshot(
        self, path: str | Path | None = None, *, cursor: bool = False
    ) -> npt.NDArray[np.uint8]:
        async def shot() -> npt.NDArray[np.uint8]:
            return self.session.screenshot(path, cursor=cursor)

        return self._run(shot())

    def type_text(self, text: str, delay: float | None = None) -> None:
        self._run(self.session.type_text(text, delay))

    def key_press(self, key: str | int, *, modifiers: tuple[str, ...] = ()) -> None:
        self._run(self.session.key_press(key, modifiers=modifiers))

    def mouse_move(self, x: int, y: int) -> None:
        self._run(self.session.mouse_move(x, y))

    def click(self, x: int, y: int, button: int = 1) -> None:
        self._run(self.session.click(x, y, button))

    def key_down(self, key: str | int) -> None:
        self._run(self.session.key_down(key))

    def key_up(self, key: str | int) -> None:
        self._run(self.session.key_up(key))

    def mouse_down(self, button: int = 1) -> None:
        self._run(self.session.mouse_down(button))

    def mouse_up(self, button: int = 1) -> None:
        self._run(self.session.mouse_up(button))

    def wheel(self, clicks: int) -> None:
        self._run(self.session.wheel(clicks))

    def drag(self, x1: int, y1: int, x2: int, y2: int, button: int = 1) -> None:
        self._run(self.session.drag(x1, y1, x2, y2, button))

    def send_audio(
        self, samples: npt.NDArray[np.int16], frequency: int, *, timeout: float = 30.0
    ) -> None:
        """See ``Session.send_audio`` (needs ``connect_sync(..., record=True)``)."""
        self._run(self.session.send_audio(samples, frequency, timeout=timeout))

    def close(self) -> None:
        try:
            self._run(self.session.close(), timeout=10)
        finally:
            self._runner.stop()

    def __enter__(self) -> SyncSession:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class SyncAgent:
    """Blocking ``AgentControl`` (``SyncSession.agent``); same arguments, errors."""

    def __init__(self, agent: AgentControl, runner: _LoopThread) -> None:
        self._agent = agent
        self._runner = runner

    @property
    def connected(self) -> bool:
        return self._agent.connected

    @property
    def caps(self) -> frozenset[int] | None:
        return self._agent.caps

    def has_cap(self, cap: int) -> bool:
        return self._agent.has_cap(cap)

    def wait_ready(self, timeout: float = 10.0) -> None:
        self._runner.run(self._agent.wait_ready(timeout))

    def set_clipboard(
        self,
        data: bytes | str,
        type: int = ClipboardType.UTF8_TEXT,
        selection: int = ClipboardSelection.CLIPBOARD,
    ) -> None:
        self._runner.run(self._agent.set_clipboard(data, type, selection))

    def get_clipboard(
        self,
        type: int = ClipboardType.UTF8_TEXT,
        selection: int = ClipboardSelection.CLIPBOARD,
        timeout: float = 10.0,
    ) -> bytes:
        return self._runner.run(self._agent.get_clipboard(type, selection, timeout))

    def get_clipboard_text(
        self, selection: int = ClipboardSelection.CLIPBOARD, timeout: float = 10.0
    ) -> str:
        return self._runner.run(self._agent.get_clipboard_text(selection, timeout))

    def release_clipboard(self, selection: int = ClipboardSelection.CLIPBOARD) -> None:
        self._runner.run(self._agent.release_clipboard(selection))

    def resize(self, width: int, height: int, timeout: float = 15.0) -> None:
        self._runner.run(self._agent.resize(width, height, timeout))

    def set_monitors(self, monitors: list[Monitor]) -> None:
        self._runner.run(self._agent.set_monitors(monitors))

    def set_display_config(self, flags: int = 0, depth: int = 0) -> None:
        self._runner.run(self._agent.set_display_config(flags, depth))

    def send_file(self, name: str, data: bytes, timeout: float = 60.0) -> None:
        self._runner.run(self._agent.send_file(name, data, timeout))


class SyncAudio:
    """Blocking ``AudioPlayback`` (``SyncSession.audio``)."""

    def __init__(self, audio: AudioPlayback, runner: _LoopThread) -> None:
        self._audio = audio
        self._runner = runner

    @property
    def started(self) -> bool:
        return self._audio.started

    @property
    def volume(self) -> tuple[int, ...]:
        return self._audio.volume

    @property
    def mute(self) -> bool:
        return self._audio.mute

    @property
    def latency_ms(self) -> int:
        return self._audio.latency_ms

    @property
    def frames_received(self) -> int:
        async def count() -> int:  # decodes waiting packets: on the loop's thread
            return self._audio.frames_received

        return self._runner.run(count())

    def take_frames(self) -> list[AudioFrame]:
        """The frames decoded since the last call (``AudioPlayback.take_frames``)."""

        async def take() -> list[AudioFrame]:
            return self._audio.take_frames()

        return self._runner.run(take())

    def frames(self, timeout: float = 30.0) -> Iterator[AudioFrame]:
        """Decoded frames as they arrive, until the session ends.

        Raises:
            SpiceTimeoutError: no frame for ``timeout`` seconds.
        """
        stream = self._audio.frames()

        async def next_frame() -> AudioFrame:
            try:
                async with asyncio.timeout(timeout):
                    return await anext(stream)
            except TimeoutError:
                raise SpiceTimeoutError(f"no audio for {timeout}s") from None

        try:
            while True:
                try:
                    yield self._runner.run(next_frame())
                except StopAsyncIteration:
                    return
        finally:
            aclose: Any = getattr(stream, "aclose", None)  # an async generator's
            if aclose is not None and self._runner.alive:
                self._runner.run(aclose())

    def record_wav(self, path: str | Path, seconds: float) -> int:
        """See ``AudioPlayback.record_wav``; returns the sample frames written."""
        return self._runner.run(self._audio.record_wav(path, seconds))


class SyncUsbDevice:
    """Blocking ``RedirectedDevice`` (what ``SyncUsb.redirect`` returns)."""

    def __init__(self, handle: RedirectedDevice, runner: _LoopThread) -> None:
        #: the asyncio handle (its fields are updated on the loop's thread)
        self.handle = handle
        self._runner = runner

    @property
    def device(self) -> UsbDevice:
        return self.handle.device

    @property
    def released(self) -> bool:
        return self.handle.released

    @property
    def error(self) -> str | None:
        return self.handle.error

    def release(self, timeout: float = 10.0) -> None:
        """Unplug; returns once the guest acknowledged it (``RedirectedDevice``)."""
        self._runner.run(self.handle.release(timeout))

    def __repr__(self) -> str:
        return repr(self.handle)


class SyncUsb:
    """Blocking ``UsbRedirection`` (``SyncSession.usb``); same arguments, errors."""

    def __init__(self, usb: UsbRedirection, runner: _LoopThread) -> None:
        self._usb = usb
        self._runner = runner

    def redirect(self, device: UsbDevice, *, timeout: float = 10.0) -> SyncUsbDevice:
        """Plug ``device`` into the guest (``UsbRedirection.redirect``)."""
        handle = self._runner.run(self._usb.redirect(device, timeout=timeout))
        return SyncUsbDevice(handle, self._runner)

    def release(
        self, device: SyncUsbDevice | None = None, *, timeout: float = 10.0
    ) -> None:
        """Unplug ``device`` (default: every redirected device)."""
        handle = None if device is None else device.handle
        self._runner.run(self._usb.release(handle, timeout=timeout))

    def type_text(
        self,
        keyboard: SyncUsbDevice,
        text: str,
        interval: float = KEY_INTERVAL,
        *,
        timeout: float = 30.0,
    ) -> None:
        """Type on a redirected ``HidKeyboard`` (``UsbRedirection.type_text``)."""
        coro = self._usb.type_text(keyboard.handle, text, interval, timeout=timeout)
        self._runner.run(coro)


class SyncPort:
    """A blocking spiceport stream (what ``SyncPorts.open`` returns)."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: PortWriter, runner: _LoopThread
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._runner = runner

    @property
    def name(self) -> str:
        return self._writer.name

    def _read(
        self, coro: Coroutine[Any, Any, bytes], timeout: float, what: str
    ) -> bytes:
        async def bounded() -> bytes:
            try:
                async with asyncio.timeout(timeout):
                    return await coro
            except TimeoutError:
                raise SpiceTimeoutError(
                    f"port {self.name!r}: no {what} within {timeout}s"
                ) from None

        return self._runner.run(bounded())

    def read(self, n: int = -1, *, timeout: float = 10.0) -> bytes:
        """Up to ``n`` bytes (-1: until EOF); b"" at EOF."""
        return self._read(self._reader.read(n), timeout, "data")

    def readline(self, *, timeout: float = 10.0) -> bytes:
        return self._read(self._reader.readline(), timeout, "line")

    def readexactly(self, n: int, *, timeout: float = 10.0) -> bytes:
        """Exactly ``n`` bytes (``asyncio.IncompleteReadError`` at an early EOF)."""
        return self._read(self._reader.readexactly(n), timeout, f"{n} bytes")

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Send ``data`` to the guest; returns once the socket took it (drained)."""

        async def write() -> None:
            self._writer.write(data)
            await self._writer.drain()

        self._runner.run(write())

    def close(self) -> None:
        """Our side closes (PORT_EVENT CLOSED); the port can be opened again."""

        async def close() -> None:
            self._writer.close()

        if self._runner.alive:
            self._runner.run(close())

    def __enter__(self) -> SyncPort:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class SyncPorts:
    """Blocking ``PortControl`` (``SyncSession.ports``); same arguments, errors."""

    def __init__(self, ports: PortControl, runner: _LoopThread) -> None:
        self._ports = ports
        self._runner = runner

    @property
    def names(self) -> list[str]:
        return self._ports.names

    def open(self, name: str, *, timeout: float = 10.0) -> SyncPort:
        """Open the spiceport ``name`` (``PortControl.open``) as a blocking stream."""
        reader, writer = self._runner.run(self._ports.open(name, timeout=timeout))
        return SyncPort(reader, writer, self._runner)

    def wait_guest_open(self, name: str, timeout: float = 10.0) -> None:
        self._runner.run(self._ports.wait_guest_open(name, timeout))


class _LoopThread:
    """An event loop running forever in a daemon thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self.loop.run_forever, name="spicepy-loop", daemon=True
        )
        self._thread.start()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        if not self._thread.is_alive():
            coro.close()
            raise SessionError("the session's event loop has stopped")
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(timeout)
        except TimeoutError:
            if future.done():  # the call's own error (SpiceTimeoutError is one)
                raise
            future.cancel()
            raise SpiceTimeoutError(f"call did not finish within {timeout}s") from None

    def stop(self) -> None:
        if self._thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
        if not self._thread.is_alive():
            self.loop.close()


def connect_sync(
    uri: str | SpiceUri | Target,
    *,
    password: str | None = None,
    ca_file: str | Path | None = None,
    host_subject: str | None = None,
    timeout: float = 10.0,
    verify: bool = True,
    preferred_compression: str | None = None,
    tls: TlsConfig | None = None,
    plain: bool = False,
    proxy: str | None = None,
    username: str | None = None,
    disable_channels: frozenset[int] = frozenset(),
    record: bool = False,
    usbredir: bool = False,
    ports: bool = False,
    limits: Limits | None = None,
) -> SyncSession:
    """Blocking ``connect`` for scripts; same arguments and errors.

    Use as ``with connect_sync(...) as s:`` (or call ``s.close()``).
    """
    runner = _LoopThread()

    async def open_session() -> Session:
        session = _make_session(
            uri,
            password,
            ca_file,
            host_subject,
            timeout,
            verify,
            preferred_compression,
            tls=tls,
            plain=plain,
            proxy=proxy,
            username=username,
            disable_channels=disable_channels,
            record=record,
            usbredir=usbredir,
            ports=ports,
            limits=limits,
        )
        await session.connect()
        return session

    try:
        session = runner.run(open_session())
    except BaseException:
        runner.stop()
        raise
    return SyncSession(session, runner)


async def screenshot(
    uri: str | SpiceUri | Target,
    output: str | Path,
    *,
    password: str | None = None,
    ca_file: str | Path | None = None,
    host_subject: str | None = None,
    timeout: float = 30.0,
    quiet: float = 0.5,
    trigger: asyncio.Future[Any] | None = None,
    on_ready: Callable[[], object] | None = None,
    cursor: bool = False,
    preferred_compression: str | None = None,
    plain: bool = False,
    username: str | None = None,
) -> tuple[int, int]:
    """Connect, wait until the screen settled, save it as PNG; returns (width, height).
    ``cursor=True`` draws the pointer into the picture.

    ``timeout`` is one deadline for connect, the first frame and settling
    together. With ``trigger``, the session stays open until that future is
    done (e.g. a line on stdin; that wait has no deadline), then waits to
    settle again, within a fresh ``timeout``, and saves; ``on_ready`` is called
    once the session is up and waiting for it.

    Raises:
        SpiceError: any connection, link or timeout failure (see ``connect``).
    """
    loop = asyncio.get_running_loop()

    async def settle(deadline: float) -> None:
        try:
            left = max(0.0, deadline - loop.time())
            await session.wait_until_settled(quiet=quiet, timeout=left)
        except SpiceTimeoutError as exc:
            raise SpiceTimeoutError(
                f"no settled screen within the {timeout}s deadline ({exc})"
            ) from None

    deadline = loop.time() + timeout
    async with connect(
        uri,
        password=password,
        ca_file=ca_file,
        host_subject=host_subject,
        timeout=timeout,
        preferred_compression=preferred_compression,
        plain=plain,
        username=username,
    ) as session:
        await settle(deadline)
        if trigger is not None:
            if on_ready is not None:
                on_ready()
            await session.wait_for(trigger.done, None, "the trigger")
            await settle(loop.time() + timeout)
        pixels = session.screenshot(output, cursor=cursor)
    return int(pixels.shape[1]), int(pixels.shape[0])
