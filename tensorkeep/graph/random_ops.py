"""Random ops with TensorFlow's node structure and seeding rules.

Seeds (``get_seed``, TF's ``random_seed.get_seed``): with a graph seed set, an
op without its own seed gets the graph's running seed counter (0, 1, 2, ... per
graph); with only an op seed the graph seed defaults to 87654321; the pair
(0, 0) is replaced by (0, 2**31 - 1) because the kernels read (0, 0) as
"nondeterministic". Seeds are truncated modulo 2**31 - 1.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tensorkeep import dtypes as _dt
from tensorkeep.graph import math_ops
from tensorkeep.graph import ops as _ops
from tensorkeep.graph.op_def_library import apply_op
from tensorkeep.graph.tensor_shape import TensorShape

DEFAULT_GRAPH_SEED = 87654321
_MAXINT32 = 2 ** 31 - 1


def _truncate_seed(seed: int) -> int:
    return seed % _MAXINT32


def get_seed(op_seed: int | None) -> tuple[int | None, int | None]:
    """The (graph-level, op-level) seed pair for a new random op."""
    graph = _ops.get_default_graph()
    global_seed = graph.seed
    if global_seed is not None:
        if op_seed is None:
            op_seed = graph._seed_offset
            graph._seed_offset += 1
        seeds: tuple[int | None, int | None] = (_truncate_seed(global_seed), _truncate_seed(op_seed))
    elif op_seed is not None:
        seeds = (DEFAULT_GRAPH_SEED, _truncate_seed(op_seed))
    else:
        seeds = (None, None)
    if seeds == (0, 0):
        return (0, _MAXINT32)
    return seeds


def set_random_seed(seed: int | None) -> None:
    """Set the graph-level seed of the default graph (TF1 ``tf.set_random_seed``)."""
    _ops.get_default_graph().seed = seed


def shape_tensor(shape: Any) -> _ops.Tensor:
    """A 1-D int tensor named ``shape`` for a list/TensorShape (TF's ``tensor_util.shape_tensor``)."""
    if isinstance(shape, _ops.Tensor):
        return shape
    if isinstance(shape, TensorShape):
        shape = shape.as_list()
    dims = list(shape) if isinstance(shape, (list, tuple, np.ndarray)) else shape
    dtype = None
    if isinstance(dims, list) and dims and all(isinstance(d, (int, np.integer)) for d in dims):
        dtype = _dt.int64 if any(d >= 2 ** 31 for d in dims) else _dt.int32
    elif isinstance(dims, list) and not dims:
        dtype = _dt.int32
    return _ops.convert_to_tensor(dims, dtype=dtype, name="shape")


def _seed_attrs(seed: int | None) -> dict[str, int]:
    s1, s2 = get_seed(seed)
    return {"seed": s1 or 0, "seed2": s2 or 0}


def random_normal(shape: Any, mean: Any = 0.0, stddev: Any = 1.0, dtype: Any = _dt.float32,
                  seed: int | None = None, name: str | None = None) -> _ops.Tensor:
    dtype = _dt.as_dtype(dtype)
    with _ops.name_scope(name, "random_normal", [shape, mean, stddev]) as scope:
        shp = shape_tensor(shape)
        mean_t = _ops.convert_to_tensor(mean, dtype=dtype, name="mean")
        stddev_t = _ops.convert_to_tensor(stddev, dtype=dtype, name="stddev")
        rnd = apply_op("RandomStandardNormal", shape=shp, dtype=dtype, **_seed_attrs(seed)).outputs[0]
        mul = rnd * stddev_t
        return math_ops.add(mul, mean_t, name=scope)


def truncated_normal(shape: Any, mean: Any = 0.0, stddev: Any = 1.0, dtype: Any = _dt.float32,
                     seed: int | None = None, name: str | None = None) -> _ops.Tensor:
    dtype = _dt.as_dtype(dtype)
    with _ops.name_scope(name, "truncated_normal", [shape, mean, stddev]) as scope:
        shp = shape_tensor(shape)
        mean_t = _ops.convert_to_tensor(mean, dtype=dtype, name="mean")
        stddev_t = _ops.convert_to_tensor(stddev, dtype=dtype, name="stddev")
        rnd = apply_op("TruncatedNormal", shape=shp, dtype=dtype, **_seed_attrs(seed)).outputs[0]
        mul = rnd * stddev_t
        return math_ops.add(mul, mean_t, name=scope)


def random_uniform(shape: Any, minval: Any = 0, maxval: Any = None, dtype: Any = _dt.float32,
                   seed: int | None = None, name: str | None = None) -> _ops.Tensor:
    dtype = _dt.as_dtype(dtype)
    if maxval is None:
        if dtype.is_integer:
            raise ValueError(f"Must specify maxval for integer dtype {dtype}")
        maxval = 1
    with _ops.name_scope(name, "random_uniform", [shape, minval, maxval]) as scope:
        shp = shape_tensor(shape)
        minval_is_zero = isinstance(minval, (int, float)) and minval == 0
        maxval_is_one = isinstance(maxval, (int, float)) and maxval == 1
        if not minval_is_zero or not maxval_is_one or dtype.is_integer:
            minval = _ops.convert_to_tensor(minval, dtype=dtype, name="min")
            maxval = _ops.convert_to_tensor(maxval, dtype=dtype, name="max")
        seeds = _seed_attrs(seed)
        if dtype.is_integer:
            return apply_op("RandomUniformInt", name=scope, shape=shp, minval=minval,
                            maxval=maxval, **seeds).outputs[0]
        result = apply_op("RandomUniform", shape=shp, dtype=dtype, **seeds).outputs[0]
        if minval_is_zero:
            if not maxval_is_one:
                result = math_ops.multiply(result, maxval)
            return result
        return math_ops.add(result * (maxval - minval), minval, name=scope)
