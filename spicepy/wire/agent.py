"""VD-agent messages (spice-protocol ``spice/vd_agent.h``), declared once.

Theory of operation: the guest agent's messages ride in main-channel AGENT_DATA
as a byte stream of ``VDAgentMessage`` (20-byte ``AgentHeader`` + ``size`` bytes
of body).  Each body is a schema dataclass registered by its ``AgentMsgType``;
``encode_agent_message`` / ``decode_agent_message`` marshal them with the same
engine as the channel messages (``spicepy.wire.schema``).

Two prefixes depend on what the peers negotiated, not on the body itself, so they
are handled here rather than in the definitions: with CLIPBOARD_SELECTION every
clipboard message (GRAB, REQUEST, CLIPBOARD, RELEASE) starts with ``selection``
u8 + 3 reserved bytes, and with CLIPBOARD_GRAB_SERIAL a GRAB then carries a u32
serial (spice-gtk ``agent_clipboard_grab``, ``main_agent_handle_msg``).  Those two
values live in non-wire fields (``selection``, ``serial``) of the dataclasses.

``chunk_agent_message`` splits one encoded message into AGENT_DATA payloads of at
most ``VD_AGENT_MAX_DATA_SIZE`` bytes, header included, exactly as spice-gtk's
``agent_msg_queue_many`` does (and never mixing two messages in one chunk, which
spice-server's ``agent-msg-filter.c`` rejects).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from spicepy.errors import WireError
from spicepy.wire.buffer import Buffer
from spicepy.wire.enums import (
    VD_AGENT_MAX_DATA_SIZE,
    VD_AGENT_PROTOCOL,
    AgentMsgType,
    ClipboardSelection,
    MonitorsConfigFlags,
)
from spicepy.wire.schema import (
    I32,
    U8,
    U16,
    U32,
    U64,
    Array,
    Bytes,
    Rest,
    encode_struct,
    wt,
)
from spicepy.wire.twins import decode_struct  # compiled twin when built

__all__ = [
    "AGENT_HEADER_SIZE",
    "MAX_AGENT_MESSAGE_SIZE",
    "AgentHeader",
    "AgentMessage",
    "UnknownAgentMessage",
    "CLIPBOARD_MESSAGES",
    "agent_message_classes",
    "parse_agent_header",
    "encode_agent_message",
    "decode_agent_message",
    "chunk_agent_message",
    "caps_to_words",
    "words_to_caps",
    "MouseState",
    "MonConfig",
    "MonitorMM",
    "MonitorsConfig",
    "Reply",
    "Clipboard",
    "DisplayConfig",
    "AnnounceCapabilities",
    "ClipboardGrab",
    "ClipboardRequest",
    "ClipboardRelease",
    "FileXferStart",
    "FileXferStatusMessage",
    "FileXferData",
    "ClientDisconnected",
    "MaxClipboard",
    "AudioVolumeSync",
    "DeviceDisplayInfo",
    "GraphicsDeviceInfo",
]

AGENT_HEADER_SIZE = 20
#: Largest agent message body we reassemble (spice-gtk's default max-clipboard is
#: 100 MB; a clipboard image of a 4K screen as PNG is far below this).
MAX_AGENT_MESSAGE_SIZE = 128 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class AgentHeader:
    """``VDAgentMessage`` without its data: protocol (= 1), type, opaque, size."""

    protocol: int = field(metadata=wt(U32))
    type: int = field(metadata=wt(U32))
    opaque: int = field(metadata=wt(U64))
    size: int = field(metadata=wt(U32))


class AgentMessage:
    """Mixin of every agent message dataclass; ``AGENT_TYPE`` is its number."""

    __slots__ = ()
    AGENT_TYPE: int


_REGISTRY: dict[int, type[Any]] = {}
A = TypeVar("A", bound=type)


def _agent(msg_type: AgentMsgType) -> Callable[[A], A]:
    def deco(cls: A) -> A:
        if int(msg_type) in _REGISTRY:
            raise RuntimeError(f"duplicate agent message {msg_type!r}")
        cls.AGENT_TYPE = int(msg_type)  # type: ignore[attr-defined]
        _REGISTRY[int(msg_type)] = cls
        return cls

    return deco


def agent_message_classes() -> list[type[Any]]:
    """Every agent message definition (for generated tests)."""
    return list(_REGISTRY.values())


@dataclass(frozen=True, slots=True)
class UnknownAgentMessage:
    """An agent message type we have no definition for; the body is kept."""

    type: int
    body: bytes


# --- definitions (vd_agent.h, in AgentMsgType order) ---------------------------------
@_agent(AgentMsgType.MOUSE_STATE)
@dataclass(frozen=True, slots=True)
class MouseState(AgentMessage):
    x: int = field(metadata=wt(U32))
    y: int = field(metadata=wt(U32))
    buttons: int = field(metadata=wt(U32))
    display_id: int = field(metadata=wt(U8))


@dataclass(frozen=True, slots=True)
class MonConfig:
    """``VDAgentMonConfig``: note height comes before width on the wire."""

    height: int = field(metadata=wt(U32))
    width: int = field(metadata=wt(U32))
    depth: int = field(metadata=wt(U32))
    x: int = field(metadata=wt(I32))
    y: int = field(metadata=wt(I32))


@dataclass(frozen=True, slots=True)
class MonitorMM:
    height: int = field(metadata=wt(U16))
    width: int = field(metadata=wt(U16))


def _physical(v: Any) -> bool:
    return bool(v["flags"] & MonitorsConfigFlags.PHYSICAL_SIZE)


@_agent(AgentMsgType.MONITORS_CONFIG)
@dataclass(frozen=True, slots=True)
class MonitorsConfig(AgentMessage):
    num_of_monitors: int = field(metadata=wt(U32))
    flags: int = field(metadata=wt(U32))
    monitors: tuple[MonConfig, ...] = field(
        metadata=wt(Array(MonConfig, "num_of_monitors", 20))
    )
    physical_sizes: tuple[MonitorMM, ...] | None = field(
        default=None,
        kw_only=True,
        metadata=wt(Array(MonitorMM, "num_of_monitors", 4), _physical),
    )


@_agent(AgentMsgType.REPLY)
@dataclass(frozen=True, slots=True)
class Reply(AgentMessage):
    type: int = field(metadata=wt(U32))
    error: int = field(metadata=wt(U32))


@_agent(AgentMsgType.CLIPBOARD)
@dataclass(frozen=True, slots=True)
class Clipboard(AgentMessage):
    type: int = field(metadata=wt(U32))
    data: bytes = field(metadata=wt(Rest()))
    selection: int = field(default=ClipboardSelection.CLIPBOARD, kw_only=True)


@_agent(AgentMsgType.DISPLAY_CONFIG)
@dataclass(frozen=True, slots=True)
class DisplayConfig(AgentMessage):
    flags: int = field(metadata=wt(U32))
    depth: int = field(metadata=wt(U32))


@_agent(AgentMsgType.ANNOUNCE_CAPABILITIES)
@dataclass(frozen=True, slots=True)
class AnnounceCapabilities(AgentMessage):
    request: int = field(metadata=wt(U32))
    caps: tuple[int, ...] = field(metadata=wt(Array(U32, None, 4)))


@_agent(AgentMsgType.CLIPBOARD_GRAB)
@dataclass(frozen=True, slots=True)
class ClipboardGrab(AgentMessage):
    types: tuple[int, ...] = field(metadata=wt(Array(U32, None, 4)))
    selection: int = field(default=ClipboardSelection.CLIPBOARD, kw_only=True)
    serial: int | None = field(default=None, kw_only=True)


@_agent(AgentMsgType.CLIPBOARD_REQUEST)
@dataclass(frozen=True, slots=True)
class ClipboardRequest(AgentMessage):
    type: int = field(metadata=wt(U32))
    selection: int = field(default=ClipboardSelection.CLIPBOARD, kw_only=True)


@_agent(AgentMsgType.CLIPBOARD_RELEASE)
@dataclass(frozen=True, slots=True)
class ClipboardRelease(AgentMessage):
    selection: int = field(default=ClipboardSelection.CLIPBOARD, kw_only=True)


@_agent(AgentMsgType.FILE_XFER_START)
@dataclass(frozen=True, slots=True)
class FileXferStart(AgentMessage):
    """``data`` is a GKeyFile text (``[vdagent-file-xfer]`` name=, size=) + NUL."""

    id: int = field(metadata=wt(U32))
    data: bytes = field(metadata=wt(Rest()))


@_agent(AgentMsgType.FILE_XFER_STATUS)
@dataclass(frozen=True, slots=True)
class FileXferStatusMessage(AgentMessage):
    id: int = field(metadata=wt(U32))
    result: int = field(metadata=wt(U32))
    data: bytes = field(default=b"", metadata=wt(Rest()))


@_agent(AgentMsgType.FILE_XFER_DATA)
@dataclass(frozen=True, slots=True)
class FileXferData(AgentMessage):
    id: int = field(metadata=wt(U32))
    size: int = field(metadata=wt(U64))
    data: bytes = field(metadata=wt(Bytes("size")))


@_agent(AgentMsgType.CLIENT_DISCONNECTED)
@dataclass(frozen=True, slots=True)
class ClientDisconnected(AgentMessage):
    pass


@_agent(AgentMsgType.MAX_CLIPBOARD)
@dataclass(frozen=True, slots=True)
class MaxClipboard(AgentMessage):
    max: int = field(metadata=wt(I32))


@_agent(AgentMsgType.AUDIO_VOLUME_SYNC)
@dataclass(frozen=True, slots=True)
class AudioVolumeSync(AgentMessage):
    is_playback: int = field(metadata=wt(U8))
    mute: int = field(metadata=wt(U8))
    nchannels: int = field(metadata=wt(U8))
    volume: tuple[int, ...] = field(metadata=wt(Array(U16, "nchannels", 2)))


@dataclass(frozen=True, slots=True)
class DeviceDisplayInfo:
    channel_id: int = field(metadata=wt(U32))
    monitor_id: int = field(metadata=wt(U32))
    device_display_id: int = field(metadata=wt(U32))
    device_address_len: int = field(metadata=wt(U32))
    device_address: bytes = field(metadata=wt(Bytes("device_address_len")))


@_agent(AgentMsgType.GRAPHICS_DEVICE_INFO)
@dataclass(frozen=True, slots=True)
class GraphicsDeviceInfo(AgentMessage):
    count: int = field(metadata=wt(U32))
    display_info: tuple[DeviceDisplayInfo, ...] = field(
        metadata=wt(Array(DeviceDisplayInfo, "count", 16))
    )


#: Messages that start with the selection prefix when CLIPBOARD_SELECTION is set.
CLIPBOARD_MESSAGES = frozenset(
    {
        AgentMsgType.CLIPBOARD,
        AgentMsgType.CLIPBOARD_GRAB,
        AgentMsgType.CLIPBOARD_REQUEST,
        AgentMsgType.CLIPBOARD_RELEASE,
    }
)


# --- framing -----------------------------------------------------------------------
def parse_agent_header(data: bytes | bytearray | memoryview) -> AgentHeader:
    """Read the 20-byte ``VDAgentMessage`` header at the start of ``data``.

    Raises:
        WireError: fewer than 20 bytes, a protocol other than 1, or a size above
            ``MAX_AGENT_MESSAGE_SIZE``.
    """
    if len(data) < AGENT_HEADER_SIZE:
        raise WireError(f"agent header needs 20 bytes, got {len(data)}")
    hdr: AgentHeader = decode_struct(AgentHeader, memoryview(data)[:AGENT_HEADER_SIZE])
    if hdr.protocol != VD_AGENT_PROTOCOL:
        raise WireError(f"agent protocol {hdr.protocol}, expected {VD_AGENT_PROTOCOL}")
    if hdr.size > MAX_AGENT_MESSAGE_SIZE:
        raise WireError(
            f"agent message of {hdr.size} bytes exceeds {MAX_AGENT_MESSAGE_SIZE}"
        )
    return hdr


def encode_agent_message(
    msg: Any, *, selection_cap: bool = False, grab_serial_cap: bool = False
) -> bytes:
    """Header + body of one agent message.

    Args:
        msg: an agent message dataclass.
        selection_cap: the peer announced CLIPBOARD_SELECTION (clipboard messages
            then carry ``msg.selection``; without it only CLIPBOARD is allowed).
        grab_serial_cap: both announced CLIPBOARD_GRAB_SERIAL (GRAB carries
            ``msg.serial``).

    Raises:
        ValueError: a selection other than CLIPBOARD without the cap, a GRAB
            without a serial under the serial cap, or inconsistent counts.
    """
    if not isinstance(msg, AgentMessage):
        raise TypeError(f"{type(msg).__name__} is not an agent message")
    prefix = Buffer()
    if msg.AGENT_TYPE in CLIPBOARD_MESSAGES:
        selection = int(msg.selection)  # type: ignore[attr-defined]
        if selection_cap:
            prefix.push_u8(selection)
            prefix.push_bytes(b"\0\0\0")
        elif selection != ClipboardSelection.CLIPBOARD:
            raise ValueError("the agent lacks CLIPBOARD_SELECTION: clipboard only")
    if isinstance(msg, ClipboardGrab) and grab_serial_cap:
        if msg.serial is None:
            raise ValueError(
                "CLIPBOARD_GRAB_SERIAL negotiated: the grab needs a serial"
            )
        prefix.push_u32(msg.serial)
    body = prefix.data() + encode_struct(msg)
    header = encode_struct(AgentHeader(VD_AGENT_PROTOCOL, msg.AGENT_TYPE, 0, len(body)))
    return header + body


def decode_agent_message(
    msg_type: int,
    body: bytes | memoryview,
    *,
    selection_cap: bool = False,
    grab_serial_cap: bool = False,
) -> Any:
    """Parse one agent message body (the bytes after the header).

    Returns:
        The message dataclass, or ``UnknownAgentMessage`` for an undefined type.

    Raises:
        WireError: truncated or inconsistent body.
    """
    cls = _REGISTRY.get(msg_type)
    if cls is None:
        return UnknownAgentMessage(msg_type, bytes(body))
    extra: dict[str, int] = {}
    view = memoryview(body)
    if msg_type in CLIPBOARD_MESSAGES and selection_cap:
        if len(view) < 4:
            raise WireError(f"{cls.__name__}: selection prefix truncated")
        if view[0] > ClipboardSelection.SECONDARY:
            raise WireError(f"{cls.__name__}: unknown selection {view[0]}")
        extra["selection"] = view[0]
        view = view[4:]
    if msg_type == AgentMsgType.CLIPBOARD_GRAB and grab_serial_cap:
        if len(view) < 4:
            raise WireError("ClipboardGrab: serial truncated")
        extra["serial"] = int.from_bytes(view[:4], "little")
        view = view[4:]
    try:
        msg = decode_struct(cls, view)
    except WireError as exc:
        raise WireError(f"agent {AgentMsgType(msg_type).name}: {exc}") from exc
    return dataclasses.replace(msg, **extra) if extra else msg


def chunk_agent_message(
    encoded: bytes, max_chunk: int = VD_AGENT_MAX_DATA_SIZE
) -> list[bytes]:
    """Split one encoded agent message into AGENT_DATA payloads.

    spice-gtk ``agent_msg_queue_many``: the first chunk holds the header and the
    start of the body, up to ``max_chunk`` bytes in all; every later chunk up to
    ``max_chunk`` body bytes; a body-less message is one 20-byte chunk.
    """
    return [encoded[i : i + max_chunk] for i in range(0, len(encoded), max_chunk)]


def caps_to_words(caps: frozenset[int] | set[int]) -> tuple[int, ...]:
    """Capability bit numbers -> u32 words (``VD_AGENT_SET_CAPABILITY``)."""
    if not caps:
        return (0,)
    words = [0] * (max(caps) // 32 + 1)
    for cap in caps:
        words[cap // 32] |= 1 << (cap % 32)
    return tuple(words)


def words_to_caps(words: tuple[int, ...]) -> frozenset[int]:
    """u32 words -> capability bit numbers (``VD_AGENT_HAS_CAPABILITY``)."""
    return frozenset(
        i * 32 + bit
        for i, word in enumerate(words)
        for bit in range(32)
        if word >> bit & 1
    )
