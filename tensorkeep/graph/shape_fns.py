"""Static shape inference: one small function per op type.

Shapes feed ``Tensor.shape``, variable shapes and the ``_output_shapes`` attr of
exported graphs, so they follow TensorFlow's C++ shape functions for the ops we
know (values of constant inputs are used where TF uses them: ``Reshape``'s shape,
``RandomStandardNormal``'s shape, reduction axes, ``RestoreV2``'s slice specs).
Unknown ops keep the shapes an imported ``_output_shapes`` attr gave them, or
unknown rank.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from tensorkeep import errors
from tensorkeep.format import tensor_slice
from tensorkeep.graph import tensor_util
from tensorkeep.graph.tensor_shape import TensorShape, broadcast_shape, shared_from_proto

_ShapeFn = Callable[[Any], list[TensorShape]]
_FNS: dict[str, _ShapeFn] = {}
UNKNOWN = TensorShape(None)


def _register(*op_types: str) -> Callable[[_ShapeFn], _ShapeFn]:
    def deco(fn: _ShapeFn) -> _ShapeFn:
        for t in op_types:
            _FNS[t] = fn
        return fn
    return deco


# Integer ops folded when their inputs are constant (as TF's shape inference evaluates
# small constant subgraphs, e.g. the permutation of softmax over a non-last axis).
_CONSTANT_ARITHMETIC: dict[str, Callable[..., Any]] = {
    "Add": np.add, "AddV2": np.add, "Sub": np.subtract, "Mul": np.multiply,
    "FloorMod": np.mod, "Range": lambda start, limit, delta: _small_range(start, limit, delta),
}
_MAX_FOLDED_ELEMENTS = 1 << 16  # no large constants are materialized by shape inference


def _small_range(start: Any, limit: Any, delta: Any) -> np.ndarray:
    if int(delta) == 0 or abs((int(limit) - int(start)) // int(delta)) > _MAX_FOLDED_ELEMENTS:
        raise ValueError("range not folded")
    return np.arange(start, limit, delta)


def constant_value(tensor: Any) -> np.ndarray | None:
    """The value of ``tensor`` if it is known when the graph is built, else None."""
    op = tensor.op
    try:
        if op.type == "Const":
            return tensor_util.make_ndarray(op._attrs["value"].tensor)
        if op.type in ("Identity", "StopGradient"):
            return constant_value(op.inputs[0])
        if op.type == "Shape":
            shape = op.inputs[0].shape
            if shape.is_fully_defined():
                return np.array(shape.as_list(), dtype=tensor.dtype.numpy)
        if op.type == "Size" and op.inputs[0].shape.is_fully_defined():
            return np.array(op.inputs[0].shape.num_elements(), dtype=tensor.dtype.numpy)
        if op.type == "Rank" and op.inputs[0].shape.ndims is not None:
            return np.array(op.inputs[0].shape.ndims, dtype=np.int32)
        if op.type == "Pack":
            values = [constant_value(t) for t in op.inputs]
            if all(v is not None for v in values):
                return np.stack(values, axis=op.get_attr("axis"))
        if op.type == "ConcatV2":
            values = [constant_value(t) for t in op.inputs]
            if all(v is not None for v in values):
                return np.concatenate(values[:-1], axis=int(values[-1]))
        if op.type == "Cast":
            v = constant_value(op.inputs[0])
            if v is not None:
                return v.astype(tensor.dtype.numpy)
        if op.type in _CONSTANT_ARITHMETIC and tensor.dtype.is_integer:
            values = [constant_value(t) for t in op.inputs]
            if all(v is not None for v in values):
                return np.asarray(_CONSTANT_ARITHMETIC[op.type](*values), dtype=tensor.dtype.numpy)
    except (KeyError, ValueError, TypeError, IndexError):
        return None
    return None


def _shape_from_tensor(tensor: Any) -> TensorShape:
    """A shape given as a 1-D tensor (partially known when not constant)."""
    value = constant_value(tensor)
    if value is not None:
        return TensorShape([None if d < 0 else int(d) for d in np.reshape(value, -1)])
    if tensor.op.type == "Shape" and tensor.op.inputs[0].shape.ndims is not None:
        return tensor.op.inputs[0].shape  # as TF: the known dims of the shaped tensor
    if tensor.op.type == "Pack":
        dims = []
        for t in tensor.op.inputs:
            v = constant_value(t)
            dims.append(None if v is None or int(v) < 0 else int(v))
        return TensorShape(dims)
    n = tensor.shape[0] if tensor.shape.ndims == 1 else None
    return TensorShape(None) if n is None else TensorShape([None] * n)


def set_shapes(op: Any) -> None:
    """Set the static shapes of ``op``'s outputs."""
    if op._type not in _FNS:
        shapes_attr = op._attrs.get("_output_shapes")
        if shapes_attr is not None and len(shapes_attr.list.shape) == len(op._outputs):
            for t, s in zip(op._outputs, shapes_attr.list.shape):
                t._shape = TensorShape(s)
        return
    shapes = output_shapes(op)
    outputs = op._outputs
    if len(outputs) == 1:  # most nodes
        outputs[0]._shape = shapes[0]
        return
    for t, s in zip(outputs, shapes):
        t._shape = s


def output_shapes(op: Any) -> list[TensorShape]:
    """The static shapes of ``op``'s outputs, by its type's shape function (which it
    must have): unknown where the function cannot tell; a ValueError for inputs of
    mismatched dimensions."""
    try:
        return _FNS[op._type](op)
    except (ValueError, TypeError, IndexError, KeyError) as exc:
        if isinstance(exc, ValueError) and "Dimensions must be equal" in str(exc):
            raise ValueError(f"{exc} for '{{{{node {op.name}}}}} = {op.type}[]' with input shapes: "
                             + ", ".join(f"[{', '.join('?' if d is None else str(d) for d in t.shape)}]"
                                         if t.shape.ndims is not None else "?" for t in op.inputs)
                             + ".") from None
        return [UNKNOWN] * len(op._outputs)


def _in(op: Any, i: int) -> TensorShape:
    return op._inputs[i]._shape  # not op.inputs: that property copies the input list


@_register("Const")
def _const(op: Any) -> list[TensorShape]:
    return [shared_from_proto(op._attrs["value"].tensor.tensor_shape)]


@_register("Placeholder", "PlaceholderWithDefault", "VariableV2", "Variable")
def _attr_shape(op: Any) -> list[TensorShape]:
    return [shared_from_proto(op._attrs["shape"].shape)]


@_register("Identity", "StopGradient", "Relu", "Relu6", "Elu", "Selu", "Softplus", "Sigmoid",
           "Tanh", "Square", "Sqrt", "Rsqrt", "Exp", "Log", "Neg", "Abs", "Sign", "Floor", "Ceil",
           "Round", "Reciprocal", "Softmax", "LogSoftmax", "ZerosLike", "OnesLike", "Cast",
           "BiasAdd", "AssignAdd", "AssignSub", "LogicalNot", "StaticRegexFullMatch",
           "PlaceholderV2", "Snapshot")
def _same(op: Any) -> list[TensorShape]:
    return [op._inputs[0]._shape]


@_register("IdentityN")
def _identity_n(op: Any) -> list[TensorShape]:
    return [t.shape for t in op.inputs]


@_register("Assign")
def _assign(op: Any) -> list[TensorShape]:
    inputs = op._inputs
    if op._attrs["validate_shape"].b:
        return [inputs[0]._shape.merge_with(inputs[1]._shape)]
    return [inputs[1]._shape]


@_register("Add", "AddV2", "Sub", "Mul", "RealDiv", "Div", "FloorDiv", "FloorMod", "Maximum",
           "Minimum", "Pow", "SquaredDifference", "Equal", "NotEqual", "Less", "Greater",
           "LessEqual", "GreaterEqual", "LogicalAnd", "LogicalOr")
def _binary(op: Any) -> list[TensorShape]:
    return [broadcast_shape(_in(op, 0), _in(op, 1))]


@_register("AddN")
def _add_n(op: Any) -> list[TensorShape]:
    out = TensorShape(None)
    for t in op.inputs:
        out = out.merge_with(t.shape)
    return [out]


@_register("VarHandleOp", "Size", "Rank", "IsVariableInitialized", "VarIsInitializedOp",
           "ShardedFilename", "ShardedFilespec")
def _scalar(op: Any) -> list[TensorShape]:
    return [TensorShape([])]


@_register("StringJoin")
def _string_join(op: Any) -> list[TensorShape]:
    out = TensorShape([])
    for t in op.inputs:
        out = broadcast_shape(out, t.shape)
    return [out]


@_register("ReadVariableOp")
def _read_variable(op: Any) -> list[TensorShape]:
    handle_op = op.inputs[0].op
    if handle_op.type == "VarHandleOp":
        return [TensorShape(handle_op._attrs["shape"].shape)]
    return [UNKNOWN]


@_register("RandomStandardNormal", "RandomUniform", "TruncatedNormal", "RandomUniformInt")
def _random(op: Any) -> list[TensorShape]:
    return [_shape_from_tensor(op.inputs[0])]


@_register("Fill")
def _fill(op: Any) -> list[TensorShape]:
    return [_shape_from_tensor(op.inputs[0])]


@_register("MatMul")
def _matmul(op: Any) -> list[TensorShape]:
    a, b = _in(op, 0), _in(op, 1)
    if a.ndims is None or b.ndims is None:
        return [TensorShape([None, None])]
    a, b = a.with_rank(2), b.with_rank(2)
    ta, tb = op._attrs["transpose_a"].b, op._attrs["transpose_b"].b
    m, ka = (a[1], a[0]) if ta else (a[0], a[1])
    kb, n = (b[1], b[0]) if tb else (b[0], b[1])
    if ka is not None and kb is not None and ka != kb:
        raise ValueError(f"Dimensions must be equal, but are {ka} and {kb}")
    return [TensorShape([m, n])]


@_register("Reshape")
def _reshape(op: Any) -> list[TensorShape]:
    target = _shape_from_tensor(op.inputs[1])
    value = constant_value(op.inputs[1])
    src = _in(op, 0)
    if value is not None and src.is_fully_defined():
        dims = [int(d) for d in np.reshape(value, -1)]
        if dims.count(-1) == 1:
            known = int(np.prod([d for d in dims if d != -1])) if len(dims) > 1 else 1
            total = src.num_elements() or 0
            if known == 0 or total % known:
                raise ValueError(f"Cannot reshape a tensor with {total} elements to shape {dims}")
            dims[dims.index(-1)] = total // known
        elif int(np.prod(dims)) != src.num_elements():
            raise ValueError(f"Cannot reshape a tensor with {src.num_elements()} elements to shape "
                             f"{dims} ({int(np.prod(dims))} elements)")
        return [TensorShape(dims)]
    return [target]


@_register("Shape")
def _shape(op: Any) -> list[TensorShape]:
    return [TensorShape([_in(op, 0).ndims])]


@_register("Pack")
def _pack(op: Any) -> list[TensorShape]:
    base = TensorShape(None)
    for t in op.inputs:
        base = base.merge_with(t.shape)
    if base.ndims is None:
        return [UNKNOWN]
    axis = op._attrs["axis"].i
    dims = base.as_list()
    axis = axis + len(dims) + 1 if axis < 0 else axis
    return [TensorShape(dims[:axis] + [len(op.inputs)] + dims[axis:])]


@_register("Unpack")
def _unpack(op: Any) -> list[TensorShape]:
    src = _in(op, 0)
    n = op._attrs["num"].i
    if src.ndims is None:
        return [UNKNOWN] * n
    axis = op._attrs["axis"].i % src.ndims
    dims = src.as_list()
    return [TensorShape(dims[:axis] + dims[axis + 1:])] * n


@_register("Where")
def _where(op: Any) -> list[TensorShape]:
    src = _in(op, 0)
    return [TensorShape([None, src.ndims]) if src.ndims is not None else TensorShape([None, None])]


@_register("Split")
def _split(op: Any) -> list[TensorShape]:
    src, n = _in(op, 1), op._attrs["num_split"].i
    axis = constant_value(op.inputs[0])
    if src.ndims is None:
        return [UNKNOWN] * n
    dims = src.as_list()
    if axis is None:
        return [TensorShape([None] * len(dims))] * n
    a = int(axis) % len(dims)
    dims[a] = None if dims[a] is None else dims[a] // n
    return [TensorShape(dims)] * n


@_register("SplitV")
def _split_v(op: Any) -> list[TensorShape]:
    src, n = _in(op, 0), op._attrs["num_split"].i
    sizes, axis = constant_value(op.inputs[1]), constant_value(op.inputs[2])
    if src.ndims is None:
        return [UNKNOWN] * n
    dims = src.as_list()
    if axis is None:
        return [TensorShape([None] * len(dims))] * n
    a = int(axis) % len(dims)
    if sizes is None:
        return [TensorShape(dims[:a] + [None] + dims[a + 1:])] * n
    sizes = [int(s) for s in np.reshape(sizes, -1)]
    if sizes.count(-1) == 1 and dims[a] is not None:
        sizes[sizes.index(-1)] = dims[a] - (sum(sizes) + 1)
    return [TensorShape(dims[:a] + [None if s < 0 else s] + dims[a + 1:]) for s in sizes]


@_register("ConcatV2")
def _concat(op: Any) -> list[TensorShape]:
    axis_value = constant_value(op.inputs[-1])
    shapes = [t.shape for t in op.inputs[:-1]]
    if axis_value is None or any(s.ndims is None for s in shapes):
        ranks = {s.ndims for s in shapes if s.ndims is not None}
        return [TensorShape([None] * ranks.pop()) if len(ranks) == 1 else UNKNOWN]
    rank = shapes[0].ndims
    axis = int(axis_value) % rank
    out = []
    for i in range(rank):
        dims = [s[i] for s in shapes]
        if i == axis:
            out.append(None if any(d is None for d in dims) else sum(dims))
        else:
            known = [d for d in dims if d is not None]
            out.append(known[0] if known else None)
    return [TensorShape(out)]


@_register("Sum", "Mean", "Max", "Min", "Prod", "All", "Any")
def _reduce(op: Any) -> list[TensorShape]:
    src = _in(op, 0)
    keep = op._attrs["keep_dims"].b
    axes = constant_value(op.inputs[1])
    if src.ndims is None:
        return [UNKNOWN]
    if axes is None:
        return [TensorShape([None] * src.ndims) if keep else UNKNOWN]
    rank = src.ndims
    axes_set = {int(a) % rank for a in np.reshape(axes, -1)} if rank else set()
    dims = src.as_list()
    if keep:
        return [TensorShape([1 if i in axes_set else d for i, d in enumerate(dims)])]
    return [TensorShape([d for i, d in enumerate(dims) if i not in axes_set])]


@_register("ArgMax", "ArgMin")
def _arg(op: Any) -> list[TensorShape]:
    src = _in(op, 0)
    axis = constant_value(op.inputs[1])
    if src.ndims is None or axis is None:
        return [UNKNOWN if src.ndims is None else TensorShape([None] * (src.ndims - 1))]
    a = int(axis) % src.ndims
    dims = src.as_list()
    return [TensorShape(dims[:a] + dims[a + 1:])]


@_register("Select")
def _select(op: Any) -> list[TensorShape]:
    return [_in(op, 1).merge_with(_in(op, 2))]


@_register("SelectV2")
def _select_v2(op: Any) -> list[TensorShape]:
    return [broadcast_shape(_in(op, 0), broadcast_shape(_in(op, 1), _in(op, 2)))]


@_register("Transpose")
def _transpose(op: Any) -> list[TensorShape]:
    src = _in(op, 0)
    perm = constant_value(op.inputs[1])
    if src.ndims is None:
        return [UNKNOWN]
    if perm is None:
        return [TensorShape([None] * src.ndims)]
    dims = src.as_list()
    return [TensorShape([dims[int(p)] for p in np.reshape(perm, -1)])]


@_register("ExpandDims")
def _expand_dims(op: Any) -> list[TensorShape]:
    src = _in(op, 0)
    axis = constant_value(op.inputs[1])
    if src.ndims is None or axis is None:
        return [UNKNOWN]
    dims = src.as_list()
    a = int(np.reshape(axis, -1)[0])
    a = a + len(dims) + 1 if a < 0 else a
    return [TensorShape(dims[:a] + [1] + dims[a:])]


@_register("Squeeze")
def _squeeze(op: Any) -> list[TensorShape]:
    src = _in(op, 0)
    if src.ndims is None:
        return [UNKNOWN]
    axes = [a % src.ndims for a in op._attrs["squeeze_dims"].list.i]
    dims = src.as_list()
    if axes:
        return [TensorShape([d for i, d in enumerate(dims) if i not in axes])]
    if any(d is None for d in dims):
        return [UNKNOWN]
    return [TensorShape([d for d in dims if d != 1])]


@_register("Tile")
def _tile(op: Any) -> list[TensorShape]:
    src = _in(op, 0)
    mult = constant_value(op.inputs[1])
    if src.ndims is None:
        return [UNKNOWN]
    if mult is None:
        return [TensorShape([None] * src.ndims)]
    return [TensorShape([None if d is None else d * int(m) for d, m in zip(src.as_list(), mult)])]


@_register("Range")
def _range(op: Any) -> list[TensorShape]:
    vals = [constant_value(t) for t in op.inputs]
    if any(v is None for v in vals):
        return [TensorShape([None])]
    return [TensorShape([len(np.arange(vals[0], vals[1], vals[2]))])]


@_register("Slice")
def _slice(op: Any) -> list[TensorShape]:
    src, begin, size = _in(op, 0), constant_value(op.inputs[1]), constant_value(op.inputs[2])
    if begin is None or size is None or src.ndims is None:
        return [UNKNOWN if src.ndims is None else TensorShape([None] * src.ndims)]
    dims = src.as_list()
    return [TensorShape([(None if d is None else d - int(b)) if int(s) == -1 else int(s)
                         for d, b, s in zip(dims, begin, size)])]


def _slice_shapes(specs: Any, n: int) -> list[TensorShape]:
    """Shapes of the slices named by constant ``shape_and_slices`` strings ("" = unknown).

    TF's RestoreV2/RestoreSlice shape functions parse a constant spec with
    ``ParseShapeAndSlice`` and output the slice's shape. A malformed spec, or a
    count that differs from the outputs, is an error in TF's graph building; here
    it leaves the shapes unknown and the kernel reports it when run.
    """
    if specs is None:
        return [UNKNOWN] * n
    flat = [s.decode("utf-8", "replace") if isinstance(s, bytes) else str(s)
            for s in np.reshape(specs, -1)]
    if len(flat) != n:
        return [UNKNOWN] * n
    out = []
    for spec in flat:
        if not spec:
            out.append(UNKNOWN)
            continue
        try:
            full, sl = tensor_slice.parse_spec(spec)
        except errors.InvalidArgumentError:
            return [UNKNOWN] * n
        out.append(TensorShape(list(sl.slice_shape(full))))
    return out


@_register("RestoreV2")
def _restore(op: Any) -> list[TensorShape]:
    return _slice_shapes(constant_value(op.inputs[2]), len(op._outputs))


@_register("RestoreSlice")
def _restore_slice(op: Any) -> list[TensorShape]:
    return _slice_shapes(constant_value(op.inputs[2]), 1)


@_register("Restore")
def _restore_v1(op: Any) -> list[TensorShape]:
    return [UNKNOWN]
