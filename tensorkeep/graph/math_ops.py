"""Math ops and the Tensor operator overloads, named as TensorFlow names them.

Operator overloads open a lowercase scope (``add``, ``mul``, ``sub``,
``truediv``, ...) and convert the other operand inside it (``add/y``); the
public functions use the op type (``tf.add`` -> ``Add``, type AddV2).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tensorkeep import dtypes as _dt
from tensorkeep.graph import constant_op
from tensorkeep.graph import ops as _ops
from tensorkeep.graph.op_def_library import apply_op


def _out(op: _ops.Operation) -> _ops.Tensor:
    return op.outputs[0]


def _graph_of(*values: Any) -> _ops.Graph:
    return _ops.get_graph_from_inputs(list(values))


# --- binary --------------------------------------------------------------------------
def add(x: Any, y: Any, name: str | None = None) -> _ops.Tensor:
    with _ops.name_scope(name, "Add", [x]) as scope:
        x = _ops.convert_to_tensor(x, name="x")
        y = _ops.convert_to_tensor(y, dtype_hint=x.dtype.base_dtype, name="y")
        op_type = "Add" if x.dtype.base_dtype is _dt.string else "AddV2"
        return _out(apply_op(op_type, name=scope, x=x, y=y))


def _gen_binary(op_type: str):  # type: ignore[no-untyped-def]
    def fn(x: Any, y: Any, name: str | None = None) -> _ops.Tensor:
        return _out(apply_op(op_type, name=name, x=x, y=y))
    fn.__name__ = op_type.lower()
    fn.__doc__ = f"``{op_type}`` of x and y (element-wise, broadcasting)."
    return fn


subtract = sub = _gen_binary("Sub")
multiply = mul = _gen_binary("Mul")
realdiv = _gen_binary("RealDiv")
floordiv_op = _gen_binary("FloorDiv")
floormod = mod = _gen_binary("FloorMod")
maximum = _gen_binary("Maximum")
minimum = _gen_binary("Minimum")
squared_difference = _gen_binary("SquaredDifference")
less = _gen_binary("Less")
greater = _gen_binary("Greater")
less_equal = _gen_binary("LessEqual")
greater_equal = _gen_binary("GreaterEqual")
logical_and = _gen_binary("LogicalAnd")
logical_or = _gen_binary("LogicalOr")


def equal(x: Any, y: Any, name: str | None = None) -> _ops.Tensor:
    return _out(apply_op("Equal", name=name, x=x, y=y, incompatible_shape_error=True))


def not_equal(x: Any, y: Any, name: str | None = None) -> _ops.Tensor:
    return _out(apply_op("NotEqual", name=name, x=x, y=y, incompatible_shape_error=True))


def pow(x: Any, y: Any, name: str | None = None) -> _ops.Tensor:  # noqa: A001
    with _ops.name_scope(name, "Pow", [x]) as scope:
        return _out(apply_op("Pow", name=scope, x=x, y=y))


def truediv(x: Any, y: Any, name: str | None = None) -> _ops.Tensor:
    """Python 3 division: integers are cast to float64 (float32 for 8/16-bit) first."""
    with _ops.name_scope(name, "truediv", [x, y]) as scope:
        x = _ops.convert_to_tensor(x, name="x")
        y = _ops.convert_to_tensor(y, dtype_hint=x.dtype.base_dtype, name="y")
        dt = x.dtype.base_dtype
        if dt.is_integer:
            target = _dt.float32 if dt.itemsize <= 2 else _dt.float64
            x = cast(x, target)
            y = cast(y, target)
        return _out(apply_op("RealDiv", name=scope, x=x, y=y))


def divide(x: Any, y: Any, name: str | None = None) -> _ops.Tensor:
    return truediv(x, y, name=name)


def div(x: Any, y: Any, name: str | None = None) -> _ops.Tensor:
    """TF1 ``tf.div``: ``Div`` (integer division for ints)."""
    with _ops.name_scope(name, "div", [x, y]) as scope:
        x = _ops.convert_to_tensor(x, name="x")
        y = _ops.convert_to_tensor(y, dtype=x.dtype.base_dtype, name="y")
        if x.dtype.is_floating or x.dtype.is_complex:
            return _out(apply_op("RealDiv", name=scope, x=x, y=y))
        return _out(apply_op("FloorDiv", name=scope, x=x, y=y))


def floordiv(x: Any, y: Any, name: str | None = None) -> _ops.Tensor:
    with _ops.name_scope(name, "floordiv", [x, y]) as scope:
        return _out(apply_op("FloorDiv", name=scope, x=x, y=y))


# --- unary ----------------------------------------------------------------------------
def _gen_unary(op_type: str, arg: str = "x"):  # type: ignore[no-untyped-def]
    def fn(x: Any, name: str | None = None) -> _ops.Tensor:
        return _out(apply_op(op_type, name=name, **{arg: x}))
    fn.__name__ = op_type.lower()
    fn.__doc__ = f"Element-wise ``{op_type}``."
    return fn


negative = neg = _gen_unary("Neg")
square = _gen_unary("Square")
sqrt = _gen_unary("Sqrt")
rsqrt = _gen_unary("Rsqrt")
exp = _gen_unary("Exp")
log = _gen_unary("Log")
sign = _gen_unary("Sign")
floor = _gen_unary("Floor")
ceil = _gen_unary("Ceil")
round = _gen_unary("Round")  # noqa: A001
reciprocal = _gen_unary("Reciprocal")
logical_not = _gen_unary("LogicalNot")


def abs(x: Any, name: str | None = None) -> _ops.Tensor:  # noqa: A001
    with _ops.name_scope(name, "Abs", [x]) as scope:
        x = _ops.convert_to_tensor(x, name="x")
        return _out(apply_op("Abs", name=scope, x=x))


def sigmoid(x: Any, name: str | None = None) -> _ops.Tensor:
    with _ops.name_scope(name, "Sigmoid", [x]) as scope:
        x = _ops.convert_to_tensor(x, name="x")
        return _out(apply_op("Sigmoid", name=scope, x=x))


def tanh(x: Any, name: str | None = None) -> _ops.Tensor:
    with _ops.name_scope(name, "Tanh", [x]) as scope:
        x = _ops.convert_to_tensor(x, name="x")
        return _out(apply_op("Tanh", name=scope, x=x))


def cast(x: Any, dtype: Any, name: str | None = None) -> _ops.Tensor:
    base = _dt.as_dtype(dtype).base_dtype
    if isinstance(x, _ops.Tensor) and x.dtype.base_dtype is base:
        return x
    with _ops.name_scope(name, "Cast", [x]) as scope:
        x = _ops.convert_to_tensor(x, name="x")
        if x.dtype.base_dtype is base:
            return x
        return _out(apply_op("Cast", name=scope, x=x, DstT=base, Truncate=False))


def to_float(x: Any, name: str = "ToFloat") -> _ops.Tensor:
    return cast(x, _dt.float32, name=name)


def to_int32(x: Any, name: str = "ToInt32") -> _ops.Tensor:
    return cast(x, _dt.int32, name=name)


def to_int64(x: Any, name: str = "ToInt64") -> _ops.Tensor:
    return cast(x, _dt.int64, name=name)


def add_n(inputs: list[Any], name: str | None = None) -> _ops.Tensor:
    if not inputs:
        raise ValueError("Inputs must be an iterable of at least one Tensor/IndexedSlices with the same dtype and shape.")
    if len(inputs) == 1:
        from tensorkeep.graph import array_ops
        return array_ops.identity(inputs[0], name=name)
    return _out(apply_op("AddN", name=name, inputs=list(inputs)))


def matmul(a: Any, b: Any, transpose_a: bool = False, transpose_b: bool = False,
           adjoint_a: bool = False, adjoint_b: bool = False, a_is_sparse: bool = False,
           b_is_sparse: bool = False, output_type: Any = None, name: str | None = None) -> _ops.Tensor:
    with _ops.name_scope(name, "MatMul", [a, b]) as scope:
        a = _ops.convert_to_tensor(a, name="a")
        b = _ops.convert_to_tensor(b, dtype_hint=a.dtype.base_dtype, name="b")
        ta, tb = transpose_a or adjoint_a, transpose_b or adjoint_b
        ra, rb = a.shape.ndims, b.shape.ndims
        if (ra is not None and ra > 2) or (rb is not None and rb > 2):
            return _out(apply_op("BatchMatMulV2", name=scope, x=a, y=b, adj_x=ta, adj_y=tb))
        return _out(apply_op("MatMul", name=scope, a=a, b=b, transpose_a=ta, transpose_b=tb))


def range(start: Any, limit: Any = None, delta: Any = 1, dtype: Any = None,  # noqa: A001
          name: str = "range") -> _ops.Tensor:
    if limit is None:
        start, limit = 0, start
    with _ops.name_scope(name, "Range", [start, limit, delta]) as scope:
        if dtype is None:
            kinds = [v.dtype.base_dtype if isinstance(v, _ops.Tensor) else
                     (_dt.float32 if isinstance(v, float) else _dt.int32) for v in (start, limit, delta)]
            order = [_dt.int32, _dt.int64, _dt.float32, _dt.float64]
            dtype = max(kinds, key=lambda d: order.index(d) if d in order else 0)
        start = _ops.convert_to_tensor(start, dtype=dtype, name="start")
        limit = _ops.convert_to_tensor(limit, dtype=dtype, name="limit")
        delta = _ops.convert_to_tensor(delta, dtype=dtype, name="delta")
        return _out(apply_op("Range", name=scope, start=start, limit=limit, delta=delta))


# --- reductions ----------------------------------------------------------------------------
def _reduction_dims(x: _ops.Tensor, axis: Any) -> Any:
    if axis is not None:
        return axis
    rank = x.shape.ndims
    if rank is not None:
        return constant_op.constant(np.arange(rank, dtype=np.int32))
    from tensorkeep.graph import array_ops
    return range(0, array_ops.rank(x), 1)


def _make_reduction(op_type: str, *, bool_only: bool = False):  # type: ignore[no-untyped-def]
    def fn(input_tensor: Any, axis: Any = None, keepdims: bool | None = None, name: str | None = None,
           reduction_indices: Any = None, keep_dims: bool | None = None) -> _ops.Tensor:
        if axis is None:
            axis = reduction_indices
        if keepdims is None:
            keepdims = bool(keep_dims) if keep_dims is not None else False
        g = _graph_of(input_tensor)
        with g.as_default():
            x = _ops.convert_to_tensor(input_tensor)
            dims = _reduction_dims(x, axis)
            return _out(apply_op(op_type, name=name, input=x, reduction_indices=dims,
                                 keep_dims=bool(keepdims)))
    fn.__name__ = "reduce_" + op_type.lower()
    fn.__doc__ = f"``{op_type}`` over ``axis`` (all axes when None)."
    return fn


reduce_sum = _make_reduction("Sum")
reduce_mean = _make_reduction("Mean")
reduce_max = _make_reduction("Max")
reduce_min = _make_reduction("Min")
reduce_prod = _make_reduction("Prod")
reduce_all = _make_reduction("All")
reduce_any = _make_reduction("Any")


def argmax(input: Any, axis: Any = None, name: str | None = None, dimension: Any = None,  # noqa: A002
           output_type: Any = _dt.int64) -> _ops.Tensor:
    axis = dimension if axis is None else axis
    return _out(apply_op("ArgMax", name=name, input=input, dimension=0 if axis is None else axis,
                         output_type=output_type))


def argmin(input: Any, axis: Any = None, name: str | None = None, dimension: Any = None,  # noqa: A002
           output_type: Any = _dt.int64) -> _ops.Tensor:
    axis = dimension if axis is None else axis
    return _out(apply_op("ArgMin", name=name, input=input, dimension=0 if axis is None else axis,
                         output_type=output_type))


# --- operator overloads -----------------------------------------------------------------------
def _overload(fn, op_name: str):  # type: ignore[no-untyped-def]
    def binary(x: _ops.Tensor, y: Any) -> Any:
        if _is_foreign(y):
            return NotImplemented
        with _ops.name_scope(None, op_name, [x, y]) as scope:
            y = _ops.convert_to_tensor(y, dtype_hint=x.dtype.base_dtype, name="y")
            return fn(x, y, name=scope)

    def reflected(y: _ops.Tensor, x: Any) -> Any:
        if _is_foreign(x):
            return NotImplemented
        with _ops.name_scope(None, op_name, [x, y]) as scope:
            x = _ops.convert_to_tensor(x, dtype=y.dtype.base_dtype, name="x")
            return fn(x, y, name=scope)
    return binary, reflected


def _is_foreign(v: Any) -> bool:
    return type(v).__module__.startswith(("torch", "jax", "tensorflow"))


def _add_dispatch(x: Any, y: Any, name: str | None = None) -> _ops.Tensor:
    op_type = "Add" if x.dtype.base_dtype is _dt.string else "AddV2"
    return _out(apply_op(op_type, name=name, x=x, y=y))


def _matmul_dispatch(x: Any, y: Any, name: str | None = None) -> _ops.Tensor:
    return matmul(x, y, name=name)


def _truediv_dispatch(x: Any, y: Any, name: str | None = None) -> _ops.Tensor:
    return truediv(x, y, name=name)


def _install_overloads() -> None:
    T = _ops.Tensor
    table = [("add", _add_dispatch, "add"), ("sub", subtract, "sub"), ("mul", multiply, "mul"),
             ("truediv", _truediv_dispatch, "truediv"), ("floordiv", floordiv_op, "floordiv"),
             ("mod", floormod, "mod"), ("pow", lambda x, y, name=None: _out(apply_op("Pow", name=name, x=x, y=y)), "pow"),
             ("matmul", _matmul_dispatch, "matmul"), ("and", logical_and, "and"),
             ("or", logical_or, "or")]
    for dunder, fn, op_name in table:
        binary, reflected = _overload(fn, op_name)
        setattr(T, f"__{dunder}__", binary)
        setattr(T, f"__r{dunder}__", reflected)
    for dunder, fn in (("lt", less), ("le", less_equal), ("gt", greater), ("ge", greater_equal)):
        setattr(T, f"__{dunder}__", lambda x, y, _fn=fn: _fn(x, y))
    T.__neg__ = lambda x: neg(x)  # type: ignore[method-assign]
    T.__abs__ = lambda x: abs(x)  # type: ignore[method-assign]
    T.__invert__ = lambda x: logical_not(x)  # type: ignore[method-assign]

    def getitem(x: _ops.Tensor, key: Any) -> _ops.Tensor:
        from tensorkeep.graph import array_ops
        return array_ops._slice_helper(x, key)
    T.__getitem__ = getitem  # type: ignore[method-assign]


_install_overloads()
