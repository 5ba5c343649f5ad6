"""Type stub for the LZ decoder fast path (same API as ``_lz_ref``'s decoder)."""

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

def decode(
    data: bytes | bytearray | memoryview,
    palette: Sequence[int] | npt.NDArray[np.integer] | None,
    out: npt.NDArray[np.uint8] | None,
    max_pixels: int,
) -> tuple[npt.NDArray[np.uint8], int]: ...
def decode_pass(
    data: bytes | memoryview,
    pos: int,
    mode: int,
    out: npt.NDArray[np.uint8],
    lut: npt.NDArray[np.uint32] | None,
) -> int: ...
