"""Hostile display messages: arbitrary or mutated bodies.

Properties checked on every example:
- decoding raises nothing but ``WireError``; applying raises nothing but
  ``CanvasError`` (``ImageNotReady`` is one): the documented types;
- a draw (a message with a ``DisplayBase``) changes no pixel of any surface
  outside its bbox, whether it succeeds or is refused half way;
- a refused message leaves the surfaces as they were outside its bbox, and a
  refused non-draw message leaves every surface as it was.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spicepy.capture.streams import iter_messages, read_channels
from spicepy.errors import CanvasError, LimitExceededError, WireError
from spicepy.session.core import DisplayDriver
from spicepy.wire.enums import ChannelType, DisplayMsg
from spicepy.wire.messages import decode_message

KINDS = [m.value for m in DisplayMsg if m.value > 100]


def fresh_driver() -> DisplayDriver:
    d = DisplayDriver()
    d.canvas.create_surface(0, 64, 48, 32)
    d.canvas.create_surface(1, 16, 16, 96)
    rng = np.random.default_rng(7)  # not blank: a stray write of zeros shows too
    for surface in d.canvas.surfaces.values():
        surface.pixels[...] = rng.integers(0, 256, surface.pixels.shape, np.uint8)
    return d


def _outside(shape: tuple[int, ...], box: object) -> np.ndarray:
    """True where a pixel lies outside ``box`` (a wire Rect) on a surface."""
    h, w = shape[:2]
    keep = np.ones((h, w), bool)
    top, left = max(box.top, 0), max(box.left, 0)  # type: ignore[attr-defined]
    bottom = min(box.bottom, h)  # type: ignore[attr-defined]
    right = min(box.right, w)  # type: ignore[attr-defined]
    if bottom > top and right > left:
        keep[top:bottom, left:right] = False
    return keep


def feed(driver: DisplayDriver, kind: int, body: bytes | memoryview) -> None:
    """Decode and apply one message, checking the module's properties."""
    try:
        msg = decode_message(ChannelType.DISPLAY, kind, body)
    except WireError:
        return  # any other exception fails the test: the documented type only
    before = {sid: s.pixels.copy() for sid, s in driver.canvas.surfaces.items()}
    box = msg.base.box if hasattr(msg, "base") and hasattr(msg.base, "box") else None
    try:
        driver.apply(msg, 0)
        refused = False
    except (CanvasError, LimitExceededError):  # the latter: surfaces' budget
        refused = True
    for sid, old in before.items():
        surface = driver.canvas.surfaces.get(sid)
        if surface is None or surface.pixels.shape != old.shape:
            assert not refused, "a refused message replaced or removed a surface"
            continue  # SURFACE_CREATE over it / SURFACE_DESTROY / RESET did it
        new = surface.pixels
        if box is not None:
            out = _outside(old.shape, box)
            assert (new[out] == old[out]).all(), f"{type(msg).__name__} drew outside"
        elif refused:
            assert (new == old).all(), f"refused {type(msg).__name__} drew"


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(KINDS), st.binary(max_size=200))
def test_random_bodies(kind: int, body: bytes) -> None:
    feed(fresh_driver(), kind, body)


def _base(surface: int, rect: tuple[int, int, int, int]) -> bytes:
    top, left, bottom, right = rect
    return struct.pack("<Iiiii", surface, top, left, bottom, right) + b"\0"


coords = st.integers(-(1 << 31), (1 << 31) - 1)
small = st.integers(-70, 70)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from([0, 1, 2, 7, 0xFFFFFFFF]),
    st.tuples(small | coords, small | coords, small | coords, small | coords),
    st.binary(max_size=120),
    st.sampled_from([302, 303, 304, 305, 306, 309, 310, 311, 312, 313, 318, 104]),
)
def test_structured_draws_with_hostile_geometry(
    surface: int, rect: tuple[int, int, int, int], tail: bytes, kind: int
) -> None:
    """A valid DisplayBase with extreme rects/unknown surfaces, then random bytes."""
    feed(fresh_driver(), kind, _base(surface, rect) + tail)


@settings(max_examples=100, deadline=None)
@given(
    st.integers(0, 1 << 20),
    st.integers(0, 1 << 20),
    st.sampled_from([0, 1, 8, 16, 32, 80, 96, 5]),
)
def test_surface_create_sizes(w: int, h: int, fmt: int) -> None:
    body = struct.pack("<IIIII", 3, w, h, fmt, 0)
    feed(fresh_driver(), DisplayMsg.SURFACE_CREATE, body)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_real_messages(captures_dir: Path, data: st.DataObject) -> None:
    msgs = _real_messages(captures_dir)
    if not msgs:
        pytest.skip("no capture")
    driver = fresh_driver()
    for _ in range(3):
        kind, body = data.draw(st.sampled_from(msgs))
        if body:
            pos = data.draw(st.integers(0, len(body) - 1))
            value = data.draw(st.integers(0, 255))
            body = body[:pos] + bytes([value]) + body[pos + 1 :]
            cut = data.draw(st.integers(0, len(body)))
            body = body[:cut] if data.draw(st.booleans()) else body
        feed(driver, kind, body)


_CACHE: dict[Path, list[tuple[int, bytes]]] = {}


def _real_messages(captures_dir: Path) -> list[tuple[int, bytes]]:
    """Small display messages of real captures (a few of each kind)."""
    if captures_dir in _CACHE:
        return _CACHE[captures_dir]
    out: list[tuple[int, bytes]] = []
    seen: dict[int, int] = {}
    for name in ("text-glz.pcap", "video-stream_all.pcap", "winmove-glz.pcap"):
        path = captures_dir / name
        if not path.exists():
            continue
        for ch in read_channels(path):
            if ch.channel_type != 2:
                continue
            for m in iter_messages(ch.to_client, ch.mini_header):
                if len(m.body) < 4096 and seen.get(m.type, 0) < 8:
                    seen[m.type] = seen.get(m.type, 0) + 1
                    out.append((m.type, bytes(m.body)))
    _CACHE[captures_dir] = out
    return out
