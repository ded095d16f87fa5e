"""Kernels of checkpoint I/O and the string ops sharded saves use.

SaveV2 / RestoreV2 / MergeV2Checkpoints / SaveSlices delegate to ``tensorkeep.bundle``
(imported lazily); string scalars arrive as 0-d object arrays of ``bytes``.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from tensorkeep.graph.kernels import OpContext, kernel


def _text(value: Any) -> str:
    v = value.item() if isinstance(value, np.ndarray) else value
    return v.decode("utf-8") if isinstance(v, bytes) else str(v)


def _texts(value: Any) -> list[str]:
    return [_text(v) for v in np.reshape(np.asarray(value, dtype=object), -1)]


@kernel("SaveV2")
def save_v2(ctx: OpContext, prefix: Any, tensor_names: Any, shape_and_slices: Any, *tensors: Any) -> None:
    from tensorkeep import bundle
    bundle.write_tensors(_text(prefix), _texts(tensor_names), _texts(shape_and_slices),
                         [np.asarray(t) for t in tensors])


@kernel("RestoreV2", list_output=True)
def restore_v2(ctx: OpContext, prefix: Any, tensor_names: Any, shape_and_slices: Any) -> list[np.ndarray]:
    from tensorkeep import bundle
    return bundle.read_tensors(_text(prefix), _texts(tensor_names), _texts(shape_and_slices),
                               list(ctx.attr("dtypes")))


@kernel("MergeV2Checkpoints")
def merge_v2_checkpoints(ctx: OpContext, checkpoint_prefixes: Any, destination_prefix: Any) -> None:
    from tensorkeep import bundle
    allow_missing = ctx.attr("allow_missing_files") if ctx.has_attr("allow_missing_files") else False
    bundle.merge_bundles(_texts(checkpoint_prefixes), _text(destination_prefix),
                         delete_old_dirs=bool(ctx.attr("delete_old_dirs")),
                         allow_missing_files=bool(allow_missing))


@kernel("SaveSlices")
def save_slices(ctx: OpContext, filename: Any, tensor_names: Any, shapes_and_slices: Any,
                *data: Any) -> None:
    from tensorkeep import bundle
    bundle.write_v1(_text(filename), _texts(tensor_names), _texts(shapes_and_slices),
                    [np.asarray(t) for t in data])


@kernel("Save")
def save(ctx: OpContext, filename: Any, tensor_names: Any, *data: Any) -> None:
    from tensorkeep import bundle
    names = _texts(tensor_names)
    bundle.write_v1(_text(filename), names, [""] * len(names), [np.asarray(t) for t in data])


@kernel("Restore", "RestoreSlice")
def restore(ctx: OpContext, file_pattern: Any, tensor_name: Any, *spec: Any) -> np.ndarray:
    from tensorkeep import bundle
    slice_spec = _text(spec[0]) if spec else ""
    return bundle.read_tensors(_text(file_pattern), [_text(tensor_name)], [slice_spec],
                               [ctx.attr("dt")])[0]


@kernel("ShardedFilename")
def sharded_filename(ctx: OpContext, basename: Any, shard: Any, num_shards: Any) -> np.ndarray:
    return np.array(f"{_text(basename)}-{int(shard):05d}-of-{int(num_shards):05d}".encode(), dtype=object)


@kernel("ShardedFilespec")
def sharded_filespec(ctx: OpContext, basename: Any, num_shards: Any) -> np.ndarray:
    return np.array(f"{_text(basename)}-?????-of-{int(num_shards):05d}".encode(), dtype=object)


@kernel("StringJoin")
def string_join(ctx: OpContext, *inputs: Any) -> np.ndarray:
    sep = ctx.attr("separator")
    arrays = [np.asarray(x, dtype=object) for x in inputs]
    if not arrays:
        return np.array(b"", dtype=object)
    shape = np.broadcast_shapes(*(a.shape for a in arrays))
    out = np.empty(shape, dtype=object)
    parts = [np.broadcast_to(a, shape) for a in arrays]
    for idx in np.ndindex(*shape):
        out[idx] = sep.join(p[idx] for p in parts)
    return out


@kernel("StaticRegexFullMatch")
def static_regex_full_match(ctx: OpContext, x: Any) -> np.ndarray:
    pattern = re.compile(ctx.attr("pattern").decode("utf-8"))
    arr = np.asarray(x, dtype=object)
    out = np.empty(arr.shape, dtype=bool)
    for idx in np.ndindex(*arr.shape):
        out[idx] = pattern.fullmatch(arr[idx].decode("utf-8", "replace")) is not None
    return out
