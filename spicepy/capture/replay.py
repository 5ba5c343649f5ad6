"""Offline replay: a capture's display channels through the live pipeline.

Theory of operation: every display channel of the capture gets a real
``spicepy.channels.DisplayChannel`` built with the client's link capabilities
(``capture.streams.channel_machine``).
The recorded server bytes, link reply included, are fed to it TCP segment by
TCP segment, in capture-time order across channels, so the machine links,
frames, acknowledges and decodes exactly as it would live (what it queues for
the server is discarded).  Its events go to one ``SessionCore`` with the
capture time as ``now``: the same drivers, shared caches, hold queue (a
message that names another channel's image waits for it) and change list as a
live session.  The capture has no main channel here, so the multimedia clock is
never set and video frames are shown as they arrive.  Messages the canvas
refuses are counted in ``ReplayResult.errors``, as a live session drops them.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from spicepy.capture.streams import channel_machine, read_channels
from spicepy.errors import SpiceError
from spicepy.session.core import DisplayDriver, SessionCore
from spicepy.wire.enums import ChannelType

__all__ = ["ReplayResult", "replay", "server_segments"]


@dataclass(slots=True)
class ReplayResult:
    """What a replay produced."""

    core: SessionCore
    #: messages the display machines received (a LIST counts once)
    messages: int = 0
    #: "<message class>: <why>" -> display messages dropped, and channel errors
    errors: Counter[str] = field(default_factory=Counter)
    #: seconds spent in the display pipeline (reading the capture excluded)
    seconds: float = 0.0
    #: seconds spent reading the capture file
    read_seconds: float = 0.0
    #: display channels ("display#ID") whose bytes stop at a hole in the capture:
    #: what follows the hole is missing, so the result is incomplete
    gaps: list[str] = field(default_factory=list)

    @property
    def drivers(self) -> dict[int, DisplayDriver]:
        return self.core.drivers

    @property
    def primary(self) -> npt.NDArray[np.uint8] | None:
        """The first display channel's primary surface as (h, w, 3) RGB, or None."""
        driver = self.core.primary_driver()
        if driver is None or driver.canvas.primary is None:
            return None
        return driver.canvas.primary.rgb()

    @property
    def pixels_drawn(self) -> int:
        return sum(d.canvas.pixels_drawn for d in self.drivers.values())

    @property
    def codec_seconds(self) -> float:
        """Time spent inside image and video decoders."""
        return sum(
            d.canvas.images.decode_seconds + d.streams.decode_seconds
            for d in self.drivers.values()
        )


def server_segments(channels: Sequence[Any]) -> list[tuple[float, int, int, int]]:
    """(capture time, channel index, start, end) of every server segment of
    ``channels`` (``read_channels``' streams), in capture order (ties by
    channel index): the order replay feeds them in.

    A channel's segments stay in stream order: reassembly orders them by
    sequence number, and one that overtook an earlier one on the wire has
    the smaller capture time; it counts from the latest time before it (TCP
    hands later bytes over only once the earlier ones came)."""
    segments: list[tuple[float, int, int, int]] = []
    for index, ch in enumerate(channels):
        times = ch.times or [(0, 0.0)]
        ends = [offset for offset, _ in times[1:]] + [len(ch.to_client)]
        latest = float("-inf")
        for (offset, when), end in zip(times, ends, strict=True):
            latest = max(latest, when)
            if end > offset:
                segments.append((latest, index, offset, end))
    segments.sort(key=lambda s: (s[0], s[1]))
    return segments


def replay(
    path: str | Path,
    *,
    on_batch: Callable[[DisplayDriver, int], None] | None = None,
    lane: bool = True,
) -> ReplayResult:
    """Replay every display channel of a capture.

    Args:
        path: the pcap / pcapng file.
        on_batch: called (driver with the primary, batch number) after each
            batch of segments with one capture time that changed the primary
            surface.
        lane: let each display machine's lane (``SessionCore.display_lane``)
            apply the common draws; False: every message takes the general
            path (same pixels, counts and changes).

    Raises:
        WireError: the capture cannot be read.
        OSError: the file cannot be read.
    """
    started = time.perf_counter()
    channels = [
        ch
        for ch in read_channels(Path(path))
        if ch.channel_type == ChannelType.DISPLAY and ch.to_client and not ch.refused
    ]
    read_done = time.perf_counter()
    core = SessionCore()
    # what CHANNELS_LIST announced, as far as the capture shows
    core.channels_list = [(ch.channel_type, ch.channel_id) for ch in channels]
    result = ReplayResult(core, read_seconds=read_done - started)
    result.gaps = [f"display#{ch.channel_id}" for ch in channels if ch.gap]
    machines = [channel_machine(ch) for ch in channels]
    lanes = [core.display_lane(ch.channel_id) if lane else None for ch in channels]
    for machine, display_lane in zip(machines, lanes, strict=True):
        machine.set_lane(display_lane)
    segments = server_segments(channels)
    views = [memoryview(ch.to_client) for ch in channels]
    keys = [(int(ChannelType.DISPLAY), ch.channel_id) for ch in channels]
    failed: set[int] = set()
    handle_event = core.handle_event
    batch, last_time, seen = 0, None, core.change_count
    for when, index, start, end in segments:
        if when != last_time:
            if last_time is not None and core.change_count != seen:
                _batch_done(core, on_batch, batch)
                batch += 1
                seen = core.change_count
            last_time = when
        if index in failed:
            continue
        machine, key, display_lane = machines[index], keys[index], lanes[index]
        if display_lane is not None:
            display_lane.now = when
        next_event, feed = machine.next_event, machine.receive_data
        data: memoryview | None = views[index][start:end]
        while True:
            try:
                # then read on where the lane stopped the machine, until it did not
                if data is not None:
                    feed(data)
                    data = None
                elif index in failed or not machine.resume():
                    break
            except SpiceError as exc:  # the channel is dead from here on, as live
                result.errors[f"channel {key[1]}: {type(exc).__name__}: {exc}"] += 1
                failed.add(index)
            while (event := next_event()) is not None:
                handle_event(key, event, when)
        machine.data_to_send()  # ACKs and PONGs for a server that is not there
        core.messages_to_send()  # STREAM_REPORTs likewise
    core.drop_held()  # what never became drawable: spice-gtk would drop it too
    if core.change_count != seen:
        _batch_done(core, on_batch, batch)
    result.messages = sum(m.messages_received for m in machines)
    result.errors.update(core.dropped)
    result.seconds = time.perf_counter() - read_done
    return result


def _batch_done(
    core: SessionCore, on_batch: Callable[[DisplayDriver, int], None] | None, n: int
) -> None:
    if on_batch is not None:
        driver = core.primary_driver()
        if driver is not None:
            on_batch(driver, n)
