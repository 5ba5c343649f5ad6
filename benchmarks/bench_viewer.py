"""``spicepy view`` against remote-viewer (spice-gtk) on the same server, same run:
input-to-screen latency and frames shown per second.

Usage::

    .venv/bin/python benchmarks/bench_viewer.py [--keys 40] [--rounds 2] [--json F]

Setup: an Xspice (640x480) showing one full-screen X client of ours (the
"guest application": it repaints a 48x48 square in a new colour at each
KeyPress, like a terminal echoing a glyph, and animates a second square on
demand), an Xvfb desktop where one client at a time shows it 1:1.  Clients
alternate round by round, so machine load hits both alike.

- Latency: a key is pressed and released through XTEST on the desktop (what
  xdotool does, without its process start in the timing); the time until the
  square's new colour is in the client's window (one pixel read back with X
  GetImage, back to back; the poll's cost is printed) is one sample.
- Frames shown: the other square changes colour as fast as the guest
  application can draw (its count is the server rate); one of its pixels in
  the client's window is sampled back to back for ``--seconds`` and every
  colour change counts as a frame shown.

The pytest form (``test_viewer_smoke``) runs a few keys per client once and
skips without Xspice, Xvfb, pygame-ce or remote-viewer (then spicepy alone).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pytest

CLIENTS = ("spicepy", "remote-viewer")
#: between two polls of the window (s): on 2 cores a busy poller would take
#: the CPU the clients need (the printed poll time includes it)
POLL_PAUSE = 0.0005


@dataclass
class Result:
    client: str
    latency_ms: list[float] = field(default_factory=list)
    missed: int = 0
    frames_shown: list[float] = field(default_factory=list)  # per second, per round
    server_fps: list[float] = field(default_factory=list)
    poll_ms: list[float] = field(default_factory=list)


def _missing() -> str | None:
    from spicepy.testing.xspice import available
    from spicepy.testing.xvfb import xvfb_available

    reason = available() or xvfb_available()
    if reason is None:
        try:
            import pygame  # noqa: F401
        except ImportError:
            reason = "pygame-ce missing (the viewer extra)"
    return reason


@contextmanager
def client(name: str, desk: Any, uri: str) -> Iterator[int]:
    """Start one client on the desktop; its window id."""
    env = dict(desk.env, PYGAME_HIDE_SUPPORT_PROMPT="1", SDL_AUDIODRIVER="dummy")
    if name == "spicepy":
        args = [sys.executable, "-m", "spicepy", "view", uri, "--scale", "1"]
        args.append("--no-audio")
        prefix = "spicepy"
    else:
        args, prefix = ["remote-viewer", uri], "spice://"
    proc = subprocess.Popen(
        args,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wid = desk.find_window(prefix, 30)
        deadline = time.monotonic() + 20
        while desk.window_size(wid)[0] < 600 and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.5)  # first frame shown, pointer and focus settled
        desk.xdotool("mousemove", "--window", str(wid), "320", "300")
        desk.xdotool("windowfocus", "--sync", str(wid))
        time.sleep(0.5)
        yield wid
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Grabber:
    """Window pixels and XTEST keys on the desktop (python-xlib)."""

    def __init__(self, display: str, wid: int) -> None:
        from Xlib import XK, X
        from Xlib import display as xdisplay
        from Xlib.ext import xtest

        self.X, self.XK, self.xtest = X, XK, xtest
        self.x = xdisplay.Display(display)
        self.window = self.x.create_resource_object("window", wid)
        g = self.window.get_geometry()
        self.size = (g.width, g.height)

    def grab(self, x: int = 0, y: int = 0, w: int = 0, h: int = 0) -> bytes:
        w, h = w or self.size[0], h or self.size[1]
        image = self.window.get_image(x, y, w, h, self.X.ZPixmap, 0xFFFFFFFF)
        return bytes(image.data)

    def key(self, char: str) -> None:
        code = self.x.keysym_to_keycode(self.XK.string_to_keysym(char))
        self.xtest.fake_input(self.x, self.X.KeyPress, code)
        self.xtest.fake_input(self.x, self.X.KeyRelease, code)
        self.x.sync()

    def find(self, rgb: tuple[int, int, int]) -> tuple[int, int] | None:
        """Top-left window pixel of colour ``rgb``."""
        data = np.frombuffer(self.grab(), np.uint8).reshape(self.size[1], -1, 4)
        hits = np.argwhere(np.all(data[..., 2::-1] == rgb, axis=2))
        return None if len(hits) == 0 else (int(hits[0][1]), int(hits[0][0]))

    def close(self) -> None:
        self.x.close()


class GuestApp:
    """The application on the server's X display (its own thread and X
    connection): the echo square answers keys, the animation square runs on
    demand."""

    ECHO = (100, 100, 48, 48)
    ANIM = (400, 100, 48, 48)
    MARK = (1, 2, 3)  # the animation square at rest: a colour nothing else has

    def __init__(self, display: str, size: tuple[int, int]) -> None:
        from Xlib import X
        from Xlib import display as xdisplay

        self.X = X
        self.x = xdisplay.Display(display)
        screen = self.x.screen()
        self.window = screen.root.create_window(
            0,
            0,
            size[0],
            size[1],
            0,
            screen.root_depth,
            background_pixel=screen.white_pixel,
            event_mask=X.KeyPressMask | X.ExposureMask,
            override_redirect=True,
        )
        self.gc = self.window.create_gc()
        self.window.map()
        self.window.set_input_focus(X.RevertToPointerRoot, X.CurrentTime)
        self.colour = 0
        self.animate = threading.Event()
        self.drawn = 0
        self._stop = False
        self._fill(self.ECHO, (0, 0, 0))
        self._fill(self.ANIM, self.MARK)
        self.x.sync()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _fill(self, rect: tuple[int, int, int, int], rgb: tuple[int, int, int]) -> None:
        self.gc.change(foreground=(rgb[0] << 16) | (rgb[1] << 8) | rgb[2])
        self.window.fill_rectangle(self.gc, *rect)

    def _run(self) -> None:
        resting = True
        while not self._stop:
            while self.x.pending_events():
                ev = self.x.next_event()
                if ev.type == self.X.KeyPress:
                    self.colour += 1
                    c = self.colour
                    self._fill(self.ECHO, (c * 37 % 200 + 50, c * 91 % 200 + 50, 9))
                    self.x.sync()
            if self.animate.is_set():
                self.drawn += 1
                n = self.drawn
                self._fill(self.ANIM, (n % 251, n * 7 % 253, 200))
                self.x.sync()
                resting = False
            elif not resting:
                self._fill(self.ANIM, self.MARK)
                self.x.sync()
                resting = True
            else:
                time.sleep(0.001)

    def close(self) -> None:
        self._stop = True
        self._thread.join(5)
        self.x.close()


def measure_latency(g: Grabber, app: GuestApp, keys: int, result: Result) -> None:
    at = _locate(g)
    if at is None:
        result.missed += keys
        return
    # the echo square: ANIM.x - ECHO.x left of the animation square (1:1)
    x, y = at[0] - (GuestApp.ANIM[0] - GuestApp.ECHO[0]) + 4, at[1] + 4
    for i in range(keys):
        before = g.grab(x, y, 1, 1)
        t0 = time.perf_counter()
        g.key("abcdefghij"[i % 10])
        polls = 0
        while True:
            now = g.grab(x, y, 1, 1)
            polls += 1
            t1 = time.perf_counter()
            if now != before:
                result.latency_ms.append((t1 - t0) * 1000)
                result.poll_ms.append((t1 - t0) * 1000 / polls)
                break
            if t1 - t0 > 2.0:
                result.missed += 1
                break
            time.sleep(POLL_PAUSE)
        time.sleep(0.03)


def _locate(g: Grabber) -> tuple[int, int] | None:
    """The animation square at rest in the client's window."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        at = g.find(GuestApp.MARK)
        if at is not None:
            return at
        time.sleep(0.1)
    return None


def measure_frames(g: Grabber, app: GuestApp, seconds: float, result: Result) -> None:
    at = _locate(g)
    if at is None:
        return
    px, py = at[0] + 4, at[1] + 4
    first = app.drawn
    start = time.monotonic()
    app.animate.set()
    changes, last = 0, g.grab(px, py, 1, 1)
    while time.monotonic() - start < seconds:
        now = g.grab(px, py, 1, 1)
        if now != last:
            changes, last = changes + 1, now
        time.sleep(POLL_PAUSE)
    app.animate.clear()
    elapsed = time.monotonic() - start
    result.frames_shown.append(changes / elapsed)
    result.server_fps.append((app.drawn - first) / elapsed)


def run(
    keys: int, rounds: int, seconds: float, clients: tuple[str, ...]
) -> list[Result]:
    from spicepy.testing.xspice import Xspice, XspiceOptions
    from spicepy.testing.xvfb import Xvfb

    results = {name: Result(name) for name in clients}
    with Xvfb() as desk, Xspice(XspiceOptions(width=640, height=480)) as srv:
        app = GuestApp(srv.display, (640, 480))
        try:
            for _ in range(rounds):
                for name in clients:
                    with client(name, desk, srv.uri) as wid:
                        g = Grabber(desk.display, wid)
                        try:
                            measure_latency(g, app, keys, results[name])
                            measure_frames(g, app, seconds, results[name])
                        finally:
                            g.close()
        finally:
            app.close()
    return list(results.values())


def table(results: list[Result]) -> str:
    lines = [
        "| client | input->screen median ms | p90 ms | missed | frames shown/s "
        "| server draws/s | poll ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lat = sorted(r.latency_ms)
        p90 = lat[int(0.9 * (len(lat) - 1))] if lat else float("nan")
        lines.append(
            f"| {r.client} | {statistics.median(lat) if lat else float('nan'):.1f} "
            f"| {p90:.1f} | {r.missed} "
            f"| {statistics.median(r.frames_shown) if r.frames_shown else 0:.0f} "
            f"| {statistics.median(r.server_fps) if r.server_fps else 0:.0f} "
            f"| {statistics.median(r.poll_ms) if r.poll_ms else 0:.1f} |"
        )
    return "\n".join(lines)


def available_clients() -> tuple[str, ...]:
    return CLIENTS if shutil.which("remote-viewer") else CLIENTS[:1]


def test_viewer_smoke() -> None:
    reason = _missing()
    if reason is not None:
        pytest.skip(reason)
    results = run(keys=3, rounds=1, seconds=0.5, clients=available_clients())
    for r in results:
        assert len(r.latency_ms) + r.missed == 3
        assert r.latency_ms, f"{r.client}: no key reached the window"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--keys", type=int, default=40, help="keys per client and round")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--seconds", type=float, default=3.0, help="frame count time")
    p.add_argument("--json", help="write the raw samples here")
    args = p.parse_args()
    reason = _missing()
    if reason is not None:
        print(f"bench_viewer: cannot run: {reason}", file=sys.stderr)
        return 1
    results = run(args.keys, args.rounds, args.seconds, available_clients())
    print(table(results))
    if args.json:
        with open(args.json, "w") as f:
            json.dump([asdict(r) for r in results], f, indent=1)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    sys.exit(main())
