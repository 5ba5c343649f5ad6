"""spicepy: a SPICE remote-display client stack and SPICE image-codec library.

The codec library (``spicepy.codecs``) imports nothing from the protocol layers;
``connect`` is imported lazily so that ``import spicepy.codecs`` stays light.
"""

import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spicepy.errors import (
    AuthenticationError,
    CanvasError,
    CodecError,
    ConnectionClosedError,
    LimitExceededError,
    LinkError,
    ProtocolError,
    SessionError,
    SpiceError,
    SpiceTimeoutError,
    WireError,
)

__version__ = "0.1.0"


def _refuse_bare_source_tree() -> None:
    """Say what to do when the checkout's spicepy/ shadows an installed copy.

    In the repository, ``codecs/`` sits beside ``spicepy/`` and only an install
    maps it to ``spicepy.codecs``. Python puts the working directory first on
    ``sys.path``, so after a plain ``pip install .``, ``python -m spicepy`` run in
    the repository root imports this folder instead, and every codec import
    would fail with a bare ModuleNotFoundError (issue 14).
    """
    here = Path(__file__).resolve().parent
    if importlib.util.find_spec("spicepy.codecs") is not None:
        return
    if (here.parent / "codecs" / "quic.py").is_file():
        raise ImportError(
            f"spicepy was imported from its source tree ({here}), where "
            "spicepy.codecs is not laid out (codecs/ installs as spicepy.codecs). "
            "Run from another directory or with `python -P`, or install with "
            "`pip install -e .` (scripts/setup.sh does)."
        )


_refuse_bare_source_tree()

__all__ = [
    "DEFAULT_LIMITS",
    "AuthenticationError",
    "CanvasError",
    "CodecError",
    "ConnectionClosedError",
    "LimitExceededError",
    "Limits",
    "LinkError",
    "Monitor",
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
    from spicepy.channels.agent import Monitor
    from spicepy.client import connect, connect_sync
    from spicepy.limits import DEFAULT_LIMITS, Limits


def __getattr__(name: str) -> Any:
    if name in ("connect", "connect_sync"):
        from spicepy import client

        return getattr(client, name)
    if name in ("Limits", "DEFAULT_LIMITS"):
        from spicepy import limits

        return getattr(limits, name)
    if name == "Monitor":  # for Session.agent.set_monitors
        from spicepy.channels.agent import Monitor

        return Monitor
    raise AttributeError(f"module 'spicepy' has no attribute {name!r}")
