"""Drawing kernels: the Cython twin == the numpy twin == the canvas's numpy code.

The canvas side of each property is built from the canvas's own numpy pieces
(``make_region``/``Region``, ``apply_rop``, ``rop3``, ``tile_values``,
``mul_un8``/``over``, ``draw_lines._glyph_mask``) composed as the canvas draws
compose them, on random surfaces, rectangles partly or wholly outside the
surface, clip lists, ROPs, colours and sources (the destination itself too).
"""

from __future__ import annotations

import hashlib
import inspect
import os
from collections import Counter
from collections.abc import Callable
from types import ModuleType, SimpleNamespace
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from spicepy.canvas import _draw_ref, kernels
from spicepy.canvas.draw_blend import mul_un8, over
from spicepy.canvas.region import Region, make_region, surface_box, tile_values
from spicepy.canvas.rop import Rop, apply_rop, rop3
from spicepy.errors import CanvasError
from spicepy.wire.enums import ClipType

try:
    from spicepy.canvas import _draw as _fast
except ImportError:  # not built: only the reference twin is checked
    _fast = None  # type: ignore[assignment]

Pixels = npt.NDArray[np.uint8]
TWINS: list[ModuleType] = [_draw_ref] + ([_fast] if _fast is not None else [])
TWIN_IDS = ["reference"] + (["cython"] if _fast is not None else [])


def test_fast_path_built() -> None:
    if os.environ.get("SPICEPY_PUREPYTHON", "") not in ("", "0"):
        assert kernels.FAST is False
    else:
        assert kernels.FAST is True and _fast is not None


# -- strategies ------------------------------------------------------------------------

coord = st.integers(-12, 30)
#: mostly non-empty rectangles, some empty or inverted (width/height <= 0)
rect = st.builds(
    lambda x, y, w, h: (x, y, x + w, y + h), coord, coord, st.integers(-3, 30),
    st.integers(-3, 30),
)  # fmt: skip
rect_lists = st.lists(rect, max_size=7)
u32 = st.integers(0, 0xFFFFFFFF)


def pixels(seed: int, h: int, w: int) -> Pixels:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 4), dtype=np.uint8)


#: Sources made from the destination (``other``: a separate image).
VIEWS: dict[str, Callable[[Pixels], Pixels]] = {
    "other": lambda d: d,
    "dst": lambda d: d,
    "offset": lambda d: d[1:, 2:],
    "flipped": lambda d: d[::-1],
    "strided": lambda d: d[:, ::2],
}


@st.composite
def scenes(draw: st.DrawFn) -> SimpleNamespace:
    """A surface, a draw's bbox and clip, and a source with its offset."""
    h, w = draw(st.integers(1, 24)), draw(st.integers(1, 24))
    seed = draw(st.integers(0, 2**32))
    dst = pixels(seed, h, w)
    other = pixels(seed + 1, draw(st.integers(1, 24)), draw(st.integers(1, 24)))
    # the source: another image, or the destination (a SURFACE image naming its
    # own destination, COPY_BITS) or a view into it: same rows offset, rows
    # upside down, every other column (any stride must read as before the draw)
    view = draw(st.sampled_from(sorted(VIEWS)))
    tile = None
    if draw(st.booleans()):
        tile = pixels(seed + 2, draw(st.integers(1, 9)), draw(st.integers(1, 9)))
    # rectangles around the surface: mostly overlapping it, some partly or
    # wholly outside, some empty
    overlapping = st.builds(
        lambda x, y, rw, rh: (x, y, x + rw, y + rh),
        st.integers(-6, w - 1), st.integers(-6, h - 1),
        st.integers(7, w + 12), st.integers(7, h + 12),
    )  # fmt: skip
    near = overlapping | overlapping | overlapping | rect
    return SimpleNamespace(
        dst=dst,
        bbox=draw(near),
        clips=draw(st.none() | st.lists(near, min_size=1, max_size=6) | rect_lists),
        # or rectangles handed to the kernel as they are (overlapping, outside)
        raw=draw(st.none() | st.lists(near, max_size=4) | rect_lists),
        src=other if view == "other" else VIEWS[view](dst),
        view=(lambda d: other) if view == "other" else VIEWS[view],
        dx=draw(st.integers(-8, 8) | st.integers(-30, 30)),
        dy=draw(st.integers(-8, 8) | st.integers(-30, 30)),
        tile=tile,
        tile_x=draw(st.integers(-40, 40)),
        tile_y=draw(st.integers(-40, 40)),
    )


# -- the canvas side -------------------------------------------------------------------


def _rect(r: tuple[int, int, int, int]) -> SimpleNamespace:
    return SimpleNamespace(left=r[0], top=r[1], right=r[2], bottom=r[3])


def canvas_region(
    s: SimpleNamespace, bbox: Any = None, clips: Any = None
) -> Region | None:
    """``make_region`` of the canvas (either of its signatures)."""
    h, w = s.dst.shape[:2]
    box = _rect(bbox)
    cl = None if clips is None else [_rect(c) for c in clips]
    region: Any = make_region  # duck-typed rectangles and clip
    if next(iter(inspect.signature(make_region).parameters)) == "width":
        kind = ClipType.NONE if cl is None else ClipType.RECTS
        return region(w, h, box, SimpleNamespace(type=kind, rects=cl))  # type: ignore[no-any-return]
    return region(_rect((0, 0, w, h)), box, cl)  # type: ignore[no-any-return]


def canvas_regions(s: SimpleNamespace) -> list[Region]:
    """The draw's region, or one region per raw rectangle in order."""
    if s.raw is None:
        regions = [canvas_region(s, s.bbox, s.clips)]
    else:
        regions = [canvas_region(s, r) for r in s.raw]
    return [r for r in regions if r is not None]


def raster(region: Region | None, h: int, w: int) -> npt.NDArray[np.bool_]:
    out = np.zeros((h, w), np.bool_)
    if region is not None:
        inside = True if region.mask is None else region.mask
        out[region.y0 : region.y1, region.x0 : region.x1] = inside
    return out


def canvas_sub(s: SimpleNamespace, region: Region, src: Pixels) -> Region | None:
    """The region cut to the source (``Canvas._image_values``, same size)."""
    sh, sw = src.shape[:2]
    return region.intersect(_rect((s.dx, s.dy, s.dx + sw, s.dy + sh)))  # type: ignore[arg-type]


def source_view(s: SimpleNamespace, sub: Region, src: Pixels) -> Pixels:
    return src[sub.y0 - s.dy : sub.y1 - s.dy, sub.x0 - s.dx : sub.x1 - s.dx]


def brush(
    s: SimpleNamespace, color: int, region: Region, ox: int = 0, oy: int = 0
) -> Pixels:
    """``Canvas.brush_values``: the colour bytes or the tiled pattern."""
    if s.tile is None:
        return np.frombuffer(color.to_bytes(4, "little"), np.uint8).copy()
    return tile_values(s.tile, region, s.tile_x + ox, s.tile_y + oy)


def run_all(
    s: SimpleNamespace, call: Callable[[ModuleType, Pixels, Any, Pixels], None]
) -> list[Pixels]:
    """Each twin's result on its own copy (a source made from dst follows)."""
    out = []
    for twin in TWINS:
        dst = s.dst.copy()
        src = s.view(dst)
        if s.raw is None:
            rects = twin.region_rects(dst.shape[1], dst.shape[0], s.bbox, s.clips)
        else:
            rects = s.raw
        call(twin, dst, rects, src)
        out.append(dst)
    return out


def assert_all_equal(expected: Pixels, results: list[Pixels]) -> None:
    for twin_id, got in zip(TWIN_IDS, results, strict=True):
        assert np.array_equal(got, expected), twin_id


# -- regions ---------------------------------------------------------------------------


def _scene(h: int, w: int, bbox: Any, clips: Any, **more: Any) -> SimpleNamespace:
    fields: dict[str, Any] = dict(dst=pixels(7, h, w), bbox=bbox, clips=clips, raw=None)
    fields.update(src=fields["dst"], dx=0, dy=0, tile=None, tile_x=0, tile_y=0)
    fields.update(view=VIEWS["dst"])
    fields.update(more)
    return SimpleNamespace(**fields)


@given(scenes())
@example(_scene(8, 8, (0, 0, 8, 8), [(0, 0, 2, 2), (2, 0, 4, 2)]))  # touching runs
@example(_scene(8, 8, (0, 0, 8, 8), [(0, 0, 2, 2), (0, 4, 2, 6)]))  # gap between bands
@example(_scene(8, 8, (0, 0, 8, 8), [(0, 0, 4, 2), (0, 2, 4, 4), (5, 2, 6, 3)]))
def test_region_rects_is_the_canvas_region(s: SimpleNamespace) -> None:
    h, w = s.dst.shape[:2]
    want = raster(canvas_region(s, s.bbox, s.clips), h, w)
    results = [t.region_rects(w, h, s.bbox, s.clips) for t in TWINS]
    for got in results:
        assert got.dtype == np.int64 and got.shape[1:] == (4,)
        assert np.array_equal(got, results[0])
        cover = np.zeros((h, w), np.int32)
        for left, top, right, bottom in got:
            assert 0 <= left < right <= w and 0 <= top < bottom <= h
            cover[top:bottom, left:right] += 1
        assert cover.max(initial=0) <= 1  # disjoint
        assert np.array_equal(cover.astype(np.bool_), want)
        # banded: sorted by (top, left); no two bands that could merge
        keys = [(int(r[1]), int(r[0])) for r in got]
        assert keys == sorted(keys)


@given(st.lists(rect, min_size=257, max_size=300), rect)
def test_region_rects_many_clips(
    clips: list[tuple[int, int, int, int]], bbox: Any
) -> None:
    """Past REGION_MAX_SWEEP the compiled twin takes the raster path: same rects."""
    got = [t.region_rects(30, 20, bbox, clips) for t in TWINS]
    for other in got[1:]:
        assert np.array_equal(other, got[0])


# -- draws -----------------------------------------------------------------------------


@given(scenes(), st.integers(0, 15), u32)
def test_fill(s: SimpleNamespace, rop: int, color: int) -> None:
    expected = s.dst.copy()
    for region in canvas_regions(s):  # Canvas.draw_brush
        values = brush(s, color, region)
        if rop == Rop.COPY:
            region.write(expected, values)
        else:
            region.write(expected, apply_rop(Rop(rop), values, region.view(expected)))
    results = run_all(
        s,
        lambda t, d, r, _: t.fill(d, r, rop, color, s.tile, s.tile_x, s.tile_y),
    )
    assert_all_equal(expected, results)


@given(scenes(), st.integers(0, 15), st.booleans())
def test_blit(s: SimpleNamespace, rop: int, opaque: bool) -> None:
    expected = s.dst.copy()
    src = s.view(expected.copy())  # the source as it was  # Canvas.source copies
    for region in canvas_regions(s):
        sub = canvas_sub(s, region, src)
        if sub is None:
            continue  # Canvas.copy, same-size source
        values = source_view(s, sub, src)
        if opaque:
            values = values.copy()
            values[..., 3] = 0xFF
        if rop == Rop.COPY:
            sub.write(expected, values)
        else:
            sub.write(expected, apply_rop(Rop(rop), values, sub.view(expected)))
    drawn: list[int] = []
    results = run_all(
        s,
        lambda t, d, r, src: drawn.append(t.blit(d, r, src, s.dx, s.dy, rop, opaque)),
    )
    assert_all_equal(expected, results)
    # the pixels drawn (Canvas.pixels_drawn): the disjoint regions cut to the source
    inside = 0
    for region in canvas_regions(s):
        sub = canvas_sub(s, region, src)
        if sub is not None:
            inside += int(raster(sub, *s.dst.shape[:2]).sum())
    assert drawn == [inside] * len(TWINS)


@given(
    st.integers(1, 20), st.integers(1, 20), st.integers(0, 2**32),
    st.lists(st.tuples(st.integers(-4, 20), st.integers(-4, 20), st.integers(1, 12),
                       st.integers(1, 12)), min_size=1, max_size=3),
    st.integers(-6, 6), st.integers(-6, 6),
)  # fmt: skip
def test_copy_bits(
    h: int, w: int, seed: int, boxes: list[Any], dx: int, dy: int
) -> None:
    """COPY_BITS: a block moved within the surface reads the surface as it was
    before the move, for one rectangle (moved in place) or several (snapshot)."""
    clips = [(x, y, x + cw, y + ch) for x, y, cw, ch in boxes]
    s = _scene(h, w, (0, 0, w, h), clips, dx=dx, dy=dy)
    expected = s.dst.copy()
    for region in canvas_regions(s):  # Canvas.copy_bits
        sub = canvas_sub(s, region, s.dst)
        if sub is not None:
            sub.write(expected, source_view(s, sub, s.dst).copy())
    results = run_all(s, lambda t, d, r, src: t.blit(d, r, d, dx, dy, Rop.COPY))
    assert_all_equal(expected, results)
    s.raw = clips[:1]  # one rectangle as it is: the in-place path
    expected = s.dst.copy()
    for region in canvas_regions(s):
        sub = canvas_sub(s, region, s.dst)
        if sub is not None:
            sub.write(expected, source_view(s, sub, s.dst).copy())
    results = run_all(s, lambda t, d, r, src: t.blit(d, r, d, dx, dy, Rop.COPY))
    assert_all_equal(expected, results)


def _clip(clips: Any) -> SimpleNamespace:
    """A wire ``Clip`` of the scene's clip rectangles (None: CLIP_TYPE_NONE)."""
    if clips is None:
        return SimpleNamespace(type=ClipType.NONE, rects=None)
    return SimpleNamespace(type=ClipType.RECTS, rects=[_rect(c) for c in clips])


def _several(s: SimpleNamespace) -> bool:
    """The clip has several rectangles and bbox ∩ surface is not empty: the
    ``*_clipped`` kernels leave such a draw to the region path (-1)."""
    h, w = s.dst.shape[:2]
    bbox = _rect(s.bbox)
    on_surface = surface_box(w, h, bbox) is not None  # type: ignore[arg-type]
    return s.clips is not None and len(s.clips) > 1 and on_surface


@given(scenes(), st.integers(0, 15), st.booleans())
def test_blit_clipped(s: SimpleNamespace, rop: int, opaque: bool) -> None:
    """blit_clipped(bbox, clip) == the canvas's same-size copy over
    make_region(bbox, clip); several clip rectangles: -1, nothing drawn."""
    expected = s.dst.copy()
    src = s.view(expected.copy())
    inside = 0
    region = None if _several(s) else canvas_region(s, s.bbox, s.clips)
    sub = None if region is None else canvas_sub(s, region, src)
    if sub is not None:
        values = source_view(s, sub, src)
        if opaque:
            values = values.copy()
            values[..., 3] = 0xFF
        if rop == Rop.COPY:
            sub.write(expected, values)
        else:
            sub.write(expected, apply_rop(Rop(rop), values, sub.view(expected)))
        inside = (sub.x1 - sub.x0) * (sub.y1 - sub.y0)
    results, drawn = [], []
    for twin in TWINS:
        dst = s.dst.copy()
        bbox, clip = _rect(s.bbox), _clip(s.clips)
        got = twin.blit_clipped(dst, bbox, clip, s.view(dst), s.dx, s.dy, rop, opaque)
        results.append(dst)
        drawn.append(got)
    assert_all_equal(expected, results)
    assert drawn == [-1 if _several(s) else inside] * len(TWINS)


#: src_area one or two pixels wider or narrower than bbox: scaled (-1)
grows = st.sampled_from([0, 0, 0, 0, -2, -1, 1, 2])


@given(scenes(), st.integers(0, 15), st.booleans(), grows)
def test_copy_clipped(s: SimpleNamespace, rop: int, opaque: bool, grow: int) -> None:
    """copy_clipped(src_area) == blit_clipped with dx, dy = bbox - src_area's
    top-left when src_area has bbox's size; a scaled src_area: -1, nothing
    drawn."""
    left, top, right, bottom = s.bbox
    area = _rect((left - s.dx, top - s.dy, right - s.dx + grow, bottom - s.dy))
    expected = s.dst.copy()
    want = -1
    if grow == 0:
        src = s.view(expected)
        want = _draw_ref.blit_clipped(
            expected, _rect(s.bbox), _clip(s.clips), src, s.dx, s.dy, rop, opaque
        )
    results, drawn = [], []
    for twin in TWINS:
        dst = s.dst.copy()
        bbox, clip = _rect(s.bbox), _clip(s.clips)
        got = twin.copy_clipped(dst, bbox, clip, s.view(dst), area, rop, opaque)
        results.append(dst)
        drawn.append(got)
    assert_all_equal(expected, results)
    assert drawn == [want] * len(TWINS)


@given(scenes(), st.integers(0, 15), u32)
def test_fill_clipped(s: SimpleNamespace, rop: int, color: int) -> None:
    """fill_clipped(bbox, clip) == the canvas's solid fill over
    make_region(bbox, clip); several clip rectangles: -1, nothing drawn."""
    expected = s.dst.copy()
    region = None if _several(s) else canvas_region(s, s.bbox, s.clips)
    if region is not None:
        s.tile = None
        values = brush(s, color, region)
        if rop == Rop.COPY:
            region.write(expected, values)
        else:
            region.write(expected, apply_rop(Rop(rop), values, region.view(expected)))
    inside = 0 if region is None else int(raster(region, *s.dst.shape[:2]).sum())
    results, drawn = [], []
    for twin in TWINS:
        dst = s.dst.copy()
        drawn.append(twin.fill_clipped(dst, _rect(s.bbox), _clip(s.clips), rop, color))
        results.append(dst)
    assert_all_equal(expected, results)
    assert drawn == [-1 if _several(s) else inside] * len(TWINS)


@pytest.mark.parametrize("twin", TWINS, ids=TWIN_IDS)
def test_clipped_refusals(twin: ModuleType) -> None:
    """The same CanvasError as ``region.clip_box`` / the unclipped kernels, in
    the same order (destination, clip, then the draw's own arguments); an
    empty draw checks no more than the destination and the bbox."""
    dst, src = pixels(1, 6, 6), pixels(2, 3, 3)
    box, none = _rect((1, 1, 5, 5)), _clip(None)
    weird = SimpleNamespace(type=7, rects=None)
    for call in (
        lambda d, b, c: twin.blit_clipped(d, b, c, src, 0, 0, 3),
        lambda d, b, c: twin.copy_clipped(d, b, c, src, b, 3),
        lambda d, b, c: twin.fill_clipped(d, b, c, 3, 0),
    ):
        with pytest.raises(CanvasError, match="destination must be"):
            call(dst[:, ::2], box, weird)
        with pytest.raises(CanvasError, match="unknown clip type 7"):
            call(dst, box, weird)
        assert call(dst, _rect((6, 0, 9, 3)), weird) == 0  # off the surface
    with pytest.raises(CanvasError, match="unknown rop 16"):
        twin.blit_clipped(dst, box, none, src, 0, 0, 16)
    with pytest.raises(CanvasError, match="unknown rop 16"):
        twin.fill_clipped(dst, box, none, 16, 0)
    with pytest.raises(CanvasError, match="source must be"):
        twin.blit_clipped(dst, box, none, src[..., :3], 0, 0, 3)
    assert twin.blit_clipped(dst, box, _clip([]), src[..., :3], 0, 0, 16) == 0


@given(scenes(), st.integers(0, 255), u32)
def test_rop3(s: SimpleNamespace, code: int, color: int) -> None:
    expected = s.dst.copy()
    src = s.view(expected.copy())  # the source as it was
    for region in canvas_regions(s):
        sub = canvas_sub(s, region, src)
        if sub is None:
            continue  # draw_blend.draw_rop3
        p = brush(s, color, sub)
        sub.write(expected, rop3(code, p, source_view(s, sub, src), sub.view(expected)))
    results = run_all(
        s,
        lambda t, d, r, src: t.rop3_blit(
            d, r, src, s.dx, s.dy, code, color, s.tile, s.tile_x, s.tile_y
        ),
    )
    assert_all_equal(expected, results)


@given(scenes(), st.sampled_from([0xFFFFFF, 0xF8FCF8, 0xF8F8F8]), st.booleans(), u32)
def test_transparent(
    s: SimpleNamespace, key_mask: int, key_from_src: bool, key: int
) -> None:
    for image in (s.dst, s.src):  # few colours, differing in bits the masks drop
        image &= 0xC3
    expected = s.dst.copy()
    src = s.view(expected.copy())  # the source as it was
    if key_from_src and src.size:  # a key that really occurs (if any pixel does)
        key = int(src[0, 0].view("<u4")[0])
    for region in canvas_regions(s):
        sub = canvas_sub(s, region, src)
        if sub is None:
            continue  # draw_blend.transparent
        values = source_view(s, sub, src)
        bits = np.frombuffer(key_mask.to_bytes(4, "little"), np.uint8)[:3]
        want = np.frombuffer(key.to_bytes(4, "little"), np.uint8)[:3]
        keep = ~np.all((values[..., :3] & bits) == (want & bits), axis=-1)
        kept = sub.and_mask(keep)
        if kept is not None:
            kept.write(expected, values)
    results = run_all(
        s, lambda t, d, r, src: t.transparent(d, r, src, s.dx, s.dy, key, key_mask)
    )
    assert_all_equal(expected, results)


@given(scenes(), st.integers(0, 255), st.booleans(), st.booleans())
def test_alpha_blend(
    s: SimpleNamespace, alpha: int, src_opaque: bool, dest_alpha: bool
) -> None:
    expected = s.dst.copy()
    src = s.view(expected.copy())  # the source as it was
    for region in canvas_regions(s):
        sub = canvas_sub(s, region, src)
        if sub is None:
            continue  # draw_blend.alpha_blend
        values = source_view(s, sub, src).copy()
        if src_opaque:
            values[..., 3] = 0xFF
        if alpha != 0xFF:
            values = mul_un8(values, alpha).astype(np.uint8)
        dest = sub.view(expected)
        if not dest_alpha:
            dest = dest.copy()
            dest[..., 3] = 0xFF
        sub.write(expected, over(values, dest, dest_alpha))
    results = run_all(
        s,
        lambda t, d, r, src: t.alpha_blend(
            d, r, src, s.dx, s.dy, alpha, src_opaque, dest_alpha
        ),
    )
    assert_all_equal(expected, results)


# -- text ------------------------------------------------------------------------------


@st.composite
def glyph_strings(draw: st.DrawFn) -> tuple[int, list[Any]]:
    bpp = draw(st.sampled_from([1, 4, 8]))
    glyphs = []
    for _ in range(draw(st.integers(0, 6))):
        w, h = draw(st.integers(0, 11)), draw(st.integers(0, 11))
        stride = (w * bpp + 7) // 8
        data = draw(st.binary(min_size=stride * h, max_size=stride * h + 3))
        glyphs.append((draw(coord), draw(coord), w, h, data))
    return bpp, glyphs


def numpy_glyph_mask(bpp: int, glyphs: list[Any]) -> Any:
    """The canvas's numpy glyph mask as it was before the kernels replaced it
    (``draw_lines._glyph_mask`` at commit 7b27cac), on (left, top, w, h, bits)."""
    if not glyphs:
        return None
    boxes = [(left, top, left + w, top + h) for left, top, w, h, _ in glyphs]
    x0, y0 = min(b[0] for b in boxes), min(b[1] for b in boxes)
    x1, y1 = max(b[2] for b in boxes), max(b[3] for b in boxes)
    mask = np.zeros((y1 - y0, x1 - x0), np.int32)
    for (left, top, w, h, data), _ in zip(glyphs, boxes, strict=True):
        if w == 0 or h == 0:
            continue
        stride = (w * bpp + 7) // 8
        rows = np.frombuffer(data, np.uint8, stride * h).reshape(h, stride)[::-1]
        if bpp == 1:
            vals = np.unpackbits(rows, axis=1)[:, :w].astype(np.int32) * 255
        elif bpp == 4:
            nib = np.stack([rows & 0xF0, (rows << 4) & 0xF0], axis=2)
            vals = nib.reshape(h, -1)[:, :w].astype(np.int32)
        else:
            vals = rows[:, :w].astype(np.int32)
        view = mask[top - y0 : top - y0 + h, left - x0 : left - x0 + w]
        np.maximum(view, vals, out=view)
    return x0, y0, mask


@given(glyph_strings())
def test_glyph_mask(string: tuple[int, list[Any]]) -> None:
    bpp, glyphs = string
    want = numpy_glyph_mask(bpp, glyphs)
    for twin in TWINS:
        got = twin.glyph_mask(glyphs, bpp)
        if want is None:
            assert got is None
            continue
        assert got is not None and got[:2] == want[:2]
        assert got[2].dtype == np.uint8 and np.array_equal(got[2], want[2])


@given(scenes(), glyph_strings(), u32, st.booleans())
def test_mask_over(
    s: SimpleNamespace, string: tuple[int, list[Any]], color: int, dest_alpha: bool
) -> None:
    got_mask = _draw_ref.glyph_mask(string[1], string[0])
    if got_mask is None:
        return
    x0, y0, mask = got_mask
    expected = s.dst.copy()
    mh, mw = mask.shape
    for region in canvas_regions(s):  # draw_lines.text's composite
        sub = region.intersect(_rect((x0, y0, x0 + mw, y0 + mh)))  # type: ignore[arg-type]
        if sub is None:
            continue
        m = mask[sub.y0 - y0 : sub.y1 - y0, sub.x0 - x0 : sub.x1 - x0].astype(np.int32)
        values = brush(s, color, sub, x0, y0)
        src = np.broadcast_to(values, (sub.height, sub.width, 4)).astype(np.int32)
        src[..., 3] = 255
        dest = sub.view(expected)
        ma = m[..., None]
        result = np.minimum(mul_un8(src, ma) + mul_un8(dest, 255 - ma), 255)
        result = result.astype(np.uint8)
        if not dest_alpha:
            result[..., 3] = dest[..., 3]
        sub.write(expected, result)
    results = run_all(
        s,
        lambda t, d, r, _: t.mask_over(
            d, r, mask, x0, y0, color, dest_alpha, s.tile, s.tile_x + x0, s.tile_y + y0
        ),
    )
    assert_all_equal(expected, results)


# -- bad arguments ---------------------------------------------------------------------

GOOD = np.zeros((4, 5, 4), np.uint8)
RECTS = [(0, 0, 3, 3)]


def _readonly() -> Pixels:
    a = np.zeros((4, 5, 4), np.uint8)
    a.flags.writeable = False
    return a


BAD_DST = [
    np.zeros((4, 5, 3), np.uint8),
    np.zeros((4, 5, 4), np.int16),
    np.zeros((4, 5, 4), np.bool_),
    np.zeros((4, 20), np.uint8),
    np.zeros((4, 10, 4), np.uint8)[:, ::2],
    _readonly(),
    b"\0" * 80,
    None,
]
BAD_RECTS: list[Any] = [
    [(0, 0, 3)],
    [(0, 0, 3, 3, 4)],
    [("a", 0, 1, 1)],
    [(0, 0, 1 << 70, 1)],
    np.zeros((2, 3), np.int64),
    5,
]
BAD_INT: list[Any] = ["1", 1.5, None, 1 << 64, -(1 << 64)]


def _kernel_calls(
    dst: Any = GOOD, rects: Any = RECTS
) -> dict[str, Callable[..., None]]:
    src = np.zeros((3, 3, 4), np.uint8)
    mask = np.ones((3, 3), np.uint8)
    return {
        "fill": lambda t, **k: t.fill(
            k.get("dst", dst), k.get("rects", rects), k.get("rop", 3),
            k.get("color", 1), k.get("tile"), k.get("x", 0), k.get("y", 0),
        ),
        "blit": lambda t, **k: t.blit(
            k.get("dst", dst), k.get("rects", rects), k.get("src", src),
            k.get("x", 0), k.get("y", 0), k.get("rop", 3),
        ),
        "rop3_blit": lambda t, **k: t.rop3_blit(
            k.get("dst", dst), k.get("rects", rects), k.get("src", src),
            k.get("x", 0), k.get("y", 0), k.get("rop", 0x33), k.get("color", 1),
            k.get("tile"),
        ),
        "transparent": lambda t, **k: t.transparent(
            k.get("dst", dst), k.get("rects", rects), k.get("src", src),
            k.get("x", 0), k.get("y", 0), k.get("color", 1),
        ),
        "alpha_blend": lambda t, **k: t.alpha_blend(
            k.get("dst", dst), k.get("rects", rects), k.get("src", src),
            k.get("x", 0), k.get("y", 0), k.get("rop", 0x80), True, True,
        ),
        "mask_over": lambda t, **k: t.mask_over(
            k.get("dst", dst), k.get("rects", rects), k.get("mask", mask),
            k.get("x", 0), k.get("y", 0), k.get("color", 1), True, k.get("tile"),
        ),
    }  # fmt: skip


KERNELS = sorted(_kernel_calls())
SOURCE_KERNELS = ["blit", "rop3_blit", "transparent", "alpha_blend"]


@pytest.mark.parametrize("twin", TWINS, ids=TWIN_IDS)
@pytest.mark.parametrize("name", KERNELS)
def test_good_arguments_draw(twin: ModuleType, name: str) -> None:
    """The baseline of the bad-argument tests: these calls are accepted."""
    dst = np.full((4, 5, 4), 7, np.uint8)
    _kernel_calls(dst)[name](twin)
    assert not np.all(dst == 7)


@pytest.mark.parametrize("twin", TWINS, ids=TWIN_IDS)
@pytest.mark.parametrize("name", KERNELS)
@pytest.mark.parametrize("bad", range(len(BAD_DST)))
def test_bad_destination(twin: ModuleType, name: str, bad: int) -> None:
    with pytest.raises(CanvasError):
        _kernel_calls(BAD_DST[bad])[name](twin)


@pytest.mark.parametrize("twin", TWINS, ids=TWIN_IDS)
@pytest.mark.parametrize("name", KERNELS)
@pytest.mark.parametrize("bad", range(len(BAD_RECTS)))
def test_bad_rectangles(twin: ModuleType, name: str, bad: int) -> None:
    with pytest.raises(CanvasError):
        _kernel_calls(rects=BAD_RECTS[bad])[name](twin)


#: (kernel, integer argument) pairs: blit and alpha_blend take no colour.
INT_ARGS = [
    (name, arg)
    for name in KERNELS
    for arg in ("x", "y", "color")
    if not (arg == "color" and name in ("blit", "alpha_blend"))
]


@pytest.mark.parametrize("twin", TWINS, ids=TWIN_IDS)
@pytest.mark.parametrize(("name", "arg"), INT_ARGS)
@pytest.mark.parametrize("bad", range(len(BAD_INT)))
def test_bad_integers(twin: ModuleType, name: str, arg: str, bad: int) -> None:
    with pytest.raises(CanvasError):
        _kernel_calls()[name](twin, **{arg: BAD_INT[bad]})


@pytest.mark.parametrize("twin", TWINS, ids=TWIN_IDS)
@pytest.mark.parametrize(
    ("name", "code"),
    [("fill", -1), ("fill", 16), ("blit", 16), ("blit", -3), ("rop3_blit", 256),
     ("rop3_blit", -1), ("alpha_blend", 256), ("alpha_blend", -1)],
)  # fmt: skip
def test_bad_codes(twin: ModuleType, name: str, code: int) -> None:
    with pytest.raises(CanvasError):
        _kernel_calls()[name](twin, rop=code)


@pytest.mark.parametrize("twin", TWINS, ids=TWIN_IDS)
@pytest.mark.parametrize("name", SOURCE_KERNELS)
@pytest.mark.parametrize(
    "src",
    [
        np.zeros((3, 3, 3), np.uint8),
        np.zeros((3, 3, 4), np.float32),
        np.zeros((9, 4), np.uint8),
        [[0]],
    ],
)
def test_bad_source(twin: ModuleType, name: str, src: Any) -> None:
    with pytest.raises(CanvasError):
        _kernel_calls()[name](twin, src=src)


@pytest.mark.parametrize("twin", TWINS, ids=TWIN_IDS)
@pytest.mark.parametrize("name", ["fill", "rop3_blit", "mask_over"])
@pytest.mark.parametrize(
    "tile",
    [
        np.zeros((0, 3, 4), np.uint8),
        np.zeros((3, 3, 2), np.uint8),
        np.zeros((2, 2), np.uint8),
        "x",
    ],
)
def test_bad_tile(twin: ModuleType, name: str, tile: Any) -> None:
    with pytest.raises(CanvasError):
        _kernel_calls()[name](twin, tile=tile)


@pytest.mark.parametrize("twin", TWINS, ids=TWIN_IDS)
@pytest.mark.parametrize(
    "mask", [np.ones((3, 3), np.int32), np.ones((3, 3, 1), np.uint8), None]
)
def test_bad_mask(twin: ModuleType, mask: Any) -> None:
    with pytest.raises(CanvasError):
        _kernel_calls()["mask_over"](twin, mask=mask)


@pytest.mark.parametrize("twin", TWINS, ids=TWIN_IDS)
@pytest.mark.parametrize(
    ("glyphs", "bpp"),
    [
        ([(0, 0, 8, 2, b"\xff")], 1),  # truncated
        ([(0, 0, 3, 3, b"\0" * 5)], 4),  # truncated (2 bytes a row)
        ([(0, 0, -1, 2, b"")], 8),
        ([(0, 0, 2, 2, 12)], 8),  # not a buffer
        ([(0, 0, 2, 2)], 8),  # not 5 fields
        ([(0, "a", 2, 2, b"\0" * 4)], 8),
        ([(0, 0, 1, 1, b"\0"), (5000, 5000, 1, 1, b"\0")], 8),  # extent
        ([(0, 0, 1, 1, b"\0")], 2),  # depth
        ([(1 << 70, 0, 1, 1, b"\0")], 8),
    ],
)
def test_bad_glyphs(twin: ModuleType, glyphs: list[Any], bpp: int) -> None:
    with pytest.raises(CanvasError):
        twin.glyph_mask(glyphs, bpp)


@pytest.mark.parametrize("twin", TWINS, ids=TWIN_IDS)
def test_bad_region_arguments(twin: ModuleType) -> None:
    for args in [
        (10, 10, (0, 0, 5), None),
        (10, 10, (0, 0, 5, 5), [(0, 0, 1)]),
        ("10", 10, (0, 0, 5, 5), None),
        (10, 10, (0, 0, 5, 5), [(0, 0, 1 << 80, 1), (0, 0, 1, 1)]),
    ]:
        with pytest.raises(CanvasError):
            twin.region_rects(*args)


# -- whole captures ------------------------------------------------------------------

#: Every capture of the public corpus (each draws through the kernels).
CAPTURE_NAMES = [
    "cursor-auto_glz", "gradients-auto_glz", "gradients-jpeg", "gradients-lz",
    "mixed-defaults", "photos-auto_lz", "photos-jpeg", "photos-lz4", "photos-quic",
    "text-auto_glz", "text-glz", "text-lz", "text-lz4", "text-off", "text-zlib_glz",
    "video-h264", "video-stream_all", "video-stream_filter", "video-vp8",
    "winmove-glz", "winmove-lz4",
]  # fmt: skip


def _digest(pixels: Pixels) -> str:
    return hashlib.sha256(pixels.tobytes()).hexdigest()


def _replay_digests(path: Any) -> tuple[list[str], list[list[str]], dict[Any, str]]:
    """Digests of the primary after each batch, of every surface of the channel
    at each DISPLAY_MARK (a frame the server says is complete), and of every
    final surface."""
    from spicepy.capture.replay import replay
    from spicepy.session.core import DisplayDriver
    from spicepy.wire import msg_display as md

    batches: list[str] = []
    marks: list[list[str]] = []

    def on_batch(driver: Any, _: int) -> None:
        batches.append(_digest(driver.canvas.primary.pixels))

    apply = DisplayDriver.apply

    def traced(self: DisplayDriver, msg: object, mm_time: int | None = None) -> Any:
        changed = apply(self, msg, mm_time)
        if type(msg) is md.DisplayMark:
            surfaces = self.canvas.surfaces
            marks.append([f"{sid}:{_digest(surfaces[sid].pixels)}" for sid in surfaces])
        return changed

    DisplayDriver.apply = traced  # type: ignore[method-assign]
    try:
        result = replay(path, on_batch=on_batch)
    finally:
        DisplayDriver.apply = apply  # type: ignore[method-assign]
    final = {
        (key, sid): _digest(surface.pixels)
        for key, driver in result.drivers.items()
        for sid, surface in driver.canvas.surfaces.items()
    }
    return batches, marks, final


@pytest.mark.skipif(_fast is None, reason="the compiled twin is not built")
@pytest.mark.skipif(
    os.environ.get("SPICEPY_PUREPYTHON", "") not in ("", "0"),
    reason="compares both kernel twins explicitly in the full run; under "
    "SPICEPY_PUREPYTHON the codecs' reference twins only make it 5 min slower",
)
@pytest.mark.parametrize("name", CAPTURE_NAMES)
def test_capture_surfaces_same_with_either_twin(
    captures_dir: Any, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Replaying a capture through the canvas gives the same primary after every
    batch, the same surfaces at every DISPLAY_MARK and the same final surfaces
    with the compiled and the reference kernels."""
    path = captures_dir / f"{name}.pcap"
    if not path.exists():
        pytest.skip(f"{name}.pcap not in the corpus")
    names = [n for n in kernels.__all__ if n not in ("FAST", "Glyph")]
    calls: Counter[str] = Counter()

    def counting(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
        def counted(*args: Any) -> Any:
            calls[name] += 1
            return func(*args)

        return counted

    def use(twin: ModuleType) -> None:
        for n in names:
            monkeypatch.setattr(kernels, n, counting(n, getattr(twin, n)))

    use(_fast)
    fast = _replay_digests(path)
    # the capture's draws went to the kernels
    assert calls["blit"] + calls["fill"] + calls["copy_clipped"] > 0
    use(_draw_ref)
    reference = _replay_digests(path)
    assert fast[0] and fast[2]
    assert fast == reference


@pytest.mark.parametrize("twin", TWINS, ids=TWIN_IDS)
@pytest.mark.parametrize("bad", range(len(BAD_INT)))
def test_clipped_bad_integers(twin: ModuleType, bad: int) -> None:
    """dx, dy, colour and ROP of the clipped kernels are checked as the
    unclipped kernels check them (a non-empty draw)."""
    dst, src, value = pixels(1, 6, 6), pixels(2, 3, 3), BAD_INT[bad]
    box, none = _rect((1, 1, 5, 5)), _clip(None)
    calls = [
        lambda: twin.blit_clipped(dst, box, none, src, value, 0, 3),
        lambda: twin.blit_clipped(dst, box, none, src, 0, value, 3),
        lambda: twin.blit_clipped(dst, box, none, src, 0, 0, value),
        lambda: twin.copy_clipped(dst, box, none, src, box, value),
        lambda: twin.fill_clipped(dst, box, none, 3, value),
        lambda: twin.fill_clipped(dst, box, none, value, 0),
    ]
    for call in calls:
        with pytest.raises(CanvasError):
            call()
