"""Type stub for the LZ fast path (same API as ``_lz_ref``)."""

import numpy as np
import numpy.typing as npt

def decode_pass(
    data: bytes,
    pos: int,
    mode: int,
    out: npt.NDArray[np.uint8],
    lut: npt.NDArray[np.uint32] | None,
) -> int: ...
def compress(mode: int, units: npt.NDArray[np.uint8]) -> bytes: ...
