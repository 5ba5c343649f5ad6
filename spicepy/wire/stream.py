"""A channel's received data-phase stream read into its own messages, many at a time.

Theory of operation: ``MessageReader(table, channel_type, wrap, events, counts)``
serves one channel machine.  ``read(view, pos, mini_header, max_size, serial,
most)`` takes the whole messages from ``pos`` on while each is in ``table``
(number -> schema dataclass: the channel's own messages), carries no sub-message
list and decodes.  For each one it counts the serial (mini headers carry none, so
the reader numbers them 1, 2, ... as the channel does), adds 1 to
``counts[number]``, and appends ``wrap(channel_type, number, serial, message)``
(with a full header, the header's serial) to ``events``.  It stops:

- at a whole message it does not take (a common or undefined number, a
  sub-message list, or a body that does not decode), returned as a ``Frame`` so
  the caller runs its general path on it (which decodes it again, and raises
  there, after the counters a message gets before it is decoded);
- after ``most`` messages (the caller's ACK window is due);
- where no whole message is left, or a header announces more than ``max_size``
  (or MAX_MESSAGE_SIZE) bytes (the frame is None then; see ``iter_frames``).

It returns ``(pos, serial, taken, frame)``: where it stopped, the serial count,
how many messages it took.  It keeps no state between calls but its arguments.

A lane (compiled reader only: ``reader.lane``, a ``_decode.Lane``) applies some
messages itself: for a message number the lane ``wants``, the reader stops
before it (frame None) while ``events`` is not empty and the lane is
``ready`` (older events first: the caller delivers them and reads on from
``pos``); else it offers the message's body to the lane before decoding it
(the lane reads the few fields it needs in place, at the offsets
``layout.layout`` derives from the schema), which applies it (counted and
taken, never decoded, no event) or declines (decoded, an event as usual).
A lane names the class it reads each number as; a reader refuses a lane
whose classes are not its own.  ``Channel.set_lane`` / ``resume`` carry this.

Two twins with the same returns, events (message values included) and counts:
``MessageReaderRef`` here, on ``schema.decode_struct``, and the compiled
``_decode.MessageReader``.  ``MessageReader`` is the chosen one (``twins.FAST``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from spicepy.wire.headers import Frame, frame_at
from spicepy.wire.schema import MAX_MESSAGE_SIZE, decode_struct
from spicepy.wire.twins import fast

__all__ = ["MessageReader", "MessageReaderRef", "Reader", "ReadResult"]


#: (where reading stopped, serial count, messages taken, the frame not taken)
ReadResult = tuple[int, int, int, Frame | None]


class Reader(Protocol):
    """What both twins offer."""

    def read(
        self,
        view: memoryview,
        pos: int,
        mini_header: bool,
        max_size: int,
        serial: int,
        most: int,
    ) -> ReadResult: ...


class MessageReaderRef:
    """The reference twin (see the module docstring).

    Args:
        table: message number -> schema dataclass of the messages to take.
        channel_type: the first value of every event.
        wrap: the event class, called with (channel_type, number, serial, message).
        events: where the events go (``append``).
        counts: messages taken by number (``counts[number] += 1``).
    """

    def __init__(
        self,
        table: dict[int, type[Any]],
        channel_type: int,
        wrap: Callable[[int, int, int, Any], object],
        events: Any,
        counts: dict[int, int],
    ) -> None:
        for msg_type, cls in table.items():
            if not isinstance(cls, type):
                raise TypeError(f"message {msg_type}: {cls!r} is not a class")
        if not isinstance(counts, dict):
            raise TypeError("counts must be a dict")
        self._table = dict(table)
        self._channel_type = channel_type
        self._wrap = wrap
        self._append = events.append
        self._counts = counts

    def read(
        self,
        view: memoryview,
        pos: int,
        mini_header: bool,
        max_size: int,
        serial: int,
        most: int,
    ) -> ReadResult:
        """Take messages from ``pos`` (see the module docstring).

        Raises:
            ValueError: ``pos`` outside ``view``.
        """
        total = len(view)
        if not 0 <= pos <= total:
            raise ValueError(f"start {pos} outside {total} bytes")
        limit = min(max_size, MAX_MESSAGE_SIZE)
        table, counts, taken = self._table, self._counts, 0
        while taken < most:
            frame = frame_at(view, pos, mini_header, limit)
            if frame is None:
                break
            msg_type, body, hserial, sub_list, _, end = frame
            cls = table.get(msg_type)
            try:
                if cls is None or sub_list:
                    raise LookupError
                msg = decode_struct(cls, body)
            except Exception:  # the caller's general path takes it
                return pos, serial, taken, frame
            serial += 1
            counts[msg_type] = counts.get(msg_type, 0) + 1
            self._append(
                self._wrap(
                    self._channel_type,
                    msg_type,
                    serial if mini_header else hserial,
                    msg,
                )
            )
            taken += 1
            pos = end
        return pos, serial, taken, None


MessageReader: type[MessageReaderRef] = (
    MessageReaderRef if fast is None else fast.MessageReader
)
