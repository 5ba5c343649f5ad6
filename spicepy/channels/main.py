"""Main channel: session id, channel list, mouse mode, multimedia time, agent.

Theory of operation: after the link the server sends INIT; the machine reports it
(``MainInitReceived``, whose ``session_id`` is the connection_id of every other
channel), optionally sends AGENT_START, and sends ATTACH_CHANNELS, to which the
server answers CHANNELS_LIST (``ChannelsListReceived``).
"""

from __future__ import annotations

from typing import Any

from spicepy.channels.base import Channel
from spicepy.channels.events import (
    AgentConnected,
    AgentDataReceived,
    AgentDisconnected,
    AgentTokensReceived,
    ChannelsListReceived,
    MainInitReceived,
    MessageReceived,
    MigrateRequested,
    MouseModeChanged,
    MultiMediaTimeReceived,
)
from spicepy.wire.enums import ChannelType, MainCap
from spicepy.wire.msg_common import (
    MainAgentConnected,
    MainAgentConnectedTokens,
    MainAgentData,
    MainAgentDataC,
    MainAgentDisconnected,
    MainAgentStart,
    MainAgentToken,
    MainAttachChannels,
    MainChannelsList,
    MainInit,
    MainMigrateBegin,
    MainMigrateBeginSeamless,
    MainMigrateCancel,
    MainMigrateEnd,
    MainMigrateSwitchHost,
    MainMouseMode,
    MainMouseModeRequest,
    MainMultiMediaTime,
)

__all__ = ["MainChannel"]

#: spice-gtk grants the agent this many tokens and never refills.
AGENT_TOKENS = 0xFFFFFFFF
_MIGRATE = (
    MainMigrateBegin,
    MainMigrateBeginSeamless,
    MainMigrateCancel,
    MainMigrateEnd,
    MainMigrateSwitchHost,
)


class MainChannel(Channel):
    """Args: as ``Channel``, plus ``agent``: send AGENT_START when an agent is
    connected (spicepy does not speak the agent protocol itself, so off by default).
    """

    CHANNEL_TYPE = ChannelType.MAIN
    # NAME and UUID are parsed (MessageReceived); migration is not supported
    DEFAULT_CAPS = frozenset({MainCap.NAME_AND_UUID, MainCap.AGENT_CONNECTED_TOKENS})

    def __init__(self, channel_id: int = 0, *, agent: bool = False, **kw: Any) -> None:
        super().__init__(channel_id, **kw)
        self.agent = agent
        self.session_id: int | None = None
        self.agent_connected = False
        self.agent_tokens = 0
        self.channels: tuple[tuple[int, int], ...] = ()
        self.mouse_mode = 0
        self.supported_mouse_modes = 0
        self.multi_media_time = 0

    def send_mouse_mode_request(self, mode: int) -> None:
        """Ask for MouseMode.SERVER (1) or CLIENT (2)."""
        self.send_message(MainMouseModeRequest(mode))

    def send_attach_channels(self) -> None:
        self.send_message(MainAttachChannels())

    def send_agent_data(self, data: bytes) -> None:
        """One AGENT_DATA chunk (<= 2048 bytes); costs one agent token."""
        if len(data) > 2048:
            raise ValueError("AGENT_DATA chunks are at most 2048 bytes")
        self.send_message(MainAgentDataC(data))
        self.agent_tokens = max(0, self.agent_tokens - 1)

    def _handle(self, msg: Any, serial: int) -> None:
        if isinstance(msg, MainInit):
            self.session_id = msg.session_id
            self.agent_connected = bool(msg.agent_connected)
            self.agent_tokens = msg.agent_tokens
            self.mouse_mode = msg.current_mouse_mode
            self.supported_mouse_modes = msg.supported_mouse_modes
            self.multi_media_time = msg.multi_media_time
            self._emit(
                MainInitReceived(
                    msg.session_id,
                    msg.display_channels_hint,
                    msg.supported_mouse_modes,
                    msg.current_mouse_mode,
                    bool(msg.agent_connected),
                    msg.agent_tokens,
                    msg.multi_media_time,
                    msg.ram_hint,
                )
            )
            if self.agent and self.agent_connected:
                self.send_message(MainAgentStart(AGENT_TOKENS))
            self.send_attach_channels()
        elif isinstance(msg, MainChannelsList):
            self.channels = tuple((c.type, c.id) for c in msg.channels)
            self._emit(ChannelsListReceived(self.channels))
        elif isinstance(msg, MainMouseMode):
            self.mouse_mode, self.supported_mouse_modes = (
                msg.current_mode,
                msg.supported_modes,
            )
            self._emit(MouseModeChanged(msg.supported_modes, msg.current_mode))
        elif isinstance(msg, MainMultiMediaTime):
            self.multi_media_time = msg.time
            self._emit(MultiMediaTimeReceived(msg.time))
        elif isinstance(msg, MainAgentConnected | MainAgentConnectedTokens):
            self.agent_connected = True
            tokens = getattr(msg, "num_tokens", None)
            if tokens is not None:
                self.agent_tokens = tokens
            self._emit(AgentConnected(tokens))
            if self.agent:  # re-send AGENT_START after every AGENT_CONNECTED
                self.send_message(MainAgentStart(AGENT_TOKENS))
        elif isinstance(msg, MainAgentDisconnected):
            self.agent_connected = False
            self._emit(AgentDisconnected(msg.error_code))
        elif isinstance(msg, MainAgentData):
            self._emit(AgentDataReceived(bytes(msg.data)))
        elif isinstance(msg, MainAgentToken):
            self.agent_tokens += msg.num_tokens
            self._emit(AgentTokensReceived(msg.num_tokens))
        elif isinstance(msg, _MIGRATE):
            self._emit(MigrateRequested(msg))
        else:
            self._emit(MessageReceived(self.CHANNEL_TYPE, msg.MSG_TYPE, serial, msg))
