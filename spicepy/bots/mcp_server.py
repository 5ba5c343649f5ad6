"""``spicepy mcp URI``: a Model Context Protocol server (stdio) for AI agents.

One SPICE session is opened before the server starts and lives as long as it
does; every tool works on it through the public Session API and
``spicepy.bots.actions``.  Coordinates are always screen pixels of the
primary display, whatever ``scale`` a screenshot was taken at.  Failures come
back as tool errors (``isError``) whose text says what went wrong, e.g. the
best needle score and where, or what OCR read instead.

Needs the ``mcp`` extra (the MCP Python SDK, version 2).
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
from mcp.server.mcpserver import Image, MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from spicepy.bots import actions, ocr
from spicepy.bots.script import key_parts
from spicepy.errors import SpiceError

if TYPE_CHECKING:
    from spicepy.session.session import Session
    from spicepy.session.targets import Target
    from spicepy.session.uri import SpiceUri

BUTTONS = {"left": 1, "middle": 2, "right": 3}
MAX_SCALE_SIDE = 8192

INSTRUCTIONS = """\
Drives one SPICE remote display (a VM's or Xspice's screen). Take a screenshot
first; coordinates for click/move/scroll are screen pixels of the full-size
screen (if you asked for a scaled screenshot, divide by its scale). After an
action, wait_for_change or wait_until_settled before the next screenshot.
"""


def build_server(
    session: Session,
    *,
    needle_dir: Path | None = None,
    report_dir: Path | None = None,
    blind: bool = False,
) -> MCPServer:
    """An MCPServer whose tools drive ``session``; ``blind``: every pointer
    move goes blind (``session.mouse.exact = False``, as ``spicepy do
    --blind``), otherwise only those of a call with ``blind=true``."""
    server: MCPServer = MCPServer("spicepy", instructions=INSTRUCTIONS)
    base = needle_dir or Path.cwd()
    if blind:
        session.mouse.exact = False

    def fail(exc: BaseException) -> ToolError:
        return ToolError(f"{type(exc).__name__}: {exc}")

    @contextmanager
    def pointer(blind: bool) -> Iterator[None]:
        """Server mouse mode: ``blind`` moves without seeing the pointer land
        (a guest that shows none, e.g. a text console) for this call."""
        exact = session.mouse.exact
        if blind:
            session.mouse.exact = False
        try:
            yield
        finally:
            session.mouse.exact = exact

    @server.tool()
    async def screenshot(
        scale: float = 1.0,
        x: int = 0,
        y: int = 0,
        width: int = 0,
        height: int = 0,
    ) -> list[Image | str]:
        """Take a PNG screenshot of the remote screen.

        Args:
            scale: shrink factor in (0, 1] (e.g. 0.5 for half size); click
                coordinates stay full-size screen pixels.
            x, y, width, height: only this region (width=0: the whole screen).
        """
        if not 0 < scale <= 1:
            raise ToolError("scale must be in (0, 1]")
        try:
            await session.wait_for_frame(30)
            rgb = session.screenshot()
        except SpiceError as exc:
            raise fail(exc) from exc
        full_h, full_w = rgb.shape[:2]
        if width > 0 and height > 0:
            if x < 0 or y < 0 or x + width > full_w or y + height > full_h:
                raise ToolError(f"region off the {full_w}x{full_h} screen")
            rgb = rgb[y : y + height, x : x + width]
        from PIL import Image as PILImage

        img = PILImage.fromarray(np.ascontiguousarray(rgb), "RGB")
        if scale != 1:
            size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
            img = img.resize(size, PILImage.Resampling.LANCZOS)
        buf = io.BytesIO()
        img.save(buf, "PNG")
        note = (
            f"screen {full_w}x{full_h}; image {img.width}x{img.height} of region "
            f"({x}, {y}) scale {scale}"
        )
        return [Image(data=buf.getvalue(), format="png"), note]

    @server.tool()
    async def click(
        x: int,
        y: int,
        button: Literal["left", "middle", "right"] = "left",
        double: bool = False,
        blind: bool = False,
    ) -> str:
        """Move the pointer to (x, y) (screen pixels) and click a mouse button.
        blind: in server mouse mode, move even if the guest shows no pointer
        (a text console), without checking where it lands."""
        try:
            with pointer(blind):
                for _ in range(2 if double else 1):
                    await session.click(x, y, BUTTONS[button])
        except (SpiceError, ValueError) as exc:
            raise fail(exc) from exc
        return f"{'double-' if double else ''}clicked {button} at ({x}, {y})"

    @server.tool()
    async def move(x: int, y: int, blind: bool = False) -> str:
        """Move the pointer to (x, y) (screen pixels) without clicking.
        blind: as for click."""
        try:
            with pointer(blind):
                await session.mouse_move(x, y)
        except (SpiceError, ValueError) as exc:
            raise fail(exc) from exc
        return f"moved to ({x}, {y})"

    @server.tool()
    async def type_text(text: str) -> str:
        """Type text on a US keyboard layout (newline = Enter, tab = Tab)."""
        try:
            await session.type_text(text)
        except (SpiceError, ValueError) as exc:
            raise fail(exc) from exc
        return f"typed {len(text)} characters"

    @server.tool()
    async def key(keys: str) -> str:
        """Press keys: one key or combination per space-separated word,
        e.g. "enter", "ctrl+c", "ctrl+alt+delete", "alt+f4", "tab tab enter"."""
        try:
            for combo in keys.split():
                *mods, name = key_parts(combo)
                await session.key_press(name, modifiers=tuple(mods))
        except (SpiceError, ValueError) as exc:
            raise fail(exc) from exc
        return f"pressed {keys}"

    @server.tool()
    async def scroll(
        x: int,
        y: int,
        direction: Literal["up", "down"] = "down",
        amount: int = 3,
        blind: bool = False,
    ) -> str:
        """Scroll the mouse wheel at (x, y) by ``amount`` notches.
        blind: as for click."""
        if not 0 < amount <= 100:
            raise ToolError("amount must be 1..100")
        wheel = 4 if direction == "up" else 5
        try:
            with pointer(blind):
                await session.mouse_move(x, y)
            for _ in range(amount):
                await session.mouse_down(wheel)
                await session.mouse_up(wheel)
        except (SpiceError, ValueError) as exc:
            raise fail(exc) from exc
        return f"scrolled {direction} {amount} at ({x}, {y})"

    @server.tool()
    async def wait_for_change(timeout: float = 10.0) -> str:
        """Wait until the screen changes after this call (then take a screenshot)."""
        try:
            rects = await session.wait_for_change(timeout)
        except SpiceError as exc:
            raise fail(exc) from exc
        return f"screen changed ({len(rects)} region(s))"

    @server.tool()
    async def wait_until_settled(quiet: float = 0.5, timeout: float = 30.0) -> str:
        """Wait until nothing was drawn for ``quiet`` seconds."""
        try:
            await session.wait_until_settled(quiet=quiet, timeout=timeout)
        except SpiceError as exc:
            raise fail(exc) from exc
        return "screen settled"

    @server.tool()
    async def wait_for_text(text: str, timeout: float = 30.0) -> str:
        """Wait until OCR reads ``text`` on the screen (case ignored); returns
        where (its box and centre, to click)."""
        try:
            hit = await actions.wait_for_text(
                session, text, timeout=timeout, report_dir=report_dir
            )
        except SpiceError as exc:
            raise fail(exc) from exc
        return (
            f"read {hit.text!r} at x={hit.x} y={hit.y} w={hit.width} h={hit.height}; "
            f"centre {hit.center}"
        )

    @server.tool()
    async def read_text() -> str:
        """All the text OCR reads on the screen now, line by line."""
        try:
            await session.wait_for_frame(30)
            return await asyncio.to_thread(ocr.read_text, session.screenshot())
        except SpiceError as exc:
            raise fail(exc) from exc

    @server.tool()
    async def find_needle(
        needle: str, timeout: float = 0.0, click: bool = False
    ) -> str:
        """Find an openQA needle (path to NAME.json or a PNG, relative to the
        needle directory) on the screen, waiting up to ``timeout`` s; with
        ``click`` also click its click point."""
        path = base / needle
        try:
            if click:
                m = await actions.click_on(
                    session, path, timeout=timeout, report_dir=report_dir
                )
            else:
                m = await actions.wait_for_needle(
                    session, path, timeout=timeout, report_dir=report_dir
                )
        except (SpiceError, ValueError) as exc:
            raise fail(exc) from exc
        return (
            f"found {m.needle} at x={m.x} y={m.y} w={m.width} h={m.height} "
            f"score {m.score:.4f}; click point {m.click}"
            + ("; clicked" if click else "")
        )

    return server


def serve(
    uri: str | SpiceUri | Target,
    *,
    password: str | None = None,
    ca_file: Path | None = None,
    host_subject: str | None = None,
    timeout: float = 30.0,
    plain: bool = False,
    username: str | None = None,
    needle_dir: Path | None = None,
    report_dir: Path | None = None,
    blind: bool = False,
) -> None:
    """Connect to ``uri`` (or a resolved ``.vv`` / libvirt ``Target``; the
    other arguments as ``spicepy.connect``), then serve MCP on stdin/stdout
    until stdin closes; ``blind`` as ``build_server``.

    Raises:
        SpiceError: the SPICE connection failed.
    """
    from spicepy.client import connect

    async def main() -> None:
        async with connect(
            uri,
            password=password,
            ca_file=ca_file,
            host_subject=host_subject,
            timeout=timeout,
            plain=plain,
            username=username,
        ) as session:
            await session.wait_for_frame(timeout)
            server = build_server(
                session, needle_dir=needle_dir, report_dir=report_dir, blind=blind
            )
            await server.run_stdio_async()

    asyncio.run(main())
