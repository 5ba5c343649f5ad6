"""Each codec refusal says exactly what is wrong (the messages are the API a
user reads; mutation testing found them unchecked).  Inputs are made here."""

from __future__ import annotations

import zlib
from collections.abc import Callable

import numpy as np
import pytest
from spicepy.codecs import CodecError, glz, jpeg, jpeg_alpha, lz, lz4, zlib_glz
from spicepy.codecs.image import decode_image

from spicepy.wire.enums import ImageType

IMG = np.zeros((6, 5, 4), np.uint8)
IMG[..., 0] = np.arange(30, dtype=np.uint8).reshape(6, 5)
ZG, GLZ_SIZE = zlib_glz.encode(IMG, encoder=glz.Encoder())
RAW = zlib.decompress(ZG)
L4 = lz4.encode(IMG)
JA, JPEG_SIZE = jpeg_alpha.encode(IMG)


def _zlib(data: bytes) -> Callable[[], object]:
    return lambda: zlib_glz.decode(data, glz_size=GLZ_SIZE, dictionary=glz.Dictionary())


def _lz4(data: bytes) -> Callable[[], object]:
    return lambda: lz4.decode(data, width=5, height=6)


CASES: list[tuple[str, Callable[[], object], type[Exception], str]] = [
    ("zlib cut", _zlib(ZG[:-4]), CodecError, "ZLIB_GLZ stream is not terminated"),
    (
        "zlib longer",
        _zlib(zlib.compress(RAW + b"\0" * 8)),
        CodecError,
        "ZLIB_GLZ stream inflates to more bytes than glz_size",
    ),
    (
        "zlib garbage",
        _zlib(b"\x78\x9c" + b"garbage!" * 4),
        CodecError,
        "ZLIB_GLZ inflate failed: Error -3 while decompressing data: "
        "invalid block type",
    ),
    ("lz4 header", _lz4(L4[:1]), CodecError, "LZ4 image header truncated"),
    ("lz4 length", _lz4(L4[:4]), CodecError, "LZ4 block length truncated"),
    ("lz4 cut", _lz4(L4[:-3]), CodecError, "LZ4 block runs past the end of the data"),
    (
        "lz4 extra",
        _lz4(L4 + L4[2:]),
        CodecError,
        "LZ4 data continues past the end of the image",
    ),
    (
        "jpeg_alpha direction",
        lambda: jpeg_alpha.decode(JA, jpeg_size=JPEG_SIZE, top_down=False),
        CodecError,
        "JPEG_ALPHA alpha direction does not match the TOP_DOWN flag",
    ),
    (
        "jpeg_alpha type",
        lambda: jpeg_alpha.decode(
            JA[:JPEG_SIZE] + lz.encode(IMG, image_type="RGBA"), jpeg_size=JPEG_SIZE
        ),
        CodecError,
        "JPEG_ALPHA alpha stream is RGBA, not XXXA",
    ),
    (
        "jpeg_alpha size",
        lambda: jpeg_alpha.decode(
            JA[:JPEG_SIZE] + lz.encode(IMG[:3], image_type="XXXA"),
            jpeg_size=JPEG_SIZE,
        ),
        CodecError,
        "JPEG is 5x6, alpha is 5x3",
    ),
    (
        "image zlib_glz args",
        lambda: decode_image(ImageType.ZLIB_GLZ_RGB, ZG, width=5, height=6),
        ValueError,
        "ZLIB_GLZ_RGB images need dictionary= and glz_size=",
    ),
    (
        "image jpeg_alpha args",
        lambda: decode_image(ImageType.JPEG_ALPHA, JA, width=5, height=6),
        ValueError,
        "JPEG_ALPHA images need jpeg_size=",
    ),
    (
        "jpeg encode input",
        lambda: jpeg.encode(np.zeros((2, 2), np.uint8)),
        ValueError,
        "JPEG needs a uint8 (h, w, 3|4) B,G,R[,X] array",
    ),
    (
        "jpeg_alpha encode input",
        lambda: jpeg_alpha.encode(np.zeros((2, 2, 3), np.uint8)),
        ValueError,
        "JPEG_ALPHA needs a uint8 (h, w, 4) B,G,R,A array",
    ),
    (
        "lz4 encode input",
        lambda: lz4.encode(np.zeros((2, 2, 4), np.float32)),
        ValueError,
        "LZ4 needs a uint8 (h, w, c) array",
    ),
]


@pytest.mark.parametrize(
    ("call", "error", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_error_messages(
    call: Callable[[], object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as exc:
        call()
    assert type(exc.value) is error and str(exc.value) == message
