"""V1 checkpoint files (SavedTensorSlices tables): TF's SaveSlices writer and V1 reader.

* :func:`write_v1` — the ``SaveSlices`` kernel: one SSTable file at exactly
  ``filename``, written as ``<filename>.tempstate<random uint64>`` and renamed
  (TensorSliceWriter), no directory created. Tensors are whole (empty spec) or
  slices (``"4 2 0,2:0,2"``); the meta record lists tensors in order of first
  addition, data records follow in key order.
* :class:`V1Reader` — TensorSliceReader: a file *pattern* (``model.ckpt``,
  ``model.ckpt-?????-of-00002``), every match read as one shard; the same
  read interface as :class:`~tensorkeep.bundle.reader.BundleReader` plus TF's
  ``CheckpointReader`` names.
* :func:`read_tensors` — RestoreV2 on a V1 checkpoint.

Record layout: :mod:`tensorkeep.format.v1`.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tensorkeep import dtypes as _dt
from tensorkeep import errors
from tensorkeep.bundle.reader import _tf_type_name
from tensorkeep.format import v1 as fmt
from tensorkeep.format.table import Table, TableBuilder
from tensorkeep.format.tensor_slice import TensorSlice, parse_spec
from tensorkeep.io import files

__all__ = ["write_v1", "V1Writer", "V1Reader", "read_tensors"]


def _shape_str(shape: Sequence[int]) -> str:
    return "[" + ",".join(str(int(d)) for d in shape) + "]"


def _dtype_of(value: Any, dtype: Any = None) -> _dt.DType:
    if dtype is not None:
        return _dt.as_dtype(dtype).base_dtype
    arr = value if isinstance(value, np.ndarray) else np.asarray(value)
    if arr.dtype.kind in ("O", "S", "U"):
        return _dt.string
    return _dt.as_dtype(arr.dtype)


class V1Writer:
    """Collects slices like TF's TensorSliceWriter and writes the table on ``finish``."""

    def __init__(self, filename: str | os.PathLike[str], *, fsync: bool = True) -> None:
        self.filename = os.fspath(filename)
        self.fsync = fsync
        self._meta: dict[str, fmt.SliceMeta] = {}
        self._data: dict[bytes, bytes] = {}

    def add(self, name: str, shape: Sequence[int], tslice: TensorSlice, values: Any,
            dtype: Any = None) -> None:
        """Add one slice of tensor ``name`` (full shape ``shape``); ``values`` has the slice's shape."""
        dt = _dtype_of(values, dtype)
        fmt.check_writable(dt.as_datatype_enum)
        shape = tuple(int(d) for d in shape)
        old = self._meta.get(name)
        if old is not None:
            if old.shape != shape:
                raise errors.InternalError(
                    f"Mismatching shapes: existing tensor = {_shape_str(old.shape)}, trying to add "
                    f"name {name}, shape = {_shape_str(shape)}")
            if old.dtype != dt.as_datatype_enum:
                raise errors.InternalError(
                    f"Mismatching types: existing type = {_tf_type_name(_dt.from_enum(old.dtype))}, "
                    f"trying to add name {name}, type = {_tf_type_name(dt)}")
            # Deliberate difference: TF writes overlapping slices into a file that its own
            # reader then refuses; we refuse at write time, with the reader's message.
            for s in old.slices:
                if s.intersect(tslice) is not None:
                    raise errors.InvalidArgumentError(
                        f"Overlapping slices: existing slice = {s}, new slice = {tslice}")
        record = fmt.encode_slice(name, tslice, dt, values)
        slices = (old.slices if old else ()) + (tslice,)
        self._meta[name] = fmt.SliceMeta(name, shape, dt.as_datatype_enum, slices)
        self._data[fmt.slice_key(name, tslice)] = record

    def finish(self) -> None:
        """Write the table atomically (temp ``.tempstate<uint64>``, then rename)."""
        # TF's writer lists the tensors of the meta record sorted by name (observed on TF 2.21).
        ordered = sorted(self._meta.values(), key=lambda m: m.name.encode("utf-8", "surrogateescape"))
        meta = fmt.encode_meta(fmt.V1Meta(tuple(ordered)))
        files.remove_stale_temps(os.path.dirname(self.filename) or ".")  # killed saves' leftovers
        with files.AtomicWriter(self.filename, fsync=self.fsync, marker=".tempstate") as w:
            builder = TableBuilder(w.write)
            builder.add(fmt.META_KEY, meta)
            for key in sorted(self._data):
                builder.add(key, self._data[key])
            builder.finish()


def write_v1(filename: str | os.PathLike[str], names: Sequence[str], slice_specs: Sequence[str],
             arrays: Sequence[Any], *, dtypes: Sequence[Any] | None = None,
             fsync: bool = True) -> None:
    """The SaveSlices kernel: write ``arrays`` as one V1 file at ``filename``.

    ``slice_specs[i]`` empty: the whole tensor; else ``"<full shape> <slice>"``
    and ``arrays[i]`` is that slice. ``dtypes`` overrides the dtype inferred
    from each array (e.g. ``qint8`` values given as int8).
    """
    if not (len(names) == len(slice_specs) == len(arrays)):
        raise errors.InvalidArgumentError(
            f"Expected {len(names)} slice specs and tensors, got {len(slice_specs)} and "
            f"{len(arrays)}")
    writer = V1Writer(filename, fsync=fsync)
    for i, (name, spec, value) in enumerate(zip(names, slice_specs, arrays)):
        dt = _dtype_of(value, dtypes[i] if dtypes is not None else None)
        arr = np.asarray(value, dtype=object if dt.numpy is None else None)
        if not spec:
            shape, tslice = arr.shape, TensorSlice.full(arr.ndim)
        else:
            shape, tslice = parse_spec(spec)
            if tuple(tslice.slice_shape(shape)) != tuple(arr.shape):
                raise errors.InvalidArgumentError(
                    "Slice in shape_and_slice specification does not match the shape of the "
                    f"tensor to  save: {spec}, tensor: {_shape_str(arr.shape)}")
        writer.add(name, shape, tslice, arr, dt)
    writer.finish()


@dataclass(frozen=True)
class _Tensor:
    dtype: _dt.DType
    shape: tuple[int, ...]
    slices: tuple[tuple[int, TensorSlice], ...]   # (file index, slice)


class V1Reader:
    """TensorSliceReader: read every file matching ``filepattern`` as V1 shards."""

    def __init__(self, filepattern: str | os.PathLike[str], *, verify_checksums: bool = True) -> None:
        self.filepattern = os.fspath(filepattern)
        names = sorted(glob.glob(self.filepattern))
        if not names:
            raise errors.NotFoundError(
                "Unsuccessful TensorSliceReader constructor: Failed to find any matching files "
                f"for {self.filepattern}", filename=self.filepattern)
        self.filenames = names
        self._tables: list[Table] = []
        tensors: dict[str, _Tensor] = {}
        for i, name in enumerate(names):
            table = self._open(name, verify_checksums)
            self._tables.append(table)
            raw = table.get(fmt.META_KEY)
            if raw is None:
                raise errors.data_loss("Failed to find the saved tensor slices at the beginning "
                                       "of the checkpoint file", filename=name, key=fmt.META_KEY)
            meta = _in_file(lambda: fmt.decode_meta(raw), name)
            fmt.check_versions(meta, filename=name)
            for t in meta.tensors:
                try:
                    dt = _dt.from_enum(t.dtype)
                except ValueError:
                    raise errors.data_loss(f"tensor {t.name!r} has unknown dtype {t.dtype}",
                                           filename=name, key=fmt.META_KEY) from None
                old = tensors.get(t.name)
                pieces = tuple((i, s) for s in t.slices)
                if old is None:
                    tensors[t.name] = _Tensor(dt, t.shape, pieces)
                elif old.dtype != dt or old.shape != t.shape:
                    raise errors.data_loss(
                        f"tensor {t.name!r} is {dt.name} {_shape_str(t.shape)} here but "
                        f"{old.dtype.name} {_shape_str(old.shape)} in {names[old.slices[0][0]]}",
                        filename=name, key=fmt.META_KEY)
                else:
                    tensors[t.name] = _Tensor(dt, t.shape, old.slices + pieces)
                _check_disjoint(tensors[t.name], name)
        self._tensors = tensors

    @staticmethod
    def _open(name: str, verify_checksums: bool) -> Table:
        if os.path.isdir(name):
            raise errors.DataLossError(
                f"Unable to open table file {name}: FAILED_PRECONDITION: {name}; Is a directory: "
                "perhaps your file is in a different file format and you need to use a "
                "different restore operator?", filename=name)
        buf = files.map_file(name)
        try:
            return Table(buf, verify_checksums=verify_checksums, filename=name)
        except errors.DataLossError as exc:
            raise errors.DataLossError(
                f"Unable to open table file {name}: {exc.message}: perhaps your file is in a "
                "different file format and you need to use a different restore operator?",
                filename=name, offset=exc.offset) from None

    # -- listing (BundleReader's names) -------------------------------------------------

    def keys(self) -> list[str]:
        return list(self._tensors)

    def __iter__(self) -> Iterator[str]:
        return iter(self._tensors)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._tensors

    def _info(self, name: str) -> _Tensor:
        t = self._tensors.get(name)
        if t is None:
            raise errors.NotFoundError(f"{name} not found in checkpoint file",
                                       filename=self.filepattern, key=name)
        return t

    def dtype(self, name: str) -> _dt.DType:
        return self._info(name).dtype

    def shape(self, name: str) -> tuple[int, ...]:
        return self._info(name).shape

    def num_slices(self, name: str) -> int:
        return len(self._info(name).slices)

    def slices(self, name: str) -> list[TensorSlice]:
        return [s for _, s in self._info(name).slices]

    # -- TF CheckpointReader names ------------------------------------------------------

    def has_tensor(self, name: str) -> bool:
        return name in self._tensors

    def get_variable_to_shape_map(self) -> dict[str, list[int]]:
        return {k: list(t.shape) for k, t in self._tensors.items()}

    def get_variable_to_dtype_map(self) -> dict[str, _dt.DType]:
        return {k: t.dtype for k, t in self._tensors.items()}

    def debug_string(self) -> bytes:
        lines = []
        for k, t in self._tensors.items():
            line = f"{k} ({t.dtype.enum_name}) {_shape_str(t.shape)}"
            if len(t.slices) > 1:
                line += f", {len(t.slices)} slices"
            lines.append(line + "\n")
        return "".join(lines).encode("utf-8", "surrogateescape")

    # -- values -------------------------------------------------------------------------

    def get_tensor(self, name: str) -> np.ndarray:
        """The whole tensor, assembled from all its slices."""
        return self.get(name)

    def get(self, name: str, *, out: np.ndarray | None = None) -> np.ndarray:
        t = self._info(name)
        return self._assemble(name, t, TensorSlice.full(len(t.shape)), out)

    def get_slice(self, name: str, tslice: TensorSlice) -> np.ndarray:
        """The part ``tslice`` of tensor ``name``; only the stored slices it touches are read."""
        t = self._info(name)
        return self._assemble(name, t, tslice, None)

    def _assemble(self, name: str, t: _Tensor, target: TensorSlice,
                  out: np.ndarray | None) -> np.ndarray:
        npdt = np.dtype(object) if t.dtype.numpy is None else t.dtype.numpy
        want_shape = target.slice_shape(t.shape)
        # Every stored element takes at least one byte of its file: a shape asking for
        # more elements than the files hold is corrupt, refused before allocating.
        asked = 1
        for d in want_shape:
            asked *= int(d)
        stored_bytes = sum(len(self._tables[i]._view) for i in {fi for fi, _ in t.slices})
        if asked > stored_bytes:
            raise errors.data_loss(
                f"tensor {name} of shape {_shape_str(t.shape)} has more elements ({asked}) than "
                f"its files have bytes ({stored_bytes})", filename=self.filenames[t.slices[0][0]] if t.slices else self.filepattern,
                key=fmt.META_KEY)
        if out is None and len(t.slices) == 1 and \
                _bounds(t.slices[0][1], t.shape) == _bounds(target, t.shape):
            # One stored slice that is exactly what is asked for: no assembly and, for
            # numeric values, no copy (a read-only view over the mapped file).
            file_index, stored = t.slices[0]
            return self._read_slice(name, t, file_index, stored)
        if out is None:
            out = np.empty(want_shape, dtype=npdt)
        elif out.shape != want_shape or out.dtype != npdt:
            raise errors.InvalidArgumentError(
                f"{name}: out has shape {out.shape} and dtype {out.dtype}, need {want_shape} {npdt}")
        tgt = _bounds(target, t.shape)
        total = int(np.prod(want_shape, dtype=np.int64))
        several = len(t.slices) > 1
        covered = np.zeros(want_shape, dtype=bool) if several else None
        filled = 0
        for file_index, stored in t.slices:
            src = _bounds(stored, t.shape)
            inter = [(max(a0, b0), min(a1, b1)) for (a0, a1), (b0, b1) in zip(src, tgt)]
            if any(lo >= hi for lo, hi in inter) and total:
                continue
            block = self._read_slice(name, t, file_index, stored)
            src_index = tuple(slice(lo - s0, hi - s0) for (lo, hi), (s0, _) in zip(inter, src))
            dst_index = tuple(slice(lo - d0, hi - d0) for (lo, hi), (d0, _) in zip(inter, tgt))
            out[dst_index] = block[src_index]
            if covered is not None:
                covered[dst_index] = True
            else:
                filled = int(np.prod([hi - lo for lo, hi in inter], dtype=np.int64))
        if covered is not None:
            filled = int(covered.sum())
        if filled != total:
            # TF's RestoreV2 says "Error copying slice data" (InvalidArgument).
            raise errors.InvalidArgumentError(
                f"Error copying slice data: the slices of {name} in {self.filepattern} cover "
                f"{filled} of the {total} elements asked for", filename=self.filepattern, key=name)
        return out

    def _read_slice(self, name: str, t: _Tensor, file_index: int,
                    tslice: TensorSlice) -> np.ndarray:
        filename = self.filenames[file_index]
        key = fmt.slice_key(name, tslice)
        raw = _in_file(lambda: self._tables[file_index].get(key), filename, key)
        if raw is None:
            raise errors.data_loss(f"the data record of slice {tslice} of {name} is missing",
                                   filename=filename, key=key)
        shape = tslice.slice_shape(t.shape)
        count = int(np.prod(shape, dtype=np.int64))
        rec = _in_file(lambda: fmt.decode_slice(raw, t.dtype, count), filename, key)
        if rec.name != name or rec.slice != tslice:
            raise errors.data_loss(f"record under the key of {name} {tslice} claims to be "
                                   f"{rec.name} {rec.slice}", filename=filename, key=key)
        return rec.values.reshape(shape)

    def close(self) -> None:
        self._tables = []

    def __enter__(self) -> "V1Reader":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _bounds(tslice: TensorSlice, shape: Sequence[int]) -> list[tuple[int, int]]:
    """(start, stop) per dimension of a slice of a tensor of ``shape``."""
    return [(0, int(d)) if n < 0 else (st, st + n) for (st, n), d in zip(tslice.extents, shape)]


def _check_disjoint(t: _Tensor, filename: str) -> None:
    """TF's reader refuses a tensor whose slices overlap (also across files)."""
    seen: list[TensorSlice] = []
    for _, s in t.slices:
        for other in seen:
            if other.intersect(s) is not None:
                raise errors.data_loss(
                    f"Overlapping slices: existing slice = {other}, new slice = {s}",
                    filename=filename, key=fmt.META_KEY)
        seen.append(s)


def _in_file(fn: Any, filename: str, key: bytes | str | None = None) -> Any:
    try:
        return fn()
    except errors.DataLossError as exc:
        if exc.filename is None:
            raise errors.DataLossError(f"{exc.message}, in file {filename}", filename=filename,
                                       key=exc.key if exc.key is not None else key,
                                       offset=exc.offset) from None
        raise


def read_tensors(prefix: str, names: Sequence[str], slice_specs: Sequence[str],
                 dtypes: Sequence[Any]) -> list[np.ndarray]:
    """RestoreV2 on a V1 checkpoint: ``prefix`` is a file pattern."""
    reader = V1Reader(prefix)
    out = []
    for name, spec, want in zip(names, slice_specs, dtypes):
        if not reader.has_tensor(name):
            raise errors.NotFoundError(
                f'Tensor name "{name}" not found in checkpoint files {prefix}',
                filename=prefix, key=name)
        got = reader.dtype(name)
        want_dt = _dt.as_dtype(want).base_dtype
        if got is not want_dt:
            raise errors.InvalidArgumentError(
                f"Expected to restore a tensor of type {_tf_type_name(want_dt)}, got a tensor of "
                f"type {_tf_type_name(got)} instead: tensor_name = {name}")
        if not spec:
            out.append(reader.get(name))
            continue
        full_shape, tslice = parse_spec(spec)
        if tuple(full_shape) != reader.shape(name):
            raise errors.InvalidArgumentError(
                "Shape in shape_and_slice spec does not match the shape in the save file: "
                f"{_shape_str(full_shape)}, save file shape: {_shape_str(reader.shape(name))}")
        out.append(reader.get_slice(name, tslice))
    return out
