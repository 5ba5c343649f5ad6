"""The display canvas: surfaces by id and the core drawing commands.

Theory of operation: one ``Canvas`` per display channel. It owns that channel's
surfaces (0 is the primary) and palette cache, and shares a ``SharedState``
(pixmap cache + GLZ dictionary) with the session's other display channels. Every
draw first resolves its destination region (bbox ∩ surface ∩ clip ∩ mask), then
resolves its source images, which are decoded (and cached, and entered into the
GLZ dictionary) even when the region is empty, as spice-common's
``canvas_touch_image`` does. Semantics follow common/canvas_base.c and
common/sw_canvas.c; the rarer commands live in ``spicepy.canvas.draw_extra``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from spicepy.canvas.images import CachedImage, ImageResolver, PaletteCache, SharedState
from spicepy.canvas.region import Region, make_region, sample_scaled, tile_values
from spicepy.canvas.rop import SRC_IS_BRUSH, SRC_IS_IMAGE, Rop, apply_rop, ropd_to_rop
from spicepy.canvas.surface import Rect, Surface, SurfaceFormat, quantise
from spicepy.canvas.types import (
    BitmapFlags,
    Brush,
    BrushType,
    Image,
    ImageFlags,
    ImageType,
    MaskFlags,
    Point,
    QMask,
    ScaleMode,
)
from spicepy.errors import CanvasError

__all__ = ["Canvas", "Clip", "color_bytes", "MAX_SURFACES"]

log = logging.getLogger(__name__)
Pixels = npt.NDArray[np.uint8]
#: ``None`` for SPICE_CLIP_TYPE_NONE, else the clip rectangles (their union).
Clip = Sequence[Rect] | None

#: Surfaces a channel may hold at once (the server's limit is 10000 ids; a few
#: hundred in practice).
MAX_SURFACES = 10000
#: Total surface pixels per canvas (guards against many large off-screen surfaces).
MAX_TOTAL_PIXELS = 1 << 27


def color_bytes(color: int) -> Pixels:
    """An xRGB u32 colour as the 4 canvas bytes B, G, R, X."""
    return np.frombuffer(int(color & 0xFFFFFFFF).to_bytes(4, "little"), np.uint8).copy()


class Canvas:
    """Surfaces plus drawing commands for one display channel."""

    def __init__(self, shared: SharedState | None = None) -> None:
        self.shared = shared if shared is not None else SharedState()
        self.palettes = PaletteCache()
        self.images = ImageResolver(self.shared, self.palettes)
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
            CanvasError: bad size/format or too many surfaces.
        """
        if surface_id in self.surfaces:
            log.info("surface %d re-created", surface_id)
            self.destroy_surface(surface_id)
        if len(self.surfaces) >= MAX_SURFACES:
            raise CanvasError(f"too many surfaces ({len(self.surfaces)})")
        if width * height + self._total_pixels > MAX_TOTAL_PIXELS:
            raise CanvasError("surface memory limit reached")
        surface = Surface(surface_id, width, height, fmt, flags)
        self.surfaces[surface_id] = surface
        self._total_pixels += width * height
        return surface

    def destroy_surface(self, surface_id: int) -> None:
        """SURFACE_DESTROY; an unknown id raises CanvasError."""
        surface = self.surfaces.pop(surface_id, None)
        if surface is None:
            raise CanvasError(f"destroy of unknown surface {surface_id}")
        self._total_pixels -= surface.width * surface.height

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
        self._total_pixels = 0
        self.palettes.clear()

    # -- caches ---------------------------------------------------------------------

    def inval_list(self, image_ids: Sequence[int]) -> None:
        """INVAL_LIST (pixmap resources)."""
        for image_id in image_ids:
            self.shared.cache.remove(image_id)

    def inval_all_pixmaps(self) -> None:
        self.shared.cache.clear()

    def inval_palette(self, palette_id: int) -> None:
        self.palettes.remove(palette_id)

    def inval_all_palettes(self) -> None:
        self.palettes.clear()

    # -- helpers ---------------------------------------------------------------------

    def _region(
        self, surface: Surface, bbox: Rect, clip: Clip, mask: QMask | None
    ) -> Region | None:
        region = make_region(surface.bounds, bbox, clip)
        if mask is None or mask.bitmap is None:
            return region
        if mask.bitmap.type == ImageType.SURFACE and mask.bitmap.surface_id is not None:
            # an A1 (or any) surface as mask: its alpha decides (get_surface_mask)
            bits = self.surface(mask.bitmap.surface_id).pixels[..., 3] >= 0x80
        else:
            bits = self.images.get_mask(mask.bitmap)  # decoded (and cached) regardless
        if region is None:
            return None
        # mask pixel (mx, my) lands on (bbox.left + mx - pos.x, bbox.top + my - pos.y)
        ox, oy = bbox.left - mask.pos.x, bbox.top - mask.pos.y
        mh, mw = bits.shape
        inside = region.intersect(Rect(ox, oy, ox + mw, oy + mh))
        if inside is None:
            return None
        sub = bits[inside.y0 - oy : inside.y1 - oy, inside.x0 - ox : inside.x1 - ox]
        if mask.flags & MaskFlags.INVERS:
            sub = ~sub
        return inside.and_mask(sub)

    def source(self, image: Image, dest: Surface | None = None) -> CachedImage:
        """Pixels of an image (SURFACE images read the other surface).

        A SURFACE image naming the destination surface itself is copied first.
        """
        if image.type == ImageType.SURFACE:
            if image.surface_id is None:
                raise CanvasError("SURFACE image without a surface id")
            src = self.surface(image.surface_id)
            pixels = src.pixels if src is not dest else src.pixels.copy()
            return CachedImage(pixels, src.has_alpha)
        return self.images.get(image)

    def touch(self, image: Image | None) -> None:
        """Decode an image only for its side effects, as ``canvas_touch_image``:
        when it must be cached, enters the GLZ dictionary or caches a palette."""
        if image is None:
            return
        flags = image.flags
        if not (
            flags & (ImageFlags.CACHE_ME | ImageFlags.CACHE_REPLACE_ME)
            or image.type in (ImageType.GLZ_RGB, ImageType.ZLIB_GLZ_RGB)
            or (
                image.bitmap is not None
                and image.bitmap.flags & BitmapFlags.PAL_CACHE_ME
            )
            or image.lz_flags & BitmapFlags.PAL_CACHE_ME
        ):
            return
        if image.type in (ImageType.SURFACE, ImageType.FROM_CACHE,
                          ImageType.FROM_CACHE_LOSSLESS):  # fmt: skip
            return
        self.images.get(image)

    def _finish(self, surface: Surface, region: Region) -> None:
        self.pixels_drawn += region.width * region.height
        if surface.format not in (SurfaceFormat.FMT_32_xRGB, SurfaceFormat.FMT_32_ARGB):
            quantise(region.view(surface.pixels), surface.format)

    def brush_values(
        self, brush: Brush, region: Region, dest: Surface
    ) -> Pixels | None:
        """Brush pixels over ``region`` (a single pixel for solid brushes)."""
        if brush.type == BrushType.SOLID:
            return color_bytes(brush.color)
        if brush.type == BrushType.PATTERN:
            if brush.pattern is None:
                raise CanvasError("pattern brush without an image")
            tile = self.source(brush.pattern, dest).pixels
            return tile_values(tile, region, brush.pos.x, brush.pos.y)
        if brush.type == BrushType.NONE:
            return None
        raise CanvasError(f"unknown brush type {brush.type}")

    def draw_brush(
        self, surface: Surface, region: Region, brush: Brush, rop: Rop
    ) -> None:
        values = self.brush_values(brush, region, surface)
        if values is None:
            values = np.zeros(
                4, np.uint8
            )  # spice fills with colour 0 (a ROP may use dest)
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
        if src_area.width == bbox.width and src_area.height == bbox.height:
            dx, dy = bbox.left - src_area.left, bbox.top - src_area.top
            # spice_pixman_blit never reads outside the source image
            sub = region.intersect(Rect(dx, dy, dx + src.width, dy + src.height))
            if sub is None:
                return None
            values = src.pixels[sub.y0 - dy : sub.y1 - dy, sub.x0 - dx : sub.x1 - dx]
            return sub, values
        if src_area.is_empty() or bbox.is_empty():
            return None
        interpolate = scale_mode == ScaleMode.INTERPOLATE
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

    # -- draw commands ----------------------------------------------------------

    def fill(
        self,
        surface_id: int,
        bbox: Rect,
        clip: Clip,
        brush: Brush,
        rop_descriptor: int,
        mask: QMask | None = None,
    ) -> None:
        """DRAW_FILL."""
        surface = self.surface(surface_id)
        region = self._region(surface, bbox, clip, mask)
        rop = ropd_to_rop(rop_descriptor, SRC_IS_BRUSH)
        if region is None or rop == Rop.NOOP:
            if brush.type == BrushType.PATTERN:
                self.touch(brush.pattern)
            return
        self.draw_brush(surface, region, brush, rop)
        self._finish(surface, region)

    def copy(
        self,
        surface_id: int,
        bbox: Rect,
        clip: Clip,
        image: Image,
        src_area: Rect,
        rop_descriptor: int,
        scale_mode: int = ScaleMode.NEAREST,
        mask: QMask | None = None,
    ) -> None:
        """DRAW_COPY (and DRAW_BLEND, which spice-common draws the same way)."""
        surface = self.surface(surface_id)
        region = self._region(surface, bbox, clip, mask)
        rop = ropd_to_rop(rop_descriptor, SRC_IS_IMAGE)
        if region is None or rop == Rop.NOOP:
            self.touch(image)
            return
        src = self.source(image, surface)
        got = self._image_values(src, src_area, bbox, region, scale_mode)
        if got is None:
            return
        region, values = got
        scaled = src_area.width != bbox.width or src_area.height != bbox.height
        if rop == Rop.COPY:
            values = self._opaque_alpha(surface, src, values, scaled)
            region.write(surface.pixels, values)
        else:
            dest = region.view(surface.pixels)
            region.write(surface.pixels, apply_rop(rop, values, dest))
        self._finish(surface, region)

    blend = copy

    def opaque(
        self,
        surface_id: int,
        bbox: Rect,
        clip: Clip,
        image: Image,
        src_area: Rect,
        brush: Brush,
        rop_descriptor: int,
        scale_mode: int = ScaleMode.NEAREST,
        mask: QMask | None = None,
    ) -> None:
        """DRAW_OPAQUE: copy the image, then apply the brush with the ROP (brush vs the
        just-copied source), as canvas_draw_opaque does."""
        surface = self.surface(surface_id)
        region = self._region(surface, bbox, clip, mask)
        rop = ropd_to_rop(rop_descriptor, SRC_IS_BRUSH, dest_is_image=True)
        if region is None or rop == Rop.NOOP:
            self.touch(image)
            if brush.type == BrushType.PATTERN:
                self.touch(brush.pattern)
            return
        src = self.source(image, surface)
        got = self._image_values(src, src_area, bbox, region, scale_mode)
        if got is not None:
            sub, values = got
            scaled = src_area.width != bbox.width or src_area.height != bbox.height
            sub.write(surface.pixels, self._opaque_alpha(surface, src, values, scaled))
        self.draw_brush(surface, region, brush, rop)
        self._finish(surface, region)

    def _fill_const(
        self, surface_id: int, bbox: Rect, clip: Clip, mask: QMask | None, rop: Rop
    ) -> None:
        surface = self.surface(surface_id)
        region = self._region(surface, bbox, clip, mask)
        if region is None:
            return
        dest = region.view(surface.pixels)
        region.write(surface.pixels, apply_rop(rop, np.zeros(4, np.uint8), dest))
        self._finish(surface, region)

    def blackness(
        self, surface_id: int, bbox: Rect, clip: Clip, mask: QMask | None = None
    ) -> None:
        """DRAW_BLACKNESS: every bit 0 (colour 0x000000, X byte included)."""
        self._fill_const(surface_id, bbox, clip, mask, Rop.CLEAR)

    def whiteness(
        self, surface_id: int, bbox: Rect, clip: Clip, mask: QMask | None = None
    ) -> None:
        """DRAW_WHITENESS: colour 0xffffffff."""
        self._fill_const(surface_id, bbox, clip, mask, Rop.SET)

    def invers(
        self, surface_id: int, bbox: Rect, clip: Clip, mask: QMask | None = None
    ) -> None:
        """DRAW_INVERS: dest = ~dest."""
        self._fill_const(surface_id, bbox, clip, mask, Rop.INVERT)

    def copy_bits(
        self, surface_id: int, bbox: Rect, clip: Clip, src_pos: Point
    ) -> None:
        """COPY_BITS: move a block within one surface (overlap-safe)."""
        surface = self.surface(surface_id)
        region = make_region(surface.bounds, bbox, clip)
        dx, dy = bbox.left - src_pos.x, bbox.top - src_pos.y
        if region is None or (dx == 0 and dy == 0):
            return
        # never read outside the surface (canvas_copy_bits)
        region = region.intersect(Rect(dx, dy, dx + surface.width, dy + surface.height))
        if region is None:
            return
        values = surface.pixels[
            region.y0 - dy : region.y1 - dy, region.x0 - dx : region.x1 - dx
        ]
        region.write(surface.pixels, values.copy())
        self._finish(surface, region)

    def put_image(
        self, surface_id: int, dest: Rect, pixels: Pixels, clip: Clip = None
    ) -> None:
        """Write ready pixels scaled to ``dest`` (video frames), clipped."""
        surface = self.surface(surface_id)
        region = make_region(surface.bounds, dest, clip)
        if region is None:
            return
        h, w = pixels.shape[:2]
        src = CachedImage(pixels, False)
        got = self._image_values(src, Rect(0, 0, w, h), dest, region, ScaleMode.NEAREST)
        if got is None:
            return
        sub, values = got
        sub.write(surface.pixels, self._opaque_alpha(surface, src, values, True))
        self._finish(surface, sub)
