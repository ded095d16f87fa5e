"""Build hook for the one optional C extension; all metadata is in pyproject.toml.

``tensorkeep.format._scan`` speeds up listing a checkpoint's index. ``optional=True``:
where no C compiler is available the install still succeeds, and tensorkeep uses the
same loops in Python.
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("tensorkeep.format._scan", ["tensorkeep/format/_scan.c"],
                             optional=True)])
