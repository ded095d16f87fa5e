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


def _last_axis(logits: _ops.Tensor, axis: int | None, fn: str, name: str | None) -> _ops.Tensor:
    logits = _ops.convert_to_tensor(logits)
    rank = logits.shape.ndims
    if axis is None or axis == -1 or (rank is not None and axis == rank - 1):
        return _out(apply_op(fn, name=name, logits=logits))
    raise NotImplementedError(f"tf.nn.{fn.lower()} over axis {axis} (not the last) is not supported")


def softmax(logits: Any, axis: int | None = None, name: str | None = None, dim: int | None = None) -> _ops.Tensor:
    return _last_axis(logits, dim if axis is None else axis, "Softmax", name)


def log_softmax(logits: Any, axis: int | None = None, name: str | None = None,
                dim: int | None = None) -> _ops.Tensor:
    return _last_axis(logits, dim if axis is None else axis, "LogSoftmax", name)


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
