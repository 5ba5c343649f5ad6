"""Which twin spicepy.wire runs: the compiled ``_decode`` (message plans and frame
splitting in C) or the pure-Python reference (``schema.decode_struct``,
``headers.split_frames_ref``).

``FAST`` is True when the extension is built and ``SPICEPY_PUREPYTHON`` is unset
(or ``0``), as for the codecs; ``fast`` is then the ``_decode`` module.
"""

from __future__ import annotations

import os
from types import ModuleType

__all__ = ["FAST", "fast"]

fast: ModuleType | None
try:
    if os.environ.get("SPICEPY_PUREPYTHON", "") not in ("", "0"):
        raise ImportError("SPICEPY_PUREPYTHON set")
    from spicepy.wire import _decode as fast
except ImportError:
    fast = None

FAST = fast is not None
