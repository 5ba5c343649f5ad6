"""The ``spicepy do`` command language: parse a script into steps, run them.

A script is a list of commands, each followed by its arguments, written one
per line or several on a line (vncdotool's ``vncdo`` reads the same way:
arguments are split like a shell command line, ``#`` starts a comment, and a
line break is only whitespace).  Options of a command (``--timeout 5``) follow
its arguments.  Every vncdo command that has a SPICE meaning is accepted under
its vncdo spelling, so a vncdo script runs unchanged; the differences are in
``spicepy.bots.cli.DIFFERENCES`` (`spicepy do --help`).

Parsing (``parse``/``parse_tokens``, here) is apart from running
(``spicepy.bots.runner.Runner``): a script is checked whole (unknown
commands, missing or ill-typed arguments, bad key names) before anything is
sent.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from spicepy.errors import SpiceError
from spicepy.session.keymap import CHARS, key_code

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
