"""The heuristic codec selector: definition-derived unit tests and its agreement
with what the real spice-server chose for every image of the capture corpus."""

from __future__ import annotations

import io
import json
import zlib
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image as PILImage
from spicepy.codecs.selector import (
    MIN_SIZE_TO_COMPRESS,
    Compressed,
    Graduality,
    choose_codec,
    compress,
    graduality,
    graduality_score,
)

WEIGHTS = (0.5, 1.0, -0.25)  # equal, contrasting, slightly different


def reference_score(img: np.ndarray, th: int = 60, rgb16: bool = False) -> float:
    """compute_lines_gradual_score transcribed as the C pointer walk (slow)."""
    h, w = img.shape[:2]
    if w <= 1 or h <= 1:
        return 1.0
    if rgb16:
        words = img.reshape(-1).astype(int)
        flat = [((v >> 10) & 31, (v >> 5) & 31, v & 31) for v in words]
    else:
        flat = [tuple(int(c) for c in p[2::-1]) for p in img.reshape(-1, img.shape[2])]

    def cmp(a: tuple[int, ...], b: tuple[int, ...]) -> int:
        diffs = [x - y for x, y in zip(a, b, strict=True)]
        if any(abs(d) >= th for d in diffs):
            return 1
        return 2 if any(diffs) else 0

    jump = 15 if 15 % w else 14
    cur, last_line = w // 2, (h - 1) * w
    total, n = 0.0, 0
    while cur < last_line:
        if (cur + 1) % w == 0:
            cur -= 1
        res = [cmp(flat[cur], flat[o]) for o in (cur + 1, cur + w, cur + w + 1)]
        total += 0.0 if not any(res) else sum(WEIGHTS[r] for r in res)
        n += 1
        cur += jump
    return total / (3 * n)


def bgrx(rgb: np.ndarray) -> np.ndarray:
    out = np.zeros(rgb.shape[:2] + (4,), np.uint8)
    out[..., :3] = rgb[..., ::-1]
    return out


# -- graduality, from the definition ---------------------------------------------


@given(
    arrays(
        np.uint8,
        st.tuples(st.integers(1, 24), st.integers(1, 48), st.just(4)),
        elements=st.sampled_from([0, 1, 2, 50, 120, 255]),
    )  # fmt: skip
)
def test_score_matches_pointer_walk(img: np.ndarray) -> None:
    assert graduality_score(img) == pytest.approx(reference_score(img), abs=1e-12)


def test_score_three_channel_images() -> None:
    rng = np.random.default_rng(9)
    img = rng.choice(np.array([0, 3, 90, 200], np.uint8), (30, 47, 3))
    assert graduality_score(img) == pytest.approx(reference_score(img), abs=1e-12)
    four = np.concatenate([img, np.full((30, 47, 1), 77, np.uint8)], axis=-1)
    assert graduality_score(four) == graduality_score(img)  # X/A never counts


@pytest.mark.parametrize("width", [15, 30, 45, 16, 14, 29])
def test_score_widths_multiple_of_jump(width: int) -> None:
    rng = np.random.default_rng(width)
    img = rng.integers(0, 256, (20, width, 4), dtype=np.uint8)
    img[rng.random((20, width)) < 0.6] = 7  # some equal neighbours
    assert graduality_score(img) == pytest.approx(reference_score(img), abs=1e-12)


def test_score_rgb16_matches_pointer_walk() -> None:
    rng = np.random.default_rng(5)
    words = rng.integers(0, 1 << 15, (12, 40), dtype=np.uint16) & 0x0C63
    expect = reference_score(words[..., None], th=8, rgb16=True)
    assert graduality_score(words, rgb16=True) == pytest.approx(expect, abs=1e-12)


def test_flat_image_is_medium() -> None:
    # every square is all-equal and scores 0; 0 is below MEDIUM's 0.002 only
    img = np.full((50, 50, 4), 90, np.uint8)
    assert graduality_score(img) == 0.0
    assert graduality(img) is Graduality.MEDIUM


def test_unit_steps_are_high() -> None:
    # every neighbour differs by one level: each pair -0.25, mean -0.25 < -0.03
    y, x = np.mgrid[0:64, 0:64]
    img = bgrx(np.stack([x + y, x + y, x + y], axis=-1).astype(np.uint8))
    assert graduality_score(img) == pytest.approx(-0.25)
    assert graduality(img) is Graduality.HIGH


def test_checkerboard_is_low() -> None:
    y, x = np.mgrid[0:64, 0:64]
    v = (((x + y) % 2) * 255).astype(np.uint8)
    img = bgrx(np.stack([v, v, v], axis=-1))
    # right and below contrast (+1), below-right is equal (+0.5): 2.5 / 3
    assert graduality_score(img) == pytest.approx(2.5 / 3)
    assert graduality(img) is Graduality.LOW


def test_degenerate_sizes_score_one() -> None:
    assert graduality_score(np.zeros((1, 40, 4), np.uint8)) == 1.0
    assert graduality_score(np.zeros((40, 1, 4), np.uint8)) == 1.0


def test_rgb16_threshold_is_zero() -> None:
    # a slightly negative 16-bit score is HIGH (< 0), though not below -0.03:
    # flat but for a 3-row blue ramp at the top, whose squares score -0.25
    y, x = np.mgrid[0:60, 0:60]
    words = np.zeros((60, 60), np.uint16)
    words[:3] = ((x + y) & 7)[:3]
    assert -0.03 < graduality_score(words, rgb16=True) < 0
    assert graduality(words, rgb16=True) is Graduality.HIGH


def test_bad_image_shapes() -> None:
    with pytest.raises(ValueError):
        graduality_score(np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError):
        graduality_score(np.zeros((4, 4, 4), np.float32))
    with pytest.raises(ValueError):
        choose_codec(np.zeros((8, 8, 4), np.uint8), mode="zstd")


# -- choose_codec, from the definition --------------------------------------------

SMOOTH = bgrx(
    np.indices((64, 64)).sum(0).astype(np.uint8)[..., None].repeat(3, axis=-1)
)
SHARP = bgrx(((np.indices((64, 64)).sum(0) % 2) * 255).astype(np.uint8)[..., None]
             .repeat(3, axis=-1))  # fmt: skip


def test_fixtures_have_the_intended_graduality() -> None:
    assert graduality(SMOOTH) is Graduality.HIGH
    assert graduality(SHARP) is Graduality.LOW


def test_small_images_are_raw() -> None:
    # stride * height < 54 bytes -> BITMAP, whatever the mode
    for w, h in [(1, 1), (3, 4), (13, 1)]:
        assert w * 4 * h < MIN_SIZE_TO_COMPRESS
        for mode in ("auto_glz", "lz", "quic", "lz4"):
            assert choose_codec(SMOOTH[:h, :w], mode=mode) == "BITMAP"
    assert 14 * 4 >= MIN_SIZE_TO_COMPRESS
    assert choose_codec(SHARP[:1, :14], mode="lz") == "LZ_RGB"


def test_auto_modes_follow_graduality() -> None:
    assert choose_codec(SMOOTH, mode="auto_glz") == "QUIC"
    assert choose_codec(SMOOTH, mode="auto_lz") == "QUIC"
    assert choose_codec(SHARP, mode="auto_glz") == "GLZ_RGB"
    assert choose_codec(SHARP, mode="auto_lz") == "LZ_RGB"
    assert choose_codec(SHARP, mode="auto_glz", level=Graduality.HIGH) == "QUIC"


def test_fixed_modes() -> None:
    assert choose_codec(SMOOTH, mode="off") == "BITMAP"
    assert choose_codec(SMOOTH, mode="lz") == "LZ_RGB"
    assert choose_codec(SMOOTH, mode="glz") == "GLZ_RGB"
    assert choose_codec(SHARP, mode="quic") == "QUIC"
    assert choose_codec(SMOOTH, mode="lz4") == "LZ4"
    assert choose_codec(SMOOTH, mode="lz4", lz4_capable=False) == "LZ_RGB"


def test_quic_needs_three_by_three() -> None:
    thin = SMOOTH[:40, :2]  # 2 * 4 * 40 = 320 bytes, too narrow for QUIC
    assert choose_codec(thin, mode="quic") == "BITMAP"
    assert choose_codec(thin, mode="auto_glz") == "GLZ_RGB"


def test_padding_rules_out_lz() -> None:
    assert choose_codec(SHARP, mode="auto_glz", stride=64 * 4 + 8) == "QUIC"
    assert choose_codec(SHARP, mode="lz", stride=64 * 4 + 8) == "BITMAP"
    with pytest.raises(ValueError):
        choose_codec(SHARP, stride=10)


def test_glz_fallbacks_to_lz() -> None:
    assert choose_codec(SHARP, mode="auto_glz", drawable=False) == "LZ_RGB"
    assert choose_codec(SHARP, mode="glz", glz_dictionary_pixels=64 * 64) == "LZ_RGB"
    indices = np.zeros((64, 64), np.uint8)
    assert choose_codec(indices, mode="auto_glz", palette=True) == "LZ_PLT"
    assert choose_codec(indices, mode="quic", palette=True) == "BITMAP"
    assert choose_codec(indices, mode="lz4", palette=True) == "LZ_PLT"


def test_jpeg_branch() -> None:
    assert choose_codec(SMOOTH, jpeg=True) == "QUIC"  # the draw is not lossy
    assert choose_codec(SMOOTH, jpeg=True, can_lossy=True) == "JPEG"
    assert (
        choose_codec(SMOOTH, jpeg=True, can_lossy=True, has_alpha=True) == "JPEG_ALPHA"
    )
    assert choose_codec(SHARP, jpeg=True, can_lossy=True) == "GLZ_RGB"


# -- agreement with the real server --------------------------------------------------

# what a payload's type says the server chose, before encoding-dependent rewrites
_CHOICE = {"ZLIB_GLZ_RGB": "GLZ_RGB", "JPEG": "QUIC", "JPEG_ALPHA": "QUIC"}


def capture_mode(entry: dict) -> str:  # type: ignore[type-arg]
    """The compression the server used for the client: the client's preference,
    else --image-compression, else spice-server's default auto_glz."""
    pref = (entry.get("client") or {}).get("preferred_compression")
    if pref:
        return str(pref)
    opts = list(entry["server"].get("xspice_options", []))
    if "--image-compression" in opts:
        return str(opts[opts.index("--image-compression") + 1])
    return "auto_glz"


# pure-Python twins decode about 1 MPix/s: past this many pixels of a slow codec,
# images are skipped (GLZ excepted: the dictionary needs every image)
SLOW_PIXEL_BUDGET = 4_000_000


def _fast(type_name: str) -> bool:
    import importlib

    module = {"QUIC": "quic", "LZ_RGB": "lz", "LZ_PLT": "lz", "LZ4": "lz4"}.get(
        type_name
    )
    if module is None:
        return True
    try:
        return bool(
            getattr(importlib.import_module(f"spicepy.codecs.{module}"), "FAST", True)
        )
    except ImportError:
        return True  # absent: decode_payloads skips it anyway


def agreement(captures_dir: Path) -> tuple[Counter[bool], Counter[tuple[str, str]]]:
    from spicepy.capture.images import ImagePayload, decode_payloads, extract_images

    slow_pixels = 0

    def want(p: ImagePayload) -> bool:
        nonlocal slow_pixels
        if _fast(p.type_name):
            return True
        slow_pixels += p.width * p.height
        return slow_pixels <= SLOW_PIXEL_BUDGET

    manifest = json.loads((captures_dir / "manifest.json").read_text())
    agree: Counter[bool] = Counter()
    confusion: Counter[tuple[str, str]] = Counter()
    for entry in manifest["captures"]:
        if not entry.get("lossless", False):
            continue  # lossy sessions: JPEG output size decides, pixels are altered
        mode = capture_mode(entry)
        payloads = extract_images(captures_dir / entry["files"]["pcap"])
        for p, pixels in decode_payloads(payloads, skip_undecodable=True, want=want):
            if pixels is None:
                continue  # a reference, a codec not built yet, or over budget
            server = _CHOICE.get(p.type_name, p.type_name)
            # a surface image the server pushes itself has no drawable
            drawable = not (p.server_made and p.message == "copy")
            ours = choose_codec(pixels, mode=mode, drawable=drawable)
            agree[ours == server] += 1
            confusion[(server, ours)] += 1
    return agree, confusion


def test_agreement_with_server(captures_dir: Path) -> None:
    agree, confusion = agreement(captures_dir)
    total = agree[True] + agree[False]
    assert total >= 20, "too few decodable images to judge"
    # exact: measured on ../shared/captures, every one of 2,343 decodable images
    # of the lossless sessions (80 BITMAP, 1,208 GLZ, 312 LZ4, 394 LZ_RGB, 349
    # QUIC) gets the server's choice, so any disagreement is a regression
    wrong = {pair: n for pair, n in confusion.items() if pair[0] != pair[1]}
    assert agree[False] == 0 and not wrong, f"(server, ours) disagreements: {wrong}"
    assert set(confusion) == {(s, s) for s, _ in confusion}


# -- compress: choice + encoders + the server's after-encoding fallbacks ----------


def _decode(c: Compressed, width: int, height: int) -> np.ndarray:
    from spicepy.codecs import glz
    from spicepy.codecs.image import SpiceImageType, decode_image

    if c.image_type == "BITMAP":
        return np.frombuffer(c.data, np.uint8).reshape(height, width, 4)
    return decode_image(
        SpiceImageType[c.image_type], c.data, width=width, height=height,
        dictionary=glz.Dictionary(),
        glz_size=c.side_size if c.image_type == "ZLIB_GLZ_RGB" else None,
        jpeg_size=c.side_size if c.image_type == "JPEG_ALPHA" else None,
    ).pixels  # fmt: skip


@pytest.mark.parametrize(
    "mode", ["off", "auto_glz", "auto_lz", "quic", "glz", "lz", "lz4"]
)
@pytest.mark.parametrize("picture", ["smooth", "sharp", "noise"])
def test_compress_round_trips(mode: str, picture: str) -> None:
    noise = np.random.default_rng(1).integers(0, 256, (64, 64, 4), dtype=np.uint8)
    noise[..., 3] = 0
    img = {"smooth": SMOOTH, "sharp": SHARP, "noise": noise}[picture]
    c = compress(img, mode=mode)
    choice = choose_codec(img, mode=mode)
    # the choice stands unless the encoder gave up (output > raw)
    assert c.image_type == choice or (c.image_type == "BITMAP" and choice != "GLZ_RGB")
    out = _decode(c, 64, 64)
    np.testing.assert_array_equal(out[..., :3], img[..., :3])


def test_compress_raw_fallback_except_glz() -> None:
    from spicepy.codecs import lz

    noise = np.random.default_rng(2).integers(0, 256, (32, 32, 4), dtype=np.uint8)
    # RGBA noise: LZ codes 4 random bytes per pixel plus its own overhead
    assert len(lz.encode(noise, image_type="RGBA")) > noise.nbytes
    c = compress(noise, mode="lz", has_alpha=True)
    assert c.image_type == "BITMAP" and c.data == noise.tobytes()
    glz_c = compress(noise, mode="glz", has_alpha=True)
    assert glz_c.image_type == "GLZ_RGB" and len(glz_c.data) > noise.nbytes
    tiny = compress(SMOOTH[:2, :6], mode="lz")  # 48 bytes < 54
    assert tiny.image_type == "BITMAP" and len(tiny.data) == 48


def test_compress_zlib_wrap_of_glz() -> None:
    c = compress(SHARP, mode="glz", zlib_glz=True)
    assert c.image_type == "ZLIB_GLZ_RGB"
    assert len(zlib.decompress(c.data)) == c.side_size > len(c.data)
    plain = compress(SHARP[:4, :4], mode="glz", zlib_glz=True)  # < 100 bytes of GLZ
    assert plain.image_type == "GLZ_RGB" and len(plain.data) < 100


def test_compress_jpeg_alpha() -> None:
    img = SMOOTH.copy()
    img[..., 3] = np.arange(64, dtype=np.uint8)[:, None] * 4
    c = compress(img, jpeg=True, can_lossy=True, has_alpha=True)
    assert c.image_type == "JPEG_ALPHA" and 0 < c.side_size < len(c.data)
    out = _decode(c, 64, 64)
    np.testing.assert_array_equal(out[..., 3], img[..., 3])  # alpha is lossless
    # the colour is the JPEG part as libjpeg (PIL) decodes it, exactly
    with PILImage.open(io.BytesIO(c.data[: c.side_size])) as im:
        reference = np.asarray(im.convert("RGB"))
    np.testing.assert_array_equal(out[..., 2::-1], reference)
    # measured: at most 1 off the original (quality 85 on this smooth ramp)
    assert np.abs(out[..., :3].astype(int) - img[..., :3]).max() <= 1


def test_lossy_sessions_with_compress(captures_dir: Path) -> None:
    """Captures with JPEG on ("always"): ``compress`` (choice, encoders and the
    raw fallback) gives the image type the server sent, within the budget."""
    from spicepy.capture.images import decode_payloads, extract_images

    manifest = json.loads((captures_dir / "manifest.json").read_text())
    agree: Counter[bool] = Counter()
    wrong: Counter[tuple[str, str]] = Counter()
    for entry in manifest["captures"]:
        opts = list(entry["server"].get("xspice_options", []))
        if "--jpeg-wan-compression" not in opts or (
            opts[opts.index("--jpeg-wan-compression") + 1] != "always"
        ):
            continue
        mode = capture_mode(entry)
        payloads = extract_images(captures_dir / entry["files"]["pcap"])
        for p, pixels in decode_payloads(payloads, skip_undecodable=True):
            if pixels is None:
                continue
            # images the server made itself (the connect-time screen) are lossless
            c = compress(
                np.ascontiguousarray(pixels),
                mode=mode,
                jpeg=True,
                can_lossy=not p.server_made,
                has_alpha=p.has_alpha,
                drawable=not (p.server_made and p.message == "copy"),
            )
            agree[c.image_type == p.type_name] += 1
            if c.image_type != p.type_name:
                wrong[(p.type_name, c.image_type)] += 1
    if not agree:
        pytest.skip("no capture with JPEG always on")
    # exact: measured on ../shared/captures, all 395 images of the JPEG-always
    # sessions (324 JPEG_ALPHA, 65 BITMAP fallbacks, 4 GLZ, 1 LZ, 1 QUIC) agree
    assert agree[False] == 0, f"(server, ours) disagreements: {dict(wrong)}"
    assert agree[True] > 0


def test_min_size_to_compress_is_a_strict_bound() -> None:
    # dcc.cpp: stride * height < 54 stays raw; exactly 54 bytes is compressed
    rgb24 = np.zeros((3, 6, 3), np.uint8)  # 18-byte rows, 3 of them: 54 bytes
    assert choose_codec(rgb24, mode="lz") == "LZ_RGB"
    assert choose_codec(rgb24[:2], mode="lz") == "BITMAP"  # 36 bytes
    rgb32 = np.zeros((1, 14, 4), np.uint8)  # 56 bytes, but 52 with 13 pixels
    assert choose_codec(rgb32, mode="lz") == "LZ_RGB"
    assert choose_codec(rgb32[:, :13], mode="lz") == "BITMAP"


def test_encoder_output_the_size_of_the_bitmap_is_kept() -> None:
    # the encoders give up only past the raw size (image-encoders.cpp); this
    # RGBA picture (found by search: seed 0, first 12 pixels equal) codes to
    # exactly its 192 raw bytes
    img = np.random.default_rng(0).integers(0, 256, (8, 6, 4), np.uint8)
    img.reshape(-1, 4)[:12] = img.reshape(-1, 4)[0]
    from spicepy.codecs import lz

    assert len(lz.encode(img, image_type="RGBA")) == img.nbytes
    c = compress(img, mode="lz", has_alpha=True)
    assert c.image_type == "LZ_RGB" and len(c.data) == img.nbytes


def test_glz_output_of_exactly_min_glz_size_for_zlib_is_wrapped() -> None:
    # MIN_GLZ_SIZE_FOR_ZLIB = 100: GLZ output below it stays plain, 100 bytes
    # are wrapped when zlib shrinks them; this picture (found by search: seed
    # 484, 11x2, 18 random pixels then black) codes to exactly 100 bytes
    rng = np.random.default_rng(484)
    h, w = int(rng.integers(2, 12)), int(rng.integers(2, 12))
    img = np.zeros((h, w, 4), np.uint8)
    n = int(rng.integers(1, h * w + 1))
    img.reshape(-1, 4)[:n, :3] = rng.integers(0, 256, (n, 3))
    from spicepy.codecs import glz

    assert (h, w, n) == (11, 2, 18)
    assert len(glz.Encoder().encode(img, "RGB32")) == 100
    c = compress(img, mode="glz", zlib_glz=True)
    assert c.image_type == "ZLIB_GLZ_RGB" and c.side_size == 100


def test_a_score_of_exactly_the_medium_threshold_is_low() -> None:
    # GRADUAL_MEDIUM_SCORE_TH is a strict bound (score < 0.002 is MEDIUM): a flat
    # 339x7 picture has 125 samples; one slightly different pixel below-right of
    # the first sample scores 0.5 + 0.5 - 0.25 there, 0 elsewhere: 0.75 / 375
    img = np.full((7, 339, 4), 100, np.uint8)
    img[1, 170, 0] = 101
    assert graduality_score(img) == 0.002
    assert graduality(img) == Graduality.LOW
    img[1, 170, 0] = 100  # all flat: no sample counts, score 0 -> MEDIUM
    assert graduality(img) == Graduality.MEDIUM
