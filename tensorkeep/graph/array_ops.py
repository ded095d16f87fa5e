"""Array ops: shapes, reshaping, joining, filling, selection, identity."""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

from tensorkeep import dtypes as _dt
from tensorkeep.graph import constant_op
from tensorkeep.graph import ops as _ops
from tensorkeep.graph.op_def_library import apply_op
from tensorkeep.graph.tensor_shape import TensorShape


def _out(op: _ops.Operation) -> _ops.Tensor:
    return op._outputs[0]


def identity(input: Any, name: str | None = None) -> _ops.Tensor:  # noqa: A002
    if not isinstance(input, _ops.Tensor) and hasattr(input, "_as_graph_element"):
        input = input.value() if hasattr(input, "value") else input._as_graph_element()
    return _out(apply_op("Identity", name=name, input=input))


def stop_gradient(input: Any, name: str | None = None) -> _ops.Tensor:  # noqa: A002
    return _out(apply_op("StopGradient", name=name, input=input))


def reshape(tensor: Any, shape: Any, name: str | None = None) -> _ops.Tensor:
    if isinstance(shape, TensorShape):
        shape = shape.as_list()
    return _out(apply_op("Reshape", name=name, tensor=tensor, shape=shape))


def shape(input: Any, name: str | None = None, out_type: Any = _dt.int32) -> _ops.Tensor:  # noqa: A002
    return _out(apply_op("Shape", name=name, input=input, out_type=out_type))


def size(input: Any, name: str | None = None, out_type: Any = _dt.int32) -> _ops.Tensor:  # noqa: A002
    return _out(apply_op("Size", name=name, input=input, out_type=out_type))


def rank(input: Any, name: str | None = None) -> _ops.Tensor:  # noqa: A002
    """A ``Rank`` op, or (as TF) a Const named ``Rank`` when the rank is known statically."""
    with _ops.name_scope(name, "Rank", [input]) as scope:
        input = _ops.convert_to_tensor(input)  # noqa: A001
        if input.shape.ndims is not None:
            return constant_op.constant(input.shape.ndims, dtype=_dt.int32, name=scope)
        return _out(apply_op("Rank", name=scope, input=input))


def fill(dims: Any, value: Any, name: str | None = None) -> _ops.Tensor:
    return _out(apply_op("Fill", name=name, dims=dims, value=value))


def _shape_list(shape: Any) -> Any:
    if isinstance(shape, TensorShape):
        return shape.as_list()
    if isinstance(shape, int):
        return [shape]
    return shape


def _filled(value: Any, shape: Any, dtype: Any, name: str, default: str) -> _ops.Tensor:
    dtype = _dt.as_dtype(dtype).base_dtype
    with _ops.name_scope(name, default, [shape]) as scope:
        shape = _shape_list(shape)
        if not isinstance(shape, _ops.Tensor):
            dims = list(shape)
            if all(isinstance(d, (int, np.integer)) for d in dims) and int(np.prod(dims or [1])) < 1000:
                return constant_op.constant(value, dtype=dtype, shape=dims, name=scope)
            shape = constant_op.constant(np.array(dims, dtype=np.int32), name="shape_as_tensor")
        else:
            shape = _ops.convert_to_tensor(shape)
        return fill(shape, constant_op.constant(value, dtype=dtype), name=scope)


def zeros(shape: Any, dtype: Any = _dt.float32, name: str | None = None) -> _ops.Tensor:
    dt = _dt.as_dtype(dtype).base_dtype
    return _filled(b"" if dt is _dt.string else (False if dt.is_bool else 0), shape, dt, name, "zeros")


def ones(shape: Any, dtype: Any = _dt.float32, name: str | None = None) -> _ops.Tensor:
    dt = _dt.as_dtype(dtype).base_dtype
    return _filled(True if dt.is_bool else 1, shape, dt, name, "ones")


def zeros_like(tensor: Any, dtype: Any = None, name: str | None = None, optimize: bool = True) -> _ops.Tensor:
    with _ops.name_scope(name, "zeros_like", [tensor]) as scope:
        tensor = _ops.convert_to_tensor(tensor, name="tensor")
        dt = tensor.dtype.base_dtype if dtype is None else _dt.as_dtype(dtype).base_dtype
        if optimize and tensor.shape.is_fully_defined():
            return zeros(tensor.shape.as_list(), dtype=dt, name=scope)
        if dt is not tensor.dtype.base_dtype:
            return zeros(shape(tensor), dtype=dt, name=scope)
        return _out(apply_op("ZerosLike", name=scope, x=tensor))


def ones_like(tensor: Any, dtype: Any = None, name: str | None = None, optimize: bool = True) -> _ops.Tensor:
    with _ops.name_scope(name, "ones_like", [tensor]) as scope:
        tensor = _ops.convert_to_tensor(tensor, name="tensor")
        dt = tensor.dtype.base_dtype if dtype is None else _dt.as_dtype(dtype).base_dtype
        # TF 2.21 (NodeDefs compared): unlike zeros_like, a known shape is still filled
        # through a shape tensor, "Shape/shape_as_tensor" (a Const) or a "Shape" op.
        if optimize and tensor.shape.is_fully_defined():
            with _ops.name_scope("Shape"):
                dims = constant_op.constant(np.array(tensor.shape.as_list(), dtype=np.int32),
                                            name="shape_as_tensor")
        else:
            dims = shape(tensor)
        return ones(dims, dtype=dt, name=scope)


def concat(values: list[Any], axis: Any, name: str = "concat") -> _ops.Tensor:
    values = list(values)
    if len(values) == 1:
        with _ops.name_scope(name) as scope:
            return identity(values[0], name=scope)
    return _out(apply_op("ConcatV2", name=name, values=values, axis=axis))


def stack(values: list[Any], axis: int = 0, name: str = "stack") -> _ops.Tensor:
    values = list(values)
    if axis == 0 and not any(isinstance(v, _ops.Tensor) or hasattr(v, "_as_graph_element")
                             for v in values):
        return _ops.convert_to_tensor(values, name=name)
    return _out(apply_op("Pack", name=name, values=values, axis=axis))


def unstack(value: Any, num: int | None = None, axis: int = 0, name: str = "unstack") -> list[_ops.Tensor]:
    value = _ops.convert_to_tensor(value)
    if num is None:
        shp = value.shape
        if shp.ndims is None or shp[axis] is None:
            raise ValueError(f"Cannot infer argument `num` from shape {shp}")
        num = shp[axis]
    return apply_op("Unpack", name=name, value=value, num=num, axis=axis).outputs


def transpose(a: Any, perm: Any = None, name: str = "transpose", conjugate: bool = False) -> _ops.Tensor:
    with _ops.name_scope(name, "transpose", [a]) as scope:
        if perm is None:
            a = _ops.convert_to_tensor(a, name="a")
            r = a.shape.ndims
            if r is None:
                raise ValueError("transpose with perm=None needs a tensor of known rank")
            perm = np.arange(r - 1, -1, -1, dtype=np.int32)
        return _out(apply_op("Transpose", name=scope, x=a, perm=perm))


def expand_dims(input: Any, axis: Any = None, name: str | None = None, dim: Any = None) -> _ops.Tensor:  # noqa: A002
    axis = dim if axis is None else axis
    return _out(apply_op("ExpandDims", name=name, input=input, dim=axis))


def squeeze(input: Any, axis: Any = None, name: str | None = None, squeeze_dims: Any = None) -> _ops.Tensor:  # noqa: A002
    axis = squeeze_dims if axis is None else axis
    if isinstance(axis, int):
        axis = [axis]
    return _out(apply_op("Squeeze", name=name, input=input, squeeze_dims=list(axis or [])))


def _where_coordinates(condition: Any, name: str | None) -> _ops.Tensor:
    """``Where``: the int64 coordinates ``[num_true, rank]`` of the true elements."""
    with _ops.name_scope(name, "Where", [condition]) as scope:
        condition = _ops.convert_to_tensor(condition, preferred_dtype=_dt.bool, name="condition")
        return _out(apply_op("Where", name=scope, input=condition))


def where(condition: Any, x: Any = None, y: Any = None, name: str | None = None) -> _ops.Tensor:
    if x is None and y is None:
        return _where_coordinates(condition, name)
    if x is None or y is None:
        raise ValueError("x and y must both be non-None or both be None.")
    return _out(apply_op("Select", name=name, condition=condition, t=x, e=y))


def where_v2(condition: Any, x: Any = None, y: Any = None, name: str | None = None) -> _ops.Tensor:
    if x is None and y is None:
        return _where_coordinates(condition, name)
    if x is None or y is None:
        raise ValueError("x and y must both be non-None or both be None.")
    return _out(apply_op("SelectV2", name=name, condition=condition, t=x, e=y))


def split(value: Any, num_or_size_splits: Any, axis: Any = 0, num: int | None = None,
          name: str = "split") -> list[_ops.Tensor]:
    """``Split`` into equal parts (an int) or ``SplitV`` by sizes (one may be -1)."""
    if isinstance(num_or_size_splits, (int, np.integer)) and not isinstance(num_or_size_splits, bool):
        return list(apply_op("Split", name=name, split_dim=axis, value=value,
                             num_split=int(num_or_size_splits)).outputs)
    size_splits = _ops.convert_to_tensor(num_or_size_splits)
    if num is None:
        n = size_splits.shape[0] if size_splits.shape.ndims == 1 else None
        if n is None:
            raise ValueError(f"Cannot infer argument `num` from shape {size_splits.shape}")
        num = n
    return list(apply_op("SplitV", name=name, value=value, size_splits=size_splits,
                         split_dim=axis, num_split=num).outputs)


def tile(input: Any, multiples: Any, name: str | None = None) -> _ops.Tensor:  # noqa: A002
    return _out(apply_op("Tile", name=name, input=input, multiples=multiples))


def slice(input_: Any, begin: Any, size: Any, name: str | None = None) -> _ops.Tensor:  # noqa: A001
    return _out(apply_op("Slice", name=name, input=input_, begin=begin, size=size))


def gather(params: Any, indices: Any, axis: Any = None, batch_dims: int = 0,
           name: str | None = None) -> _ops.Tensor:
    with _ops.name_scope(name, "GatherV2", [params, indices]) as scope:
        return _out(apply_op("GatherV2", name=scope, params=params, indices=indices,
                             axis=0 if axis is None else axis, batch_dims=batch_dims))


def _slice_helper(tensor: _ops.Tensor, key: Any) -> _ops.Tensor:
    """``tensor[key]`` with ints, slices, ``None`` and ``...`` (a StridedSlice)."""
    if not isinstance(key, tuple):
        key = (key,)
    begin, end, strides = [], [], []
    begin_mask = end_mask = ellipsis_mask = new_axis_mask = shrink_mask = 0
    for i, k in enumerate(key):
        if isinstance(k, type(Ellipsis)):
            begin.append(0), end.append(0), strides.append(1)
            ellipsis_mask |= 1 << i
        elif k is None:
            begin.append(0), end.append(0), strides.append(1)
            new_axis_mask |= 1 << i
        elif isinstance(k, slice_type):
            begin.append(0 if k.start is None else k.start)
            end.append(0 if k.stop is None else k.stop)
            strides.append(1 if k.step is None else k.step)
            if k.start is None:
                begin_mask |= 1 << i
            if k.stop is None:
                end_mask |= 1 << i
        else:
            begin.append(k), end.append(k + 1), strides.append(1)
            shrink_mask |= 1 << i
    with _ops.name_scope(None, "strided_slice", [tensor]) as scope:
        b = stack(begin, name="stack")
        e = stack(end, name="stack_1")
        s = stack(strides, name="stack_2")
        return _out(apply_op("StridedSlice", name=scope, input=tensor, begin=b, end=e, strides=s,
                             begin_mask=begin_mask, end_mask=end_mask, ellipsis_mask=ellipsis_mask,
                             new_axis_mask=new_axis_mask, shrink_axis_mask=shrink_mask))


slice_type = builtins.slice  # the builtin (tf.slice shadows the name here)
