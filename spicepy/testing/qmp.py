"""A small blocking QMP client (QEMU's JSON monitor) for test servers.

QMP is one JSON object per line: a greeting, then ``qmp_capabilities``, then
commands answered with ``{"return": ...}`` or ``{"error": ...}``; asynchronous
``{"event": ...}`` lines can come in between and are kept in ``events``.
"""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import numpy.typing as npt

from spicepy.errors import SessionError, SpiceTimeoutError

__all__ = ["Qmp", "QmpError", "read_ppm"]

#: a screendump of a 4K screen is ~25 MB; anything bigger is not a screendump
MAX_PPM_BYTES = 64 << 20


class QmpError(SessionError):
    """QEMU answered a command with an error."""


class Qmp:
    """One QMP connection; ``command(name, **args)`` returns the ``return`` value.

    Raises (from every method): SpiceTimeoutError when QEMU does not answer in
    ``timeout`` seconds, SessionError when the socket closes.
    """

    def __init__(self, path: Path, *, timeout: float = 30.0) -> None:
        self.path = path
        self.timeout = timeout
        self.events: list[dict[str, Any]] = []
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.settimeout(timeout)
        self._buf = b""
        try:
            self._sock.connect(str(path))
            greeting = self._read()
            if "QMP" not in greeting:
                raise SessionError(f"not a QMP greeting: {greeting!r}")
            self.command("qmp_capabilities")
        except BaseException:
            self._sock.close()
            raise

    def _read(self) -> dict[str, Any]:
        while b"\n" not in self._buf:
            try:
                chunk = self._sock.recv(65536)
            except TimeoutError:
                raise SpiceTimeoutError(f"QMP {self.path}: no answer") from None
            except OSError as exc:
                raise SessionError(f"QMP {self.path}: {exc}") from exc
            if not chunk:
                raise SessionError(f"QMP {self.path}: QEMU closed the monitor")
            self._buf += chunk
        line, _, self._buf = self._buf.partition(b"\n")
        try:
            value = json.loads(line)
        except ValueError as exc:
            raise SessionError(f"QMP {self.path}: not JSON: {line[:80]!r}") from exc
        if not isinstance(value, dict):
            raise SessionError(f"QMP {self.path}: unexpected {value!r}")
        return value

    def command(self, name: str, **arguments: Any) -> Any:
        """Run one command; returns its ``return`` value.

        Raises:
            QmpError: QEMU answered with an error (its class and description).
        """
        msg: dict[str, Any] = {"execute": name}
        if arguments:
            msg["arguments"] = arguments
        try:
            self._sock.sendall(json.dumps(msg).encode() + b"\n")
        except OSError as exc:
            raise SessionError(f"QMP {self.path}: QEMU closed the monitor") from exc
        while True:
            reply = self._read()
            if "event" in reply:
                self.events.append(reply)
                continue
            if "error" in reply:
                err = reply["error"]
                raise QmpError(f"QMP {name}: {err.get('class')}: {err.get('desc')}")
            return reply.get("return")

    def hmp(self, command_line: str) -> str:
        """A human-monitor command (``info registers``...); its text output."""
        return str(
            self.command("human-monitor-command", **{"command-line": command_line})
        )

    def screendump(
        self, path: Path, device: str | None = None, head: int | None = None
    ) -> npt.NDArray[np.uint8]:
        """QEMU's view of a console as (h, w, 3) uint8 RGB: the primary one, or
        ``head`` of the display device whose QOM id is ``device``."""
        path.unlink(missing_ok=True)
        where: dict[str, object] = {}
        if device is not None:
            where["device"] = device
        if head is not None:
            where["head"] = head
        self.command("screendump", filename=str(path), **where)
        # QEMU writes the file from its main loop, possibly after answering
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                return read_ppm(path.read_bytes())
            except (OSError, ValueError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> Qmp:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def read_ppm(data: bytes) -> npt.NDArray[np.uint8]:
    """Decode a binary PPM (P6, maxval 255) into (h, w, 3) uint8 RGB.

    Raises:
        ValueError: not such a PPM, or truncated.
    """
    if len(data) > MAX_PPM_BYTES:
        raise ValueError("PPM larger than any screendump")
    fields: list[bytes] = []
    pos = 0
    while len(fields) < 4:
        while pos < len(data) and data[pos : pos + 1].isspace():
            pos += 1
        if data[pos : pos + 1] == b"#":
            end = data.find(b"\n", pos)
            pos = len(data) if end < 0 else end + 1
            continue
        start = pos
        while pos < len(data) and not data[pos : pos + 1].isspace():
            pos += 1
        if start == pos:
            raise ValueError("truncated PPM header")
        fields.append(data[start:pos])
    magic, width_s, height_s, maxval_s = fields
    if magic != b"P6" or maxval_s != b"255":
        raise ValueError(f"not an 8-bit P6 PPM: {magic!r} maxval {maxval_s!r}")
    try:
        width, height = int(width_s), int(height_s)
    except ValueError:
        raise ValueError("bad PPM size") from None
    pos += 1  # the single whitespace byte after maxval
    size = width * height * 3
    if width <= 0 or height <= 0 or len(data) - pos < size:
        raise ValueError(f"PPM {width}x{height}: {len(data) - pos} pixel bytes")
    pixels = np.frombuffer(data, np.uint8, size, pos)
    return pixels.reshape(height, width, 3).copy()
