"""SPICE constants, named after spice-common ``spice.proto`` and spice-protocol
``enums.h`` / ``protocol.h``."""

from __future__ import annotations

from enum import IntEnum, IntFlag

# protocol.h: link magic "REDQ" and protocol version 2.2
SPICE_MAGIC = 0x51444552
SPICE_VERSION_MAJOR = 2
SPICE_VERSION_MINOR = 2
SPICE_TICKET_PUBKEY_BYTES = 162  # 1024-bit RSA SubjectPublicKeyInfo DER
SPICE_TICKET_BYTES = 128  # the encrypted ticket: SPICE_TICKET_KEY_PAIR_LENGTH / 8
SPICE_MAX_PASSWORD_LENGTH = 60


class ChannelType(IntEnum):
    """spice.proto ``protocol Spice``."""

    MAIN = 1
    DISPLAY = 2
    INPUTS = 3
    CURSOR = 4
    PLAYBACK = 5
    RECORD = 6
    TUNNEL = 7
    SMARTCARD = 8
    USBREDIR = 9
    PORT = 10
    WEBDAV = 11


class LinkErr(IntEnum):
    """spice.proto ``enum32 link_err``."""

    OK = 0
    ERROR = 1
    INVALID_MAGIC = 2
    INVALID_DATA = 3
    VERSION_MISMATCH = 4
    NEED_SECURED = 5
    NEED_UNSECURED = 6
    PERMISSION_DENIED = 7
    BAD_CONNECTION_ID = 8
    CHANNEL_NOT_AVAILABLE = 9


LinkErrorCode = LinkErr


class AuthMechanism(IntEnum):
    """protocol.h SPICE_COMMON_CAP_AUTH_*: the SpiceLinkAuthMechanism value."""

    SPICE = 1
    SASL = 2


class CommonCap(IntEnum):
    """protocol.h SPICE_COMMON_CAP_* (bit numbers)."""

    PROTOCOL_AUTH_SELECTION = 0
    AUTH_SPICE = 1
    AUTH_SASL = 2
    MINI_HEADER = 3


class MainCap(IntEnum):
    SEMI_SEAMLESS_MIGRATE = 0
    NAME_AND_UUID = 1
    AGENT_CONNECTED_TOKENS = 2
    SEAMLESS_MIGRATE = 3


class DisplayCap(IntEnum):
    SIZED_STREAM = 0
    MONITORS_CONFIG = 1
    COMPOSITE = 2
    A8_SURFACE = 3
    STREAM_REPORT = 4
    LZ4_COMPRESSION = 5
    PREF_COMPRESSION = 6
    GL_SCANOUT = 7
    MULTI_CODEC = 8
    CODEC_MJPEG = 9
    CODEC_VP8 = 10
    CODEC_H264 = 11
    PREF_VIDEO_CODEC_TYPE = 12
    CODEC_VP9 = 13
    CODEC_H265 = 14


class InputsCap(IntEnum):
    KEY_SCANCODE = 0


class PlaybackCap(IntEnum):
    CELT_0_5_1 = 0
    VOLUME = 1
    LATENCY = 2
    OPUS = 3


class RecordCap(IntEnum):
    CELT_0_5_1 = 0
    VOLUME = 1
    OPUS = 2


class SpicevmcCap(IntEnum):
    DATA_COMPRESS_LZ4 = 0


# --- message numbers (spice.proto ``channel ... { server: / client: }``) ----------


class CommonMsg(IntEnum):
    """BaseChannel server messages."""

    MIGRATE = 1
    MIGRATE_DATA = 2
    SET_ACK = 3
    PING = 4
    WAIT_FOR_CHANNELS = 5
    DISCONNECTING = 6
    NOTIFY = 7
    LIST = 8
    BASE_LAST = 100


class CommonMsgc(IntEnum):
    """BaseChannel client messages."""

    ACK_SYNC = 1
    ACK = 2
    PONG = 3
    MIGRATE_FLUSH_MARK = 4
    MIGRATE_DATA = 5
    DISCONNECTING = 6


class MainMsg(IntEnum):
    MIGRATE_BEGIN = 101
    MIGRATE_CANCEL = 102
    INIT = 103
    CHANNELS_LIST = 104
    MOUSE_MODE = 105
    MULTI_MEDIA_TIME = 106
    AGENT_CONNECTED = 107
    AGENT_DISCONNECTED = 108
    AGENT_DATA = 109
    AGENT_TOKEN = 110
    MIGRATE_SWITCH_HOST = 111
    MIGRATE_END = 112
    NAME = 113
    UUID = 114
    AGENT_CONNECTED_TOKENS = 115
    MIGRATE_BEGIN_SEAMLESS = 116
    MIGRATE_DST_SEAMLESS_ACK = 117
    MIGRATE_DST_SEAMLESS_NACK = 118


class MainMsgc(IntEnum):
    CLIENT_INFO = 101
    MIGRATE_CONNECTED = 102
    MIGRATE_CONNECT_ERROR = 103
    ATTACH_CHANNELS = 104
    MOUSE_MODE_REQUEST = 105
    AGENT_START = 106
    AGENT_DATA = 107
    AGENT_TOKEN = 108
    MIGRATE_END = 109
    MIGRATE_DST_DO_SEAMLESS = 110
    MIGRATE_CONNECTED_SEAMLESS = 111
    QUALITY_INDICATOR = 112


class DisplayMsg(IntEnum):
    MODE = 101
    MARK = 102
    RESET = 103
    COPY_BITS = 104
    INVAL_LIST = 105
    INVAL_ALL_PIXMAPS = 106
    INVAL_PALETTE = 107
    INVAL_ALL_PALETTES = 108
    STREAM_CREATE = 122
    STREAM_DATA = 123
    STREAM_CLIP = 124
    STREAM_DESTROY = 125
    STREAM_DESTROY_ALL = 126
    DRAW_FILL = 302
    DRAW_OPAQUE = 303
    DRAW_COPY = 304
    DRAW_BLEND = 305
    DRAW_BLACKNESS = 306
    DRAW_WHITENESS = 307
    DRAW_INVERS = 308
    DRAW_ROP3 = 309
    DRAW_STROKE = 310
    DRAW_TEXT = 311
    DRAW_TRANSPARENT = 312
    DRAW_ALPHA_BLEND = 313
    SURFACE_CREATE = 314
    SURFACE_DESTROY = 315
    STREAM_DATA_SIZED = 316
    MONITORS_CONFIG = 317
    DRAW_COMPOSITE = 318
    STREAM_ACTIVATE_REPORT = 319
    GL_SCANOUT_UNIX = 320
    GL_DRAW = 321
    QUALITY_INDICATOR = 322


class DisplayMsgc(IntEnum):
    INIT = 101
    STREAM_REPORT = 102
    PREFERRED_COMPRESSION = 103
    GL_DRAW_DONE = 104
    PREFERRED_VIDEO_CODEC_TYPE = 105


class InputsMsg(IntEnum):
    INIT = 101
    KEY_MODIFIERS = 102
    MOUSE_MOTION_ACK = 111


class InputsMsgc(IntEnum):
    KEY_DOWN = 101
    KEY_UP = 102
    KEY_MODIFIERS = 103
    KEY_SCANCODE = 104
    MOUSE_MOTION = 111
    MOUSE_POSITION = 112
    MOUSE_PRESS = 113
    MOUSE_RELEASE = 114


class CursorMsg(IntEnum):
    INIT = 101
    RESET = 102
    SET = 103
    MOVE = 104
    HIDE = 105
    TRAIL = 106
    INVAL_ONE = 107
    INVAL_ALL = 108


class PlaybackMsg(IntEnum):
    DATA = 101
    MODE = 102
    START = 103
    STOP = 104
    VOLUME = 105
    MUTE = 106
    LATENCY = 107


class RecordMsg(IntEnum):
    START = 101
    STOP = 102
    VOLUME = 103
    MUTE = 104


class RecordMsgc(IntEnum):
    DATA = 101
    MODE = 102
    START_MARK = 103


class SpicevmcMsg(IntEnum):
    """SpicevmcChannel (usbredir, port, webdav); the client sends the same numbers."""

    DATA = 101
    COMPRESSED_DATA = 102


class PortMsg(IntEnum):
    INIT = 201
    EVENT = 202


class PortMsgc(IntEnum):
    EVENT = 201


# --- display value types ------------------------------------------------------------


class ImageType(IntEnum):
    BITMAP = 0
    QUIC = 1
    RESERVED = 2
    LZ_PLT = 100
    LZ_RGB = 101
    GLZ_RGB = 102
    FROM_CACHE = 103
    SURFACE = 104
    JPEG = 105
    FROM_CACHE_LOSSLESS = 106
    ZLIB_GLZ_RGB = 107
    JPEG_ALPHA = 108
    LZ4 = 109


class ImageFlags(IntFlag):
    CACHE_ME = 1
    HIGH_BITS_SET = 2
    CACHE_REPLACE_ME = 4


class ImageCompression(IntEnum):
    """Values of DISPLAY PREFERRED_COMPRESSION."""

    INVALID = 0
    OFF = 1
    AUTO_GLZ = 2
    AUTO_LZ = 3
    QUIC = 4
    GLZ = 5
    LZ = 6
    LZ4 = 7


class BitmapFmt(IntEnum):
    """spice.proto ``enum8 bitmap_fmt`` (C names ``SPICE_BITMAP_FMT_*``)."""

    INVALID = 0
    FMT_1BIT_LE = 1
    FMT_1BIT_BE = 2
    FMT_4BIT_LE = 3
    FMT_4BIT_BE = 4
    FMT_8BIT = 5
    FMT_16BIT = 6
    FMT_24BIT = 7
    FMT_32BIT = 8
    FMT_RGBA = 9
    FMT_8BIT_A = 10


class BitmapFlags(IntFlag):
    PAL_CACHE_ME = 1
    PAL_FROM_CACHE = 2
    TOP_DOWN = 4


class JpegAlphaFlags(IntFlag):
    TOP_DOWN = 1


class ImageScaleMode(IntEnum):
    INTERPOLATE = 0
    NEAREST = 1


class SurfaceFmt(IntEnum):
    INVALID = 0
    FMT_1_A = 1
    FMT_8_A = 8
    FMT_16_555 = 16
    FMT_32_xRGB = 32
    FMT_16_565 = 80
    FMT_32_ARGB = 96


class SurfaceFlags(IntFlag):
    PRIMARY = 1
    STREAMING_MODE = 2


class ClipType(IntEnum):
    NONE = 0
    RECTS = 1


class BrushType(IntEnum):
    NONE = 0
    SOLID = 1
    PATTERN = 2


class MaskFlags(IntFlag):
    INVERS = 1


class RopDescriptor(IntFlag):
    """spice.proto ``flags16 ropd``."""

    INVERS_SRC = 1
    INVERS_BRUSH = 2
    INVERS_DEST = 4
    OP_PUT = 8
    OP_OR = 16
    OP_AND = 32
    OP_XOR = 64
    OP_BLACKNESS = 128
    OP_WHITENESS = 256
    OP_INVERS = 512
    INVERS_RES = 1024


class PathFlags(IntFlag):
    BEGIN = 1
    END = 2
    CLOSE = 8
    BEZIER = 16


class LineFlags(IntFlag):
    START_WITH_GAP = 4
    STYLED = 8


class StringFlags(IntFlag):
    RASTER_A1 = 1
    RASTER_A4 = 2
    RASTER_A8 = 4
    RASTER_TOP_DOWN = 8


class AlphaFlags(IntFlag):
    DEST_HAS_ALPHA = 1
    SRC_SURFACE_HAS_ALPHA = 2


class CompositeFlags(IntFlag):
    HAS_MASK = 1 << 19
    HAS_SRC_TRANSFORM = 1 << 20
    HAS_MASK_TRANSFORM = 1 << 21
    SOURCE_OPAQUE = 1 << 22
    MASK_OPAQUE = 1 << 23
    DEST_OPAQUE = 1 << 24


class ResourceType(IntEnum):
    INVALID = 0
    PIXMAP = 1


class StreamFlags(IntFlag):
    TOP_DOWN = 1


class VideoCodecType(IntEnum):
    MJPEG = 1
    VP8 = 2
    H264 = 3
    VP9 = 4
    H265 = 5


class GlScanoutFlags(IntFlag):
    Y0TOP = 1


# --- other channels ------------------------------------------------------------------


class MouseMode(IntFlag):
    SERVER = 1
    CLIENT = 2


class MouseButton(IntEnum):
    INVALID = 0
    LEFT = 1
    MIDDLE = 2
    RIGHT = 3
    UP = 4
    DOWN = 5
    SIDE = 6
    EXTRA = 7


class MouseButtonMask(IntFlag):
    LEFT = 1
    MIDDLE = 2
    RIGHT = 4
    UP = 8
    DOWN = 16
    SIDE = 32
    EXTRA = 64


class KeyboardModifierFlags(IntFlag):
    SCROLL_LOCK = 1
    NUM_LOCK = 2
    CAPS_LOCK = 4


class CursorType(IntEnum):
    ALPHA = 0
    MONO = 1
    COLOR4 = 2
    COLOR8 = 3
    COLOR16 = 4
    COLOR24 = 5
    COLOR32 = 6


class CursorFlags(IntFlag):
    NONE = 1
    CACHE_ME = 2
    FROM_CACHE = 4


class AudioDataMode(IntEnum):
    INVALID = 0
    RAW = 1
    CELT_0_5_1 = 2
    OPUS = 3


class AudioFmt(IntEnum):
    INVALID = 0
    S16 = 1


class NotifySeverity(IntEnum):
    INFO = 0
    WARN = 1
    ERROR = 2


class NotifyVisibility(IntEnum):
    LOW = 0
    MEDIUM = 1
    HIGH = 2


class MigrateFlags(IntFlag):
    NEED_FLUSH = 1
    NEED_DATA_TRANSFER = 2


class DataCompressionType(IntEnum):
    NONE = 0
    LZ4 = 1


class PortEvent(IntEnum):
    OPENED = 0
    CLOSED = 1
    BREAK = 2


# --- VD agent (spice-protocol ``spice/vd_agent.h``), carried in main AGENT_DATA ------

VD_AGENT_PROTOCOL = 1
VD_AGENT_MAX_DATA_SIZE = 2048  # bytes per AGENT_DATA chunk (header included)


class AgentMsgType(IntEnum):
    """vd_agent.h ``VD_AGENT_*`` message types."""

    MOUSE_STATE = 1
    MONITORS_CONFIG = 2
    REPLY = 3
    CLIPBOARD = 4
    DISPLAY_CONFIG = 5
    ANNOUNCE_CAPABILITIES = 6
    CLIPBOARD_GRAB = 7
    CLIPBOARD_REQUEST = 8
    CLIPBOARD_RELEASE = 9
    FILE_XFER_START = 10
    FILE_XFER_STATUS = 11
    FILE_XFER_DATA = 12
    CLIENT_DISCONNECTED = 13
    MAX_CLIPBOARD = 14
    AUDIO_VOLUME_SYNC = 15
    GRAPHICS_DEVICE_INFO = 16


class AgentCap(IntEnum):
    """vd_agent.h ``VD_AGENT_CAP_*`` (bit numbers)."""

    MOUSE_STATE = 0
    MONITORS_CONFIG = 1
    REPLY = 2
    CLIPBOARD = 3
    DISPLAY_CONFIG = 4
    CLIPBOARD_BY_DEMAND = 5
    CLIPBOARD_SELECTION = 6
    SPARSE_MONITORS_CONFIG = 7
    GUEST_LINEEND_LF = 8
    GUEST_LINEEND_CRLF = 9
    MAX_CLIPBOARD = 10
    AUDIO_VOLUME_SYNC = 11
    MONITORS_CONFIG_POSITION = 12
    FILE_XFER_DISABLED = 13
    FILE_XFER_DETAILED_ERRORS = 14
    GRAPHICS_DEVICE_INFO = 15
    CLIPBOARD_NO_RELEASE_ON_REGRAB = 16
    CLIPBOARD_GRAB_SERIAL = 17


class ClipboardType(IntEnum):
    """vd_agent.h ``VD_AGENT_CLIPBOARD_*`` data types."""

    NONE = 0
    UTF8_TEXT = 1
    IMAGE_PNG = 2
    IMAGE_BMP = 3
    IMAGE_TIFF = 4
    IMAGE_JPG = 5
    FILE_LIST = 6


class ClipboardSelection(IntEnum):
    """vd_agent.h ``VD_AGENT_CLIPBOARD_SELECTION_*``."""

    CLIPBOARD = 0
    PRIMARY = 1
    SECONDARY = 2


class AgentReplyError(IntEnum):
    """VDAgentReply.error."""

    SUCCESS = 1
    ERROR = 2


class FileXferStatus(IntEnum):
    """vd_agent.h ``VD_AGENT_FILE_XFER_STATUS_*``."""

    CAN_SEND_DATA = 0
    CANCELLED = 1
    ERROR = 2
    SUCCESS = 3
    NOT_ENOUGH_SPACE = 4
    SESSION_LOCKED = 5
    VDAGENT_NOT_CONNECTED = 6
    DISABLED = 7


class MonitorsConfigFlags(IntFlag):
    """vd_agent.h ``VD_AGENT_CONFIG_MONITORS_FLAG_*``."""

    USE_POS = 1
    PHYSICAL_SIZE = 2


class DisplayConfigFlags(IntFlag):
    """vd_agent.h ``VD_AGENT_DISPLAY_CONFIG_FLAG_*``."""

    DISABLE_WALLPAPER = 1
    DISABLE_FONT_SMOOTH = 2
    DISABLE_ANIMATION = 4
    SET_COLOR_DEPTH = 8


#: Message-number enums per channel type and direction (server->client, client->server).
SERVER_MSGS: dict[int, type[IntEnum]] = {
    ChannelType.MAIN: MainMsg,
    ChannelType.DISPLAY: DisplayMsg,
    ChannelType.INPUTS: InputsMsg,
    ChannelType.CURSOR: CursorMsg,
    ChannelType.PLAYBACK: PlaybackMsg,
    ChannelType.RECORD: RecordMsg,
}
CLIENT_MSGS: dict[int, type[IntEnum]] = {
    ChannelType.MAIN: MainMsgc,
    ChannelType.DISPLAY: DisplayMsgc,
    ChannelType.INPUTS: InputsMsgc,
    ChannelType.RECORD: RecordMsgc,
}


def message_name(channel_type: int, msg_type: int, *, from_server: bool = True) -> str:
    """The spec name of a message number (``DRAW_COPY``), else ``UNKNOWN_<n>``."""
    common = CommonMsg if from_server else CommonMsgc
    if msg_type < 100:
        try:
            return common(msg_type).name
        except ValueError:
            return f"UNKNOWN_{msg_type}"
    table = (SERVER_MSGS if from_server else CLIENT_MSGS).get(channel_type)
    if table is not None:
        try:
            return table(msg_type).name
        except ValueError:
            pass
    return f"UNKNOWN_{msg_type}"
