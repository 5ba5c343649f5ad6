"""GLZ and ZLIB_GLZ contracts that mutation testing found unchecked
(scripts/mutation.sh codecs; tests/MUTATION.md lists what each one kills).
Inputs are made here; expectations come from the format (the header layout,
the documented bounds) or from a fresh object, never from our own output."""

from __future__ import annotations

import struct
import threading
import time
import tracemalloc
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
    assert res.source_format == "ZLIB_GLZ_RGB:RGB32" and res.lossy is False
    assert np.array_equal(res.pixels, img)


# ----------------------------------------------------------------- more contracts


def test_missing_image_messages() -> None:
    """GlzMissingImage names the image and whether waiting could help."""
    ref0 = _header(8, 3, 1, 12, image_id=1, whd=1) + bytes([0x41, 0x00, 0x01])
    ref0 += _lit(7)
    with pytest.raises(GlzMissingImage) as exc:
        glz.decode(ref0, dictionary=glz.Dictionary())
    assert str(exc.value) == "GLZ image 0 is not (yet) in the dictionary"
    assert exc.value.image_id == 0 and exc.value.expired is False
    d = glz.Dictionary()  # image 1 (window head 1) arrives: 0 is out of the window
    glz.decode(_header(8, 2, 1, 8, image_id=1, whd=0) + _lit(1, 2), dictionary=d)
    glz.decode(_header(8, 2, 1, 8, image_id=0, whd=0) + _lit(3, 4), dictionary=d)
    assert d.ids() == [1] and d.is_expired(0)
    ref0 = _header(8, 3, 1, 12, image_id=2, whd=2) + bytes([0x41, 0x00, 0x02])
    ref0 += _lit(7)
    with pytest.raises(GlzMissingImage) as exc:
        glz.decode(ref0, dictionary=d, wait=30)  # expired: no wait
    assert str(exc.value) == "GLZ image 0 was released from the dictionary"
    assert exc.value.image_id == 0 and exc.value.expired is True


@pytest.mark.parametrize("whds", [[0, 1, 1, 2, 1, 1], [0, 0, 1, 1, 2, 1]])
def test_dictionary_counts_pixels_and_clears(whds: list[int]) -> None:
    """total_pixels is the pixels of the images held, after every release; a
    cleared dictionary then behaves as a new one."""
    d = glz.Dictionary()
    first = _fill(d, whds)
    assert d.total_pixels == 2 * len(d)
    d.clear()
    assert _fill(d, whds) == first == _fill(glz.Dictionary(), whds)
    small = glz.Dictionary(max_pixels=5)  # evictions by size keep the count too
    _fill(small, whds)
    assert small.total_pixels == 2 * len(small) <= 5


def test_palette_any_integer_array() -> None:
    """The palette is any integer array-like (the decoder takes uint32 of it);
    up to 2**16 entries."""
    idx = np.array([[0, 1, 2, 1]], np.uint8)
    s = glz.encode(idx, image_type="PLT8")
    want = glz.decode(s, dictionary=glz.Dictionary(), palette=[0x10, 0x2000, 0x300])
    assert want.view(np.uint32)[0, :, 0].tolist() == [0x10, 0x2000, 0x300, 0x2000]
    for pal in (
        np.array([0x10, 0x2000, 0x300], np.uint16),
        np.array([[0x10, 0x2000, 0x300]], np.int64),
        (0x10, 0x2000, 0x300),
    ):
        got = glz.decode(s, dictionary=glz.Dictionary(), palette=pal)
        assert np.array_equal(got, want)
    longest = np.zeros(1 << 16, np.uint32)
    longest[:3] = [0x10, 0x2000, 0x300]
    got = glz.decode(s, dictionary=glz.Dictionary(), palette=longest)
    assert np.array_equal(got, want)
    with pytest.raises(ValueError) as exc:
        glz.decode(
            s, dictionary=glz.Dictionary(), palette=np.zeros((1 << 16) + 1, np.uint32)
        )
    assert str(exc.value) == "palette too long"


def test_zlib_glz_passes_max_pixels_and_wait_on() -> None:
    """A palette image whose rows (stride) exceed max_pixels though width x
    height does not is refused by the GLZ decode; ``wait`` reaches it too."""
    pal = np.arange(4, dtype=np.uint32) * 0x10101
    s = _header(5, 2, 1, 10) + bytes([9]) + bytes(range(10))  # PLT8, 2 px, stride 10
    s = s[:-10] + bytes([0, 1, 2, 3, 0, 1, 2, 3, 0, 1])
    z = zlib.compress(s)
    for call in (zlib_glz.decode, zlib_glz.decode_with_type):
        got = call(z, glz_size=len(s), dictionary=glz.Dictionary(), palette=pal)
        img = got[0] if isinstance(got, tuple) else got
        assert img.view(np.uint32)[0, :, 0].tolist() == [0, 0x10101]
        with pytest.raises(CodecError) as exc:
            call(
                z, glz_size=len(s), dictionary=glz.Dictionary(), palette=pal,
                max_pixels=9,
            )  # fmt: skip
        assert str(exc.value) == "GLZ image stride exceeds the pixel limit"
    ref = _header(8, 3, 1, 12, image_id=1, whd=1) + bytes([0x41, 0x00, 0x01]) + _lit(7)
    zref = zlib.compress(ref)
    for call in (zlib_glz.decode, zlib_glz.decode_with_type):
        d = glz.Dictionary()
        timer = threading.Timer(
            0.2,
            lambda d=d: glz.decode(_header(8, 3, 1, 12) + _lit(1, 2, 3), dictionary=d),
        )
        timer.start()
        try:
            got = call(zref, glz_size=len(ref), dictionary=d, wait=60)
        finally:
            timer.join()
        img = got[0] if isinstance(got, tuple) else got
        assert img.view(np.uint32)[0, :, 0].tolist() == [2, 3, 7]  # match, literal


def test_read_header_fields() -> None:
    """Every field of the 33-byte big-endian header, as laid out."""
    raw = struct.pack(
        ">IIBIIIQI", glz.MAGIC, glz.VERSION, 1, 21, 3, 4, (1 << 40) + 5, 77
    )  # PLT1_LE, bottom-up (bit 4 clear), stride 4 bytes = 32 pixels a row
    h = glz.read_header(raw)
    assert (h.image_type, h.top_down, h.width, h.height, h.stride) == (
        glz.ImageType.PLT1_LE, False, 21, 3, 4,
    )  # fmt: skip
    assert (h.image_id, h.win_head_dist, h.gross_pixels) == ((1 << 40) + 5, 77, 96)
    h = glz.read_header(_header(9, 7, 2, 28, image_id=3, whd=1))
    assert (h.image_type, h.top_down, h.stride, h.gross_pixels) == (
        glz.ImageType.RGBA, True, 28, 14,
    )  # fmt: skip


# ----------------------------------------------------------------- match coding

_REF = np.arange((1 << 17) + 600, dtype=np.uint32)  # pixel i of image 0 is i


def _decode_one_match(image_dist: int, pix: int, length: int, prefix: int) -> list[int]:
    """Code one RGB32 match with the reference twin's encoder, after ``prefix``
    literal pixels (values 0..prefix-1), and decode it with decode_pass (the
    decoder the server's streams pin); the decoded pixels after the prefix."""
    from spicepy.codecs import _glz_ref

    body = bytearray()
    for start in range(0, prefix, 32):
        run = range(start, min(prefix, start + 32))
        body.append(len(run) - 1)
        for v in run:
            body += bytes((v & 255, (v >> 8) & 255, (v >> 16) & 255))
    _glz_ref._encode_match(body, image_dist, pix, length)
    gross = prefix + length
    out = np.zeros(gross * 4, np.uint8)
    asked: list[int] = []

    def lookup(image_id: int) -> np.ndarray:
        asked.append(image_id)
        return _REF.view(np.uint8)

    end = _glz_ref.decode_pass(
        bytes(body), 0, out, gross, _glz_ref.MODE_RGB32, image_dist, image_dist, lookup
    )
    assert end == len(body)  # the decoder read exactly what was written
    assert asked == ([0] if image_dist else [])
    got: list[int] = out.view(np.uint32)[prefix:].tolist()
    return got


@pytest.mark.parametrize(
    "image_dist",
    [1, 63, 64, 255, 256, 0x3FFF, 0x4000, 0xFFFF, 0x10000]
    + [0x3FFFFF, 0x400000, 0x4002A5, (1 << 24) - 1],  # 4 distance bytes, bits set
)
def test_match_to_another_image_reads_back(image_dist: int) -> None:
    """Every image-distance and offset size class, at its bounds, and the
    length extension bytes (7 + 255 needs a 0 byte after the 255)."""
    for pix in (0, 5, (1 << 12) - 1, 1 << 12, (1 << 17) - 1, 1 << 17):
        for length in (1, 6, 7, 261, 262, 517):
            got = _decode_one_match(image_dist, pix, length, 0)
            assert got == list(range(pix, pix + length)), (pix, length)


def test_match_within_the_image_reads_back() -> None:
    """Distance 0: the offset is coded minus one (copy from ``pix + 1`` back)."""
    cases = [(p, n) for p in (0, 5, (1 << 12) - 1, 1 << 12) for n in (1, 7, 262)]
    cases += [((1 << 17) - 1, 3), (1 << 17, 2)]  # long prefixes: few lengths
    for pix, length in cases:
        got = _decode_one_match(0, pix, length, pix + 1)
        want = [(i % (pix + 1)) for i in range(length)]  # a run repeats
        assert got == want, (pix, length)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 9])
def test_small_images_round_trip_every_type(n: int) -> None:
    """1..9 pixels (below 4 the encoder writes one literal run) of each type
    decode back: RGB16 as spice-gtk widens x555 (top bits replicated)."""
    rng = np.random.default_rng(n)
    bgrx = rng.integers(0, 256, (1, n, 4), dtype=np.uint8)
    bgrx[..., 3] = 0
    got = glz.decode(glz.encode(bgrx), dictionary=glz.Dictionary())
    assert np.array_equal(got, bgrx)
    rgba = rng.integers(0, 256, (1, n, 4), dtype=np.uint8)
    got = glz.decode(glz.encode(rgba, image_type="RGBA"), dictionary=glz.Dictionary())
    assert np.array_equal(got, rgba)
    x555 = rng.integers(0, 1 << 15, (1, n), dtype=np.uint16)
    got = glz.decode(glz.encode(x555, image_type="RGB16"), dictionary=glz.Dictionary())
    for i, c in enumerate((x555 & 31, (x555 >> 5) & 31, (x555 >> 10) & 31)):
        assert got[..., i].tolist() == ((c << 3) | (c >> 2)).tolist()
    idx = rng.integers(0, 4, (1, n), dtype=np.uint8)
    pal = np.array([0x0000FF, 0x00FF00, 0xFF0000, 0x123456], np.uint32)
    got = glz.decode(
        glz.encode(idx, image_type="PLT8"), dictionary=glz.Dictionary(), palette=pal
    )
    assert got.view(np.uint32)[..., 0].tolist() == pal[idx].tolist()


# ----------------------------------------------------------------- the encoder


def test_encoder_past_its_first_1000_segments() -> None:
    """spice-server's window starts with 1000 image segments and doubles the
    quota when they run out (INIT_IMAGE_SEGS_NUM, ..._window_segs_realloc):
    2001 images in one window, each made of pieces of earlier ones, decode
    exactly in one dictionary, and the tables grew twice (segment 1999, the
    last of the first growth, is used too)."""
    enc = glz.Encoder()
    d = glz.Dictionary()
    base = _img(1, 12, seed=9)
    for i in range(2001):
        img = np.roll(base, i % 12, axis=1)
        img[0, 0, 0] = i & 0xFF  # not one image repeated: a literal each time
        assert np.array_equal(glz.decode(enc.encode(img), dictionary=d), img)
    assert enc._quota == 4000 and enc.window_ids == list(range(2001))


# ----------------------------------------------------------------- ZLIB_GLZ inflate


def test_zlib_glz_inflate_bounds_and_texts() -> None:
    """glz_size is accepted in HEADER_SIZE..max_size inclusive; a claim up to
    DEFLATE_MAX_RATIO times the input is tried (and found short here), one
    above is refused unread; every refusal has its own exact text."""
    raw = bytes(range(64))
    data = zlib.compress(raw)
    assert zlib_glz.inflate(data, 64, 64) == raw
    for size in (glz.HEADER_SIZE - 1, 65):
        with pytest.raises(CodecError) as err:
            zlib_glz.inflate(data, size, 64)
        assert str(err.value) == f"ZLIB_GLZ size {size} out of range"
    cap = zlib_glz.DEFLATE_MAX_RATIO * len(data)
    with pytest.raises(CodecError) as err:
        zlib_glz.inflate(data, cap, cap)
    assert str(err.value) == "ZLIB_GLZ stream inflates to fewer bytes than glz_size"
    with pytest.raises(CodecError) as err:
        zlib_glz.inflate(data, cap + 1, cap + 1)
    assert str(err.value) == f"{len(data)} zlib bytes cannot inflate to {cap + 1}"
    with pytest.raises(CodecError) as err:
        zlib_glz.inflate(data[:2] + b"\xff" * 8, 64, 64)  # block type 3: invalid
    assert str(err.value).startswith(
        "ZLIB_GLZ inflate failed: Error -3 while decompressing data"
    )
    # the input ends before any output: the loop must stop, not spin
    with pytest.raises(CodecError) as err:
        zlib_glz.inflate(data[:2], 64, 64)
    assert str(err.value) == "ZLIB_GLZ stream is not terminated"


def test_zlib_glz_bomb_stopped_after_one_step() -> None:
    """A stream that inflates far beyond glz_size is refused after at most
    glz_size + 1 bytes of output, not after inflating it all."""
    data = zlib.compress(bytes(16 << 20), 9)  # 16 MiB of zeros in ~16 KB
    tracemalloc.start()
    try:
        with pytest.raises(CodecError) as err:
            zlib_glz.inflate(data, 1000, 1000)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert str(err.value) == "ZLIB_GLZ stream inflates to more bytes than glz_size"
    # 1 MiB: far above the ~2 KB inflate holds, far below the 16 MiB of the stream
    assert peak < 1 << 20


def test_encoder_input_refusals_and_rgb24_layouts() -> None:
    """Each wrong input has its own exact text; RGB24 from 3 or 4 channels is
    one stream (stride 3 bytes a pixel) that decodes to the B, G, R bytes."""
    img = _img(3, 5, seed=4)
    bad = [
        (
            img.astype(np.uint16),
            "RGB32",
            "RGB images must be uint8 (h, w, 3 or 4), B, G, R[, X/A]",
        ),
        (
            img[:, :, 0],
            "RGB24",
            "RGB images must be uint8 (h, w, 3 or 4), B, G, R[, X/A]",
        ),
        (
            np.zeros((3, 5, 5), np.uint8),
            "RGB32",
            "RGB images must be uint8 (h, w, 3 or 4), B, G, R[, X/A]",
        ),
        (img[:, :, :3], "RGBA", "RGBA images need 4 channels"),
        (img, "RGB16", "RGB16 images must be 2-D"),
        (img, "PLT8", "PLT8 images must be 2-D"),
        (img[:, :, 0], "RGB16", "RGB16 images must be uint16 x555"),
        (
            img[:, :, 0].astype(np.uint16),
            "PLT8",
            "PLT8 images must be uint8 palette indices",
        ),
    ]
    for image, itype, want in bad:
        with pytest.raises(ValueError) as err:
            glz.Encoder().encode(image, itype)
        assert str(err.value) == want
    four = glz.Encoder().encode(img, "RGB24")
    three = glz.Encoder().encode(np.ascontiguousarray(img[:, :, :3]), "RGB24")
    assert four == three and glz.read_header(four).stride == 15
    got = glz.decode(four, dictionary=glz.Dictionary())
    assert np.array_equal(got[:, :, :3], img[:, :, :3])


def test_header_refusal_texts() -> None:
    good = glz.Encoder().encode(_img(2, 3))
    bad_magic = b"\0\0\0\1" + good[4:]
    cases = [
        (good[: glz.HEADER_SIZE - 1], "GLZ stream shorter than its header"),
        (bad_magic, "bad GLZ magic 0x00000001"),
    ]
    for data, want in cases:
        with pytest.raises(CodecError) as err:
            glz.header_fields(data)
        assert str(err.value) == want


def test_header_stride_per_type_and_version_text() -> None:
    """The header's stride is the row's bytes in the source format (spice-server
    writes the bitmap's stride): 4, 4, 2 and 1 bytes a pixel."""
    img = _img(2, 5)
    rgb16 = np.arange(10, dtype=np.uint16).reshape(2, 5)
    for image, itype, stride in (
        (img, "RGB32", 20),
        (img, "RGBA", 20),
        (rgb16, "RGB16", 10),
        (img[:, :, 0], "PLT8", 5),
    ):
        assert glz.read_header(glz.Encoder().encode(image, itype)).stride == stride
    good = glz.Encoder().encode(img)
    with pytest.raises(CodecError) as err:
        glz.header_fields(good[:4] + b"\0\0\0\2" + good[8:])
    assert str(err.value) == "unsupported GLZ version 0x00000002"


# --------------------------------------------------- reference decoder refusals


def _ref_pass(
    body: bytes | memoryview,
    gross: int,
    mode: int = 0,
    palette: np.ndarray | None = None,
    refs: dict[int, np.ndarray] | None = None,
    image_id: int = 0,
    whd: int = 0,
    out_pixels: int | None = None,
) -> list[int]:
    """Decode one pass with the reference twin; the 32-bit pixels it wrote."""
    from spicepy.codecs import _glz_ref

    out = np.zeros((gross if out_pixels is None else out_pixels) * 4, np.uint8)
    lookup = (refs or {}).get
    _glz_ref.decode_pass(body, 0, out, gross, mode, image_id, whd, lookup, palette)
    return out.view(np.uint32).tolist()


def _match(length: int, ofs: int, dist: int = 0) -> bytes:
    """A short-offset match as the format codes it (length < 7, ofs < 2**12,
    image distance < 64)."""
    return bytes([(length << 5) | (ofs & 15), ofs >> 4, dist])


def test_reference_decoder_refusal_texts() -> None:
    """Each refusal of the reference twin's pass loop, by its exact text."""
    from spicepy.codecs import _glz_ref

    one = _lit(0x010203)  # one literal RGB32 pixel
    pal2 = np.array([0x111111, 0x222222], np.uint32)
    cases: list[tuple[bytes, dict[str, object], str]] = [
        (b"", {"gross": 1}, "GLZ stream truncated"),  # no control byte
        (one[:3], {"gross": 1}, "GLZ stream truncated"),  # literal bytes cut
        (one + bytes([64]), {"gross": 3}, "GLZ stream truncated"),  # match cut
        (_lit(1, 2, 3), {"gross": 2}, "GLZ literals run past the end of the image"),
        (  # two bytes of 8 pixels for an image of 8
            bytes([1, 0xFF, 0xFF]),
            {"gross": 8, "mode": _glz_ref.MODE_PLT1_BE, "palette": pal2},
            "GLZ literals run past the end of the image",
        ),
        (one + _match(2, 0), {"gross": 2}, "GLZ match runs past the end of the image"),
        (one + _match(2, 1), {"gross": 3}, "GLZ match before the start of the image"),
        (
            one + _match(2, 0, dist=2),
            {"gross": 3, "image_id": 5, "whd": 1},
            "GLZ reference outside the image window",
        ),
        (
            one + _match(2, 0, dist=2),
            {"gross": 3, "image_id": 1, "whd": 9},
            "GLZ reference outside the image window",
        ),
        (
            one + _match(2, 3, dist=1),
            {"gross": 3, "image_id": 1, "whd": 1, "refs": {0: np.zeros(16, np.uint8)}},
            "GLZ reference beyond the referenced image",
        ),
        (
            bytes([0, 0]),
            {"gross": 1, "mode": _glz_ref.MODE_PLT8},
            "GLZ palette image without a palette",
        ),
        (
            bytes([0, 2]),
            {"gross": 1, "mode": _glz_ref.MODE_PLT8, "palette": pal2},
            "GLZ palette index beyond the palette",
        ),
        (
            bytes([0, 0x10]),
            {"gross": 2, "mode": _glz_ref.MODE_PLT4_LE, "palette": pal2[:0]},
            "GLZ palette image with an empty palette",
        ),
        (
            bytes([0, 1]),
            {"gross": 8, "mode": _glz_ref.MODE_PLT1_BE, "palette": pal2[:1]},
            "GLZ 1-bit image needs a palette of 2 entries",
        ),
    ]
    for body, kw, want in cases:
        with pytest.raises(CodecError) as err:
            _ref_pass(body, **kw)  # type: ignore[arg-type]
        assert str(err.value) == want, (body, kw)
    with pytest.raises(ValueError) as verr:
        _ref_pass(one, 2, out_pixels=1)
    assert str(verr.value) == "output buffer too small"


def test_reference_decoder_limits_accepted() -> None:
    """The last valid value beside each refusal above decodes."""
    from spicepy.codecs import _glz_ref

    pal2 = np.array([0x111111, 0x222222], np.uint32)
    one = _lit(0x010203)
    # a match reaching back exactly to pixel 0 (offset == position)
    assert _ref_pass(one + _match(2, 0), 3) == [0x010203] * 3
    # the last palette index; a 1-entry palette for 4-bit indices (taken
    # modulo the palette); a 2-entry palette for 1-bit images
    assert _ref_pass(bytes([0, 1]), 1, _glz_ref.MODE_PLT8, pal2) == [0x222222]
    assert (
        _ref_pass(bytes([0, 0x31]), 2, _glz_ref.MODE_PLT4_LE, pal2[1:])
        == [0x222222] * 2
    )
    got = _ref_pass(bytes([0, 0x81]), 8, _glz_ref.MODE_PLT1_BE, pal2)
    assert got == [0x222222] + [0x111111] * 6 + [0x222222]
    # control byte 32 is the shortest match (length 1 + bias), not a literal run
    assert _ref_pass(one + bytes([32, 0, 0]), 2) == [0x010203] * 2
    # a reference to the last pixels of the image before
    ref = np.arange(4, dtype=np.uint32).view(np.uint8)
    got = _ref_pass(one + _match(2, 2, dist=1), 3, refs={0: ref}, image_id=1, whd=1)
    assert got == [0x010203, 2, 3]


def test_reference_decoder_reads_any_buffer_as_bytes() -> None:
    """A memoryview of another item format is read byte by byte, as bytes are."""
    body = _lit(0x010203, 0x040506, 0x070809) + _match(3, 2)
    body += _lit(0x0A0B0C, 0x0D0E0F)  # 20 bytes: whole 16-bit items
    want = _ref_pass(body, 8)
    assert len(body) % 2 == 0
    assert _ref_pass(memoryview(body).cast("H"), 8) == want
    assert _ref_pass(memoryview(bytearray(body)), 8) == want


# ----------------------------------------------------------------- dictionary bounds


def _stream_of(image_id: int, w: int = 2, whd: int | None = None) -> bytes:
    """A self-contained 1-row RGB32 image of ``w`` pixels; by default its
    win_head_dist reaches back to image 0, so nothing is released by it."""
    body = _lit(*[image_id * 16 + i for i in range(w)])
    return _header(8, w, 1, 4 * w, image_id, image_id if whd is None else whd) + body


def test_dictionary_bounds_are_positive() -> None:
    for kw in ({"max_pixels": 0}, {"max_images": 0}, {"max_pixels": -1}):
        with pytest.raises(ValueError) as err:
            glz.Dictionary(**kw)
        assert str(err.value) == "Dictionary bounds must be positive"
    d = glz.Dictionary(1, max_images=1)  # the smallest bounds are accepted
    glz.decode(_stream_of(0), dictionary=d)
    assert d.ids() == [0]


def test_dictionary_counts_an_image_decoded_twice_once() -> None:
    d = glz.Dictionary()
    for _ in range(3):
        glz.decode(_stream_of(0, w=5), dictionary=d)
    glz.decode(_stream_of(1, w=3), dictionary=d)
    assert d.ids() == [0, 1] and d.total_pixels == 8 and len(d) == 2


def test_dictionary_size_bounds_keep_the_newest() -> None:
    """max_images images are kept (not one fewer); the image just added is
    kept even alone over max_pixels; over the bound with two images the older
    goes."""
    d = glz.Dictionary(max_images=3)
    for i in range(3):
        glz.decode(_stream_of(i), dictionary=d)
    assert d.ids() == [0, 1, 2]
    glz.decode(_stream_of(3), dictionary=d)
    assert d.ids() == [1, 2, 3]
    d = glz.Dictionary(max_pixels=4)
    glz.decode(_stream_of(0, w=6), dictionary=d)
    assert d.ids() == [0] and d.total_pixels == 6
    glz.decode(_stream_of(1, w=6), dictionary=d)
    assert d.ids() == [1] and d.total_pixels == 6


def test_dictionary_eviction_spares_a_late_image_and_the_gap() -> None:
    """An older image arriving late (image 4 after 5 and 6) is the one just
    added: the next oldest is evicted in its place. Evicting image 0 marks
    only image 0 expired; image 1, never seen, may still come."""
    d = glz.Dictionary(max_images=2)
    for i in (5, 6, 4):
        glz.decode(_stream_of(i), dictionary=d)
    assert d.ids() == [4, 6]
    d = glz.Dictionary(max_images=1)
    glz.decode(_stream_of(0), dictionary=d)
    glz.decode(_stream_of(2), dictionary=d)
    assert d.ids() == [2]
    assert d.is_expired(0) and not d.is_expired(1)


# ----------------------------------------------------------------- encoder arguments


def test_encoder_window_bounds_and_texts() -> None:
    for bad in (0, glz.MAX_WINDOW_PIXELS + 1):
        with pytest.raises(ValueError) as err:
            glz.Encoder(bad)
        assert str(err.value) == "window_pixels must be in 1..33554432"
    glz.Encoder(1)
    glz.Encoder(glz.MAX_WINDOW_PIXELS)
    enc = glz.Encoder(6)  # an image exactly the window's size fits
    img = _img(2, 3)
    assert glz.decode(enc.encode(img), dictionary=glz.Dictionary()).tolist() == (
        img.tolist()
    )
    with pytest.raises(ValueError) as err:
        enc.encode(_img(1, 7))
    assert str(err.value) == "image is bigger than the GLZ window"
    with pytest.raises(ValueError) as err:
        enc.encode(img, "RGB8")
    assert str(err.value) == "GLZ cannot encode image type 'RGB8'"


def test_encoder_uses_the_backend_it_was_given() -> None:
    class Recorder:
        calls: list[int] = []

        @staticmethod
        def compress(
            keys: np.ndarray, lits: np.ndarray, mode: int, *rest: object
        ) -> bytes:
            Recorder.calls.append(mode)
            return b"<pass>"

    enc = glz.Encoder(_backend=Recorder)  # type: ignore[arg-type]
    out = enc.encode(_img(2, 3), "RGBA")
    assert out[glz.HEADER_SIZE :] == b"<pass><pass>" and Recorder.calls == [0, 2]


def test_encoder_keys_are_uint32_and_tables_grow_to_the_quota() -> None:
    """compress takes uint32 keys (the Cython twin reads them as such); a
    segment table grown to a quota has that many entries, raw addresses for
    the Cython twin, 0 for an empty image."""
    from spicepy.codecs import _glz_ref

    for image, itype in (
        (_img(2, 3), "RGB32"),
        (_img(2, 3)[..., :3], "RGB24"),
        (np.arange(6, dtype=np.uint16).reshape(2, 3), "RGB16"),
        (np.arange(6, dtype=np.uint8).reshape(2, 3), "PLT8"),
    ):
        for _, keys, lits in glz._planes(image, glz._ENCODE_TYPES[itype])[3]:
            assert keys.dtype == np.uint32 and lits.dtype == np.uint32, itype
    t = _glz_ref.SegTable(3)
    t.grow(5)
    assert len(t.keys) == len(t.ptrs) == len(t.lens) == len(t.ids) == 5
    keys = np.arange(4, dtype=np.uint32)
    t.set(4, keys, 9)
    t.set(1, keys[:0], 8)
    assert (int(t.ptrs[4]), int(t.lens[4]), int(t.ids[4])) == (keys.ctypes.data, 4, 9)
    assert (int(t.ptrs[1]), int(t.lens[1]), int(t.ids[1])) == (0, 0, 8)


def test_header_type_refusal_text() -> None:
    good = glz.Encoder().encode(_img(1, 2))
    bad = good[:8] + bytes([good[8] & 0xF0 | 10]) + good[9:]  # XXXA: not GLZ
    with pytest.raises(CodecError) as err:
        glz.header_fields(bad)
    assert str(err.value) == "GLZ image type 10 is not decodable"


# ----------------------------------------------------------------- glz.decode's checks


def _pal_header(w: int, stride: int, h: int = 1, itype: int = 5) -> bytes:
    return _header(itype, w, h, stride)


def test_decode_refusal_texts() -> None:
    d = glz.Dictionary()
    cases = [
        (_pal_header(4, 3) + b"\0\0", "GLZ palette stride shorter than the width"),
        (_pal_header(2, 2) + b"\1\0\0", "GLZ palette image without a palette"),
    ]
    for data, want in cases:
        with pytest.raises(CodecError) as err:
            glz.decode(data, dictionary=d)
        assert str(err.value) == want
    with pytest.raises(ValueError) as verr:
        glz.decode(_stream_of(0, w=3), dictionary=d, out=np.zeros((1, 3, 4), np.int8))
    assert str(verr.value) == "out must be uint8 (1, 3, 4)"
    with pytest.raises(ValueError) as verr:
        glz.decode(_stream_of(0, w=3), dictionary=d, out=np.zeros((1, 2, 4), np.uint8))
    assert str(verr.value) == "out must be uint8 (1, 3, 4)"


@pytest.mark.parametrize(
    ("itype", "w", "h", "stride", "units"),
    [
        (8, 255, 2, 1020, 510),  # RGB32: one unit a pixel, every row
        (9, 255, 1, 1020, 510),  # RGBA: the colour and the alpha pass
        (5, 255, 1, 510, 510),  # PLT8: rows coded to the full stride
    ],
)
def test_decode_ratio_bound_is_inclusive(
    itype: int, w: int, h: int, stride: int, units: int
) -> None:
    """A body of n bytes codes at most MAX_RATIO * n units: 510 units need 2
    bytes (then the body is what fails, truncated), 1 byte is refused."""
    pal = np.arange(256, dtype=np.uint32)
    hdr = _header(itype, w, h, stride)
    with pytest.raises(CodecError) as err:
        glz.decode(hdr + b"\xff", dictionary=glz.Dictionary(), palette=pal)
    assert str(err.value) == f"34 bytes of GLZ data cannot code a {w}x{h} image"
    assert units == glz.MAX_RATIO * 2
    with pytest.raises(CodecError) as err:
        glz.decode(hdr + b"\xff\xff", dictionary=glz.Dictionary(), palette=pal)
    assert str(err.value) == "GLZ stream truncated"


def test_decode_ignores_a_palette_for_rgb_images() -> None:
    big = np.zeros((1 << 16) + 1, np.uint32)  # refused for a palette image
    got = glz.decode(_stream_of(0, w=3), dictionary=glz.Dictionary(), palette=big)
    assert got.view(np.uint32)[0, :, 0].tolist() == [0, 1, 2]


def test_decode_results_are_c_contiguous() -> None:
    """Bottom-up rows and palette rows padded to the stride give a C-contiguous
    (h, w, 4) array, as every other decoder does."""
    img = _img(3, 4)
    bottom_up = glz.Encoder().encode(img, top_down=False)
    got = glz.decode(bottom_up, dictionary=glz.Dictionary())
    assert got.flags.c_contiguous and np.array_equal(got, img)
    pal = np.array([0x0A0B0C, 0x0D0E0F], np.uint32)
    padded = _pal_header(2, 3, h=2) + bytes([5, 1, 0, 0, 0, 1, 0])
    got = glz.decode(padded, dictionary=glz.Dictionary(), palette=pal)
    assert got.flags.c_contiguous
    assert got.view(np.uint32)[..., 0].tolist() == [[pal[1], pal[0]], [pal[0], pal[1]]]


def test_decode_reads_any_buffer() -> None:
    """bytes, bytearray and memoryviews (of bytes, of 16-bit items, strided)
    decode alike; the header and size checks count bytes, not items (a 16-bit
    view of a 42-byte stream has 21 items, fewer than the header's 33 bytes)."""
    for img in (_img(4, 10), _img(1, 3)):
        data = glz.Encoder().encode(img)
        spread = bytearray(2 * len(data))
        spread[::2] = data
        for form in (
            bytearray(data),
            memoryview(data),
            memoryview(data + b"\0" * (len(data) % 2)).cast("H"),
            memoryview(spread)[::2],
        ):
            got = glz.decode(form, dictionary=glz.Dictionary())
            assert np.array_equal(got, img)


def test_decode_waits_for_a_late_image_then_gives_up() -> None:
    """wait=0.9: image 0, decoded once the waiter waits, is found (a wait under
    one second is still a wait); a missing image is given up on after its
    wait of 0.2 s, not waited for forever."""
    d = glz.Dictionary()
    first = _stream_of(0, w=3)
    second = _header(8, 3, 1, 12, 1, 1) + bytes([(3 << 5) | 0, 0, 1])  # copy image 0
    result: list[object] = []

    def waiter() -> None:
        try:
            result.append(glz.decode(second, dictionary=d, wait=0.9))
        except BaseException as exc:  # noqa: BLE001 - the test inspects it
            result.append(exc)

    w = threading.Thread(target=waiter, daemon=True)
    w.start()
    until = time.monotonic() + 5
    while not d._waiting and w.is_alive() and time.monotonic() < until:
        time.sleep(0.001)
    glz.decode(first, dictionary=d)
    w.join(30)
    got = result[0]
    assert isinstance(got, np.ndarray), got
    assert got.view(np.uint32)[0, :, 0].tolist() == [0, 1, 2]
    box: list[BaseException] = []

    def missing() -> None:
        try:
            glz.decode(second, dictionary=glz.Dictionary(), wait=0.2)
        except BaseException as exc:  # noqa: BLE001 - the test inspects it
            box.append(exc)

    t = threading.Thread(target=missing, daemon=True)
    start = time.monotonic()
    t.start()
    t.join(30)
    assert not t.is_alive() and isinstance(box[0], GlzMissingImage)
    assert 0.2 <= time.monotonic() - start < 30
