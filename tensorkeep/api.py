"""The framework-neutral API: ``tensorkeep.save`` and ``tensorkeep.load``.

``save(tensors, prefix)`` writes a TensorFlow tensor bundle (``prefix.index`` +
``prefix.data-00000-of-00001``) that TensorFlow's readers and Saver restore;
``load(prefix)`` returns a lazy, read-only mapping of the tensors.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from tensorkeep import errors
from tensorkeep.bundle.writer import write_bundle
from tensorkeep.checkpoint.reader import LazyCheckpoint


def flatten(state: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings to one level, names joined with ``/``."""
    out: dict[str, Any] = {}
    for key, value in state.items():
        if not isinstance(key, str):
            raise errors.InvalidArgumentError(
                f"checkpoint names must be strings, got {type(key).__name__} {key!r}")
        if not key:
            raise errors.InvalidArgumentError(f"empty tensor name under {prefix or 'the root'!r}")
        name = f"{prefix}/{key}" if prefix else key
        if isinstance(value, Mapping):
            out.update(flatten(value, name))
        else:
            if name in out:
                raise errors.InvalidArgumentError(f"duplicate tensor name {name!r}")
            out[name] = value
    return out


def _as_array(name: str, value: Any) -> np.ndarray:
    if isinstance(value, np.ndarray):
        return value
    if isinstance(value, (bytes, str)):
        return np.array(value, dtype=object)
    if isinstance(value, (int, float, bool, complex, np.generic, list, tuple)):
        arr = np.asarray(value)
        if arr.dtype == object:
            raise errors.InvalidArgumentError(f"tensor {name!r}: cannot make an array of {value!r}")
        return arr
    if hasattr(value, "__array__") or hasattr(value, "__array_interface__"):
        return np.asarray(value)
    raise errors.InvalidArgumentError(
        f"tensor {name!r}: value of type {type(value).__name__} is not an array")


def save(tensors: Mapping[str, Any], prefix: str | os.PathLike[str], *, num_shards: int = 1,
         fsync: bool = True) -> str:
    """Write ``tensors`` (name -> array; nested mappings joined with ``/``) as a bundle.

    Returns the prefix. Nothing is published unless every tensor was written.
    """
    if not isinstance(tensors, Mapping):
        raise errors.InvalidArgumentError(
            f"save() takes a mapping of names to arrays, got {type(tensors).__name__}")
    flat = {name: _as_array(name, v) for name, v in flatten(tensors).items()}
    return write_bundle(prefix, flat, num_shards=num_shards, fsync=fsync, makedirs=True)


def load(prefix: str | os.PathLike[str], *, names: Any = None) -> LazyCheckpoint:
    """A lazy read-only mapping of the checkpoint's tensors (a directory: its latest)."""
    return LazyCheckpoint(prefix, names=names)


__all__ = ["save", "load", "flatten"]
