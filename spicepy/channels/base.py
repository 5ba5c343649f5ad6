"""The common channel machine: link, headers, ACK window, PING, common messages.

Theory of operation: the constructor queues the link message.  ``receive_data``
feeds the link handshake until it completes, then splits the byte stream into
messages with ``iter_frames`` (6-byte mini headers when both sides set
MINI_HEADER, else 18-byte full headers whose ``sub_list`` sub-messages are
handled before their carrier; the one framing loop of spicepy, which capture
reading uses too), decodes each and turns it into events: the channel's own
messages (number >= BASE_LAST, no sub-message list) with the chosen
``decode_struct`` twin right in the framing loop, the rest through
``_dispatch`` and ``spicepy.wire.decode_message`` (same results and errors).
Bodies are zero-copy views of the bytes received, except a message cut by the
end of a chunk: its bytes are copied into one of the machine's two assembly
buffers (reused while no view of them is alive), so once its events are taken
the machine keeps no view of the caller's buffer, which the caller can then
reuse (the connection's read buffer touches no fresh page).  An assembly
buffer grows with what arrived, never on a header's word alone.  Common
messages are answered here: SET_ACK -> ACK_SYNC and then one ACK every
``window`` messages, PING -> PONG at once; NOTIFY, DISCONNECTING and
WAIT_FOR_CHANNELS become events, LIST is unpacked, unknown types are skipped
by their size and counted.
MIGRATE (seamless migration, ``channels._migration``) queues a FLUSH_MARK when
asked, waits for its MIGRATE_DATA when announced, and then hands the channel
over (``ChannelMigrateReceived``): the machine reads nothing after that.
With a lane (``set_lane``: the display channel's, ``SessionCore.display_lane``)
the reader applies the common draws before any event and stops before one
while events wait; the caller calls ``resume()`` once it delivered them (EOF
turns what is left into events).
Subclasses add ``_on_linked`` (their first messages) and ``_handle`` (their events);
a migration target's machine (``defer_start``) links but keeps its first
messages until ``start_deferred``.  Any SpiceError puts the channel in ERROR for good.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

from spicepy.channels._state import ChannelState, Trigger, next_state
from spicepy.channels.events import (
    AckWindowSet,
    ChannelClosed,
    ChannelEvent,
    ChannelMigrateReceived,
    DisconnectingReceived,
    LinkCompleted,
    MessageReceived,
    NotifyReceived,
    PingAnswered,
    UnknownMessageSkipped,
    WaitForChannelsReceived,
)
from spicepy.channels.link import DEFAULT_COMMON_CAPS, LinkHandshake
from spicepy.channels.sasl import SaslCredentials
from spicepy.errors import ProtocolError, SpiceError, WireError
from spicepy.wire.enums import CommonMsg, MigrateFlags
from spicepy.wire.headers import (
    FULL_HEADER_SIZE,
    MINI_HEADER_SIZE,
    Frame,
    header_size,
    pack_header,
    parse_header,
    split_frames,
    split_sub_messages,
)
from spicepy.wire.messages import (
    UnknownMessage,
    decode_message,
    encode_message,
    named_error,
)
from spicepy.wire.msg_common import (
    Ack,
    AckSync,
    Disconnecting,
    Migrate,
    MigrateData,
    MigrateFlushMark,
    Notify,
    Ping,
    Pong,
    SetAck,
    WaitForChannels,
)
from spicepy.wire.registry import Message, channel_messages
from spicepy.wire.stream import MessageReader, Reader
from spicepy.wire.twins import build, decode_struct

__all__ = [
    "Channel",
    "Frame",
    "MAX_RECEIVE_MESSAGE",
    "buffer_unshared",
    "check_rest",
    "iter_frames",
]

log = logging.getLogger(__name__)

#: Largest message body a channel buffers (a 4096x2160x4 bitmap fits easily).
MAX_RECEIVE_MESSAGE = 64 * 1024 * 1024
#: a larger assembly buffer is dropped once its message is read (not kept for
#: the next one)
ASSEMBLY_KEEP = 4 << 20
#: ``MessageReader.read``'s ``most`` when no ACK window is set
_ANY = 1 << 62
# (an Enum member read through its class costs a Python __getattr__ call in 3.11)
_READY, _ERROR, _CLOSED = ChannelState.READY, ChannelState.ERROR, ChannelState.CLOSED
#: (number, body) of ACK, which has no fields: encoded once, sent every window
_ACK = encode_message(Ack())
#: the whole ACK under a mini header, which carries no serial: the same bytes
#: every time (a full header's serial changes)
_ACK_MINI = pack_header(_ACK[0], len(_ACK[1]), mini=True) + _ACK[1]


def buffer_unshared(buf: bytearray) -> bool:
    """No memoryview of ``buf`` is alive: a bytearray with one refuses to
    change its size (the pop and append move no byte; ``buf`` is not empty)."""
    try:
        last = buf.pop()
    except BufferError:
        return False
    buf.append(last)
    return True


def iter_frames(
    data: memoryview,
    mini_header: bool,
    start: int = 0,
    max_size: int = MAX_RECEIVE_MESSAGE,
) -> Iterator[Frame]:
    """The whole messages of a data-phase stream from ``start``, in order; a
    message cut off at the end is not yielded (compare its end with ``len``).
    The splitting itself is ``wire.headers.split_frames`` (compiled twin); this
    adds the errors a channel needs for what follows the last whole message.

    Raises:
        WireError: a header announcing more than the wire layer's maximum.
        ProtocolError: a header announcing more than ``max_size`` bytes.
    """
    frames, end = split_frames(data, mini_header, start, max_size)
    yield from frames
    check_rest(data, end, mini_header, max_size)


def check_rest(data: memoryview, end: int, mini_header: bool, max_size: int) -> None:
    """Raise for the header at ``end`` (after the last whole message) if it is
    one no more bytes can complete: above ``max_size`` or the wire maximum."""
    if len(data) - end >= header_size(mini_header):
        hdr = parse_header(data, mini_header, end)  # WireError above the maximum
        if hdr.size > max_size:
            raise ProtocolError(
                f"message of {hdr.size} bytes exceeds the {max_size}-byte limit"
            )


class _HandedOver(Exception):
    """Raised inside ``_parse`` once the channel was handed over (migration):
    the rest of the input belongs to nobody."""


class Channel:
    """Sans-IO SPICE channel; see the module docstring and ``spicepy.channels``.

    Args:
        channel_id: the id from CHANNELS_LIST (0 for the first of a type).
        connection_id: 0 for main, else the session_id from MAIN INIT.
        password: the ticket ("" for none); None sends a zeroed ticket without
            encrypting (offline replay: the bytes go nowhere).
        common_caps: common capability bits (default: auth selection, SPICE auth,
            mini header).
        channel_caps: channel capability bits (default: ``DEFAULT_CAPS``).
        max_message_size: a header announcing more is a ProtocolError.
        sasl: SASL credentials (``LinkHandshake``: used over TLS only).
        secure: the connection is TLS.
    """

    CHANNEL_TYPE: ClassVar[int] = 0
    DEFAULT_CAPS: ClassVar[frozenset[int]] = frozenset()
    _OWN_MESSAGES: ClassVar[dict[int, type[Any]]]

    def __init__(
        self,
        channel_id: int = 0,
        *,
        connection_id: int = 0,
        password: str | None = "",
        common_caps: frozenset[int] | None = None,
        channel_caps: frozenset[int] | None = None,
        max_message_size: int = MAX_RECEIVE_MESSAGE,
        sasl: SaslCredentials | None = None,
        secure: bool = False,
    ) -> None:
        self.channel_id = channel_id
        self._link = LinkHandshake(
            self.CHANNEL_TYPE,
            channel_id,
            connection_id=connection_id,
            password=password,
            common_caps=DEFAULT_COMMON_CAPS if common_caps is None else common_caps,
            channel_caps=self.DEFAULT_CAPS if channel_caps is None else channel_caps,
            sasl=sasl,
            secure=secure,
        )
        self.state = ChannelState.LINKING
        self.max_message_size = max_message_size
        self.mini_header = False
        self.server_common_caps: frozenset[int] = frozenset()
        self.server_channel_caps: frozenset[int] = frozenset()
        self.ack_window = 0
        self.ack_generation = 0
        self._ack_count = 0
        self.messages_received = 0
        # message_counts, counted in a plain dict: a Counter's `c[k] += 1` goes
        # through its Python __delitem__'s slot wrapper (~1k instructions)
        self._counts: defaultdict[int, int] = defaultdict(int)
        self.unknown_messages = 0
        self._in_serial = 0
        self._out_serial = 0
        #: whole messages a lane left unread (views of the bytes received,
        #: joined when read), then what followed, and how many bytes they are
        self._parts: list[bytes | memoryview] = []
        self._held = 0
        #: bytes the first held message needs before framing is worth it
        self._need = 0
        #: the two assembly buffers (module docstring); the one in use, the
        #: bytes of the cut message it holds and the bytes that message needs
        #: in all (0: none is cut; the header size while its header is cut)
        self._asm_pool: list[bytearray] = []
        self._asm = bytearray()
        self._asm_fill = 0
        self._asm_need = 0
        self._events: deque[ChannelEvent] = deque()
        self._out = bytearray(self._link.data_to_send())
        #: MIGRATE flags while its MIGRATE_DATA is awaited
        self._migrate_flags: int | None = None
        #: takes runs of own messages in C (``wire.stream``), made below
        self._reader: Reader | None = None
        #: applies some own messages before their event (``set_lane``), or None
        self._lane: object | None = None
        #: the lane's ``flush``: writes out what it took, after each ``_parse``
        self._lane_flush: Callable[[], object] | None = None
        #: a migration target: ``_on_linked`` waits for ``start_deferred``
        self._deferred = False
        self._started = False
        # made now: the compiled reader builds its read plans before the link,
        # not in the first burst of messages
        self._reader = self._make_reader()

    # -- the sans-IO surface --------------------------------------------------
    def receive_data(self, data: bytes | bytearray | memoryview) -> None:
        """Feed bytes from the server; ``b""`` means EOF.

        Raises:
            LinkError / AuthenticationError: the server refused the link.
            ProtocolError, WireError: malformed input; the channel is then in ERROR.
        """
        state = self.state
        if state is _ERROR:
            raise ProtocolError("channel is in ERROR and accepts no input")
        try:
            if not data:
                self._eof()
                return
            if state is _CLOSED:
                raise ProtocolError("data after EOF")
            if state is not _READY:
                rest = self._link.feed(data)
                self._out += self._link.data_to_send()
                if self.state is ChannelState.LINKING and self._link.result is not None:
                    self._transition(Trigger.LINK_REPLY)
                if not self._link.done:
                    return
                self._linked()
                data = rest
            if isinstance(data, bytearray):  # the caller may reuse it
                data = bytes(data)
            if self._asm_need:  # continues a cut message
                view = memoryview(data)
                took = self._assemble(view)
                if self._asm_need:
                    return  # still incomplete
                whole = memoryview(self._asm)[: self._asm_fill]
                self._asm_fill = 0
                if len(self._asm) > ASSEMBLY_KEEP:  # not kept for the next
                    self._drop_asm()
                self._parse(whole)
                data = view[took:]
                if not data:
                    return
                if self._held:  # a lane stopped before it: the rest waits too
                    self._parts.append(data)
                    self._held += len(data)
                    return
            if self._held:  # whole messages a lane left, then more
                self._parts.append(data)
                self._held += len(data)
                data = b"".join(self._parts)
                self._parts.clear()
                self._held = 0
            self._parse(memoryview(data))
        except SpiceError:
            self.state = ChannelState.ERROR
            raise

    def set_lane(self, lane: object | None) -> None:
        """Offer this machine's own messages to ``lane`` (a ``wire._decode.Lane``,
        e.g. ``SessionCore.display_lane``), or stop (None).  The compiled reader
        then offers it each message it wants while no event is queued, and stops
        reading before such a message while events are: the caller delivers
        them and calls ``resume()``.  Ignored by the pure-Python reader."""
        self._lane = lane
        self._lane_flush = getattr(lane, "flush", None)
        if self._reader is not None and hasattr(self._reader, "lane"):
            self._reader.lane = lane

    def unread(self) -> memoryview | None:
        """The whole messages received and not read yet (a lane stopped the
        reader; see ``set_lane``), as one view from the start of message
        number ``messages_received + 1``, to look into (``session.lookahead``
        frames it with ``wire.headers``), not to keep; None when there are
        none or they are still in pieces."""
        parts = self._parts
        if len(parts) != 1 or self._held < self._need or self.state is not _READY:
            return None
        return memoryview(parts[0])

    def resume(self) -> bool:
        """Read on where a lane made the reader stop (see ``set_lane``), once
        every queued event was taken; True if it read (new events may wait).

        Raises:
            ProtocolError, WireError: malformed input; the channel is then in ERROR.
        """
        if (
            not self._held
            or self._held < self._need
            or self._events
            or self.state is not _READY
        ):
            return False
        parts = self._parts
        data = parts[0] if len(parts) == 1 else b"".join(parts)
        parts.clear()
        self._held = 0
        try:
            self._parse(memoryview(data))
        except SpiceError:
            self.state = ChannelState.ERROR
            raise
        return True

    def next_event(self) -> ChannelEvent | None:
        """The oldest pending event, or None."""
        return self._events.popleft() if self._events else None

    @property
    def queued_events(self) -> deque[ChannelEvent]:
        """The pending events, oldest first, to look into, not to change (the
        display connection's decode look-ahead: ``session.lookahead``)."""
        return self._events

    def data_to_send(self) -> bytes:
        """Bytes queued for the server (and clears the queue)."""
        out = bytes(self._out)
        self._out.clear()
        return out

    def get_timer(self) -> float | None:
        """When ``handle_timer`` wants to run (channels keep no timers today)."""
        return None

    def handle_timer(self, now: float) -> None:
        """Run timed work due at ``now`` (the caller's clock)."""

    @property
    def message_counts(self) -> Counter[int]:
        """Messages received by type (a LIST's sub-messages, not the LIST itself)."""
        return Counter(self._counts)

    @property
    def linked(self) -> bool:
        return self.state is ChannelState.READY

    # -- migration ---------------------------------------------------------------------
    def defer_start(self) -> None:
        """Make this a migration target's channel: it links, but sends its first
        messages (display INIT...) only on ``start_deferred`` (spice-gtk keeps
        target channels frozen until the switch)."""
        if self._started:
            raise ValueError("the channel has already started")
        self._deferred = True

    def start_deferred(self) -> None:
        """Send the first messages ``defer_start`` held back (semi-seamless
        switch; a seamless one continues the source's state instead)."""
        if not self._deferred or self.state is not ChannelState.READY:
            raise ValueError("no deferred start pending on a linked channel")
        self._deferred = False
        self._started = True
        self._on_linked()

    def continue_from(self, source: Channel) -> None:
        """Seamless migration: go on counting message serials where the source
        channel stopped (the target server restores them from MIGRATE_DATA)."""
        self._in_serial = source._in_serial
        self._out_serial = source._out_serial

    # -- commands ----------------------------------------------------------------------
    def send_message(self, msg: Message) -> None:
        """Queue any client message dataclass of this channel (or a common one)."""
        self._transition(Trigger.SEND)
        msg_type, body = encode_message(msg)
        self._queue(msg_type, body)

    def send_raw(self, msg_type: int, body: bytes = b"") -> None:
        """Queue a message from its number and body bytes."""
        self._transition(Trigger.SEND)
        self._queue(msg_type, body)

    def send_disconnecting(self, reason: int = 0, time_stamp: int = 0) -> None:
        from spicepy.wire.msg_common import DisconnectingC

        self.send_message(DisconnectingC(time_stamp, reason))

    # -- internals ---------------------------------------------------------------------
    def _transition(self, trigger: Trigger) -> None:
        try:
            self.state = next_state(self.state, trigger)
        except ProtocolError:
            self.state = ChannelState.ERROR
            raise

    def _queue(self, msg_type: int, body: bytes) -> None:
        self._out_serial += 1
        self._out += pack_header(
            msg_type, len(body), mini=self.mini_header, serial=self._out_serial
        )
        self._out += body

    def _emit(self, event: ChannelEvent) -> None:
        self._events.append(event)

    def _linked(self) -> None:
        result = self._link.result
        assert result is not None
        self._transition(Trigger.LINK_RESULT_OK)
        self.mini_header = result.mini_header
        self.server_common_caps = result.server_common_caps
        self.server_channel_caps = result.server_channel_caps
        self._emit(
            LinkCompleted(
                self.CHANNEL_TYPE,
                self.channel_id,
                result.server_common_caps,
                result.server_channel_caps,
                result.mini_header,
            )
        )
        if not self._deferred:
            self._started = True
            self._on_linked()

    def _on_linked(self) -> None:
        """Subclass hook: queue the channel's first messages."""

    def _eof(self) -> None:
        if self._held and self._held >= self._need and self.state is _READY:
            # whole messages a lane left unread: all of them become events now
            self.set_lane(None)
            parts = self._parts
            data = parts[0] if len(parts) == 1 else b"".join(parts)
            parts.clear()
            self._held = 0
            self._parse(memoryview(data))
        if self.state in (ChannelState.LINKING, ChannelState.AUTHENTICATING):
            # spice-server hangs up instead of answering a failed SASL exchange
            refused = self._link.closed_error()
            if refused is not None:
                raise refused  # receive_data puts the channel in ERROR
        clean = (
            not self._held
            and not self._asm_need
            and self.state is not ChannelState.LINKING
        )
        if self.state is ChannelState.AUTHENTICATING:
            clean = False
        self._transition(Trigger.EOF)
        self._emit(ChannelClosed(clean))

    def _parse(self, view: memoryview) -> None:
        # only READY parses (receive_data checks), and a MESSAGE keeps it READY
        # (_state's table): no per-message transition lookup
        done = pos = 0
        mini, limit = self.mini_header, self.max_message_size
        reader = self._reader
        if reader is None:
            reader = self._reader = self._make_reader()
        try:
            while True:
                window = self.ack_window
                most = window - self._ack_count if window else _ANY
                if most < 1:  # (a window made smaller than the count: ACK next)
                    most = 1
                pos, self._in_serial, taken, frame = reader.read(
                    view, pos, mini, limit, self._in_serial, most
                )
                done = pos
                if taken:
                    self._count_ack(taken)
                if frame is not None:
                    done = pos = frame[5]
                    self._general(frame)
                elif taken != most:  # (else an ACK was due: read on)
                    break
            if len(view) - pos >= (MINI_HEADER_SIZE if mini else FULL_HEADER_SIZE):
                check_rest(view, pos, mini, limit)
        except _HandedOver:
            done = len(view)  # the source's last words; the target takes over
        finally:
            try:
                if done < len(view):
                    rest = view[done:]
                    need = self._wanted(rest)
                    if self._parts or len(rest) >= need:  # whole ones a lane left
                        self._parts.append(rest)
                        self._held += len(rest)
                        self._need = need
                    else:  # a cut message: copied, no view of the caller's bytes
                        self._start_assembly(rest, need)
            finally:
                # what the lane took, written out before any event of this
                # channel is delivered (the lane keeps it in C while the reader
                # runs); after the rest is kept: a listener raising in it must
                # not lose the bytes of the next message
                flush = self._lane_flush
                if flush is not None:
                    flush()

    def _general(self, frame: Frame) -> None:
        """A whole message the reader did not take.  Own messages (of a channel
        with its own ``_handle``, or whose body does not decode) are decoded
        here with the chosen twin; the rest go to ``_frame``."""
        msg_type, body, serial, sub_list, _start, _end = frame
        self._in_serial += 1
        if self.mini_header:
            serial = self._in_serial
        cls = self._own_messages().get(msg_type)
        if cls is None or sub_list:
            self._frame(msg_type, body, serial, sub_list)
            return
        self._count_ack()
        self._counts[msg_type] += 1
        try:
            msg = decode_struct(cls, body)
        except WireError as exc:
            raise named_error(self.CHANNEL_TYPE, msg_type, exc) from exc
        self._handle(msg, serial)

    def _frame(
        self, msg_type: int, body: memoryview, serial: int, sub_list: int
    ) -> None:
        """One message the fast path of ``_parse`` leaves alone."""
        if sub_list:
            for sub in split_sub_messages(body, sub_list):
                self._dispatch(sub.msg_type, sub.body, serial, True)
        # spice-gtk acks after the sub-messages, before the carrier, so
        # SET_ACK itself is not counted in the window it opens
        self._count_ack()
        self._dispatch(msg_type, body, serial)

    @classmethod
    def _own_messages(cls) -> dict[int, type[Any]]:
        """This channel type's server messages (>= BASE_LAST), by number."""
        own = cls.__dict__.get("_OWN_MESSAGES")
        if own is None:
            own = {
                msg_type: definition
                for msg_type, definition in channel_messages(cls.CHANNEL_TYPE).items()
                if msg_type >= CommonMsg.BASE_LAST
            }
            cls._OWN_MESSAGES = own
        return own

    def _start_assembly(self, rest: memoryview, need: int) -> None:
        """Copy the start of a cut message into a free assembly buffer."""
        pool = self._asm_pool
        for buf in pool:
            if buffer_unshared(buf):
                break  # (grows in place if it is too small)
        else:  # both still viewed (events not taken, a held message): a new one,
            # empty: it grows by what arrives (zeroing it first would touch
            # every page twice)
            buf = bytearray()
            if len(pool) < 2:
                pool.append(buf)
            else:  # their views keep the old one alive while they need it
                pool[0] = buf
        self._asm = buf
        self._asm_need = need
        self._asm_fill = 0
        self._assemble(rest)

    def _assemble(self, data: memoryview) -> int:
        """Copy what ``data`` holds of the cut message; how many bytes that is.
        ``_asm_need`` is 0 once the message is whole.

        Raises:
            WireError, ProtocolError: its header (once whole) announces more
                than the wire maximum or ``max_message_size``.
        """
        buf, fill, need = self._asm, self._asm_fill, self._asm_need
        hsize = header_size(self.mini_header)
        took = 0
        while True:
            take = min(len(data) - took, need - fill)
            end = fill + take
            # (a bytearray's slice assignment from a view copies it to a new
            # bytearray first: a memoryview's copies straight)
            fit = max(0, min(take, len(buf) - fill))
            if fit:
                with memoryview(buf) as target:
                    target[fill : fill + fit] = data[took : took + fit]
            if fit < take:  # grows by what arrived (a realloc: its pages stay)
                buf += data[took + fit : took + take]
            took += take
            fill = end
            if fill < need or need != hsize:
                break
            # the header was cut: now it tells the size (and may be refused)
            header = memoryview(bytes(buf[:hsize]))
            check_rest(header, 0, self.mini_header, self.max_message_size)
            need = self._wanted(header)
            if need == fill:
                break
        self._asm_fill = fill
        self._asm_need = need if fill < need else 0
        return took

    def _drop_asm(self) -> None:
        """Forget the assembly buffer in use (its views keep it while needed)."""
        pool = self._asm_pool
        del pool[next(i for i, buf in enumerate(pool) if buf is self._asm)]
        self._asm = bytearray()

    def _wanted(self, rest: memoryview) -> int:
        """Bytes the partial message at the start of ``rest`` needs in all."""
        hsize = header_size(self.mini_header)
        if len(rest) < hsize:
            return hsize
        try:
            return hsize + parse_header(rest, self.mini_header).size
        except WireError:  # framing reports it on the next call; no masking here
            return hsize

    def _make_reader(self) -> Reader:
        """The reader of this machine's own messages (none if a subclass
        handles them itself: ``_parse`` calls its ``_handle`` one by one)."""
        takes = type(self)._handle is Channel._handle
        reader = MessageReader(
            self._own_messages() if takes else {},
            self.CHANNEL_TYPE,
            MessageReceived,
            self._events,
            self._counts,
        )
        if self._lane is not None and takes and hasattr(reader, "lane"):
            reader.lane = self._lane
        return reader

    def _count_ack(self, n: int = 1) -> None:
        """``n`` more messages received (at most the rest of the ACK window)."""
        self.messages_received += n
        if self.ack_window:
            self._ack_count += n
            if self._ack_count >= self.ack_window:
                self._ack_count = 0
                if self.mini_header:
                    self._out_serial += 1
                    self._out += _ACK_MINI
                else:
                    self._queue(*_ACK)

    def _dispatch(
        self, msg_type: int, body: bytes | memoryview, serial: int, nested: bool = False
    ) -> None:
        if msg_type == CommonMsg.LIST:
            if nested:  # a LIST inside a LIST would let a peer recurse at will
                raise ProtocolError("LIST message nested in a sub-message list")
            for sub in split_sub_messages(body):
                self._dispatch(sub.msg_type, sub.body, serial, True)
            return
        self._counts[msg_type] += 1
        msg = decode_message(self.CHANNEL_TYPE, msg_type, body)
        if isinstance(msg, UnknownMessage):
            self.unknown_messages += 1
            log.debug(
                "channel %d: skipped unknown message %d (%d bytes)",
                self.CHANNEL_TYPE,
                msg_type,
                len(body),
            )
            self._emit(UnknownMessageSkipped(msg_type, len(body)))
        elif msg_type < CommonMsg.BASE_LAST:
            self._common(msg)
        else:
            self._handle(msg, serial)

    def _common(self, msg: Any) -> None:
        if isinstance(msg, SetAck):
            self.ack_generation, self.ack_window, self._ack_count = (
                msg.generation,
                msg.window,
                0,
            )
            self._queue(*encode_message(AckSync(msg.generation)))
            self._emit(AckWindowSet(msg.generation, msg.window))
        elif isinstance(msg, Ping):
            self._queue(*encode_message(Pong(msg.id, msg.timestamp)))
            self._emit(PingAnswered(msg.id, msg.timestamp, len(msg.data) + 12))
        elif isinstance(msg, Notify):
            self._emit(NotifyReceived(msg.severity, msg.visibility, msg.what, msg.text))
        elif isinstance(msg, Disconnecting):
            self._emit(DisconnectingReceived(msg.time_stamp, msg.reason))
        elif isinstance(msg, WaitForChannels):
            waits = tuple(
                (w.channel_type, w.channel_id, w.message_serial) for w in msg.wait_list
            )
            self._emit(WaitForChannelsReceived(waits))
        elif isinstance(msg, Migrate):
            self._on_migrate(msg.flags)
        elif isinstance(msg, MigrateData):
            flags = self._migrate_flags
            if flags is None:
                raise ProtocolError("MIGRATE_DATA without a MIGRATE announcing it")
            self._hand_over(flags, bytes(msg.data))

    def _on_migrate(self, flags: int) -> None:
        """spice-gtk ``spice_channel_handle_migrate``: FLUSH_MARK first, then
        the MIGRATE_DATA if one is announced, then the hand-over."""
        if self._migrate_flags is not None:
            raise ProtocolError("MIGRATE while the previous one awaits its data")
        if flags & MigrateFlags.NEED_FLUSH:
            self._queue(*encode_message(MigrateFlushMark()))
        if flags & MigrateFlags.NEED_DATA_TRANSFER:
            self._migrate_flags = flags
        else:
            self._hand_over(flags, None)

    def _hand_over(self, flags: int, data: bytes | None) -> None:
        self._migrate_flags = None
        self._emit(ChannelMigrateReceived(flags, data))
        self._stop_reading()

    def _stop_reading(self) -> None:
        """End of this connection's input (migrated away): EOF from now on."""
        self._transition(Trigger.EOF)
        raise _HandedOver

    def _handle(self, msg: Any, serial: int) -> None:
        """Subclass hook for channel messages (>= 101); default: MessageReceived."""
        self._events.append(
            build(MessageReceived, (self.CHANNEL_TYPE, msg.MSG_TYPE, serial, msg))
        )
