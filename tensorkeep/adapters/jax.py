"""JAX pytrees to checkpoint arrays and back.

Imports jax only when called. Names come from key paths: dict entries by key,
sequences by index, namedtuple and dataclass fields by name, joined with ``/``
(``{"params": {"dense": {"kernel": ...}}}`` -> ``params/dense/kernel``).

JAX arrays are immutable, so ``restore`` returns a new pytree with the
template's structure; each leaf takes the template leaf's dtype and, for
``jax.Array`` / ``jax.ShapeDtypeStruct`` leaves, its sharding. Dtypes are
ml_dtypes' on both sides (bfloat16, float8, int4 ...), the same the dtype table
maps to TensorFlow's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from tensorkeep import errors
from tensorkeep.adapters._common import check, loaded, shape_error, stored_shape


def _jax() -> Any:
    try:
        import jax
    except ImportError:
        raise errors.UnimplementedError(
            "JAX is not installed; install it with `pip install tensorkeep[jax]`") from None
    return jax


def _key_name(key: Any) -> str:
    tu = _jax().tree_util
    if isinstance(key, tu.DictKey):
        k = key.key
    elif isinstance(key, tu.SequenceKey):
        k = key.idx
    elif isinstance(key, tu.GetAttrKey):
        k = key.name
    elif isinstance(key, tu.FlattenedIndexKey):
        k = key.key
    else:                                           # a custom key type
        k = str(key).strip(".[]'\"")
    if isinstance(k, bool) or not isinstance(k, (str, int, np.integer)):
        raise errors.InvalidArgumentError(
            f"pytree key {k!r} ({type(k).__name__}) cannot be part of a checkpoint name")
    return str(k)


def _name(path: tuple[Any, ...]) -> str:
    name = "/".join(_key_name(k) for k in path)
    if not name:
        raise errors.InvalidArgumentError("a pytree that is a single leaf has no names; "
                                          "put it in a dict: {'x': value}")
    return name


def _is_abstract_or_array(x: Any) -> bool:
    jax = _jax()
    return isinstance(x, (jax.Array, jax.ShapeDtypeStruct))


def is_jax_tree(obj: Any) -> bool:
    """True for pytrees holding JAX arrays (or ShapeDtypeStructs), or whose root is a
    custom pytree node. Plain containers of numpy arrays go to the numpy adapter,
    which names them the same way."""
    jax = loaded("jax")
    if jax is None:
        return False
    leaves, treedef = jax.tree_util.tree_flatten(obj)
    if any(_is_abstract_or_array(x) for x in leaves):
        return True
    if isinstance(obj, (Mapping, list, tuple)) or treedef.num_nodes == 1:
        return False
    import dataclasses

    return not dataclasses.is_dataclass(obj)


def to_arrays(tree: Any) -> dict[str, np.ndarray]:
    """Every leaf of ``tree`` as a numpy array, named by its key path."""
    jax = _jax()
    from tensorkeep.adapters import numpy as _np_adapter

    flat, _ = jax.tree_util.tree_flatten_with_path(tree)
    out: dict[str, np.ndarray] = {}
    for path, leaf in flat:
        name = _name(path)
        if name in out:
            raise errors.InvalidArgumentError(f"duplicate tensor name {name!r}")
        if isinstance(leaf, jax.ShapeDtypeStruct):
            raise errors.InvalidArgumentError(f"{name!r} is a ShapeDtypeStruct, which has no value")
        if isinstance(leaf, jax.Array):
            out[name] = np.asarray(jax.device_get(leaf))
        else:
            out[name] = _np_adapter.as_array(name, leaf)
    return out


def restore(tree: Any, arrays: Mapping[str, Any], strict: bool = True) -> Any:
    """A new pytree shaped like ``tree`` with the values of ``arrays``."""
    jax = _jax()
    from tensorkeep.adapters import numpy as _np_adapter

    flat, treedef = jax.tree_util.tree_flatten_with_path(tree)
    missing: list[str] = []
    mismatched: list[str] = []
    used: set[str] = set()
    leaves = []
    for path, leaf in flat:
        name = _name(path)
        if name not in arrays:
            missing.append(name)
            leaves.append(leaf)
            continue
        used.add(name)
        if isinstance(leaf, (jax.Array, jax.ShapeDtypeStruct, np.ndarray)):
            stored = stored_shape(arrays, name)
            if stored != tuple(leaf.shape):
                mismatched.append(shape_error(name, stored, tuple(leaf.shape)))
                leaves.append(leaf)
                continue
            value = np.asarray(arrays[name], dtype=leaf.dtype)
            if isinstance(leaf, np.ndarray):
                leaves.append(np.array(value))
            else:
                sharding = getattr(leaf, "sharding", None)
                leaves.append(jax.device_put(value, sharding) if sharding is not None
                              else jax.numpy.asarray(value))
        else:
            new = _np_adapter._like(name, leaf, arrays[name], mismatched)
            leaves.append(leaf if new is None else new)
    unexpected = [n for n in arrays if n not in used]
    check(missing, unexpected, strict, "pytree", mismatched)
    return jax.tree_util.tree_unflatten(treedef, leaves)


__all__ = ["to_arrays", "restore", "is_jax_tree"]
