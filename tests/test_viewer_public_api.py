"""``spicepy view`` is built on spicepy's public API only (issue 9): every
spicepy name the viewer imports is in its module's ``__all__`` (or, without
one, has no ``_``), no module on the way is private, and no private attribute
of another object is touched."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import spicepy.viewer

VIEWER = Path(spicepy.viewer.__file__).parent
SOURCES = sorted(VIEWER.glob("*.py"))


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _spicepy_imports(tree: ast.AST) -> list[tuple[str, str | None]]:
    """(module, name) of every spicepy import outside spicepy.viewer."""
    found: list[tuple[str, str | None]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module is not None:
            if node.level == 0 and node.module.split(".")[0] == "spicepy":
                found += [(node.module, alias.name) for alias in node.names]
        elif isinstance(node, ast.Import):
            found += [
                (a.name, None) for a in node.names if a.name.startswith("spicepy")
            ]
    return [(m, n) for m, n in found if not m.startswith("spicepy.viewer")]


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_viewer_imports_only_public_spicepy_names(path: Path) -> None:
    tree = ast.parse(path.read_text(), str(path))
    for module, name in _spicepy_imports(tree):
        assert not any(_private(part) for part in module.split(".")), module
        if name is None:
            continue
        assert not _private(name), f"{path.name}: {module}.{name}"
        public = getattr(importlib.import_module(module), "__all__", None)
        if public is not None:  # a module without one: its unprefixed names
            assert name in public, f"{path.name}: {module}.{name} is not public"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_viewer_touches_no_private_attribute_of_another_object(path: Path) -> None:
    tree = ast.parse(path.read_text(), str(path))
    touched = [
        f"{path.name}:{node.lineno}: .{node.attr}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and _private(node.attr)
        and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
    ]
    assert touched == []


def test_the_checks_see_a_private_use() -> None:
    # the two checks above on a line that breaks both rules
    tree = ast.parse("from spicepy.session._lane import x\nsession._machines\n")
    assert _spicepy_imports(tree) == [("spicepy.session._lane", "x")]
    attrs = [n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)]
    assert [a for a in attrs if _private(a)] == ["_machines"]
