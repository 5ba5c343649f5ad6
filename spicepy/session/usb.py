"""USB redirection in a session: ``Session.usb``.

Theory of operation: every USBREDIR channel the server lists (QEMU: one per
``usb-redir`` device, spice-gtk's "redirection slots") carries one usbredir
connection, with spicepy as the host side (``channels.spicevmc.UsbredirChannel``).
``redirect(device)`` takes a linked channel whose guest hello has arrived and
no device, sends the device's connect sequence and returns a
``RedirectedDevice``.  From then on every packet the guest sends on that
channel goes to ``device.handle`` (run inside the connection's pump, like the
core's handlers) and its answers go straight back; unsolicited packets (a
keyboard's reports) go out with ``RedirectedDevice.send``.  ``release()`` sends
device_disconnect and waits for the guest's ack.

The guest's side shows as session events (from ``Session.events()``):
``UsbDeviceReset`` for each port reset it does, ``UsbDeviceError`` when the
device raised, the guest's filter rejected it, or the channel died.  Waits go
through ``Session._wait`` with the channel's connection, so they end early when
it closes and always have a timeout.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from spicepy.channels.spicevmc import UsbredirFailed
from spicepy.channels.usbredir import (
    DeviceDisconnected,
    HelloReceived,
    PacketReceived,
    UsbDeviceInfo,
    UsbredirClosed,
    UsbredirState,
)
from spicepy.errors import SessionError, SpiceError
from spicepy.session.core import ChannelKey, channel_name
from spicepy.session.hidkeys import USAGE_TO_SCANCODE
from spicepy.session.keymap import text_strokes
from spicepy.usb.hid import LEFT_SHIFT, HidKeyboard
from spicepy.wire import usbredir as u
from spicepy.wire.enums import ChannelType

if TYPE_CHECKING:
    from spicepy.session.connection import ChannelConnection
    from spicepy.session.session import Session

log = logging.getLogger(__name__)

__all__ = [
    "RedirectedDevice",
    "UsbDevice",
    "UsbDeviceError",
    "UsbDeviceReleased",
    "UsbDeviceReset",
    "UsbRedirection",
    "text_usages",
]

USBREDIR = ChannelType.USBREDIR
Answer = list[tuple[Any, int]]
#: pause between two keyboard reports: the guest polls the interrupt endpoint
#: every bInterval (10 ms) and QEMU's usb-redir queues only a few reports
KEY_INTERVAL = 0.02
#: Linux's usbhid drops the reports of its first 50 ms after it opens a device
#: (``usbhid_open``: HID_RESUME_RUNNING); with TCG's slow clock 6 reports sent
#: at once were lost, every time: typing starts this long after polling did
POLLING_SETTLE = 0.5

#: set-1 scancode -> HID usage (``hidkeys``' table turned round; where two
#: usages share a key, e.g. backslash and the ISO "non-US #", the lower one)
USAGE_BY_SCANCODE = {
    code: usage for usage, code in sorted(USAGE_TO_SCANCODE.items(), reverse=True)
}


def text_usages(text: str) -> list[tuple[int, bool]]:
    """(HID usage, needs shift) per character of ``text`` on a US layout.

    Raises:
        ValueError: a character has no key on a US keyboard.
    """
    return [(USAGE_BY_SCANCODE[code], sh) for code, sh in text_strokes(text)]


class UsbDevice(Protocol):
    """What ``redirect`` accepts: ``spicepy.usb.hid.HidKeyboard``,
    ``spicepy.usb.storage.MassStorage``, ``spicepy.usb.host.HostDevice``.  A
    device that answers later (from a thread) also has ``attach(send)`` and
    is given ``RedirectedDevice.send_threadsafe``."""

    @property
    def device_info(self) -> UsbDeviceInfo: ...

    def handle(self, event: PacketReceived) -> Answer: ...


@dataclass(frozen=True, slots=True)
class UsbDeviceReset:
    """Session event: the guest reset the device (at attach, or to recover)."""

    channel: ChannelKey
    device: UsbDeviceInfo


@dataclass(frozen=True, slots=True)
class UsbDeviceError:
    """Session event: the device failed, the guest refused it, or its channel died."""

    channel: ChannelKey
    device: UsbDeviceInfo
    error: str


@dataclass(frozen=True, slots=True)
class UsbDeviceReleased:
    """Session event: the guest acknowledged the disconnect (or the channel closed)."""

    channel: ChannelKey
    device: UsbDeviceInfo


class RedirectedDevice:
    """One device plugged into the guest through one USBREDIR channel."""

    def __init__(
        self, usb: UsbRedirection, key: ChannelKey, conn: ChannelConnection, dev: Any
    ) -> None:
        self._usb = usb
        self.channel = key
        self.conn = conn
        self.device: UsbDevice = dev
        #: guest resets seen (QEMU resets the port at attach)
        self.resets = 0
        #: packets the guest sent to the device
        self.packets = 0
        #: the first failure (device exception, filter reject, channel closed)
        self.error: str | None = None
        #: the guest has acknowledged the disconnect (or the channel closed)
        self.released = False
        #: loop time the guest started polling an interrupt endpoint (None: not)
        self.polling_since: float | None = None
        self._loop = asyncio.get_running_loop()

    def send(self, answers: Answer) -> None:
        """Queue packets the device sends unasked (``(packet, id)`` pairs)."""
        if self.released:
            raise SessionError("the device was released")
        machine: Any = self.conn.machine
        for packet, packet_id in answers:
            self.conn.call(machine.send_packet, packet, packet_id)

    def send_threadsafe(self, answers: Answer) -> None:
        """``send`` from another thread (a host device's transfer threads);
        dropped once the device is released or the session's loop is gone."""
        try:
            self._loop.call_soon_threadsafe(self._send_late, answers)
        except RuntimeError:  # the loop is closed
            pass

    def _send_late(self, answers: Answer) -> None:
        if self.released or self.conn.closed.is_set():
            return
        try:
            self.send(answers)
        except SpiceError as exc:
            self._usb._fail(self, f"sending the device's answer failed: {exc}")

    async def release(self, timeout: float = 10.0) -> None:
        """Unplug the device; returns once the guest has acknowledged it.

        Raises:
            SpiceTimeoutError: no acknowledgement within ``timeout`` seconds.
        """
        if self.released:
            return
        machine: Any = self.conn.machine
        usb = machine.usb
        if usb.state is UsbredirState.READY and usb.device is not None:
            self.conn.call(machine.disconnect_device)
        elif usb.state is not UsbredirState.READY:
            self.released = True  # a broken or closed stream has no device
        await self._usb._session._wait(
            lambda: self.released or self.conn.closed.is_set(),
            timeout,
            f"the guest to release the device on {channel_name(self.channel)}",
            conn=self.conn,
        )
        self.released = True  # acknowledged, or the channel closed: unplugged
        self._usb._done(self)

    def __repr__(self) -> str:
        info = self.device.device_info
        return (
            f"<RedirectedDevice {info.vendor_id:04x}:{info.product_id:04x} "
            f"on {channel_name(self.channel)}{' released' if self.released else ''}>"
        )


class UsbRedirection:
    """The session's usbredir slots (``connect(usbredir=True)`` links them)."""

    def __init__(self, session: Session) -> None:
        self._session = session
        #: channel -> the device plugged in through it
        self.devices: dict[ChannelKey, RedirectedDevice] = {}
        #: channels whose guest hello arrived (usbredir version text)
        self.guests: dict[ChannelKey, str] = {}
        core = session.core
        core.on_event(HelloReceived, self._hello)
        core.on_event(PacketReceived, self._packet)
        core.on_event(DeviceDisconnected, self._disconnected)
        core.on_event(UsbredirClosed, self._closed)
        core.on_event(UsbredirFailed, self._broken)

    # -- the API -----------------------------------------------------------------
    @property
    def channels(self) -> list[ChannelKey]:
        """The linked USBREDIR channels (free or busy)."""
        return [k for k in self._session.connections if k[0] == USBREDIR]

    def free_channels(self) -> list[ChannelKey]:
        """Channels ready for a device: guest hello in, no device, still open."""
        return [
            key
            for key, conn in self._session.connections.items()
            if key[0] == USBREDIR
            and key not in self.devices
            and not conn.closed.is_set()
            and self._machine(conn).usb.state is UsbredirState.READY
            and self._machine(conn).usb.device is None
        ]

    async def redirect(
        self, device: UsbDevice, *, timeout: float = 10.0
    ) -> RedirectedDevice:
        """Plug ``device`` into the guest through a free usbredir channel.

        Waits (up to ``timeout``) for a channel whose guest side has said hello.

        Raises:
            SessionError: no USBREDIR channel (``connect(usbredir=True)``; the
                server must offer one).
            SpiceTimeoutError: every channel stayed busy or silent.
        """
        if not self.channels:
            raise SessionError(
                "no usbredir channel (connect with usbredir=True; the server "
                "must offer one, e.g. QEMU -device usb-redir)"
            )
        await self._session._wait(
            lambda: bool(self.free_channels()), timeout, "a free usbredir channel"
        )
        key = self.free_channels()[0]
        conn = self._session.connections[key]
        handle = RedirectedDevice(self, key, conn, device)
        self.devices[key] = handle
        attach = getattr(device, "attach", None)
        if attach is not None:  # answers from other threads (host devices)
            attach(handle.send_threadsafe)
        try:
            conn.call(self._machine(conn).connect_device, device.device_info)
        except BaseException:
            del self.devices[key]
            raise
        log.info("%s: redirected %r", channel_name(key), handle)
        return handle

    async def release(
        self, device: RedirectedDevice | None = None, *, timeout: float = 10.0
    ) -> None:
        """Unplug ``device`` (default: every redirected device)."""
        handles = [device] if device is not None else list(self.devices.values())
        for handle in handles:
            await handle.release(timeout)

    async def type_text(
        self,
        keyboard: RedirectedDevice,
        text: str,
        interval: float = KEY_INTERVAL,
        *,
        timeout: float = 30.0,
    ) -> None:
        """Type ``text`` (US layout) on a redirected ``HidKeyboard``: one report
        per key transition, ``interval`` s apart, once the guest has been
        polling the keyboard for ``POLLING_SETTLE`` s (waiting up to ``timeout``).

        Raises:
            SpiceTimeoutError: the guest did not start polling in time.
            TypeError: the device is not a HidKeyboard.
            ValueError: a character has no key on a US keyboard.
        """
        kbd = keyboard.device
        if not isinstance(kbd, HidKeyboard):
            raise TypeError(f"{type(kbd).__name__} is not a HidKeyboard")
        await self._session._wait(
            lambda: keyboard.polling_since is not None or keyboard.released,
            timeout,
            "the guest to poll the USB keyboard",
            conn=keyboard.conn,
        )
        if keyboard.polling_since is not None:
            settled = keyboard.polling_since + POLLING_SETTLE
            await asyncio.sleep(max(0.0, settled - asyncio.get_running_loop().time()))
        steps: list[tuple[int, bool]] = []
        for usage, shifted in text_usages(text):
            if shifted:
                steps.append((LEFT_SHIFT, True))
            steps += [(usage, True), (usage, False)]
            if shifted:
                steps.append((LEFT_SHIFT, False))
        for usage, down in steps:
            keyboard.send(kbd.key_down(usage) if down else kbd.key_up(usage))
            await asyncio.sleep(interval)

    # -- handlers (inside the connection's pump) ------------------------------------
    @staticmethod
    def _machine(conn: ChannelConnection) -> Any:
        return conn.machine

    def _hello(self, key: ChannelKey, event: HelloReceived, now: float) -> None:
        if key[0] == USBREDIR:
            self.guests[key] = event.version

    def _packet(self, key: ChannelKey, event: PacketReceived, now: float) -> None:
        handle = self.devices.get(key)
        if handle is None or handle.released:
            return  # late packets of a released device
        handle.packets += 1
        packet = event.packet
        info = handle.device.device_info
        if isinstance(packet, u.StartInterruptReceiving):
            handle.polling_since = now
        elif isinstance(packet, u.StopInterruptReceiving):
            handle.polling_since = None
        elif isinstance(packet, u.Reset):
            handle.polling_since = None
            handle.resets += 1
            self._session._publish(UsbDeviceReset(key, info))
        elif isinstance(packet, u.FilterReject):
            self._fail(handle, "the guest's usbredir filter rejected the device")
            return
        try:
            answers = handle.device.handle(event)
        except Exception as exc:  # the device's bug must not kill the channel
            log.exception("%s: device failed", channel_name(key))
            self._fail(handle, f"device error: {exc!r}")
            return
        if answers:
            handle.send(answers)

    def _disconnected(
        self, key: ChannelKey, event: DeviceDisconnected, now: float
    ) -> None:
        handle = self.devices.get(key)
        if handle is not None:
            self._released(handle)

    def _closed(self, key: ChannelKey, event: UsbredirClosed, now: float) -> None:
        handle = self.devices.get(key)
        if handle is not None:
            self._fail(handle, "the usbredir channel closed")
            self._released(handle)

    def _broken(self, key: ChannelKey, event: UsbredirFailed, now: float) -> None:
        handle = self.devices.get(key)
        if handle is not None:
            self._fail(handle, f"usbredir stream broke: {event.error}")
            self._released(handle)
        else:
            log.warning("%s: usbredir stream broke: %s", channel_name(key), event.error)

    def _fail(self, handle: RedirectedDevice, error: str) -> None:
        if handle.error is None:
            handle.error = error
        log.warning("%s: %s", channel_name(handle.channel), error)
        self._session._publish(
            UsbDeviceError(handle.channel, handle.device.device_info, error)
        )

    def _released(self, handle: RedirectedDevice) -> None:
        if not handle.released:
            handle.released = True
            self._session._publish(
                UsbDeviceReleased(handle.channel, handle.device.device_info)
            )
        self._done(handle)

    def _done(self, handle: RedirectedDevice) -> None:
        if self.devices.get(handle.channel) is handle:
            del self.devices[handle.channel]
