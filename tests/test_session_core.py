"""SessionCore without I/O: display messages that wait for another display
channel's image (hold and retry), drops, and the change counter."""

from __future__ import annotations

import asyncio
import collections
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Any

import pytest

from spicepy.canvas.images import ImageNotReady
from spicepy.channels.events import MessageReceived
from spicepy.errors import SpiceTimeoutError
from spicepy.session.core import HOLD_SECONDS, ChangedRect, SessionCore
from spicepy.session.session import Session
from spicepy.session.uri import SpiceUri
from spicepy.wire import msg_display as md
from spicepy.wire.enums import BrushType, ChannelType
from spicepy.wire.types import CLIP_NONE, QMASK_NONE, Brush, DisplayBase, Rect


@dataclass(frozen=True)
class Msg:
    """Stands in for a display message: ("put", N) caches image N, ("use", N)
    needs it (the store is shared, like the session's pixmap cache)."""

    verb: str
    num: int


@dataclass
class StubDriver:
    store: set[int]
    applied: list[str] = field(default_factory=list)
    marks: int = 0
    streams_touched: bool = False

    def apply(self, msg: Msg, mm_time: int | None) -> Rect | None:
        if msg.verb == "use" and msg.num not in self.store:
            raise ImageNotReady(f"image {msg.num} not cached", msg.num)
        if msg.verb == "put":
            self.store.add(msg.num)
        self.applied.append(f"{msg.verb}:{msg.num}")
        return Rect(0, msg.num, 1, msg.num + 1)  # top, left, bottom, right


def make_core(displays: int) -> tuple[SessionCore, list[StubDriver]]:
    core = SessionCore()
    store: set[int] = set()
    drivers = [StubDriver(store) for _ in range(displays)]
    core.drivers = dict(enumerate(drivers))  # type: ignore[arg-type]
    core.held = {i: collections.deque() for i in range(displays)}
    return core, drivers


def feed(core: SessionCore, channel_id: int, text: str, now: float = 100.0) -> None:
    verb, num = text.split(":")
    event = MessageReceived(ChannelType.DISPLAY, 0, 0, Msg(verb, int(num)))
    core.handle_event((ChannelType.DISPLAY, channel_id), event, now)


def test_message_waits_for_the_other_channel_and_keeps_order() -> None:
    core, (d0, d1) = make_core(2)
    feed(core, 1, "use:7")  # held: channel 0 has not sent image 7 yet
    feed(core, 1, "put:8")  # queued behind it, order kept
    assert d1.applied == []
    feed(core, 0, "put:7")  # progress on channel 0 releases channel 1
    assert d0.applied == ["put:7"]
    assert d1.applied == ["use:7", "put:8"]
    assert core.dropped_commands == 0
    # changes are noted in the order the messages were applied
    assert [r.left for r in core.changes_since(0)] == [7, 7, 8]


def test_single_display_channel_drops_at_once() -> None:
    core, (d0,) = make_core(1)
    feed(core, 0, "use:1")
    feed(core, 0, "put:2")
    assert d0.applied == ["put:2"]
    assert core.dropped == {"Msg: ImageNotReady": 1}


def test_a_listed_display_channel_not_linked_yet_is_waited_for() -> None:
    core, (d0,) = make_core(1)
    core.channels_list = [(ChannelType.DISPLAY, 0), (ChannelType.DISPLAY, 1)]
    feed(core, 0, "use:1")
    assert d0.applied == [] and core.dropped_commands == 0
    assert core.drop_held() == 1 and core.dropped_commands == 1


def test_held_message_is_dropped_after_the_hold_limit() -> None:
    core, (_d0, d1) = make_core(2)
    feed(core, 1, "use:5", now=100.0)
    # the clock is the caller's: HOLD_SECONDS later the stale head is dropped
    feed(core, 1, "put:6", now=100.0 + HOLD_SECONDS + 0.1)
    assert d1.applied == ["put:6"]
    assert core.dropped_commands == 1


def test_changes_since_counts_every_change_once() -> None:
    core, _ = make_core(1)
    feed(core, 0, "put:1")
    mark = core.change_count
    feed(core, 0, "put:2")
    feed(core, 0, "put:3")
    assert [r.left for r in core.changes_since(mark)] == [2, 3]
    assert core.changes_since(core.change_count) == []


def test_import_graph_has_no_cycle() -> None:
    """Every spicepy module imports without a circle (checked in a fresh
    interpreter from the import statements of each module, lazy ones included;
    ``if TYPE_CHECKING:`` blocks are skipped: nothing there is imported)."""
    script = r"""
import ast, pathlib, sys
import spicepy
root = pathlib.Path(spicepy.__file__).parent
mods = {}
for path in root.rglob("*.py"):
    rel = path.relative_to(root).with_suffix("")
    parts = ["spicepy", *rel.parts]
    if parts[-1] == "__init__":
        parts = parts[:-1]
    mods[".".join(parts)] = path
graph = {}
for name, path in mods.items():
    deps = set()
    tree = ast.parse(path.read_text())
    # names under "if TYPE_CHECKING:" are for the type checker, never imported
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            node.body = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        else:
            continue
        deps |= {t for t in targets if t in mods and t != name}
    graph[name] = deps
# a package's __init__ importing its own submodules is not a circle
for name in graph:
    graph[name] = {d for d in graph[name] if not d.startswith(name + ".")}
seen, stack = {}, []
def visit(n):
    seen[n] = 1
    stack.append(n)
    for d in sorted(graph[n]):
        if seen.get(d) == 1:
            print(" -> ".join(stack[stack.index(d):] + [d]))
            sys.exit(1)
        if d not in seen:
            visit(d)
    stack.pop()
    seen[n] = 2
for n in sorted(graph):
    if n not in seen:
        visit(n)
"""
    out = subprocess.run(
        [sys.executable, "-P", "-c", script], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stdout + out.stderr


# -- Session.wait_for_change: "the next change after now" (issue 14) ------------


def _fill(surface_id: int, left: int, top: int, right: int, bottom: int) -> Any:
    """DRAW_FILL message of a solid rectangle (wire Rect is top, left, ...)."""
    base = DisplayBase(surface_id, Rect(top, left, bottom, right), CLIP_NONE)
    return md.DrawFill(base, md.Fill(Brush(BrushType.SOLID, color=0xFF), 8, QMASK_NONE))


def _display_session() -> Session:
    session = Session(SpiceUri("127.0.0.1", port=1))
    driver = session.core.add_display(0)
    driver.canvas.create_surface(0, 64, 48, 32)
    return session


def _draw(session: Session, msg: Any) -> None:
    """What a display connection's pump does with one message."""
    event = MessageReceived(ChannelType.DISPLAY, 0, 0, msg)
    session._on_event((ChannelType.DISPLAY, 0), None, event)  # type: ignore[arg-type]
    session._after_pump()


def test_wait_for_change_ignores_changes_made_before_the_call() -> None:
    async def main() -> tuple[list[ChangedRect], list[ChangedRect]]:
        session = _display_session()
        mark = session.change_count
        _draw(session, _fill(0, 0, 0, 64, 48))  # e.g. the first frame: stale
        with pytest.raises(SpiceTimeoutError):
            await session.wait_for_change(timeout=0.2)
        # asked for explicitly, the older change is returned at once
        older = await session.wait_for_change(timeout=0.2, since=mark)
        # and take_changes hands out each change once
        session.take_changes()
        _draw(session, _fill(0, 1, 1, 2, 2))
        taken = session.take_changes()
        await session.close()
        return older, taken

    older, taken = asyncio.run(main())
    assert older == [ChangedRect(0, 0, 64, 48)]
    assert taken == [ChangedRect(1, 1, 2, 2)]


def test_wait_for_change_returns_exactly_the_draw_after_the_call() -> None:
    async def main() -> list[ChangedRect]:
        session = _display_session()
        _draw(session, _fill(0, 0, 0, 64, 48))  # stale
        _draw(session, _fill(0, 5, 5, 6, 6))  # stale too
        waiter = asyncio.ensure_future(session.wait_for_change(timeout=5))
        await asyncio.sleep(0.05)
        assert not waiter.done()  # the stale changes do not satisfy it
        _draw(session, _fill(1, 0, 0, 4, 4))  # another surface: not a change
        _draw(session, _fill(0, 10, 20, 30, 40))  # the click's effect
        got = await waiter
        await session.close()
        return got

    assert asyncio.run(main()) == [ChangedRect(10, 20, 30, 40)]


def test_a_full_hold_queue_drops_its_oldest_at_max_held() -> None:
    core, (_d0, d1) = make_core(2)
    core.max_held = 3
    for text in ("use:7", "put:8", "put:9"):  # three held: the queue is full
        feed(core, 1, text)
    assert d1.applied == [] and core.dropped_commands == 0
    feed(core, 1, "put:10")  # one more: the oldest (the blocked one) goes
    assert core.dropped == {"Msg: hold queue full": 1}
    assert d1.applied == ["put:8", "put:9", "put:10"]
    assert not core.held[1] and core.held_bytes == 0


def test_drop_held_returns_the_held_budget() -> None:
    core, (_d0, d1) = make_core(2)
    feed(core, 1, "use:7")
    feed(core, 1, "put:8")
    assert core.held_bytes > 0
    assert core.drop_held() == 2 and core.held_bytes == 0
    feed(core, 1, "put:9")  # nothing held any more: applied at once
    assert d1.applied == ["put:9"] and core.held_bytes == 0


def test_held_messages_may_fill_limits_held_exactly() -> None:
    from spicepy.errors import LimitExceededError
    from spicepy.limits import Limits, payload_bytes

    core, _ = make_core(2)
    budget = payload_bytes(Msg("use", 7)) + payload_bytes(Msg("put", 8))
    core.limits = Limits(held=budget)
    feed(core, 1, "use:7")
    feed(core, 1, "put:8")  # exactly at the budget: still held
    assert core.held_bytes == budget and len(core.held[1]) == 2
    with pytest.raises(LimitExceededError, match="Limits.held"):
        feed(core, 1, "put:9")


# -- forget_server (migration's reset of the core) -------------------------------


def _core_with_primary(width: int, height: int, **kw: Any) -> SessionCore:
    from spicepy.limits import Limits

    core = SessionCore(limits=Limits(**kw))
    core.session_id, core.channels_list = 7, [(ChannelType.DISPLAY, 0)]
    driver = core.add_display(0)
    driver.apply(md.SurfaceCreate(0, width, height, 32, 1))
    driver.apply(_fill(0, 0, 0, width, height))
    return core


def test_forget_server_keeps_the_picture_in_the_surface_budget() -> None:
    core = _core_with_primary(64, 48)
    before = core.drivers[0].primary_pixels()
    assert before is not None
    old = before.copy()
    core.forget_server(keep_pictures=True)
    driver = core.drivers[0]
    assert driver.canvas.primary is None and core.held[0] == collections.deque()
    kept = driver.primary_pixels()
    assert kept is not None and not kept.flags.writeable
    assert (kept == old).all()
    assert core.shared is not None and core.shared.surface_bytes == 64 * 48 * 4
    assert core.session_id == 7  # semi-seamless: same session
    # the target's primary replaces the picture, in the budget too
    driver.apply(md.SurfaceCreate(0, 32, 16, 32, 1))
    assert driver.kept_picture is None
    assert core.shared.surface_bytes == 32 * 16 * 4


def test_a_refused_primary_keeps_the_picture_and_its_bytes() -> None:
    from spicepy.errors import LimitExceededError

    core = _core_with_primary(64, 48, surfaces=64 * 48 * 4 + 100)
    core.forget_server(keep_pictures=True)
    driver = core.drivers[0]
    assert core.shared is not None
    with pytest.raises(LimitExceededError):
        driver.apply(md.SurfaceCreate(0, 64, 49, 32, 1))
    assert driver.kept_picture is not None
    assert core.shared.surface_bytes == 64 * 48 * 4
    # one that fits once the picture is released is taken
    driver.apply(md.SurfaceCreate(0, 64, 48, 32, 1))
    assert driver.kept_picture is None
    assert core.shared.surface_bytes == 64 * 48 * 4


def test_forget_server_for_a_new_session_forgets_everything() -> None:
    core = _core_with_primary(64, 48)
    old_shared = core.shared
    core.forget_server(new_session=True)
    assert core.drivers == {} and core.held == {} and core.shared is None
    assert core.session_id is None and core.channels_list is None
    core.add_display(0)
    assert core.shared is not None and core.shared is not old_shared
    assert core.shared.surface_bytes == 0


def test_message_events_route_by_channel_type_only() -> None:
    """``handle_event`` hands a MessageReceived's message to the ``on_message``
    handler of its channel type (none: ignored), never to an ``on_event``
    handler: routing one there is refused rather than silently unused."""
    core = SessionCore()
    seen: list[tuple[Any, ...]] = []
    core.on_message(ChannelType.CURSOR, lambda *a: seen.append(a))
    with pytest.raises(ValueError, match="on_message"):
        core.on_event(MessageReceived, lambda *a: seen.append(("event",) + a))
    event = MessageReceived(ChannelType.CURSOR, 2, 7, Msg("put", 1))
    core.handle_event((ChannelType.CURSOR, 0), event, 3.0)
    core.handle_event((ChannelType.PLAYBACK, 0), event, 4.0)
    assert seen == [((ChannelType.CURSOR, 0), Msg("put", 1), 3.0)]
