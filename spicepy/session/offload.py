"""Large image decodes off the event loop, so waits and timeouts keep running.

Theory of operation: a display message whose images are larger than
``Limits.inline_decode_pixels`` is *parked* by its connection before the
session sees it (``ChannelConnection``'s ``prepare`` hook): the images are
decoded on a worker thread (``ImageResolver.decode_ahead``; the Cython codecs
release the GIL, the pure-Python twins still let the loop run between their
bytecodes), the connection reads nothing more from that socket meanwhile,
then the message goes to the session as usual and ``ImageResolver.get``
takes the pixels decoded ahead.  The worker reads no state the loop thread
changes meanwhile (the loop may replay this channel's *held* messages, older
than this one, while it runs): the palette is looked up at hand-off, on the
loop thread, and cached only by ``get``, in message order, which takes the
pixels only if it then resolves the same palette; the pixmap cache and
drawing stay on the loop thread; a GLZ image enters the session's
thread-safe, id-keyed dictionary from the worker.  A decode that fails ahead
(e.g. a GLZ reference not there yet) is simply done again inline, in order,
where the hold queue handles it.  Everything else, every small
image, takes the inline path untouched: ``prepare`` costs two type tests per
display message (and a size product for DRAW_COPY).  With a look-ahead
(``session.lookahead``, ``Limits.decode_ahead``) the same hook first claims
what the second core decoded for this message and hands it later messages'
images: a dict lookup and an identity test per message when there are none.

A worker is a daemon thread of its own: a session that gives up (a timeout,
close) does not wait for a decode it no longer needs, nor does the
interpreter at exit.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

from spicepy.canvas.images import ImageResolver
from spicepy.channels.base import Channel
from spicepy.channels.events import MessageReceived
from spicepy.session import lookahead
from spicepy.session.core import SessionCore
from spicepy.session.lookahead import DecodeAhead
from spicepy.wire import msg_display as md
from spicepy.wire.msg_display import message_images

__all__ = ["DisplayPrepare", "Job", "display_prepare", "run_off_loop"]

#: what ``prepare`` returns for a message to park: the blocking work to run first
Job = Callable[[], object]
_COPIES = frozenset({md.DrawCopy, md.DrawBlend})
#: the other draws with a source image (rare next to COPY); fills, strokes and
#: text carry images only as brush patterns, which stay inline (a fill is too
#: frequent to look into)
_DRAWS = frozenset(
    {
        md.DrawOpaque,
        md.DrawRop3,
        md.DrawTransparent,
        md.DrawAlphaBlend,
        md.DrawComposite,
    }
)


class DisplayPrepare:
    """The ``prepare`` hook of a display channel's connection: a job decoding
    the event's images above ``inline_pixels`` (parks the connection), or
    None; with ``ahead``, it also hands later events' images to the second
    core (``session.lookahead``).  ``close()`` drops that work."""

    def __init__(
        self,
        core: SessionCore,
        channel_id: int,
        inline_pixels: int,
        ahead: DecodeAhead | None = None,
    ) -> None:
        self.core = core
        self.channel_id = channel_id
        self.inline_pixels = inline_pixels
        self.ahead = ahead

    def _job_for(self, msg: Any) -> Job | None:
        inline_pixels = self.inline_pixels
        big = [
            image
            for image in message_images(msg)
            if image.descriptor.width * image.descriptor.height > inline_pixels
        ]
        driver = self.core.drivers.get(self.channel_id)
        if not big or driver is None:
            return None
        resolver = driver.canvas.images
        resolver.predecoded.clear()  # what an earlier message left unused
        jobs = [j for image in big if (j := resolver.decode_ahead(image)) is not None]
        if not jobs:
            return None

        def job() -> None:
            for one in jobs:
                one()

        return job

    def __call__(self, event: object) -> Job | None:
        # per display message: a type test or two, and for the frequent
        # DRAW_COPY one size product; no list, no call below unless it is big
        ahead = self.ahead
        if ahead is not None:
            ahead.before(event)
        if type(event) is MessageReceived:
            msg = event.message
            cls = type(msg)
            if cls in _COPIES:
                data = msg.data
                src = data.src_bitmap
                if data.mask.bitmap is not None or (
                    src is not None
                    and src.descriptor.width * src.descriptor.height
                    > self.inline_pixels
                ):
                    return self._job_for(msg)
            elif cls in _DRAWS:
                return self._job_for(msg)
        return None

    def close(self) -> None:
        """The connection ended: drop the look-ahead's work, without waiting."""
        if self.ahead is not None:
            self.ahead.close()


def display_prepare(
    core: SessionCore,
    channel_id: int,
    inline_pixels: int,
    machine: Channel | None = None,
    ahead_bytes: int = 0,
) -> DisplayPrepare:
    """The ``prepare`` hook of display channel ``channel_id``'s connection
    (``DisplayPrepare``); with its channel ``machine`` and a
    ``Limits.decode_ahead`` budget ``ahead_bytes`` > 0, it decodes ahead on
    the second core where the codecs are compiled (``session.lookahead``)."""

    def resolver() -> ImageResolver | None:
        driver = core.drivers.get(channel_id)
        return None if driver is None else driver.canvas.images

    ahead = None
    if machine is not None and ahead_bytes > 0 and lookahead.available():
        ahead = DecodeAhead(
            resolver,
            machine.queued_events,
            ahead_bytes,
            inline_pixels,
            source=machine,
        )
    return DisplayPrepare(core, channel_id, inline_pixels, ahead)


async def run_off_loop(job: Job, name: str = "spicepy-decode") -> object:
    """Run ``job()`` on a daemon thread of its own; its result (or exception).

    Cancelling the await leaves the thread to finish on its own."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[object] = loop.create_future()

    def settle(error: BaseException | None, result: object) -> None:
        if done.cancelled():
            return
        if error is not None:
            done.set_exception(error)
        else:
            done.set_result(result)

    def work() -> None:
        try:
            result, error = job(), None
        except BaseException as exc:  # handed to the awaiting task
            result, error = None, exc
        try:
            loop.call_soon_threadsafe(settle, error, result)
        except RuntimeError:  # the loop closed meanwhile: nobody waits
            pass

    threading.Thread(target=work, name=name, daemon=True).start()
    return await done
