"""``import_graph_def``: add a GraphDef's nodes to the current graph.

Naming (METAGRAPH.md §4, verified on TF 2.21): ``name=None`` imports under the
uniquified scope ``import/``; ``name="x"`` under ``x/`` (uniquified); ``name=""``
without a prefix. A node whose (prefixed) name is taken is renamed by appending
``_k`` to its full name, k = 1, 2, ..., taking the first candidate that is
neither a node name nor a name prefix (``x`` of ``x/...``) in the graph, nor a
node name or prefix in the GraphDef being imported (C++ ``FindUniqueName``);
inputs, control inputs and ``loc:@`` colocation entries follow the renames.

Nodes are imported as they are: attrs are kept (missing defaults filled from the
OpDef, as TF's importer does), ops without a kernel are kept too, so importing
then exporting gives back an equivalent GraphDef.
"""

from __future__ import annotations

from typing import Any

from tensorkeep import dtypes as _dt
from tensorkeep.graph import op_def_library, op_defs, shape_fns
from tensorkeep.graph import ops as _ops
from tensorkeep.graph.tensor_shape import TensorShape
from tensorkeep.proto import attr_value_pb2, graph_pb2, node_def_pb2


def _parse_input(text: str) -> tuple[str, int, bool]:
    """``"^a"`` -> ("a", -1, True); ``"a:2"`` -> ("a", 2, False); ``"a"`` -> ("a", 0, False)."""
    if text.startswith("^"):
        return text[1:], -1, True
    name, sep, idx = text.rpartition(":")
    if sep and idx.isdigit():
        return name, int(idx), False
    return text, 0, False


def _prefixes(name: str) -> list[str]:
    parts = name.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts))]


def _uniquify(names: list[str], graph: _ops.Graph) -> dict[str, str]:
    """Rename map (old full name -> new) for imported names that clash (TF's FindUniqueName)."""
    existing = set(graph._by_name)
    existing_prefixes = {p for n in existing for p in _prefixes(n)}
    gdef_names = set(names)
    gdef_prefixes = {p for n in names for p in _prefixes(n)}
    taken: set[str] = set()
    renames: dict[str, str] = {}

    def in_graph(n: str) -> bool:
        return n in existing or n in existing_prefixes or n in taken

    for original in names:
        name, count = original, 0
        while in_graph(name) or (count > 0 and (name in gdef_names or name in gdef_prefixes)):
            count += 1
            name = f"{original}_{count}"
        if name != original:
            renames[original] = name
        taken.add(name)
    return renames


def import_graph_def(graph_def: graph_pb2.GraphDef, input_map: dict[str, Any] | None = None,
                     return_elements: list[str] | None = None, name: str | None = None,
                     op_dict: Any = None, producer_op_list: Any = None) -> list[Any] | None:
    """TF's ``tf.import_graph_def``: returns the requested ``return_elements`` (or None)."""
    if isinstance(graph_def, (bytes, bytearray)):
        graph_def = graph_pb2.GraphDef.FromString(bytes(graph_def))
    if not isinstance(graph_def, graph_pb2.GraphDef):
        try:  # a TensorFlow GraphDef, or any message with the same wire format
            graph_def = graph_pb2.GraphDef.FromString(graph_def.SerializeToString())
        except AttributeError:
            raise TypeError(f"graph_def must be a GraphDef proto, got {type(graph_def).__name__}") from None
    graph = _ops.get_default_graph()
    input_map = dict(input_map or {})
    for key, value in input_map.items():
        if not isinstance(value, _ops.Tensor):
            input_map[key] = _ops.convert_to_tensor(value)
    if producer_op_list is not None:
        for op_def in producer_op_list.op:
            op_defs.register_imported(op_def, graph)
    if name == "":
        prefix = ""
        return _import(graph, graph_def, prefix, input_map, return_elements)
    with graph.name_scope(name or "import") as scope:
        prefix = _ops.name_from_scope_name(scope)
    return _import(graph, graph_def, prefix, input_map, return_elements)


def _import(graph: _ops.Graph, graph_def: graph_pb2.GraphDef, prefix: str,
            input_map: dict[str, _ops.Tensor], return_elements: list[str] | None) -> list[Any] | None:
    graph._check_not_finalized()
    nodes = list(graph_def.node)
    full = [f"{prefix}/{n.name}" if prefix else n.name for n in nodes]
    renames = _uniquify(full, graph)

    def new_name(original: str) -> str:
        f = f"{prefix}/{original}" if prefix else original
        return renames.get(f, f)

    by_original: dict[str, _ops.Operation] = {}
    output_counts = _output_counts(nodes)
    created: list[tuple[_ops.Operation, node_def_pb2.NodeDef]] = []
    for node in nodes:
        if node.name in by_original:
            raise ValueError(f"Duplicate node name in graph: '{node.name}'")
        op_def = op_defs.get(node.op, graph)
        attrs = {k: _copy(v) for k, v in node.attr.items()}
        if op_def is not None:
            for a in op_def.attr:
                if a.name not in attrs and a.HasField("default_value"):
                    attrs[a.name] = _copy(a.default_value)
        if "_class" in attrs:
            cls = attrs["_class"]
            rewritten = [b"loc:@" + new_name(s[5:].decode()).encode() if s.startswith(b"loc:@") else s
                         for s in cls.list.s]
            del cls.list.s[:]
            cls.list.s.extend(rewritten)
        dtypes = _output_dtypes(op_def, attrs, output_counts.get(node.name, 0))
        op = _ops.Operation(graph, new_name(node.name), node.op, [], dtypes, attrs, [],
                            device=node.device, op_def=op_def)
        if node.HasField("experimental_debug_info") or node.HasField("experimental_type"):
            extra = node_def_pb2.NodeDef()
            if node.HasField("experimental_debug_info"):
                extra.experimental_debug_info.CopyFrom(node.experimental_debug_info)
            if node.HasField("experimental_type"):
                extra.experimental_type.CopyFrom(node.experimental_type)
            op._experimental = extra
        graph._add_op(op)
        by_original[node.name] = op
        created.append((op, node))
    for op, node in created:
        for text in node.input:
            src, idx, control = _parse_input(text)
            if control:
                mapped = input_map.get(text)
            else:
                mapped = input_map.get(f"{src}:{idx}")
                if mapped is None and idx == 0:
                    mapped = input_map.get(src)
            if mapped is not None:
                if control:
                    op._control_inputs.append(mapped if isinstance(mapped, _ops.Operation) else mapped.op)
                else:
                    op._inputs.append(mapped)
                continue
            producer = by_original.get(src)
            if producer is None:
                raise ValueError(f"Node '{node.name}': Unknown input node '{text}'")
            if control:
                op._control_inputs.append(producer)
            else:
                if idx >= len(producer._outputs):
                    raise ValueError(f"Node '{node.name}': Connecting to invalid output {idx} of source "
                                     f"node {src} which has {len(producer._outputs)} outputs.")
                op._inputs.append(producer._outputs[idx])
    _infer_shapes([op for op, _ in created])
    for op, _node in created:
        op._attrs.pop("_output_shapes", None)
    if graph._library is None and (graph_def.library.function or graph_def.library.gradient):
        graph._library = graph_pb2.GraphDef().library
        graph._library.CopyFrom(graph_def.library)
    elif graph_def.library.function or graph_def.library.gradient:
        graph._library.MergeFrom(graph_def.library)
    if return_elements is None:
        return None
    out = []
    for element in return_elements:
        if ":" in element:
            src, _, idx = element.rpartition(":")
            op = by_original.get(src)
            if op is None:
                raise ValueError(f"Requested return tensor '{element}' not found in graph def")
            out.append(op._outputs[int(idx)])
        else:
            op = by_original.get(element)
            if op is None:
                raise ValueError(f"Requested return node '{element}' not found in graph def")
            out.append(op)
    return out


def _copy(value: attr_value_pb2.AttrValue) -> attr_value_pb2.AttrValue:
    out = attr_value_pb2.AttrValue()
    out.CopyFrom(value)
    return out


def _output_counts(nodes: list[node_def_pb2.NodeDef]) -> dict[str, int]:
    """Outputs referenced by consumers (for ops whose OpDef we do not know)."""
    counts: dict[str, int] = {}
    for node in nodes:
        shapes = node.attr.get("_output_shapes")
        if shapes is not None:
            counts[node.name] = max(counts.get(node.name, 0), len(shapes.list.shape))
        for text in node.input:
            src, idx, control = _parse_input(text)
            if not control:
                counts[src] = max(counts.get(src, 0), idx + 1)
    return counts


def _output_dtypes(op_def: Any, attrs: dict[str, attr_value_pb2.AttrValue], count: int) -> list[Any]:
    if op_def is not None:
        try:
            return op_def_library.output_dtypes(op_def, attrs)
        except (KeyError, ValueError):
            pass
    types: list[Any] = [None] * count
    for key in ("T", "dtype", "out_type", "DstT"):
        if key in attrs and attrs[key].WhichOneof("value") == "type":
            types = [_dt.from_enum(attrs[key].type)] * count
            break
    return types


def _infer_shapes(ops: list[_ops.Operation]) -> None:
    """Shape inference in dependency order; ``_output_shapes`` refines what we infer."""
    pending = {id(op): op for op in ops}
    done: set[int] = set()
    order: list[_ops.Operation] = []
    remaining = list(ops)
    while remaining:
        progressed = []
        rest = []
        for op in remaining:
            if all(id(t.op) not in pending or id(t.op) in done for t in op._inputs):
                progressed.append(op)
            else:
                rest.append(op)
        if not progressed:  # a cycle (control flow): take the rest as they are
            progressed, rest = rest, []
        for op in progressed:
            done.add(id(op))
            order.append(op)
        remaining = rest
    for op in order:
        try:
            shape_fns.set_shapes(op)
        except (ValueError, TypeError, KeyError, IndexError):
            pass
        declared = op._attrs.get("_output_shapes")
        if declared is not None and len(declared.list.shape) == len(op._outputs):
            for t, s in zip(op._outputs, declared.list.shape):
                try:
                    t._shape = t._shape.merge_with(TensorShape(s))
                except ValueError:
                    t._shape = TensorShape(s)
