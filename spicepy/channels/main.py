"""Main channel: session id, channel list, mouse mode, multimedia time, agent.

Theory of operation: after the link the server sends INIT; the machine reports it
(``MainInitReceived``, whose ``session_id`` is the connection_id of every other
channel), optionally sends AGENT_START, and sends ATTACH_CHANNELS, to which the
server answers CHANNELS_LIST (``ChannelsListReceived``).

With ``agent=True`` the channel speaks the VD-agent protocol through an
``AgentMachine`` (``self.agent_machine``, ``spicepy.channels.agent``): AGENT_START
(spice-gtk grants ~0 tokens) goes out on INIT with agent_connected and after every
AGENT_CONNECTED[_TOKENS], which also (re)start the machine; AGENT_DATA payloads
feed it and its events (clipboard, capabilities, replies...) come out of this
channel's ``next_event``; AGENT_TOKEN refills its tokens.  Commands are called on
the machine (``main.agent_machine.grab_clipboard(...)``) and their chunks leave as
AGENT_DATA messages on the next ``data_to_send()``, as many as the tokens allow.
Without ``agent`` AGENT_DATA is passed on raw (``AgentDataReceived``).
"""

from __future__ import annotations

from typing import Any

from spicepy.channels._state import ChannelState
from spicepy.channels.agent import AgentMachine
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
from spicepy.wire.enums import VD_AGENT_MAX_DATA_SIZE, ChannelType, MainCap
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
    """Args: as ``Channel``, plus ``agent``: speak the VD-agent protocol (send
    AGENT_START when an agent is connected; see the module docstring).
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
        self.agent_machine: AgentMachine | None = AgentMachine() if agent else None

    def data_to_send(self) -> bytes:
        """Bytes queued for the server, after moving the agent chunks the tokens
        allow into AGENT_DATA messages."""
        machine = self.agent_machine
        if machine is not None and self.state is ChannelState.READY:
            for chunk in machine.take_chunks():
                self.send_message(MainAgentDataC(chunk))
            self.agent_tokens = machine.tokens
        return super().data_to_send()

    def send_mouse_mode_request(self, mode: int) -> None:
        """Ask for MouseMode.SERVER (1) or CLIENT (2)."""
        self.send_message(MainMouseModeRequest(mode))

    def send_attach_channels(self) -> None:
        self.send_message(MainAttachChannels())

    def send_agent_data(self, data: bytes) -> None:
        """One raw AGENT_DATA chunk (<= 2048 bytes); costs one agent token.

        Only without ``agent``: the machine owns the agent stream otherwise.
        """
        if self.agent_machine is not None:
            raise ValueError("the agent machine owns AGENT_DATA; use agent_machine")
        if len(data) > VD_AGENT_MAX_DATA_SIZE:
            raise ValueError("AGENT_DATA chunks are at most 2048 bytes")
        self.send_message(MainAgentDataC(data))
        self.agent_tokens = max(0, self.agent_tokens - 1)

    def _start_agent(self, tokens: int | None) -> None:
        machine = self.agent_machine
        if machine is None:
            return
        self.send_message(MainAgentStart(AGENT_TOKENS))
        machine.start(tokens)

    def _drain_agent(self) -> None:
        machine = self.agent_machine
        assert machine is not None
        while (event := machine.next_event()) is not None:
            self._emit(event)

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
            if self.agent_connected:
                self._start_agent(msg.agent_tokens)
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
            self._start_agent(tokens)  # again after every AGENT_CONNECTED
        elif isinstance(msg, MainAgentDisconnected):
            self.agent_connected = False
            if self.agent_machine is not None:
                self.agent_machine.stop()
            self._emit(AgentDisconnected(msg.error_code))
        elif isinstance(msg, MainAgentData):
            if self.agent_machine is None:
                self._emit(AgentDataReceived(bytes(msg.data)))
            else:
                self.agent_machine.receive_chunk(msg.data)
                self._drain_agent()
        elif isinstance(msg, MainAgentToken):
            self.agent_tokens += msg.num_tokens
            if self.agent_machine is not None:
                self.agent_machine.add_tokens(msg.num_tokens)
            self._emit(AgentTokensReceived(msg.num_tokens))
        elif isinstance(msg, _MIGRATE):
            self._emit(MigrateRequested(msg))
        else:
            self._emit(MessageReceived(self.CHANNEL_TYPE, msg.MSG_TYPE, serial, msg))
