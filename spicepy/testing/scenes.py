"""Deterministic content and X drawing scenarios for the live mode tests.

Everything is generated in code (numpy noise, core X fonts), so a scenario
draws the same pixels on every run.  The scenarios are built for the SPICE
server's codec choice (PROTOCOL.md section 12): smooth photo-like noise scores
HIGH graduality (QUIC in the auto modes), text and flat UI score LOW (LZ/GLZ),
XCopyArea on the screen and window moves become COPY_BITS, and an image put
twice is sent once and then referenced from the pixmap cache.

Drawing calls are synchronous python-xlib requests; scenarios that must reach
the client as separate draws are generators that yield between steps, so an
async caller can sleep there while spicepy keeps reading.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import numpy.typing as npt

from spicepy.testing.xdraw import RGB, XDraw

try:
    from Xlib import X
except ImportError:  # pragma: no cover - XDraw() reports it
    X = None

Image = npt.NDArray[np.uint8]

#: ``fixed`` (6x13) is compiled into Xorg, so no font package is needed.
LINE_HEIGHT = 13
CHAR_WIDTH = 6


def _pixel(color: RGB) -> int:
    r, g, b = color
    return (r << 16) | (g << 8) | b


def _smooth_noise(rng: np.random.Generator, h: int, w: int, cell: int) -> Any:
    """Random values on a coarse grid, bilinearly interpolated to (h, w)."""
    gh, gw = h // cell + 2, w // cell + 2
    grid = rng.random((gh, gw))
    ys = np.arange(h) / cell
    xs = np.arange(w) / cell
    y0 = ys.astype(np.int64)
    x0 = xs.astype(np.int64)
    fy = (ys - y0)[:, None]
    fx = (xs - x0)[None, :]
    # smoothstep weights hide the grid lines bilinear interpolation leaves
    fy = fy * fy * (3 - 2 * fy)
    fx = fx * fx * (3 - 2 * fx)
    a = grid[y0][:, x0]
    b = grid[y0][:, x0 + 1]
    c = grid[y0 + 1][:, x0]
    d = grid[y0 + 1][:, x0 + 1]
    return (a * (1 - fx) + b * fx) * (1 - fy) + (c * (1 - fx) + d * fx) * fy


def photo(h: int, w: int, seed: int = 0) -> Image:
    """A photograph-like (h, w, 3) RGB image: octaves of smooth noise plus grain.

    Neighbouring pixels differ a little almost everywhere (few equal pairs, no
    sharp edges), which is what spice-server's graduality test calls HIGH.
    """
    rng = np.random.default_rng(seed)
    out = np.empty((h, w, 3), np.float64)
    for ch in range(3):
        acc = np.zeros((h, w))
        amplitude = 1.0
        for cell in (64, 32, 16, 8):
            acc += amplitude * _smooth_noise(rng, h, w, cell)
            amplitude *= 0.5
        acc /= 1.875  # sum of the amplitudes: back to [0, 1]
        out[..., ch] = 30 + 190 * acc
    out += rng.normal(0.0, 2.0, (h, w, 3))  # film grain: neighbours rarely equal
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def gradient(h: int, w: int) -> Image:
    """A diagonal colour gradient (h, w, 3)."""
    yy, xx = np.mgrid[0:h, 0:w]
    out = np.empty((h, w, 3), np.uint8)
    out[..., 0] = xx * 255 // max(1, w - 1)
    out[..., 1] = yy * 255 // max(1, h - 1)
    out[..., 2] = (xx + yy) * 255 // max(1, w + h - 2)
    return out


def icon(size: int = 48, seed: int = 0) -> Image:
    """A flat UI-like icon (few colours, sharp edges: LOW graduality)."""
    rng = np.random.default_rng(seed)
    palette = rng.integers(0, 256, (4, 3), dtype=np.uint8)
    yy, xx = np.mgrid[0:size, 0:size]
    checker = ((xx // 8) + (yy // 8)) % 2
    disc = (xx - size // 2) ** 2 + (yy - size // 2) ** 2 < (size // 3) ** 2
    out: Image = palette[checker + 2 * disc]
    return out


def terminal_line(n: int) -> str:
    """Line ``n`` of a deterministic fake terminal log."""
    words = ("spice", "display", "glz", "quic", "lz4", "cache", "stream", "surface")
    parts = [words[(n * 7 + k * 3) % len(words)] for k in range(1 + n % 6)]
    tag = (n * 2654435761) & 0xFFFFFFFF
    return f"{n:05d} [{'IWE'[n % 3]}] " + " ".join(parts) + f" 0x{tag:08x}"


class Scene:
    """Drawing helpers on top of an ``XDraw`` (its python-xlib display and root).

    Args:
        draw: an open ``XDraw``.
    """

    def __init__(self, draw: XDraw) -> None:
        self.draw = draw
        self.d: Any = draw._d
        self.root: Any = draw.root
        # no GraphicsExpose/NoExpose events for copies: nobody reads them
        self.gc: Any = self.root.create_gc(
            foreground=0, background=0, graphics_exposures=False
        )
        self.font: Any = self.d.open_font("fixed")
        self.gc.change(font=self.font)
        self.windows: list[Any] = []

    def sync(self) -> None:
        self.d.sync()

    def set_root_background(self, color: RGB) -> None:
        """A solid root background: areas a moved window uncovers become fills."""
        self.root.change_attributes(background_pixel=_pixel(color))
        self.root.clear_area(0, 0, 0, 0)

    # -- terminal ---------------------------------------------------------------

    def text_line(
        self, x: int, y: int, text: str, fg: RGB, bg: RGB, target: Any = None
    ) -> None:
        """One line of text with its background (ImageText) at top-left (x, y)."""
        self.gc.change(foreground=_pixel(fg), background=_pixel(bg))
        (target or self.root).image_text(
            self.gc, x, y + LINE_HEIGHT - 3, text.encode("latin-1")
        )

    def scroll_up(self, x: int, y: int, w: int, h: int, dy: int, bg: RGB) -> None:
        """Scroll a screen area up by ``dy`` (XCopyArea) and clear the bottom strip."""
        self.root.copy_area(self.gc, self.root, x, y + dy, w, h - dy, x, y)
        self.gc.change(foreground=_pixel(bg))
        self.root.fill_rectangle(self.gc, x, y + h - dy, w, dy)

    def terminal(
        self, x: int, y: int, cols: int, rows: int, scrolls: int, first: int = 0
    ) -> Iterator[None]:
        """Fill a terminal area with lines, then scroll it ``scrolls`` times.

        Yields after the initial page and after each scroll step.
        """
        fg, bg = (200, 220, 200), (16, 24, 16)
        w, h = cols * CHAR_WIDTH, rows * LINE_HEIGHT
        self.draw.fill_rect(x, y, w, h, bg)
        for row in range(rows):
            self.text_line(
                x, y + row * LINE_HEIGHT, terminal_line(first + row)[:cols], fg, bg
            )
        self.sync()
        yield
        for step in range(scrolls):
            self.scroll_up(x, y, w, h, LINE_HEIGHT, bg)
            line = terminal_line(first + rows + step)[:cols]
            self.text_line(x, y + h - LINE_HEIGHT, line, fg, bg)
            self.sync()
            yield

    # -- windows ----------------------------------------------------------------

    def window(self, x: int, y: int, w: int, h: int, color: RGB) -> Any:
        """Create and map an override-redirect child of the root, solid background."""
        win = self.root.create_window(
            x,
            y,
            w,
            h,
            0,
            X.CopyFromParent,
            window_class=X.InputOutput,
            visual=X.CopyFromParent,
            background_pixel=_pixel(color),
            override_redirect=True,
        )
        win.map()
        self.windows.append(win)
        return win

    def fill_window(self, win: Any, x: int, y: int, w: int, h: int, color: RGB) -> None:
        self.gc.change(foreground=_pixel(color))
        win.fill_rectangle(self.gc, x, y, w, h)

    def put_window_image(self, win: Any, x: int, y: int, rgb: Image) -> None:
        """PutImage into a window (kept small: one request)."""
        h, w = rgb.shape[:2]
        bgrx = np.zeros((h, w, 4), np.uint8)
        bgrx[..., :3] = rgb[..., ::-1]
        win.put_image(self.gc, x, y, w, h, X.ZPixmap, 24, 0, bgrx.tobytes())

    def move(self, win: Any, x: int, y: int) -> None:
        win.configure(x=x, y=y)

    def raise_(self, win: Any) -> None:
        win.configure(stack_mode=X.Above)

    def destroy_windows(self) -> None:
        for win in self.windows:
            win.destroy()
        self.windows.clear()
        self.sync()


# -- the mode-matrix scenario, in phases ------------------------------------------
#
# Each phase is a generator that yields after every step it wants to reach the
# client as its own draws; a caller can check what each phase delivered.

BACKGROUND: RGB = (40, 44, 52)
TERM = (8, 8, 84, 30)  # x, y, columns, rows
SCROLLS = 8
PHOTO_AT, PHOTO_SIZE = (540, 8), (150, 300)  # one PutImage request (< 200 KiB)
GRADIENT_AT, GRADIENT_SIZE = (540, 200), (120, 300)
ICON_SIZE, ICON_COPIES = 48, 6
MOVES = 5


def phase_background(scene: Scene) -> Iterator[None]:
    """A solid root background, also for areas the window moves uncover."""
    scene.set_root_background(BACKGROUND)
    scene.draw.clear(BACKGROUND)
    scene.sync()
    yield


def phase_terminal(scene: Scene) -> Iterator[None]:
    """A page of terminal text, then SCROLLS scroll steps (XCopyArea + new line)."""
    x, y, cols, rows = TERM
    yield from scene.terminal(x, y, cols, rows, scrolls=SCROLLS)


def phase_photo(scene: Scene) -> Iterator[None]:
    scene.draw.put_image(*PHOTO_AT, photo(*PHOTO_SIZE, seed=3))
    scene.sync()
    yield


def phase_gradient(scene: Scene) -> Iterator[None]:
    scene.draw.put_image(*GRADIENT_AT, gradient(*GRADIENT_SIZE))
    scene.sync()
    yield


def phase_icons(scene: Scene) -> Iterator[None]:
    """The same icon ICON_COPIES times: the server sends it once, then from cache."""
    tile = icon(ICON_SIZE, seed=5)
    for k in range(ICON_COPIES):
        scene.draw.put_image(8 + k * 60, 420, tile)
        scene.sync()
        yield


def phase_windows(scene: Scene) -> Iterator[None]:
    """Two windows with content; A moves MOVES times under B, then is raised."""
    a = scene.window(560, 420, 220, 150, (70, 90, 160))
    b = scene.window(700, 480, 200, 140, (160, 80, 60))
    for win, tag in ((a, "window A"), (b, "window B")):
        scene.fill_window(win, 10, 10, 120, 20, (240, 240, 240))
        scene.text_line(14, 13, tag, (0, 0, 0), (240, 240, 240), target=win)
        scene.put_window_image(win, 10, 40, icon(ICON_SIZE, seed=6))
    scene.sync()
    yield
    for step in range(1, MOVES + 1):  # overlapping moves: the X server copies
        scene.move(a, 560 - 30 * step, 420 + 12 * step)
        scene.sync()
        yield
    scene.raise_(a)  # A's corner was under B: raising A exposes it
    scene.sync()
    yield


PHASES: dict[str, Callable[[Scene], Iterator[None]]] = {
    "terminal": phase_terminal,
    "photo": phase_photo,
    "gradient": phase_gradient,
    "icons": phase_icons,
    "windows": phase_windows,
}


def stream_frame(h: int, w: int, t: int, base: Image | None = None) -> Image:
    """Frame ``t`` of a moving photo-like video: ``base`` panned and tinted."""
    if base is None:
        base = photo(h + 64, w + 64, 1)
    dx = (t * 3) % 64
    dy = (t * 2) % 64
    frame = base[dy : dy + h, dx : dx + w].astype(np.int16)
    frame[..., (t // 10) % 3] += 12 * ((t % 10) - 5) // 5
    return np.clip(frame, 0, 255).astype(np.uint8)


def ui_frame(h: int, w: int, t: int) -> Image:
    """Frame ``t`` of flat UI-like animation: 16-pixel blocks of four colours.

    Equal neighbours and sharp edges everywhere, so spice-server's graduality
    test says LOW for every frame (the ``filter`` stream detector skips it).
    """
    palette = np.array(
        [(250, 250, 250), (30, 30, 30), (40, 120, 220), (220, 60, 40)], np.uint8
    )
    yy, xx = np.mgrid[0:h, 0:w]
    index = ((xx + 4 * t) // 16 + (yy // 16) * 3 + t // 5) % 4
    out: Image = palette[index]
    return out
