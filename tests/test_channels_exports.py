"""spicepy.channels exports every event a channel machine emits (what
``Session.events()`` yields), each as the one class its module defines; the
usbredir protocol's events stay in ``channels.usbredir`` (session.usb uses them)."""

from __future__ import annotations

import importlib
import pkgutil

import spicepy.channels as channels
from spicepy.channels.events import ChannelEvent

#: modules whose events are not re-exported (the usbredir protocol's own)
NOT_REEXPORTED = {"spicepy.channels.usbredir"}


def defined_events() -> dict[str, type]:
    found: dict[str, type] = {}
    for info in pkgutil.iter_modules(channels.__path__, "spicepy.channels."):
        module = importlib.import_module(info.name)
        if info.name in NOT_REEXPORTED:
            continue
        for name, value in vars(module).items():
            if (
                isinstance(value, type)
                and issubclass(value, ChannelEvent)
                and value is not ChannelEvent
                and value.__module__ == info.name
            ):
                assert name not in found, f"{name} defined twice"
                found[name] = value
    return found


def test_every_channel_event_is_exported_once() -> None:
    events = defined_events()
    assert {"ClipboardGrabbed", "AudioStarted", "RecordStarted", "PortDataReceived",
            "VmcDataReceived", "CursorMoved"} <= set(events)  # fmt: skip
    missing = sorted(set(events) - set(channels.__all__))
    assert missing == []
    for name, cls in events.items():
        assert getattr(channels, name) is cls  # the module's class, not a copy
    assert len(channels.__all__) == len(set(channels.__all__))
    namespace: dict[str, object] = {}
    exec("from spicepy.channels import *", namespace)
    assert set(channels.__all__) <= set(namespace)
