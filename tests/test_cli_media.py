"""`spicepy clipboard/resize/send-file/record-audio` and `screenshot --cursor`
against Xspice with the guest agent (spicepy.testing.xspice_agent)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TypeVar

import numpy as np
import pytest

from spicepy.cli import build_parser
from spicepy.testing.xspice import available as xspice_available
from spicepy.testing.xspice_agent import AgentXspice, agent_available, feed_fifo

MISSING = xspice_available() or agent_available()
if MISSING is None and shutil.which("xclip") is None:
    MISSING = "xclip missing"
_T = TypeVar("_T")


def live(test: _T) -> _T:
    """Starts a real Xspice with the agent: marked ``live``, skipped without it."""
    return pytest.mark.live(
        pytest.mark.skipif(MISSING is not None, reason=str(MISSING))(test)
    )


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "spicepy", *args],
        capture_output=True,
        text=True,
        timeout=90,
        stdin=subprocess.DEVNULL,
    )


def x(srv: AgentXspice, *args: str, data: bytes | None = None) -> bytes:
    return subprocess.run(
        list(args), input=data, capture_output=True, env=srv.env, timeout=20, check=True
    ).stdout


def stderr_until(proc: subprocess.Popen[str], text: str) -> str:
    """Read ``proc``'s stderr up to the line containing ``text`` (what was read)."""
    assert proc.stderr is not None
    seen = ""
    while text not in seen:
        line = proc.stderr.readline()
        if not line:  # exited without saying it
            pytest.fail(f"no {text!r} line on stderr: {seen!r}")
        seen += line
    return seen


def xclip_set(srv: AgentXspice, text: str) -> None:
    """Set the X CLIPBOARD; xclip serves one request (the agent's copy), exits."""
    proc = subprocess.Popen(
        ["xclip", "-selection", "clipboard", "-i", "-loops", "1"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=srv.env,
    )
    assert proc.stdin is not None
    proc.stdin.write(text.encode())
    proc.stdin.close()


def clipboard_getter(srv: AgentXspice) -> subprocess.Popen[str]:
    """``spicepy clipboard URI``: prints the next text the guest copies."""
    return subprocess.Popen(
        [sys.executable, "-m", "spicepy", "clipboard", srv.uri],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )


def test_parser_knows_the_media_commands() -> None:
    parser = build_parser()
    args = parser.parse_args(["clipboard", "spice://h:1", "--set", "hi", "--primary"])
    assert (args.set, args.primary, args.hold) == ("hi", True, 5.0)
    args = parser.parse_args(["resize", "spice://h:1", "800", "600"])
    assert (args.width, args.height) == (800, 600)
    args = parser.parse_args(["record-audio", "spice://h:1", "a.wav", "--seconds", "2"])
    assert (args.wav, args.seconds) == (Path("a.wav"), 2.0)
    assert parser.parse_args(
        ["screenshot", "spice://h:1", "-o", "x.png", "--cursor"]
    ).cursor
    with pytest.raises(SystemExit):
        parser.parse_args(["clipboard", "spice://h:1", "--set", "a", "--get-png", "b"])


@live
def test_agent_commands(tmp_path: Path) -> None:
    with AgentXspice() as srv:
        assert srv.agent_attached()  # start() returns with the agent up
        # the guest's clipboard, printed: set once the command says the agent is
        # ready (spice-vdagent announces a change once, and only to a client
        # whose capabilities it has)
        getter = clipboard_getter(srv)
        stderr_until(getter, "agent ready")
        xclip_set(srv, "from X ✓")
        out, err = getter.communicate(timeout=60)
        assert getter.returncode == 0, err + srv.log() + srv.log("vdagentd.log")
        assert out.strip() == "from X ✓"
        # offered to the guest: xclip reads it while the command holds it
        setter = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "spicepy",
                "clipboard",
                srv.uri,
                "--set",
                "from CLI",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        got = b""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and got != b"from CLI":
            try:
                got = x(srv, "xclip", "-selection", "clipboard", "-o")
            except subprocess.CalledProcessError:
                pass
            time.sleep(0.2)
        out, err = setter.communicate(timeout=60)
        assert got == b"from CLI", err
        assert setter.returncode == 0 and "offered 8 characters" in out
        # resize
        done = cli("resize", srv.uri, "640", "480")
        assert done.returncode == 0, done.stderr
        assert "current 640 x 480" in x(srv, "xrandr").decode()
        # file transfer
        payload = tmp_path / "notes.txt"
        payload.write_bytes(os.urandom(5000))
        done = cli("send-file", srv.uri, str(payload))
        assert done.returncode == 0, done.stderr
        assert (srv.files_dir / "notes.txt").read_bytes() == payload.read_bytes()


@live
def test_clipboard_getter_linked_before_the_agent() -> None:
    """The guest agent starts after the command linked (a guest still booting):
    "agent ready" comes once the agent answered, and a change made then reaches
    the command."""
    with AgentXspice(defer_agent=True) as srv:
        getter = clipboard_getter(srv)
        agent = threading.Thread(target=srv.start_agent)
        try:
            stderr_until(getter, "connected")
            agent.start()
            stderr_until(getter, "agent ready")
            assert srv.agent_attached()  # not said before the agent was there
            xclip_set(srv, "late agent")
            out, err = getter.communicate(timeout=60)
        finally:
            if getter.poll() is None:
                getter.kill()
            if agent.ident is not None:
                agent.join()
        assert getter.returncode == 0, err + srv.log() + srv.log("vdagentd.log")
        assert out.strip() == "late agent"


def test_feed_fifo_ends_when_the_reader_stops_reading(tmp_path: Path) -> None:
    """A reader that stops taking audio (or never opens the FIFO) cannot hold
    the feeder: it returns once ``stop`` is set, with what went in."""
    fifo = tmp_path / "a.fifo"
    os.mkfifo(fifo)
    data = bytes(range(256)) * 4096  # 1 MiB: more than a pipe holds
    stop = threading.Event()
    fed: list[int] = []
    feeder = threading.Thread(target=lambda: fed.append(feed_fifo(fifo, data, stop)))
    feeder.start()
    time.sleep(0.2)  # no reader yet: waiting to open
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        first = b""
        deadline = time.monotonic() + 10
        while len(first) < 1000 and time.monotonic() < deadline:
            try:
                first += os.read(reader, 1000 - len(first))
            except BlockingIOError:
                time.sleep(0.01)
        assert first == data[:1000]
        time.sleep(0.2)  # the reader stops: the pipe fills, a write would block
        stop.set()
        feeder.join(timeout=5)
        assert not feeder.is_alive()
        assert 1000 < fed[0] < len(data)
    finally:
        stop.set()
        os.close(reader)
    # nobody ever opens it: the feeder gives up at its timeout
    assert feed_fifo(tmp_path / "a.fifo", data, threading.Event(), timeout=0.3) == 0


@live
def test_record_audio_and_screenshot_with_cursor(tmp_path: Path) -> None:
    from spicepy.audio import read_wav

    t = np.arange(3 * 48000) / 48000
    mono = np.round(np.sin(2 * np.pi * 2000 * t) * 7000).astype("<i2")
    pcm = np.stack([mono, mono], 1).tobytes()
    with AgentXspice(agent=False) as srv:
        fifo = srv.audio_fifo()
        stop, fed = threading.Event(), []
        recorder = subprocess.Popen(
            [sys.executable, "-m", "spicepy", "record-audio", srv.uri,
             str(tmp_path / "a.wav"), "--seconds", "4"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )  # fmt: skip
        assert recorder.stderr is not None
        assert "connected" in recorder.stderr.readline()  # now recording
        feeder = threading.Thread(target=lambda: fed.append(feed_fifo(fifo, pcm, stop)))
        feeder.start()
        try:
            out, err = recorder.communicate(timeout=60)
        finally:
            stop.set()  # the recorder is gone: what Xspice did not take is moot
            feeder.join()
        done = subprocess.CompletedProcess(recorder.args, recorder.returncode, out, err)
        assert done.returncode == 0, done.stderr
        samples, rate = read_wav(tmp_path / "a.wav")
        assert rate == 48000 and samples.shape[1] == 2
        assert len(samples) >= 2 * 48000, fed  # most of the 3 s tone
        spectrum = np.abs(np.fft.rfft(samples[:, 0].astype(float)))
        # one FFT bin is 48000 / len(samples) Hz wide
        assert abs(np.argmax(spectrum) * 48000 / len(samples) - 2000) <= 48000 / len(
            samples
        )
        # the pointer drawn into the PNG, where X has it
        x(srv, "xsetroot", "-cursor_name", "hand2")
        x(srv, "xdotool", "mousemove", "200", "150")
        plain, with_cursor = tmp_path / "plain.png", tmp_path / "cursor.png"
        assert cli("screenshot", srv.uri, "-o", str(plain)).returncode == 0
        done = cli("screenshot", srv.uri, "-o", str(with_cursor), "--cursor")
        assert done.returncode == 0, done.stderr
    from PIL import Image

    a = np.asarray(Image.open(plain))
    b = np.asarray(Image.open(with_cursor))
    diff = np.argwhere((a != b).any(axis=2))
    assert len(diff) > 20  # the hand's pixels
    (top, left), (bottom, right) = diff.min(axis=0), diff.max(axis=0)
    # the hand2 cursor is 24x24 around its hot spot (8, 5) at (200, 150)
    assert 150 - 5 <= top and bottom < 150 - 5 + 24
    assert 200 - 8 <= left and right < 200 - 8 + 24
