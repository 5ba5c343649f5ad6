"""Start a real Xspice (Xorg + spiceqxl driver + spice-server) for tests and demos.

Theory of operation: the ``Xspice`` wrapper script only turns its options into
``XSPICE_*`` environment variables and then spawns ``Xorg``; it sleeps 2 s and
hangs on SIGTERM.  We skip it and run ``Xorg`` ourselves with a generated config
that spells out every driver option (the Debian build applies no defaults: the
stock config crashes with a 0 KB framebuffer).  Readiness is the server's LISTEN
socket in /proc/net/tcp, and stopping is SIGTERM to the Xorg process we own.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Literal

from spicepy.errors import SessionError, SpiceTimeoutError
from spicepy.testing._process import stop_process

log = logging.getLogger(__name__)

ImageCompression = Literal["off", "quic", "lz", "glz", "auto_lz", "auto_glz"]
WanCompression = Literal["auto", "never", "always"]
StreamingVideo = Literal["off", "all", "filter"]

#: Xorg log lines that mean another process grabbed our display or port first.
_RACE_MARKERS = (
    "already active",
    "failed to initialize server",
    "Address already in use",
)
XORG_CANDIDATES = ("/usr/lib/xorg/Xorg", "/usr/bin/Xorg")
DRIVER = "/usr/lib/xorg/modules/drivers/spiceqxl_drv.so"


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """PEM files for the server side of TLS (see ``spicepy.testing.pki``)."""

    ca_cert: Path
    server_cert: Path
    server_key: Path


@dataclass(frozen=True, slots=True)
class XspiceOptions:
    """Server settings; the defaults give a lossless, non-streaming server.

    ``password=None`` means ``SpiceDisableTicketing``.  ``tls`` adds a TLS port
    next to the plain port (spice-server allows every channel on both).
    """

    image_compression: ImageCompression = "off"
    jpeg_wan_compression: WanCompression = "never"
    zlib_glz_wan_compression: WanCompression = "never"
    streaming_video: StreamingVideo = "off"
    password: str | None = None
    tls: TlsFiles | None = None
    width: int = 1024
    height: int = 768
    deferred_fps: int = 0
    extra_driver_options: dict[str, str] = field(default_factory=dict)


def available() -> str | None:
    """Return None when Xspice can run here, else the reason it cannot."""
    if not os.path.exists(DRIVER):
        return "spiceqxl_drv.so missing (apt-get install xserver-xspice)"
    if _xorg_binary() is None:
        return "Xorg missing"
    return None


def _xorg_binary() -> str | None:
    for path in XORG_CANDIDATES:
        if os.access(path, os.X_OK):
            return path
    return shutil.which("Xorg")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_display(start: int = 40, stop: int = 400) -> int:
    """A display number with neither a lock file nor a socket."""
    for num in range(start, stop):
        if os.path.exists(f"/tmp/.X{num}-lock"):
            continue
        if os.path.exists(f"/tmp/.X11-unix/X{num}"):
            continue
        return num
    raise SessionError("no free X display number")


def listening_sockets() -> dict[int, set[int]]:
    """LISTEN sockets on IPv4/IPv6: port -> socket inodes (from /proc/net/tcp*)."""
    found: dict[int, set[int]] = {}
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(name).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if len(parts) > 9 and parts[3] == "0A":  # TCP_LISTEN
                port = int(parts[1].rsplit(":", 1)[1], 16)
                found.setdefault(port, set()).add(int(parts[9]))
    return found


def listening_ports() -> set[int]:
    """Ports in LISTEN state on IPv4/IPv6."""
    return set(listening_sockets())


def _socket_inodes(pid: int) -> set[int]:
    """Inodes of the sockets process ``pid`` holds open."""
    inodes: set[int] = set()
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return inodes
    for fd in fds:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[8:-1]))
    return inodes


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_config(options: XspiceOptions, port: int, tls_port: int | None) -> str:
    """The xorg.conf text for one server (every driver option spelled out)."""
    opts: dict[str, str] = {
        "NumHeads": "1",
        "FrameBufferSize": "16",
        "CommandBufferSize": "128",
        "SurfaceBufferSize": "128",
        "EnableImageCache": "True",
        "EnableFallbackCache": "True",
        "EnableSurfaces": "True",
        "SpiceAddr": "127.0.0.1",
        "SpicePort": str(port),
        "SpiceIPV4Only": "True",
        "SpiceImageCompression": options.image_compression,
        "SpiceJpegWanCompression": options.jpeg_wan_compression,
        "SpiceZlibGlzWanCompression": options.zlib_glz_wan_compression,
        "SpiceStreamingVideo": options.streaming_video,
        "SpiceDeferredFPS": str(options.deferred_fps),
        "SpicePlaybackCompression": "True",
        "SpiceAgentMouse": "False",
        "SpiceVdagentEnabled": "False",
        "SpiceExitOnDisconnect": "False",
    }
    if options.password is None:
        opts["SpiceDisableTicketing"] = "True"
    else:
        opts["SpiceDisableTicketing"] = "False"
        opts["SpicePassword"] = options.password
    if options.tls is not None and tls_port is not None:
        opts["SpiceTlsPort"] = str(tls_port)
        opts["SpiceCacertFile"] = str(options.tls.ca_cert)
        opts["SpiceX509CertFile"] = str(options.tls.server_cert)
        opts["SpiceX509KeyFile"] = str(options.tls.server_key)
    else:
        opts["SpiceTlsPort"] = "0"
    opts.update(options.extra_driver_options)
    device = "\n".join(f"    Option {_quote(k)} {_quote(v)}" for k, v in opts.items())
    mode = f"{options.width}x{options.height}"
    return f"""Section "ServerFlags"
    Option "AutoAddDevices" "False"
    Option "AutoEnableDevices" "False"
    Option "DontVTSwitch" "True"
EndSection

Section "Device"
    Identifier "XSPICE"
    Driver "spiceqxl"
{device}
EndSection

Section "InputDevice"
    Identifier "XSPICE POINTER"
    Driver "xspice pointer"
EndSection

Section "InputDevice"
    Identifier "XSPICE KEYBOARD"
    Driver "xspice keyboard"
EndSection

Section "Monitor"
    Identifier "Configured Monitor"
EndSection

Section "Screen"
    Identifier "XSPICE Screen"
    Monitor "Configured Monitor"
    Device "XSPICE"
    DefaultDepth 24
    SubSection "Display"
        Depth 24
        Modes "{mode}"
        Virtual {options.width} {options.height}
    EndSubSection
EndSection

Section "ServerLayout"
    Identifier "XSPICE Layout"
    Screen "XSPICE Screen"
    InputDevice "XSPICE KEYBOARD" "CoreKeyboard"
    InputDevice "XSPICE POINTER" "CorePointer"
EndSection
"""


class Xspice:
    """A running Xspice server; use as a (sync) context manager.

    Attributes set once started: ``port``, ``tls_port`` (or None), ``display``
    (e.g. ``":41"``), ``host`` ("127.0.0.1"), ``workdir``.

    Raises:
        SessionError: Xorg exited during start-up (its log tail is in the message).
        SpiceTimeoutError: the SPICE port did not start listening in time.
    """

    def __init__(
        self, options: XspiceOptions | None = None, *, start_timeout: float = 30.0
    ) -> None:
        self.options = options or XspiceOptions()
        self.start_timeout = start_timeout
        self.host = "127.0.0.1"
        self.port = 0
        self.tls_port: int | None = None
        self.display_number = 0
        self.workdir: Path | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def display(self) -> str:
        return f":{self.display_number}"

    @property
    def uri(self) -> str:
        """``spice://`` URI of the plain port (plus ``tls-port`` when TLS is on)."""
        uri = f"spice://{self.host}:{self.port}"
        if self.tls_port is not None:
            uri += f"?tls-port={self.tls_port}"
        return uri

    @property
    def env(self) -> dict[str, str]:
        """os.environ with DISPLAY pointing at this server (for xdotool, xterm...)."""
        env = dict(os.environ)
        env["DISPLAY"] = self.display
        env.pop("XAUTHORITY", None)
        return env

    @property
    def log_path(self) -> Path:
        assert self.workdir is not None
        return self.workdir / "xorg.log"

    def start(self) -> Xspice:
        reason = available()
        if reason is not None:
            raise SessionError(f"cannot start Xspice: {reason}")
        xorg = _xorg_binary()
        assert xorg is not None
        self._tmp = tempfile.TemporaryDirectory(prefix="spicepy-xspice-")
        self.workdir = Path(self._tmp.name)
        (self.workdir / "conf.d").mkdir()
        for attempt in range(5):
            self.port = free_port()
            self.tls_port = free_port() if self.options.tls is not None else None
            self.display_number = free_display()
            conf = self.workdir / "xorg.conf"
            conf.write_text(render_config(self.options, self.port, self.tls_port))
            args = [
                xorg,
                self.display,
                "-config", str(conf),
                "-configdir", str(self.workdir / "conf.d"),
                "-logfile", str(self.log_path),
                "-noreset",
                "-nolisten", "tcp",
                "-novtswitch",
                "-sharevts",
            ]  # fmt: skip
            env = {k: v for k, v in os.environ.items() if not k.startswith("XSPICE_")}
            log.debug("starting %s", " ".join(args))
            self._proc = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=env,
                cwd=self.workdir,
                start_new_session=True,
            )
            try:
                self._wait_ready()
                return self
            except SessionError:
                self._kill()
                full_log = self._log_tail(lines=100_000)
                if attempt < 4 and any(m in full_log for m in _RACE_MARKERS):
                    continue  # lost a race for the display number or a port
                self._cleanup_dir()
                raise
        raise SessionError("could not start Xspice")  # pragma: no cover

    def _log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(text[-lines:])

    def _wait_ready(self) -> None:
        assert self._proc is not None
        want = {self.port} | ({self.tls_port} if self.tls_port else set())
        sock = Path(f"/tmp/.X11-unix/X{self.display_number}")
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                tail = self._log_tail()
                raise SessionError(
                    f"Xorg exited with {self._proc.returncode} during start:\n{tail}"
                )
            # the LISTEN sockets must be Xorg's own (not some other process that
            # grabbed the port we picked), and the X socket must be up
            listening = listening_sockets()
            if sock.exists() and all(listening.get(p) for p in want):
                mine = _socket_inodes(self._proc.pid)
                if all(listening[p] & mine for p in want):
                    return
            time.sleep(0.05)
        raise SpiceTimeoutError(
            f"Xspice did not listen on {sorted(want)} within {self.start_timeout}s"
        )

    def _kill(self) -> None:
        proc, self._proc = self._proc, None
        stop_process(proc)

    def _cleanup_dir(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def stop(self) -> None:
        """SIGTERM Xorg (SIGKILL after 10 s) and remove the temp dir."""
        self._kill()
        self._cleanup_dir()

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def __enter__(self) -> Xspice:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
