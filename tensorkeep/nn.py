"""``tf.nn``: activations, softmax and bias_add, named as TensorFlow names them."""

from __future__ import annotations

from typing import Any

from tensorkeep.graph import ops as _ops
from tensorkeep.graph.math_ops import sigmoid, tanh  # noqa: F401  (tf.nn.sigmoid / tf.nn.tanh)
from tensorkeep.graph.op_def_library import apply_op


def _out(op: _ops.Operation) -> _ops.Tensor:
    return op.outputs[0]


def relu(features: Any, name: str | None = None) -> _ops.Tensor:
    return _out(apply_op("Relu", name=name, features=features))


def relu6(features: Any, name: str | None = None) -> _ops.Tensor:
    with _ops.name_scope(name, "Relu6", [features]) as scope:
        features = _ops.convert_to_tensor(features, name="features")
        return _out(apply_op("Relu6", name=scope, features=features))


def elu(features: Any, name: str | None = None) -> _ops.Tensor:
    return _out(apply_op("Elu", name=name, features=features))


def selu(features: Any, name: str | None = None) -> _ops.Tensor:
    return _out(apply_op("Selu", name=name, features=features))


def softplus(features: Any, name: str | None = None) -> _ops.Tensor:
    return _out(apply_op("Softplus", name=name, features=features))


def _swap_axis(x: _ops.Tensor, dim_index: Any, last_index: _ops.Tensor,
               name: str | None = None) -> _ops.Tensor:
    """Transpose exchanging axis ``dim_index`` with the last one (TF's node structure)."""
    from tensorkeep.graph import array_ops, math_ops
    before = math_ops.range(dim_index)
    after = math_ops.range(dim_index + 1, last_index)
    with _ops.name_scope(None, "concat") as scope:
        last = array_ops.stack([last_index], name="values_1")
        dim = (array_ops.stack([dim_index], name="values_3") if isinstance(dim_index, _ops.Tensor)
               else _ops.convert_to_tensor([dim_index], name="values_3"))
        perm = array_ops.concat([before, last, after, dim], 0, name=scope)
    return array_ops.transpose(x, perm, name=name)


def _over_axis(logits: Any, axis: int | None, fn: str, name: str | None) -> _ops.Tensor:
    """``fn`` (Softmax / LogSoftmax, which work on the last axis) over ``axis``.

    As TF 2.21 (NodeDefs compared in tests/test_graph_tf_parity.py): another axis is
    swapped with the last by a Transpose before the op and swapped back after it;
    the final Transpose takes ``name``.
    """
    from tensorkeep import errors
    from tensorkeep.graph import array_ops, math_ops
    logits = _ops.convert_to_tensor(logits)
    ndims = logits.shape.ndims
    if axis is None or axis == -1 or (ndims is not None and axis == ndims - 1):
        return _out(apply_op(fn, name=name, logits=logits))
    if ndims is None:
        raise TypeError(f"tf.nn.{fn.lower()} over axis {axis} needs logits of known rank")
    if not -ndims <= axis < ndims:
        raise errors.InvalidArgumentError(
            f"`axis` must be in the range [{-ndims}, {ndims}) where {ndims} is the number of "
            f"dimensions in the input. Received: axis={axis}")
    first_rank = array_ops.rank(logits)  # TF makes it even when the axis is not negative
    shifted = axis + first_rank if axis < 0 else None
    input_rank = array_ops.rank(logits)
    dim_index: Any = shifted % ndims if shifted is not None else axis
    swapped = _swap_axis(logits, dim_index, math_ops.subtract(input_rank, 1))
    output = _out(apply_op(fn, logits=swapped))
    return _swap_axis(output, dim_index, math_ops.subtract(input_rank, 1), name=name)


def softmax(logits: Any, axis: int | None = None, name: str | None = None, dim: int | None = None) -> _ops.Tensor:
    return _over_axis(logits, dim if axis is None else axis, "Softmax", name)


def log_softmax(logits: Any, axis: int | None = None, name: str | None = None,
                dim: int | None = None) -> _ops.Tensor:
    return _over_axis(logits, dim if axis is None else axis, "LogSoftmax", name)


def bias_add(value: Any, bias: Any, data_format: str | None = None, name: str | None = None) -> _ops.Tensor:
    with _ops.name_scope(name, "BiasAdd", [value, bias]) as scope:
        value = _ops.convert_to_tensor(value, name="input")
        bias = _ops.convert_to_tensor(bias, dtype=value.dtype.base_dtype, name="bias")
        return _out(apply_op("BiasAdd", name=scope, value=value, bias=bias,
                             data_format=data_format or "NHWC"))


def xw_plus_b(x: Any, weights: Any, biases: Any, name: str | None = None) -> _ops.Tensor:
    from tensorkeep.graph import math_ops
    with _ops.name_scope(name, "xw_plus_b", [x, weights, biases]) as scope:
        mm = math_ops.matmul(x, weights)
        return bias_add(mm, biases, name=scope)


__all__ = ["relu", "relu6", "elu", "selu", "softplus", "sigmoid", "tanh", "softmax", "log_softmax",
           "bias_add", "xw_plus_b"]
