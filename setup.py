"""Extension list only; metadata lives in pyproject.toml.

Every ``_*.pyx`` beside its pure-Python twin is an extension: the codecs in
``codecs/`` (installed as ``spicepy.codecs``) and the hot paths of other
packages (``spicepy/<package>/_*.pyx``), so adding a fast twin needs no edit here.

SPICEPY_EXTENSIONS=quic,lz limits the build to the modules with those names
(handy while one .pyx is being worked on); SPICEPY_NO_EXTENSIONS=1 builds none,
leaving the pure-Python reference twins.
"""

import glob
import os

import numpy
from setuptools import Extension, setup


def _module(path: str) -> str:
    """Dotted module name of a .pyx path (codecs/ installs as spicepy.codecs)."""
    stem = path[: -len(".pyx")].replace(os.sep, ".")
    return "spicepy." + stem if stem.startswith("codecs.") else stem


sources = sorted(glob.glob("codecs/_*.pyx") + glob.glob("spicepy/*/_*.pyx"))
selected = os.environ.get("SPICEPY_EXTENSIONS")
if selected:
    wanted = {f"_{n.strip()}" for n in selected.split(",")}
    sources = [s for s in sources if os.path.basename(s)[:-4] in wanted]
if os.environ.get("SPICEPY_NO_EXTENSIONS"):
    sources = []

ext_modules = [
    Extension(
        _module(src),
        sources=[src],
        depends=sorted(glob.glob(os.path.join(os.path.dirname(src), "*.pxi"))),
        # numpy's C API (canvas/_draw.pyx reads arrays without a buffer export)
        include_dirs=[numpy.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        extra_compile_args=["-O3"],
    )
    for src in sources
]

setup(ext_modules=ext_modules)
