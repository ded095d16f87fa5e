"""The sorted string table (SSTable) TensorFlow uses for every ``.index`` and V1 file.

Mirrors ``tsl/lib/io/table_builder.cc``, ``table.cc`` and ``format.cc`` (a trimmed
LevelDB table: bytewise keys, no filter blocks, an always-empty meta-index)::

    [data block 0][trailer] ... [data block N-1][trailer]
    [meta-index block][trailer]          always the empty block
    [index block][trailer]               restart interval 1; one entry per data block:
                                         key = separator >= the block's last key and
                                         < the next block's first key, value = BlockHandle
    [footer]                             48 bytes, see footer.py

    trailer: type   1 byte     0 = raw, 1 = raw Snappy (never written by TF)
             crc    fixed32 LE mask(crc32c(stored block bytes + type byte))

Blocks are laid out as in block.py. There is no file header. Keys sort as
unsigned bytes (Python ``bytes`` order).

Writer (``TableBuilder``, FORMAT.md section 2.9): a data block is flushed once
its size estimate reaches ``block_size``; an entry with ``len(key) + len(value)
>= 2 * block_size`` first flushes the current block so it starts its own; the
index entry of a flushed block is added lazily, when the next key is known,
under ``find_shortest_separator(last_key, next_key)``; the last block's entry
uses ``find_short_successor(last_key)``. Blocks are never compressed. A large
batch into a fresh builder (a bundle's whole index) is encoded in numpy at once,
to the same bytes.

Reader (``Table``): parses the footer and index block eagerly and nothing else
(``scan`` lists every entry, plain blocks decoded in numpy by ``Block.scan``);
each data block is read on demand: handle checked against the buffer length,
trailer type checked, checksum verified (by default), Snappy blocks
decompressed under a size bound. All corruption is :class:`DataLossError`
naming the file (if known), the key (if known) and the file offset.
"""

from __future__ import annotations

import mmap
import operator
import struct
from bisect import bisect_left
from itertools import islice
from typing import Callable, Iterable, Iterator, Union

import numpy as np

from tensorkeep.errors import DataLossError, data_loss
from tensorkeep.format import snappy
from tensorkeep.format.block import (Block, BlockBuilder, common_prefix_length, common_prefix_lengths,
                                     scan_runs)
from tensorkeep.format.coding import decode_varint32, encode_varint
from tensorkeep.format.crc32c import crc32c, mask, unmask
from tensorkeep.format.footer import BLOCK_TRAILER_SIZE, FOOTER_LENGTH, BlockHandle, Footer

Buffer = Union[bytes, bytearray, memoryview, mmap.mmap]

NO_COMPRESSION = 0  # kNoCompression
SNAPPY_COMPRESSION = 1  # kSnappyCompression
DEFAULT_BLOCK_SIZE = 262144  # the block_size every TF checkpoint writer uses (256 KiB)
DEFAULT_RESTART_INTERVAL = 16  # table::Options default block_restart_interval
OVERLY_LARGE_BLOCK_RATIO = 2  # kOverlyLargeBlockRatio in table_builder.cc
_BATCH_MIN = 256              # add_many batches from this size are encoded at once
# scan() lists smaller tables (~2,500 bundle entries) with a per-entry loop: numpy's fixed
# cost (~1 ms more on a process's first call) is more than the loop's there
_SCAN_NUMPY_BYTES = 64 << 10

try:    # the per-entry loops in C (optional: built where a compiler is; see _native.c)
    from tensorkeep.format import _native
except ImportError:  # pragma: no cover - exercised by forcing it off in the tests
    _native = None

_U32 = struct.Struct("<I")


def find_shortest_separator(start: bytes, limit: bytes) -> bytes:
    """A short key k, start <= k < limit, or ``start`` itself (LevelDB's bytewise comparator).

    Used for the index key of every data block but the last.
    """
    d = common_prefix_length(start, limit)
    if d >= min(len(start), len(limit)):
        return start  # one is a prefix of the other
    x = start[d]
    if x < 0xFF and x + 1 < limit[d]:
        return start[:d] + bytes((x + 1,))
    return start


def find_short_successor(key: bytes) -> bytes:
    """A short key >= ``key``: the first non-0xFF byte incremented, the rest dropped."""
    for i, b in enumerate(key):
        if b != 0xFF:
            return key[:i] + bytes((b + 1,))
    return key  # empty or all 0xFF


def block_trailer(contents: bytes, block_type: int = NO_COMPRESSION) -> bytes:
    """The 5-byte trailer: type byte, then mask(crc32c(contents + type byte)) as fixed32."""
    type_byte = bytes((block_type,))
    return type_byte + _U32.pack(mask(crc32c(type_byte, crc32c(contents))))


class TableBuilder:
    """Writes an SSTable through ``write`` (called with successive byte strings).

    Produces exactly the bytes TF's ``table::TableBuilder`` does with
    ``compression = kNoCompression``, the options every TF checkpoint writer uses.
    """

    def __init__(self, write: Callable[[bytes], object], *, block_size: int = DEFAULT_BLOCK_SIZE,
                 restart_interval: int = DEFAULT_RESTART_INTERVAL) -> None:
        if block_size < 1:
            raise ValueError(f"block_size must be >= 1, got {block_size}")
        self._write = write
        self.block_size = block_size
        self.restart_interval = restart_interval
        self._data_block = BlockBuilder(restart_interval)
        self._index_block = BlockBuilder(1)
        self._offset = 0
        self._num_entries = 0
        self._last_key = b""
        self._pending_handle: BlockHandle | None = None
        self._closed = False

    @property
    def num_entries(self) -> int:
        return self._num_entries

    @property
    def file_size(self) -> int:
        """Bytes written so far (the total once ``finish`` returned)."""
        return self._offset

    def add(self, key: bytes | bytearray | memoryview,
            value: bytes | bytearray | memoryview) -> None:
        """Append an entry; keys must be strictly increasing (unsigned bytewise)."""
        self.add_many(((bytes(key), value if value.__class__ is bytes else bytes(value)),))

    def add_many(self, items: Iterable[tuple[bytes, bytes]]) -> None:
        """``add(key, value)`` for each pair: the same bytes, for a fraction of the cost.

        The one add path (``add`` is a batch of one). The bundle writer adds one
        entry per tensor, so per-entry work is kept to the order check, the lazy
        index entry and ``BlockBuilder.append`` (the one entry encoder). A large
        batch into a fresh builder is encoded in numpy at once (:meth:`_add_fresh`).
        """
        if self._closed:
            raise RuntimeError("TableBuilder.add after finish")
        if self._num_entries == 0 and self._offset == 0 and items.__class__ is list \
                and len(items) >= _BATCH_MIN and self._add_fresh(items):
            return
        block = self._data_block
        large = OVERLY_LARGE_BLOCK_RATIO * self.block_size
        block_size = self.block_size
        for key, value in items:
            if key.__class__ is not bytes or value.__class__ is not bytes:
                key, value = bytes(key), bytes(value)
            last = self._last_key
            if self._num_entries > 0:
                if key <= last:
                    raise ValueError(f"keys must be added in strictly increasing order: {key!r} "
                                     f"after {last!r}")
                if len(key) + len(value) >= large:
                    self._flush()
            if self._pending_handle is not None:
                separator = find_shortest_separator(last, key)
                self._index_block.add(separator, self._pending_handle.encode())
                self._pending_handle = None
            self._last_key = key
            self._num_entries += 1
            if block.append(key, value) >= block_size:
                self._flush()

    def _add_fresh(self, items: list[tuple[bytes, bytes]]) -> bool:
        """``add_many(items)`` into a fresh builder, all entries at once; False (nothing
        done) unless every key and value is ``bytes`` shorter than 128 bytes (one-byte
        entry headers) and the keys strictly increase.

        Block boundaries follow the builder's rule exactly: an entry's encoded size is
        known once it is known whether it starts a restart run, which depends only on
        its place in its block, so each block's end is found with one cumulative sum.
        Bytes and state (the open last block, the pending index entry) end up as
        ``add`` would leave them; ``finish`` carries on as usual.
        """
        keys = [k for k, _ in items]
        values = [v for _, v in items]
        n = len(keys)
        if OVERLY_LARGE_BLOCK_RATIO * self.block_size <= 2 * 0x7F:
            return False                 # tiny blocks: the large-entry rule could apply
        interval = self.restart_interval
        if _native is not None:          # the same blocks, walked entry by entry in C
            try:                         # which checks types, lengths and order as it goes
                packed, full_last = _native.pack_entries(keys, values, self.block_size, interval)
            except (TypeError, ValueError):
                return False             # the one-at-a-time path takes them (and names errors)
            bounds = [a for a, _, _, _ in packed] + [n]
            bodies = [(body, restarts) for _, _, body, restarts in packed]
            self._load_blocks(keys, bounds, bodies, len(packed) if full_last else len(packed) - 1)
            return True
        if not (all(k.__class__ is bytes for k in keys) and all(v.__class__ is bytes for v in values)):
            return False
        klen = np.fromiter(map(len, keys), np.int64, n)
        vlen = np.fromiter(map(len, values), np.int64, n)
        if klen.max() >= 0x80 or vlen.max() >= 0x80:
            return False
        if not all(map(operator.lt, keys, islice(keys, 1, None))):
            return False                 # the one-at-a-time path names the offending key
        keys_u8 = np.frombuffer(b"".join(keys), np.uint8)
        kstart = np.zeros(n, np.int64)
        np.cumsum(klen[:-1], out=kstart[1:])
        lcp = common_prefix_lengths(keys_u8, kstart, klen)
        # walk the blocks: entry e of a block starting at s restarts a run iff (e-s) % interval == 0
        full = 3 + klen + vlen                 # size as a restart entry
        part = full - lcp                      # size sharing its predecessor's prefix
        starts = []
        s = 0
        window = self.block_size // 3 + 2      # a block never holds more entries
        full_last = False
        while s < n:
            e = min(n, s + window)
            j = np.arange(e - s)
            restart = j % interval == 0
            est = np.cumsum(np.where(restart, full[s:e], part[s:e])) + 4 * (j // interval + 1) + 4
            over = np.flatnonzero(est >= self.block_size)
            starts.append(s)
            full_last = bool(over.size)
            s = s + int(over[0]) + 1 if full_last else e
        bounds = starts + [n]
        closed = len(starts) if full_last else len(starts) - 1   # a block is flushed when full
        # every entry's bytes: header, unshared key suffix, value (one gather)
        shared = lcp.copy()
        for a, b in zip(bounds, bounds[1:]):
            shared[a:b:interval] = 0
        unshared = klen - shared
        header = np.stack([shared, unshared, vlen], axis=1).astype(np.uint8).ravel()
        values_u8 = np.frombuffer(b"".join(values), np.uint8)
        vstart = np.zeros(n, np.int64)
        np.cumsum(vlen[:-1], out=vstart[1:])
        src = np.concatenate([header, keys_u8, values_u8])
        seg_src = np.stack([3 * np.arange(n), 3 * n + kstart + shared,
                            3 * n + len(keys_u8) + vstart], axis=1).ravel()
        seg_len = np.stack([np.full(n, 3), unshared, vlen], axis=1).ravel()
        seg_out = np.zeros(3 * n, np.int64)
        np.cumsum(seg_len[:-1], out=seg_out[1:])
        total = int(seg_out[-1] + seg_len[-1])
        stream = src.take(np.arange(total) + np.repeat(seg_src - seg_out, seg_len))
        entry_at = np.append(seg_out[::3], total).tolist()
        bodies = [(stream[entry_at[a]:entry_at[b]].tobytes(),
                   [entry_at[r] - entry_at[a] for r in range(a, b, interval)])
                  for a, b in zip(bounds, bounds[1:])]
        self._load_blocks(keys, bounds, bodies, closed)
        return True

    def _load_blocks(self, keys: list[bytes], bounds: list[int],
                     bodies: list[tuple[bytes, list[int]]], closed: int) -> None:
        """Take :meth:`_add_fresh`'s blocks (entries ``bounds[i]:bounds[i + 1]``: their
        bytes and restart offsets): the first ``closed`` are written with their index
        entries, the last, if open, is left in the block builder as ``add`` leaves it."""
        interval = self.restart_interval
        for i, (a, b) in enumerate(zip(bounds, bounds[1:])):
            if self._pending_handle is not None:      # the previous block's index entry
                self._index_block.add(find_shortest_separator(keys[a - 1], keys[a]),
                                      self._pending_handle.encode())
                self._pending_handle = None
            body, restarts = bodies[i]
            if i < closed:
                self._pending_handle = self._emit(
                    body + struct.pack(f"<{len(restarts) + 1}I", *restarts, len(restarts)))
            else:                              # still open: as add() leaves a block
                self._data_block.load(body, restarts, (b - a - 1) % interval + 1, keys[b - 1])
        self._last_key = keys[-1]
        self._num_entries = len(keys)

    def _flush(self) -> None:
        if self._data_block.empty:
            return
        self._pending_handle = self._write_block(self._data_block)

    def _write_block(self, block: BlockBuilder) -> BlockHandle:
        handle = self._emit(block.finish())
        block.reset()
        return handle

    def _emit(self, contents: bytes) -> BlockHandle:
        """Write a finished block and its trailer; where it went."""
        handle = BlockHandle(self._offset, len(contents))
        self._write(contents)
        self._write(block_trailer(contents))
        self._offset += len(contents) + BLOCK_TRAILER_SIZE
        return handle

    def finish(self) -> int:
        """Write the last data block, meta-index, index and footer; returns the file size."""
        if self._closed:
            raise RuntimeError("TableBuilder.finish called twice")
        self._flush()
        self._closed = True
        metaindex_handle = self._write_block(BlockBuilder(self.restart_interval))
        if self._pending_handle is not None:
            successor = find_short_successor(self._last_key)
            self._index_block.add(successor, self._pending_handle.encode())
            self._pending_handle = None
        index_handle = self._write_block(self._index_block)
        footer = Footer(metaindex_handle, index_handle).encode()
        self._write(footer)
        self._offset += len(footer)
        return self._offset


def _scan_block(data: bytes, p: int, limit: int, keys: list[bytes], locs: list[int]) -> int:
    """Walk the entries in ``data[p:limit]`` while each is plain: a header of three
    one-byte varints, sharing no more than the previous key has, fitting before
    ``limit``. Appends each one's full key to ``keys`` and its offset to ``locs``;
    returns the offset where it stopped (``limit`` when every entry was plain). The
    caller hands the rest to the checked reader, which names the error. The same
    walk as ``_native.scan_block`` in C (the tests hold the two to each other)."""
    key = b""
    klen = 0
    end3 = limit - 3
    while p <= end3:
        shared = data[p]
        unshared = data[p + 1]
        vlen = data[p + 2]
        q = p + 3 + unshared
        if (shared | unshared | vlen) >= 0x80 or shared > klen or q + vlen > limit:
            break
        key = key[:shared] + data[p + 3:q]
        keys.append(key)
        locs.append(p)
        klen = shared + unshared
        p = q + vlen
    return p


class Table:
    """Read-only view of an SSTable held in memory (bytes, memoryview or mmap).

    Only the footer and the index block are parsed up front; data blocks are
    read, checked and parsed when a lookup or iteration reaches them.
    """

    def __init__(self, buf: Buffer, *, verify_checksums: bool = True,
                 filename: str | None = None) -> None:
        view = memoryview(buf)  # type: ignore[arg-type]
        if view.ndim != 1 or view.itemsize != 1:
            view = view.cast("B")
        self._view = view
        self._bytes = buf if isinstance(buf, bytes) else None   # for fast indexing in scan()
        self.verify_checksums = verify_checksums
        self.filename = filename
        size = len(view)
        if size < FOOTER_LENGTH:
            raise data_loss(f"not an sstable (bad magic number): file is {size} bytes, "
                            f"shorter than the {FOOTER_LENGTH}-byte footer",
                            filename=filename, offset=0)
        footer_offset = size - FOOTER_LENGTH
        self.footer = Footer.decode(view[footer_offset:], base_offset=footer_offset,
                                    filename=filename)
        index = self._read_block(self.footer.index_handle, "index block")
        keys: list[bytes] = []
        spans: list[tuple[int, int]] = []
        if index.num_restarts:
            for key, start, end in index.entries():
                keys.append(key)
                spans.append((start, end))
        self._index = index
        self._index_keys = keys
        self._index_spans = spans  # value (start, end) of each index entry, decoded lazily
        self._handles: dict[int, BlockHandle] = {}
        self._cached: tuple[int, Block] | None = None

    # -- blocks ---------------------------------------------------------------------------

    def _corrupt(self, what: str, offset: int | None, key: bytes | None = None) -> DataLossError:
        return data_loss(what, filename=self.filename, key=key, offset=offset)

    def _read_block(self, handle: BlockHandle, what: str, key: bytes | None = None) -> Block:
        """Bounds-check, checksum-check and (if needed) decompress the block at ``handle``."""
        view = self._view
        start, size = handle.offset, handle.size
        end = start + size
        if end + BLOCK_TRAILER_SIZE > len(view):
            raise self._corrupt(f"truncated block read: {what} ({start}, {size}) plus its "
                                f"trailer ends past the {len(view)}-byte file", start, key)
        contents = view[start:end]
        block_type = view[end]
        if self.verify_checksums:
            stored = unmask(_U32.unpack_from(view, end + 1)[0])
            actual = crc32c(view[end:end + 1], crc32c(contents))
            if stored != actual:
                raise self._corrupt(f"block checksum mismatch in {what}", start, key)
        if block_type == NO_COMPRESSION:
            return Block(contents, start, filename=self.filename)
        if block_type == SNAPPY_COMPRESSION:
            raw = snappy.decompress(contents, max_output=snappy.max_decompressed_length(size),
                                    base_offset=start, filename=self.filename, key=key)
            # Offsets in errors from this block count within the decompressed bytes.
            return Block(raw, start, filename=self.filename)
        raise self._corrupt(f"bad block type {block_type} in {what}", end, key)

    @property
    def num_data_blocks(self) -> int:
        return len(self._index_keys)

    def _handle(self, i: int) -> BlockHandle:
        handle = self._handles.get(i)
        if handle is None:
            start, end = self._index_spans[i]
            handle = BlockHandle.decode_from(self._index.view, start, end,
                                             base_offset=self._index.offset,
                                             filename=self.filename, key=self._index_keys[i])[0]
            self._handles[i] = handle
        return handle

    def index_entries(self) -> list[tuple[bytes, BlockHandle]]:
        """The index block: (separator key, data block handle) per data block."""
        return [(k, self._handle(i)) for i, k in enumerate(self._index_keys)]

    def _block(self, i: int) -> Block:
        cached = self._cached
        if cached is not None and cached[0] == i:
            return cached[1]
        block = self._read_block(self._handle(i), f"data block {i}", self._index_keys[i])
        self._cached = (i, block)
        return block

    # -- lookups --------------------------------------------------------------------------

    def seek(self, key: bytes | bytearray | memoryview) -> Iterator[tuple[bytes, memoryview]]:
        """Iterate (key, value) from the first entry whose key is >= ``key``."""
        target = bytes(key)
        i = bisect_left(self._index_keys, target)
        if i >= len(self._index_keys):
            return
        yield from self._block(i).seek(target)
        for j in range(i + 1, len(self._index_keys)):
            yield from self._block(j)

    def get(self, key: bytes | bytearray | memoryview) -> memoryview | None:
        """The value stored under ``key``, or None."""
        target = bytes(key)
        for found, value in self.seek(target):
            return value if found == target else None
        return None

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, (bytes, bytearray, memoryview)):
            return False
        return self.get(key) is not None

    def items(self) -> Iterator[tuple[bytes, memoryview]]:
        """All (key, value) entries in key order."""
        for i in range(len(self._index_keys)):
            yield from self._block(i)

    def scan(self) -> tuple[list[bytes], list[int | memoryview] | np.ndarray]:
        """Every entry in stored order: its key, and where its value is (see :meth:`value_at`).

        The fast listing used when a bundle is opened: keys in one list and, in a
        parallel sequence, each value recorded as the table-buffer offset of its
        entry, resolved by :meth:`value_at` only when asked. When every data block
        is plain and held in ``_bytes`` (the usual case), all their restart runs are
        decoded at once (:func:`scan_runs`, numpy) and the offsets come as an int64
        array; otherwise as a list, a decompressed block's values as memoryviews,
        plain blocks by :meth:`Block.scan` and others by a per-entry loop. Tables
        under ``_SCAN_NUMPY_BYTES`` are read by the per-entry loop alone, and every
        table is where the loop is compiled (``_native.scan_block``). Entries
        whose header is not three one-byte varints, and anything malformed, go
        through :class:`Block`'s checked iteration, which raises the same errors.
        The same entries as :meth:`items`, in its order.
        """
        keys: list[bytes] = []
        locs: list[int | memoryview] = []
        data = self._bytes
        native = _native
        vectorize = native is None and len(self._view) >= _SCAN_NUMPY_BYTES
        if vectorize:
            fast = self._scan_all()
            if fast is not None:
                return fast
        for i in range(len(self._index_keys)):
            handle = self._handle(i)
            block = self._block(i)
            if data is None or block.view.obj is not data:
                for key, value in block:            # decompressed (or not over bytes)
                    keys.append(key)
                    locs.append(value)
                continue
            base = handle.offset
            fast = block.scan() if vectorize else None
            if fast is not None:
                keys += fast[0]
                locs += (fast[1] + base).tolist()
                continue
            mark = len(keys)
            limit = base + block._restart_offset
            p = (_scan_block if native is None else native.scan_block)(data, base, limit, keys, locs)
            if p != limit:                           # the checked path names the error
                del keys[mark:], locs[mark:]
                for key, value in block:
                    keys.append(key)
                    locs.append(value)
        return keys, locs

    def _scan_all(self) -> tuple[list[bytes], np.ndarray] | None:
        """:meth:`scan` of a table whose data blocks are all plain, held in ``_bytes`` and
        stored in key order: every restart run of every block walked at once (one
        :func:`scan_runs`, which relies on entries lying in key order), or None."""
        data = self._bytes
        count = len(self._index_keys)
        if data is None or count == 0:
            return None
        starts: list[np.ndarray] = []
        ends: list[np.ndarray] = []
        after = 0                           # blocks must lie in key order in the file too
        for i in range(count):
            try:
                block = self._block(i)      # checksum verified here
            except DataLossError:
                return None                 # raised again, in order, by the per-block path
            if block.view.obj is not data or block.num_restarts == 0:
                return None
            bounds = block.run_bounds()
            handle = self._handle(i)
            base = handle.offset
            if bounds is None or base < after:
                return None
            after = base + handle.size
            starts.append(bounds[0] + base)
            ends.append(bounds[1] + base)
        return scan_runs(np.frombuffer(data, np.uint8), np.concatenate(starts),
                         np.concatenate(ends))

    def value_at(self, pos: int | memoryview) -> memoryview:
        """The value recorded by :meth:`scan` (a checked entry header at ``pos``)."""
        if isinstance(pos, memoryview):
            return pos
        pos = int(pos)
        data = self._bytes
        if data is not None:
            shared, unshared, vlen = data[pos:pos + 3]
            if (shared | unshared | vlen) < 0x80:    # scan() checked it fits its block
                start = pos + 3 + unshared
                return self._view[start:start + vlen]
        view = self._view
        limit = len(view)
        shared, q = decode_varint32(view, pos, limit)
        unshared, q = decode_varint32(view, q, limit)
        vlen, q = decode_varint32(view, q, limit)
        start = q + unshared
        return view[start:start + vlen]

    def keys(self) -> Iterator[bytes]:
        for key, _ in self.items():
            yield key

    __iter__ = keys


__all__ = ["TableBuilder", "Table", "find_shortest_separator", "find_short_successor",
           "block_trailer", "NO_COMPRESSION", "SNAPPY_COMPRESSION", "DEFAULT_BLOCK_SIZE",
           "DEFAULT_RESTART_INTERVAL"]
