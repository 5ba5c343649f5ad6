"""The QEMU test harness without QEMU: initramfs archive, module order, PPM, QMP."""

from __future__ import annotations

import json
import shutil
import socket
import stat
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from spicepy.errors import SessionError, SpiceTimeoutError
from spicepy.testing import guest
from spicepy.testing.pki import make_test_pki
from spicepy.testing.qemu import Qemu, QemuOptions, SaslUser
from spicepy.testing.qmp import Qmp, QmpError, read_ppm

# -- newc archive ---------------------------------------------------------------

names = st.text(
    alphabet=st.characters(whitelist_categories=("Ll", "Nd"), max_codepoint=127),
    min_size=1,
    max_size=12,
)


@pytest.mark.skipif(shutil.which("cpio") is None, reason="cpio missing")
@settings(max_examples=25, deadline=None)
@given(files=st.dictionaries(names, st.binary(max_size=300), min_size=1, max_size=6))
def test_newc_archive_unpacks_with_cpio(files: dict[str, bytes]) -> None:
    entries = [("d", stat.S_IFDIR | 0o755, b"")]
    entries += [(f"d/{n}", stat.S_IFREG | 0o640, data) for n, data in files.items()]
    archive = guest.newc_archive(entries)
    listing = subprocess.run(
        ["cpio", "-it", "--quiet"], input=archive, capture_output=True, check=True
    ).stdout.decode()
    assert listing.split() == ["d", *(f"d/{n}" for n in files)]
    for name, data in files.items():
        out = subprocess.run(
            ["cpio", "-i", "--to-stdout", "--quiet", f"d/{name}"],
            input=archive,
            capture_output=True,
            check=True,
        ).stdout
        assert out == data


def test_newc_archive_layout() -> None:
    archive = guest.newc_archive([("init", stat.S_IFREG | 0o755, b"abc")])
    assert archive.startswith(b"070701")
    header = archive[6:110]
    fields = [int(header[i : i + 8], 16) for i in range(0, 104, 8)]
    assert fields[1] == stat.S_IFREG | 0o755 and fields[6] == 3 and fields[11] == 5
    assert archive[110:115] == b"init\0"
    assert b"TRAILER!!!\0" in archive and len(archive) % 4 == 0


# -- kernel modules -------------------------------------------------------------


def _moddir(tmp_path: Path, dep: str, builtin: str = "") -> Path:
    (tmp_path / "modules.dep").write_text(dep)
    (tmp_path / "modules.builtin").write_text(builtin)
    return tmp_path


DEP = """\
kernel/sound/core/snd.ko: kernel/sound/soundcore.ko
kernel/sound/soundcore.ko:
kernel/sound/pci/hda/snd-hda-codec.ko: kernel/sound/core/snd.ko \
kernel/sound/soundcore.ko
kernel/sound/pci/hda/snd-hda-codec-generic.ko: kernel/sound/pci/hda/snd-hda-codec.ko \
kernel/sound/core/snd.ko kernel/sound/soundcore.ko
kernel/sound/pci/hda/snd-hda-intel.ko: kernel/sound/pci/hda/snd-hda-codec.ko \
kernel/sound/core/snd.ko kernel/sound/soundcore.ko
"""


def test_module_order_dependencies_first_wanted_order_kept(tmp_path: Path) -> None:
    moddir = _moddir(tmp_path, DEP, "kernel/drivers/virtio/virtio_pci.ko\n")
    order = guest.module_load_order(
        moddir, ("virtio_pci", "snd_hda_codec_generic", "snd-hda-intel")
    )
    assert order == [
        "kernel/sound/soundcore.ko",
        "kernel/sound/core/snd.ko",
        "kernel/sound/pci/hda/snd-hda-codec.ko",
        "kernel/sound/pci/hda/snd-hda-codec-generic.ko",
        "kernel/sound/pci/hda/snd-hda-intel.ko",
    ]


def test_missing_module_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no_such"):
        guest.module_load_order(_moddir(tmp_path, DEP), ("no_such",))


@pytest.mark.skipif(guest.available() is not None, reason="no kernel/busybox here")
def test_build_guest_is_cached_by_its_inputs(tmp_path: Path) -> None:
    first = guest.build_guest(tmp_path)
    mtime = first.initrd.stat().st_mtime_ns
    again = guest.build_guest(tmp_path)
    assert again == first and again.initrd.stat().st_mtime_ns == mtime
    with_fb = guest.build_guest(tmp_path, framebuffer="qxl")
    assert with_fb.key != first.key and with_fb.initrd.exists()
    listing = subprocess.run(
        ["cpio", "-it", "--quiet"],
        input=first.initrd.read_bytes(),
        capture_output=True,
        check=True,
    ).stdout.decode()
    assert {"init", "bin/busybox", "mods/order", "mods/snd-hda-intel.ko"} <= set(
        listing.split()
    )


# -- PPM --------------------------------------------------------------------------


@given(arrays(np.uint8, st.tuples(st.integers(1, 9), st.integers(1, 9), st.just(3))))
def test_ppm_round_trip(pixels: np.ndarray) -> None:
    h, w, _ = pixels.shape
    data = f"P6\n# comment\n{w} {h}\n255\n".encode() + pixels.tobytes()
    assert np.array_equal(read_ppm(data), pixels)


@given(st.binary(max_size=64))
def test_ppm_garbage_is_a_value_error(data: bytes) -> None:
    try:
        read_ppm(data)
    except ValueError:
        pass


@pytest.mark.parametrize(
    "data",
    [b"P5\n1 1\n255\n\0", b"P6\n2 2\n255\n" + b"\0" * 11, b"P6\n1 1\n65535\n\0\0"],
)
def test_ppm_wrong_kind_or_short(data: bytes) -> None:
    with pytest.raises(ValueError):
        read_ppm(data)


# -- QMP against a fake monitor ---------------------------------------------------


@pytest.fixture
def fake_qmp(tmp_path: Path) -> Iterator[Callable[[list[bytes]], Path]]:
    """A unix socket that sends a greeting, then one canned line per request."""
    threads: list[threading.Thread] = []
    path = tmp_path / "qmp.sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.listen(1)

    def start(replies: list[bytes]) -> Path:
        def serve() -> None:
            conn, _ = server.accept()
            with conn, conn.makefile("rb") as reader:
                conn.sendall(b'{"QMP": {"version": {}}}\n')
                for reply in replies:
                    if not reader.readline():
                        return
                    conn.sendall(reply)

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        threads.append(thread)
        return path

    yield start
    server.close()
    for thread in threads:
        thread.join(5)


def test_qmp_returns_values_and_keeps_events(fake_qmp: Callable[..., Path]) -> None:
    event = {"event": "SPICE_CONNECTED", "data": {}}
    path = fake_qmp(
        [
            b'{"return": {}}\n',
            json.dumps(event).encode() + b'\n{"return": {"status": "running"}}\n',
            b'{"error": {"class": "GenericError", "desc": "no such thing"}}\n',
        ]
    )
    with Qmp(path, timeout=5) as qmp:
        assert qmp.command("query-status") == {"status": "running"}
        assert qmp.events == [event]
        with pytest.raises(QmpError, match="no such thing"):
            qmp.command("bogus")


def test_qmp_closed_or_silent_monitor(fake_qmp: Callable[..., Path]) -> None:
    path = fake_qmp([b'{"return": {}}\n'])
    with Qmp(path, timeout=5) as qmp, pytest.raises(SessionError, match="closed"):
        qmp.command("query-status")


def test_qmp_no_answer_times_out(tmp_path: Path) -> None:
    path = tmp_path / "mute.sock"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(path))
        server.listen(1)
        with pytest.raises(SpiceTimeoutError):
            Qmp(path, timeout=0.2)


# -- command line -----------------------------------------------------------------


def test_command_line_carries_every_spice_feature(tmp_path: Path) -> None:
    pki = make_test_pki(tmp_path / "pki", key_size=1024)
    qemu = Qemu(
        QemuOptions(
            vga="std",
            password="a,b",
            tls=pki.files,
            sasl=SaslUser("u", "p"),
            image_compression="quic",
            usbredir=2,
            spiceports=("org.example.one",),
        )
    )
    qemu.workdir, qemu.port, qemu.tls_port = tmp_path, 5999, 6000
    image = guest.GuestImage(tmp_path / "k", tmp_path / "i", "key")
    args = qemu.command_line(image, "tcg")
    spice = args[args.index("-spice") + 1].split(",")
    assert {"port=5999", "tls-port=6000", "image-compression=quic", "sasl=on"} <= set(
        spice
    )
    assert "password-secret=spicepw" in spice and "disable-ticketing=on" not in spice
    assert f"x509-cacert-file={pki.files.ca_cert}" in spice
    assert "secret,id=spicepw,data=a,,b" in args  # QEMU's comma escape
    assert args.count("usb-redir,chardev=ur0,bus=xhci.0") == 1
    assert "usb-redir,chardev=ur1,bus=xhci.0" in args
    assert "virtserialport,chardev=sp0,name=org.example.one" in args
    assert args[args.index("-vga") + 1] == "std"
    # QEMU must not wait for the host to attach to the command port
    assert any(a.startswith("socket,id=cmd,") and a.endswith(",wait=off") for a in args)
