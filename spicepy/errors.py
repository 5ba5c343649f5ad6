"""The spicepy error hierarchy (no imports, so every layer can use it).

SpiceError
├── WireError        truncated or malformed bytes (also a ValueError)
├── ProtocolError    the peer broke a channel state machine; carries error_code
│   └── LinkError    link or auth refused by the server; carries the SpiceLinkErr code
│       └── AuthenticationError   wrong or missing password (PERMISSION_DENIED)
├── CodecError       bad compressed image data (a ValueError; in spicepy.codecs)
├── CanvasError      a drawing command that cannot be applied (surface, rect, id)
├── LimitExceededError  the server asked for more memory than spicepy.limits allows
└── SessionError     I/O level failures
    ├── ConnectionClosedError  the server closed the connection (mid-message or not)
    └── SpiceTimeoutError      connect or wait timed out (also a TimeoutError)
"""


class SpiceError(Exception):
    """Root of every error spicepy raises on bad input or a failed session."""


class WireError(SpiceError, ValueError):
    """Bytes that do not parse: truncated, oversized or inconsistent."""


class ProtocolError(SpiceError):
    """The peer sent something the channel state machine cannot accept."""

    error_code: int = 1

    def __init__(self, message: str, error_code: int | None = None) -> None:
        super().__init__(message)
        if error_code is not None:
            self.error_code = error_code


class LinkError(ProtocolError):
    """The server refused the link; ``error_code`` is the SpiceLinkErr value."""


class AuthenticationError(LinkError):
    """The server rejected the ticket (wrong or missing password)."""

    error_code = 7


class CodecError(SpiceError, ValueError):
    """Compressed image data that cannot be decoded (corrupt, hostile or too big)."""


class CanvasError(SpiceError):
    """A display command that cannot be applied to the canvas."""


class LimitExceededError(SpiceError):
    """The server made the session exceed one of its byte budgets
    (``spicepy.limits.Limits``); ``limit`` names the budget."""

    def __init__(self, message: str, limit: str = "") -> None:
        super().__init__(message)
        self.limit = limit


class SessionError(SpiceError):
    """Failure at the connection level."""


class ConnectionClosedError(SessionError, ConnectionError):
    """The server closed a channel's connection."""


class SpiceTimeoutError(SessionError, TimeoutError):
    """Connecting, linking or waiting for an event took too long."""
