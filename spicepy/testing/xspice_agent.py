"""Xspice with a guest agent (spice-vdagentd + spice-vdagent) and an audio FIFO.

Theory of operation (COMPONENTS.md, "Guest agent"): the ``Xspice`` wrapper cannot
enable the agent with a custom config, so the spiceqxl driver options that it
would set are written into our own config instead (``SpiceVdagentEnabled``, the
virtio and uinput paths), then the two agent processes are started against the
virtio socket the driver creates: ``spice-vdagentd -X`` (no logind) and the
session agent ``spice-vdagent`` on the X display.  ``start`` returns once the
agent is attached (``agent_attached``): spice-vdagentd opens the virtio port
only after the session agent connected to it and reported its X resolution,
which spice-vdagent does at the end of a start-up of about 1.5 s (GTK, then
0.9 s waiting for a window manager's name that Xspice never sets), right before
it starts watching the clipboard.  A client linked earlier sees the agent
arrive later (AGENT_CONNECTED), and a clipboard set before then is never
announced to it.  ``SpicePlaybackFIFODir``
names a directory where raw S16LE stereo 48 kHz PCM written into a FIFO comes
out on the playback channel (``audio_fifo``); files a client transfers land in
``files_dir``.  Stopping ends the agents we started (by their pids), then Xorg.
"""

from __future__ import annotations

import dataclasses
import errno
import os
import select
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType

from spicepy.errors import SessionError, SpiceTimeoutError
from spicepy.testing._process import stop_process
from spicepy.testing.xspice import Xspice, XspiceOptions

__all__ = ["AgentXspice", "agent_available", "feed_fifo"]

VDAGENTD = "/usr/sbin/spice-vdagentd"
VDAGENT = "/usr/bin/spice-vdagent"


def agent_available() -> str | None:
    """None when spice-vdagent can run here, else the reason it cannot."""
    for path in (VDAGENTD, VDAGENT):
        if not os.access(path, os.X_OK):
            return f"{path} missing (apt-get install spice-vdagent)"
    return None


def feed_fifo(
    path: Path, data: bytes, stop: threading.Event, timeout: float = 60.0
) -> int:
    """Write ``data`` into the FIFO ``path`` as fast as its reader takes it and
    return how many bytes went in.  Gives up when ``stop`` is set or after
    ``timeout`` seconds: a plain ``open``/``write`` blocks for ever when the
    reader never opens the FIFO or stops reading, and a test's feeder thread
    must end with the test (Xspice reads at the audio's pace, 192 kB a second).
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
            break
        except OSError as exc:
            if exc.errno != errno.ENXIO:  # ENXIO: no reader has it open yet
                raise
        if stop.wait(0.01) or time.monotonic() > deadline:
            return 0
    view = memoryview(data)
    done = 0
    writable = select.poll()
    writable.register(fd, select.POLLOUT)
    try:
        while done < len(view) and not stop.is_set():
            if time.monotonic() > deadline:
                break
            if not writable.poll(50):
                continue  # full: the reader has not taken the last piece yet
            try:
                done += os.write(fd, view[done : done + 65536])
            except BlockingIOError:
                continue
            except BrokenPipeError:  # the reader closed it
                break
    finally:
        os.close(fd)
    return done


_SO_ACCEPTCON = 0x10000  # a listening socket (/proc/net/unix Flags)
_SS_CONNECTED = "03"  # /proc/net/unix St


def _unix_connected(path: Path) -> bool:
    """Some socket accepted on the Unix socket ``path`` is connected (the
    server's end of a connection carries the path; the client's has none)."""
    try:
        lines = Path("/proc/net/unix").read_text().splitlines()[1:]
    except OSError:
        return False
    name = str(path)
    for line in lines:
        # Num RefCount Protocol Flags Type St Inode [Path]
        parts = line.split(maxsplit=7)
        if len(parts) == 8 and parts[7] == name and parts[5] == _SS_CONNECTED:
            if not int(parts[3], 16) & _SO_ACCEPTCON:
                return True
    return False


class AgentXspice:
    """An Xspice server with the guest agent running; a (sync) context manager.

    Args:
        options: server settings (the agent and FIFO driver options are added).
        agent: start spice-vdagentd/spice-vdagent (else only the audio FIFO dir).
        defer_agent: set up the agent's port but start the agent processes only
            at ``start_agent()``: a guest whose agent comes after a client.
        start_timeout: seconds for Xorg, the virtio socket and the agent
            (``start`` waits until the agent is attached).

    Attributes once started: ``server`` (the ``Xspice``), ``uri``, ``display``,
    ``env`` (DISPLAY set), ``audio_dir``.
    """

    def __init__(
        self,
        options: XspiceOptions | None = None,
        *,
        agent: bool = True,
        defer_agent: bool = False,
        start_timeout: float = 30.0,
    ) -> None:
        self.options = options or XspiceOptions()
        self.agent = agent
        self.defer_agent = defer_agent
        self.start_timeout = start_timeout
        self.server: Xspice | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._procs: list[subprocess.Popen[bytes]] = []
        self.dir = Path()

    @property
    def uri(self) -> str:
        assert self.server is not None
        return self.server.uri

    @property
    def display(self) -> str:
        assert self.server is not None
        return self.server.display

    @property
    def env(self) -> dict[str, str]:
        assert self.server is not None
        return self.server.env

    @property
    def audio_dir(self) -> Path:
        return self.dir / "audio"

    @property
    def files_dir(self) -> Path:
        """Where spice-vdagent saves the files a client transfers."""
        return self.dir / "files"

    def start(self) -> AgentXspice:
        if self.agent and (reason := agent_available()) is not None:
            raise SessionError(reason)
        self._tmp = tempfile.TemporaryDirectory(prefix="spicepy-agent-")
        self.dir = Path(self._tmp.name)
        self.audio_dir.mkdir()
        extra = dict(self.options.extra_driver_options)
        extra["SpicePlaybackFIFODir"] = str(self.audio_dir)
        if self.agent:
            extra["SpiceVdagentEnabled"] = "True"
            extra["SpiceVdagentVirtioPath"] = str(self.dir / "virtio.sock")
            extra["SpiceVdagentUinputPath"] = str(self.dir / "uinput")
        options = dataclasses.replace(self.options, extra_driver_options=extra)
        try:
            self.server = Xspice(options, start_timeout=self.start_timeout).start()
            if self.agent and not self.defer_agent:
                self.start_agent()
        except BaseException:
            self.stop()
            raise
        return self

    def start_agent(self) -> None:
        """Start spice-vdagentd and spice-vdagent; returns once attached."""
        if not self.agent or self._procs:
            raise SessionError("no agent to start (agent=False, or started)")
        virtio = self.dir / "virtio.sock"
        self._wait(virtio.exists, "the driver's virtio socket")
        udcs = self.dir / "udcs.sock"
        daemon = [VDAGENTD, "-f", "-x", "-X", "-S", str(udcs), "-s", str(virtio)]
        daemon += ["-u", str(self.dir / "uinput")]
        self._spawn(daemon, "vdagentd.log")
        self._wait(udcs.exists, "spice-vdagentd's socket")
        self.files_dir.mkdir(exist_ok=True)
        session_agent = [VDAGENT, "-x", "-s", str(virtio), "-S", str(udcs)]
        session_agent += ["-f", str(self.files_dir), "-o", "0"]  # file transfers
        self._spawn(session_agent, "vdagent.log")
        self._wait(self.agent_attached, "guest agent on the virtio port")

    def agent_attached(self) -> bool:
        """spice-vdagentd holds the driver's virtio port open (the server sees
        an agent): a connected socket on that path in /proc/net/unix."""
        return _unix_connected(self.dir / "virtio.sock")

    def _spawn(self, args: list[str], log_name: str) -> None:
        with open(self.dir / log_name, "wb") as out:
            self._procs.append(
                subprocess.Popen(
                    args,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    env=self.env,
                    start_new_session=True,
                )
            )

    def _wait(self, ready: object, what: str) -> None:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if callable(ready) and ready():
                return
            for proc in self._procs:
                if proc.poll() is not None:
                    raise SessionError(f"{proc.args!r} exited with {proc.returncode}")
            time.sleep(0.05)
        raise SpiceTimeoutError(f"no {what} within {self.start_timeout}s")

    def log(self, name: str = "vdagent.log") -> str:
        """An agent log (vdagent.log or vdagentd.log), for failure messages."""
        try:
            return (self.dir / name).read_text(errors="replace")
        except OSError:
            return ""

    def audio_fifo(self, name: str = "tone.fifo") -> Path:
        """A FIFO in the playback directory: write S16LE stereo 48 kHz into it
        (``feed_fifo``)."""
        path = self.audio_dir / name
        os.mkfifo(path)
        return path

    def stop(self) -> None:
        for proc in reversed(self._procs):
            stop_process(proc, grace=5.0)
        self._procs.clear()
        if self.server is not None:
            self.server.stop()
            self.server = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> AgentXspice:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
