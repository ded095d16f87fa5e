"""The framework-neutral API: ``tensorkeep.save`` and ``tensorkeep.load``.

``save(state, prefix)`` writes a TensorFlow tensor bundle (``prefix.index`` +
``prefix.data-00000-of-00001``) that TensorFlow's readers and Saver restore.
``state`` is a mapping of names to arrays (nested mappings joined with ``/``), a
PyTorch module, optimizer or state_dict, or a JAX pytree (names from its key
paths). ``load(prefix)`` returns a lazy, read-only mapping of the tensors;
``load(prefix, into=obj)`` restores them into ``obj``.

Which adapter handles an object is decided by what it is, never by importing a
framework: a PyTorch or JAX object cannot exist unless that framework was
imported already.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from tensorkeep import errors
from tensorkeep.adapters import numpy as _np_adapter
from tensorkeep.adapters._common import IncompatibleKeys, loaded
from tensorkeep.bundle.writer import write_bundle
from tensorkeep.checkpoint import async_save as _async
from tensorkeep.checkpoint.reader import LazyCheckpoint

flatten = _np_adapter.flatten


def _adapter_for(obj: Any) -> Any:
    """The adapter module for ``obj``: torch, jax or numpy (nested mappings)."""
    if loaded("torch") is not None:
        from tensorkeep.adapters import torch as _t

        if _t.kind(obj) in ("module", "optimizer"):
            return _t
    if loaded("jax") is not None:
        from tensorkeep.adapters import jax as _j

        if _j.is_jax_tree(obj):
            return _j
    return _np_adapter


def to_arrays(state: Any) -> dict[str, np.ndarray]:
    """``state`` as a flat mapping of ``/``-joined names to numpy arrays."""
    return _adapter_for(state).to_arrays(state)


def _write(flat: Mapping[str, np.ndarray], prefix: str | os.PathLike[str], *,
           num_shards: int = 1, fsync: bool = True) -> str:
    """Write flat name -> array as a bundle at ``prefix`` (published atomically)."""
    return write_bundle(prefix, flat, num_shards=num_shards, fsync=fsync, makedirs=True)


def save(state: Any, prefix: str | os.PathLike[str], *, num_shards: int = 1,
         fsync: bool = True, blocking: bool = True, copy: bool = True) -> Any:
    """Write ``state`` as a TensorFlow checkpoint at ``prefix``; returns the prefix.

    Nothing is published unless every tensor was written. ``blocking=False``
    returns once the tensors are snapshotted (``copy=False``: not even copied;
    the caller then must not change them until the save is done) and writes in
    the background; it returns a handle with ``wait()`` and ``done()``. A
    background error is raised by ``wait()``, or else by the next save.
    """
    if not blocking:
        flat = to_arrays(state)
        path = os.fspath(prefix)
        return _async.start(path, flat, lambda snap: _write(snap, path, num_shards=num_shards,
                                                              fsync=fsync), copy=copy)
    _async.raise_pending()
    return _write(to_arrays(state), prefix, num_shards=num_shards, fsync=fsync)


def load(prefix: str | os.PathLike[str], into: Any = None, names: Iterable[str] | None = None,
         *, strict: bool = True) -> Any:
    """Read the checkpoint at ``prefix`` (a directory: its latest checkpoint).

    Without ``into``: a lazy mapping of names to read-only numpy arrays
    (memory-mapped, checksums verified when a tensor is read). With ``into``:
    restore into a PyTorch module, optimizer or state_dict, or a mapping of
    arrays (in place; returns ``IncompatibleKeys(missing_keys,
    unexpected_keys)``), or into a JAX pytree (returns the new pytree).
    ``strict`` (default) raises when names are missing or unexpected; shape
    mismatches always raise. ``names`` limits which tensors are read.
    """
    ckpt = LazyCheckpoint(prefix, names=names)
    if into is None:
        return ckpt
    return restore(into, ckpt, strict=strict)


def restore(into: Any, arrays: Mapping[str, Any], *, strict: bool = True) -> Any:
    """Put ``arrays`` (name -> array) into ``into``; see :func:`load`."""
    adapter = _adapter_for(into)
    if adapter is _np_adapter and not isinstance(into, Mapping):
        raise errors.InvalidArgumentError(
            f"cannot restore into a {type(into).__name__}; pass a mapping of arrays, a PyTorch "
            f"module, optimizer or state_dict, or a JAX pytree")
    return adapter.restore(into, arrays, strict)


__all__ = ["save", "load", "restore", "to_arrays", "flatten", "IncompatibleKeys"]
