"""Type stub of the GLZ fast path (same API as ``_glz_ref``'s decode and loops)."""

from collections.abc import Callable

import numpy as np
import numpy.typing as npt
from spicepy.codecs._glz_ref import SegTable

def decode(
    data: bytes | bytearray | memoryview,
    lookup: Callable[[int], npt.NDArray[np.uint8] | None],
    palette: npt.ArrayLike | None,
    max_pixels: int,
) -> tuple[npt.NDArray[np.uint8], int, int, int, int, int, int, int]: ...
def decode_pass(
    data: bytes | bytearray | memoryview,
    pos: int,
    out: npt.NDArray[np.uint8],
    gross: int,
    mode: int,
    image_id: int,
    win_head_dist: int,
    lookup: Callable[[int], npt.NDArray[np.uint8] | None],
    palette: npt.NDArray[np.uint32] | None = None,
) -> int: ...
def compress(
    keys: npt.NDArray[np.uint32],
    lits: npt.NDArray[np.uint32],
    mode: int,
    htab: npt.NDArray[np.uint32],
    cur_seg: int,
    cur_id: int,
    table: SegTable,
) -> bytes: ...
