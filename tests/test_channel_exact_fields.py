"""Exact texts, fields and bounds of the smaller channel machines (port,
SpiceVMC, usbredir channel, inputs, record): the refusals' texts, PORT_INIT's
name rules, the guest-open flag, what a plain SpiceVMC channel passes on, the
inputs motion window at its bound, and record timestamps in milliseconds.
Written for the survivors of the channels mutation run (tests/MUTATION.md)."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from _channel_helpers import drive, linked, split_messages

from spicepy.channels import InputsChannel
from spicepy.channels.events import MessageReceived
from spicepy.channels.port import PortChannel, PortEventReceived, PortInitReceived
from spicepy.channels.record import (
    RecordChannel,
    RecordMuteSet,
    RecordStopped,
    RecordVolumeSet,
    default_record_caps,
)
from spicepy.channels.spicevmc import SpicevmcChannel, UsbredirChannel, VmcDataReceived
from spicepy.channels.usbredir import PacketReceived, UsbredirConnection, UsbredirState
from spicepy.errors import ProtocolError
from spicepy.testing.fake_server import FakeServer, link_pair
from spicepy.wire import usbredir as u
from spicepy.wire.enums import (
    AudioDataMode,
    ChannelType,
    InputsMsgc,
    PortEvent,
    RecordCap,
    RecordMsgc,
)
from spicepy.wire.msg_other import (
    InputsInit,
    KeyModifiers,
    MouseMotionAck,
    RecordMute,
    RecordStart,
    RecordStop,
    RecordVolume,
)

INIT, EVENT, DATA = 201, 202, 101  # spice.proto PortChannel


def init_body(name: bytes | None, opened: bool) -> bytes:
    if name is None:  # name_size 0, a null pointer
        return struct.pack("<IIB", 0, 0, opened)
    return struct.pack("<IIB", len(name), 9, opened) + name


def test_port_refusal_texts() -> None:
    for raw, text in (
        ((DATA, b"x"), "port data before PORT_INIT"),
        ((EVENT, bytes([PortEvent.OPENED])), "PORT_EVENT before PORT_INIT"),
    ):
        ch, srv = linked(PortChannel)
        with pytest.raises(ProtocolError) as err:
            ch.receive_data(srv.pack_raw(*raw))
        assert str(err.value) == text
    ch, srv = linked(PortChannel)
    drive(ch, srv.pack_raw(INIT, init_body(b"a\0", True)))
    with pytest.raises(ProtocolError) as err:
        ch.receive_data(srv.pack_raw(INIT, init_body(b"b\0", True)))
    assert str(err.value) == "second PORT_INIT"


@pytest.mark.parametrize(
    "name,want",
    [(b"org.x\0", "org.x"), (b"a\0b\0", "a"), (b"no-nul", "no-nul"), (None, "")],
)
def test_port_name(name: bytes | None, want: str) -> None:
    ch, srv = linked(PortChannel)
    assert drive(ch, srv.pack_raw(INIT, init_body(name, False))) == [
        PortInitReceived(want, False)
    ]
    assert ch.name == want


def test_port_open_flag_follows_the_events() -> None:
    ch, srv = linked(PortChannel)
    drive(ch, srv.pack_raw(INIT, init_body(b"p\0", False)))
    assert ch.guest_opened is False
    drive(ch, srv.pack_raw(EVENT, bytes([PortEvent.OPENED])))
    assert ch.guest_opened is True
    assert drive(ch, srv.pack_raw(EVENT, bytes([PortEvent.BREAK]))) == [
        PortEventReceived(PortEvent.BREAK)
    ]
    assert ch.guest_opened is True  # BREAK changes nothing
    drive(ch, srv.pack_raw(EVENT, bytes([PortEvent.CLOSED])))
    assert ch.guest_opened is False


def test_plain_spicevmc_channel_passes_data_and_the_rest_on() -> None:
    ch, srv = linked(SpicevmcChannel)
    assert drive(ch, srv.pack_raw(DATA, b"abc")) == [VmcDataReceived(b"abc")]
    serial = srv.serial + 1
    body = init_body(b"p\0", True)
    [ev] = drive(ch, srv.pack_raw(INIT, body))
    assert isinstance(ev, MessageReceived)
    assert (ev.channel_type, ev.msg_type, ev.serial) == (ChannelType.PORT, INIT, serial)
    assert ev.message.name == b"p\0" and ev.message.opened == 1


def test_usbredir_channel_packet_id_defaults_to_zero() -> None:
    ch, srv = UsbredirChannel(), FakeServer()
    link_pair(ch, srv)  # not ``linked``: it would drop the hello queued at link
    guest = UsbredirConnection(host=False)
    guest.receive_data(b"".join(b for _, b in split_messages(ch.data_to_send())))
    drive(ch, srv.pack_raw(DATA, guest.data_to_send()))
    ch.data_to_send()
    ch.send_packet(u.ConfigurationStatus(0, 1))
    guest.receive_data(b"".join(b for _, b in split_messages(ch.data_to_send())))
    evs = [e for e in iter(guest.next_event, None)]
    assert evs[1:] == [PacketReceived(0, u.ConfigurationStatus(0, 1))]


def test_inputs_exact_messages_and_the_motion_window() -> None:
    ch, srv = linked(InputsChannel)
    with pytest.raises(ValueError) as err:
        ch.send_key_down(0x200)
    assert str(err.value) == "scancode 0x200 out of range"
    ch.send_key_down(0x1C)
    ch.send_key_modifiers(5)
    ch.send_mouse_press(1)
    ch.send_mouse_release(3)
    assert split_messages(ch.data_to_send()) == [
        (InputsMsgc.KEY_DOWN, struct.pack("<I", 0x1C)),
        (InputsMsgc.KEY_MODIFIERS, struct.pack("<H", 5)),
        (InputsMsgc.MOUSE_PRESS, struct.pack("<BH", 1, 0)),
        (InputsMsgc.MOUSE_RELEASE, struct.pack("<BH", 3, 0)),
    ]
    # 2 * MOTION_ACK_BUNCH (4) positions go out unacked, the 9th waits
    for i in range(8):
        assert ch.send_mouse_position(i, i) is True
    assert ch.send_mouse_position(50, 60, 1, 2) is False
    sent = split_messages(ch.data_to_send())
    assert len(sent) == 8
    assert sent[0] == (InputsMsgc.MOUSE_POSITION, struct.pack("<IIHB", 0, 0, 0, 0))
    drive(ch, srv.pack(MouseMotionAck()))
    assert split_messages(ch.data_to_send()) == [
        (InputsMsgc.MOUSE_POSITION, struct.pack("<IIHB", 50, 60, 1, 2))
    ]
    assert ch.motion_unacked == 5


def test_record_texts_and_millisecond_timestamps() -> None:
    ch, srv = linked(RecordChannel)
    with pytest.raises(ProtocolError) as err:
        ch.send_samples(np.zeros((480, 1), np.int16), 0)
    assert str(err.value) == "the server has not started recording"
    drive(ch, srv.pack(RecordStart(1, 1, 8000)))  # mono S16 at 8 kHz
    with pytest.raises(ValueError) as verr:
        ch.send_samples(np.zeros((480, 2), np.int16), 0)
    assert str(verr.value) == "expected (n, 1) int16 samples"
    ch.data_to_send()
    end = ch.send_samples(np.zeros((10 * 480, 1), np.int16), 1000)
    assert end == 1000 + 600  # 4800 samples at 8 kHz
    times = [
        struct.unpack_from("<I", body)[0]
        for t, body in split_messages(ch.data_to_send())
        if t == RecordMsgc.DATA
    ]
    assert times == [1000 + 60 * k for k in range(10)]  # 480 samples = 60 ms


def test_vmc_channels_pass_their_arguments_on() -> None:
    srv = FakeServer()
    ch = UsbredirChannel(
        3, connection_id=7, usb_version="v9", usb_caps=frozenset(), max_packet_size=100
    )
    link_pair(ch, srv)
    assert srv.link_mess is not None
    assert (ch.channel_id, srv.link_mess.connection_id) == (3, 7)
    assert ch.usb.host is True and ch.usb.caps == frozenset()
    assert ch.usb.max_packet_size == 100
    hello = b"".join(b for _, b in split_messages(ch.data_to_send()))
    assert hello[12:15] == b"v9\0"
    assert UsbredirChannel().usb.data_to_send()[12:20] == b"spicepy\0"
    srv = FakeServer()
    vmc = SpicevmcChannel(2, connection_id=5)
    link_pair(vmc, srv)
    assert srv.link_mess is not None
    assert (vmc.channel_id, srv.link_mess.connection_id) == (2, 5)
    # the channel's EOF ends the usbredir stream too
    ch.receive_data(b"")
    assert ch.usb.state is UsbredirState.CLOSED


def test_inputs_arguments_and_modifiers() -> None:
    assert InputsChannel().channel_id == 0 and InputsChannel().modifiers == 0
    srv = FakeServer()
    ch = InputsChannel(2, connection_id=5)
    link_pair(ch, srv)
    assert srv.link_mess is not None
    assert (ch.channel_id, srv.link_mess.connection_id) == (2, 5)
    drive(ch, srv.pack(InputsInit(5)))
    assert ch.modifiers == 5
    drive(ch, srv.pack(KeyModifiers(2)))
    assert ch.modifiers == 2


def test_record_state_and_start_bounds() -> None:
    ch = RecordChannel()
    assert (ch.channel_id, ch.started, ch.channels, ch.frequency) == (0, False, 0, 0)
    assert (ch.volume, ch.mute, ch.mode) == ((), False, AudioDataMode.RAW)
    assert ch.started is False and ch.mute is False
    srv = FakeServer()
    ch = RecordChannel(1, connection_id=4, channel_caps=frozenset())
    link_pair(ch, srv)
    assert srv.link_mess is not None
    assert (ch.channel_id, srv.link_mess.connection_id) == (1, 4)
    assert srv.link_mess.channel_caps == ()  # given caps kept, not the default
    srv = FakeServer()
    link_pair(RecordChannel(), srv)
    assert srv.link_mess is not None
    assert srv.link_mess.channel_caps == (sum(1 << c for c in default_record_caps()),)
    for channels, fmt in ((0, 1), (9, 1), (2, 2)):
        ch, srv = linked(RecordChannel)
        with pytest.raises(ProtocolError) as err:
            ch.receive_data(srv.pack(RecordStart(channels, fmt, 8000)))
        assert str(err.value) == f"unsupported record format {fmt}"
    ch, srv = linked(RecordChannel)
    drive(ch, srv.pack(RecordStart(8, 1, 8000)))  # 8 channels: the most
    assert (ch.started, ch.channels, ch.frequency) == (True, 8, 8000)
    # the first samples after a start are preceded by MODE and START_MARK
    ch.data_to_send()
    ch.send_samples(np.zeros((480, 8), np.int16), 77)
    types = [t for t, _ in split_messages(ch.data_to_send())]
    assert types == [RecordMsgc.MODE, RecordMsgc.START_MARK, RecordMsgc.DATA]


def test_record_volume_mute_stop_and_mono_opus() -> None:
    ch, srv = linked(RecordChannel)
    assert drive(ch, srv.pack(RecordVolume(2, (100, 200)))) == [
        RecordVolumeSet((100, 200))
    ]
    assert ch.volume == (100, 200)
    assert drive(ch, srv.pack(RecordMute(3))) == [RecordMuteSet(True)]
    assert ch.mute is True
    drive(ch, srv.pack(RecordStart(1, 1, 8000)))
    assert drive(ch, srv.pack(RecordStop())) == [RecordStopped()]
    assert ch.started is False
    if RecordCap.OPUS not in default_record_caps():
        return  # no encoder here: RAW only
    ch, srv = linked(
        RecordChannel, FakeServer(channel_caps=frozenset({RecordCap.OPUS}))
    )
    drive(ch, srv.pack(RecordStart(1, 1, 48000)))  # mono Opus at 48 kHz
    assert ch.mode == AudioDataMode.OPUS


def test_port_arguments_and_fresh_state() -> None:
    fresh = PortChannel()
    assert fresh.name is None and fresh.guest_opened is False
    srv = FakeServer()
    ch = PortChannel(4, connection_id=6)
    link_pair(ch, srv)
    assert srv.link_mess is not None
    assert (ch.channel_id, srv.link_mess.connection_id) == (4, 6)
