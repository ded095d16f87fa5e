"""Kernels of element-wise math, matmul, reductions and comparisons (numpy semantics
where they agree with TensorFlow's; integer division and rounding as TF defines them)."""

from __future__ import annotations

from typing import Any

import numpy as np

from tensorkeep import errors
from tensorkeep.graph.kernels import OpContext, kernel


def _np(ctx: OpContext, i: int = 0) -> Any:
    return ctx.output_dtypes[i].base_dtype.numpy


def _binary(fn: Any) -> Any:
    def k(ctx: OpContext, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            return np.asarray(fn(x, y))
    return k


def _add(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    if x.dtype == object or y.dtype == object:  # string concatenation (Add on DT_STRING)
        return np.vectorize(lambda a, b: a + b, otypes=[object])(x, y)
    return x + y


def _int_div_trunc(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    if np.any(y == 0):
        raise errors.InvalidArgumentError(None, None, "Integer division by zero")
    q = np.abs(x) // np.abs(y)
    return np.where((x < 0) ^ (y < 0), -q, q).astype(np.result_type(x, y))


def _div(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    if x.dtype.kind in "iu":
        return _int_div_trunc(x, y)
    return x / y


def _floordiv(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    if x.dtype.kind in "iu" and np.any(y == 0):
        raise errors.InvalidArgumentError(None, None, "Integer division by zero")
    return np.floor_divide(x, y)


def _pow(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    if x.dtype.kind in "iu" and np.any(y < 0):
        raise errors.InvalidArgumentError(None, None, "Integers to negative integer powers are not allowed")
    return np.power(x, y)


kernel("Add", "AddV2")(_binary(_add))
kernel("Sub")(_binary(np.subtract))
kernel("Mul")(_binary(np.multiply))
kernel("RealDiv")(_binary(np.true_divide))
kernel("Div")(_binary(_div))
kernel("FloorDiv")(_binary(_floordiv))
kernel("FloorMod")(_binary(np.mod))
kernel("Maximum")(_binary(np.maximum))
kernel("Minimum")(_binary(np.minimum))
kernel("Pow")(_binary(_pow))
kernel("SquaredDifference")(_binary(lambda x, y: np.square(x - y)))
kernel("Less")(_binary(np.less))
kernel("Greater")(_binary(np.greater))
kernel("LessEqual")(_binary(np.less_equal))
kernel("GreaterEqual")(_binary(np.greater_equal))
kernel("LogicalAnd")(_binary(np.logical_and))
kernel("LogicalOr")(_binary(np.logical_or))


@kernel("Equal", "NotEqual")
def equal(ctx: OpContext, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    try:
        out = np.equal(x, y) if x.dtype != object else np.vectorize(lambda a, b: a == b, otypes=[bool])(x, y)
    except ValueError:
        if ctx.attr("incompatible_shape_error"):
            raise errors.InvalidArgumentError(
                None, None, f"Incompatible shapes: {list(x.shape)} vs. {list(y.shape)}") from None
        out = np.array(False)
    return out if ctx.op.type == "Equal" else np.logical_not(out)


@kernel("AddN")
def add_n(ctx: OpContext, *inputs: np.ndarray) -> np.ndarray:
    out = inputs[0]
    for x in inputs[1:]:
        out = out + x
    return out


def _unary(fn: Any) -> Any:
    def k(ctx: OpContext, x: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            return np.asarray(fn(x))
    return k


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return (1.0 / (1.0 + np.exp(-x.astype(np.float64)))).astype(x.dtype)


def _elu(x: np.ndarray) -> np.ndarray:
    return np.where(x > 0, x, np.expm1(x))


def _selu(x: np.ndarray) -> np.ndarray:
    alpha, scale = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946
    return (scale * np.where(x > 0, x, alpha * np.expm1(x))).astype(x.dtype)


def _softplus(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(0, x.astype(np.float64)).astype(x.dtype)


def _reciprocal(x: np.ndarray) -> np.ndarray:
    return 1 / x if x.dtype.kind not in "iu" else _int_div_trunc(np.ones_like(x), x)


kernel("Neg")(_unary(np.negative))
kernel("Abs")(_unary(np.abs))
kernel("Square")(_unary(np.square))
kernel("Sqrt")(_unary(np.sqrt))
kernel("Rsqrt")(_unary(lambda x: 1 / np.sqrt(x)))
kernel("Exp")(_unary(np.exp))
kernel("Log")(_unary(np.log))
kernel("Sign")(_unary(np.sign))
kernel("Floor")(_unary(np.floor))
kernel("Ceil")(_unary(np.ceil))
kernel("Round")(_unary(np.round))  # half to even, as TF's Round
kernel("Reciprocal")(_unary(_reciprocal))
kernel("Relu")(_unary(lambda x: np.maximum(x, np.zeros((), x.dtype))))
kernel("Relu6")(_unary(lambda x: np.clip(x, 0, 6).astype(x.dtype)))
kernel("Elu")(_unary(_elu))
kernel("Selu")(_unary(_selu))
kernel("Softplus")(_unary(_softplus))
kernel("Sigmoid")(_unary(_sigmoid))
kernel("Tanh")(_unary(np.tanh))
kernel("LogicalNot")(_unary(np.logical_not))


@kernel("Softmax")
def softmax(ctx: OpContext, logits: np.ndarray) -> np.ndarray:
    z = logits - np.max(logits, axis=-1, keepdims=True)
    e = np.exp(z)
    return e / np.sum(e, axis=-1, keepdims=True)


@kernel("LogSoftmax")
def log_softmax(ctx: OpContext, logits: np.ndarray) -> np.ndarray:
    z = logits - np.max(logits, axis=-1, keepdims=True)
    return z - np.log(np.sum(np.exp(z), axis=-1, keepdims=True))


@kernel("MatMul")
def matmul(ctx: OpContext, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if a.ndim != 2 or b.ndim != 2:
        raise errors.InvalidArgumentError(None, None, f"In[0] and In[1] are not both matrices: "
                                          f"{list(a.shape)} {list(b.shape)}")
    a = a.T if ctx.attr("transpose_a") else a
    b = b.T if ctx.attr("transpose_b") else b
    if a.shape[1] != b.shape[0]:
        raise errors.InvalidArgumentError(
            None, None, f"Matrix size-incompatible: In[0]: {list(a.shape)}, In[1]: {list(b.shape)}")
    return np.matmul(a, b)


@kernel("BatchMatMulV2")
def batch_matmul(ctx: OpContext, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    if ctx.attr("adj_x"):
        x = np.conj(np.swapaxes(x, -1, -2))
    if ctx.attr("adj_y"):
        y = np.conj(np.swapaxes(y, -1, -2))
    return np.matmul(x, y)


@kernel("BiasAdd")
def bias_add(ctx: OpContext, value: np.ndarray, bias: np.ndarray) -> np.ndarray:
    if bias.ndim != 1:
        raise errors.InvalidArgumentError(None, None, f"Biases must be 1D: {list(bias.shape)}")
    if ctx.attr("data_format") == b"NCHW" and value.ndim >= 3:
        return value + bias.reshape((1, -1) + (1,) * (value.ndim - 2))
    if value.shape[-1] != bias.shape[0]:
        raise errors.InvalidArgumentError(
            None, None, f"Must provide as many biases as the last dimension of the input tensor: "
            f"{list(bias.shape)} vs. {list(value.shape)}")
    return value + bias


@kernel("Cast")
def cast(ctx: OpContext, x: np.ndarray) -> np.ndarray:
    target = ctx.output_dtypes[0].base_dtype
    if target.numpy is None:
        return x
    with np.errstate(all="ignore"):
        if x.dtype.kind == "c" and target.numpy.kind != "c":
            x = x.real
        return x.astype(target.numpy)


def _axes(x: np.ndarray, axes: np.ndarray) -> tuple[int, ...]:
    flat = [int(a) for a in np.reshape(axes, -1)]
    for a in flat:
        if not -x.ndim <= a < max(x.ndim, 1):
            raise errors.InvalidArgumentError(
                None, None, f"Invalid reduction dimension ({a} for input with {x.ndim} dimension(s)")
    return tuple(sorted({a % x.ndim for a in flat})) if x.ndim else ()


def _reduction(fn: Any) -> Any:
    def k(ctx: OpContext, x: np.ndarray, axes: np.ndarray) -> np.ndarray:
        return np.asarray(fn(x, axis=_axes(x, axes), keepdims=bool(ctx.attr("keep_dims"))))
    return k


def _mean(x: np.ndarray, axis: tuple[int, ...], keepdims: bool) -> np.ndarray:
    if x.dtype.kind in "iu":
        n = int(np.prod([x.shape[a] for a in axis])) if axis else 1
        s = np.sum(x, axis=axis, keepdims=keepdims)
        return _int_div_trunc(s, np.asarray(n, dtype=s.dtype)) if n else s
    return np.mean(x, axis=axis, keepdims=keepdims)


kernel("Sum")(_reduction(np.sum))
kernel("Mean")(_reduction(_mean))
kernel("Max")(_reduction(np.max))
kernel("Min")(_reduction(np.min))
kernel("Prod")(_reduction(np.prod))
kernel("All")(_reduction(np.all))
kernel("Any")(_reduction(np.any))


@kernel("ArgMax", "ArgMin")
def arg_max(ctx: OpContext, x: np.ndarray, dimension: np.ndarray) -> np.ndarray:
    fn = np.argmax if ctx.op.type == "ArgMax" else np.argmin
    return fn(x, axis=int(dimension))


@kernel("Range")
def range_(ctx: OpContext, start: np.ndarray, limit: np.ndarray, delta: np.ndarray) -> np.ndarray:
    if delta == 0:
        raise errors.InvalidArgumentError(None, None, "Requires delta != 0: 0")
    return np.arange(start, limit, delta)
