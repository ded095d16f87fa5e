"""OpDefs of every op the runtime knows: names, argument types, attrs and defaults.

One table in TensorFlow's own ``REGISTER_OP`` notation, parsed once into
``OpDef`` protos. They serve three purposes: filling default attrs when a node is
built, typing inputs/outputs (which inputs are references, how many outputs a
list-typed op has), and the ``stripped_op_list`` of an exported meta graph.

The facts are TensorFlow 2.21's (``op_def_registry.get(name)``, checked entry by
entry in ``tests/test_graph_ops.py``); summaries and descriptions are omitted, as
in the registry of a pip build.

Notation of one entry, ``_op(name, inputs, outputs, attrs, flags)``:

* inputs/outputs: ``"name: TYPE, ..."``; TYPE is a dtype name (fixed type), an
  attr name (``type`` attr, or ``list(type)`` attr for a type list), ``N * T``
  (``number_attr`` N of type T) or ``Ref(...)`` (reference argument); a trailing
  ``@shape_tensor`` marks ``experimental_full_type = TFT_SHAPE_TENSOR(TFT_VAR(attr))``.
* attrs: ``"name: type [>= min] [= default]"``; ``{a, b}`` restricts a ``type``
  (or, quoted, a ``string``) attr to allowed values; ``$GROUP`` names a shared list
  below; ``?`` is an unknown-rank shape.
* flags: ``stateful``, ``commutative``, ``aggregate``, ``uninit_input``
  (``allows_uninitialized_input``).
"""

from __future__ import annotations

import ast
import re
from functools import lru_cache
from typing import Any

from tensorkeep import dtypes as _dt
from tensorkeep.proto import attr_value_pb2, full_type_pb2, op_def_pb2, tensor_shape_pb2

# Allowed-type lists shared by several ops, in TensorFlow's order.
_GROUPS: dict[str, str] = {
    'NUMBER': 'float32, float64, int32, uint8, int16, int8, complex64, int64, qint8, quint8, qint32, bfloat16, qint16, quint16, uint16, complex128, float16, uint32, uint64',
    'FLOAT_COMPLEX': 'bfloat16, float16, float32, float64, complex64, complex128',
    'REAL_NUMBER': 'float32, float64, int32, uint8, int16, int8, int64, bfloat16, uint16, float16, uint32, uint64',
    'ARITH': 'bfloat16, float16, float32, float64, uint8, int8, uint16, int16, int32, uint32, uint64, int64, complex64, complex128',
    'SIGNED': 'bfloat16, float16, float32, float64, int8, int16, int32, int64, complex64, complex128',
    'MINMAX': 'bfloat16, float16, float32, float64, int8, uint8, int16, uint16, int32, uint32, int64, uint64',
    'REAL_QUANT': 'float32, float64, int32, uint8, int16, int8, int64, bfloat16, uint16, float16, uint32, uint64, qint8, quint8, qint32, qint16, quint16',
    'REAL_QUANT_BOOL': 'float32, float64, int32, uint8, int16, int8, int64, bfloat16, uint16, float16, uint32, uint64, qint8, quint8, qint32, qint16, quint16, bool',
}

_TABLE: list[tuple[str, str, str, list[str], str]] = []


def _op(name: str, inputs: str, outputs: str, attrs: list[str], flags: str = "") -> None:
    _TABLE.append((name, inputs, outputs, attrs, flags))


# fmt: off
_op('Const', '', 'output: dtype', ['value: tensor', 'dtype: type'])
_op('Placeholder', '', 'output: dtype', ['dtype: type', 'shape: shape = ?'])
_op('PlaceholderWithDefault', 'input: dtype', 'output: dtype', ['dtype: type', 'shape: shape'])
_op('Identity', 'input: T', 'output: T', ['T: type'])
_op('IdentityN', 'input: T', 'output: T', ['T: list(type) >= 1'])
_op('NoOp', '', '', [])
_op('VariableV2', '', 'ref: Ref(dtype)', ['shape: shape', 'dtype: type', "container: string = ''", "shared_name: string = ''"], 'stateful')
_op('Variable', '', 'ref: Ref(dtype)', ['shape: shape', 'dtype: type', "container: string = ''", "shared_name: string = ''"], 'stateful')
_op('Assign', 'ref: Ref(T), value: T', 'output_ref: Ref(T)', ['T: type', 'validate_shape: bool = true', 'use_locking: bool = true'], 'uninit_input')
_op('AssignAdd', 'ref: Ref(T), value: T', 'output_ref: Ref(T)', ['T: $NUMBER', 'use_locking: bool = false'])
_op('AssignSub', 'ref: Ref(T), value: T', 'output_ref: Ref(T)', ['T: $NUMBER', 'use_locking: bool = false'])
_op('IsVariableInitialized', 'ref: Ref(dtype)', 'is_initialized: bool', ['dtype: type'], 'uninit_input')
_op('VarHandleOp', '', 'resource: resource', ["container: string = ''", "shared_name: string = ''", "debug_name: string = ''", 'dtype: type', 'shape: shape', 'allowed_devices: list(string) = []'], 'stateful')
_op('ReadVariableOp', 'resource: resource', 'value: dtype', ['dtype: type'], 'stateful')
_op('AssignVariableOp', 'resource: resource, value: dtype', '', ['dtype: type', 'validate_shape: bool = false'], 'stateful')
_op('AssignAddVariableOp', 'resource: resource, value: dtype', '', ['dtype: type'], 'stateful')
_op('AssignSubVariableOp', 'resource: resource, value: dtype', '', ['dtype: type'], 'stateful')
_op('VarIsInitializedOp', 'resource: resource', 'is_initialized: bool', [], 'stateful')
_op('DestroyResourceOp', 'resource: resource', '', ['ignore_lookup_error: bool = true'], 'stateful')
_op('Add', 'x: T, y: T', 'z: T', ['T: {bfloat16, float16, float32, float64, uint8, int8, int16, int32, int64, complex64, complex128, string}'])
_op('AddV2', 'x: T, y: T', 'z: T', ['T: {bfloat16, float16, float32, float64, uint8, uint16, uint32, uint64, int8, int16, int32, int64, complex64, complex128}'], 'commutative aggregate')
_op('AddN', 'inputs: N * T', 'sum: T', ['N: int >= 1', 'T: {float32, float64, int32, uint8, int16, int8, complex64, int64, qint8, quint8, qint32, bfloat16, qint16, quint16, uint16, complex128, float16, uint32, uint64, variant}'], 'commutative aggregate')
_op('Sub', 'x: T, y: T', 'z: T', ['T: {bfloat16, float16, float32, float64, uint8, int8, uint16, int16, int32, int64, complex64, complex128, uint32, uint64}'])
_op('Mul', 'x: T, y: T', 'z: T', ['T: $ARITH'], 'commutative')
_op('RealDiv', 'x: T, y: T', 'z: T', ['T: $ARITH'])
_op('Div', 'x: T, y: T', 'z: T', ['T: $ARITH'])
_op('FloorDiv', 'x: T, y: T', 'z: T', ['T: $ARITH'])
_op('FloorMod', 'x: T, y: T', 'z: T', ['T: {int8, int16, int32, int64, uint8, uint16, uint32, uint64, bfloat16, float16, float32, float64}'])
_op('Maximum', 'x: T, y: T', 'z: T', ['T: $MINMAX'])
_op('Minimum', 'x: T, y: T', 'z: T', ['T: $MINMAX'])
_op('Pow', 'x: T, y: T', 'z: T', ['T: {bfloat16, float32, float16, float64, int8, int16, int32, int64, complex64, complex128}'])
_op('SquaredDifference', 'x: T, y: T', 'z: T', ['T: {bfloat16, float16, float32, float64, int32, int64, complex64, complex128}'], 'commutative')
_op('MatMul', 'a: T, b: T', 'product: T', ['transpose_a: bool = false', 'transpose_b: bool = false', 'T: {bfloat16, float16, float32, float64, int32, int64, uint8, uint16, uint32, uint64, complex64, complex128}', 'grad_a: bool = false', 'grad_b: bool = false'])
_op('BatchMatMulV2', 'x: T, y: T', 'output: T', ['T: {bfloat16, float16, float32, float64, int16, int32, int64, uint8, uint16, uint32, uint64, complex64, complex128}', 'adj_x: bool = false', 'adj_y: bool = false', 'grad_x: bool = false', 'grad_y: bool = false'])
_op('BiasAdd', 'value: T, bias: T', 'output: T', ['T: $NUMBER', "data_format: {'NHWC', 'NCHW'} = 'NHWC'"])
_op('Relu', 'features: T', 'activations: T', ['T: {float32, float64, int32, uint8, int16, int8, int64, bfloat16, uint16, float16, uint32, uint64, qint8}'])
_op('Relu6', 'features: T', 'activations: T', ['T: $REAL_NUMBER'])
_op('Elu', 'features: T', 'activations: T', ['T: {float16, bfloat16, float32, float64}'])
_op('Selu', 'features: T', 'activations: T', ['T: {float16, bfloat16, float32, float64}'])
_op('Softplus', 'features: T', 'activations: T', ['T: {float16, bfloat16, float32, float64}'])
_op('Sigmoid', 'x: T', 'y: T', ['T: $FLOAT_COMPLEX'])
_op('Tanh', 'x: T', 'y: T', ['T: $FLOAT_COMPLEX'])
_op('Square', 'x: T', 'y: T', ['T: {bfloat16, float16, float32, float64, int8, int16, int32, int64, uint8, uint16, uint32, uint64, complex64, complex128}'])
_op('Sqrt', 'x: T', 'y: T', ['T: $FLOAT_COMPLEX'])
_op('Rsqrt', 'x: T', 'y: T', ['T: $FLOAT_COMPLEX'])
_op('Exp', 'x: T', 'y: T', ['T: $FLOAT_COMPLEX'])
_op('Log', 'x: T', 'y: T', ['T: $FLOAT_COMPLEX'])
_op('Neg', 'x: T', 'y: T', ['T: $SIGNED'])
_op('Abs', 'x: T', 'y: T', ['T: {bfloat16, float16, float32, float64, int8, int16, int32, int64}'])
_op('Sign', 'x: T', 'y: T', ['T: $SIGNED'])
_op('Floor', 'x: T', 'y: T', ['T: {bfloat16, float16, float32, float64}'])
_op('Ceil', 'x: T', 'y: T', ['T: {bfloat16, float16, float32, float64}'])
_op('Round', 'x: T', 'y: T', ['T: $SIGNED'])
_op('Reciprocal', 'x: T', 'y: T', ['T: $SIGNED'])
_op('Softmax', 'logits: T', 'softmax: T', ['T: {float16, bfloat16, float32, float64}'])
_op('LogSoftmax', 'logits: T', 'logsoftmax: T', ['T: {float16, bfloat16, float32, float64}'])
_op('Reshape', 'tensor: T, shape: Tshape', 'output: T', ['T: type', 'Tshape: {int32, int64} = int32'])
_op('Shape', 'input: T', 'output: out_type @shape_tensor', ['T: type', 'out_type: {int32, int64} = int32'])
_op('Size', 'input: T', 'output: out_type', ['T: type', 'out_type: {int32, int64} = int32'])
_op('Rank', 'input: T', 'output: int32', ['T: type'])
_op('Fill', 'dims: index_type, value: T', 'output: T', ['T: type', 'index_type: {int32, int64} = int32'])
_op('ZerosLike', 'x: T', 'y: T', ['T: type'])
_op('OnesLike', 'x: T', 'y: T', ['T: {bfloat16, float16, float32, float64, int8, uint8, int16, uint16, int32, uint32, int64, uint64, complex64, complex128, bool}'])
_op('Cast', 'x: SrcT', 'y: DstT', ['SrcT: type', 'DstT: type', 'Truncate: bool = false'])
_op('Pack', 'values: N * T', 'output: T', ['N: int >= 1', 'T: type', 'axis: int = 0'])
_op('Unpack', 'value: T', 'output: num * T', ['num: int >= 0', 'T: type', 'axis: int = 0'])
_op('Split', 'split_dim: int32, value: T', 'output: num_split * T', ['num_split: int >= 1', 'T: type'])
_op('SplitV', 'value: T, size_splits: Tlen, split_dim: int32', 'output: num_split * T', ['num_split: int >= 1', 'T: type', 'Tlen: {int8, int32, int64} = int64'])
_op('ConcatV2', 'values: N * T, axis: Tidx', 'output: T', ['N: int >= 2', 'T: type', 'Tidx: {int32, int64} = int32'])
_op('Sum', 'input: T, reduction_indices: Tidx', 'output: T', ['keep_dims: bool = false', 'T: $NUMBER', 'Tidx: {int32, int64} = int32'])
_op('Mean', 'input: T, reduction_indices: Tidx', 'output: T', ['keep_dims: bool = false', 'T: $NUMBER', 'Tidx: {int32, int64} = int32'])
_op('Max', 'input: T, reduction_indices: Tidx', 'output: T', ['keep_dims: bool = false', 'T: $REAL_QUANT', 'Tidx: {int32, int64} = int32'])
_op('Min', 'input: T, reduction_indices: Tidx', 'output: T', ['keep_dims: bool = false', 'T: $REAL_QUANT', 'Tidx: {int32, int64} = int32'])
_op('Prod', 'input: T, reduction_indices: Tidx', 'output: T', ['keep_dims: bool = false', 'T: $NUMBER', 'Tidx: {int32, int64} = int32'])
_op('All', 'input: bool, reduction_indices: Tidx', 'output: bool', ['keep_dims: bool = false', 'Tidx: {int32, int64} = int32'])
_op('Any', 'input: bool, reduction_indices: Tidx', 'output: bool', ['keep_dims: bool = false', 'Tidx: {int32, int64} = int32'])
_op('ArgMax', 'input: T, dimension: Tidx', 'output: output_type', ['T: $REAL_QUANT_BOOL', 'Tidx: {int16, int32, int64} = int32', 'output_type: {int16, uint16, int32, int64} = int64'])
_op('ArgMin', 'input: T, dimension: Tidx', 'output: output_type', ['T: $REAL_QUANT_BOOL', 'Tidx: {int32, int64} = int32', 'output_type: {int32, int64} = int64'])
_op('Equal', 'x: T, y: T', 'z: bool', ['T: type', 'incompatible_shape_error: bool = true'], 'commutative')
_op('NotEqual', 'x: T, y: T', 'z: bool', ['T: type', 'incompatible_shape_error: bool = true'], 'commutative')
_op('Less', 'x: T, y: T', 'z: bool', ['T: $REAL_NUMBER'])
_op('Greater', 'x: T, y: T', 'z: bool', ['T: $REAL_NUMBER'])
_op('LessEqual', 'x: T, y: T', 'z: bool', ['T: $REAL_NUMBER'])
_op('GreaterEqual', 'x: T, y: T', 'z: bool', ['T: $REAL_NUMBER'])
_op('LogicalAnd', 'x: bool, y: bool', 'z: bool', [], 'commutative')
_op('LogicalOr', 'x: bool, y: bool', 'z: bool', [], 'commutative')
_op('LogicalNot', 'x: bool', 'y: bool', [])
_op('Select', 'condition: bool, t: T, e: T', 'output: T', ['T: type'])
_op('SelectV2', 'condition: bool, t: T, e: T', 'output: T', ['T: type'])
_op('Transpose', 'x: T, perm: Tperm', 'y: T', ['T: type', 'Tperm: {int32, int64} = int32'])
_op('ExpandDims', 'input: T, dim: Tdim', 'output: T', ['T: type', 'Tdim: {int32, int64} = int32'])
_op('Squeeze', 'input: T', 'output: T', ['T: type', 'squeeze_dims: list(int) >= 0 = []'])
_op('Range', 'start: Tidx, limit: Tidx, delta: Tidx', 'output: Tidx', ['Tidx: {bfloat16, float16, float32, float64, int8, int16, int32, int64, uint16, uint32, uint64} = int32'])
_op('Tile', 'input: T, multiples: Tmultiples', 'output: T', ['T: type', 'Tmultiples: {int32, int64} = int32'])
_op('Slice', 'input: T, begin: Index, size: Index', 'output: T', ['T: type', 'Index: {int32, int64}'])
_op('StridedSlice', 'input: T, begin: Index, end: Index, strides: Index', 'output: T', ['T: type', 'Index: {int16, int32, int64}', 'begin_mask: int = 0', 'end_mask: int = 0', 'ellipsis_mask: int = 0', 'new_axis_mask: int = 0', 'shrink_axis_mask: int = 0'])
_op('GatherV2', 'params: Tparams, indices: Tindices, axis: Taxis', 'output: Tparams', ['batch_dims: int = 0', 'Tparams: type', 'Tindices: {int16, int32, int64}', 'Taxis: {int32, int64}'])
_op('StopGradient', 'input: T', 'output: T', ['T: type'])
_op('RandomStandardNormal', 'shape: T', 'output: dtype', ['seed: int = 0', 'seed2: int = 0', 'dtype: {float16, bfloat16, float32, float64}', 'T: {int32, int64}'], 'stateful')
_op('RandomUniform', 'shape: T', 'output: dtype', ['seed: int = 0', 'seed2: int = 0', 'dtype: {float16, bfloat16, float32, float64}', 'T: {int32, int64}'], 'stateful')
_op('TruncatedNormal', 'shape: T', 'output: dtype', ['seed: int = 0', 'seed2: int = 0', 'dtype: {float16, bfloat16, float32, float64}', 'T: {int32, int64}'], 'stateful')
_op('RandomUniformInt', 'shape: T, minval: Tout, maxval: Tout', 'output: Tout', ['seed: int = 0', 'seed2: int = 0', 'Tout: {int32, int64}', 'T: {int32, int64}'], 'stateful')
_op('SaveV2', 'prefix: string, tensor_names: string, shape_and_slices: string, tensors: dtypes', '', ['dtypes: list(type) >= 1'], 'stateful')
_op('RestoreV2', 'prefix: string, tensor_names: string, shape_and_slices: string', 'tensors: dtypes', ['dtypes: list(type) >= 1'], 'stateful')
_op('MergeV2Checkpoints', 'checkpoint_prefixes: string, destination_prefix: string', '', ['delete_old_dirs: bool = true', 'allow_missing_files: bool = false'], 'stateful')
_op('ShardedFilename', 'basename: string, shard: int32, num_shards: int32', 'filename: string', [])
_op('ShardedFilespec', 'basename: string, num_shards: int32', 'filename: string', [])
_op('SaveSlices', 'filename: string, tensor_names: string, shapes_and_slices: string, data: T', '', ['T: list(type) >= 1'], 'stateful')
_op('Save', 'filename: string, tensor_names: string, data: T', '', ['T: list(type) >= 1'], 'stateful')
_op('Restore', 'file_pattern: string, tensor_name: string', 'tensor: dt', ['dt: type', 'preferred_shard: int = -1'], 'stateful')
_op('RestoreSlice', 'file_pattern: string, tensor_name: string, shape_and_slice: string', 'tensor: dt', ['dt: type', 'preferred_shard: int = -1'], 'stateful')
_op('StringJoin', 'inputs: N * string', 'output: string', ['N: int >= 0', "separator: string = ''"])
_op('StaticRegexFullMatch', 'input: string', 'output: bool', ['pattern: string'])
_op('Where', 'input: T', 'index: int64', ['T: {float32, float64, int32, uint8, int16, int8, complex64, int64, qint8, quint8, qint32, bfloat16, qint16, quint16, uint16, complex128, float16, uint32, uint64, bool} = bool'])
_op('Snapshot', 'input: T', 'output: T', ['T: type'])
_op('Conv2D', 'input: T, filter: T', 'output: T', ['T: {float16, bfloat16, float32, float64, int32}', 'strides: list(int)', 'use_cudnn_on_gpu: bool = true', "padding: {'SAME', 'VALID', 'EXPLICIT'}", 'explicit_paddings: list(int) = []', "data_format: {'NHWC', 'NCHW'} = 'NHWC'", 'dilations: list(int) = [1, 1, 1, 1]'])
_op('MaxPool', 'input: T', 'output: T', ['T: {float16, bfloat16, float32, float64, int32, int64, uint8, int16, int8, uint16, qint8} = float32', 'ksize: list(int) >= 4', 'strides: list(int) >= 4', "padding: {'SAME', 'VALID', 'EXPLICIT'}", 'explicit_paddings: list(int) = []', "data_format: {'NHWC', 'NCHW', 'NCHW_VECT_C'} = 'NHWC'"])
_op('AvgPool', 'value: T', 'output: T', ['ksize: list(int) >= 4', 'strides: list(int) >= 4', "padding: {'SAME', 'VALID'}", "data_format: {'NHWC', 'NCHW'} = 'NHWC'", 'T: {float16, bfloat16, float32, float64}'])
# fmt: on

# Op types added at run time: OpDefs read from an imported meta graph's
# stripped_op_list for ops this table does not know (kept so re-export keeps them).

_FLAGS = {"stateful": "is_stateful", "commutative": "is_commutative",
          "aggregate": "is_aggregate", "uninit_input": "allows_uninitialized_input"}


def _split_top(text: str) -> list[str]:
    """Split on commas that are not inside braces or parentheses."""
    parts, depth, cur = [], 0, ""
    for ch in text:
        if ch in "{(":
            depth += 1
        elif ch in "})":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        parts.append(cur.strip())
    return parts


def _parse_arg(text: str, attr_types: dict[str, str]) -> op_def_pb2.OpDef.ArgDef:
    name, _, typ = (s.strip() for s in text.partition(":"))
    arg = op_def_pb2.OpDef.ArgDef(name=name)
    if typ.endswith("@shape_tensor"):
        typ = typ[: -len("@shape_tensor")].strip()
        ft = arg.experimental_full_type
        ft.type_id = full_type_pb2.TFT_SHAPE_TENSOR
        ft.args.add(type_id=full_type_pb2.TFT_VAR, s=typ)
    m = re.fullmatch(r"Ref\((.*)\)", typ)
    if m:
        arg.is_ref = True
        typ = m.group(1).strip()
    if "*" in typ:
        number, _, typ = (s.strip() for s in typ.partition("*"))
        arg.number_attr = number
    if typ in attr_types:
        if attr_types[typ].startswith("list("):
            arg.type_list_attr = typ
        else:
            arg.type_attr = typ
    else:
        arg.type = _dt.as_dtype(typ).as_datatype_enum
    return arg


def _shape_proto(text: str) -> tensor_shape_pb2.TensorShapeProto:
    if text == "?":
        return tensor_shape_pb2.TensorShapeProto(unknown_rank=True)
    dims = ast.literal_eval(text)
    return tensor_shape_pb2.TensorShapeProto(
        dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=d) for d in dims])


def _default(typ: str, text: str) -> attr_value_pb2.AttrValue:
    v = attr_value_pb2.AttrValue()
    if typ == "type":
        v.type = _dt.as_dtype(text).as_datatype_enum
    elif typ == "shape":
        v.shape.CopyFrom(_shape_proto(text))
    elif typ == "int":
        v.i = int(text)
    elif typ == "float":
        v.f = float(text)
    elif typ == "bool":
        v.b = text == "true"
    elif typ == "string":
        v.s = ast.literal_eval(text).encode()
    elif typ.startswith("list("):
        items = ast.literal_eval(text) if typ != "list(type)" else [
            s.strip() for s in text.strip("[]").split(",") if s.strip()]
        v.list.SetInParent()
        inner = typ[5:-1]
        if inner == "int":
            v.list.i.extend(items)
        elif inner == "float":
            v.list.f.extend(items)
        elif inner == "string":
            v.list.s.extend(s.encode() for s in items)
        elif inner == "type":
            v.list.type.extend(_dt.as_dtype(s).as_datatype_enum for s in items)
        elif items:
            raise ValueError(f"unsupported default {text!r} for {typ}")
    else:
        raise ValueError(f"unsupported attr type {typ!r}")
    return v


def _parse_attr(text: str) -> op_def_pb2.OpDef.AttrDef:
    for group in sorted(_GROUPS, key=len, reverse=True):  # REAL_QUANT_BOOL before REAL_QUANT
        text = text.replace("$" + group, "{" + _GROUPS[group] + "}")
    name, _, rest = (s.strip() for s in text.partition(":"))
    default = None
    if " = " in rest:
        rest, _, default = (s.strip() for s in rest.partition(" = "))
    minimum = None
    if " >= " in rest:
        rest, _, minimum = (s.strip() for s in rest.partition(" >= "))
    attr = op_def_pb2.OpDef.AttrDef(name=name)
    allowed = None
    m = re.fullmatch(r"(list\()?\{(.*)\}\)?", rest)
    if m:
        allowed = [s.strip() for s in m.group(2).split(",")]
        quoted = allowed[0].startswith("'")
        base = "string" if quoted else "type"
        rest = f"list({base})" if m.group(1) else base
        lst = attr.allowed_values.list
        if quoted:
            lst.s.extend(ast.literal_eval(s).encode() for s in allowed)
        else:
            lst.type.extend(_dt.as_dtype(s).as_datatype_enum for s in allowed)
    attr.type = rest
    if default is not None:
        attr.default_value.CopyFrom(_default(rest, default))
    if minimum is not None:
        attr.has_minimum = True
        attr.minimum = int(minimum)
    return attr


def _build(entry: tuple[str, str, str, list[str], str]) -> op_def_pb2.OpDef:
    name, inputs, outputs, attrs, flags = entry
    op_def = op_def_pb2.OpDef(name=name)
    parsed_attrs = [_parse_attr(a) for a in attrs]
    attr_types = {a.name: a.type for a in parsed_attrs}
    op_def.input_arg.extend(_parse_arg(a, attr_types) for a in _split_top(inputs))
    op_def.output_arg.extend(_parse_arg(a, attr_types) for a in _split_top(outputs))
    op_def.attr.extend(parsed_attrs)
    for flag in flags.split():
        setattr(op_def, _FLAGS[flag], True)
    return op_def


@lru_cache(maxsize=None)
def _registry() -> dict[str, op_def_pb2.OpDef]:
    return {entry[0]: _build(entry) for entry in _TABLE}


def get(op_type: str, graph: Any = None) -> op_def_pb2.OpDef | None:
    """The OpDef of ``op_type`` (do not mutate it), or None if unknown."""
    found = _registry().get(op_type)
    if found is None and graph is not None:
        found = getattr(graph, "_imported_op_defs", {}).get(op_type)
    return found


def register_imported(op_def: op_def_pb2.OpDef, graph: Any) -> None:
    """Remember, in ``graph`` only, an imported OpDef for an op type the table lacks.

    Built-in OpDefs are never replaced, and nothing an imported file declares
    reaches other graphs: a hostile meta graph cannot change how later graphs are built.
    """
    if op_def.name in _registry():
        return
    table = graph.__dict__.setdefault("_imported_op_defs", {})
    if op_def.name not in table:
        copy = op_def_pb2.OpDef()
        copy.CopyFrom(op_def)
        table[op_def.name] = copy


def known_op_types() -> list[str]:
    """Op types of the built-in table, in table order."""
    return [entry[0] for entry in _TABLE]


def stripped_op_list(op_types: set[str] | list[str], graph: Any = None) -> op_def_pb2.OpList:
    """OpList of the OpDefs of ``op_types`` sorted by name; unknown types are left out."""
    out = op_def_pb2.OpList()
    for name in sorted(set(op_types)):
        op_def = get(name, graph)
        if op_def is not None:
            out.op.add().CopyFrom(op_def)
    return out


def default_attrs(op_type: str) -> dict[str, attr_value_pb2.AttrValue]:
    """Attrs of ``op_type`` that have a default value, by name."""
    op_def = get(op_type)
    if op_def is None:
        return {}
    return {a.name: a.default_value for a in op_def.attr if a.HasField("default_value")}
