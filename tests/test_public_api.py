"""The public API gaps the viewer found (issue 9): what an app needs without
reaching into spicepy's internals."""

from __future__ import annotations

from spicepy.cli import build_parser


def test_view_has_no_quiet_time_but_the_input_commands_do() -> None:
    parser = build_parser()
    args = parser.parse_args(["view", "spice://h:1"])
    assert not hasattr(args, "quiet_time")
    args = parser.parse_args(["wait", "spice://h:1", "--quiet-time", "2"])
    assert args.quiet_time == 2.0
