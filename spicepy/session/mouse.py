"""The pointer as an application drives it: ``Session.mouse``.

Theory of operation: the server announces its mouse modes (MAIN INIT, then
MOUSE_MODE whenever the agent comes or goes).  In CLIENT mode (needs the
guest agent) a move is one absolute MOUSE_POSITION on a display.  In SERVER
mode only relative MOUSE_MOTION exists and the guest may scale it (X pointer
acceleration), so a move is a short closed loop: send the distance from where
the cursor channel last put the guest pointer, wait for the guest's new
position, correct (divided by the largest gain seen, so corrections do not
overshoot), until it is there (at most ``MAX_STEPS`` motions; targets beyond
the primary surface are clamped to it).  A guest that reports no pointer
(no cursor channel, or no move within ``GUEST_MOVE_WAIT``: a text console),
or a pointer that stops short, is a ``SessionError`` unless ``exact`` is
False: then the move is sent blind, from the last place we moved to.  Whenever CLIENT
becomes available the session asks for it once (spice-gtk does the same):
absolute positions are what a script means by "click at (x, y)";
``set_mode`` changes that preference.

Buttons follow spice-gtk (channel-inputs.c): MOUSE_PRESS/RELEASE carry the
button and the mask of buttons held after the event; the wheel is button 4
(up) or 5 (down) pressed and released at once.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from spicepy.channels.events import MouseModeChanged
from spicepy.errors import SessionError, SpiceTimeoutError
from spicepy.wire.enums import ChannelType, MouseButton, MouseMode
from spicepy.wire.msg_common import MainMouseModeRequest

if TYPE_CHECKING:
    from spicepy.session.session import Session

__all__ = ["MouseControl"]

#: server-mode corrections before a move gives up on landing exactly
MAX_STEPS = 32
#: seconds to wait for the cursor channel to report the guest pointer (a
#: loaded TCG guest took more than 0.5 s)
GUEST_MOVE_WAIT = 1.0
#: seconds without a further report after which the guest pointer is still
GUEST_SETTLE = 0.1
#: the largest guest acceleration believed (X: 2 by default, more with
#: "xset m"); a wilder measurement (a jump) is clipped to it
MAX_GAIN = 8.0
#: the largest motion per axis in one closed-loop step: one PS/2 packet's
#: count; QEMU queues the rest of a bigger motion until the guest has read the
#: packets before it, so a correction would be added to motion still unseen
MAX_MOTION = 127
#: intermediate moves of a drag (applications see motion with the button held)
DRAG_STEPS = 8


def _ask(remaining: int, gain: float) -> int:
    """Relative motion to ask for ``remaining`` guest pixels at ``gain``
    (at least one pixel while any remains, at most ``MAX_MOTION``)."""
    if not remaining:
        return 0
    ask = int(remaining / gain)  # toward zero: never past the target
    ask = max(-MAX_MOTION, min(MAX_MOTION, ask))
    return ask if ask else (1 if remaining > 0 else -1)


class MouseControl:
    """Pointer moves, buttons, wheel and drags in the server's mouse mode."""

    def __init__(self, session: Session) -> None:
        self._session = session
        #: buttons held (SPICE_MOUSE_BUTTON_MASK bits)
        self.buttons = 0
        #: where the last move put the pointer
        self.x = self.y = 0
        #: the cursor channel reports the guest pointer (False once a move got
        #: no report at all, e.g. a text console)
        self.guest_reports = True
        #: server mode: a move that cannot be seen to land on (x, y) raises
        #: SessionError (False: move blind, from where the last move went)
        self.exact = True
        #: seconds without a further report after which the pointer is still
        self.settle = GUEST_SETTLE
        #: the mode asked for whenever the server offers it (``set_mode``)
        self.preferred = int(MouseMode.CLIENT)
        #: supported-mode sets we asked ``preferred`` for (once each)
        self._asked: set[int] = set()
        session.core.on_event(MouseModeChanged, self._mode_changed)

    @property
    def mode(self) -> int:
        """The current ``MouseMode`` (SERVER: relative, CLIENT: absolute)."""
        return self._session.core.mouse_mode

    def _mode_changed(self, key: Any, event: MouseModeChanged, now: float) -> None:
        core = self._session.core
        core.mouse_modes, core.mouse_mode = event.supported_modes, event.current_mode
        want = self.preferred
        if (
            event.supported_modes & want
            and event.current_mode != want
            and event.supported_modes not in self._asked
        ):
            self._asked.add(event.supported_modes)
            core.queue_message(key, MainMouseModeRequest(want))

    async def set_mode(self, mode: int, timeout: float = 10.0) -> None:
        """Ask the server for ``mode`` (``MouseMode.SERVER`` or ``CLIENT``), keep
        asking for it when modes change, and wait until it is current.

        Raises:
            SessionError: the server does not offer ``mode`` (now).
            SpiceTimeoutError: the server did not switch within ``timeout``.
        """
        session = self._session
        if not session.core.mouse_modes & mode:
            raise SessionError(
                f"the server offers mouse modes {session.core.mouse_modes}, not {mode}"
            )
        self.preferred, self._asked = int(mode), set()
        main = session.connections.get((ChannelType.MAIN, 0))
        if main is None:
            raise SessionError("no main channel")
        machine: Any = main.machine
        main.call(machine.send_message, MainMouseModeRequest(mode))
        await session.wait_for(lambda: self.mode == mode, timeout, "the mouse mode")

    def _conn(self) -> Any:
        return self._session._inputs()

    async def move(self, x: int, y: int, display: int = 0) -> None:
        """Put the pointer on (x, y) of ``display``."""
        x, y = max(0, x), max(0, y)
        conn = self._conn()
        machine: Any = conn.machine
        if self.mode == MouseMode.CLIENT:
            conn.call(machine.send_mouse_position, x, y, self.buttons, display)
            self._session.cursor.local_move(x, y)
        else:
            await self._move_relative(conn, x, y, display)
        self.x, self.y = x, y
        await asyncio.sleep(0)  # let the transport write

    async def move_by(self, dx: int, dy: int, display: int = 0) -> None:
        """Move the pointer by (dx, dy): in SERVER mode one relative motion as
        given (the guest may accelerate it: a recorded person's motions replay
        as they were sent); in CLIENT mode to the last position plus (dx, dy)."""
        conn = self._conn()
        machine: Any = conn.machine
        x, y = max(0, self.x + dx), max(0, self.y + dy)
        if self.mode == MouseMode.CLIENT:
            conn.call(machine.send_mouse_position, x, y, self.buttons, display)
            self._session.cursor.local_move(x, y)
        else:
            conn.call(machine.send_mouse_motion, dx, dy, self.buttons)
        self.x, self.y = x, y
        await asyncio.sleep(0)

    def _cursor_linked(self) -> bool:
        return any(t == ChannelType.CURSOR for t, _ in self._session.connections)

    def _clamp(self, x: int, y: int, display: int) -> tuple[int, int]:
        """(x, y) within the display's primary surface, when it is known (the
        guest pointer cannot go further: a target beyond it is never reached)."""
        driver = self._session.core.drivers.get(display)
        pixels = None if driver is None else driver.primary_pixels()
        if pixels is None:
            return x, y
        height, width = pixels.shape[:2]
        return min(x, width - 1), min(y, height - 1)

    async def _move_relative(self, conn: Any, x: int, y: int, display: int) -> None:
        machine: Any = conn.machine
        cursor = self._session.cursor
        x, y = self._clamp(x, y, display)
        blind = not self._cursor_linked() or not (self.guest_reports or self.exact)
        if blind:
            if self.exact:
                raise SessionError(
                    f"server mouse mode: no cursor channel reports the guest "
                    f"pointer, so a move to ({x}, {y}) cannot land exactly "
                    f"(mouse.exact = False moves blind)"
                )
            conn.call(machine.send_mouse_motion, x - self.x, y - self.y, self.buttons)
            return
        gain = [1.0, 1.0]  # guest pixels per pixel asked, per axis, as measured
        for step in range(MAX_STEPS):
            at = (cursor.x, cursor.y)
            if at == (x, y):
                self.guest_reports = True
                return
            ask = [_ask(t - a, g) for t, a, g in zip((x, y), at, gain, strict=True)]
            conn.call(machine.send_mouse_motion, ask[0], ask[1], self.buttons)
            try:
                await self._session.wait_for(
                    lambda at=at: (cursor.x, cursor.y) != at,  # type: ignore[misc]
                    GUEST_MOVE_WAIT,
                    "the guest pointer to move",
                )
            except SpiceTimeoutError:
                if step == 0:  # not one report: a guest that does not show it
                    self.guest_reports = False
                    if self.exact:
                        raise SessionError(
                            f"server mouse mode: the guest did not report its "
                            f"pointer within {GUEST_MOVE_WAIT} s of a motion, so "
                            f"a move to ({x}, {y}) cannot land exactly (a text "
                            f"console shows none; mouse.exact = False moves blind)"
                        ) from None
                    return  # the motion was sent blind
                break  # it moved, then stopped short: checked below
            await self._settle()
            moved = (cursor.x - at[0], cursor.y - at[1])
            for axis in (0, 1):
                if ask[axis] and moved[axis] * ask[axis] > 0:
                    # the largest gain seen: corrections undershoot (and
                    # converge) rather than overshoot (and oscillate)
                    seen = min(MAX_GAIN, moved[axis] / ask[axis])
                    gain[axis] = max(gain[axis], seen)
        self.guest_reports = True
        if (cursor.x, cursor.y) != (x, y) and self.exact:
            raise SessionError(
                f"server mouse mode: the guest pointer is at ({cursor.x}, "
                f"{cursor.y}) after {step + 1} motions, not ({x}, {y})"
            )

    async def _settle(self) -> None:
        """Wait until the guest pointer stops: one motion can come back as
        several reports (the guest splits it: PS/2 packets carry at most 255
        counts), and a correction measured on part of it would overshoot."""
        cursor = self._session.cursor
        while True:
            mark = cursor.position
            try:
                await self._session.wait_for(
                    lambda mark=mark: cursor.position != mark,  # type: ignore[misc]
                    self.settle,
                    "more pointer moves",
                )
            except SpiceTimeoutError:
                return

    async def button(self, button: int, down: bool) -> None:
        """Press (``down``) or release ``button`` (1 left, 2 middle, 3 right,
        4/5 wheel up/down, 6/7 side/extra)."""
        if not MouseButton.LEFT <= button <= MouseButton.EXTRA:
            raise ValueError(f"mouse button {button} out of range 1..7")
        conn = self._conn()
        machine: Any = conn.machine
        mask = 1 << (button - 1)
        self.buttons = self.buttons | mask if down else self.buttons & ~mask
        send = machine.send_mouse_press if down else machine.send_mouse_release
        conn.call(send, button, self.buttons)
        await asyncio.sleep(0)

    async def click(self, x: int, y: int, button: int = 1, display: int = 0) -> None:
        """Move to (x, y) and press and release ``button``."""
        await self.move(x, y, display)
        await self.button(button, True)
        await self.button(button, False)

    async def wheel(self, clicks: int) -> None:
        """Scroll ``clicks`` notches: up when positive, down when negative."""
        button = MouseButton.UP if clicks > 0 else MouseButton.DOWN
        for _ in range(abs(clicks)):
            await self.button(button, True)
            await self.button(button, False)

    async def drag(
        self,
        x1: int,
        y1: int,
        x2: int,
        y2: int,
        button: int = 1,
        *,
        steps: int = DRAG_STEPS,
        display: int = 0,
    ) -> None:
        """Press ``button`` on (x1, y1), move to (x2, y2) in ``steps`` moves,
        release there."""
        await self.move(x1, y1, display)
        await self.button(button, True)
        try:
            n = max(1, steps)
            for i in range(1, n + 1):
                await self.move(
                    x1 + (x2 - x1) * i // n, y1 + (y2 - y1) * i // n, display
                )
        finally:
            await self.button(button, False)
