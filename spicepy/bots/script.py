"""The ``spicepy do`` command language: parse a script into steps, run them.

A script is a list of commands, each followed by its arguments, written one
per line or several on a line (vncdotool's ``vncdo`` reads the same way:
arguments are split like a shell command line, ``#`` starts a comment, and a
line break is only whitespace).  Options of a command (``--timeout 5``) follow
its arguments.  Every vncdo command that has a SPICE meaning is accepted under
its vncdo spelling, so a vncdo script runs unchanged; see ``DIFFERENCES``.

Parsing (``parse``/``parse_tokens``) is apart from running (``Runner``): a
script is checked whole (unknown commands, missing or ill-typed arguments, bad
key names) before anything is sent.
"""

from __future__ import annotations

import asyncio
import shlex
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from spicepy.bots import actions
from spicepy.errors import SpiceError
from spicepy.session.keymap import CHARS, key_code

if TYPE_CHECKING:
    from spicepy.session.session import Session

Value = str | int | float
Conv = Callable[[str], Value]
#: vncdo's key names that spicepy.session.keymap spells differently
KEY_ALIASES = {
    "del": "delete",
    "bsp": "backspace",
    "bs": "backspace",
    "ins": "insert",
    "pgup": "pageup",
    "pgdn": "pagedown",
    "minus": "-",
    "plus": "+",
    "equal": "=",
    "slash": "/",
    "bslash": "\\",
    "comma": ",",
    "period": ".",
    "semicolon": ";",
    "meta": "super",
    "lmeta": "lsuper",
    "rmeta": "rsuper",
    "win": "super",
    "caplk": "capslock",
    "numlk": "numlock",
    "scrlk": "scrolllock",
    "control": "ctrl",
    "kpenter": "kp_enter",
}
MAX_INCLUDE_DEPTH = 8
DRAG_STEP = 8  # pixels per pointer motion of a drag

DIFFERENCES = """\
Differences from vncdotool's vncdo:
- connection: `spicepy do URI ...` (spice://host:port) instead of `-s host::port`.
- key combos join with `-` (vncdo) or `+` (spicepy key); keys are US-layout
  scancodes (SPICE sends scancodes, not keysyms), so `key ctrl-alt-del` works but
  a character with no key on a US keyboard is an error, not sent literally.
- an unknown key name is an error before anything is sent (vncdo sends its
  letters one by one).
- `click`, `mousedown`, `mouseup` take an optional button (default 1).
- `drag X Y` moves in steps of 8 px with no pause (vncdo: 1 px, 0.2 s each).
- `expect FILE FUZZ`: FUZZ is the largest per-channel difference of any pixel
  (vncdo: a perceived colour distance); without --timeout a wait ends after
  the `do --timeout` (default 30 s), never waits forever; a failure writes a
  report (screen, reference, diff PNG) and says where.
- `stable SECONDS [FUZZ]` / `rstable SECONDS X Y W H [FUZZ]` wait until the
  screen / that region stays still for SECONDS (no pixel more than FUZZ, per
  channel, from the window's first picture); `stable SECONDS` without FUZZ is
  `wait-settled --quiet SECONDS`: nothing drawn at all (SPICE says what it draws).
- `pastefile FILE` puts the file's text on the guest clipboard through the
  guest agent (vncdo: the VNC cut text), for a later `key ctrl-v`; a guest
  without an agent gets the text typed instead.
- `capture` writes PNG only.
- `move-by DX DY` (not in vncdo) sends relative motion (SPICE's server mouse
  mode); the recording proxy writes a server-mode session's motion this way.
"""


class ScriptError(SpiceError, ValueError):
    """A script that does not parse: unknown command, bad or missing argument."""


@dataclass(frozen=True, slots=True)
class Spec:
    """How one command parses: required args, optional numeric args, options."""

    op: str
    args: tuple[Conv, ...] = ()
    optional: tuple[Conv, ...] = ()
    options: dict[str, tuple[Conv, ...]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Step:
    """One parsed command."""

    op: str
    args: tuple[Value, ...]
    options: dict[str, tuple[Value, ...]]
    where: str = ""  # "line 3" / "argument 2" / "file.txt line 3", for messages
    command: str = ""  # as spelt (after aliases): "rexpect" runs op "expect"

    def text(self) -> str:
        """The step as one script line (``parse`` reads it back)."""
        words = [self.command or self.op, *(str(a) for a in self.args)]
        for opt, values in self.options.items():
            words += [opt, *(str(v) for v in values)]
        return " ".join(shlex.quote(w) for w in words)


def dump(steps: Iterable[Step]) -> str:
    """A script, one step per line."""
    return "".join(step.text() + "\n" for step in steps)


def _key(text: str) -> str:
    """Check a key or key combination; returns it unchanged."""
    key_parts(text)
    return text


def _button(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 7:
        raise ValueError(f"mouse button {value} out of range 1..7")
    return value


def _direction(text: str) -> str:
    if text not in ("up", "down"):
        raise ValueError(f"wheel direction is up or down, not {text!r}")
    return text


def _nonneg(conv: Callable[[str], float]) -> Conv:
    def check(text: str) -> Value:
        value = conv(text)
        if value < 0:
            raise ValueError(f"{text} is negative")
        return value

    return check


INT, FLOAT, STR = int, _nonneg(float), str
UINT = _nonneg(int)
REGION = (INT, INT, UINT, UINT)
TIMEOUT: dict[str, tuple[Conv, ...]] = {"--timeout": (FLOAT,)}
FIND_OPTIONS: dict[str, tuple[Conv, ...]] = {**TIMEOUT, "--region": REGION}

SPECS: dict[str, Spec] = {
    "type": Spec("type", (STR,)),
    "typefile": Spec("typefile", (STR,)),
    "pastefile": Spec("pastefile", (STR,)),
    "key": Spec("key", (_key,)),
    "keydown": Spec("keydown", (_key,)),
    "keyup": Spec("keyup", (_key,)),
    "move": Spec("move", (INT, INT)),
    "move-by": Spec("move-by", (INT, INT)),
    "click": Spec("click", (), (_button,)),
    "double-click": Spec("double-click", (), (_button,)),
    "mousedown": Spec("mousedown", (), (_button,)),
    "mouseup": Spec("mouseup", (), (_button,)),
    "drag": Spec("drag", (INT, INT)),
    "wheel": Spec("wheel", (_direction,), (UINT,)),
    "pause": Spec("pause", (FLOAT,)),
    "capture": Spec("capture", (STR,), (), {"--region": REGION}),
    "rcapture": Spec("capture", (STR, INT, INT, UINT, UINT)),
    "expect": Spec(
        "expect",
        (STR,),
        (UINT,),
        {**TIMEOUT, "--max-diff": (UINT,), "--region": REGION},
    ),
    "rexpect": Spec("expect", (STR, INT, INT), (UINT,), TIMEOUT),
    "stable": Spec("wait-settled", (FLOAT,), (UINT,), TIMEOUT),
    "rstable": Spec("wait-settled", (FLOAT, INT, INT, UINT, UINT), (UINT,), TIMEOUT),
    "wait-change": Spec("wait-change", (), (), FIND_OPTIONS),
    "wait-settled": Spec(
        "wait-settled",
        (),
        (),
        {**TIMEOUT, "--quiet": (FLOAT,), "--region": REGION, "--max-diff": (UINT,)},
    ),
    "wait-text": Spec("wait-text", (STR,), (), FIND_OPTIONS),
    "click-text": Spec(
        "click-text", (STR,), (), {**FIND_OPTIONS, "--button": (_button,)}
    ),
    "wait-needle": Spec("wait-needle", (STR,), (), FIND_OPTIONS),
    "click-needle": Spec(
        "click-needle", (STR,), (), {**FIND_OPTIONS, "--button": (_button,)}
    ),
}
ALIASES = {
    "mousemove": "move",
    "kdown": "keydown",
    "kup": "keyup",
    "mdown": "mousedown",
    "mup": "mouseup",
    "sleep": "pause",
    "dclick": "double-click",
    "double_click": "double-click",
    "scroll": "wheel",
    "screenshot": "capture",
}


def key_parts(text: str) -> tuple[str, ...]:
    """``ctrl-alt-del`` / ``ctrl+c`` / ``-`` -> key names keymap knows.

    Raises:
        ValueError: an unknown key name.
    """
    if len(text) == 1:
        parts = [text]
    else:
        sep = "+" if "+" in text.strip("+") else "-"
        parts = text.split(sep)
        if any(p == "" for p in parts):
            raise ValueError(f"empty key in {text!r} (write a hyphen as 'minus')")
    names = []
    for p in parts:
        name = KEY_ALIASES.get(p.lower(), p)
        if len(name) == 1:
            if name not in CHARS:
                raise ValueError(f"no key types {name!r} on a US keyboard")
        else:
            key_code(name)  # raises ValueError for an unknown name
        names.append(name)
    return tuple(names)


def tokenize(text: str, source: str = "") -> list[tuple[str, str]]:
    """(token, "line N") pairs: split like a shell line, ``#`` comments."""
    out = []
    prefix = f"{source} " if source else ""
    for number, line in enumerate(text.splitlines(), 1):
        try:
            words = shlex.split(line, comments=True)
        except ValueError as exc:
            raise ScriptError(f"{prefix}line {number}: {exc}") from None
        out += [(w, f"{prefix}line {number}") for w in words]
    return out


def parse(text: str, source: str = "", *, cwd: Path | None = None) -> list[Step]:
    """Parse a script's text.

    Raises:
        ScriptError: the first problem, with its line.
    """
    return parse_tokens(tokenize(text, source), cwd=cwd)


def parse_argv(argv: Sequence[str], *, cwd: Path | None = None) -> list[Step]:
    """Parse commands given as separate arguments (``spicepy do URI ...``)."""
    return parse_tokens([(a, f"argument {i}") for i, a in enumerate(argv, 1)], cwd=cwd)


def _convert(conv: Conv, token: str, what: str, where: str) -> Value:
    try:
        return conv(token)
    except ValueError as exc:
        raise ScriptError(f"{where}: {what}: bad value {token!r} ({exc})") from None


def parse_tokens(
    tokens: Sequence[tuple[str, str]], *, cwd: Path | None = None, depth: int = 0
) -> list[Step]:
    """Parse (token, where) pairs; a token in command position that names an
    existing file is read as a script there (as vncdo does)."""
    steps: list[Step] = []
    i = 0
    while i < len(tokens):
        word, where = tokens[i]
        i += 1
        name = ALIASES.get(word, word)
        spec = SPECS.get(name)
        if spec is None:
            path = (cwd or Path.cwd()) / word
            if path.is_file() and depth < MAX_INCLUDE_DEPTH:
                text = path.read_text(encoding="utf-8", errors="replace")
                steps += parse_tokens(tokenize(text, word), cwd=cwd, depth=depth + 1)
                continue
            raise ScriptError(f"{where}: unknown command {word!r}")
        args: list[Value] = []
        for n, conv in enumerate(spec.args, 1):
            if i >= len(tokens):
                raise ScriptError(f"{where}: {word}: missing argument {n}")
            args.append(_convert(conv, tokens[i][0], word, tokens[i][1]))
            i += 1
        for conv in spec.optional:  # taken only when it converts (vncdo's rule)
            if i < len(tokens):
                try:
                    args.append(conv(tokens[i][0]))
                    i += 1
                    continue
                except ValueError:
                    pass
            break
        options: dict[str, tuple[Value, ...]] = {}
        while i < len(tokens) and tokens[i][0].startswith("--"):
            opt, opt_where = tokens[i]
            if opt not in spec.options:
                raise ScriptError(f"{opt_where}: {word}: unknown option {opt}")
            i += 1
            values = []
            for conv in spec.options[opt]:
                if i >= len(tokens):
                    raise ScriptError(f"{opt_where}: {word} {opt}: missing value")
                values.append(
                    _convert(conv, tokens[i][0], f"{word} {opt}", tokens[i][1])
                )
                i += 1
            options[opt] = tuple(values)
        steps.append(Step(spec.op, tuple(args), options, where, name))
    return steps


# -- running ---------------------------------------------------------------------


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
