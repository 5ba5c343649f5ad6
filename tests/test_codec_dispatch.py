"""decode_image's dispatch, with the in-repo vectors (no corpus): every codec
gets the caller's max_pixels, the right default flags and reports its source
format; and the small API contracts mutation testing found untested."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from spicepy.codecs import CodecError, glz, jpeg_alpha, lz, lz4, zlib_glz
from spicepy.codecs.image import decode_image

from spicepy.wire.enums import ImageType

DATA = Path(__file__).parent / "data"
VECTORS = {
    v["file"]: v
    for v in json.loads((DATA / "codec_vectors.json").read_text())["vectors"]
}


def _img(h: int, w: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 4, (h, w, 4), dtype=np.uint8)
    img[..., 3] = 0
    return img


def _payloads() -> list[tuple[str, int, bytes, dict[str, object], int, int]]:
    """(name, type, payload, extra args, width, height) for each codec."""
    q = (DATA / "quic_photo_rgba.bin").read_bytes()
    img = _img(12, 10)
    rgba = img.copy()
    rgba[..., 3] = 200
    ja, jsize = jpeg_alpha.encode(rgba)
    zg, gsize = zlib_glz.encode(img, encoder=glz.Encoder())
    return [
        ("quic", ImageType.QUIC, q, {}, 256, 256),
        ("lz", ImageType.LZ_RGB, lz.encode(img), {}, 10, 12),
        ("lz4", ImageType.LZ4, lz4.encode(img), {}, 10, 12),
        ("glz", ImageType.GLZ_RGB, glz.encode(img, encoder=glz.Encoder()),
         {"dictionary": glz.Dictionary()}, 10, 12),
        ("zlib_glz", ImageType.ZLIB_GLZ_RGB, zg,
         {"dictionary": glz.Dictionary(), "glz_size": gsize}, 10, 12),
        ("jpeg_alpha", ImageType.JPEG_ALPHA, ja, {"jpeg_size": jsize}, 10, 12),
    ]  # fmt: skip


@pytest.mark.parametrize("case", _payloads(), ids=lambda c: c[0])
def test_max_pixels_reaches_every_codec(
    case: tuple[str, int, bytes, dict[str, object], int, int],
) -> None:
    _, kind, data, extra, w, h = case
    res = decode_image(kind, data, width=w, height=h, **extra)  # type: ignore[arg-type]
    assert res.pixels.shape == (h, w, 4)
    for key in ("dictionary",):
        if key in extra:
            extra[key] = glz.Dictionary()
    with pytest.raises(CodecError):
        decode_image(kind, data, width=w, height=h, max_pixels=w * h - 1, **extra)  # type: ignore[arg-type]


def test_source_formats_and_flags() -> None:
    v = VECTORS["quic_photo_rgba.bin"]
    res = decode_image(
        ImageType.QUIC, (DATA / v["file"]).read_bytes(), width=256, height=256
    )
    assert (res.source_format, res.has_alpha, res.lossy) == ("QUIC:RGBA", True, False)
    img = _img(12, 10)
    img[..., 3] = 77
    payload, jsize = jpeg_alpha.encode(img)  # top-down, the default flag
    res = decode_image(
        ImageType.JPEG_ALPHA, payload, width=10, height=12, jpeg_size=jsize
    )
    assert (res.source_format, res.has_alpha, res.lossy) == (
        "JPEG_ALPHA:XXXA",
        True,
        True,
    )
    assert (res.pixels[..., 3] == 77).all()


def test_dictionary_get_is_the_decoded_image() -> None:
    img = _img(6, 5)
    d = glz.Dictionary()
    glz.decode(glz.encode(img, encoder=glz.Encoder()), dictionary=d)
    view = d.get(0)
    assert view is not None and view.shape == (6, 5, 4) and not view.flags.writeable
    np.testing.assert_array_equal(view, img)
    assert d.get(1) is None


def test_jpeg_alpha_encode_wants_four_channels() -> None:
    with pytest.raises(ValueError, match=r"^JPEG_ALPHA needs a uint8 "):
        jpeg_alpha.encode(np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(ValueError, match=r"^JPEG_ALPHA needs a uint8 "):
        jpeg_alpha.encode(np.zeros((4, 4, 4), np.uint16))


def test_zlib_glz_bomb_is_refused_in_bounded_memory() -> None:
    """decode_image peeks at a ZLIB_GLZ stream's GLZ header (64 bytes) and then
    inflates within glz_size: 64 MiB of zeros never get allocated."""
    import tracemalloc
    import zlib

    bomb = zlib.compress(b"\0" * (64 << 20), 9)
    tracemalloc.start()
    try:
        with pytest.raises(CodecError):
            decode_image(
                ImageType.ZLIB_GLZ_RGB,
                bomb,
                width=10,
                height=10,
                dictionary=glz.Dictionary(),
                glz_size=1000,
            )
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # measured peak: 105 KiB (the 64 KiB bomb itself and small buffers); the
    # unbounded peek of the mutant allocates the whole 64 MiB
    assert peak < 4 << 20, peak
