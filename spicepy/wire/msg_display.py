"""Display channel messages (spice.proto ``channel DisplayChannel``).

Draw messages keep spice.proto's nesting: ``msg.base`` (surface_id, box, clip) and
``msg.data`` (src_bitmap, src_area, rop_descriptor, scale_mode, mask, brush, ...).
"""

from __future__ import annotations

from dataclasses import dataclass

from spicepy.wire.enums import ChannelType, CompositeFlags, DisplayMsg, DisplayMsgc
from spicepy.wire.registry import Message, message
from spicepy.wire.schema import I32, I64, U8, U16, U32, U64, Array, Bytes, Ptr, Rest, wf
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

_DC = dataclass(frozen=True, slots=True)
D = ChannelType.DISPLAY


@message(D, DisplayMsg.MODE)
@_DC
class DisplayMode(Message):
    x_res: int = wf(U32)
    y_res: int = wf(U32)
    bits: int = wf(U32)


@message(D, DisplayMsg.MARK)
@_DC
class DisplayMark(Message):
    pass


@message(D, DisplayMsg.RESET)
@_DC
class DisplayReset(Message):
    pass


@message(D, DisplayMsg.COPY_BITS)
@_DC
class CopyBits(Message):
    base: DisplayBase = wf(DisplayBase)
    src_pos: Point = wf(Point)


@message(D, DisplayMsg.INVAL_LIST)
@_DC
class InvalList(Message):
    count: int = wf(U16)
    resources: tuple[ResourceID, ...] = wf(Array(ResourceID, "count", 9))


@_DC
class WaitForChannel:
    channel_type: int = wf(U8)
    channel_id: int = wf(U8)
    message_serial: int = wf(U64)


@message(D, DisplayMsg.INVAL_ALL_PIXMAPS)
@_DC
class InvalAllPixmaps(Message):
    wait_count: int = wf(U8)
    wait_list: tuple[WaitForChannel, ...] = wf(Array(WaitForChannel, "wait_count", 10))


@message(D, DisplayMsg.INVAL_PALETTE)
@_DC
class InvalPalette(Message):
    id: int = wf(U64)


@message(D, DisplayMsg.INVAL_ALL_PALETTES)
@_DC
class InvalAllPalettes(Message):
    pass


@message(D, DisplayMsg.STREAM_CREATE)
@_DC
class StreamCreate(Message):
    surface_id: int = wf(U32)
    id: int = wf(U32)
    flags: int = wf(U8)
    codec_type: int = wf(U8)
    stamp: int = wf(U64)
    stream_width: int = wf(U32)
    stream_height: int = wf(U32)
    src_width: int = wf(U32)
    src_height: int = wf(U32)
    dest: Rect = wf(Rect)
    clip: Clip = wf(Clip)


@message(D, DisplayMsg.STREAM_DATA)
@_DC
class StreamData(Message):
    base: StreamDataHeader = wf(StreamDataHeader)
    data_size: int = wf(U32)
    data: Payload = wf(Bytes("data_size", view=True))


@message(D, DisplayMsg.STREAM_CLIP)
@_DC
class StreamClip(Message):
    id: int = wf(U32)
    clip: Clip = wf(Clip)


@message(D, DisplayMsg.STREAM_DESTROY)
@_DC
class StreamDestroy(Message):
    id: int = wf(U32)


@message(D, DisplayMsg.STREAM_DESTROY_ALL)
@_DC
class StreamDestroyAll(Message):
    pass


# --- draw bodies ----------------------------------------------------------------------
@_DC
class Fill:
    brush: Brush = wf(Brush)
    rop_descriptor: int = wf(U16)
    mask: QMask = wf(QMask)


@_DC
class Opaque:
    src_bitmap: Image | None = wf(Ptr(Image))
    src_area: Rect = wf(Rect)
    brush: Brush = wf(Brush)
    rop_descriptor: int = wf(U16)
    scale_mode: int = wf(U8)
    mask: QMask = wf(QMask)


@_DC
class Copy:
    """Body of DRAW_COPY and DRAW_BLEND."""

    src_bitmap: Image | None = wf(Ptr(Image))
    src_area: Rect = wf(Rect)
    rop_descriptor: int = wf(U16)
    scale_mode: int = wf(U8)
    mask: QMask = wf(QMask)


@_DC
class MaskOnly:
    """Body of DRAW_BLACKNESS / WHITENESS / INVERS."""

    mask: QMask = wf(QMask)


@_DC
class Rop3:
    src_bitmap: Image | None = wf(Ptr(Image))
    src_area: Rect = wf(Rect)
    brush: Brush = wf(Brush)
    rop3: int = wf(U8)
    scale_mode: int = wf(U8)
    mask: QMask = wf(QMask)


@_DC
class Stroke:
    path: Path | None = wf(Ptr(Path))
    attr: LineAttr = wf(LineAttr)
    brush: Brush = wf(Brush)
    fore_mode: int = wf(U16)
    back_mode: int = wf(U16)


@_DC
class Text:
    str: String | None = wf(Ptr(String))
    back_area: Rect = wf(Rect)
    fore_brush: Brush = wf(Brush)
    back_brush: Brush = wf(Brush)
    fore_mode: int = wf(U16)
    back_mode: int = wf(U16)


@_DC
class Transparent:
    src_bitmap: Image | None = wf(Ptr(Image))
    src_area: Rect = wf(Rect)
    src_color: int = wf(U32)
    true_color: int = wf(U32)


@_DC
class AlphaBlend:
    alpha_flags: int = wf(U8)
    alpha: int = wf(U8)
    src_bitmap: Image | None = wf(Ptr(Image))
    src_area: Rect = wf(Rect)


def _flag(bit: int) -> object:
    return lambda v: bool(v["flags"] & bit)


@_DC
class Composite:
    flags: int = wf(U32)
    src_bitmap: Image | None = wf(Ptr(Image))
    mask_bitmap: Image | None = wf(Ptr(Image), cond=_flag(CompositeFlags.HAS_MASK))  # type: ignore[arg-type]
    src_transform: Transform | None = wf(
        Transform,
        cond=_flag(CompositeFlags.HAS_SRC_TRANSFORM),  # type: ignore[arg-type]
    )
    mask_transform: Transform | None = wf(
        Transform,
        cond=_flag(CompositeFlags.HAS_MASK_TRANSFORM),  # type: ignore[arg-type]
    )
    src_origin: Point16 = wf(Point16)
    mask_origin: Point16 = wf(Point16)


# --- draw messages --------------------------------------------------------------------
@message(D, DisplayMsg.DRAW_FILL)
@_DC
class DrawFill(Message):
    base: DisplayBase = wf(DisplayBase)
    data: Fill = wf(Fill)


@message(D, DisplayMsg.DRAW_OPAQUE)
@_DC
class DrawOpaque(Message):
    base: DisplayBase = wf(DisplayBase)
    data: Opaque = wf(Opaque)


@message(D, DisplayMsg.DRAW_COPY)
@_DC
class DrawCopy(Message):
    base: DisplayBase = wf(DisplayBase)
    data: Copy = wf(Copy)


@message(D, DisplayMsg.DRAW_BLEND)
@_DC
class DrawBlend(Message):
    base: DisplayBase = wf(DisplayBase)
    data: Copy = wf(Copy)


@message(D, DisplayMsg.DRAW_BLACKNESS)
@_DC
class DrawBlackness(Message):
    base: DisplayBase = wf(DisplayBase)
    data: MaskOnly = wf(MaskOnly)


@message(D, DisplayMsg.DRAW_WHITENESS)
@_DC
class DrawWhiteness(Message):
    base: DisplayBase = wf(DisplayBase)
    data: MaskOnly = wf(MaskOnly)


@message(D, DisplayMsg.DRAW_INVERS)
@_DC
class DrawInvers(Message):
    base: DisplayBase = wf(DisplayBase)
    data: MaskOnly = wf(MaskOnly)


@message(D, DisplayMsg.DRAW_ROP3)
@_DC
class DrawRop3(Message):
    base: DisplayBase = wf(DisplayBase)
    data: Rop3 = wf(Rop3)


@message(D, DisplayMsg.DRAW_STROKE)
@_DC
class DrawStroke(Message):
    base: DisplayBase = wf(DisplayBase)
    data: Stroke = wf(Stroke)


@message(D, DisplayMsg.DRAW_TEXT)
@_DC
class DrawText(Message):
    base: DisplayBase = wf(DisplayBase)
    data: Text = wf(Text)


@message(D, DisplayMsg.DRAW_TRANSPARENT)
@_DC
class DrawTransparent(Message):
    base: DisplayBase = wf(DisplayBase)
    data: Transparent = wf(Transparent)


@message(D, DisplayMsg.DRAW_ALPHA_BLEND)
@_DC
class DrawAlphaBlend(Message):
    base: DisplayBase = wf(DisplayBase)
    data: AlphaBlend = wf(AlphaBlend)


@message(D, DisplayMsg.SURFACE_CREATE)
@_DC
class SurfaceCreate(Message):
    surface_id: int = wf(U32)
    width: int = wf(U32)
    height: int = wf(U32)
    format: int = wf(U32)
    flags: int = wf(U32)


@message(D, DisplayMsg.SURFACE_DESTROY)
@_DC
class SurfaceDestroy(Message):
    surface_id: int = wf(U32)


@message(D, DisplayMsg.STREAM_DATA_SIZED)
@_DC
class StreamDataSized(Message):
    base: StreamDataHeader = wf(StreamDataHeader)
    width: int = wf(U32)
    height: int = wf(U32)
    dest: Rect = wf(Rect)
    data_size: int = wf(U32)
    data: Payload = wf(Bytes("data_size", view=True))


@message(D, DisplayMsg.MONITORS_CONFIG)
@_DC
class MonitorsConfig(Message):
    count: int = wf(U16)
    max_allowed: int = wf(U16)
    heads: tuple[Head, ...] = wf(Array(Head, "count", 28))


@message(D, DisplayMsg.DRAW_COMPOSITE)
@_DC
class DrawComposite(Message):
    base: DisplayBase = wf(DisplayBase)
    data: Composite = wf(Composite)


@message(D, DisplayMsg.STREAM_ACTIVATE_REPORT)
@_DC
class StreamActivateReport(Message):
    stream_id: int = wf(U32)
    unique_id: int = wf(U32)
    max_window_size: int = wf(U32)
    timeout_ms: int = wf(U32)


@message(D, DisplayMsg.GL_SCANOUT_UNIX)
@_DC
class GlScanoutUnix(Message):
    """The dma-buf fd travels out of band (SCM_RIGHTS); not usable over TCP."""

    width: int = wf(U32)
    height: int = wf(U32)
    stride: int = wf(U32)
    drm_fourcc_format: int = wf(U32)
    flags: int = wf(U32)


@message(D, DisplayMsg.GL_DRAW)
@_DC
class GlDraw(Message):
    x: int = wf(U32)
    y: int = wf(U32)
    w: int = wf(U32)
    h: int = wf(U32)


@message(D, DisplayMsg.QUALITY_INDICATOR)
@_DC
class DisplayQualityIndicator(Message):
    data: bytes = wf(Rest())


# --- client -> server -------------------------------------------------------------------
@message(D, DisplayMsgc.INIT, from_server=False)
@_DC
class DisplayInit(Message):
    pixmap_cache_id: int = wf(U8)
    pixmap_cache_size: int = wf(I64)
    glz_dictionary_id: int = wf(U8)
    glz_dictionary_window_size: int = wf(I32)


@message(D, DisplayMsgc.STREAM_REPORT, from_server=False)
@_DC
class StreamReport(Message):
    stream_id: int = wf(U32)
    unique_id: int = wf(U32)
    start_frame_mm_time: int = wf(U32)
    end_frame_mm_time: int = wf(U32)
    num_frames: int = wf(U32)
    num_drops: int = wf(U32)
    last_frame_delay: int = wf(I32)
    audio_delay: int = wf(U32)


@message(D, DisplayMsgc.PREFERRED_COMPRESSION, from_server=False)
@_DC
class PreferredCompression(Message):
    image_compression: int = wf(U8)


@message(D, DisplayMsgc.GL_DRAW_DONE, from_server=False)
@_DC
class GlDrawDone(Message):
    pass


@message(D, DisplayMsgc.PREFERRED_VIDEO_CODEC_TYPE, from_server=False)
@_DC
class PreferredVideoCodecType(Message):
    num_of_codecs: int = wf(U8)
    codecs: tuple[int, ...] = wf(Array(U8, "num_of_codecs", 1))
