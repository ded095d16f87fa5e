"""BundleReader: lazy reads of a V2 tensor bundle.

Opening reads and checks only ``P.index`` (footer, index block, header); entries
are decoded when asked, and a tensor's bytes are read only when it is requested:
numeric tensors come back as read-only arrays over a memory map of the data
file (no copy), after their CRC-32C has been verified. Every size and offset is
checked against the real file before it is used, so a corrupt index can neither
read out of bounds nor make the reader allocate more than the files hold.
"""

from __future__ import annotations

import functools
import operator
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from itertools import islice
from typing import Any, Iterator

import numpy as np
from crc32c import crc32c as _crc32c_raw   # the package behind format.crc32c, called directly

from tensorkeep import dtypes as _dt
from tensorkeep import errors
from tensorkeep.bundle.naming import data_filename, index_filename
from tensorkeep.format import tensor_data
from tensorkeep.format.crc32c import MASK_DELTA, crc32c, mask
from tensorkeep.format.entry import (ENDIAN_BIG, BundleEntry, BundleHeader, _decode_common,
                                     decode_entries)
from tensorkeep.format import table as _table
from tensorkeep.format.table import Table
from tensorkeep.io.files import file_size, map_file, read_bytes, read_into

# Reads of at most this many bytes are copied from the memory map (no syscall);
# larger ones are read with pread in chunks of _CHUNK bytes while a helper thread
# checksums the previous chunk (both release the GIL), so a verified read costs
# about max(read, crc32c) rather than their sum.
_MAP_COPY_BYTES = 1 << 20
_CHUNK = 8 << 20
# Lookups one at a time before _get_fast decodes the whole index at once: reading a
# few tensors of a large checkpoint costs those tensors, reading many costs ~1 us each.
_FAST_AFTER = 64

Extent = tuple[int, int]


def key_bytes(key: str | bytes) -> bytes:
    return key if isinstance(key, bytes) else key.encode("utf-8", "surrogateescape")


def _in_order(keys: list[bytes]) -> bool:
    """Whether ``keys`` are strictly increasing in byte order."""
    native = _table._native
    if native is not None:
        try:
            return native.first_unordered(keys) < 0
        except TypeError:                           # a key that is not exactly bytes
            pass
    return all(map(operator.lt, keys, islice(keys, 1, None)))


def key_str(key: bytes) -> str:
    return key.decode("utf-8", "surrogateescape")


def keys_str(raw: list[bytes]) -> list[str]:
    """``[key_str(k) for k in raw]``; in C where the listing's loops are compiled, else
    ASCII keys (the usual case) decoded by C-level map."""
    try:
        native = _table._native
        if native is not None:
            return native.decode_keys(raw)
        if all(map(bytes.isascii, raw)):
            return list(map(bytes.decode, raw))     # ASCII: strict UTF-8 == surrogateescape
    except TypeError:                               # a key that is not exactly bytes
        pass
    return [key_str(k) for k in raw]


class BundleReader:
    """Read tensors from the bundle at ``prefix`` (``prefix.index`` must exist)."""

    def __init__(self, prefix: str | os.PathLike[str], *, verify_checksums: bool = True) -> None:
        self.prefix = os.fspath(prefix)
        self.verify_checksums = verify_checksums
        self.index_path = index_filename(self.prefix)
        if os.path.isdir(self.index_path):
            raise errors.DataLossError(f"Unable to open table file {self.index_path}: is a directory",
                                       filename=self.index_path)
        buf = read_bytes(self.index_path)
        header_raw: memoryview | None = None
        try:
            self._table = Table(buf, verify_checksums=verify_checksums, filename=self.index_path)
            # keys in order, and where each BundleEntryProto is (Table.scan); decoded on use
            keys, locs = self._table.scan()
            if keys:
                if keys[0] != b"":
                    raise errors.data_loss("bundle header (empty key) missing from the index",
                                           filename=self.index_path, key=keys[0])
                header_raw = self._table.value_at(locs[0])
                del keys[0]
                locs = locs[1:]
                if not _in_order(keys):
                    bad = next(b for a, b in zip(keys, keys[1:]) if not a < b)
                    raise errors.data_loss("keys out of order in the index (repeated or "
                                           "unsorted)", filename=self.index_path, key=bad)
        except errors.DataLossError as exc:
            raise _with_file(exc, self.index_path) from None
        self._keys: list[bytes] = keys if header_raw is not None else []
        # each entry's offset in the index: an int64 array from the fast scan, else a list
        self._locs: list[int | memoryview] | np.ndarray = locs if header_raw is not None else []
        if header_raw is None:
            raise errors.data_loss("bundle index has no header entry", filename=self.index_path)
        self.header = _with_file_call(lambda: BundleHeader.decode(header_raw, key=b""), self.index_path)
        why = self.header.check_version()
        if why:
            raise errors.data_loss(why, filename=self.index_path, key=b"")
        if self.header.num_shards < 0 or self.header.endianness not in (0, 1):
            raise errors.data_loss(
                f"bad bundle header (num_shards={self.header.num_shards}, "
                f"endianness={self.header.endianness})", filename=self.index_path, key=b"")
        self._entries: dict[bytes, BundleEntry] = {}
        # for _get_fast: the index bytes (little-endian bundles only), the data file count
        self._fast_index = self._table._bytes if self.header.endianness != ENDIAN_BIG else None
        self._num_files = max(self.header.num_shards, 1)
        self._maps: dict[int, tuple[str, memoryview]] = {}   # shard -> (path, mapped file)
        self._lock = threading.Lock()
        self._slice_keys: set[bytes] | None = None
        self._crc_pool: ThreadPoolExecutor | None = None
        self._fast: dict[str, tuple] | None = None       # see _build_fast
        self._fast_calls = 0

    @functools.cached_property
    def _raw(self) -> dict[bytes, int | memoryview]:
        """key -> where its entry is; built on the first lookup (a listing needs none)."""
        locs = self._locs
        return dict(zip(self._keys, locs.tolist() if isinstance(locs, np.ndarray) else locs))

    # -- listing ----------------------------------------------------------------------

    def raw_keys(self) -> list[bytes]:
        """Every key in the index but the header, in byte order (slice keys included)."""
        return list(self._keys)

    def entry(self, key: str | bytes) -> BundleEntry:
        kb = key.encode("utf-8", "surrogateescape") if key.__class__ is str else key_bytes(key)
        e = self._entries.get(kb)
        if e is not None:
            return e
        if e is None:
            raw = self._raw.get(kb)
            if raw is None:
                raise errors.NotFoundError(f"Key {key_str(kb)} not found in checkpoint",
                                           filename=self.index_path, key=kb)
            try:
                e = BundleEntry.decode(self._table.value_at(raw), key=kb)
            except errors.DataLossError as exc:
                raise _with_file(exc, self.index_path) from None
            self._check_entry(kb, e)
            self._entries[kb] = e
        return e

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, (str, bytes)):
            return False
        return key_bytes(key) in self._raw

    def slice_keys(self) -> set[bytes]:
        """Keys of slice entries referenced from a partitioned tensor's full entry."""
        if self._slice_keys is None:
            from tensorkeep.format.ordered_code import encode_tensor_name_slice

            out: set[bytes] = set()
            for k in self._keys:
                if k[:1] == b"\x00":
                    continue
                e = self.entry(k)
                for extents in e.slices:
                    out.add(encode_tensor_name_slice(k, extents))
            self._slice_keys = out
        return self._slice_keys

    def tensor_keys(self) -> list[bytes]:
        """Keys of whole tensors: every key but the referenced slice keys."""
        # Slice keys start with a 0 byte (OrderedCode), and keys are in byte order:
        # if the first key does not, there are none (no scan of 10,000 keys).
        keys = self._keys
        if not keys or keys[0][:1] != b"\x00":
            return list(keys)
        hidden = self.slice_keys()
        return [k for k in keys if k not in hidden]

    def tensor_names(self) -> list[str]:
        """:meth:`tensor_keys` as strings (UTF-8; undecodable bytes kept as surrogates)."""
        keys = self._keys
        if not keys or keys[0][:1] != b"\x00":
            return list(self._names)
        hidden = self.slice_keys()
        return [n for k, n in zip(keys, self._names) if k not in hidden]

    @functools.cached_property
    def _names(self) -> list[str]:
        """Every key of ``_keys`` as a string."""
        return keys_str(self._keys)

    def dtype(self, key: str | bytes) -> _dt.DType:
        if key.__class__ is str:
            found = self._fast_lookup(key)
            if found is not None:
                return found[4][2]
        return _dt.from_enum(self.entry(key).dtype)

    def shape(self, key: str | bytes) -> tuple[int, ...]:
        if key.__class__ is str:
            found = self._fast_lookup(key)
            if found is not None:
                return found[4][1]
        return self.entry(key).shape

    # -- reading ----------------------------------------------------------------------

    def get(self, key: str | bytes, *, out: np.ndarray | None = None) -> np.ndarray:
        """The full tensor under ``key`` (assembled from its slices if partitioned).

        Numeric tensors: a read-only array over the mapped data file, or, with
        ``out``, the bytes read straight into ``out`` (no temporary).
        Strings: an object array of ``bytes``.
        """
        if key.__class__ is str:
            arr = self._get_fast(key) if out is None else self._read_into_fast(key, out)
            if arr is not None:
                return arr
        kb = key.encode("utf-8", "surrogateescape") if key.__class__ is str else key_bytes(key)
        e = self._entries.get(kb)
        if e is None:
            if out is None and key.__class__ is not str:
                arr = self._get_fast(key_str(kb))
                if arr is not None:
                    return arr
            e = self.entry(kb)
        if e.slices:
            return self._assemble(kb, e, out)
        return self._read_entry(kb, e, out)

    def _get_fast(self, name: str) -> np.ndarray | None:
        """``get(name)`` for the common entry, fused; None for anything else.

        The common entry: canonical layout (no slices), a numeric dtype, a little-endian
        bundle, every size and offset within bounds, checksum matching. Anything else
        (including every error) returns None and goes through the general, checked
        path, which raises the same errors as ever. No entry is cached, so a later
        ``entry()`` decodes and checks as usual. After ``_FAST_AFTER`` lookups the
        whole index is decoded at once (:meth:`_build_fast`) and later lookups of
        common entries are a dictionary hit, a checksum and an array header.
        """
        found = self._fast_lookup(name)
        if found is not None:
            m, start, end, crc, (npdt, shape, _) = found
            if crc is None or _crc32c_raw(m[start:end]) == crc:
                return np.ndarray(shape, npdt, m, start)
        pos = self._raw.get(name.encode("utf-8", "surrogateescape"))
        data = self._fast_index
        if pos.__class__ is not int or data is None:
            return None
        unshared = data[pos + 1]                        # scan() checked the entry fits
        vlen = data[pos + 2]
        if (data[pos] | unshared | vlen) >= 0x80:
            return None
        start = pos + 3 + unshared
        fast = _decode_common(data[start:start + vlen])
        if fast is None:
            return None
        dtype, shape, shard_id, offset, size, crc = fast
        info = _FAST_DTYPES.get(dtype)
        if info is None:
            return None
        npdt, itemsize = info
        n = 1
        for d in shape:
            n *= d
        if n * itemsize != size or not 0 <= shard_id < self._num_files:
            return None
        found = self._maps.get(shard_id)
        if found is None:
            found = self._data(shard_id)
        m = found[1]
        if offset + size > len(m):
            return None
        view = m[offset:offset + size]
        if self.verify_checksums:
            raw = _crc32c_raw(view)
            if ((((raw >> 15) | (raw << 17)) & 0xFFFFFFFF) + MASK_DELTA) & 0xFFFFFFFF != crc:
                return None                                 # mask(raw) != crc
        if len(shape) == 1:                     # frombuffer's shape already: (n,)
            return np.frombuffer(view, dtype=npdt)
        return np.frombuffer(view, dtype=npdt).reshape(shape)

    def _fast_lookup(self, name: str) -> tuple | None:
        """``name``'s row of the whole-index table (see :meth:`_build_fast`), or None;
        the table is built once ``_FAST_AFTER`` lookups have been made without it."""
        fast = self._fast
        if fast is None:
            self._fast_calls += 1
            if self._fast_calls < _FAST_AFTER:
                return None
            fast = self._fast = self._build_fast()
        return fast.get(name)

    def _read_into_fast(self, name: str, out: np.ndarray) -> np.ndarray | None:
        """``get(name, out=out)`` for a small common entry and a matching C-contiguous
        writable ``out``, from the whole-index table; None for anything else (the
        general path then reads, or raises, as ever)."""
        found = self._fast_lookup(name)
        if found is None:
            return None
        m, start, end, crc, (npdt, shape, _) = found
        if end - start > _MAP_COPY_BYTES or out.__class__ is not np.ndarray \
                or out.dtype != npdt or out.shape != shape:
            return None
        flags = out.flags
        if not (flags.c_contiguous and flags.writeable):
            return None
        try:
            view = memoryview(out).cast("B")
        except (ValueError, TypeError):         # dtypes the buffer protocol cannot name
            view = memoryview(out.reshape(-1).view(np.uint8))
        view[:] = m[start:end]
        if crc is not None and _crc32c_raw(view) != crc:
            return None                             # the general path reports it
        return out

    def _build_fast(self) -> dict[str, tuple]:
        """name -> (mapped data file, start, end, raw CRC-32C or None, (numpy dtype,
        shape, DType)) of every entry ``_get_fast`` would read, decoded for the whole
        index at once; also answers ``shape``, ``dtype`` and small reads into arrays.

        Holds only entries that pass every check ``_get_fast`` makes (canonical
        layout, numeric dtype, size matching the shape, shard and byte range inside
        the mapped file); the rest stay on the one-at-a-time path. Built by
        ``_native.fast_rows`` in C where it is compiled and the index was listed as
        offsets, else in numpy (:func:`decode_entries`).
        """
        data = self._fast_index
        if data is None or not self._keys:
            return {}
        native = _table._native
        if native is not None and self._locs.__class__ is list:
            rows = native.fast_rows(data, self._locs, self._names, _FAST_KINDS, self._num_files,
                                    self._map_or_none, self.verify_checksums)
            if rows is not None:                        # None: values of a decompressed block
                return rows
        try:
            pos = np.asarray(self._locs, np.int64)
        except (TypeError, ValueError):                 # values of a decompressed block
            return {}
        u8 = np.frombuffer(data, np.uint8)
        cols = decode_entries(u8, pos + 3 + u8[pos + 1], u8[pos + 2].astype(np.int64))
        kinds = [_FAST_DTYPES.get(h[0]) if h is not None else None for h in cols.heads]
        # bytes each head's tensor holds; -1 (matches no size) for any other dtype, and
        # for a shape whose byte count would not fit the int64 columns (a hostile entry)
        nbytes = [-1 if k is None else k[1] * tensor_data.num_elements(h[1])
                  for k, h in zip(kinds, cols.heads)]
        nbytes = np.array([n if 0 <= n < (1 << 62) else -1 for n in nbytes] or [-1], np.int64)
        good = cols.ok & (cols.size == nbytes[cols.head_id]) & (cols.shard_id < self._num_files)
        maps: list[memoryview | None] = []
        for shard in range(self._num_files):
            used = good & (cols.shard_id == shard)
            m = None
            if used.any():
                try:
                    m = self._data(shard)[1]
                except errors.OpError:                  # reported by the general path
                    pass
            # offset + size <= len(m), written so that no sum can wrap around int64
            good &= ~used | (cols.offset <= (-1 if m is None else len(m)) - cols.size)
            maps.append(m)
        ends = cols.offset + cols.size                  # in range wherever good
        picked = np.flatnonzero(good)
        if picked.size == 0:
            return {}
        keys = self._names
        names = keys if picked.size == len(keys) else list(map(keys.__getitem__, picked.tolist()))
        heads = [None if k is None else (k[0], h[1], _dt.from_enum(h[0]))
                 for k, h in zip(kinds, cols.heads)]
        info = list(map(heads.__getitem__, cols.head_id[picked].tolist()))
        if self.verify_checksums:
            rot = (cols.crc32c[picked] - MASK_DELTA) & 0xFFFFFFFF
            crcs = (((rot >> 17) | (rot << 15)) & 0xFFFFFFFF).tolist()   # unmasked
        else:
            crcs = [None] * picked.size
        return dict(zip(names, zip(map(maps.__getitem__, cols.shard_id[picked].tolist()),
                                   cols.offset[picked].tolist(), ends[picked].tolist(), crcs,
                                   info)))

    def _map_or_none(self, shard: int) -> memoryview | None:
        """Data file ``shard`` mapped, or None where it cannot be (the general path
        reports why)."""
        try:
            return self._data(shard)[1]
        except errors.OpError:
            return None

    def _check_entry(self, kb: bytes, e: BundleEntry) -> None:
        try:
            dt = _dt.from_enum(e.dtype)
        except ValueError:
            raise errors.data_loss(f"unknown dtype enum {e.dtype} in bundle entry",
                                   filename=self.index_path, key=kb) from None
        if dt.is_ref_dtype or dt is _dt.resource:
            raise errors.data_loss(f"dtype {dt.enum_name} cannot be stored in a bundle",
                                   filename=self.index_path, key=kb)
        if e.slices:
            for extents in e.slices:
                if len(extents) != len(e.shape):
                    raise errors.data_loss("slice rank does not match the tensor rank",
                                           filename=self.index_path, key=kb)
                for (s, n), d in zip(extents, e.shape):
                    if n != -1 and s + n > d:
                        raise errors.data_loss(f"slice extent ({s}, {n}) exceeds dimension {d}",
                                               filename=self.index_path, key=kb)
            return
        if not 0 <= e.shard_id < max(self.header.num_shards, 1):
            raise errors.data_loss(f"shard id {e.shard_id} out of range "
                                   f"(bundle has {self.header.num_shards} shards)",
                                   filename=self.index_path, key=kb)
        if e.offset < 0 or e.size < 0:
            raise errors.data_loss(f"negative offset {e.offset} or size {e.size}",
                                   filename=self.index_path, key=kb)
        if dt.is_memcpyable:
            n = tensor_data.num_elements(e.shape)
            if n * dt.itemsize != e.size:
                raise errors.data_loss(
                    f"Invalid size in bundle entry: key {key_str(kb)}; stored size {e.size}; "
                    f"expected size {n * dt.itemsize}", filename=self.index_path, key=kb)

    def _data(self, shard_id: int) -> tuple[str, memoryview]:
        found = self._maps.get(shard_id)
        if found is not None:
            return found
        path = data_filename(self.prefix, shard_id, max(self.header.num_shards, 1))
        with self._lock:
            found = self._maps.get(shard_id)
            if found is None:
                found = (path, map_file(path))
                self._maps[shard_id] = found
        return found

    def _bytes(self, kb: bytes, e: BundleEntry) -> tuple[str, memoryview]:
        path, m = self._data(e.shard_id)
        if e.offset + e.size > len(m):
            raise errors.data_loss(
                f"tensor bytes [{e.offset}, {e.offset + e.size}) run past the end of the data "
                f"file ({len(m)} bytes)", filename=path, key=kb, offset=e.offset)
        return path, m[e.offset:e.offset + e.size]

    def _read_entry(self, kb: bytes, e: BundleEntry, out: np.ndarray | None) -> np.ndarray:
        dt = _dt.from_enum(e.dtype)
        if out is not None and e.size <= _MAP_COPY_BYTES and self.header.endianness != ENDIAN_BIG:
            # the common small read into a matching array, with no intermediate object
            npdt = dt.numpy
            flags = out.flags
            if (npdt is not None and dt.itemsize and (out.dtype is npdt or out.dtype == npdt)
                    and out.shape == e.shape and flags.c_contiguous and flags.writeable):
                path, src = self._bytes(kb, e)
                try:
                    view = memoryview(out).cast("B")
                except (ValueError, TypeError):     # dtypes the buffer protocol cannot name
                    view = memoryview(out.reshape(-1).view(np.uint8))
                view[:] = src
                if self.verify_checksums and mask(crc32c(view)) != e.crc32c:
                    raise errors.data_loss("Checksum does not match", filename=path,
                                           key=key_str(kb), offset=e.offset)
                return out
        if dt is _dt.string:
            path, view = self._bytes(kb, e)
            n = tensor_data.num_elements(e.shape)
            elements = tensor_data.decode_strings(
                view, n, key=key_str(kb), offset=e.offset, filename=path,
                verify=self.verify_checksums, expected_crc=e.crc32c if self.verify_checksums else None)
            arr = tensor_data.strings_to_array(elements, e.shape)
            if out is not None:
                out[...] = arr
                return out
            return arr
        if not dt.is_memcpyable:
            raise errors.UnimplementedError(
                f"reading {dt.enum_name} tensors is not supported (key {key_str(kb)})",
                filename=self.index_path, key=kb)
        npdt = dt.numpy
        assert npdt is not None
        if self.header.endianness == ENDIAN_BIG:
            npdt = npdt.newbyteorder(">")
        if out is not None and self.header.endianness != ENDIAN_BIG:
            return self._read_into(kb, e, npdt, out)
        path, view = self._bytes(kb, e)
        if self.verify_checksums and mask(crc32c(view)) != e.crc32c:
            raise errors.data_loss(f"Checksum does not match: stored {e.crc32c:#010x} vs. "
                                   f"calculated on the restored bytes", filename=path,
                                   key=key_str(kb), offset=e.offset)
        arr = np.frombuffer(view, dtype=npdt).reshape(e.shape)
        if self.header.endianness == ENDIAN_BIG:
            arr = arr.astype(dt.numpy)
        if out is not None:
            out[...] = arr
            return out
        return arr

    def _read_into(self, kb: bytes, e: BundleEntry, npdt: np.dtype, out: np.ndarray) -> np.ndarray:
        if tuple(out.shape) != tuple(e.shape) or out.dtype != npdt.newbyteorder("="):
            if out.dtype.newbyteorder("=") != npdt.newbyteorder("="):
                raise errors.InvalidArgumentError(
                    f"cannot read {key_str(kb)} ({_dt.from_enum(e.dtype).name}) into an array "
                    f"of dtype {out.dtype}")
            raise errors.InvalidArgumentError(
                f"cannot read {key_str(kb)} of shape {list(e.shape)} into an array of shape "
                f"{list(out.shape)}")
        if not out.flags.c_contiguous or not out.flags.writeable:
            arr = self._read_entry(kb, e, None)
            out[...] = arr
            return out
        view = memoryview(out.reshape(-1).view(np.uint8))
        if e.size <= _MAP_COPY_BYTES:
            path, src = self._bytes(kb, e)
            view[:] = src
            crc = crc32c(view) if self.verify_checksums else 0
        else:
            path = data_filename(self.prefix, e.shard_id, max(self.header.num_shards, 1))
            size = file_size(path)
            if e.offset + e.size > size:
                raise errors.data_loss(
                    f"tensor bytes [{e.offset}, {e.offset + e.size}) run past the end of the data "
                    f"file ({size} bytes)", filename=path, key=key_str(kb), offset=e.offset)
            crc = self._read_verified(path, e.offset, view)
        if self.verify_checksums and mask(crc) != e.crc32c:
            raise errors.data_loss("Checksum does not match", filename=path, key=key_str(kb),
                                   offset=e.offset)
        return out

    def _read_verified(self, path: str, offset: int, view: memoryview) -> int:
        """Read ``view`` from ``path`` at ``offset``; the CRC-32C of it (0 if not verifying).

        Chunk i+1 is read while the helper thread checksums chunk i (one worker:
        chunks are checksummed in order, each extending the previous CRC).
        """
        if not self.verify_checksums:
            read_into(path, offset, view)
            return 0
        if self._crc_pool is None:
            with self._lock:
                if self._crc_pool is None:
                    self._crc_pool = ThreadPoolExecutor(1, thread_name_prefix="tensorkeep-crc")
        pool = self._crc_pool
        state = [0]

        def extend(part: memoryview) -> None:
            state[0] = crc32c(part, state[0])

        pending = []
        try:
            for start in range(0, len(view), _CHUNK):
                part = view[start:start + _CHUNK]
                read_into(path, offset + start, part)
                try:
                    pending.append(pool.submit(extend, part))
                except RuntimeError:        # interpreter shutting down: checksum here
                    for f in pending:
                        f.result()
                    pending = []
                    extend(part)
        finally:
            for f in pending:
                f.result()
        return state[0]

    def _assemble(self, kb: bytes, e: BundleEntry, out: np.ndarray | None) -> np.ndarray:
        from tensorkeep.format.ordered_code import encode_tensor_name_slice

        dt = _dt.from_enum(e.dtype)
        parts = []
        covered = 0
        for extents in e.slices:
            skey = encode_tensor_name_slice(kb, extents)
            if skey not in self._raw:
                raise errors.data_loss(f"slice entry of partitioned tensor {key_str(kb)} is missing",
                                       filename=self.index_path, key=skey)
            se = self.entry(skey)
            want = tuple(d if n == -1 else n for (s, n), d in zip(extents, e.shape))
            if se.shape != want or se.dtype != e.dtype:
                raise errors.data_loss("slice entry disagrees with its partitioned tensor",
                                       filename=self.index_path, key=skey)
            covered += tensor_data.num_elements(want)
            parts.append((extents, skey, se))
        total = tensor_data.num_elements(e.shape)
        if covered < total:   # also bounds the allocation below by bytes really stored
            raise errors.data_loss(
                f"slices of {key_str(kb)} cover {covered} of its {total} elements",
                filename=self.index_path, key=kb)
        if out is None:
            out = np.empty(e.shape, dtype=object if dt is _dt.string else dt.numpy)
        for extents, skey, se in parts:
            index = tuple(slice(None) if n == -1 else slice(s, s + n) for s, n in extents)
            out[index] = self._read_entry(skey, se, None)
        return out

    def close(self) -> None:
        self._fast = None                   # holds the maps too
        self._fast_calls = 0
        self._maps.clear()
        if self._crc_pool is not None:
            self._crc_pool.shutdown(wait=True)
            self._crc_pool = None

    def __enter__(self) -> "BundleReader":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __iter__(self) -> Iterator[str]:
        return iter(self.tensor_names())


# enum -> (numpy dtype, itemsize) of the dtypes ``_get_fast`` reads (numeric, not ref),
# and the same as the C table builder takes them: enum -> (numpy dtype, itemsize, DType).
# The ml_dtypes types join when ml_dtypes is loaded (dtypes.when_ml_dtypes_loaded):
# until then their entries take the checked path, whose first read loads it.
_FAST_DTYPES: dict[int, tuple[np.dtype, int]] = {}
_FAST_KINDS: dict[int, tuple[np.dtype, int, _dt.DType]] = {}


def _add_fast_dtypes() -> None:
    for dt in _dt.all_dtypes():
        if dt is _dt.string or dt is _dt.resource or dt.is_ref_dtype or not dt.is_memcpyable \
                or not _dt.numpy_loaded(dt) or dt.as_datatype_enum in _FAST_DTYPES:
            continue
        npdt = dt.numpy
        if npdt is None or not dt.itemsize or np.dtype(npdt).itemsize != dt.itemsize:
            continue
        _FAST_KINDS[dt.as_datatype_enum] = (npdt, dt.itemsize, dt)
        _FAST_DTYPES[dt.as_datatype_enum] = (npdt, dt.itemsize)


_add_fast_dtypes()
_dt.when_ml_dtypes_loaded(_add_fast_dtypes)


def _with_file(exc: errors.OpError, filename: str) -> errors.OpError:
    if exc.filename is None:
        msg = f"{exc.message}, in file {filename}"
        return type(exc)(msg, filename=filename, key=exc.key, offset=exc.offset)
    return exc


def _with_file_call(fn: Any, filename: str) -> Any:
    try:
        return fn()
    except errors.DataLossError as exc:
        raise _with_file(exc, filename) from None


def read_tensors(prefix: str, names: list[str], slice_specs: list[str],
                 dtypes: list[Any]) -> list[np.ndarray]:
    """The RestoreV2 kernel: each name whole or as a slice, checked against ``dtypes``.

    Falls back to the V1 format when ``prefix.index`` does not exist, as TF does.
    """
    if not os.path.exists(index_filename(prefix)):
        from tensorkeep.bundle import v1

        return v1.read_tensors(prefix, names, slice_specs, dtypes)
    reader = BundleReader(prefix)
    result = []
    for name, spec, want in zip(names, slice_specs, dtypes):
        want_dt = _dt.as_dtype(want).base_dtype
        got = reader.dtype(name)
        if got is not want_dt:
            raise errors.InvalidArgumentError(
                f"tensor_name = {name}; expected dtype {_tf_type_name(want_dt)} does not equal "
                f"original dtype {_tf_type_name(got)}")
        value = reader.get(name)
        if spec:
            from tensorkeep.format.tensor_slice import parse_spec

            full_shape, tslice = parse_spec(spec)
            if tuple(full_shape) != tuple(value.shape):
                raise errors.InvalidArgumentError(
                    f"tensor {name}: requested full shape {list(full_shape)} but the checkpoint "
                    f"holds {list(value.shape)}")
            value = value[tuple(slice(None) if n == -1 else slice(s, s + n)
                                for s, n in tslice.extents)]
        result.append(value)
    return result


def _tf_type_name(dt: _dt.DType) -> str:
    """TF's DataTypeString spelling used in RestoreV2's messages (float, double, int32...)."""
    special = {"float32": "float", "float64": "double", "float16": "half"}
    return special.get(dt.name, dt.name)


__all__ = ["BundleReader", "read_tensors", "key_bytes", "key_str", "keys_str"]
