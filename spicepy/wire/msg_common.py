"""BaseChannel (common) and main channel messages (spice.proto ``channel BaseChannel``,
``channel MainChannel``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from spicepy.wire.enums import ChannelType, CommonMsg, CommonMsgc, MainMsg, MainMsgc
from spicepy.wire.registry import COMMON, Message, message
from spicepy.wire.schema import U8, U16, U32, U64, Array, Bytes, Ptr, Rest, wt
from spicepy.wire.types import ChannelId, ChannelWait, DstInfo, Payload

M = ChannelType.MAIN


# --- common, server -> client -------------------------------------------------------
@message(COMMON, CommonMsg.MIGRATE)
@dataclass(frozen=True, slots=True)
class Migrate(Message):
    flags: int = field(metadata=wt(U32))


@message(COMMON, CommonMsg.MIGRATE_DATA)
@dataclass(frozen=True, slots=True)
class MigrateData(Message):
    data: Payload = field(metadata=wt(Rest(view=True)))


@message(COMMON, CommonMsg.SET_ACK)
@dataclass(frozen=True, slots=True)
class SetAck(Message):
    generation: int = field(metadata=wt(U32))
    window: int = field(metadata=wt(U32))


@message(COMMON, CommonMsg.PING)
@dataclass(frozen=True, slots=True)
class Ping(Message):
    id: int = field(metadata=wt(U32))
    timestamp: int = field(metadata=wt(U64))
    data: Payload = field(default=b"", metadata=wt(Rest(view=True)))


@message(COMMON, CommonMsg.WAIT_FOR_CHANNELS)
@dataclass(frozen=True, slots=True)
class WaitForChannels(Message):
    wait_count: int = field(metadata=wt(U8))
    wait_list: tuple[ChannelWait, ...] = field(
        metadata=wt(Array(ChannelWait, "wait_count", 10))
    )


@message(COMMON, CommonMsg.DISCONNECTING)
@dataclass(frozen=True, slots=True)
class Disconnecting(Message):
    time_stamp: int = field(metadata=wt(U64))
    reason: int = field(metadata=wt(U32))


@message(COMMON, CommonMsg.NOTIFY)
@dataclass(frozen=True, slots=True)
class Notify(Message):
    time_stamp: int = field(metadata=wt(U64))
    severity: int = field(metadata=wt(U32))
    visibility: int = field(metadata=wt(U32))
    what: int = field(metadata=wt(U32))
    message_len: int = field(metadata=wt(U32))
    message: bytes = field(metadata=wt(Bytes("message_len")))
    #: spice-server follows the text with a NUL that message_len does not count
    terminator: bytes = field(default=b"\0", metadata=wt(Rest()))

    @property
    def text(self) -> str:
        return self.message.split(b"\0", 1)[0].decode("utf-8", "replace")


@message(COMMON, CommonMsg.LIST)
@dataclass(frozen=True, slots=True)
class SubMessageList(Message):
    """Body is a SpiceSubMessageList; see headers.split_sub_messages."""

    data: Payload = field(metadata=wt(Rest(view=True)))


# --- common, client -> server -------------------------------------------------------
@message(COMMON, CommonMsgc.ACK_SYNC, from_server=False)
@dataclass(frozen=True, slots=True)
class AckSync(Message):
    generation: int = field(metadata=wt(U32))


@message(COMMON, CommonMsgc.ACK, from_server=False)
@dataclass(frozen=True, slots=True)
class Ack(Message):
    pass


@message(COMMON, CommonMsgc.PONG, from_server=False)
@dataclass(frozen=True, slots=True)
class Pong(Message):
    id: int = field(metadata=wt(U32))
    timestamp: int = field(metadata=wt(U64))


@message(COMMON, CommonMsgc.MIGRATE_FLUSH_MARK, from_server=False)
@dataclass(frozen=True, slots=True)
class MigrateFlushMark(Message):
    pass


@message(COMMON, CommonMsgc.MIGRATE_DATA, from_server=False)
@dataclass(frozen=True, slots=True)
class MigrateDataC(Message):
    data: Payload = field(metadata=wt(Rest(view=True)))


@message(COMMON, CommonMsgc.DISCONNECTING, from_server=False)
@dataclass(frozen=True, slots=True)
class DisconnectingC(Message):
    time_stamp: int = field(metadata=wt(U64))
    reason: int = field(metadata=wt(U32))


# --- main, server -> client ---------------------------------------------------------
@message(M, MainMsg.MIGRATE_BEGIN)
@dataclass(frozen=True, slots=True)
class MainMigrateBegin(Message):
    dst_info: DstInfo = field(metadata=wt(DstInfo))


@message(M, MainMsg.MIGRATE_CANCEL)
@dataclass(frozen=True, slots=True)
class MainMigrateCancel(Message):
    pass


@message(M, MainMsg.INIT)
@dataclass(frozen=True, slots=True)
class MainInit(Message):
    session_id: int = field(metadata=wt(U32))
    display_channels_hint: int = field(metadata=wt(U32))
    supported_mouse_modes: int = field(metadata=wt(U32))
    current_mouse_mode: int = field(metadata=wt(U32))
    agent_connected: int = field(metadata=wt(U32))
    agent_tokens: int = field(metadata=wt(U32))
    multi_media_time: int = field(metadata=wt(U32))
    ram_hint: int = field(metadata=wt(U32))


@message(M, MainMsg.CHANNELS_LIST)
@dataclass(frozen=True, slots=True)
class MainChannelsList(Message):
    num_of_channels: int = field(metadata=wt(U32))
    channels: tuple[ChannelId, ...] = field(
        metadata=wt(Array(ChannelId, "num_of_channels", 2))
    )


@message(M, MainMsg.MOUSE_MODE)
@dataclass(frozen=True, slots=True)
class MainMouseMode(Message):
    supported_modes: int = field(metadata=wt(U16))
    current_mode: int = field(metadata=wt(U16))


@message(M, MainMsg.MULTI_MEDIA_TIME)
@dataclass(frozen=True, slots=True)
class MainMultiMediaTime(Message):
    time: int = field(metadata=wt(U32))


@message(M, MainMsg.AGENT_CONNECTED)
@dataclass(frozen=True, slots=True)
class MainAgentConnected(Message):
    pass


@message(M, MainMsg.AGENT_DISCONNECTED)
@dataclass(frozen=True, slots=True)
class MainAgentDisconnected(Message):
    error_code: int = field(metadata=wt(U32))


@message(M, MainMsg.AGENT_DATA)
@dataclass(frozen=True, slots=True)
class MainAgentData(Message):
    data: Payload = field(metadata=wt(Rest(view=True)))


@message(M, MainMsg.AGENT_TOKEN)
@dataclass(frozen=True, slots=True)
class MainAgentToken(Message):
    num_tokens: int = field(metadata=wt(U32))


@message(M, MainMsg.MIGRATE_SWITCH_HOST)
@dataclass(frozen=True, slots=True)
class MainMigrateSwitchHost(Message):
    port: int = field(metadata=wt(U16))
    sport: int = field(metadata=wt(U16))
    host_size: int = field(metadata=wt(U32))
    host_data: bytes | None = field(metadata=wt(Ptr(Bytes("host_size"))))
    cert_subject_size: int = field(metadata=wt(U32))
    cert_subject_data: bytes | None = field(
        metadata=wt(Ptr(Bytes("cert_subject_size")))
    )


@message(M, MainMsg.MIGRATE_END)
@dataclass(frozen=True, slots=True)
class MainMigrateEnd(Message):
    pass


@message(M, MainMsg.NAME)
@dataclass(frozen=True, slots=True)
class MainName(Message):
    name_len: int = field(metadata=wt(U32))
    name: bytes = field(metadata=wt(Bytes("name_len")))


@message(M, MainMsg.UUID)
@dataclass(frozen=True, slots=True)
class MainUuid(Message):
    uuid: bytes = field(metadata=wt(Bytes(16)))


@message(M, MainMsg.AGENT_CONNECTED_TOKENS)
@dataclass(frozen=True, slots=True)
class MainAgentConnectedTokens(Message):
    num_tokens: int = field(metadata=wt(U32))


@message(M, MainMsg.MIGRATE_BEGIN_SEAMLESS)
@dataclass(frozen=True, slots=True)
class MainMigrateBeginSeamless(Message):
    dst_info: DstInfo = field(metadata=wt(DstInfo))
    src_mig_version: int = field(metadata=wt(U32))


@message(M, MainMsg.MIGRATE_DST_SEAMLESS_ACK)
@dataclass(frozen=True, slots=True)
class MainMigrateDstSeamlessAck(Message):
    pass


@message(M, MainMsg.MIGRATE_DST_SEAMLESS_NACK)
@dataclass(frozen=True, slots=True)
class MainMigrateDstSeamlessNack(Message):
    pass


# --- main, client -> server ---------------------------------------------------------
@message(M, MainMsgc.CLIENT_INFO, from_server=False)
@dataclass(frozen=True, slots=True)
class MainClientInfo(Message):
    cache_size: int = field(metadata=wt(U64))


@message(M, MainMsgc.MIGRATE_CONNECTED, from_server=False)
@dataclass(frozen=True, slots=True)
class MainMigrateConnected(Message):
    pass


@message(M, MainMsgc.MIGRATE_CONNECT_ERROR, from_server=False)
@dataclass(frozen=True, slots=True)
class MainMigrateConnectError(Message):
    pass


@message(M, MainMsgc.ATTACH_CHANNELS, from_server=False)
@dataclass(frozen=True, slots=True)
class MainAttachChannels(Message):
    pass


@message(M, MainMsgc.MOUSE_MODE_REQUEST, from_server=False)
@dataclass(frozen=True, slots=True)
class MainMouseModeRequest(Message):
    mode: int = field(metadata=wt(U16))


@message(M, MainMsgc.AGENT_START, from_server=False)
@dataclass(frozen=True, slots=True)
class MainAgentStart(Message):
    num_tokens: int = field(metadata=wt(U32))


@message(M, MainMsgc.AGENT_DATA, from_server=False)
@dataclass(frozen=True, slots=True)
class MainAgentDataC(Message):
    data: Payload = field(metadata=wt(Rest(view=True)))


@message(M, MainMsgc.AGENT_TOKEN, from_server=False)
@dataclass(frozen=True, slots=True)
class MainAgentTokenC(Message):
    num_tokens: int = field(metadata=wt(U32))


@message(M, MainMsgc.MIGRATE_END, from_server=False)
@dataclass(frozen=True, slots=True)
class MainMigrateEndC(Message):
    pass


@message(M, MainMsgc.MIGRATE_DST_DO_SEAMLESS, from_server=False)
@dataclass(frozen=True, slots=True)
class MainMigrateDstDoSeamless(Message):
    src_version: int = field(metadata=wt(U32))


@message(M, MainMsgc.MIGRATE_CONNECTED_SEAMLESS, from_server=False)
@dataclass(frozen=True, slots=True)
class MainMigrateConnectedSeamless(Message):
    pass


@message(M, MainMsgc.QUALITY_INDICATOR, from_server=False)
@dataclass(frozen=True, slots=True)
class MainQualityIndicator(Message):
    data: bytes = field(metadata=wt(Rest()))
