"""Varint and fixed-width integer coding (LevelDB's coding.h, protobuf's wire varints).

``varint``: base-128, low 7-bit group first, high bit set on every byte but the
last; at most 5 bytes for a varint32 and 10 for a varint64. ``fixed32`` /
``fixed64``: little-endian.

Decoders take ``(buf, pos, limit)`` and return ``(value, new_pos)``; they never
read past ``limit`` and raise :class:`tensorkeep.errors.DataLossError` naming the
offset (and ``what`` was being read) on truncated or overlong input.
"""

from __future__ import annotations

import struct
from typing import Union

from tensorkeep.errors import data_loss

Buffer = Union[bytes, bytearray, memoryview]

_FIXED32 = struct.Struct("<I")
_FIXED64 = struct.Struct("<Q")


def encode_varint(value: int) -> bytes:
    """Varint bytes of a non-negative int (< 2**64)."""
    if value < 0x80:
        if value < 0:
            raise ValueError(f"varint of a negative value: {value}")
        return bytes((value,))
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def encode_signed_varint64(value: int) -> bytes:
    """Protobuf int64 encoding: negative values as their 64-bit two's complement."""
    return encode_varint(value & 0xFFFFFFFFFFFFFFFF if value < 0 else value)


def decode_varint(buf: Buffer, pos: int, limit: int, *, max_bytes: int = 10,
                  what: str = "varint") -> tuple[int, int]:
    """Decode a varint of at most ``max_bytes`` bytes from ``buf[pos:limit]``."""
    result = 0
    shift = 0
    end = min(limit, pos + max_bytes)
    p = pos
    while p < end:
        b = buf[p]
        p += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            if max_bytes == 10 and result >= 1 << 64:
                raise data_loss(f"bad {what}: value exceeds 64 bits", offset=pos)
            if max_bytes == 5 and result >= 1 << 32:
                raise data_loss(f"bad {what}: value exceeds 32 bits", offset=pos)
            return result, p
        shift += 7
    if p >= limit and end == limit and p - pos < max_bytes:
        raise data_loss(f"truncated {what}", offset=pos)
    raise data_loss(f"bad {what}: more than {max_bytes} bytes", offset=pos)


def decode_varint32(buf: Buffer, pos: int, limit: int, what: str = "varint32") -> tuple[int, int]:
    return decode_varint(buf, pos, limit, max_bytes=5, what=what)


def decode_varint64(buf: Buffer, pos: int, limit: int, what: str = "varint64") -> tuple[int, int]:
    return decode_varint(buf, pos, limit, max_bytes=10, what=what)


def to_signed64(value: int) -> int:
    """Reinterpret a decoded uint64 as int64 (protobuf int64 fields)."""
    return value - (1 << 64) if value >= 1 << 63 else value


def encode_fixed32(value: int) -> bytes:
    return _FIXED32.pack(value)


def encode_fixed64(value: int) -> bytes:
    return _FIXED64.pack(value)


def decode_fixed32(buf: Buffer, pos: int, limit: int, what: str = "fixed32") -> int:
    if pos < 0 or pos + 4 > limit:
        raise data_loss(f"truncated {what}", offset=pos)
    return _FIXED32.unpack_from(buf, pos)[0]


def decode_fixed64(buf: Buffer, pos: int, limit: int, what: str = "fixed64") -> int:
    if pos < 0 or pos + 8 > limit:
        raise data_loss(f"truncated {what}", offset=pos)
    return _FIXED64.unpack_from(buf, pos)[0]


__all__ = ["encode_varint", "encode_signed_varint64", "decode_varint", "decode_varint32",
           "decode_varint64", "to_signed64", "encode_fixed32", "encode_fixed64",
           "decode_fixed32", "decode_fixed64"]
