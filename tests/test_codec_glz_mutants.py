"""GLZ and ZLIB_GLZ contracts that mutation testing found unchecked
(scripts/mutation.sh codecs; tests/MUTATION.md lists what each one kills).
Inputs are made here; expectations come from the format (the header layout,
the documented bounds) or from a fresh object, never from our own output."""

from __future__ import annotations

import struct
import threading
import time
import zlib

import numpy as np
import pytest
from spicepy.codecs import CodecError, glz, zlib_glz
from spicepy.codecs.glz import GlzMissingImage
from spicepy.codecs.image import decode_image

from spicepy.wire.enums import ImageType


def _header(
    itype: int, w: int, h: int, stride: int, image_id: int = 0, whd: int = 0
) -> bytes:
    """A GLZ header as the format defines it (33 bytes, big-endian)."""
    return struct.pack(
        ">IIBIIIQI", glz.MAGIC, glz.VERSION, itype | 16, w, h, stride, image_id, whd
    )


def _lit(*pixels: int) -> bytes:
    """One literal run of RGB32 pixels 0x00RRGGBB (B, G, R bytes each)."""
    body = bytes([len(pixels) - 1])
    for p in pixels:
        body += bytes([p & 255, (p >> 8) & 255, (p >> 16) & 255])
    return body


def _img(h: int, w: int, seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 4, (h, w, 4), dtype=np.uint8)
    img[..., 3] = 0
    return img


# ----------------------------------------------------------------- ZLIB_GLZ sizes


@pytest.mark.parametrize(
    ("itype", "name", "w", "h", "stride", "units"),
    [
        (8, "RGB32", 10, 3, 40, 30),  # one unit a pixel
        (9, "RGBA", 10, 3, 40, 60),  # colour pass + alpha pass
        (5, "PLT8", 10, 3, 16, 48),  # palette rows are coded to the full stride
        (1, "PLT1_LE", 10, 3, 2, 6),  # stride bytes of 8 pixels each
    ],
)
def test_zlib_glz_size_range_in_the_refusal(
    itype: int, name: str, w: int, h: int, stride: int, units: int
) -> None:
    """A glz_size outside what the header's image can take is refused, naming
    the range: HEADER_SIZE + ceil(units / 255) (GLZ's best ratio) up to
    HEADER_SIZE + 7 * units (its costliest op per unit)."""
    data = zlib.compress(_header(itype, w, h, stride))
    low = glz.HEADER_SIZE + -(-units // 255)
    high = glz.HEADER_SIZE + 7 * units
    for size in (low - 1, high + 1):
        with pytest.raises(CodecError) as exc:
            zlib_glz.decode(data, glz_size=size, dictionary=glz.Dictionary())
        assert str(exc.value) == (
            f"ZLIB_GLZ size {size} cannot code a {w}x{h} {name} image "
            f"({low}..{high} bytes)"
        )
    # at the bounds the size is accepted and the (missing) body is what fails
    for size in (low, high):
        with pytest.raises(CodecError) as exc:
            zlib_glz.decode(data, glz_size=size, dictionary=glz.Dictionary())
        assert "cannot code" not in str(exc.value)


def test_zlib_glz_encode_defaults_are_the_servers() -> None:
    """Level 3 (ZLIB_DEFAULT_COMPRESSION_LEVEL) over the GLZ stream, top-down
    unless asked; glz_size is the stream's length."""
    img = np.zeros((40, 48, 4), np.uint8)
    img[::3, ::5, 0] = 200
    img[1::7, :, 1] = np.arange(48, dtype=np.uint8)
    stream = glz.Encoder().encode(img)
    assert glz.read_header(stream).top_down
    data, size = zlib_glz.encode(img, encoder=glz.Encoder())
    assert (data, size) == (zlib.compress(stream, 3), len(stream))
    assert data != zlib.compress(stream)  # the check can tell level 3 from 6
    bottom = glz.Encoder().encode(img, "RGB32", False)
    assert not glz.read_header(bottom).top_down
    data, size = zlib_glz.encode(img, encoder=glz.Encoder(), top_down=False)
    assert zlib.decompress(data) == bottom and size == len(bottom)


# ----------------------------------------------------------------- the dictionary


def _fill(d: glz.Dictionary, whds: list[int]) -> list[tuple[list[int], list[bool]]]:
    """Add 2-pixel images 0..n-1 (win_head_dist whds[i]) out of order (1, 0, 3,
    2, ...); the ids held and expired after each."""
    seen = []
    n = len(whds)
    order = [i ^ 1 for i in range(n) if i ^ 1 < n] + ([n - 1] if n % 2 else [])
    for i in order:
        s = _header(8, 2, 1, 8, image_id=i, whd=whds[i]) + _lit(i, i + 1)
        glz.decode(s, dictionary=d)
        seen.append((d.ids(), [d.is_expired(j) for j in range(n)]))
    return seen


def test_clear_gives_a_fresh_dictionary() -> None:
    """After clear() the same images meet the same releases as in a new one."""
    whds = [0, 1, 1, 2, 1, 1]
    d = glz.Dictionary()
    first = _fill(d, whds)
    d.clear()
    assert (len(d), d.total_pixels, d.ids()) == (0, 0, [])
    assert not any(d.is_expired(j) for j in range(len(whds)))
    assert _fill(d, whds) == first == _fill(glz.Dictionary(), whds)


def test_a_waiter_is_woken_after_another_waiter_gave_up() -> None:
    """Two threads wait; one times out; the other is still woken when its
    image arrives (the count of waiters stays right)."""
    d = glz.Dictionary()
    got: list[tuple[bool, float]] = []

    def long_wait() -> None:
        t = time.monotonic()
        got.append((d.wait_for(3, timeout=60), time.monotonic() - t))

    waiter = threading.Thread(target=long_wait)
    waiter.start()
    while d._waiting == 0:  # the long waiter is in
        time.sleep(0.001)
    assert d.wait_for(5, timeout=0.01) is False  # a second waiter gives up
    glz.decode(_header(8, 2, 1, 8, image_id=3) + _lit(1, 2), dictionary=d)
    waiter.join(30)
    assert not waiter.is_alive() and got and got[0][0] is True
    assert got[0][1] < 30  # woken by the image, not by its 60 s timeout


def test_decode_with_type_does_not_wait_by_default() -> None:
    """wait defaults to 0: a missing reference fails at once, never consulting
    the dictionary's wait (decode_image passes 0 too)."""
    d = glz.Dictionary()

    def no_wait(image_id: int, timeout: float | None = None) -> bool:
        raise AssertionError(f"waited {timeout} s for image {image_id}")

    d.wait_for = no_wait  # type: ignore[method-assign]
    s = _header(8, 3, 1, 12, image_id=1, whd=1) + bytes([0x41, 0x00, 0x01]) + _lit(7)
    z = zlib.compress(s)
    for call in (
        lambda: glz.decode_with_type(s, dictionary=d),
        lambda: glz.decode(s, dictionary=d),
        lambda: decode_image(ImageType.GLZ_RGB, s, width=3, height=1, dictionary=d),
        lambda: zlib_glz.decode(z, glz_size=len(s), dictionary=d),
        lambda: zlib_glz.decode_with_type(z, glz_size=len(s), dictionary=d),
        lambda: decode_image(
            ImageType.ZLIB_GLZ_RGB, z, width=3, height=1, dictionary=d, glz_size=len(s)
        ),
    ):
        with pytest.raises(GlzMissingImage) as exc:
            call()
        assert exc.value.image_id == 0 and not exc.value.expired


def test_palette_glz_through_decode_image() -> None:
    """A PLT8 GLZ image takes the palette decode_image is given (B, G, R of
    each entry, pad 0), and reports its format."""
    pal = np.array([0x000000, 0x123456, 0xABCDEF, 0xFF00FF], np.uint32)
    idx = np.array([[0, 1, 2, 3, 2, 1], [3, 3, 0, 1, 2, 0]], np.uint8)
    s = glz.encode(idx, image_type="PLT8")
    d = glz.Dictionary()
    res = decode_image(
        ImageType.GLZ_RGB, s, width=6, height=2, palette=pal, dictionary=d
    )
    assert res.source_format == "GLZ_RGB:PLT8" and not res.has_alpha
    assert res.pixels.view(np.uint32)[..., 0].tolist() == pal[idx].tolist()
    img, itype = glz.decode_with_type(s, dictionary=glz.Dictionary(), palette=pal)
    assert itype == glz.ImageType.PLT8 and np.array_equal(img, res.pixels)
    z = zlib.compress(s)
    res = decode_image(
        ImageType.ZLIB_GLZ_RGB,
        z,
        width=6,
        height=2,
        palette=pal,
        dictionary=glz.Dictionary(),
        glz_size=len(s),
    )
    assert res.source_format == "ZLIB_GLZ_RGB:PLT8" and not res.has_alpha
    assert res.pixels.view(np.uint32)[..., 0].tolist() == pal[idx].tolist()
    img, itype = zlib_glz.decode_with_type(
        z, glz_size=len(s), dictionary=glz.Dictionary(), palette=pal
    )
    assert itype == glz.ImageType.PLT8 and np.array_equal(img, res.pixels)
    out = np.full((2, 6, 4), 9, np.uint8)
    got = zlib_glz.decode(
        z, glz_size=len(s), dictionary=glz.Dictionary(), palette=pal, out=out
    )
    assert got is out and np.array_equal(out, res.pixels)


def test_zlib_glz_format_refusal_names_zlibs_error() -> None:
    bad = b"\x78\x9c" + b"garbage!" * 4
    try:
        zlib.decompressobj().decompress(bad)
    except zlib.error as exc:
        why = str(exc)
    with pytest.raises(CodecError) as exc_info:
        decode_image(
            ImageType.ZLIB_GLZ_RGB,
            bad,
            width=2,
            height=2,
            dictionary=glz.Dictionary(),
            glz_size=40,
        )
    assert str(exc_info.value) == f"ZLIB_GLZ inflate failed: {why}"


def test_zlib_glz_through_decode_image_is_exact() -> None:
    img = _img(5, 7)
    data, size = zlib_glz.encode(img, encoder=glz.Encoder())
    res = decode_image(
        ImageType.ZLIB_GLZ_RGB,
        data,
        width=7,
        height=5,
        dictionary=glz.Dictionary(),
        glz_size=size,
    )
    assert res.source_format == "ZLIB_GLZ_RGB:RGB32" and not res.lossy
    assert np.array_equal(res.pixels, img)
