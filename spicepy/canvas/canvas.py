"""The display canvas: surfaces by id and the core drawing commands.

Theory of operation: one ``Canvas`` per display channel. It owns that channel's
surfaces (0 is the primary) and palette cache, and shares a ``SharedState``
(pixmap cache + GLZ dictionary) with the session's other display channels. Every
draw first resolves its destination region (bbox ∩ surface ∩ clip ∩ mask), then
resolves its source images, which are decoded (and cached, and entered into the
GLZ dictionary) even when the region is empty, as spice-common's
``canvas_touch_image`` does. Semantics follow common/canvas_base.c and
common/sw_canvas.c; the rarer draws live in ``draw_blend`` and ``draw_lines``.
Every draw takes its ``spicepy.wire.msg_display`` message as it was decoded
(``msg.base``: surface, bbox, clip; ``msg.data``: the draw's body).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import numpy.typing as npt

from spicepy.canvas import kernels
from spicepy.canvas.images import CachedImage, ImageResolver, PaletteCache, SharedState
from spicepy.canvas.region import (
    Region,
    clip_box,
    make_region,
    sample_scaled,
    tile_values,
)
from spicepy.canvas.rop import SRC_IS_BRUSH, SRC_IS_IMAGE, Rop, apply_rop, ropd_to_rop
from spicepy.canvas.surface import Surface, SurfaceFormat, quantise
from spicepy.errors import CanvasError
from spicepy.wire import msg_display as md
from spicepy.wire.enums import (
    BitmapFlags,
    BrushType,
    ImageFlags,
    ImageScaleMode,
    ImageType,
    MaskFlags,
)
from spicepy.wire.types import Brush, Clip, Image, QMask, Rect

__all__ = ["Canvas", "color_bytes", "MAX_SURFACES"]

log = logging.getLogger(__name__)
Pixels = npt.NDArray[np.uint8]
#: Images whose decode has side effects even when nothing is drawn (GLZ window).
_GLZ_TYPES = frozenset({ImageType.GLZ_RGB, ImageType.ZLIB_GLZ_RGB})
_SURFACE, _FROM_CACHE = ImageType.SURFACE, ImageType.FROM_CACHE
_FROM_CACHE_LOSSLESS = ImageType.FROM_CACHE_LOSSLESS
#: descriptor flags of an image a cache keeps (decoded even when nothing is drawn)
_KEPT = int(ImageFlags.CACHE_ME | ImageFlags.CACHE_REPLACE_ME)
_NOT_DECODED = (_SURFACE, _FROM_CACHE, _FROM_CACHE_LOSSLESS)
_ZERO = np.zeros(4, np.uint8)
_ZERO.flags.writeable = False
# (an enum class attribute is a slow lookup: __getattr__ on the enum's class)
_COPY, _NOOP, _SOLID = Rop.COPY, Rop.NOOP, BrushType.SOLID
#: ``ropd_to_rop(desc, SRC_IS_IMAGE / SRC_IS_BRUSH)`` by descriptor (a u16:
#: bounded); a dict lookup instead of functools.cache's key tuple
_IMAGE_ROPS: dict[int, Rop] = {}
_BRUSH_ROPS: dict[int, Rop] = {}

#: Surfaces a channel may hold at once (the server's limit is 10000 ids; a few
#: hundred in practice).
MAX_SURFACES = 10000
#: Total surface pixels per canvas (guards against many large off-screen surfaces).
MAX_TOTAL_PIXELS = 1 << 27


def color_bytes(color: int) -> Pixels:
    """An xRGB u32 colour as the 4 canvas bytes B, G, R, X (a read-only array)."""
    value = color & 0xFFFFFFFF
    cached = _COLORS.get(value)
    if cached is None:
        if len(_COLORS) >= MAX_CACHED_COLORS:  # a desktop uses a few dozen
            _COLORS.clear()
        cached = np.frombuffer(value.to_bytes(4, "little"), np.uint8)
        _COLORS[value] = cached
    return cached


_COLORS: dict[int, Pixels] = {}
MAX_CACHED_COLORS = 4096


class Canvas:
    """Surfaces plus drawing commands for one display channel."""

    def __init__(self, shared: SharedState | None = None) -> None:
        self.shared = shared if shared is not None else SharedState()
        self.palettes = PaletteCache()
        self.images = ImageResolver(self.shared, self.palettes)
        #: the pixmap cache's entries (DRAW_COPY reads them without a call)
        self._cached = self.shared.cache.entries
        self.surfaces: dict[int, Surface] = {}
        self._total_pixels = 0
        #: monitors as sent by MONITORS_CONFIG: (id, surface_id, w, h, x, y, flags)
        self.monitors: list[tuple[int, ...]] = []
        #: destination pixels written so far (for the replay benchmark)
        self.pixels_drawn = 0

    # -- surfaces -------------------------------------------------------------------

    def create_surface(
        self, surface_id: int, width: int, height: int, fmt: int, flags: int = 0
    ) -> Surface:
        """SURFACE_CREATE. Re-creating an existing id replaces it.

        Raises:
            CanvasError: bad size/format or too many surfaces (a refused create
                leaves the surfaces as they were).
        """
        old = self.surfaces.get(surface_id)
        count = len(self.surfaces) - (old is not None)
        if count >= MAX_SURFACES:
            raise CanvasError(f"too many surfaces ({len(self.surfaces)})")
        kept = self._total_pixels - (old.width * old.height if old is not None else 0)
        if width * height + kept > MAX_TOTAL_PIXELS:
            raise CanvasError("surface memory limit reached")
        surface = Surface(surface_id, width, height, fmt, flags)  # validates
        # every display channel's surfaces together: the session's byte budget
        # (checked once the size is valid; np.zeros has touched no page yet)
        shared = self.shared
        shared.check_surfaces(4 * (self._total_pixels - kept), 4 * width * height)
        if old is not None:
            log.info("surface %d re-created", surface_id)
        self.surfaces[surface_id] = surface
        shared.surface_bytes += 4 * (kept + width * height - self._total_pixels)
        self._total_pixels = kept + width * height
        return surface

    def destroy_surface(self, surface_id: int) -> None:
        """SURFACE_DESTROY; an unknown id raises CanvasError."""
        surface = self.surfaces.pop(surface_id, None)
        if surface is None:
            raise CanvasError(f"destroy of unknown surface {surface_id}")
        self._total_pixels -= surface.width * surface.height
        self.shared.surface_bytes -= 4 * surface.width * surface.height

    def surface(self, surface_id: int) -> Surface:
        try:
            return self.surfaces[surface_id]
        except KeyError:
            raise CanvasError(f"unknown surface {surface_id}") from None

    @property
    def primary(self) -> Surface | None:
        return self.surfaces.get(0)

    def reset(self) -> None:
        """RESET: clear the primary and the palette cache (spice-gtk
        ``display_handle_reset``); other surfaces stay."""
        if 0 in self.surfaces:
            self.surfaces[0].clear()
        self.palettes.clear()

    def destroy_all(self) -> None:
        """Drop every surface (channel teardown)."""
        self.surfaces.clear()
        self.shared.surface_bytes -= 4 * self._total_pixels
        self._total_pixels = 0
        self.palettes.clear()

    # -- caches ---------------------------------------------------------------------

    def inval_list(self, msg: md.InvalList) -> None:
        """INVAL_LIST: resource type 1 is a pixmap (spice.proto ``ResourceID``);
        no other type is in use."""
        for resource in msg.resources:
            if resource.type == 1:
                self.shared.cache.remove(resource.id)

    def inval_all_pixmaps(self, msg: md.InvalAllPixmaps | None = None) -> None:
        self.shared.cache.clear()

    def inval_palette(self, msg: md.InvalPalette) -> None:
        self.palettes.remove(msg.id)

    def inval_all_palettes(self, msg: md.InvalAllPalettes | None = None) -> None:
        self.palettes.clear()

    # -- helpers ---------------------------------------------------------------------

    def _region(self, surface: Surface, base: Any, mask: QMask | None) -> Region | None:
        """bbox ∩ surface ∩ clip ∩ mask of a draw's ``base`` (``DisplayBase``)."""
        bbox = base.box
        region = make_region(surface.width, surface.height, bbox, base.clip)
        if mask is None or mask.bitmap is None:
            return region
        image = mask.bitmap
        if image.surface is not None:
            # an A1 (or any) surface as mask: its alpha decides (get_surface_mask)
            bits = self.surface(image.surface.surface_id).pixels[..., 3] >= 0x80
        else:
            bits = self.images.get_mask(image)  # decoded (and cached) regardless
        if region is None:
            return None
        # mask pixel (mx, my) lands on (bbox.left + mx - pos.x, bbox.top + my - pos.y)
        ox, oy = bbox.left - mask.pos.x, bbox.top - mask.pos.y
        mh, mw = bits.shape
        inside = region.cut(ox, oy, ox + mw, oy + mh)
        if inside is None:
            return None
        sub = bits[inside.y0 - oy : inside.y1 - oy, inside.x0 - ox : inside.x1 - ox]
        if mask.flags & MaskFlags.INVERS:
            sub = ~sub
        return inside.and_mask(sub)

    def source(self, image: Image | None, dest: Surface | None = None) -> CachedImage:
        """Pixels of a draw's source image (SURFACE images read the other surface).

        A SURFACE image naming the destination surface itself is copied first.

        Raises:
            CanvasError: a NULL image, unknown surface or undecodable image.
        """
        if image is None:
            raise CanvasError("draw with a NULL source image")
        ref = image.surface
        if ref is not None:
            src = self.surface(ref.surface_id)
            pixels = src.pixels if src is not dest else src.pixels.copy()
            return CachedImage(pixels, src.has_alpha)
        return self.images.get(image)

    def touch(self, image: Image | None) -> None:
        """Decode an image only for its side effects, as ``canvas_touch_image``:
        when it must be cached, enters the GLZ dictionary or caches a palette."""
        if image is None:
            return
        d = image.descriptor
        if d.type in _NOT_DECODED:
            return
        bitmap, lz_plt = image.bitmap, image.lz_plt
        if (
            d.flags & (ImageFlags.CACHE_ME | ImageFlags.CACHE_REPLACE_ME)
            or d.type in _GLZ_TYPES
            or (bitmap is not None and bitmap.flags & BitmapFlags.PAL_CACHE_ME)
            or (lz_plt is not None and lz_plt.flags & BitmapFlags.PAL_CACHE_ME)
        ):
            self.images.get(image)

    def touch_brush(self, brush: Brush) -> None:
        if brush.pattern is not None:
            self.touch(brush.pattern.pat)

    def _finish(self, surface: Surface, region: Region) -> None:
        self.pixels_drawn += (region.x1 - region.x0) * (region.y1 - region.y0)
        if surface.quantised:
            quantise(region.view(surface.pixels), surface.format)

    def brush_values(
        self, brush: Brush, region: Region, dest: Surface, dx: int = 0, dy: int = 0
    ) -> Pixels | None:
        """Brush pixels over ``region`` (a single pixel for solid brushes); a
        pattern is shifted by (dx, dy) more than its own position.

        Raises:
            CanvasError: an unknown brush type.
        """
        kind = brush.type
        if kind == BrushType.SOLID:
            return color_bytes(brush.color or 0)
        if kind == BrushType.PATTERN and brush.pattern is not None:
            pattern = brush.pattern
            tile = self.source(pattern.pat, dest).pixels
            return tile_values(tile, region, pattern.pos.x + dx, pattern.pos.y + dy)
        if kind == BrushType.NONE:
            return None
        raise CanvasError(f"unknown brush type {kind}")

    def brush_args(
        self, brush: Brush, dest: Surface, dx: int = 0, dy: int = 0
    ) -> tuple[int, Pixels | None, int, int]:
        """(color, tile, tile_x, tile_y) of a brush for ``kernels``; NONE is
        colour 0 (spice fills with it); a pattern is shifted by (dx, dy).

        Raises:
            CanvasError: an unknown brush type.
        """
        kind = brush.type
        if kind == _SOLID:
            return brush.color or 0, None, 0, 0
        if kind == BrushType.PATTERN and brush.pattern is not None:
            pattern = brush.pattern
            tile = self.source(pattern.pat, dest).pixels
            return 0, tile, pattern.pos.x + dx, pattern.pos.y + dy
        if kind == BrushType.NONE:
            return 0, None, 0, 0
        raise CanvasError(f"unknown brush type {kind}")

    def draw_brush(
        self, surface: Surface, region: Region, brush: Brush, rop: Rop
    ) -> None:
        """dest = rop(brush, dest) over the region, in ``kernels.fill`` unless
        a QMask shapes it: numpy broadcasts a 4-byte colour slowly (a 1024x768
        COPY fill ~10 ms against ~0.1 ms; 1.1 against 0.9 us at 8x16)."""
        if region.mask is None:
            color, tile, tx, ty = self.brush_args(brush, surface)
            box = ((region.x0, region.y0, region.x1, region.y1),)
            kernels.fill(surface.pixels, box, rop, color, tile, tx, ty)
            return
        values = self.brush_values(brush, region, surface)
        if values is None:
            values = _ZERO  # spice fills with colour 0 (a ROP may use dest)
        if rop == Rop.COPY:
            region.write(surface.pixels, values)
        else:
            dest = region.view(surface.pixels)
            region.write(surface.pixels, apply_rop(rop, values, dest))

    def _image_values(
        self,
        src: CachedImage,
        src_area: Rect,
        bbox: Rect,
        region: Region,
        scale_mode: int,
    ) -> tuple[Region, Pixels] | None:
        """Source pixels for the region: blit when sizes match, else scaled."""
        sw, sh = src_area.right - src_area.left, src_area.bottom - src_area.top
        bw, bh = bbox.right - bbox.left, bbox.bottom - bbox.top
        if sw == bw and sh == bh:
            dx, dy = bbox.left - src_area.left, bbox.top - src_area.top
            # spice_pixman_blit never reads outside the source image
            sub = region.cut(dx, dy, dx + src.width, dy + src.height)
            if sub is None:
                return None
            values = src.pixels[sub.y0 - dy : sub.y1 - dy, sub.x0 - dx : sub.x1 - dx]
            return sub, values
        if sw <= 0 or sh <= 0 or bw <= 0 or bh <= 0:
            return None
        interpolate = scale_mode == ImageScaleMode.INTERPOLATE
        return region, sample_scaled(src.pixels, src_area, bbox, region, interpolate)

    @staticmethod
    def _opaque_alpha(
        surface: Surface, src: CachedImage, values: Pixels, converted: bool
    ) -> Pixels:
        """Alpha of an alpha-less source landing on a surface with alpha.

        Same-size blits onto 32-bit surfaces copy the raw bits, X byte included
        (spice_pixman_blit; HIGH_BITS_SET exists for that). Scaled draws and
        video frames go through pixman's format conversion (``converted``), as
        do A8/A1 targets, which make such a source opaque.
        """
        if surface.has_alpha and not src.has_alpha:
            if converted or surface.format not in (
                SurfaceFormat.FMT_32_ARGB,
                SurfaceFormat.FMT_32_xRGB,
            ):
                values = values.copy()
                values[..., 3] = 0xFF
        return values

    @staticmethod
    def source_box(
        region: Region, dx: int, dy: int, src: Pixels
    ) -> tuple[int, int, int, int] | None:
        """An unmasked region cut to a same-size source placed at (dx, dy)
        (spice_pixman_blit never reads outside the source image), or None."""
        sh, sw = src.shape[:2]
        x0 = region.x0 if region.x0 > dx else dx
        y0 = region.y0 if region.y0 > dy else dy
        x1 = region.x1 if region.x1 < dx + sw else dx + sw
        y1 = region.y1 if region.y1 < dy + sh else dy + sh
        if x1 <= x0 or y1 <= y0:
            return None
        return x0, y0, x1, y1

    def _blit(
        self,
        surface: Surface,
        region: Region,
        src: Pixels,
        src_alpha: bool,
        dx: int,
        dy: int,
        rop: Rop,
    ) -> tuple[int, int, int, int] | None:
        """rop(source, dest) of a same-size source over an unmasked region in
        ``kernels.blit`` (a numpy slice costs more from glyph size up to a
        window move); returns the box drawn. The opaque flag is
        ``_opaque_alpha`` for a same-size COPY."""
        box = self.source_box(region, dx, dy, src)
        if box is None:
            return None
        opaque = rop == _COPY and surface.opaque_copy and not src_alpha
        kernels.blit(surface.pixels, (box,), src, dx, dy, rop, opaque)
        return box

    def _finish_box(self, surface: Surface, box: tuple[int, int, int, int]) -> None:
        """``_finish`` of an unmasked box."""
        x0, y0, x1, y1 = box
        self.pixels_drawn += (x1 - x0) * (y1 - y0)
        if surface.quantised:
            quantise(surface.pixels[y0:y1, x0:x1], surface.format)

    # -- draw commands ----------------------------------------------------------

    def fill(self, msg: md.DrawFill) -> None:
        """DRAW_FILL (clipped to one rectangle without a QMask: ``kernels.fill``
        on the box, without a ``Region``)."""
        d, base = msg.data, msg.base
        surface = self.surface(base.surface_id)
        brush = d.brush
        if brush.type == _SOLID and d.mask.bitmap is None and not surface.quantised:
            desc = d.rop_descriptor
            rop = _BRUSH_ROPS.get(desc)
            if rop is None:
                rop = _BRUSH_ROPS[desc] = ropd_to_rop(desc, SRC_IS_BRUSH)
            if rop != _NOOP:  # (a NOOP still checks the clip below)
                drawn = kernels.fill_clipped(
                    surface.pixels, base.box, base.clip, rop, brush.color or 0
                )
                if drawn >= 0:
                    self.pixels_drawn += drawn
                    return
        rects = base.clip.rects
        box = region = None
        if d.mask.bitmap is None and (rects is None or len(rects) < 2):
            box = clip_box(surface.width, surface.height, base.box, base.clip)
        else:
            region = self._region(surface, base, d.mask)
        desc = d.rop_descriptor
        rop = _BRUSH_ROPS.get(desc)
        if rop is None:
            rop = _BRUSH_ROPS[desc] = ropd_to_rop(desc, SRC_IS_BRUSH)
        if (box is None and region is None) or rop == _NOOP:
            self.touch_brush(d.brush)
            return
        if box is not None:
            if not surface.quantised:
                color, tile, tx, ty = self.brush_args(d.brush, surface)
                kernels.fill(surface.pixels, (box,), rop, color, tile, tx, ty)
                x0, y0, x1, y1 = box
                self.pixels_drawn += (x1 - x0) * (y1 - y0)
                return
            region = Region(*box, None)
        assert region is not None
        self.draw_brush(surface, region, d.brush, rop)
        self._finish(surface, region)

    def copy(self, msg: md.DrawCopy | md.DrawBlend) -> None:
        """DRAW_COPY (and DRAW_BLEND, which spice-common draws the same way).

        Same-size draws clipped to one rectangle without a QMask (most of what a
        desktop sends) are one ``kernels.copy_clipped`` call, which clips and
        draws, once the source is at hand: a cache entry or a surface that is
        there (resolving it has no side effect and cannot fail), or a fresh
        image that ``touch`` would decode whatever the clip leaves (one a cache
        keeps, or a GLZ one), which is resolved first.  The others go to
        ``kernels.blit`` on their clip box (an uncached image may decode
        straight into the surface: ``ImageResolver.copy_onto``), or to numpy
        when scaled, QMasked or clipped to several rectangles.
        """
        d, base = msg.data, msg.base
        surface = self.surfaces.get(base.surface_id)
        if surface is None:
            raise CanvasError(f"unknown surface {base.surface_id}")
        image = d.src_bitmap
        #: the source image, once ``images.get`` has resolved it (at most once)
        resolved: CachedImage | None = None
        if image is not None and d.mask.bitmap is None and not surface.quantised:
            descriptor = image.descriptor
            kind = descriptor.type
            src: Any = None
            if kind == _FROM_CACHE or kind == _FROM_CACHE_LOSSLESS:
                src = self._cached.get(descriptor.id)
            elif kind == _SURFACE:
                if image.surface is not None:
                    src = self.surfaces.get(image.surface.surface_id)
            elif descriptor.flags & _KEPT or kind in _GLZ_TYPES:
                src = resolved = self.images.get(image)
            if src is not None:
                rop = _IMAGE_ROPS.get(d.rop_descriptor)
                if rop is None:
                    rop = _IMAGE_ROPS[d.rop_descriptor] = ropd_to_rop(
                        d.rop_descriptor, SRC_IS_IMAGE
                    )
                if rop != _NOOP:
                    drawn = kernels.copy_clipped(
                        surface.pixels,
                        base.box,
                        base.clip,
                        src.pixels,
                        d.src_area,
                        rop,
                        rop == _COPY and surface.opaque_copy and not src.has_alpha,
                    )
                    if drawn >= 0:
                        self.pixels_drawn += drawn
                        return
        mask = d.mask
        clip = base.clip
        rects = clip.rects
        box = region = None
        if mask.bitmap is not None:
            region = self._region(surface, base, mask)
        elif rects is None or len(rects) < 2:
            box = clip_box(surface.width, surface.height, base.box, clip)
        else:
            region = make_region(surface.width, surface.height, base.box, clip)
        if image is None:
            raise CanvasError("draw with a NULL source image")
        desc = d.rop_descriptor
        rop = _IMAGE_ROPS.get(desc)
        if rop is None:
            rop = _IMAGE_ROPS[desc] = ropd_to_rop(desc, SRC_IS_IMAGE)
        if (box is None and region is None) or rop == _NOOP:
            if resolved is None:
                self.touch(image)
            return
        bbox, src_area = base.box, d.src_area
        same = (
            src_area.right - src_area.left == bbox.right - bbox.left
            and src_area.bottom - src_area.top == bbox.bottom - bbox.top
        )
        if box is not None:
            if same and not surface.quantised:
                # the kernel reads a source that is the destination as it was
                ref = image.surface
                dx, dy = bbox.left - src_area.left, bbox.top - src_area.top
                if ref is None:
                    # (never an image resolved above: copy_clipped drew those)
                    if rop == _COPY:  # an uncached image may decode in place
                        drawn = self.images.copy_onto(
                            image, surface.pixels, box, dx, dy
                        )
                        if drawn >= 0:
                            self.pixels_drawn += drawn
                            return
                    cached = self.images.get(image)
                    pixels, has_alpha = cached.pixels, cached.has_alpha
                else:
                    other = self.surface(ref.surface_id)
                    pixels, has_alpha = other.pixels, other.has_alpha
                opaque = rop == _COPY and surface.opaque_copy and not has_alpha
                self.pixels_drawn += kernels.blit(
                    surface.pixels, (box,), pixels, dx, dy, rop, opaque
                )
                return
            region = Region(*box, None)
        assert region is not None
        if same and region.mask is None:
            src = resolved if resolved is not None else self.source(image)
            dx, dy = bbox.left - src_area.left, bbox.top - src_area.top
            blitted = self._blit(
                surface, region, src.pixels, src.has_alpha, dx, dy, rop
            )
            if blitted is not None:
                self._finish_box(surface, blitted)
            return
        src = resolved if resolved is not None else self.source(image, surface)
        got = self._image_values(src, src_area, bbox, region, d.scale_mode)
        if got is None:
            return
        region, values = got
        if rop == Rop.COPY:
            values = self._opaque_alpha(surface, src, values, not same)
            region.write(surface.pixels, values)
        else:
            dest = region.view(surface.pixels)
            region.write(surface.pixels, apply_rop(rop, values, dest))
        self._finish(surface, region)

    blend = copy

    def opaque(self, msg: md.DrawOpaque) -> None:
        """DRAW_OPAQUE: copy the image, then apply the brush with the ROP (brush vs the
        just-copied source), as canvas_draw_opaque does."""
        d, base = msg.data, msg.base
        surface = self.surface(base.surface_id)
        region = self._region(surface, base, d.mask)
        rop = ropd_to_rop(d.rop_descriptor, SRC_IS_BRUSH, dest_is_image=True)
        if region is None or rop == Rop.NOOP:
            if d.src_bitmap is None:
                raise CanvasError("draw with a NULL source image")
            self.touch(d.src_bitmap)
            self.touch_brush(d.brush)
            return
        bbox, src_area = base.box, d.src_area
        scaled = src_area.width != bbox.width or src_area.height != bbox.height
        if not scaled and region.mask is None:
            src = self.source(d.src_bitmap)  # the kernel reads dest as it was
            dx, dy = bbox.left - src_area.left, bbox.top - src_area.top
            self._blit(surface, region, src.pixels, src.has_alpha, dx, dy, Rop.COPY)
        else:
            src = self.source(d.src_bitmap, surface)
            got = self._image_values(src, src_area, bbox, region, d.scale_mode)
            if got is not None:
                sub, values = got
                values = self._opaque_alpha(surface, src, values, scaled)
                sub.write(surface.pixels, values)
        self.draw_brush(surface, region, d.brush, rop)
        self._finish(surface, region)

    def _fill_const(self, msg: Any, rop: Rop) -> None:
        surface = self.surface(msg.base.surface_id)
        region = self._region(surface, msg.base, msg.data.mask)
        if region is None:
            return
        if region.mask is None:
            box = ((region.x0, region.y0, region.x1, region.y1),)
            kernels.fill(surface.pixels, box, rop, 0)
        else:
            dest = region.view(surface.pixels)
            region.write(surface.pixels, apply_rop(rop, _ZERO, dest))
        self._finish(surface, region)

    def blackness(self, msg: md.DrawBlackness) -> None:
        """DRAW_BLACKNESS: every bit 0 (colour 0x000000, X byte included)."""
        self._fill_const(msg, Rop.CLEAR)

    def whiteness(self, msg: md.DrawWhiteness) -> None:
        """DRAW_WHITENESS: colour 0xffffffff."""
        self._fill_const(msg, Rop.SET)

    def invers(self, msg: md.DrawInvers) -> None:
        """DRAW_INVERS: dest = ~dest."""
        self._fill_const(msg, Rop.INVERT)

    def copy_bits(self, msg: md.CopyBits) -> None:
        """COPY_BITS: move a block within one surface (overlap-safe)."""
        base, src_pos = msg.base, msg.src_pos
        surface = self.surface(base.surface_id)
        pixels = surface.pixels
        dx, dy = base.box.left - src_pos.x, base.box.top - src_pos.y
        rects = base.clip.rects
        if not surface.quantised:
            if dx or dy:  # one rectangle: moved in place, row by row
                drawn = kernels.blit_clipped(
                    pixels, base.box, base.clip, pixels, dx, dy, _COPY
                )
                if drawn >= 0:
                    self.pixels_drawn += drawn
                    return
            elif rects is None or len(rects) < 2:  # refuses an unknown clip type
                clip_box(surface.width, surface.height, base.box, base.clip)
                return
        region = make_region(surface.width, surface.height, base.box, base.clip)
        if region is None or (dx == 0 and dy == 0):
            return
        if region.mask is None:  # moved in place, row by row (kernels.blit)
            box = self._blit(
                surface, region, pixels, surface.has_alpha, dx, dy, Rop.COPY
            )
            if box is not None:
                self._finish_box(surface, box)
            return
        # never read outside the surface (canvas_copy_bits)
        region = region.cut(dx, dy, dx + surface.width, dy + surface.height)
        if region is None:
            return
        values = pixels[
            region.y0 - dy : region.y1 - dy, region.x0 - dx : region.x1 - dx
        ]
        region.write(pixels, values.copy())
        self._finish(surface, region)

    def put_image(
        self, surface_id: int, dest: Rect, pixels: Pixels, clip: Clip
    ) -> None:
        """Write ready pixels scaled to ``dest`` (video frames), clipped."""
        surface = self.surface(surface_id)
        region = make_region(surface.width, surface.height, dest, clip)
        if region is None:
            return
        h, w = pixels.shape[:2]
        src = CachedImage(pixels, False)
        whole = Rect(0, 0, h, w)  # top, left, bottom, right
        got = self._image_values(src, whole, dest, region, ImageScaleMode.NEAREST)
        if got is None:
            return
        sub, values = got
        sub.write(surface.pixels, self._opaque_alpha(surface, src, values, True))
        self._finish(surface, sub)
