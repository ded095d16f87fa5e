"""Static shapes: ``TensorShape`` (TensorFlow's name), possibly partially known.

A shape is either of unknown rank (``dims is None``) or a tuple of dimensions,
each an ``int`` or ``None`` (unknown). ``TensorShapeProto`` (METAGRAPH.md §2.4)
encodes unknown rank as ``unknown_rank: true`` and an unknown dimension as -1.
"""

from __future__ import annotations

from typing import Any, Iterator

from tensorkeep.proto import tensor_shape_pb2


class TensorShape:
    """A possibly partial static shape; compares equal to lists/tuples of ints."""

    __slots__ = ("_dims",)

    def __init__(self, dims: Any = None) -> None:
        if isinstance(dims, TensorShape):
            self._dims: tuple[int | None, ...] | None = dims._dims
        elif dims is None:
            self._dims = None
        elif isinstance(dims, tensor_shape_pb2.TensorShapeProto):
            if dims.unknown_rank:
                self._dims = None
            else:
                sizes = tuple([d.size for d in dims.dim])
                self._dims = sizes if not sizes or min(sizes) >= 0 else tuple(
                    None if d < 0 else d for d in sizes)
        else:
            try:
                it = list(dims)
            except TypeError:
                it = [dims]
            self._dims = tuple(None if d is None or (not isinstance(d, str) and int(d) < 0)
                               else int(d) for d in it)

    # --- queries -----------------------------------------------------------
    @property
    def dims(self) -> list[int | None] | None:
        return None if self._dims is None else list(self._dims)

    @property
    def ndims(self) -> int | None:
        return None if self._dims is None else len(self._dims)

    rank = ndims

    def is_fully_defined(self) -> bool:
        return self._dims is not None and None not in self._dims

    def as_list(self) -> list[int | None]:
        if self._dims is None:
            raise ValueError("as_list() is not defined on an unknown TensorShape.")
        return list(self._dims)

    def num_elements(self) -> int | None:
        if not self.is_fully_defined():
            return None
        n = 1
        for d in self._dims or ():
            n *= d  # type: ignore[operator]
        return n

    def is_compatible_with(self, other: Any) -> bool:
        other = as_shape(other)
        if self._dims is None or other._dims is None:
            return True
        if len(self._dims) != len(other._dims):
            return False
        return all(a is None or b is None or a == b for a, b in zip(self._dims, other._dims))

    def assert_is_compatible_with(self, other: Any) -> None:
        if not self.is_compatible_with(other):
            raise ValueError(f"Shapes {self} and {as_shape(other)} are incompatible")

    def merge_with(self, other: Any) -> "TensorShape":
        if type(other) is not TensorShape:
            other = as_shape(other)
        if other is self or self._dims == other._dims:
            return self
        if self._dims is None:
            return other
        if other._dims is None:
            return self
        self.assert_is_compatible_with(other)
        return TensorShape([a if a is not None else b for a, b in zip(self._dims, other._dims)])

    def concatenate(self, other: Any) -> "TensorShape":
        other = as_shape(other)
        if self._dims is None or other._dims is None:
            return TensorShape(None)
        return TensorShape(self._dims + other._dims)

    def with_rank(self, rank: int) -> "TensorShape":
        if self._dims is None:
            return TensorShape([None] * rank)
        if len(self._dims) != rank:
            raise ValueError(f"Shape {self} must have rank {rank}")
        return self

    def as_proto(self) -> tensor_shape_pb2.TensorShapeProto:
        if self._dims is None:
            return tensor_shape_pb2.TensorShapeProto(unknown_rank=True)
        return tensor_shape_pb2.TensorShapeProto(dim=[
            tensor_shape_pb2.TensorShapeProto.Dim(size=-1 if d is None else d) for d in self._dims])

    # --- sequence protocol ---------------------------------------------------
    def __len__(self) -> int:
        if self._dims is None:
            raise ValueError("Cannot take the length of shape with unknown rank.")
        return len(self._dims)

    def __iter__(self) -> Iterator[int | None]:
        if self._dims is None:
            raise ValueError("Cannot iterate over a shape with unknown rank.")
        return iter(self._dims)

    def __getitem__(self, key: Any) -> Any:
        if self._dims is None:
            return TensorShape(None) if isinstance(key, slice) else None
        if isinstance(key, slice):
            return TensorShape(self._dims[key])
        return self._dims[key]

    def __bool__(self) -> bool:
        return self._dims is not None

    def __eq__(self, other: object) -> bool:
        try:
            other = as_shape(other)
        except (TypeError, ValueError):
            return NotImplemented
        return self._dims == other._dims

    def __ne__(self, other: object) -> bool:
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    def __hash__(self) -> int:
        return hash(self._dims)

    def __repr__(self) -> str:
        return "TensorShape(None)" if self._dims is None else f"TensorShape({list(self._dims)})"

    def __str__(self) -> str:
        if self._dims is None:
            return "<unknown>"
        inner = ", ".join("?" if d is None else str(d) for d in self._dims)
        return f"({inner},)" if len(self._dims) == 1 else f"({inner})"


def as_shape(value: Any) -> TensorShape:
    return value if isinstance(value, TensorShape) else TensorShape(value)


# dims, or a serialized TensorShapeProto -> its TensorShape (see shared)
_SHARED: dict[Any, TensorShape] = {}
_MAX_SHARED = 2048


def shared(dims: tuple[int | None, ...]) -> TensorShape:
    """The TensorShape of ``dims`` (ints, or None where unknown), one instance per distinct
    dims: TensorShapes are immutable, and a graph's tensors mostly have few distinct shapes
    (fewer objects for the garbage collector to walk)."""
    shape = _SHARED.get(dims)
    if shape is None:
        shape = _share(dims, TensorShape(dims))
    return shape


def shared_from_proto(proto: tensor_shape_pb2.TensorShapeProto) -> TensorShape:
    """``TensorShape(proto)``, shared as :func:`shared` shares (keyed by the proto's bytes:
    serializing a shape is cheaper than reading its dims)."""
    key = proto.SerializeToString()
    shape = _SHARED.get(key)
    if shape is None:
        shape = _share(key, TensorShape(proto))
    return shape


def _share(key: Any, shape: TensorShape) -> TensorShape:
    if len(_SHARED) >= _MAX_SHARED:
        _SHARED.clear()
    _SHARED[key] = shape
    return shape


def unknown_shape(rank: int | None = None) -> TensorShape:
    return TensorShape(None if rank is None else [None] * rank)


def scalar() -> TensorShape:
    return TensorShape([])


def broadcast_shape(a: TensorShape, b: TensorShape) -> TensorShape:
    """Static numpy-style broadcast of two shapes (unknown where undecidable)."""
    if a.ndims is None or b.ndims is None:
        return TensorShape(None)
    x, y = a.as_list(), b.as_list()
    n = max(len(x), len(y))
    x = [1] * (n - len(x)) + x
    y = [1] * (n - len(y)) + y
    out: list[int | None] = []
    for p, q in zip(x, y):
        if p == 1:
            out.append(q)
        elif q == 1:
            out.append(p)
        elif p is None or q is None:
            out.append(p if q is None else q)
        elif p == q:
            out.append(p)
        else:
            raise ValueError(f"Dimensions must be equal, but are {p} and {q} "
                             f"for shapes {a} and {b}")
    return TensorShape(out)


Dimension = int  # TF1 code sometimes calls tf.Dimension(n); plain ints stand in.
