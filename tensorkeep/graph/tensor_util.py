"""Python/numpy values <-> ``TensorProto`` (the ``value`` attr of ``Const`` nodes).

Encoding follows TensorFlow's ``make_tensor_proto`` (METAGRAPH.md §2.5): when the
value already has the requested number of elements, more than one element, and
a memcpy-able dtype from ``_CONTENT_TYPES``, the raw little-endian bytes go into
``tensor_content``; otherwise the flattened values go into the typed repeated
field of the dtype (``float_val``, ``int_val``, ...). Decoding follows C++
``Tensor::FromProto``: ``tensor_content`` if present, else the typed field with
its last value repeated to fill the shape (zeros when empty).

Python values without a dtype get TensorFlow's inferred dtype: ``float`` ->
float32, ``int`` -> int32 (int64 when out of range), ``bool`` -> bool,
``str``/``bytes`` -> string; numpy arrays keep theirs.
"""

from __future__ import annotations

import math
import sys
from typing import Any

import numpy as np

from tensorkeep import dtypes as _dt
from tensorkeep.format.coding import encode_varint
from tensorkeep.proto import tensor_pb2, tensor_shape_pb2

# dtypes whose multi-element values Python writes to tensor_content (verified on TF 2.21).
_CONTENT_TYPES = frozenset(_dt.as_dtype(n) for n in (
    "float16", "float32", "float64", "int32", "uint8", "int16", "int8", "int64", "qint8",
    "quint8", "qint16", "quint16", "qint32", "uint32", "uint64", "float8_e5m2", "float8_e4m3fn",
    "float8_e4m3fnuz", "float8_e4m3b11fnuz", "float8_e5m2fnuz", "float4_e2m1fn", "bfloat16"))

# dtype name -> TensorProto typed field (METAGRAPH.md §2.5).
_FIELD: dict[str, str] = {
    "float32": "float_val", "float64": "double_val", "int64": "int64_val", "bool": "bool_val",
    "string": "string_val", "complex64": "scomplex_val", "complex128": "dcomplex_val",
    "float16": "half_val", "bfloat16": "half_val", "uint32": "uint32_val", "uint64": "uint64_val",
    "resource": "resource_handle_val", "variant": "variant_val",
}
for _n in ("int32", "int16", "int8", "uint8", "uint16", "qint8", "quint8", "qint16", "quint16",
           "qint32", "int4", "uint4", "int2", "uint2"):
    _FIELD[_n] = "int_val"
for _n in ("float8_e5m2", "float8_e4m3fn", "float8_e4m3fnuz", "float8_e4m3b11fnuz",
           "float8_e5m2fnuz", "float4_e2m1fn"):
    _FIELD[_n] = "float8_val"

_INT32_MIN, _INT32_MAX = -(2 ** 31), 2 ** 31 - 1


def _flatten(value: Any) -> list[Any]:
    if isinstance(value, (list, tuple)):
        out: list[Any] = []
        for v in value:
            out.extend(_flatten(v))
        return out
    return [value]


def infer_dtype(value: Any) -> _dt.DType:
    """TensorFlow's dtype for a Python/numpy value given without a dtype."""
    if isinstance(value, np.ndarray) or isinstance(value, np.generic):
        return _dt.as_dtype(value.dtype)
    if isinstance(value, (bytes, str)):
        return _dt.string
    if isinstance(value, (bool, np.bool_)):
        return _dt.bool
    if isinstance(value, (list, tuple)):
        flat = _flatten(value)
        if not flat:
            return _dt.float32
        kinds = [infer_dtype(v) for v in flat]
        if any(k is _dt.string for k in kinds):
            return _dt.string
        for wide in (_dt.complex128, _dt.float64, _dt.float32, _dt.int64):
            if any(k is wide for k in kinds):
                if wide is _dt.int64 and all(k.is_integer for k in kinds):
                    return _dt.int64
                if wide is not _dt.int64:
                    return wide
        if all(k is _dt.bool for k in kinds):
            return _dt.bool
        if all(k is _dt.int32 for k in kinds):
            return _dt.int32
        return kinds[0]
    if isinstance(value, int):
        return _dt.int32 if _INT32_MIN <= value <= _INT32_MAX else _dt.int64
    if isinstance(value, float):
        return _dt.float32
    if isinstance(value, complex):
        return _dt.complex128
    raise TypeError(f"Failed to convert object of type {type(value)} to Tensor. "
                    f"Contents: {value!r}. Consider casting elements to a supported type.")


def to_numpy(value: Any, dtype: _dt.DType | None = None) -> np.ndarray:
    """A numpy array holding ``value`` with TensorFlow's dtype (object array of bytes for strings)."""
    dtype = infer_dtype(value) if dtype is None else _dt.as_dtype(dtype).base_dtype
    if dtype is _dt.string:
        arr = np.array(value, dtype=object)
        out = np.empty(arr.shape, dtype=object)
        # element by element in C order, one list (a Saver's names: thousands of them)
        out.reshape(-1)[:] = [v.encode("utf-8") if isinstance(v, str) else bytes(v)
                              for v in arr.reshape(-1).tolist()]
        return out
    if dtype.numpy is None:
        raise TypeError(f"Cannot convert {value!r} to a {dtype.name} tensor")
    src = np.asarray(value)
    if src.dtype == object or src.dtype.kind in "SU":
        raise TypeError(f"Cannot convert {value!r} to EagerTensor of dtype {dtype.name}")
    if dtype.is_integer and src.dtype.kind in "fc":
        if not np.all(np.equal(np.mod(src.real, 1), 0)):
            raise TypeError(f"Expected {dtype.name}, but got {value!r} of type "
                            f"'{type(value).__name__}'.")
    if dtype.is_integer and src.dtype.kind in "iub" and src.size:
        info = np.iinfo(dtype.numpy) if dtype.kind != "quantized" and dtype.numpy.kind in "iu" \
            and dtype.itemsize >= 1 and dtype.name not in ("int4", "uint4", "int2", "uint2") else None
        if info is not None and (src.min() < info.min or src.max() > info.max):
            raise TypeError(f"Value out of range for {dtype.name}: {value!r}")
    return np.asarray(src.astype(dtype.numpy.newbyteorder("=")))


# dims -> TensorShapeProto, a template copied into the protos made (never handed out)
_SHAPE_PROTOS: dict[tuple[int, ...], tensor_shape_pb2.TensorShapeProto] = {}


def _shape_proto(dims: tuple[int, ...]) -> tensor_shape_pb2.TensorShapeProto:
    proto = _SHAPE_PROTOS.get(dims)
    if proto is None:
        if len(_SHAPE_PROTOS) >= 1024:
            _SHAPE_PROTOS.clear()
        proto = _SHAPE_PROTOS[dims] = tensor_shape_pb2.TensorShapeProto(
            dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=d) for d in dims])
    return proto


# (numpy dtype, dims) -> (DType, the serialized ``AttrValue{tensor}`` up to its content bytes),
# or None where arrays of that dtype and shape do not take the tensor_content shortcut
_ATTR_HEADS: dict[tuple[np.dtype, tuple[int, ...]], tuple[_dt.DType, bytes] | None] = {}


def array_tensor_attr(values: np.ndarray) -> tuple[bytes, _dt.DType, tuple[int, ...]] | None:
    """``AttrValue(tensor=make_tensor_proto(values))`` serialized, its dtype and dims, for an
    exact ndarray that :func:`fill_tensor_proto` would encode as its own bytes; else None.

    The bytes before the content (AttrValue.tensor tag and length, then TensorProto's
    ``dtype``, ``tensor_shape`` and ``tensor_content`` tag and length, in field order) are
    worked out once per dtype and shape, so a Const of an array is one parse of
    head + bytes rather than a field-by-field fill.
    """
    if type(values) is not np.ndarray:
        return None
    key = (values.dtype, values.shape)
    if key in _ATTR_HEADS:
        head = _ATTR_HEADS[key]
    else:
        head = None
        # fill_tensor_proto's shortcut, decided by dtype and shape alone
        if values.size > 1 and values.dtype.fields is None and (
                values.dtype.byteorder == "<" or (values.dtype.isnative and sys.byteorder == "little")):
            own = _dt.as_dtype(values.dtype)
            if own in _CONTENT_TYPES:
                proto = tensor_pb2.TensorProto(dtype=own.as_datatype_enum)
                proto.tensor_shape.CopyFrom(_shape_proto(values.shape))
                nbytes = values.size * values.dtype.itemsize
                body = proto.SerializeToString(deterministic=True) + b"\x22" + encode_varint(nbytes)
                head = (own, b"\x42" + encode_varint(len(body) + nbytes) + body)
        if len(_ATTR_HEADS) >= 1024:
            _ATTR_HEADS.clear()
        _ATTR_HEADS[key] = head
    if head is None:
        return None
    return head[1] + values.tobytes(), head[0], values.shape


def make_tensor_proto(values: Any, dtype: Any = None, shape: Any = None) -> tensor_pb2.TensorProto:
    """A TensorProto encoding ``values`` exactly as TensorFlow's Python does."""
    proto = tensor_pb2.TensorProto()
    fill_tensor_proto(proto, values, dtype, shape)
    return proto


def fill_tensor_proto(proto: tensor_pb2.TensorProto, values: Any, dtype: Any = None,
                      shape: Any = None) -> tuple[_dt.DType, tuple[int, ...]]:
    """Encode ``values`` into the empty ``proto`` as :func:`make_tensor_proto` does (in place,
    e.g. into an AttrValue's ``tensor``, saving a copy); returns its dtype and dims."""
    dt = None if dtype is None else _dt.as_dtype(dtype).base_dtype
    if type(values) is np.ndarray and shape is None and values.size > 1 and \
            values.dtype.fields is None and (values.dtype.byteorder == "<" or (
                values.dtype.isnative and sys.byteorder == "little")):
        # An array already of the wanted memcpy-able dtype: its own bytes, no conversion.
        own = _dt.as_dtype(values.dtype)
        if (dt is None or dt is own) and own in _CONTENT_TYPES:
            dims = values.shape
            proto.dtype = own.as_datatype_enum
            proto.tensor_shape.CopyFrom(_shape_proto(dims))
            proto.tensor_content = values.tobytes()
            return own, dims
    arr = to_numpy(values, dt)
    dt = _dt.as_dtype(arr.dtype) if dt is None else dt
    if shape is None:
        dims = arr.shape
    else:
        dims = tuple([int(d) for d in (shape if isinstance(shape, (list, tuple)) else list(shape))])
    size = math.prod(dims)
    if arr.size > size:
        raise ValueError(f"Too many elements provided. Takes at most {size:d}, but got {arr.size:d}")
    proto.dtype = dt.as_datatype_enum
    proto.tensor_shape.CopyFrom(_shape_proto(dims))
    if arr.size == size and size > 1 and dt in _CONTENT_TYPES:
        proto.tensor_content = np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder("<")).tobytes()
        return dt, dims
    flat = arr.reshape(-1)
    field = _FIELD.get(dt.name)
    if field is None:
        raise TypeError(f"Cannot make a TensorProto of dtype {dt.name}")
    if field == "string_val":
        proto.string_val.extend(flat.tolist())
    elif field == "half_val":
        proto.half_val.extend(flat.view(np.uint16).astype(np.int32).tolist())
    elif field == "float8_val":
        proto.float8_val = flat.view(np.uint8).tobytes()
    elif field in ("scomplex_val", "dcomplex_val"):
        pairs = np.stack([flat.real, flat.imag], axis=-1).reshape(-1)
        getattr(proto, field).extend(pairs.tolist())
    elif field == "int_val" and dt.name in ("int4", "uint4", "int2", "uint2"):
        proto.int_val.extend(flat.astype(np.int32).tolist())
    else:
        getattr(proto, field).extend(flat.tolist())
    return dt, dims


def make_ndarray(proto: tensor_pb2.TensorProto) -> np.ndarray:
    """Decode a TensorProto to numpy (object array of bytes for strings)."""
    dt = _dt.from_enum(proto.dtype)
    shape = tuple(int(d.size) for d in proto.tensor_shape.dim)
    size = math.prod(shape)
    if dt is _dt.string:
        vals = list(proto.string_val)
        out = np.empty(size, dtype=object)
        for i in range(size):
            out[i] = vals[i] if i < len(vals) else (vals[-1] if vals else b"")
        return out.reshape(shape)
    if dt.numpy is None:
        raise TypeError(f"Cannot decode a TensorProto of dtype {dt.name} to numpy")
    npdt = dt.numpy.newbyteorder("<")
    if proto.tensor_content:
        need = size * npdt.itemsize
        if len(proto.tensor_content) != need:
            raise ValueError(f"tensor_content has {len(proto.tensor_content)} bytes, expected {need} "
                             f"for {dt.name}{list(shape)}")
        return np.frombuffer(proto.tensor_content, dtype=npdt).astype(
            npdt.newbyteorder("=")).reshape(shape)
    field = _FIELD.get(dt.name)
    if field == "half_val":
        raw = np.array(list(proto.half_val), dtype=np.int64).astype(np.uint16).view(dt.numpy)
    elif field == "float8_val":
        raw = np.frombuffer(proto.float8_val, dtype=np.uint8).view(dt.numpy)
    elif field in ("scomplex_val", "dcomplex_val"):
        pairs = np.array(list(getattr(proto, field)), dtype=np.float64).reshape(-1, 2)
        raw = (pairs[:, 0] + 1j * pairs[:, 1]).astype(dt.numpy)
    elif field == "int_val" and dt.name in ("int4", "uint4", "int2", "uint2"):
        raw = np.array(list(proto.int_val), dtype=np.int64).astype(dt.numpy)
    else:
        raw = np.array(list(getattr(proto, field)) if field else [], dtype=dt.numpy.newbyteorder("="))
    out = np.zeros(size, dtype=dt.numpy.newbyteorder("="))
    n = min(len(raw), size)
    if n:
        out[:n] = raw[:n]
        out[n:] = raw[n - 1]
    return out.reshape(shape)
