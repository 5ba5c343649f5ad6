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

from spicepy.wire import registry
from spicepy.wire.schema import U16, decode_struct, wt

# spice.proto: channel types and the message numbers of the SpiceVMC family
USBREDIR, PORT, WEBDAV = 9, 10, 11
DATA, COMPRESSED_DATA = 101, 102  # SPICE_MSG(C)_SPICEVMC_*, both directions
PORT_INIT, PORT_EVENT, PORTC_EVENT = 201, 202, 201


def _fresh(name: str, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """Execute module ``name`` again as a new module, registering into an empty
    registry (restored after the test)."""
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
