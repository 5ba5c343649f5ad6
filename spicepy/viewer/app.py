"""``spicepy view``: the viewer's event loop, on spicepy's public API only.

Theory of operation: one asyncio loop runs both the session (its sockets) and
the window.  Each turn of ``Viewer.run`` handles the SDL events that arrived
(keys through ``keyboard.Keyboard``, pointer in the server's mouse mode, window
size, focus, clipboard), takes the screen's coalesced damage
(``Session.screen.subscribe``), paints it (``render.Renderer``) and pushes only
those rectangles to the screen, then sleeps until the session changes the
screen (the subscription's ``notify`` wakes it) or ``POLL`` s pass, the longest an SDL
event waits.  The same turn hands new audio frames to SDL
(``Session.audio.take_frames``) and checks ``Session.error`` (the session
ended); a new guest clipboard offer with text or a PNG image
(``Session.agent.on_clipboard``) starts a fetch for the desktop clipboard.
Nothing else waits on the session.  Text goes through SDL's clipboard; images
through ``x11clip`` (SDL2's clipboard is text only), on X11 only.

Several monitors: every display channel, and every monitor MONITORS_CONFIG
puts on one, is a ``geometry.Head`` shown in its own window, as remote-viewer
does (one canvas would need one scale for heads of different sizes and a
made-up arrangement; separate windows go where the desktop's monitors are).
The first head is SDL's display-module window (partial updates, grab, full
screen); the others are ``pygame.Window``s placed to its right, each with its
own ``Renderer``.  A change of any display's size or monitors redoes the list
(``_sync_heads``): new windows open, gone ones close, and with more than one
head "resize guest" sends every window's size as one monitor configuration.

Mouse: in CLIENT mode window positions become guest positions through the
viewport (absolute, ``Session.mouse.move``); in SERVER mode a click grabs the
pointer (SDL relative mode) and motion goes out relative, scaled to guest
pixels, with the guest pointer drawn into the window from the cursor channel.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import time
from dataclasses import dataclass
from typing import Any

from spicepy.errors import SpiceError, SpiceTimeoutError
from spicepy.session import Monitor, Session
from spicepy.session.frames import FrameUpdate, SurfaceResized
from spicepy.viewer.geometry import SCALE_MODES, Head, Viewport, heads
from spicepy.viewer.keyboard import Hotkey, Keyboard
from spicepy.wire.enums import (
    ChannelType,
    ClipboardSelection,
    ClipboardType,
    MouseMode,
)

__all__ = ["Viewer", "ViewerOptions", "POLL", "status_title", "window_name"]

log = logging.getLogger(__name__)

#: longest wait for an SDL event (s): the input latency the loop adds at most
POLL = 0.004
#: a window resize waits this long before the guest is asked to follow (s)
RESIZE_SETTLE = 0.4
#: seconds before a resize request the guest did not follow is sent again
RESIZE_RETRY = 2.0
#: requests per window size before the guest's own size is accepted
RESIZE_TRIES = 5
#: an input whose screen change comes later than this is not a latency sample
LATENCY_WINDOW = 1.0


@dataclass(frozen=True, slots=True)
class ViewerOptions:
    """``scale``: "fit" or "1"; ``resize_guest``: ask the agent for the window
    size (remote-viewer's "resize guest"); ``audio``: play the playback channel;
    ``audio_latency``: the most playback audio queued, in seconds (None:
    ``viewer.audio.MAX_BUFFERED``); ``record``: the microphone to the guest
    while it records (the session must be connected with ``record=True``);
    ``title``: the windows' name, ``%d`` their number (``window_name``)."""

    scale: str = "fit"
    full_screen: bool = False
    resize_guest: bool = True
    audio: bool = True
    record: bool = False
    title: str = "spicepy"
    audio_latency: float | None = None

    def __post_init__(self) -> None:
        if self.scale not in SCALE_MODES:
            raise ValueError(f"scale {self.scale!r}: one of {', '.join(SCALE_MODES)}")
        if self.audio_latency is not None and not self.audio_latency > 0:
            raise ValueError(f"audio latency {self.audio_latency}: must be > 0 s")


class HeadWindow:
    """One head in one window (``win`` None: the display module's window)."""

    def __init__(self, head: Head, renderer: Any, win: Any = None) -> None:
        self.head = head
        self.renderer = renderer
        self.win = win

    def surface(self, pg: Any) -> Any:
        return pg.display.get_surface() if self.win is None else self.win.get_surface()


class Viewer:
    """Windows showing ``session``'s displays; ``await run()`` until closed.

    Raises (from ``run``): ``SpiceError`` when the session dies.
    """

    def __init__(self, session: Session, options: ViewerOptions | None = None) -> None:
        import pygame

        from spicepy.viewer.render import Renderer

        self.pg = pygame
        self.s = session
        self.options = options or ViewerOptions()
        self.renderer = Renderer(self.options.scale)
        #: the heads shown, the main window's first (``_sync_heads``)
        self.heads: list[HeadWindow] = []
        self._closed_heads: set[tuple[int, int]] = set()
        self.keyboard = Keyboard(self._key, self._raw_keys)
        self._keys: list[tuple[int, bool] | bytes] = []
        self.window: Any = None
        self.grabbed = False
        self.full_screen = self.options.full_screen
        self._wake = asyncio.Event()
        self._quit = False
        self._cursor_seen: tuple[object, bool, bool, bool] | None = None
        self._asked_size: tuple[int, int] | None = None
        self._resize_at: float | None = None
        self._resize_tries = 0
        #: the clipboard content last passed either way (no echo back)
        self._last_clip: str | bytes | None = None
        self._clip_task: asyncio.Future[None] | None = None
        self._local_task: asyncio.Future[None] | None = None
        self._offer_task: asyncio.Future[None] | None = None
        #: the desktop's image clipboard (X11 and python-xlib only)
        self.xclip: Any = None
        self._mic: Any = None  # viewer.audio.AudioIn while the guest records
        #: the desktop pointer's place in the main window (None: outside)
        self._pointer_at: tuple[int, int] | None = None
        self._input_at: float | None = None
        self._grab_click = False  # the release of a grabbing click is ours
        #: newest input-to-screen latency (s), frames shown, for the title
        self.latency: float | None = None
        #: the main channel's TCP round trip (s; None: not TCP, not Linux)
        self.ping: float | None = None
        self.frames_shown = 0
        self.fps = 0.0
        self._fps_mark = (time.monotonic(), 0)
        self._title = ""

    # -- the loop ------------------------------------------------------------------
    async def run(self) -> None:
        pg, s = self.pg, self.s
        os.environ.setdefault("SDL_GRAB_KEYBOARD", "1")  # Ctrl+Alt grab takes keys too
        pg.display.init()
        if pg.display.get_driver() == "x11":
            # SDL shows a window surface through an OpenGL texture by default:
            # without a GPU (Mesa's llvmpipe and its threads) one 48x48 update
            # took 12 ms on a loaded 2-core machine, X11's shared-memory image
            # 0.03 ms (README, viewer latency)
            os.environ.setdefault("SDL_FRAMEBUFFER_ACCELERATION", "0")
        pg.key.stop_text_input()  # physical keys only: no IME in between
        while not self._current_heads():
            await s.wait_for_frame()
        first = self._current_heads()[0]
        self.heads = [HeadWindow(first, self.renderer)]
        self.renderer.origin = (first.x, first.y)
        self._open_window((first.width, first.height))
        # (not on_update: its per-change pixels keep the display lane off)
        sub = s.screen.subscribe(notify=self._wake.set)
        remove_clip = s.agent.on_clipboard(self._guest_clipboard)
        x_fd = _x11_fd(pg)
        loop = asyncio.get_running_loop()
        if x_fd is not None:  # X events wake the loop at once (else: POLL)
            loop.add_reader(x_fd, self._wake.set)
            self.xclip = _x11_clipboard()
            if self.xclip is not None:
                loop.add_reader(self.xclip.fileno(), self._wake.set)
        audio = None
        if self.options.audio:
            from spicepy.viewer.audio import AudioOut

            audio = (
                AudioOut()
                if self.options.audio_latency is None
                else AudioOut(self.options.audio_latency)
            )
        try:
            self.renderer.guest_size = (first.width, first.height)
            self.renderer.relayout(self.window)
            self._sync_heads()
            self._paint_all()
            while not self._quit:
                self._check_session()
                await self._handle_events()
                self._apply(sub.take())
                self._update_cursor()
                self._resize_guest_when_due()
                if sum([hw.renderer.flush() for hw in self.heads]):
                    self.frames_shown += 1
                self._update_title()
                self._serve_clipboard()
                if audio is not None:
                    for frame in s.audio.take_frames():
                        if not s.audio.mute:
                            audio.play(frame)
                if self.options.record:
                    await self._record()
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(POLL):
                        await self._wake.wait()
        finally:
            if x_fd is not None:
                loop.remove_reader(x_fd)
            if self.xclip is not None:
                loop.remove_reader(self.xclip.fileno())
                self.xclip.close()
            remove_clip()
            sub.close()
            for task in (self._clip_task, self._local_task, self._offer_task):
                if task is not None:
                    task.cancel()
            if audio is not None:
                audio.close()
            if self._mic is not None:
                self._mic.close()
            self._release_inputs_quietly()
            for hw in self.heads[1:]:
                hw.win.destroy()
            pg.display.quit()

    def close(self) -> None:
        """Leave ``run`` at its next turn."""
        self._quit = True
        self._wake.set()

    def _check_session(self) -> None:
        """Raise the error of a session that ended (main or display closed)."""
        error = self.s.error
        if error is not None:
            raise error

    # -- window ----------------------------------------------------------------------
    def _open_window(self, guest: tuple[int, int]) -> None:
        pg = self.pg
        flags = pg.RESIZABLE | (pg.FULLSCREEN if self.full_screen else 0)
        desktop = pg.display.get_desktop_sizes()[0]
        if self.full_screen:
            size = (0, 0)
        else:  # the guest's size, if the desktop has room for it
            size = (min(guest[0], desktop[0]), min(guest[1], desktop[1]))
        if self.window is None:
            self.window = pg.display.set_mode(size, flags)
        else:  # the same window, resized (set_mode may make a new one)
            pg.Window.from_display_module().size = size
            self.window = pg.display.get_surface()
        self._title = ""
        self._update_title()

    def _window_size_changed(self, hw: HeadWindow | None = None) -> None:
        hw = hw or self.heads[0]
        if hw.win is None:
            self.window = self.pg.display.get_surface()
        hw.renderer.relayout(hw.surface(self.pg))
        self._paint_all()
        if self.options.resize_guest:
            self._resize_at = time.monotonic() + RESIZE_SETTLE

    def _paint_all(self) -> None:
        for hw in self.heads:
            pixels = self.s.screen.pixels(hw.head.display)
            if pixels is not None:
                hw.renderer.repaint(hw.surface(self.pg), pixels)

    def _all_heads(self) -> list[Head]:
        """Every head of every display, in order (closed windows' too)."""
        screen = self.s.screen
        surfaces = {}
        for display in screen.displays:
            size = screen.size(display)
            if size is not None:
                surfaces[display] = (*size, screen.monitors(display))
        return heads(surfaces)

    def _current_heads(self) -> list[Head]:
        shown = self._all_heads()
        rest = [h for h in shown if h.key not in self._closed_heads]
        return rest or shown[:1]  # the main window always shows something

    def _sync_heads(self) -> None:
        """Windows for the heads as they are now (a size or monitors changed)."""
        now = self._current_heads()
        if not now:
            return  # no surface at all: keep showing the last picture
        main, first = self.heads[0], now[0]
        if first != main.head:
            resized = (first.width, first.height) != main.renderer.guest_size
            main.head = first
            main.renderer.origin = (first.x, first.y)
            if resized:
                self._guest_resized(first.width, first.height)
            else:
                main.renderer.relayout(self.window)
        old = {hw.head.key: hw for hw in self.heads[1:]}
        kept = [main]
        for head in now[1:]:
            hw = old.pop(head.key, None)
            if hw is None:
                hw = self._open_head_window(head, kept[-1])
            elif hw.head != head:
                hw.head = head
                hw.win.size = (head.width, head.height)
            hw.renderer.origin = (head.x, head.y)
            hw.renderer.guest_size = (head.width, head.height)
            hw.renderer.relayout(hw.surface(self.pg))
            kept.append(hw)
        for hw in old.values():
            hw.win.destroy()
        self.heads = kept
        self._paint_all()

    def _open_head_window(self, head: Head, left: HeadWindow) -> HeadWindow:
        """A window for another head, just right of the previous one; named
        with the head's place among all heads (as remote-viewer numbers its
        displays, whichever windows are closed)."""
        from spicepy.viewer.render import Renderer

        pg = self.pg
        if left.win is None:
            x, y = pg.Window.from_display_module().position
            w = pg.display.get_surface().get_width()
        else:
            (x, y), w = left.win.position, left.win.size[0]
        name = f"display {head.display}"
        if head.monitor is not None and head.monitor > 0:
            name += f" monitor {head.monitor}"
        keys = [h.key for h in self._all_heads()]
        nth = keys.index(head.key) if head.key in keys else len(self.heads)
        win = pg.Window(
            window_name(self.options.title, nth, name),
            (head.width, head.height),
            (x + w, y),
            resizable=True,
        )
        renderer = Renderer(self.renderer.mode, lambda rects: win.flip())
        return HeadWindow(head, renderer, win)

    def _head_for(self, event: Any) -> HeadWindow:
        """The head whose window ``event`` happened in (None: the main one)."""
        win = getattr(event, "window", None)
        if win is not None:
            for hw in self.heads[1:]:
                if hw.win is win or hw.win.id == win.id:
                    return hw
        return self.heads[0]

    def _apply(self, events: list[FrameUpdate | SurfaceResized]) -> None:
        painted = False
        for event in events:
            if isinstance(event, SurfaceResized):
                if event.width and event.height:
                    self._sync_heads()
                continue
            for hw in self.heads:
                if hw.head.display != event.display:
                    continue
                rects = [hw.head.local(rect) for rect in event.rects]
                mine = tuple(r for r in rects if r is not None)
                if mine:
                    hw.renderer.paint(hw.surface(self.pg), event.pixels, mine)
                    painted = True
        if painted and self._input_at is not None:
            lag = time.monotonic() - self._input_at
            if lag < LATENCY_WINDOW:
                self.latency = lag
            self._input_at = None

    def _guest_resized(self, width: int, height: int) -> None:
        self.renderer.guest_size = (width, height)
        asked, self._asked_size = self._asked_size, None
        if not self.full_screen and asked != (width, height):
            # the guest chose this size: the window follows (remote-viewer does)
            self._open_window((width, height))
        self.renderer.relayout(self.window)

    def _resize_guest_when_due(self) -> None:
        """Ask the agent for the window's size once it settled; ask again
        while the guest has not taken it (spice-vdagent ignores requests
        until its session is up, remote-viewer re-sends too)."""
        at = self._resize_at
        if at is None or time.monotonic() < at:
            return
        vp = self.renderer.viewport
        want = self.window.get_size()
        sizes = [hw.surface(self.pg).get_size() for hw in self.heads]
        have = [(hw.head.width, hw.head.height) for hw in self.heads]
        if vp is None or sizes == have or min(min(s) for s in sizes) < 64:
            self._resize_at, self._resize_tries = None, 0
            return
        self._resize_at = time.monotonic() + RESIZE_RETRY
        if self.s.agent.caps is None:  # no agent (yet): scaled meanwhile
            return
        self._resize_tries += 1
        if self._resize_tries > RESIZE_TRIES:
            self._resize_at, self._resize_tries = None, 0
            return
        self._asked_size = want
        # every head at once, side by side: one monitor alone disables the rest
        monitors, x = [], 0
        for w, h in sizes:
            monitors.append(Monitor(w, h, x, 0))
            x += w
        asyncio.ensure_future(self.s.agent.set_monitors(monitors))

    def _update_title(self) -> None:
        now = time.monotonic()
        mark_t, mark_n = self._fps_mark
        if now - mark_t >= 1.0:  # fps and ping: once a second
            self.fps = (self.frames_shown - mark_n) / (now - mark_t)
            self._fps_mark = (now, self.frames_shown)
            main = self.s.connections.get((ChannelType.MAIN, 0))
            self.ping = None if main is None else main.round_trip()
        vp = self.renderer.viewport
        title = status_title(
            window_name(self.options.title, 0, ""),
            state="migrating" if self.s.migration.in_progress else "connected",
            ping=self.ping,
            size=None if vp is None else (vp.guest_w, vp.guest_h),
            fps=self.fps,
            latency=self.latency,
            client_mouse=self.s.mouse.mode == MouseMode.CLIENT,
            grabbed=self.grabbed,
        )
        if title != self._title:
            self._title = title
            self.pg.display.set_caption(title)

    # -- input -----------------------------------------------------------------------
    def _key(self, code: int, down: bool) -> None:
        self._keys.append((code, down))

    def _raw_keys(self, data: bytes) -> None:
        self._keys.append(data)

    async def _handle_events(self) -> None:
        pg, s = self.pg, self.s
        motion: tuple[HeadWindow, tuple[int, int]] | None = None
        rel = [0.0, 0.0]
        for ev in pg.event.get():
            t = ev.type
            if t == pg.QUIT:
                self.close()
            elif t == pg.WINDOWCLOSE:
                self._close_window(self._head_for(ev))
            elif t == pg.KEYDOWN:
                self._hotkey(self.keyboard.press(ev.scancode))
            elif t == pg.KEYUP:
                self._hotkey(self.keyboard.release(ev.scancode))
            elif t == pg.MOUSEMOTION:
                if self.grabbed and s.mouse.mode == MouseMode.SERVER:
                    rel[0] += ev.rel[0]
                    rel[1] += ev.rel[1]
                else:
                    motion = (self._head_for(ev), ev.pos)
                    main = motion[0] is self.heads[0]
                    self._pointer_at = ev.pos if main else None
            elif t == pg.WINDOWLEAVE:
                if self._head_for(ev) is self.heads[0]:
                    self._pointer_at = None  # no drawn pointer outside
            elif t in (pg.MOUSEBUTTONDOWN, pg.MOUSEBUTTONUP):
                await self._flush_motion(motion, rel)
                motion, rel = None, [0.0, 0.0]
                hw = self._head_for(ev)
                await self._button(hw, ev.button, ev.pos, t == pg.MOUSEBUTTONDOWN)
            elif t == pg.WINDOWFOCUSLOST:
                self.keyboard.release_all()
                await self._release_buttons()
                self._set_grab(False)
            elif t == pg.WINDOWSIZECHANGED:
                self._window_size_changed(self._head_for(ev))
            elif t == pg.WINDOWEXPOSED:
                self._paint_all()
            elif t == pg.CLIPBOARDUPDATE:  # read it aside: owners can be slow
                if self._local_task is not None:
                    self._local_task.cancel()
                self._local_task = asyncio.ensure_future(self._local_clipboard())
        await self._flush_motion(motion, rel)
        keys, self._keys = self._keys, []
        for key in keys:
            if isinstance(key, bytes):  # Keyboard's raw path: Pause only
                await s.key_press("pause")  # raw, or E0 46 if the server must
            elif key[1]:
                await s.key_down(key[0])
            else:
                await s.key_up(key[0])
            self._input_at = time.monotonic()

    async def _flush_motion(
        self, motion: tuple[HeadWindow, tuple[int, int]] | None, rel: list[float]
    ) -> None:
        if motion is not None and self.s.mouse.mode == MouseMode.CLIENT:
            hw, pos = motion
            if hw.renderer.viewport is not None:
                x, y = hw.renderer.viewport.to_guest(*pos)
                await self.s.mouse.move(x, y, hw.head.mouse_display)
                self._input_at = time.monotonic()
            return
        vp = self.renderer.viewport  # relative: the grab is the main window's
        if vp is None:
            return
        if rel[0] or rel[1]:
            dx, dy = vp.guest_delta(round(rel[0]), round(rel[1]))
            if round(dx) or round(dy):
                await self.s.mouse.move_by(round(dx), round(dy))
                self._input_at = time.monotonic()

    async def _button(
        self, hw: HeadWindow, button: int, pos: tuple[int, int], down: bool
    ) -> None:
        vp = hw.renderer.viewport
        if vp is None or not 1 <= button <= 7:
            return
        if self.s.mouse.mode == MouseMode.SERVER and not self.grabbed:
            if down and button == 1:
                self._set_grab(True)  # the first click takes the pointer:
                self._grab_click = True  # neither its press nor its release
            return  # reaches the guest
        if button == 1 and self._grab_click:
            self._grab_click = False
            if not down:  # the grabbing click's release (a press: it was lost)
                return
        if self.s.mouse.mode == MouseMode.CLIENT:
            x, y = vp.to_guest(*pos)
            await self.s.mouse.move(x, y, hw.head.mouse_display)
        # SDL and SPICE number buttons alike: 1-3, wheel 4/5, side 6/7
        await self.s.mouse.button(button, down)
        self._input_at = time.monotonic()

    async def _release_buttons(self) -> None:
        for button in range(1, 8):
            if self.s.mouse.buttons & (1 << (button - 1)):
                await self.s.mouse.button(button, False)

    def _close_window(self, hw: HeadWindow) -> None:
        """Closing the main window ends the viewer; another is not shown again."""
        if hw.win is None:
            self.close()
            return
        self._closed_heads.add(hw.head.key)
        self._sync_heads()

    def _release_inputs_quietly(self) -> None:
        with contextlib.suppress(Exception):
            self.keyboard.release_all()

    def _hotkey(self, action: Hotkey | None) -> None:
        if action is Hotkey.GRAB:
            self._set_grab(not self.grabbed)
        elif action is Hotkey.FULLSCREEN:
            self.full_screen = not self.full_screen
            self.pg.display.toggle_fullscreen()
            self._window_size_changed()
        elif action is Hotkey.SCALE:
            self.renderer.mode = "1" if self.renderer.mode == "fit" else "fit"
            self.renderer.relayout(self.window)
            self._paint_all()

    def _set_grab(self, on: bool) -> None:
        pg = self.pg
        self.grabbed = on
        pg.event.set_grab(on)
        # SERVER mode: relative motion, the desktop pointer hidden and held
        pg.mouse.set_relative_mode(on and self.s.mouse.mode == MouseMode.SERVER)
        self._cursor_seen = None  # redo the pointer for the new state

    # -- the pointer -----------------------------------------------------------------
    def _update_cursor(self) -> None:
        from spicepy.viewer.render import cursor_surface

        pg, cursor = self.pg, self.s.cursor
        server = self.s.mouse.mode == MouseMode.SERVER
        image = cursor.image
        # drawn into the window: the guest's pointer in server mode, and
        # shapes that invert the screen (an SDL cursor cannot)
        drawn = server or (image is not None and image.xor is not None)
        if drawn or self.renderer.sprite is not None:
            self._draw_guest_pointer(server, drawn)
        state = (image, cursor.visible, server, drawn)
        if state == self._cursor_seen:
            return
        self._cursor_seen = state
        if server or image is None:  # the desktop's arrow (or none while grabbed)
            pg.mouse.set_system_cursor(pg.SYSTEM_CURSOR_ARROW)
            pg.mouse.set_visible(True)
        elif not cursor.visible or drawn:
            pg.mouse.set_visible(False)
        else:  # the guest's shape as the desktop pointer: no redraw on motion
            hot = (image.hot_x, image.hot_y)
            pg.mouse.set_cursor(pg.cursors.Cursor(hot, cursor_surface(image)))
            pg.mouse.set_visible(True)

    def _draw_guest_pointer(self, server: bool, drawn: bool) -> None:
        """The drawn pointer where the guest's is (server mode) or where the
        desktop's is in the main window (client mode, inverting shapes)."""
        from spicepy.viewer.render import cursor_sprite

        cursor, vp = self.s.cursor, self.renderer.viewport
        image = cursor.image
        at: tuple[int, int] | None = None
        if drawn and vp is not None and cursor.visible and image is not None:
            if server:
                ox, oy = self.renderer.origin  # the main head's place
                at = _to_window(vp, cursor.x - ox, cursor.y - oy)
            else:  # where the desktop's pointer is, if in the main window
                at = self._pointer_at
        if at is None:
            if self.renderer.sprite is None:
                return
            self._sprite_key = None
            self.renderer.move_sprite(self.window, self.s.screen.pixels(0), None)
            return
        assert image is not None and vp is not None
        key = (image, at[0], at[1], vp)
        if key == self._sprite_key:
            return
        self._sprite_key = key
        self.renderer.move_sprite(
            self.window, self.s.screen.pixels(0), cursor_sprite(image, *at)
        )

    _sprite_key: tuple[object, int, int, Viewport] | None = None

    # -- clipboard and audio ---------------------------------------------------------
    async def _record(self) -> None:
        """The microphone to the guest while it records: the capture device
        opens at the guest's format when it starts and closes when it stops."""
        from spicepy.viewer.audio import AudioIn

        fmt = self.s.record_format
        mic = self._mic
        if mic is not None and mic.format != fmt:
            mic.close()
            self._mic = mic = None
        if fmt is None:
            return
        if mic is None:
            try:
                self._mic = mic = AudioIn(*fmt).open()
            except Exception as exc:  # no capture device: the session goes on
                log.warning("microphone unavailable: %s", exc)
                self.options = dataclasses.replace(self.options, record=False)
                return
        samples = mic.take()
        if len(samples):
            await self.s.send_audio(samples, fmt[0])

    async def _local_clipboard(self) -> None:
        """The desktop's clipboard changed: offer its text (or else its PNG
        image) to the guest, now or once the agent has announced itself (SDL
        tells of a change only once, and the agent's capabilities can come
        after client mouse mode)."""
        self._serve_clipboard()  # a SelectionClear first: do we still own it?
        if self.xclip is not None and self.xclip.owns:
            return  # our own offer of the guest's image
        offer: str | bytes | None = self.pg.scrap.get_text()
        if not offer:
            offer = await self._desktop_image()
        if not offer or offer == self._last_clip:
            return
        if self.s.agent.caps is None:
            if self._offer_task is None or self._offer_task.done():
                self._offer_task = asyncio.ensure_future(self._offer_when_ready())
            return
        self._last_clip = offer
        if isinstance(offer, bytes):
            await self.s.agent.set_clipboard(offer, ClipboardType.IMAGE_PNG)
        else:
            await self.s.agent.set_clipboard(offer)

    async def _desktop_image(self) -> bytes | None:
        from spicepy.viewer.x11clip import PNG

        if self.xclip is None:
            return None
        try:
            if PNG not in await self.xclip.targets():
                return None
            data: bytes | None = await self.xclip.read(PNG)
        except SpiceError as exc:  # a slow or lying owner: nothing to offer
            log.info("desktop clipboard image not read: %s", exc)
            return None
        return data

    def _serve_clipboard(self) -> None:
        """Answer other clients' requests for our clipboard image."""
        if self.xclip is None:
            return
        try:
            self.xclip.process()
        except Exception as exc:  # python-xlib's errors: its connection died
            log.warning("desktop image clipboard gone: %s", exc)
            self.xclip = None

    async def _offer_when_ready(self) -> None:
        """Wait (one task, however many changes) for the agent, then offer the
        desktop's clipboard as it is then; ends with the session."""
        while self.s.agent.caps is None:
            try:
                await self.s.agent.wait_ready(timeout=60.0)
            except SpiceTimeoutError:
                continue  # no agent yet: it may come with the guest's desktop
            except SpiceError:
                return  # the session ended
        await self._local_clipboard()

    def _guest_clipboard(self, selection: int, types: tuple[int, ...]) -> None:
        """A new guest clipboard offer: fetch its text, or else its PNG image
        (when the desktop can take one), for the desktop."""
        if selection != ClipboardSelection.CLIPBOARD:
            return
        if ClipboardType.UTF8_TEXT in types:
            kind = ClipboardType.UTF8_TEXT
        elif ClipboardType.IMAGE_PNG in types and self.xclip is not None:
            kind = ClipboardType.IMAGE_PNG
        else:
            return
        if self._clip_task is not None:
            self._clip_task.cancel()
        self._clip_task = asyncio.ensure_future(self._fetch_clipboard(kind))

    async def _fetch_clipboard(self, kind: int) -> None:
        try:
            if kind == ClipboardType.UTF8_TEXT:
                text = await self.s.agent.get_clipboard_text()
            else:
                image = await self.s.agent.get_clipboard(kind)
        except SpiceError as exc:  # the guest changed its mind: nothing to copy
            log.info("guest clipboard not read: %s", exc)
            return
        if kind == ClipboardType.UTF8_TEXT:
            self._last_clip = text
            self.pg.scrap.put_text(text)
        elif self.xclip is not None:
            self._last_clip = image
            self.xclip.own(image)


def _x11_clipboard() -> Any:
    """The desktop's image clipboard, or None (no python-xlib, no display)."""
    try:
        from spicepy.viewer.x11clip import X11Clipboard
    except ImportError:
        return None
    try:
        return X11Clipboard(os.environ.get("DISPLAY"))
    except (SpiceError, ImportError) as exc:
        log.info("no image clipboard: %s", exc)
        return None


def _x11_fd(pg: Any) -> int | None:
    """The socket of SDL's X display connection, or None (not X11, or not
    found): pygame exposes the ``Display*`` only as a capsule."""
    import ctypes
    import ctypes.util

    try:
        if pg.display.get_driver() != "x11":
            return None
        capsule = pg.display.get_wm_info()["display"]
        get = ctypes.pythonapi.PyCapsule_GetPointer
        get.restype, get.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]
        get_name = ctypes.pythonapi.PyCapsule_GetName
        get_name.restype, get_name.argtypes = ctypes.c_char_p, [ctypes.py_object]
        display = get(capsule, get_name(capsule))
        xlib = ctypes.CDLL(ctypes.util.find_library("X11") or "libX11.so.6")
        xlib.XConnectionNumber.restype = ctypes.c_int
        xlib.XConnectionNumber.argtypes = [ctypes.c_void_p]
        fd = int(xlib.XConnectionNumber(display))
    except (OSError, KeyError, ValueError, AttributeError):
        return None
    return fd if fd >= 0 else None


def status_title(
    name: str,
    *,
    state: str,
    ping: float | None,
    size: tuple[int, int] | None,
    fps: float,
    latency: float | None,
    client_mouse: bool,
    grabbed: bool,
) -> str:
    """The window title: connection state, ping (the main channel's TCP
    round trip), guest size, frames shown a second, the newest input-to-screen
    time, mouse mode and grab; times in seconds, None: not known (yet)."""
    parts = [name, state]
    if ping is not None:
        parts.append(f"ping {ping * 1000:.1f} ms")
    if size is not None:
        parts.append(f"{size[0]}x{size[1]}")
    parts.append(f"{fps:.0f} fps")
    if latency is not None:
        parts.append(f"input->screen {latency * 1000:.0f} ms")
    parts.append(f"mouse {'client' if client_mouse else 'server'}")
    if grabbed:
        parts.append("grabbed (Ctrl+Alt releases)")
    return " - ".join(parts)


def window_name(title: str, nth: int, head: str) -> str:
    """The name of window ``nth`` (0: the main one) showing ``head`` (e.g.
    "display 1"): with ``%d`` in ``title`` the window's number from 1 there (the
    first ``%d``: remote-viewer's ``title=`` rule, virt-viewer-app.c); else
    ``title`` for the main window and "``head`` - ``title``" for the others."""
    if "%d" in title:
        return title.replace("%d", str(nth + 1), 1)
    return title if nth == 0 else f"{head} - {title}"


def _to_window(vp: Viewport, gx: int, gy: int) -> tuple[int, int]:
    """The window pixel showing guest pixel (gx, gy)."""
    return vp.x + gx * vp.out_w // vp.guest_w, vp.y + gy * vp.out_h // vp.guest_h
