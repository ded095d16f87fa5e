"""SSTable block: prefix-compressed sorted entries plus a restart array.

Mirrors ``tsl/lib/io/block_builder.cc`` and ``block.cc`` (LevelDB's block format).
Data, meta-index and index blocks all share this layout::

    entry* :
        shared_bytes    varint32   bytes shared with the previous key of this block
        unshared_bytes  varint32
        value_length    varint32
        key_delta       unshared_bytes bytes   (key[shared_bytes:])
        value           value_length bytes
    restarts      fixed32 LE x num_restarts   block offsets of the restart entries
    num_restarts  fixed32 LE

Every ``restart_interval`` entries (16 for data blocks, 1 for the index block)
an entry is a *restart point*: ``shared_bytes`` is 0 and its full key is stored,
so a reader can binary-search the restart array. The first entry is always a
restart point; an empty block is ``00 00 00 00 01 00 00 00``.

Reader validity rules (each violation is a :class:`DataLossError` naming the
file offset): the block is at least 4 bytes; ``num_restarts <= (len - 4) / 4``;
entries end exactly where the restart array starts; no entry overruns that
limit; ``shared_bytes <= len(previous key)``; a restart point has
``shared_bytes == 0``. When all three header varints are single bytes (< 128)
they are read without the general varint decoder.
"""

from __future__ import annotations

import struct
from typing import Iterator, Union

import numpy as np

from tensorkeep.errors import DataLossError, data_loss
from tensorkeep.format.coding import decode_varint32, encode_varint

Buffer = Union[bytes, bytearray, memoryview]

_U32 = struct.Struct("<I")

# scan_runs: at most this many entries per restart run before it gives up (the
# writers use 16 and 1). Key matrices are built a chunk at a time: at most
# _SCAN_CELLS cells in common_prefix_lengths, _GATHER_CELLS in _gather_keys (its
# int64 positions then stay under malloc's 128 KiB mmap threshold, so each chunk
# reuses the last one's memory instead of faulting in fresh pages).
_SCAN_MAX_RUN = 64
_SCAN_CELLS = 1 << 18
_GATHER_CELLS = 16000
_HEADER = np.arange(3)


def common_prefix_length(a: bytes, b: bytes) -> int:
    """Number of leading bytes ``a`` and ``b`` share (computed in C, not per byte)."""
    n = min(len(a), len(b))
    if a[:n] == b[:n]:
        return n
    diff = int.from_bytes(a[:n], "big") ^ int.from_bytes(b[:n], "big")
    return n - (diff.bit_length() + 7) // 8


def common_prefix_lengths(keys: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """``common_prefix_length(key[i - 1], key[i])`` for every key (0 for the first).

    ``keys`` holds the keys back to back (uint8), key ``i`` at ``starts[i]``. Keys are
    compared as zero-padded rows of a matrix, a chunk of keys at a time; padding can
    only agree past the shorter key, and the result is capped at that length.
    """
    n = len(lengths)
    out = np.zeros(n, np.int64)
    if n < 2:
        return out
    width = int(lengths.max())
    if width == 0:
        return out
    cols = np.arange(width)
    step = max(2, _SCAN_CELLS // width)
    for a in range(0, n, step - 1):
        b = min(n, a + step)
        idx = starts[a:b, None] + cols
        rows = keys.take(idx, mode="clip")
        rows[cols >= lengths[a:b, None]] = 0
        differ = rows[1:] != rows[:-1]
        first = np.where(differ.any(axis=1), differ.argmax(axis=1), width)
        out[a + 1:b] = np.minimum(first, np.minimum(lengths[a:b - 1], lengths[a + 1:b]))
        if b == n:
            break
    return out


class BlockBuilder:
    """Builds one block; ``finish()`` returns its bytes (entries, restarts, count).

    Keys must be added in strictly increasing byte order (the table builder
    checks this); the block itself only prefix-compresses against the previous key.
    """

    def __init__(self, restart_interval: int = 16) -> None:
        if restart_interval < 1:
            raise ValueError(f"restart_interval must be >= 1, got {restart_interval}")
        self.restart_interval = restart_interval
        self._buf = bytearray()
        self._restarts: list[int] = [0]
        self._counter = 0
        self._last_key = b""
        self._finished = False

    def reset(self) -> None:
        """Start a new, empty block."""
        self._buf = bytearray()
        self._restarts = [0]
        self._counter = 0
        self._last_key = b""
        self._finished = False

    @property
    def empty(self) -> bool:
        """True when no entry has been added since the last reset."""
        return not self._buf

    def add(self, key: Buffer, value: Buffer) -> None:
        """Append one entry (prefix-compressed unless it starts a restart point)."""
        if self._finished:
            raise RuntimeError("BlockBuilder.add after finish; call reset() first")
        self.append(bytes(key), value)

    def append(self, key: bytes, value: Buffer) -> int:
        """``add`` for a ``bytes`` key on the hot path; returns ``size_estimate()``.

        The one encoder of a block entry: three varint header fields (single bytes
        when all are < 128), the key's unshared suffix, the value.
        """
        buf = self._buf
        if self._counter < self.restart_interval:
            shared = common_prefix_length(self._last_key, key)
        else:
            self._restarts.append(len(buf))
            self._counter = 0
            shared = 0
        unshared = len(key) - shared
        vlen = len(value)
        if unshared < 0x80 and vlen < 0x80 and shared < 0x80:
            buf += bytes((shared, unshared, vlen))
        else:
            buf += encode_varint(shared)
            buf += encode_varint(unshared)
            buf += encode_varint(vlen)
        buf += key[shared:]
        buf += value
        self._last_key = key
        self._counter += 1
        return len(buf) + 4 * len(self._restarts) + 4

    def load(self, entries: bytes, restarts: list[int], counter: int, last_key: bytes) -> None:
        """Continue from entries encoded elsewhere (``TableBuilder``'s batch path): the
        entry bytes, their restart offsets, entries since the last restart, last key."""
        self._buf = bytearray(entries)
        self._restarts = list(restarts)
        self._counter = counter
        self._last_key = last_key
        self._finished = False

    def size_estimate(self) -> int:
        """Size of ``finish()``'s output if called now (entries + restarts + count)."""
        return len(self._buf) + 4 * len(self._restarts) + 4

    def finish(self) -> bytes:
        """The finished block bytes; the builder must be reset before reuse."""
        restarts = self._restarts
        self._finished = True
        return bytes(self._buf) + struct.pack(f"<{len(restarts) + 1}I", *restarts, len(restarts))


class Block:
    """A parsed view of one block's bytes.

    ``data`` is the block contents (a slice of the file buffer, or decompressed
    bytes); ``offset`` is where it starts in the file, so corruption errors can
    point at file offsets. Values are yielded as memoryviews into ``data``.
    """

    __slots__ = ("_view", "offset", "filename", "_restart_offset", "_num_restarts")

    def __init__(self, data: Buffer, offset: int = 0, *, filename: str | None = None) -> None:
        view = memoryview(data)
        if view.ndim != 1 or view.itemsize != 1:
            view = view.cast("B")
        # Parsed in place, never copied: V1 tables keep whole tensors in values.
        self._view = view
        self.offset = offset
        self.filename = filename
        n = len(view)
        if n < 4:
            raise self._corrupt(f"bad block contents: block is {n} bytes, shorter than 4", 0)
        num_restarts = _U32.unpack_from(view, n - 4)[0]
        if num_restarts > (n - 4) // 4:
            raise self._corrupt(
                f"bad block contents: {num_restarts} restarts do not fit in a {n}-byte block",
                n - 4)
        self._num_restarts = num_restarts
        self._restart_offset = n - 4 - 4 * num_restarts

    def __len__(self) -> int:
        return len(self._view)

    @property
    def num_restarts(self) -> int:
        return self._num_restarts

    @property
    def view(self) -> memoryview:
        """The block contents (entries and restart array)."""
        return self._view

    def _corrupt(self, what: str, pos: int, key: bytes | None = None) -> DataLossError:
        return data_loss(what, filename=self.filename, key=key, offset=self.offset + pos)

    def _restart_point(self, i: int) -> int:
        pos = _U32.unpack_from(self._view, self._restart_offset + 4 * i)[0]
        if pos >= self._restart_offset:
            raise self._corrupt(f"bad block contents: restart point {i} at {pos} is past the "
                                f"entries (which end at {self._restart_offset})",
                                self._restart_offset + 4 * i)
        return pos

    def _slow_header(self, p: int, limit: int,
                     context_key: bytes | None = None) -> tuple[int, int, int, int]:
        """Decode the three header varints of the entry at ``p`` with the general decoder."""
        data = self._view
        try:
            shared, q = decode_varint32(data, p, limit)
            unshared, q = decode_varint32(data, q, limit)
            vlen, q = decode_varint32(data, q, limit)
        except DataLossError:
            raise self._corrupt("bad entry in block: malformed entry header", p,
                                context_key) from None
        return shared, unshared, vlen, q

    def entries(self, pos: int = 0, *, context_key: bytes | None = None
                ) -> Iterator[tuple[bytes, int, int]]:
        """Yield (key, value_start, value_end) for each entry from byte ``pos`` to the end.

        ``pos`` must be a restart point (0 or a restart offset). Value positions
        are offsets within the block; ``context_key`` (the key being looked up,
        if any) is named in corruption errors.
        """
        data = self._view
        limit = self._restart_offset
        key = b""
        p = pos
        while p < limit:
            if p + 3 > limit:
                raise self._corrupt("bad entry in block: truncated entry header", p, context_key)
            shared = data[p]
            unshared = data[p + 1]
            vlen = data[p + 2]
            if (shared | unshared | vlen) < 0x80:
                q = p + 3
            else:
                shared, unshared, vlen, q = self._slow_header(p, limit, context_key)
            kend = q + unshared
            vend = kend + vlen
            if vend > limit:
                raise self._corrupt("bad entry in block: entry overruns the block", p,
                                    context_key)
            if shared > len(key):
                raise self._corrupt(f"bad entry in block: shares {shared} bytes with a "
                                    f"{len(key)}-byte previous key", p, context_key)
            key = key[:shared] + data[q:kend] if shared else data[q:kend].tobytes()
            yield key, kend, vend
            p = vend

    def iter_from(self, pos: int = 0, *, context_key: bytes | None = None
                  ) -> Iterator[tuple[bytes, memoryview]]:
        """Yield (key, value) for every entry from restart point ``pos`` to the end."""
        view = self._view
        for key, start, end in self.entries(pos, context_key=context_key):
            yield key, view[start:end]

    def __iter__(self) -> Iterator[tuple[bytes, memoryview]]:
        """All entries in key order."""
        if self._num_restarts == 0:
            return iter(())
        return self.iter_from(0)

    def run_bounds(self) -> tuple[np.ndarray, np.ndarray] | None:
        """Start and end of every restart run (block offsets), or None if the restart
        array is not strictly increasing from 0 and below the entries' end."""
        num = self._num_restarts
        limit = self._restart_offset
        if num == 0 or limit == 0:
            return None
        starts = np.frombuffer(self._view, "<u4", num, limit).astype(np.int64)
        if starts[0] != 0 or starts[-1] >= limit or (num > 1 and (starts[1:] <= starts[:-1]).any()):
            return None
        ends = np.empty_like(starts)
        ends[:-1] = starts[1:]
        ends[-1] = limit
        return starts, ends

    def scan(self) -> tuple[list[bytes], np.ndarray] | None:
        """Every entry's full key and block offset, decoded for all restart runs at once
        (see :func:`scan_runs`); None when the block is anything but plain, so that the
        caller takes the checked path, which decodes or raises exactly as before."""
        if self._num_restarts == 0:
            return None
        if self._restart_offset == 0:
            return [], np.zeros(0, np.int64)
        bounds = self.run_bounds()
        if bounds is None:
            return None
        return scan_runs(np.frombuffer(self._view, np.uint8), *bounds)

    def _restart_key(self, i: int, target: bytes) -> bytes:
        """Full key of the restart entry ``i`` (its ``shared_bytes`` must be 0)."""
        data = self._view
        limit = self._restart_offset
        p = self._restart_point(i)
        if p + 3 > limit:
            raise self._corrupt("bad entry in block: truncated entry header", p, target)
        shared, unshared, vlen = data[p], data[p + 1], data[p + 2]
        if (shared | unshared | vlen) < 0x80:
            q = p + 3
        else:
            shared, unshared, vlen, q = self._slow_header(p, limit, target)
        if shared != 0:
            raise self._corrupt("bad entry in block: restart point has a shared prefix",
                                p, target)
        if q + unshared + vlen > limit:
            raise self._corrupt("bad entry in block: entry overruns the block", p, target)
        return data[q:q + unshared].tobytes()

    def seek(self, target: Buffer) -> Iterator[tuple[bytes, memoryview]]:
        """Iterate from the first entry whose key is >= ``target``.

        Binary search over the restart points for the last one whose key is
        < target, then a linear scan from there.
        """
        target = bytes(target)
        if self._num_restarts == 0:
            return iter(())
        left, right = 0, self._num_restarts - 1
        while left < right:
            mid = (left + right + 1) // 2
            if self._restart_key(mid, target) < target:
                left = mid
            else:
                right = mid - 1
        return self._scan(self._restart_point(left), target)

    def _scan(self, pos: int, target: bytes) -> Iterator[tuple[bytes, memoryview]]:
        it = self.iter_from(pos, context_key=target)
        for key, value in it:
            if key >= target:
                yield key, value
                yield from it
                return


def scan_runs(u8: np.ndarray, starts: np.ndarray, ends: np.ndarray
              ) -> tuple[list[bytes], np.ndarray] | None:
    """Every entry's full key and position in restart runs ``[starts[i], ends[i])`` of
    ``u8`` (runs in key order: one block's, or several blocks' back to back).

    The listing of a large index (10,000 entries) in numpy instead of a per-entry
    loop: all runs are walked in lockstep, then each key's bytes are gathered from
    the entry that last wrote them (keys are prefix-compressed against their
    predecessor). Returns the same keys and entry positions as :meth:`Block.entries`,
    or None whenever an entry is anything but plain -- a header varint of two or
    more bytes, a run that does not end exactly at its end, a restart entry
    sharing a prefix, a run longer than 64 entries, any malformation.
    Header bytes are read before they are checked: every run must be followed by
    at least 3 bytes of ``u8`` (a block's restart array follows its entries).
    """
    num = len(starts)
    lanes = np.arange(num)
    pos = starts
    steps: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for _ in range(_SCAN_MAX_RUN):
        head = u8[pos[:, None] + _HEADER]
        nxt = pos + 3 + head[:, 1] + head[:, 2]
        if (nxt > ends).any():
            return None
        steps.append((lanes, pos, head))
        more = nxt != ends
        if not more.any():
            break
        lanes, pos, ends = lanes[more], nxt[more], ends[more]
    else:
        return None
    heads = np.concatenate([h for _, _, h in steps])
    if heads.max() >= 0x80 or steps[0][2][:, 0].any():
        return None                 # multi-byte varints, or a restart entry sharing a prefix
    # entries in file order: run after run, each run's entries in step order
    counts = np.bincount(np.concatenate([lane for lane, _, _ in steps]), minlength=num)
    first = np.zeros(num, np.int64)
    np.cumsum(counts[:-1], out=first[1:])
    dest = np.concatenate([first[lane] + i for i, (lane, _, _) in enumerate(steps)])
    order = np.empty(len(dest), np.int64)
    order[dest] = np.arange(len(dest))
    where = np.concatenate([p for _, p, _ in steps])[order]
    shared = heads[:, 0].take(order).astype(np.int64)
    length = shared + heads[:, 1].take(order)
    if (shared[1:] > length[:-1]).any():           # shares more than its predecessor has
        return None
    return _gather_keys(u8, where + 3, shared, length, first), where


def _gather_keys(u8: np.ndarray, delta: np.ndarray, shared: np.ndarray, length: np.ndarray,
                 first: np.ndarray) -> list[bytes]:
    """Full keys from prefix-compressed entries (``delta``: where each key's own bytes
    start; ``first``: the entries that begin restart runs, which share nothing).

    Byte ``j`` of key ``e`` was written by the latest entry ``k <= e`` with
    ``shared[k] <= j`` (later entries inherited it), at ``delta[k] - shared[k] + j``.
    That position grows with ``k`` (entries are stored in order and each is at least
    3 header bytes past its predecessor's key), so a running maximum along each row
    of a key-length x entries matrix of candidate positions finds it. Done in
    chunks of whole runs, so the matrices stay small.
    """
    total = len(length)
    width = int(length.max()) if total else 0
    if width == 0:
        return [b""] * total
    cols = np.arange(width, dtype=np.int64)[:, None]
    base = delta - shared
    bounds = [0, total]
    if total * width > _GATHER_CELLS:
        cuts = np.append(first, total)
        targets = np.arange(1, total * width // _GATHER_CELLS + 1) * max(1, _GATHER_CELLS // width)
        picked = np.searchsorted(cuts, targets, side="right") - 1
        bounds = sorted(set(cuts[picked].tolist()) | {0, total})
    keys: list[bytes] = []
    for a, b in zip(bounds, bounds[1:]):
        sh, ln = shared[a:b], length[a:b]
        at = base[a:b] + cols                       # where byte j would be, if k wrote it
        at *= cols >= sh                            # ... 0 where entry k did not
        np.maximum.accumulate(at, axis=1, out=at)
        mat = u8.take(at, mode="clip")             # past-the-key cells: zeroed next
        np.putmask(mat, cols >= ln, 0)
        last = mat[np.maximum(ln - 1, 0), np.arange(b - a)]
        mat = np.ascontiguousarray(mat.T)
        chunk = mat.view(f"S{width}").ravel().tolist()
        # numpy drops trailing zero bytes of fixed-width strings: put them back
        for i in np.flatnonzero((last == 0) & (ln > 0)).tolist():
            chunk[i] = mat[i, :ln[i]].tobytes()
        keys += chunk
    return keys


def empty_block() -> bytes:
    """The 8-byte empty block (one restart at 0), as the meta-index block is."""
    return BlockBuilder().finish()


__all__ = ["BlockBuilder", "Block", "common_prefix_length", "common_prefix_lengths", "empty_block",
           "scan_runs"]
