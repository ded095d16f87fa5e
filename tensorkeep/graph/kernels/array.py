"""Kernels of constants, placeholders, identity and array manipulation."""

from __future__ import annotations

from typing import Any

import numpy as np

from tensorkeep import errors
from tensorkeep.graph import tensor_util
from tensorkeep.graph.kernels import OpContext, kernel


@kernel("Const")
def const(ctx: OpContext) -> np.ndarray:
    return tensor_util.make_ndarray(ctx.op._attrs["value"].tensor)


def _shape_text(shape: Any) -> str:
    if shape.ndims is None:
        return "<unknown>"
    return "[" + ",".join("?" if d is None else str(d) for d in shape.as_list()) + "]"


@kernel("Placeholder")
def placeholder(ctx: OpContext) -> np.ndarray:
    from tensorkeep.graph.tensor_shape import TensorShape
    dt = ctx.attr("dtype")
    tf_name = {"float32": "float", "float64": "double", "float16": "half"}.get(dt.name, dt.name)
    raise errors.InvalidArgumentError(
        None, None, f"You must feed a value for placeholder tensor '{ctx.op.name}' with dtype {tf_name}"
        + ("" if TensorShape(ctx.attr("shape")).ndims is None else
           f" and shape {_shape_text(TensorShape(ctx.attr('shape')))}")
        + f"\n\t [[{{{{node {ctx.op.name}}}}}]]")


@kernel("PlaceholderWithDefault", "Identity", "Snapshot", "StopGradient")
def identity(ctx: OpContext, x: Any) -> Any:
    return x


@kernel("IdentityN", list_output=True)
def identity_n(ctx: OpContext, *xs: Any) -> list[Any]:
    return list(xs)


@kernel("NoOp")
def no_op(ctx: OpContext) -> None:
    return None


@kernel("Reshape")
def reshape(ctx: OpContext, x: np.ndarray, shape: np.ndarray) -> np.ndarray:
    dims = [int(d) for d in np.reshape(shape, -1)]
    try:
        return np.reshape(x, dims)
    except ValueError:
        raise errors.InvalidArgumentError(
            None, None, f"Input to reshape is a tensor with {x.size} values, but the requested shape "
            f"has {int(np.prod(dims))}") from None


@kernel("Shape")
def shape(ctx: OpContext, x: np.ndarray) -> np.ndarray:
    return np.array(np.shape(x), dtype=ctx.output_dtypes[0].numpy)


@kernel("Size")
def size(ctx: OpContext, x: np.ndarray) -> np.ndarray:
    return np.array(np.size(x), dtype=ctx.output_dtypes[0].numpy)


@kernel("Rank")
def rank(ctx: OpContext, x: np.ndarray) -> np.ndarray:
    return np.array(np.ndim(x), dtype=np.int32)


@kernel("Fill")
def fill(ctx: OpContext, dims: np.ndarray, value: np.ndarray) -> np.ndarray:
    out = np.empty([int(d) for d in np.reshape(dims, -1)], dtype=value.dtype)
    out[...] = value
    return out


@kernel("ZerosLike")
def zeros_like(ctx: OpContext, x: np.ndarray) -> np.ndarray:
    if x.dtype == object:
        return np.full(x.shape, b"", dtype=object)
    return np.zeros_like(x)


@kernel("OnesLike")
def ones_like(ctx: OpContext, x: np.ndarray) -> np.ndarray:
    return np.ones_like(x)


@kernel("Pack")
def pack(ctx: OpContext, *values: np.ndarray) -> np.ndarray:
    return np.stack(values, axis=ctx.attr("axis"))


@kernel("Unpack", list_output=True)
def unpack(ctx: OpContext, value: np.ndarray) -> list[np.ndarray]:
    axis = ctx.attr("axis")
    return [np.take(value, i, axis=axis) for i in range(value.shape[axis])]


@kernel("Split", list_output=True)
def split(ctx: OpContext, split_dim: np.ndarray, value: np.ndarray) -> list[np.ndarray]:
    n = ctx.attr("num_split")
    axis = int(split_dim)
    if value.shape[axis] % n:
        raise errors.InvalidArgumentError(
            None, None, f"Number of ways to split should evenly divide the split dimension, but got "
                        f"split_dim {axis} (size = {value.shape[axis]}) and num_split {n}")
    return list(np.split(value, n, axis=axis))


@kernel("SplitV", list_output=True)
def split_v(ctx: OpContext, value: np.ndarray, size_splits: np.ndarray,
            split_dim: np.ndarray) -> list[np.ndarray]:
    axis = int(split_dim)
    sizes = [int(s) for s in np.reshape(size_splits, -1)]
    if sizes.count(-1) == 1:
        sizes[sizes.index(-1)] = value.shape[axis] - (sum(sizes) + 1)
    if sum(sizes) != value.shape[axis] or any(s < 0 for s in sizes):
        raise errors.InvalidArgumentError(
            None, None, f"Determined shape must either match input shape along split_dim exactly if "
                        f"fully specified, or be less than the size of the input along split_dim if "
                        f"not fully specified.  Got: {sum(sizes)}")
    return list(np.split(value, np.cumsum(sizes)[:-1], axis=axis))


@kernel("ConcatV2")
def concat(ctx: OpContext, *args: np.ndarray) -> np.ndarray:
    *values, axis = args
    return np.concatenate(values, axis=int(axis))


@kernel("Transpose")
def transpose(ctx: OpContext, x: np.ndarray, perm: np.ndarray) -> np.ndarray:
    return np.transpose(x, [int(p) for p in np.reshape(perm, -1)])


@kernel("ExpandDims")
def expand_dims(ctx: OpContext, x: np.ndarray, dim: np.ndarray) -> np.ndarray:
    return np.expand_dims(x, int(np.reshape(dim, -1)[0]))


@kernel("Squeeze")
def squeeze(ctx: OpContext, x: np.ndarray) -> np.ndarray:
    axes = ctx.attr("squeeze_dims")
    for a in axes:
        if x.shape[a] != 1:
            raise errors.InvalidArgumentError(
                None, None, f"Can not squeeze dim[{a % x.ndim}], expected a dimension of 1, got {x.shape[a]}")
    return np.squeeze(x, axis=tuple(axes) if axes else None)


@kernel("Select")
def select(ctx: OpContext, cond: np.ndarray, t: np.ndarray, e: np.ndarray) -> np.ndarray:
    if cond.ndim == 1 and t.ndim > 1:
        cond = cond.reshape((-1,) + (1,) * (t.ndim - 1))
    elif cond.shape != t.shape or t.shape != e.shape:
        raise errors.InvalidArgumentError(None, None, "'then' and 'else' must have the same size.  but "
                                          f"received: {list(t.shape)} vs. {list(e.shape)}")
    return np.where(cond, t, e)


@kernel("SelectV2")
def select_v2(ctx: OpContext, cond: np.ndarray, t: np.ndarray, e: np.ndarray) -> np.ndarray:
    return np.where(cond, t, e)


@kernel("Where")
def where(ctx: OpContext, x: np.ndarray) -> np.ndarray:
    return np.argwhere(x).astype(np.int64)


@kernel("Tile")
def tile(ctx: OpContext, x: np.ndarray, multiples: np.ndarray) -> np.ndarray:
    return np.tile(x, [int(m) for m in multiples])


@kernel("Slice")
def slice_(ctx: OpContext, x: np.ndarray, begin: np.ndarray, size: np.ndarray) -> np.ndarray:
    idx = tuple(slice(int(b), None if int(s) == -1 else int(b) + int(s)) for b, s in zip(begin, size))
    return x[idx]


@kernel("GatherV2")
def gather(ctx: OpContext, params: np.ndarray, indices: np.ndarray, axis: np.ndarray) -> np.ndarray:
    a = int(axis)
    n = params.shape[a]
    if np.any((indices < 0) | (indices >= n)):
        bad = int(indices[(indices < 0) | (indices >= n)].reshape(-1)[0])
        raise errors.InvalidArgumentError(None, None, f"indices = {bad} is not in [0, {n})")
    return np.take(params, indices, axis=a)


@kernel("StridedSlice")
def strided_slice(ctx: OpContext, x: np.ndarray, begin: np.ndarray, end: np.ndarray,
                  strides: np.ndarray) -> np.ndarray:
    bm, em = ctx.attr("begin_mask"), ctx.attr("end_mask")
    ellipsis, new_axis, shrink = ctx.attr("ellipsis_mask"), ctx.attr("new_axis_mask"), ctx.attr("shrink_axis_mask")
    index: list[Any] = []
    for i, (b, e, s) in enumerate(zip(begin, end, strides)):
        b, e, s = int(b), int(e), int(s)
        if ellipsis & (1 << i):
            index.append(Ellipsis)
        elif new_axis & (1 << i):
            index.append(None)
        elif shrink & (1 << i):
            index.append(b)
        else:
            index.append(slice(None if bm & (1 << i) else b, None if em & (1 << i) else e, s))
    return np.asarray(x[tuple(index)])
