"""spicepy: a SPICE remote-display client stack and SPICE image-codec library.

The codec library (``spicepy.codecs``) imports nothing from the protocol layers;
``connect`` is imported lazily so that ``import spicepy.codecs`` stays light.
"""

from typing import TYPE_CHECKING, Any

from spicepy.errors import (
    AuthenticationError,
    CanvasError,
    CodecError,
    ConnectionClosedError,
    LinkError,
    ProtocolError,
    SessionError,
    SpiceError,
    SpiceTimeoutError,
    WireError,
)

__version__ = "0.1.0"

__all__ = [
    "AuthenticationError",
    "CanvasError",
    "CodecError",
    "ConnectionClosedError",
    "LinkError",
    "ProtocolError",
    "SessionError",
    "SpiceError",
    "SpiceTimeoutError",
    "WireError",
    "connect",
    "connect_sync",
    "__version__",
]

if TYPE_CHECKING:
    from spicepy.client import connect, connect_sync


def __getattr__(name: str) -> Any:
    if name in ("connect", "connect_sync"):
        from spicepy import client

        return getattr(client, name)
    raise AttributeError(f"module 'spicepy' has no attribute {name!r}")
