"""``spicepy do`` and ``spicepy mcp`` name their server the ways every other
connecting command does (cli_input.add_target_options): a URI, a remote-viewer
``.vv`` file, or a libvirt domain with ``--connect``.  Parser checks offline;
live: a TLS + password ``.vv`` file for both commands on Xspice (exact
pixels), and a libvirt domain for ``do`` (libvirt's own screenshot)."""

from __future__ import annotations

import asyncio
import base64
import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from spicepy.cli import build_parser, main
from spicepy.testing.xspice import Xspice, XspiceOptions
from spicepy.testing.xspice import available as xspice_available

TIMEOUT = 60.0


@pytest.mark.parametrize("command", ["do", "mcp"])
def test_do_and_mcp_take_the_target_options(command: str) -> None:
    extra = ["capture", "x.png"] if command == "do" else []
    args = build_parser().parse_args(
        [command, "--connect", "qemu:///system", "--plain", "--proxy",
         "http://p:3128", "--username", "u", "--blind", "dom", *extra]
    )  # fmt: skip
    assert (args.uri, args.connect, args.plain, args.proxy, args.username) == (
        "dom", "qemu:///system", True, "http://p:3128", "u"
    )  # fmt: skip
    assert args.blind is True  # both take --blind (server-mode pointer moves)


@pytest.mark.parametrize("command", ["do", "mcp"])
def test_a_vnc_vv_file_is_refused_in_one_line(
    command: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    vv = tmp_path / "console.vv"
    vv.write_text("[virt-viewer]\ntype=vnc\nhost=h\nport=1\n")
    extra = ["capture", "x.png"] if command == "do" else []
    assert main([command, str(vv), *extra]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "vnc" in err


def _vv(path: Path, server: Xspice, ca: Path, subject: str) -> Path:
    pem = ca.read_text().replace("\\", "\\\\").replace("\n", "\\n")
    path.write_text(
        "[virt-viewer]\ntype=spice\nhost=127.0.0.1\n"
        f"port={server.port}\ntls-port={server.tls_port}\npassword=pw\n"
        f"ca={pem}\nhost-subject={subject}\n"
    )
    return path


@pytest.mark.live
@pytest.mark.skipif(xspice_available() is not None, reason=str(xspice_available()))
def test_do_and_mcp_open_a_vv_file(tmp_path: Path) -> None:
    from spicepy.testing.pki import make_test_pki
    from spicepy.testing.xdraw import XDraw

    pki = make_test_pki(tmp_path / "pki")
    options = XspiceOptions(password="pw", tls=pki.files)
    ca = Path(pki.files.ca_cert)
    with Xspice(options) as server, XDraw(server.display) as draw:
        draw.fill_rect(20, 30, 200, 100, (250, 120, 10))
        draw.fill_rect(300, 200, 50, 60, (10, 200, 240))
        truth = draw.framebuffer()
        out = tmp_path / "do.png"
        proc = subprocess.run(
            [sys.executable, "-P", "-m", "spicepy", "do",
             str(_vv(tmp_path / "a.vv", server, ca, pki.host_subject)),
             "wait-settled", "capture", str(out)],
            capture_output=True, text=True, timeout=3 * TIMEOUT, check=False,
            cwd=tmp_path,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        assert np.array_equal(np.asarray(Image.open(out).convert("RGB")), truth)
        shot = asyncio.run(
            _mcp_screenshot(_vv(tmp_path / "b.vv", server, ca, pki.host_subject))
        )
    assert np.array_equal(shot, truth)


async def _mcp_screenshot(vv: Path) -> np.ndarray:
    pytest.importorskip("mcp")
    from mcp import ClientSession, StdioServerParameters, stdio_client

    params = StdioServerParameters(
        command=sys.executable,
        args=["-P", "-m", "spicepy", "mcp", str(vv)],
        env=dict(os.environ),  # the SDK passes only a few variables on
    )
    errlog = open(vv.with_suffix(".log"), "w")  # noqa: SIM115 - the server's stderr
    async with asyncio.timeout(TIMEOUT * 2):
        async with stdio_client(params, errlog=errlog) as (read, write):
            async with ClientSession(read, write) as client:
                await client.initialize()
                settled = await client.call_tool("wait_until_settled", {})
                assert not settled.is_error
                shot = await client.call_tool("screenshot", {})
                assert not shot.is_error
                image = next(c for c in shot.content if c.type == "image")
                png = Image.open(io.BytesIO(base64.b64decode(image.data)))
                return np.asarray(png.convert("RGB"))


def _libvirt_reason() -> str | None:
    from spicepy.testing.libvirtd import available

    return available()


@pytest.mark.live
@pytest.mark.skipif(_libvirt_reason() is not None, reason=str(_libvirt_reason()))
def test_do_by_libvirt_domain(tmp_path: Path) -> None:
    """``spicepy do --connect qemu:///system DOMAIN``: the password comes from
    the domain; the capture is libvirt's own screenshot, taken after ours."""
    from spicepy.testing.libvirtd import Libvirtd, LibvirtDomain

    out, dump = tmp_path / "do.png", tmp_path / "dump"
    with Libvirtd(), LibvirtDomain(password="libvirt-pw") as dom:
        proc = subprocess.run(
            [sys.executable, "-P", "-m", "spicepy", "do", "--connect",
             "qemu:///system", "--timeout", str(TIMEOUT), dom.name,
             "wait-settled", "--quiet", "1.0", "capture", str(out)],
            capture_output=True, text=True, timeout=3 * TIMEOUT, check=False,
            cwd=tmp_path,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        subprocess.run(
            ["virsh", "-c", "qemu:///system", "screenshot", dom.name, str(dump)],
            capture_output=True, check=True, timeout=60,
        )  # fmt: skip
    shot = np.asarray(Image.open(out).convert("RGB"))
    assert np.array_equal(shot, np.asarray(Image.open(dump).convert("RGB")))
