"""Reading checkpoints by name: TF's ``NewCheckpointReader`` and friends, and a lazy mapping.

``CheckpointReader`` reproduces ``tf.train.NewCheckpointReader``'s behaviour:
V2 bundle when ``prefix.index`` exists, else the V1 file pattern; partitioned
tensors listed once under their full name and assembled on read;
``debug_string`` as TF prints it; TF's errors and messages.

``LazyCheckpoint`` is the framework-neutral view behind ``tensorkeep.load``: a
read-only mapping whose values are read (memory-mapped, checksum verified) only
when accessed.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Mapping
from typing import Any, Iterator

import numpy as np

from tensorkeep import dtypes as _dt
from tensorkeep import errors
from tensorkeep.bundle.naming import index_filename
from tensorkeep.bundle.reader import BundleReader, key_bytes, key_str

OBJECT_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"


def _open(filepattern: str) -> Any:
    """A BundleReader (V2) or a V1 reader for ``filepattern``, with TF's errors."""
    if glob.glob(glob.escape(filepattern) + ".index") or os.path.exists(index_filename(filepattern)):
        return BundleReader(filepattern)
    if os.path.isdir(filepattern):
        raise errors.DataLossError(
            f"Unable to open table file {filepattern}: FAILED_PRECONDITION: {filepattern}; "
            f"Is a directory: perhaps your file is in a different file format and you need to "
            f"use a different restore operator?", filename=filepattern)
    if not glob.glob(filepattern):
        raise errors.NotFoundError(
            f"Unsuccessful TensorSliceReader constructor: Failed to find any matching files "
            f"for {filepattern}", filename=filepattern)
    from tensorkeep.bundle.v1 import V1Reader

    return V1Reader(filepattern)


class CheckpointReader:
    """``tf.train.NewCheckpointReader(filepattern)``: names, shapes, dtypes and values."""

    def __init__(self, filepattern: str | os.PathLike[str]) -> None:
        self._pattern = os.fspath(filepattern)
        self._reader = _open(self._pattern)
        self._is_v2 = isinstance(self._reader, BundleReader)

    # TF's method names ---------------------------------------------------------------

    def get_variable_to_shape_map(self) -> dict[str, list[int]]:
        r = self._reader
        if self._is_v2:
            return {key_str(k): list(r.shape(k)) for k in r.tensor_keys()}
        return {k: list(v) for k, v in r.get_variable_to_shape_map().items()}

    def get_variable_to_dtype_map(self) -> dict[str, _dt.DType]:
        r = self._reader
        if self._is_v2:
            return {key_str(k): r.dtype(k) for k in r.tensor_keys()}
        return dict(r.get_variable_to_dtype_map())

    def has_tensor(self, tensor_str: str | bytes) -> bool:
        if self._is_v2:
            kb = key_bytes(tensor_str)
            return kb == b"" or kb in self._reader
        return self._reader.has_tensor(tensor_str)

    def get_tensor(self, tensor_str: str | bytes) -> Any:
        """A writable copy of the tensor (numpy scalar for 0-d, bytes for string scalars)."""
        if self._is_v2:
            value = np.array(self._reader.get(tensor_str), copy=True)
        else:
            value = np.array(self._reader.get_tensor(tensor_str), copy=True)
        if value.ndim == 0:
            return value[()]
        return value

    def debug_string(self) -> bytes:
        if not self._is_v2:
            return self._reader.debug_string()
        lines = []
        r = self._reader
        for k in r.raw_keys():
            e = r.entry(k)
            if e.slices:
                continue
            dims = ",".join("?" if d < 0 else str(d) for d in e.shape)
            lines.append(k + b" (" + _dt.from_enum(e.dtype).enum_name.encode() + b") [" +
                         dims.encode() + b"]\n")
        return b"".join(lines)

    # tensorkeep additions -----------------------------------------------------------

    @property
    def prefix(self) -> str:
        return self._pattern

    def object_graph(self) -> list[tuple[str, str, str, str]]:
        """A TF2 object-based checkpoint's objects: (object path, attribute, checkpoint key, full name).

        Walks the ``_CHECKPOINTABLE_OBJECT_GRAPH`` tree from the root through named
        children; empty list for name-based (TF1) checkpoints.
        """
        if not self.has_tensor(OBJECT_GRAPH_KEY) or not self._is_v2:
            return []
        from tensorkeep.proto import trackable_object_graph_pb2

        raw = self._reader.get(OBJECT_GRAPH_KEY)
        data = raw[()] if raw.ndim == 0 else raw.reshape(-1)[0]
        graph = trackable_object_graph_pb2.TrackableObjectGraph()
        try:
            graph.ParseFromString(data)
        except Exception as exc:   # protobuf's DecodeError
            raise errors.data_loss(f"bad TrackableObjectGraph ({exc})",
                                   filename=index_filename(self._pattern),
                                   key=OBJECT_GRAPH_KEY) from None
        out: list[tuple[str, str, str, str]] = []
        seen: set[int] = set()
        stack: list[tuple[int, str]] = [(0, "")]
        n = len(graph.nodes)
        while stack:
            node_id, path = stack.pop()
            if node_id in seen or not 0 <= node_id < n:
                continue
            seen.add(node_id)
            node = graph.nodes[node_id]
            for attr in node.attributes:
                out.append((path, attr.name, attr.checkpoint_key, attr.full_name))
            for child in reversed(node.children):
                stack.append((child.node_id, f"{path}/{child.local_name}" if path else child.local_name))
        return sorted(out, key=lambda t: t[2])

    def __repr__(self) -> str:
        return f"<CheckpointReader {self._pattern!r}>"


def NewCheckpointReader(filepattern: str | os.PathLike[str]) -> CheckpointReader:  # noqa: N802
    """TF's name for opening a checkpoint reader."""
    return CheckpointReader(filepattern)


def _resolve(ckpt_dir_or_file: str | os.PathLike[str]) -> str:
    path = os.fspath(ckpt_dir_or_file)
    if os.path.isdir(path):
        from tensorkeep.checkpoint.state import latest_checkpoint

        found = latest_checkpoint(path)
        if found is None:
            raise ValueError(f"Couldn't find 'checkpoint' file or checkpoints in given directory {path}")
        return found
    return path


def load_checkpoint(ckpt_dir_or_file: str | os.PathLike[str]) -> CheckpointReader:
    """A reader for a checkpoint prefix, or for a directory's latest checkpoint."""
    return CheckpointReader(_resolve(ckpt_dir_or_file))


def list_variables(ckpt_dir_or_file: str | os.PathLike[str]) -> list[tuple[str, list[int]]]:
    """Sorted ``(name, shape)`` pairs of every tensor in the checkpoint."""
    shapes = load_checkpoint(ckpt_dir_or_file).get_variable_to_shape_map()
    return [(name, shapes[name]) for name in sorted(shapes)]


def load_variable(ckpt_dir_or_file: str | os.PathLike[str], name: str) -> Any:
    """One tensor's value (a trailing ``:0`` is ignored, as TF does)."""
    if name.endswith(":0"):
        name = name[:-2]
    return load_checkpoint(ckpt_dir_or_file).get_tensor(name)


class LazyCheckpoint(Mapping):  # type: ignore[type-arg]
    """A read-only mapping of a checkpoint's tensors, read only when accessed.

    Numeric values are read-only arrays over the memory-mapped data file (no copy;
    checksum verified on access). Strings are object arrays of ``bytes``. Scalars
    are 0-d arrays.
    """

    def __init__(self, prefix: str | os.PathLike[str], names: Any = None) -> None:
        self.prefix = _resolve(prefix)
        self._reader = _open(self.prefix)
        self._is_v2 = isinstance(self._reader, BundleReader)
        if self._is_v2:
            keys = self._reader.tensor_names()
        else:
            keys = sorted(self._reader.get_variable_to_shape_map())
        if names is not None:
            wanted = list(names)
            have = set(keys)
            missing = [n for n in wanted if n not in have]
            if missing:
                raise errors.NotFoundError(
                    f"Key {missing[0]} not found in checkpoint {self.prefix}"
                    + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""),
                    filename=self.prefix, key=missing[0])
            keys = wanted
        self._keys = keys
        self._keyset: set[str] | None = None     # built on first lookup (listing needs none)

    def _names(self) -> set[str]:
        if self._keyset is None:
            self._keyset = set(self._keys)
        return self._keyset

    def __getitem__(self, name: str) -> np.ndarray:
        keyset = self._keyset
        if keyset is None:
            keyset = self._names()
        if name not in keyset:
            raise errors.NotFoundError(f"Key {name} not found in checkpoint {self.prefix}",
                                       filename=self.prefix, key=name)
        if self._is_v2:
            reader = self._reader
            if name.__class__ is str:
                arr = reader._get_fast(name)
                if arr is not None:
                    return arr
            return reader.get(name)
        value = np.asarray(self._reader.get_tensor(name))
        value.setflags(write=False)
        return value

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, name: object) -> bool:
        return name in self._names()

    def dtype(self, name: str) -> _dt.DType:
        if self._is_v2:
            return self._reader.dtype(name)
        return self._reader.get_variable_to_dtype_map()[name]

    def shape(self, name: str) -> tuple[int, ...]:
        if self._is_v2:
            return tuple(self._reader.shape(name))
        return tuple(self._reader.get_variable_to_shape_map()[name])

    def read_into(self, name: str, out: np.ndarray) -> np.ndarray:
        """Read a tensor straight into ``out`` (same shape and dtype), no temporary."""
        if self._is_v2:
            return self._reader.get(name, out=out)
        out[...] = self[name]
        return out

    def read_into_exact(self, name: str, out: np.ndarray) -> bool:
        """Read ``name`` into ``out`` if that is a plain copy: a small tensor of
        ``out``'s dtype and shape, ``out`` C-contiguous and writable, the checksum
        matching. False for anything else (including a name not here): the caller
        then takes :meth:`read_into` or reports the mismatch. A restore's hot path."""
        keyset = self._keyset
        if keyset is None:
            keyset = self._names()
        if not self._is_v2 or name not in keyset:
            return False
        return self._reader._read_into_fast(name, out) is not None

    def __repr__(self) -> str:
        return f"<LazyCheckpoint {self.prefix!r}: {len(self)} tensors>"


__all__ = ["CheckpointReader", "NewCheckpointReader", "load_checkpoint", "list_variables",
           "load_variable", "LazyCheckpoint", "OBJECT_GRAPH_KEY"]
