"""Shared pieces of the codec modules: limits, the error, the info record and
the fast-path switch. Imports nothing from the protocol layers."""

from __future__ import annotations

import os
from dataclasses import dataclass

from spicepy.errors import CodecError

__all__ = [
    "CodecError",
    "ImageInfo",
    "MAX_IMAGE_PIXELS",
    "MAX_DIMENSION",
    "check_dimensions",
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


def check_dimensions(width: int, height: int, max_pixels: int = MAX_IMAGE_PIXELS) -> None:
    """Raise CodecError unless width x height is a sane, allocatable size."""
    if width <= 0 or height <= 0:
        raise CodecError(f"bad image size {width}x{height}")
    if width > MAX_DIMENSION or height > MAX_DIMENSION or width * height > max_pixels:
        raise CodecError(f"image {width}x{height} exceeds the limit of {max_pixels} pixels")


def want_fast() -> bool:
    """False when SPICEPY_PUREPYTHON=1 asks for the reference twins only."""
    return os.environ.get("SPICEPY_PUREPYTHON", "") in ("", "0")
