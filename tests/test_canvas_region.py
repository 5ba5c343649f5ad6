"""region.clip_box: the box of a draw clipped to at most one rectangle.

Checked against a raster of bbox ∩ surface ∩ clip (numpy booleans) on random
rectangles partly or wholly outside the surface.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from spicepy.canvas.region import clip_box, make_region
from spicepy.errors import CanvasError
from spicepy.wire.enums import ClipType
from spicepy.wire.types import Clip, Rect

coords = st.integers(-8, 24)


@st.composite
def rects(draw: st.DrawFn) -> Rect:
    left, top = draw(coords), draw(coords)
    return Rect(top, left, top + draw(st.integers(-2, 20)), left + draw(coords))


def raster(w: int, h: int, rect: Rect) -> np.ndarray:
    """rect on a canvas with a margin, cut to the w x h surface."""
    out = np.zeros((h + 64, w + 64), np.bool_)
    ys = slice(max(rect.top, 0) + 32, max(min(rect.bottom, h), 0) + 32)
    xs = slice(max(rect.left, 0) + 32, max(min(rect.right, w), 0) + 32)
    out[ys, xs] = True
    return out


@given(st.integers(1, 16), st.integers(1, 16), rects(), st.none() | rects())
def test_clip_box_is_bbox_surface_clip(
    w: int, h: int, bbox: Rect, rect: Rect | None
) -> None:
    clip = (
        Clip(ClipType.NONE)
        if rect is None
        else Clip(ClipType.RECTS, num_rects=1, rects=(rect,))
    )
    want = raster(w, h, bbox)
    if rect is not None:
        want &= raster(w, h, rect)
    box = clip_box(w, h, bbox, clip)
    got = np.zeros_like(want)
    if box is not None:
        x0, y0, x1, y1 = box
        assert x0 < x1 and y0 < y1  # a box is never empty
        got[y0 + 32 : y1 + 32, x0 + 32 : x1 + 32] = True
    assert np.array_equal(got, want)
    region = make_region(w, h, bbox, clip)  # the same box as a Region
    assert (region is None) == (box is None)
    if region is not None and box is not None:
        assert (region.x0, region.y0, region.x1, region.y1) == box
        assert region.mask is None


def test_clip_box_refuses_what_it_does_not_take() -> None:
    bbox = Rect(0, 0, 4, 4)
    assert clip_box(8, 8, bbox, Clip(ClipType.RECTS, num_rects=0, rects=())) is None
    two = (Rect(0, 0, 2, 2), Rect(2, 2, 4, 4))
    with pytest.raises(CanvasError, match="2 clip rectangles"):
        clip_box(8, 8, bbox, Clip(ClipType.RECTS, num_rects=2, rects=two))
    odd: Any = SimpleNamespace(type=7, rects=None)  # no such clip type
    with pytest.raises(CanvasError, match="unknown clip type 7"):
        clip_box(8, 8, bbox, odd)
    # nothing to draw: no error, as make_region
    assert clip_box(8, 8, Rect(9, 9, 12, 12), odd) is None
