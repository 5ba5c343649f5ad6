"""CI smoke run of the fuzz targets (tests/fuzz): every target on its seeds.

The long coverage-guided runs use atheris (tests/fuzz/run.py, FUZZING.md); this
runs the same target functions on valid, halved and bit-flipped inputs made by
spicepy's encoders, so a target that rots (an API change, a new exception
type) fails here first.
"""

from __future__ import annotations

import pytest
from fuzz import targets

from spicepy.errors import CodecError


@pytest.mark.parametrize("name", sorted(targets.TARGETS))
def test_target_runs_its_seeds(name: str) -> None:
    seeds = targets.seeds(name)
    assert seeds
    for data in seeds:
        targets.run_one(name, data)


@pytest.mark.parametrize("name", sorted(set(targets.TARGETS) - {"wire", "channel"}))
def test_valid_seeds_decode(name: str) -> None:
    # the seeds are real inputs, not garbage the target refuses at once
    for data in targets.synthetic_seeds(name):
        targets.TARGETS[name](data)  # no SpiceError allowed


def test_run_one_only_swallows_spice_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(data: bytes) -> None:
        raise (CodecError if data else IndexError)("x")

    monkeypatch.setitem(targets.TARGETS, "boom", boom)
    targets.run_one("boom", b"1")
    with pytest.raises(IndexError):
        targets.run_one("boom", b"")


def test_every_target_says_what_run_py_instruments() -> None:
    import importlib

    assert set(targets.INSTRUMENT) == set(targets.TARGETS)
    for modules in targets.INSTRUMENT.values():
        for module in modules:  # a typo would silently instrument nothing
            importlib.import_module(module)


def test_channel_target_reaches_every_channel_machine() -> None:
    from spicepy.channels import CHANNEL_CLASSES

    machines = {
        type(targets._linked_channel(i, full)).__name__
        for i in range(len(CHANNEL_CLASSES))
        for full in (False, True)
    }
    assert machines == {cls.__name__ for cls in CHANNEL_CLASSES.values()}
    # each input gets its own machine, linked: garbage before does not leak into it
    from spicepy.channels import ChannelState

    targets.run_one("channel", b"\0" + b"\xff" * 64)
    for i in range(len(CHANNEL_CLASSES)):
        for full in (False, True):
            ch = targets._linked_channel(i, full)
            assert ch.state is ChannelState.READY
            assert ch.mini_header is not full
