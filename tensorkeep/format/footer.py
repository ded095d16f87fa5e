"""SSTable block handle and footer (``tsl/lib/io/format.h`` / ``format.cc``).

BlockHandle (at most 20 bytes)::

    offset  varint64   file offset of the block's first byte
    size    varint64   block length, excluding its 5-byte trailer

Footer (exactly 48 bytes, the last 48 bytes of every table file)::

    metaindex_handle  BlockHandle
    index_handle      BlockHandle
    zero padding      up to byte 40
    magic             fixed64 LE 0xDB4775248B80FB57  (bytes 57 FB 80 8B 24 75 47 DB)

A reader checks the magic first, then decodes the two handles; any bytes
between the handles and the magic are ignored.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Union

from tensorkeep.errors import DataLossError, data_loss
from tensorkeep.format.coding import decode_varint64, encode_varint

Buffer = Union[bytes, bytearray, memoryview]

TABLE_MAGIC_NUMBER = 0xDB4775248B80FB57  # kTableMagicNumber (LevelDB's, reused by TF)
FOOTER_LENGTH = 48  # Footer::kEncodedLength = 2 * BlockHandle::kMaxEncodedLength + 8
BLOCK_HANDLE_MAX_LENGTH = 20  # two varint64s of at most 10 bytes each
BLOCK_TRAILER_SIZE = 5  # kBlockTrailerSize: 1 type byte + fixed32 masked crc

_MAGIC = struct.Struct("<Q")


@dataclass(frozen=True)
class BlockHandle:
    """Where a block lives in the file: ``offset`` and ``size`` (trailer excluded)."""

    offset: int
    size: int

    def encode(self) -> bytes:
        return encode_varint(self.offset) + encode_varint(self.size)

    @classmethod
    def decode_from(cls, buf: Buffer, pos: int = 0, limit: int | None = None, *,
                    base_offset: int = 0, filename: str | None = None,
                    key: bytes | None = None) -> tuple[BlockHandle, int]:
        """Decode a handle at ``buf[pos:limit]``; returns it and the position after it.

        ``base_offset`` is the file offset of ``buf[0]``, used in error messages.
        """
        if limit is None:
            limit = len(buf)
        try:
            offset, p = decode_varint64(buf, pos, limit)
            size, p = decode_varint64(buf, p, limit)
        except DataLossError:
            raise data_loss("bad block handle", filename=filename, key=key,
                            offset=base_offset + pos) from None
        return cls(offset, size), p

    @classmethod
    def decode(cls, buf: Buffer, *, base_offset: int = 0, filename: str | None = None,
               key: bytes | None = None) -> BlockHandle:
        """Decode a handle from the start of ``buf``; trailing bytes are ignored."""
        return cls.decode_from(buf, 0, len(buf), base_offset=base_offset, filename=filename,
                               key=key)[0]


@dataclass(frozen=True)
class Footer:
    """The two handles every table ends with (plus padding and the magic number)."""

    metaindex_handle: BlockHandle
    index_handle: BlockHandle

    def encode(self) -> bytes:
        handles = self.metaindex_handle.encode() + self.index_handle.encode()
        return handles + bytes(40 - len(handles)) + _MAGIC.pack(TABLE_MAGIC_NUMBER)

    @classmethod
    def decode(cls, buf: Buffer, *, base_offset: int = 0,
               filename: str | None = None) -> Footer:
        """Decode the 48-byte footer ``buf`` (found at file offset ``base_offset``)."""
        if len(buf) != FOOTER_LENGTH:
            raise data_loss("not an sstable (bad magic number): "
                            f"footer is {len(buf)} bytes, expected {FOOTER_LENGTH}",
                            filename=filename, offset=base_offset)
        magic = _MAGIC.unpack_from(buf, 40)[0]
        if magic != TABLE_MAGIC_NUMBER:
            raise data_loss(f"not an sstable (bad magic number {magic:#018x})",
                            filename=filename, offset=base_offset + 40)
        meta, p = BlockHandle.decode_from(buf, 0, FOOTER_LENGTH, base_offset=base_offset,
                                          filename=filename)
        index, _ = BlockHandle.decode_from(buf, p, FOOTER_LENGTH, base_offset=base_offset,
                                           filename=filename)
        return cls(meta, index)


__all__ = ["BlockHandle", "Footer", "TABLE_MAGIC_NUMBER", "FOOTER_LENGTH",
           "BLOCK_HANDLE_MAX_LENGTH", "BLOCK_TRAILER_SIZE"]
