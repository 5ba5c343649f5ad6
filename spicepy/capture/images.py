"""Every image payload a capture's display channels carried, in stream order.

Theory of operation: the server->client bytes of each display channel are cut
into messages (``spicepy.capture.streams``), each draw message is demarshalled
(``spicepy.canvas.demarshal``), and every SpiceImage descriptor it references
(source bitmaps, masks, brush patterns) becomes one :class:`ImagePayload`: the
descriptor, the codec stream, and the side data a decoder needs (palette,
resolved through the channel's palette cache; ``glz_size``; ``jpeg_size``).
Several display channels are merged by capture time, as a session sees them.

:func:`decode_payloads` then decodes them in that order through one GLZ
dictionary per capture, which is what GLZ's cross-image references need.
"""

from __future__ import annotations

import heapq
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from spicepy.canvas.demarshal import parse_display
from spicepy.canvas.types import BitmapFlags, Brush, Image, ImageType, Palette, QMask
from spicepy.capture.streams import read_channels
from spicepy.errors import CodecError, SpiceError, WireError

__all__ = [
    "CODEC_TYPES",
    "LOSSY_TYPES",
    "ImagePayload",
    "decode_payload",
    "decode_payloads",
    "extract_images",
]

U8 = npt.NDArray[np.uint8]
DISPLAY = 2

#: image types that carry a codec stream (the rest: BITMAP raw, or references)
CODEC_TYPES = frozenset({ImageType.QUIC, ImageType.LZ_PLT, ImageType.LZ_RGB,
                         ImageType.GLZ_RGB, ImageType.JPEG, ImageType.ZLIB_GLZ_RGB,
                         ImageType.JPEG_ALPHA, ImageType.LZ4})  # fmt: skip
LOSSY_TYPES = frozenset({ImageType.JPEG, ImageType.JPEG_ALPHA})
#: spice.proto ``flags8 jpeg_alpha_flags``: TOP_DOWN = 1 (not the bitmap flag's 4)
JPEG_ALPHA_TOP_DOWN = 1
#: spice-protocol qxl_dev.h: the image-id group of images spice-server makes
QXL_IMAGE_GROUP_RED = 2


@dataclass(frozen=True, slots=True)
class ImagePayload:
    """One SpiceImage referenced by a draw message.

    Attributes:
        capture: the pcap's file stem.
        index: position among the capture's payloads (stream order).
        channel_id: the display channel it came on.
        message: the draw command's name (``draw_copy``, ``draw_fill``, ...).
        role: where the draw references it (``src_bitmap``, ``mask``, ``brush``).
        image: the demarshalled descriptor (id, type, flags, size, data, ...).
        palette: the resolved palette (LZ_PLT and palette BITMAPs), else None.
    """

    capture: str
    index: int
    channel_id: int
    message: str
    role: str
    image: Image
    palette: Palette | None = None

    @property
    def type(self) -> int:
        return self.image.type

    @property
    def type_name(self) -> str:
        t = self.image.type
        return ImageType(t).name if t in ImageType._value2member_map_ else str(t)

    @property
    def width(self) -> int:
        return self.image.width

    @property
    def height(self) -> int:
        return self.image.height

    @property
    def data(self) -> bytes:
        """The codec stream (BITMAP: the raw rows)."""
        if self.image.bitmap is not None:
            return self.image.bitmap.data
        return self.image.data

    @property
    def server_made(self) -> bool:
        """Made by spice-server from a surface, not by the guest driver.

        Its id's low word is QXL_IMAGE_GROUP_RED (2) as ``QXL_SET_IMAGE_ID``
        writes it (``unique << 32 | group``): the screen pushed at connect, areas
        re-sent losslessly after a video stream, self bitmaps. In a ``copy`` such
        an image has no drawable, so the server codes it LZ, never GLZ.
        """
        return self.image.id & 0xFFFFFFFF == QXL_IMAGE_GROUP_RED

    @property
    def has_alpha(self) -> bool:
        """The source bitmap has alpha: RGBA (BITMAP format, LZ4 format, the
        codec header's type) or JPEG_ALPHA; False when unknown or unreadable."""
        data, kind = self.data, int(self.image.type)
        try:
            if kind == ImageType.BITMAP:
                return self.image.bitmap is not None and self.image.bitmap.format == 9
            if kind == ImageType.JPEG_ALPHA:
                return True
            if kind == ImageType.LZ4:
                return len(data) > 1 and data[1] == 9  # SPICE_BITMAP_FMT_RGBA
            from spicepy.codecs import glz, lz, quic

            if kind == ImageType.ZLIB_GLZ_RGB:
                data, kind = (
                    zlib.decompressobj().decompress(data, 64),
                    ImageType.GLZ_RGB,
                )
            info: Any = (
                {
                    ImageType.QUIC: quic.info,
                    ImageType.LZ_RGB: lz.info,
                    ImageType.LZ_PLT: lz.info,
                    ImageType.GLZ_RGB: glz.info,
                }.get(ImageType(kind))
                if kind in ImageType._value2member_map_
                else None
            )
            return info is not None and info(data).image_type == "RGBA"
        except (SpiceError, ImportError, zlib.error):
            return False

    @property
    def is_codec(self) -> bool:
        """A compressed stream (not BITMAP, FROM_CACHE*, SURFACE)."""
        return self.image.type in CODEC_TYPES

    @property
    def lossy(self) -> bool:
        return self.image.type in LOSSY_TYPES


def _role(args: dict[str, Any], image: Image) -> str:
    for key, value in args.items():
        if value is image:
            return key
        if isinstance(value, QMask) and value.bitmap is image:
            return "mask"
        if isinstance(value, Brush) and value.pattern is image:
            return "brush"
    return "other"


def _palette(image: Image, cache: dict[int, Palette]) -> Palette | None:
    """The image's palette, through (and updating) the channel's palette cache."""
    if image.type == ImageType.LZ_PLT:
        flags, pal, pal_id = image.lz_flags, image.lz_palette, image.lz_palette_id
    elif image.bitmap is not None:
        b = image.bitmap
        flags, pal, pal_id = b.flags, b.palette, b.palette_id
    else:
        return None
    if flags & BitmapFlags.PAL_FROM_CACHE:
        return cache.get(pal_id)
    if pal is not None and flags & BitmapFlags.PAL_CACHE_ME:
        cache[pal.unique] = pal
    return pal


Raw = Iterator[tuple[float, int, bytes]]  # (capture time, message type, body)


def _display_messages(path: Path) -> list[tuple[int, Raw]]:
    """(channel id, messages) of every display channel, LIST contents expanded."""
    out: list[tuple[int, Raw]] = []
    for ch in read_channels(path):
        if ch.channel_type == DISPLAY:
            msgs = ch.server_messages()
            out.append((ch.channel_id, ((m.time, m.type, m.body) for m in msgs)))
    return out


def _channel_payloads(
    messages: Raw,
) -> Iterator[tuple[float, int, str, str, Image, Palette | None]]:
    cache: dict[int, Palette] = {}
    seq = 0
    for when, kind, body in messages:
        cmd = parse_display(kind, body)
        if cmd is None:
            continue
        if cmd.name == "inval_all_palettes":
            cache.clear()
        elif cmd.name == "inval_palette":
            cache.pop(cmd.args["palette_id"], None)
        for image in cmd.images:
            yield (when, seq, cmd.name, _role(cmd.args, image), image,
                   _palette(image, cache))  # fmt: skip
            seq += 1


def extract_images(path: str | Path) -> list[ImagePayload]:
    """Every image payload of a capture's display channels, in stream order.

    Raises:
        WireError: the capture or a display message cannot be parsed.
    """
    path = Path(path)
    capture = path.stem.removesuffix(".pcap")
    streams = []
    for n, (channel_id, messages) in enumerate(_display_messages(path)):
        # (time, channel order, seq) keeps each channel's own order on ties
        payloads = _channel_payloads(messages)
        streams.append(((t, n, s, channel_id, m, r, i, p)
                        for t, s, m, r, i, p in payloads))  # fmt: skip
    out: list[ImagePayload] = []
    for _t, _n, _s, cid, message, role, image, pal in heapq.merge(
        *streams, key=lambda e: (e[0], e[1], e[2])
    ):
        out.append(ImagePayload(capture, len(out), cid, message, role, image, pal))
    return out


def _bitmap_pixels(payload: ImagePayload) -> U8:
    from spicepy.canvas.bitmap import bitmap_to_pixels

    assert payload.image.bitmap is not None
    pixels, _alpha = bitmap_to_pixels(payload.image.bitmap, payload.palette)
    return pixels


def decode_payload(payload: ImagePayload, dictionary: Any | None = None) -> U8:
    """Decode one payload to (h, w, 4) B, G, R, X/A pixels.

    Args:
        payload: from :func:`extract_images`.
        dictionary: the capture's ``glz.Dictionary`` (GLZ_RGB, ZLIB_GLZ_RGB).

    Raises:
        CodecError: a corrupt stream, a missing palette or GLZ reference, or a
            type that is no picture of its own (FROM_CACHE*, SURFACE).
    """
    from spicepy.codecs.image import decode_image

    image = payload.image
    if image.type == ImageType.BITMAP:
        try:
            return _bitmap_pixels(payload)
        except SpiceError as exc:
            raise CodecError(f"bad BITMAP: {exc}") from exc
    if image.type == ImageType.LZ_PLT and payload.palette is None:
        raise CodecError("LZ_PLT image whose palette is not in the cache")
    palette = payload.palette.ents if payload.palette is not None else None
    return decode_image(
        image.type,
        image.data,
        width=image.width,
        height=image.height,
        palette=palette,
        dictionary=dictionary,
        jpeg_size=image.jpeg_size if image.type == ImageType.JPEG_ALPHA else None,
        glz_size=image.glz_size if image.type == ImageType.ZLIB_GLZ_RGB else None,
        top_down=bool(image.jpeg_flags & JPEG_ALPHA_TOP_DOWN),
    ).pixels


def decode_payloads(
    payloads: Iterable[ImagePayload],
    *,
    skip_undecodable: bool = False,
    dictionary: Any | None = None,
    want: Callable[[ImagePayload], bool] | None = None,
) -> Iterator[tuple[ImagePayload, U8 | None]]:
    """Decode payloads in order, GLZ through one dictionary (made here if None).

    Yields (payload, pixels); pixels is None for FROM_CACHE*/SURFACE references,
    for payloads ``want`` turns down (GLZ images are always decoded: later ones
    refer to them) and, with ``skip_undecodable``, for images whose codec is not
    available (e.g. QUIC before its module lands) or that fail to decode.

    Raises:
        CodecError: a payload fails to decode (without ``skip_undecodable``).
    """
    if dictionary is None:
        from spicepy.codecs import glz

        dictionary = glz.Dictionary()
    for p in payloads:
        glz_type = p.type in (ImageType.GLZ_RGB, ImageType.ZLIB_GLZ_RGB)
        if (not p.is_codec and p.type != ImageType.BITMAP) or (
            want is not None and not glz_type and not want(p)
        ):
            yield p, None
            continue
        try:
            yield p, decode_payload(p, dictionary)
        except (CodecError, ImportError, WireError):
            if not skip_undecodable:
                raise
            yield p, None
