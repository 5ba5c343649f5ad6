"""pytest plugin (entry point ``pytest11``): a ``spice`` fixture for GUI tests.

    pytest --spice-uri spice://127.0.0.1:5900 tests/gui/

    def test_login(spice):
        spice.do("type root key enter")
        spice.wait_for_text("Password:")
        spice.expect("refs/desktop.png", timeout=60)

``spice`` is a ``SpiceBot``: a connected ``Session`` (``spice.session``) on
its own event loop thread, with blocking versions of the bot actions and
``spice.run(coro)`` for anything async.  Tests that use it are skipped when
no URI is given (``--spice-uri`` or $SPICEPY_URI).

When such a test fails, the plugin saves the last screen, and with it the
reference and diff of a failed expect/needle wait, under
``--spice-report-dir`` (default: the test's tmp directory) and adds a
"spicepy" section to the report naming the files.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Coroutine, Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from spicepy.bots.match import Match
    from spicepy.bots.ocr import TextMatch
    from spicepy.session.session import Session

T = TypeVar("T")
URI_ENV = "SPICEPY_URI"
BOT_KEY = pytest.StashKey["SpiceBot"]()
WAIT_SLACK = 30.0  # seconds a blocking call may take beyond its own timeout


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("spicepy", "SPICE GUI testing (spicepy)")
    group.addoption(
        "--spice-uri", help=f"SPICE server for the spice fixture (${URI_ENV})"
    )
    group.addoption("--spice-password", help="SPICE ticket")
    group.addoption(
        "--spice-timeout", type=float, default=30.0, help="connect/wait seconds (30)"
    )
    group.addoption("--spice-report-dir", help="where failure screenshots/diffs go")


class SpiceBot:
    """A connected session on a private event loop, with blocking actions."""

    def __init__(self, uri: str, *, password: str | None, timeout: float) -> None:
        self.timeout = timeout
        self.report_dir: Path | None = None
        self.last_error: BaseException | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="spicepy-pytest", daemon=True
        )
        self._thread.start()
        from spicepy.client import connect

        async def open_session() -> Session:
            session = await connect(uri, password=password, timeout=timeout)
            await session.wait_for_frame(timeout)
            return session

        try:
            self.session: Session = self.run(open_session())
        except BaseException:
            self._stop()
            raise

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run a coroutine on the session's loop and return its result."""
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result(timeout)
        except BaseException as exc:
            self.last_error = exc
            raise

    def _budget(self, timeout: float | None) -> float:
        return (self.timeout if timeout is None else timeout) + WAIT_SLACK

    def do(self, script: str) -> None:
        """Run ``spicepy do`` commands (see ``spicepy.bots.script``)."""
        from spicepy.bots.runner import Runner
        from spicepy.bots.script import parse

        steps = parse(script)
        runner = Runner(self.session, timeout=self.timeout, report_dir=self.report_dir)
        self.run(runner.run(steps))

    def screenshot(self, path: str | Path | None = None) -> npt.NDArray[np.uint8]:
        return self.session.screenshot(path)

    def expect(
        self, reference: Any, *, timeout: float | None = None, **kw: Any
    ) -> None:
        """``actions.expect`` (reference PNG path or RGB array)."""
        from spicepy.bots import actions

        t = self.timeout if timeout is None else timeout
        self.run(
            actions.expect(
                self.session, reference, timeout=t, report_dir=self.report_dir, **kw
            ),
            self._budget(t),
        )

    def wait_for_needle(
        self, needle: Any, *, timeout: float | None = None, **kw: Any
    ) -> Match:
        from spicepy.bots import actions

        t = self.timeout if timeout is None else timeout
        return self.run(
            actions.wait_for_needle(
                self.session, needle, timeout=t, report_dir=self.report_dir, **kw
            ),
            self._budget(t),
        )

    def click_on(
        self, needle: Any, *, timeout: float | None = None, **kw: Any
    ) -> Match:
        from spicepy.bots import actions

        t = self.timeout if timeout is None else timeout
        return self.run(
            actions.click_on(
                self.session, needle, timeout=t, report_dir=self.report_dir, **kw
            ),
            self._budget(t),
        )

    def wait_for_text(
        self, text: str, *, timeout: float | None = None, **kw: Any
    ) -> TextMatch:
        from spicepy.bots import actions

        t = self.timeout if timeout is None else timeout
        return self.run(
            actions.wait_for_text(
                self.session, text, timeout=t, report_dir=self.report_dir, **kw
            ),
            self._budget(t),
        )

    def close(self) -> None:
        try:
            self.run(self.session.close(), WAIT_SLACK)
        finally:
            self._stop()

    def _stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(WAIT_SLACK)
        self._loop.close()


@pytest.fixture
def spice(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SpiceBot]:
    """A connected SPICE session (``SpiceBot``) for the ``--spice-uri`` server."""
    config = request.config
    uri = config.getoption("spice_uri") or os.environ.get(URI_ENV)
    if not uri:
        pytest.skip(f"no SPICE server: give --spice-uri or ${URI_ENV}")
    bot = SpiceBot(
        uri,
        password=config.getoption("spice_password"),
        timeout=config.getoption("spice_timeout"),
    )
    base = config.getoption("spice_report_dir")
    bot.report_dir = (
        Path(base) / _safe(request.node.nodeid) if base else tmp_path / "spicepy"
    )
    request.node.stash[BOT_KEY] = bot
    try:
        yield bot
    finally:
        bot.close()


def _safe(nodeid: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in nodeid)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Any, None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    bot = item.stash.get(BOT_KEY, None)
    if bot is None or report.when != "call" or not report.failed:
        return
    lines = []
    try:
        assert bot.report_dir is not None
        bot.report_dir.mkdir(parents=True, exist_ok=True)
        shot = bot.report_dir / "last-screen.png"
        bot.screenshot(shot)
        lines.append(f"last screen: {shot}")
    except Exception as exc:  # the session may be what failed
        lines.append(f"last screen: not available ({type(exc).__name__}: {exc})")
    from spicepy.bots.actions import failure_report

    error = call.excinfo.value if call.excinfo is not None else None
    found = failure_report(error) if error is not None else None
    if found is None and bot.last_error is not None:
        found = failure_report(bot.last_error)
    if found is not None:
        lines.append(found.summary())
        for kind in ("reference", "diff", "report"):
            if kind in found.files:
                lines.append(f"{kind}: {found.files[kind]}")
    report.sections.append(("spicepy", "\n".join(lines)))
