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
from collections.abc import Callable, Coroutine, Generator
from concurrent.futures import Future
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from spicepy.errors import SessionError, SpiceTimeoutError
from spicepy.session.session import ChangedRect, Session
from spicepy.session.transport import TlsConfig
from spicepy.session.uri import SpiceUri, parse_uri

__all__ = ["connect", "connect_sync", "screenshot", "Session", "SyncSession"]

T = TypeVar("T")


def _make_session(
    uri: str | SpiceUri,
    password: str | None,
    ca_file: str | Path | None,
    host_subject: str | None,
    timeout: float,
    verify: bool,
    preferred_compression: str | None = None,
) -> Session:
    parsed = parse_uri(uri) if isinstance(uri, str) else uri
    tls = TlsConfig(
        ca_file=str(ca_file) if ca_file is not None else None,
        host_subject=host_subject,
        verify=verify,
    )
    return Session(
        parsed,
        password=password,
        tls=tls,
        timeout=timeout,
        preferred_compression=preferred_compression,
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
    uri: str | SpiceUri,
    *,
    password: str | None = None,
    ca_file: str | Path | None = None,
    host_subject: str | None = None,
    timeout: float = 10.0,
    verify: bool = True,
    preferred_compression: str | None = None,
) -> _Connector:
    """Connect to a SPICE server and link every channel it offers.

    Use as ``async with connect(...) as session`` or ``session = await connect(...)``
    (then ``await session.close()``).

    Args:
        uri: ``spice://host:port``, ``spice://host?port=..&tls-port=..``,
            ``spice+tls://host:port`` or ``spice+unix:///path``.
        password: the SPICE ticket (overrides ``password=`` in the URI).
        ca_file: PEM CA certificate(s) that signed the server's TLS certificate.
        host_subject: expected certificate subject, e.g. "C=XX,L=city,O=org,CN=name";
            without it the host name is checked against the certificate.
        timeout: seconds allowed for connecting and linking each channel.
        verify: False disables TLS verification (debugging only).
        preferred_compression: image compression to ask the server for, e.g.
            "lz4" or "lz" (only if the server supports PREFERRED_COMPRESSION).

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
    )


class SyncSession:
    """A blocking facade over ``Session``; its event loop runs in a helper thread."""

    def __init__(self, session: Session, runner: _LoopThread) -> None:
        self.session = session
        self._runner = runner

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

    def type_text(self, text: str, delay: float = 0.0) -> None:
        self._run(self.session.type_text(text, delay))

    def key_press(self, key: str | int, *, modifiers: tuple[str, ...] = ()) -> None:
        self._run(self.session.key_press(key, modifiers=modifiers))

    def mouse_move(self, x: int, y: int) -> None:
        self._run(self.session.mouse_move(x, y))

    def click(self, x: int, y: int, button: int = 1) -> None:
        self._run(self.session.click(x, y, button))

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


class _LoopThread:
    """An event loop running forever in a daemon thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self.loop.run_forever, name="spicepy-loop", daemon=True
        )
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        if not self._thread.is_alive():
            coro.close()
            raise SessionError("the session's event loop has stopped")
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(timeout)
        except TimeoutError:
            future.cancel()
            raise SpiceTimeoutError(f"call did not finish within {timeout}s") from None

    def stop(self) -> None:
        if self._thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
        if not self._thread.is_alive():
            self.loop.close()


def connect_sync(
    uri: str | SpiceUri,
    *,
    password: str | None = None,
    ca_file: str | Path | None = None,
    host_subject: str | None = None,
    timeout: float = 10.0,
    verify: bool = True,
    preferred_compression: str | None = None,
) -> SyncSession:
    """Blocking ``connect`` for scripts; same arguments and errors.

    Use as ``with connect_sync(...) as s:`` (or call ``s.close()``).
    """
    runner = _LoopThread()

    async def open_session() -> Session:
        session = _make_session(
            uri, password, ca_file, host_subject, timeout, verify, preferred_compression
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
    uri: str | SpiceUri,
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
) -> tuple[int, int]:
    """Connect, wait until the screen settled, save it as PNG; returns (width, height).
    ``cursor=True`` draws the pointer into the picture.

    With ``trigger``, the session stays open until that future is done (e.g. a
    line on stdin), then waits to settle again and saves; ``on_ready`` is called
    once the session is up and waiting for it.

    Raises:
        SpiceError: any connection, link or timeout failure (see ``connect``).
    """
    async with connect(
        uri,
        password=password,
        ca_file=ca_file,
        host_subject=host_subject,
        timeout=timeout,
    ) as session:
        await session.wait_until_settled(quiet=quiet, timeout=timeout)
        if trigger is not None:
            if on_ready is not None:
                on_ready()
            await session.wait_for(trigger.done, None, "the trigger")
            await session.wait_until_settled(quiet=quiet, timeout=timeout)
        pixels = session.screenshot(output, cursor=cursor)
    return int(pixels.shape[1]), int(pixels.shape[0])
