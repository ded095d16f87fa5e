"""``tf.train``: TensorFlow's checkpoint functions and the Saver, by their TF names.

A thin facade: every name maps onto the layer that implements it.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY: dict[str, str] = {
    # meta graphs (graph layer)
    "export_meta_graph": "tensorkeep.graph.meta_graph",
    "import_meta_graph": "tensorkeep.graph.meta_graph",
    # readers (checkpoint layer)
    "NewCheckpointReader": "tensorkeep.checkpoint.reader",
    "load_checkpoint": "tensorkeep.checkpoint.reader",
    "list_variables": "tensorkeep.checkpoint.reader",
    "load_variable": "tensorkeep.checkpoint.reader",
    # the state file and checkpoint helpers (checkpoint layer)
    "latest_checkpoint": "tensorkeep.checkpoint.state",
    "get_checkpoint_state": "tensorkeep.checkpoint.state",
    "update_checkpoint_state": "tensorkeep.checkpoint.state",
    "generate_checkpoint_state_proto": "tensorkeep.checkpoint.state",
    "checkpoint_exists": "tensorkeep.checkpoint.state",
    "get_checkpoint_mtimes": "tensorkeep.checkpoint.state",
    "remove_checkpoint": "tensorkeep.checkpoint.state",
    "checkpoints_iterator": "tensorkeep.checkpoint.state",
    "wait_for_new_checkpoint": "tensorkeep.checkpoint.state",
    "CheckpointState": "tensorkeep.checkpoint.state",
    # the Saver (graph layer)
    "Saver": "tensorkeep.graph.saver",
    "SaverDef": "tensorkeep.graph.saver",
    "BaseSaverBuilder": "tensorkeep.graph.saver",
    "BulkSaverBuilder": "tensorkeep.graph.saver",
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
