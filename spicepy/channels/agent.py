"""The client's end of the VD-agent protocol, without I/O (used by ``MainChannel``).

Theory of operation (spice-gtk ``channel-main.c``): the main channel tells the
machine when the guest agent comes and goes (``start`` on INIT with
agent_connected, AGENT_CONNECTED or AGENT_CONNECTED_TOKENS, after the channel sent
AGENT_START; ``stop`` on AGENT_DISCONNECTED), hands it every AGENT_DATA payload
(``receive_chunk``) and every AGENT_TOKEN grant (``add_tokens``).

Outgoing: each command encodes one agent message, splits it into <= 2048-byte
chunks (``spicepy.wire.agent.chunk_agent_message``) and queues them; every chunk
costs one of the tokens the server granted, so ``take_chunks`` hands out at most
``tokens`` of them and the rest waits for AGENT_TOKEN.  ``start`` queues our
ANNOUNCE_CAPABILITIES (request=1 until the agent's own announce arrived), and an
agent that asks (request=1) gets ours again.

Incoming: AGENT_DATA payloads form one byte stream of messages; a message may
span chunks and a chunk may carry several.  The 20-byte header is checked
(protocol 1, size bounded by ``max_message_size``) before its body is buffered,
so a lying size cannot make us allocate; a body that does not parse is a
``WireError``.  AGENT_DISCONNECTED drops a half-received message.

Clipboard is "by demand": the owner GRABs with the types it offers, the peer
REQUESTs one type, the owner answers with CLIPBOARD data, RELEASE ends the
ownership.  Selections other than CLIPBOARD need the agent's CLIPBOARD_SELECTION
cap.  With CLIPBOARD_GRAB_SERIAL one counter per selection is shared by both
directions, exactly as spice-gtk: our GRAB carries it and increments it, an
incoming GRAB is accepted only when it carries the current value (then
incremented), otherwise it is stale and dropped.

File transfer (spice-gtk ``file_xfer_*``): FILE_XFER_START with a key file naming
the file; the agent answers FILE_XFER_STATUS CAN_SEND_DATA, we send the bytes in
FILE_XFER_DATA messages of 64 KiB, and its final STATUS (SUCCESS or an error)
ends the transfer.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from spicepy.channels.events import ChannelEvent
from spicepy.errors import LimitExceededError, ProtocolError
from spicepy.wire.agent import (
    AGENT_HEADER_SIZE,
    MAX_AGENT_MESSAGE_SIZE,
    AgentHeader,
    AnnounceCapabilities,
    Clipboard,
    ClipboardGrab,
    ClipboardRelease,
    ClipboardRequest,
    DisplayConfig,
    FileXferData,
    FileXferStart,
    FileXferStatusMessage,
    MonConfig,
    MonitorMM,
    MonitorsConfig,
    Reply,
    caps_to_words,
    chunk_agent_message,
    decode_agent_message,
    encode_agent_message,
    parse_agent_header,
    words_to_caps,
)
from spicepy.wire.enums import (
    AgentCap,
    ClipboardSelection,
    FileXferStatus,
    MonitorsConfigFlags,
)

__all__ = [
    "AgentMachine",
    "CLIENT_AGENT_CAPS",
    "FILE_XFER_CHUNK_SIZE",
    "Monitor",
    "AgentCapabilitiesReceived",
    "AgentMessageReceived",
    "AgentReplyReceived",
    "ClipboardGrabbed",
    "ClipboardRequested",
    "ClipboardReceived",
    "ClipboardReleased",
    "FileTransferStatusReceived",
]

log = logging.getLogger(__name__)

#: What we announce (spice-gtk ``agent_announce_caps``, minus MOUSE_STATE: the
#: inputs channel carries the pointer).
CLIENT_AGENT_CAPS = frozenset(
    {
        AgentCap.MONITORS_CONFIG,
        AgentCap.REPLY,
        AgentCap.DISPLAY_CONFIG,
        AgentCap.CLIPBOARD_BY_DEMAND,
        AgentCap.CLIPBOARD_SELECTION,
        AgentCap.MONITORS_CONFIG_POSITION,
        AgentCap.FILE_XFER_DETAILED_ERRORS,
        AgentCap.CLIPBOARD_NO_RELEASE_ON_REGRAB,
        AgentCap.CLIPBOARD_GRAB_SERIAL,
    }
)
#: spice-gtk reads files in pieces of VD_AGENT_MAX_DATA_SIZE * 32 bytes
FILE_XFER_CHUNK_SIZE = 64 * 1024


# --- events ------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class AgentCapabilitiesReceived(ChannelEvent):
    caps: frozenset[int]


@dataclass(frozen=True, slots=True)
class ClipboardGrabbed(ChannelEvent):
    """The guest owns ``selection`` and offers ``types`` (ClipboardType values)."""

    selection: int
    types: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class ClipboardRequested(ChannelEvent):
    """The guest wants our ``selection`` as ``type``: answer with send_clipboard."""

    selection: int
    type: int


@dataclass(frozen=True, slots=True)
class ClipboardReceived(ChannelEvent):
    selection: int
    type: int
    data: bytes


@dataclass(frozen=True, slots=True)
class ClipboardReleased(ChannelEvent):
    selection: int


@dataclass(frozen=True, slots=True)
class AgentReplyReceived(ChannelEvent):
    """VD_AGENT_REPLY to MONITORS_CONFIG / DISPLAY_CONFIG (error 1 = success)."""

    type: int
    error: int


@dataclass(frozen=True, slots=True)
class FileTransferStatusReceived(ChannelEvent):
    """FILE_XFER_STATUS; ``done`` for a final one (anything but CAN_SEND_DATA)."""

    id: int
    result: int
    data: bytes
    done: bool


@dataclass(frozen=True, slots=True)
class AgentMessageReceived(ChannelEvent):
    """Any other agent message (MOUSE_STATE, MAX_CLIPBOARD, unknown types...)."""

    message: Any


@dataclass(frozen=True, slots=True)
class Monitor:
    """One guest monitor for ``set_monitors``; x/y place it (USE_POS)."""

    width: int
    height: int
    x: int = 0
    y: int = 0
    depth: int = 32


class AgentMachine:
    """Sans-IO VD-agent endpoint; see the module docstring.

    Args:
        caps: capabilities we announce.
        max_message_size: largest incoming agent message body accepted.
    """

    def __init__(
        self,
        *,
        caps: frozenset[int] = CLIENT_AGENT_CAPS,
        max_message_size: int = MAX_AGENT_MESSAGE_SIZE,
    ) -> None:
        self.caps = caps
        self.max_message_size = max_message_size
        self.connected = False
        self.tokens = 0
        self.agent_caps: frozenset[int] | None = None
        self._chunks: deque[bytes] = deque()
        self._in = bytearray()
        self._header: AgentHeader | None = None
        self._events: deque[ChannelEvent] = deque()
        self._serial = [0, 0, 0]  # per ClipboardSelection, shared both ways
        self._next_xfer = 1
        self._xfers: dict[int, bytes] = {}

    # -- driven by the main channel --------------------------------------------------
    def start(self, tokens: int | None = None) -> None:
        """The agent is (again) connected; ``tokens``: a new grant, if any."""
        self.connected = True
        if tokens is not None:
            self.tokens = tokens
        self.agent_caps = None
        self._serial = [0, 0, 0]
        self._reset_input()
        self._queue(AnnounceCapabilities(1, caps_to_words(self.caps)))

    def stop(self) -> None:
        """AGENT_DISCONNECTED: forget the queue, the partial input and transfers."""
        self.connected = False
        self.agent_caps = None
        self._chunks.clear()
        self._xfers.clear()
        self._reset_input()

    def add_tokens(self, n: int) -> None:
        """AGENT_TOKEN: the server accepts ``n`` more chunks."""
        self.tokens += n

    def take_chunks(self) -> list[bytes]:
        """The AGENT_DATA payloads the tokens allow now (each costs one)."""
        out = []
        while self._chunks and self.tokens > 0:
            out.append(self._chunks.popleft())
            self.tokens -= 1
        return out

    @property
    def pending_chunks(self) -> int:
        """Chunks waiting for tokens."""
        return len(self._chunks)

    def next_event(self) -> ChannelEvent | None:
        return self._events.popleft() if self._events else None

    def receive_chunk(self, data: bytes | memoryview) -> None:
        """One AGENT_DATA payload from the server.

        Raises:
            WireError: a bad header (protocol, size) or a body that does not parse.
        """
        self._in += data
        while True:
            if self._header is None:
                if len(self._in) < AGENT_HEADER_SIZE:
                    return
                header = parse_agent_header(self._in)
                if header.size > self.max_message_size:
                    raise LimitExceededError(
                        f"agent message of {header.size} bytes exceeds the "
                        f"{self.max_message_size}-byte limit (spicepy.Limits.agent)",
                        "agent",
                    )
                self._header = header
                del self._in[:AGENT_HEADER_SIZE]
            size = self._header.size
            if len(self._in) < size:
                return
            body = bytes(self._in[:size])
            del self._in[:size]
            msg_type, self._header = self._header.type, None
            self._dispatch(msg_type, body)

    # -- capabilities -----------------------------------------------------------------
    def has_cap(self, cap: int) -> bool:
        """The agent announced ``cap`` (False before its announce arrived)."""
        return self.agent_caps is not None and cap in self.agent_caps

    def _need(self, cap: int) -> None:
        if not self.connected:
            raise ProtocolError("no guest agent is connected")
        if not self.has_cap(cap):
            raise ProtocolError(f"the guest agent lacks {AgentCap(cap).name}")

    def _selection(self, selection: int) -> int:
        selection = int(ClipboardSelection(selection))
        if selection != ClipboardSelection.CLIPBOARD:
            self._need(AgentCap.CLIPBOARD_SELECTION)
        return selection

    # -- commands ---------------------------------------------------------------------
    def grab_clipboard(
        self, types: Iterable[int], selection: int = ClipboardSelection.CLIPBOARD
    ) -> None:
        """Take ownership of ``selection``, offering ``types`` (ClipboardType).

        Raises:
            ProtocolError: no agent, or it lacks CLIPBOARD_BY_DEMAND (or
                CLIPBOARD_SELECTION for PRIMARY/SECONDARY).
        """
        self._need(AgentCap.CLIPBOARD_BY_DEMAND)
        selection = self._selection(selection)
        serial = None
        if self.has_cap(AgentCap.CLIPBOARD_GRAB_SERIAL):
            serial = self._serial[selection]
            self._serial[selection] = (serial + 1) & 0xFFFFFFFF
        grab = ClipboardGrab(tuple(types), selection=selection, serial=serial)
        self._queue(grab)

    def send_clipboard(
        self,
        type: int,
        data: bytes,
        selection: int = ClipboardSelection.CLIPBOARD,
    ) -> None:
        """Answer a ClipboardRequested with the data of ``type``."""
        self._need(AgentCap.CLIPBOARD_BY_DEMAND)
        self._queue(Clipboard(type, bytes(data), selection=self._selection(selection)))

    def request_clipboard(
        self, type: int, selection: int = ClipboardSelection.CLIPBOARD
    ) -> None:
        """Ask the guest (after its ClipboardGrabbed) for ``type``."""
        self._need(AgentCap.CLIPBOARD_BY_DEMAND)
        self._queue(ClipboardRequest(type, selection=self._selection(selection)))

    def release_clipboard(self, selection: int = ClipboardSelection.CLIPBOARD) -> None:
        self._need(AgentCap.CLIPBOARD_BY_DEMAND)
        self._queue(ClipboardRelease(selection=self._selection(selection)))

    def set_monitors(
        self,
        monitors: Sequence[Monitor],
        physical_mm: Sequence[tuple[int, int]] | None = None,
    ) -> None:
        """Ask the guest for this monitor layout (``Monitor(w, h)`` resizes one).

        ``physical_mm`` gives each monitor's (width, height) in millimetres.
        """
        self._need(AgentCap.MONITORS_CONFIG)
        if not monitors:
            raise ValueError("at least one monitor")
        flags = MonitorsConfigFlags.USE_POS
        sizes = None
        if physical_mm is not None:
            if len(physical_mm) != len(monitors):
                raise ValueError("one physical size per monitor")
            flags |= MonitorsConfigFlags.PHYSICAL_SIZE
            sizes = tuple(MonitorMM(h, w) for w, h in physical_mm)
        mons = tuple(MonConfig(m.height, m.width, m.depth, m.x, m.y) for m in monitors)
        self._queue(MonitorsConfig(len(mons), int(flags), mons, physical_sizes=sizes))

    def set_display_config(self, flags: int = 0, depth: int = 0) -> None:
        """VD_AGENT_DISPLAY_CONFIG (DisplayConfigFlags: wallpaper, font smoothing,
        animation, colour depth)."""
        self._need(AgentCap.DISPLAY_CONFIG)
        self._queue(DisplayConfig(flags, depth))

    def send_file(self, name: str, data: bytes) -> int:
        """Start copying ``data`` to the guest as file ``name``; returns the id
        that FileTransferStatusReceived events carry.

        Raises:
            ProtocolError: no agent, or it announced FILE_XFER_DISABLED.
        """
        if not self.connected or self.agent_caps is None:
            raise ProtocolError("no guest agent is connected")
        if self.has_cap(AgentCap.FILE_XFER_DISABLED):
            raise ProtocolError("the guest agent disabled file transfer")
        if not name or "/" in name or "\n" in name or "\0" in name:
            raise ValueError(f"bad file name {name!r}")
        xfer_id, self._next_xfer = self._next_xfer, self._next_xfer + 1
        self._xfers[xfer_id] = bytes(data)
        keyfile = f"[vdagent-file-xfer]\nname={name}\nsize={len(data)}\n"
        self._queue(FileXferStart(xfer_id, keyfile.encode() + b"\0"))
        return xfer_id

    # -- internals -------------------------------------------------------------------
    def _queue(self, msg: Any) -> None:
        encoded = encode_agent_message(
            msg,
            selection_cap=self.has_cap(AgentCap.CLIPBOARD_SELECTION),
            grab_serial_cap=self.has_cap(AgentCap.CLIPBOARD_GRAB_SERIAL),
        )
        self._chunks.extend(chunk_agent_message(encoded))

    def _reset_input(self) -> None:
        self._in.clear()
        self._header = None

    def _dispatch(self, msg_type: int, body: bytes) -> None:
        msg = decode_agent_message(
            msg_type,
            body,
            selection_cap=self.has_cap(AgentCap.CLIPBOARD_SELECTION),
            grab_serial_cap=self.has_cap(AgentCap.CLIPBOARD_GRAB_SERIAL),
        )
        emit = self._events.append
        if isinstance(msg, AnnounceCapabilities):
            self.agent_caps = words_to_caps(msg.caps)
            emit(AgentCapabilitiesReceived(self.agent_caps))
            if msg.request:
                self._queue(AnnounceCapabilities(0, caps_to_words(self.caps)))
        elif isinstance(msg, ClipboardGrab):
            if msg.serial is not None:
                current = self._serial[msg.selection]
                if msg.serial != current:
                    log.debug("stale clipboard grab %d != %d", msg.serial, current)
                    return
                self._serial[msg.selection] = (current + 1) & 0xFFFFFFFF
            emit(ClipboardGrabbed(msg.selection, msg.types))
        elif isinstance(msg, ClipboardRequest):
            emit(ClipboardRequested(msg.selection, msg.type))
        elif isinstance(msg, Clipboard):
            emit(ClipboardReceived(msg.selection, msg.type, msg.data))
        elif isinstance(msg, ClipboardRelease):
            emit(ClipboardReleased(msg.selection))
        elif isinstance(msg, Reply):
            emit(AgentReplyReceived(msg.type, msg.error))
        elif isinstance(msg, FileXferStatusMessage):
            self._file_status(msg)
        else:
            emit(AgentMessageReceived(msg))

    def _file_status(self, msg: FileXferStatusMessage) -> None:
        data = self._xfers.get(msg.id)
        if data is None:
            log.debug("status for unknown file transfer %d", msg.id)
            return
        done = msg.result != FileXferStatus.CAN_SEND_DATA
        if done:
            del self._xfers[msg.id]
        else:
            for pos in range(0, len(data), FILE_XFER_CHUNK_SIZE):
                piece = data[pos : pos + FILE_XFER_CHUNK_SIZE]
                self._queue(FileXferData(msg.id, len(piece), piece))
            if not data:
                self._queue(FileXferData(msg.id, 0, b""))
            self._xfers[msg.id] = b""  # sent; wait for the final status
        self._events.append(
            FileTransferStatusReceived(msg.id, msg.result, msg.data, done)
        )
