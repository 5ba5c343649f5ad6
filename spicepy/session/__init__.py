"""spicepy.session: the asyncio layer (streams, channel pumps, the Session object).

``Session`` links the main channel, then every channel it lists, and offers
waits (``wait_for_frame``, ``wait_until_settled``, ``wait_for_change``),
inputs and ``screenshot``; get one with ``spicepy.connect``.  ``Monitor`` is
what ``Session.agent.set_monitors`` takes.

The names below load on first use (PEP 562), so that importing one module of
the package, e.g. ``spicepy.session.core`` for an offline replay, does not pull
in asyncio, TLS and every channel handler.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from spicepy.channels.agent import Monitor
    from spicepy.session.core import ChangedRect
    from spicepy.session.session import Session
    from spicepy.session.transport import TlsConfig
    from spicepy.session.uri import SpiceUri, parse_uri

__all__ = [
    "ChangedRect",
    "Monitor",
    "Session",
    "SpiceUri",
    "TlsConfig",
    "parse_uri",
]

#: public name -> the module that defines it
_HOMES = {
    "ChangedRect": "spicepy.session.core",
    "Monitor": "spicepy.channels.agent",
    "Session": "spicepy.session.session",
    "SpiceUri": "spicepy.session.uri",
    "TlsConfig": "spicepy.session.transport",
    "parse_uri": "spicepy.session.uri",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'spicepy.session' has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
