"""Extension list only; metadata lives in pyproject.toml.

SPICEPY_EXTENSIONS=quic,lz limits the build to those codecs (handy while one
codec's .pyx is being worked on); SPICEPY_NO_EXTENSIONS=1 builds none, leaving
the pure-Python reference twins.
"""

import os

from setuptools import Extension, setup

CODECS = ["quic", "lz", "glz"]

selected = os.environ.get("SPICEPY_EXTENSIONS")
names = [n for n in CODECS if not selected or n in selected.split(",")]
if os.environ.get("SPICEPY_NO_EXTENSIONS"):
    names = []

ext_modules = [
    Extension(
        f"spicepy.codecs._{name}",
        sources=[f"codecs/_{name}.pyx"],
        depends=["codecs/_bitreader.pxi"],
        extra_compile_args=["-O3"],
    )
    for name in names
    if os.path.exists(f"codecs/_{name}.pyx")
]

setup(ext_modules=ext_modules)
