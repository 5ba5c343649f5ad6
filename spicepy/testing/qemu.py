"""Start a real QEMU guest with a SPICE display for tests and demos.

Theory of operation: ``Qemu`` boots the throw-away guest of ``testing.guest``
(Debian's kernel + a busybox initramfs built at test time and cached) with one
SPICE server carrying every channel QEMU offers: display (``-vga qxl|std|
virtio``), inputs, cursor, playback + record (``-audiodev spice`` and an HDA
codec), the agent port, spiceports, usbredir.  The guest reports on ttyS0 (a
file here: kernel console, ``SPICEPY-READY``, every line typed on its screen)
and takes shell commands on ttyS1 (``run``).  QMP is the host-side truth:
``screendump`` is what QEMU shows.

KVM can be present and still useless (a nested hypervisor that never gets
through the BIOS): with ``accel="auto"`` the first boot tries KVM for
``kvm_timeout`` seconds, then TCG; the verdict is kept for the process.
``SPICEPY_QEMU_ACCEL=tcg|kvm`` forces one.

Live migration: ``Qemu(options).start_incoming(source.accel)`` starts a second
QEMU with the same devices waiting for a guest (``-incoming defer``, then QMP
``migrate-incoming`` on a free port); ``source.migrate_to(target)`` tells
spice-server where its clients go (``client_migrate_info``: the server sends
MIGRATE_BEGIN[_SEAMLESS]), waits for ``migrate``'s completion, and the target
then answers ``run``/``typed_lines``/``screendump`` for the guest.  A small
``memory_mb`` (128) keeps a TCG migration at about a second.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Literal

import numpy as np
import numpy.typing as npt

from spicepy.errors import SessionError, SpiceTimeoutError
from spicepy.testing import guest
from spicepy.testing._process import stop_process
from spicepy.testing.qmp import Qmp
from spicepy.testing.xspice import (
    ImageCompression,
    StreamingVideo,
    TlsFiles,
    WanCompression,
    free_port,
)

log = logging.getLogger(__name__)

__all__ = ["Qemu", "QemuOptions", "SaslUser", "available", "kvm_usable"]

Vga = Literal["qxl", "std", "virtio"]
Accel = Literal["auto", "kvm", "tcg"]
QEMU_BINARY = "qemu-system-x86_64"
#: QEMU's stderr lines that mean another process took our port first
_PORT_RACE = ("Address already in use", "Failed to setup spice")
#: KVM verdict for this process (None: not tried yet)
_kvm_works: bool | None = None


@dataclass(frozen=True, slots=True)
class SaslUser:
    """A user in the guest's sasldb (``-spice sasl=on``), mechanism list for it."""

    username: str
    password: str
    mechanisms: str = "digest-md5 scram-sha-1"


@dataclass(frozen=True, slots=True)
class QemuOptions:
    """Guest and SPICE settings.

    ``password=None`` disables ticketing; ``tls`` adds a TLS port beside the
    plain one; ``framebuffer`` loads the card's DRM driver (a 1024x768 32-bit
    console; for QXL native mode with the guest driver's draw commands)
    instead of VGA text mode.
    """

    vga: Vga = "qxl"
    framebuffer: bool = False
    image_compression: ImageCompression = "auto_glz"
    jpeg_wan_compression: WanCompression = "never"
    zlib_glz_wan_compression: WanCompression = "never"
    streaming_video: StreamingVideo = "off"
    playback_compression: bool = False
    #: off: spice-server migrates its clients semi-seamlessly (MIGRATE_BEGIN)
    seamless_migration: bool = True
    password: str | None = None
    tls: TlsFiles | None = None
    sasl: SaslUser | None = None
    audio: bool = True
    agent: bool = True
    spiceports: tuple[str, ...] = ("org.spicepy.test",)
    usbredir: int = 2
    memory_mb: int = 256
    accel: Accel = "auto"
    kvm_timeout: float = 8.0
    boot_timeout: float = 120.0
    extra_args: tuple[str, ...] = ()
    #: more kernel parameters (e.g. ``fbcon=map:01``: tty2 on a second card)
    kernel_args: tuple[str, ...] = ()


def available() -> str | None:
    """None when a QEMU guest can run here, else the reason it cannot."""
    if shutil.which(QEMU_BINARY) is None:
        return f"{QEMU_BINARY} missing (apt-get install qemu-system-x86)"
    return guest.available()


def kvm_usable() -> bool:
    """/dev/kvm can be opened read-write (not whether it can boot a guest)."""
    return os.access("/dev/kvm", os.R_OK | os.W_OK)


def _sasl_config(workdir: Path, user: SaslUser) -> dict[str, str]:
    """A SASL config dir for QEMU (app name "qemu") with a sasldb holding ``user``."""
    saslpasswd2 = shutil.which("saslpasswd2")
    if saslpasswd2 is None:
        raise SessionError("saslpasswd2 missing (apt-get install sasl2-bin)")
    db = workdir / "sasldb"
    (workdir / "qemu.conf").write_text(
        f"mech_list: {user.mechanisms}\nsasldb_path: {db}\n"
    )
    subprocess.run(
        [saslpasswd2, "-p", "-a", "qemu", "-f", str(db), "-c", user.username],
        input=user.password.encode(),
        check=True,
        capture_output=True,
        timeout=30,
    )
    return {"SASL_CONF_PATH": str(workdir)}


class Qemu:
    """A running QEMU guest; use as a (sync) context manager.

    Attributes once started: ``host``, ``port`` (None with SASL-only setups is
    not supported: there is always a plain port), ``tls_port``, ``workdir``,
    ``accel`` ("kvm" or "tcg"), ``boot_seconds`` (start to the ready marker).

    Raises:
        SessionError: QEMU exited during start-up (its stderr tail is in the message).
        SpiceTimeoutError: the guest did not come up within ``boot_timeout``.
    """

    def __init__(
        self, options: QemuOptions | None = None, *, cache_dir: Path | None = None
    ) -> None:
        self.options = options or QemuOptions()
        self.cache_dir = cache_dir
        self.host = "127.0.0.1"
        self.port = 0
        self.tls_port: int | None = None
        self.accel = ""
        self.boot_seconds = 0.0
        self.workdir: Path | None = None
        self.qmp: Qmp | None = None
        #: where ``migrate`` sends the guest (``start_incoming``)
        self.incoming_uri = ""
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._cmd: socket.socket | None = None
        self._cmd_buf = b""
        self._cmd_id = 0

    # -- where ------------------------------------------------------------------

    @property
    def uri(self) -> str:
        """``spice://`` URI of the plain port (plus ``tls-port`` when TLS is on)."""
        uri = f"spice://{self.host}:{self.port}"
        if self.tls_port is not None:
            uri += f"?tls-port={self.tls_port}"
        return uri

    def _path(self, name: str) -> Path:
        if self.workdir is None:
            raise SessionError("QEMU is not running")
        return self.workdir / name

    @property
    def serial_path(self) -> Path:
        return self._path("ttyS0.log")

    # -- starting ---------------------------------------------------------------

    def spice_option(self) -> str:
        """The ``-spice`` argument for the current ports and options."""
        o = self.options
        parts = [
            f"port={self.port}",
            f"addr={self.host}",
            "ipv4=on",
            f"image-compression={o.image_compression}",
            f"jpeg-wan-compression={o.jpeg_wan_compression}",
            f"zlib-glz-wan-compression={o.zlib_glz_wan_compression}",
            f"streaming-video={o.streaming_video}",
            f"playback-compression={'on' if o.playback_compression else 'off'}",
            f"seamless-migration={'on' if o.seamless_migration else 'off'}",
        ]
        if o.password is None and o.sasl is None:
            parts.append("disable-ticketing=on")
        if o.password is not None:
            parts.append("password-secret=spicepw")
        if o.sasl is not None:
            parts.append("sasl=on")
        if o.tls is not None and self.tls_port is not None:
            parts += [
                f"tls-port={self.tls_port}",
                f"x509-cacert-file={o.tls.ca_cert}",
                f"x509-cert-file={o.tls.server_cert}",
                f"x509-key-file={o.tls.server_key}",
            ]
        return ",".join(parts)

    def command_line(self, image: guest.GuestImage, accel: str) -> list[str]:
        """The full QEMU command line for one boot."""
        o = self.options
        args = [
            QEMU_BINARY,
            "-nodefaults", "-no-user-config", "-no-reboot",
            "-accel", accel,
            "-smp", "1",
            "-m", str(o.memory_mb),
            "-display", "none",
            "-vga", o.vga,
            "-kernel", str(image.kernel),
            "-initrd", str(image.initrd),
            "-append", " ".join(
                ["console=ttyS0 loglevel=4 panic=-1 video=1024x768", *o.kernel_args]
            ),
            "-serial", f"file:{self.serial_path}",
            "-chardev", f"socket,id=cmd,path={self._path('cmd.sock')},"
                        "server=on,wait=off",
            "-serial", "chardev:cmd",
            "-qmp", f"unix:{self._path('qmp.sock')},server=on,wait=off",
            "-spice", self.spice_option(),
        ]  # fmt: skip
        if o.password is not None:
            args += [
                "-object",
                f"secret,id=spicepw,data={o.password.replace(',', ',,')}",
            ]
        if o.audio:
            args += [
                "-audiodev", "spice,id=snd0",
                "-device", "intel-hda",
                "-device", "hda-duplex,audiodev=snd0",
            ]  # fmt: skip
        if o.agent or o.spiceports:
            args += ["-device", "virtio-serial-pci"]
        if o.agent:
            args += [
                "-chardev", "spicevmc,id=vdagent,name=vdagent",
                "-device", "virtserialport,chardev=vdagent,name=com.redhat.spice.0",
            ]  # fmt: skip
        for i, name in enumerate(o.spiceports):
            args += [
                "-chardev", f"spiceport,id=sp{i},name={name}",
                "-device", f"virtserialport,chardev=sp{i},name={name}",
            ]  # fmt: skip
        if o.usbredir:
            args += ["-device", "qemu-xhci,id=xhci"]
        for i in range(o.usbredir):
            args += [
                "-chardev", f"spicevmc,name=usbredir,id=ur{i}",
                "-device", f"usb-redir,chardev=ur{i},bus=xhci.0",
            ]  # fmt: skip
        return args + list(o.extra_args)

    def _accels(self) -> list[str]:
        forced = os.environ.get("SPICEPY_QEMU_ACCEL") or self.options.accel
        if forced in ("kvm", "tcg"):
            return [forced]
        if forced != "auto":
            raise ValueError(f"SPICEPY_QEMU_ACCEL must be kvm or tcg, not {forced!r}")
        if _kvm_works is False or not kvm_usable():
            return ["tcg"]
        return ["kvm", "tcg"] if _kvm_works is None else ["kvm"]

    def _prepare(self, prefix: str) -> tuple[guest.GuestImage, dict[str, str]]:
        """The guest image, a fresh work dir and QEMU's environment."""
        reason = available()
        if reason is not None:
            raise SessionError(f"cannot start QEMU: {reason}")
        image = guest.build_guest(
            self.cache_dir,
            framebuffer=self.options.vga if self.options.framebuffer else None,
        )
        self._tmp = tempfile.TemporaryDirectory(prefix=prefix)
        self.workdir = Path(self._tmp.name)
        env = dict(os.environ)
        if self.options.sasl is not None:
            env.update(_sasl_config(self.workdir, self.options.sasl))
        return image, env

    def start(self) -> Qemu:
        global _kvm_works
        image, env = self._prepare("spicepy-qemu-")
        try:
            accels = self._accels()
            for accel in accels:
                probing = accel == "kvm" and len(accels) > 1
                timeout = (
                    self.options.kvm_timeout if probing else self.options.boot_timeout
                )
                try:
                    self._boot(image, accel, env, timeout)
                except SpiceTimeoutError:
                    if not probing:
                        raise
                    log.warning(
                        "KVM did not boot the guest in %.0fs; using TCG", timeout
                    )
                    _kvm_works = False
                    self._kill()
                    continue
                if accel == "kvm":
                    _kvm_works = True
                self.accel = accel
                log.info("guest up with %s in %.1fs", accel, self.boot_seconds)
                return self
            raise SessionError("no accelerator booted the guest")  # pragma: no cover
        except BaseException:
            self.stop()
            raise

    def _boot(
        self, image: guest.GuestImage, accel: str, env: dict[str, str], timeout: float
    ) -> None:
        for attempt in range(5):
            self.port = free_port()
            self.tls_port = free_port() if self.options.tls is not None else None
            for name in ("ttyS0.log", "qmp.sock", "cmd.sock"):
                self._path(name).unlink(missing_ok=True)
            args = self.command_line(image, accel)
            log.debug("starting %s", " ".join(args))
            start = time.monotonic()
            self._spawn(args, env)
            try:
                self._wait_ready(start, timeout)
                self.boot_seconds = time.monotonic() - start
                return
            except SessionError:
                self._kill()
                if attempt < 4 and any(m in self._stderr() for m in _PORT_RACE):
                    continue
                raise

    def _spawn(self, args: list[str], env: dict[str, str]) -> None:
        with self._path("qemu.log").open("wb") as stderr:
            self._proc = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=stderr,
                stderr=stderr,
                env=env,
                cwd=self.workdir,
                start_new_session=True,
            )

    # -- live migration -------------------------------------------------------------

    def start_incoming(self, accel: str, timeout: float = 30.0) -> Qemu:
        """Start QEMU waiting for a migrated guest (same devices as a booted
        ``Qemu`` with these options; ``accel`` must be the source's).

        Raises:
            SessionError: QEMU exited or refused ``migrate-incoming``.
        """
        image, env = self._prepare("spicepy-qemu-in-")
        try:
            self.port = free_port()
            self.tls_port = free_port() if self.options.tls is not None else None
            self._spawn(self.command_line(image, accel) + ["-incoming", "defer"], env)
            self.qmp = self._wait_qmp(time.monotonic() + timeout)
            self.incoming_uri = f"tcp:{self.host}:{free_port()}"
            self.qmp.command("migrate-incoming", uri=self.incoming_uri)
            self.accel = accel
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_qmp(self, deadline: float) -> Qmp:
        proc = self._proc
        assert proc is not None
        while True:
            if proc.poll() is not None:
                raise SessionError(
                    f"QEMU exited with {proc.returncode} during start:\n"
                    + "\n".join(self._stderr().splitlines()[-15:])
                )
            try:
                return Qmp(self._path("qmp.sock"))
            except (OSError, SessionError):
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.1)

    def client_migrate_info(
        self, target: Qemu, cert_subject: str | None = None
    ) -> None:
        """Tell spice-server where the guest goes: it sends its clients
        MIGRATE_BEGIN[_SEAMLESS] with ``target``'s address."""
        if self.qmp is None:
            raise SessionError("QEMU is not running")
        args: dict[str, object] = {
            "protocol": "spice",
            "hostname": target.host,
            "port": target.port,
        }
        if target.tls_port is not None:
            args["tls-port"] = target.tls_port
        if cert_subject is not None:
            args["cert-subject"] = cert_subject
        self.qmp.command("client_migrate_info", **args)

    def migrate_to(
        self, target: Qemu, *, uri: str | None = None, timeout: float = 120.0
    ) -> dict[str, object]:
        """Live-migrate the guest to ``target`` (``start_incoming``); returns
        QMP's final ``query-migrate``.  Call ``client_migrate_info`` first (and
        let the clients connect to the target) for SPICE clients to follow.

        Raises:
            SessionError: the migration failed (QMP status ``failed``).
            SpiceTimeoutError: not completed within ``timeout`` s.
        """
        if self.qmp is None or target.qmp is None:
            raise SessionError("QEMU is not running")
        self.qmp.command("migrate", uri=uri or target.incoming_uri)
        deadline = time.monotonic() + timeout
        while True:
            status = self.qmp.command("query-migrate")
            state = status.get("status")
            if state == "completed":
                break
            if state in ("failed", "cancelled"):
                raise SessionError(f"migration {state}: {status.get('error-desc')}")
            if time.monotonic() > deadline:
                raise SpiceTimeoutError(f"migration not done in {timeout}s: {status}")
            time.sleep(0.1)
        target._cmd = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        target._cmd.settimeout(30)
        target._cmd.connect(str(target._path("cmd.sock")))
        return dict(status)

    def _stderr(self) -> str:
        try:
            return self._path("qemu.log").read_text(errors="replace")
        except OSError:
            return ""

    def _wait_ready(self, start: float, timeout: float) -> None:
        proc = self._proc
        assert proc is not None
        deadline = start + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise SessionError(
                    f"QEMU exited with {proc.returncode} during start:\n"
                    + "\n".join(self._stderr().splitlines()[-15:])
                )
            if guest.READY_MARKER in self.serial_log():
                self.qmp = Qmp(self._path("qmp.sock"))
                self._cmd = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self._cmd.settimeout(30)
                self._cmd.connect(str(self._path("cmd.sock")))
                return
            time.sleep(0.1)
        raise SpiceTimeoutError(
            f"guest ({self.options.vga}) not ready within {timeout:.0f}s; serial:\n"
            + self.serial_log()[-1000:]
        )

    # -- the guest's back channels --------------------------------------------------

    def serial_log(self) -> str:
        """Everything the guest wrote on ttyS0 so far (CR LF as LF)."""
        try:
            data = self.serial_path.read_bytes()
        except OSError:
            return ""
        return data.decode(errors="replace").replace("\r\n", "\n")

    def typed_lines(self) -> list[str]:
        """Lines typed on the guest's screen (tty1), oldest first."""
        prefix = guest.TYPED_PREFIX
        return [
            line[len(prefix) :]
            for line in self.serial_log().split("\n")
            if line.startswith(prefix)
        ]

    def wait_for_typed(self, count: int, timeout: float = 30.0) -> list[str]:
        """Wait until ``count`` lines have been typed; return all typed lines.

        Raises:
            SpiceTimeoutError: fewer lines arrived in time.
        """
        deadline = time.monotonic() + timeout
        while True:
            lines = self.typed_lines()
            if len(lines) >= count:
                return lines
            if time.monotonic() > deadline:
                raise SpiceTimeoutError(
                    f"{len(lines)} of {count} typed lines arrived: {lines!r}"
                )
            time.sleep(0.05)

    def run(self, command: str, timeout: float = 30.0) -> tuple[int, str]:
        """Run a shell command in the guest (on ttyS1); (exit status, output).

        Raises:
            SpiceTimeoutError: no answer within ``timeout``.
            SessionError: the guest closed its command port.
        """
        if self._cmd is None:
            raise SessionError("QEMU is not running")
        if "\n" in command:
            raise ValueError("one line per command")
        self._cmd_id += 1
        marker = f"@@DONE {self._cmd_id} ".encode()
        self._cmd.sendall(f"{self._cmd_id} {command}\n".encode())
        deadline = time.monotonic() + timeout
        while True:
            pos = self._cmd_buf.find(marker)
            end = self._cmd_buf.find(b"\n", pos) if pos >= 0 else -1
            if end >= 0:
                output = self._cmd_buf[:pos].decode(errors="replace")
                status = int(self._cmd_buf[pos + len(marker) : end])
                self._cmd_buf = self._cmd_buf[end + 1 :]
                return status, output
            left = deadline - time.monotonic()
            if left <= 0:
                raise SpiceTimeoutError(f"guest command {command!r} did not finish")
            self._cmd.settimeout(left)
            try:
                chunk = self._cmd.recv(65536)
            except TimeoutError:
                continue
            if not chunk:
                raise SessionError("the guest closed its command port")
            self._cmd_buf += chunk

    def screendump(
        self, device: str | None = None, head: int | None = None
    ) -> npt.NDArray[np.uint8]:
        """QEMU's own view of the screen (QMP ``screendump``), (h, w, 3) RGB;
        ``device`` (a ``-device ...,id=`` of a second card) and ``head`` pick
        another console than the primary one."""
        if self.qmp is None:
            raise SessionError("QEMU is not running")
        return self.qmp.screendump(self._path("screendump.ppm"), device, head)

    # -- stopping -----------------------------------------------------------------

    def _kill(self) -> None:
        for closer in (self.qmp, self._cmd):
            if closer is not None:
                closer.close()
        self.qmp, self._cmd, self._cmd_buf = None, None, b""
        proc, self._proc = self._proc, None
        stop_process(proc)

    def stop(self) -> None:
        """SIGTERM QEMU (SIGKILL after 10 s) and remove the temp dir."""
        self._kill()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
            self.workdir = None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def check(self) -> None:
        """Raise if QEMU has exited since it started (with its exit status and
        the tail of its stderr, where spice-server prints its assertions).

        Raises:
            SessionError: QEMU is gone.
        """
        proc = self._proc
        if proc is None or proc.poll() is None:
            return
        tail = "\n".join(self._stderr().splitlines()[-15:])
        raise SessionError(f"QEMU exited with {proc.returncode}:\n{tail}")

    def __enter__(self) -> Qemu:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
