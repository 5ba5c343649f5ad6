"""spice-common's C codecs built as shared libraries, to time ours against.

Shared by ``bench_quic.py --vs-quic-c`` and ``bench_lz.py --vs-lz-c``: the
codec's sources from a spice-common checkout and the protocol headers from a
spice-protocol checkout are copied into a scratch folder beside the caller's
stand-ins for glib/gnulib headers and its small driver, then built at -O2 (as
Debian builds spice-gtk).  Never part of spicepy: only run by hand.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path


def build_reference_c(
    codec: str,
    spice_common: Path,
    spice_protocol: Path,
    into: Path,
    *,
    common_files: Sequence[str],
    protocol_files: Sequence[str],
    written: Mapping[str, str],
) -> Path:
    """``lib<codec>.so`` in ``into`` from spice-common's ``<codec>.c``, the
    ``common_files`` and ``protocol_files`` it includes, and ``written``
    (file name -> text: header stand-ins and ``driver.c``)."""
    (into / "spice").mkdir()
    for name in common_files:
        shutil.copy(spice_common / "common" / name, into / name)
    for name in protocol_files:
        shutil.copy(spice_protocol / "spice" / name, into / "spice" / name)
    for name, text in written.items():
        (into / name).write_text(text)
    lib = into / f"lib{codec}.so"
    done = subprocess.run(
        ["gcc", "-O2", "-fPIC", "-shared", "-w", "-I", str(into), "-o", str(lib),
         str(into / "driver.c"), str(into / f"{codec}.c")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode:
        raise SystemExit(f"building {codec}.c failed:\n{done.stderr[-2000:]}")
    return lib
