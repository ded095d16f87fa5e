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
