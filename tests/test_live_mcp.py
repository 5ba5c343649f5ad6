"""``spicepy mcp`` driven by the MCP SDK's own client over stdio, on Xspice.

The client spawns the server as a subprocess (``python -m spicepy.bots.cli mcp
URI``, the same add_mcp the spicepy CLI registers), lists its tools, takes a
scaled screenshot, types a command into an xterm, reads the output with the
OCR tool, clicks a dialog button through the needle tool and sees a clean tool
error for a needle that does not exist.
"""

from __future__ import annotations

import asyncio
import base64
import io
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from _bots_desktop import DATA, running_desktop
from _bots_desktop import pytestmark as pytestmark
from PIL import Image

from spicepy.testing.xspice import Xspice

mcp = pytest.importorskip("mcp")

TIMEOUT = 180.0


@pytest.fixture
def desktop(tmp_path: Path) -> Iterator[Xspice]:
    with running_desktop(tmp_path) as server:
        yield server


def text_of(result: object) -> str:
    return " ".join(getattr(c, "text", "") for c in getattr(result, "content", []))


def test_mcp_client_drives_the_desktop(desktop: Xspice, tmp_path: Path) -> None:
    from mcp import ClientSession, StdioServerParameters, stdio_client

    params = StdioServerParameters(
        command=sys.executable,
        args=[
            "-P",
            "-m",
            "spicepy.bots.cli",
            "mcp",
            desktop.uri,
            "--needle-dir",
            str(DATA),
        ],
        cwd=str(tmp_path),
    )

    async def main() -> None:
        async with asyncio.timeout(TIMEOUT):
            async with stdio_client(params) as (read, write):
                async with ClientSession(read, write) as client:
                    await client.initialize()
                    tools = {t.name: t for t in (await client.list_tools()).tools}
                    assert {
                        "screenshot", "click", "move", "type_text", "key", "scroll",
                        "wait_for_change", "wait_until_settled", "wait_for_text",
                        "read_text", "find_needle",
                    } <= set(tools)  # fmt: skip
                    assert all(t.description for t in tools.values())

                    shot = await client.call_tool("screenshot", {"scale": 0.5})
                    assert not shot.is_error, text_of(shot)
                    image = next(c for c in shot.content if c.type == "image")
                    assert image.mime_type == "image/png"
                    png = Image.open(io.BytesIO(base64.b64decode(image.data)))
                    assert png.size == (512, 384)  # Xspice's 1024x768 at 0.5
                    assert np.asarray(png.convert("RGB")).max() == 255  # the xterm

                    typed = await client.call_tool(
                        "type_text",
                        {
                            "text": "xmessage -buttons Apply:3,Cancel:4 -geometry "
                            "+400+300 Proceed?; echo EXIT=$?\n"
                        },
                    )
                    assert not typed.is_error, text_of(typed)
                    found = await client.call_tool(
                        "find_needle",
                        {"needle": "xmessage-apply.json", "timeout": 60, "click": True},
                    )
                    assert not found.is_error, text_of(found)
                    assert "clicked" in text_of(found)
                    read = await client.call_tool(
                        "wait_for_text", {"text": "EXIT=3", "timeout": 90}
                    )
                    assert not read.is_error, text_of(read)

                    missing = await client.call_tool(
                        "find_needle", {"needle": "no-such-needle.json"}
                    )
                    assert missing.is_error
                    assert "no-such-needle" in text_of(missing)
                    bad = await client.call_tool("screenshot", {"scale": 3})
                    assert bad.is_error and "scale" in text_of(bad)

    asyncio.run(main())
