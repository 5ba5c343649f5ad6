"""Connect by libvirt domain: a real libvirtd (started if needed) and one TCG domain.

Truth: ``virsh domdisplay`` for the address, ``virsh screenshot`` (QEMU's
screendump through libvirt) for the pixels.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import spicepy
from spicepy.errors import SessionError, SpiceTimeoutError
from spicepy.session.libvirt import domain_display
from spicepy.testing.libvirtd import Libvirtd, LibvirtDomain, available

REASON = available()
pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(
        REASON is not None and not os.environ.get("SPICEPY_REQUIRE_LIBVIRT"),
        reason=f"libvirt domain not available: {REASON}",
    ),
]
TIMEOUT = 60.0
PASSWORD = "libvirt-pw"


@pytest.fixture(scope="module")
def domain() -> Iterator[LibvirtDomain]:
    with Libvirtd(), LibvirtDomain(password=PASSWORD) as dom:
        yield dom


def virsh(*args: str) -> str:
    return subprocess.run(
        ["virsh", "-c", "qemu:///system", *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout


def test_display_matches_domdisplay(domain: LibvirtDomain) -> None:
    display = domain_display(domain.name)
    assert display.name == domain.name
    assert display.uri.password == PASSWORD  # from the XML, VIR_DOMAIN_XML_SECURE
    # domdisplay hides the password unless asked; the address must agree
    assert str(display.uri.with_password(None)) == virsh(
        "domdisplay", domain.name
    ).strip().removesuffix("/")


def test_screenshot_by_domain_equals_libvirt_screenshot(
    domain: LibvirtDomain, tmp_path: Path
) -> None:
    display = domain_display(domain.name)

    async def main() -> tuple[np.ndarray, np.ndarray]:
        async with spicepy.connect(
            display.uri, timeout=TIMEOUT, password=display.uri.password
        ) as s:
            await s.wait_until_settled(quiet=1.0, timeout=TIMEOUT)
            dump = tmp_path / "dump"  # PNG from libvirt 9 + QEMU 7.2, PPM before
            await asyncio.to_thread(virsh, "screenshot", domain.name, str(dump))
            truth = np.asarray(Image.open(dump).convert("RGB"))
            try:  # the server sends asynchronously; the assert shows a miss
                await s.wait_for(
                    lambda: bool(np.array_equal(s.screenshot(), truth)), 20, "same"
                )
            except SpiceTimeoutError:
                pass
            return s.screenshot(), truth

    shot, truth = asyncio.run(main())
    assert np.array_equal(shot, truth)


def test_cli_screenshot_by_domain(domain: LibvirtDomain, tmp_path: Path) -> None:
    """``spicepy screenshot --connect qemu:///system DOMAIN``: the password comes
    from the domain; the picture is libvirt's (taken after ours: the guest's
    console is still by then, as the API test above shows)."""
    import sys

    out, dump = tmp_path / "cli.png", tmp_path / "dump"
    proc = subprocess.run(
        [sys.executable, "-m", "spicepy", "screenshot", "--connect",
         "qemu:///system", domain.name, "-o", str(out), "--quiet-time", "1.0",
         "--timeout", str(TIMEOUT)],
        capture_output=True, text=True, timeout=3 * TIMEOUT, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    virsh("screenshot", domain.name, str(dump))
    shot = np.asarray(Image.open(out).convert("RGB"))
    assert np.array_equal(shot, np.asarray(Image.open(dump).convert("RGB")))


def test_unknown_or_stopped_domain_is_an_error() -> None:
    with pytest.raises(SessionError, match="no libvirt domain"):
        domain_display("spicepy-no-such-domain")
