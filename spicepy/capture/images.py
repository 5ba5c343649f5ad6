"""Every image payload a capture's display channels carried, in stream order.

Theory of operation: the server->client messages of each display channel
(``spicepy.capture.streams``) are decoded by ``spicepy.wire.decode_message``,
and every SpiceImage a draw references (source bitmaps, masks, brush patterns)
becomes one :class:`ImagePayload`: the wire ``Image``, the codec stream, and the
side data a decoder needs (palette, resolved through the channel's palette
cache; ``glz_size``; ``jpeg_size``).
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

from spicepy.capture.streams import read_channels
from spicepy.errors import CodecError, SpiceError, WireError
from spicepy.wire import msg_display as md
from spicepy.wire.enums import (
    BitmapFlags,
    BitmapFmt,
    ChannelType,
    ImageType,
    JpegAlphaFlags,
    message_name,
)
from spicepy.wire.messages import decode_message
from spicepy.wire.msg_display import message_images
from spicepy.wire.types import Image, Palette

__all__ = [
    "CODEC_TYPES",
    "LOSSY_TYPES",
    "ImagePayload",
    "decode_payload",
    "decode_payloads",
    "extract_images",
]

U8 = npt.NDArray[np.uint8]
DISPLAY = ChannelType.DISPLAY

#: image types that carry a codec stream (the rest: BITMAP raw, or references)
CODEC_TYPES = frozenset({ImageType.QUIC, ImageType.LZ_PLT, ImageType.LZ_RGB,
                         ImageType.GLZ_RGB, ImageType.JPEG, ImageType.ZLIB_GLZ_RGB,
                         ImageType.JPEG_ALPHA, ImageType.LZ4})  # fmt: skip
LOSSY_TYPES = frozenset({ImageType.JPEG, ImageType.JPEG_ALPHA})
#: spice-protocol qxl_dev.h: the image-id group of images spice-server makes
QXL_IMAGE_GROUP_RED = 2


@dataclass(frozen=True, slots=True)
class ImagePayload:
    """One SpiceImage referenced by a draw message.

    Attributes:
        capture: the pcap's file stem.
        index: position among the capture's payloads (stream order).
        channel_id: the display channel it came on.
        message: the draw's short name (``copy``, ``fill``, ``rop3``, ...).
        role: where the draw references it (``image``, ``mask``, ``brush``...).
        image: the wire ``Image`` (descriptor and the body of its type).
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
        return self.image.descriptor.type

    @property
    def id(self) -> int:
        return self.image.descriptor.id

    @property
    def type_name(self) -> str:
        t = self.type
        return ImageType(t).name if t in ImageType._value2member_map_ else str(t)

    @property
    def width(self) -> int:
        return self.image.descriptor.width

    @property
    def height(self) -> int:
        return self.image.descriptor.height

    @property
    def data(self) -> bytes | memoryview:
        """The codec stream (BITMAP: the raw rows; b"" for references)."""
        if self.image.bitmap is not None:
            return self.image.bitmap.data
        payload = self.image.payload
        return b"" if payload is None else payload

    @property
    def server_made(self) -> bool:
        """Made by spice-server from a surface, not by the guest driver.

        Its id's low word is QXL_IMAGE_GROUP_RED (2) as ``QXL_SET_IMAGE_ID``
        writes it (``unique << 32 | group``): the screen pushed at connect, areas
        re-sent losslessly after a video stream, self bitmaps. In a ``copy`` such
        an image has no drawable, so the server codes it LZ, never GLZ.
        """
        return self.id & 0xFFFFFFFF == QXL_IMAGE_GROUP_RED

    @property
    def has_alpha(self) -> bool:
        """The source bitmap has alpha: RGBA (BITMAP format, LZ4 format, the
        codec header's type) or JPEG_ALPHA; False when unknown or unreadable."""
        data, kind = self.data, self.type
        try:
            if kind == ImageType.BITMAP:
                bitmap = self.image.bitmap
                return bitmap is not None and bitmap.format == BitmapFmt.FMT_RGBA
            if kind == ImageType.JPEG_ALPHA:
                return True
            if kind == ImageType.LZ4:
                return len(data) > 1 and data[1] == BitmapFmt.FMT_RGBA
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
        return self.type in CODEC_TYPES

    @property
    def lossy(self) -> bool:
        return self.type in LOSSY_TYPES


def _roles(msg: object) -> list[tuple[str, Image]]:
    """(role, image) of every SpiceImage a display message references."""
    d: Any = getattr(msg, "data", None)
    out = []
    for image in message_images(msg):
        if d is not None and image is getattr(d, "src_bitmap", None):
            role = "image"
        elif d is not None and image is getattr(d, "mask_bitmap", None):
            role = "mask_image"
        elif d is not None and d.mask is not None and image is d.mask.bitmap:
            role = "mask"
        else:
            role = "brush"
        out.append((role, image))
    return out


def _palette(image: Image, cache: dict[int, Palette]) -> Palette | None:
    """The image's palette, through (and updating) the channel's palette cache."""
    body = image.lz_plt if image.lz_plt is not None else image.bitmap
    if body is None:
        return None
    flags, pal, pal_id = body.flags, body.palette, body.palette_id or 0
    if flags & BitmapFlags.PAL_FROM_CACHE:
        return cache.get(pal_id)
    if pal is not None and flags & BitmapFlags.PAL_CACHE_ME:
        cache[pal.unique] = pal
    return pal


Raw = Iterator[tuple[float, int, bytes | memoryview]]  # (capture time, type, body)


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
        msg = decode_message(DISPLAY, kind, body)
        if isinstance(msg, md.InvalAllPalettes):
            cache.clear()
        elif isinstance(msg, md.InvalPalette):
            cache.pop(msg.id, None)
        roles = _roles(msg)
        if not roles:
            continue
        name = message_name(DISPLAY, kind).removeprefix("DRAW_").lower()
        for role, image in roles:
            yield when, seq, name, role, image, _palette(image, cache)
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

    image, kind = payload.image, payload.type
    if kind == ImageType.BITMAP:
        try:
            return _bitmap_pixels(payload)
        except SpiceError as exc:
            raise CodecError(f"bad BITMAP: {exc}") from exc
    if kind == ImageType.LZ_PLT and payload.palette is None:
        raise CodecError("LZ_PLT image whose palette is not in the cache")
    if image.payload is None:
        raise CodecError(f"image type {kind} carries no codec stream")
    palette = payload.palette.ents if payload.palette is not None else None
    ja, zg = image.jpeg_alpha, image.zlib_glz
    return decode_image(
        kind,
        image.payload,
        width=payload.width,
        height=payload.height,
        palette=palette,
        dictionary=dictionary,
        jpeg_size=ja.jpeg_size if ja is not None else None,
        glz_size=zg.glz_data_size if zg is not None else None,
        top_down=ja is not None and bool(ja.flags & JpegAlphaFlags.TOP_DOWN),
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
    available (an optional package missing) or that fail to decode.

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
