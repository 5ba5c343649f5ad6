"""spicepy.errors is the documented hierarchy (its docstring is the contract
callers write ``except`` clauses against)."""

from __future__ import annotations

import re

import pytest

import spicepy.errors as errors


def _documented() -> dict[str, tuple[str, str]]:
    """name -> (documented parent, the line's note) from the docstring's tree."""
    out: dict[str, tuple[str, str]] = {}
    stack: list[str] = []
    for line in (errors.__doc__ or "").splitlines():
        m = re.match(r"^([│ ]*)[├└]── (\w+)\s*(.*)$", line)
        if line.strip() == "SpiceError":
            stack = ["SpiceError"]
        elif m:
            depth = len(m.group(1)) // 4 + 1
            del stack[depth:]
            out[m.group(2)] = (stack[-1], m.group(3))
            stack.append(m.group(2))
    return out


DOC = _documented()


def test_the_tree_is_every_error_class() -> None:
    classes = {
        n
        for n, c in vars(errors).items()
        if isinstance(c, type) and issubclass(c, Exception)
    }
    assert set(DOC) | {"SpiceError"} == classes


@pytest.mark.parametrize("name", sorted(DOC))
def test_each_error_has_its_documented_parent_and_builtin(name: str) -> None:
    cls = getattr(errors, name)
    parent, note = DOC[name]
    assert cls.__bases__[0] is getattr(errors, parent)
    # "also a ValueError" / "(a ValueError...)" / "(also a TimeoutError)"
    for builtin in (ValueError, TimeoutError):
        assert issubclass(cls, builtin) == (builtin.__name__ in note), builtin


def test_bad_image_data_is_caught_as_value_error() -> None:
    from spicepy.codecs.image import decode_image

    from spicepy.wire.enums import ImageType

    with pytest.raises(ValueError):
        decode_image(ImageType.QUIC, b"\0" * 8, width=4, height=4)
