"""spicepy.session: the asyncio layer (streams, channel pumps, the Session object).

``Session`` links the main channel, then every channel it lists, and offers
waits (``wait_for_frame``, ``wait_until_settled``, ``wait_for_change``),
inputs and ``screenshot``; get one with ``spicepy.connect``.  ``Monitor`` is
what ``Session.agent.set_monitors`` takes.
"""

from spicepy.channels.agent import Monitor
from spicepy.session.session import ChangedRect, Session
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
