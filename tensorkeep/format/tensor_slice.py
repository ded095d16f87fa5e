"""Tensor slices: the ``shape_and_slices`` spec strings and ``TensorSliceProto``.

Mirrors ``tensorflow/core/framework/tensor_slice.{h,cc}`` (``TensorSlice``),
``ParseShapeAndSlice`` in ``tensorflow/core/util/saved_tensor_slice_util.cc``,
and Python's ``Variable.SaveSliceInfo.spec``.

Spec string (a ``SaveV2`` ``shape_and_slices`` entry)::

    "d0 d1 ... d{r-1} <slice>"     full shape, then the slice
    <slice> = extent (":" extent)*  extent = "start,length" (length > 0) or "-" (full)
    ""                              the whole tensor, unpartitioned

``TensorSliceProto`` wire format (proto3, package ``tensorflow``)::

    extent  field 1, repeated, length-delimited Extent, one per dimension
      Extent.start   field 1, varint int64, omitted when 0
      Extent.length  field 2, varint int64, in a oneof: emitted whenever set (even 0)

A full dimension is an empty Extent (in memory: start 0, length -1). Slice
[2:4, 0:2] is ``0A 04 08 02 10 02 0A 02 10 02``; a full rank-2 slice is
``0A 00 0A 00``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence, Union

from tensorkeep.errors import DataLossError, InvalidArgumentError, data_loss
from tensorkeep.format.coding import decode_varint64, encode_varint, to_signed64

Buffer = Union[bytes, bytearray, memoryview]

FULL_EXTENT = -1  # TensorSlice::kFullExtent
_INT64_MAX = (1 << 63) - 1
_INTEGER = re.compile(r"\s*[+-]?[0-9]+\s*")  # what TF's safe_strto64 accepts


def _parse_int(text: str) -> int:
    if not _INTEGER.fullmatch(text):
        raise ValueError(text)
    return int(text)


def _is_full(extent: tuple[int, int]) -> bool:
    return extent[1] == FULL_EXTENT


@dataclass(frozen=True)
class TensorSlice:
    """One slice of a tensor: per dimension (start, length), length -1 = the full dimension."""

    extents: tuple[tuple[int, int], ...]

    def __post_init__(self) -> None:
        fixed = []
        for extent in self.extents:
            start, length = int(extent[0]), int(extent[1])
            if length == FULL_EXTENT:
                if start != 0:
                    raise InvalidArgumentError(
                        f"a full extent must start at 0, got ({start}, {length})")
            elif start < 0 or length <= 0 or start + length > _INT64_MAX:
                raise InvalidArgumentError("expected non-negative start and positive length, "
                                           f"got start = {start}, length = {length}")
            fixed.append((start, length))
        object.__setattr__(self, "extents", tuple(fixed))

    @classmethod
    def full(cls, rank: int) -> TensorSlice:
        """The slice covering every dimension of a rank-``rank`` tensor."""
        return cls(((0, FULL_EXTENT),) * rank)

    @property
    def rank(self) -> int:
        return len(self.extents)

    def _check_rank(self, full_shape: Sequence[int]) -> None:
        if len(full_shape) != len(self.extents):
            raise InvalidArgumentError(f"mismatching ranks: shape = {list(full_shape)}, "
                                       f"slice = {self}")

    def slice_shape(self, full_shape: Sequence[int]) -> tuple[int, ...]:
        """Shape of the slice within a tensor of ``full_shape`` (checked to fit)."""
        self._check_rank(full_shape)
        out = []
        for d, ((start, length), dim) in enumerate(zip(self.extents, full_shape)):
            if length == FULL_EXTENT:
                out.append(int(dim))
            elif start + length <= dim:
                out.append(length)
            else:
                raise InvalidArgumentError(f"extent in dimension {d} out of bounds: shape = "
                                           f"{list(full_shape)}, slice = {self}")
        return tuple(out)

    def is_full(self, full_shape: Sequence[int] | None = None) -> bool:
        """True if the slice covers the whole tensor.

        Without a shape: every extent is ``-``. With one: the slice's shape equals
        it (so "0,4" of a 4-long dimension is full), as BundleWriter decides
        whether a slice is stored as an ordinary entry.
        """
        if all(_is_full(e) for e in self.extents):
            return True
        if full_shape is None:
            return False
        return self.slice_shape(full_shape) == tuple(int(d) for d in full_shape)

    def numpy_index(self, full_shape: Sequence[int]) -> tuple[slice, ...]:
        """Python slices selecting this slice from an array of ``full_shape``."""
        self.slice_shape(full_shape)  # validates rank and bounds
        return tuple(slice(0, int(dim)) if length == FULL_EXTENT else slice(start, start + length)
                     for (start, length), dim in zip(self.extents, full_shape))

    def intersect(self, other: TensorSlice) -> TensorSlice | None:
        """The overlap of two slices of the same tensor, or None when they are disjoint."""
        if self.rank != other.rank:
            return None
        out = []
        for a, b in zip(self.extents, other.extents):
            if _is_full(a):
                out.append(b)
            elif _is_full(b):
                out.append(a)
            else:
                start = max(a[0], b[0])
                length = min(a[0] + a[1], b[0] + b[1]) - start
                if length <= 0:
                    return None
                out.append((start, length))
        return TensorSlice(tuple(out))

    def __str__(self) -> str:
        """TF's ``TensorSlice::DebugString``: ``-`` or ``start,length`` joined by ``:``."""
        return ":".join("-" if _is_full(e) else f"{e[0]},{e[1]}" for e in self.extents)

    # -- TensorSliceProto ----------------------------------------------------------------

    def encode(self) -> bytes:
        """Serialized TensorSliceProto, byte-identical to protobuf's output."""
        out = bytearray()
        for start, length in self.extents:
            if length == FULL_EXTENT:
                out += b"\x0a\x00"
                continue
            body = b"\x08" + encode_varint(start) if start else b""  # proto3: 0 is omitted
            body += b"\x10" + encode_varint(length)  # in a oneof: always emitted
            out += b"\x0a" + encode_varint(len(body)) + body
        return bytes(out)

    @classmethod
    def decode(cls, buf: Buffer) -> TensorSlice:
        """Parse a serialized TensorSliceProto (unknown fields are skipped).

        Corruption raises :class:`DataLossError` with offsets relative to ``buf``.
        """
        data = bytes(buf)
        extents = []
        p = 0
        n = len(data)
        while p < n:
            tag_pos = p
            tag, p = decode_varint64(data, p, n, "TensorSliceProto tag")
            if tag == 0x0A:
                size, p = decode_varint64(data, p, n, "TensorSliceProto extent length")
                if p + size > n:
                    raise data_loss("bad TensorSliceProto: extent runs past the end",
                                    offset=tag_pos)
                extents.append(_decode_extent(data, p, p + size))
                p += size
            else:
                p = _skip_field(data, tag, p, n, tag_pos)
        return cls(tuple(extents))


def _decode_extent(data: bytes, begin: int, end: int) -> tuple[int, int]:
    """One Extent from ``data[begin:end]``, validated as TF's BuildTensorSlice does."""
    start = 0
    length = FULL_EXTENT  # no length field: the oneof is unset
    p = begin
    while p < end:
        tag_pos = p
        tag, p = decode_varint64(data, p, end, "Extent tag")
        if tag == 0x08:
            value, p = decode_varint64(data, p, end, "Extent.start")
            start = to_signed64(value)
        elif tag == 0x10:
            value, p = decode_varint64(data, p, end, "Extent.length")
            length = to_signed64(value)
        else:
            p = _skip_field(data, tag, p, end, tag_pos)
    if start != 0 or length != FULL_EXTENT:
        if start < 0 or length <= 0 or start + length > _INT64_MAX:
            raise data_loss("bad TensorSliceProto: expected non-negative start and positive "
                            f"length, got start = {start}, length = {length}", offset=begin)
    return start, length


def _skip_field(data: bytes, tag: int, p: int, end: int, tag_pos: int) -> int:
    """Skip one unknown field's value; returns the position after it."""
    wire = tag & 7
    if tag >> 3 == 0:
        raise data_loss("bad TensorSliceProto: field number 0", offset=tag_pos)
    if wire == 0:
        return decode_varint64(data, p, end, "field")[1]
    if wire == 1:
        size = 8
    elif wire == 5:
        size = 4
    elif wire == 2:
        size, p = decode_varint64(data, p, end, "field length")
    else:
        raise data_loss(f"bad TensorSliceProto: unsupported wire type {wire}", offset=tag_pos)
    if p + size > end:
        raise data_loss("bad TensorSliceProto: field runs past the end", offset=tag_pos)
    return p + size


def parse_spec(spec: str) -> tuple[tuple[int, ...], TensorSlice]:
    """Parse a ``shape_and_slices`` string such as ``"4 2 0,2:0,2"``.

    Returns (full shape, slice). The empty string means "the whole tensor,
    unpartitioned": it returns ``((), TensorSlice(()))``, whose slice is full
    for any shape. Malformed specs raise :class:`InvalidArgumentError`.
    """
    if spec == "":
        return (), TensorSlice(())
    parts = spec.split(" ")
    if len(parts) < 2:
        raise InvalidArgumentError(
            f"need at least two elements in shape_and_slice specification: {spec!r}")
    shape = []
    for item in parts[:-1]:
        try:
            dim = _parse_int(item)
        except ValueError:
            raise InvalidArgumentError(
                f"non numerical dimension in shape_and_slice: {spec!r}") from None
        if dim < 0:
            raise InvalidArgumentError(f"negative dimension in shape_and_slice: {spec!r}")
        shape.append(dim)
    extents = []
    for item in (x for x in parts[-1].split(":") if x):
        if item == "-":
            extents.append((0, FULL_EXTENT))
            continue
        pair = [x for x in item.split(",") if x]
        try:
            if len(pair) != 2:
                raise ValueError
            start, length = _parse_int(pair[0]), _parse_int(pair[1])
        except ValueError:
            raise InvalidArgumentError(
                f"expected a pair of numbers or '-' but got {item!r}: string = {spec!r}") from None
        if start < 0 or length <= 0:
            raise InvalidArgumentError("expected non-negative start and positive length but got "
                                       f"start = {start}, length = {length}: string = {spec!r}")
        extents.append((start, length))
    sl = TensorSlice(tuple(extents))
    sl.slice_shape(shape)  # the slice must fit the shape
    return tuple(shape), sl


def spec_string(full_shape: Sequence[int], tensor_slice: TensorSlice) -> str:
    """The spec Python's ``SaveSliceInfo.spec`` writes: explicit ``offset,size`` everywhere."""
    sizes = tensor_slice.slice_shape(full_shape)
    offsets = [0 if _is_full(e) else e[0] for e in tensor_slice.extents]
    return (" ".join(str(int(d)) for d in full_shape) + " "
            + ":".join(f"{o},{s}" for o, s in zip(offsets, sizes)))


__all__ = ["TensorSlice", "FULL_EXTENT", "parse_spec", "spec_string"]
