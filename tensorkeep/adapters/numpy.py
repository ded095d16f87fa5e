"""Nested mappings of arrays: the framework-neutral adapter.

Names: mapping keys joined with ``/``; lists and tuples by index, namedtuples
and dataclasses by field name (as JAX names key paths); ``None`` holds nothing.
A list or tuple of plain numbers is one array (``{"betas": (0.9, 0.999)}`` is
the tensor ``betas``). Leaves may be numpy arrays, Python or numpy scalars,
strings, PyTorch tensors, JAX arrays, and PyTorch modules and optimizers (whose
own names go below the key).

``restore`` fills a nested mapping in place: arrays are overwritten, PyTorch
tensors ``copy_``-ed, modules and optimizers restored by the PyTorch adapter,
scalars replaced in their mapping.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, MutableMapping, MutableSequence
from typing import Any

import numpy as np

from tensorkeep import errors
from tensorkeep.adapters._common import (
    IncompatibleKeys, SubMapping, check, join, loaded, shape_error, stored_shape)

_SCALARS = (bool, int, float, complex, np.generic)


def _is_number(x: Any) -> bool:
    return isinstance(x, _SCALARS) and not isinstance(x, (np.str_, np.bytes_, np.void))


def _torch_kind(obj: Any) -> str | None:
    if loaded("torch") is None:
        return None
    from tensorkeep.adapters import torch as _t

    return _t.kind(obj)


def _is_jax_array(obj: Any) -> bool:
    jax = loaded("jax")
    return jax is not None and isinstance(obj, jax.Array)


def _children(value: Any) -> list[tuple[Any, Any]] | None:
    """(key, child) pairs of a container, or None for a leaf."""
    if isinstance(value, np.ndarray):       # the common leaf, before the costlier checks
        return None
    if isinstance(value, Mapping):
        return list(value.items())
    if isinstance(value, tuple) and hasattr(value, "_fields"):       # namedtuple
        return list(zip(value._fields, value))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [(f.name, getattr(value, f.name)) for f in dataclasses.fields(value)]
    if isinstance(value, (list, tuple)):
        if value and all(_is_number(x) for x in value):
            return None                                            # one array
        return list(enumerate(value))
    return None


def as_array(name: str, value: Any) -> np.ndarray:
    """One leaf as a numpy array (PyTorch tensors without a copy where possible)."""
    if isinstance(value, np.ndarray):
        return value
    if _torch_kind(value) == "tensor":
        from tensorkeep.adapters import torch as _t

        return _t.tensor_to_numpy(value)
    if isinstance(value, (bytes, str)):
        return np.array(value, dtype=object)
    if _is_number(value) or isinstance(value, (list, tuple)):
        arr = np.asarray(value)
        if arr.dtype == object:
            raise errors.InvalidArgumentError(f"tensor {name!r}: cannot make an array of {value!r}")
        return arr
    if hasattr(value, "__array__") or hasattr(value, "__array_interface__"):
        return np.asarray(value)                                   # JAX arrays and others
    raise errors.InvalidArgumentError(
        f"tensor {name!r}: value of type {type(value).__name__} is not an array")


def flatten(state: Any, prefix: str = "") -> dict[str, Any]:
    """Containers to one level of ``/``-joined names; leaves as given (``None`` dropped)."""
    out: dict[str, Any] = {}

    def walk(value: Any, name: str) -> None:
        if value is None:
            return
        if _torch_kind(value) in ("module", "optimizer"):
            from tensorkeep.adapters import torch as _t

            for k, v in _t.to_arrays(value).items():
                put(join(name, k), v)
            return
        kids = _children(value)
        if kids is None:
            if not name:
                raise errors.InvalidArgumentError(
                    f"save() takes a mapping of names to arrays, got {type(value).__name__}")
            put(name, value)
            return
        for k, v in kids:
            walk(v, join(name, k))

    def put(name: str, value: Any) -> None:
        if name in out:
            raise errors.InvalidArgumentError(f"duplicate tensor name {name!r}")
        out[name] = value

    walk(state, prefix)
    return out


def to_arrays(state: Any) -> dict[str, np.ndarray]:
    """Every leaf of ``state`` as a numpy array, by ``/``-joined name."""
    if state.__class__ is dict:
        # the common flat dict of str -> ndarray: flatten() would give it back as is
        flat = dict(state)
        for k, v in flat.items():
            if k.__class__ is not str or not k or v.__class__ is not np.ndarray:
                break
        else:
            return flat
    return {name: as_array(name, v) for name, v in flatten(state).items()}


# ---------------------------------------------------------------------- restore

def restore(target: Any, arrays: Mapping[str, Any], strict: bool = True,
            what: str = "mapping") -> IncompatibleKeys:
    """Fill the nested mapping ``target`` in place from ``arrays`` (name -> array)."""
    missing: list[str] = []
    used: set[str] = set()
    mismatched: list[str] = []

    def leaf(container: Any, key: Any, value: Any, name: str) -> None:
        if name not in arrays:
            missing.append(name)
            return
        used.add(name)
        if isinstance(value, np.ndarray):
            _copy_into(name, value, arrays, mismatched)
        elif _torch_kind(value) == "tensor":
            from tensorkeep.adapters import torch as _t

            _t.copy_into(name, value, arrays, mismatched)
        elif _is_number(value) or isinstance(value, (str, bytes, list, tuple)):
            new = _like(name, value, arrays[name], mismatched)
            if new is not None:
                _replace(container, key, new, name)
        else:
            raise errors.InvalidArgumentError(
                f"cannot restore {name!r} into a value of type {type(value).__name__} in place")

    def walk(container: Any, key: Any, value: Any, name: str) -> None:
        if value is None:
            return
        if _torch_kind(value) in ("module", "optimizer"):
            from tensorkeep.adapters import torch as _t

            sub = SubMapping(arrays, name)
            res = _t.restore(value, sub, strict=False)
            missing.extend(join(name, k) for k in res.missing_keys)
            used.update(join(name, k) for k in sub if k not in set(res.unexpected_keys))
            return
        if _is_jax_array(value):
            raise errors.InvalidArgumentError(
                f"{name!r} is a JAX array, which cannot be changed in place; restore the whole "
                f"pytree with `tree = tensorkeep.load(prefix, into=tree)`")
        kids = _children(value)
        if kids is None:
            leaf(container, key, value, name)
            return
        for k, v in kids:
            walk(value, k, v, join(name, k))

    kids = _children(target)
    if kids is None or not isinstance(target, Mapping):
        raise errors.InvalidArgumentError(
            f"cannot restore into a {type(target).__name__}; pass a mapping of arrays, a PyTorch "
            f"module, optimizer or state_dict, or a JAX pytree")
    exact = getattr(arrays, "read_into_exact", None)
    for k, v in kids:
        # a top-level array of the stored dtype and shape: copied without the walk
        if exact is not None and v.__class__ is np.ndarray and k.__class__ is str and k \
                and exact(k, v):
            used.add(k)
            continue
        walk(target, k, v, join("", k))
    unexpected = [n for n in arrays if n not in used]
    return check(missing, unexpected, strict, what, mismatched)


def _copy_into(name: str, out: np.ndarray, arrays: Mapping[str, Any], mismatched: list[str]) -> None:
    stored = stored_shape(arrays, name)
    if stored != out.shape:
        mismatched.append(shape_error(name, stored, out.shape))
        return
    if not out.flags.writeable:
        raise errors.InvalidArgumentError(f"cannot restore {name!r}: the target array is read-only")
    read_into = getattr(arrays, "read_into", None)
    if read_into is not None and out.flags.c_contiguous and _same_dtype(arrays, name, out):
        read_into(name, out)                       # straight from the file, no temporary
    else:
        np.copyto(out, arrays[name], casting="unsafe")


def _same_dtype(arrays: Any, name: str, out: np.ndarray) -> bool:
    dtype = getattr(arrays, "dtype", None)
    if not callable(dtype):
        return False
    try:
        npd = dtype(name).numpy
    except Exception:  # noqa: BLE001  (a dtype the table cannot map: take the slow path)
        return False
    return npd is not None and npd.newbyteorder("=") == out.dtype.newbyteorder("=")


def _like(name: str, old: Any, stored: Any, mismatched: list[str]) -> Any:
    """``stored`` as a value of the same kind as ``old`` (a scalar, str or list of numbers)."""
    arr = np.asarray(stored)
    if isinstance(old, (list, tuple)):
        if arr.shape != (len(old),):
            mismatched.append(shape_error(name, arr.shape, (len(old),)))
            return None
        return type(old)(arr.tolist())
    if arr.shape != ():
        mismatched.append(shape_error(name, arr.shape, ()))
        return None
    value = arr[()]
    if isinstance(old, np.generic):
        return np.asarray(value).astype(old.dtype)[()]
    if isinstance(old, str):
        return value.decode("utf-8") if isinstance(value, bytes) else str(value)
    if isinstance(old, bytes):
        return value if isinstance(value, bytes) else str(value).encode("utf-8")
    return type(old)(value.item() if isinstance(value, np.generic) else value)


def _replace(container: Any, key: Any, new: Any, name: str) -> None:
    if isinstance(container, (MutableMapping, MutableSequence)):
        container[key] = new
    else:
        raise errors.InvalidArgumentError(
            f"cannot restore {name!r}: its container {type(container).__name__} is immutable")


__all__ = ["flatten", "to_arrays", "restore", "as_array"]
