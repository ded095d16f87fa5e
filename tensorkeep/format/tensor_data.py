"""Tensor bytes in a bundle data file (tensor_bundle.cc's layout).

Numeric ("memcpy-able") dtypes: exactly ``num_elements * itemsize`` bytes,
row-major, little-endian; ``entry.crc32c = mask(crc32c(bytes))``. bool is one
byte per element; float8 / int4 / int2 / float4 types one byte per element
(ml_dtypes' layout, high bits of sub-byte ints not significant on read).

DT_STRING, for elements s0..s(N-1)::

    varint64 len(s0) ... varint64 len(s(N-1))
    fixed32  mask(C1)           C1 = crc32c of the lengths, each as LE uint32
                                (LE uint64 if the length exceeds 0xFFFFFFFF)
    bytes    s0 || s1 || ... || s(N-1)

    entry.crc32c = mask(C3), C2 = extend(C1, the 4 masked bytes),
                             C3 = extend(C2, all string bytes)

Pure functions: arrays in, buffers out, and back.
"""

from __future__ import annotations

import struct
from typing import Any, Iterable, Sequence, Union

import numpy as np

from tensorkeep import dtypes as _dt
from tensorkeep.errors import InvalidArgumentError, data_loss
from tensorkeep.format.coding import decode_varint, encode_varint
from tensorkeep.format.crc32c import crc32c, mask, unmask

Buffer = Union[bytes, bytearray, memoryview]

_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")


def dtype_of(array: np.ndarray) -> _dt.DType:
    """The bundle dtype of a numpy array (strings: S, U or object arrays of bytes/str)."""
    kind = array.dtype.kind
    if kind in ("S", "U", "O"):
        return _dt.string
    try:
        return _dt.as_dtype(array.dtype)
    except TypeError:
        raise InvalidArgumentError(f"cannot store numpy dtype {array.dtype} in a checkpoint") from None


def numeric_buffer(array: np.ndarray, dtype: _dt.DType) -> memoryview:
    """The tensor's bytes as a flat byte view, without a copy when already C-contiguous LE."""
    want = dtype.numpy
    assert want is not None
    if array.dtype.names is not None:        # TF's structured form of quantized types
        array = array.view(array.dtype[0])
    if array.dtype != want:
        if array.dtype.kind == want.kind and array.dtype.itemsize == want.itemsize and \
                array.dtype.byteorder == ">":
            array = array.astype(want)
        elif array.dtype.newbyteorder("=") != want.newbyteorder("="):
            array = array.astype(want)
    if not array.flags.c_contiguous:
        array = np.ascontiguousarray(array)
    if array.dtype.byteorder == ">":
        array = array.astype(want)
    return memoryview(array.reshape(-1).view(np.uint8))


def string_elements(array: np.ndarray) -> list[bytes]:
    """Elements of a string array as bytes (str is UTF-8 encoded)."""
    flat = array.reshape(-1) if array.ndim else array.reshape(1)
    out: list[bytes] = []
    for x in flat.tolist():
        if isinstance(x, bytes):
            out.append(x)
        elif isinstance(x, str):
            out.append(x.encode("utf-8"))
        elif isinstance(x, (bytearray, memoryview)):
            out.append(bytes(x))
        else:
            raise InvalidArgumentError(
                f"string tensor element of type {type(x).__name__} is neither bytes nor str")
    return out


def encode_strings(elements: Sequence[bytes]) -> tuple[list[bytes], int, int]:
    """(buffers to write, total size, masked entry crc) for a DT_STRING tensor."""
    lengths = [len(s) for s in elements]
    header = b"".join(encode_varint(n) for n in lengths) if lengths else b""
    if all(n <= 0xFFFFFFFF for n in lengths):
        c1 = crc32c(np.asarray(lengths, dtype="<u4").tobytes()) if lengths else 0
    else:
        c1 = 0
        for n in lengths:
            c1 = crc32c(_U32.pack(n) if n <= 0xFFFFFFFF else _U64.pack(n), c1)
    masked = _U32.pack(mask(c1))
    body = b"".join(elements)
    crc = crc32c(body, crc32c(masked, c1))
    return [header + masked, body], len(header) + 4 + len(body), mask(crc)


def decode_strings(buf: Buffer, count: int, *, key: Any = None, offset: int = 0,
                   filename: str | None = None, verify: bool = True,
                   expected_crc: int | None = None) -> list[bytes]:
    """Elements of a DT_STRING tensor stored in ``buf`` (exactly its ``size`` bytes).

    ``count`` comes from the entry's shape; it is checked against the buffer
    (each element needs at least one length byte) before anything is allocated.
    """
    view = memoryview(buf).cast("B") if not isinstance(buf, bytes) else memoryview(buf)
    limit = len(view)
    if count == 0 and limit == 0:
        return []
    if count > limit:
        raise data_loss(f"string tensor of {count} elements cannot fit in {limit} bytes",
                        filename=filename, key=key, offset=offset)
    lengths: list[int] = []
    pos = 0
    c1 = 0
    raw = bytes(view[:min(limit, count * 10)])  # varints are at most 10 bytes each
    rl = len(raw)
    total = 0
    for _ in range(count):
        b = raw[pos] if pos < rl else None
        if b is not None and b < 0x80:
            n = b
            pos += 1
        else:
            try:
                n, pos = decode_varint(raw, pos, rl, what="string length")
            except Exception as exc:
                raise data_loss(f"bad string length varint ({exc})", filename=filename,
                                key=key, offset=offset + pos) from None
        lengths.append(n)
        total += n
    if pos + 4 > limit:
        raise data_loss("string tensor truncated before its length checksum",
                        filename=filename, key=key, offset=offset + pos)
    if total != limit - pos - 4:
        raise data_loss(f"string lengths add up to {total} bytes but {limit - pos - 4} are stored",
                        filename=filename, key=key, offset=offset + pos)
    stored = _U32.unpack_from(view, pos)[0]
    if verify:
        if all(n <= 0xFFFFFFFF for n in lengths):
            c1 = crc32c(np.asarray(lengths, dtype="<u4").tobytes()) if lengths else 0
        else:
            for n in lengths:
                c1 = crc32c(_U32.pack(n) if n <= 0xFFFFFFFF else _U64.pack(n), c1)
        if unmask(stored) != c1:
            raise data_loss("The length checksum does not match", filename=filename, key=key,
                            offset=offset + pos)
        if expected_crc is not None:
            crc = crc32c(view[pos + 4:], crc32c(view[pos:pos + 4], c1))
            if mask(crc) != expected_crc:
                raise data_loss("Checksum does not match", filename=filename, key=key,
                                offset=offset)
    start = pos + 4
    body = bytes(view[start:])
    out: list[bytes] = []
    p = 0
    for n in lengths:
        out.append(body[p:p + n])
        p += n
    return out


def strings_to_array(elements: list[bytes], shape: tuple[int, ...]) -> np.ndarray:
    """An object array of bytes with ``shape`` (0-d for scalars)."""
    arr = np.empty(len(elements), dtype=object)
    arr[:] = elements
    return arr.reshape(shape)


def num_elements(shape: Iterable[int]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


__all__ = ["dtype_of", "numeric_buffer", "string_elements", "encode_strings", "decode_strings",
           "strings_to_array", "num_elements"]
