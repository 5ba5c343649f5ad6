"""Display message bodies -> canvas commands (spice.proto DisplayChannel).

This is the canvas's own reader of display draw/stream/surface message bodies,
producing the canvas input types of ``spicepy.canvas.types`` directly, so that
the canvas can be driven from raw message bodies (offline replay, tests) without
depending on the wire layer. Layout facts: spice.proto; pointers (``*field``)
are u32 offsets from the start of the body, 0 = NULL; ``Rect`` is top, left,
bottom, right; every read is bounds-checked and raises ``WireError``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from spicepy.canvas.surface import Rect
from spicepy.canvas.types import (
    Bitmap,
    BitmapFlags,
    Brush,
    BrushType,
    Glyph,
    GlyphString,
    Image,
    ImageType,
    LineAttr,
    LineFlags,
    Palette,
    PathSeg,
    Point,
    QMask,
    Transform,
)
from spicepy.errors import WireError

__all__ = ["Command", "DisplayMsg", "parse_display"]

#: Entries a count field may announce before we refuse (rects, heads, glyphs...).
MAX_ITEMS = 1 << 16


class DisplayMsg(IntEnum):
    """Server display message types (spice.proto ``channel DisplayChannel``)."""

    MIGRATE = 1
    MIGRATE_DATA = 2
    SET_ACK = 3
    PING = 4
    WAIT_FOR_CHANNELS = 5
    DISCONNECTING = 6
    NOTIFY = 7
    LIST = 8
    MODE = 101
    MARK = 102
    RESET = 103
    COPY_BITS = 104
    INVAL_LIST = 105
    INVAL_ALL_PIXMAPS = 106
    INVAL_PALETTE = 107
    INVAL_ALL_PALETTES = 108
    STREAM_CREATE = 122
    STREAM_DATA = 123
    STREAM_CLIP = 124
    STREAM_DESTROY = 125
    STREAM_DESTROY_ALL = 126
    DRAW_FILL = 302
    DRAW_OPAQUE = 303
    DRAW_COPY = 304
    DRAW_BLEND = 305
    DRAW_BLACKNESS = 306
    DRAW_WHITENESS = 307
    DRAW_INVERS = 308
    DRAW_ROP3 = 309
    DRAW_STROKE = 310
    DRAW_TEXT = 311
    DRAW_TRANSPARENT = 312
    DRAW_ALPHA_BLEND = 313
    SURFACE_CREATE = 314
    SURFACE_DESTROY = 315
    STREAM_DATA_SIZED = 316
    MONITORS_CONFIG = 317
    DRAW_COMPOSITE = 318
    STREAM_ACTIVATE_REPORT = 319
    GL_SCANOUT_UNIX = 320
    GL_DRAW = 321
    QUALITY_INDICATOR = 322


@dataclass(frozen=True, slots=True)
class Command:
    """One display message as canvas input: ``name`` + keyword arguments.

    ``images`` lists every SpiceImage the message references (for statistics).
    """

    name: str
    args: dict[str, Any] = field(default_factory=dict)
    images: tuple[Image, ...] = ()


class _Body:
    __slots__ = ("data", "images")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.images: list[Image] = []

    def need(self, pos: int, n: int) -> None:
        if pos < 0 or n < 0 or pos + n > len(self.data):
            raise WireError(
                f"display message truncated at {pos} (+{n}/{len(self.data)})"
            )

    def unpack(self, fmt: str, pos: int) -> tuple[Any, ...]:
        s = struct.calcsize("<" + fmt)
        self.need(pos, s)
        return struct.unpack_from("<" + fmt, self.data, pos)

    def u8(self, pos: int) -> int:
        self.need(pos, 1)
        return self.data[pos]

    def u32(self, pos: int) -> int:
        return int(self.unpack("I", pos)[0])

    def rect(self, pos: int) -> Rect:
        top, left, bottom, right = self.unpack("iiii", pos)
        return Rect(left, top, right, bottom)

    def point(self, pos: int) -> Point:
        x, y = self.unpack("ii", pos)
        return Point(x, y)

    def blob(self, pos: int, n: int) -> bytes:
        self.need(pos, n)
        return self.data[pos : pos + n]

    def clip(self, pos: int) -> tuple[list[Rect] | None, int]:
        kind = self.u8(pos)
        if kind == 0:
            return None, pos + 1
        if kind != 1:
            raise WireError(f"unknown clip type {kind}")
        n = self.u32(pos + 1)
        if n > MAX_ITEMS:
            raise WireError(f"{n} clip rects")
        self.need(pos + 5, 16 * n)
        return [self.rect(pos + 5 + 16 * i) for i in range(n)], pos + 5 + 16 * n

    def base(self) -> tuple[dict[str, Any], int]:
        surface_id = self.u32(0)
        bbox = self.rect(4)
        clip, pos = self.clip(20)
        return {"surface_id": surface_id, "bbox": bbox, "clip": clip}, pos

    def palette(self, ptr: int) -> Palette | None:
        if ptr == 0:
            return None
        unique, n = self.unpack("QH", ptr)
        self.need(ptr + 10, 4 * n)
        ents = struct.unpack_from(f"<{n}I", self.data, ptr + 10)
        return Palette(int(unique), tuple(ents))

    def image(self, ptr: int) -> Image | None:
        if ptr == 0:
            return None
        image_id, kind, flags, width, height = self.unpack("QBBII", ptr)
        pos = ptr + 18
        args: dict[str, Any] = {}
        if kind == ImageType.BITMAP:
            fmt, bflags, x, y, stride = self.unpack("BBIII", pos)
            pos += 14
            palette, palette_id = None, 0
            if bflags & BitmapFlags.PAL_FROM_CACHE:
                palette_id = int(self.unpack("Q", pos)[0])
                pos += 8
            else:
                palette = self.palette(self.u32(pos))
                pos += 4
            data = self.blob(pos, stride * y)
            args["bitmap"] = Bitmap(
                fmt, bflags, x, y, stride, data, palette, palette_id
            )
        elif kind in (ImageType.QUIC, ImageType.LZ_RGB, ImageType.GLZ_RGB,
                      ImageType.JPEG, ImageType.LZ4):  # fmt: skip
            size = self.u32(pos)
            args["data"] = self.blob(pos + 4, size)
        elif kind == ImageType.LZ_PLT:
            lflags, size = self.unpack("BI", pos)
            pos += 5
            if lflags & BitmapFlags.PAL_FROM_CACHE:
                args["lz_palette_id"] = int(self.unpack("Q", pos)[0])
                pos += 8
            else:
                args["lz_palette"] = self.palette(self.u32(pos))
                pos += 4
            args["lz_flags"] = lflags
            args["data"] = self.blob(pos, size)
        elif kind == ImageType.ZLIB_GLZ_RGB:
            glz_size, size = self.unpack("II", pos)
            args["glz_size"] = glz_size
            args["data"] = self.blob(pos + 8, size)
        elif kind == ImageType.JPEG_ALPHA:
            jflags, jpeg_size, size = self.unpack("BII", pos)
            args["jpeg_flags"] = jflags
            args["jpeg_size"] = jpeg_size
            args["data"] = self.blob(pos + 9, size)
        elif kind == ImageType.SURFACE:
            args["surface_id"] = self.u32(pos)
        elif kind not in (ImageType.FROM_CACHE, ImageType.FROM_CACHE_LOSSLESS):
            raise WireError(f"unknown image type {kind}")
        image = Image(int(image_id), kind, flags, width, height, **args)
        self.images.append(image)
        return image

    def brush(self, pos: int) -> tuple[Brush, int]:
        kind = self.u8(pos)
        if kind == BrushType.NONE:
            return Brush(), pos + 1
        if kind == BrushType.SOLID:
            return Brush(BrushType.SOLID, self.u32(pos + 1)), pos + 5
        if kind == BrushType.PATTERN:
            pattern = self.image(self.u32(pos + 1))
            if pattern is None:
                raise WireError("pattern brush with a NULL image")
            return Brush(BrushType.PATTERN, 0, pattern, self.point(pos + 5)), pos + 13
        raise WireError(f"unknown brush type {kind}")

    def qmask(self, pos: int) -> tuple[QMask, int]:
        flags = self.u8(pos)
        point = self.point(pos + 1)
        return QMask(flags, point, self.image(self.u32(pos + 9))), pos + 13

    def image_area(self, pos: int) -> tuple[dict[str, Any], int]:
        image = self.image(self.u32(pos))
        if image is None:
            raise WireError("draw with a NULL source image")
        return {"image": image, "src_area": self.rect(pos + 4)}, pos + 20

    def path(self, ptr: int) -> list[PathSeg]:
        n = self.u32(ptr)
        if n > MAX_ITEMS:
            raise WireError(f"{n} path segments")
        pos, segs = ptr + 4, []
        for _ in range(n):
            flags, count = self.unpack("BI", pos)
            pos += 5
            self.need(pos, 8 * count)
            vals = struct.unpack_from(f"<{2 * count}i", self.data, pos)
            pos += 8 * count
            segs.append(PathSeg(flags, tuple(zip(vals[::2], vals[1::2], strict=True))))
        return segs

    def string(self, ptr: int) -> GlyphString:
        length, flags = self.unpack("HB", ptr)
        bpp = 1 if flags & 1 else 4 if flags & 2 else 8 if flags & 4 else 0
        pos, glyphs = ptr + 3, []
        for _ in range(length if bpp else 0):
            rx, ry, ox, oy, w, h = self.unpack("iiiiHH", pos)
            size = (w * bpp + 7) // 8 * h
            glyphs.append(Glyph(Point(rx, ry), Point(ox, oy), w, h,
                                self.blob(pos + 20, size)))  # fmt: skip
            pos += 20 + size
        return GlyphString(flags, tuple(glyphs))


def _draw(b: _Body, kind: int) -> Command:
    args, pos = b.base()
    if kind == DisplayMsg.DRAW_FILL:
        args["brush"], pos = b.brush(pos)
        args["rop_descriptor"] = b.unpack("H", pos)[0]
        args["mask"], _ = b.qmask(pos + 2)
        return Command("fill", args)
    if kind in (DisplayMsg.DRAW_COPY, DisplayMsg.DRAW_BLEND):
        more, pos = b.image_area(pos)
        args.update(more)
        args["rop_descriptor"], args["scale_mode"] = b.unpack("HB", pos)
        args["mask"], _ = b.qmask(pos + 3)
        return Command("copy" if kind == DisplayMsg.DRAW_COPY else "blend", args)
    if kind == DisplayMsg.DRAW_OPAQUE:
        more, pos = b.image_area(pos)
        args.update(more)
        args["brush"], pos = b.brush(pos)
        args["rop_descriptor"], args["scale_mode"] = b.unpack("HB", pos)
        args["mask"], _ = b.qmask(pos + 3)
        return Command("opaque", args)
    if kind in (
        DisplayMsg.DRAW_BLACKNESS,
        DisplayMsg.DRAW_WHITENESS,
        DisplayMsg.DRAW_INVERS,
    ):
        args["mask"], _ = b.qmask(pos)
        name = {306: "blackness", 307: "whiteness", 308: "invers"}[kind]
        return Command(name, args)
    if kind == DisplayMsg.DRAW_ROP3:
        more, pos = b.image_area(pos)
        args.update(more)
        args["brush"], pos = b.brush(pos)
        args["rop3_code"], args["scale_mode"] = b.unpack("BB", pos)
        args["mask"], _ = b.qmask(pos + 2)
        return Command("rop3", args)
    if kind == DisplayMsg.DRAW_STROKE:
        args["path"] = b.path(b.u32(pos))
        flags = b.u8(pos + 4)
        pos += 5
        style: tuple[int, ...] = ()
        if flags & LineFlags.STYLED:
            nseg, ptr = b.unpack("BI", pos)
            pos += 5
            b.need(ptr, 4 * nseg)
            style = struct.unpack_from(f"<{nseg}i", b.data, ptr) if ptr else ()
        args["attr"] = LineAttr(flags, tuple(style))
        args["brush"], pos = b.brush(pos)
        args["fore_mode"], args["back_mode"] = b.unpack("HH", pos)
        return Command("stroke", args)
    if kind == DisplayMsg.DRAW_TEXT:
        args["string"] = b.string(b.u32(pos))
        args["back_area"] = b.rect(pos + 4)
        args["fore_brush"], pos = b.brush(pos + 20)
        args["back_brush"], pos = b.brush(pos)
        args["fore_mode"], args["back_mode"] = b.unpack("HH", pos)
        return Command("text", args)
    if kind == DisplayMsg.DRAW_TRANSPARENT:
        more, pos = b.image_area(pos)
        args.update(more)
        _src_color, args["true_color"] = b.unpack("II", pos)
        return Command("transparent", args)
    if kind == DisplayMsg.DRAW_ALPHA_BLEND:
        args["alpha_flags"], args["alpha"] = b.unpack("BB", pos)
        more, _ = b.image_area(pos + 2)
        args.update(more)
        return Command("alpha_blend", args)
    if kind == DisplayMsg.DRAW_COMPOSITE:
        flags = b.u32(pos)
        args["flags"] = flags
        args["src_image"] = b.image(b.u32(pos + 4))
        if args["src_image"] is None:
            raise WireError("composite without a source")
        pos += 8
        if flags & (1 << 19):
            args["mask_image"] = b.image(b.u32(pos))
            pos += 4
        for bit, key in ((20, "src_transform"), (21, "mask_transform")):
            if flags & (1 << bit):
                args[key] = Transform(*b.unpack("6I", pos))
                pos += 24
        sx, sy, mx, my = b.unpack("hhhh", pos)
        args["src_origin"], args["mask_origin"] = Point(sx, sy), Point(mx, my)
        return Command("composite", args)
    raise WireError(f"not a draw message: {kind}")


def parse_display(kind: int, body: bytes) -> Command | None:
    """Parse one server display message body into a canvas ``Command``.

    Returns None for messages the canvas does not act on (PING, SET_ACK, ...).

    Raises:
        WireError: truncated or malformed body.
    """
    b = _Body(body)
    if 302 <= kind <= 313 or kind == DisplayMsg.DRAW_COMPOSITE:
        cmd = _draw(b, kind)
        return Command(cmd.name, cmd.args, tuple(b.images))
    if kind == DisplayMsg.COPY_BITS:
        args, pos = b.base()
        args["src_pos"] = b.point(pos)
        return Command("copy_bits", args)
    if kind == DisplayMsg.SURFACE_CREATE:
        sid, w, h, fmt, flags = b.unpack("IIIII", 0)
        return Command("surface_create", {"surface_id": sid, "width": w, "height": h,
                                          "fmt": fmt, "flags": flags})  # fmt: skip
    if kind == DisplayMsg.SURFACE_DESTROY:
        return Command("surface_destroy", {"surface_id": b.u32(0)})
    if kind == DisplayMsg.STREAM_CREATE:
        sid, stream_id, flags, codec, _stamp, sw, sh, srcw, srch = b.unpack(
            "IIBBQIIII", 0
        )
        dest = b.rect(34)
        clip, _ = b.clip(50)
        return Command("stream_create", {
            "stream_id": stream_id, "surface_id": sid, "flags": flags, "codec": codec,
            "stream_width": sw, "stream_height": sh, "src_width": srcw,
            "src_height": srch, "dest": dest, "clip": clip})  # fmt: skip
    if kind == DisplayMsg.STREAM_DATA:
        stream_id, mm_time, size = b.unpack("III", 0)
        return Command("stream_data", {"stream_id": stream_id, "mm_time": mm_time,
                                       "frame": b.blob(12, size)})  # fmt: skip
    if kind == DisplayMsg.STREAM_DATA_SIZED:
        stream_id, mm_time, w, h = b.unpack("IIII", 0)
        dest = b.rect(16)
        size = b.u32(32)
        return Command("stream_data", {"stream_id": stream_id, "mm_time": mm_time,
                                       "frame": b.blob(36, size), "width": w,
                                       "height": h, "dest": dest})  # fmt: skip
    if kind == DisplayMsg.STREAM_CLIP:
        clip, _ = b.clip(4)
        return Command("stream_clip", {"stream_id": b.u32(0), "clip": clip})
    if kind == DisplayMsg.STREAM_DESTROY:
        return Command("stream_destroy", {"stream_id": b.u32(0)})
    if kind == DisplayMsg.STREAM_DESTROY_ALL:
        return Command("stream_destroy_all")
    if kind == DisplayMsg.STREAM_ACTIVATE_REPORT:
        sid, uid, window, timeout = b.unpack("IIII", 0)
        return Command("stream_activate_report", {"stream_id": sid, "unique_id": uid,
                                                  "max_window_size": window,
                                                  "timeout_ms": timeout})  # fmt: skip
    if kind == DisplayMsg.INVAL_LIST:
        (n,) = b.unpack("H", 0)
        b.need(2, 9 * n)
        ids = [int(b.unpack("Q", 2 + 9 * i + 1)[0]) for i in range(n)
               if b.u8(2 + 9 * i) == 1]  # fmt: skip
        return Command("inval_list", {"image_ids": ids})
    if kind == DisplayMsg.INVAL_ALL_PIXMAPS:
        return Command("inval_all_pixmaps")
    if kind == DisplayMsg.INVAL_PALETTE:
        return Command("inval_palette", {"palette_id": int(b.unpack("Q", 0)[0])})
    if kind == DisplayMsg.INVAL_ALL_PALETTES:
        return Command("inval_all_palettes")
    if kind == DisplayMsg.RESET:
        return Command("reset")
    if kind == DisplayMsg.MARK:
        return Command("mark")
    if kind == DisplayMsg.MONITORS_CONFIG:
        count, _max_allowed = b.unpack("HH", 0)
        if count > MAX_ITEMS:
            raise WireError(f"{count} monitor heads")
        heads = [tuple(b.unpack("7I", 4 + 28 * i)) for i in range(count)]
        return Command("monitors_config", {"heads": heads})
    return None
