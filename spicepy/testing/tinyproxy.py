"""A real HTTP CONNECT proxy (Debian's tinyproxy) on loopback, for proxy tests.

The generated config listens on 127.0.0.1 only, allows only 127.0.0.1 and has
no ``ConnectPort`` line (so CONNECT may reach any port); ``auth`` adds
``BasicAuth``.  Its log (level Info) names every CONNECT target, which is how a
test sees that traffic really went through the proxy.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from spicepy.errors import SessionError, SpiceTimeoutError
from spicepy.testing._process import stop_process
from spicepy.testing.xspice import free_port, listening_ports

__all__ = ["Tinyproxy", "available"]


def available() -> str | None:
    """None when tinyproxy can run here, else the reason it cannot."""
    if shutil.which("tinyproxy") is None:
        return "tinyproxy missing (apt-get install tinyproxy)"
    return None


class Tinyproxy:
    """A running tinyproxy; ``url`` is its ``http://[user:pw@]127.0.0.1:PORT``.

    Raises (start): SessionError when it exits, SpiceTimeoutError when it does
    not listen within ``start_timeout``.
    """

    def __init__(
        self, *, auth: tuple[str, str] | None = None, start_timeout: float = 15.0
    ) -> None:
        self.auth = auth
        self.start_timeout = start_timeout
        self.port = 0
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self.workdir: Path | None = None

    @property
    def url(self) -> str:
        cred = f"{self.auth[0]}:{self.auth[1]}@" if self.auth else ""
        return f"http://{cred}127.0.0.1:{self.port}"

    def log(self) -> str:
        """tinyproxy's log so far."""
        if self.workdir is None:
            return ""
        try:
            return (self.workdir / "tinyproxy.log").read_text(errors="replace")
        except OSError:
            return ""

    def start(self) -> Tinyproxy:
        reason = available()
        if reason is not None:
            raise SessionError(f"cannot start tinyproxy: {reason}")
        self._tmp = tempfile.TemporaryDirectory(prefix="spicepy-tinyproxy-")
        self.workdir = Path(self._tmp.name)
        self.port = free_port()
        lines = [
            f"Port {self.port}",
            "Listen 127.0.0.1",
            "Timeout 60",
            "MaxClients 20",
            "Allow 127.0.0.1",
            f'LogFile "{self.workdir / "tinyproxy.log"}"',
            "LogLevel Info",
        ]
        if self.auth is not None:
            lines.append(f"BasicAuth {self.auth[0]} {self.auth[1]}")
        conf = self.workdir / "tinyproxy.conf"
        conf.write_text("\n".join(lines) + "\n")
        self._proc = subprocess.Popen(
            ["tinyproxy", "-d", "-c", str(conf)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + self.start_timeout
        while self.port not in listening_ports():
            if self._proc.poll() is not None:
                log = self.log()[-800:]
                self.stop()
                raise SessionError(f"tinyproxy exited during start:\n{log}")
            if time.monotonic() > deadline:
                self.stop()
                raise SpiceTimeoutError("tinyproxy did not listen in time")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        stop_process(proc)
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
            self.workdir = None

    def __enter__(self) -> Tinyproxy:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
