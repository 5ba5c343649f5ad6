"""Shared pieces of the codec modules: limits, the error, the info record and
the fast-path switch. Imports nothing from the protocol layers."""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from types import ModuleType

import numpy as np
import numpy.typing as npt

from spicepy.errors import CodecError

__all__ = [
    "CodecError",
    "ImageInfo",
    "byte_view",
    "MAX_IMAGE_PIXELS",
    "MAX_DIMENSION",
    "check_dimensions",
    "output_array",
    "pick_twin",
    "want_fast",
]

#: Largest image any decoder will allocate (pixels). 8192 x 8192 covers every
#: surface a QXL device can create and keeps a hostile header from asking for
#: gigabytes; callers may pass a smaller ``max_pixels``.
MAX_IMAGE_PIXELS = 1 << 26
#: Largest width or height accepted.
MAX_DIMENSION = 1 << 15


@dataclass(frozen=True, slots=True)
class ImageInfo:
    """What a stream's header declares, read without decoding the pixels."""

    codec: str  # "quic", "lz", "glz", ...
    image_type: str  # the codec's own name of the pixel format: "RGB32", "PLT8", ...
    width: int
    height: int
    top_down: bool = True


def check_dimensions(
    width: int, height: int, max_pixels: int = MAX_IMAGE_PIXELS
) -> None:
    """Raise CodecError unless width x height is a sane, allocatable size."""
    if width <= 0 or height <= 0:
        raise CodecError(f"bad image size {width}x{height}")
    if width > MAX_DIMENSION or height > MAX_DIMENSION or width * height > max_pixels:
        raise CodecError(
            f"image {width}x{height} exceeds the limit of {max_pixels} pixels"
        )


def byte_view(data: bytes | bytearray | memoryview) -> bytes | memoryview:
    """``data`` as bytes without copying it where it is a contiguous buffer
    (a wire payload is a view into its message: copying it costs more than
    parsing a header), else as a bytes copy."""
    if isinstance(data, bytes):
        return data
    try:
        return memoryview(data).cast("B")
    except TypeError:  # not C-contiguous
        return bytes(data)


def want_fast() -> bool:
    """False when SPICEPY_PUREPYTHON=1 asks for the reference twins only."""
    return os.environ.get("SPICEPY_PUREPYTHON", "") in ("", "0")


def pick_twin(fast: str, reference: ModuleType) -> tuple[ModuleType, bool]:
    """The twin a module runs, and whether it is the compiled one (its ``FAST``).

    Args:
        fast: the compiled twin's full module name, e.g. ``"spicepy.codecs._lz"``.
        reference: the pure-Python twin, used when SPICEPY_PUREPYTHON=1 asks for
            it or the compiled one is not built.
    """
    if want_fast():
        try:
            return importlib.import_module(fast), True
        except ImportError:
            pass
    return reference, False


def output_array(
    out: npt.NDArray[np.uint8] | None, width: int, height: int
) -> npt.NDArray[np.uint8]:
    """The array a decoder writes (height, width, 4) pixels into: a new one, or
    ``out`` once checked to be a writable C-contiguous uint8 array of that shape
    (the fast paths write through a flat view of it).

    Raises:
        ValueError: ``out`` has the wrong type, dtype, shape or layout.
    """
    if out is None:
        return np.empty((height, width, 4), dtype=np.uint8)
    if (
        not isinstance(out, np.ndarray)
        or out.dtype != np.uint8
        or out.shape != (height, width, 4)
        or not out.flags.c_contiguous
        or not out.flags.writeable
    ):
        raise ValueError(
            f"out must be a writable C-contiguous uint8 {(height, width, 4)} array"
        )
    return out
