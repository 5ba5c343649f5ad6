"""Stub of the compiled display lane (``_lane.pyx``)."""

from collections.abc import Callable

from spicepy.wire._decode import Lane

class DisplayLane(Lane):
    clock: Callable[[], float] | None
    now: float
    observer: object | None
    taken: int
    def __init__(
        self,
        core: object,
        channel_id: int,
        max_changes: int,
        clock: Callable[[], float] | None = None,
        observer: object | None = None,
    ) -> None: ...
