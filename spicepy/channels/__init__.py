"""spicepy.channels: sans-IO SPICE channel state machines.

How to drive a channel (the session layer does this for every TCP connection)::

    ch = DisplayChannel(channel_id, connection_id=session_id, password=pw)
    sock.sendall(ch.data_to_send())          # the link message, queued at construction
    while True:
        data = sock.recv(65536)
        ch.receive_data(data)                # b"" = EOF; raises LinkError/ProtocolError
        while (event := ch.next_event()) is not None:
            handle(event)                    # LinkCompleted, MessageReceived, ...
        sock.sendall(ch.data_to_send())      # ACK_SYNC, ACKs, PONGs, INIT, commands
        # arm ch.get_timer() and call ch.handle_timer(now) when it expires

Commands (``send_key_down``, ``send_mouse_position``, ``send_stream_report``...) only
queue bytes: flush ``data_to_send()`` after calling them.  Main first: link with
connection_id 0, read ``MainInitReceived.session_id``, then link the channels of
``ChannelsListReceived`` with that connection_id.  A link refusal raises
``LinkError`` (``AuthenticationError`` for a refused password, ``NeedSecuredError``
when the channel must be relinked over TLS); any error leaves the channel in
``ChannelState.ERROR``.
"""

from spicepy.channels._state import ChannelState
from spicepy.channels.agent import (
    AgentCapabilitiesReceived,
    AgentMessageReceived,
    AgentReplyReceived,
    ClipboardGrabbed,
    ClipboardReceived,
    ClipboardReleased,
    ClipboardRequested,
    FileTransferStatusReceived,
)
from spicepy.channels.base import Channel
from spicepy.channels.cursor import CursorChannel
from spicepy.channels.display import DEFAULT_DISPLAY_CAPS, DisplayChannel
from spicepy.channels.events import (
    AckWindowSet,
    AgentConnected,
    AgentDataReceived,
    AgentDisconnected,
    AgentStreamFailed,
    AgentTokensReceived,
    ChannelClosed,
    ChannelEvent,
    ChannelMigrateReceived,
    ChannelsListReceived,
    CursorCacheInvalidated,
    CursorChanged,
    CursorHidden,
    CursorMoved,
    CursorReset,
    CursorTrailSet,
    DisconnectingReceived,
    InputsInitReceived,
    KeyModifiersChanged,
    LinkCompleted,
    MainInitReceived,
    MessageReceived,
    MigrationCancelled,
    MigrationEndReceived,
    MigrationStarted,
    MotionAcked,
    MouseModeChanged,
    MultiMediaTimeReceived,
    NotifyReceived,
    PingAnswered,
    SeamlessHandshakeDone,
    SwitchHostReceived,
    UnknownMessageSkipped,
    WaitForChannelsReceived,
)
from spicepy.channels.inputs import InputsChannel, make_scancode
from spicepy.channels.link import LinkHandshake, NeedSecuredError, NeedUnsecuredError
from spicepy.channels.main import MainChannel
from spicepy.channels.playback import (
    AudioData,
    AudioLatencySet,
    AudioModeSet,
    AudioMuteSet,
    AudioStarted,
    AudioStopped,
    AudioVolumeSet,
    PlaybackChannel,
)
from spicepy.channels.port import (
    PortChannel,
    PortDataReceived,
    PortEventReceived,
    PortInitReceived,
)
from spicepy.channels.record import (
    RecordChannel,
    RecordMuteSet,
    RecordStarted,
    RecordStopped,
    RecordVolumeSet,
)
from spicepy.channels.spicevmc import UsbredirChannel, UsbredirFailed, VmcDataReceived

#: channel class per ChannelType value
CHANNEL_CLASSES: dict[int, type[Channel]] = {
    c.CHANNEL_TYPE: c
    for c in (
        MainChannel,
        DisplayChannel,
        InputsChannel,
        CursorChannel,
        PlaybackChannel,
        RecordChannel,
        UsbredirChannel,
        PortChannel,
    )
}

__all__ = [
    "CHANNEL_CLASSES",
    "DEFAULT_DISPLAY_CAPS",
    "Channel",
    "ChannelState",
    "CursorChannel",
    "DisplayChannel",
    "InputsChannel",
    "LinkHandshake",
    "MainChannel",
    "NeedSecuredError",
    "NeedUnsecuredError",
    "PlaybackChannel",
    "PortChannel",
    "RecordChannel",
    "UsbredirChannel",
    "make_scancode",
    # every event a channel machine emits (what ``Session.events()`` yields),
    # each defined once in its module; the usbredir protocol's own events stay
    # in ``channels.usbredir``, whose connection ``session.usb`` drives
    "AckWindowSet",
    "AgentConnected",
    "AgentDataReceived",
    "AgentDisconnected",
    "AgentStreamFailed",
    "AgentTokensReceived",
    "ChannelClosed",
    "ChannelEvent",
    "ChannelMigrateReceived",
    "ChannelsListReceived",
    "CursorCacheInvalidated",
    "CursorChanged",
    "CursorHidden",
    "CursorMoved",
    "CursorReset",
    "CursorTrailSet",
    "DisconnectingReceived",
    "InputsInitReceived",
    "KeyModifiersChanged",
    "LinkCompleted",
    "MainInitReceived",
    "MessageReceived",
    "MigrationCancelled",
    "MigrationEndReceived",
    "MigrationStarted",
    "MotionAcked",
    "MouseModeChanged",
    "MultiMediaTimeReceived",
    "NotifyReceived",
    "PingAnswered",
    "SeamlessHandshakeDone",
    "SwitchHostReceived",
    "UnknownMessageSkipped",
    "WaitForChannelsReceived",
    "AgentCapabilitiesReceived",
    "AgentMessageReceived",
    "AgentReplyReceived",
    "AudioData",
    "AudioLatencySet",
    "AudioModeSet",
    "AudioMuteSet",
    "AudioStarted",
    "AudioStopped",
    "AudioVolumeSet",
    "ClipboardGrabbed",
    "ClipboardReceived",
    "ClipboardReleased",
    "ClipboardRequested",
    "FileTransferStatusReceived",
    "PortDataReceived",
    "PortEventReceived",
    "PortInitReceived",
    "RecordMuteSet",
    "RecordStarted",
    "RecordStopped",
    "RecordVolumeSet",
    "UsbredirFailed",
    "VmcDataReceived",
]
