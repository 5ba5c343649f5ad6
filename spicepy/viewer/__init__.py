"""``spicepy view``: a SPICE desktop viewer (the ``viewer`` extra, pygame-ce).

It is built on spicepy's public API only (``Session.screen``, ``.mouse``,
``.cursor``, ``.agent``, ``.audio``, ``.record_format``/``send_audio``,
``.events()``, key methods and ``spicepy.session.hidkeys``), as any
application would be; ``geometry`` and ``keyboard`` are toolkit-free,
``render``, ``audio`` and ``app`` use pygame-ce, ``x11clip`` python-xlib (images
on the X11 clipboard, which SDL2 cannot carry).
"""

from __future__ import annotations

__all__ = ["Viewer", "ViewerOptions"]


def __getattr__(name: str) -> object:
    # pygame is imported only when the viewer is used
    if name in __all__:
        from spicepy.viewer import app

        return getattr(app, name)
    raise AttributeError(name)
