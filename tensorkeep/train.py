"""``tf.train``: TensorFlow's checkpoint functions and the Saver, by their TF names.

A thin facade: every name maps onto the layer that implements it.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY: dict[str, str] = {
    # readers (checkpoint layer)
    "NewCheckpointReader": "tensorkeep.checkpoint.reader",
    "load_checkpoint": "tensorkeep.checkpoint.reader",
    "list_variables": "tensorkeep.checkpoint.reader",
    "load_variable": "tensorkeep.checkpoint.reader",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tensorkeep.train' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
