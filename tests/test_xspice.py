"""The Xspice harness itself: start, draw, read back, stop without leaks."""

from __future__ import annotations

import os
import socket
import ssl
from pathlib import Path
from typing import TypeVar

import numpy as np
import pytest

from spicepy.errors import SessionError
from spicepy.testing import xspice as xs
from spicepy.testing.pki import make_test_pki

REASON = xs.available()
_T = TypeVar("_T")
_needs_xspice = pytest.mark.skipif(
    REASON is not None and not os.environ.get("SPICEPY_REQUIRE_XSPICE"),
    reason=f"Xspice not available: {REASON}",
)


def live(test: _T) -> _T:
    """A test that starts a real Xspice: marked ``live`` (so ``-m "not live"``
    starts no server) and skipped where Xspice is not installed."""
    return pytest.mark.live(_needs_xspice(test))


def test_config_spells_out_driver_options() -> None:
    opts = xs.XspiceOptions(image_compression="glz", password="pw")
    text = xs.render_config(opts, 5999, None)
    for needle in (
        '"FrameBufferSize" "16"',
        '"SpicePort" "5999"',
        '"SpiceImageCompression" "glz"',
        '"SpiceDisableTicketing" "False"',
        '"SpicePassword" "pw"',
        '"SpiceTlsPort" "0"',
        'Modes "1024x768"',
        "DefaultDepth 24",
    ):
        assert needle in text
    plain = xs.render_config(xs.XspiceOptions(), 5999, None)
    assert '"SpiceDisableTicketing" "True"' in plain
    assert "SpicePassword" not in plain


def test_config_quotes_values() -> None:
    text = xs.render_config(xs.XspiceOptions(password='a"b\\c'), 1, None)
    assert '"SpicePassword" "a\\"b\\\\c"' in text


def test_listening_ports_sees_a_listener() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        assert port in xs.listening_ports()
    assert port not in xs.listening_ports()


@live
def test_start_draw_read_stop() -> None:
    from spicepy.testing.xdraw import XDraw

    server = xs.Xspice()
    with server:
        assert server.running
        assert server.port in xs.listening_ports()
        pid = server._proc.pid if server._proc else -1
        workdir = server.workdir
        with XDraw(server.display) as draw:
            assert (draw.width, draw.height) == (1024, 768)
            draw.fill_rect(10, 20, 30, 40, (200, 100, 50))
            img = np.arange(5 * 7 * 3, dtype=np.uint8).reshape(5, 7, 3)
            draw.put_image(100, 200, img)
            fb = draw.framebuffer()
        assert fb.shape == (768, 1024, 3)
        assert (fb[20:60, 10:40] == (200, 100, 50)).all()
        assert not (fb[19, 10:40] == (200, 100, 50)).all(axis=-1).any()
        assert np.array_equal(fb[200:205, 100:107], img)
    assert not server.running
    assert not os.path.exists(f"/proc/{pid}") or _is_zombie_or_gone(pid)
    assert workdir is not None and not workdir.exists()
    assert not os.path.exists(f"/tmp/.X{server.display_number}-lock")


def _is_zombie_or_gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except OSError:
        return True


@live
def test_env_runs_x_clients_against_the_server() -> None:
    import subprocess

    with xs.Xspice() as server:
        proc = subprocess.run(
            ["xdpyinfo"], env=server.env, capture_output=True, text=True, timeout=30
        )
    assert proc.returncode == 0
    assert f"name of display:    {server.display}" in proc.stdout
    assert "1024x768 pixels" in proc.stdout


@live
def test_cleans_up_when_body_raises() -> None:
    server = xs.Xspice()
    with pytest.raises(RuntimeError), server:
        raise RuntimeError("boom")
    assert not server.running
    assert server.port not in xs.listening_ports()


@live
def test_two_servers_side_by_side() -> None:
    with xs.Xspice() as a, xs.Xspice() as b:
        assert a.port != b.port
        assert a.display != b.display


@live
def test_bad_option_reports_xorg_log(tmp_path: Path) -> None:
    missing = xs.TlsFiles(tmp_path / "no-ca", tmp_path / "no-cert", tmp_path / "no-key")
    with pytest.raises(SessionError):
        xs.Xspice(xs.XspiceOptions(tls=missing), start_timeout=20).start()


@live
def test_tls_port_serves_our_certificate(tmp_path: Path) -> None:
    pki = make_test_pki(tmp_path / "pki")
    with xs.Xspice(xs.XspiceOptions(tls=pki.files)) as server:
        assert server.tls_port is not None
        assert f"tls-port={server.tls_port}" in server.uri
        ctx = ssl.create_default_context(cafile=str(pki.files.ca_cert))
        with socket.create_connection((server.host, server.tls_port), timeout=10) as s:
            with ctx.wrap_socket(s, server_hostname="localhost") as tls:
                cert = tls.getpeercert()
        assert cert is not None
        subject = dict(item[0] for item in cert["subject"])  # type: ignore[misc]
        assert subject["commonName"] == pki.host_subject.rsplit("CN=", 1)[1]


@live
def test_port_taken_by_someone_else_is_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    """Readiness means Xorg's own LISTEN socket, not any listener on the port."""
    squatter = socket.socket()
    squatter.bind(("127.0.0.1", 0))
    squatter.listen()
    taken = squatter.getsockname()[1]
    picks: list[int] = []
    real_free_port = xs.free_port

    def first_pick_is_taken() -> int:
        picks.append(taken if not picks else real_free_port())
        return picks[-1]

    monkeypatch.setattr(xs, "free_port", first_pick_is_taken)
    try:
        with xs.Xspice() as server:
            assert server.port != taken and len(picks) == 2
            assert server.running
    finally:
        squatter.close()
