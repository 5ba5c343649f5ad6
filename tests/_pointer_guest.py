"""A guest program for the live server-mouse test: a pointer the guest shows.

The busybox guest draws no pointer, so a relative move cannot be seen to land.
``POINTER_C`` (tests/data/guest_pointer.c) is a libc-free C program for it:
it reads the PS/2 packets mousedev gives on /dev/input/mice, accelerates them
like X (factor 2 above 4 counts), moves a DRM hardware cursor there (QXL turns
that into SPICE cursor moves the client's cursor channel reports) and prints
every button change with its position.  ``install_pointer`` builds it here
(gcc, static, no libc) and copies it into the guest over its command shell
(base64 lines).
"""

from __future__ import annotations

import base64
import shutil
import subprocess
from pathlib import Path

from spicepy.testing.qemu import Qemu

#: base64 characters per guest shell command
CHUNK = 2000

#: the C source (tests/data/README.md)
POINTER_C = (Path(__file__).parent / "data" / "guest_pointer.c").read_text()


def gcc_missing() -> str | None:
    """None when the program can be built here, else why not."""
    return None if shutil.which("gcc") else "gcc missing (apt-get install gcc)"


def build_pointer(workdir: Path) -> bytes:
    """The static program's bytes (about 9 KB)."""
    source, binary = workdir / "pointer.c", workdir / "pointer"
    source.write_text(POINTER_C)
    subprocess.run(
        ["gcc", "-static", "-nostdlib", "-Os", "-fno-stack-protector",
         "-fno-builtin", "-fno-pie", "-no-pie", "-Wl,--build-id=none", "-s",
         "-o", str(binary), str(source)],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    return binary.read_bytes()


def install_pointer(guest: Qemu, workdir: Path) -> None:
    """Copy the program to /bin/pointer in ``guest``."""
    text = base64.b64encode(build_pointer(workdir)).decode()
    status, out = guest.run("rm -f /tmp/pointer.b64")
    assert status == 0, out
    for i in range(0, len(text), CHUNK):
        status, out = guest.run(f"echo {text[i : i + CHUNK]} >>/tmp/pointer.b64")
        assert status == 0, out
    status, out = guest.run(
        "base64 -d /tmp/pointer.b64 >/bin/pointer && chmod +x /bin/pointer"
    )
    assert status == 0, out
