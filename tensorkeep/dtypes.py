"""The one dtype table: TensorFlow's DataType enum, numpy dtypes, element sizes.

Every other module asks this table; nothing else maps enum values to numpy.
Values and names are TensorFlow's (types.proto, verified on TF 2.21: 0-33,
reference types = base + 100). The bfloat16 / float8 / 4-bit / 2-bit types come
from ml_dtypes; TensorFlow stores each of their elements in one byte (two for
bfloat16). ml_dtypes takes ~0.8 s to import here, so it is imported when one of
those types' numpy dtype is first needed (``DType.numpy``, or a numpy dtype the
table does not know yet), not with tensorkeep.
"""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

_REF_OFFSET = 100


@dataclass(frozen=True, eq=False)
class DType:
    """A TensorFlow dtype: enum value, names, numpy equivalent, element size.

    Mirrors ``tf.DType``'s public surface (``name``, ``as_datatype_enum``,
    ``as_numpy_dtype``, ``base_dtype``, ``is_floating`` ...). Reference types
    (``float32_ref``) are separate instances whose ``base_dtype`` is the value type.
    """

    as_datatype_enum: int
    name: str                      # TF's Python name: 'float32', 'float32_ref'
    enum_name: str                 # proto enum name: 'DT_FLOAT', 'DT_FLOAT_REF'
    numpy: np.dtype | None = field(repr=False)   # None: string/resource/variant
    itemsize: int                  # bytes per element in a bundle; 0 = variable-length
    kind: str = field(repr=False)  # 'float' 'int' 'uint' 'complex' 'bool' 'string' 'quantized' 'other'

    @property
    def base_dtype(self) -> "DType":
        if self.as_datatype_enum > _REF_OFFSET:
            return _BY_ENUM[self.as_datatype_enum - _REF_OFFSET]
        return self

    @property
    def _as_ref(self) -> "DType":
        if self.is_ref_dtype:
            return self
        return _BY_ENUM[self.as_datatype_enum + _REF_OFFSET]

    @property
    def is_ref_dtype(self) -> bool:
        return self.as_datatype_enum > _REF_OFFSET

    @property
    def as_numpy_dtype(self) -> Any:
        base = self.base_dtype
        if base.numpy is None:
            return np.object_
        return base.numpy.type

    @property
    def is_floating(self) -> bool:
        return self.base_dtype.kind == "float"

    @property
    def is_integer(self) -> bool:
        return self.base_dtype.kind in ("int", "uint")

    @property
    def is_unsigned(self) -> bool:
        return self.base_dtype.kind == "uint"

    @property
    def is_complex(self) -> bool:
        return self.base_dtype.kind == "complex"

    @property
    def is_bool(self) -> bool:
        return self.base_dtype.kind == "bool"

    @property
    def is_quantized(self) -> bool:
        return self.base_dtype.kind == "quantized"

    @property
    def is_numpy_compatible(self) -> bool:
        return self.base_dtype.numpy is not None

    @property
    def is_memcpyable(self) -> bool:
        """True when a tensor is stored as its raw little-endian element bytes."""
        return self.base_dtype.itemsize > 0

    @property
    def size(self) -> int:
        return self.base_dtype.itemsize

    @property
    def min(self) -> Any:
        n = self.base_dtype.numpy
        if n is None or self.kind in ("complex", "string", "other"):
            raise TypeError(f"Cannot find minimum value of {self.name}.")
        return np.finfo(n).min if self.kind == "float" else (
            False if self.kind == "bool" else np.iinfo(n).min)

    @property
    def max(self) -> Any:
        n = self.base_dtype.numpy
        if n is None or self.kind in ("complex", "string", "other"):
            raise TypeError(f"Cannot find maximum value of {self.name}.")
        return np.finfo(n).max if self.kind == "float" else (
            True if self.kind == "bool" else np.iinfo(n).max)

    def is_compatible_with(self, other: Any) -> bool:
        other = as_dtype(other)
        return self.base_dtype is other.base_dtype

    def __eq__(self, other: object) -> bool:
        if isinstance(other, DType):
            return self is other
        try:
            return self is as_dtype(other)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return False

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    def __hash__(self) -> int:
        return self.as_datatype_enum

    def __repr__(self) -> str:
        return f"tf.{self.name}"

    def __str__(self) -> str:
        return f"<dtype: {self.name!r}>"

    def __reduce__(self) -> Any:
        return (as_dtype, (self.as_datatype_enum,))

    def __getattr__(self, name: str) -> Any:
        # Reached only for an attribute not set: ``numpy`` of an ml_dtypes type not
        # yet loaded (see load_ml_dtypes).
        enum = self.__dict__.get("as_datatype_enum")
        if name == "numpy" and enum is not None and enum % _REF_OFFSET in _ML_DTYPES:
            load_ml_dtypes()
            return object.__getattribute__(self, "numpy")
        raise AttributeError(f"'DType' object has no attribute '{name}'")


# (enum, python name, enum name, numpy dtype, bundle itemsize, kind)
_TABLE: list[tuple[int, str, str, np.dtype | None, int, str]] = [
    (1, "float32", "DT_FLOAT", np.dtype("<f4"), 4, "float"),
    (2, "float64", "DT_DOUBLE", np.dtype("<f8"), 8, "float"),
    (3, "int32", "DT_INT32", np.dtype("<i4"), 4, "int"),
    (4, "uint8", "DT_UINT8", np.dtype("u1"), 1, "uint"),
    (5, "int16", "DT_INT16", np.dtype("<i2"), 2, "int"),
    (6, "int8", "DT_INT8", np.dtype("i1"), 1, "int"),
    (7, "string", "DT_STRING", None, 0, "string"),
    (8, "complex64", "DT_COMPLEX64", np.dtype("<c8"), 8, "complex"),
    (9, "int64", "DT_INT64", np.dtype("<i8"), 8, "int"),
    (10, "bool", "DT_BOOL", np.dtype("?"), 1, "bool"),
    (11, "qint8", "DT_QINT8", np.dtype("i1"), 1, "quantized"),
    (12, "quint8", "DT_QUINT8", np.dtype("u1"), 1, "quantized"),
    (13, "qint32", "DT_QINT32", np.dtype("<i4"), 4, "quantized"),
    (14, "bfloat16", "DT_BFLOAT16", None, 2, "float"),
    (15, "qint16", "DT_QINT16", np.dtype("<i2"), 2, "quantized"),
    (16, "quint16", "DT_QUINT16", np.dtype("<u2"), 2, "quantized"),
    (17, "uint16", "DT_UINT16", np.dtype("<u2"), 2, "uint"),
    (18, "complex128", "DT_COMPLEX128", np.dtype("<c16"), 16, "complex"),
    (19, "float16", "DT_HALF", np.dtype("<f2"), 2, "float"),
    (20, "resource", "DT_RESOURCE", None, 0, "other"),
    (21, "variant", "DT_VARIANT", None, 0, "other"),
    (22, "uint32", "DT_UINT32", np.dtype("<u4"), 4, "uint"),
    (23, "uint64", "DT_UINT64", np.dtype("<u8"), 8, "uint"),
    (24, "float8_e5m2", "DT_FLOAT8_E5M2", None, 1, "float"),
    (25, "float8_e4m3fn", "DT_FLOAT8_E4M3FN", None, 1, "float"),
    (26, "float8_e4m3fnuz", "DT_FLOAT8_E4M3FNUZ", None, 1, "float"),
    (27, "float8_e4m3b11fnuz", "DT_FLOAT8_E4M3B11FNUZ", None, 1, "float"),
    (28, "float8_e5m2fnuz", "DT_FLOAT8_E5M2FNUZ", None, 1, "float"),
    (29, "int4", "DT_INT4", None, 1, "int"),
    (30, "uint4", "DT_UINT4", None, 1, "uint"),
    (31, "int2", "DT_INT2", None, 1, "int"),
    (32, "uint2", "DT_UINT2", None, 1, "uint"),
    (33, "float4_e2m1fn", "DT_FLOAT4_E2M1FN", None, 1, "float"),
]

# enum -> name in ml_dtypes, for the types whose numpy dtype (None above) comes from it
_ML_DTYPES: dict[int, str] = {
    14: "bfloat16", 24: "float8_e5m2", 25: "float8_e4m3fn", 26: "float8_e4m3fnuz",
    27: "float8_e4m3b11fnuz", 28: "float8_e5m2fnuz", 29: "int4", 30: "uint4", 31: "int2",
    32: "uint2", 33: "float4_e2m1fn"}

_BY_ENUM: dict[int, DType] = {}
_BY_NAME: dict[str, DType] = {}
for _e, _n, _en, _np_dt, _size, _kind in _TABLE:
    _d = DType(_e, _n, _en, _np_dt, _size, _kind)
    _r = DType(_e + _REF_OFFSET, _n + "_ref", _en + "_REF", _np_dt, _size, _kind)
    for _x in (_d, _r):
        if _e in _ML_DTYPES:        # unset until ml_dtypes is loaded (DType.__getattr__)
            object.__delattr__(_x, "numpy")
        _BY_ENUM[_x.as_datatype_enum] = _x
        _BY_NAME[_x.name] = _x
        _BY_NAME[_x.enum_name] = _x
_BY_NAME["half"] = _BY_ENUM[19]
_BY_NAME["float"] = _BY_ENUM[1]
_BY_NAME["double"] = _BY_ENUM[2]

# numpy dtype -> DType, for the dtypes that have a unique numpy identity.
# (quantized types share numpy layouts with plain ints; plain ints win.)
_BY_NUMPY: dict[np.dtype, DType] = {}
for _e, _n, _en, _np_dt, _size, _kind in _TABLE:
    if _np_dt is not None and _kind != "quantized":
        _BY_NUMPY.setdefault(_np_dt, _BY_ENUM[_e])
        _BY_NUMPY.setdefault(_np_dt.newbyteorder("="), _BY_ENUM[_e])

_ml_lock = threading.Lock()
_ml_loaded = False
_ml_hooks: list[Callable[[], None]] = []


def load_ml_dtypes() -> None:
    """Import ml_dtypes and complete the table with its types (their ``numpy``, and
    ``_BY_NUMPY``), then run the hooks of :func:`when_ml_dtypes_loaded`. Idempotent.
    Also what makes numpy know ``np.dtype("bfloat16")`` by name: call it before handing
    such files to code that asks numpy by name (safetensors' numpy reader)."""
    global _ml_loaded
    if _ml_loaded:
        return
    with _ml_lock:
        if _ml_loaded:
            return
        import ml_dtypes

        for enum, attr in _ML_DTYPES.items():
            npd = np.dtype(getattr(ml_dtypes, attr))
            for x in (_BY_ENUM[enum], _BY_ENUM[enum + _REF_OFFSET]):
                object.__setattr__(x, "numpy", npd)
            _BY_NUMPY.setdefault(npd, _BY_ENUM[enum])
            _BY_NUMPY.setdefault(npd.newbyteorder("="), _BY_ENUM[enum])
        _ml_loaded = True
    for hook in _ml_hooks:
        hook()


def when_ml_dtypes_loaded(hook: Callable[[], None]) -> None:
    """Call ``hook`` once the ml_dtypes types are in the table: now if they are."""
    _ml_hooks.append(hook)
    if _ml_loaded:
        hook()


def numpy_loaded(dt: DType) -> bool:
    """Whether ``dt.numpy`` is known without importing ml_dtypes."""
    return _ml_loaded or dt.as_datatype_enum % _REF_OFFSET not in _ML_DTYPES

float16 = half = _BY_ENUM[19]
float32 = _BY_ENUM[1]
float64 = double = _BY_ENUM[2]
bfloat16 = _BY_ENUM[14]
int8, int16, int32, int64 = _BY_ENUM[6], _BY_ENUM[5], _BY_ENUM[3], _BY_ENUM[9]
uint8, uint16, uint32, uint64 = _BY_ENUM[4], _BY_ENUM[17], _BY_ENUM[22], _BY_ENUM[23]
complex64, complex128 = _BY_ENUM[8], _BY_ENUM[18]
bool = _BY_ENUM[10]  # noqa: A001  (TensorFlow's name)
string = _BY_ENUM[7]
qint8, quint8, qint16, quint16, qint32 = (_BY_ENUM[11], _BY_ENUM[12], _BY_ENUM[15],
                                          _BY_ENUM[16], _BY_ENUM[13])
resource, variant = _BY_ENUM[20], _BY_ENUM[21]
float8_e5m2, float8_e4m3fn = _BY_ENUM[24], _BY_ENUM[25]
float8_e4m3fnuz, float8_e4m3b11fnuz, float8_e5m2fnuz = _BY_ENUM[26], _BY_ENUM[27], _BY_ENUM[28]
int4, uint4, int2, uint2, float4_e2m1fn = (_BY_ENUM[29], _BY_ENUM[30], _BY_ENUM[31],
                                           _BY_ENUM[32], _BY_ENUM[33])
float32_ref, float64_ref, int32_ref, int64_ref = (_BY_ENUM[101], _BY_ENUM[102], _BY_ENUM[103],
                                                  _BY_ENUM[109])


def as_dtype(value: Any) -> DType:
    """Convert an enum value, name, numpy/ml_dtypes dtype, Python type or DType."""
    if isinstance(value, DType):
        return value
    if isinstance(value, np.dtype) and value.names is None:   # the common numpy case first
        found = _BY_NUMPY.get(value)
        if found is not None:
            return found
    if isinstance(value, (int, np.integer)) and not isinstance(value, (np.bool_,)) \
            and type(value) is not type(True):
        try:
            return _BY_ENUM[int(value)]
        except KeyError:
            raise TypeError(f"Cannot convert value {value!r} to a tensorkeep DType: "
                            f"unknown DataType enum value") from None
    if isinstance(value, str):
        try:
            return _BY_NAME[value]
        except KeyError:
            pass
    if value is type(True):
        return _BY_ENUM[10]
    if value is float:  # TensorFlow's rule; other Python types go through numpy
        return float32
    if value in (str, bytes, object, np.str_, np.bytes_, np.object_):
        return string
    tf_enum = getattr(value, "as_datatype_enum", None)  # a TensorFlow DType
    if isinstance(tf_enum, int):
        return as_dtype(tf_enum)
    try:
        npd = np.dtype(value)
    except TypeError:
        raise TypeError(f"Cannot convert value {value!r} to a tensorkeep DType.") from None
    if npd.kind in ("S", "U", "O"):
        return string
    if npd.names is not None and len(npd.names) == 1 and npd.names[0] in _BY_NAME:
        q = _BY_NAME[npd.names[0]]       # TensorFlow's numpy form of quantized types,
        if q.kind == "quantized":        # e.g. np.dtype([("qint8", "i1")])
            return q
    found = _BY_NUMPY.get(npd)
    if found is None:
        found = _BY_NUMPY.get(npd.newbyteorder("<"))
    # perhaps an ml_dtypes type (then the caller has imported ml_dtypes): load them, ask again
    if found is None and not _ml_loaded and "ml_dtypes" in sys.modules:
        load_ml_dtypes()
        return as_dtype(npd)
    if found is None:
        raise TypeError(f"Cannot convert numpy dtype {npd} to a tensorkeep DType")
    return found


def from_enum(value: int) -> DType:
    """The DType for a DataType enum value read from a file (ValueError if unknown)."""
    try:
        return _BY_ENUM[value]
    except KeyError:
        raise ValueError(f"unknown DataType enum value {value}") from None


def all_dtypes() -> list[DType]:
    """Every non-reference dtype in enum order."""
    return [_BY_ENUM[e] for e, *_ in _TABLE]


__all__ = ["DType", "as_dtype", "from_enum", "all_dtypes"] + [
    n for n in ("float16 half float32 float64 double bfloat16 int8 int16 int32 int64 uint8 "
                "uint16 uint32 uint64 complex64 complex128 bool string qint8 quint8 qint16 "
                "quint16 qint32 resource variant float8_e5m2 float8_e4m3fn float8_e4m3fnuz "
                "float8_e4m3b11fnuz float8_e5m2fnuz int4 uint4 int2 uint2 float4_e2m1fn").split()]
