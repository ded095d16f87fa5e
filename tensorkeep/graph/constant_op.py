"""Source nodes: ``constant``, ``placeholder``, ``placeholder_with_default``."""

from __future__ import annotations

from typing import Any

import numpy as np

from tensorkeep import dtypes as _dt
from tensorkeep.graph import attrs as _attrs
from tensorkeep.graph import op_def_library, op_defs
from tensorkeep.graph import ops as _ops
from tensorkeep.graph import tensor_shape, tensor_util
from tensorkeep.graph.tensor_shape import TensorShape, as_shape


def constant(value: Any, dtype: Any = None, shape: Any = None, name: str = "Const",
             verify_shape: bool = False) -> _ops.Tensor:
    """A ``Const`` node (TF1 ``tf.constant``); a scalar fills ``shape``."""
    if isinstance(value, _ops.Tensor):
        raise TypeError(f"Expected a constant value, got the Tensor {value}")
    encoded = tensor_util.array_tensor_attr(value) if dtype is None and shape is None else None
    if encoded is not None:  # an array encoded as its own bytes: one parse
        data, dt, dims = encoded
        value_attr = _attrs.AttrValue.FromString(data)
    else:
        value_attr = _attrs.AttrValue()
        dt, dims = tensor_util.fill_tensor_proto(value_attr.tensor, value, dtype=dtype,
                                                 shape=None if shape is None else as_shape(shape).as_list())
    if verify_shape and shape is not None and list(np.shape(value)) != as_shape(shape).as_list():
        raise TypeError(f"Expected Tensor's shape: {as_shape(shape)}, got {TensorShape(np.shape(value))}.")
    g = _ops.get_default_graph()
    attrs = {"value": value_attr, "dtype": _attrs.make_type(dt)}
    # The shape is the one just encoded (what shape inference would read back from it).
    op = g._create_op_internal("Const", [], [dt], name=name, attrs=attrs, op_def=op_defs.get("Const"),
                               infer_shapes=False)
    out = op._outputs[0]
    out._shape = tensor_shape.shared(tuple(dims))
    return out


def placeholder(dtype: Any, shape: Any = None, name: str | None = None) -> _ops.Tensor:
    return op_def_library.apply_op("Placeholder", name=name, dtype=_dt.as_dtype(dtype),
                                   shape=TensorShape(shape)).outputs[0]


def placeholder_with_default(input: Any, shape: Any, name: str | None = None) -> _ops.Tensor:  # noqa: A002
    return op_def_library.apply_op("PlaceholderWithDefault", name=name, input=input,
                                   shape=TensorShape(shape)).outputs[0]
