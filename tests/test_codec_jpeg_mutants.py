"""JPEG header walk and JPEG_ALPHA contracts that mutation testing found
unchecked (scripts/mutation.sh codecs; tests/MUTATION.md).  The headers are
built here from ITU T.81 (B.1: markers, segment lengths, the frame header
SOFn: length, P, Y, X, Nf, then Nf x (C, H << 4 | V, Tq)); the bound checked
is max_pixels_for's documented one (blocks a byte x 64 x Hmax*Vmax / least)."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from spicepy.codecs import CodecError, jpeg, jpeg_alpha, lz

SOI = b"\xff\xd8"


def _sof(marker: int, factors: list[int], n: int | None = None) -> bytes:
    """A frame header segment (8-bit, 16x16) with these H << 4 | V bytes."""
    n = len(factors) if n is None else n
    body = struct.pack(">BHHB", 8, 16, 16, n)
    for i, f in enumerate(factors):
        body += bytes([i + 1, f, 0])
    return bytes([0xFF, marker]) + struct.pack(">H", 2 + len(body)) + body


def _refusal(data: bytes) -> str:
    with pytest.raises(CodecError) as exc:
        jpeg.max_pixels_for(data)
    assert type(exc.value) is CodecError
    return str(exc.value)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "no SOI marker"),
        (b"\xff\xd9", "no SOI marker"),
        (b"\xfe\xd8" + _sof(0xC0, [0x11]), "no SOI marker"),
        (SOI, "malformed marker segment"),  # nothing after SOI
        (SOI + b"\xff", "malformed marker segment"),  # half a marker
        (SOI + b"\x00\xc0", "malformed marker segment"),  # not a marker
        (SOI + b"\xff\xff\xff", "truncated"),  # fill bytes up to the end
        (SOI + b"\xff\xe0", "truncated segment length"),
        (SOI + b"\xff\xe0\x00", "truncated segment length"),
        (SOI + b"\xff\xe0\x00\x01", "segment length out of range"),  # below 2
        (SOI + b"\xff\xe0\x00\x05\x00\x00", "segment length out of range"),
        (SOI + b"\xff\xe0\x00\x04\x00\x00", "malformed marker segment"),  # fits
        (SOI + b"\xff\xda\x00\x02", "no frame header before the scan"),
        (SOI + b"\xff\xd9", "no frame header before the scan"),
        (SOI + b"\xff\xd0\xff\xd9", "no frame header before the scan"),  # RST0
        (SOI + b"\xff\x01\xff\xda", "no frame header before the scan"),  # TEM
        (SOI + _sof(0xC0, [], n=0), "malformed frame header"),  # Nf = 0
        (SOI + _sof(0xC0, [0x11], n=2), "malformed frame header"),  # too short
        (SOI + b"\xff\xc0\x00\x07" + bytes(5), "malformed frame header"),
        (SOI + _sof(0xC0, [0x11, 0x10]), "zero sampling factor"),  # V = 0
        (SOI + _sof(0xC0, [0x01, 0x11]), "zero sampling factor"),  # H = 0
    ],
)
def test_header_walk_refusals(data: bytes, message: str) -> None:
    assert _refusal(data) == f"bad JPEG header: {message}"


@pytest.mark.parametrize(
    "marker", [0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF]
)
def test_frame_types_without_a_bound_are_named(marker: int) -> None:
    data = SOI + _sof(marker, [0x11])
    assert _refusal(data) == f"unsupported JPEG frame type SOF{marker - 0xC0}"


@pytest.mark.parametrize(
    ("marker", "factors", "ratio"),
    [
        (0xC0, [0x11], 1),
        (0xC1, [0x11, 0x11, 0x11], 1),  # extended sequential: 4 blocks a byte too
        (0xC0, [0x22, 0x11, 0x11], 4),
        (0xC0, [0x21, 0x12, 0x11], 4),  # Hmax and Vmax from different components
        (0xC0, [0x22, 0x21], 2),  # least sampled: 2x1
        (0xC0, [0x11, 0x22], 4),  # the largest need not come first
        (0xC0, [0x31, 0x21], 2),  # 3 / 2 rounded up
        (0xC0, [0x44, 0x44, 0x41, 0x14], 4),  # last component is among the least
        (0xC2, [0x11], 1),  # progressive: 8 blocks a byte
        (0xC2, [0x22, 0x11], 4),
    ],
)
def test_max_pixels_for_the_frame(marker: int, factors: list[int], ratio: int) -> None:
    # fill bytes, a marker without length (RST0) and an APP0 before the frame
    data = SOI + b"\xff\xff\xd0" + b"\xff\xe0\x00\x04ab" + _sof(marker, factors)
    blocks_per_byte = 8 if marker == 0xC2 else 4
    assert jpeg.max_pixels_for(data) == blocks_per_byte * len(data) * 64 * ratio
    assert jpeg.max_pixels_for(bytearray(data)) == jpeg.max_pixels_for(data)
    assert jpeg.max_pixels_for(memoryview(data)) == jpeg.max_pixels_for(data)


# ----------------------------------------------------------------- decode, info


def _smooth(h: int, w: int) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    img = np.zeros((h, w, 4), np.uint8)
    img[..., 0] = (x * 255 // max(w - 1, 1)).astype(np.uint8)
    img[..., 1] = (y * 255 // max(h - 1, 1)).astype(np.uint8)
    img[..., 2] = 128
    img[..., 3] = 77
    return img


def test_decode_refusals_say_what_is_wrong() -> None:
    data = jpeg.encode(_smooth(8, 8))
    big = bytearray(data)
    sof = big.index(b"\xff\xc0")
    big[sof + 5 : sof + 9] = struct.pack(">HH", 1000, 1000)  # 1000x1000 in ~600 B
    with pytest.raises(CodecError) as exc:
        jpeg.decode(bytes(big))
    assert str(exc.value) == f"{len(big)} bytes of JPEG cannot code 1000x1000 pixels"
    with pytest.raises(CodecError) as exc:
        jpeg.info(b"\xff\xd8garbage")
    assert str(exc.value).startswith("bad JPEG header: ")
    whole = jpeg.encode(_smooth(64, 64))
    cut = whole[:-40]  # a truncated scan is a libjpeg warning: an error here
    with pytest.raises(CodecError) as exc:
        jpeg.decode(cut)
    assert str(exc.value).startswith("bad JPEG data: ")


def test_max_pixels_is_inclusive() -> None:
    data = jpeg.encode(_smooth(6, 7))
    assert jpeg.decode(data, max_pixels=42).shape == (6, 7, 4)
    with pytest.raises(CodecError):
        jpeg.decode(data, max_pixels=41)


def test_info_fields() -> None:
    data = jpeg.encode(_smooth(6, 7))
    i = jpeg.info(memoryview(data))
    assert (i.codec, i.width, i.height, i.top_down) == ("jpeg", 7, 6, True)
    assert i.image_type == "YCbCr"
    grey = jpeg.encode(np.zeros((3, 5, 4), np.uint8))
    assert jpeg.info(grey).width == 5 and jpeg.info(grey).height == 3


def test_keep_x_leaves_libjpeg_byte_3() -> None:
    """spice-gtk clears X; keep_x leaves what libjpeg-turbo writes (0xFF)."""
    data = jpeg.encode(_smooth(9, 10))
    assert (jpeg.decode(data)[..., 3] == 0).all()
    kept = jpeg.decode(data, keep_x=True)
    assert (kept[..., 3] == 255).all()
    assert np.array_equal(kept[..., :3], jpeg.decode(data)[..., :3])
    out = np.full((9, 10, 4), 7, np.uint8)
    assert jpeg.decode(data, out=out) is out and (out[..., 3] == 0).all()


# ----------------------------------------------------------------- JPEG_ALPHA


def test_jpeg_alpha_size_refusals() -> None:
    img = _smooth(6, 5)
    payload, size = jpeg_alpha.encode(img)
    for bad in (0, -1, len(payload), len(payload) + 1):
        with pytest.raises(CodecError) as exc:
            jpeg_alpha.decode(payload, jpeg_size=bad)
        assert str(exc.value) == (
            f"jpeg_size {bad} outside the {len(payload)}-byte payload"
        )
    # the smallest split: one byte of "JPEG", the rest an LZ stream
    with pytest.raises(CodecError):
        jpeg_alpha.decode(payload, jpeg_size=1)


def test_jpeg_alpha_alpha_stream_is_checked_against_max_pixels() -> None:
    img = _smooth(6, 5)
    payload, size = jpeg_alpha.encode(img)
    got = jpeg_alpha.decode(payload, jpeg_size=size, max_pixels=30)
    assert np.array_equal(got[..., 3], img[..., 3])
    with pytest.raises(CodecError):
        jpeg_alpha.decode(payload, jpeg_size=size, max_pixels=29)


def test_jpeg_alpha_truncated_alpha_body() -> None:
    """An alpha stream cut short is refused before the JPEG is decoded."""
    img = _smooth(16, 16)
    img[..., 3] = np.arange(256, dtype=np.uint8).reshape(16, 16)  # no runs
    payload, size = jpeg_alpha.encode(img)
    for cut in (1, 8, len(payload) - size - lz.HEADER_SIZE - 1):
        with pytest.raises(CodecError):
            jpeg_alpha.decode(payload[:-cut], jpeg_size=size)


@pytest.mark.parametrize("top_down", [True, False])
def test_jpeg_alpha_encode_direction(top_down: bool) -> None:
    img = _smooth(7, 4)
    img[..., 3] = np.arange(28, dtype=np.uint8).reshape(7, 4)
    payload, size = jpeg_alpha.encode(img, top_down=top_down, quality=90)
    assert payload[:size] == jpeg.encode(img, quality=90)
    alpha = lz.read_header(payload[size:])
    assert alpha.top_down is top_down and alpha.image_type == lz.ImageType.XXXA
    got = jpeg_alpha.decode(payload, jpeg_size=size, top_down=top_down)
    assert np.array_equal(got[..., 3], img[..., 3])
    assert np.array_equal(got[..., :3], jpeg.decode(payload[:size])[..., :3])


def test_encoders_default_to_the_servers_quality() -> None:
    """Quality 85 and 4:2:0 by default (server/jpeg-encoder.c), straight from
    libjpeg-turbo; JPEG_ALPHA's colour part is that same JPEG."""
    import simplejpeg

    img = _smooth(16, 24)
    ref = simplejpeg.encode_jpeg(
        np.ascontiguousarray(img), quality=85, colorspace="BGRX", colorsubsampling="420"
    )
    assert jpeg.encode(img) == ref
    assert jpeg.encode(img, quality=86) != ref  # the check sees the quality
    payload, size = jpeg_alpha.encode(img)
    assert payload[:size] == ref


def test_jpeg_alpha_short_alpha_body_is_named_before_the_jpeg(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The alpha body must be long enough for its image (LZ's best ratio, 255
    units a byte) before the colour JPEG is decoded."""
    colour = jpeg.encode(np.zeros((40, 255, 4), np.uint8))
    alpha = struct.pack(">7I", lz.MAGIC, lz.VERSION, 10, 255, 40, 255 * 4, 1)
    data = colour + alpha + bytes(30)  # 255 x 40 units need at least 40 bytes

    def no_jpeg(*args: object, **kwargs: object) -> None:
        raise AssertionError("the JPEG was decoded before the alpha was checked")

    monkeypatch.setattr(jpeg, "decode", no_jpeg)
    with pytest.raises(CodecError) as exc:
        jpeg_alpha.decode(data, jpeg_size=len(colour))
    assert str(exc.value) == "30 bytes of LZ data cannot code a 255x40 XXXA image"
    with pytest.raises(CodecError) as exc:  # the size limit comes first
        jpeg_alpha.decode(data, jpeg_size=len(colour), max_pixels=255 * 40 - 1)
    assert str(exc.value) == f"image 255x40 exceeds the limit of {255 * 40 - 1} pixels"


def test_jpeg_alpha_fills_out_and_one_byte_jpeg_is_inside() -> None:
    img = _smooth(6, 5)
    payload, size = jpeg_alpha.encode(img)
    out = np.zeros((6, 5, 4), np.uint8)
    got = jpeg_alpha.decode(payload, jpeg_size=size, out=out)
    assert got is out and np.array_equal(out[..., 3], img[..., 3])
    assert np.array_equal(out, jpeg_alpha.decode(payload, jpeg_size=size))
    with pytest.raises(CodecError) as exc:  # 1 is inside the payload: the
        jpeg_alpha.decode(payload, jpeg_size=1)  # alpha stream is what fails
    assert not str(exc.value).startswith("jpeg_size")


def test_long_and_empty_segments_before_the_frame() -> None:
    """Segment lengths are big-endian 16-bit (a 300-byte APP1) and 2 is the
    smallest (an empty APP0)."""
    app1 = b"\xff\xe1" + struct.pack(">H", 300) + bytes(298)
    data = SOI + b"\xff\xe0\x00\x02" + app1 + _sof(0xC0, [0x11])
    assert jpeg.max_pixels_for(data) == 4 * len(data) * 64


def test_the_size_bound_is_inclusive() -> None:
    """A frame of exactly max_pixels_for pixels passes the bound (libjpeg then
    finds the data short), one more does not."""
    data = bytearray(jpeg.encode(np.zeros((8, 8, 4), np.uint8), subsampling="444"))
    sof = data.index(b"\xff\xc0")
    grey = jpeg.max_pixels_for(bytes(data)) // len(data)  # ratio 1: 256 a byte
    assert grey == 256
    data[sof + 5 : sof + 9] = struct.pack(">HH", len(data), 256)  # 256 x len
    with pytest.raises(CodecError) as exc:
        jpeg.decode(bytes(data))
    assert str(exc.value).startswith("bad JPEG data: ")
    data[sof + 5 : sof + 9] = struct.pack(">HH", len(data) + 1, 256)
    with pytest.raises(CodecError) as exc:
        jpeg.decode(bytes(data))
    assert "cannot code" in str(exc.value)
