"""Shared by the live bot tests: an Xspice desktop with a focused xterm."""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from spicepy.bots import ocr
from spicepy.bots.cli import add_do
from spicepy.testing.xspice import Xspice, XspiceOptions, available

REASON = available() or ocr.unavailable()
for _tool in ("xterm", "xmessage", "xdotool"):
    if REASON is None and shutil.which(_tool) is None:
        REASON = f"{_tool} is not installed"
pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(
        REASON is not None and not os.environ.get("SPICEPY_REQUIRE_XSPICE"),
        reason=f"bots live test needs: {REASON}",
    ),
]
DATA = Path(__file__).parent / "data" / "bots"
XTERM = [
    "xterm", "-geometry", "60x12+20+20", "-fa", "DejaVu Sans Mono", "-fs", "12",
    "-e", "bash", "--norc", "--noprofile",
]  # fmt: skip


@contextlib.contextmanager
def running_desktop(tmp_path: Path) -> Iterator[Xspice]:
    """Xspice with a focused xterm whose shell prompt is "$ "."""
    with Xspice(XspiceOptions(image_compression="off")) as server:
        env = dict(server.env, PS1="$ ")
        term = subprocess.Popen(XTERM, env=env, cwd=tmp_path)
        try:
            found = subprocess.run(
                ["xdotool", "search", "--sync", "--onlyvisible", "--class", "XTerm"],
                env=env, capture_output=True, text=True, timeout=60, check=True,
            )  # fmt: skip
            wid = found.stdout.split()[0]
            subprocess.run(
                ["xdotool", "windowfocus", wid], env=env, timeout=30, check=True
            )
            yield server
        finally:
            term.terminate()
            term.wait(timeout=10)


def spicepy_do(argv: list[str]) -> int:
    """``spicepy do ...`` through the same add_do the spicepy CLI registers."""
    parser = argparse.ArgumentParser(prog="spicepy")
    add_do(parser.add_subparsers())
    args = parser.parse_args(["do", *argv])
    status: int = args.func(args)
    return status
