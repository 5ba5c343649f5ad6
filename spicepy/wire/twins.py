"""Which twin spicepy.wire runs: the compiled ``_decode`` (message plans and frame
splitting in C) or the pure-Python reference (``schema.decode_struct``,
``headers.split_frames_ref``).

``FAST`` is True when the extension is built and ``SPICEPY_PUREPYTHON`` is unset
(or ``0``), as for the codecs; ``fast`` is then the ``_decode`` module.
``decode_struct`` is the chosen twin of ``schema.decode_struct`` (same results and
errors), for any schema dataclass: channel messages and agent messages alike.
``build(cls, values)`` is ``cls(*values)`` (``build_ref``); the compiled twin sets
a frozen slotted dataclass's slots itself (``plan.direct_fields``), which is
cheaper than the generated ``__init__``'s ``object.__setattr__`` calls.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from types import ModuleType
from typing import Any, TypeVar

from spicepy.wire import schema

T = TypeVar("T")

__all__ = ["FAST", "fast", "build", "build_ref", "decode_struct"]

fast: ModuleType | None
try:
    if os.environ.get("SPICEPY_PUREPYTHON", "") not in ("", "0"):
        raise ImportError("SPICEPY_PUREPYTHON set")
    from spicepy.wire import _decode as fast
except ImportError:
    fast = None

FAST = fast is not None
decode_struct: Callable[[type[Any], bytes | memoryview], Any] = (
    schema.decode_struct if fast is None else fast.decode_struct
)


def build_ref(cls: type[T], values: tuple[Any, ...]) -> T:
    """A ``cls`` made from its field values in order (the reference twin)."""
    return cls(*values)


build = build_ref if fast is None else fast.build
