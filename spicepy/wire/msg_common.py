"""BaseChannel (common) and main channel messages (spice.proto ``channel BaseChannel``,
``channel MainChannel``)."""

from __future__ import annotations

from dataclasses import dataclass

from spicepy.wire.enums import ChannelType, CommonMsg, CommonMsgc, MainMsg, MainMsgc
from spicepy.wire.registry import COMMON, Message, message
from spicepy.wire.schema import U8, U16, U32, U64, Array, Bytes, Ptr, Rest, wf
from spicepy.wire.types import ChannelId, ChannelWait, DstInfo, Payload

_DC = dataclass(frozen=True, slots=True)
M = ChannelType.MAIN


# --- common, server -> client -------------------------------------------------------
@message(COMMON, CommonMsg.MIGRATE)
@_DC
class Migrate(Message):
    flags: int = wf(U32)


@message(COMMON, CommonMsg.MIGRATE_DATA)
@_DC
class MigrateData(Message):
    data: bytes = wf(Rest())


@message(COMMON, CommonMsg.SET_ACK)
@_DC
class SetAck(Message):
    generation: int = wf(U32)
    window: int = wf(U32)


@message(COMMON, CommonMsg.PING)
@_DC
class Ping(Message):
    id: int = wf(U32)
    timestamp: int = wf(U64)
    data: bytes = wf(Rest(), default=b"")


@message(COMMON, CommonMsg.WAIT_FOR_CHANNELS)
@_DC
class WaitForChannels(Message):
    wait_count: int = wf(U8)
    wait_list: tuple[ChannelWait, ...] = wf(Array(ChannelWait, "wait_count", 10))


@message(COMMON, CommonMsg.DISCONNECTING)
@_DC
class Disconnecting(Message):
    time_stamp: int = wf(U64)
    reason: int = wf(U32)


@message(COMMON, CommonMsg.NOTIFY)
@_DC
class Notify(Message):
    time_stamp: int = wf(U64)
    severity: int = wf(U32)
    visibility: int = wf(U32)
    what: int = wf(U32)
    message_len: int = wf(U32)
    message: bytes = wf(Bytes("message_len"))

    @property
    def text(self) -> str:
        return self.message.split(b"\0", 1)[0].decode("utf-8", "replace")


@message(COMMON, CommonMsg.LIST)
@_DC
class SubMessageList(Message):
    """Body is a SpiceSubMessageList; see headers.split_sub_messages."""

    data: bytes = wf(Rest())


# --- common, client -> server -------------------------------------------------------
@message(COMMON, CommonMsgc.ACK_SYNC, from_server=False)
@_DC
class AckSync(Message):
    generation: int = wf(U32)


@message(COMMON, CommonMsgc.ACK, from_server=False)
@_DC
class Ack(Message):
    pass


@message(COMMON, CommonMsgc.PONG, from_server=False)
@_DC
class Pong(Message):
    id: int = wf(U32)
    timestamp: int = wf(U64)


@message(COMMON, CommonMsgc.MIGRATE_FLUSH_MARK, from_server=False)
@_DC
class MigrateFlushMark(Message):
    pass


@message(COMMON, CommonMsgc.MIGRATE_DATA, from_server=False)
@_DC
class MigrateDataC(Message):
    data: bytes = wf(Rest())


@message(COMMON, CommonMsgc.DISCONNECTING, from_server=False)
@_DC
class DisconnectingC(Message):
    time_stamp: int = wf(U64)
    reason: int = wf(U32)


# --- main, server -> client ---------------------------------------------------------
@message(M, MainMsg.MIGRATE_BEGIN)
@_DC
class MainMigrateBegin(Message):
    dst_info: DstInfo = wf(DstInfo)


@message(M, MainMsg.MIGRATE_CANCEL)
@_DC
class MainMigrateCancel(Message):
    pass


@message(M, MainMsg.INIT)
@_DC
class MainInit(Message):
    session_id: int = wf(U32)
    display_channels_hint: int = wf(U32)
    supported_mouse_modes: int = wf(U32)
    current_mouse_mode: int = wf(U32)
    agent_connected: int = wf(U32)
    agent_tokens: int = wf(U32)
    multi_media_time: int = wf(U32)
    ram_hint: int = wf(U32)


@message(M, MainMsg.CHANNELS_LIST)
@_DC
class MainChannelsList(Message):
    num_of_channels: int = wf(U32)
    channels: tuple[ChannelId, ...] = wf(Array(ChannelId, "num_of_channels", 2))


@message(M, MainMsg.MOUSE_MODE)
@_DC
class MainMouseMode(Message):
    supported_modes: int = wf(U16)
    current_mode: int = wf(U16)


@message(M, MainMsg.MULTI_MEDIA_TIME)
@_DC
class MainMultiMediaTime(Message):
    time: int = wf(U32)


@message(M, MainMsg.AGENT_CONNECTED)
@_DC
class MainAgentConnected(Message):
    pass


@message(M, MainMsg.AGENT_DISCONNECTED)
@_DC
class MainAgentDisconnected(Message):
    error_code: int = wf(U32)


@message(M, MainMsg.AGENT_DATA)
@_DC
class MainAgentData(Message):
    data: Payload = wf(Rest(view=True))


@message(M, MainMsg.AGENT_TOKEN)
@_DC
class MainAgentToken(Message):
    num_tokens: int = wf(U32)


@message(M, MainMsg.MIGRATE_SWITCH_HOST)
@_DC
class MainMigrateSwitchHost(Message):
    port: int = wf(U16)
    sport: int = wf(U16)
    host_size: int = wf(U32)
    host_data: bytes | None = wf(Ptr(Bytes("host_size")))
    cert_subject_size: int = wf(U32)
    cert_subject_data: bytes | None = wf(Ptr(Bytes("cert_subject_size")))


@message(M, MainMsg.MIGRATE_END)
@_DC
class MainMigrateEnd(Message):
    pass


@message(M, MainMsg.NAME)
@_DC
class MainName(Message):
    name_len: int = wf(U32)
    name: bytes = wf(Bytes("name_len"))


@message(M, MainMsg.UUID)
@_DC
class MainUuid(Message):
    uuid: bytes = wf(Bytes(16))


@message(M, MainMsg.AGENT_CONNECTED_TOKENS)
@_DC
class MainAgentConnectedTokens(Message):
    num_tokens: int = wf(U32)


@message(M, MainMsg.MIGRATE_BEGIN_SEAMLESS)
@_DC
class MainMigrateBeginSeamless(Message):
    dst_info: DstInfo = wf(DstInfo)
    src_mig_version: int = wf(U32)


@message(M, MainMsg.MIGRATE_DST_SEAMLESS_ACK)
@_DC
class MainMigrateDstSeamlessAck(Message):
    pass


@message(M, MainMsg.MIGRATE_DST_SEAMLESS_NACK)
@_DC
class MainMigrateDstSeamlessNack(Message):
    pass


# --- main, client -> server ---------------------------------------------------------
@message(M, MainMsgc.CLIENT_INFO, from_server=False)
@_DC
class MainClientInfo(Message):
    cache_size: int = wf(U64)


@message(M, MainMsgc.MIGRATE_CONNECTED, from_server=False)
@_DC
class MainMigrateConnected(Message):
    pass


@message(M, MainMsgc.MIGRATE_CONNECT_ERROR, from_server=False)
@_DC
class MainMigrateConnectError(Message):
    pass


@message(M, MainMsgc.ATTACH_CHANNELS, from_server=False)
@_DC
class MainAttachChannels(Message):
    pass


@message(M, MainMsgc.MOUSE_MODE_REQUEST, from_server=False)
@_DC
class MainMouseModeRequest(Message):
    mode: int = wf(U16)


@message(M, MainMsgc.AGENT_START, from_server=False)
@_DC
class MainAgentStart(Message):
    num_tokens: int = wf(U32)


@message(M, MainMsgc.AGENT_DATA, from_server=False)
@_DC
class MainAgentDataC(Message):
    data: bytes = wf(Rest())


@message(M, MainMsgc.AGENT_TOKEN, from_server=False)
@_DC
class MainAgentTokenC(Message):
    num_tokens: int = wf(U32)


@message(M, MainMsgc.MIGRATE_END, from_server=False)
@_DC
class MainMigrateEndC(Message):
    pass


@message(M, MainMsgc.MIGRATE_DST_DO_SEAMLESS, from_server=False)
@_DC
class MainMigrateDstDoSeamless(Message):
    src_version: int = wf(U32)


@message(M, MainMsgc.MIGRATE_CONNECTED_SEAMLESS, from_server=False)
@_DC
class MainMigrateConnectedSeamless(Message):
    pass


@message(M, MainMsgc.QUALITY_INDICATOR, from_server=False)
@_DC
class MainQualityIndicator(Message):
    data: bytes = wf(Rest())
