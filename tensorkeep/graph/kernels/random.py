"""Kernels of random ops.

TensorFlow's Philox streams are not reproduced; what carries over is the
contract: a node with seeds (seed, seed2) != (0, 0) yields the same sequence in
every new session (successive runs advance it), and (0, 0) means fresh
randomness. Generators live in the session state, one per node.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tensorkeep.graph.kernels import OpContext, kernel


def _rng(ctx: OpContext) -> np.random.Generator:
    key = ("rng", ctx.op.name)
    rng = ctx.state.random.get(key)
    if rng is None:
        seed, seed2 = ctx.attr("seed"), ctx.attr("seed2")
        rng = np.random.default_rng([seed, seed2]) if (seed or seed2) else np.random.default_rng()
        ctx.state.random[key] = rng
    return rng


def _dims(shape: np.ndarray) -> list[int]:
    return [int(d) for d in np.reshape(shape, -1)]


def _out(ctx: OpContext, values: np.ndarray) -> np.ndarray:
    return values.astype(ctx.output_dtypes[0].base_dtype.numpy)


@kernel("RandomStandardNormal")
def random_standard_normal(ctx: OpContext, shape: np.ndarray) -> np.ndarray:
    return _out(ctx, _rng(ctx).standard_normal(_dims(shape)))


@kernel("RandomUniform")
def random_uniform(ctx: OpContext, shape: np.ndarray) -> np.ndarray:
    out = _out(ctx, _rng(ctx).random(_dims(shape)))
    return np.where(out >= 1, np.nextafter(np.ones((), out.dtype), 0), out).astype(out.dtype)


@kernel("TruncatedNormal")
def truncated_normal(ctx: OpContext, shape: np.ndarray) -> np.ndarray:
    rng = _rng(ctx)
    values = rng.standard_normal(_dims(shape))
    bad = np.abs(values) > 2.0
    while np.any(bad):
        values[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(values) > 2.0
    return _out(ctx, values)


@kernel("RandomUniformInt")
def random_uniform_int(ctx: OpContext, shape: np.ndarray, minval: Any, maxval: Any) -> np.ndarray:
    from tensorkeep import errors
    if not minval < maxval:
        raise errors.InvalidArgumentError(None, None, f"Need minval < maxval: {minval} >= {maxval}")
    return _out(ctx, _rng(ctx).integers(int(minval), int(maxval), _dims(shape)))
