"""GLZ: SPICE's LZ with a dictionary of earlier images (GLZ_RGB images).

Theory of operation. The server keeps a window of recently sent images and
codes each new image against itself *and* that window (``glz.Encoder`` is our
port of the server's ``glz-encoder*.c``). Every stream carries its image id and
``win_head_dist``: the oldest image it may refer to is ``id - win_head_dist``.
The client keeps the decoded images, as 32-bit pixels, in one
``glz.Dictionary`` shared by all display channels of a session (spice-gtk
``decode-glz.c``). Images from different channels can arrive out of order, so
a reference to an image that is not there yet raises :class:`GlzMissingImage`
(or waits, with ``decode(..., wait=seconds)``). Once every image up to some id
``n`` has been decoded, images older than ``n - win_head_dist(n)`` can never be
referenced again and are released; a size bound evicts the oldest beyond it.

Header (33 bytes, big-endian): magic ``"  ZL"``, version 0x00010001, one byte
``type | top_down << 4``, width, height, stride, image id (u64), win_head_dist.
"""

from __future__ import annotations

import bisect
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from types import ModuleType

import numpy as np
import numpy.typing as npt
from spicepy.codecs import _glz_ref
from spicepy.codecs._common import (
    MAX_IMAGE_PIXELS,
    ImageInfo,
    check_dimensions,
    want_fast,
)
from spicepy.codecs._glz_ref import GlzMissingImage

# GLZ images use LZ's LzImageType numbers and palette packing (lz_common.h)
from spicepy.codecs.lz import PIXELS_PER_BYTE as _PIXELS_PER_BYTE
from spicepy.codecs.lz import ImageType

_backend: ModuleType = _glz_ref
FAST = False
if want_fast():
    try:
        from spicepy.codecs import _glz as _fast

        _backend = _fast
        FAST = True
    except ImportError:  # pragma: no cover - depends on the build
        pass

__all__ = [
    "FAST",
    "ImageType",
    "GlzHeader",
    "GlzMissingImage",
    "Dictionary",
    "Encoder",
    "decode",
    "decode_with_type",
    "encode",
    "info",
    "read_header",
    "header_fields",
    "HEADER_SIZE",
    "DEFAULT_WINDOW_PIXELS",
    "MAX_WINDOW_PIXELS",
]

MAGIC = _glz_ref.MAGIC
VERSION = _glz_ref.VERSION
HEADER_SIZE = _glz_ref.HEADER_SIZE
_HEADER = _glz_ref.HEADER
#: The window spice-gtk asks for at most (64 MiB of 32-bit pixels).
DEFAULT_WINDOW_PIXELS = 1 << 24
#: LZ_MAX_WINDOW_SIZE: the format cannot address a larger window.
MAX_WINDOW_PIXELS = 1 << 25
MAX_RATIO = _glz_ref.MAX_RATIO
#: (type code, top_down bit, width, height, stride, image id, win_head_dist),
#: checked (the reference twin's parse: ``zlib_glz`` reads a header with it)
header_fields = _glz_ref.header_fields

U8 = npt.NDArray[np.uint8]
U32 = npt.NDArray[np.uint32]


@dataclass(frozen=True, slots=True)
class GlzHeader:
    """The 33-byte header of a GLZ stream."""

    image_type: ImageType
    top_down: bool
    width: int
    height: int
    stride: int
    image_id: int
    win_head_dist: int

    @property
    def gross_pixels(self) -> int:
        """Pixels the stream codes (palette rows are coded to the full stride)."""
        ppb = _PIXELS_PER_BYTE.get(self.image_type)
        if ppb is None:
            return self.width * self.height
        return self.stride * ppb * self.height


def read_header(data: bytes | bytearray | memoryview, /) -> GlzHeader:
    """Parse and check a GLZ header.

    Raises:
        CodecError: short data, bad magic/version or an unknown image type.
    """
    code, top_down, width, height, stride, image_id, whd = header_fields(data)
    return GlzHeader(
        ImageType(code), bool(top_down), width, height, stride, image_id, whd
    )


def info(data: bytes | bytearray | memoryview, /) -> ImageInfo:
    """What the header declares (codec "glz"), without decoding."""
    hdr = read_header(data)
    return ImageInfo("glz", hdr.image_type.name, hdr.width, hdr.height, hdr.top_down)


# --------------------------------------------------------------------------- dictionary


@dataclass(slots=True)
class _Stored:
    pixels: U8  # flat, gross * 4 bytes (B, G, R, X/A)
    gross: int
    row_pixels: int
    win_head_dist: int


class Dictionary:
    """The client's GLZ window: decoded images by id, shared and thread-safe.

    Args:
        max_pixels: bound on the pixels kept; beyond it the oldest images are
            evicted even if the server may still refer to them (the server's
            own window never exceeds 2^25 pixels, the default).
        max_images: bound on the number of images kept.
    """

    def __init__(
        self, max_pixels: int = MAX_WINDOW_PIXELS, *, max_images: int = 1 << 16
    ):
        if max_pixels <= 0 or max_images <= 0:
            raise ValueError("Dictionary bounds must be positive")
        self.max_pixels = max_pixels
        self.max_images = max_images
        # a plain lock (an RLock costs more per image); the condition shares it
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._images: dict[int, _Stored] = {}
        # the pixels alone, by id: its ``get`` is the decoder's reference lookup
        # (a C call; one dict read is atomic, no lock needed)
        self._px: dict[int, U8] = {}
        self._lookup = self._px.get
        self._order: list[int] = []  # the keys of _images, ascending
        self._total = 0
        self._next = 0  # lowest id not yet seen in the contiguous run from 0
        self._expired_below = 0  # ids below this were released or evicted
        self._waiting = 0  # threads in wait_for (only they need a notify)

    def __len__(self) -> int:
        with self._cond:
            return len(self._images)

    def __contains__(self, image_id: object) -> bool:
        with self._cond:
            return image_id in self._images

    @property
    def total_pixels(self) -> int:
        """Pixels currently held."""
        with self._cond:
            return self._total

    def ids(self) -> list[int]:
        """Ids currently held, ascending."""
        with self._cond:
            return list(self._order)

    def get(self, image_id: int) -> U8 | None:
        """A read-only (rows, row_pixels, 4) view of a stored image, or None."""
        with self._cond:
            st = self._images.get(image_id)
        if st is None:
            return None
        view = st.pixels.reshape(st.gross // st.row_pixels, st.row_pixels, 4).view()
        view.flags.writeable = False
        return view

    def is_expired(self, image_id: int) -> bool:
        """True if ``image_id`` was released or evicted (it will not come back)."""
        with self._cond:
            return image_id < self._expired_below and image_id not in self._images

    def wait_for(self, image_id: int, timeout: float | None = None) -> bool:
        """Block until ``image_id`` is present (True) or expired / timed out (False)."""
        with self._cond:
            self._waiting += 1
            try:
                self._cond.wait_for(
                    lambda: image_id in self._images or image_id < self._expired_below,
                    timeout,
                )
            finally:
                self._waiting -= 1
            return image_id in self._images

    def clear(self) -> None:
        """Forget everything (the display channel was reset or re-initialised)."""
        with self._cond:
            self._images.clear()
            self._px.clear()
            self._order.clear()
            self._total = 0
            self._next = 0
            self._expired_below = 0
            self._cond.notify_all()

    def _add(self, image_id: int, stored: _Stored) -> None:
        images = self._images
        with self._lock:
            old = images.pop(image_id, None)
            order = self._order
            if old is not None:
                self._total -= old.gross
            elif order and order[-1] > image_id:
                bisect.insort(order, image_id)
            else:  # ids mostly arrive in order: appending keeps _order sorted
                order.append(image_id)
            images[image_id] = stored
            self._px[image_id] = stored.pixels
            self._total += stored.gross
            # Release what the newest image of the contiguous run says is out of
            # the server's window (decode-glz.c: only once the gap is closed).
            oldest = None
            while True:
                st = images.get(self._next)
                if st is not None:
                    oldest = self._next - st.win_head_dist
                    self._next += 1
                elif self._next < self._expired_below:  # gone for good: skip them
                    self._next = self._expired_below
                else:
                    break
            if oldest is not None and order[0] < oldest:
                cut = bisect.bisect_left(order, oldest)
                for i in order[:cut]:
                    self._drop(i)
                del order[:cut]
            if oldest is not None and oldest > self._expired_below:
                self._expired_below = oldest
            # The size bounds evict the oldest, whatever the server says.
            while (
                self._total > self.max_pixels or len(images) > self.max_images
            ) and len(images) > 1:
                k = 1 if order[0] == image_id else 0
                victim = order.pop(k)
                self._drop(victim)
                self._expired_below = max(self._expired_below, victim + 1)
            if self._waiting:
                self._cond.notify_all()

    def _drop(self, image_id: int) -> None:
        """Forget one image (the lock held; the caller updates ``_order``)."""
        self._total -= self._images.pop(image_id).gross
        del self._px[image_id]


# --------------------------------------------------------------------------- decode


def decode(
    data: bytes | bytearray | memoryview,
    /,
    *,
    dictionary: Dictionary,
    palette: npt.ArrayLike | None = None,
    out: U8 | None = None,
    max_pixels: int = MAX_IMAGE_PIXELS,
    wait: float = 0.0,
) -> U8:
    """Decode a GLZ stream and add the image to ``dictionary``.

    Args:
        data: the stream (header + body), as carried in GLZ_RGB image data.
        dictionary: the session's shared :class:`Dictionary`.
        palette: uint32 0x00RRGGBB entries, for the palette image types.
        out: optional C-contiguous uint8 (h, w, 4) array to copy the pixels into.
        max_pixels: refuse larger images.
        wait: seconds to wait for a referenced image that has not arrived yet.

    Returns:
        uint8 (height, width, 4), B, G, R, X (X = 0) or B, G, R, A for RGBA,
        top-down. Without ``out`` the array is a read-only view shared with the
        dictionary (copy it before modifying it).

    Raises:
        CodecError: corrupt or oversized stream.
        GlzMissingImage: a referenced image is missing (after ``wait``).
    """
    return _decode_impl(_backend, data, dictionary, palette, out, max_pixels, wait)


def decode_with_type(
    data: bytes | bytearray | memoryview,
    /,
    *,
    dictionary: Dictionary,
    palette: npt.ArrayLike | None = None,
    max_pixels: int = MAX_IMAGE_PIXELS,
    wait: float = 0.0,
) -> tuple[U8, ImageType]:
    """:func:`decode`, also returning the header's image type (one header parse
    for callers that report the format, as ``decode_image`` does)."""
    img, code = _decode_typed(
        _backend, data, dictionary, palette, None, max_pixels, wait
    )
    return img, _IMAGE_TYPES[code]


#: ImageType by type number (plain int keys: the decoder reads the header as
#: ints, calling the enum would cost more per image).
_IMAGE_TYPES = {t.value: t for t in ImageType}


def _stream(data: bytes | bytearray | memoryview) -> bytes | bytearray | memoryview:
    """The stream as the decode passes read it, copied only when it must be."""
    if type(data) is bytes or isinstance(data, bytes | bytearray):
        return data
    if isinstance(data, memoryview) and data.c_contiguous:
        return data if data.format == "B" else data.cast("B")
    return bytes(data)


def _decode_impl(
    backend: ModuleType,
    data: bytes | bytearray | memoryview,
    dictionary: Dictionary,
    palette: npt.ArrayLike | None,
    out: U8 | None,
    max_pixels: int,
    wait: float,
) -> U8:
    """:func:`decode` with a chosen twin (``backend``)."""
    return _decode_typed(backend, data, dictionary, palette, out, max_pixels, wait)[0]


def _decode_typed(
    backend: ModuleType,
    data: bytes | bytearray | memoryview,
    dictionary: Dictionary,
    palette: npt.ArrayLike | None,
    out: U8 | None,
    max_pixels: int,
    wait: float,
) -> tuple[U8, int]:
    """The decode (one call of the twin: header, checks, passes), then the
    dictionary; returns the pixels and the image type number."""
    # bytes from here on: len() and the header read count bytes, not items
    src = _stream(data)
    lookup = dictionary._lookup
    deadline = None
    while True:
        try:
            buf, code, top_down, width, height, row_pixels, image_id, whd = (
                backend.decode(src, lookup, palette, max_pixels)
            )
        except GlzMissingImage as exc:
            if dictionary.is_expired(exc.image_id):
                raise GlzMissingImage(exc.image_id, expired=True) from None
            if deadline is None:  # the wait runs from the first missing image
                deadline = time.monotonic() + wait
            remaining = deadline - time.monotonic()
            if remaining > 0 and dictionary.wait_for(exc.image_id, remaining):
                continue
            raise
        break
    if out is not None and (out.shape != (height, width, 4) or out.dtype != np.uint8):
        raise ValueError(f"out must be uint8 {(height, width, 4)}")
    # read-only from now on: the dictionary shares it with every view handed out
    buf.setflags(False)  # (write=; a keyword costs ~1k instructions more)
    gross = row_pixels * height
    dictionary._add(image_id, _Stored(buf, gross, row_pixels, whd))
    img = buf.reshape(height, row_pixels, 4)
    if row_pixels != width:
        img = img[:, :width]
    if not top_down:
        img = img[::-1]
    if out is not None:
        np.copyto(out, img)
        return out, code
    if top_down and row_pixels == width:  # the buffer itself, read-only
        return img, code
    return np.ascontiguousarray(img), code


# --------------------------------------------------------------------------- encode


@dataclass(slots=True)
class _WinImage:
    image_id: int
    image_type: ImageType
    size: int
    seg: int
    pixels_so_far: int
    planes: dict[int, U32] = field(default_factory=dict)  # pass mode -> keys


_ENCODE_TYPES = {
    "RGB32": ImageType.RGB32,
    "RGB24": ImageType.RGB24,
    "RGBA": ImageType.RGBA,
    "RGB16": ImageType.RGB16,
    "PLT8": ImageType.PLT8,
}


def _planes(
    image: npt.NDArray[np.generic], itype: ImageType
) -> tuple[int, int, int, list[tuple[int, U32, U32]]]:
    """(height, width, stride, [(mode, keys, literal values)]) for each pass."""
    arr = np.asarray(image)
    if itype in (ImageType.RGB32, ImageType.RGBA, ImageType.RGB24):
        if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[2] not in (3, 4):
            raise ValueError("RGB images must be uint8 (h, w, 3 or 4), B, G, R[, X/A]")
        h, w = arr.shape[:2]
        if arr.shape[2] == 4:
            px = np.ascontiguousarray(arr).view(np.uint32).reshape(-1)
        else:
            if itype == ImageType.RGBA:
                raise ValueError("RGBA images need 4 channels")
            t = arr.reshape(-1, 3).astype(np.uint32)
            px = np.asarray(t[:, 0] | (t[:, 1] << 8) | (t[:, 2] << 16), np.uint32)
        rgb = np.ascontiguousarray(px & np.uint32(0x00FFFFFF))
        passes = [(_glz_ref.MODE_RGB32, rgb, rgb)]
        if itype == ImageType.RGBA:
            alpha = np.ascontiguousarray(px >> np.uint32(24))
            passes.append((_glz_ref.MODE_ALPHA, alpha, alpha))
        bpp = 3 if itype == ImageType.RGB24 else 4
        return h, w, w * bpp, passes
    if arr.ndim != 2:
        raise ValueError(f"{itype.name} images must be 2-D")
    h, w = arr.shape
    if itype == ImageType.RGB16:
        if arr.dtype != np.uint16:
            raise ValueError("RGB16 images must be uint16 x555")
        raw = np.ascontiguousarray(arr.reshape(-1).astype(np.uint32))
        keys = raw & np.uint32(0x7FFF)
        return h, w, w * 2, [(_glz_ref.MODE_RGB16, keys, raw)]
    if arr.dtype != np.uint8:
        raise ValueError("PLT8 images must be uint8 palette indices")
    keys = np.ascontiguousarray(arr.reshape(-1).astype(np.uint32))
    return h, w, w, [(_glz_ref.MODE_PLT8, keys, keys)]


class Encoder:
    """The server side of GLZ: a window of earlier images that assigns ids.

    A port of spice-server's shared dictionary for one encoder: each image
    gets the next id, enters the window, and may be coded against every
    earlier image of the same type still in the window; the oldest images
    leave when ``window_pixels`` would be exceeded. Thread-safe (serialised).

    Args:
        window_pixels: the window size in pixels (the client's
            ``glz_dictionary_window_size``), at most 2^25.
    """

    _INIT_SEGS = 1000  # INIT_IMAGE_SEGS_NUM

    def __init__(
        self,
        window_pixels: int = DEFAULT_WINDOW_PIXELS,
        *,
        _backend: ModuleType | None = None,
    ):
        if not 0 < window_pixels <= MAX_WINDOW_PIXELS:
            raise ValueError(f"window_pixels must be in 1..{MAX_WINDOW_PIXELS}")
        self.window_pixels = window_pixels
        self._impl = _backend if _backend is not None else globals()["_backend"]
        self._lock = threading.Lock()
        # Written (not just calloc'ed) now, as the server memsets its table at
        # creation, so the first encode does not pay 8 MB of page faults.
        self._htab: U32 = np.empty(2 * _glz_ref.HASH_SIZE, np.uint32)
        self._htab.fill(0)
        self._quota = self._INIT_SEGS
        self._free = list(range(self._quota - 1, -1, -1))  # pop() -> lowest first
        self._window: deque[_WinImage] = deque()
        # one segment table per (image type, pass mode): what may be referenced
        self._tables: dict[tuple[ImageType, int], _glz_ref.SegTable] = {}
        self._next_id = 0
        self._pixels_so_far = 0

    @property
    def next_image_id(self) -> int:
        """The id the next encoded image will get."""
        return self._next_id

    @property
    def window_ids(self) -> list[int]:
        """Ids of the images currently in the window, oldest first."""
        with self._lock:
            return [im.image_id for im in self._window]

    def _new_head(self, size: int) -> _WinImage | None:
        """Oldest image kept after adding ``size`` (..._window_get_new_head)."""
        if not self._window:
            return None
        head, tail = self._window[0], self._window[-1]
        win = tail.size + tail.pixels_so_far - head.pixels_so_far
        for im in self._window:
            if win + size <= self.window_pixels:
                return im
            win -= im.size
        return None

    def _alloc_seg(self) -> int:
        if not self._free:  # __glz_dictionary_window_segs_realloc doubles the quota
            new_quota = self._quota * 2
            self._free = list(range(new_quota - 1, self._quota - 1, -1))
            self._quota = new_quota
            for table in self._tables.values():
                table.grow(new_quota)
        return self._free.pop()

    def _table(self, itype: ImageType, mode: int) -> _glz_ref.SegTable:
        table = self._tables.get((itype, mode))
        if table is None:
            table = self._tables[(itype, mode)] = _glz_ref.SegTable(self._quota)
        return table

    def _drop_oldest(self) -> None:
        im = self._window.popleft()
        for mode in im.planes:
            self._tables[(im.image_type, mode)].clear(im.seg)
        self._free.append(im.seg)

    def encode(
        self,
        image: npt.NDArray[np.generic],
        image_type: str = "RGB32",
        top_down: bool = True,
    ) -> bytes:
        """Code ``image`` as the next image of the window; see :func:`encode`."""
        try:
            itype = _ENCODE_TYPES[image_type]
        except KeyError:
            raise ValueError(f"GLZ cannot encode image type {image_type!r}") from None
        h, w, stride, passes = _planes(image, itype)
        check_dimensions(w, h)
        if not top_down:  # the stream's first row is the bottom one
            passes = [
                (
                    m,
                    np.ascontiguousarray(k.reshape(h, w)[::-1].reshape(-1)),
                    np.ascontiguousarray(lit.reshape(h, w)[::-1].reshape(-1)),
                )
                for m, k, lit in passes
            ]
        size = h * w
        if size > self.window_pixels:
            raise ValueError("image is bigger than the GLZ window")
        with self._lock:
            head = self._new_head(size)
            while self._window and self._window[0] is not head:
                self._drop_oldest()
            cur = _WinImage(
                self._next_id, itype, size, self._alloc_seg(), self._pixels_so_far
            )
            cur.planes = {m: k for m, k, _ in passes}
            self._next_id += 1
            self._pixels_so_far += size
            self._window.append(cur)
            whd = cur.image_id - head.image_id if head is not None else 0
            out = [
                _HEADER.pack(
                    MAGIC,
                    VERSION,
                    itype | (16 if top_down else 0),
                    w,
                    h,
                    stride,
                    cur.image_id,
                    whd,
                )
            ]
            # REF_SEG_IS_VALID: references go to live images of the window of
            # the same type, i.e. to what the tables hold
            for mode, keys, _ in passes:
                self._table(itype, mode).set(cur.seg, keys, cur.image_id)
            for mode, keys, lits in passes:
                table = self._tables[(itype, mode)]
                out.append(
                    self._impl.compress(
                        keys, lits, mode, self._htab, cur.seg, cur.image_id, table
                    )
                )
        return b"".join(out)


def encode(
    image: npt.NDArray[np.generic],
    /,
    *,
    image_type: str = "RGB32",
    encoder: Encoder | None = None,
    top_down: bool = True,
) -> bytes:
    """Encode an image as a GLZ stream, as spice-server would.

    Args:
        image: uint8 (h, w, 4) B,G,R,X/A for "RGB32"/"RGBA"; (h, w, 3 or 4) for
            "RGB24"; uint16 (h, w) x555 for "RGB16"; uint8 (h, w) indices for "PLT8".
        image_type: "RGB32", "RGB24", "RGBA", "RGB16" or "PLT8".
        encoder: the window to code against (and to add the image to); a fresh
            one (image id 0, no references) when None.
        top_down: write rows top-down (else the stream starts at the bottom row).

    Returns:
        The stream (header + body), the payload of GLZ_RGB image data.
    """
    if encoder is None:
        encoder = Encoder(DEFAULT_WINDOW_PIXELS)
    return encoder.encode(image, image_type, top_down)
