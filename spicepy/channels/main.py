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
Without ``agent`` AGENT_DATA is passed on raw (``AgentDataReceived``).  Agent
data that does not parse (the guest's fault) gives ``AgentStreamFailed`` and
drops the agent stream until the next AGENT_CONNECTED; the channel goes on.

Live migration (``channels._migration`` has the states and their table): on the
source, MIGRATE_BEGIN[_SEAMLESS] becomes ``MigrationStarted`` and the caller
answers with ``send_migrate_connected(seamless)`` or
``send_migrate_connect_error()``; MIGRATE_CANCEL, MIGRATE_END and
MIGRATE_SWITCH_HOST become ``MigrationCancelled``, ``MigrationEndReceived``
(after which this machine reads nothing more) and ``SwitchHostReceived``.  A
``migration_target`` main channel never sends ATTACH_CHANNELS (the target
links the channels the client brings), sends MIGRATE_DST_DO_SEAMLESS on
``send_migrate_dst_do_seamless`` (-> ``SeamlessHandshakeDone``) and MIGRATE_END
on ``send_migrate_end`` (semi-seamless switch; the target then sends INIT).
"""

from __future__ import annotations

from typing import Any

from spicepy.channels._migration import (
    MigrationState,
    MigrationStep,
    next_migration_state,
    target_from,
)
from spicepy.channels._state import ChannelState
from spicepy.channels.agent import AgentMachine
from spicepy.channels.base import Channel
from spicepy.channels.events import (
    AgentConnected,
    AgentDataReceived,
    AgentDisconnected,
    AgentStreamFailed,
    AgentTokensReceived,
    ChannelsListReceived,
    MainInitReceived,
    MessageReceived,
    MigrationCancelled,
    MigrationEndReceived,
    MigrationStarted,
    MouseModeChanged,
    MultiMediaTimeReceived,
    SeamlessHandshakeDone,
    SwitchHostReceived,
)
from spicepy.errors import SpiceError
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
    MainMigrateConnected,
    MainMigrateConnectedSeamless,
    MainMigrateConnectError,
    MainMigrateDstDoSeamless,
    MainMigrateDstSeamlessAck,
    MainMigrateDstSeamlessNack,
    MainMigrateEnd,
    MainMigrateEndC,
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
    MainMigrateDstSeamlessAck,
    MainMigrateDstSeamlessNack,
)


class MainChannel(Channel):
    """Args: as ``Channel``, plus ``agent``: speak the VD-agent protocol (send
    AGENT_START when an agent is connected; see the module docstring), and
    ``migration_target``: the main channel of a migration's target connections.
    """

    CHANNEL_TYPE = ChannelType.MAIN
    # NAME and UUID are parsed (MessageReceived); both migration kinds are
    # followed when the caller acts on the migration events (the session does)
    DEFAULT_CAPS = frozenset(
        {
            MainCap.NAME_AND_UUID,
            MainCap.AGENT_CONNECTED_TOKENS,
            MainCap.SEMI_SEAMLESS_MIGRATE,
            MainCap.SEAMLESS_MIGRATE,
        }
    )

    def __init__(
        self,
        channel_id: int = 0,
        *,
        agent: bool = False,
        migration_target: bool = False,
        **kw: Any,
    ) -> None:
        super().__init__(channel_id, **kw)
        self.agent = agent
        self.migration_target = migration_target
        self.migration_state = MigrationState.NONE
        self.session_id: int | None = None
        self.agent_connected = False
        self.agent_tokens = 0
        self.channels: tuple[tuple[int, int], ...] = ()
        self.mouse_mode = 0
        self.supported_mouse_modes = 0
        self.multi_media_time = 0
        self.agent_machine: AgentMachine | None = AgentMachine() if agent else None
        #: the agent's data did not parse: ignored until it connects again
        self._agent_failed = False

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

    # -- migration commands --------------------------------------------------------
    def _migration_step(self, step: MigrationStep) -> None:
        self.migration_state = next_migration_state(self.migration_state, step)

    def send_migrate_connected(self, seamless: bool = False) -> None:
        """Source: every channel reached the target (seamless: and its main
        channel acknowledged DO_SEAMLESS).

        Raises:
            ProtocolError: no migration is connecting (e.g. it was cancelled).
        """
        if seamless:
            self._migration_step(MigrationStep.CONNECTED_SEAMLESS)
            self.send_message(MainMigrateConnectedSeamless())
        else:
            self._migration_step(MigrationStep.CONNECTED)
            self.send_message(MainMigrateConnected())

    def send_migrate_connect_error(self) -> None:
        """Source: the target could not be reached; the session stays here."""
        self._migration_step(MigrationStep.CONNECT_ERROR)
        self.send_message(MainMigrateConnectError())

    def send_migrate_dst_do_seamless(self, src_version: int) -> None:
        """Target: ask for seamless migration (answer: ``SeamlessHandshakeDone``)."""
        if not self.migration_target:
            raise ValueError("DO_SEAMLESS goes to a migration target's main channel")
        self._migration_step(MigrationStep.DO_SEAMLESS)
        self.send_message(MainMigrateDstDoSeamless(src_version))

    def send_migrate_end(self) -> None:
        """Target: the semi-seamless switch happened; the target answers INIT."""
        if not self.migration_target:
            raise ValueError("MIGRATE_END goes to a migration target's main channel")
        self.send_message(MainMigrateEndC())

    def continue_from(self, source: Any) -> None:
        """Seamless migration: take over the source main channel's session
        state (session id, channels, mouse mode, clock, agent and its tokens)."""
        super().continue_from(source)
        for name in (
            "session_id",
            "channels",
            "mouse_mode",
            "supported_mouse_modes",
            "multi_media_time",
            "agent_connected",
            "agent_tokens",
            "agent_machine",
        ):
            setattr(self, name, getattr(source, name))

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
        self._agent_failed = False

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
            if not self.migration_target:  # the target links what we bring
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
            elif not self._agent_failed:
                try:
                    self.agent_machine.receive_chunk(msg.data)
                except SpiceError as exc:
                    # a guest's bad agent data ends its agent stream, not the
                    # session (spice-server removes such an agent, spice-gtk
                    # drops the message): nothing more until it reconnects
                    self._agent_failed = True
                    self.agent_machine.stop()
                    self._drain_agent()
                    self._emit(AgentStreamFailed(str(exc)))
                    return
                self._drain_agent()
        elif isinstance(msg, MainAgentToken):
            self.agent_tokens += msg.num_tokens
            if self.agent_machine is not None:
                self.agent_machine.add_tokens(msg.num_tokens)
            self._emit(AgentTokensReceived(msg.num_tokens))
        elif isinstance(msg, _MIGRATE):
            self._on_migration_message(msg)
        else:
            self._emit(MessageReceived(self.CHANNEL_TYPE, msg.MSG_TYPE, serial, msg))

    def _on_migration_message(self, msg: Any) -> None:
        if isinstance(msg, MainMigrateBegin | MainMigrateBeginSeamless):
            seamless = isinstance(msg, MainMigrateBeginSeamless)
            version = (
                msg.src_mig_version if isinstance(msg, MainMigrateBeginSeamless) else 0
            )
            target = target_from(msg.dst_info, seamless=seamless, version=version)
            if self.migration_state is MigrationState.CONNECTING:
                # spice-gtk refuses a second BEGIN while connecting for the first
                self.send_message(MainMigrateConnectError())
                return
            self._migration_step(MigrationStep.BEGIN)
            self._emit(MigrationStarted(target))
        elif isinstance(msg, MainMigrateCancel):
            busy = self.migration_state is not MigrationState.NONE
            self._migration_step(MigrationStep.CANCEL)
            if busy:
                self._emit(MigrationCancelled())
        elif isinstance(msg, MainMigrateEnd):
            self._migration_step(MigrationStep.END)
            self._emit(MigrationEndReceived())
            self._stop_reading()
        elif isinstance(msg, MainMigrateSwitchHost):
            target = target_from(msg)
            self._migration_step(MigrationStep.SWITCH_HOST)
            self._emit(SwitchHostReceived(target))
        else:  # DST_SEAMLESS_ACK / NACK
            self._migration_step(MigrationStep.SEAMLESS_REPLY)
            ack = isinstance(msg, MainMigrateDstSeamlessAck)
            self._emit(SeamlessHandshakeDone(ack))

    def _on_migrate(self, flags: int) -> None:
        # only a seamless migration hands the main channel over: refuse any
        # other MIGRATE before its FLUSH_MARK is queued
        next_migration_state(self.migration_state, MigrationStep.HANDED_OVER)
        super()._on_migrate(flags)

    def _hand_over(self, flags: int, data: bytes | None) -> None:
        # the main channel's own MIGRATE ends its seamless migration
        self._migration_step(MigrationStep.HANDED_OVER)
        super()._hand_over(flags, data)
