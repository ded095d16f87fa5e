"""Python values <-> ``AttrValue`` protos, guided by an OpDef attr type.

Operations keep their attrs as ``AttrValue`` protos (so imported graphs export
back unchanged); these helpers build them from Python values when an op is
created and turn them back into Python values for ``Operation.get_attr``.
"""

from __future__ import annotations

from typing import Any

from tensorkeep import dtypes as _dt
from tensorkeep.graph import tensor_util
from tensorkeep.graph.tensor_shape import TensorShape, as_shape
from tensorkeep.proto import attr_value_pb2, tensor_pb2, tensor_shape_pb2

AttrValue = attr_value_pb2.AttrValue


def _as_bytes(v: Any) -> bytes:
    return v.encode("utf-8") if isinstance(v, str) else bytes(v)


def _shape_proto(v: Any) -> tensor_shape_pb2.TensorShapeProto:
    if isinstance(v, tensor_shape_pb2.TensorShapeProto):
        return v
    return as_shape(v).as_proto()


def _tensor_proto(v: Any) -> tensor_pb2.TensorProto:
    if isinstance(v, tensor_pb2.TensorProto):
        return v
    return tensor_util.make_tensor_proto(v)


_TYPE_ATTRS: dict[_dt.DType, AttrValue] = {}


def make_type(dtype: _dt.DType) -> AttrValue:
    """The ``type`` AttrValue of ``dtype``'s base dtype, one shared message per dtype
    (operations replace attrs, never change them in place)."""
    attr = _TYPE_ATTRS.get(dtype)
    if attr is None:
        attr = _TYPE_ATTRS[dtype] = AttrValue(type=dtype.base_dtype.as_datatype_enum)
    return attr


def make(value: Any, attr_type: str) -> AttrValue:
    """An AttrValue of OpDef type ``attr_type`` ("type", "list(int)", ...) holding ``value``."""
    if isinstance(value, AttrValue):
        return value
    if attr_type == "type":  # the most common attr: one constructor call
        return AttrValue(type=_dt.as_dtype(value).base_dtype.as_datatype_enum)
    out = AttrValue()
    if attr_type == "shape":
        out.shape.CopyFrom(_shape_proto(value))
    elif attr_type == "int":
        out.i = int(value)
    elif attr_type == "float":
        out.f = float(value)
    elif attr_type == "bool":
        if not isinstance(value, (bool,)) and type(value).__name__ != "bool_":
            raise TypeError(f"Expected bool for attr, got {value!r} of type {type(value).__name__}")
        out.b = bool(value)
    elif attr_type == "string":
        out.s = _as_bytes(value)
    elif attr_type == "tensor":
        out.tensor.CopyFrom(_tensor_proto(value))
    elif attr_type == "func":
        out.func.name = value if isinstance(value, str) else value.name
    elif attr_type.startswith("list("):
        inner = attr_type[5:-1]
        out.list.SetInParent()
        items = list(value)
        if inner == "type":
            out.list.type.extend(_dt.as_dtype(v).base_dtype.as_datatype_enum for v in items)
        elif inner == "int":
            out.list.i.extend(int(v) for v in items)
        elif inner == "float":
            out.list.f.extend(float(v) for v in items)
        elif inner == "bool":
            out.list.b.extend(bool(v) for v in items)
        elif inner == "string":
            out.list.s.extend(_as_bytes(v) for v in items)
        elif inner == "shape":
            out.list.shape.extend(_shape_proto(v) for v in items)
        elif inner == "tensor":
            out.list.tensor.extend(_tensor_proto(v) for v in items)
        else:
            raise TypeError(f"unsupported attr type {attr_type}")
    else:
        raise TypeError(f"unsupported attr type {attr_type}")
    return out


def guess(value: Any) -> AttrValue:
    """An AttrValue for a Python value when no OpDef says its type."""
    if isinstance(value, AttrValue):
        return value
    if isinstance(value, bool):
        return make(value, "bool")
    if isinstance(value, int):
        return make(value, "int")
    if isinstance(value, float):
        return make(value, "float")
    if isinstance(value, (str, bytes)):
        return make(value, "string")
    if isinstance(value, _dt.DType):
        return make(value, "type")
    if isinstance(value, TensorShape):
        return make(value, "shape")
    if isinstance(value, (list, tuple)):
        if all(isinstance(v, _dt.DType) for v in value) and value:
            return make(value, "list(type)")
        if all(isinstance(v, (str, bytes)) for v in value) and value:
            return make(value, "list(string)")
        if all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            return make(value, "list(int)")
        return make(value, "list(float)")
    raise TypeError(f"Cannot build an AttrValue from {value!r}")


def to_python(value: AttrValue) -> Any:
    """TensorFlow's ``Operation.get_attr`` conversion of one AttrValue."""
    kind = value.WhichOneof("value")
    if kind == "list":
        lst = value.list
        if lst.type:
            return [_dt.from_enum(t) for t in lst.type]
        for field in ("s", "i", "f", "b", "shape", "tensor", "func"):
            items = getattr(lst, field)
            if len(items):
                return list(items)
        return []
    if kind == "type":
        return _dt.from_enum(value.type)
    if kind is None:
        return None
    return getattr(value, kind)
