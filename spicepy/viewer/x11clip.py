"""Images on the desktop's CLIPBOARD under X11 (python-xlib), which SDL2
cannot do: its clipboard carries text only.

Theory of operation: one more X connection with an unmapped window.  Owning
(``own``) makes the window the CLIPBOARD's owner and answers other clients'
``SelectionRequest``s for TARGETS and image/png, sending data bigger than one
request in INCR steps (ICCCM 2.7.2: each chunk once the requestor deleted the
property).  Reading (``targets``, ``read``) converts the selection into a
property of our window and waits for ``SelectionNotify``, receiving INCR
chunks the same way.  Nothing here blocks: ``process`` handles what arrived
(the viewer calls it every turn), and the reads poll it until ``timeout``.
A reply is bounded by ``MAX_IMAGE`` bytes.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from spicepy.errors import SessionError, SpiceTimeoutError

__all__ = ["MAX_IMAGE", "PNG", "X11Clipboard"]

PNG = "image/png"
#: largest image taken from the desktop (bytes): a hostile owner's INCR
#: stream stops here
MAX_IMAGE = 64 << 20
#: bytes per property write (well below the core protocol's 256 KB request)
CHUNK = 64 << 10
#: how often a read looks for the owner's answer (s)
_POLL = 0.005


class X11Clipboard:
    """The CLIPBOARD selection of X display ``name`` (None: $DISPLAY).

    Raises (constructor): ``SessionError`` when the display cannot be opened.
    """

    def __init__(self, name: str | None = None) -> None:
        from Xlib import X, display, error

        try:
            self._d = display.Display(name)
        except (error.DisplayError, error.ConnectionClosedError, OSError) as exc:
            raise SessionError(f"X clipboard: {exc}") from exc
        self._X = X
        d = self._d
        self._win = d.screen().root.create_window(
            0, 0, 1, 1, 0, X.CopyFromParent, event_mask=X.PropertyChangeMask
        )
        atom = d.intern_atom
        self.CLIPBOARD, self.TARGETS, self.INCR = (
            atom("CLIPBOARD"),
            atom("TARGETS"),
            atom("INCR"),
        )
        self.PNG, self._PROP, self._ATOM = atom(PNG), atom("SPICEPY_CLIP"), atom("ATOM")
        #: the image we offer while we own the CLIPBOARD
        self.offer: bytes | None = None
        #: (requestor window id, property) -> (window, data, next offset)
        self._sending: dict[tuple[int, int], tuple[Any, bytes, int]] = {}
        self._answer: Any = None  # the SelectionNotify of the read in progress
        self._incr: bytearray | None = None
        self._incr_done = False
        d.flush()

    def fileno(self) -> int:
        return int(self._d.fileno())

    def close(self) -> None:
        self._d.close()

    # -- owning ---------------------------------------------------------------------
    @property
    def owns(self) -> bool:
        return self.offer is not None

    def own(self, png: bytes) -> None:
        """Offer ``png`` as the desktop's clipboard image."""
        self.offer = bytes(png)
        self._win.set_selection_owner(self.CLIPBOARD, self._X.CurrentTime)
        self._d.flush()

    def process(self) -> None:
        """Handle every event that arrived (requests, INCR steps, answers)."""
        X = self._X
        d = self._d
        while d.pending_events():
            ev = d.next_event()
            if ev.type == X.SelectionRequest:
                self._request(ev)
            elif ev.type == X.SelectionClear:
                self.offer = None
                self._sending.clear()
            elif ev.type == X.SelectionNotify:
                self._answer = ev
            elif ev.type == X.PropertyNotify:
                self._property(ev)
        d.flush()

    def _request(self, ev: Any) -> None:
        from Xlib.protocol import event

        X = self._X
        prop = ev.property or ev.target  # ICCCM: obsolete clients give none
        requestor = ev.requestor
        data = self.offer
        if data is None or ev.selection != self.CLIPBOARD:
            prop = X.NONE
        elif ev.target == self.TARGETS:
            requestor.change_property(prop, self._ATOM, 32, [self.TARGETS, self.PNG])
        elif ev.target == self.PNG and len(data) <= CHUNK:
            requestor.change_property(prop, self.PNG, 8, data)
        elif ev.target == self.PNG:  # INCR: chunks as the requestor deletes
            requestor.change_attributes(event_mask=X.PropertyChangeMask)
            requestor.change_property(prop, self.INCR, 32, [len(data)])
            self._sending[(requestor.id, prop)] = (requestor, data, 0)
        else:
            prop = X.NONE
        requestor.send_event(
            event.SelectionNotify(
                time=ev.time,
                requestor=requestor,
                selection=ev.selection,
                target=ev.target,
                property=prop,
            )
        )

    def _property(self, ev: Any) -> None:
        X = self._X
        if ev.state == X.PropertyDelete:
            step = self._sending.pop((ev.window.id, ev.atom), None)
            if step is not None:
                window, data, at = step
                chunk = data[at : at + CHUNK]
                window.change_property(ev.atom, self.PNG, 8, chunk)
                if chunk:  # the empty chunk ends the transfer
                    self._sending[(window.id, ev.atom)] = (window, data, at + CHUNK)
        elif (
            ev.window.id == self._win.id
            and ev.atom == self._PROP
            and self._incr is not None
        ):
            prop = self._win.get_full_property(self._PROP, X.AnyPropertyType)
            self._win.delete_property(self._PROP)
            chunk = b"" if prop is None else _bytes(prop.value)
            if not chunk:
                self._incr_done = True
            elif len(self._incr) + len(chunk) > MAX_IMAGE:
                self._incr, self._incr_done = None, True
            else:
                self._incr += chunk

    # -- reading --------------------------------------------------------------------
    async def targets(self, timeout: float = 5.0) -> list[str]:
        """The types the CLIPBOARD's owner offers (empty: no owner)."""
        value = await self._convert(self.TARGETS, timeout)
        if value is None or isinstance(value, bytes | bytearray | str):
            return []  # no owner, or not a list of atoms
        names = []
        for a in list(value)[:256]:  # an honest owner offers a handful
            try:
                names.append(self._d.get_atom_name(a))
            except Exception:  # an atom the server does not know: skip it
                continue
        return names

    async def read(self, target: str = PNG, timeout: float = 5.0) -> bytes | None:
        """The CLIPBOARD as ``target`` (None: the owner has no such data)."""
        value = await self._convert(self._d.intern_atom(target), timeout)
        return None if value is None else _bytes(value)

    async def _convert(self, target: int, timeout: float) -> Any:
        """The property the owner converted the CLIPBOARD to (python-xlib's
        value: bytes for 8-bit data, ints for 32-bit), None for none."""
        X = self._X
        deadline = time.monotonic() + timeout
        self._answer, self._incr, self._incr_done = None, None, False
        self._win.delete_property(self._PROP)
        self._win.convert_selection(self.CLIPBOARD, target, self._PROP, X.CurrentTime)
        self._d.flush()
        while self._answer is None:
            await self._tick(deadline)
        if self._answer.property == X.NONE:
            return None
        prop = self._win.get_full_property(self._PROP, X.AnyPropertyType)
        if prop is None:
            return None
        if prop.property_type != self.INCR:
            self._win.delete_property(self._PROP)
            return prop.value
        self._incr = bytearray()
        self._win.delete_property(self._PROP)  # "send the first chunk"
        self._d.flush()
        while not self._incr_done:
            await self._tick(deadline)
        data, self._incr = self._incr, None
        if data is None:
            raise SessionError(f"desktop clipboard data over {MAX_IMAGE} bytes")
        return bytes(data)

    async def _tick(self, deadline: float) -> None:
        self.process()
        if time.monotonic() > deadline:
            raise SpiceTimeoutError("the desktop clipboard's owner did not answer")
        await asyncio.sleep(_POLL)


def _bytes(value: Any) -> bytes:
    """A property's value as bytes (python-xlib gives format-8 data as bytes,
    format 32 as an array of ints)."""
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, str):
        return value.encode("latin-1")
    return b"".join(int(v).to_bytes(4, "little") for v in value)
