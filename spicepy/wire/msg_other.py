"""Inputs, cursor, playback, record and SpiceVMC/port messages (spice.proto)."""

from __future__ import annotations

from dataclasses import dataclass, field

from spicepy.wire.enums import (
    AudioDataMode,
    ChannelType,
    CursorMsg,
    DataCompressionType,
    InputsMsg,
    InputsMsgc,
    PlaybackMsg,
    PortMsg,
    PortMsgc,
    RecordMsg,
    RecordMsgc,
    SpicevmcMsg,
)
from spicepy.wire.registry import Message, message
from spicepy.wire.schema import (
    I32,
    U8,
    U16,
    U32,
    U64,
    Array,
    Bytes,
    FieldIn,
    Ptr,
    Rest,
    wt,
)
from spicepy.wire.types import Cursor, Payload, Point16

I = ChannelType.INPUTS  # noqa: E741
C = ChannelType.CURSOR
P = ChannelType.PLAYBACK
R = ChannelType.RECORD


# --- inputs --
@message(I, InputsMsgc.KEY_DOWN, from_server=False)
@dataclass(frozen=True, slots=True)
class KeyDown(Message):
    code: int = field(metadata=wt(U32))


@message(I, InputsMsgc.KEY_UP, from_server=False)
@dataclass(frozen=True, slots=True)
class KeyUp(Message):
    code: int = field(metadata=wt(U32))


@message(I, InputsMsgc.KEY_MODIFIERS, from_server=False)
@dataclass(frozen=True, slots=True)
class KeyModifiersC(Message):
    modifiers: int = field(metadata=wt(U16))


@message(I, InputsMsgc.KEY_SCANCODE, from_server=False)
@dataclass(frozen=True, slots=True)
class KeyScancode(Message):
    data: bytes = field(metadata=wt(Rest()))


@message(I, InputsMsgc.MOUSE_MOTION, from_server=False)
@dataclass(frozen=True, slots=True)
class MouseMotion(Message):
    dx: int = field(metadata=wt(I32))
    dy: int = field(metadata=wt(I32))
    buttons_state: int = field(metadata=wt(U16))


@message(I, InputsMsgc.MOUSE_POSITION, from_server=False)
@dataclass(frozen=True, slots=True)
class MousePosition(Message):
    x: int = field(metadata=wt(U32))
    y: int = field(metadata=wt(U32))
    buttons_state: int = field(metadata=wt(U16))
    display_id: int = field(metadata=wt(U8))


@message(I, InputsMsgc.MOUSE_PRESS, from_server=False)
@dataclass(frozen=True, slots=True)
class MousePress(Message):
    button: int = field(metadata=wt(U8))
    buttons_state: int = field(metadata=wt(U16))


@message(I, InputsMsgc.MOUSE_RELEASE, from_server=False)
@dataclass(frozen=True, slots=True)
class MouseRelease(Message):
    button: int = field(metadata=wt(U8))
    buttons_state: int = field(metadata=wt(U16))


@message(I, InputsMsg.INIT)
@dataclass(frozen=True, slots=True)
class InputsInit(Message):
    keyboard_modifiers: int = field(metadata=wt(U16))


@message(I, InputsMsg.KEY_MODIFIERS)
@dataclass(frozen=True, slots=True)
class KeyModifiers(Message):
    modifiers: int = field(metadata=wt(U16))


@message(I, InputsMsg.MOUSE_MOTION_ACK)
@dataclass(frozen=True, slots=True)
class MouseMotionAck(Message):
    pass


# --- cursor --
@message(C, CursorMsg.INIT)
@dataclass(frozen=True, slots=True)
class CursorInit(Message):
    position: Point16 = field(metadata=wt(Point16))
    trail_length: int = field(metadata=wt(U16))
    trail_frequency: int = field(metadata=wt(U16))
    visible: int = field(metadata=wt(U8))
    cursor: Cursor = field(metadata=wt(Cursor))


@message(C, CursorMsg.RESET)
@dataclass(frozen=True, slots=True)
class CursorReset(Message):
    pass


@message(C, CursorMsg.SET)
@dataclass(frozen=True, slots=True)
class CursorSet(Message):
    position: Point16 = field(metadata=wt(Point16))
    visible: int = field(metadata=wt(U8))
    cursor: Cursor = field(metadata=wt(Cursor))


@message(C, CursorMsg.MOVE)
@dataclass(frozen=True, slots=True)
class CursorMove(Message):
    position: Point16 = field(metadata=wt(Point16))


@message(C, CursorMsg.HIDE)
@dataclass(frozen=True, slots=True)
class CursorHide(Message):
    pass


@message(C, CursorMsg.TRAIL)
@dataclass(frozen=True, slots=True)
class CursorTrail(Message):
    length: int = field(metadata=wt(U16))
    frequency: int = field(metadata=wt(U16))


@message(C, CursorMsg.INVAL_ONE)
@dataclass(frozen=True, slots=True)
class CursorInvalOne(Message):
    id: int = field(metadata=wt(U64))


@message(C, CursorMsg.INVAL_ALL)
@dataclass(frozen=True, slots=True)
class CursorInvalAll(Message):
    pass


# --- playback --
@message(P, PlaybackMsg.DATA)
@dataclass(frozen=True, slots=True)
class PlaybackData(Message):
    time: int = field(metadata=wt(U32))
    data: Payload = field(metadata=wt(Rest(view=True)))


@message(P, PlaybackMsg.MODE)
@dataclass(frozen=True, slots=True)
class PlaybackMode(Message):
    time: int = field(metadata=wt(U32))
    mode: int = field(metadata=wt(U16))
    data: Payload = field(metadata=wt(Rest(view=True)))


@message(P, PlaybackMsg.START)
@dataclass(frozen=True, slots=True)
class PlaybackStart(Message):
    channels: int = field(metadata=wt(U32))
    format: int = field(metadata=wt(U16))
    frequency: int = field(metadata=wt(U32))
    time: int = field(metadata=wt(U32))


@message(P, PlaybackMsg.STOP)
@dataclass(frozen=True, slots=True)
class PlaybackStop(Message):
    pass


@dataclass(frozen=True, slots=True)
class _AudioVolume:
    nchannels: int = field(metadata=wt(U8))
    volume: tuple[int, ...] = field(metadata=wt(Array(U16, "nchannels", 2)))


@message(P, PlaybackMsg.VOLUME)
@dataclass(frozen=True, slots=True)
class PlaybackVolume(Message):
    nchannels: int = field(metadata=wt(U8))
    volume: tuple[int, ...] = field(metadata=wt(Array(U16, "nchannels", 2)))


@message(P, PlaybackMsg.MUTE)
@dataclass(frozen=True, slots=True)
class PlaybackMute(Message):
    mute: int = field(metadata=wt(U8))


@message(P, PlaybackMsg.LATENCY)
@dataclass(frozen=True, slots=True)
class PlaybackLatency(Message):
    latency_ms: int = field(metadata=wt(U32))


# --- record --
@message(R, RecordMsg.START)
@dataclass(frozen=True, slots=True)
class RecordStart(Message):
    channels: int = field(metadata=wt(U32))
    format: int = field(metadata=wt(U16))
    frequency: int = field(metadata=wt(U32))


@message(R, RecordMsg.STOP)
@dataclass(frozen=True, slots=True)
class RecordStop(Message):
    pass


@message(R, RecordMsg.VOLUME)
@dataclass(frozen=True, slots=True)
class RecordVolume(Message):
    nchannels: int = field(metadata=wt(U8))
    volume: tuple[int, ...] = field(metadata=wt(Array(U16, "nchannels", 2)))


@message(R, RecordMsg.MUTE)
@dataclass(frozen=True, slots=True)
class RecordMute(Message):
    mute: int = field(metadata=wt(U8))


@message(R, RecordMsgc.DATA, from_server=False)
@dataclass(frozen=True, slots=True)
class RecordData(Message):
    time: int = field(metadata=wt(U32))
    data: Payload = field(metadata=wt(Rest(view=True)))


@message(R, RecordMsgc.MODE, from_server=False)
@dataclass(frozen=True, slots=True)
class RecordMode(Message):
    time: int = field(metadata=wt(U32))
    mode: int = field(metadata=wt(U16))
    data: Payload = field(metadata=wt(Rest(view=True)))


@message(R, RecordMsgc.START_MARK, from_server=False)
@dataclass(frozen=True, slots=True)
class RecordStartMark(Message):
    time: int = field(metadata=wt(U32))


# --- SpiceVMC family (usbredir, port, webdav): DATA / COMPRESSED_DATA both ways --
_COMPRESSED = FieldIn("type", frozenset({DataCompressionType.NONE}), negate=True)


def _vmc(channel: int, server: bool) -> None:
    suffix = ChannelType(channel).name.title() + ("" if server else "C")

    @dataclass(frozen=True, slots=True)
    class VmcData(Message):
        data: Payload = field(metadata=wt(Rest(view=True)))

    @dataclass(frozen=True, slots=True)
    class VmcCompressedData(Message):
        type: int = field(metadata=wt(U8))
        uncompressed_size: int | None = field(
            default=None,
            kw_only=True,
            metadata=wt(U32, _COMPRESSED),
        )
        compressed_data: Payload = field(default=b"", metadata=wt(Rest(view=True)))

    for cls, num, name in (
        (VmcData, SpicevmcMsg.DATA, "Data"),
        (VmcCompressedData, SpicevmcMsg.COMPRESSED_DATA, "CompressedData"),
    ):
        cls.__name__ = cls.__qualname__ = f"{suffix}{name}"
        message(channel, num, from_server=server)(cls)
        globals()[cls.__name__] = cls


for _ch in (ChannelType.USBREDIR, ChannelType.PORT, ChannelType.WEBDAV):
    _vmc(_ch, True)
    _vmc(_ch, False)


def _port(channel: int) -> None:
    @dataclass(frozen=True, slots=True)
    class PortInit(Message):
        name_size: int = field(metadata=wt(U32))
        name: bytes | None = field(metadata=wt(Ptr(Bytes("name_size"))))
        opened: int = field(metadata=wt(U8))

    @dataclass(frozen=True, slots=True)
    class PortEventMsg(Message):
        event: int = field(metadata=wt(U8))

    @dataclass(frozen=True, slots=True)
    class PortEventC(Message):
        event: int = field(metadata=wt(U8))

    prefix = ChannelType(channel).name.title()
    for cls, num, server, name in (
        (PortInit, PortMsg.INIT, True, "Init"),
        (PortEventMsg, PortMsg.EVENT, True, "Event"),
        (PortEventC, PortMsgc.EVENT, False, "EventC"),
    ):
        cls.__name__ = cls.__qualname__ = f"{prefix}{name}"
        message(channel, num, from_server=server)(cls)
        globals()[cls.__name__] = cls


_port(ChannelType.PORT)
_port(ChannelType.WEBDAV)

__all__ = [
    n for n in list(globals()) if n[:1].isupper() and n not in {"I", "C", "P", "R"}
]
_ = AudioDataMode  # re-exported for callers that decode PlaybackMode.mode
