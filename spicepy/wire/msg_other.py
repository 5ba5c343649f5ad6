"""Inputs, cursor, playback, record and SpiceVMC/port messages (spice.proto)."""

from __future__ import annotations

from dataclasses import dataclass

from spicepy.wire.enums import (
    AudioDataMode,
    ChannelType,
    CursorMsg,
    DataCompressionType,
    InputsMsg,
    InputsMsgc,
    PlaybackMsg,
    RecordMsg,
    RecordMsgc,
)
from spicepy.wire.registry import Message, message
from spicepy.wire.schema import I32, U8, U16, U32, U64, Array, Bytes, Ptr, Rest, wf
from spicepy.wire.types import Cursor, Payload, Point16

_DC = dataclass(frozen=True, slots=True)
I = ChannelType.INPUTS  # noqa: E741
C = ChannelType.CURSOR
P = ChannelType.PLAYBACK
R = ChannelType.RECORD


# --- inputs ------------------------------------------------------------------------------
@message(I, InputsMsgc.KEY_DOWN, from_server=False)
@_DC
class KeyDown(Message):
    code: int = wf(U32)


@message(I, InputsMsgc.KEY_UP, from_server=False)
@_DC
class KeyUp(Message):
    code: int = wf(U32)


@message(I, InputsMsgc.KEY_MODIFIERS, from_server=False)
@_DC
class KeyModifiersC(Message):
    modifiers: int = wf(U16)


@message(I, InputsMsgc.KEY_SCANCODE, from_server=False)
@_DC
class KeyScancode(Message):
    data: bytes = wf(Rest())


@message(I, InputsMsgc.MOUSE_MOTION, from_server=False)
@_DC
class MouseMotion(Message):
    dx: int = wf(I32)
    dy: int = wf(I32)
    buttons_state: int = wf(U16)


@message(I, InputsMsgc.MOUSE_POSITION, from_server=False)
@_DC
class MousePosition(Message):
    x: int = wf(U32)
    y: int = wf(U32)
    buttons_state: int = wf(U16)
    display_id: int = wf(U8)


@message(I, InputsMsgc.MOUSE_PRESS, from_server=False)
@_DC
class MousePress(Message):
    button: int = wf(U8)
    buttons_state: int = wf(U16)


@message(I, InputsMsgc.MOUSE_RELEASE, from_server=False)
@_DC
class MouseRelease(Message):
    button: int = wf(U8)
    buttons_state: int = wf(U16)


@message(I, InputsMsg.INIT)
@_DC
class InputsInit(Message):
    keyboard_modifiers: int = wf(U16)


@message(I, InputsMsg.KEY_MODIFIERS)
@_DC
class KeyModifiers(Message):
    modifiers: int = wf(U16)


@message(I, InputsMsg.MOUSE_MOTION_ACK)
@_DC
class MouseMotionAck(Message):
    pass


# --- cursor -------------------------------------------------------------------------------
@message(C, CursorMsg.INIT)
@_DC
class CursorInit(Message):
    position: Point16 = wf(Point16)
    trail_length: int = wf(U16)
    trail_frequency: int = wf(U16)
    visible: int = wf(U8)
    cursor: Cursor = wf(Cursor)


@message(C, CursorMsg.RESET)
@_DC
class CursorReset(Message):
    pass


@message(C, CursorMsg.SET)
@_DC
class CursorSet(Message):
    position: Point16 = wf(Point16)
    visible: int = wf(U8)
    cursor: Cursor = wf(Cursor)


@message(C, CursorMsg.MOVE)
@_DC
class CursorMove(Message):
    position: Point16 = wf(Point16)


@message(C, CursorMsg.HIDE)
@_DC
class CursorHide(Message):
    pass


@message(C, CursorMsg.TRAIL)
@_DC
class CursorTrail(Message):
    length: int = wf(U16)
    frequency: int = wf(U16)


@message(C, CursorMsg.INVAL_ONE)
@_DC
class CursorInvalOne(Message):
    id: int = wf(U64)


@message(C, CursorMsg.INVAL_ALL)
@_DC
class CursorInvalAll(Message):
    pass


# --- playback -----------------------------------------------------------------------------
@message(P, PlaybackMsg.DATA)
@_DC
class PlaybackData(Message):
    time: int = wf(U32)
    data: Payload = wf(Rest(view=True))


@message(P, PlaybackMsg.MODE)
@_DC
class PlaybackMode(Message):
    time: int = wf(U32)
    mode: int = wf(U16)
    data: bytes = wf(Rest())


@message(P, PlaybackMsg.START)
@_DC
class PlaybackStart(Message):
    channels: int = wf(U32)
    format: int = wf(U16)
    frequency: int = wf(U32)
    time: int = wf(U32)


@message(P, PlaybackMsg.STOP)
@_DC
class PlaybackStop(Message):
    pass


@_DC
class _AudioVolume:
    nchannels: int = wf(U8)
    volume: tuple[int, ...] = wf(Array(U16, "nchannels", 2))


@message(P, PlaybackMsg.VOLUME)
@_DC
class PlaybackVolume(Message):
    nchannels: int = wf(U8)
    volume: tuple[int, ...] = wf(Array(U16, "nchannels", 2))


@message(P, PlaybackMsg.MUTE)
@_DC
class PlaybackMute(Message):
    mute: int = wf(U8)


@message(P, PlaybackMsg.LATENCY)
@_DC
class PlaybackLatency(Message):
    latency_ms: int = wf(U32)


# --- record ---------------------------------------------------------------------------------
@message(R, RecordMsg.START)
@_DC
class RecordStart(Message):
    channels: int = wf(U32)
    format: int = wf(U16)
    frequency: int = wf(U32)


@message(R, RecordMsg.STOP)
@_DC
class RecordStop(Message):
    pass


@message(R, RecordMsg.VOLUME)
@_DC
class RecordVolume(Message):
    nchannels: int = wf(U8)
    volume: tuple[int, ...] = wf(Array(U16, "nchannels", 2))


@message(R, RecordMsg.MUTE)
@_DC
class RecordMute(Message):
    mute: int = wf(U8)


@message(R, RecordMsgc.DATA, from_server=False)
@_DC
class RecordData(Message):
    time: int = wf(U32)
    data: bytes = wf(Rest())


@message(R, RecordMsgc.MODE, from_server=False)
@_DC
class RecordMode(Message):
    time: int = wf(U32)
    mode: int = wf(U16)
    data: bytes = wf(Rest())


@message(R, RecordMsgc.START_MARK, from_server=False)
@_DC
class RecordStartMark(Message):
    time: int = wf(U32)


# --- SpiceVMC family (usbredir, port, webdav): DATA / COMPRESSED_DATA both ways ------------
def _vmc(channel: int, server: bool) -> None:
    suffix = ChannelType(channel).name.title() + ("" if server else "C")

    @_DC
    class VmcData(Message):
        data: bytes = wf(Rest())

    @_DC
    class VmcCompressedData(Message):
        type: int = wf(U8)
        uncompressed_size: int | None = wf(
            U32, cond=lambda v: v["type"] != DataCompressionType.NONE
        )
        compressed_data: bytes = wf(Rest(), default=b"")

    for cls, num, name in (
        (VmcData, 101, "Data"),
        (VmcCompressedData, 102, "CompressedData"),
    ):
        cls.__name__ = cls.__qualname__ = f"{suffix}{name}"
        message(channel, num, from_server=server)(cls)
        globals()[cls.__name__] = cls


for _ch in (ChannelType.USBREDIR, ChannelType.PORT, ChannelType.WEBDAV):
    _vmc(_ch, True)
    _vmc(_ch, False)


def _port(channel: int) -> None:
    @_DC
    class PortInit(Message):
        name_size: int = wf(U32)
        name: bytes | None = wf(Ptr(Bytes("name_size")))
        opened: int = wf(U8)

    @_DC
    class PortEventMsg(Message):
        event: int = wf(U8)

    @_DC
    class PortEventC(Message):
        event: int = wf(U8)

    prefix = ChannelType(channel).name.title()
    for cls, num, server, name in (
        (PortInit, 201, True, "Init"),
        (PortEventMsg, 202, True, "Event"),
        (PortEventC, 201, False, "EventC"),
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
