"""JPEG and JPEG_ALPHA images.

spice-gtk decodes JPEG with libjpeg, so the reference is exact: our pixels must
equal libjpeg's for the same stream, byte for byte.  The second libjpeg here is
Pillow's (its own build of libjpeg-turbo, islow DCT and fancy upsampling, as
spice-gtk's defaults), not the simplejpeg our decoder calls.  PSNR floors only
judge the *encoder* (the original pixels against the decoded ones).
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image
from spicepy.codecs import CodecError, jpeg, jpeg_alpha, lz

DATA = Path(__file__).parent / "data"
#: The encoder's floor: quality >= 75 on these smooth test images measures
#: 38.8 dB at the least (3,000 random cases of the property below) and 42.8 dB
#: or more for the fixed images; 30 dB leaves room for another libjpeg build.
MIN_ENCODE_PSNR = 30


def libjpeg(data: bytes) -> np.ndarray:
    """The reference decode (Pillow's libjpeg), as B, G, R."""
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGB"))[:, :, ::-1]


def assert_exact(got: np.ndarray, data: bytes) -> None:
    """``got`` (h, w, 4) B,G,R,X equals libjpeg's decode of ``data``; X = 0."""
    np.testing.assert_array_equal(got[:, :, :3], libjpeg(data))


def _smooth(h: int, w: int) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.zeros((h, w, 4), dtype=np.uint8)
    img[:, :, 0] = 128 + 100 * np.sin(x / 17)
    img[:, :, 1] = 128 + 100 * np.cos(y / 23)
    img[:, :, 2] = (x + y) * 255 / (w + h)
    img[:, :, 3] = (x * 7 + y * 3) % 256
    return img


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255**2 / mse)


def test_round_trip_psnr() -> None:
    img = _smooth(120, 160)
    data = jpeg.encode(img, quality=85)
    info = jpeg.info(data)
    assert (info.codec, info.width, info.height) == ("jpeg", 160, 120)
    got = jpeg.decode(data)
    assert got.shape == (120, 160, 4)
    assert not got[:, :, 3].any()  # X = 0, as spice-gtk's decoder writes it
    assert_exact(got, data)
    assert psnr(got[:, :, :3], img[:, :, :3]) >= MIN_ENCODE_PSNR


@pytest.mark.parametrize("subsampling", ["444", "422", "420"])
@pytest.mark.parametrize("quality", [10, 50, 85, 100])
@pytest.mark.parametrize("size", [(1, 1), (7, 13), (33, 97), (64, 48)])
def test_decode_equals_libjpeg(
    subsampling: str, quality: int, size: tuple[int, int]
) -> None:
    """Noise (every coefficient in use) at every quality and subsampling."""
    rng = np.random.default_rng(quality * 1000 + size[0])
    img = rng.integers(0, 256, (*size, 4), dtype=np.uint8)
    data = jpeg.encode(img, quality=quality, subsampling=subsampling)
    got = jpeg.decode(data)
    assert_exact(got, data)
    assert not got[:, :, 3].any()


def test_server_jpeg_equals_libjpeg() -> None:
    """A JPEG made by spice-server (tests/data/README.md), decoded exactly."""
    data = (DATA / "jpeg_photo_server.jpg").read_bytes()
    got = jpeg.decode(data)
    assert got.shape == (266, 400, 4)
    assert_exact(got, data)


def test_corpus_jpegs_equal_libjpeg(captures_dir: Path) -> None:
    """Every JPEG_ALPHA colour stream of the corpus, decoded exactly."""
    from spicepy.capture.images import decode_payload, extract_images

    n = 0
    for name in ("photos-jpeg", "gradients-jpeg"):
        for p in extract_images(captures_dir / f"{name}.pcap"):
            if p.type_name != "JPEG_ALPHA":
                continue
            got = decode_payload(p)
            ja = p.image.jpeg_alpha
            assert p.image.payload is not None and ja is not None
            assert_exact(got, bytes(p.image.payload)[: ja.jpeg_size])
            n += 1
    assert n >= 300  # the corpus holds 324 (4 photos, 320 gradient tiles)


def test_channel_order() -> None:
    img = np.zeros((16, 16, 4), dtype=np.uint8)
    img[:, :, 2] = 255  # red in B,G,R,X
    got = jpeg.decode(jpeg.encode(img, quality=95, subsampling="444"))
    # flat red at quality 95, 4:4:4: libjpeg gives R = 254 (quantisation), B = G = 0
    assert got[8, 8].tolist() == [0, 0, 254, 0]


def test_out_and_limits() -> None:
    data = jpeg.encode(_smooth(10, 20))
    out = np.empty((10, 20, 4), dtype=np.uint8)
    assert jpeg.decode(data, out=out) is out
    with pytest.raises(CodecError):
        jpeg.decode(data, max_pixels=199)
    with pytest.raises(ValueError):
        jpeg.decode(data, out=np.empty((20, 10, 4), dtype=np.uint8))


@pytest.mark.parametrize("cut", [0, 10, 100, -20])
def test_bad_jpeg(cut: int) -> None:
    data = jpeg.encode(_smooth(32, 32))
    with pytest.raises(CodecError):
        jpeg.decode(data[:cut])
    with pytest.raises(CodecError):
        jpeg.decode(b"\xff\xd8garbage" + bytes(50))


@pytest.mark.parametrize("top_down", [True, False])
def test_jpeg_alpha_round_trip(top_down: bool) -> None:
    img = _smooth(48, 64)
    payload, jpeg_size = jpeg_alpha.encode(img, top_down=top_down)
    assert lz.info(payload[jpeg_size:]).top_down == top_down
    got = jpeg_alpha.decode(payload, jpeg_size=jpeg_size, top_down=top_down)
    np.testing.assert_array_equal(got[:, :, 3], img[:, :, 3])  # alpha is lossless
    assert_exact(got, payload[:jpeg_size])
    assert psnr(got[:, :, :3], img[:, :, :3]) >= MIN_ENCODE_PSNR


def test_jpeg_alpha_bottom_up_alpha_only_is_flipped() -> None:
    # colour from a JPEG is top-down; an alpha plane stored bottom-up is flipped
    img = _smooth(16, 16)
    colour = jpeg.encode(img)
    stored = np.zeros_like(img)
    stored[:, :, 3] = img[::-1, :, 3]  # rows as a bottom-up stream would hold them
    alpha = lz.encode(stored, image_type="XXXA", top_down=True)
    # relabel the stream as bottom-up: same bytes, header top_down = 0
    alpha = alpha[:24] + b"\0\0\0\0" + alpha[28:]
    got = jpeg_alpha.decode(colour + alpha, jpeg_size=len(colour), top_down=False)
    np.testing.assert_array_equal(got[:, :, 3], img[:, :, 3])
    assert_exact(got, colour)


def test_jpeg_alpha_errors() -> None:
    img = _smooth(16, 24)
    payload, jpeg_size = jpeg_alpha.encode(img)
    with pytest.raises(CodecError):  # flag disagrees with the stream
        jpeg_alpha.decode(payload, jpeg_size=jpeg_size, top_down=False)
    for bad_size in (0, -1, len(payload), len(payload) + 5, jpeg_size - 3):
        with pytest.raises(CodecError):
            jpeg_alpha.decode(payload, jpeg_size=bad_size)
    colour = payload[:jpeg_size]
    wrong_type = lz.encode(img, image_type="RGBA")
    with pytest.raises(CodecError):
        jpeg_alpha.decode(colour + wrong_type, jpeg_size=jpeg_size)
    wrong_size = lz.encode(img[:8], image_type="XXXA")
    with pytest.raises(CodecError):
        jpeg_alpha.decode(colour + wrong_size, jpeg_size=jpeg_size)
    with pytest.raises(CodecError):
        jpeg_alpha.decode(payload[:-1], jpeg_size=jpeg_size)


# -- properties -------------------------------------------------------------------

_sizes = st.tuples(st.integers(1, 48), st.integers(1, 48))


@given(size=_sizes, phase=st.floats(0, 6.28), quality=st.integers(75, 95))
def test_property_round_trip_smooth_images(
    size: tuple[int, int], phase: float, quality: int
) -> None:
    """Any size decodes exactly as libjpeg; the encoder keeps the PSNR floor."""
    h, w = size
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.zeros((h, w, 4), dtype=np.uint8)
    img[:, :, 0] = 128 + 60 * np.sin(x / 9 + phase)
    img[:, :, 1] = 128 + 60 * np.cos(y / 11 + phase)
    img[:, :, 2] = 128 + 60 * np.sin((x + y) / 13)
    data = jpeg.encode(img, quality=quality, subsampling="444")
    got = jpeg.decode(data)
    assert got.shape == (h, w, 4)
    assert not got[:, :, 3].any()
    assert_exact(got, data)
    assert psnr(got[:, :, :3], img[:, :, :3]) >= MIN_ENCODE_PSNR


@given(size=_sizes, top_down=st.booleans(), data=st.data())
def test_property_jpeg_alpha_keeps_alpha_exactly(
    size: tuple[int, int], top_down: bool, data: st.DataObject
) -> None:
    h, w = size
    img = _smooth(h, w)
    img[:, :, 3] = data.draw(
        arrays(np.uint8, (h, w), elements=st.integers(0, 255)), label="alpha"
    )
    payload, jpeg_size = jpeg_alpha.encode(img, top_down=top_down)
    got = jpeg_alpha.decode(payload, jpeg_size=jpeg_size, top_down=top_down)
    assert np.array_equal(got[:, :, 3], img[:, :, 3])  # the alpha plane is lossless


@given(raw=st.binary(max_size=400))
def test_property_random_bytes_raise_codec_error(raw: bytes) -> None:
    for call in (
        lambda: jpeg.decode(raw),
        lambda: jpeg_alpha.decode(raw, jpeg_size=len(raw) // 2),
    ):
        try:
            got = call()
        except CodecError:
            continue
        assert got.dtype == np.uint8 and got.ndim == 3 and got.shape[2] == 4


@settings(max_examples=60)
@given(data=st.data())
def test_property_truncated_or_flipped_streams(data: st.DataObject) -> None:
    """Damaged real streams give a picture or CodecError, never another error."""
    img = _smooth(24, 40)
    payload, jpeg_size = jpeg_alpha.encode(img, top_down=True)
    plain = jpeg.encode(img)
    for stream, decode in (
        (plain, jpeg.decode),
        (payload, lambda b: jpeg_alpha.decode(b, jpeg_size=jpeg_size)),
    ):
        damaged = bytearray(stream)
        if data.draw(st.booleans(), label="truncate"):
            damaged = damaged[: data.draw(st.integers(0, len(stream) - 1))]
        else:
            for _ in range(data.draw(st.integers(1, 8))):
                pos = data.draw(st.integers(0, len(stream) - 1))
                damaged[pos] ^= 1 << data.draw(st.integers(0, 7))
        try:
            got = decode(bytes(damaged))
        except CodecError:
            continue
        assert got.shape == (24, 40, 4)


def test_defaults_top_down_and_three_channel_input() -> None:
    """jpeg_alpha.decode's TOP_DOWN flag defaults to the encoder's default (True);
    jpeg.encode takes B,G,R without padding too (found by mutation testing)."""
    img = _smooth(12, 20)
    payload, jpeg_size = jpeg_alpha.encode(img)
    got = jpeg_alpha.decode(payload, jpeg_size=jpeg_size)
    np.testing.assert_array_equal(got[:, :, 3], img[:, :, 3])
    data = jpeg.encode(np.ascontiguousarray(img[:, :, :3]), quality=90)
    assert_exact(jpeg.decode(data), data)
    assert psnr(jpeg.decode(data)[:, :, :3], img[:, :, :3]) >= MIN_ENCODE_PSNR


def _sof_sampling(data: bytes) -> int:
    """Offset of the first component's sampling byte in the SOF0 segment."""
    sof = data.index(b"\xff\xc0")
    return sof + 2 + 9  # marker, then length(2) P(1) Y(2) X(2) Nf(1) C1(1)


@pytest.mark.parametrize(
    ("subsampling", "first", "ratio"),
    [
        ("444", None, 1),
        ("422", None, 2),  # luma 2x1, chroma 1x1
        ("420", None, 4),  # luma 2x2, chroma 1x1
        ("444", 0x12, 2),  # luma patched to 1x2: Vmax 2, least 1
        ("444", 0x31, 3),  # luma 3x1
        ("420", 0x14, 4),  # luma 1x4, chroma 1x1
    ],
)
def test_max_pixels_for_follows_the_sampling_factors(
    subsampling: str, first: int | None, ratio: int
) -> None:
    # max_pixels_for = 4 blocks a byte (baseline) x 64 pixels x Hmax*Vmax over
    # the least sampled component's H*V (its docstring)
    img = np.zeros((16, 16, 3), np.uint8)
    data = bytearray(jpeg.encode(img, subsampling=subsampling))
    if first is not None:
        data[_sof_sampling(bytes(data))] = first
    assert jpeg.max_pixels_for(bytes(data)) == 4 * len(data) * 64 * ratio


def test_max_pixels_for_refuses_a_zero_sampling_factor() -> None:
    data = bytearray(jpeg.encode(np.zeros((8, 8, 3), np.uint8), subsampling="444"))
    data[_sof_sampling(bytes(data)) + 3] = 0x10  # second component: V = 0
    with pytest.raises(CodecError, match="zero sampling"):
        jpeg.max_pixels_for(bytes(data))
