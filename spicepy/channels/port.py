"""Port channel (SPICE_CHANNEL_PORT): a named QEMU spiceport chardev as bytes.

Theory of operation (spice.proto ``channel PortChannel``, spice-gtk
``channel-port.c``, spice-server ``spicevmc.c``): one channel per spiceport.
Right after the link the server sends PORT_INIT with the port's name and
whether the guest side is open; PORT_EVENT then reports OPENED/CLOSED (and
BREAK) as the guest opens and closes its virtio-serial port.  Data flows both
ways as SpiceVMC DATA (``SpicevmcChannel``); the client reports its own side with
PORT_EVENT OPENED/CLOSED (``send_port_event``).  A second INIT, or an EVENT or
data before INIT, breaks that order and is a ProtocolError.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from spicepy.channels.events import ChannelEvent
from spicepy.channels.spicevmc import SpicevmcChannel
from spicepy.errors import ProtocolError
from spicepy.wire import msg_other
from spicepy.wire.enums import ChannelType, PortEvent

__all__ = [
    "PortChannel",
    "PortInitReceived",
    "PortEventReceived",
    "PortDataReceived",
]


@dataclass(frozen=True, slots=True)
class PortInitReceived(ChannelEvent):
    name: str
    opened: bool  # the guest side is open


@dataclass(frozen=True, slots=True)
class PortEventReceived(ChannelEvent):
    event: int  # PortEvent (unknown values are passed on)


@dataclass(frozen=True, slots=True)
class PortDataReceived(ChannelEvent):
    data: bytes


def _port_classes(channel_type: int) -> tuple[type[Any], type[Any], type[Any]]:
    """(server INIT, server EVENT, client EVENT) as ``wire.msg_other`` declares them."""
    prefix = ChannelType(channel_type).name.title()
    init, event, event_c = (
        getattr(msg_other, prefix + n) for n in ("Init", "Event", "EventC")
    )
    return init, event, event_c


class PortChannel(SpicevmcChannel):
    """Sans-IO port channel; ``name`` and ``guest_opened`` follow the server."""

    CHANNEL_TYPE: ClassVar[int] = ChannelType.PORT

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._init_cls, self._event_cls, self._event_c = _port_classes(
            self.CHANNEL_TYPE
        )
        self.name: str | None = None
        self.guest_opened = False

    def send_port_event(self, event: PortEvent) -> None:
        """Tell the server our side opened or closed (spice-gtk ``port_event``)."""
        self.send_message(self._event_c(int(event)))

    def _on_data(self, data: bytes) -> None:
        if self.name is None:
            raise ProtocolError("port data before PORT_INIT")
        self._emit(PortDataReceived(data))

    def _other(self, msg: Any, serial: int) -> None:
        if isinstance(msg, self._init_cls):
            if self.name is not None:
                raise ProtocolError("second PORT_INIT")
            raw = bytes(msg.name or b"")
            # spice-server sends strlen + 1 bytes: the NUL is not part of the name
            self.name = raw.split(b"\0", 1)[0].decode("utf-8", "replace")
            self.guest_opened = bool(msg.opened)
            self._emit(PortInitReceived(self.name, self.guest_opened))
        elif isinstance(msg, self._event_cls):
            if self.name is None:
                raise ProtocolError("PORT_EVENT before PORT_INIT")
            if msg.event == PortEvent.OPENED:
                self.guest_opened = True
            elif msg.event == PortEvent.CLOSED:
                self.guest_opened = False
            self._emit(PortEventReceived(msg.event))
        else:
            super()._other(msg, serial)
