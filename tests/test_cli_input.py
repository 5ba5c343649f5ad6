"""`spicepy type/key/click/wait` against a real Xspice: the X server sees the input."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import TypeVar

import numpy as np
import pytest
from PIL import Image

from spicepy.cli import build_parser
from spicepy.testing.xdraw import XDraw, draw_test_scene
from spicepy.testing.xspice import Xspice, XspiceOptions, available

REASON = available()
_T = TypeVar("_T")
_needs_xspice = pytest.mark.skipif(
    REASON is not None and not os.environ.get("SPICEPY_REQUIRE_XSPICE"),
    reason=f"Xspice not available: {REASON}",
)


def live(test: _T) -> _T:
    """A test that starts a real Xspice: marked ``live`` (so ``-m "not live"``
    starts no server) and skipped where Xspice is not installed."""
    return pytest.mark.live(_needs_xspice(test))


# Xspice's keymap: X keycode = PC/AT set-1 scancode + 8
SHIFT, H, I_KEY, ENTER, F2, CTRL = (
    0x2A + 8,
    0x23 + 8,
    0x17 + 8,
    0x1C + 8,
    0x3C + 8,
    0x1D + 8,
)


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "spicepy", *args],
        capture_output=True,
        text=True,
        timeout=90,
        stdin=subprocess.DEVNULL,
    )


def test_parser_knows_the_input_commands() -> None:
    parser = build_parser()
    args = parser.parse_args(["click", "spice://h:1", "10", "20", "--button", "3"])
    assert (args.x, args.y, args.button, args.count) == (10, 20, 3, 1)
    args = parser.parse_args(["key", "spice://h:1", "ctrl+alt+f2", "enter"])
    assert args.keys == ["ctrl+alt+f2", "enter"]
    args = parser.parse_args(["wait", "spice://h:1", "--change", "-o", "x.png"])
    assert args.change and args.output == Path("x.png")


@live
def test_type_key_click_reach_the_x_server(tmp_path: Path) -> None:
    from Xlib import X

    with Xspice(XspiceOptions()) as server, XDraw(server.display) as draw:
        d = draw._d
        mask = X.KeyPressMask | X.ButtonPressMask
        win = draw.root.create_window(0, 0, 1024, 768, 0, 24, event_mask=mask)
        win.map()
        win.set_input_focus(X.RevertToParent, X.CurrentTime)
        d.sync()
        typed = run("type", server.uri, "hI\n")
        keyed = run("key", server.uri, "ctrl+f2")
        out = tmp_path / "after-click.png"
        clicked = run(
            "click", server.uri, "200", "300", "--button", "3", "-o", str(out)
        )
        d.sync()
        keys: list[int] = []
        buttons: list[tuple[int, int, int]] = []
        while d.pending_events():
            ev = d.next_event()
            if ev.type == X.KeyPress:
                keys.append(ev.detail)
            elif ev.type == X.ButtonPress:
                buttons.append((ev.detail, ev.root_x, ev.root_y))
        truth = draw.framebuffer()
    for proc in (typed, keyed, clicked):
        assert proc.returncode == 0, proc.stderr
    assert "typed 3 characters" in typed.stdout
    assert keys == [H, SHIFT, I_KEY, ENTER, CTRL, F2]
    assert buttons == [(3, 200, 300)]
    assert np.array_equal(np.asarray(Image.open(out).convert("RGB")), truth)


@live
def test_wait_for_change_then_save(tmp_path: Path) -> None:
    out = tmp_path / "changed.png"
    with Xspice(XspiceOptions()) as server, XDraw(server.display) as draw:
        draw.clear((10, 20, 30))
        draw.sync()
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "spicepy",
                "wait",
                server.uri,
                "--change",
                "-o",
                str(out),
                "--quiet-time",
                "1.5",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            stdin=subprocess.DEVNULL,
        )
        try:
            assert proc.stderr is not None
            line = proc.stderr.readline()  # "spicepy: connected" (or an error)
            assert "connected" in line, line + proc.stderr.read()
            draw_test_scene(draw, seed=3)
            draw.sync()
            stdout, stderr = proc.communicate(timeout=60)
            truth = draw.framebuffer()
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 0, stderr
    assert "screen changed" in stdout
    shot = np.asarray(Image.open(out).convert("RGB"))
    assert shot.shape == truth.shape
    assert np.array_equal(shot, truth)


def test_click_blind_makes_server_moves_blind() -> None:
    """``spicepy click --blind``: a guest that shows no pointer is clicked
    without seeing the move land (the default is an error)."""
    import asyncio
    from typing import Any, cast

    from spicepy.cli import build_parser
    from spicepy.cli_input import _click

    class Session:
        def __init__(self) -> None:
            self.mouse = type("Mouse", (), {"exact": True})()
            self.seen: list[bool] = []

        async def click(self, x: int, y: int, button: int) -> None:
            self.seen.append(self.mouse.exact)

    for extra, exact in (([], True), (["--blind"], False)):
        args = build_parser().parse_args(["click", "spice://h:1", "1", "2", *extra])
        session = Session()
        asyncio.run(_click(cast(Any, session), args))
        assert session.seen == [exact]
