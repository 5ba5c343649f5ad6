"""``spicepy mcp --blind`` and the tools' ``blind`` argument: pointer moves in
server mouse mode go blind (``session.mouse.exact = False``, as ``spicepy do
--blind``) for the whole server or for one call, on a session double that
records the mode each move saw (the MCP SDK's own ``call_tool``)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, cast

import pytest

pytest.importorskip("mcp")

from spicepy.bots import cli as bots_cli  # noqa: E402
from spicepy.bots import mcp_server  # noqa: E402
from spicepy.session.session import Session  # noqa: E402


class Mouse:
    exact = True


class FakeSession:
    """The Session calls the pointer tools make; each records ``exact``."""

    def __init__(self) -> None:
        self.mouse = Mouse()
        self.moves: list[tuple[str, bool]] = []

    async def click(self, x: int, y: int, button: int = 1) -> None:
        self.moves.append(("click", self.mouse.exact))

    async def mouse_move(self, x: int, y: int) -> None:
        self.moves.append(("move", self.mouse.exact))

    async def mouse_down(self, button: int) -> None:
        pass

    async def mouse_up(self, button: int) -> None:
        pass


def call(server: Any, tool: str, args: dict[str, object]) -> None:
    result = asyncio.run(server.call_tool(tool, args))
    assert not getattr(result, "isError", False), result


def test_blind_per_call_then_exact_again() -> None:
    s = FakeSession()
    server = mcp_server.build_server(cast(Session, s))
    for tool, extra in (("click", {}), ("move", {}), ("scroll", {"amount": 1})):
        call(server, tool, {"x": 5, "y": 6, "blind": True, **extra})
        call(server, tool, {"x": 5, "y": 6, **extra})
    assert s.moves == [
        ("click", False),
        ("click", True),
        ("move", False),
        ("move", True),
        ("move", False),  # scroll moves to (x, y) first
        ("move", True),
    ]
    assert s.mouse.exact


def test_blind_server_moves_every_call_blind() -> None:
    s = FakeSession()
    server = mcp_server.build_server(cast(Session, s), blind=True)
    call(server, "click", {"x": 1, "y": 2})
    call(server, "move", {"x": 1, "y": 2, "blind": False})
    assert s.moves == [("click", False), ("move", False)]


@pytest.mark.parametrize("flag", [[], ["--blind"]])
def test_cli_passes_blind_to_the_server(
    flag: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    seen: dict[str, object] = {}

    def serve(target: object, **kwargs: object) -> None:
        seen.update(kwargs)

    monkeypatch.setattr(mcp_server, "serve", serve)
    assert bots_cli.main(["mcp", "spice://127.0.0.1:5900", *flag]) == 0
    assert seen["blind"] is bool(flag)
