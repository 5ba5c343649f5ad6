"""A virtual desktop (Xvfb) for driving a GUI client as a person would.

``Xvfb`` starts the server on a display it picks itself (``-displayfd``, so
parallel tests never race for a number) and stops it on exit.  The helpers
find a top-level window by its title (python-xlib; xdotool 3.2016 cannot
match SDL's UTF-8 titles), read a window's pixels (X GetImage, what xwd
reads) and run xdotool on the display.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from types import TracebackType
from typing import Any

import numpy as np
import numpy.typing as npt

from spicepy.errors import SessionError, SpiceTimeoutError
from spicepy.testing._process import stop_process

__all__ = ["Xvfb", "xvfb_available"]


def xvfb_available() -> str | None:
    """None when Xvfb and xdotool can run here, else the reason."""
    for tool, package in (("Xvfb", "xvfb"), ("xdotool", "xdotool")):
        if shutil.which(tool) is None:
            return f"{tool} missing (apt-get install {package})"
    return None


class Xvfb:
    """An Xvfb server; a (sync) context manager.

    Attributes once started: ``display`` (":N"), ``env`` (DISPLAY set).
    """

    def __init__(self, width: int = 1280, height: int = 1024) -> None:
        self.size = (width, height)
        self.display = ""
        self._proc: subprocess.Popen[bytes] | None = None
        self._x: Any = None

    @property
    def env(self) -> dict[str, str]:
        return dict(os.environ, DISPLAY=self.display)

    def start(self, timeout: float = 20.0) -> Xvfb:
        read_fd, write_fd = os.pipe()
        screen = f"{self.size[0]}x{self.size[1]}x24"
        self._proc = subprocess.Popen(
            ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", screen]
            + ["-nolisten", "tcp", "-noreset"],
            pass_fds=(write_fd,),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        os.close(write_fd)
        deadline = time.monotonic() + timeout
        data = b""
        try:
            os.set_blocking(read_fd, False)
            while not data.endswith(b"\n"):
                if time.monotonic() > deadline or self._proc.poll() is not None:
                    raise SessionError("Xvfb did not start")
                try:
                    chunk = os.read(read_fd, 16)
                except BlockingIOError:
                    time.sleep(0.05)
                    continue
                if not chunk:
                    raise SessionError("Xvfb exited before naming its display")
                data += chunk
        except BaseException:
            self.stop()
            raise
        finally:
            os.close(read_fd)
        self.display = f":{int(data)}"
        return self

    def stop(self) -> None:
        if self._x is not None:
            self._x.close()
            self._x = None
        if self._proc is not None:
            stop_process(self._proc, grace=5.0)
            self._proc = None

    def __enter__(self) -> Xvfb:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- looking at it ---------------------------------------------------------------
    def _xlib(self) -> Any:
        if self._x is None:
            from Xlib import display as xdisplay

            self._x = xdisplay.Display(self.display)
        return self._x

    def window_title(self, wid: int) -> str:
        from Xlib.error import BadWindow

        x = self._xlib()
        window = x.create_resource_object("window", wid)
        try:
            prop = window.get_full_property(x.intern_atom("_NET_WM_NAME"), 0)
        except BadWindow:  # gone since the window list was read
            return ""
        return "" if prop is None else bytes(prop.value).decode("utf-8", "replace")

    def find_window(self, prefix: str, timeout: float = 20.0) -> int:
        """The id of the top-level window whose title starts with ``prefix``."""
        deadline = time.monotonic() + timeout
        x = self._xlib()
        while True:
            for window in x.screen().root.query_tree().children:
                if self.window_title(window.id).startswith(prefix):
                    return int(window.id)
            if time.monotonic() > deadline:
                raise SpiceTimeoutError(f"no window titled {prefix!r}...")
            time.sleep(0.05)

    def window_size(self, wid: int) -> tuple[int, int]:
        geometry = self._xlib().create_resource_object("window", wid).get_geometry()
        return int(geometry.width), int(geometry.height)

    def window_rgb(self, wid: int) -> npt.NDArray[np.uint8]:
        """The window's pixels as (h, w, 3) RGB (X GetImage of a 24-bit window)."""
        from Xlib import X

        window = self._xlib().create_resource_object("window", wid)
        w, h = self.window_size(wid)
        image = window.get_image(0, 0, w, h, X.ZPixmap, 0xFFFFFFFF)
        bgrx = np.frombuffer(image.data, np.uint8).reshape(h, w, 4)
        return np.ascontiguousarray(bgrx[..., 2::-1])

    def xdotool(self, *args: str) -> str:
        done = subprocess.run(
            ["xdotool", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        return done.stdout
