"""Build hook for the one optional C extension; all metadata is in pyproject.toml.

``tensorkeep.format._native`` holds the format layer's per-entry loops (listing and
decoding a checkpoint's index, encoding its entries). ``optional=True``:
where no C compiler is available the install still succeeds, and tensorkeep uses the
same loops in Python.
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("tensorkeep.format._native", ["tensorkeep/format/_native.c"],
                             optional=True)])
