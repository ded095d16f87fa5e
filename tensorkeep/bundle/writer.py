"""BundleWriter: write a V2 tensor bundle (``P.index`` + ``P.data-*``), as TF's SaveV2 does.

Tensors are appended to the data file(s) in the order they are added, packed
without padding; the index (an SSTable: header under key ``""``, then one
BundleEntryProto per key in byte order) is written by :meth:`finish`. Files are
written under temporary names and published by rename: the data files first,
the index last, so a bundle appears only once it is complete.

Bytes are written straight from the arrays' buffers; the CRC of a large tensor
runs in a helper thread while the same buffer is being written (both release
the GIL), so a save costs the write, not the write plus the checksum.
"""

from __future__ import annotations

import os
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Mapping, Sequence

import numpy as np
from crc32c import crc32c as _crc32c_raw   # the package behind format.crc32c, called directly

from tensorkeep import dtypes as _dt
from tensorkeep.bundle.naming import data_filename, index_filename
from tensorkeep.errors import InvalidArgumentError, NotFoundError
from tensorkeep.format import tensor_data
from tensorkeep.format.crc32c import MASK_DELTA, crc32c, mask
from tensorkeep.format.entry import BundleEntry, BundleHeader, encode_entry
from tensorkeep.format.tensor_slice import TensorSlice
from tensorkeep.io.files import (AtomicWriter, remove_if_unlocked, remove_stale_temps,
                                  translate_os_error)

_OVERLAP_BYTES = 1 << 20   # below this, checksum inline (a thread hop costs more)
# Tensors smaller than _OVERLAP_BYTES are copied into a per-shard staging buffer
# written out once it holds _STAGE_BYTES (one write per ~1 MiB instead of one per
# tensor; the copy also means the caller may change the array once add() returns,
# as with a direct write). Larger tensors are written straight from their buffer.
_STAGE_BYTES = 1 << 20

# numpy dtype -> bundle dtype, for the plain dtypes (dtype_of costs ~2 us a call)
_DTYPES: dict[np.dtype, _dt.DType] = {}

Extent = tuple[int, int]


def _key_bytes(key: str | bytes) -> bytes:
    return key if isinstance(key, bytes) else key.encode("utf-8", "surrogateescape")


class BundleWriter:
    """Write tensors into a new bundle at ``prefix``.

    ``num_shards`` > 1 spreads tensors over that many data files (balanced by
    bytes) under one index. ``fsync=False`` skips fsync (faster; a power loss may
    lose this checkpoint, never an earlier one). ``makedirs=True`` creates
    missing parent directories; otherwise, like TF, only the last level is made.
    """

    def __init__(self, prefix: str | os.PathLike[str], *, num_shards: int = 1, fsync: bool = True,
                 makedirs: bool = False) -> None:
        self.prefix = os.fspath(prefix)
        if num_shards < 1:
            raise InvalidArgumentError(f"num_shards must be >= 1, got {num_shards}")
        self.num_shards = num_shards
        self.fsync = fsync
        parent = os.path.dirname(self.prefix)
        if parent and not os.path.isdir(parent):
            try:
                if makedirs:
                    os.makedirs(parent, exist_ok=True)
                else:
                    os.mkdir(parent)
            except FileExistsError:
                pass
            except OSError as exc:
                raise translate_os_error(exc, parent, "creating the checkpoint directory") from exc
        if os.path.isdir(self.prefix):
            raise InvalidArgumentError(
                f"checkpoint prefix {self.prefix} is a directory; pass a path prefix inside it, "
                f"e.g. {os.path.join(self.prefix, 'ckpt')}")
        # Leftovers of saves killed in this directory: unlocked temporary files, and
        # data files of this prefix published without their index.
        remove_stale_temps(parent or ".")
        if not os.path.exists(index_filename(self.prefix)):
            for path in _data_files_of(self.prefix):
                remove_if_unlocked(path)
        self._entries: dict[bytes, bytes] = {}       # key -> encoded BundleEntryProto
        self._partitioned: dict[bytes, tuple[int, tuple[int, ...], list[tuple[Extent, ...]]]] = {}
        self._writers: list[AtomicWriter] = []
        self._index_writer: AtomicWriter | None = None
        self._shard_bytes = [0] * num_shards
        # per shard: a staging buffer, reused (allocated on first use, its pages touched
        # once), and how much of it is filled
        self._stage: list[memoryview | None] = [None] * num_shards
        self._filled = [0] * num_shards
        self._pool: ThreadPoolExecutor | None = None
        self._finished = False
        try:
            for i in range(num_shards):
                self._writers.append(AtomicWriter(data_filename(self.prefix, i, num_shards),
                                                  fsync=fsync))
        except BaseException:
            self.abort()
            raise

    # -- adding tensors ------------------------------------------------------------

    def add(self, key: str | bytes, value: Any) -> None:
        """Append one whole tensor under ``key``."""
        kb = key.encode("utf-8", "surrogateescape") if key.__class__ is str else _key_bytes(key)
        if not kb:
            raise InvalidArgumentError("the empty key is reserved for the bundle header")
        if kb in self._entries or kb in self._partitioned:
            raise InvalidArgumentError(f"Adding duplicate key: {_show(kb)}")
        if value.__class__ is np.ndarray and self.num_shards == 1:
            # _write_tensor's staged path, inlined for the common small tensor: a
            # C-contiguous array of an already seen plain dtype, under 1 MiB
            dtype = _DTYPES.get(value.dtype)
            if dtype is not None and value.ndim and value.flags.c_contiguous:
                try:
                    buf = memoryview(value).cast("B")
                except (ValueError, TypeError):
                    buf = None
                if buf is not None and len(buf) < _OVERLAP_BYTES:
                    size = len(buf)
                    raw = _crc32c_raw(buf)
                    crc = ((((raw >> 15) | (raw << 17)) & 0xFFFFFFFF) + MASK_DELTA) & 0xFFFFFFFF
                    offset = self._stage_small(0, buf)
                    self._shard_bytes[0] += size
                    self._entries[kb] = encode_entry(dtype.as_datatype_enum, value.shape, 0,
                                                     offset, size, crc)
                    return
        self._entries[kb] = self._write_tensor(kb, value)

    def add_slice(self, full_name: str | bytes, full_shape: Sequence[int],
                  extents: Sequence[Extent], value: Any) -> None:
        """Append one slice of a partitioned tensor (FORMAT.md §3.8).

        ``extents``: one ``(start, length)`` per dimension, length -1 = whole dim.
        A slice covering the whole tensor is stored as an ordinary entry.
        """
        from tensorkeep.format.ordered_code import encode_tensor_name_slice

        name = _key_bytes(full_name)
        full_shape = tuple(int(d) for d in full_shape)
        extents = tuple((int(s), int(n)) for s, n in extents)
        if len(extents) != len(full_shape):
            raise InvalidArgumentError(
                f"slice of {_show(name)} has rank {len(extents)}, tensor rank {len(full_shape)}")
        try:
            tslice = TensorSlice(extents)
            want = tslice.slice_shape(full_shape)
        except InvalidArgumentError as exc:
            raise InvalidArgumentError(f"bad slice of {_show(name)}: {exc.message}") from None
        if tslice.is_full(full_shape):     # TF stores a covering slice as an ordinary entry
            self.add(name, value)
            return
        norm = tslice.extents
        arr = np.asarray(value)
        if tuple(arr.shape) != want:
            raise InvalidArgumentError(
                f"slice of {_show(name)} has shape {list(arr.shape)}, expected {list(want)}")
        if name in self._entries:
            raise InvalidArgumentError(f"Adding duplicate key: {_show(name)}")
        dtype = tensor_data.dtype_of(arr).as_datatype_enum
        known = self._partitioned.get(name)
        if known is None:
            known = (dtype, full_shape, [])
            self._partitioned[name] = known
        elif known[0] != dtype or known[1] != full_shape:
            raise InvalidArgumentError(f"slices of {_show(name)} disagree on dtype or shape")
        if norm in known[2]:
            raise InvalidArgumentError(f"Adding duplicate slice of {_show(name)}: {norm}")
        slice_key = encode_tensor_name_slice(name, norm)
        self._entries[slice_key] = self._write_tensor(slice_key, arr)
        known[2].append(norm)

    def _write_tensor(self, key: bytes, value: Any) -> bytes:
        """Append the tensor's bytes to a data file; its encoded index entry."""
        arr = value if isinstance(value, np.ndarray) else np.asarray(value)
        dtype = _DTYPES.get(arr.dtype)
        if dtype is None:
            dtype = tensor_data.dtype_of(arr)
            if dtype is not _dt.string and arr.dtype.names is None and arr.dtype == dtype.numpy:
                _DTYPES[arr.dtype] = dtype
        shape = arr.shape
        shard = self._pick_shard()
        writer = self._writers[shard]
        if dtype is _dt.string:
            self._flush(shard)
            offset = writer.bytes_written
            buffers, size, crc = tensor_data.encode_strings(tensor_data.string_elements(arr))
            for b in buffers:
                writer.write(b)
        else:
            buf = None
            if arr.flags.c_contiguous and arr.dtype == dtype.numpy and arr.ndim:
                try:
                    buf = memoryview(arr).cast("B")
                except (ValueError, TypeError):      # dtypes the buffer protocol cannot name
                    pass
            if buf is None:
                buf = tensor_data.numeric_buffer(arr, dtype)
            size = len(buf)
            if size < _OVERLAP_BYTES:
                raw = crc32c(buf)
                offset = self._stage_small(shard, buf)
            else:
                self._flush(shard)
                offset = writer.bytes_written
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(1, thread_name_prefix="tensorkeep-crc")
                try:
                    fut = self._pool.submit(crc32c, buf)
                except RuntimeError:        # interpreter shutting down (a background save)
                    writer.write(buf)
                    raw = crc32c(buf)
                else:
                    try:
                        writer.write(buf)
                    finally:
                        raw = fut.result()
            crc = mask(raw)
        self._shard_bytes[shard] += size
        return encode_entry(dtype.as_datatype_enum, shape, shard, offset, size, crc)

    def _stage_small(self, shard: int, buf: bytes | memoryview) -> int:
        """Copy a small tensor's bytes into the shard's staging buffer (written out once
        it holds ``_STAGE_BYTES``); the data-file offset they will land at."""
        stage = self._stage[shard]
        if stage is None:
            stage = self._new_stage(shard)
        start = self._filled[shard]
        end = start + len(buf)
        stage[start:end] = buf
        self._filled[shard] = end
        offset = self._writers[shard].bytes_written + start
        if end >= _STAGE_BYTES:
            self._flush(shard)
        return offset

    def _flush(self, shard: int) -> None:
        filled = self._filled[shard]
        if filled:
            stage = self._stage[shard]
            assert stage is not None
            self._writers[shard].write(stage[:filled])
            self._filled[shard] = 0

    def _new_stage(self, shard: int) -> memoryview:
        """The shard's staging buffer: room for a full stage plus one more small tensor
        (np.empty: pages are touched only as they fill, then reused)."""
        stage = memoryview(np.empty(_STAGE_BYTES + _OVERLAP_BYTES, np.uint8))
        self._stage[shard] = stage
        return stage

    def _pick_shard(self) -> int:
        if self.num_shards == 1:
            return 0
        sizes = self._shard_bytes
        return sizes.index(min(sizes))

    # -- publishing ------------------------------------------------------------------

    def finish(self) -> None:
        """Publish: rename the data files, then write and rename the index."""
        from tensorkeep.format.table import TableBuilder

        if self._finished:
            return
        try:
            entries = dict(self._entries)
            for name, (dtype, shape, slices) in self._partitioned.items():
                entries[name] = BundleEntry(dtype, shape, slices=tuple(slices)).encode()
            for shard in range(self.num_shards):
                self._flush(shard)
            for w in self._writers:
                w.commit(hold=True)   # locked until the index is published
            self._index_writer = AtomicWriter(index_filename(self.prefix), fsync=self.fsync)
            with self._index_writer as out:
                table = TableBuilder(out.write)
                items = [(key, entries[key]) for key in sorted(entries)]
                table.add_many([(b"", BundleHeader(num_shards=self.num_shards).encode())] + items)
                table.finish()
        except BaseException:
            self.abort()
            raise
        finally:
            self._close_pool()
            for w in self._writers:
                w.release()
        self._finished = True
        # Data files of an earlier bundle at this prefix with another shard count.
        ours = {data_filename(self.prefix, i, self.num_shards) for i in range(self.num_shards)}
        for path in _data_files_of(self.prefix):
            if path not in ours:
                remove_if_unlocked(path)

    def abort(self) -> None:
        """Remove every temporary file, and data files published without their index."""
        index = self._index_writer
        published = self._finished or (index is not None and index.committed)
        for w in self._writers:
            if w.committed and not published:
                try:
                    os.remove(w.path)
                except OSError:
                    pass
            w.abort()
        self._close_pool()

    def _close_pool(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def __enter__(self) -> "BundleWriter":
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.finish()
        else:
            self.abort()


def _data_files_of(prefix: str) -> list[str]:
    """The existing ``prefix.data-NNNNN-of-NNNNN`` files (matched literally, no glob)."""
    directory, base = os.path.split(prefix)
    pattern = re.compile(re.escape(base) + r"\.data-\d{5,}-of-\d{5,}", re.DOTALL)
    try:
        names = os.listdir(directory or ".")
    except OSError:
        return []
    return [os.path.join(directory, n) for n in names if pattern.fullmatch(n)]


def _show(key: bytes) -> str:
    try:
        return key.decode("utf-8")
    except UnicodeDecodeError:
        return repr(key)


def _sorted_names(tensors: Mapping[str, Any]) -> list[Any]:
    """``sorted(tensors, key=_key_bytes)``; ASCII str names (the usual case) sort as str."""
    names = list(tensors)
    if all(n.__class__ is str for n in names) and "".join(names).isascii():
        names.sort()            # ASCII: code point order == UTF-8 byte order
        return names
    return sorted(names, key=_key_bytes)


def write_bundle(prefix: str | os.PathLike[str], tensors: Mapping[str, Any], *, num_shards: int = 1,
                 fsync: bool = True, makedirs: bool = False) -> str:
    """Write ``tensors`` (name -> array) as a bundle; returns the prefix.

    Tensors go into the data file in sorted-name order (as TF's Saver writes them),
    so the same tensors always give the same bytes.
    """
    prefix = os.fspath(prefix)
    with BundleWriter(prefix, num_shards=num_shards, fsync=fsync, makedirs=makedirs) as w:
        for name in _sorted_names(tensors):
            w.add(name, tensors[name])
    return prefix


def write_tensors(prefix: str, names: Sequence[str], slice_specs: Sequence[str],
                  arrays: Sequence[Any], *, fsync: bool = True) -> None:
    """The SaveV2 kernel: tensors in the given order, each whole or as a slice spec."""
    from tensorkeep.format.tensor_slice import parse_spec

    if not (len(names) == len(slice_specs) == len(arrays)):
        raise InvalidArgumentError(
            f"SaveV2 got {len(names)} names, {len(slice_specs)} slice specs and {len(arrays)} tensors")
    try:
        writer = BundleWriter(prefix, fsync=fsync)
    except NotFoundError:
        raise
    with writer:
        for name, spec, arr in zip(names, slice_specs, arrays):
            if not spec:
                writer.add(name, arr)
            else:
                full_shape, tslice = parse_spec(spec)
                writer.add_slice(name, full_shape, tslice.extents, arr)


__all__ = ["BundleWriter", "write_bundle", "write_tensors"]
