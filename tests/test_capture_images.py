"""spicepy.capture.images: every image payload of a capture, in stream order."""

from __future__ import annotations

import json
import zlib
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from spicepy.codecs import glz

from spicepy.capture.images import (
    CODEC_TYPES,
    ImagePayload,
    decode_payload,
    decode_payloads,
    extract_images,
)
from spicepy.errors import CodecError, SpiceError, WireError
from spicepy.wire.enums import ImageType
from spicepy.wire.types import BinaryData, Image, ImageDescriptor, LZPLTData


def _manifest(captures_dir: Path) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = json.loads(
        (captures_dir / "manifest.json").read_text()
    )["captures"]
    return entries


def _with(captures_dir: Path, image_type: str) -> Path:
    """A capture whose inventory lists images of this type (skip if none)."""
    for entry in _manifest(captures_dir):
        if entry["inventory"]["image_types"].get(image_type):
            return captures_dir / entry["files"]["pcap"]
    pytest.skip(f"no capture has {image_type} images")


def _glz_id(p: ImagePayload) -> int:
    data = p.data
    if p.type == ImageType.ZLIB_GLZ_RGB:
        data = zlib.decompressobj().decompress(data, 64)
    return glz.read_header(data).image_id


def test_payloads_match_manifest_inventory(captures_dir: Path) -> None:
    """Per capture: image counts, pixels and bytes per type as the corpus's own
    (independent) inventory lists them."""
    for entry in _manifest(captures_dir):
        inv = entry["inventory"]
        payloads = extract_images(captures_dir / entry["files"]["pcap"])
        types = Counter(p.type_name for p in payloads)
        pixels: Counter[str] = Counter()
        size: Counter[str] = Counter()
        for p in payloads:
            pixels[p.type_name] += p.width * p.height
            size[p.type_name] += len(p.data)
        name = entry["name"]
        assert dict(types) == inv["image_types"], name
        assert dict(pixels) == inv["image_pixels"], name
        for t, n in inv["image_compressed_bytes"].items():
            assert size[t] == n, (name, t)


def test_stream_order_and_fields(captures_dir: Path) -> None:
    checked = 0
    for entry in _manifest(captures_dir):
        payloads = extract_images(captures_dir / entry["files"]["pcap"])
        assert [p.index for p in payloads] == list(range(len(payloads)))
        assert all(p.capture == entry["name"] for p in payloads)
        # the server's GLZ encoder numbers images 0, 1, 2... as it sends them
        # (one dictionary per client: checked where one display channel has all)
        glz_types = (ImageType.GLZ_RGB, ImageType.ZLIB_GLZ_RGB)
        ids = [_glz_id(p) for p in payloads if p.type in glz_types]
        if len({p.channel_id for p in payloads}) == 1:
            assert ids == list(range(len(ids))), entry["name"]
            checked += len(ids)
        for p in payloads:
            assert p.is_codec == (p.type in CODEC_TYPES)
            assert p.lossy == (p.type_name in ("JPEG", "JPEG_ALPHA"))
            assert p.message  # the draw it came in
    assert checked > 0


def test_decode_payloads_gives_declared_sizes(captures_dir: Path) -> None:
    payloads = extract_images(_with(captures_dir, "ZLIB_GLZ_RGB"))
    seen: Counter[str] = Counter()
    for p, pixels in decode_payloads(payloads):
        if p.type in (ImageType.FROM_CACHE, ImageType.SURFACE):
            assert pixels is None
            continue
        assert pixels is not None and pixels.shape == (p.height, p.width, 4)
        seen[p.type_name] += 1
    assert seen["ZLIB_GLZ_RGB"] > 0 and seen["GLZ_RGB"] > 0


def test_want_skips_but_keeps_glz_in_order(captures_dir: Path) -> None:
    payloads = extract_images(_with(captures_dir, "GLZ_RGB"))
    got = list(decode_payloads(payloads, want=lambda p: False))
    decoded = [p.type_name for p, px in got if px is not None]
    assert decoded and set(decoded) <= {"GLZ_RGB", "ZLIB_GLZ_RGB"}


def test_references_and_missing_palette_raise() -> None:
    def image(kind: int, **body: object) -> Image:
        return Image(ImageDescriptor(1, kind, 0, 4, 4), **body)  # type: ignore[arg-type]

    ref = ImagePayload("x", 0, 0, "copy", "image", image(ImageType.FROM_CACHE))
    with pytest.raises(CodecError):
        decode_payload(ref)
    lz_plt = LZPLTData(0, 8, palette_id=None, palette=None, data=b"\0" * 8)
    plt = ImagePayload(
        "x", 0, 0, "copy", "image", image(ImageType.LZ_PLT, lz_plt=lz_plt)
    )
    with pytest.raises(CodecError):
        decode_payload(plt)
    junk = BinaryData(4, b"junk")
    bad = ImagePayload("x", 0, 0, "copy", "image", image(ImageType.LZ_RGB, binary=junk))
    with pytest.raises(CodecError):
        decode_payload(bad)
    assert list(decode_payloads([bad], skip_undecodable=True))[0][1] is None


def test_not_a_pcap(tmp_path: Path) -> None:
    path = tmp_path / "x.pcap"
    path.write_bytes(b"definitely not a capture file")
    with pytest.raises(WireError):
        extract_images(path)


@pytest.mark.parametrize("seed", range(6))
def test_damaged_capture_never_crashes(
    captures_dir: Path, tmp_path: Path, seed: int
) -> None:
    """Truncated or bit-flipped captures give payloads or a SpiceError."""
    raw = bytearray(_with(captures_dir, "GLZ_RGB").read_bytes())
    rng = np.random.default_rng(seed)
    if seed % 2:
        raw = raw[: int(rng.integers(24, len(raw)))]
    else:
        for pos in rng.integers(24, len(raw), 40):
            raw[int(pos)] ^= 1 << int(rng.integers(0, 8))
    path = tmp_path / "d.pcap"
    path.write_bytes(bytes(raw))
    try:
        payloads = extract_images(path)
    except SpiceError:
        return
    for p, px in decode_payloads(payloads, skip_undecodable=True):
        assert px is None or px.shape == (p.height, p.width, 4)


def test_connect_screen_is_server_made(captures_dir: Path) -> None:
    """The first image of a session is the primary surface the server pushes at
    connect (QXL_IMAGE_GROUP_RED id), the size of the manifest's resolution."""
    for entry in _manifest(captures_dir):
        payloads = extract_images(captures_dir / entry["files"]["pcap"])
        first = payloads[0]
        width, height = map(int, entry["resolution"].split("x"))
        assert first.server_made and first.message == "copy", entry["name"]
        assert (first.width, first.height) == (width, height), entry["name"]
        # guest images carry the driver's ids
        assert sum(p.server_made for p in payloads) < len(payloads), entry["name"]


def test_has_alpha_follows_the_stream_format(captures_dir: Path) -> None:
    """has_alpha agrees with the decoder's own view of each stream's format."""
    from spicepy.codecs.image import decode_image

    checked = 0
    for entry in _manifest(captures_dir):
        payloads = extract_images(captures_dir / entry["files"]["pcap"])
        for p in payloads:
            if p.type not in (ImageType.LZ_RGB, ImageType.LZ4, ImageType.JPEG_ALPHA):
                continue
            ja = p.image.jpeg_alpha
            jpeg_size = ja.jpeg_size if ja is not None else None
            top_down = ja is not None and bool(ja.flags & 1)
            d = decode_image(p.type, p.data, width=p.width, height=p.height,
                             jpeg_size=jpeg_size, top_down=top_down)  # fmt: skip
            assert p.has_alpha == d.has_alpha, (entry["name"], p.index, d.source_format)
            checked += 1
    assert checked > 0


def _display_capture(path: Path, channel_id: int, messages: list[Any]) -> Path:
    """A capture of one display channel carrying ``messages`` (wire dataclasses)."""
    from test_capture_pcap import _conn_segments, _link, classic_pcap

    from spicepy.wire.enums import ChannelType
    from spicepy.wire.headers import pack_header
    from spicepy.wire.messages import encode_message

    up, down = _link(ChannelType.DISPLAY, channel_id, True, False)
    for msg in messages:
        kind, body = encode_message(msg)
        down += pack_header(kind, len(body), mini=True) + body
    path.write_bytes(classic_pcap(_conn_segments([up], [down])))
    return path


def _copy_of(image: Image) -> Any:
    import _canvas_build as cb

    from spicepy.wire import msg_display as md

    w, h = image.descriptor.width, image.descriptor.height
    return md.DrawCopy(
        cb.base(0, cb.Rect(0, 0, w, h), None),
        md.Copy(image, cb.Rect(0, 0, w, h), 8, cb.NEAREST, cb.NO_MASK),
    )


def test_payloads_name_the_display_channel_id(tmp_path: Path) -> None:
    """A payload carries the channel id its display channel linked with (a
    second monitor's channel is display:1), not the channel's position among
    the capture's display channels."""
    import _canvas_build as cb

    from spicepy.wire.enums import BitmapFlags, BitmapFmt

    pixels = bytes(range(16))
    bitmap = cb.Bitmap(BitmapFmt.FMT_32BIT, BitmapFlags.TOP_DOWN, 2, 2, 8, pixels)
    image = cb.Image(0x10002, ImageType.BITMAP, 0, 2, 2, bitmap=bitmap)
    path = _display_capture(tmp_path / "display1.pcap", 1, [_copy_of(image)])
    (p,) = extract_images(path)
    assert (p.channel_id, p.message, p.role, p.data) == (1, "copy", "image", pixels)


def test_palettes_through_the_channels_palette_cache(tmp_path: Path) -> None:
    """spice-protocol: a palette sent with PAL_CACHE_ME is kept under its
    ``unique``; PAL_FROM_CACHE names it by that id; INVAL_ALL_PALETTES empties
    the cache (spice-gtk palette_cache)."""
    import _canvas_build as cb

    from spicepy.wire import msg_display as md
    from spicepy.wire.enums import BitmapFlags, BitmapFmt

    pal = cb.Palette(77, [0x000000, 0xFFFFFF])
    top = BitmapFlags.TOP_DOWN

    def plt(flags: int, palette: Any) -> Image:
        bm = cb.Bitmap(BitmapFmt.FMT_8BIT, top | flags, 2, 1, 2, b"\0\1", palette)
        return cb.Image(0x10002, ImageType.BITMAP, 0, 2, 1, bitmap=bm)

    messages = [
        _copy_of(plt(BitmapFlags.PAL_CACHE_ME, pal)),
        _copy_of(plt(BitmapFlags.PAL_FROM_CACHE, pal)),
        md.InvalAllPalettes(),
        _copy_of(plt(BitmapFlags.PAL_FROM_CACHE, pal)),
    ]
    first, cached, gone = extract_images(
        _display_capture(tmp_path / "p.pcap", 0, messages)
    )
    assert first.palette == pal and cached.palette == pal and gone.palette is None
    assert decode_payload(cached, None)[0, 1, :3].tolist() == [255, 255, 255]


def test_a_draw_names_the_role_of_each_image(tmp_path: Path) -> None:
    """DRAW_COPY: the source bitmap is the ``image``, the QMask's bitmap the
    ``mask`` (spice.proto Copy: src_bitmap ... mask), in that order."""
    import _canvas_build as cb

    from spicepy.wire import msg_display as md
    from spicepy.wire.enums import BitmapFlags, BitmapFmt

    top = BitmapFlags.TOP_DOWN
    src = cb.Bitmap(BitmapFmt.FMT_32BIT, top, 2, 2, 8, bytes(range(16)))
    bits = cb.Bitmap(BitmapFmt.FMT_1BIT_BE, top, 2, 2, 1, b"\x80\x40")
    image = cb.Image(0x10002, ImageType.BITMAP, 0, 2, 2, bitmap=src)
    mask = cb.Image(0x20002, ImageType.BITMAP, 0, 2, 2, bitmap=bits)
    draw = md.DrawCopy(
        cb.base(0, cb.Rect(0, 0, 2, 2), None),
        md.Copy(image, cb.Rect(0, 0, 2, 2), 8, cb.NEAREST, cb.QMask(0, None, mask)),
    )
    got = extract_images(_display_capture(tmp_path / "m.pcap", 0, [draw]))
    assert [(p.role, p.id) for p in got] == [("image", 0x10002), ("mask", 0x20002)]


@pytest.mark.parametrize("top_down", [True, False])
def test_jpeg_alpha_direction_reaches_the_decoder(
    monkeypatch: pytest.MonkeyPatch, top_down: bool
) -> None:
    """JPEG_ALPHA's TOP_DOWN flag (spice.proto JPEGAlphaFlags) decides the
    alpha plane's row order: decode_payload hands it to the decoder as is."""
    import spicepy.codecs.image as codec_image

    from spicepy.wire.enums import JpegAlphaFlags
    from spicepy.wire.types import JPEGAlphaData

    seen: dict[str, Any] = {}

    class Decoded:
        pixels = np.zeros((1, 1, 4), np.uint8)

    def fake(kind: int, data: bytes, **kw: Any) -> Decoded:
        seen.update(kw)
        return Decoded()

    monkeypatch.setattr(codec_image, "decode_image", fake)
    flags = JpegAlphaFlags.TOP_DOWN if top_down else 0
    image = Image(
        ImageDescriptor(0x10002, ImageType.JPEG_ALPHA, 0, 1, 1),
        jpeg_alpha=JPEGAlphaData(flags, 3, 5, b"jpegA"),
    )
    decode_payload(ImagePayload("c", 0, 0, "copy", "image", image), None)
    assert seen["top_down"] is top_down and seen["jpeg_size"] == 3
