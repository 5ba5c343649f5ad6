"""The blocking API's agent and audio (``connect_sync``: ``SyncSession.agent``,
``SyncSession.audio``) live against Xspice with spice-vdagent
(spicepy.testing.xspice_agent), like tests/test_live_agent.py does for the
async ones: clipboard both ways, resize (the new primary arrives), file
transfer, a tone from the audio FIFO as frames and as a WAV file."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
import wave
from pathlib import Path

import numpy as np
import pytest

import spicepy
from spicepy.testing.xspice import XspiceOptions
from spicepy.testing.xspice import available as xspice_available
from spicepy.testing.xspice_agent import AgentXspice, agent_available
from spicepy.wire.enums import ClipboardSelection, ClipboardType

_MISSING = xspice_available() or agent_available()
if _MISSING is None and shutil.which("xclip") is None:
    _MISSING = "xclip missing (apt-get install xclip)"
pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(_MISSING is not None, reason=str(_MISSING)),
]
TIMEOUT = 20.0


def xclip_out(srv: AgentXspice, selection: str, target: str | None = None) -> bytes:
    args = ["xclip", "-selection", selection, "-o"]
    if target is not None:
        args[3:3] = ["-t", target]
    done = subprocess.run(args, capture_output=True, env=srv.env, timeout=20)
    return done.stdout if done.returncode == 0 else b""


def xclip_until(
    srv: AgentXspice, selection: str, want: bytes, target: str | None = None
) -> bytes:
    """The X selection once it holds ``want`` (spice-vdagent takes the selection
    over asynchronously after our GRAB: polled for 5 s)."""
    got = b""
    for _ in range(50):
        got = xclip_out(srv, selection, target)
        if got == want:
            break
        time.sleep(0.1)
    return got


def xclip_in(srv: AgentXspice, data: bytes, selection: str, target: str) -> None:
    proc = subprocess.Popen(
        ["xclip", "-selection", selection, "-t", target, "-i", "-loops", "2"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=srv.env,
    )
    assert proc.stdin is not None
    proc.stdin.write(data)
    proc.stdin.close()


def test_sync_agent_clipboard_resize_and_file() -> None:
    with AgentXspice() as srv:
        with spicepy.connect_sync(srv.uri, timeout=TIMEOUT) as s:
            s.wait_for_frame(TIMEOUT)
            s.agent.wait_ready(TIMEOUT)
            assert s.agent.connected and s.agent.caps
            # spicepy -> X, both selections
            s.agent.set_clipboard("sync: ½ ✓")
            assert (
                xclip_until(srv, "clipboard", "sync: ½ ✓".encode())
                == "sync: ½ ✓".encode()
            )
            s.agent.set_clipboard("sync primary", selection=ClipboardSelection.PRIMARY)
            assert xclip_until(srv, "primary", b"sync primary") == b"sync primary"
            # X -> spicepy, text and PNG
            xclip_in(srv, "from X ✓".encode(), "clipboard", "UTF8_STRING")
            assert s.agent.get_clipboard_text(timeout=TIMEOUT) == "from X ✓"
            png = b"\x89PNG\r\n\x1a\n" + os.urandom(500)  # xclip passes any bytes
            xclip_in(srv, png, "clipboard", "image/png")
            assert (
                s.agent.get_clipboard(ClipboardType.IMAGE_PNG, timeout=TIMEOUT) == png
            )
            # resize: returns once the new primary surface is there
            s.agent.resize(800, 600, timeout=TIMEOUT)
            assert s.screenshot().shape == (600, 800, 3)
            xrandr = subprocess.run(
                ["xrandr"], capture_output=True, env=srv.env, timeout=20, check=True
            ).stdout.decode()
            assert "current 800 x 600" in xrandr
            # file transfer
            data = os.urandom(70_000)  # two FILE_XFER_DATA messages
            s.agent.send_file("sync.bin", data, timeout=TIMEOUT)
            assert (srv.files_dir / "sync.bin").read_bytes() == data


def test_sync_audio_frames_and_wav(tmp_path: Path) -> None:
    freq = 1000.0
    t = np.arange(48000) / 48000
    mono = np.round(np.sin(2 * np.pi * freq * t) * 9000).astype("<i2")
    pcm = np.stack([mono, -mono], 1)  # right = inverted left: channel order shows
    raw = XspiceOptions(extra_driver_options={"SpicePlaybackCompression": "False"})
    with AgentXspice(raw, agent=False) as srv:
        fifo = srv.audio_fifo()
        with spicepy.connect_sync(srv.uri, timeout=TIMEOUT) as s:
            s.wait_for_frame(TIMEOUT)

            def feed() -> None:
                with open(fifo, "wb") as f:
                    f.write(pcm.tobytes())

            writer = threading.Thread(target=feed)
            writer.start()
            got = []
            for frame in s.audio.frames(timeout=TIMEOUT):
                got.append(frame.samples)
                if sum(len(g) for g in got) >= 24000:  # half of the tone
                    break
            wav = tmp_path / "tone.wav"
            written = s.audio.record_wav(wav, 1.5)  # the rest of the tone
            writer.join(TIMEOUT)
            # what arrived between the loop and the recording, then the recording
            after = s.audio.take_frames()
            assert s.audio.frames_received == len(got) + len(after)
            with pytest.raises(spicepy.SpiceTimeoutError):
                next(iter(s.audio.frames(timeout=0.3)))  # the FIFO is done
    samples = np.concatenate(got)
    # raw PCM: sample-exact, from the first non-zero sample
    start = int(np.flatnonzero(np.any(samples != 0, axis=1))[0])
    first = int(np.flatnonzero(np.any(pcm != 0, axis=1))[0])
    n = len(samples) - start
    np.testing.assert_array_equal(samples[start:], pcm[first : first + n])
    with wave.open(str(wav)) as w:
        assert (w.getnchannels(), w.getframerate(), w.getsampwidth()) == (2, 48000, 2)
        assert w.getnframes() == written > 0
        recorded = np.frombuffer(w.readframes(written), "<i2").reshape(-1, 2)
    gap = sum(len(f.samples) for f in after) - written
    assert gap >= 0
    # the WAV continues the tone where the frames (and the gap) stopped
    np.testing.assert_array_equal(recorded, pcm[first + n + gap :][:written])
    # and it holds the rest of the tone
    assert first + n + gap + written == len(pcm), (first, n, gap, written)
