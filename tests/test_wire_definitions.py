"""Message definitions built by code (the registry decorator, the SpiceVMC and
port families of msg_other) checked against spice.proto, each test building
them afresh.

The definition modules run once at import, so a test that only decodes with
the imported classes cannot tell whether the code that built them still builds
the right thing.  Here the module is executed again into a new module with an
empty registry (``_fresh``), and the result is held to the numbers and layouts
of spice.proto (spice-common), written out below rather than read from
``spicepy.wire.enums``.
"""

from __future__ import annotations

import importlib.util
import struct
import sys
from types import ModuleType
from typing import Any

import pytest

from spicepy.errors import WireError
from spicepy.wire import registry
from spicepy.wire.schema import U16, decode_struct, wt

# spice.proto: channel types and the message numbers of the SpiceVMC family
USBREDIR, PORT, WEBDAV = 9, 10, 11
DATA, COMPRESSED_DATA = 101, 102  # SPICE_MSG(C)_SPICEVMC_*, both directions
PORT_INIT, PORT_EVENT, PORTC_EVENT = 201, 202, 201


def _fresh(name: str, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """Execute module ``name`` again as a new module, registering into an empty
    registry (restored after the test)."""
    importlib.import_module(name)  # dataclasses look names up in the original
    monkeypatch.setattr(registry, "_REGISTRY", {})
    spec = importlib.util.find_spec(name)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, name + "_fresh", module)
    spec.loader.exec_module(module)
    return module


# -- the registry ----------------------------------------------------------------------
def _definition() -> Any:
    import dataclasses

    @dataclasses.dataclass(frozen=True, slots=True)
    class Probe(registry.Message):
        value: int = dataclasses.field(metadata=wt(U16))

    return Probe


def test_message_decorator_registers_number_channel_and_direction(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(registry, "_REGISTRY", {})
    server = registry.message(PORT, 250)(_definition())
    client = registry.message(PORT, 250, from_server=False)(_definition())
    assert (server.MSG_TYPE, server.CHANNEL, server.FROM_SERVER) == (250, PORT, True)
    assert (client.MSG_TYPE, client.CHANNEL, client.FROM_SERVER) == (250, PORT, False)
    assert registry.lookup(PORT, 250, True) is server
    assert registry.lookup(PORT, 250, False) is client
    assert registry.lookup(WEBDAV, 250, True) is None
    assert registry.all_messages() == [server, client]
    with pytest.raises(
        RuntimeError, match=r"^duplicate message definition \(10, True, 250\)$"
    ):
        registry.message(PORT, 250)(_definition())


def test_lookup_falls_back_to_the_common_messages_below_100(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(registry, "_REGISTRY", {})
    common = registry.message(registry.COMMON, 99)(_definition())
    high = registry.message(registry.COMMON, 100)(_definition())
    own = registry.message(PORT, 98)(_definition())
    assert registry.lookup(PORT, 99, True) is common
    assert registry.lookup(PORT, 98, True) is own
    assert registry.lookup(PORT, 99, False) is None  # other direction
    assert registry.lookup(PORT, 100, True) is None  # not a common number
    assert registry.lookup(registry.COMMON, 100, True) is high


# -- the SpiceVMC and port families (msg_other._vmc / _port) ---------------------------
FAMILIES = {USBREDIR: "Usbredir", PORT: "Port", WEBDAV: "Webdav"}


def test_vmc_families_match_spice_proto(monkeypatch: pytest.MonkeyPatch) -> None:
    fresh = _fresh("spicepy.wire.msg_other", monkeypatch)
    for channel, prefix in FAMILIES.items():
        for server, suffix in ((True, ""), (False, "C")):
            data = registry.lookup(channel, DATA, server)
            packed = registry.lookup(channel, COMPRESSED_DATA, server)
            assert data is not None and packed is not None
            assert data.__name__ == data.__qualname__ == f"{prefix}{suffix}Data"
            assert packed.__name__ == f"{prefix}{suffix}CompressedData"
            assert getattr(fresh, data.__name__) is data
            assert getattr(fresh, packed.__name__) is packed
            assert (data.MSG_TYPE, data.CHANNEL, data.FROM_SERVER) == (
                DATA,
                channel,
                server,
            )
            assert (packed.CHANNEL, packed.FROM_SERVER) == (channel, server)
            # SpiceMsgData: uint8 data[] @end
            got = decode_struct(data, b"\x00usb")
            assert got.data.tobytes() == b"\x00usb"
            # SpiceMsgCompressedData: uint8 type; switch (type) { case NONE: ;
            # default: uint32 uncompressed_size; } uint8 data[] @end
            lz4 = decode_struct(packed, b"\x01" + struct.pack("<I", 70000) + b"zz")
            assert (lz4.type, lz4.uncompressed_size) == (1, 70000)
            assert lz4.compressed_data.tobytes() == b"zz"
            none = decode_struct(packed, b"\x00" + b"raw")
            assert (none.type, none.uncompressed_size) == (0, None)
            assert none.compressed_data.tobytes() == b"raw"
            # built by a sender: type first, the size only by keyword
            sent = packed(1, b"lz4", uncompressed_size=9)
            assert (sent.type, sent.uncompressed_size, sent.compressed_data) == (
                1,
                9,
                b"lz4",
            )
            assert (packed(0).uncompressed_size, packed(0).compressed_data) == (
                None,
                b"",
            )


def test_port_families_match_spice_proto(monkeypatch: pytest.MonkeyPatch) -> None:
    fresh = _fresh("spicepy.wire.msg_other", monkeypatch)
    assert registry.lookup(USBREDIR, PORT_INIT, True) is None
    for channel in (PORT, WEBDAV):
        prefix = FAMILIES[channel]
        init = registry.lookup(channel, PORT_INIT, True)
        event = registry.lookup(channel, PORT_EVENT, True)
        event_c = registry.lookup(channel, PORTC_EVENT, False)
        assert init is not None and event is not None and event_c is not None
        names = [c.__name__ for c in (init, event, event_c)]
        assert names == [f"{prefix}Init", f"{prefix}Event", f"{prefix}EventC"]
        assert [c.__qualname__ for c in (init, event, event_c)] == names
        assert all(
            getattr(fresh, n) is c
            for n, c in zip(names, (init, event, event_c), strict=True)
        )
        assert [(c.MSG_TYPE, c.CHANNEL, c.FROM_SERVER) for c in (init, event)] == [
            (PORT_INIT, channel, True),
            (PORT_EVENT, channel, True),
        ]
        assert (event_c.MSG_TYPE, event_c.FROM_SERVER) == (PORTC_EVENT, False)
        # SpiceMsgPortInit: uint32 name_size; uint8 *name[name_size]; uint8 opened
        body = struct.pack("<IIB", 3, 9, 1) + b"com"
        got = decode_struct(init, body)
        assert (got.name_size, got.name, got.opened) == (3, b"com", 1)
        assert decode_struct(event, b"\x02").event == 2
        assert decode_struct(event_c, b"\x01").event == 1


# -- conditions built by helpers of types / msg_display ------------------------------
# spice.proto: ImageType BITMAP 0, QUIC 1, LZ_PLT 100, FROM_CACHE 103, SURFACE 104,
# JPEG_ALPHA 108; SpiceImageDescriptor {uint64 id; uint8 type; uint8 flags;
# uint32 width; uint32 height}
def _descriptor(image_type: int) -> bytes:
    return struct.pack("<QBBII", 77, image_type, 0, 4, 2)


def test_image_body_is_chosen_by_the_descriptor_type(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    types = _fresh("spicepy.wire.types", monkeypatch)
    bodies = ("bitmap", "binary", "lz_plt", "zlib_glz", "jpeg_alpha", "surface")

    def present(body: bytes) -> dict[str, Any]:
        img = decode_struct(types.Image, body)
        assert img.descriptor.id == 77
        return {n: getattr(img, n) for n in bodies if getattr(img, n) is not None}

    surface = present(_descriptor(104) + struct.pack("<I", 5))
    assert list(surface) == ["surface"] and surface["surface"].surface_id == 5
    quic = present(_descriptor(1) + struct.pack("<I", 3) + b"abc")
    assert list(quic) == ["binary"] and quic["binary"].data.tobytes() == b"abc"
    alpha = present(_descriptor(108) + struct.pack("<BII", 1, 2, 3) + b"xyz")
    assert list(alpha) == ["jpeg_alpha"]
    assert (alpha["jpeg_alpha"].jpeg_size, alpha["jpeg_alpha"].data.tobytes()) == (
        2,
        b"xyz",
    )
    assert present(_descriptor(103)) == {}  # FROM_CACHE: no body


def _glyph(width: int, height: int, data: bytes) -> bytes:
    # SpiceRasterGlyph: Point render_pos, Point glyph_origin (int32 x, y each),
    # uint16 width, uint16 height, uint8 data[image_size(bpp, width, height)]
    return struct.pack("<iiiiHH", 1, 2, 3, 4, width, height) + data


def test_string_reads_the_first_raster_case_of_its_flags(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    types = _fresh("spicepy.wire.types", monkeypatch)
    # StringFlags RASTER_A1 1, A4 2, A8 4, TOP_DOWN 8; spice.proto's switch (flags)
    # takes the first case that matches: A1 before A4 before A8
    a1 = decode_struct(
        types.String, struct.pack("<HB", 1, 1 | 2 | 8) + _glyph(9, 2, b"ABCD")
    )
    assert a1.glyphs_a4 is None and a1.glyphs_a8 is None
    (g,) = a1.glyphs_a1  # 9 pixels at 1 bpp: 2 bytes a row
    assert (g.render_pos.x, g.glyph_origin.y, g.width, g.data) == (1, 4, 9, b"ABCD")
    a4 = decode_struct(
        types.String, struct.pack("<HB", 1, 2 | 4) + _glyph(3, 2, b"WXYZ")
    )
    assert a4.glyphs_a1 is None and a4.glyphs_a8 is None
    assert a4.glyphs_a4[0].data == b"WXYZ"  # 3 pixels at 4 bpp: 2 bytes a row
    a8 = decode_struct(types.String, struct.pack("<HB", 1, 4) + _glyph(3, 2, b"abcdef"))
    assert a8.glyphs_a1 is None and a8.glyphs_a4 is None
    assert a8.glyphs_a8[0].data == b"abcdef"
    none = decode_struct(types.String, struct.pack("<HB", 1, 8))
    assert (none.glyphs_a1, none.glyphs_a4, none.glyphs_a8) == (None, None, None)


def test_composite_fields_follow_their_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    display = _fresh("spicepy.wire.msg_display", monkeypatch)
    # spice.proto composite_flags: HAS_MASK bit 19, HAS_SRC_TRANSFORM 20,
    # HAS_MASK_TRANSFORM 21; SpiceTransform is six uint32
    origins = struct.pack("<hhhh", 7, -8, 9, -10)
    src = decode_struct(
        display.Composite,
        struct.pack("<II", 1 << 20, 0) + struct.pack("<6I", 1, 2, 3, 4, 5, 6) + origins,
    )
    assert src.mask_transform is None and src.mask_bitmap is None
    assert src.src_transform is not None and src.src_transform.t12 == 6
    assert (src.src_origin.y, src.mask_origin.x) == (-8, 9)
    mask = decode_struct(
        display.Composite,
        struct.pack("<III", (1 << 19) | (1 << 21), 0, 0)
        + struct.pack("<6I", 1, 2, 3, 4, 5, 6)
        + origins,
    )
    assert mask.src_transform is None and mask.mask_transform is not None
    assert (mask.mask_transform.t00, mask.mask_origin.y) == (1, -10)
    plain = decode_struct(display.Composite, struct.pack("<II", 0xFF, 0) + origins)
    assert (plain.src_origin.x, plain.mask_origin.y) == (7, -10)


# -- VD-agent messages (spice-protocol vd_agent.h) -------------------------------------
VD_AGENT_TYPES = {
    "MouseState": 1,
    "MonitorsConfig": 2,
    "Reply": 3,
    "Clipboard": 4,
    "DisplayConfig": 5,
    "AnnounceCapabilities": 6,
    "ClipboardGrab": 7,
    "ClipboardRequest": 8,
    "ClipboardRelease": 9,
    "FileXferStart": 10,
    "FileXferStatusMessage": 11,
    "FileXferData": 12,
    "ClientDisconnected": 13,
    "MaxClipboard": 14,
    "AudioVolumeSync": 15,
    "GraphicsDeviceInfo": 16,
}


def test_agent_messages_match_vd_agent_h(monkeypatch: pytest.MonkeyPatch) -> None:
    agent = _fresh("spicepy.wire.agent", monkeypatch)
    classes = agent.agent_message_classes()
    assert {c.__name__: c.AGENT_TYPE for c in classes} == VD_AGENT_TYPES
    assert all(getattr(agent, c.__name__) is c for c in classes)
    with pytest.raises(RuntimeError, match=r"^duplicate agent message .*MOUSE_STATE"):
        agent._agent(agent.AgentMsgType.MOUSE_STATE)(_definition())
    with pytest.raises(WireError, match=r"^agent header needs 20 bytes, got 19$"):
        agent.parse_agent_header(bytes(19))


def test_monitors_config_physical_sizes_follow_the_flag(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    agent = _fresh("spicepy.wire.agent", monkeypatch)
    # VDAgentMonitorsConfig: uint32 num_of_monitors, flags; VDAgentMonConfig
    # {height, width, depth, x, y}[n]; then VDAgentMonitorMM {uint16 height,
    # width}[n] when flags has VD_AGENT_CONFIG_MONITORS_FLAG_PHYSICAL_SIZE (2)
    mon = struct.pack("<IIIii", 768, 1024, 32, 0, 0)
    with_mm = decode_struct(
        agent.MonitorsConfig, struct.pack("<II", 1, 2) + mon + struct.pack("<HH", 9, 16)
    )
    assert (with_mm.monitors[0].width, with_mm.monitors[0].height) == (1024, 768)
    assert [(m.height, m.width) for m in with_mm.physical_sizes] == [(9, 16)]
    plain = decode_struct(agent.MonitorsConfig, struct.pack("<II", 1, 1) + mon)
    assert plain.physical_sizes is None


# -- usbredir packets (usbredirproto.h: type numbers and type-header sizes) ----------
USBREDIR_PACKETS = {
    "Hello": (0, 64),  # char version[64]
    "DeviceConnect": (1, 10),
    "DeviceDisconnect": (2, 0),
    "Reset": (3, 0),
    "InterfaceInfo": (4, 132),  # uint32 count + 4 x uint8[32]
    "EpInfo": (5, 288),  # 3 x uint8[32], uint16[32], uint32[32]
    "SetConfiguration": (6, 1),
    "GetConfiguration": (7, 0),
    "ConfigurationStatus": (8, 2),
    "SetAltSetting": (9, 2),
    "GetAltSetting": (10, 1),
    "AltSettingStatus": (11, 3),
    "StartIsoStream": (12, 3),
    "StopIsoStream": (13, 1),
    "IsoStreamStatus": (14, 2),
    "StartInterruptReceiving": (15, 1),
    "StopInterruptReceiving": (16, 1),
    "InterruptReceivingStatus": (17, 2),
    "AllocBulkStreams": (18, 8),
    "FreeBulkStreams": (19, 4),
    "BulkStreamsStatus": (20, 9),
    "CancelDataPacket": (21, 0),
    "FilterReject": (22, 0),
    "FilterFilter": (23, 0),
    "DeviceDisconnectAck": (24, 0),
    "StartBulkReceiving": (25, 10),
    "StopBulkReceiving": (26, 5),
    "BulkReceivingStatus": (27, 6),
    "ControlPacket": (100, 10),
    "BulkPacket": (101, 10),
    "IsoPacket": (102, 4),
    "InterruptPacket": (103, 4),
    "BufferedBulkPacket": (104, 10),
}


def test_usbredir_packets_match_usbredirproto_h(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    usb = _fresh("spicepy.wire.usbredir", monkeypatch)
    got = {c.__name__: (t, c.FIXED) for t, c in usb.packet_classes().items()}
    assert got == USBREDIR_PACKETS
    assert all(c.PACKET_TYPE == t for t, c in usb.packet_classes().items())
    with pytest.raises(RuntimeError, match=r"^duplicate usbredir packet .*HELLO"):
        usb._packet(usb.UsbredirType.HELLO, 64)(_definition())
    # the 32-entry arrays: usbredirparser_verify_type_header allows 32 interfaces
    info = usb.InterfaceInfo
    arrays = bytes(range(32)) * 4
    full = decode_struct(info, struct.pack("<I", 32) + arrays)
    assert full.interface == tuple(range(32)) and full.interface_protocol[31] == 31
    with pytest.raises(WireError, match=r"interface_count 33 > 32"):
        decode_struct(info, struct.pack("<I", 33) + arrays)
