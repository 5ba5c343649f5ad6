"""spicepy through a real HTTP CONNECT proxy (tinyproxy) to a real Xspice.

The proxy comes from ``SPICE_PROXY`` (spice-gtk's variable), so the public
``spicepy.connect`` is what is tested; tinyproxy's log proves each channel's
connection went through it.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import spicepy
from spicepy.errors import SessionError
from spicepy.testing import tinyproxy
from spicepy.testing.pki import TestPki, make_test_pki
from spicepy.testing.tinyproxy import Tinyproxy
from spicepy.testing.xdraw import XDraw, draw_test_scene
from spicepy.testing.xspice import Xspice, XspiceOptions
from spicepy.testing.xspice import available as xspice_available

REASON = xspice_available() or tinyproxy.available()
pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(
        REASON is not None and not os.environ.get("SPICEPY_REQUIRE_XSPICE"),
        reason=f"Xspice or tinyproxy not available: {REASON}",
    ),
]
TIMEOUT = 30.0
AUTH = ("alice", "w0nder")
#: tinyproxy 1.11 answers a CONNECT with bad credentials 401 (RFC 9110 says 407)
REFUSED = r"refused the tunnel: HTTP/1\.\d 40[17]"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    return make_test_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def server(pki: TestPki) -> Iterator[tuple[Xspice, np.ndarray]]:
    with Xspice(XspiceOptions(tls=pki.files)) as xspice, XDraw(xspice.display) as draw:
        draw_test_scene(draw, seed=3)
        yield xspice, draw.framebuffer()


def _connects(log: str, port: int) -> int:
    """CONNECT requests tinyproxy logged for ``127.0.0.1:port``."""
    return len(re.findall(rf"CONNECT 127\.0\.0\.1:{port} ", log))


async def _shot(uri: str, **kwargs: object) -> tuple[np.ndarray, int]:
    async with spicepy.connect(uri, timeout=TIMEOUT, **kwargs) as s:  # type: ignore[arg-type]
        await s.wait_until_settled(quiet=0.5, timeout=TIMEOUT)
        return s.screenshot(), len(s.connections)


@pytest.mark.parametrize("auth", [None, AUTH], ids=["open", "basic-auth"])
def test_screenshot_through_proxy(
    server: tuple[Xspice, np.ndarray],
    monkeypatch: pytest.MonkeyPatch,
    auth: tuple[str, str] | None,
) -> None:
    xspice, truth = server
    with Tinyproxy(auth=auth) as proxy:
        monkeypatch.setenv("SPICE_PROXY", proxy.url)
        shot, channels = asyncio.run(_shot(f"spice://127.0.0.1:{xspice.port}"))
        log = proxy.log()
    assert np.array_equal(shot, truth)
    assert _connects(log, xspice.port) == channels >= 4


def test_tls_inside_the_tunnel(
    server: tuple[Xspice, np.ndarray], pki: TestPki, monkeypatch: pytest.MonkeyPatch
) -> None:
    xspice, truth = server
    assert xspice.tls_port is not None
    with Tinyproxy() as proxy:
        monkeypatch.setenv("SPICE_PROXY", proxy.url)
        shot, channels = asyncio.run(
            _shot(
                f"spice+tls://127.0.0.1:{xspice.tls_port}",
                ca_file=pki.files.ca_cert,
                host_subject=pki.host_subject,
            )
        )
        log = proxy.log()
    assert np.array_equal(shot, truth)
    assert _connects(log, xspice.tls_port) == channels


def test_wrong_proxy_credentials_are_refused(
    server: tuple[Xspice, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    xspice, _ = server
    with Tinyproxy(auth=AUTH) as proxy:
        monkeypatch.setenv("SPICE_PROXY", f"http://alice:wrong@127.0.0.1:{proxy.port}")
        with pytest.raises(SessionError, match=REFUSED):
            asyncio.run(_shot(f"spice://127.0.0.1:{xspice.port}"))
        monkeypatch.setenv("SPICE_PROXY", f"http://127.0.0.1:{proxy.port}")
        with pytest.raises(SessionError, match=REFUSED):
            asyncio.run(_shot(f"spice://127.0.0.1:{xspice.port}"))


def test_cli_proxy_option_beats_spice_proxy(
    server: tuple[Xspice, np.ndarray],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """``spicepy screenshot URI --proxy URL`` (the API's ``proxy=``) tunnels every
    channel through that proxy even with a broken ``SPICE_PROXY`` set."""
    import subprocess
    import sys

    from PIL import Image

    xspice, truth = server
    out = tmp_path / "shot.png"
    with Tinyproxy() as proxy:
        monkeypatch.setenv("SPICE_PROXY", "http://127.0.0.1:1")
        proc = subprocess.run(
            [sys.executable, "-m", "spicepy", "screenshot",
             f"spice://127.0.0.1:{xspice.port}", "-o", str(out),
             "--proxy", proxy.url, "--timeout", str(TIMEOUT)],
            capture_output=True, text=True, timeout=3 * TIMEOUT, check=False,
        )  # fmt: skip
        log = proxy.log()
    assert proc.returncode == 0, proc.stderr
    assert np.array_equal(np.asarray(Image.open(out).convert("RGB")), truth)
    assert _connects(log, xspice.port) >= 4
