"""End to end against a real QEMU guest (spicepy.testing.qemu) started by the test.

One guest per display card for the whole module (boots take 10-20 s under
TCG): "qxl" with the QXL DRM driver in the guest (native QXL draw commands)
and "std" in VGA text mode (QEMU's simple display path).  Each guest has a
password and a TLS port.  QMP ``screendump`` is the truth for pixels, the
guest's ttyS0 log for typed text, the guest's own ``tone`` for audio.
"""

from __future__ import annotations

import asyncio
import os
import random
import string
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from _qemu_helpers import (
    TIMEOUT,
    assert_same_pixels,
    converge,
    repaint,
    wait_client_gone,
)
from PIL import Image

import spicepy
import spicepy.client
from spicepy.channels.playback import AudioData, AudioStarted
from spicepy.errors import AuthenticationError
from spicepy.testing.pki import TestPki, make_test_pki
from spicepy.testing.qemu import Qemu, QemuOptions, available
from spicepy.wire.enums import ChannelType, ImageType

REASON = available()
pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(
        REASON is not None and not os.environ.get("SPICEPY_REQUIRE_QEMU"),
        reason=f"QEMU guest not available: {REASON}",
    ),
]
PASSWORD = "kvm-secret"
#: seconds between keys: QEMU's PS/2 queue (16 scancodes) drops keys sent back
#: to back; 200-character lines arrived exactly from 5 ms up in our measurement
#: (see the report on issue 10), 10 ms leaves a margin on a loaded machine
KEY_DELAY = 0.01


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    return make_test_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module", params=["qxl", "std"])
def guest(request: pytest.FixtureRequest, pki: TestPki) -> Iterator[Qemu]:
    options = QemuOptions(
        vga=request.param,
        framebuffer=request.param == "qxl",
        password=PASSWORD,
        tls=pki.files,
        playback_compression=False,  # raw PCM, whatever the client's caps
    )
    with Qemu(options) as qemu:
        yield qemu


@pytest.fixture(autouse=True)
def guest_survives(guest: Qemu) -> Iterator[None]:
    """Fail the test during which QEMU died, with QEMU's last words."""
    guest.check()
    wait_client_gone(guest)
    yield
    guest.check()


#: image type each preferred compression must bring (spice-server picks it for
#: every image big enough to compress; small ones stay BITMAP)
EXPECTED_TYPE = {
    "off": ImageType.BITMAP,
    "quic": ImageType.QUIC,
    "lz": ImageType.LZ_RGB,
    "glz": ImageType.GLZ_RGB,
    "lz4": ImageType.LZ4,
}


@pytest.mark.parametrize("compression", list(EXPECTED_TYPE))
def test_screenshot_exact_per_compression(guest: Qemu, compression: str) -> None:
    async def main() -> None:
        async with spicepy.connect(
            guest.uri,
            password=PASSWORD,
            timeout=TIMEOUT,
            preferred_compression=compression,
            plain=True,  # pixels, not transport, are tested here
        ) as s:
            await s.wait_for_frame(TIMEOUT)
            await repaint(s, guest, compression)
            shot, truth = await converge(s, guest)
            assert_same_pixels(shot, truth)
            types = s.state.image_types
            assert types[EXPECTED_TYPE[compression]] > 0, dict(types)

    asyncio.run(main())


def test_tls_port_with_host_subject(guest: Qemu, pki: TestPki) -> None:
    assert guest.tls_port is not None

    async def main() -> None:
        async with spicepy.connect(
            f"spice+tls://127.0.0.1:{guest.tls_port}",
            password=PASSWORD,
            ca_file=pki.files.ca_cert,
            host_subject=pki.host_subject,
            timeout=TIMEOUT,
        ) as s:
            await s.wait_for_frame(TIMEOUT)
            await repaint(s, guest, "tls")
            shot, truth = await converge(s, guest)
            assert_same_pixels(shot, truth)
            # (a plain-text link on the TLS port would have failed)
            assert len(s.connections) >= 4

    asyncio.run(main())


def test_wrong_password_is_refused(guest: Qemu) -> None:
    async def main() -> None:
        with pytest.raises(AuthenticationError):
            async with spicepy.connect(
                guest.uri, password="wrong", timeout=TIMEOUT, plain=True
            ):
                pass

    asyncio.run(main())


def test_client_screenshot_function(guest: Qemu, pki: TestPki, tmp_path: Path) -> None:
    """Both ports: secure by default, every channel over TLS."""
    out = tmp_path / "shot.png"
    guest.run("scene oneshot")
    size = asyncio.run(
        spicepy.client.screenshot(
            guest.uri,
            out,
            password=PASSWORD,
            timeout=TIMEOUT,
            quiet=1.0,
            ca_file=pki.files.ca_cert,
            host_subject=pki.host_subject,
        )
    )
    shot = np.asarray(Image.open(out).convert("RGB"))
    assert size == (shot.shape[1], shot.shape[0])
    assert_same_pixels(shot, guest.screendump())


def test_qemu_offers_every_channel_kind(guest: Qemu) -> None:
    async def main() -> None:
        async with spicepy.connect(
            guest.uri, password=PASSWORD, timeout=TIMEOUT, plain=True
        ) as s:
            listed = {ctype for ctype, _ in s.channels_list or []}
            assert {  # (main is not in its own list)
                ChannelType.DISPLAY,
                ChannelType.INPUTS,
                ChannelType.CURSOR,
                ChannelType.PLAYBACK,
                ChannelType.RECORD,
                ChannelType.USBREDIR,
                ChannelType.PORT,
            } <= listed
            usbredir = [
                c for c in s.channels_list or [] if c[0] == ChannelType.USBREDIR
            ]
            assert len(usbredir) == 2

    asyncio.run(main())


def _line(seed: int, length: int = 200) -> str:
    """A line of every printable US-keyboard character kind (shifted or not)."""
    alphabet = string.ascii_letters + string.digits + string.punctuation + " "
    rng = random.Random(seed)
    text = "".join(rng.choice(alphabet) for _ in range(length))
    return "x" + text[1:-1] + "x"  # the guest's read strips edge spaces


def test_typed_200_character_line_arrives_exactly(guest: Qemu) -> None:
    line = _line(len(guest.options.vga))
    assert len(line) == 200

    async def main() -> None:
        async with spicepy.connect(
            guest.uri, password=PASSWORD, timeout=TIMEOUT, plain=True
        ) as s:
            await s.wait_for_frame(TIMEOUT)
            before = len(guest.typed_lines())
            await s.type_text(line + "\n", delay=KEY_DELAY)
            typed = await asyncio.to_thread(guest.wait_for_typed, before + 1, TIMEOUT)
            assert typed[-1] == line
            # the tty echoed the line on the SPICE screen too
            shot, truth = await converge(s, guest)
            assert_same_pixels(shot, truth)

    asyncio.run(main())


def test_typed_line_with_default_pacing_arrives_exactly(guest: Qemu) -> None:
    """type_text's default: bursts paced by pacing.typing_pauses."""
    line = _line(7 + len(guest.options.vga))

    async def main() -> None:
        async with spicepy.connect(
            guest.uri, password=PASSWORD, timeout=TIMEOUT, plain=True
        ) as s:
            await s.wait_for_frame(TIMEOUT)
            before = len(guest.typed_lines())
            await s.type_text(line + "\n")
            typed = await asyncio.to_thread(guest.wait_for_typed, before + 1, TIMEOUT)
            assert typed[-1] == line

    asyncio.run(main())


def test_click_reaches_the_guest_mouse(guest: Qemu) -> None:
    """A right click arrives as PS/2 packets on the guest's /dev/input/mice."""
    status, out = guest.run(
        "rm -f /tmp/mice; "
        "(dd if=/dev/input/mice of=/tmp/mice bs=3 count=8 2>/dev/null &)"
    )
    assert status == 0, out

    async def main() -> None:
        async with spicepy.connect(
            guest.uri, password=PASSWORD, timeout=TIMEOUT, plain=True
        ) as s:
            await s.wait_for_frame(TIMEOUT)
            s.mouse.exact = False  # a text console reports no pointer: blind
            for _ in range(2):
                await s.click(200, 150, button=3)
                await asyncio.sleep(0.2)

    asyncio.run(main())
    status, out = guest.run('sleep 1; hexdump -v -e \'3/1 "%02x " "\\n"\' /tmp/mice')
    assert status == 0, out
    packets = [bytes.fromhex(line) for line in out.split("\n") if line.strip()]
    # byte 0 of a mousedev packet: bit 3 always set, bit 1 the right button
    assert packets and all(p[0] & 0x08 for p in packets), out
    assert any(p[0] & 0x02 for p in packets), out
    assert any(not p[0] & 0x02 for p in packets), out  # and released again


def _dominant_hz(pcm: bytes, rate: int) -> float:
    samples = np.frombuffer(pcm[: len(pcm) // 4 * 4], "<i2").reshape(-1, 2)
    left = samples[:, 0].astype(np.float64)
    spectrum = np.abs(np.fft.rfft(left - left.mean()))
    return float(np.fft.rfftfreq(len(left), 1 / rate)[int(np.argmax(spectrum))])


def test_guest_audio_arrives(guest: Qemu) -> None:
    async def main() -> None:
        async with spicepy.connect(
            guest.uri, password=PASSWORD, timeout=TIMEOUT, plain=True
        ) as s:
            await s.wait_for_frame(TIMEOUT)
            started: list[AudioStarted] = []
            pcm = bytearray()

            async def collect() -> None:
                async for event in s.events():
                    if isinstance(event, AudioStarted):
                        started.append(event)
                    elif isinstance(event, AudioData):
                        pcm.extend(event.data)

            collector = asyncio.create_task(collect())
            status, out = await asyncio.to_thread(guest.run, "tone 2", TIMEOUT)
            assert status == 0, out
            await s.wait_for(lambda: len(pcm) >= 48000 * 4, 10, "a second of audio")
            collector.cancel()
            assert started and started[0].frequency == 48000
            assert started[0].channels == 2
            # the guest plays a 1 kHz square wave; its fundamental dominates
            # (the FFT bin is rate/len < 1 Hz wide; 10 Hz allows for resampling)
            hz = _dominant_hz(bytes(pcm), 48000)
            assert abs(hz - 1000) < 10, f"dominant frequency {hz} Hz"

    asyncio.run(main())
