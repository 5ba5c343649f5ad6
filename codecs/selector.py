"""A heuristic image-codec selector modelled on spice-server's.

This is the decision ``get_compression_for_bitmap`` and ``dcc_compress_image``
take for every bitmap (spice ``server/dcc.cpp``; PROTOCOL.md section 12):

1. ``stride * height < 54`` bytes -> raw ``BITMAP``.
2. Mode ``off`` -> ``BITMAP``; ``quic`` -> ``QUIC`` when QUIC can code the image
   (not a palette, at least 3x3), else ``BITMAP``.
3. ``auto_glz`` / ``auto_lz``: a QUIC-able image whose *graduality* is HIGH
   (photo-like) goes to ``QUIC``, and so does one LZ cannot code (rows padded
   beyond width * bpp); everything else to GLZ (``auto_glz``) or LZ (``auto_lz``).
4. GLZ needs a drawable (a surface's own image pushed at connect has none), an
   RGB format and fewer pixels than the dictionary; else LZ. LZ4 applies only to
   RGB formats and clients with the LZ4 capability; else LZ. A palette image is
   ``LZ_PLT``.
5. In the QUIC branch a lossy-capable draw with JPEG enabled becomes ``JPEG``
   (``JPEG_ALPHA`` for RGBA).

Graduality (``server/spice-bitmap-utils.tmpl.c``): starting at the middle of
the first row, every 15th pixel (14th if the width is a multiple of 15) is
compared with its right, lower and lower-right neighbours: equal +0.5,
contrasting (a channel differs by >= 60, or >= 8 for 5-bit channels) +1.0,
slightly different -0.25; a square whose three pairs are all equal scores 0.
The sum over 3 x samples is HIGH below -0.03 (below 0 for 16-bit), MEDIUM below
0.002, else LOW. Smooth photos score negative; text and UI score positive.

``choose_codec`` stops before encoding. :func:`compress` goes on as the
server's encoders do (``server/image-encoders.cpp``): QUIC, LZ, LZ4, JPEG and
JPEG_ALPHA output larger than the raw bitmap is dropped for ``BITMAP``; GLZ has no
such check, but GLZ output of at least 100 bytes is zlib-wrapped
(``ZLIB_GLZ_RGB``) when the wrap is on and zlib shrinks it.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from enum import Enum
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "MIN_SIZE_TO_COMPRESS",
    "MODES",
    "Compressed",
    "Graduality",
    "choose_codec",
    "compress",
    "graduality",
    "graduality_score",
]

#: below this many raw bytes (stride * height) the server sends BITMAP (dcc.cpp)
MIN_SIZE_TO_COMPRESS = 54
#: QUIC refuses images narrower or lower than this (dcc.cpp MIN_DIMENSION_TO_QUIC)
MIN_DIMENSION_TO_QUIC = 3
#: GLZ output below this many bytes is never zlib-wrapped (MIN_GLZ_SIZE_FOR_ZLIB)
MIN_GLZ_SIZE_FOR_ZLIB = 100
#: the server's zlib level for the GLZ wrap (ZLIB_DEFAULT_COMPRESSION_LEVEL)
ZLIB_GLZ_LEVEL = 3
#: spice-server's GLZ dictionary: images of this many pixels or more go to LZ
GLZ_DICTIONARY_PIXELS = 1 << 25

SAMPLE_JUMP = 15
SAME_PIXEL_WEIGHT = 0.5
CONTRAST_PIXELS_WEIGHT = 1.0
NOT_CONTRAST_PIXELS_WEIGHT = -0.25
GRADUAL_HIGH_RGB24_TH = -0.03
GRADUAL_HIGH_RGB16_TH = 0.0
GRADUAL_MEDIUM_SCORE_TH = 0.002

#: SpiceImageCompression names accepted as ``mode`` (spice-protocol enums.h)
MODES = ("off", "auto_glz", "auto_lz", "quic", "glz", "lz", "lz4")


class Graduality(Enum):
    """BitmapGradualType: how photo-like an image is."""

    LOW = "low"  # text, UI: sharp edges and flat areas
    MEDIUM = "medium"
    HIGH = "high"  # photos, smooth gradients


Channels = tuple[npt.NDArray[np.int32], npt.NDArray[np.int32], npt.NDArray[np.int32]]


def _flat(image: npt.NDArray[np.generic], rgb16: bool) -> npt.NDArray[np.generic]:
    """The image as one row of pixels: x555 words, B,G,R,X words, or BGR triples."""
    if rgb16:
        words = np.asarray(image)
        if words.ndim != 2 or words.dtype != np.uint16:
            raise ValueError("16-bit images are (h, w) uint16 x555 words")
        return words.reshape(-1)
    img = np.asarray(image)
    if img.ndim != 3 or img.shape[2] < 3 or img.dtype != np.uint8:
        raise ValueError("images are uint8 (h, w, 3|4), B, G, R[, X|A]")
    if img.shape[2] == 4:  # one 32-bit gather per pixel instead of four bytes
        return np.ascontiguousarray(img).view("<u4").reshape(-1)
    return img.reshape(-1, img.shape[2])


def _channels(pixels: npt.NDArray[np.generic], rgb16: bool) -> Channels:
    """R, G, B of gathered pixels (int32, one array per channel)."""
    if pixels.ndim == 2:  # BGR triples
        p = pixels.astype(np.int32)
        return p[:, 2], p[:, 1], p[:, 0]
    w = pixels.astype(np.int32)
    if rgb16:
        return (w >> 10) & 0x1F, (w >> 5) & 0x1F, w & 0x1F
    return (w >> 16) & 0xFF, (w >> 8) & 0xFF, w & 0xFF


def _sample_positions(width: int, num_lines: int) -> npt.NDArray[np.int64]:
    """Flat indices of the sampled pixels, as compute_lines_gradual_score walks.

    The walk steps by ``jump`` from the middle of row 0 while it is above the
    last row; landing on a row's last pixel moves it one left for good (the
    C code decrements the running pointer), so positions are built run by run.
    """
    jump = SAMPLE_JUMP if SAMPLE_JUMP % width else SAMPLE_JUMP - 1
    last_line = (num_lines - 1) * width
    out: list[npt.NDArray[np.int64]] = []
    pos = width // 2
    while pos < last_line:
        # a bounded look-ahead keeps this linear in the number of samples
        run = np.arange(pos, min(last_line, pos + jump * 4096), jump, dtype=np.int64)
        hits = np.flatnonzero((run + 1) % width == 0)
        if hits.size == 0:
            out.append(run)
            pos = int(run[-1]) + jump
            continue
        k = int(hits[0])
        run = run[: k + 1].copy()
        run[k] -= 1
        out.append(run)
        pos = int(run[k]) + jump
    return np.concatenate(out) if out else np.zeros(0, np.int64)


def _pair_score(
    a: Channels, b: Channels, th: int
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    """pixelcmp for sample pairs: (score, any channel differs)."""
    dr, dg, db = a[0] - b[0], a[1] - b[1], a[2] - b[2]
    contrast = (np.abs(dr) >= th) | (np.abs(dg) >= th) | (np.abs(db) >= th)
    different = (dr | dg | db) != 0
    score = np.where(
        contrast,
        CONTRAST_PIXELS_WEIGHT,
        np.where(different, NOT_CONTRAST_PIXELS_WEIGHT, SAME_PIXEL_WEIGHT),
    )
    return score, different


def graduality_score(
    image: npt.NDArray[np.generic], /, *, rgb16: bool = False
) -> float:
    """The server's mean sample score (negative: smooth; positive: sharp).

    Args:
        image: uint8 (h, w, 3|4) B, G, R[, X|A], or with ``rgb16`` (h, w)
            uint16 x555 words. One chunk: the server scores each chunk of a
            chunked bitmap separately, starting again at its first row.

    Raises:
        ValueError: an image of another shape or type.
    """
    flat = _flat(image, rgb16)
    height, width = np.shape(image)[:2]
    if width <= 1 or height <= 1:
        return 1.0  # the server's score for degenerate chunks: one sample of 1.0
    pos = _sample_positions(width, height)
    if pos.size == 0:
        return 1.0
    th = 8 if rgb16 else 60
    cur = _channels(flat[pos], rgb16)
    total = np.zeros(pos.size)
    any_different = np.zeros(pos.size, dtype=bool)
    for other in (pos + 1, pos + width, pos + width + 1):
        s, d = _pair_score(cur, _channels(flat[other], rgb16), th)
        total += s
        any_different |= d
    total[~any_different] = 0.0  # squares of identical pixels do not count
    return float(total.sum() / (3 * pos.size))


def graduality(image: npt.NDArray[np.generic], /, *, rgb16: bool = False) -> Graduality:
    """HIGH, MEDIUM or LOW, as ``bitmap_get_graduality_level`` grades the image.

    Args and Raises: as :func:`graduality_score`.
    """
    score = graduality_score(image, rgb16=rgb16)
    if score < (GRADUAL_HIGH_RGB16_TH if rgb16 else GRADUAL_HIGH_RGB24_TH):
        return Graduality.HIGH
    if score < GRADUAL_MEDIUM_SCORE_TH:
        return Graduality.MEDIUM
    return Graduality.LOW


def choose_codec(
    image: npt.NDArray[np.generic],
    /,
    *,
    mode: str = "auto_glz",
    palette: bool = False,
    has_alpha: bool = False,
    rgb16: bool = False,
    stride: int | None = None,
    drawable: bool = True,
    lz4_capable: bool = True,
    jpeg: bool = False,
    can_lossy: bool = False,
    glz_dictionary_pixels: int = GLZ_DICTIONARY_PIXELS,
    level: Graduality | None = None,
) -> str:
    """The SPICE image type spice-server would send for this bitmap.

    Args:
        image: uint8 (h, w, 3|4) BGRX/BGRA; with ``palette`` the (h, w) indices;
            with ``rgb16`` (h, w) uint16 x555 words.
        mode: the image compression in force for the client (``MODES``; a
            client's PREFERRED_COMPRESSION replaces the server's setting).
        palette: the bitmap is a palette format (QUIC cannot code it).
        has_alpha: RGBA format (a JPEG choice becomes JPEG_ALPHA).
        rgb16: 16-bit x555 format (stricter graduality thresholds).
        stride: bytes per row if padded (default width * bytes per pixel);
            padding makes LZ/GLZ impossible.
        drawable: False for images without a drawable (a surface's image pushed
            when the client connects): GLZ then falls back to LZ.
        lz4_capable: the client has the LZ4 display capability.
        jpeg: JPEG is enabled for this client (wan "always", or "auto" on a
            low-bandwidth link); with ``can_lossy`` the QUIC branch goes lossy.
        can_lossy: the draw may be lossy (the server decides this per draw).
        glz_dictionary_pixels: the GLZ dictionary size, in pixels.
        level: a graduality already computed (the server caches it per drawable).

    Returns:
        ``"BITMAP"``, ``"QUIC"``, ``"LZ_RGB"``, ``"LZ_PLT"``, ``"GLZ_RGB"``,
        ``"LZ4"``, ``"JPEG"`` or ``"JPEG_ALPHA"``.

    Raises:
        ValueError: an unknown mode or a malformed image.
    """
    if mode not in MODES:
        raise ValueError(f"unknown image compression mode {mode!r}")
    arr = np.asarray(image)
    if arr.ndim < 2:
        raise ValueError("an image has at least two dimensions")
    height, width = arr.shape[:2]
    if palette:
        bpp = 1.0
    elif rgb16:
        bpp = 2.0
    else:
        bpp = 3.0 if arr.ndim == 3 and arr.shape[2] == 3 else 4.0
    row = int(np.ceil(width * bpp))
    stride = row if stride is None else stride
    if stride < row:
        raise ValueError(f"stride {stride} is shorter than a row ({row} bytes)")
    lz_name = "LZ_PLT" if palette else "LZ_RGB"

    if height * stride < MIN_SIZE_TO_COMPRESS or mode == "off":
        return "BITMAP"
    can_quic = (
        not palette
        and width >= MIN_DIMENSION_TO_QUIC
        and (height >= MIN_DIMENSION_TO_QUIC)
    )
    can_lz = stride == row

    def quic_branch() -> str:
        if jpeg and can_lossy and not (has_alpha and not can_lz):
            return "JPEG_ALPHA" if has_alpha else "JPEG"
        return "QUIC"

    if mode == "quic":
        return quic_branch() if can_quic else "BITMAP"
    if mode in ("auto_glz", "auto_lz"):
        if can_quic:
            if level is None and not palette:
                level = graduality(arr, rgb16=rgb16)
            if level == Graduality.HIGH or not can_lz:
                return quic_branch()
        mode = "lz" if mode == "auto_lz" else "glz"
    if mode == "glz" and (
        not drawable or palette or width * height >= glz_dictionary_pixels
    ):
        mode = "lz"
    if mode == "lz4" and (palette or not lz4_capable):
        mode = "lz"
    if not can_lz:
        return "BITMAP"
    return {"glz": "GLZ_RGB", "lz4": "LZ4", "lz": lz_name}[mode]


@dataclass(frozen=True, slots=True)
class Compressed:
    """An image coded as spice-server would send it.

    Attributes:
        image_type: the SpiceImage type name (``"BITMAP"``, ``"QUIC"``, ...).
        data: the payload (BITMAP: the raw rows, B, G, R, X/A per pixel).
        side_size: ZLIB_GLZ_RGB's glz_size (the inflated GLZ size); JPEG_ALPHA's
            jpeg_size; else 0.
    """

    image_type: str
    data: bytes
    side_size: int = 0


def compress(
    image: npt.NDArray[np.uint8],
    /,
    *,
    mode: str = "auto_glz",
    glz_encoder: Any | None = None,
    zlib_glz: bool = False,
    jpeg_quality: int = 85,
    has_alpha: bool = False,
    **options: Any,
) -> Compressed:
    """Choose a codec for a BGRX/BGRA image and code it, with the server's fallbacks.

    Args:
        image: uint8 (h, w, 4), B, G, R, X (or A with ``has_alpha``).
        mode, has_alpha, options: as :func:`choose_codec` (palette and 16-bit
            images are not supported here).
        glz_encoder: the session's ``glz.Encoder`` (a fresh one if None; GLZ
            only pays off when one encoder sees the whole image sequence).
        zlib_glz: the zlib wrap of GLZ is on (wan "always" or a slow link).
        jpeg_quality: the JPEG quality (the server starts at 85).

    Raises:
        ValueError: a malformed image or option.
    """
    from spicepy.codecs import glz, jpeg, jpeg_alpha, lz, lz4, quic

    img = np.ascontiguousarray(image)
    if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 4:
        raise ValueError("compress takes uint8 (h, w, 4) B, G, R, X|A images")
    if options.get("palette") or options.get("rgb16"):
        raise ValueError("compress handles 32-bit images only")
    choice = choose_codec(img, mode=mode, has_alpha=has_alpha, **options)
    raw = img.tobytes()
    fmt = "RGBA" if has_alpha else "RGB32"
    side = 0
    if choice == "BITMAP":
        return Compressed("BITMAP", raw)
    if choice == "GLZ_RGB":
        encoder = glz_encoder if glz_encoder is not None else glz.Encoder()
        data = encoder.encode(img, image_type=fmt)
        if zlib_glz and len(data) >= MIN_GLZ_SIZE_FOR_ZLIB:
            wrapped = zlib.compress(data, ZLIB_GLZ_LEVEL)
            if len(wrapped) < len(data):
                return Compressed("ZLIB_GLZ_RGB", wrapped, len(data))
        return Compressed("GLZ_RGB", data)  # GLZ output is never checked against raw
    if choice == "QUIC":
        data = quic.encode(img, image_type=fmt)
    elif choice == "LZ_RGB":
        data = lz.encode(img, image_type=fmt)
    elif choice == "LZ4":
        data = lz4.encode(
            img,
            bitmap_format=lz4.BitmapFormat.RGBA
            if has_alpha
            else lz4.BitmapFormat.BIT32,
        )
    elif choice == "JPEG":
        data = jpeg.encode(img, quality=jpeg_quality)
    else:  # JPEG_ALPHA
        data, side = jpeg_alpha.encode(img, quality=jpeg_quality)
    if len(data) > len(raw):  # the encoders give up past the bitmap's size
        return Compressed("BITMAP", raw)
    return Compressed(choice, data, side)
