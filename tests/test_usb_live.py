"""USB redirection and spiceports against a real QEMU guest (one boot per module).

The guest (``spicepy.testing.qemu``) has a qemu-xhci controller with two
usb-redir devices on spicevmc chardevs and a spiceport ``org.spicepy.test`` on
its virtio-serial bus; its initramfs loads xhci, usbhid, usb-storage, sd_mod
and vfat.  What the guest sees is read through its command shell (ttyS1) and
its typed-line log (ttyS0): ground truth independent of spicepy.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _qemu_helpers import TIMEOUT, wait_client_gone

import spicepy
from spicepy.channels.usbredir import PacketReceived
from spicepy.errors import SessionError
from spicepy.session.ports import PortGuestOpened
from spicepy.session.usb import (
    UsbDeviceError,
    UsbDeviceReleased,
    UsbDeviceReset,
)
from spicepy.testing.qemu import Qemu, QemuOptions, available
from spicepy.usb.hid import HidKeyboard
from spicepy.usb.storage import FileStore, MassStorage
from spicepy.wire import usbredir as u

REASON = available()
MTOOLS = all(shutil.which(t) for t in ("mkfs.vfat", "mcopy", "mtype"))
pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(
        REASON is not None and not os.environ.get("SPICEPY_REQUIRE_QEMU"),
        reason=f"QEMU guest not available: {REASON}",
    ),
]
PORT_NAME = "org.spicepy.test"
#: guest: echo everything on the port back (one open, read-write: a virtio
#: port takes one opener), after ``{delay}`` s; the pid is cat's own, for kill
ECHO_AFTER = (
    f"p=$(grep -l {PORT_NAME} /sys/class/virtio-ports/*/name); "
    "d=/dev/$(basename $(dirname $p)); "
    'sh -c "exec 3<>$d; sleep {delay}; exec cat <&3 >&3" </dev/null >/dev/null 2>&1 & '
    "echo $! >/tmp/echo.pid"
)
ECHO = ECHO_AFTER.format(delay=0)


@pytest.fixture(scope="module")
def guest() -> Iterator[Qemu]:
    options = QemuOptions(vga="std", audio=False, agent=False, spiceports=(PORT_NAME,))
    with Qemu(options) as qemu:
        yield qemu


@pytest.fixture(autouse=True)
def guest_survives(guest: Qemu) -> Iterator[None]:
    guest.check()
    wait_client_gone(guest)
    yield
    guest.check()


async def guest_run(guest: Qemu, command: str, timeout: float = TIMEOUT) -> str:
    """A guest command that must succeed; its output."""
    status, out = await asyncio.to_thread(guest.run, command, timeout)
    assert status == 0, f"{command!r} -> {status}: {out}"
    return out


async def guest_poll(guest: Qemu, command: str, what: str) -> str:
    """Re-run ``command`` until it succeeds (the guest's USB stack is async)."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        status, out = await asyncio.to_thread(guest.run, command, TIMEOUT)
        if status == 0:
            return out
        if time.monotonic() > deadline:
            pytest.fail(f"the guest never saw {what}: {out}")
        await asyncio.sleep(0.2)


def usb_vendors(vendor: int) -> str:
    """Guest command: succeeds while a USB device of ``vendor`` is attached."""
    return f"grep -qx {vendor:04x} /sys/bus/usb/devices/*/idVendor"


def test_port_echo_round_trips_bytes(guest: Qemu) -> None:
    """Bytes written to the spiceport reach the guest's virtio port, and what the
    guest writes back (cat echoing its port) arrives on our stream, unchanged."""
    payload = os.urandom(48 * 1024) + bytes(range(256))

    async def main() -> None:
        async with spicepy.connect(guest.uri, timeout=TIMEOUT, ports=True) as s:
            events = s.events()
            reader, writer = await s.ports.open(PORT_NAME, timeout=TIMEOUT)
            await guest_run(guest, ECHO)
            await s.ports.wait_guest_open(PORT_NAME, timeout=TIMEOUT)
            assert PortGuestOpened(PORT_NAME) in list(events.queue)
            for pos in range(0, len(payload), 5000):  # several DATA messages
                writer.write(payload[pos : pos + 5000])
            await writer.drain()
            echoed = await asyncio.wait_for(reader.readexactly(len(payload)), TIMEOUT)
            assert echoed == payload
            writer.close()
            await guest_run(guest, "kill $(cat /tmp/echo.pid)")

    asyncio.run(main())


def test_port_of_unknown_name_and_opt_in(guest: Qemu) -> None:
    async def main() -> None:
        async with spicepy.connect(guest.uri, timeout=TIMEOUT) as s:
            reasons = {c.name: c.reason for c in s.skipped_channels}
            assert reasons["port:0"] == "opt-in: connect(ports=True)"
            assert reasons["usbredir:0"] == "opt-in: connect(usbredir=True)"
            with pytest.raises(SessionError, match="ports=True"):
                await s.ports.open(PORT_NAME)
            with pytest.raises(SessionError, match="usbredir=True"):
                await s.usb.redirect(HidKeyboard())
        # spice-server must have dropped that client first (_qemu_helpers)
        await asyncio.to_thread(wait_client_gone, guest)
        async with spicepy.connect(guest.uri, timeout=TIMEOUT, ports=True) as s:
            with pytest.raises(SessionError, match=PORT_NAME):
                await s.ports.open("org.spicepy.nothing", timeout=TIMEOUT)

    asyncio.run(main())


def test_usb_keyboard_types_into_the_guest(guest: Qemu) -> None:
    """An emulated HID keyboard, not the inputs channel: the guest's usbhid
    binds it and the text reaches tty1's line reader; release unplugs it."""
    text = "usb Keys 42!"
    kbd = HidKeyboard()
    vendor = kbd.device_info.vendor_id

    async def main() -> None:
        async with spicepy.connect(guest.uri, timeout=TIMEOUT, usbredir=True) as s:
            events = s.events()
            dev = await s.usb.redirect(kbd, timeout=TIMEOUT)
            typed_before = len(guest.typed_lines())
            # at once: type_text waits until usbhid takes reports (it drops
            # those of its first 50 ms)
            await s.usb.type_text(dev, text + "\n", timeout=TIMEOUT)
            lines = await asyncio.to_thread(guest.wait_for_typed, typed_before + 1)
            assert lines[typed_before:] == [text]
            assert kbd.receiving and dev.resets >= 1  # QEMU resets at attach
            await guest_poll(guest, usb_vendors(vendor), "the keyboard attach")
            await dev.release(timeout=TIMEOUT)
            assert dev.released and s.usb.devices == {}
            await guest_poll(guest, f"! {usb_vendors(vendor)}", "the keyboard unplug")
            seen = list(events.queue)
            reset = seen.index(UsbDeviceReset(dev.channel, kbd.device_info))
            assert seen.index(UsbDeviceReleased(dev.channel, kbd.device_info)) > reset

    asyncio.run(main())


@pytest.mark.skipif(not MTOOLS, reason="dosfstools/mtools missing")
def test_mass_storage_read_and_write(guest: Qemu, tmp_path: Path) -> None:
    """A FAT image made here: the guest mounts the redirected disk, reads our
    files byte for byte, writes its own; after unmount and release the image
    holds the guest's files and is a clean FAT."""
    image = tmp_path / "disk.img"
    subprocess.run(
        ["mkfs.vfat", "-C", str(image), "8192"], check=True, capture_output=True
    )
    small = os.urandom(20_000)  # read back as base64: every byte compared
    big = os.urandom(700_000)  # several 120 KiB SCSI reads: compared by digest
    (tmp_path / "small.bin").write_bytes(small)
    (tmp_path / "big.bin").write_bytes(big)
    for name, dos in (("small.bin", "::SMALL.BIN"), ("big.bin", "::BIG.BIN")):
        subprocess.run(
            ["mcopy", "-i", str(image), str(tmp_path / name), dos], check=True
        )
    note = "written by the guest through usbredir"
    store = FileStore(image)
    storage = MassStorage(store)
    vendor = storage.device_info.vendor_id

    async def main() -> str:
        async with spicepy.connect(guest.uri, timeout=TIMEOUT, usbredir=True) as s:
            dev = await s.usb.redirect(storage, timeout=TIMEOUT)
            disk = await guest_poll(
                guest, "cd /sys/block && ls -d sd*", "the disk"
            )  # the only SCSI disk of the guest
            vendor_name = await guest_run(
                guest, f"cat /sys/block/{disk.strip()}/device/vendor"
            )
            assert vendor_name.strip() == "spicepy"  # our INQUIRY data
            dev_path = f"/dev/{disk.strip()}"
            await guest_run(
                guest, f"mkdir -p /mnt/usb && mount -t vfat {dev_path} /mnt/usb"
            )
            listing = await guest_run(guest, "ls /mnt/usb")
            assert sorted(listing.split()) == ["BIG.BIN", "SMALL.BIN"]
            got = await guest_run(guest, "base64 /mnt/usb/SMALL.BIN")
            assert base64.b64decode(got) == small
            digest = await guest_run(guest, "sha256sum /mnt/usb/BIG.BIN")
            assert digest.split()[0] == hashlib.sha256(big).hexdigest()
            await guest_run(
                guest,
                f"echo '{note}' >/mnt/usb/NOTE.TXT && "
                "head -c 300000 /dev/urandom >/mnt/usb/RAND.BIN",
            )
            written = await guest_run(guest, "sha256sum /mnt/usb/RAND.BIN")
            await guest_run(guest, "umount /mnt/usb")
            await dev.release(timeout=TIMEOUT)
            await guest_poll(guest, f"! {usb_vendors(vendor)}", "the disk unplug")
            return written.split()[0]

    try:
        guest_digest = asyncio.run(main())
    finally:
        store.close()

    def mtype(name: str) -> bytes:
        return subprocess.run(
            ["mtype", "-i", str(image), name], check=True, capture_output=True
        ).stdout

    assert mtype("::NOTE.TXT") == (note + "\n").encode()
    assert hashlib.sha256(mtype("::RAND.BIN")).hexdigest() == guest_digest
    assert mtype("::BIG.BIN") == big
    fsck = subprocess.run(["fsck.vfat", "-n", str(image)], capture_output=True)
    assert fsck.returncode == 0, fsck.stdout.decode() + fsck.stderr.decode()


class _BrokenKeyboard(HidKeyboard):
    """A keyboard whose firmware dies at the first control request."""

    def handle(self, event: PacketReceived) -> list[tuple[Any, int]]:
        if isinstance(event.packet, u.ControlPacket):
            raise RuntimeError("firmware crash")
        return super().handle(event)


def test_device_error_is_reported_and_the_slot_reusable(guest: Qemu) -> None:
    async def main() -> None:
        async with spicepy.connect(guest.uri, timeout=TIMEOUT, usbredir=True) as s:
            events = s.events()
            broken = _BrokenKeyboard()
            dev = await s.usb.redirect(broken, timeout=TIMEOUT)
            await s.wait_for(lambda: dev.error is not None, TIMEOUT, "the device error")
            assert dev.error is not None and "firmware crash" in dev.error
            errors = [e for e in events.queue if isinstance(e, UsbDeviceError)]
            assert errors and errors[0].channel == dev.channel
            await dev.release(timeout=TIMEOUT)
            # the channel survived: the same slot takes a working device
            free = s.usb.free_channels()
            assert dev.channel in free
            kbd = HidKeyboard()
            good = await s.usb.redirect(kbd, timeout=TIMEOUT)
            await guest_poll(guest, usb_vendors(0x0627), "the second keyboard")
            await good.release(timeout=TIMEOUT)
            await guest_poll(guest, f"! {usb_vendors(0x0627)}", "the unplug")

    asyncio.run(main())


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "spicepy", *args]


def test_cli_port_is_a_pipe(guest: Qemu) -> None:
    """``spicepy port``: stdin reaches the guest's echo, the echo reaches stdout.

    The guest's echo starts after the client opened the port: until then a
    read of the virtio port returns EOF (no host side), and cat would exit.
    It answers 2 s late, after stdin's EOF: ``--linger 4`` waits for it."""
    payload = os.urandom(20_000)
    proc = subprocess.Popen(
        cli("port", guest.uri, PORT_NAME, "--wait-guest", "--linger", "4"),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert proc.stderr is not None
        said = proc.stderr.readline()
        assert said == f"spicepy: port {PORT_NAME} open\n".encode(), said
        asyncio.run(guest_run(guest, ECHO_AFTER.format(delay=2)))
        out, err = proc.communicate(payload, timeout=TIMEOUT * 2)
    finally:
        guest.run("kill $(cat /tmp/echo.pid)")
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err.decode()
    assert out == payload


@pytest.mark.skipif(not MTOOLS, reason="dosfstools/mtools missing")
def test_cli_usb_storage_until_enter(guest: Qemu, tmp_path: Path) -> None:
    """``spicepy usb --storage``: plugged until Enter, then unplugged cleanly."""
    image = tmp_path / "cli.img"
    subprocess.run(
        ["mkfs.vfat", "-C", str(image), "4096"], check=True, capture_output=True
    )
    (tmp_path / "hello.txt").write_bytes(b"hello from the host\n")
    subprocess.run(
        ["mcopy", "-i", str(image), str(tmp_path / "hello.txt"), "::HELLO.TXT"],
        check=True,
    )
    proc = subprocess.Popen(
        cli("usb", guest.uri, "--storage", str(image), "--timeout", str(TIMEOUT)),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )

    async def use_disk() -> None:
        disk = (
            await guest_poll(guest, "cd /sys/block && ls -d sd*", "the disk")
        ).strip()
        await guest_run(
            guest, f"mkdir -p /mnt/cli && mount -t vfat /dev/{disk} /mnt/cli"
        )
        assert (
            await guest_run(guest, "cat /mnt/cli/HELLO.TXT") == "hello from the host\n"
        )
        await guest_run(guest, "echo bye >/mnt/cli/BYE.TXT && umount /mnt/cli")

    try:
        asyncio.run(use_disk())
        out, err = proc.communicate(b"\n", timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err.decode()
    assert b"redirected disk" in err and out == b"unplugged 1 device(s)\n"
    asyncio.run(guest_poll(guest, f"! {usb_vendors(0x46F4)}", "the disk unplug"))
    bye = subprocess.run(
        ["mtype", "-i", str(image), "::BYE.TXT"], capture_output=True, check=True
    )
    assert bye.stdout == b"bye\n"


def test_cli_usb_keyboard_types(guest: Qemu) -> None:
    before = len(guest.typed_lines())
    done = subprocess.run(
        cli(
            "usb", guest.uri, "--type", "cli keys\\n", "--hold", "0", "--timeout", "60"
        ),
        capture_output=True,
        timeout=TIMEOUT * 2,
    )
    assert done.returncode == 0, done.stderr.decode()
    assert guest.wait_for_typed(before + 1)[before:] == ["cli keys"]
    asyncio.run(guest_poll(guest, f"! {usb_vendors(0x0627)}", "the keyboard unplug"))


@pytest.mark.skipif(not MTOOLS, reason="dosfstools/mtools missing")
def test_cli_usb_read_only_disk(guest: Qemu, tmp_path: Path) -> None:
    """``--read-only``: the guest's kernel marks the disk read-only (MODE SENSE
    WP), a write fails in the guest, and the image is unchanged."""
    image = tmp_path / "ro.img"
    subprocess.run(
        ["mkfs.vfat", "-C", str(image), "4096"], check=True, capture_output=True
    )
    (tmp_path / "keep.txt").write_bytes(b"read me only\n")
    subprocess.run(
        ["mcopy", "-i", str(image), str(tmp_path / "keep.txt"), "::KEEP.TXT"],
        check=True,
    )
    before = image.read_bytes()
    proc = subprocess.Popen(
        cli(
            "usb", guest.uri, "--storage", str(image), "--read-only", "--timeout", "60"
        ),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )

    async def use_disk() -> None:
        disk = (
            await guest_poll(guest, "cd /sys/block && ls -d sd*", "the disk")
        ).strip()
        assert (await guest_run(guest, f"cat /sys/block/{disk}/ro")).strip() == "1"
        await guest_run(
            guest, f"mkdir -p /mnt/ro && mount -r -t vfat /dev/{disk} /mnt/ro"
        )
        assert await guest_run(guest, "cat /mnt/ro/KEEP.TXT") == "read me only\n"
        status, _ = await asyncio.to_thread(guest.run, "echo x >/mnt/ro/NEW.TXT")
        assert status != 0
        await guest_run(guest, "umount /mnt/ro")

    try:
        asyncio.run(use_disk())
        _, err = proc.communicate(b"\n", timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err.decode()
    assert image.read_bytes() == before
