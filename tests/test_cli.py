"""The spicepy CLI: parser, failures as one-line reasons, and keymap helpers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import TypeVar

import numpy as np
import pytest
from PIL import Image

from spicepy.cli import build_parser, main
from spicepy.session.keymap import key_code, text_strokes, wire_bytes
from spicepy.testing.xdraw import XDraw, draw_test_scene
from spicepy.testing.xspice import Xspice, XspiceOptions, available


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_parser_has_screenshot_and_demo() -> None:
    parser = build_parser()
    args = parser.parse_args(
        ["screenshot", "spice://h:1", "-o", "x.png", "--when-stdin"]
    )
    assert args.command == "screenshot" and args.when_stdin and args.timeout == 30.0
    assert build_parser().parse_args(["demo"]).compression == "off"


def test_every_registered_subcommand_is_there() -> None:
    from spicepy import cli

    choices = build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    names = {spec.split(":")[1].removeprefix("add_") for spec in cli.COMMANDS}
    assert {"screenshot", "demo", "type", "key", "click", "wait", "replay",
            "inspect"} <= set(choices)  # fmt: skip
    assert len(choices) == len(cli.COMMANDS), names


@pytest.mark.parametrize(
    ("command", "says"),
    [("do", "vncdo"), ("mcp", "Model Context Protocol"), ("proxy", "forward")],
)
def test_bots_subcommands_are_registered(
    command: str, says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    out = capsys.readouterr().out
    assert exit_info.value.code == 0
    assert out.startswith(f"usage: spicepy {command}") and says in out


def test_a_broken_subcommand_module_is_an_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from spicepy import cli

    monkeypatch.setattr(cli, "COMMANDS", [*cli.COMMANDS, "spicepy.no_such_cli:add_x"])
    with pytest.raises(ImportError, match="no_such_cli"):
        build_parser()


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "screenshot" in capsys.readouterr().out


def test_bad_uri_exit_2_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["screenshot", "vnc://h:1", "-o", "x.png"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("spicepy: error:")


def test_plain_without_plain_port(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["screenshot", "spice+tls://h:1", "-o", "x.png", "--plain"]) == 2


def test_refused_exit_1_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "x.png"
    status = main(["screenshot", f"spice://127.0.0.1:{closed_port()}", "-o", str(out)])
    err = capsys.readouterr().err
    assert status == 1
    assert err.count("\n") == 1 and "refused" in err
    assert not out.exists()


def test_python_dash_m_runs() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "spicepy", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0 and "demo" in proc.stdout


def test_building_the_parser_imports_no_channel_or_session_code() -> None:
    """cli.py's rule: registering the subcommands is argparse only; each
    command imports its machinery when it runs (``spicepy --help`` took 0.36 s
    when ``do``'s help text pulled in every channel through bots.script)."""
    code = (
        "import sys; from spicepy.cli import build_parser; build_parser(); "
        "print(sorted(m for m in sys.modules if m.startswith(("
        "'spicepy.channels', 'spicepy.session', 'spicepy.canvas', "
        "'spicepy.wire', 'spicepy.bots.script', 'numpy'))))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert proc.stdout.strip() == "[]"


def test_keymap_us_layout() -> None:
    # set-1 scancodes: 'a' 0x1E, 'A' is shift + 0x1E, '!' is shift + '1' (0x02)
    assert text_strokes("aA!\n") == [
        (0x1E, False),
        (0x1E, True),
        (0x02, True),
        (0x1C, False),
    ]
    assert key_code("F5") == 0x3F and key_code("Enter") == 0x1C
    assert wire_bytes(key_code("up")) == b"\xe0\x48"
    assert wire_bytes(key_code("up"), release=True) == b"\xe0\xc8"
    assert wire_bytes(0x1E, release=True) == b"\x9e"
    with pytest.raises(ValueError):
        text_strokes("é")
    with pytest.raises(ValueError):
        key_code("nosuchkey")


_T = TypeVar("_T")
_needs_xspice = pytest.mark.skipif(
    available() is not None and not os.environ.get("SPICEPY_REQUIRE_XSPICE"),
    reason=f"Xspice not available: {available()}",
)


def live(test: _T) -> _T:
    """A test that starts a real Xspice: marked ``live`` (so ``-m "not live"``
    starts no server) and skipped where Xspice is not installed."""
    return pytest.mark.live(_needs_xspice(test))


def _spicepy(*args: str, **kwargs: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "spicepy", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,  # type: ignore[call-overload]
    )


@live
def test_cli_screenshot_matches_framebuffer(tmp_path: Path) -> None:
    out = tmp_path / "shot.png"
    with Xspice(XspiceOptions(password="pw")) as server, XDraw(server.display) as draw:
        draw_test_scene(draw, seed=11)
        proc = _spicepy(
            "screenshot",
            server.uri,
            "-o",
            str(out),
            "--password",
            "pw",
            "--timeout",
            "30",
            stdin=subprocess.DEVNULL,
        )
        stdout, stderr = proc.communicate(timeout=90)
        truth = draw.framebuffer()
        bad = _spicepy(
            "screenshot",
            server.uri,
            "-o",
            str(tmp_path / "no.png"),
            "--password",
            "wrong",
            stdin=subprocess.DEVNULL,
        )
        _, bad_err = bad.communicate(timeout=90)
    assert proc.returncode == 0, stderr
    assert "saved 1024x768" in stdout
    assert np.array_equal(np.asarray(Image.open(out).convert("RGB")), truth)
    assert bad.returncode == 1
    assert bad_err.count("\n") == 1 and "AuthenticationError" in bad_err


@live
def test_cli_when_stdin_waits_for_a_line(tmp_path: Path) -> None:
    out = tmp_path / "later.png"
    with Xspice() as server, XDraw(server.display) as draw:
        draw.clear((10, 20, 30))
        draw.sync()
        proc = _spicepy(
            "screenshot",
            server.uri,
            "-o",
            str(out),
            "--when-stdin",
            "--quiet-time",
            "1.5",
            stdin=subprocess.PIPE,
        )
        assert proc.stdin is not None and proc.stderr is not None
        assert "connected" in proc.stderr.readline()  # the session is up and waiting
        draw.fill_rect(100, 100, 200, 150, (250, 10, 10))
        draw.sync()
        stdout, stderr = proc.communicate("go\n", timeout=90)
        truth = draw.framebuffer()
    assert proc.returncode == 0, stderr
    shot = np.asarray(Image.open(out).convert("RGB"))
    assert (shot[100:250, 100:300] == (250, 10, 10)).all()
    assert np.array_equal(shot, truth)


@live
def test_cli_screenshot_over_tls(tmp_path: Path) -> None:
    from spicepy.testing.pki import make_test_pki

    pki = make_test_pki(tmp_path / "pki")
    out = tmp_path / "tls.png"
    with Xspice(XspiceOptions(tls=pki.files)) as server, XDraw(server.display) as draw:
        draw_test_scene(draw, seed=23)
        uri = f"spice+tls://127.0.0.1:{server.tls_port}"
        proc = _spicepy(
            "screenshot",
            uri,
            "-o",
            str(out),
            "--ca-file",
            str(pki.files.ca_cert),
            "--host-subject",
            pki.host_subject,
            stdin=subprocess.DEVNULL,
        )
        stdout, stderr = proc.communicate(timeout=90)
        truth = draw.framebuffer()
        wrong = _spicepy(
            "screenshot", uri, "-o", str(tmp_path / "no.png"), stdin=subprocess.DEVNULL
        )
        _, wrong_err = wrong.communicate(timeout=90)
    assert proc.returncode == 0, stderr
    assert np.array_equal(np.asarray(Image.open(out).convert("RGB")), truth)
    # without our CA the system store cannot verify the test certificate
    assert wrong.returncode == 1 and "verification" in wrong_err
    assert wrong_err.count("\n") == 1


def test_type_text_escapes() -> None:
    from spicepy.cli_input import unescape_text

    assert unescape_text(r"echo hi\n") == "echo hi\n"
    assert unescape_text(r"a\tb\\nc\x\\") == "a\tb\\nc\\x\\"
    assert unescape_text("\\") == "\\"  # a lone trailing backslash stays
    assert build_parser().parse_args(["type", "spice://h:1", "x"]).delay is None


def test_target_options_on_every_connecting_command() -> None:
    for command in ("screenshot", "type", "key", "click", "wait", "clipboard",
                    "resize", "send-file", "record-audio"):  # fmt: skip
        extra = {"screenshot": ["-o", "x.png"], "type": ["t"], "key": ["a"],
                 "click": ["1", "2"], "resize": ["1", "2"], "send-file": ["f"],
                 "record-audio": ["a.wav"]}.get(command, [])  # fmt: skip
        args = build_parser().parse_args(
            [command, "dom", "--connect", "qemu:///system", "--plain",
             "--proxy", "http://p:3128", "--username", "u", *extra]
        )  # fmt: skip
        assert (args.connect, args.plain, args.proxy, args.username) == (
            "qemu:///system", True, "http://p:3128", "u"
        ), command  # fmt: skip


def test_a_vnc_vv_file_is_refused_in_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    vv = tmp_path / "console.vv"
    vv.write_text("[virt-viewer]\ntype=vnc\nhost=h\nport=1\n")
    assert main(["screenshot", str(vv), "-o", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "vnc" in err


def _vv_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


@live
def test_cli_screenshot_of_a_vv_file_secure_by_default(tmp_path: Path) -> None:
    """A .vv with both ports, password, the CA as PEM data, host subject and a
    disabled channel: every channel over TLS, exact pixels, and -v says which
    listed channel was not opened."""
    from spicepy.testing.pki import make_test_pki

    pki = make_test_pki(tmp_path / "pki")
    out = tmp_path / "vv.png"
    options = XspiceOptions(password="pw", tls=pki.files)
    with Xspice(options) as server, XDraw(server.display) as draw:
        draw_test_scene(draw, seed=31)
        vv = tmp_path / "console.vv"
        vv.write_text(
            "[virt-viewer]\ntype=spice\nhost=127.0.0.1\n"
            f"port={server.port}\ntls-port={server.tls_port}\npassword=pw\n"
            f"ca={_vv_escape(Path(pki.files.ca_cert).read_text())}\n"
            f"host-subject={pki.host_subject}\ndisable-channels=cursor\n"
            "delete-this-file=1\n"
        )
        proc = _spicepy(
            "-v", "screenshot", str(vv), "-o", str(out),
            "--preferred-compression", "lz", stdin=subprocess.DEVNULL,
        )  # fmt: skip
        stdout, stderr = proc.communicate(timeout=90)
        truth = draw.framebuffer()
    assert proc.returncode == 0, stderr
    assert np.array_equal(np.asarray(Image.open(out).convert("RGB")), truth)
    assert not vv.exists()  # delete-this-file
    for name in ("main:0", "display:0", "inputs:0"):
        assert f"{name}: linking over TLS" in stderr, stderr
    assert "linking over TCP" not in stderr
    assert "not opening cursor:0: not chosen" in stderr


def test_a_multi_line_error_is_reported_in_its_first_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import spicepy.client
    from spicepy.errors import SessionError

    async def fails(*args: object, **kwargs: object) -> tuple[int, int]:
        raise SessionError("the first line\nand a second one")

    monkeypatch.setattr(spicepy.client, "screenshot", fails)
    assert main(["screenshot", "spice://127.0.0.1:1", "-o", "x.png"]) == 1
    err = capsys.readouterr().err
    assert err == "spicepy: error: SessionError: the first line\n"


def test_an_interrupt_exits_130_in_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import spicepy.client

    async def interrupted(*args: object, **kwargs: object) -> tuple[int, int]:
        raise KeyboardInterrupt

    monkeypatch.setattr(spicepy.client, "screenshot", interrupted)
    assert main(["screenshot", "spice://127.0.0.1:1", "-o", "x.png"]) == 130
    assert capsys.readouterr().err == "spicepy: error: interrupted\n"
