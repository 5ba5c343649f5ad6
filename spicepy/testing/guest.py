"""A throw-away Linux guest for QEMU tests: Debian's kernel plus a busybox initramfs.

Theory of operation: the initramfs is written here (newc cpio, no external
tool) from the static busybox, the kernel modules the guest needs (resolved
with their dependencies from ``modules.dep``, in load order) and ``/init``, a
shell script that sets up three back channels:

- tty1 (the SPICE screen) runs a line reader; each line typed there is echoed
  on screen by the tty and logged as ``typed:<line>`` on ttyS0;
- ttyS0 goes to a file on the host (the kernel console, the ready marker
  ``SPICEPY-READY``, the typed lines): ground truth a test can read;
- ttyS1 is a command shell for the host (``Qemu.run``): one command per line,
  its output, then ``@@DONE <id> <status>``.

The image is cached under ``cache_dir`` by a key over every input (kernel,
modules, busybox, the script, the scene), so a test run builds it once.
"""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "GUEST_MODULES",
    "GuestImage",
    "READY_MARKER",
    "TYPED_PREFIX",
    "available",
    "build_guest",
    "find_kernel",
    "module_load_order",
    "newc_archive",
]

#: printed on ttyS0 when the guest is up
READY_MARKER = "SPICEPY-READY"
#: prefix of each line typed on tty1, as logged on ttyS0
TYPED_PREFIX = "typed:"
#: the guest's modules, in the order they must load: the HDA codec driver
#: before snd_hda_intel (or the controller finds no codec), OSS emulation for
#: /dev/dsp, virtio_console for the spiceport/agent ports, psmouse for clicks;
#: xhci for usb-redir, usbhid + hid-generic for a redirected keyboard,
#: usb-storage + sd_mod + vfat (and the code pages its mount needs) for a disk
GUEST_MODULES = (
    "virtio_pci",
    "virtio_console",
    "psmouse",
    "snd-hda-codec-generic",
    "snd-hda-intel",
    "snd-pcm-oss",
    "xhci-pci",
    "usbhid",
    "hid-generic",
    "usb-storage",
    "sd_mod",
    "vfat",
    "nls_cp437",
    "nls_ascii",
    "nls_iso8859-1",
    "nls_utf8",
)
#: DRM drivers that give a 32-bit framebuffer console (``framebuffer=True``)
FB_MODULES = {"qxl": ("qxl",), "std": ("bochs",), "virtio": ("virtio-gpu",)}
BUSYBOX_CANDIDATES = ("/bin/busybox", "/usr/bin/busybox")
#: bumped when the layout of the archive changes (part of the cache key)
_FORMAT = "1"

INIT_SCRIPT = r"""#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in $(cat /mods/order); do
    insmod "/mods/$m" 2>/dev/null || echo "insmod $m failed" >/dev/ttyS0
done
for m in $(cat /mods/fb 2>/dev/null); do
    insmod "/mods/$m" 2>/dev/null || echo "insmod $m failed" >/dev/ttyS0
done
[ -e /sys/class/graphics/fbcon/cursor_blink ] &&
    echo 0 >/sys/class/graphics/fbcon/cursor_blink
# a still screen: no cursor (QEMU's text mode blinks it), no console blanking
printf '\033[?25l\033[9;0]\033[2J\033[H' >/dev/tty1
printf '\033[1;33mspicepy test guest\033[0m  \033[42;30m green \033[0m' >/dev/tty1
printf ' \033[44;37m blue \033[0m \033[41;37m red \033[0m\n\n' >/dev/tty1
# the host's command shell on ttyS1 (raw: no echo, no CR/LF mapping)
stty -F /dev/ttyS1 raw -echo 2>/dev/null
(
    exec 3<>/dev/ttyS1
    while IFS= read -r line <&3; do
        id=${line%% *}
        sh -c "${line#* }" </dev/null >&3 2>&1
        echo "@@DONE $id $?" >&3
    done
) &
echo SPICEPY-READY >/dev/ttyS0
# tty1: every typed line to ttyS0 (the tty echoes it on the SPICE screen)
while true; do
    while IFS= read -r line; do
        printf 'typed:%s\n' "$line" >/dev/ttyS0
    done </dev/tty1 >/dev/tty1 2>&1
done
"""

#: /bin/scene: ``scene LABEL`` repaints tty1: a banner, the label and a grid of
#: the 16 console colours (different content for each label)
SCENE = r"""#!/bin/sh
{
printf '\033[2J\033[H\033[1;33mspicepy test guest\033[0m  %s\n\n' "$1"
for row in 0 1 2 3 4 5 6 7; do
    for bg in 40 41 42 43 44 45 46 47; do
        fg=$(( 30 + (row + bg) % 8 ))
        printf '\033[%s;%s;%sm %s%s ' $(( row % 2 )) $fg $bg "$1" $row
    done
    printf '\033[0m\n'
done
printf '\n'
} >/dev/tty1
"""

#: /bin/tone: ``tone SECONDS`` plays a 1 kHz square wave (8 kHz U8 mono, the
#: OSS default format) on /dev/dsp
TONE = r"""#!/bin/sh
for i in $(seq ${1:-1}); do cat /tone.u8; done >/dev/dsp
"""


@dataclass(frozen=True, slots=True)
class GuestImage:
    """A kernel and the initramfs built for it."""

    kernel: Path
    initrd: Path
    key: str


def available() -> str | None:
    """None when a guest can be built here, else the reason it cannot."""
    try:
        find_kernel()
    except FileNotFoundError as exc:
        return str(exc)
    if _busybox() is None:
        return "static busybox missing (apt-get install busybox-static)"
    return None


def _busybox() -> Path | None:
    for path in BUSYBOX_CANDIDATES:
        if os.access(path, os.X_OK):
            return Path(path)
    found = shutil.which("busybox")
    return Path(found) if found else None


def find_kernel() -> tuple[Path, Path]:
    """The newest readable ``/boot/vmlinuz-*`` and its ``/lib/modules`` dir.

    Raises:
        FileNotFoundError: no kernel with modules (apt-get install linux-image-amd64).
    """
    candidates = []
    for vmlinuz in glob.glob("/boot/vmlinuz-*"):
        release = vmlinuz.removeprefix("/boot/vmlinuz-")
        moddir = Path("/lib/modules") / release
        if os.access(vmlinuz, os.R_OK) and (moddir / "modules.dep").exists():
            candidates.append((Path(vmlinuz), moddir))
    if not candidates:
        raise FileNotFoundError(
            "no readable /boot/vmlinuz-* with modules "
            "(apt-get install linux-image-amd64)"
        )
    return max(candidates, key=lambda c: c[0].stat().st_mtime)


def _read_deps(moddir: Path) -> dict[str, list[str]]:
    deps: dict[str, list[str]] = {}
    for line in (moddir / "modules.dep").read_text().splitlines():
        name, _, rest = line.partition(":")
        deps[name.strip()] = rest.split()
    return deps


def module_load_order(moddir: Path, wanted: tuple[str, ...]) -> list[str]:
    """Relative paths of ``wanted`` modules and their dependencies, in load order.

    A module is found by file name (``-`` and ``_`` are the same, as for
    modprobe); modules built into the kernel are skipped.  Dependencies come
    before their users and the wanted modules keep their given order.

    Raises:
        FileNotFoundError: a wanted module is neither a module nor built in.
    """
    deps = _read_deps(moddir)
    by_name = {_modname(path): path for path in deps}
    builtin_file = moddir / "modules.builtin"
    builtin = (
        {_modname(p) for p in builtin_file.read_text().split()}
        if builtin_file.exists()
        else set()
    )
    order: list[str] = []

    def visit(path: str) -> None:
        if path in order:
            return
        for dep in deps.get(path, []):  # each dependency (and its own) first
            visit(dep)
        order.append(path)

    for want in wanted:
        name = want.replace("-", "_")
        if name in by_name:
            visit(by_name[name])
        elif name not in builtin:
            raise FileNotFoundError(f"kernel module {want!r} not in {moddir}")
    return order


def _modname(path: str) -> str:
    base = os.path.basename(path)
    for ext in (".ko", ".ko.xz", ".ko.zst", ".ko.gz"):
        if base.endswith(ext):
            base = base[: -len(ext)]
            break
    return base.replace("-", "_")


def newc_archive(entries: list[tuple[str, int, bytes]]) -> bytes:
    """A cpio archive in the "newc" format the kernel unpacks (initramfs).

    ``entries`` are (path without leading slash, st_mode, content); directories
    must come before their contents.
    """
    out = bytearray()

    def put(name: str, mode: int, data: bytes, ino: int) -> None:
        encoded = name.encode() + b"\0"
        fields = (ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(encoded), 0)
        out.extend(b"070701" + "".join(f"{v:08x}" for v in fields).encode())
        out.extend(encoded)
        out.extend(b"\0" * (-len(out) % 4))
        out.extend(data)
        out.extend(b"\0" * (-len(out) % 4))

    for ino, (name, mode, data) in enumerate(entries, start=1):
        put(name, mode, data, ino)
    put("TRAILER!!!", 0, b"", 0)
    return bytes(out)


def _tone() -> bytes:
    """One second of a 1 kHz square wave at 8 kHz (U8): four samples high, four low."""
    return bytes([0xE0] * 4 + [0x20] * 4) * 1000


def _file_key(path: Path) -> str:
    st = path.stat()
    return f"{path}:{st.st_size}:{st.st_mtime_ns}"


def build_guest(
    cache_dir: Path | None = None, *, framebuffer: str | None = None
) -> GuestImage:
    """Build (or reuse from the cache) the initramfs; return it with the kernel.

    Args:
        cache_dir: where images are kept (default ``$XDG_CACHE_HOME/spicepy`` or
            ``~/.cache/spicepy``); the file name is a hash of every input.
        framebuffer: "qxl", "std" or "virtio" to also load that card's DRM driver
            (a 1024x768 framebuffer console; for QXL the guest driver's own draw
            commands); None keeps the VGA text console.

    Raises:
        FileNotFoundError: no kernel, busybox or a needed module.
    """
    kernel, moddir = find_kernel()
    busybox = _busybox()
    if busybox is None:
        raise FileNotFoundError(
            "static busybox missing (apt-get install busybox-static)"
        )
    mods = module_load_order(moddir, GUEST_MODULES)
    fb_mods: list[str] = []
    if framebuffer is not None:
        fb_mods = [
            m
            for m in module_load_order(moddir, FB_MODULES[framebuffer])
            if m not in mods
        ]
    parts = [_FORMAT, _file_key(kernel), _file_key(busybox), INIT_SCRIPT, SCENE, TONE]
    parts.append(hashlib.sha256(_tone()).hexdigest())
    parts += [_file_key(moddir / m) for m in mods + fb_mods] + ["fb"] + fb_mods
    key = hashlib.sha256("\n".join(parts).encode()).hexdigest()[:24]
    if cache_dir is None:
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        cache_dir = Path(base) / "spicepy"
    initrd = cache_dir / f"guest-{key}.cpio"
    if not initrd.exists():
        cache_dir.mkdir(parents=True, exist_ok=True)
        dir_mode, exe, reg = (
            stat.S_IFDIR | 0o755,
            stat.S_IFREG | 0o755,
            stat.S_IFREG | 0o644,
        )
        entries: list[tuple[str, int, bytes]] = [
            (d, dir_mode, b"") for d in ("bin", "dev", "proc", "sys", "tmp", "mods")
        ]
        entries += [
            ("bin/busybox", exe, busybox.read_bytes()),
            ("init", exe, INIT_SCRIPT.encode()),
            ("bin/scene", exe, SCENE.encode()),
            ("bin/tone", exe, TONE.encode()),
            ("tone.u8", reg, _tone()),
        ]
        for group, listed in (("order", mods), ("fb", fb_mods)):
            names = [os.path.basename(m) for m in listed]
            entries.append(
                (f"mods/{group}", reg, "".join(f"{n}\n" for n in names).encode())
            )
        for m in dict.fromkeys(mods + fb_mods):
            entries.append(
                (f"mods/{os.path.basename(m)}", reg, (moddir / m).read_bytes())
            )
        tmp = initrd.with_suffix(f".tmp{os.getpid()}")
        tmp.write_bytes(newc_archive(entries))
        os.replace(tmp, initrd)  # atomic: parallel builders agree
    return GuestImage(kernel=kernel, initrd=initrd, key=key)
