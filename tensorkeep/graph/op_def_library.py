"""Build a node from its OpDef: ``apply_op("MatMul", a=x, b=y, transpose_a=True)``.

What TensorFlow's generated wrappers do, for any op in :mod:`op_defs`:

1. open the name scope ``name`` (default: the op type), uniquified;
2. convert each input in OpDef order; Python values become ``Const`` nodes named
   after the input argument (``AddV2/y``), typed by the type attr already
   inferred from an earlier input when there is one; reference inputs convert a
   variable to its ref tensor;
3. infer type / number / type-list attrs from the inputs, take the remaining attrs
   from keywords, fill defaults from the OpDef (Python-created NodeDefs carry all
   attrs, METAGRAPH.md §3);
4. create the op colocated with its reference inputs (TF adds ``_class``).
"""

from __future__ import annotations

from typing import Any

from tensorkeep import dtypes as _dt
from tensorkeep.graph import attrs as _attrs
from tensorkeep.graph import op_defs
from tensorkeep.graph import ops as _ops
from tensorkeep.graph.tensor_shape import TensorShape
from tensorkeep.proto import attr_value_pb2


class _OpInfo:
    """What ``apply_op`` reads from an OpDef, read once per OpDef rather than once per node
    (every field access on a protobuf message builds a new Python object)."""

    __slots__ = ("op_def", "input_names", "inputs", "attrs", "outputs", "has_full_type", "plans")

    def __init__(self, op_def: Any) -> None:
        self.op_def = op_def
        self.input_names = tuple(a.name for a in op_def.input_arg)
        attr_defs = {a.name: a for a in op_def.attr}
        inputs = []
        for arg in op_def.input_arg:
            default = None
            if arg.type_attr and arg.type_attr in attr_defs and \
                    attr_defs[arg.type_attr].HasField("default_value"):
                default = _dt.from_enum(attr_defs[arg.type_attr].default_value.type)
            fixed = _dt.from_enum(arg.type) if not arg.type_attr and arg.type else None
            inputs.append((arg, arg.name, bool(arg.number_attr or arg.type_list_attr),
                           arg.number_attr, arg.type_attr, fixed, arg.is_ref, default))
        self.inputs = tuple(inputs)
        self.attrs = tuple((a.name, a.type, a.default_value if a.HasField("default_value") else None)
                           for a in op_def.attr)
        self.outputs = tuple((arg.type_list_attr, arg.type_attr,
                              None if arg.type_list_attr or arg.type_attr else _dt.from_enum(arg.type),
                              arg.number_attr, arg.is_ref) for arg in op_def.output_arg)
        self.has_full_type = any(a.HasField("experimental_full_type") for a in op_def.output_arg)
        # node signature (see _signature) -> (attrs, output dtypes, ref-input positions)
        self.plans: dict[tuple[Any, ...], tuple[dict[str, Any], list[Any], tuple[int, ...]]] = {}


# id(OpDef) -> info; the info holds its OpDef, so an id is never reused while cached.
_INFO: dict[int, _OpInfo] = {}


def _info(op_def: Any) -> _OpInfo:
    info = _INFO.get(id(op_def))
    if info is None or info.op_def is not op_def:
        info = _INFO[id(op_def)] = _OpInfo(op_def)
    return info


def output_dtypes(op_def: Any, attrs: dict[str, attr_value_pb2.AttrValue]) -> list[_dt.DType | None]:
    """Output dtypes of a node of ``op_def`` with these attrs (ref dtypes for ref outputs)."""
    return _output_dtypes(_info(op_def), attrs)


def _output_dtypes(info: _OpInfo, attrs: dict[str, attr_value_pb2.AttrValue]) -> list[_dt.DType | None]:
    out: list[_dt.DType | None] = []
    for type_list_attr, type_attr, fixed, number_attr, is_ref in info.outputs:
        if type_list_attr:
            value = attrs.get(type_list_attr)
            types = [_dt.from_enum(t) for t in value.list.type] if value is not None else []
        else:
            if type_attr:
                value = attrs.get(type_attr)
                dt = _dt.from_enum(value.type) if value is not None else None
            else:
                dt = fixed
            n = 1
            if number_attr:
                value = attrs.get(number_attr)
                n = int(value.i) if value is not None else 0
            types = [dt] * n
        if is_ref:
            types = [t._as_ref if t is not None else None for t in types]
        out.extend(types)
    return out


def _input_names(op_def: Any) -> list[str]:
    return list(_info(op_def).input_names)


# op type -> info of its OpDef in the built-in table (which never changes)
_BY_TYPE: dict[str, _OpInfo] = {}


def _type_info(op_type: str) -> _OpInfo:
    info = _BY_TYPE.get(op_type)
    if info is None:
        op_def = op_defs.get(op_type)
        if op_def is None:
            raise NotImplementedError(f"Op type not registered '{op_type}'")
        info = _BY_TYPE[op_type] = _info(op_def)
    return info


def apply_op(op_type: str, name: str | None = None, **keywords: Any) -> _ops.Operation:
    """Create a node of ``op_type``; keywords are the OpDef's input and attr names."""
    info = _type_info(op_type)
    graph = _graph_of(info, keywords)
    if graph is _ops.get_default_graph():
        return _apply_in_scope(graph, info, op_type, name, keywords)
    with graph.as_default():
        return _apply_in_scope(graph, info, op_type, name, keywords)


def _graph_of(info: _OpInfo, keywords: dict[str, Any]) -> _ops.Graph:
    """The graph of the first input that has one, else the default graph."""
    for key in info.input_names:
        value = keywords.get(key)
        if type(value) is _ops.Tensor:
            return value._op._graph
        if value is not None:
            return _ops.get_graph_from_inputs(
                [v for key in info.input_names for v in _flat(keywords.get(key))])
    return _ops.get_default_graph()


# Keyword values whose type and value alone decide the attr they make.
_PLAIN = frozenset({bool, int, float, str, bytes, type(None), _dt.DType})
_MAX_PLANS = 512


def _apply_in_scope(graph: _ops.Graph, info: _OpInfo, op_type: str, name: str | None,
                    keywords: dict[str, Any]) -> _ops.Operation:
    old_scope = graph._name_stack
    try:
        return _apply(graph, info, op_type, graph._push_name_scope(name or op_type), keywords)
    finally:
        graph._name_stack = old_scope


def _signature(info: _OpInfo, keywords: dict[str, Any]) -> tuple[Any, ...] | None:
    """A key that fixes the attrs, output dtypes and checks of the node ``keywords``
    build: the input dtypes, then name, type and value of each attr keyword, flat (the
    input count is fixed per op type); None when an input is not a Tensor yet
    (converting it may create nodes) or an attr value is not plain data."""
    key: list[Any] = []
    input_names = info.input_names
    for name in input_names:
        value = keywords.get(name)
        if type(value) is not _ops.Tensor:
            return None
        dtype = value._dtype
        # a DType by its enum (one DType per enum): ints hash without a Python __hash__ call
        key.append(dtype.as_datatype_enum if dtype is not None else None)
    for name, value in keywords.items():
        kind = type(value)
        if kind is _dt.DType:
            key += (name, kind, value.as_datatype_enum)
        elif kind in _PLAIN:
            key += (name, kind, value)
        elif kind is TensorShape:
            key += (name, kind, value._dims)
        elif name not in input_names:
            return None
    return tuple(key)


def _apply(graph: _ops.Graph, info: _OpInfo, op_type: str, scope: str,
           keywords: dict[str, Any]) -> _ops.Operation:
    """Build the node. Nodes of one signature share their attrs, output dtypes and checks,
    so those are worked out once per signature (the dtypes and attr values that decide
    them are the signature)."""
    signature = _signature(info, keywords)
    plan = info.plans.get(signature) if signature is not None else None
    if plan is not None:
        attr_protos, output_dtypes, ref_positions = plan
        inputs = [keywords[name] for name in info.input_names]
    else:
        inputs, ref_positions, attr_protos, output_dtypes = _build(info, op_type, keywords)
        if signature is not None:
            _remember(info, signature, (attr_protos, output_dtypes, ref_positions))
    op = graph._create_op_internal(
        op_type, inputs, output_dtypes, name=scope, attrs=attr_protos, op_def=info.op_def,
        colocate_with=[inputs[i]._op for i in ref_positions] if ref_positions else None)
    if info.has_full_type:
        _set_full_type(op, info.op_def, attr_protos)
    return op


def _remember(info: _OpInfo, signature: tuple[Any, ...],
              plan: tuple[dict[str, Any], list[Any], tuple[int, ...]]) -> None:
    if len(info.plans) >= _MAX_PLANS:
        info.plans.clear()
    info.plans[signature] = plan


def node_plan(op_type: str, keywords: dict[str, Any]
              ) -> tuple[dict[str, attr_value_pb2.AttrValue], list[_dt.DType | None], Any]:
    """The attrs, output dtypes and OpDef that ``apply_op(op_type, **keywords)`` gives its
    node, from the plan it would use, for callers that build such nodes themselves (a
    variable's, a Saver's). Every input must be a Tensor and every attr value plain data,
    so working the plan out creates no node."""
    info = _type_info(op_type)
    signature = _signature(info, keywords)
    assert signature is not None and not info.has_full_type, (op_type, keywords)
    plan = info.plans.get(signature)
    if plan is None:
        _, ref_positions, attrs, output_dtypes = _build(info, op_type, dict(keywords))
        plan = (attrs, output_dtypes, ref_positions)
        _remember(info, signature, plan)
    return plan[0], plan[1], info.op_def


def _build(info: _OpInfo, op_type: str, keywords: dict[str, Any]
           ) -> tuple[list[_ops.Tensor], tuple[int, ...], dict[str, Any], list[Any]]:
    """Convert the inputs (creating Const nodes for Python values), infer and check the
    attrs: the node's inputs, ref-input positions, attrs and output dtypes."""
    inferred: dict[str, Any] = {}
    inputs: list[_ops.Tensor] = []
    ref_positions: list[int] = []
    for arg, arg_name, is_list, number_attr, type_attr, fixed, is_ref, default in info.inputs:
        if arg_name not in keywords:
            raise TypeError(f"{op_type} missing required input argument '{arg_name}'")
        values = keywords.pop(arg_name)
        if is_list:
            if not isinstance(values, (list, tuple)):
                raise TypeError(f"Expected list for '{arg_name}' argument to '{op_type}' Op, "
                                f"not {values!r}.")
            converted = _convert_list(arg, values, inferred, keywords)
            if number_attr:
                inferred[number_attr] = len(converted)
            inputs.extend(converted)
            continue
        dtype = inferred.get(type_attr, keywords.get(type_attr)) if type_attr else fixed
        tensor = _ops.convert_to_tensor(values, dtype=dtype, name=arg_name,
                                        as_ref=is_ref, preferred_dtype=default)
        if is_ref and not tensor.dtype.is_ref_dtype:
            raise TypeError(f"'{op_type}' Op requires that input '{arg_name}' be a mutable tensor "
                            f"(e.g.: a tf.Variable)")
        if type_attr and type_attr not in inferred:
            inferred[type_attr] = tensor.dtype.base_dtype
        elif dtype is not None and tensor.dtype.base_dtype is not _dt.as_dtype(dtype).base_dtype:
            raise TypeError(f"Input '{arg_name}' of '{op_type}' Op has type "
                            f"{tensor.dtype.base_dtype.name} that does not match expected type "
                            f"of {_dt.as_dtype(dtype).base_dtype.name}.")
        if is_ref:
            ref_positions.append(len(inputs))
        inputs.append(tensor)
    attr_protos: dict[str, attr_value_pb2.AttrValue] = {}
    for attr_name, attr_type, attr_default in info.attrs:
        if attr_name in inferred:
            value: Any = inferred[attr_name]
            keywords.pop(attr_name, None)
        elif attr_name in keywords:
            value = keywords.pop(attr_name)
        elif attr_default is not None:
            attr_protos[attr_name] = attr_default
            continue
        else:
            raise TypeError(f"No argument for attr {attr_name}")
        if value is None and attr_default is not None:
            attr_protos[attr_name] = attr_default
            continue
        attr_protos[attr_name] = _attrs.make(value, attr_type)
    if keywords:
        raise TypeError(f"{op_type} got unexpected keyword arguments: {', '.join(sorted(keywords))}")
    return inputs, tuple(ref_positions), attr_protos, _output_dtypes(info, attr_protos)


# dtype name -> FullTypeId (full_type.proto)
_FULL_TYPE_IDS = {"bool": 200, "uint8": 201, "uint16": 202, "uint32": 203, "uint64": 204, "int8": 205,
                  "int16": 206, "int32": 207, "int64": 208, "float16": 209, "float32": 210,
                  "float64": 211, "complex64": 212, "complex128": 213, "string": 214, "bfloat16": 215}


def _set_full_type(op: _ops.Operation, op_def: Any, attrs: dict[str, attr_value_pb2.AttrValue]) -> None:
    """TF's graph sets ``experimental_type`` on nodes whose OpDef outputs carry a full type
    (e.g. Shape: ``TFT_PRODUCT[TFT_SHAPE_TENSOR[TFT_INT32]]``, observed on TF 2.21)."""
    if not _info(op_def).has_full_type:
        return
    from tensorkeep.proto import full_type_pb2, node_def_pb2
    product = full_type_pb2.FullTypeDef(type_id=full_type_pb2.TFT_PRODUCT)
    for arg in op_def.output_arg:
        ft = product.args.add()
        ft.CopyFrom(arg.experimental_full_type)
        for sub in ft.args:
            if sub.type_id == full_type_pb2.TFT_VAR and sub.s in attrs:
                dt = _dt.from_enum(attrs[sub.s].type)
                sub.Clear()
                sub.type_id = _FULL_TYPE_IDS.get(dt.name, full_type_pb2.TFT_ANY)
    extra = node_def_pb2.NodeDef()
    extra.experimental_type.CopyFrom(product)
    op._experimental = extra


def _flat(value: Any) -> list[Any]:
    if isinstance(value, (list, tuple)):
        return list(value)
    return [] if value is None else [value]


def _convert_list(arg: Any, values: list[Any], inferred: dict[str, Any],
                  keywords: dict[str, Any]) -> list[_ops.Tensor]:
    if arg.type_list_attr:
        # a Tensor converts to itself (a Saver's SaveV2 takes thousands)
        out = [v if type(v) is _ops.Tensor else _ops.convert_to_tensor(v, name=arg.name)
               for v in values]
        inferred[arg.type_list_attr] = [t.dtype.base_dtype for t in out]
        return out
    dtype = None
    if arg.type_attr:
        dtype = inferred.get(arg.type_attr, keywords.get(arg.type_attr))
        if dtype is None:  # infer from the first tensor in the list
            for v in values:
                if isinstance(v, _ops.Tensor) or hasattr(v, "_as_graph_element"):
                    dtype = _ops.convert_to_tensor(v).dtype.base_dtype
                    break
    elif arg.type:
        dtype = _dt.from_enum(arg.type)
    out = [_ops.convert_to_tensor(v, dtype=dtype, name=f"{arg.name}_{i}")
           for i, v in enumerate(values)]
    if arg.type_attr:
        types = {t.dtype.base_dtype for t in out}
        if len(types) > 1:
            raise TypeError(f"Tensors in list passed to '{arg.name}' of Op have types "
                            f"[{', '.join(t.dtype.base_dtype.name for t in out)}] that don't all match.")
        if out:
            inferred.setdefault(arg.type_attr, out[0].dtype.base_dtype)
    return out
