"""TensorFlow's OrderedCode primitives and the slice keys built from them.

Mirrors ``tensorflow/core/lib/strings/ordered_code.cc`` and
``EncodeTensorNameSlice`` / ``DecodeTensorNameSlice`` in
``tensorflow/core/util/saved_tensor_slice_util.cc``. Encodings sort bytewise in
the order of the values they encode.

NumIncreasing (uint64)::

    L           1 byte, number of significant bytes of u (0..8)
    u           L bytes big-endian, no leading zero bytes     0 -> 00, 300 -> 02 01 2C

String::

    each byte of s, with 00 -> 00 FF and FF -> FF 00, then the terminator 00 01

SignedNumIncreasing (int64): let x = v if v >= 0 else ~v. L (1..10) is the
smallest length with x < 2**(7L - 1). The encoding is the last L bytes of v's
big-endian two's-complement form with header bits XORed into its first two
bytes::

    L    1     2      3      4      5      6      7      8      9      10
    hdr  80    C0 00  E0 00  F0 00  F8 00  FC 00  FE 00  FF 00  FF 80  FF C0

so 0 -> 80, -1 -> 7F, 64 -> C0 40, -65 -> 3F BF, 2**20 -> F0 10 00 00. A first
byte with its top bit clear means v < 0 (decode normalises by XOR 0xFF).

Slice key (a partitioned tensor's slice entry in a V2 bundle, every V1 data key)::

    NumIncreasing(0) || String(name) || NumIncreasing(rank)
    || for each dimension: SignedNumIncreasing(start) || SignedNumIncreasing(length)

where a full dimension is start 0, length -1. Decoding requires the leading 0
and rank > 0, and treats any negative length as a full dimension.
"""

from __future__ import annotations

import re
from typing import Sequence, Union

from tensorkeep.errors import data_loss

Buffer = Union[bytes, bytearray, memoryview]

_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1
_UINT64_MAX = (1 << 64) - 1

# Header bits of a SignedNumIncreasing encoding of length L, as an L-byte integer
# to XOR into its big-endian body (index = L).
_HEADER = [0, 0x80] + [h << (8 * (n - 2)) for n, h in zip(
    range(2, 11), (0xC000, 0xE000, 0xF000, 0xF800, 0xFC00, 0xFE00, 0xFF00, 0xFF80, 0xFFC0))]

_ESCAPED = re.compile(b"[\x00\xff]")
_FULL_EXTENT = -1  # TensorSlice::kFullExtent


# -- NumIncreasing -------------------------------------------------------------------------

def encode_num_increasing(value: int) -> bytes:
    """Length byte + big-endian significant bytes of an unsigned 64-bit int."""
    if not 0 <= value <= _UINT64_MAX:
        raise ValueError(f"NumIncreasing needs a uint64, got {value}")
    n = (value.bit_length() + 7) // 8
    return bytes((n,)) + value.to_bytes(n, "big")


def decode_num_increasing(buf: Buffer, pos: int = 0, *,
                          key: bytes | None = None) -> tuple[int, int]:
    """Decode a NumIncreasing at ``pos``; returns (value, position after it)."""
    if pos >= len(buf):
        raise data_loss("bad ordered code: truncated number", key=key, offset=pos)
    n = buf[pos]
    if n > 8:
        raise data_loss(f"bad ordered code: number length {n} > 8", key=key, offset=pos)
    end = pos + 1 + n
    if end > len(buf):
        raise data_loss("bad ordered code: truncated number", key=key, offset=pos)
    return int.from_bytes(buf[pos + 1:end], "big"), end


# -- String --------------------------------------------------------------------------------

def encode_string(value: bytes | str) -> bytes:
    """Escape 00 -> 00 FF and FF -> FF 00, then append the 00 01 terminator."""
    raw = value.encode("utf-8") if isinstance(value, str) else bytes(value)
    return _ESCAPED.sub(_escape, raw) + b"\x00\x01"


def _escape(match: re.Match[bytes]) -> bytes:
    return b"\x00\xff" if match.group() == b"\x00" else b"\xff\x00"


def decode_string(buf: Buffer, pos: int = 0, *, key: bytes | None = None) -> tuple[bytes, int]:
    """Decode an OrderedCode string at ``pos``; returns (bytes, position after it)."""
    data = bytes(buf)
    out = []
    p = pos
    n = len(data)
    while True:
        m = _ESCAPED.search(data, p)
        if m is None or m.start() + 1 >= n:
            raise data_loss("bad ordered code: unterminated string", key=key, offset=pos)
        i = m.start()
        out.append(data[p:i])
        nxt = data[i + 1]
        if data[i] == 0:
            if nxt == 0x01:
                return b"".join(out), i + 2
            if nxt != 0xFF:
                raise data_loss(f"bad ordered code: 00 {nxt:02X} in a string", key=key, offset=i)
            out.append(b"\x00")
        else:
            if nxt != 0x00:
                raise data_loss(f"bad ordered code: FF {nxt:02X} in a string", key=key, offset=i)
            out.append(b"\xff")
        p = i + 2


# -- SignedNumIncreasing -------------------------------------------------------------------

def _signed_length(value: int) -> int:
    x = value if value >= 0 else ~value
    # smallest L with x < 2**(7L - 1), i.e. with bit_length(x) <= 7L - 1
    return x.bit_length() // 7 + 1


def encode_signed_num_increasing(value: int) -> bytes:
    """Order-preserving variable-length encoding of an int64 (1..10 bytes)."""
    if not _INT64_MIN <= value <= _INT64_MAX:
        raise ValueError(f"SignedNumIncreasing needs an int64, got {value}")
    n = _signed_length(value)
    body = value & ((1 << (8 * n)) - 1)
    return (body ^ _HEADER[n]).to_bytes(n, "big")


def decode_signed_num_increasing(buf: Buffer, pos: int = 0, *,
                                 key: bytes | None = None) -> tuple[int, int]:
    """Decode a SignedNumIncreasing at ``pos``; returns (value, position after it)."""
    size = len(buf)
    if pos >= size:
        raise data_loss("bad ordered code: truncated signed number", key=key, offset=pos)
    flip = 0x00 if buf[pos] & 0x80 else 0xFF  # top bit clear: negative, normalise by XOR
    first = buf[pos] ^ flip
    if first != 0xFF:
        n = 8 - (first ^ 0xFF).bit_length()  # the number of leading 1-bits of `first`
    else:
        if pos + 2 > size:
            raise data_loss("bad ordered code: truncated signed number", key=key, offset=pos)
        second = buf[pos + 1] ^ flip
        if second < 0x80:
            n = 8
        elif second < 0xC0:
            n = 9
        else:
            if pos + 3 > size:
                raise data_loss("bad ordered code: truncated signed number", key=key, offset=pos)
            third = buf[pos + 2] ^ flip
            if second != 0xC0 or third >= 0x80:
                raise data_loss("bad ordered code: signed number longer than 64 bits",
                                key=key, offset=pos)
            n = 10
    end = pos + n
    if end > size:
        raise data_loss("bad ordered code: truncated signed number", key=key, offset=pos)
    body = int.from_bytes(buf[pos:end], "big") ^ _HEADER[n]
    if body >> (8 * n - 1):  # sign bit of the n-byte two's complement
        body -= 1 << (8 * n)
    return body, end


# -- slice keys ----------------------------------------------------------------------------

def encode_tensor_name_slice(name: str | bytes, extents: Sequence[tuple[int, int]]) -> bytes:
    """The table key of one slice of tensor ``name``; extent = (start, length), length -1 = full."""
    if not extents:
        raise ValueError("a slice key needs rank > 0 (a scalar cannot be sliced)")
    parts = [b"\x00", encode_string(name), encode_num_increasing(len(extents))]
    for start, length in extents:
        if length < 0:
            start, length = 0, _FULL_EXTENT
        parts.append(encode_signed_num_increasing(start))
        parts.append(encode_signed_num_increasing(length))
    return b"".join(parts)


def decode_tensor_name_slice(key: Buffer) -> tuple[bytes, list[tuple[int, int]]]:
    """Split a slice key into (tensor name, extents); a full dimension is (0, -1).

    Bytes after the last extent are ignored, as TF does. Errors name the key.
    """
    data = bytes(key)
    lead, p = decode_num_increasing(data, 0, key=data)
    if lead != 0:
        raise data_loss(f"bad slice key: leading number is {lead}, not 0", key=data, offset=0)
    name, p = decode_string(data, p, key=data)
    rank_pos = p
    rank, p = decode_num_increasing(data, p, key=data)
    if rank == 0:
        raise data_loss("bad slice key: rank 0 (a scalar cannot be sliced)", key=data,
                        offset=rank_pos)
    if rank > len(data):  # each dimension takes at least two bytes
        raise data_loss(f"bad slice key: rank {rank} does not fit in the key", key=data,
                        offset=rank_pos)
    extents = []
    for _ in range(rank):
        start, p = decode_signed_num_increasing(data, p, key=data)
        length, p = decode_signed_num_increasing(data, p, key=data)
        extents.append((start, length) if length >= 0 else (0, _FULL_EXTENT))
    return name, extents


__all__ = ["encode_num_increasing", "decode_num_increasing", "encode_string", "decode_string",
           "encode_signed_num_increasing", "decode_signed_num_increasing",
           "encode_tensor_name_slice", "decode_tensor_name_slice"]
