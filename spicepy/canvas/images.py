"""Image resolution and the caches shared by a session's display channels.

``SharedState`` is what spice-gtk keeps in the session: the pixmap cache (keyed by
image descriptor id) and the GLZ dictionary, used by every display channel with
the same cache id. ``PaletteCache`` is per channel. ``ImageResolver.get`` follows
spice-common's ``canvas_get_image_internal`` (common/canvas_base.c): decode,
honour HIGH_BITS_SET, store on CACHE_ME, replace a lossy entry on
CACHE_REPLACE_ME, and read FROM_CACHE / FROM_CACHE_LOSSLESS.
``ImageResolver.copy_onto`` is the one draw that needs no image array: an
image no cache keeps, copied 1:1 over whole surface rows (the first
full-screen picture of a session), decodes straight into those rows.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from time import perf_counter as _perf_counter
from typing import Any

import numpy as np
import numpy.typing as npt

from spicepy.canvas.bitmap import bitmap_bits, bitmap_to_pixels
from spicepy.canvas.pixelmem import MIN_PIXELS, PixelArena
from spicepy.canvas.surface import MAX_SURFACE_DIMENSION, MAX_SURFACE_PIXELS
from spicepy.codecs import glz
from spicepy.codecs.image import decode_pixels
from spicepy.errors import CanvasError, LimitExceededError, SpiceError
from spicepy.limits import DEFAULT_LIMITS, Limits
from spicepy.wire.enums import BitmapFlags, ImageFlags, ImageType, JpegAlphaFlags
from spicepy.wire.types import Image, ImageDescriptor, Palette

__all__ = [
    "ImageNotReady",
    "CachedImage",
    "ImageResolver",
    "PaletteCache",
    "SharedState",
    "DEFAULT_CACHE_PIXELS",
    "DEFAULT_GLZ_WINDOW",
]

log = logging.getLogger(__name__)
Pixels = npt.NDArray[np.uint8]

#: spice-gtk's pixmap cache size (80 MiB of 32-bit pixels), in pixels (the
#: budget itself is ``Limits.image_cache``, in bytes).
DEFAULT_CACHE_PIXELS = DEFAULT_LIMITS.image_cache // 4
#: GLZ window (pixels) we announce in DISPLAY_INIT, as spice-gtk's lower bound.
DEFAULT_GLZ_WINDOW = 12 * 1024 * 1024 // 4
#: Palette cache entries kept per channel.
MAX_PALETTES = 4096


class ImageNotReady(CanvasError):
    """A FROM_CACHE id or a GLZ reference is not there (yet).

    Another display channel of the session may still deliver it: a live session
    can hold this channel's message and retry it (PROTOCOL.md section 6,
    "Caches"); ``image_id`` names what is missing, ``glz`` tells which store.
    """

    def __init__(self, message: str, image_id: int, glz: bool = False) -> None:
        super().__init__(message)
        self.image_id = image_id
        self.glz = glz


@dataclass(slots=True)
class CachedImage:
    """A decoded image: top-down (h, w, 4) BGRX/BGRA ``pixels``.

    ``mask`` is set for 1 bpp masks (True = inside the mask).
    """

    pixels: Pixels
    has_alpha: bool
    lossy: bool = False
    mask: npt.NDArray[np.bool_] | None = None

    @property
    def width(self) -> int:
        return int((self.mask if self.mask is not None else self.pixels).shape[1])

    @property
    def height(self) -> int:
        return int((self.mask if self.mask is not None else self.pixels).shape[0])

    @property
    def nbytes(self) -> int:
        """Bytes held (pixels and mask)."""
        return int(self.pixels.nbytes) + (
            0 if self.mask is None else int(self.mask.nbytes)
        )


class ImageCache:
    """The pixmap cache: id -> image, bounded by a byte budget (oldest out).

    The server mirrors this cache and sends INVAL_LIST / INVAL_ALL_PIXMAPS, so
    eviction here only guards against a hostile peer (counted in ``evicted``,
    logged once).
    """

    def __init__(self, max_bytes: int = DEFAULT_LIMITS.image_cache) -> None:
        self.max_bytes = max_bytes
        #: id -> image, oldest first (read it; ``put``/``remove`` keep ``bytes``)
        self.entries: OrderedDict[int, CachedImage] = OrderedDict()
        self.bytes = 0
        self.evicted = 0

    def __contains__(self, image_id: int) -> bool:
        return image_id in self.entries

    def __len__(self) -> int:
        return len(self.entries)

    def get(self, image_id: int) -> CachedImage:
        try:
            return self.entries[image_id]
        except KeyError:
            raise ImageNotReady(
                f"image {image_id:#x} is not in the cache", image_id
            ) from None

    def put(self, image_id: int, image: CachedImage) -> None:
        entries = self.entries
        old = entries.pop(image_id, None)  # (``remove`` inline: once per image)
        if old is not None:
            self.bytes -= old.nbytes
        entries[image_id] = image
        self.bytes += image.nbytes
        while self.bytes > self.max_bytes and len(entries) > 1:
            old_id, old = entries.popitem(last=False)
            self.bytes -= old.nbytes
            if not self.evicted:
                log.warning(
                    "image cache over its %d-byte budget: evicting (first %#x)",
                    self.max_bytes,
                    old_id,
                )
            self.evicted += 1

    def remove(self, image_id: int) -> None:
        old = self.entries.pop(image_id, None)
        if old is not None:
            self.bytes -= old.nbytes

    def clear(self) -> None:
        self.entries.clear()
        self.bytes = 0


class SharedState:
    """Per-session state shared by all display channels: pixmap cache, GLZ
    window, the session's ``Limits`` and the bytes of all its surfaces."""

    def __init__(
        self,
        cache_pixels: int | None = None,
        glz_window: int = DEFAULT_GLZ_WINDOW,
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        self.limits = limits
        cache_bytes = limits.image_cache if cache_pixels is None else 4 * cache_pixels
        self.cache = ImageCache(cache_bytes)
        self.glz_window = glz_window
        # The dictionary keeps what the server's window (the size announced in
        # DISPLAY INIT) may still refer to, with room for its rounding, within
        # GLZ's 2^25-pixel cap.
        self.glz_dictionary = glz.Dictionary(min(glz.MAX_WINDOW_PIXELS, 2 * glz_window))
        #: bytes of every surface of every display channel (``limits.surfaces``)
        self.surface_bytes = 0
        #: where decoded pixels go: ``take_pixels(height, width)`` gives an
        #: uninitialised C-contiguous uint8 (height, width, 4) array for a codec
        #: that decodes into a caller's array (``ImageResolver._decode``; any
        #: thread), or None: the codec allocates.  A huge-page arena for the
        #: session's images (``pixelmem``: far fewer page faults per kept image),
        #: pinning at most a quarter of the image cache beyond them; None: the
        #: codec's own numpy array.
        self.take_pixels: Callable[[int, int], Pixels | None] | None = (
            PixelArena.for_limits(limits).take
        )
        #: images of fewer pixels do not call ``take_pixels`` (the arena's
        #: refusal costs a call, ~1k instructions an image)
        self.take_pixels_min = MIN_PIXELS

    def check_surfaces(self, freed: int, added: int) -> None:
        """Raise if the session's surfaces, ``freed`` bytes fewer and ``added``
        more, would exceed ``limits.surfaces`` (the canvas then updates
        ``surface_bytes``).

        Raises:
            LimitExceededError: over the budget.
        """
        total = self.surface_bytes - freed + added
        if total > self.limits.surfaces:
            raise LimitExceededError(
                f"surfaces of {total} bytes would exceed the session's "
                f"{self.limits.surfaces}-byte budget (spicepy.Limits.surfaces)",
                "surfaces",
            )


class PaletteCache:
    """A display channel's palette cache, keyed by Palette.unique."""

    def __init__(self) -> None:
        self._items: OrderedDict[int, Palette] = OrderedDict()

    def get(self, unique: int) -> Palette:
        try:
            return self._items[unique]
        except KeyError:
            raise CanvasError(f"palette {unique:#x} is not in the cache") from None

    def find(self, unique: int) -> Palette | None:
        return self._items.get(unique)

    def put(self, palette: Palette) -> None:
        self._items[palette.unique] = palette
        if len(self._items) > MAX_PALETTES:
            self._items.popitem(last=False)

    def remove(self, unique: int) -> None:
        self._items.pop(unique, None)

    def clear(self) -> None:
        self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


_FROM_CACHE = (ImageType.FROM_CACHE, ImageType.FROM_CACHE_LOSSLESS)
_SURFACE = ImageType.SURFACE  # (an enum class attribute: a slow lookup per image)
#: types ``get`` reads without decoding (or refuses: SURFACE)
_NOT_DECODED = frozenset({*_FROM_CACHE, _SURFACE})
_GLZ = frozenset({ImageType.GLZ_RGB, ImageType.ZLIB_GLZ_RGB})
#: types whose codec writes into a caller's array (``copy_onto``): not GLZ,
#: whose dictionary keeps the array it decodes to, nor BITMAP (a view already)
_INTO = frozenset(
    {
        ImageType.QUIC,
        ImageType.LZ_RGB,
        ImageType.LZ_PLT,
        ImageType.JPEG,
        ImageType.JPEG_ALPHA,
        ImageType.LZ4,
    }
)
#: types whose pixels depend only on their own bytes (no palette cache, no
#: GLZ dictionary): decodable in any order, on any thread (``decode_alone``)
_SELF_CONTAINED = frozenset(
    {
        ImageType.QUIC,
        ImageType.LZ_RGB,
        ImageType.JPEG,
        ImageType.JPEG_ALPHA,
        ImageType.LZ4,
    }
)
_CACHE_ME = int(ImageFlags.CACHE_ME)
_CACHE_REPLACE_ME = int(ImageFlags.CACHE_REPLACE_ME)
_HIGH_BITS_SET = int(ImageFlags.HIGH_BITS_SET)


class ImageResolver:
    """Turns SpiceImage descriptors into pixels, using and filling the caches."""

    def __init__(self, shared: SharedState, palettes: PaletteCache) -> None:
        self.shared = shared
        self.palettes = palettes
        #: called with (image, CachedImage) after each real decode (for stats)
        self.decoded_hook: Any = None
        #: time spent in decoders and the pixels they produced (benchmarks)
        self.decode_seconds = 0.0
        self.decoded_pixels = 0
        #: images of the message being applied, decoded ahead on a worker
        #: thread (``decode_ahead``), by ``id(image)``: (the Image, so that id
        #: stays its own; its pixels; the palette the worker used)
        self.predecoded: dict[int, tuple[Image, CachedImage, Palette | None]] = {}

    def _palette(
        self, palette: Palette | None, palette_id: int | None, flags: int
    ) -> Palette | None:
        if flags & BitmapFlags.PAL_FROM_CACHE:
            return self.palettes.get(palette_id or 0)
        if palette is not None and flags & BitmapFlags.PAL_CACHE_ME:
            self.palettes.put(palette)
        return palette

    def _image_palette(self, image: Image) -> Palette | None:
        """The palette ``image`` uses, caching a PAL_CACHE_ME one (loop thread)."""
        src = image.bitmap if image.bitmap is not None else image.lz_plt
        if src is None:
            return None
        return self._palette(src.palette, src.palette_id, src.flags)

    def get(self, image: Image) -> CachedImage:
        """Resolve an image (not SURFACE) to pixels.

        Raises:
            ImageNotReady: a FROM_CACHE id or GLZ reference not there (yet).
            CanvasError: bad image, a codec failure or an image type without body.
        """
        d = image.descriptor
        kind = d.type
        if kind in _NOT_DECODED:
            if kind == _SURFACE:
                raise CanvasError("SURFACE images are resolved by the canvas")
            return self.shared.cache.get(d.id)
        # the palette cache changes here, in message order, never on a worker
        if image.bitmap is None and image.lz_plt is None:
            palette = None  # (most images: no call)
        else:
            palette = self._image_palette(image)
        started = _perf_counter()
        ahead = self.predecoded
        if (
            ahead
            and (pair := ahead.pop(id(image), None)) is not None
            and pair[2] is palette  # no earlier message replaced it meanwhile
        ):
            # decoded on a worker thread (session.offload, session.lookahead)
            decoded = pair[1]
        else:
            decoded = self._decode(image, d, palette)
        decoded = self.keep(d.id, d.flags, decoded, _perf_counter() - started)
        if self.decoded_hook is not None:
            self.decoded_hook(image, decoded)
        return decoded

    def keep(
        self, image_id: int, flags: int, decoded: CachedImage, seconds: float
    ) -> CachedImage:
        """What ``get`` does with an image it decoded (in ``seconds``) from a
        descriptor's ``image_id`` and ``flags``: counts the decode, honours
        HIGH_BITS_SET, stores it on CACHE_ME / CACHE_REPLACE_ME; returns the
        image to draw.  The display lane (``session/_lane.pyx``) calls it with
        the pixels it decoded straight from a draw's bytes (it declines while
        ``decoded_hook`` is set: the hook takes the wire image).
        """
        self.decode_seconds += seconds
        shape = decoded.pixels.shape  # (not the properties: a call each)
        self.decoded_pixels += shape[0] * shape[1]
        if flags & _HIGH_BITS_SET and not decoded.has_alpha:
            # every codec leaves X = 0 (a BITMAP: what the wire says); the
            # decode's own array takes 0xFF in place, a shared one (read-only:
            # the GLZ dictionary's, a BITMAP's view of the message) is copied
            pixels = decoded.pixels
            if not pixels.flags.writeable:
                pixels = decoded.pixels = pixels.copy()
            pixels[..., 3] = 0xFF
        if flags & _CACHE_ME:
            self.shared.cache.put(image_id, decoded)
        elif flags & _CACHE_REPLACE_ME:
            if decoded.lossy:
                log.warning("cache replace with a lossy image %#x ignored", image_id)
            else:
                self.shared.cache.put(image_id, decoded)
        return decoded

    def copy_onto(
        self,
        image: Image,
        dst: Pixels,
        box: tuple[int, int, int, int],
        dx: int,
        dy: int,
    ) -> int:
        """A same-size rop-COPY draw of ``image`` whose destination ``box`` (on
        the surface ``dst``) is all of the image and whole rows of ``dst``,
        source pixel ``(x - dx, y - dy)`` on pixel ``(x, y)``: an image no
        cache keeps is decoded straight into those rows, so it needs no array
        (no fresh pages, no copy) of its own.  Returns the pixels drawn, or -1 where
        that does not apply (a cached, GLZ, BITMAP or decoded-ahead image, or
        another footprint): the caller then draws ``get(image)``.

        Only the destination's rows change, and only here: a stream that
        fails part-way leaves the rows it reached (where ``get`` refuses
        before drawing).

        Raises:
            ImageNotReady, CanvasError: as ``get``.
        """
        d = image.descriptor
        left, top, right, bottom = box
        width = int(dst.shape[1])
        if (
            d.type not in _INTO
            or d.flags & (_CACHE_ME | _CACHE_REPLACE_ME)
            or left != 0
            or right != width
            or dx != 0
            or dy != top
            or d.width != width
            or d.height != bottom - top
            or (self.predecoded and id(image) in self.predecoded)
        ):
            return -1
        palette = self._image_palette(image)
        rows = dst[top:bottom]
        started = _perf_counter()
        decoded = self._decode(image, d, palette, rows)
        self.decode_seconds += _perf_counter() - started
        drawn = width * (bottom - top)
        self.decoded_pixels += drawn
        if d.flags & _HIGH_BITS_SET and not decoded.has_alpha:
            rows[..., 3] = 0xFF
        if self.decoded_hook is not None:
            self.decoded_hook(image, decoded)
        return drawn

    def get_mask(self, image: Image) -> npt.NDArray[np.bool_]:
        """Resolve a 1 bpp mask image (BITMAP 1BIT_LE/BE or a cached mask)."""
        d = image.descriptor
        if d.type in _FROM_CACHE:
            cached = self.shared.cache.get(d.id)
        elif image.bitmap is not None:
            # a mask's bits are used directly; its palette does not matter
            bits = bitmap_bits(image.bitmap)
            pixels = np.zeros((1, 1, 4), np.uint8)  # placeholder: masks keep bits only
            cached = CachedImage(pixels, True, False, bits)
            if d.flags & _CACHE_ME:
                self.shared.cache.put(d.id, cached)
        else:
            raise CanvasError(f"mask image type {d.type} is not supported")
        if cached.mask is None:
            return np.asarray(cached.pixels[..., 3] >= 0x80)
        return cached.mask

    def decode_ahead(self, image: Image) -> Callable[[], None] | None:
        """On the loop thread: the job that decodes ``image`` on a worker
        thread (``session.offload``) for the ``get`` that follows, or None.

        The job touches no state of this channel but ``predecoded`` (its own
        key): the palette is looked up now, read-only; ``get`` caches it, in
        message order, and takes the pixels only if it then resolves the same
        palette (a held message replayed meanwhile may replace it).  A GLZ
        image enters the session's thread-safe GLZ dictionary (keyed by id:
        insertion order does not matter).  No job for cache or surface
        references, nor for a cached palette that is not there (``get`` raises
        in order); a failure in the job is left for ``get`` to raise again.
        """
        d = image.descriptor
        if d.type in _FROM_CACHE or d.type == ImageType.SURFACE:
            return None
        src = image.bitmap if image.bitmap is not None else image.lz_plt
        palette = None
        if src is not None:
            if src.flags & BitmapFlags.PAL_FROM_CACHE:
                palette = self.palettes.find(src.palette_id or 0)
                if palette is None:
                    return None
            else:
                palette = src.palette

        def job() -> None:
            try:
                decoded = self._decode(image, d, palette)
            except SpiceError:  # ``get`` decodes again and raises it on the loop
                return
            self.predecoded[id(image)] = (image, decoded, palette)

        return job

    @staticmethod
    def self_contained(image: Image) -> bool:
        """``image``'s pixels depend only on its own bytes (QUIC, LZ_RGB, LZ4,
        JPEG, JPEG_ALPHA): ``decode_alone`` may decode it out of order."""
        return (
            image.descriptor.type in _SELF_CONTAINED
            and image.bitmap is None
            and image.lz_plt is None
        )

    def decode_alone(self, image: Image) -> CachedImage:
        """Decode a ``self_contained`` image on any thread, changing nothing
        (``session.lookahead``): ``get`` takes the result from ``predecoded``
        (with palette None) and does the caching, in message order.

        Raises:
            CanvasError: as ``get``.
        """
        return self._decode(image, image.descriptor, None)

    def _decode(
        self,
        image: Image,
        d: ImageDescriptor,
        palette: Palette | None,
        out: Pixels | None = None,
    ) -> CachedImage:
        """Decode (any thread): reads ``palette``, never the palette cache;
        ``out``: the array to decode into (not for BITMAP or GLZ types)."""
        kind = d.type
        bitmap = image.bitmap
        if bitmap is not None:
            # an image no cache keeps is read once: a view of the message's
            # bytes where the format allows (no copy of a full-screen bitmap)
            kept = d.flags & (_CACHE_ME | _CACHE_REPLACE_ME)
            pixels, has_alpha = bitmap_to_pixels(bitmap, palette, copy=bool(kept))
            return CachedImage(pixels, has_alpha)
        w, h = d.width, d.height
        if not (
            0 < w <= MAX_SURFACE_DIMENSION
            and 0 < h <= MAX_SURFACE_DIMENSION
            and w * h <= MAX_SURFACE_PIXELS
        ):
            raise CanvasError(
                f"image {d.id:#x}: bad size {w}x{h} (at most {MAX_SURFACE_DIMENSION}"
                f" a side, {MAX_SURFACE_PIXELS} pixels)"
            )
        palette_ents = None
        top_down = True
        jpeg_size = glz_size = None
        binary = image.binary
        if binary is not None:
            data = binary.data
        elif image.lz_plt is not None:
            lz = image.lz_plt
            # (the tuple itself: the LZ twin reads its ints straight into C)
            palette_ents = palette.ents if palette is not None else None
            top_down = bool(lz.flags & BitmapFlags.TOP_DOWN)
            data = lz.data
        elif image.zlib_glz is not None:
            glz_size, data = image.zlib_glz.glz_data_size, image.zlib_glz.data
        elif image.jpeg_alpha is not None:
            ja = image.jpeg_alpha
            top_down = bool(ja.flags & JpegAlphaFlags.TOP_DOWN)
            jpeg_size, data = ja.jpeg_size, ja.data
        else:
            raise CanvasError(f"image {d.id:#x}: type {kind} has no body to decode")
        shared = self.shared
        if out is None and kind in _INTO and w * h >= shared.take_pixels_min:
            take = shared.take_pixels
            if take is not None:
                out = take(h, w)
        try:
            pixels, _, has_alpha, lossy = decode_pixels(
                kind,
                data,
                width=w,
                height=h,
                palette=palette_ents,
                dictionary=shared.glz_dictionary if kind in _GLZ else None,
                jpeg_size=jpeg_size,
                glz_size=glz_size,
                top_down=top_down,
                max_pixels=shared.limits.image_pixels,
                out=out,
            )
        except SpiceError as exc:
            missing = getattr(exc, "image_id", None)
            if missing is not None and not getattr(exc, "expired", True):
                raise ImageNotReady(f"image {d.id:#x}: {exc}", missing, True) from exc
            raise CanvasError(f"image {d.id:#x} type {kind}: {exc}") from exc
        except (ValueError, TypeError, IndexError, KeyError) as exc:
            raise CanvasError(f"image {d.id:#x} type {kind}: {exc!r}") from exc
        # decode_pixels checked the (height, width, 4) uint8 shape
        return CachedImage(pixels, has_alpha, lossy)
