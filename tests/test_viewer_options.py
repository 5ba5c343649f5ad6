"""``spicepy view``'s options: a remote-viewer ``.vv`` file's ``fullscreen=``
and ``title=`` (the command line over them), the windows' names with
remote-viewer's ``%d``, and the playback latency bound (``--audio-latency``)."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from spicepy.audio import AudioFrame
from spicepy.cli_view import add_view, view_options
from spicepy.session.targets import resolve
from spicepy.session.vv import parse_vv
from spicepy.viewer.app import window_name

VV = "[virt-viewer]\ntype=spice\nhost=10.0.0.7\nport=5901\n"


@pytest.mark.parametrize(
    ("line", "full"),
    [("fullscreen=1\n", True), ("fullscreen=0\n", False), ("fullscreen = 2\n", True)],
)
def test_vv_fullscreen_is_remote_viewers_int(line: str, full: bool) -> None:
    assert parse_vv(VV + line).full_screen is full


def test_vv_without_fullscreen_says_nothing_and_a_word_is_an_error() -> None:
    assert parse_vv(VV).full_screen is None
    with pytest.raises(ValueError, match="fullscreen"):
        parse_vv(VV + "fullscreen=yes\n")


def parse(tmp_path: Path, vv: str, *argv: str) -> argparse.Namespace:
    path = tmp_path / "console.vv"
    path.write_text(vv)
    parser = argparse.ArgumentParser()
    add_view(parser.add_subparsers())
    return parser.parse_args(["view", str(path), *argv])


def options(tmp_path: Path, vv: str, *argv: str) -> tuple[bool, str]:
    args = parse(tmp_path, vv, *argv)
    got = view_options(args, resolve(args.uri))
    return got.full_screen, got.title


def test_vv_title_and_fullscreen_reach_the_viewer(tmp_path: Path) -> None:
    vv = VV + "fullscreen=1\ntitle=Finance desk %d\\sVM\n"
    assert options(tmp_path, vv) == (True, "Finance desk %d VM")


def test_command_line_wins_over_the_file(tmp_path: Path) -> None:
    on = VV + "fullscreen=1\ntitle=from the file\n"
    assert options(tmp_path, on, "--no-full-screen", "--title", "mine") == (
        False,
        "mine",
    )
    off = VV + "fullscreen=0\n"
    assert options(tmp_path, off, "--full-screen") == (True, "spicepy 10.0.0.7:5901")
    assert options(tmp_path, VV) == (False, "spicepy 10.0.0.7:5901")


def test_window_names_follow_remote_viewers_title_rule() -> None:
    # virt-viewer-app.c: the first %d is the window's number from 1
    assert window_name("vm %d of %d", 0, "display 0") == "vm 1 of %d"
    assert window_name("[%d] vm", 2, "display 1 monitor 1") == "[3] vm"
    # without %d: the main window is the title, the others say their head
    assert window_name("spicepy h:1", 0, "display 0") == "spicepy h:1"
    assert window_name("spicepy h:1", 1, "display 1") == "display 1 - spicepy h:1"


@given(st.text(max_size=20), st.integers(0, 15))
def test_window_name_keeps_the_text_around_the_number(title: str, nth: int) -> None:
    name = window_name(title, nth, "display 9")
    if "%d" in title:
        before, _, after = title.partition("%d")
        assert name == f"{before}{nth + 1}{after}"
    elif nth:
        assert name == f"display 9 - {title}"
    else:
        assert name == title


def test_audio_latency_option_bounds_the_queue(tmp_path: Path) -> None:
    from spicepy.viewer import audio

    args = parse(tmp_path, VV, "--audio-latency", "0.5")
    assert view_options(args, resolve(args.uri)).audio_latency == 0.5
    for bad in ("0", "-1", "nan", "x"):
        with pytest.raises(SystemExit):
            parse(tmp_path, VV, "--audio-latency", bad)
    with pytest.raises(ValueError, match="max_buffered"):
        audio.AudioOut(0.0)

    out = audio.AudioOut(0.5)
    out._device, out._format = object(), (48000, 2)  # no SDL device: pull by hand
    frames = [np.full((480, 2), i + 1, np.int16) for i in range(51)]  # 10 ms each
    for f in frames:
        out.play(AudioFrame(0, 48000, f))
    assert out.dropped_bytes == 480 * 4  # 510 ms queued: the oldest 10 ms went
    buf = bytearray(50 * 480 * 4)
    out._fill(None, memoryview(buf))
    got = np.frombuffer(bytes(buf), np.int16).reshape(-1, 2)
    np.testing.assert_array_equal(got, np.concatenate(frames[1:]))
