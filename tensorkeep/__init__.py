"""tensorkeep: TensorFlow checkpoints without TensorFlow.

Two faces over one core:

* the TF1-shaped facade, so that ``import tensorkeep as tf`` runs TF1
  save/restore programs (``tf.Variable``, ``tf.Session``, ``tf.train.Saver``, ...);
* framework-neutral functions: :func:`save`, :func:`load`, :class:`CheckpointManager`.

Names are resolved lazily from the table below, so importing tensorkeep stays
cheap and never imports torch, jax or TensorFlow.
"""

from __future__ import annotations

import importlib
from typing import Any

from tensorkeep import dtypes, errors
from tensorkeep.dtypes import (  # noqa: F401  (TensorFlow's dtype names)
    DType, as_dtype, bfloat16, bool, complex64, complex128, double, float8_e4m3b11fnuz,
    float8_e4m3fn, float8_e4m3fnuz, float8_e5m2, float8_e5m2fnuz, float16, float32, float64,
    half, int2, int4, int8, int16, int32, int64, qint8, qint16, qint32, quint8, quint16,
    resource, string, uint2, uint4, uint8, uint16, uint32, uint64, variant,
)

__version__ = "0.1.0"

# name -> module that defines it (each engineer adds the rows of their layer).
_LAZY: dict[str, str] = {
    # framework-neutral API
    "save": "tensorkeep.api",
    "load": "tensorkeep.api",
    "CheckpointManager": "tensorkeep.manager",
    # TF1 graph runtime (tensorkeep.graph) and its facade helpers
    "Graph": "tensorkeep.graph.ops", "Tensor": "tensorkeep.graph.ops",
    "Operation": "tensorkeep.graph.ops", "GraphKeys": "tensorkeep.graph.ops",
    "get_default_graph": "tensorkeep.graph.ops", "reset_default_graph": "tensorkeep.graph.ops",
    "name_scope": "tensorkeep.graph.ops", "control_dependencies": "tensorkeep.graph.ops",
    "device": "tensorkeep.graph.ops", "colocate_with": "tensorkeep.graph.ops",
    "init_scope": "tensorkeep.graph.ops", "add_to_collection": "tensorkeep.graph.ops",
    "add_to_collections": "tensorkeep.graph.ops", "get_collection": "tensorkeep.graph.ops",
    "get_collection_ref": "tensorkeep.graph.ops", "convert_to_tensor": "tensorkeep.graph.ops",
    "register_tensor_conversion_function": "tensorkeep.graph.ops",
    "TensorShape": "tensorkeep.graph.tensor_shape", "Dimension": "tensorkeep.graph.tensor_shape",
    "constant": "tensorkeep.graph.constant_op", "placeholder": "tensorkeep.graph.constant_op",
    "placeholder_with_default": "tensorkeep.graph.constant_op",
    "add": "tensorkeep.graph.math_ops", "subtract": "tensorkeep.graph.math_ops",
    "multiply": "tensorkeep.graph.math_ops", "truediv": "tensorkeep.graph.math_ops",
    "divide": "tensorkeep.graph.math_ops", "div": "tensorkeep.graph.math_ops",
    "floordiv": "tensorkeep.graph.math_ops", "mod": "tensorkeep.graph.math_ops",
    "floormod": "tensorkeep.graph.math_ops", "realdiv": "tensorkeep.graph.math_ops",
    "pow": "tensorkeep.graph.math_ops", "negative": "tensorkeep.graph.math_ops",
    "square": "tensorkeep.graph.math_ops", "sqrt": "tensorkeep.graph.math_ops",
    "rsqrt": "tensorkeep.graph.math_ops", "exp": "tensorkeep.graph.math_ops",
    "log": "tensorkeep.graph.math_ops", "abs": "tensorkeep.graph.math_ops",
    "sign": "tensorkeep.graph.math_ops", "floor": "tensorkeep.graph.math_ops",
    "ceil": "tensorkeep.graph.math_ops", "round": "tensorkeep.graph.math_ops",
    "reciprocal": "tensorkeep.graph.math_ops", "sigmoid": "tensorkeep.graph.math_ops",
    "tanh": "tensorkeep.graph.math_ops", "maximum": "tensorkeep.graph.math_ops",
    "minimum": "tensorkeep.graph.math_ops", "squared_difference": "tensorkeep.graph.math_ops",
    "matmul": "tensorkeep.graph.math_ops", "cast": "tensorkeep.graph.math_ops",
    "to_float": "tensorkeep.graph.math_ops", "to_int32": "tensorkeep.graph.math_ops",
    "to_int64": "tensorkeep.graph.math_ops", "add_n": "tensorkeep.graph.math_ops",
    "range": "tensorkeep.graph.math_ops", "reduce_sum": "tensorkeep.graph.math_ops",
    "reduce_mean": "tensorkeep.graph.math_ops", "reduce_max": "tensorkeep.graph.math_ops",
    "reduce_min": "tensorkeep.graph.math_ops", "reduce_prod": "tensorkeep.graph.math_ops",
    "reduce_all": "tensorkeep.graph.math_ops", "reduce_any": "tensorkeep.graph.math_ops",
    "argmax": "tensorkeep.graph.math_ops", "argmin": "tensorkeep.graph.math_ops",
    "equal": "tensorkeep.graph.math_ops", "not_equal": "tensorkeep.graph.math_ops",
    "less": "tensorkeep.graph.math_ops", "greater": "tensorkeep.graph.math_ops",
    "less_equal": "tensorkeep.graph.math_ops", "greater_equal": "tensorkeep.graph.math_ops",
    "logical_and": "tensorkeep.graph.math_ops", "logical_or": "tensorkeep.graph.math_ops",
    "logical_not": "tensorkeep.graph.math_ops",
    "identity": "tensorkeep.graph.array_ops", "stop_gradient": "tensorkeep.graph.array_ops",
    "reshape": "tensorkeep.graph.array_ops", "shape": "tensorkeep.graph.array_ops",
    "size": "tensorkeep.graph.array_ops", "rank": "tensorkeep.graph.array_ops",
    "fill": "tensorkeep.graph.array_ops", "zeros": "tensorkeep.graph.array_ops",
    "ones": "tensorkeep.graph.array_ops", "zeros_like": "tensorkeep.graph.array_ops",
    "ones_like": "tensorkeep.graph.array_ops", "concat": "tensorkeep.graph.array_ops",
    "stack": "tensorkeep.graph.array_ops", "unstack": "tensorkeep.graph.array_ops",
    "split": "tensorkeep.graph.array_ops",
    "transpose": "tensorkeep.graph.array_ops", "expand_dims": "tensorkeep.graph.array_ops",
    "squeeze": "tensorkeep.graph.array_ops", "where": "tensorkeep.graph.array_ops",
    "where_v2": "tensorkeep.graph.array_ops", "tile": "tensorkeep.graph.array_ops",
    "slice": "tensorkeep.graph.array_ops", "gather": "tensorkeep.graph.array_ops",
    "random_normal": "tensorkeep.graph.random_ops", "random_uniform": "tensorkeep.graph.random_ops",
    "truncated_normal": "tensorkeep.graph.random_ops",
    "set_random_seed": "tensorkeep.graph.random_ops",
    "no_op": "tensorkeep.graph.control_flow_ops", "group": "tensorkeep.graph.control_flow_ops",
    "tuple": "tensorkeep.graph.control_flow_ops",
    "Variable": "tensorkeep.graph.variables", "global_variables": "tensorkeep.graph.variables",
    "all_variables": "tensorkeep.graph.variables",
    "trainable_variables": "tensorkeep.graph.variables",
    "local_variables": "tensorkeep.graph.variables",
    "model_variables": "tensorkeep.graph.variables",
    "moving_average_variables": "tensorkeep.graph.variables",
    "global_variables_initializer": "tensorkeep.graph.variables",
    "local_variables_initializer": "tensorkeep.graph.variables",
    "variables_initializer": "tensorkeep.graph.variables",
    "initialize_all_variables": "tensorkeep.graph.variables",
    "initialize_variables": "tensorkeep.graph.variables",
    "initialize_local_variables": "tensorkeep.graph.variables",
    "report_uninitialized_variables": "tensorkeep.graph.variables",
    "is_variable_initialized": "tensorkeep.graph.variables",
    "assert_variables_initialized": "tensorkeep.graph.variables",
    "assign": "tensorkeep.graph.variables", "assign_add": "tensorkeep.graph.variables",
    "assign_sub": "tensorkeep.graph.variables", "boolean_mask": "tensorkeep.graph.variables",
    "variable_scope": "tensorkeep.graph.variable_scope",
    "get_variable": "tensorkeep.graph.variable_scope",
    "get_variable_scope": "tensorkeep.graph.variable_scope",
    "VariableScope": "tensorkeep.graph.variable_scope",
    "AUTO_REUSE": "tensorkeep.graph.variable_scope",
    "zeros_initializer": "tensorkeep.graph.init_ops",
    "ones_initializer": "tensorkeep.graph.init_ops",
    "constant_initializer": "tensorkeep.graph.init_ops",
    "random_normal_initializer": "tensorkeep.graph.init_ops",
    "truncated_normal_initializer": "tensorkeep.graph.init_ops",
    "random_uniform_initializer": "tensorkeep.graph.init_ops",
    "glorot_uniform_initializer": "tensorkeep.graph.init_ops",
    "glorot_normal_initializer": "tensorkeep.graph.init_ops",
    "variance_scaling_initializer": "tensorkeep.graph.init_ops",
    "Session": "tensorkeep.graph.session", "InteractiveSession": "tensorkeep.graph.session",
    "get_default_session": "tensorkeep.graph.session",
    "import_graph_def": "tensorkeep.graph.importer",
    "disable_v2_behavior": "tensorkeep.compat", "enable_v2_behavior": "tensorkeep.compat",
    "disable_eager_execution": "tensorkeep.compat", "enable_eager_execution": "tensorkeep.compat",
    "executing_eagerly": "tensorkeep.compat", "disable_resource_variables": "tensorkeep.compat",
    "enable_resource_variables": "tensorkeep.compat", "ConfigProto": "tensorkeep.compat",
    "GPUOptions": "tensorkeep.compat", "RunOptions": "tensorkeep.compat",
    "RunMetadata": "tensorkeep.compat",
    # submodules
    "train": "tensorkeep.train",
    "nn": "tensorkeep.nn",
    "compat": "tensorkeep.compat",
    "initializers": "tensorkeep.initializers",
}

_SUBMODULES = {"train", "nn", "compat", "initializers"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tensorkeep' has no attribute {name!r}")
    mod = importlib.import_module(module)
    value = mod if name in _SUBMODULES else getattr(mod, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
