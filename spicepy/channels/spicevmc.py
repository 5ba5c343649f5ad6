"""SpiceVMC channels: a byte pipe to a QEMU chardev (usbredir, port, webdav).

Theory of operation (spice.proto ``channel SpicevmcChannel``, spice-gtk
``spice-channel.c``/``channel-usbredir.c``): after the link, both directions
carry SPICEVMC_DATA messages whose body is a slice of one byte stream; message
boundaries mean nothing.  COMPRESSED_DATA is sent only to a client that
announced DATA_COMPRESS_LZ4, which ``SpicevmcChannel`` does not; type NONE is
passed through, LZ4 without the cap is a ProtocolError.  ``send_data`` cuts
outgoing bytes into messages of at most ``MAX_VMC_CHUNK`` bytes.

``UsbredirChannel`` runs a ``UsbredirConnection`` (the host side: spicepy owns
the device) on that stream: incoming data feeds it, whatever it queues goes out
as DATA messages, and its events come out of ``next_event`` after the
channel's own.  The connection's hello is queued at construction and leaves
once the link completes.  A malformed usbredir stream fails the usbredir
connection (``UsbredirFailed``), not the SPICE channel, as in spice-gtk.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from spicepy.channels.base import Channel
from spicepy.channels.events import ChannelClosed, ChannelEvent
from spicepy.channels.usbredir import (
    DEFAULT_CAPS,
    UsbDeviceInfo,
    UsbredirConnection,
    UsbredirState,
)
from spicepy.errors import ProtocolError, SpiceError
from spicepy.wire import msg_other
from spicepy.wire.enums import ChannelType, DataCompressionType
from spicepy.wire.usbredir import MAX_PACKET_SIZE

__all__ = [
    "MAX_VMC_CHUNK",
    "SpicevmcChannel",
    "UsbredirChannel",
    "UsbredirFailed",
    "VmcDataReceived",
    "vmc_classes",
]

#: Bytes per outgoing DATA message (spice-gtk's usbredir writes whole packets;
#: a bound keeps a 128 MiB bulk transfer from becoming one message).
MAX_VMC_CHUNK = 64 * 1024


@dataclass(frozen=True, slots=True)
class VmcDataReceived(ChannelEvent):
    """Bytes from the chardev (only for channels that do not consume them)."""

    data: bytes


@dataclass(frozen=True, slots=True)
class UsbredirFailed(ChannelEvent):
    """The usbredir stream inside the channel broke (its error); the channel
    stays linked, later data is dropped."""

    error: str


def vmc_classes(channel_type: int) -> tuple[type[Any], type[Any], type[Any]]:
    """(server DATA, server COMPRESSED_DATA, client DATA) of a SpiceVMC channel,
    as ``wire.msg_other`` names them (``UsbredirData``, ``PortCData``...)."""
    prefix = ChannelType(channel_type).name.title()
    names = ("Data", "CompressedData", "CData")
    data, compressed, data_c = (getattr(msg_other, prefix + n) for n in names)
    return data, compressed, data_c


class SpicevmcChannel(Channel):
    """A SpiceVMC channel whose data arrives as ``VmcDataReceived`` events."""

    CHANNEL_TYPE: ClassVar[int] = ChannelType.PORT

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._data_cls, self._compressed_cls, self._data_c = vmc_classes(
            self.CHANNEL_TYPE
        )
        self.bytes_received = 0
        self.bytes_sent = 0

    def send_data(self, data: bytes | bytearray | memoryview) -> None:
        """Queue bytes for the chardev (in DATA messages of <= MAX_VMC_CHUNK)."""
        view = memoryview(data).cast("B")
        for pos in range(0, len(view), MAX_VMC_CHUNK):
            chunk = bytes(view[pos : pos + MAX_VMC_CHUNK])
            self.send_message(self._data_c(chunk))
            self.bytes_sent += len(chunk)

    def _handle(self, msg: Any, serial: int) -> None:
        if isinstance(msg, self._data_cls):
            data = bytes(msg.data)
        elif isinstance(msg, self._compressed_cls):
            if msg.type != DataCompressionType.NONE:
                raise ProtocolError(
                    f"compressed SpiceVMC data (type {msg.type}) we did not announce"
                )
            data = bytes(msg.compressed_data)
        else:
            self._other(msg, serial)
            return
        if data:
            self._on_data(data)
        self.bytes_received += len(data)  # after: a refused message counts nothing

    def _on_data(self, data: bytes) -> None:
        self._emit(VmcDataReceived(data))

    def _other(self, msg: Any, serial: int) -> None:
        super()._handle(msg, serial)


class UsbredirChannel(SpicevmcChannel):
    """SPICE_CHANNEL_USBREDIR with spicepy as the usbredir host.

    Args (beyond ``Channel``'s): ``usb_version`` (hello text), ``usb_caps``
    (usbredir capabilities), ``max_packet_size`` (usbredir packet cap).
    """

    CHANNEL_TYPE: ClassVar[int] = ChannelType.USBREDIR

    def __init__(
        self,
        *args: Any,
        usb_version: str = "spicepy",
        usb_caps: frozenset[int] = DEFAULT_CAPS,
        max_packet_size: int = MAX_PACKET_SIZE,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.usb = UsbredirConnection(
            host=True,
            version=usb_version,
            caps=usb_caps,
            max_packet_size=max_packet_size,
        )

    def connect_device(self, device: UsbDeviceInfo) -> None:
        """Plug ``device`` into the guest (after both hellos; see usbredir)."""
        self.usb.connect_device(device)
        self._pump()

    def disconnect_device(self) -> None:
        self.usb.disconnect_device()
        self._pump()

    def send_packet(self, packet: Any, packet_id: int = 0) -> None:
        """Queue a usbredir packet (answers carry the command's id)."""
        self.usb.send_packet(packet, packet_id)
        self._pump()

    def _on_linked(self) -> None:
        self._pump()

    def _on_data(self, data: bytes) -> None:
        if self.usb.state is UsbredirState.ERROR:
            return  # the stream broke earlier (UsbredirFailed): dropped
        try:
            self.usb.receive_data(data)
        except SpiceError as exc:
            # the SPICE message was fine, the usbredir stream inside is not:
            # like spice-gtk, the device fails and the channel stays up
            self._pump()
            self._emit(UsbredirFailed(str(exc)))
            return
        self._pump()

    def _eof(self) -> None:
        super()._eof()
        if self.usb.state is not UsbredirState.ERROR:
            self.usb.receive_data(b"")
        self._pump()

    def _pump(self) -> None:
        """Move the usbredir side's events here and its bytes onto the wire."""
        while (ev := self.usb.next_event()) is not None:
            if not isinstance(ev, ChannelClosed):
                self._emit(ev)
        if self.linked:
            out = self.usb.data_to_send()
            if out:
                self.send_data(out)
