"""Display channel messages (spice.proto ``channel DisplayChannel``).

Draw messages keep spice.proto's nesting: ``msg.base`` (surface_id, box, clip) and
``msg.data`` (src_bitmap, src_area, rop_descriptor, scale_mode, mask, brush, ...).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from spicepy.wire.enums import ChannelType, CompositeFlags, DisplayMsg, DisplayMsgc
from spicepy.wire.registry import Message, message
from spicepy.wire.schema import (
    I32,
    I64,
    U8,
    U16,
    U32,
    U64,
    Array,
    Bytes,
    FlagsMatch,
    Ptr,
    Rest,
    wt,
)
from spicepy.wire.types import (
    Brush,
    Clip,
    DisplayBase,
    Head,
    Image,
    LineAttr,
    Path,
    Payload,
    Point,
    Point16,
    QMask,
    Rect,
    ResourceID,
    StreamDataHeader,
    String,
    Transform,
)

D = ChannelType.DISPLAY


@message(D, DisplayMsg.MODE)
@dataclass(frozen=True, slots=True)
class DisplayMode(Message):
    x_res: int = field(metadata=wt(U32))
    y_res: int = field(metadata=wt(U32))
    bits: int = field(metadata=wt(U32))


@message(D, DisplayMsg.MARK)
@dataclass(frozen=True, slots=True)
class DisplayMark(Message):
    pass


@message(D, DisplayMsg.RESET)
@dataclass(frozen=True, slots=True)
class DisplayReset(Message):
    pass


@message(D, DisplayMsg.COPY_BITS)
@dataclass(frozen=True, slots=True)
class CopyBits(Message):
    base: DisplayBase = field(metadata=wt(DisplayBase))
    src_pos: Point = field(metadata=wt(Point))


@message(D, DisplayMsg.INVAL_LIST)
@dataclass(frozen=True, slots=True)
class InvalList(Message):
    count: int = field(metadata=wt(U16))
    resources: tuple[ResourceID, ...] = field(
        metadata=wt(Array(ResourceID, "count", 9))
    )


@dataclass(frozen=True, slots=True)
class WaitForChannel:
    channel_type: int = field(metadata=wt(U8))
    channel_id: int = field(metadata=wt(U8))
    message_serial: int = field(metadata=wt(U64))


@message(D, DisplayMsg.INVAL_ALL_PIXMAPS)
@dataclass(frozen=True, slots=True)
class InvalAllPixmaps(Message):
    wait_count: int = field(metadata=wt(U8))
    wait_list: tuple[WaitForChannel, ...] = field(
        metadata=wt(Array(WaitForChannel, "wait_count", 10))
    )


@message(D, DisplayMsg.INVAL_PALETTE)
@dataclass(frozen=True, slots=True)
class InvalPalette(Message):
    id: int = field(metadata=wt(U64))


@message(D, DisplayMsg.INVAL_ALL_PALETTES)
@dataclass(frozen=True, slots=True)
class InvalAllPalettes(Message):
    pass


@message(D, DisplayMsg.STREAM_CREATE)
@dataclass(frozen=True, slots=True)
class StreamCreate(Message):
    surface_id: int = field(metadata=wt(U32))
    id: int = field(metadata=wt(U32))
    flags: int = field(metadata=wt(U8))
    codec_type: int = field(metadata=wt(U8))
    stamp: int = field(metadata=wt(U64))
    stream_width: int = field(metadata=wt(U32))
    stream_height: int = field(metadata=wt(U32))
    src_width: int = field(metadata=wt(U32))
    src_height: int = field(metadata=wt(U32))
    dest: Rect = field(metadata=wt(Rect))
    clip: Clip = field(metadata=wt(Clip))


@message(D, DisplayMsg.STREAM_DATA)
@dataclass(frozen=True, slots=True)
class StreamData(Message):
    base: StreamDataHeader = field(metadata=wt(StreamDataHeader))
    data_size: int = field(metadata=wt(U32))
    data: Payload = field(metadata=wt(Bytes("data_size", view=True)))


@message(D, DisplayMsg.STREAM_CLIP)
@dataclass(frozen=True, slots=True)
class StreamClip(Message):
    id: int = field(metadata=wt(U32))
    clip: Clip = field(metadata=wt(Clip))


@message(D, DisplayMsg.STREAM_DESTROY)
@dataclass(frozen=True, slots=True)
class StreamDestroy(Message):
    id: int = field(metadata=wt(U32))


@message(D, DisplayMsg.STREAM_DESTROY_ALL)
@dataclass(frozen=True, slots=True)
class StreamDestroyAll(Message):
    pass


# --- draw bodies ----------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Fill:
    brush: Brush = field(metadata=wt(Brush))
    rop_descriptor: int = field(metadata=wt(U16))
    mask: QMask = field(metadata=wt(QMask))


@dataclass(frozen=True, slots=True)
class Opaque:
    src_bitmap: Image | None = field(metadata=wt(Ptr(Image)))
    src_area: Rect = field(metadata=wt(Rect))
    brush: Brush = field(metadata=wt(Brush))
    rop_descriptor: int = field(metadata=wt(U16))
    scale_mode: int = field(metadata=wt(U8))
    mask: QMask = field(metadata=wt(QMask))


@dataclass(frozen=True, slots=True)
class Copy:
    """Body of DRAW_COPY and DRAW_BLEND."""

    src_bitmap: Image | None = field(metadata=wt(Ptr(Image)))
    src_area: Rect = field(metadata=wt(Rect))
    rop_descriptor: int = field(metadata=wt(U16))
    scale_mode: int = field(metadata=wt(U8))
    mask: QMask = field(metadata=wt(QMask))


@dataclass(frozen=True, slots=True)
class MaskOnly:
    """Body of DRAW_BLACKNESS / WHITENESS / INVERS."""

    mask: QMask = field(metadata=wt(QMask))


@dataclass(frozen=True, slots=True)
class Rop3:
    src_bitmap: Image | None = field(metadata=wt(Ptr(Image)))
    src_area: Rect = field(metadata=wt(Rect))
    brush: Brush = field(metadata=wt(Brush))
    rop3: int = field(metadata=wt(U8))
    scale_mode: int = field(metadata=wt(U8))
    mask: QMask = field(metadata=wt(QMask))


@dataclass(frozen=True, slots=True)
class Stroke:
    path: Path | None = field(metadata=wt(Ptr(Path)))
    attr: LineAttr = field(metadata=wt(LineAttr))
    brush: Brush = field(metadata=wt(Brush))
    fore_mode: int = field(metadata=wt(U16))
    back_mode: int = field(metadata=wt(U16))


@dataclass(frozen=True, slots=True)
class Text:
    str: String | None = field(metadata=wt(Ptr(String)))
    back_area: Rect = field(metadata=wt(Rect))
    fore_brush: Brush = field(metadata=wt(Brush))
    back_brush: Brush = field(metadata=wt(Brush))
    fore_mode: int = field(metadata=wt(U16))
    back_mode: int = field(metadata=wt(U16))


@dataclass(frozen=True, slots=True)
class Transparent:
    src_bitmap: Image | None = field(metadata=wt(Ptr(Image)))
    src_area: Rect = field(metadata=wt(Rect))
    src_color: int = field(metadata=wt(U32))
    true_color: int = field(metadata=wt(U32))


@dataclass(frozen=True, slots=True)
class AlphaBlend:
    alpha_flags: int = field(metadata=wt(U8))
    alpha: int = field(metadata=wt(U8))
    src_bitmap: Image | None = field(metadata=wt(Ptr(Image)))
    src_area: Rect = field(metadata=wt(Rect))


def _flag(bit: int) -> FlagsMatch:
    return FlagsMatch("flags", bit)


@dataclass(frozen=True, slots=True)
class Composite:
    flags: int = field(metadata=wt(U32))
    src_bitmap: Image | None = field(metadata=wt(Ptr(Image)))
    mask_bitmap: Image | None = field(
        default=None,
        kw_only=True,
        metadata=wt(Ptr(Image), _flag(CompositeFlags.HAS_MASK)),
    )
    src_transform: Transform | None = field(
        default=None,
        kw_only=True,
        metadata=wt(Transform, _flag(CompositeFlags.HAS_SRC_TRANSFORM)),
    )
    mask_transform: Transform | None = field(
        default=None,
        kw_only=True,
        metadata=wt(Transform, _flag(CompositeFlags.HAS_MASK_TRANSFORM)),
    )
    src_origin: Point16 = field(metadata=wt(Point16))
    mask_origin: Point16 = field(metadata=wt(Point16))


# --- draw messages --------------------------------------------------------------------
@message(D, DisplayMsg.DRAW_FILL)
@dataclass(frozen=True, slots=True)
class DrawFill(Message):
    base: DisplayBase = field(metadata=wt(DisplayBase))
    data: Fill = field(metadata=wt(Fill))


@message(D, DisplayMsg.DRAW_OPAQUE)
@dataclass(frozen=True, slots=True)
class DrawOpaque(Message):
    base: DisplayBase = field(metadata=wt(DisplayBase))
    data: Opaque = field(metadata=wt(Opaque))


@message(D, DisplayMsg.DRAW_COPY)
@dataclass(frozen=True, slots=True)
class DrawCopy(Message):
    base: DisplayBase = field(metadata=wt(DisplayBase))
    data: Copy = field(metadata=wt(Copy))


@message(D, DisplayMsg.DRAW_BLEND)
@dataclass(frozen=True, slots=True)
class DrawBlend(Message):
    base: DisplayBase = field(metadata=wt(DisplayBase))
    data: Copy = field(metadata=wt(Copy))


@message(D, DisplayMsg.DRAW_BLACKNESS)
@dataclass(frozen=True, slots=True)
class DrawBlackness(Message):
    base: DisplayBase = field(metadata=wt(DisplayBase))
    data: MaskOnly = field(metadata=wt(MaskOnly))


@message(D, DisplayMsg.DRAW_WHITENESS)
@dataclass(frozen=True, slots=True)
class DrawWhiteness(Message):
    base: DisplayBase = field(metadata=wt(DisplayBase))
    data: MaskOnly = field(metadata=wt(MaskOnly))


@message(D, DisplayMsg.DRAW_INVERS)
@dataclass(frozen=True, slots=True)
class DrawInvers(Message):
    base: DisplayBase = field(metadata=wt(DisplayBase))
    data: MaskOnly = field(metadata=wt(MaskOnly))


@message(D, DisplayMsg.DRAW_ROP3)
@dataclass(frozen=True, slots=True)
class DrawRop3(Message):
    base: DisplayBase = field(metadata=wt(DisplayBase))
    data: Rop3 = field(metadata=wt(Rop3))


@message(D, DisplayMsg.DRAW_STROKE)
@dataclass(frozen=True, slots=True)
class DrawStroke(Message):
    base: DisplayBase = field(metadata=wt(DisplayBase))
    data: Stroke = field(metadata=wt(Stroke))


@message(D, DisplayMsg.DRAW_TEXT)
@dataclass(frozen=True, slots=True)
class DrawText(Message):
    base: DisplayBase = field(metadata=wt(DisplayBase))
    data: Text = field(metadata=wt(Text))


@message(D, DisplayMsg.DRAW_TRANSPARENT)
@dataclass(frozen=True, slots=True)
class DrawTransparent(Message):
    base: DisplayBase = field(metadata=wt(DisplayBase))
    data: Transparent = field(metadata=wt(Transparent))


@message(D, DisplayMsg.DRAW_ALPHA_BLEND)
@dataclass(frozen=True, slots=True)
class DrawAlphaBlend(Message):
    base: DisplayBase = field(metadata=wt(DisplayBase))
    data: AlphaBlend = field(metadata=wt(AlphaBlend))


@message(D, DisplayMsg.SURFACE_CREATE)
@dataclass(frozen=True, slots=True)
class SurfaceCreate(Message):
    surface_id: int = field(metadata=wt(U32))
    width: int = field(metadata=wt(U32))
    height: int = field(metadata=wt(U32))
    format: int = field(metadata=wt(U32))
    flags: int = field(metadata=wt(U32))


@message(D, DisplayMsg.SURFACE_DESTROY)
@dataclass(frozen=True, slots=True)
class SurfaceDestroy(Message):
    surface_id: int = field(metadata=wt(U32))


@message(D, DisplayMsg.STREAM_DATA_SIZED)
@dataclass(frozen=True, slots=True)
class StreamDataSized(Message):
    base: StreamDataHeader = field(metadata=wt(StreamDataHeader))
    width: int = field(metadata=wt(U32))
    height: int = field(metadata=wt(U32))
    dest: Rect = field(metadata=wt(Rect))
    data_size: int = field(metadata=wt(U32))
    data: Payload = field(metadata=wt(Bytes("data_size", view=True)))


@message(D, DisplayMsg.MONITORS_CONFIG)
@dataclass(frozen=True, slots=True)
class MonitorsConfig(Message):
    count: int = field(metadata=wt(U16))
    max_allowed: int = field(metadata=wt(U16))
    heads: tuple[Head, ...] = field(metadata=wt(Array(Head, "count", 28)))


@message(D, DisplayMsg.DRAW_COMPOSITE)
@dataclass(frozen=True, slots=True)
class DrawComposite(Message):
    base: DisplayBase = field(metadata=wt(DisplayBase))
    data: Composite = field(metadata=wt(Composite))


@message(D, DisplayMsg.STREAM_ACTIVATE_REPORT)
@dataclass(frozen=True, slots=True)
class StreamActivateReport(Message):
    stream_id: int = field(metadata=wt(U32))
    unique_id: int = field(metadata=wt(U32))
    max_window_size: int = field(metadata=wt(U32))
    timeout_ms: int = field(metadata=wt(U32))


@message(D, DisplayMsg.GL_SCANOUT_UNIX)
@dataclass(frozen=True, slots=True)
class GlScanoutUnix(Message):
    """The dma-buf fd travels out of band (SCM_RIGHTS); not usable over TCP."""

    width: int = field(metadata=wt(U32))
    height: int = field(metadata=wt(U32))
    stride: int = field(metadata=wt(U32))
    drm_fourcc_format: int = field(metadata=wt(U32))
    flags: int = field(metadata=wt(U32))


@message(D, DisplayMsg.GL_DRAW)
@dataclass(frozen=True, slots=True)
class GlDraw(Message):
    x: int = field(metadata=wt(U32))
    y: int = field(metadata=wt(U32))
    w: int = field(metadata=wt(U32))
    h: int = field(metadata=wt(U32))


@message(D, DisplayMsg.QUALITY_INDICATOR)
@dataclass(frozen=True, slots=True)
class DisplayQualityIndicator(Message):
    data: bytes = field(metadata=wt(Rest()))


# --- client -> server --
@message(D, DisplayMsgc.INIT, from_server=False)
@dataclass(frozen=True, slots=True)
class DisplayInit(Message):
    pixmap_cache_id: int = field(metadata=wt(U8))
    pixmap_cache_size: int = field(metadata=wt(I64))
    glz_dictionary_id: int = field(metadata=wt(U8))
    glz_dictionary_window_size: int = field(metadata=wt(I32))


@message(D, DisplayMsgc.STREAM_REPORT, from_server=False)
@dataclass(frozen=True, slots=True)
class StreamReport(Message):
    stream_id: int = field(metadata=wt(U32))
    unique_id: int = field(metadata=wt(U32))
    start_frame_mm_time: int = field(metadata=wt(U32))
    end_frame_mm_time: int = field(metadata=wt(U32))
    num_frames: int = field(metadata=wt(U32))
    num_drops: int = field(metadata=wt(U32))
    last_frame_delay: int = field(metadata=wt(I32))
    audio_delay: int = field(metadata=wt(U32))


@message(D, DisplayMsgc.PREFERRED_COMPRESSION, from_server=False)
@dataclass(frozen=True, slots=True)
class PreferredCompression(Message):
    image_compression: int = field(metadata=wt(U8))


@message(D, DisplayMsgc.GL_DRAW_DONE, from_server=False)
@dataclass(frozen=True, slots=True)
class GlDrawDone(Message):
    pass


@message(D, DisplayMsgc.PREFERRED_VIDEO_CODEC_TYPE, from_server=False)
@dataclass(frozen=True, slots=True)
class PreferredVideoCodecType(Message):
    num_of_codecs: int = field(metadata=wt(U8))
    codecs: tuple[int, ...] = field(metadata=wt(Array(U8, "num_of_codecs", 1)))


def message_images(msg: object) -> list[Image]:
    """Every SpiceImage a display message references (source, mask, patterns)."""
    d = getattr(msg, "data", None)
    if d is None or not hasattr(msg, "base"):
        return []
    out: list[Image] = []
    for name in ("src_bitmap", "mask_bitmap"):
        image = getattr(d, name, None)
        if image is not None:
            out.append(image)
    mask = getattr(d, "mask", None)
    if mask is not None and mask.bitmap is not None:
        out.append(mask.bitmap)
    for name in ("brush", "fore_brush", "back_brush"):
        brush = getattr(d, name, None)
        if brush is not None and brush.pattern is not None:
            out.append(brush.pattern.pat)
    return out
