"""Type stub for the drawing kernels' fast path (same API as ``_draw_ref``)."""

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from spicepy.canvas._draw_ref import Glyph
from spicepy.wire.types import Clip, Rect

def region_rects(
    width: int, height: int, bbox: Sequence[int], clips: object | None
) -> npt.NDArray[np.int64]: ...
def fill(
    dst: npt.NDArray[np.uint8],
    rects: object,
    rop: int,
    color: int,
    tile: npt.NDArray[np.uint8] | None = None,
    tile_x: int = 0,
    tile_y: int = 0,
) -> None: ...
def blit(
    dst: npt.NDArray[np.uint8],
    rects: object,
    src: npt.NDArray[np.uint8],
    dx: int,
    dy: int,
    rop: int,
    opaque: bool = False,
) -> int: ...
def blit_clipped(
    dst: npt.NDArray[np.uint8],
    bbox: Rect,
    clip: Clip,
    src: npt.NDArray[np.uint8],
    dx: int,
    dy: int,
    rop: int,
    opaque: bool = False,
) -> int: ...
def copy_clipped(
    dst: npt.NDArray[np.uint8],
    bbox: Rect,
    clip: Clip,
    src: npt.NDArray[np.uint8],
    src_area: Rect,
    rop: int,
    opaque: bool = False,
) -> int: ...
def fill_clipped(
    dst: npt.NDArray[np.uint8], bbox: Rect, clip: Clip, rop: int, color: int
) -> int: ...
def rop3_blit(
    dst: npt.NDArray[np.uint8],
    rects: object,
    src: npt.NDArray[np.uint8],
    dx: int,
    dy: int,
    code: int,
    color: int,
    tile: npt.NDArray[np.uint8] | None = None,
    tile_x: int = 0,
    tile_y: int = 0,
) -> None: ...
def transparent(
    dst: npt.NDArray[np.uint8],
    rects: object,
    src: npt.NDArray[np.uint8],
    dx: int,
    dy: int,
    key: int,
    key_mask: int = 0xFFFFFF,
) -> None: ...
def alpha_blend(
    dst: npt.NDArray[np.uint8],
    rects: object,
    src: npt.NDArray[np.uint8],
    dx: int,
    dy: int,
    alpha: int,
    src_opaque: bool,
    dest_alpha: bool,
) -> None: ...
def glyph_mask(
    glyphs: Sequence[Glyph], bpp: int
) -> tuple[int, int, npt.NDArray[np.uint8]] | None: ...
def mask_over(
    dst: npt.NDArray[np.uint8],
    rects: object,
    mask: npt.NDArray[np.uint8],
    mask_x: int,
    mask_y: int,
    color: int,
    dest_alpha: bool,
    tile: npt.NDArray[np.uint8] | None = None,
    tile_x: int = 0,
    tile_y: int = 0,
) -> None: ...
