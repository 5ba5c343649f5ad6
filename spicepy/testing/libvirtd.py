"""A libvirt daemon and a throw-away SPICE domain for tests (root, no systemd).

``Libvirtd`` makes sure ``virtlogd`` and ``libvirtd`` run (``-d``, as they
work here without systemd) and stops only the daemons it started, by the pid
files they write.  ``LibvirtDomain`` starts a transient domain (TCG: ``type=
'qemu'``) with the guest of ``testing.guest`` and ``<graphics type='spice'>``,
waits for the guest's ready marker on its serial log, and destroys it.  The
kernel and initramfs are copied to a world-readable temp dir because libvirt
runs QEMU as another user.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from types import TracebackType
from xml.sax.saxutils import quoteattr

from spicepy.errors import SessionError, SpiceTimeoutError
from spicepy.testing import guest

__all__ = ["Libvirtd", "LibvirtDomain", "available"]

SYSTEM = "qemu:///system"
_DAEMONS = (("virtlogd", "/run/virtlogd.pid"), ("libvirtd", "/run/libvirtd.pid"))


def available() -> str | None:
    """None when a libvirt domain can be started here, else the reason."""
    if os.geteuid() != 0:
        return "libvirtd needs root here"
    for tool in ("libvirtd", "virtlogd", "virsh"):
        if shutil.which(tool) is None:
            return f"{tool} missing (apt-get install libvirt-daemon-system)"
    try:
        import libvirt  # type: ignore[import-untyped, import-not-found, unused-ignore]  # noqa: F401
    except ImportError:
        return "libvirt-python missing (pip install spicepy[libvirt])"
    return guest.available()


def _virsh(*args: str, timeout: float = 60) -> str:
    done = subprocess.run(
        ["virsh", "-c", SYSTEM, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    if done.returncode != 0:
        raise SessionError(f"virsh {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


def _alive(pidfile: str) -> int | None:
    try:
        pid = int(Path(pidfile).read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


class Libvirtd:
    """virtlogd + libvirtd running for the duration (started if needed)."""

    def __init__(self, start_timeout: float = 30.0) -> None:
        self.start_timeout = start_timeout
        self._started: list[str] = []

    def start(self) -> Libvirtd:
        for name, pidfile in _DAEMONS:
            if _alive(pidfile) is None:
                subprocess.run([name, "-d"], check=True, timeout=30)
                self._started.append(pidfile)
        deadline = time.monotonic() + self.start_timeout
        while True:
            try:
                _virsh("version", timeout=10)
                return self
            except (SessionError, subprocess.TimeoutExpired):
                if time.monotonic() > deadline:
                    self.stop()
                    raise SpiceTimeoutError("libvirtd did not answer in time") from None
                time.sleep(0.2)

    def stop(self) -> None:
        """Stop the daemons this object started (libvirtd first)."""
        for pidfile in reversed(self._started):
            pid = _alive(pidfile)
            if pid is None:
                continue
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 15
            while _alive(pidfile) == pid and time.monotonic() < deadline:
                time.sleep(0.1)
        self._started.clear()

    def __enter__(self) -> Libvirtd:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class LibvirtDomain:
    """A transient SPICE domain; ``name``, ``serial_path`` once started.

    Raises (start): SessionError when libvirt refuses the domain,
    SpiceTimeoutError when the guest does not come up in ``boot_timeout``.
    """

    def __init__(
        self,
        *,
        password: str | None = None,
        vga: str = "qxl",
        boot_timeout: float = 120.0,
        cache_dir: Path | None = None,
    ) -> None:
        self.password = password
        self.vga = vga
        self.boot_timeout = boot_timeout
        self.cache_dir = cache_dir
        self.name = f"spicepy-test-{uuid.uuid4().hex[:8]}"
        self.boot_seconds = 0.0
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self.workdir: Path | None = None
        self._defined = False

    @property
    def serial_path(self) -> Path:
        if self.workdir is None:
            raise SessionError("domain not started")
        return self.workdir / "ttyS0.log"

    def domain_xml(self, kernel: Path, initrd: Path) -> str:
        passwd = f" passwd={quoteattr(self.password)}" if self.password else ""
        return f"""<domain type='qemu'>
  <name>{self.name}</name>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>{kernel}</kernel>
    <initrd>{initrd}</initrd>
    <cmdline>console=ttyS0 loglevel=4 panic=-1</cmdline>
  </os>
  <on_reboot>destroy</on_reboot>
  <devices>
    <emulator>{shutil.which("qemu-system-x86_64")}</emulator>
    <graphics type='spice' autoport='yes'{passwd}>
      <listen type='address' address='127.0.0.1'/>
      <image compression='auto_glz'/>
    </graphics>
    <video><model type={quoteattr(self.vga)}/></video>
    <serial type='file'>
      <source path='{self.serial_path}'/>
      <target port='0'/>
    </serial>
    <memballoon model='none'/>
  </devices>
</domain>
"""

    def start(self) -> LibvirtDomain:
        image = guest.build_guest(self.cache_dir)
        self._tmp = tempfile.TemporaryDirectory(prefix="spicepy-libvirt-")
        self.workdir = Path(self._tmp.name)
        self.workdir.chmod(0o755)
        kernel, initrd = self.workdir / "vmlinuz", self.workdir / "initrd.cpio"
        shutil.copyfile(image.kernel, kernel)
        shutil.copyfile(image.initrd, initrd)
        for path in (kernel, initrd):
            path.chmod(0o644)
        xml = self.workdir / "domain.xml"
        xml.write_text(self.domain_xml(kernel, initrd))
        start = time.monotonic()
        try:
            _virsh("create", str(xml))
            self._defined = True
            while guest.READY_MARKER not in self.serial_log():
                if time.monotonic() - start > self.boot_timeout:
                    raise SpiceTimeoutError(
                        f"domain {self.name} not ready in {self.boot_timeout:.0f}s"
                    )
                time.sleep(0.2)
        except BaseException:
            self.stop()
            raise
        self.boot_seconds = time.monotonic() - start
        return self

    def serial_log(self) -> str:
        try:
            return self.serial_path.read_bytes().decode(errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        if self._defined:
            self._defined = False
            try:
                _virsh("destroy", self.name)
            except SessionError:
                pass  # already gone
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
            self.workdir = None

    def __enter__(self) -> LibvirtDomain:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
