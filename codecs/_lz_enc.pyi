"""Type stub for the LZ encoder fast path (``_lz_ref.compress``)."""

import numpy as np
import numpy.typing as npt

def compress(mode: int, units: npt.NDArray[np.uint8]) -> bytes: ...
