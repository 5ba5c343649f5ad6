"""Display messages -> canvas commands: a thin adapter over the wire layer.

The layouts live in one place, ``spicepy.wire`` (``msg_display`` / ``types``);
``parse_display`` decodes a body with ``spicepy.wire.decode_message`` and
``to_command`` maps the resulting dataclass onto the canvas's own input types
(``spicepy.canvas.types``: canvas ``Rect`` is left, top, right, bottom; payloads
become ``bytes``). What the wire layer accepts but a canvas cannot draw (unknown
clip, brush or image type, a draw without its source image) is refused here with
``WireError``, as spice-common's demarshaller refuses it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from spicepy.canvas.surface import Rect
from spicepy.canvas.types import (
    Bitmap,
    Brush,
    BrushType,
    Glyph,
    GlyphString,
    Image,
    ImageType,
    LineAttr,
    PathSeg,
    Point,
    QMask,
    StringFlags,
    Transform,
)
from spicepy.canvas.types import Palette as CanvasPalette
from spicepy.errors import WireError
from spicepy.wire import msg_display as wd
from spicepy.wire import types as wt
from spicepy.wire.enums import ChannelType, ClipType, DisplayMsg
from spicepy.wire.messages import decode_message

__all__ = ["Command", "DisplayMsg", "parse_display", "to_command"]


@dataclass(frozen=True, slots=True)
class Command:
    """One display message as canvas input: ``name`` + keyword arguments.

    ``images`` lists every SpiceImage the message references (for statistics).
    """

    name: str
    args: dict[str, Any] = field(default_factory=dict)
    images: tuple[Image, ...] = ()


class _Convert:
    """Wire structures -> canvas types; collects the images met on the way."""

    __slots__ = ("images",)

    def __init__(self) -> None:
        self.images: list[Image] = []

    @staticmethod
    def rect(r: wt.Rect) -> Rect:
        return Rect(r.left, r.top, r.right, r.bottom)

    @staticmethod
    def point(p: wt.Point | wt.Point16) -> Point:
        return Point(p.x, p.y)

    def clip(self, c: wt.Clip) -> list[Rect] | None:
        if c.type == ClipType.NONE:
            return None
        if c.type != ClipType.RECTS or c.rects is None:
            raise WireError(f"unknown clip type {c.type}")
        return [self.rect(r) for r in c.rects]

    def base(self, b: wt.DisplayBase) -> dict[str, Any]:
        return {
            "surface_id": b.surface_id,
            "bbox": self.rect(b.box),
            "clip": self.clip(b.clip),
        }

    @staticmethod
    def palette(p: wt.Palette | None) -> CanvasPalette | None:
        return None if p is None else CanvasPalette(p.unique, p.ents)

    def image(self, im: wt.Image | None) -> Image | None:
        if im is None:
            return None
        d = im.descriptor
        args: dict[str, Any] = {}
        if d.type == ImageType.BITMAP and im.bitmap is not None:
            b = im.bitmap
            args["bitmap"] = Bitmap(
                b.format,
                b.flags,
                b.x,
                b.y,
                b.stride,
                bytes(b.data),
                self.palette(b.palette),
                b.palette_id or 0,
            )
        elif im.binary is not None:
            args["data"] = bytes(im.binary.data)
        elif im.lz_plt is not None:
            p = im.lz_plt
            args.update(
                lz_flags=p.flags,
                lz_palette=self.palette(p.palette),
                lz_palette_id=p.palette_id or 0,
                data=bytes(p.data),
            )
        elif im.zlib_glz is not None:
            args.update(
                glz_size=im.zlib_glz.glz_data_size, data=bytes(im.zlib_glz.data)
            )
        elif im.jpeg_alpha is not None:
            j = im.jpeg_alpha
            args.update(jpeg_flags=j.flags, jpeg_size=j.jpeg_size, data=bytes(j.data))
        elif im.surface is not None:
            args["surface_id"] = im.surface.surface_id
        elif d.type not in (ImageType.FROM_CACHE, ImageType.FROM_CACHE_LOSSLESS):
            raise WireError(f"unknown image type {d.type}")
        image = Image(d.id, d.type, d.flags, d.width, d.height, **args)
        self.images.append(image)
        return image

    def source(self, im: wt.Image | None) -> Image:
        image = self.image(im)
        if image is None:
            raise WireError("draw with a NULL source image")
        return image

    def brush(self, b: wt.Brush) -> Brush:
        if b.type == BrushType.NONE:
            return Brush()
        if b.type == BrushType.SOLID and b.color is not None:
            return Brush(BrushType.SOLID, b.color)
        if b.type == BrushType.PATTERN and b.pattern is not None:
            pattern = self.image(b.pattern.pat)
            if pattern is None:
                raise WireError("pattern brush with a NULL image")
            return Brush(BrushType.PATTERN, 0, pattern, self.point(b.pattern.pos))
        raise WireError(f"unknown brush type {b.type}")

    def mask(self, m: wt.QMask) -> QMask:
        return QMask(m.flags, self.point(m.pos), self.image(m.bitmap))

    @staticmethod
    def string(s: wt.String | None) -> GlyphString:
        if s is None:
            raise WireError("text with a NULL string")
        # spice.proto switches on the first raster flag set (A1, then A4, then A8)
        if s.flags & StringFlags.RASTER_A1:
            raw: tuple[Any, ...] = s.glyphs_a1 or ()
        elif s.flags & StringFlags.RASTER_A4:
            raw = s.glyphs_a4 or ()
        elif s.flags & StringFlags.RASTER_A8:
            raw = s.glyphs_a8 or ()
        else:
            raw = ()
        glyphs = tuple(
            Glyph(
                Point(g.render_pos.x, g.render_pos.y),
                Point(g.glyph_origin.x, g.glyph_origin.y),
                g.width,
                g.height,
                bytes(g.data),
            )
            for g in raw
        )
        return GlyphString(s.flags, glyphs)


def _draw(c: _Convert, msg: Any) -> Command:
    args = c.base(msg.base)
    d = msg.data
    if isinstance(msg, wd.DrawFill):
        args.update(
            brush=c.brush(d.brush), rop_descriptor=d.rop_descriptor, mask=c.mask(d.mask)
        )
        return Command("fill", args)
    if isinstance(msg, (wd.DrawCopy, wd.DrawBlend)):
        args.update(
            image=c.source(d.src_bitmap),
            src_area=c.rect(d.src_area),
            rop_descriptor=d.rop_descriptor,
            scale_mode=d.scale_mode,
            mask=c.mask(d.mask),
        )
        return Command("copy" if isinstance(msg, wd.DrawCopy) else "blend", args)
    if isinstance(msg, wd.DrawOpaque):
        args.update(
            image=c.source(d.src_bitmap),
            src_area=c.rect(d.src_area),
            brush=c.brush(d.brush),
            rop_descriptor=d.rop_descriptor,
            scale_mode=d.scale_mode,
            mask=c.mask(d.mask),
        )
        return Command("opaque", args)
    if isinstance(msg, (wd.DrawBlackness, wd.DrawWhiteness, wd.DrawInvers)):
        args["mask"] = c.mask(d.mask)
        return Command(_MASK_ONLY[type(msg)], args)
    if isinstance(msg, wd.DrawRop3):
        args.update(
            image=c.source(d.src_bitmap),
            src_area=c.rect(d.src_area),
            brush=c.brush(d.brush),
            rop3_code=d.rop3,
            scale_mode=d.scale_mode,
            mask=c.mask(d.mask),
        )
        return Command("rop3", args)
    if isinstance(msg, wd.DrawStroke):
        if d.path is None:
            raise WireError("stroke with a NULL path")
        args["path"] = [
            PathSeg(s.flags, tuple((p.x, p.y) for p in s.points))
            for s in d.path.segments
        ]
        args.update(
            attr=LineAttr(d.attr.flags, tuple(d.attr.style or ())),
            brush=c.brush(d.brush),
            fore_mode=d.fore_mode,
            back_mode=d.back_mode,
        )
        return Command("stroke", args)
    if isinstance(msg, wd.DrawText):
        args.update(
            string=c.string(d.str),
            back_area=c.rect(d.back_area),
            fore_brush=c.brush(d.fore_brush),
            back_brush=c.brush(d.back_brush),
            fore_mode=d.fore_mode,
            back_mode=d.back_mode,
        )
        return Command("text", args)
    if isinstance(msg, wd.DrawTransparent):
        args.update(
            image=c.source(d.src_bitmap),
            src_area=c.rect(d.src_area),
            true_color=d.true_color,
        )
        return Command("transparent", args)
    if isinstance(msg, wd.DrawAlphaBlend):
        args.update(
            alpha_flags=d.alpha_flags,
            alpha=d.alpha,
            image=c.source(d.src_bitmap),
            src_area=c.rect(d.src_area),
        )
        return Command("alpha_blend", args)
    # DrawComposite
    args.update(flags=d.flags, src_image=c.image(d.src_bitmap))
    if args["src_image"] is None:
        raise WireError("composite without a source")
    if d.mask_bitmap is not None:
        args["mask_image"] = c.image(d.mask_bitmap)
    for key in ("src_transform", "mask_transform"):
        t = getattr(d, key)
        if t is not None:
            args[key] = Transform(t.t00, t.t01, t.t02, t.t10, t.t11, t.t12)
    args.update(src_origin=c.point(d.src_origin), mask_origin=c.point(d.mask_origin))
    return Command("composite", args)


_MASK_ONLY = {
    wd.DrawBlackness: "blackness",
    wd.DrawWhiteness: "whiteness",
    wd.DrawInvers: "invers",
}
_DRAWS = (
    wd.DrawFill,
    wd.DrawOpaque,
    wd.DrawCopy,
    wd.DrawBlend,
    wd.DrawBlackness,
    wd.DrawWhiteness,
    wd.DrawInvers,
    wd.DrawRop3,
    wd.DrawStroke,
    wd.DrawText,
    wd.DrawTransparent,
    wd.DrawAlphaBlend,
    wd.DrawComposite,
)


def to_command(msg: object) -> Command | None:
    """Map one decoded display message (``spicepy.wire.msg_display``) to a canvas
    ``Command``; None for messages the canvas does not act on (PING, SET_ACK, ...).

    Raises:
        WireError: a message the canvas cannot accept (see the module docstring).
    """
    c = _Convert()
    if isinstance(msg, _DRAWS):
        cmd = _draw(c, msg)
        return Command(cmd.name, cmd.args, tuple(c.images))
    if isinstance(msg, wd.CopyBits):
        args = c.base(msg.base)
        args["src_pos"] = c.point(msg.src_pos)
        return Command("copy_bits", args)
    if isinstance(msg, wd.SurfaceCreate):
        return Command(
            "surface_create",
            {
                "surface_id": msg.surface_id,
                "width": msg.width,
                "height": msg.height,
                "fmt": msg.format,
                "flags": msg.flags,
            },
        )
    if isinstance(msg, wd.SurfaceDestroy):
        return Command("surface_destroy", {"surface_id": msg.surface_id})
    if isinstance(msg, wd.StreamCreate):
        return Command(
            "stream_create",
            {
                "stream_id": msg.id,
                "surface_id": msg.surface_id,
                "flags": msg.flags,
                "codec": msg.codec_type,
                "stream_width": msg.stream_width,
                "stream_height": msg.stream_height,
                "src_width": msg.src_width,
                "src_height": msg.src_height,
                "dest": c.rect(msg.dest),
                "clip": c.clip(msg.clip),
            },
        )
    if isinstance(msg, wd.StreamData):
        return Command(
            "stream_data",
            {
                "stream_id": msg.base.id,
                "mm_time": msg.base.multi_media_time,
                "frame": bytes(msg.data),
            },
        )
    if isinstance(msg, wd.StreamDataSized):
        return Command(
            "stream_data",
            {
                "stream_id": msg.base.id,
                "mm_time": msg.base.multi_media_time,
                "frame": bytes(msg.data),
                "width": msg.width,
                "height": msg.height,
                "dest": c.rect(msg.dest),
            },
        )
    if isinstance(msg, wd.StreamClip):
        return Command("stream_clip", {"stream_id": msg.id, "clip": c.clip(msg.clip)})
    if isinstance(msg, wd.StreamDestroy):
        return Command("stream_destroy", {"stream_id": msg.id})
    if isinstance(msg, wd.StreamDestroyAll):
        return Command("stream_destroy_all")
    if isinstance(msg, wd.StreamActivateReport):
        return Command(
            "stream_activate_report",
            {
                "stream_id": msg.stream_id,
                "unique_id": msg.unique_id,
                "max_window_size": msg.max_window_size,
                "timeout_ms": msg.timeout_ms,
            },
        )
    if isinstance(msg, wd.InvalList):
        # resource type 1 = pixmap (spice.proto ``ResourceID``); others are unused
        ids = [r.id for r in msg.resources if r.type == 1]
        return Command("inval_list", {"image_ids": ids})
    if isinstance(msg, wd.InvalAllPixmaps):
        return Command("inval_all_pixmaps")
    if isinstance(msg, wd.InvalPalette):
        return Command("inval_palette", {"palette_id": msg.id})
    if isinstance(msg, wd.InvalAllPalettes):
        return Command("inval_all_palettes")
    if isinstance(msg, wd.DisplayReset):
        return Command("reset")
    if isinstance(msg, wd.DisplayMark):
        return Command("mark")
    if isinstance(msg, wd.MonitorsConfig):
        heads = [
            (h.monitor_id, h.surface_id, h.width, h.height, h.x, h.y, h.flags)
            for h in msg.heads
        ]
        return Command("monitors_config", {"heads": heads})
    return None


def parse_display(kind: int, body: bytes | memoryview) -> Command | None:
    """Parse one server display message body into a canvas ``Command``.

    Returns None for messages the canvas does not act on (PING, SET_ACK, ...).

    Raises:
        WireError: truncated or malformed body.
    """
    return to_command(decode_message(ChannelType.DISPLAY, kind, body))
