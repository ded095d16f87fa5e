"""Tensor bundle index records: ``BundleHeaderProto`` and ``BundleEntryProto``.

Mirrors tensorflow/core/protobuf/tensor_bundle.proto. Hand-coded so that the
index hot path (one entry per tensor) costs microseconds, and byte-identical to
protobuf's proto3 serialization (fields in number order, defaults omitted,
message fields always emitted once set):

BundleHeaderProto (key ``""``)::

    1  num_shards   int32   varint   tag 0x08   (omitted when 0)
    2  endianness   enum    varint   tag 0x10   LITTLE=0 (omitted), BIG=1
    3  version      VersionDef       tag 0x1A   {1 producer int32, 2 min_consumer int32,
                                                 3 bad_consumers repeated int32 (packed)}

    ordinary header: 08 01 1A 02 08 01

BundleEntryProto (every other key)::

    1  dtype     DataType  varint   tag 0x08
    2  shape     TensorShapeProto   tag 0x12 (always emitted; scalar = 12 00)
                 {2 dim repeated {1 size int64, 2 name string}, 3 unknown_rank bool}
    3  shard_id  int32     varint   tag 0x18
    4  offset    int64     varint   tag 0x20
    5  size      int64     varint   tag 0x28
    6  crc32c    fixed32            tag 0x35  (masked CRC-32C)
    7  slices    repeated TensorSliceProto  tag 0x3A  (full entry of a partitioned tensor)

Decoders accept any valid encoding (any field order, unknown fields skipped,
packed or unpacked repeated ints) and raise DataLossError with the offset on
malformed input.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import NamedTuple, Union

import numpy as np

from tensorkeep.errors import DataLossError, data_loss
from tensorkeep.format.coding import decode_varint, encode_signed_varint64, encode_varint, to_signed64
from tensorkeep.format.tensor_slice import TensorSlice

Buffer = Union[bytes, bytearray, memoryview]
Extent = tuple[int, int]  # (start, length); length -1 = the whole dimension

ENDIAN_LITTLE = 0
ENDIAN_BIG = 1
BUNDLE_VERSION = 1          # kTensorBundleVersion
BUNDLE_MIN_CONSUMER = 0     # kTensorBundleMinConsumer
READER_CONSUMER = 1         # the consumer version this reader is

_FIXED32 = struct.Struct("<I")


@dataclass(frozen=True)
class BundleHeader:
    num_shards: int = 1
    endianness: int = ENDIAN_LITTLE
    producer: int | None = BUNDLE_VERSION    # None: no VersionDef (old bundles)
    min_consumer: int = BUNDLE_MIN_CONSUMER
    bad_consumers: tuple[int, ...] = ()

    def encode(self) -> bytes:
        out = bytearray()
        if self.num_shards:
            out += b"\x08" + encode_signed_varint64(self.num_shards)
        if self.endianness:
            out += b"\x10" + encode_varint(self.endianness)
        if self.producer is not None:
            v = _encode_version(self.producer, self.min_consumer, self.bad_consumers)
            out += b"\x1a" + encode_varint(len(v)) + v
        return bytes(out)

    @classmethod
    def decode(cls, buf: Buffer, *, key: bytes | None = b"") -> "BundleHeader":
        num_shards, endianness = 0, 0
        version: tuple[int, int, tuple[int, ...]] | None = None
        for number, wire, value, pos in _fields(buf, key):
            if number == 1 and wire == 0:
                num_shards = _int32(value, key, pos)
            elif number == 2 and wire == 0:
                endianness = value
            elif number == 3 and wire == 2:
                version = _decode_version(value, key, pos)
        if version is None:
            return cls(num_shards, endianness, None)
        return cls(num_shards, endianness, version[0], version[1], version[2])

    def check_version(self) -> str | None:
        """Why a reader of consumer version 1 must refuse this bundle, or None."""
        if self.producer is None:
            return None
        if self.producer < 0:
            return f"bundle producer version {self.producer} is invalid"
        if self.min_consumer > READER_CONSUMER:
            return (f"bundle needs consumer version >= {self.min_consumer}; "
                    f"this reader is {READER_CONSUMER}")
        if READER_CONSUMER in self.bad_consumers:
            return f"consumer version {READER_CONSUMER} is blacklisted by the bundle"
        return None


@dataclass(frozen=True)
class BundleEntry:
    dtype: int
    shape: tuple[int, ...]
    shard_id: int = 0
    offset: int = 0
    size: int = 0
    crc32c: int = 0                                  # masked
    slices: tuple[tuple[Extent, ...], ...] = field(default=())

    def encode(self) -> bytes:
        out = encode_entry(self.dtype, tuple(self.shape), self.shard_id, self.offset, self.size,
                           self.crc32c)
        for extents in self.slices:        # field 7, after every other field
            s = encode_slice(extents)
            out += b"\x3a" + encode_varint(len(s)) + s
        return out

    @classmethod
    def decode(cls, buf: Buffer, *, key: bytes | None = None) -> "BundleEntry":
        fast = _decode_common(buf if isinstance(buf, bytes) else bytes(buf))
        if fast is not None:
            return cls(*fast)
        dtype = shard_id = offset = size = crc = 0
        shape: tuple[int, ...] = ()
        slices: list[tuple[Extent, ...]] = []
        for number, wire, value, pos in _fields(buf, key):
            if number == 1 and wire == 0:
                dtype = value
            elif number == 2 and wire == 2:
                shape = decode_shape(value, key=key, base=pos)
            elif number == 3 and wire == 0:
                shard_id = _int32(value, key, pos)
            elif number == 4 and wire == 0:
                offset = to_signed64(value)
            elif number == 5 and wire == 0:
                size = to_signed64(value)
            elif number == 6 and wire == 5:
                crc = value
            elif number == 7 and wire == 2:
                slices.append(decode_slice(value, key=key, base=pos))
        return cls(dtype, shape, shard_id, offset, size, crc, tuple(slices))


# -- the hot path: one entry per tensor ---------------------------------------------
# Index records are written and read once per tensor, so a checkpoint of 10,000
# small tensors spends most of its time here. Both functions below produce /
# accept exactly the bytes of the generic code (encode_shape, _fields); the
# decoder takes only the canonical layout this module and TF write (fields in
# number order, minimal varints, no slices) and returns None otherwise, so the
# generic, fully checked decoder handles everything else.

_VARINT_CACHE = [encode_varint(i) for i in range(1 << 14)]


def _varint(value: int) -> bytes:
    if 0 <= value < 16384:
        return _VARINT_CACHE[value]
    if 0 < value < 1 << 28:
        if value < 1 << 21:
            return bytes(((value & 0x7F) | 0x80, ((value >> 7) & 0x7F) | 0x80, value >> 14))
        return bytes(((value & 0x7F) | 0x80, ((value >> 7) & 0x7F) | 0x80,
                      ((value >> 14) & 0x7F) | 0x80, value >> 21))
    return encode_signed_varint64(value)


def _shape_bytes(shape: tuple[int, ...]) -> bytes:
    parts = []
    for d in shape:
        if d:
            v = _varint(d)
            parts.append(b"\x12" + _VARINT_CACHE[len(v) + 1] + b"\x08" + v)
        else:
            parts.append(b"\x12\x00")
    return b"".join(parts)


_ENTRY_HEADS: dict[tuple[int, tuple[int, ...]], bytes] = {}
_PACK32 = _FIXED32.pack


def _encode_entry(dtype: int, shape: tuple[int, ...], shard_id: int, offset: int, size: int,
                  crc: int) -> bytes:
    """``BundleEntry(...).encode()`` for an entry without slices, without building the object.
    :func:`encode_entry` is this, or its C twin ``_native.encode_entry`` where built."""
    head = _ENTRY_HEADS.get((dtype, shape))
    if head is None:
        sb = _shape_bytes(shape)
        head = (b"\x08" + _varint(dtype) if dtype else b"") + b"\x12" + _varint(len(sb)) + sb
        if len(_ENTRY_HEADS) < 1024 and shape.__class__ is tuple:
            _ENTRY_HEADS[(dtype, shape)] = head
    if not shard_id and offset and size and crc:        # the usual entry
        return b"".join((head, b"\x20", _varint(offset), b"\x28", _varint(size), b"\x35",
                         _PACK32(crc)))
    out = [head]
    if shard_id:
        out.append(b"\x18" + _varint(shard_id))
    if offset:
        out.append(b"\x20" + _varint(offset))
    if size:
        out.append(b"\x28" + _varint(size))
    if crc:
        out.append(b"\x35" + _FIXED32.pack(crc))
    return b"".join(out)


try:    # the same encoder in C (optional: built where a compiler is; see _native.c)
    from tensorkeep.format._native import encode_entry
except ImportError:  # pragma: no cover - exercised by the tests through _encode_entry
    encode_entry = _encode_entry


def _uvarint(b: bytes, p: int, n: int) -> tuple[int, int]:
    """A minimal varint of at most 9 bytes (values < 2**63) at ``p``; (-1, p) if not that."""
    result = 0
    shift = 0
    end = p + 9 if p + 9 < n else n
    while p < end:
        c = b[p]
        p += 1
        result |= (c & 0x7F) << shift
        if c < 0x80:
            if c == 0 and shift:
                return -1, p          # overlong: leave it to the generic decoder
            return result, p
        shift += 7
    return -1, p


def _decode_canonical(b: bytes) -> tuple[int, tuple[int, ...], int, int, int, int] | None:
    """(dtype, shape, shard_id, offset, size, crc) of a canonical entry without slices, or None.

    One-byte varints (the common dtype, shard, small dims) are read inline;
    longer ones through _uvarint.
    """
    n = len(b)
    p = 0
    dtype = shard_id = offset = size = crc = 0
    if n > 1 and b[0] == 0x08:
        dtype = b[1]
        p = 2
        if dtype >= 0x80:
            dtype, p = _uvarint(b, 1, n)
            if dtype < 0:
                return None
    if p + 1 >= n or b[p] != 0x12:
        return None
    end = p + 2 + b[p + 1]
    p += 2
    if end > n or b[p - 1] >= 0x80:
        return None
    dims = []
    while p < end:
        if p + 1 >= end or b[p] != 0x12:
            return None
        dlen = b[p + 1]
        if dlen == 0:
            dims.append(0)
            p += 2
            continue
        q = p + 2 + dlen
        if dlen >= 0x80 or q > end or b[p + 2] != 0x08:
            return None
        if dlen == 2:
            d = b[p + 3]
            if not 0 < d < 0x80:
                return None
        else:
            d, r = _uvarint(b, p + 3, q)
            if d <= 0 or r != q:
                return None
        dims.append(d)
        p = q
    if p < n and b[p] == 0x18:
        shard_id, p = _uvarint(b, p + 1, n)
        if not 0 < shard_id < (1 << 31):
            return None
    if p < n and b[p] == 0x20:
        offset, p = _uvarint(b, p + 1, n)
        if offset <= 0:
            return None
    if p < n and b[p] == 0x28:
        size, p = _uvarint(b, p + 1, n)
        if size <= 0:
            return None
    if p + 5 == n and b[p] == 0x35:
        crc = _FIXED32.unpack_from(b, p + 1)[0]
        p = n
    if p != n:
        return None
    return dtype, tuple(dims), shard_id, offset, size, crc


_HEAD_CACHE: dict[bytes, tuple[int, tuple[int, ...]]] = {}


def _decode_common(b: bytes) -> tuple[int, tuple[int, ...], int, int, int, int] | None:
    """``_decode_canonical(b)``, with the dtype+shape head of the common layout cached.

    Entries of a checkpoint mostly share a handful of (dtype, shape) heads; the head
    bytes (one-byte dtype varint, shape field) are looked up instead of parsed,
    the tail (shard, offset, size, crc) is read as in ``_decode_canonical``. Any
    other layout goes to ``_decode_canonical`` itself; results are identical.
    """
    n = len(b)
    if n < 4 or b[0] != 0x08 or b[2] != 0x12 or b[1] >= 0x80 or b[3] >= 0x80:
        return _decode_canonical(b)
    p = 4 + b[3]
    if p > n:
        return None
    head_bytes = b[:p]
    head = _HEAD_CACHE.get(head_bytes)
    if head is None:
        parsed = _decode_canonical(head_bytes)
        if parsed is None:
            return None
        head = (parsed[0], parsed[1])
        if len(_HEAD_CACHE) < 1024:
            _HEAD_CACHE[head_bytes] = head
    shard_id = offset = size = crc = 0
    if p < n and b[p] == 0x18:
        shard_id, p = _uvarint(b, p + 1, n)
        if not 0 < shard_id < (1 << 31):
            return None
    if p < n and b[p] == 0x20:
        # _uvarint inlined for offsets below 2**28 (a truncated or overlong varint, or
        # a zero, is no canonical entry: None, as _decode_canonical returns)
        if p + 4 < n and b[p + 1] >= 0x80 and b[p + 2] >= 0x80 and b[p + 3] >= 0x80 \
                and 0 < b[p + 4] < 0x80:
            offset = ((b[p + 1] & 0x7F) | ((b[p + 2] & 0x7F) << 7) | ((b[p + 3] & 0x7F) << 14)
                      | (b[p + 4] << 21))
            p += 5
        else:
            offset, p = _uvarint(b, p + 1, n)
            if offset <= 0:
                return None
    if p < n and b[p] == 0x28:
        if p + 2 < n and b[p + 1] >= 0x80 and 0 < b[p + 2] < 0x80:
            size = (b[p + 1] & 0x7F) | (b[p + 2] << 7)
            p += 3
        else:
            size, p = _uvarint(b, p + 1, n)
            if size <= 0:
                return None
    if p + 5 == n and b[p] == 0x35:
        crc = _FIXED32.unpack_from(b, p + 1)[0]
        p = n
    if p != n:
        return None
    return head[0], head[1], shard_id, offset, size, crc


class EntryColumns(NamedTuple):
    """Many entries decoded at once (see :func:`decode_entries`), one array row each."""

    ok: np.ndarray          # bool: decoded here; False: decode that entry on its own
    heads: list[tuple[int, tuple[int, ...]] | None]   # distinct (dtype, shape)s
    head_id: np.ndarray     # index into heads
    shard_id: np.ndarray
    offset: np.ndarray
    size: np.ndarray
    crc32c: np.ndarray      # masked, as stored


_BATCH_WIDTH = 64           # longer entries are left to the one-at-a-time decoder
_PAST = 256                 # the "byte" read past an entry's end
# zero bytes appended to the buffer: more than the furthest read past an entry's start
# (a head of at most 64 bytes, rounded to 8; else 4 bytes + three 10-byte fields + crc)
_PAD = 128


def decode_entries(buf: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> EntryColumns:
    """:func:`_decode_common` for many entries of one buffer at once, in numpy.

    ``buf`` is a uint8 array; entry ``i`` is ``buf[starts[i]:starts[i] + lengths[i]]``.
    Where ``ok`` is True the row holds exactly what ``_decode_common`` returns for
    that entry; everything else (slices, unusual layouts, multi-byte dtypes, anything
    ``_decode_common`` refuses) is ``ok == False``, for the caller to decode one by one.
    Fields are read a byte position at a time across all entries; the few distinct
    dtype+shape heads are parsed once each.
    """
    n = len(starts)
    starts = starts.astype(np.int64)
    lengths = lengths.astype(np.int64)
    # every read below is at most _PAD bytes past an entry's start
    buf = np.concatenate([buf, np.zeros(_PAD, np.uint8)])

    def at(rows: np.ndarray | slice, p: np.ndarray | int) -> np.ndarray:
        """Byte ``p`` of each entry of ``rows`` (``_PAST`` past its end)."""
        v = buf[starts[rows] + p].astype(np.int16)
        v[p >= lengths[rows]] = _PAST
        return v

    everyone = slice(None)
    # head: 08 <dtype> 12 <shape length> <shape>, one-byte varints
    b3 = at(everyone, 3)
    ok = (lengths <= _BATCH_WIDTH) & (at(everyone, 0) == 0x08) & (at(everyone, 1) < 0x80) \
        & (at(everyone, 2) == 0x12) & (b3 < 0x80)
    head_len = np.where(ok, 4 + b3, 4)
    ok &= head_len <= lengths
    head_len = np.where(ok, head_len, 4)
    hw = -(-int(head_len.max()) // 8) * 8 if n else 8      # whole 64-bit words
    head = np.lib.stride_tricks.sliding_window_view(buf, hw)[starts]
    head[np.arange(hw) >= head_len[:, None]] = 0
    uniq, head_id = _distinct_rows(head)
    heads: list[tuple[int, tuple[int, ...]] | None] = []
    for u in uniq:
        parsed = _decode_canonical(u[:4 + u[3]])
        heads.append(None if parsed is None else (parsed[0], parsed[1]))
    if heads:
        ok &= np.array([h is not None for h in heads], bool)[head_id]

    # tail: [18 shard] [20 offset] [28 size] [35 crc32c], each only if non-zero
    p = head_len
    fields = []
    for tag, top in ((0x18, 1 << 31), (0x20, None), (0x28, None)):   # 9-byte varints < 2**63
        rows = np.flatnonzero(at(everyone, p) == tag)
        value = np.zeros(n, np.int64)
        if rows.size:
            q = p[rows] + 1
            got, used = _uvarints(buf, starts[rows] + q, lengths[rows] - q)
            after = np.where(used > 0, q + used, -1)
            good = (after >= 0) & (got > 0)
            if top is not None:
                good &= got < top
            ok[rows] &= good
            value[rows] = got
            p = p.copy()
            p[rows] = after
        fields.append(value)
    rows = np.flatnonzero((at(everyone, p) == 0x35) & (p + 5 == lengths))
    crc = np.zeros(n, np.int64)
    q = p[rows]
    for k in range(4):
        crc[rows] |= at(rows, q + 1 + k).astype(np.int64) << (8 * k)
    p = p.copy()
    p[rows] = lengths[rows]
    ok &= p == lengths
    return EntryColumns(ok, heads, head_id, fields[0], fields[1], fields[2], crc)


def _distinct_rows(rows: np.ndarray) -> tuple[list[bytes], np.ndarray]:
    """The distinct rows of a uint8 matrix (width a multiple of 8) as bytes, and each
    row's index among them: rows are hashed to one integer, grouped by it, and the
    grouping is confirmed byte for byte (a collision falls back to sorting rows)."""
    words = rows.view(np.uint64)
    h = np.zeros(len(rows), np.uint64)
    for j in range(words.shape[1]):
        h = h * np.uint64(0x9E3779B97F4A7C15) + words[:, j]
    _, first, inverse = np.unique(h, return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    if not (rows == rows[first[inverse]]).all():
        u, first, inverse = np.unique(rows.view(f"V{rows.shape[1]}").ravel(),
                                      return_index=True, return_inverse=True)
        inverse = inverse.reshape(-1)
    return [rows[i].tobytes() for i in first.tolist()], inverse


def _uvarints(buf: np.ndarray, at: np.ndarray, room: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_uvarint` at each position ``at`` of ``buf`` with ``room`` bytes left in its
    entry: (values, bytes used, or 0 where there is no minimal varint of at most 9
    bytes), a byte position at a time over the varints not yet ended."""
    value = np.zeros(len(at), np.int64)
    used = np.zeros(len(at), np.int64)
    live = np.arange(len(at))
    pos, left = at, room
    for k in range(9):
        b = buf[pos].astype(np.int64)
        b[left <= 0] = 0x80                          # past the end: never terminates
        value[live] |= (b & 0x7F) << (7 * k)
        stop = b < 0x80
        done = stop & ((b != 0) | (k == 0))         # a final zero byte is overlong
        used[live[done]] = k + 1
        more = ~stop
        if not more.any():
            break
        live, pos, left = live[more], pos[more] + 1, left[more] - 1
    return value, used


def encode_shape(shape: tuple[int, ...] | list[int]) -> bytes:
    """TensorShapeProto bytes for a fully defined shape (dims may be -1 = unknown)."""
    return _shape_bytes(tuple(int(d) for d in shape))


def decode_shape(buf: Buffer, *, key: bytes | None = None, base: int = 0,
                 allow_unknown: bool = False) -> tuple[int, ...]:
    """Dims of a TensorShapeProto; unknown rank or dims are refused unless allowed."""
    dims: list[int] = []
    for number, wire, value, pos in _fields(buf, key, base):
        if number == 2 and wire == 2:
            size = 0
            for n2, w2, v2, p2 in _fields(value, key, pos):
                if n2 == 1 and w2 == 0:
                    size = to_signed64(v2)
            if size < 0 and not (allow_unknown and size == -1):
                raise data_loss(f"invalid dimension size {size} in tensor shape", key=key, offset=pos)
            dims.append(size)
        elif number == 3 and wire == 0 and value and not allow_unknown:
            raise data_loss("tensor shape of unknown rank", key=key, offset=pos)
    return tuple(dims)


def encode_slice(extents: tuple[Extent, ...]) -> bytes:
    """TensorSliceProto bytes (the one codec lives in :mod:`tensor_slice`)."""
    return TensorSlice(extents).encode()


def decode_slice(buf: Buffer, *, key: bytes | None = None, base: int = 0) -> tuple[Extent, ...]:
    try:
        return TensorSlice.decode(buf).extents
    except DataLossError as exc:
        raise data_loss(f"bad slice in bundle entry ({exc.message})", key=key,
                        offset=base + (exc.offset or 0)) from None


# -- generic proto3 wire walking ------------------------------------------------

def _fields(buf: Buffer, key: bytes | None, base: int = 0):  # type: ignore[no-untyped-def]
    """Yield (field number, wire type, value, absolute offset) for each field.

    value: int for varint/fixed, a memoryview for length-delimited fields.
    """
    view = memoryview(buf) if not isinstance(buf, memoryview) else buf
    limit = len(view)
    pos = 0
    while pos < limit:
        start = pos
        tag = view[pos]
        if tag < 0x80:
            pos += 1
        else:
            tag, pos = decode_varint(view, pos, limit, max_bytes=5, what="field tag")
        number, wire = tag >> 3, tag & 7
        if number == 0:
            raise data_loss("bad protobuf field number 0", key=key, offset=base + start)
        if wire == 0:
            b = view[pos] if pos < limit else 0x80
            if b < 0x80 and pos < limit:
                value: object = b
                pos += 1
            else:
                value, pos = decode_varint(view, pos, limit, what="protobuf varint")
        elif wire == 2:
            n, pos = decode_varint(view, pos, limit, what="protobuf length")
            if n > limit - pos:
                raise data_loss(f"protobuf field length {n} runs past the record end",
                                key=key, offset=base + start)
            value = view[pos:pos + n]
            pos += n
        elif wire == 5:
            if pos + 4 > limit:
                raise data_loss("truncated fixed32 field", key=key, offset=base + start)
            value = _FIXED32.unpack_from(view, pos)[0]
            pos += 4
        elif wire == 1:
            if pos + 8 > limit:
                raise data_loss("truncated fixed64 field", key=key, offset=base + start)
            value = struct.unpack_from("<Q", view, pos)[0]
            pos += 8
        else:
            raise data_loss(f"unsupported protobuf wire type {wire}", key=key, offset=base + start)
        yield number, wire, value, base + start


def _int32(value: int, key: bytes | None, pos: int) -> int:
    v = to_signed64(value)
    if not -(1 << 31) <= v < (1 << 31):
        raise data_loss(f"int32 field out of range: {v}", key=key, offset=pos)
    return v


def _encode_version(producer: int, min_consumer: int, bad: tuple[int, ...]) -> bytes:
    out = bytearray()
    if producer:
        out += b"\x08" + encode_signed_varint64(producer)
    if min_consumer:
        out += b"\x10" + encode_signed_varint64(min_consumer)
    if bad:
        packed = b"".join(encode_signed_varint64(b) for b in bad)
        out += b"\x1a" + encode_varint(len(packed)) + packed
    return bytes(out)


def _decode_version(buf: Buffer, key: bytes | None, base: int) -> tuple[int, int, tuple[int, ...]]:
    producer = min_consumer = 0
    bad: list[int] = []
    for number, wire, value, pos in _fields(buf, key, base):
        if number == 1 and wire == 0:
            producer = _int32(value, key, pos)
        elif number == 2 and wire == 0:
            min_consumer = _int32(value, key, pos)
        elif number == 3 and wire == 0:
            bad.append(_int32(value, key, pos))
        elif number == 3 and wire == 2:
            view = value
            p = 0
            while p < len(view):
                v, p = decode_varint(view, p, len(view), what="packed int32")
                bad.append(_int32(v, key, pos))
    return producer, min_consumer, tuple(bad)


__all__ = ["BundleHeader", "BundleEntry", "EntryColumns", "decode_entries", "encode_entry", "encode_shape", "decode_shape", "encode_slice",
           "decode_slice", "ENDIAN_LITTLE", "ENDIAN_BIG"]
