"""Raw (unframed) Snappy decompression, for SSTable blocks of type 1.

TensorFlow's checkpoint writers never compress blocks, but the table reader
(``tsl/lib/io/format.cc``, ``ReadBlock``) accepts Snappy blocks, so old files may
hold them. Only decompression is provided. Layout (the public Snappy format)::

    uncompressed_length  varint32
    element*             until the input ends
      tag & 3 == 0  literal: n = tag >> 2; n < 60: length n + 1;
                    else the next n - 59 bytes (1..4, LE) hold length - 1;
                    then `length` literal bytes
      tag & 3 == 1  copy: length ((tag >> 2) & 7) + 4, offset ((tag >> 5) << 8) | next byte
      tag & 3 == 2  copy: length (tag >> 2) + 1, offset = next 2 bytes LE
      tag & 3 == 3  copy: length (tag >> 2) + 1, offset = next 4 bytes LE

A copy repeats ``length`` bytes starting ``offset`` bytes back in the output
(overlap allowed: offset < length repeats a pattern).

Every length is checked before use: the declared length must not exceed the
caller's ``max_output`` (a bound derived from the input size), literals and
copies must stay within it, a copy's offset must be 1..bytes-produced, and the
output must end exactly at the declared length. Violations raise
:class:`DataLossError`.
"""

from __future__ import annotations

from typing import Union

from tensorkeep.errors import DataLossError, data_loss
from tensorkeep.format.coding import decode_varint32

Buffer = Union[bytes, bytearray, memoryview]

# The best case for Snappy is a 3-byte copy element producing 64 bytes, so no
# valid stream expands its input more than 64/3 < 22 times.
MAX_EXPANSION = 22


def max_decompressed_length(compressed_size: int) -> int:
    """An upper bound on what a valid Snappy stream of this size can decode to."""
    return compressed_size * MAX_EXPANSION


def decompress(data: Buffer, *, max_output: int, base_offset: int = 0,
               filename: str | None = None, key: bytes | None = None) -> bytes:
    """Decode raw Snappy ``data``; its declared length must be <= ``max_output``.

    ``base_offset`` (the file offset of ``data[0]``), ``filename`` and ``key``
    only locate the bytes in error messages.
    """
    src = bytes(data)
    n = len(src)

    def corrupt(what: str, pos: int) -> DataLossError:
        return data_loss(f"corrupted compressed block contents: {what}", filename=filename,
                         key=key, offset=base_offset + pos)

    try:
        length, p = decode_varint32(src, 0, n, "snappy uncompressed length")
    except DataLossError:
        raise corrupt("bad uncompressed length", 0) from None
    if length > max_output:
        raise corrupt(f"declared length {length} exceeds the limit {max_output}", 0)
    out = bytearray(length)
    op = 0
    while p < n:
        tag = src[p]
        kind = tag & 3
        if kind == 0:
            lit = tag >> 2
            if lit < 60:
                p += 1
                size = lit + 1
            else:
                extra = lit - 59
                if p + 1 + extra > n:
                    raise corrupt("truncated literal length", p)
                size = int.from_bytes(src[p + 1:p + 1 + extra], "little") + 1
                p += 1 + extra
            if p + size > n:
                raise corrupt("literal runs past the input", p)
            if op + size > length:
                raise corrupt("literal runs past the declared length", p)
            out[op:op + size] = src[p:p + size]
            op += size
            p += size
            continue
        if kind == 1:
            if p + 2 > n:
                raise corrupt("truncated copy", p)
            size = ((tag >> 2) & 7) + 4
            offset = ((tag >> 5) << 8) | src[p + 1]
            p += 2
        elif kind == 2:
            if p + 3 > n:
                raise corrupt("truncated copy", p)
            size = (tag >> 2) + 1
            offset = src[p + 1] | (src[p + 2] << 8)
            p += 3
        else:
            if p + 5 > n:
                raise corrupt("truncated copy", p)
            size = (tag >> 2) + 1
            offset = int.from_bytes(src[p + 1:p + 5], "little")
            p += 5
        if offset == 0 or offset > op:
            raise corrupt(f"copy offset {offset} outside the {op} bytes produced", p)
        if op + size > length:
            raise corrupt("copy runs past the declared length", p)
        start = op - offset
        if offset >= size:
            out[op:op + size] = out[start:start + size]
        else:  # overlapping copy: the last `offset` bytes repeat
            pattern = bytes(out[start:op])
            out[op:op + size] = (pattern * (size // offset + 1))[:size]
        op += size
    if op != length:
        raise corrupt(f"produced {op} bytes, declared {length}", n)
    return bytes(out)


__all__ = ["decompress", "max_decompressed_length", "MAX_EXPANSION"]
