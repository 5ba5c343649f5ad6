"""The session's memory budget: what a server can make spicepy hold, in bytes.

Theory of operation: every store that a server fills at will has a budget here,
in bytes, and one ``Limits`` (``spicepy.connect(..., limits=Limits(...))``) sets
them all.  Stores the protocol lets the client forget (caches the server
re-sends, video frames that may be dropped) evict their oldest entries when
they would exceed the budget (counted, logged once); stores whose loss would
corrupt the session (surfaces, display messages waiting for an image, one
agent message being reassembled) raise ``LimitExceededError`` instead, which
ends the channel (and the session's waits) with that one error.

Beyond the budgeted stores a session holds, transiently, one message being
received (at most ``channels.base.MAX_RECEIVE_MESSAGE``, 64 MiB) per channel,
the image it decodes (``image_pixels``: output and, for ZLIB_GLZ, the inflated
stream) and the GLZ window (at most 2 x 64 MiB, spice-gtk's largest).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

__all__ = ["DEFAULT_LIMITS", "LimitExceededError", "Limits", "payload_bytes"]

from spicepy.errors import LimitExceededError

MiB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Limits:
    """Byte budgets of one session (``Limits(surfaces=1 << 30)`` to change one).

    Attributes:
        surfaces: every surface of every display channel (4 bytes a pixel);
            a SURFACE_CREATE beyond it raises.
        image_cache: the pixmap cache shared by the display channels (spice-gtk's
            80 MiB); evicts oldest first.
        cursor_cache: cursor shapes kept, raw (the cursor channel's cache) and
            decoded (``session.cursor``), each; evicts oldest first.
        video_queue: video frames waiting for their time, the streams of every
            display channel of the session together (encoded bytes + decoded
            picture): one budget per session, as ``surfaces``; drops the
            oldest frame of the session's fullest stream (counted, reported).
            The VP8/H.264 stream workers' pictures decoded ahead and not yet
            collected are held to the same amount again (``canvas.video``'s
            ``LookAhead``; a worker then waits), so ``total`` counts it twice.
        held: display messages waiting for another display channel's image;
            raises.
        agent: one guest-agent message being reassembled, and the clipboard
            data kept from the guest (oldest evicted); a larger message raises.
        image_pixels: the largest image decoded, in pixels (a larger one is
            refused with a CodecError before allocating, its message dropped).
            A decode holds its output (4 bytes a pixel) and, for ZLIB_GLZ,
            the inflated GLZ stream (at most 7 bytes a pixel and pass, two
            passes for RGBA) at once: 2^24 pixels (4096 x 4096, more than a
            5K screen; raise it for 8K) bound that to 288 MiB.
        inline_decode_pixels: images larger than this decode on a worker thread
            (the Cython codecs release the GIL), so waits and timeouts keep
            running; smaller ones decode inline (no thread hop).
        decode_ahead: bytes (4 a pixel) of later display messages' images
            decoded on a second core and not yet drawn (``session.lookahead``):
            the look-ahead waits while this much is pending; 0 turns it off
            (every image decodes in order on the loop thread).  Transient,
            like ``image_pixels``: not in ``total``.

    ``image_arena`` (derived, a quarter of ``image_cache``): the most the
    huge-page arena decoded images come from (``canvas.pixelmem``) pins
    beyond the images themselves (region tails, a dead image's room in a
    region a live one keeps, spare regions): in ``total``.
    """

    surfaces: int = 384 * MiB
    image_cache: int = 80 * MiB
    cursor_cache: int = 16 * MiB
    video_queue: int = 64 * MiB
    held: int = 64 * MiB
    agent: int = 64 * MiB
    image_pixels: int = 1 << 24
    inline_decode_pixels: int = 1 << 20
    decode_ahead: int = 32 * MiB

    @property
    def image_arena(self) -> int:
        """Bytes the image arena may pin beyond its images (20 MiB by default;
        gradients-lz's cached images take 5 regions, ~10 MiB, for 9.1 MB)."""
        return self.image_cache // 4

    @property
    def total(self) -> int:
        """The budgeted bytes together (the cursor budget counts twice: raw and
        decoded shapes; the video budget too: queued frames, and pictures the
        stream workers decoded ahead; the image arena's room beside the image
        cache)."""
        return (
            self.surfaces
            + self.image_cache
            + self.image_arena
            + 2 * self.cursor_cache
            + 2 * self.video_queue
            + self.held
            + self.agent
        )

    def replace(self, **changes: int) -> Limits:
        """A copy with some budgets changed."""
        return dataclasses.replace(self, **changes)


DEFAULT_LIMITS = Limits()

#: what one held object costs beyond its buffers (dataclass + header, rounded up)
_OBJECT_OVERHEAD = 64


def payload_bytes(obj: object, _depth: int = 0) -> int:
    """Bytes a decoded wire message holds: its buffers (bytes, memoryviews,
    numpy arrays) plus a small overhead per object, through dataclass fields,
    tuples and lists.  Used where messages are retained (the hold queue)."""
    if isinstance(obj, (bytes, bytearray)):
        return len(obj) + _OBJECT_OVERHEAD
    if isinstance(obj, memoryview):
        return obj.nbytes + _OBJECT_OVERHEAD
    nbytes = getattr(obj, "nbytes", None)
    if isinstance(nbytes, int):  # numpy arrays
        return nbytes + _OBJECT_OVERHEAD
    if _depth > 16:  # wire messages nest a few levels; never recurse without end
        return _OBJECT_OVERHEAD
    if isinstance(obj, (tuple, list)):
        return _OBJECT_OVERHEAD + sum(payload_bytes(v, _depth + 1) for v in obj)
    fields = getattr(obj, "__dataclass_fields__", None)
    if fields is None:
        return _OBJECT_OVERHEAD
    return _OBJECT_OVERHEAD + sum(
        payload_bytes(getattr(obj, name, None), _depth + 1) for name in fields
    )
