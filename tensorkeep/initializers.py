"""``tf.initializers`` (TF1): initializer classes and variable-initializer ops."""

from __future__ import annotations

from tensorkeep.graph.init_ops import (  # noqa: F401
    Constant as constant, GlorotNormal as glorot_normal, GlorotUniform as glorot_uniform,
    Ones as ones, RandomNormal as random_normal, RandomUniform as random_uniform,
    TruncatedNormal as truncated_normal, VarianceScaling as variance_scaling, Zeros as zeros,
)
from tensorkeep.graph.variables import (  # noqa: F401
    global_variables_initializer as global_variables,
    local_variables_initializer as local_variables,
    variables_initializer as variables,
)

__all__ = ["constant", "glorot_normal", "glorot_uniform", "ones", "random_normal", "random_uniform",
           "truncated_normal", "variance_scaling", "zeros", "global_variables", "local_variables",
           "variables"]
