"""Checkpoint format V1: the SavedTensorSlices records of a V1 table (pure codec).

A V1 checkpoint is one SSTable (see :mod:`tensorkeep.format.table`) whose values
are serialized ``SavedTensorSlices`` messages (TensorFlow:
``core/util/saved_tensor_slice.proto``, ``tensor_slice_writer.{h,cc}``,
``saved_tensor_slice_util.{h,cc}``; FORMAT.md §5). This module encodes and
decodes those values and keys, byte-identical to TF's protobuf output;
:mod:`tensorkeep.bundle.v1` puts them in files.

Keys::

    ""                                       -> SavedTensorSlices{ meta }     (first record)
    00 <ordered-code name> <rank> (<start> <length>)*  -> SavedTensorSlices{ data }, one per slice

``<rank>`` is an OrderedCode NumIncreasing, start/length SignedNumIncreasing; a
full dimension is start 0, length -1 (``80 7F``). A scalar has rank 0: key
``00 <name> 00 01 00``.

Messages (proto3; field number, wire type; every submessage field below is
emitted even when empty, as TF's C++ writer sets them with ``mutable_*``)::

    SavedTensorSlices      1 meta  (LEN SavedTensorSliceMeta)   2 data (LEN SavedSlice)
    SavedTensorSliceMeta   1 tensor (LEN SavedSliceMeta, repeated, in order of first
                             addition)                          2 versions (LEN VersionDef)
    SavedSliceMeta         1 name (LEN)  2 shape (LEN TensorShapeProto)
                           3 type (VARINT DataType)  4 slice (LEN TensorSliceProto, repeated)
    VersionDef             1 producer (VARINT; TF writes 1)  2 min_consumer (VARINT; 0)
                           3 bad_consumers (VARINT, repeated)
    TensorShapeProto       2 dim (LEN, repeated){1 size VARINT int64, 2 name LEN}
                           3 unknown_rank (VARINT bool)
    SavedSlice             1 name (LEN)  2 slice (LEN TensorSliceProto)
                           3 data (LEN TensorProto holding only the value field)

Value field of ``SavedSlice.data`` (a TensorProto, no dtype and no shape), packed
little-endian/varint values in row-major order of the slice:

    ==================================================  ==================  =========
    dtype                                               field               encoding
    ==================================================  ==================  =========
    float                                               5 float_val         fixed32
    double                                              6 double_val        fixed64
    int32 int16 int8 uint8 uint16 qint8 quint8 quint16  7 int_val           varint (int32,
    qint32                                                                  negatives: 10 B)
    string                                              8 string_val        LEN each
    complex64                                           9 scomplex_val      fixed32 re, im
    int64                                               10 int64_val        varint
    bool                                                11 bool_val         varint 0/1
    complex128                                          12 dcomplex_val     fixed64 re, im
    half                                                13 half_val         varint (raw bits)
    uint32 / uint64 (decoded only; TF 2.21 will not     16 / 17             varint
    write them)
    ==================================================  ==================  =========

An empty slice writes no value field: ``data`` is ``1A 00``.

Decoders accept packed and unpacked repeated encodings and skip unknown fields,
as protobuf parsers do; values are checked against the slice's element count.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence, Union

import numpy as np

from tensorkeep import dtypes as _dt
from tensorkeep.errors import (DataLossError, InvalidArgumentError, UnimplementedError,
                               data_loss)
from tensorkeep.format.coding import decode_varint64, encode_varint, to_signed64
from tensorkeep.format.entry import decode_shape, encode_shape
from tensorkeep.format.ordered_code import (decode_num_increasing, decode_signed_num_increasing,
                                            decode_string, encode_num_increasing,
                                            encode_signed_num_increasing, encode_string)
from tensorkeep.format.tensor_slice import FULL_EXTENT, TensorSlice

Buffer = Union[bytes, bytearray, memoryview]

__all__ = [
    "META_KEY", "TF_CHECKPOINT_VERSION", "TF_CHECKPOINT_VERSION_MIN_PRODUCER",
    "TF_CHECKPOINT_VERSION_MIN_CONSUMER", "SliceMeta", "V1Meta", "encode_meta", "decode_meta",
    "slice_key", "decode_slice_key", "encode_slice", "decode_slice", "DecodedSlice",
    "check_writable", "check_versions", "WRITABLE_DTYPES", "MAX_SLICE_BYTES",
]

META_KEY = b""                           # kSavedTensorSlicesKey
TF_CHECKPOINT_VERSION = 1                # core/public/version.h
TF_CHECKPOINT_VERSION_MIN_PRODUCER = 0
TF_CHECKPOINT_VERSION_MIN_CONSUMER = 0
MAX_SLICE_BYTES = 1 << 31                # TensorSliceWriter's per-slice limit (kMaxMessageBytes)

# dtype enum -> (TensorProto field number, how values are encoded)
_FLOAT, _DOUBLE, _INT32, _STRING, _SCOMPLEX, _INT64, _BOOL, _DCOMPLEX, _HALF, _UINT32, _UINT64 = (
    5, 6, 7, 8, 9, 10, 11, 12, 13, 16, 17)
_FIELD_OF: dict[int, int] = {
    1: _FLOAT, 2: _DOUBLE, 3: _INT32, 4: _INT32, 5: _INT32, 6: _INT32, 7: _STRING,
    8: _SCOMPLEX, 9: _INT64, 10: _BOOL, 11: _INT32, 12: _INT32, 13: _INT32, 15: _INT32,
    16: _INT32, 17: _INT32, 18: _DCOMPLEX, 19: _HALF, 22: _UINT32, 23: _UINT64,
}
# What TF 2.21's V1 writer accepts (FORMAT.md §5.3, OBSERVED §7).
WRITABLE_DTYPES = frozenset({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 15, 16, 17, 18, 19})

# Conservative bytes per element used for the size estimate (varints at their widest).
_MAX_BYTES_PER_ELEMENT = {_FLOAT: 4, _DOUBLE: 8, _INT32: 10, _SCOMPLEX: 8, _INT64: 10, _BOOL: 1,
                          _DCOMPLEX: 16, _HALF: 3, _UINT32: 5, _UINT64: 10}


# ------------------------------------------------------------------ protobuf primitives

def _len_field(number: int, body: bytes) -> bytes:
    return encode_varint(number << 3 | 2) + encode_varint(len(body)) + body


def _varint_field(number: int, value: int) -> bytes:
    return encode_varint(number << 3) + encode_varint(value & 0xFFFFFFFFFFFFFFFF)


def _fields(buf: bytes, start: int, end: int, what: str):  # type: ignore[no-untyped-def]
    """Yield (field number, wire type, value or (begin, end), tag offset) over a message."""
    p = start
    while p < end:
        tag_pos = p
        tag, p = decode_varint64(buf, p, end, f"{what} tag")
        number, wire = tag >> 3, tag & 7
        if number == 0:
            raise data_loss(f"bad {what}: field number 0", offset=tag_pos)
        if wire == 0:
            value, p = decode_varint64(buf, p, end, f"{what} field {number}")
            yield number, wire, value, tag_pos
        elif wire == 1:
            if p + 8 > end:
                raise data_loss(f"bad {what}: truncated fixed64 field {number}", offset=tag_pos)
            yield number, wire, (p, p + 8), tag_pos
            p += 8
        elif wire == 5:
            if p + 4 > end:
                raise data_loss(f"bad {what}: truncated fixed32 field {number}", offset=tag_pos)
            yield number, wire, (p, p + 4), tag_pos
            p += 4
        elif wire == 2:
            size, p = decode_varint64(buf, p, end, f"{what} length of field {number}")
            if size > end - p:
                raise data_loss(f"bad {what}: field {number} of {size} bytes runs past the end "
                                f"({end - p} left)", offset=tag_pos)
            yield number, wire, (p, p + size), tag_pos
            p += size
        else:
            raise data_loss(f"bad {what}: unsupported wire type {wire} for field {number}",
                            offset=tag_pos)


def _expect(wire: int, want: int, what: str, number: int, offset: int) -> None:
    if wire != want:
        raise data_loss(f"bad {what}: field {number} has wire type {wire}, expected {want}",
                        offset=offset)



# ------------------------------------------------------------------ shapes and versions

def _slice_bytes(tslice: TensorSlice) -> bytes:
    return tslice.encode()


def _decode_tslice(buf: bytes, start: int, end: int, offset: int) -> TensorSlice:
    try:
        return TensorSlice.decode(buf[start:end])
    except DataLossError:
        raise
    except InvalidArgumentError as exc:
        raise data_loss(f"bad TensorSliceProto: {exc}", offset=offset) from None


# ------------------------------------------------------------------ meta record

@dataclass(frozen=True)
class SliceMeta:
    """One tensor of a V1 file: name, full shape, dtype enum, the slices stored in this file."""

    name: str
    shape: tuple[int, ...]
    dtype: int
    slices: tuple[TensorSlice, ...] = ()


@dataclass(frozen=True)
class V1Meta:
    """The table of contents (key ``""``): tensors in order of first addition, versions."""

    tensors: tuple[SliceMeta, ...] = ()
    producer: int = TF_CHECKPOINT_VERSION
    min_consumer: int = 0
    bad_consumers: tuple[int, ...] = field(default=())


def encode_meta(meta: V1Meta) -> bytes:
    """``SavedTensorSlices{meta}`` bytes, as TF's writer serializes them."""
    body = bytearray()
    for t in meta.tensors:
        m = _len_field(1, t.name.encode("utf-8", "surrogateescape"))
        m += _len_field(2, encode_shape(t.shape))
        if t.dtype:
            m += _varint_field(3, t.dtype)
        for s in t.slices:
            m += _len_field(4, _slice_bytes(s))
        body += _len_field(1, m)
    versions = b""
    if meta.producer:
        versions += _varint_field(1, meta.producer)
    if meta.min_consumer:
        versions += _varint_field(2, meta.min_consumer)
    for b in meta.bad_consumers:
        versions += _varint_field(3, b)
    body += _len_field(2, versions)
    return _len_field(1, bytes(body))


def decode_meta(buf: Buffer) -> V1Meta:
    """Parse the value of key ``""``; DataLossError if it holds no ``meta``."""
    data = bytes(buf)
    meta_span = None
    for number, wire, value, off in _fields(data, 0, len(data), "SavedTensorSlices"):
        if number == 1:
            _expect(wire, 2, "SavedTensorSlices", number, off)
            meta_span = value  # the last one wins, as in protobuf (no merging needed here)
    if meta_span is None:
        raise data_loss("Failed to find the saved tensor slices at the beginning of the "
                        "checkpoint file", key=META_KEY)
    tensors: list[SliceMeta] = []
    producer = min_consumer = 0
    bad: list[int] = []
    for number, wire, value, off in _fields(data, meta_span[0], meta_span[1], "SavedTensorSliceMeta"):
        if number == 1:
            _expect(wire, 2, "SavedTensorSliceMeta", number, off)
            tensors.append(_decode_slice_meta(data, value[0], value[1]))
        elif number == 2:
            _expect(wire, 2, "SavedTensorSliceMeta", number, off)
            for n2, w2, v2, o2 in _fields(data, value[0], value[1], "VersionDef"):
                if w2 == 0 and n2 == 1:
                    producer = to_signed64(v2)
                elif w2 == 0 and n2 == 2:
                    min_consumer = to_signed64(v2)
                elif n2 == 3:
                    bad += _packed_or_single_varints(data, w2, v2)
    return V1Meta(tuple(tensors), producer, min_consumer, tuple(bad))


def _packed_or_single_varints(data: bytes, wire: int, value) -> list[int]:  # type: ignore[no-untyped-def]
    if wire == 0:
        return [to_signed64(value)]
    out = []
    p, end = value
    while p < end:
        v, p = decode_varint64(data, p, end, "packed varint")
        out.append(to_signed64(v))
    return out


def _decode_slice_meta(data: bytes, start: int, end: int) -> SliceMeta:
    name, shape, dtype, slices = b"", (), 0, []
    for number, wire, value, off in _fields(data, start, end, "SavedSliceMeta"):
        if number == 1:
            _expect(wire, 2, "SavedSliceMeta", number, off)
            name = data[value[0]:value[1]]
        elif number == 2:
            _expect(wire, 2, "SavedSliceMeta", number, off)
            shape = decode_shape(data[value[0]:value[1]], base=value[0])
        elif number == 3:
            _expect(wire, 0, "SavedSliceMeta", number, off)
            dtype = value
        elif number == 4:
            _expect(wire, 2, "SavedSliceMeta", number, off)
            slices.append(_decode_tslice(data, value[0], value[1], off))
    text = name.decode("utf-8", "surrogateescape")
    for s in slices:
        if s.rank != len(shape):
            raise data_loss(f"bad SavedSliceMeta for {text!r}: slice {s} does not match shape "
                            f"{list(shape)}")
        try:
            s.slice_shape(shape)
        except InvalidArgumentError as exc:
            raise data_loss(f"bad SavedSliceMeta for {text!r}: {exc}") from None
    return SliceMeta(text, shape, dtype, tuple(slices))


def check_versions(meta: V1Meta, *, filename: str | None = None) -> None:
    """TF's version check of a V1 file (consumer 1, min producer 0)."""
    if meta.producer < TF_CHECKPOINT_VERSION_MIN_PRODUCER:
        raise data_loss(f"Checkpoint producer version {meta.producer} below min producer "
                        f"{TF_CHECKPOINT_VERSION_MIN_PRODUCER} supported by TensorFlow",
                        filename=filename, key=META_KEY)
    if meta.min_consumer > TF_CHECKPOINT_VERSION:
        raise data_loss(f"Checkpoint min consumer version {meta.min_consumer} above current "
                        f"version {TF_CHECKPOINT_VERSION} for TensorFlow",
                        filename=filename, key=META_KEY)
    if TF_CHECKPOINT_VERSION in meta.bad_consumers:
        raise data_loss(f"Checkpoint disallows consumer version {TF_CHECKPOINT_VERSION}",
                        filename=filename, key=META_KEY)


# ------------------------------------------------------------------ keys

def slice_key(name: str | bytes, tslice: TensorSlice | Sequence[tuple[int, int]]) -> bytes:
    """``EncodeTensorNameSlice``: the table key of one slice (rank 0 allowed)."""
    extents = tslice.extents if isinstance(tslice, TensorSlice) else tuple(tslice)
    raw = name.encode("utf-8", "surrogateescape") if isinstance(name, str) else bytes(name)
    parts = [b"\x00", encode_string(raw), encode_num_increasing(len(extents))]
    for start, length in extents:
        if length < 0:
            start, length = 0, -1
        parts.append(encode_signed_num_increasing(start))
        parts.append(encode_signed_num_increasing(length))
    return b"".join(parts)


def decode_slice_key(key: Buffer) -> tuple[str, TensorSlice]:
    """Split a data key into (tensor name, slice)."""
    data = bytes(key)
    lead, p = decode_num_increasing(data, 0)
    if lead != 0:
        raise data_loss(f"bad slice key: leading number is {lead}, not 0", key=data, offset=0)
    name, p = decode_string(data, p)
    rank, p = decode_num_increasing(data, p)
    if rank > (len(data) - p) // 2:
        raise data_loss(f"bad slice key: rank {rank} but only {len(data) - p} bytes left",
                        key=data, offset=p)
    extents = []
    for _ in range(rank):
        start, p = decode_signed_num_increasing(data, p)
        length, p = decode_signed_num_increasing(data, p)
        if length == -1 and start == 0:
            extents.append((0, FULL_EXTENT))
        elif start < 0 or length <= 0:
            raise data_loss(f"bad slice key: extent ({start}, {length})", key=data, offset=p)
        else:
            extents.append((start, length))
    return name.decode("utf-8", "surrogateescape"), TensorSlice(tuple(extents))


# ------------------------------------------------------------------ values

def check_writable(dtype: int) -> None:
    """Raise TF's error if TF's V1 writer refuses ``dtype`` (an enum value)."""
    if dtype in WRITABLE_DTYPES:
        return
    if dtype in (22, 23):
        raise InvalidArgumentError(f"Tensor slice serialization not implemented for dtype {dtype}")
    try:
        name = _dt.from_enum(dtype).name
    except ValueError:
        name = str(dtype)
    raise UnimplementedError(f"Saving data type {name} not yet supported")


def _encode_varints(values: np.ndarray) -> bytes:
    """Protobuf varints of int64/uint64 values (negatives as 10-byte two's complement)."""
    v = np.ascontiguousarray(values).astype(np.uint64, copy=False).ravel()
    if v.size == 0:
        return b""
    if int(v.max()) < 0x80:
        return v.astype(np.uint8).tobytes()
    lengths = np.ones(v.shape, dtype=np.int64)
    for k in range(1, 10):
        lengths += v >= np.uint64(1 << (7 * k))
    shifts = (np.arange(10, dtype=np.uint64) * np.uint64(7))
    groups = ((v[:, None] >> shifts[None, :]) & np.uint64(0x7F)).astype(np.uint8)
    idx = np.arange(10)[None, :]
    groups |= np.where(idx < (lengths[:, None] - 1), np.uint8(0x80), np.uint8(0))
    return groups[idx < lengths[:, None]].tobytes()


def _decode_varints(buf: bytes, what: str, offset: int) -> np.ndarray:
    """Packed varints → uint64 array (DataLossError on a truncated or overlong one)."""
    b = np.frombuffer(buf, dtype=np.uint8)
    if b.size == 0:
        return np.zeros(0, dtype=np.uint64)
    if b[-1] & 0x80:
        raise data_loss(f"bad {what}: truncated varint", offset=offset + b.size - 1)
    ends = np.flatnonzero(b < 0x80)
    starts = np.concatenate(([0], ends[:-1] + 1))
    lengths = ends - starts + 1
    if lengths.max() > 10:
        raise data_loss(f"bad {what}: varint longer than 10 bytes",
                        offset=offset + int(starts[np.argmax(lengths > 10)]))
    pos = np.arange(b.size) - np.repeat(starts, lengths)
    parts = (b & 0x7F).astype(np.uint64) << (pos.astype(np.uint64) * np.uint64(7))
    return np.add.reduceat(parts, starts)


def _fixed_values(number: int) -> tuple[np.dtype, int] | None:
    if number in (_FLOAT, _SCOMPLEX):
        return np.dtype("<f4"), 5
    if number in (_DOUBLE, _DCOMPLEX):
        return np.dtype("<f8"), 1
    return None


def _value_field(dt: _dt.DType, flat: np.ndarray) -> bytes:
    enum = dt.as_datatype_enum
    number = _FIELD_OF[enum]
    if number == _STRING:
        out = bytearray()
        for item in flat:
            raw = item.encode("utf-8") if isinstance(item, str) else bytes(item)
            out += _len_field(_STRING, raw)
        return bytes(out)
    if flat.size == 0:
        return b""
    if number in (_FLOAT, _DOUBLE):
        body = flat.astype("<f4" if number == _FLOAT else "<f8").tobytes()
    elif number == _SCOMPLEX:
        body = flat.astype("<c8").tobytes()
    elif number == _DCOMPLEX:
        body = flat.astype("<c16").tobytes()
    elif number == _BOOL:
        body = flat.astype(np.bool_).astype(np.uint8).tobytes()
    elif number == _HALF:
        body = _encode_varints(flat.astype("<f2").view("<u2").astype(np.uint64))
    elif number in (_INT32, _INT64):
        body = _encode_varints(flat.astype(np.int64).astype(np.uint64))
    else:  # _UINT32, _UINT64
        body = _encode_varints(flat.astype(np.uint64))
    return _len_field(number, body)


def encode_slice(name: str | bytes, tslice: TensorSlice, dtype: _dt.DType | int,
                 values: np.ndarray) -> bytes:
    """``SavedTensorSlices{data: SavedSlice{name, slice, data}}`` bytes for one slice.

    ``values`` holds the slice's elements (any shape; read in row-major order).
    Raises TF's errors for dtypes TF's V1 writer refuses and for slices over 2 GiB.
    """
    dt = _dt.as_dtype(dtype).base_dtype
    check_writable(dt.as_datatype_enum)
    arr = np.asarray(values, dtype=object if dt.numpy is None else None)
    flat = arr.reshape(-1)
    raw_name = name.encode("utf-8", "surrogateescape") if isinstance(name, str) else bytes(name)
    number = _FIELD_OF[dt.as_datatype_enum]
    if number == _STRING:
        estimate = 1024 + len(raw_name) + sum(
            len(x.encode("utf-8") if isinstance(x, str) else bytes(x)) + 10 for x in flat)
    else:
        estimate = 1024 + len(raw_name) + _MAX_BYTES_PER_ELEMENT[number] * flat.size
    if estimate > MAX_SLICE_BYTES:
        raise InvalidArgumentError(
            f"Tensor slice is too large to serialize (conservative estimate: {estimate} bytes)")
    body = _len_field(1, raw_name) + _len_field(2, _slice_bytes(tslice)) \
        + _len_field(3, _value_field(dt, flat))
    return _len_field(2, body)


@dataclass(frozen=True)
class DecodedSlice:
    """One data record: the tensor name and slice it claims, and its values (flat)."""

    name: str
    slice: TensorSlice
    values: np.ndarray


def decode_slice(buf: Buffer, dtype: _dt.DType | int, count: int) -> DecodedSlice:
    """Parse a data record holding ``count`` values of ``dtype`` (a 1-D array is returned).

    DataLossError if the record is malformed, holds no ``data`` or the wrong
    number of values.
    """
    dt = _dt.as_dtype(dtype).base_dtype
    number = _FIELD_OF.get(dt.as_datatype_enum)
    if number is None:
        raise data_loss(f"V1 checkpoints cannot hold dtype {dt.name}")
    # A memoryview over the record: fixed-width values come back as views, not copies.
    data = memoryview(buf).cast("B") if not isinstance(buf, bytes) else memoryview(buf)
    saved = None
    for n, wire, value, off in _fields(data, 0, len(data), "SavedTensorSlices"):
        if n == 2:
            _expect(wire, 2, "SavedTensorSlices", n, off)
            saved = value
    if saved is None:
        raise data_loss("bad V1 record: no SavedSlice")
    name, tslice, tensor = b"", TensorSlice(()), None
    for n, wire, value, off in _fields(data, saved[0], saved[1], "SavedSlice"):
        if n == 1:
            _expect(wire, 2, "SavedSlice", n, off)
            name = bytes(data[value[0]:value[1]])
        elif n == 2:
            _expect(wire, 2, "SavedSlice", n, off)
            tslice = _decode_tslice(data, value[0], value[1], off)
        elif n == 3:
            _expect(wire, 2, "SavedSlice", n, off)
            tensor = value
    if tensor is None:
        raise data_loss(f"bad V1 record for {name!r}: the slice holds no data")
    values = _decode_values(data, tensor[0], tensor[1], dt, number, count)
    return DecodedSlice(bytes(name).decode("utf-8", "surrogateescape"), tslice, values)


def _decode_values(data: memoryview, start: int, end: int, dt: _dt.DType, number: int,
                   count: int) -> np.ndarray:
    chunks: list[Buffer] = []
    strings: list[bytes] = []
    scalars: list[int] = []
    fixed = _fixed_values(number)
    for n, wire, value, off in _fields(data, start, end, "TensorProto"):
        if n != number:
            continue
        if number == _STRING:
            _expect(wire, 2, "TensorProto", n, off)
            strings.append(bytes(data[value[0]:value[1]]))
        elif fixed is not None:
            if wire == 2 or wire == fixed[1]:
                chunks.append(data[value[0]:value[1]])
            else:
                _expect(wire, 2, "TensorProto", n, off)
        elif wire == 2:
            if scalars:
                chunks.append(_encode_varints(np.array(scalars, dtype=np.uint64)))
                scalars = []
            chunks.append(data[value[0]:value[1]])
        elif wire == 0:
            scalars.append(value)
        else:
            _expect(wire, 2, "TensorProto", n, off)
    what = f"TensorProto values of dtype {dt.name}"
    if number == _STRING:
        out = np.empty(len(strings), dtype=object)
        out[:] = strings
        got = out
    elif fixed is not None:
        raw = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        if len(raw) % fixed[0].itemsize:
            raise data_loss(f"bad {what}: {len(raw)} bytes is not a whole number of values",
                            offset=start)
        vals = np.frombuffer(raw, dtype=fixed[0])
        if number in (_SCOMPLEX, _DCOMPLEX):
            if vals.size % 2:
                raise data_loss(f"bad {what}: odd number of complex parts", offset=start)
            vals = vals.view("<c8" if number == _SCOMPLEX else "<c16")
        got = vals
    else:
        if scalars:
            chunks.append(_encode_varints(np.array(scalars, dtype=np.uint64)))
        ints = _decode_varints(b"".join(chunks), what, start)
        got = _ints_to(dt, number, ints, what, start)
    if got.size != count:
        raise data_loss(f"bad V1 record: {got.size} values of dtype {dt.name} for a slice of "
                        f"{count} elements", offset=start)
    return got


def _ints_to(dt: _dt.DType, number: int, ints: np.ndarray, what: str, offset: int) -> np.ndarray:
    if number == _BOOL:
        return ints != 0
    if number == _HALF:
        return (ints & np.uint64(0xFFFF)).astype("<u2").view("<f2")
    if number in (_UINT32, _UINT64):
        return ints.astype(dt.numpy)
    signed = ints.view(np.int64)
    if number == _INT32:
        # int32 fields: protobuf keeps the low 32 bits; the value is then narrowed to the dtype
        signed = (signed & 0xFFFFFFFF).astype(np.uint32).view(np.int32).astype(np.int64)
    npdt = dt.numpy
    return signed.astype(npdt)

