"""The recording proxy on Xspice: a session typed and clicked through it; the
recorded script, replayed by ``spicepy do`` on a fresh server, gives the same
final screen, and the recorded pcap replays (``spicepy replay``) to it too."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from _bots_desktop import pytestmark as pytestmark
from _bots_desktop import running_desktop, spicepy_do
from PIL import Image

import spicepy
from spicepy.bots.proxy import RecordingProxy
from spicepy.bots.script import parse
from spicepy.capture.replay import replay
from spicepy.testing.xdraw import XDraw
from spicepy.testing.xspice import free_display

TIMEOUT = 60.0


async def drive_through_proxy(target_port: int, record: Path, pcap: Path) -> np.ndarray:
    async with asyncio.timeout(TIMEOUT * 2):
        proxy = await RecordingProxy(
            ("127.0.0.1", 0), ("127.0.0.1", target_port), record, pcap=pcap
        ).start()
        try:
            async with spicepy.connect(
                f"spice://127.0.0.1:{proxy.port}", timeout=TIMEOUT
            ) as s:
                await s.wait_for_frame(TIMEOUT)
                await s.type_text("echo REC$((6*7))\n")
                await s.click(300, 500)
                await s.key_press("l", modifiers=("ctrl",))  # clear, then retype
                await s.type_text("echo again\n")
                await s.wait_until_settled(quiet=1.0, timeout=TIMEOUT)
                await asyncio.sleep(1.0)
                await s.wait_until_settled(quiet=1.0, timeout=TIMEOUT)
                return s.screenshot()
        finally:
            await proxy.close()


def test_recorded_script_replays_to_the_same_screen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    record, pcap = tmp_path / "recorded.txt", tmp_path / "session.pcap"
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with running_desktop(tmp_path / "a") as first:
        original = asyncio.run(drive_through_proxy(first.port, record, pcap))
    # the capture of the whole session replays to the screen the client saw
    assert np.array_equal(replay(pcap).primary, original)
    steps = parse(record.read_text())
    assert [(s.command, *s.args) for s in steps] == [
        ("type", "echo REC$((6*7))"),
        ("key", "enter"),
        ("move", 300, 500),
        ("click", 1),
        ("key", "ctrl-l"),
        ("type", "echo again"),
        ("key", "enter"),
    ]
    monkeypatch.chdir(tmp_path)
    with running_desktop(tmp_path / "b") as second:
        status = spicepy_do(
            ["--timeout", str(TIMEOUT), "-f", str(record), second.uri,
             "wait-settled", "--quiet", "1", "pause", "1",
             "wait-settled", "--quiet", "1", "capture", "replayed.png"]
        )  # fmt: skip
    assert status == 0
    replayed = np.asarray(Image.open(tmp_path / "replayed.png").convert("RGB"))
    assert np.array_equal(replayed, original)


def xdo(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        ["xdotool", *args], env=env, capture_output=True, text=True, timeout=30
    )
    return done.stdout


async def remote_viewer_session(target_port: int, record: Path, logs: Path) -> None:
    """remote-viewer under Xvfb, through the proxy, driven by xdotool."""
    proxy = await RecordingProxy(
        ("127.0.0.1", 0), ("127.0.0.1", target_port), record
    ).start()
    display = free_display(500, 700)
    xvfb = subprocess.Popen(
        ["Xvfb", f":{display}", "-screen", "0", "1280x1024x24", "-nolisten", "tcp"]
    )
    env = {k: v for k, v in os.environ.items() if k != "XAUTHORITY"}
    env["DISPLAY"] = f":{display}"
    with (logs / "remote-viewer.log").open("w") as log:
        viewer = subprocess.Popen(
            ["remote-viewer", f"spice://127.0.0.1:{proxy.port}"], env=env, stderr=log
        )
    try:
        window = ""
        for _ in range(120):
            await asyncio.sleep(0.5)
            window = xdo(env, "search", "--onlyvisible", "--class", "remote-viewer")
            if window.strip():
                break
        assert window.strip(), "remote-viewer did not open a window"
        wid = window.split()[-1]
        xdo(env, "windowfocus", wid)
        await asyncio.sleep(3)  # linked and showing the guest
        xdo(env, "mousemove", "--window", wid, "300", "300")
        await asyncio.sleep(0.5)
        xdo(env, "type", "--delay", "60", "echo RV$((6*7))")
        xdo(env, "key", "Return")
        await asyncio.sleep(1)
        xdo(env, "mousemove", "--window", wid, "700", "600", "click", "1")
        await asyncio.sleep(3)
    finally:
        viewer.terminate()
        xvfb.terminate()
        viewer.wait(timeout=10)
        xvfb.wait(timeout=10)
        await proxy.close()


@pytest.mark.skipif(
    not (shutil.which("remote-viewer") and shutil.which("Xvfb")),
    reason="needs remote-viewer (virt-viewer) and Xvfb",
)
def test_remote_viewer_session_recorded_and_replayed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = tmp_path / "rv.txt"
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with running_desktop(tmp_path / "a") as first:
        asyncio.run(remote_viewer_session(first.port, record, tmp_path))
        with XDraw(first.display) as draw:
            original = draw.framebuffer()
    steps = parse(record.read_text())
    said = [(s.command, *s.args) for s in steps if s.command != "pause"]
    assert said[:2] == [("type", "echo RV$((6*7))"), ("key", "enter")]
    assert [s[0] for s in said[2:]] == ["move", "click"], said
    monkeypatch.chdir(tmp_path)
    with running_desktop(tmp_path / "b") as second:
        status = spicepy_do(
            ["--timeout", str(TIMEOUT), "-f", str(record), second.uri,
             "wait-settled", "--quiet", "1", "pause", "1", "wait-settled"]
        )  # fmt: skip
        assert status == 0
        with XDraw(second.display) as draw:
            replayed = draw.framebuffer()
    assert np.array_equal(replayed, original)
