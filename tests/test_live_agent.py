"""Live against Xspice with spice-vdagent (spicepy.testing.xspice_agent): clipboard
both ways (text, PRIMARY, PNG, big text), resize through the agent (new primary
surface exact), file transfer; the decoded cursor equals XFixesGetCursorImage
(themed and a random ARGB cursor) and screenshot(cursor=True) draws it; a tone
written to the audio FIFO comes out at its frequency, raw and Opus."""

from __future__ import annotations

import asyncio
import io
import os
import shutil
import struct
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path

import numpy as np
import pytest

import spicepy
from spicepy.canvas.cursor import CursorImage, composite_cursor
from spicepy.session.session import Session
from spicepy.testing.xspice import XspiceOptions
from spicepy.testing.xspice import available as xspice_available
from spicepy.testing.xspice_agent import AgentXspice, agent_available
from spicepy.wire.enums import AudioDataMode, ClipboardSelection, ClipboardType

_MISSING = xspice_available() or agent_available()
if _MISSING is None and shutil.which("xclip") is None:
    _MISSING = "xclip missing (apt-get install xclip)"
pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(_MISSING is not None, reason=str(_MISSING)),
]
#: seconds one whole test may take (server start, agent, all the waits)
TIMEOUT = 120


async def run(srv: AgentXspice, *args: str, data: bytes | None = None) -> bytes:
    """A command on the server's display, off the event loop (the session must
    keep answering the agent while xclip waits for it)."""
    done = await asyncio.to_thread(
        subprocess.run,
        list(args),
        input=data,
        capture_output=True,
        env=srv.env,
        timeout=20,
        check=True,
    )
    return done.stdout


async def xclip_get(
    srv: AgentXspice, selection: str, target: str | None = None
) -> bytes:
    """The X selection, once spice-vdagent has taken it over (our GRAB reaches it
    asynchronously, so xclip fails until then: retried for 5 s)."""
    args = ["xclip", "-selection", selection, "-o"]
    if target is not None:
        args[3:3] = ["-t", target]
    for _ in range(50):
        try:
            return await run(srv, *args)
        except subprocess.CalledProcessError:
            await asyncio.sleep(0.1)
    return await run(srv, *args)


def xclip_set(srv: AgentXspice, data: bytes, selection: str, target: str) -> None:
    """xclip keeps serving the selection in a child: its output goes nowhere
    (COMPONENTS.md: an inherited stdout would hang the test)."""
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


def with_session(
    body: Callable[[AgentXspice, Session], Awaitable[None]],
    options: XspiceOptions | None = None,
    *,
    agent: bool = True,
) -> None:
    """Run ``body(server, session)`` against a fresh server, within TIMEOUT."""

    async def main() -> None:
        async with asyncio.timeout(TIMEOUT):
            with AgentXspice(options, agent=agent) as srv:
                async with spicepy.connect(srv.uri, timeout=10) as s:
                    await s.wait_for_frame()
                    if agent:
                        try:
                            await s.agent.wait_ready(20)
                        except spicepy.SpiceError:
                            pytest.fail(f"no agent announce:\n{srv.log()[-2000:]}")
                    await body(srv, s)

    asyncio.run(main())


def png_bytes(seed: int) -> bytes:
    from PIL import Image

    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def test_clipboard_both_ways() -> None:
    with_session(_clipboard_both_ways)


async def xclip_until(srv: AgentXspice, selection: str, want: bytes) -> bytes:
    """The X selection once it holds ``want``: until spice-vdagent has taken the
    selection over, the earlier owner (an xclip still serving it) answers with the
    old value, so one read can race our GRAB. Polled for 5 s."""
    got = b""
    for _ in range(50):
        got = await xclip_get(srv, selection)
        if got == want:
            break
        await asyncio.sleep(0.1)
    return got


async def _clipboard_both_ways(srv: AgentXspice, s: Session) -> None:
    # X -> spicepy, CLIPBOARD and PRIMARY
    xclip_set(srv, "copied in X: ünïcode ✓".encode(), "clipboard", "UTF8_STRING")
    assert await s.agent.get_clipboard_text() == "copied in X: ünïcode ✓"
    xclip_set(srv, b"primary text", "primary", "UTF8_STRING")
    assert (
        await s.agent.get_clipboard_text(ClipboardSelection.PRIMARY) == "primary text"
    )
    # spicepy -> X
    await s.agent.set_clipboard("set by spicepy: ½ ✓")
    got = await xclip_until(srv, "clipboard", "set by spicepy: ½ ✓".encode())
    assert got.decode() == "set by spicepy: ½ ✓"
    await s.agent.set_clipboard("to primary", selection=ClipboardSelection.PRIMARY)
    assert await xclip_until(srv, "primary", b"to primary") == b"to primary"


def test_clipboard_png_and_big_text() -> None:
    with_session(_clipboard_png_and_big_text)


async def _clipboard_png_and_big_text(srv: AgentXspice, s: Session) -> None:
    png = png_bytes(1)
    await s.agent.set_clipboard(png, ClipboardType.IMAGE_PNG)
    got = await xclip_get(srv, "clipboard", "image/png")
    assert got == png
    other = png_bytes(2)
    xclip_set(srv, other, "clipboard", "image/png")
    assert await s.agent.get_clipboard(ClipboardType.IMAGE_PNG) == other
    # 300 kB: ~150 chunks of 2048 bytes each way, paced by the agent tokens
    big = ("spicepy " * 37_500).encode()
    await s.agent.set_clipboard(big)
    # the xclip serving `other` owns CLIPBOARD until our GRAB lands: poll
    assert await xclip_until(srv, "clipboard", big) == big
    xclip_set(srv, big[::-1], "clipboard", "UTF8_STRING")
    assert await s.agent.get_clipboard(timeout=20) == big[::-1]


def test_resize_through_the_agent() -> None:
    with_session(_resize)


async def _resize(srv: AgentXspice, s: Session) -> None:
    from spicepy.testing.xdraw import XDraw

    await s.agent.resize(800, 600)
    xrandr = (await run(srv, "xrandr")).decode()
    assert "current 800 x 600" in xrandr
    with XDraw(srv.display) as draw:
        draw.fill_rect(10, 20, 300, 200, (200, 40, 90))
        await s.wait_for(
            lambda: bool((s.screenshot()[20:220, 10:310] == (200, 40, 90)).all()),
            10,
            "the drawing",
        )
        await s.wait_until_settled(quiet=0.5)
        truth = draw.framebuffer()
    assert truth.shape == (600, 800, 3)
    np.testing.assert_array_equal(s.screenshot(), truth)
    await s.agent.resize(1024, 768)
    assert s.screenshot().shape == (768, 1024, 3)


def test_file_transfer() -> None:
    with_session(_file_transfer)


async def _file_transfer(srv: AgentXspice, s: Session) -> None:
    data = os.urandom(150_000)  # three FILE_XFER_DATA messages of <= 64 KiB
    await s.agent.send_file("payload.bin", data, timeout=30)
    assert (srv.files_dir / "payload.bin").read_bytes() == data


# --- cursor -----------------------------------------------------------------------
def xfixes_cursor(display: str) -> tuple[np.ndarray, int, int, int, int]:
    """X's current cursor: premultiplied RGBA, hot spot, pointer position."""
    from Xlib import display as xdisplay

    d = xdisplay.Display(display)
    try:
        d.xfixes_query_version()
        img = d.xfixes_get_cursor_image(d.screen().root)
        argb = np.array(img.cursor_image, dtype=np.uint32).reshape(
            img.height, img.width
        )
        bgra = argb.astype("<u4").view(np.uint8).reshape(img.height, img.width, 4)
        return bgra[..., [2, 1, 0, 3]].copy(), img.xhot, img.yhot, img.x, img.y
    finally:
        d.close()


def xcursor_file(path: Path, argb: np.ndarray, xhot: int, yhot: int) -> None:
    """A one-image Xcursor file (libXcursor's format: header, TOC, image chunk)."""
    h, w = argb.shape
    size = max(w, h)
    chunk = struct.pack("<9I", 36, 0xFFFD0002, size, 1, w, h, xhot, yhot, 0)
    toc = struct.pack("<4sIII", b"Xcur", 16, 0x10000, 1)
    toc += struct.pack("<III", 0xFFFD0002, size, 16 + 12)
    path.write_bytes(toc + chunk + argb.astype("<u4").tobytes())


async def same_cursor(s: Session, display: str) -> tuple[np.ndarray, CursorImage]:
    """Wait until spicepy's decoded cursor has X's size and hot spot; both images."""
    x_rgba, xhot, yhot, _, _ = xfixes_cursor(display)

    def arrived() -> bool:
        im = s.cursor.image
        return (
            im is not None
            and im.rgba.shape == x_rgba.shape
            and (im.hot_x, im.hot_y) == (xhot, yhot)
            and bool((im.rgba == x_rgba).all())
        )

    try:
        await s.wait_for(arrived, 5, "the new cursor")
    except spicepy.SpiceTimeoutError:
        pass  # compared below with a clear message
    assert s.cursor.image is not None
    return x_rgba, s.cursor.image


@pytest.mark.parametrize("name", ["left_ptr", "hand2", "xterm", "crosshair", "fleur"])
def test_decoded_cursor_equals_xfixes(name: str) -> None:
    async def body(srv: AgentXspice, s: Session) -> None:
        await run(srv, "xsetroot", "-cursor_name", name)
        x_rgba, image = await same_cursor(s, srv.display)
        assert (image.hot_x, image.hot_y) == xfixes_cursor(srv.display)[1:3]
        np.testing.assert_array_equal(image.rgba, x_rgba)
        assert s.cursor.shape is not None and s.cursor.shape.type == 0  # ALPHA

    with_session(body, agent=False)


def test_random_argb_cursor_and_screenshot_with_cursor(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    w, h = 21, 13
    alpha = rng.integers(0, 256, (h, w)).astype(np.uint32)
    alpha[0, 0], alpha[1, 1] = 0, 255
    rgb = rng.integers(0, 256, (h, w, 3)).astype(np.uint32) * alpha[..., None] // 255
    argb = (alpha << 24) | (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
    xcursor_file(tmp_path / "c.xcur", argb, 5, 9)

    async def body(srv: AgentXspice, s: Session) -> None:
        from spicepy.testing.xdraw import XDraw

        await run(srv, "xsetroot", "-xcf", str(tmp_path / "c.xcur"), str(w))
        x_rgba, image = await same_cursor(s, srv.display)
        np.testing.assert_array_equal(image.rgba, x_rgba)
        assert (image.hot_x, image.hot_y) == (5, 9)
        await s.mouse_move(300, 200)  # server or client mouse mode alike
        for _ in range(50):  # X has the pointer there once the motion arrived
            if xfixes_cursor(srv.display)[3:] == (300, 200):
                break
            await asyncio.sleep(0.1)
        assert xfixes_cursor(srv.display)[3:] == (300, 200)
        assert s.cursor.position == (300, 200)
        await s.wait_until_settled(quiet=0.3)
        with XDraw(srv.display) as draw:
            truth = draw.framebuffer()
        expected = truth.copy()
        composite_cursor(expected, CursorImage(x_rgba, 5, 9), 300, 200)
        shot = s.screenshot(cursor=True)
        np.testing.assert_array_equal(shot, expected)
        assert (shot != s.screenshot()).any()  # the pointer is really drawn

    with_session(body, agent=False)


# --- audio ------------------------------------------------------------------------
@pytest.mark.parametrize("compressed", [False, True], ids=["raw", "opus"])
def test_tone_from_the_audio_fifo(compressed: bool) -> None:
    from spicepy.audio import OPUS_AVAILABLE

    if compressed and not OPUS_AVAILABLE:
        pytest.skip("PyAV (media extra) missing: no Opus")
    opts = XspiceOptions(
        extra_driver_options={"SpicePlaybackCompression": str(compressed)}
    )
    freq = 1500.0
    t = np.arange(48000) / 48000
    mono = np.round(np.sin(2 * np.pi * freq * t) * 9000).astype("<i2")
    pcm = np.stack([mono, -mono], 1)  # right = inverted left: channel order shows
    got_frames: list[np.ndarray] = []
    modes: list[int] = []

    async def body(srv: AgentXspice, s: Session) -> None:
        fifo = srv.audio_fifo()

        def feed() -> None:
            with open(fifo, "wb") as f:
                f.write(pcm.tobytes())

        writer = asyncio.create_task(asyncio.to_thread(feed))
        await s.wait_for(lambda: s.audio.frames_received >= 90, 15, "audio")
        await writer
        await asyncio.sleep(0.3)
        got_frames.extend(f.samples for f in s.audio.take_frames())
        modes.append(s.connections[(5, 0)].machine.mode)  # type: ignore[attr-defined]

    with_session(body, opts, agent=False)
    mode = modes[0]
    frames = got_frames
    assert mode == (AudioDataMode.OPUS if compressed else AudioDataMode.RAW)
    got = np.concatenate(frames).astype(float)
    assert got.shape[1] == 2 and len(got) >= 0.9 * 48000
    spectrum = np.abs(np.fft.rfft(got[:, 0]))
    # one FFT bin is 48000 / len(got) Hz wide
    assert abs(np.argmax(spectrum) * 48000 / len(got) - freq) <= 48000 / len(got)
    loud = got[np.abs(got[:, 0]) > 1000]
    # right is the inverted left (Opus: within its coding error)
    assert np.corrcoef(loud[:, 0], loud[:, 1])[0, 1] < -0.99
    if not compressed:  # raw PCM arrives sample-exact, in order
        start = int(np.flatnonzero(np.any(got != 0, axis=1))[0])
        src = pcm.astype(float)
        first = np.flatnonzero(np.any(src != 0, axis=1))[0]
        n = min(len(got) - start, len(src) - first)
        np.testing.assert_array_equal(got[start : start + n], src[first : first + n])
