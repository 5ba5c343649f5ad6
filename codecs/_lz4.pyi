"""Type stub for the LZ4 fast path (same API as ``_lz4_ref``)."""

import numpy as np
import numpy.typing as npt

def decode_into(
    data: bytes | bytearray | memoryview,
    pos: int,
    fmt: int,
    top_down: bool,
    out: npt.NDArray[np.uint8],
) -> None: ...
