"""``twins.build`` (a frozen slotted dataclass made from its field values) against
its reference twin ``cls(*values)``, on every event class of the channel machines
and on classes the compiled twin must not build itself."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spicepy.channels import events
from spicepy.wire import twins
from spicepy.wire.plan import direct_fields

EVENTS = sorted(
    (
        c
        for c in vars(events).values()
        if isinstance(c, type) and dataclasses.is_dataclass(c)
    ),
    key=lambda c: c.__name__,
)
VALUES = st.one_of(
    st.integers(-(2**70), 2**70), st.binary(max_size=8), st.none(), st.text(max_size=4)
)


@dataclass(frozen=True, slots=True)
class _Checked:
    a: int
    b: int

    def __post_init__(self) -> None:
        if self.a > self.b:
            raise ValueError("a > b")


@dataclass(slots=True)
class _Mutable:
    a: int
    b: Any


@dataclass(frozen=True)
class _NoSlots:
    a: int
    b: Any


def _same(x: object, y: object) -> None:
    assert type(x) is type(y)
    fields = dataclasses.fields(x)  # type: ignore[arg-type]
    assert [getattr(x, f.name) for f in fields] == [getattr(y, f.name) for f in fields]
    assert x == y


@pytest.mark.parametrize("cls", EVENTS, ids=lambda c: c.__name__)
@given(data=st.data())
def test_build_equals_the_constructor(cls: type, data: st.DataObject) -> None:
    n = len(dataclasses.fields(cls))
    values = tuple(data.draw(VALUES) for _ in range(n))
    _same(twins.build(cls, values), twins.build_ref(cls, values))


def test_the_events_are_built_directly() -> None:
    # the machines' hot event: the compiled twin must not fall back to __init__
    assert direct_fields(events.MessageReceived) == (
        "channel_type",
        "msg_type",
        "serial",
        "message",
    )
    assert direct_fields(_Checked) is None  # __post_init__ must run
    assert direct_fields(_Mutable) is None
    assert direct_fields(_NoSlots) is None


def test_classes_with_checks_are_called() -> None:
    for build in (twins.build, twins.build_ref):
        assert build(_Checked, (1, 2)) == _Checked(1, 2)
        with pytest.raises(ValueError, match="a > b"):
            build(_Checked, (3, 2))
        assert build(_Mutable, (1, [2])) == _Mutable(1, [2])
        assert build(_NoSlots, (1, 2)) == _NoSlots(1, 2)


@pytest.mark.parametrize("n", [0, 3, 5])
def test_a_wrong_number_of_values_is_a_type_error(n: int) -> None:
    for build in (twins.build, twins.build_ref):
        with pytest.raises(TypeError):
            build(events.MessageReceived, tuple(range(n)))


def test_a_built_event_is_frozen_and_hashable() -> None:
    ev = twins.build(events.MessageReceived, (2, 304, 7, b"x"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        ev.serial = 8  # type: ignore[misc]
    assert hash(ev) == hash(events.MessageReceived(2, 304, 7, b"x"))
    assert repr(ev) == repr(events.MessageReceived(2, 304, 7, b"x"))
