"""Surfaces: numpy framebuffers in the canvas byte order.

Every surface, whatever its SPICE format, is stored as a C-contiguous ``uint8`` array
of shape ``(height, width, 4)`` in B, G, R, X/A order (little-endian xRGB/ARGB words,
as spice-common's sw_canvas keeps pixman ``x8r8g8b8``/``a8r8g8b8`` images). Formats
with fewer bits are emulated: after a draw the touched area is re-quantised exactly
as a 16-bit or 8-bit/1-bit pixman image would store it (``canvas_16bpp_to_32bpp`` in
common/canvas_base.c gives the expansion used when reading such pixels back).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from spicepy.canvas.pixelmem import huge_mapping
from spicepy.errors import CanvasError

# SpiceSurfaceFmt (spice.proto ``enum32 surface_fmt``), under the canvas's name
from spicepy.wire.enums import SurfaceFmt as SurfaceFormat

__all__ = [
    "HUGE_SURFACE_BYTES",
    "MAX_SURFACE_DIMENSION",
    "MAX_SURFACE_PIXELS",
    "Surface",
    "SurfaceFormat",
    "cleared",
    "quantise",
]

Pixels = npt.NDArray[np.uint8]

#: Largest side of a surface (QXL devices stop far below this).
MAX_SURFACE_DIMENSION = 1 << 14
#: Largest surface in pixels (8192 x 8192, i.e. 256 MiB of BGRX).
MAX_SURFACE_PIXELS = 1 << 26
#: A surface of at least this many bytes gets a mapping of its own, aligned to
#: and rounded up to 2 MiB huge pages and marked for transparent huge pages
#: (``pixelmem.huge_mapping``; numpy marks its own arrays from 4 MiB on,
#: unaligned): the first touch of a 1024x768 primary then takes 2 page faults
#: instead of 768 (~0.2 ms of CPU instead of ~1.9 ms here).  Smaller surfaces
#: keep numpy's allocator (a huge page each would waste memory).
HUGE_SURFACE_BYTES = 1 << 20


def cleared(nbytes: int) -> Pixels:
    """``nbytes`` zero bytes, 1-D and writable; on huge pages from
    ``HUGE_SURFACE_BYTES`` on where the system offers them (else numpy's)."""
    if nbytes >= HUGE_SURFACE_BYTES:
        mapped = huge_mapping(nbytes)
        if mapped is not None:
            return mapped
    return np.zeros(nbytes, dtype=np.uint8)


def quantise(pixels: Pixels, fmt: SurfaceFormat) -> None:
    """Round BGRX values in place to what a surface of ``fmt`` can hold.

    16-bit formats keep the top 5 (or 6) bits per channel and expand them back by
    bit replication; A8 keeps only alpha, A1 only the top bit of alpha.
    """
    if fmt in (SurfaceFormat.FMT_32_xRGB, SurfaceFormat.FMT_32_ARGB):
        return
    if fmt == SurfaceFormat.FMT_16_555 or fmt == SurfaceFormat.FMT_16_565:
        bgr = pixels[..., :3]
        five = bgr & 0xF8
        five |= five >> 5
        if fmt == SurfaceFormat.FMT_16_565:
            green = pixels[..., 1] & 0xFC
            five[..., 1] = green | (green >> 6)
        bgr[...] = five
        pixels[..., 3] = 0
    elif fmt == SurfaceFormat.FMT_8_A:
        pixels[..., :3] = 0
    elif fmt == SurfaceFormat.FMT_1_A:
        pixels[..., :3] = 0
        pixels[..., 3] = np.where(pixels[..., 3] & 0x80, 0xFF, 0).astype(np.uint8)


class Surface:
    """One drawing surface (the primary, id 0, or an off-screen one)."""

    __slots__ = (
        "surface_id",
        "width",
        "height",
        "format",
        "flags",
        "pixels",
        "quantised",
        "has_alpha",
        "opaque_copy",
    )

    def __init__(
        self,
        surface_id: int,
        width: int,
        height: int,
        fmt: int = SurfaceFormat.FMT_32_xRGB,
        flags: int = 0,
    ) -> None:
        """Allocate a cleared surface.

        Raises:
            CanvasError: unknown format or a size outside the limits.
        """
        try:
            self.format = SurfaceFormat(fmt)
        except ValueError as exc:
            raise CanvasError(f"surface {surface_id}: unknown format {fmt}") from exc
        if self.format == SurfaceFormat.INVALID:
            raise CanvasError(f"surface {surface_id}: invalid format")
        if not (
            0 < width <= MAX_SURFACE_DIMENSION and 0 < height <= MAX_SURFACE_DIMENSION
        ):
            raise CanvasError(f"surface {surface_id}: bad size {width}x{height}")
        if width * height > MAX_SURFACE_PIXELS:
            raise CanvasError(f"surface {surface_id}: {width}x{height} is too large")
        self.surface_id = surface_id
        self.width = width
        self.height = height
        self.flags = flags
        #: a format narrower than 32 bits: draws re-quantise what they touch
        self.quantised = self.format not in (
            SurfaceFormat.FMT_32_xRGB,
            SurfaceFormat.FMT_32_ARGB,
        )
        #: the alpha byte is meaningful (ARGB, A8, A1)
        self.has_alpha = self.format in (
            SurfaceFormat.FMT_32_ARGB,
            SurfaceFormat.FMT_8_A,
            SurfaceFormat.FMT_1_A,
        )
        #: a same-size COPY of an alpha-less source lands opaque (pixman's
        #: conversion to A8/A1); 32-bit targets take its X byte raw
        self.opaque_copy = self.format in (SurfaceFormat.FMT_8_A, SurfaceFormat.FMT_1_A)
        self.pixels: Pixels = cleared(height * width * 4).reshape(height, width, 4)

    def clear(self) -> None:
        self.pixels.fill(0)

    def rgb(self) -> Pixels:
        """The surface as an (h, w, 3) R, G, B array (what a PNG holds)."""
        return np.ascontiguousarray(self.pixels[..., 2::-1])

    def __repr__(self) -> str:
        return (
            f"Surface(id={self.surface_id}, {self.width}x{self.height}, "
            f"{self.format.name})"
        )
