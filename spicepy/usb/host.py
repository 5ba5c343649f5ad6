"""A USB device of this machine redirected through libusb (pyusb).

Theory of operation (usbredir's ``usbredirhost.c`` does this in C for spice-gtk):
the device's active configuration becomes the ``UsbDeviceInfo`` the guest sees;
its interfaces are taken from their kernel drivers and claimed.  Requests the
guest sends are carried out on the real device: configuration and alternate
settings at once, control / bulk / interrupt transfers on worker threads (one
per endpoint, so each endpoint keeps its order while a long bulk IN waits),
whose answers reach the channel through the ``send`` that ``attach`` was given
(``RedirectedDevice.send_threadsafe``).  START_INTERRUPT_RECEIVING starts a
thread that reads the endpoint until STOP.  libusb errors become usbredir
statuses (timeout, stall, I/O error).  Isochronous transfers and bulk streams
are refused (pyusb has neither).

Needs the ``usb`` extra (``pip install spicepy[usb]``: pyusb over libusb-1.0)
and permission to open the device (root or a udev rule).
"""

from __future__ import annotations

import errno
import logging
import queue
import threading
from collections.abc import Callable, Sequence
from typing import Any

from spicepy.channels.usbredir import (
    PacketReceived,
    UsbDeviceInfo,
    UsbEndpoint,
    UsbInterface,
)
from spicepy.errors import SessionError
from spicepy.usb.filter import FilterRule, FilterVerdict, check_filter
from spicepy.wire import usbredir as u
from spicepy.wire.usbredir import UsbredirStatus as Status
from spicepy.wire.usbredir import UsbSpeed, UsbTransferType

log = logging.getLogger(__name__)

__all__ = ["HostDevice", "describe", "host_devices", "open_host_devices"]

Answer = list[tuple[Any, int]]
Send = Callable[[Answer], None]
#: libusb_speed (1 low, 2 full, 3 high, 4 super, 5 super+) -> usbredir speed
_SPEEDS = {1: UsbSpeed.LOW, 2: UsbSpeed.FULL, 3: UsbSpeed.HIGH, 4: UsbSpeed.SUPER}
#: how long one interrupt read waits before it looks for STOP again (ms)
POLL_MS = 200
#: a control or OUT transfer that takes longer failed (ms; usbredirhost: none,
#: the guest cancels; a bound keeps a dead device from pinning a thread)
TRANSFER_MS = 10_000


def _pyusb() -> Any:
    try:
        import usb.core
        import usb.util
    except ImportError:
        raise SessionError(
            "host USB devices need pyusb (pip install spicepy[usb])"
        ) from None
    return usb


def describe(dev: Any) -> UsbDeviceInfo:
    """What the guest will see of a pyusb device (its active configuration)."""
    try:
        config = dev.get_active_configuration()
    except Exception:  # unconfigured: describe the first configuration
        config = dev[0]
    interfaces = []
    for intf in config:
        if intf.bAlternateSetting:
            continue
        eps = tuple(
            UsbEndpoint(
                ep.bEndpointAddress,
                UsbTransferType(ep.bmAttributes & 3),
                ep.wMaxPacketSize,
                ep.bInterval,
            )
            for ep in intf
        )
        interfaces.append(
            UsbInterface(
                intf.bInterfaceNumber,
                intf.bInterfaceClass,
                intf.bInterfaceSubClass,
                intf.bInterfaceProtocol,
                eps,
            )
        )
    return UsbDeviceInfo(
        dev.idVendor,
        dev.idProduct,
        tuple(interfaces),
        dev.bDeviceClass,
        dev.bDeviceSubClass,
        dev.bDeviceProtocol,
        dev.bcdDevice,
        _SPEEDS.get(dev.speed or 0, UsbSpeed.UNKNOWN),
        dev.bMaxPacketSize0,
    )


def host_devices() -> list[Any]:
    """Every USB device libusb sees here (pyusb ``Device`` objects).

    Raises:
        SessionError: pyusb or its libusb backend is missing.
    """
    usb = _pyusb()
    try:
        return list(usb.core.find(find_all=True))
    except usb.core.NoBackendError:
        raise SessionError(
            "pyusb found no libusb (apt-get install libusb-1.0-0)"
        ) from None


def open_host_devices(
    ids: Sequence[tuple[int, int]], rules: Sequence[FilterRule] = ()
) -> list[tuple[str, HostDevice]]:
    """Open the host devices named by vendor:product, plus every one ``rules``
    allow (remote-viewer's auto-redirect filter; hubs are never taken).

    Raises:
        ValueError: no device with one of ``ids``.
        SessionError: pyusb missing, or a device cannot be opened or claimed.
    """
    found = host_devices()
    chosen = []
    for vid, pid in ids:
        match = [d for d in found if (d.idVendor, d.idProduct) == (vid, pid)]
        if not match:
            raise ValueError(f"no USB device {vid:04x}:{pid:04x} on this machine")
        chosen += [d for d in match if d not in chosen]
    if rules:
        for dev in found:
            if dev in chosen or dev.bDeviceClass == 0x09:  # hub
                continue
            if check_filter(rules, describe(dev)) is FilterVerdict.ALLOW:
                chosen.append(dev)
    out = []
    try:
        for dev in chosen:
            desc = (
                f"host device {dev.idVendor:04x}:{dev.idProduct:04x} "
                f"(bus {dev.bus} address {dev.address})"
            )
            out.append((desc, HostDevice(dev)))
    except BaseException:
        for _, opened in out:
            opened.close()
        raise
    return out


def _status(exc: Exception) -> int:
    """usbredir status for a libusb failure (usbredirhost's mapping)."""
    code = getattr(exc, "errno", None)
    if code == errno.ETIMEDOUT or type(exc).__name__ == "USBTimeoutError":
        return Status.TIMEOUT
    if code == errno.EPIPE:
        return Status.STALL
    if code == errno.EOVERFLOW:
        return Status.BABBLE
    return Status.IOERROR


class HostDevice:
    """A pyusb device answering the guest through usbredir (see the module doc).

    Raises (constructor):
        SessionError: the device cannot be opened, or an interface claimed.
    """

    def __init__(self, dev: Any) -> None:
        self._usb = _pyusb()
        self.dev = dev
        self.device_info = describe(dev)
        self._send: Send | None = None
        self._workers: dict[int, _Worker] = {}
        self._receiving: dict[int, threading.Event] = {}
        self._detached: list[int] = []
        self._claimed: list[int] = []
        self._next_id = 1 << 62  # ids of unasked interrupt data (no guest id clash)
        self._lock = threading.Lock()
        try:
            for intf in self.device_info.interfaces:
                n = intf.number
                if dev.is_kernel_driver_active(n):
                    dev.detach_kernel_driver(n)
                    self._detached.append(n)
                self._usb.util.claim_interface(dev, n)
                self._claimed.append(n)
        except self._usb.core.USBError as exc:
            self.close()
            raise SessionError(f"cannot take USB device: {exc}") from exc

    def attach(self, send: Send) -> None:
        """Where answers of background transfers go (callable from any thread)."""
        self._send = send

    # -- the guest's requests ----------------------------------------------------
    def handle(self, event: PacketReceived) -> Answer:
        p, pid = event.packet, event.id
        usb_error = self._usb.core.USBError
        if isinstance(p, u.SetConfiguration):
            try:
                self.dev.set_configuration(p.configuration)
                return [(u.ConfigurationStatus(Status.SUCCESS, p.configuration), pid)]
            except usb_error as exc:
                return [(u.ConfigurationStatus(_status(exc), 0), pid)]
        if isinstance(p, u.GetConfiguration):
            try:
                value = self.dev.get_active_configuration().bConfigurationValue
            except usb_error:
                value = 0
            return [(u.ConfigurationStatus(Status.SUCCESS, value), pid)]
        if isinstance(p, u.SetAltSetting):
            try:
                self.dev.set_interface_altsetting(p.interface, p.alt)
                return [(u.AltSettingStatus(Status.SUCCESS, p.interface, p.alt), pid)]
            except usb_error as exc:
                return [(u.AltSettingStatus(_status(exc), p.interface, 0), pid)]
        if isinstance(p, u.GetAltSetting):
            return [(u.AltSettingStatus(Status.SUCCESS, p.interface, 0), pid)]
        if isinstance(p, u.Reset):
            self._stop_receiving()
            try:
                self.dev.reset()
            except usb_error as exc:
                log.warning("USB reset failed: %s", exc)
            return []
        if isinstance(p, u.StartInterruptReceiving):
            self._start_receiving(p.endpoint)
            return [(u.InterruptReceivingStatus(Status.SUCCESS, p.endpoint), pid)]
        if isinstance(p, u.StopInterruptReceiving):
            stop = self._receiving.pop(p.endpoint, None)
            if stop is not None:
                stop.set()
            return [(u.InterruptReceivingStatus(Status.SUCCESS, p.endpoint), pid)]
        if isinstance(p, u.StartIsoStream):
            return [(u.IsoStreamStatus(Status.INVAL, p.endpoint), pid)]
        if isinstance(p, u.AllocBulkStreams):
            return [(u.BulkStreamsStatus(p.endpoints, 0, Status.INVAL), pid)]
        if isinstance(p, u.IsoPacket):
            return [(u.IsoPacket(p.endpoint, Status.INVAL, 0, b""), pid)]
        if isinstance(p, u.ControlPacket):
            self._submit(0, lambda: self._control(p), pid)
        elif isinstance(p, u.BulkPacket | u.InterruptPacket):
            self._submit(p.endpoint, lambda: self._transfer(p), pid)
        return []  # cancel (a libusb transfer in pyusb cannot be), filters

    # -- transfers (worker threads) --------------------------------------------------
    def _submit(self, endpoint: int, work: Callable[[], Any], pid: int) -> None:
        worker = self._workers.get(endpoint)
        if worker is None:
            worker = self._workers[endpoint] = _Worker(f"spicepy-usb-{endpoint:02x}")

        def run() -> None:
            answer = work()
            if self._send is not None:
                self._send([(answer, pid)])

        worker.submit(run)

    def _control(self, p: u.ControlPacket) -> u.ControlPacket:
        data_in = bool(p.requesttype & 0x80)
        try:
            got = self.dev.ctrl_transfer(
                p.requesttype,
                p.request,
                p.value,
                p.index,
                p.length if data_in else p.data,
                TRANSFER_MS,
            )
        except self._usb.core.USBError as exc:
            return _control(p, _status(exc), b"", 0)
        if data_in:
            data = bytes(got)
            return _control(p, Status.SUCCESS, data, len(data))
        return _control(p, Status.SUCCESS, b"", int(got))

    def _transfer(self, p: u.BulkPacket | u.InterruptPacket) -> Any:
        data_in = bool(p.endpoint & 0x80)
        length = p.total_length if isinstance(p, u.BulkPacket) else p.length
        try:
            if data_in:
                # no time limit, as usbredirhost: the guest cancels what it stops
                # waiting for (a mass-storage read may wait for the medium)
                data = bytes(self.dev.read(p.endpoint, length, 0))
                return _reply(p, Status.SUCCESS, data, len(data))
            written = self.dev.write(p.endpoint, p.data, TRANSFER_MS)
            return _reply(p, Status.SUCCESS, b"", int(written))
        except self._usb.core.USBError as exc:
            return _reply(p, _status(exc), b"", 0)

    def _start_receiving(self, endpoint: int) -> None:
        if endpoint in self._receiving:
            return
        stop = self._receiving[endpoint] = threading.Event()
        size = next(
            (
                ep.max_packet_size
                for intf in self.device_info.interfaces
                for ep in intf.endpoints
                if ep.address == endpoint
            ),
            64,
        )
        threading.Thread(
            target=self._receive,
            args=(endpoint, size, stop),
            name=f"spicepy-usb-int-{endpoint:02x}",
            daemon=True,
        ).start()

    def _receive(self, endpoint: int, size: int, stop: threading.Event) -> None:
        usb = self._usb
        while not stop.is_set():
            try:
                data = bytes(self.dev.read(endpoint, size, POLL_MS))
                status: int = Status.SUCCESS
            except usb.core.USBError as exc:
                status = _status(exc)
                if status == Status.TIMEOUT:
                    continue
                data = b""
                stop.set()  # usbredirhost reports the error once and stops
            with self._lock:
                self._next_id += 1
                pid = self._next_id
            if self._send is not None and not (stop.is_set() and status == 0):
                # (data read after STOP is dropped, as usbredirhost cancels it)
                self._send(
                    [(u.InterruptPacket(endpoint, status, len(data), data), pid)]
                )

    def _stop_receiving(self) -> None:
        for stop in self._receiving.values():
            stop.set()
        self._receiving.clear()

    def close(self) -> None:
        """Stop every transfer thread; give the interfaces back to the kernel."""
        self._stop_receiving()
        for worker in self._workers.values():
            worker.stop()
        self._workers.clear()
        usb = self._usb
        for n in self._claimed:
            try:
                usb.util.release_interface(self.dev, n)
            except usb.core.USBError:
                pass
        for n in self._detached:
            try:
                self.dev.attach_kernel_driver(n)
            except usb.core.USBError:
                log.warning("could not give interface %d back to its driver", n)
        self._claimed, self._detached = [], []
        usb.util.dispose_resources(self.dev)


class _Worker:
    """One endpoint's transfers, in order, on a daemon thread (a bulk IN that
    waits forever must not keep the process from exiting)."""

    def __init__(self, name: str) -> None:
        self._jobs: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        threading.Thread(target=self._run, name=name, daemon=True).start()

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:
            try:
                job()
            except Exception:  # a bug in one answer must not end the endpoint
                log.exception("USB transfer failed")

    def submit(self, job: Callable[[], None]) -> None:
        self._jobs.put(job)

    def stop(self) -> None:
        self._jobs.put(None)


def _control(
    p: u.ControlPacket, status: int, data: bytes, length: int
) -> u.ControlPacket:
    return u.ControlPacket(
        p.endpoint, p.request, p.requesttype, status, p.value, p.index, length, data
    )


def _reply(
    p: u.BulkPacket | u.InterruptPacket, status: int, data: bytes, length: int
) -> Any:
    if isinstance(p, u.BulkPacket):
        return u.BulkPacket(
            p.endpoint, status, length & 0xFFFF, p.stream_id, length >> 16, data
        )
    return u.InterruptPacket(p.endpoint, status, length, data)
