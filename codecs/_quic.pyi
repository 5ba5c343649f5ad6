"""Type stub for the QUIC fast path (same API as ``_quic_ref``)."""

import numpy as np
import numpy.typing as npt

def decode_body(
    data: bytes | bytearray | memoryview,
    start_word: int,
    image_type: int,
    out: npt.NDArray[np.uint8],
) -> None: ...
def encode_body(image_type: int, pixels: npt.NDArray[np.uint8]) -> bytes: ...
