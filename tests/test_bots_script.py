"""The ``spicepy do`` language: parser (vncdo spellings, errors) and runner."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spicepy.bots.runner import Runner
from spicepy.bots.script import (
    SPECS,
    ScriptError,
    Step,
    dump,
    key_parts,
    parse,
    parse_argv,
)
from spicepy.session.session import Session

VNCDO_SCRIPT = """\
# a vncdo script, as vncdotool's docs write them
move 100 200 click 1
type hello key enter
kdown shift kup shift
mousemove 5 6 mdown 1 mup 1
key ctrl-alt-del key -
expect ref.png 10
rexpect part.png 3 4
rcapture out.png 0 0 10 20
pause 0.5 sleep 1
stable 2
drag 40 200
"""


def brief(steps: list[Step]) -> list[tuple[Any, ...]]:
    return [(s.command, *s.args, *s.options.items()) for s in steps]


def test_vncdo_script_parses(tmp_path: Path) -> None:
    steps = parse(VNCDO_SCRIPT, cwd=tmp_path)
    assert brief(steps) == [
        ("move", 100, 200),
        ("click", 1),
        ("type", "hello"),
        ("key", "enter"),
        ("keydown", "shift"),
        ("keyup", "shift"),
        ("move", 5, 6),
        ("mousedown", 1),
        ("mouseup", 1),
        ("key", "ctrl-alt-del"),
        ("key", "-"),
        ("expect", "ref.png", 10),
        ("rexpect", "part.png", 3, 4),
        ("rcapture", "out.png", 0, 0, 10, 20),
        ("pause", 0.5),
        ("pause", 1.0),
        ("stable", 2.0),
        ("drag", 40, 200),
    ]
    assert steps[0].where == "line 2" and steps[-1].where == "line 12"
    assert [s.op for s in steps if s.command in ("rexpect", "rcapture", "stable")] == [
        "expect",
        "capture",
        "wait-settled",
    ]


def test_spicepy_commands_and_options(tmp_path: Path) -> None:
    steps = parse_argv(
        [
            "expect", "a.png", "--max-diff", "3", "--region", "1", "2", "30", "40",
            "--timeout", "5", "wait-text", "login:", "--timeout", "9",
            "click-needle", "ok.json", "--button", "3", "wheel", "down", "2",
            "wait-change", "wait-settled", "--quiet", "0.2",
        ],
        cwd=tmp_path,
    )  # fmt: skip
    assert brief(steps) == [
        ("expect", "a.png", ("--max-diff", (3,)), ("--region", (1, 2, 30, 40)),
         ("--timeout", (5.0,))),
        ("wait-text", "login:", ("--timeout", (9.0,))),
        ("click-needle", "ok.json", ("--button", (3,))),
        ("wheel", "down", 2),
        ("wait-change",),
        ("wait-settled", ("--quiet", (0.2,))),
    ]  # fmt: skip


def test_optional_argument_only_when_it_converts(tmp_path: Path) -> None:
    # vncdo: a trailing argument that is not a number is the next command
    assert brief(parse("expect a.png type 5", cwd=tmp_path)) == [
        ("expect", "a.png"),
        ("type", "5"),
    ]
    assert brief(parse("click move 1 2", cwd=tmp_path)) == [("click",), ("move", 1, 2)]


def test_script_file_in_command_position_is_spliced(tmp_path: Path) -> None:
    (tmp_path / "login.vdo").write_text("type root\nkey enter\n")
    steps = parse_argv(["login.vdo", "capture", "x.png"], cwd=tmp_path)
    assert brief(steps) == [("type", "root"), ("key", "enter"), ("capture", "x.png")]
    assert steps[0].where == "login.vdo line 1"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("type", "line 1: type: missing argument 1"),
        ("move 1", "missing argument 2"),
        ("move 1 x", "move: bad value 'x'"),
        ("frobnicate", "unknown command 'frobnicate'"),
        ("key ctrl-nosuchkey", "bad value"),
        ("key ctrl--", "write a hyphen as 'minus'"),
        ("\n\nexpect a.png --nope 1", "line 3: expect: unknown option --nope"),
        ("expect a.png --timeout", "missing value"),
        ("pause -1", "negative"),
        ("wheel sideways", "up or down"),
        ("type 'unterminated", "line 1"),
        ("click 1 mousedown 9", "unknown command '9'"),
        # SPICE buttons are 1..7 (SpiceMouseButton LEFT..EXTRA): 8 is no button
        ("mousedown 8", "unknown command '8'"),
    ],
)
def test_errors_say_where(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ScriptError, match=message.replace("(", r"\(")):
        parse(text, cwd=tmp_path)


def test_key_parts() -> None:
    assert key_parts("ctrl-alt-del") == ("ctrl", "alt", "delete")
    assert key_parts("ctrl+c") == ("ctrl", "c")
    assert key_parts("ctrl-minus") == ("ctrl", "-")
    assert key_parts("+") == ("+",)
    with pytest.raises(ValueError):
        key_parts("é")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_any_text_parses_or_raises_script_error(text: str) -> None:
    try:
        steps = parse(text, cwd=Path("/nonexistent-dir"))
    except ScriptError:
        return
    assert all(s.op in {spec.op for spec in SPECS.values()} for s in steps)


words = st.text(
    st.characters(
        blacklist_categories=("Cc", "Cs", "Zl", "Zp"), blacklist_characters="\x85"
    ),
    min_size=1,
    max_size=12,
)
steps_strategy = st.lists(
    st.one_of(
        st.builds(lambda t: f"type {_q(t)}", words),
        st.builds(
            lambda x, y: f"move {x} {y}", st.integers(-5000, 5000), st.integers(0, 9)
        ),
        st.sampled_from(
            ["key ctrl-alt-del", "key enter", "kdown shift", "click 3", "click"]
        ),
        st.builds(
            lambda f, t, r: (
                f"expect {_q(f)} --timeout {t} --region {r[0]} {r[1]} {r[2]} {r[3]}"
            ),
            words,
            st.floats(0, 1e6),
            st.tuples(*[st.integers(0, 4000)] * 4),
        ),
        st.builds(lambda t: f"wait-text {_q(t)}", words),
        st.builds(lambda n: f"wheel up {n}", st.integers(0, 50)),
    ),
    max_size=12,
)


def _q(text: str) -> str:
    import shlex

    return shlex.quote(text)


@settings(max_examples=150, deadline=None)
@given(steps_strategy)
def test_dump_parse_round_trip(lines: list[str]) -> None:
    first = parse("\n".join(lines), cwd=Path("/nonexistent-dir"))
    again = parse(dump(first), cwd=Path("/nonexistent-dir"))
    assert brief(again) == brief(first)
    assert len(first) == len(lines)  # each generated line is one command


class Recorder:
    """Records the Session input calls a script makes."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def __getattr__(self, name: str) -> Any:
        async def call(*args: Any, **kwargs: Any) -> None:
            self.calls.append((name, *args, *sorted(kwargs.items())))

        return call


def test_runner_sends_what_the_script_says(tmp_path: Path) -> None:
    rec = Recorder()
    steps = parse(
        "move 10 20 click 1 double-click key ctrl-alt-del key ! kdown ctrl kup ctrl "
        "type hi drag 26 20 wheel down 2 mdown 3 mup 3",
        cwd=tmp_path,
    )
    asyncio.run(Runner(cast(Session, rec), cwd=tmp_path).run(steps))
    assert rec.calls == [
        ("mouse_move", 10, 20),
        ("click", 10, 20, 1),
        ("click", 10, 20, 1),
        ("click", 10, 20, 1),
        ("key_press", "delete", ("modifiers", ("ctrl", "alt"))),
        ("type_text", "!"),
        ("key_down", "ctrl"),
        ("key_up", "ctrl"),
        ("type_text", "hi", ("delay", None)),  # None: the session paces typing
        ("mouse_move", 18, 20),
        ("mouse_move", 26, 20),
        ("mouse_down", 5),
        ("mouse_up", 5),
        ("mouse_down", 5),
        ("mouse_up", 5),
        ("mouse_down", 3),
        ("mouse_up", 3),
    ]


def test_rstable_stable_fuzz_and_pastefile_parse(tmp_path: Path) -> None:
    steps = parse(
        "rstable 2 10 20 30 40 5 stable 1 3 stable 1 "
        "wait-settled --region 1 2 3 4 --max-diff 6 pastefile notes.txt",
        cwd=tmp_path,
    )
    assert brief(steps) == [
        ("rstable", 2.0, 10, 20, 30, 40, 5),
        ("stable", 1.0, 3),
        ("stable", 1.0),
        ("wait-settled", ("--region", (1, 2, 3, 4)), ("--max-diff", (6,))),
        ("pastefile", "notes.txt"),
    ]
    assert [s.op for s in steps[:4]] == ["wait-settled"] * 4
    with pytest.raises(ScriptError, match="missing argument 5"):
        parse("rstable 2 10 20 30", cwd=tmp_path)


class SettleRecorder(Recorder):
    """A Recorder whose screen settles at once: records the wait's arguments."""

    def __init__(self) -> None:
        super().__init__()
        self.change_count = 0

    async def wait_until_settled(self, quiet: float, timeout: float) -> None:
        self.calls.append(("wait_until_settled", quiet))

    async def wait_for_frame(self, timeout: float = 30.0) -> None:
        return None

    async def wait_for_change(self, timeout: float, *, since: int) -> None:
        self.calls.append(("wait_for_change",))
        await asyncio.sleep(timeout)
        from spicepy.errors import SpiceTimeoutError

        raise SpiceTimeoutError("still")

    def screenshot(self) -> Any:
        import numpy as np

        return np.zeros((50, 60, 3), np.uint8)


def test_runner_stable_variants(tmp_path: Path) -> None:
    rec = SettleRecorder()
    steps = parse(
        "stable 0.01 rstable 0.01 1 2 3 4 2 rstable 0.01 50 0 20 5", cwd=tmp_path
    )
    runner = Runner(cast(Session, rec), cwd=tmp_path, timeout=2)
    with pytest.raises(ScriptError, match="off the 60x50 screen"):
        asyncio.run(runner.run(steps))
    # stable without fuzz: the session's own settle; rstable: watched pixels
    assert rec.calls == [("wait_until_settled", 0.01), ("wait_for_change",)]


class FakeAgent:
    def __init__(self, connected: bool) -> None:
        self.connected = connected
        self.caps: frozenset[int] | None = None
        self.calls: list[tuple[Any, ...]] = []

    async def wait_ready(self, timeout: float) -> None:
        self.calls.append(("wait_ready",))
        self.caps = frozenset()

    async def set_clipboard(self, text: str) -> None:
        self.calls.append(("set_clipboard", text))


def test_pastefile_uses_the_agent_or_types(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_bytes("line 1\r\nzwei ✓\n".encode())
    for connected in (True, False):
        rec = Recorder()
        agent = FakeAgent(connected)
        rec.__dict__["agent"] = agent
        steps = parse("pastefile notes.txt", cwd=tmp_path)
        asyncio.run(Runner(cast(Session, rec), cwd=tmp_path).run(steps))
        if connected:  # vncdo: the text becomes the clipboard, CRLF as LF
            assert agent.calls == [
                ("wait_ready",),
                ("set_clipboard", "line 1\nzwei ✓\n"),
            ]
            assert rec.calls == []
        else:
            assert agent.calls == []
            assert rec.calls == [("type_text", "line 1\nzwei ✓\n", ("delay", None))]
