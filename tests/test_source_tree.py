"""`python -m spicepy` in the repository root after a plain (non-editable) install.

The checkout's spicepy/ then shadows the installed package, and codecs/ is not
under it: spicepy must say so and what to do (issue 14), not fail later with a
bare ``No module named 'spicepy.codecs'``. An installed copy is laid out in a
temp dir (spicepy/ with codecs/ inside, as a wheel has it); ``-S`` keeps the
venv's editable-install finder out, the venv's site-packages stay on the path
for numpy and friends.
"""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def installed_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("installed")
    ignore = shutil.ignore_patterns("__pycache__", "*.so", "*.c")
    shutil.copytree(REPO / "spicepy", root / "spicepy", ignore=ignore)
    shutil.copytree(REPO / "codecs", root / "spicepy" / "codecs", ignore=ignore)
    return root


def _run(cwd: Path, installed: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, SPICEPY_PUREPYTHON="1")
    env["PYTHONPATH"] = os.pathsep.join([str(installed), *site.getsitepackages()])
    return subprocess.run(
        [sys.executable, "-S", "-m", "spicepy", "--help"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_installed_copy_works_elsewhere(installed_copy: Path, tmp_path: Path) -> None:
    done = _run(tmp_path, installed_copy)
    assert done.returncode == 0, done.stderr
    assert "usage: spicepy" in done.stdout


def test_repository_root_says_what_to_do(installed_copy: Path) -> None:
    done = _run(REPO, installed_copy)
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: spicepy was imported from its source tree")
    assert "pip install -e ." in last and "another directory" in last
    assert "No module named" not in done.stderr
