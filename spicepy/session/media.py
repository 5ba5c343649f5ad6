"""The session's pointer, guest agent and audio: ``Session.cursor``,
``Session.agent`` and ``Session.audio``.

Theory of operation: each of the three classes registers handlers on the
session's ``SessionCore`` (``core.on_event``) for the events of its channel
machine (cursor: ``spicepy.channels.events``; agent: ``spicepy.channels.agent``;
playback: ``spicepy.channels.playback``) and keeps the state an application
reads.  They run inside the connection's pump with the loop's clock, like the
core's own handlers.  The agent answers the guest's clipboard requests itself
(from what ``set_clipboard`` offered) through the main connection; everything
an application awaits goes through ``Session.wait_for``, so it ends early when
the main or display channel dies and always has a timeout.
"""

from __future__ import annotations

import collections
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from spicepy.audio import (
    OPUS_FREQUENCY,
    AudioFrame,
    OpusDecoder,
    WavWriter,
)
from spicepy.canvas.cursor import CursorImage, composite_cursor, decode_cursor
from spicepy.channels.agent import (
    AgentCapabilitiesReceived,
    AgentReplyReceived,
    ClipboardGrabbed,
    ClipboardReceived,
    ClipboardReleased,
    ClipboardRequested,
    FileTransferStatusReceived,
    Monitor,
)
from spicepy.channels.events import (
    AgentConnected,
    AgentDisconnected,
    AgentStreamFailed,
    CursorChanged,
    CursorHidden,
    CursorMoved,
    CursorReset,
    CursorShape,
)
from spicepy.channels.playback import (
    AudioData,
    AudioLatencySet,
    AudioMuteSet,
    AudioStarted,
    AudioStopped,
    AudioVolumeSet,
)
from spicepy.errors import ProtocolError, SessionError, SpiceError
from spicepy.wire.enums import (
    AgentCap,
    AudioDataMode,
    ChannelType,
    ClipboardSelection,
    ClipboardType,
    FileXferStatus,
    MouseMode,
)

if TYPE_CHECKING:
    from spicepy.session.session import Session

__all__ = ["AgentControl", "AudioPlayback", "CursorTracker", "PlaybackDecoder"]

log = logging.getLogger(__name__)

#: decoded shapes kept by unique id (the server caches at most 256); their
#: bytes are bounded by ``Limits.cursor_cache`` too
MAX_DECODED_CURSORS = 256
#: agent replies and finished file transfers remembered (oldest forgotten)
MAX_AGENT_RECORDS = 1024
#: decoded audio frames kept for ``take_frames`` / ``frames`` (10 ms each: 60 s)
MAX_AUDIO_FRAMES = 6000


class CursorTracker:
    """The pointer as the cursor channel describes it: ``image`` (decoded,
    None before a shape or after RESET), ``x``/``y`` of its hot spot, ``visible``."""

    def __init__(self, session: Session) -> None:
        self.x = self.y = 0
        self.visible = False
        self.image: CursorImage | None = None
        self.shape: CursorShape | None = None
        self.decode_errors = 0
        self._session = session
        self._decoded: collections.OrderedDict[int, CursorImage] = (
            collections.OrderedDict()
        )
        #: bytes of the decoded shapes kept
        self.decoded_bytes = 0
        core = session.core
        core.on_event(CursorChanged, self._changed)
        core.on_event(CursorMoved, self._moved)
        core.on_event(CursorHidden, self._hidden)
        core.on_event(CursorReset, self._reset)

    def _changed(self, key: Any, event: CursorChanged, now: float) -> None:
        self.x, self.y, self.visible = event.x, event.y, event.visible
        self.shape = event.shape
        self.image = None if event.shape is None else self._decode(event.shape)

    def _decode(self, shape: CursorShape) -> CursorImage | None:
        image = self._decoded.get(shape.unique)
        if image is not None and shape.unique:
            self._decoded.move_to_end(shape.unique)
            return image
        try:
            image = decode_cursor(
                shape.type,
                shape.width,
                shape.height,
                shape.hot_x,
                shape.hot_y,
                shape.data,
            )
        except SpiceError as exc:  # a bad shape leaves the pointer without image
            self.decode_errors += 1
            log.warning("cursor shape %#x not decoded: %s", shape.unique, exc)
            return None
        if shape.unique:
            self._forget(shape.unique)
            self._decoded[shape.unique] = image
            self.decoded_bytes += _image_bytes(image)
            budget = self._session.core.limits.cursor_cache
            while self._decoded and (
                len(self._decoded) > MAX_DECODED_CURSORS or self.decoded_bytes > budget
            ):
                _, old = self._decoded.popitem(last=False)
                self.decoded_bytes -= _image_bytes(old)
        return image

    def _forget(self, unique: int) -> None:
        old = self._decoded.pop(unique, None)
        if old is not None:
            self.decoded_bytes -= _image_bytes(old)

    def _moved(self, key: Any, event: CursorMoved, now: float) -> None:
        self.x, self.y = event.x, event.y

    def _hidden(self, key: Any, event: CursorHidden, now: float) -> None:
        self.visible = False

    def _reset(self, key: Any, event: CursorReset, now: float) -> None:
        self.visible, self.image, self.shape = False, None, None
        self._decoded.clear()
        self.decoded_bytes = 0

    @property
    def position(self) -> tuple[int, int]:
        return self.x, self.y

    def local_move(self, x: int, y: int) -> None:
        """The session moved the pointer: in client mouse mode the client owns
        it and the server reports no moves (spice-gtk draws its local pointer),
        so the drawn position follows the session's own moves."""
        if self._session.core.mouse_mode == MouseMode.CLIENT:
            self.x, self.y = x, y

    def composite(self, rgb: npt.NDArray[np.uint8]) -> None:
        """Draw the pointer where it is onto an (h, w, 3) RGB screenshot."""
        if self.visible and self.image is not None:
            composite_cursor(rgb, self.image, self.x, self.y)


def _image_bytes(image: CursorImage) -> int:
    return int(image.rgba.nbytes) + (0 if image.xor is None else int(image.xor.nbytes))


@dataclass(frozen=True, slots=True)
class FileTransferResult:
    id: int
    status: int  # FileXferStatus
    data: bytes


class AgentControl:
    """The guest agent: clipboard both ways, monitor layout, file transfer.

    Every method needs the agent (``await agent.wait_ready()`` first): the
    guest runs spice-vdagent and the session linked after it announced itself.
    """

    def __init__(self, session: Session) -> None:
        self._session = session
        self.connected = False
        self.caps: frozenset[int] | None = None
        #: selection -> the types the guest offers (its last GRAB)
        self.guest_offers: dict[int, tuple[int, ...]] = {}
        #: (selection, type) -> data the guest sent (the newest within
        #: ``Limits.agent`` bytes; older entries are forgotten first)
        self.guest_data: dict[tuple[int, int], bytes] = {}
        #: selection -> {type: data} we offered with set_clipboard
        self.our_offers: dict[int, dict[int, bytes]] = {}
        self.replies: collections.deque[tuple[int, int]] = collections.deque(
            maxlen=MAX_AGENT_RECORDS
        )
        self.transfers: dict[int, FileTransferResult] = {}
        #: clipboard entries forgotten to stay within ``Limits.agent``
        self.forgotten = 0
        #: counts changes of ``guest_offers`` (a grab, a release, the agent gone)
        self.clipboard_changes = 0
        self._clipboard_callbacks: list[Callable[[int, tuple[int, ...]], None]] = []
        core = session.core
        core.on_event(AgentConnected, self._connected)
        core.on_event(AgentDisconnected, self._disconnected)
        core.on_event(AgentStreamFailed, self._stream_failed)
        core.on_event(AgentCapabilitiesReceived, self._caps)
        core.on_event(ClipboardGrabbed, self._grabbed)
        core.on_event(ClipboardReceived, self._received)
        core.on_event(ClipboardRequested, self._requested)
        core.on_event(ClipboardReleased, self._released)
        core.on_event(AgentReplyReceived, self._reply)
        core.on_event(FileTransferStatusReceived, self._file_status)

    # -- handlers ---------------------------------------------------------------
    def _connected(self, key: Any, event: AgentConnected, now: float) -> None:
        self.connected = True

    def _disconnected(self, key: Any, event: AgentDisconnected, now: float) -> None:
        self.connected, self.caps = False, None
        self._offers_gone()

    def _stream_failed(self, key: Any, event: AgentStreamFailed, now: float) -> None:
        log.warning("guest agent dropped until it reconnects: %s", event.reason)
        self.connected, self.caps = False, None
        self._offers_gone()

    def _offers_gone(self) -> None:
        for selection in list(self.guest_offers):
            self._offer_changed(selection, None)

    def _offer_changed(self, selection: int, types: tuple[int, ...] | None) -> None:
        """The guest offers ``types`` on ``selection`` now (None: nothing)."""
        if types is None:
            self.guest_offers.pop(selection, None)
        else:
            self.guest_offers[selection] = types
        self.clipboard_changes += 1
        for callback in list(self._clipboard_callbacks):
            callback(selection, types or ())

    def _caps(self, key: Any, event: AgentCapabilitiesReceived, now: float) -> None:
        self.connected, self.caps = True, event.caps

    def _grabbed(self, key: Any, event: ClipboardGrabbed, now: float) -> None:
        self.our_offers.pop(event.selection, None)  # the guest owns it now
        for k in [k for k in self.guest_data if k[0] == event.selection]:
            del self.guest_data[k]
        self._offer_changed(event.selection, event.types)

    def _received(self, key: Any, event: ClipboardReceived, now: float) -> None:
        data = self.guest_data
        data.pop((event.selection, event.type), None)
        data[(event.selection, event.type)] = event.data
        budget = self._session.core.limits.agent
        kept = sum(len(v) for v in data.values())  # <= MAX_AGENT_RECORDS entries
        while len(data) > 1 and (kept > budget or len(data) > MAX_AGENT_RECORDS):
            oldest = next(iter(data))
            kept -= len(data.pop(oldest))
            if not self.forgotten:
                log.warning("guest clipboard data over %d bytes: forgetting", budget)
            self.forgotten += 1

    def _requested(self, key: Any, event: ClipboardRequested, now: float) -> None:
        # spice-gtk answers from the client's clipboard; an offer we no longer
        # hold is answered empty so the guest's paste does not hang
        data = self.our_offers.get(event.selection, {}).get(event.type, b"")
        self._call("send_clipboard", event.type, data, event.selection)

    def _released(self, key: Any, event: ClipboardReleased, now: float) -> None:
        if event.selection in self.guest_offers:
            self._offer_changed(event.selection, None)

    def _reply(self, key: Any, event: AgentReplyReceived, now: float) -> None:
        self.replies.append((event.type, event.error))

    def _file_status(
        self, key: Any, event: FileTransferStatusReceived, now: float
    ) -> None:
        if event.done:
            self.transfers[event.id] = FileTransferResult(
                event.id, event.result, event.data
            )
            while len(self.transfers) > MAX_AGENT_RECORDS:
                del self.transfers[next(iter(self.transfers))]

    # -- plumbing ---------------------------------------------------------------
    def _call(self, method: str, *args: object) -> Any:
        conn = self._session.connections.get((ChannelType.MAIN, 0))
        if conn is None:
            raise SessionError("no main channel")
        machine = getattr(conn.machine, "agent_machine", None)
        if machine is None:
            raise SessionError("the main channel was linked without agent support")
        return conn.call(getattr(machine, method), *args)

    def on_clipboard(
        self, callback: Callable[[int, tuple[int, ...]], None]
    ) -> Callable[[], None]:
        """Call ``callback(selection, types)`` whenever the guest's clipboard
        offer changes: a new grab (its ``ClipboardType`` values; fetch with
        ``get_clipboard``), or ``()`` when it is released or the agent goes.
        Runs inside the pump: keep it short, do not await (schedule a task).
        Returns the remover.  ``clipboard_changes`` counts the same changes
        for an app that polls."""
        self._clipboard_callbacks.append(callback)

        def remove() -> None:
            if callback in self._clipboard_callbacks:
                self._clipboard_callbacks.remove(callback)

        return remove

    async def wait_ready(self, timeout: float = 10.0) -> None:
        """Wait until the guest agent announced its capabilities."""
        await self._session.wait_for(
            lambda: self.caps is not None, timeout, "the guest agent"
        )

    def has_cap(self, cap: int) -> bool:
        return self.caps is not None and cap in self.caps

    # -- clipboard ---------------------------------------------------------------
    async def set_clipboard(
        self,
        data: bytes | str,
        type: int = ClipboardType.UTF8_TEXT,
        selection: int = ClipboardSelection.CLIPBOARD,
    ) -> None:
        """Offer ``data`` to the guest as its clipboard (``str``: UTF-8 text;
        PNG bytes with ``type=ClipboardType.IMAGE_PNG``)."""
        if isinstance(data, str):
            data = data.encode("utf-8")
        self.our_offers[selection] = {type: bytes(data)}
        self._call("grab_clipboard", [type], selection)

    async def get_clipboard(
        self,
        type: int = ClipboardType.UTF8_TEXT,
        selection: int = ClipboardSelection.CLIPBOARD,
        timeout: float = 10.0,
    ) -> bytes:
        """The guest's clipboard as ``type``: waits for the guest to announce a
        clipboard offering ``type`` (its GRAB), asks for it, waits for the data.

        spice-vdagent announces ownership changes only while a client is
        connected: a clipboard set in the guest before this session linked is
        not offered until it is set again.

        Raises:
            SessionError: the guest answered that it has no such data.
            SpiceTimeoutError: no offer or no answer in time.
        """
        deadline = time.monotonic() + timeout
        await self._session.wait_for(
            lambda: type in self.guest_offers.get(selection, ()),
            timeout,
            f"a guest clipboard grab offering type {type}",
        )
        none = (selection, int(ClipboardType.NONE))
        self.guest_data.pop((selection, type), None)
        self.guest_data.pop(none, None)
        self._call("request_clipboard", type, selection)
        await self._session.wait_for(
            lambda: (selection, type) in self.guest_data or none in self.guest_data,
            max(0.0, deadline - time.monotonic()),
            "the guest's clipboard data",
        )
        if (selection, type) not in self.guest_data:
            raise SessionError(f"the guest has no clipboard data of type {type}")
        return self.guest_data[(selection, type)]

    async def get_clipboard_text(
        self, selection: int = ClipboardSelection.CLIPBOARD, timeout: float = 10.0
    ) -> str:
        data = await self.get_clipboard(ClipboardType.UTF8_TEXT, selection, timeout)
        return data.decode("utf-8", "replace").rstrip("\0")

    async def release_clipboard(
        self, selection: int = ClipboardSelection.CLIPBOARD
    ) -> None:
        self.our_offers.pop(selection, None)
        self._call("release_clipboard", selection)

    # -- display -----------------------------------------------------------------
    async def resize(self, width: int, height: int, timeout: float = 15.0) -> None:
        """Ask the guest for one monitor of ``width`` x ``height`` and wait until
        the primary surface has that size."""
        self._call("set_monitors", [Monitor(width, height)])

        def resized() -> bool:
            driver = self._session.core.drivers.get(0)
            pixels = None if driver is None else driver.primary_pixels()
            return pixels is not None and pixels.shape[:2] == (height, width)

        await self._session.wait_for(resized, timeout, f"a {width}x{height} surface")

    async def set_monitors(self, monitors: list[Monitor]) -> None:
        self._call("set_monitors", monitors)

    async def set_display_config(self, flags: int = 0, depth: int = 0) -> None:
        self._call("set_display_config", flags, depth)

    # -- files ---------------------------------------------------------------------
    async def send_file(self, name: str, data: bytes, timeout: float = 60.0) -> None:
        """Copy ``data`` to the guest as ``name`` (spice-vdagent saves it in the
        user's download folder) and wait for the agent's final status.

        Raises:
            SessionError: the agent refused or failed (its status in the message).
        """
        if self.has_cap(AgentCap.FILE_XFER_DISABLED):
            raise SessionError("the guest agent disabled file transfer")
        xfer_id = self._call("send_file", name, data)
        await self._session.wait_for(
            lambda: xfer_id in self.transfers, timeout, f"transfer of {name}"
        )
        result = self.transfers.pop(xfer_id)
        if result.status != FileXferStatus.SUCCESS:
            try:
                status = FileXferStatus(result.status).name
            except ValueError:
                status = str(result.status)
            raise SessionError(f"file transfer of {name} ended with {status}")


class PlaybackDecoder:
    """Follows playback events (``spicepy.channels.playback``) and decodes DATA.

    ``handle(event)`` returns an ``AudioFrame`` for AudioData, None otherwise.
    """

    def __init__(self) -> None:
        self.channels = 2
        self.frequency = OPUS_FREQUENCY
        self._opus: OpusDecoder | None = None

    def handle(self, event: object) -> AudioFrame | None:
        if isinstance(event, AudioStarted):
            self.channels, self.frequency = event.channels, event.frequency
            self._opus = None  # a new stream: a new decoder state
            return None
        if not isinstance(event, AudioData):
            return None
        if event.mode == AudioDataMode.RAW:
            if len(event.data) % (2 * self.channels):
                raise ProtocolError(
                    f"raw audio packet of {len(event.data)} bytes is not whole "
                    f"{self.channels}-channel S16 frames"
                )
            samples = np.frombuffer(event.data, "<i2").reshape(-1, self.channels)
            return AudioFrame(event.time, self.frequency, samples.astype(np.int16))
        if event.mode == AudioDataMode.OPUS:
            if self._opus is None:
                self._opus = OpusDecoder(self.channels, OPUS_FREQUENCY)
            return AudioFrame(event.time, OPUS_FREQUENCY, self._opus.decode(event.data))
        raise ProtocolError(f"audio data mode {event.mode} is not supported")


class AudioPlayback:
    """The playback channel's audio as timed int16 frames (``spicepy.audio``).

    Packets are decoded when the audio is read (``take_frames``, ``frames``,
    the counters), while a WAV records, or once ``MAX_AUDIO_FRAMES`` wait: a
    session nobody listens to does not spend its display time on Opus.  They
    are decoded in arrival order by the same decoder, so the frames are the
    ones eager decoding gives.
    """

    def __init__(self, session: Session) -> None:
        self._session = session
        self._decoder = PlaybackDecoder()
        self._frames: collections.deque[AudioFrame] = collections.deque(
            maxlen=MAX_AUDIO_FRAMES
        )
        #: stream events not decoded yet (bounded by MAX_AUDIO_FRAMES)
        self._pending: collections.deque[object] = collections.deque()
        self._frames_received = 0
        self._decode_errors = 0
        self.started = False
        self.volume: tuple[int, ...] = ()
        self.mute = False
        self.latency_ms = 0
        self._sinks: list[_WavSink] = []
        #: fired per stream event: ``frames()`` waits for nothing else
        self._arrived = session._wakeup_for()
        core = session.core
        for cls in (AudioStarted, AudioData, AudioStopped):
            core.on_event(cls, self._stream)
        core.on_event(AudioVolumeSet, self._settings)
        core.on_event(AudioMuteSet, self._settings)
        core.on_event(AudioLatencySet, self._settings)

    @property
    def frames_received(self) -> int:
        self._drain()
        return self._frames_received

    @property
    def decode_errors(self) -> int:
        self._drain()
        return self._decode_errors

    def _stream(self, key: Any, event: object, now: float) -> None:
        if isinstance(event, AudioStarted):
            self.started = True
        elif isinstance(event, AudioStopped):
            self.started = False
        self._pending.append(event)
        if self._sinks or len(self._pending) >= MAX_AUDIO_FRAMES:
            self._drain()
        self._arrived.fire()

    def _drain(self) -> None:
        """Decode the waiting events, oldest first."""
        while self._pending:
            event = self._pending.popleft()
            try:
                frame = self._decoder.handle(event)
            except SpiceError as exc:  # one bad packet: count it, keep playing
                self._decode_errors += 1
                log.warning("audio packet not decoded: %s", exc)
                continue
            if frame is None:
                continue
            self._frames_received += 1
            self._frames.append(frame)
            for sink in self._sinks:
                sink.write(frame)

    def _ready(self) -> bool:
        self._drain()
        return bool(self._frames)

    def _settings(self, key: Any, event: object, now: float) -> None:
        if isinstance(event, AudioVolumeSet):
            self.volume = event.volume
        elif isinstance(event, AudioMuteSet):
            self.mute = event.mute
        elif isinstance(event, AudioLatencySet):
            self.latency_ms = event.latency_ms

    def take_frames(self) -> list[AudioFrame]:
        """The frames decoded since the last call (the newest 60 s at most)."""
        self._drain()
        out = list(self._frames)
        self._frames.clear()
        return out

    async def frames(self) -> AsyncIterator[AudioFrame]:
        """Decoded frames as they arrive, until the session ends."""
        while True:
            while self._ready():
                yield self._frames.popleft()
            await self._session._wait(self._ready, None, "audio", wakeup=self._arrived)

    async def record_wav(self, path: str | Path, seconds: float) -> int:
        """Write the audio arriving during ``seconds`` to a 16-bit WAV file with
        the stream's channels and rate (2 x 48 kHz when nothing arrived);
        returns the sample frames written."""
        import asyncio

        sink = _WavSink(path)
        self._drain()  # what arrived before the recording stays out of it
        self._sinks.append(sink)
        try:
            await asyncio.sleep(seconds)
        finally:
            self._sinks.remove(sink)
            sink.close()
        return sink.frames_written


class _WavSink:
    """A WAV file opened at the first frame, with that frame's format (frames
    of another format, after a new START, are left out)."""

    def __init__(self, path: str | Path) -> None:
        self.path = path
        self.writer: WavWriter | None = None
        self.frequency = 0

    @property
    def frames_written(self) -> int:
        return 0 if self.writer is None else self.writer.frames_written

    def write(self, frame: AudioFrame) -> None:
        if self.writer is None:
            self.writer = WavWriter(self.path, frame.samples.shape[1], frame.frequency)
            self.frequency = frame.frequency
        if (
            frame.samples.shape[1] == self.writer.channels
            and frame.frequency == self.frequency
        ):
            self.writer.write(frame.samples)

    def close(self) -> None:
        if self.writer is None:
            self.writer = WavWriter(self.path, 2, 48000)
        self.writer.close()
