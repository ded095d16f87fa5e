"""TF1 initializers (``tf.zeros_initializer`` ...): callables ``(shape, dtype, partition_info)``.

Each builds the same nodes as TensorFlow's ``init_ops`` class of the same name
(e.g. ``glorot_uniform_initializer`` -> ``random_uniform`` over ±sqrt(6/(fan_in+fan_out))).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tensorkeep import dtypes as _dt
from tensorkeep.graph import array_ops, constant_op, random_ops


class Initializer:
    def __call__(self, shape: Any, dtype: Any = None, partition_info: Any = None) -> Any:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        return {}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "Initializer":
        return cls(**config)


def _dtype(value: Any, default: Any) -> _dt.DType:
    return _dt.as_dtype(value if value is not None else default).base_dtype


class Zeros(Initializer):
    def __init__(self, dtype: Any = _dt.float32) -> None:
        self.dtype = _dt.as_dtype(dtype)

    def __call__(self, shape: Any, dtype: Any = None, partition_info: Any = None) -> Any:
        return array_ops.zeros(shape, _dtype(dtype, self.dtype))

    def get_config(self) -> dict[str, Any]:
        return {"dtype": self.dtype.name}


class Ones(Initializer):
    def __init__(self, dtype: Any = _dt.float32) -> None:
        self.dtype = _dt.as_dtype(dtype)

    def __call__(self, shape: Any, dtype: Any = None, partition_info: Any = None) -> Any:
        return array_ops.ones(shape, _dtype(dtype, self.dtype))

    def get_config(self) -> dict[str, Any]:
        return {"dtype": self.dtype.name}


class Constant(Initializer):
    def __init__(self, value: Any = 0, dtype: Any = _dt.float32, verify_shape: bool = False) -> None:
        self.value = value
        self.dtype = _dt.as_dtype(dtype)
        self._verify_shape = verify_shape

    def __call__(self, shape: Any, dtype: Any = None, partition_info: Any = None,
                 verify_shape: bool | None = None) -> Any:
        value = self.value
        dt = _dtype(dtype, self.dtype)
        if shape is not None and np.size(value) > 1 and list(np.shape(value)) != list(shape):
            value = np.reshape(np.asarray(value), shape)
        return constant_op.constant(value, dtype=dt, shape=shape)

    def get_config(self) -> dict[str, Any]:
        return {"value": self.value, "dtype": self.dtype.name}


class RandomUniform(Initializer):
    def __init__(self, minval: Any = 0, maxval: Any = None, seed: int | None = None,
                 dtype: Any = _dt.float32) -> None:
        self.minval, self.maxval, self.seed, self.dtype = minval, maxval, seed, _dt.as_dtype(dtype)

    def __call__(self, shape: Any, dtype: Any = None, partition_info: Any = None) -> Any:
        return random_ops.random_uniform(shape, self.minval, self.maxval, _dtype(dtype, self.dtype),
                                         seed=self.seed)


class RandomNormal(Initializer):
    def __init__(self, mean: Any = 0.0, stddev: Any = 1.0, seed: int | None = None,
                 dtype: Any = _dt.float32) -> None:
        self.mean, self.stddev, self.seed, self.dtype = mean, stddev, seed, _dt.as_dtype(dtype)

    def __call__(self, shape: Any, dtype: Any = None, partition_info: Any = None) -> Any:
        return random_ops.random_normal(shape, self.mean, self.stddev, _dtype(dtype, self.dtype),
                                        seed=self.seed)


class TruncatedNormal(Initializer):
    def __init__(self, mean: Any = 0.0, stddev: Any = 1.0, seed: int | None = None,
                 dtype: Any = _dt.float32) -> None:
        self.mean, self.stddev, self.seed, self.dtype = mean, stddev, seed, _dt.as_dtype(dtype)

    def __call__(self, shape: Any, dtype: Any = None, partition_info: Any = None) -> Any:
        return random_ops.truncated_normal(shape, self.mean, self.stddev, _dtype(dtype, self.dtype),
                                           seed=self.seed)


def _compute_fans(shape: Any) -> tuple[float, float]:
    shape = list(shape)
    if len(shape) < 1:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = 1
    for d in shape[:-2]:
        receptive *= d
    return shape[-2] * receptive, shape[-1] * receptive


class VarianceScaling(Initializer):
    def __init__(self, scale: float = 1.0, mode: str = "fan_in", distribution: str = "truncated_normal",
                 seed: int | None = None, dtype: Any = _dt.float32) -> None:
        if scale <= 0.0:
            raise ValueError("`scale` must be positive float.")
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ValueError(f"Invalid `mode` argument: {mode}")
        distribution = distribution.lower()
        if distribution not in ("uniform", "truncated_normal", "untruncated_normal", "normal"):
            raise ValueError(f"Invalid `distribution` argument: {distribution}")
        self.scale, self.mode, self.distribution = scale, mode, distribution
        self.seed, self.dtype = seed, _dt.as_dtype(dtype)

    def __call__(self, shape: Any, dtype: Any = None, partition_info: Any = None) -> Any:
        dt = _dtype(dtype, self.dtype)
        scale_shape = getattr(partition_info, "full_shape", None) or shape
        fan_in, fan_out = _compute_fans(scale_shape)
        scale = self.scale
        if self.mode == "fan_in":
            scale /= max(1.0, fan_in)
        elif self.mode == "fan_out":
            scale /= max(1.0, fan_out)
        else:
            scale /= max(1.0, (fan_in + fan_out) / 2.0)
        if self.distribution in ("normal", "truncated_normal"):
            stddev = math.sqrt(scale) / 0.87962566103423978  # truncnorm std on [-2, 2]
            return random_ops.truncated_normal(shape, 0.0, stddev, dt, seed=self.seed)
        if self.distribution == "untruncated_normal":
            return random_ops.random_normal(shape, 0.0, math.sqrt(scale), dt, seed=self.seed)
        limit = math.sqrt(3.0 * scale)
        return random_ops.random_uniform(shape, -limit, limit, dt, seed=self.seed)


class GlorotUniform(VarianceScaling):
    def __init__(self, seed: int | None = None, dtype: Any = _dt.float32) -> None:
        super().__init__(scale=1.0, mode="fan_avg", distribution="uniform", seed=seed, dtype=dtype)


class GlorotNormal(VarianceScaling):
    def __init__(self, seed: int | None = None, dtype: Any = _dt.float32) -> None:
        super().__init__(scale=1.0, mode="fan_avg", distribution="truncated_normal", seed=seed, dtype=dtype)


# TF1 snake_case names
zeros_initializer = Zeros
ones_initializer = Ones
constant_initializer = Constant
random_uniform_initializer = RandomUniform
random_normal_initializer = RandomNormal
truncated_normal_initializer = TruncatedNormal
variance_scaling_initializer = VarianceScaling
glorot_uniform_initializer = GlorotUniform
glorot_normal_initializer = GlorotNormal
