"""spicepy.wire: SPICE bytes <-> message dataclasses, with no state and no I/O.

- ``Buffer``: bounds-checked little-endian reader/writer.
- ``enums``: spec constants (ChannelType, DisplayMsg, ImageType, ...).
- ``headers``: full/mini data headers and sub-message lists.
- ``link``: SpiceLinkHeader / SpiceLinkMess / SpiceLinkReply.
- ``decode_message(channel_type, msg_type, body, from_server=True)`` and
  ``encode_message(msg) -> (msg_type, body)`` over the declarative definitions in
  ``msg_common`` (common + main), ``msg_display`` and ``msg_other``.
- Decoding runs one of two twins (``twins.FAST``): the declarative engine
  (``schema``) or the same definitions compiled into flat plans (``plan``) run by
  ``_decode.pyx``; payload fields are read-only views of the body in both.
  ``headers.split_frames`` cuts a received stream into messages (twins as well).
"""

from spicepy.wire.buffer import Buffer
from spicepy.wire.messages import (
    UnknownMessage,
    all_messages,
    decode_message,
    encode_message,
)

__all__ = [
    "Buffer",
    "UnknownMessage",
    "all_messages",
    "decode_message",
    "encode_message",
]
