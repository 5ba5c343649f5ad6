"""Run parsed ``spicepy do`` steps (``spicepy.bots.script``) on a session.

``Runner`` maps each step's op to the public Session API and
``spicepy.bots.actions``; it keeps the pointer position the script implies
(vncdo's ``click`` clicks where the last ``move`` went) and whether the last
pointer step was relative (``move-by``: buttons then act in place).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from spicepy.bots import actions
from spicepy.bots.script import DRAG_STEP, ScriptError, Step, Value, key_parts

if TYPE_CHECKING:
    from spicepy.session.session import Session

__all__ = ["Runner"]


def _region(step: Step) -> tuple[int, int, int, int] | None:
    r = step.options.get("--region")
    return None if r is None else (int(r[0]), int(r[1]), int(r[2]), int(r[3]))


class Runner:
    """Runs steps on a session, keeping the pointer position (starts at 0, 0).

    Args:
        timeout: the default for every wait without --timeout.
        delay: seconds between commands and between typed keys (vncdo --delay).
        cwd: the directory relative paths are read from and written to.
        report_dir: where failure reports go (default: see ``report.report_dir``).
        echo: called with a line per step done (None: quiet).
    """

    def __init__(
        self,
        session: Session,
        *,
        timeout: float = 30.0,
        delay: float = 0.0,
        cwd: Path | None = None,
        report_dir: Path | None = None,
        echo: Callable[[str], None] | None = None,
    ) -> None:
        self.session = session
        self.timeout = timeout
        self.delay = delay
        self.cwd = cwd or Path.cwd()
        self.report_dir = report_dir
        self.echo = echo
        self.x = self.y = 0
        #: the last pointer step was relative (move-by): buttons act in place
        self._relative = False
        self._ops: dict[str, Callable[[Step], Awaitable[str]]] = {
            "type": self._type,
            "typefile": self._typefile,
            "pastefile": self._pastefile,
            "key": self._key,
            "keydown": self._keydown,
            "keyup": self._keyup,
            "move": self._move,
            "move-by": self._move_by,
            "click": self._click,
            "double-click": self._double_click,
            "mousedown": self._mousedown,
            "mouseup": self._mouseup,
            "drag": self._drag,
            "wheel": self._wheel,
            "pause": self._pause,
            "capture": self._capture,
            "expect": self._expect,
            "wait-change": self._wait_change,
            "wait-settled": self._wait_settled,
            "wait-text": self._wait_text,
            "click-text": self._click_text,
            "wait-needle": self._wait_needle,
            "click-needle": self._click_needle,
        }

    async def run(self, steps: Iterable[Step]) -> None:
        """Run every step in order; the first failure propagates."""
        for step in steps:
            said = await self._ops[step.op](step)
            if self.echo is not None:
                self.echo(f"{step.where}: {said}")
            if self.delay:
                await asyncio.sleep(self.delay)

    def _path(self, value: Value) -> Path:
        return self.cwd / str(value)

    def _timeout(self, step: Step) -> float:
        t = step.options.get("--timeout")
        return self.timeout if t is None else float(t[0])

    async def _type(self, step: Step) -> str:
        text = str(step.args[0])
        # no --delay: the session's own pacing (a guest's key queue overflows)
        await self.session.type_text(text, delay=self.delay or None)
        return f"typed {len(text)} characters"

    async def _typefile(self, step: Step) -> str:
        text = self._path(step.args[0]).read_text(encoding="utf-8").replace("\r", "")
        await self.session.type_text(text, delay=self.delay or None)
        return f"typed {len(text)} characters from {step.args[0]}"

    async def _pastefile(self, step: Step) -> str:
        text = self._path(step.args[0]).read_text(encoding="utf-8")
        text = text.replace("\r\n", "\n")
        agent = self.session.agent
        if agent.connected or agent.caps is not None:
            await agent.wait_ready(self.timeout)
            await agent.set_clipboard(text)
            return f"clipboard holds {len(text)} characters from {step.args[0]}"
        await self.session.type_text(text, delay=self.delay or None)
        return f"no guest agent: typed {len(text)} characters from {step.args[0]}"

    async def _key(self, step: Step) -> str:
        names = key_parts(str(step.args[0]))
        *mods, key = names
        if not mods and len(key) == 1:
            await self.session.type_text(key)  # shifted characters too
        else:
            await self.session.key_press(key, modifiers=tuple(mods))
        return f"pressed {step.args[0]}"

    async def _keydown(self, step: Step) -> str:
        for name in key_parts(str(step.args[0])):
            await self.session.key_down(name)
        return f"holding {step.args[0]}"

    async def _keyup(self, step: Step) -> str:
        for name in reversed(key_parts(str(step.args[0]))):
            await self.session.key_up(name)
        return f"released {step.args[0]}"

    async def _move(self, step: Step) -> str:
        self.x, self.y = int(step.args[0]), int(step.args[1])
        self._relative = False
        await self.session.mouse_move(self.x, self.y)
        return f"moved to ({self.x}, {self.y})"

    async def _move_by(self, step: Step) -> str:
        dx, dy = int(step.args[0]), int(step.args[1])
        await self.session.mouse.move_by(dx, dy)
        self.x, self.y = max(0, self.x + dx), max(0, self.y + dy)
        self._relative = True
        return f"moved by ({dx}, {dy})"

    def _button(self, step: Step) -> int:
        return int(step.args[0]) if step.args else 1

    async def _click_here(self, button: int) -> None:
        if self._relative:  # where the relative motion put the guest pointer
            await self.session.mouse_down(button)
            await self.session.mouse_up(button)
        else:
            await self.session.click(self.x, self.y, button)

    async def _click(self, step: Step) -> str:
        await self._click_here(self._button(step))
        return f"clicked at ({self.x}, {self.y})"

    async def _double_click(self, step: Step) -> str:
        for _ in range(2):
            await self._click_here(self._button(step))
        return f"double-clicked at ({self.x}, {self.y})"

    async def _mousedown(self, step: Step) -> str:
        await self.session.mouse_down(self._button(step))
        return f"button {self._button(step)} down"

    async def _mouseup(self, step: Step) -> str:
        await self.session.mouse_up(self._button(step))
        return f"button {self._button(step)} up"

    async def _drag(self, step: Step) -> str:
        tx, ty = int(step.args[0]), int(step.args[1])
        self._relative = False
        steps = max(1, max(abs(tx - self.x), abs(ty - self.y)) // DRAG_STEP)
        x0, y0 = self.x, self.y
        for n in range(1, steps + 1):
            self.x = x0 + (tx - x0) * n // steps
            self.y = y0 + (ty - y0) * n // steps
            await self.session.mouse_move(self.x, self.y)
        return f"dragged to ({tx}, {ty})"

    async def _wheel(self, step: Step) -> str:
        button = 4 if step.args[0] == "up" else 5  # X11/SPICE wheel buttons
        count = int(step.args[1]) if len(step.args) > 1 else 1
        for _ in range(count):
            await self.session.mouse_down(button)
            await self.session.mouse_up(button)
        return f"wheel {step.args[0]} x{count}"

    async def _pause(self, step: Step) -> str:
        await asyncio.sleep(float(step.args[0]))
        return f"paused {step.args[0]} s"

    async def _capture(self, step: Step) -> str:
        from PIL import Image

        await self.session.wait_for_frame(self.timeout)
        screen = self.session.screenshot()
        region = (
            tuple(int(v) for v in step.args[1:5])
            if len(step.args) == 5
            else _region(step)
        )
        if region is not None:
            x, y, w, h = region
            if x < 0 or y < 0 or x + w > screen.shape[1] or y + h > screen.shape[0]:
                raise ScriptError(
                    f"{step.where}: region {w}x{h}+{x}+{y} is off the "
                    f"{screen.shape[1]}x{screen.shape[0]} screen"
                )
            screen = screen[y : y + h, x : x + w]
        path = self._path(step.args[0])
        if path.suffix.lower() != ".png":
            raise ScriptError(f"{step.where}: capture writes PNG files only: {path}")
        Image.fromarray(screen, "RGB").save(path)
        return f"saved {screen.shape[1]}x{screen.shape[0]} to {path}"

    async def _expect(self, step: Step) -> str:
        path = self._path(step.args[0])
        region: tuple[int, int] | tuple[int, int, int, int] | None = _region(step)
        fuzz = step.options.get("--max-diff")
        max_diff = int(fuzz[0]) if fuzz else 0
        rest = list(step.args[1:])
        if len(rest) >= 2:  # rexpect FILE X Y [FUZZ]
            region = (int(rest.pop(0)), int(rest.pop(0)))
        if rest:  # vncdo's FUZZ
            max_diff = int(rest[0])
        await actions.expect(
            self.session,
            path,
            region=region,
            max_diff=max_diff,
            timeout=self._timeout(step),
            report_dir=self.report_dir,
        )
        return f"screen matches {step.args[0]}"

    async def _wait_change(self, step: Step) -> str:
        await actions.wait_change(
            self.session, region=_region(step), timeout=self._timeout(step)
        )
        return "screen changed"

    async def _wait_settled(self, step: Step) -> str:
        quiet_opt = step.options.get("--quiet")
        quiet = float(step.args[0]) if step.args else 0.5
        if quiet_opt:
            quiet = float(quiet_opt[0])
        region = _region(step)
        fuzz = step.options.get("--max-diff")
        max_diff = None if fuzz is None else int(fuzz[0])
        rest = step.args[1:]
        if len(rest) >= 4:  # rstable SECONDS X Y W H [FUZZ]
            region = (int(rest[0]), int(rest[1]), int(rest[2]), int(rest[3]))
            rest = rest[4:]
        if rest:  # vncdo's FUZZ
            max_diff = int(rest[0])
        try:
            await actions.wait_settled(
                self.session,
                quiet=quiet,
                timeout=self._timeout(step),
                region=region,
                max_diff=max_diff,
            )
        except ValueError as exc:  # a region off the screen
            raise ScriptError(f"{step.where}: {exc}") from None
        where = "screen" if region is None else f"region {region}"
        return f"{where} settled ({quiet} s quiet)"

    async def _wait_text(self, step: Step) -> str:
        hit = await actions.wait_for_text(
            self.session,
            str(step.args[0]),
            region=_region(step),
            timeout=self._timeout(step),
            report_dir=self.report_dir,
        )
        return f"read {hit.text!r} at ({hit.x}, {hit.y})"

    async def _click_text(self, step: Step) -> str:
        hit = await actions.click_text(
            self.session,
            str(step.args[0]),
            button=int(step.options.get("--button", (1,))[0]),
            region=_region(step),
            timeout=self._timeout(step),
            report_dir=self.report_dir,
        )
        self.x, self.y, self._relative = *hit.center, False
        return f"clicked {hit.text!r} at {hit.center}"

    async def _wait_needle(self, step: Step) -> str:
        m = await actions.wait_for_needle(
            self.session,
            self._path(step.args[0]),
            region=_region(step),
            timeout=self._timeout(step),
            report_dir=self.report_dir,
        )
        return f"found {m.needle} at ({m.x}, {m.y}) score {m.score:.4f}"

    async def _click_needle(self, step: Step) -> str:
        m = await actions.click_on(
            self.session,
            self._path(step.args[0]),
            button=int(step.options.get("--button", (1,))[0]),
            region=_region(step),
            timeout=self._timeout(step),
            report_dir=self.report_dir,
        )
        self.x, self.y, self._relative = *m.click, False
        return f"clicked {m.needle} at {m.click} score {m.score:.4f}"
