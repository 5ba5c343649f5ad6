"""Which spicepy modules a call passes through: the modules on the stack of
every caller of a patched method (outermost first, repeats collapsed)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

import spicepy

ROOT = Path(spicepy.__file__).parent


def record_callers(
    monkeypatch: pytest.MonkeyPatch, owner: type, name: str
) -> list[tuple[str, ...]]:
    """Patch ``owner.name`` to note its callers' spicepy modules; the list fills
    as it is called."""
    stacks: list[tuple[str, ...]] = []
    original = getattr(owner, name)

    def recorded(*args: Any, **kwargs: Any) -> Any:
        modules: list[str] = []
        frame = sys._getframe(1)
        while frame is not None:
            path = Path(frame.f_code.co_filename)
            if path.is_relative_to(ROOT):
                module = path.relative_to(ROOT).as_posix()
                if not modules or modules[-1] != module:
                    modules.append(module)
            frame = frame.f_back  # type: ignore[assignment]
        stacks.append(tuple(modules[::-1]))
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, recorded)
    return stacks
