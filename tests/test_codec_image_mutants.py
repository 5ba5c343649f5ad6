"""decode_image's contracts that mutation testing found unchecked
(scripts/mutation.sh codecs; tests/MUTATION.md): every refusal's exact text,
each codec's source format, alpha and lossy flags, and the LZ4 format byte.
Payloads are made here with the encoders; expected pixels are the input."""

from __future__ import annotations

import numpy as np
import pytest
from spicepy.codecs import CodecError, glz, jpeg, jpeg_alpha, lz, lz4, quic, zlib_glz
from spicepy.codecs.image import SpiceImageType, decode_image


def _img(h: int = 5, w: int = 6) -> np.ndarray:
    rng = np.random.default_rng(11)
    img = rng.integers(0, 4, (h, w, 4), dtype=np.uint8)
    img[..., 3] = 0
    return img


def _refusal(
    error: type[Exception], image_type: object, payload: bytes, **kw: object
) -> str:
    with pytest.raises(error) as exc:
        decode_image(image_type, payload, **kw)  # type: ignore[arg-type]
    assert type(exc.value) is error
    return str(exc.value)


@pytest.mark.parametrize("kind", [2, 99, 110, 255, -1, 1.5, "101", None, [101]])
def test_unknown_types_named(kind: object) -> None:
    msg = _refusal(CodecError, kind, b"\0" * 40, width=2, height=2)
    assert msg == f"unknown SPICE image type {kind}"


@pytest.mark.parametrize(
    "kind",
    [
        SpiceImageType.BITMAP,
        SpiceImageType.FROM_CACHE,
        SpiceImageType.SURFACE,
        SpiceImageType.FROM_CACHE_LOSSLESS,
    ],
)
def test_canvas_types_named(kind: SpiceImageType) -> None:
    msg = _refusal(CodecError, int(kind), b"\0" * 40, width=2, height=2)
    assert msg == f"{kind.name} images are resolved by the canvas, not a codec"


def test_glz_without_dictionary_named() -> None:
    s = glz.encode(_img())
    msg = _refusal(ValueError, SpiceImageType.GLZ_RGB, s, width=6, height=5)
    assert msg == "GLZ_RGB images need the session's glz.Dictionary"
    z, size = zlib_glz.encode(_img(), encoder=glz.Encoder())
    for kw in ({"glz_size": size}, {"dictionary": glz.Dictionary()}):
        msg = _refusal(
            ValueError, SpiceImageType.ZLIB_GLZ_RGB, z, width=6, height=5, **kw
        )
        assert msg == "ZLIB_GLZ_RGB images need dictionary= and glz_size="


@pytest.mark.parametrize(
    ("kind", "make"),
    [
        (SpiceImageType.LZ_RGB, lambda img: (lz.encode(img), {})),
        (
            SpiceImageType.GLZ_RGB,
            lambda img: (glz.encode(img), {"dictionary": glz.Dictionary()}),
        ),
        (
            SpiceImageType.ZLIB_GLZ_RGB,
            lambda img: (
                (z := zlib_glz.encode(img, encoder=glz.Encoder()))[0],
                {"dictionary": glz.Dictionary(), "glz_size": z[1]},
            ),
        ),
        (SpiceImageType.JPEG, lambda img: (jpeg.encode(img), {})),
        (
            SpiceImageType.JPEG_ALPHA,
            lambda img: (
                (j := jpeg_alpha.encode(img))[0],
                {"jpeg_size": j[1]},
            ),
        ),
    ],
)
def test_descriptor_size_mismatch_named(kind: SpiceImageType, make: object) -> None:
    img = _img(5, 6)
    payload, kw = make(img)  # type: ignore[operator]
    msg = _refusal(CodecError, int(kind), payload, width=5, height=6, **kw)
    assert msg == (f"{kind.name} image decodes to 6x5, the descriptor says 5x6")


def test_descriptor_size_checked_against_max_pixels() -> None:
    payload = lz.encode(_img(5, 6))
    assert decode_image(101, payload, width=6, height=5, max_pixels=30).pixels.shape
    with pytest.raises(CodecError):
        decode_image(101, payload, width=6, height=5, max_pixels=29)
    for w, h in ((0, 5), (6, 0), (-6, 5)):
        with pytest.raises(CodecError):
            decode_image(101, payload, width=w, height=h)


@pytest.mark.parametrize(
    ("fmt", "name", "alpha"),
    [(6, "16BIT", False), (7, "24BIT", False), (8, "32BIT", False), (9, "RGBA", True)],
)
def test_lz4_source_formats(fmt: int, name: str, alpha: bool) -> None:
    img = _img(4, 3)
    img[..., 3] = 200 if alpha else 0
    if fmt == 6:
        src = (np.arange(12, dtype=np.uint16) * 0x0421).reshape(4, 3)
        payload = lz4.encode(src, bitmap_format=fmt)
    else:
        payload = lz4.encode(img, bitmap_format=fmt)
    assert payload[1] == fmt  # the format byte decode_image reads
    res = decode_image(SpiceImageType.LZ4, payload, width=3, height=4)
    assert (res.source_format, res.has_alpha, res.lossy) == (
        f"LZ4:{name}",
        alpha,
        False,
    )
    if fmt != 6:
        assert np.array_equal(res.pixels[..., :3], img[..., :3])
        assert np.array_equal(
            res.pixels[..., 3], img[..., 3] if alpha else 0 * img[..., 3]
        )


def test_lz4_short_payload() -> None:
    for payload in (b"", b"\x01"):
        with pytest.raises(CodecError):
            decode_image(SpiceImageType.LZ4, payload, width=3, height=4)


def test_flags_per_codec() -> None:
    img = _img(8, 8)
    rgba = img.copy()
    rgba[..., 3] = 9
    cases = [
        (101, lz.encode(img), {}, "LZ_RGB:RGB32", False, False),
        (101, lz.encode(rgba, image_type="RGBA"), {}, "LZ_RGB:RGBA", True, False),
        (102, glz.encode(rgba, image_type="RGBA"), {"dictionary": glz.Dictionary()},
         "GLZ_RGB:RGBA", True, False),
        (102, glz.encode(img), {"dictionary": glz.Dictionary()},
         "GLZ_RGB:RGB32", False, False),
        (105, jpeg.encode(img), {}, "JPEG:YCbCr", False, True),
        (108, jpeg_alpha.encode(rgba)[0], {"jpeg_size": jpeg_alpha.encode(rgba)[1]},
         "JPEG_ALPHA:XXXA", True, True),
    ]  # fmt: skip
    for kind, payload, kw, fmt, alpha, lossy in cases:
        res = decode_image(kind, payload, width=8, height=8, **kw)  # type: ignore[arg-type]
        assert (res.source_format, res.has_alpha, res.lossy) == (fmt, alpha, lossy)
        if not lossy:
            assert np.array_equal(res.pixels, rgba if alpha else img)
    bottom, size = jpeg_alpha.encode(rgba, top_down=False)
    res = decode_image(108, bottom, width=8, height=8, jpeg_size=size, top_down=False)
    assert (res.pixels[..., 3] == 9).all()
    with pytest.raises(CodecError):  # TOP_DOWN defaults to set
        decode_image(108, bottom, width=8, height=8, jpeg_size=size)


def test_max_pixels_reaches_glz_and_zlib_glz() -> None:
    img = _img(5, 6)
    s = glz.encode(img)
    z, size = zlib_glz.encode(img, encoder=glz.Encoder())
    for kind, payload, kw in (
        (102, s, {}),
        (107, z, {"glz_size": size}),
    ):
        ok = decode_image(
            kind, payload, width=6, height=5, max_pixels=30,
            dictionary=glz.Dictionary(), **kw,  # type: ignore[arg-type]
        )  # fmt: skip
        assert np.array_equal(ok.pixels, img)


def _payloads(img: np.ndarray) -> list[tuple[int, bytes, dict[str, object]]]:
    """(image type, payload, side data) coding ``img`` with every codec."""
    z, size = zlib_glz.encode(img, encoder=glz.Encoder())
    ja, jsize = jpeg_alpha.encode(img)
    return [
        (1, quic.encode(img), {}),
        (101, lz.encode(img), {}),
        (102, glz.encode(img), {"dictionary": glz.Dictionary()}),
        (105, jpeg.encode(img), {}),
        (107, z, {"dictionary": glz.Dictionary(), "glz_size": size}),
        (108, ja, {"jpeg_size": jsize}),
    ]


def test_max_pixels_bounds_the_payload_not_only_the_descriptor() -> None:
    """A payload coding more pixels than max_pixels is refused by its codec
    before decoding, whatever the descriptor says; a descriptor beyond
    max_pixels is refused before any codec runs."""
    img = _img(5, 6)
    for kind, payload, kw in _payloads(img):
        with pytest.raises(CodecError) as exc:
            decode_image(kind, payload, width=2, height=2, max_pixels=4, **kw)  # type: ignore[arg-type]
        assert str(exc.value) == "image 6x5 exceeds the limit of 4 pixels", kind
    for kind, payload, kw in _payloads(img):
        with pytest.raises(CodecError) as exc:
            decode_image(kind, payload, width=10, height=10, max_pixels=50, **kw)  # type: ignore[arg-type]
        assert str(exc.value) == "image 10x10 exceeds the limit of 50 pixels", kind


def test_quic_through_decode_image() -> None:
    img = _img(5, 6)
    res = decode_image(SpiceImageType.QUIC, quic.encode(img), width=6, height=5)
    assert (res.source_format, res.has_alpha, res.lossy) == ("QUIC:RGB32", False, False)
    assert np.array_equal(res.pixels, img)


def test_zlib_glz_wait_reaches_the_decode() -> None:
    """decode_image's wait lets a ZLIB_GLZ image wait for the image it refers
    to (another display channel delivers it meanwhile)."""
    import threading
    import zlib

    first = glz.encode(_img(4, 8))  # image 0
    enc = glz.Encoder()
    enc.encode(_img(4, 8))
    second = enc.encode(_img(4, 8))  # image 1: the same pixels, from image 0
    with pytest.raises(glz.GlzMissingImage):
        glz.decode(second, dictionary=glz.Dictionary())
    d = glz.Dictionary()
    timer = threading.Timer(0.2, lambda: glz.decode(first, dictionary=d))
    timer.start()
    try:
        res = decode_image(
            SpiceImageType.ZLIB_GLZ_RGB, zlib.compress(second), width=8, height=4,
            dictionary=d, glz_size=len(second), wait=60,
        )  # fmt: skip
    finally:
        timer.join()
    assert np.array_equal(res.pixels, _img(4, 8))
