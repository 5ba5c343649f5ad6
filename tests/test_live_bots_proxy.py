"""The recording proxy on Xspice: a session typed and clicked through it; the
recorded script, replayed by ``spicepy do`` on a fresh server, gives the same
final screen, and the recorded pcap replays (``spicepy replay``) to it too."""

from __future__ import annotations

import asyncio
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
