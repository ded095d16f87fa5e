"""MetaGraphDef export and import (``tf.train.export_meta_graph`` / ``import_meta_graph``).

Export (METAGRAPH.md §1, §3): ``graph_def`` from ``as_graph_def(add_shapes=True)``;
``meta_info_def`` with the stripped op list (sorted, no docs),
``tensorflow_version`` :data:`TENSORFLOW_VERSION` and ``tensorflow_git_version``
:data:`TENSORFLOW_GIT_VERSION`; the saver_def if given; every string-keyed
collection: variable collections (and any key with a registered proto function)
as ``bytes_list`` of serialized protos, otherwise by the kind of the first
element (str/bytes -> bytes_list, int -> int64_list, float -> float_list,
tensors/ops -> node_list of names). The file is binary with deterministic
serialization (maps sorted by key) or text with ``as_text=True``, written
atomically; parent directories are created.

Import: binary or text files (binary tried first) or a MetaGraphDef; the graph
is imported into the default graph (``import_scope`` prefix, or none with
TF's clash renaming), collections are rebuilt (variables from VariableDef, node
lists looked up by name with the scope prepended), and a Saver is built from the
stored SaverDef by :func:`_saver_from_def`.
"""

from __future__ import annotations

import os
from typing import Any, Callable

from google.protobuf import message as _pb_message
from google.protobuf import text_format

from tensorkeep import errors
from tensorkeep.graph import importer, op_defs
from tensorkeep.graph import ops as _ops
from tensorkeep.graph import variables as _vars
from tensorkeep.graph.ops import GraphKeys
from tensorkeep.proto import meta_graph_pb2, saver_pb2, variable_pb2

# What we write into meta_info_def: the TF release whose formats we mirror
# (graph_def.versions.producer 2474 is TF 2.21's), and our own identity in the
# git-version field so a file written by tensorkeep can be told apart.
TENSORFLOW_VERSION = "2.21.0"
TENSORFLOW_GIT_VERSION = "tensorkeep-0.1.0"

# --- proto functions per collection key (TF's ops.register_proto_function) ------------------
_PROTO_FUNCTIONS: dict[str, tuple[type, Callable[..., Any] | None, Callable[..., Any] | None]] = {}


def register_proto_function(collection_name: str, proto_type: type | None = None,
                            to_proto: Callable[..., Any] | None = None,
                            from_proto: Callable[..., Any] | None = None) -> None:
    """Serialize collection ``collection_name`` with ``to_proto`` and rebuild it with ``from_proto``."""
    _PROTO_FUNCTIONS[collection_name] = (proto_type, to_proto, from_proto)  # type: ignore[assignment]


def _variable_to_proto(v: Any, export_scope: str | None = None) -> Any:
    return v.to_proto(export_scope=export_scope)


def _variable_from_proto(proto: Any, import_scope: str | None = None) -> Any:
    return _vars.Variable.from_proto(proto, import_scope=import_scope)


for _key in (GraphKeys.GLOBAL_VARIABLES, GraphKeys.TRAINABLE_VARIABLES,
             GraphKeys.MOVING_AVERAGE_VARIABLES, GraphKeys.LOCAL_VARIABLES,
             GraphKeys.MODEL_VARIABLES, GraphKeys.METRIC_VARIABLES, GraphKeys.GLOBAL_STEP):
    register_proto_function(_key, variable_pb2.VariableDef, _variable_to_proto, _variable_from_proto)


def _saver_to_proto(saver: Any, export_scope: str | None = None) -> Any:
    return saver.to_proto(export_scope=export_scope)


def _saver_from_proto(proto: Any, import_scope: str | None = None) -> Any:
    from tensorkeep.graph.saver import Saver  # type: ignore[import-not-found]
    return Saver.from_proto(proto, import_scope=import_scope)


register_proto_function(GraphKeys.SAVERS, saver_pb2.SaverDef, _saver_to_proto, _saver_from_proto)


# --- export -------------------------------------------------------------------------------------
def _should_include(item: Any, export_scope: str | None) -> bool:
    if not export_scope:
        return True
    name = getattr(item, "name", None)
    return not isinstance(name, str) or name.startswith(export_scope)


def _kind(item: Any) -> str:
    if isinstance(item, (str, bytes)):
        return "bytes_list"
    if isinstance(item, bool) or not isinstance(item, (int, float)):
        if hasattr(item, "TypeName") and item.DESCRIPTOR.full_name == "google.protobuf.Any":
            return "any_list"
        return "node_list"
    return "int64_list" if isinstance(item, int) else "float_list"


def _add_collection(meta: meta_graph_pb2.MetaGraphDef, key: str, graph: _ops.Graph,
                    export_scope: str | None) -> None:
    items = [x for x in graph.get_collection(key) if _should_include(x, export_scope)]
    if not items:
        return
    col = meta.collection_def[key]
    try:
        entry = _PROTO_FUNCTIONS.get(key)
        if entry is not None and entry[1] is not None:
            for x in items:
                proto = entry[1](x, export_scope=export_scope)
                if proto is not None:
                    col.bytes_list.value.append(proto.SerializeToString(deterministic=True))
            return
        kind = _kind(items[0])
        if kind == "node_list":
            for x in items:
                name = x.name if not hasattr(x, "_as_graph_element") or isinstance(
                    x, (_ops.Tensor, _ops.Operation)) else x._as_graph_element().name
                if not export_scope or name.startswith(export_scope):
                    col.node_list.value.append(_vars.strip_name_scope(name, export_scope))
        elif kind == "bytes_list":
            col.bytes_list.value.extend(x.encode() if isinstance(x, str) else bytes(x) for x in items)
        elif kind == "any_list":
            col.any_list.value.extend(items)
        else:
            getattr(col, kind).value.extend(items)
    except Exception:  # TF drops a collection it cannot serialize (with a warning)
        del meta.collection_def[key]


def _op_types(graph_def: Any) -> set[str]:
    types = {n.op for n in graph_def.node}
    for fn in graph_def.library.function:
        types.update(n.op for n in fn.node_def)
    functions = {fn.signature.name for fn in graph_def.library.function}
    return types - functions


def _strip_default_attrs(graph_def: Any, graph: Any = None) -> None:
    for node in graph_def.node:
        op_def = op_defs.get(node.op, graph)
        if op_def is None:
            continue
        for attr in op_def.attr:
            if attr.HasField("default_value") and attr.name in node.attr and \
                    node.attr[attr.name] == attr.default_value:
                del node.attr[attr.name]


_UNBOUND_INPUT_PREFIX = "$unbound_inputs_"


def _scope_graph_def(graph_def: Any, export_scope: str) -> tuple[Any, list[str]]:
    """The nodes whose names start with ``export_scope``, renamed by ``strip_name_scope``.

    TF 2.21's rules (observed): the scope is a plain string prefix (``"outer"``
    also takes ``outer2/w``; ``"outer/"`` does not); an input from outside it becomes
    ``$unbound_inputs_<name>`` (after the ``^`` of a control input) and, for data
    inputs only, is listed in the returned names, once per use; ``loc:@`` entries of
    ``_class`` naming ops outside the scope are dropped.
    """
    from tensorkeep.proto import graph_pb2
    out = graph_pb2.GraphDef()
    out.versions.CopyFrom(graph_def.versions)
    if graph_def.HasField("library"):
        out.library.CopyFrom(graph_def.library)
    unbound: list[str] = []
    for node in graph_def.node:
        if not node.name.startswith(export_scope):
            continue
        new = out.node.add()
        new.CopyFrom(node)
        new.name = _vars.strip_name_scope(node.name, export_scope)
        del new.input[:]
        for inp in node.input:
            control = inp.startswith("^")
            if inp.lstrip("^").startswith(export_scope):
                new.input.append(_vars.strip_name_scope(inp, export_scope))
            else:
                renamed = ("^" if control else "") + _UNBOUND_INPUT_PREFIX + inp.lstrip("^")
                new.input.append(renamed)
                if not control:
                    unbound.append(renamed)
        if "_class" in new.attr:
            vals = [_vars.strip_name_scope(v, export_scope).encode()
                    for v in (x.decode("utf-8", "replace") for x in node.attr["_class"].list.s)
                    if v.split("@", 1)[-1].startswith(export_scope)]
            del new.attr["_class"].list.s[:]
            new.attr["_class"].list.s.extend(vals)
    return out, unbound


def export_meta_graph(filename: str | os.PathLike[str] | None = None, meta_info_def: Any = None,
                      graph_def: Any = None, saver_def: Any = None,
                      collection_list: list[str] | None = None, as_text: bool = False,
                      graph: _ops.Graph | None = None, export_scope: str | None = None,
                      clear_devices: bool = False, clear_extraneous_savers: bool = False,
                      strip_default_attrs: bool = False, save_debug_info: bool = False,
                      **kwargs: Any) -> meta_graph_pb2.MetaGraphDef:
    """Build (and with ``filename``, write) the MetaGraphDef of ``graph`` (default graph)."""
    graph = graph or _ops.get_default_graph()
    meta = meta_graph_pb2.MetaGraphDef()
    if meta_info_def is not None:
        meta.meta_info_def.CopyFrom(meta_info_def)
    rebuilt = bool(export_scope or clear_devices or clear_extraneous_savers)
    if graph_def is None:
        graph_def = graph.as_graph_def(add_shapes=True)
        given = False
        if rebuilt:
            # TF 2.21 (observed) then writes each op's own NodeDef: control inputs in the
            # op's order, not sorted by name as in as_graph_def.
            del graph_def.node[:]
            graph_def.node.extend(op._node_def(add_shapes=True) for op in graph.get_operations())
    else:
        from tensorkeep.proto import graph_pb2
        if not isinstance(graph_def, graph_pb2.GraphDef):
            graph_def = graph_pb2.GraphDef.FromString(graph_def.SerializeToString())
        else:
            graph_def = graph_pb2.GraphDef.FromString(graph_def.SerializeToString(deterministic=True)) \
                if rebuilt else graph_def
        given = True
    unbound: list[str] = []
    if export_scope:
        graph_def, unbound = _scope_graph_def(graph_def, export_scope)
    if clear_devices:
        for node in graph_def.node:
            node.device = ""
    if clear_extraneous_savers:
        _drop_extraneous_saver_nodes(graph_def, saver_def)
    # TF 2.21 (observed, serialized bytes): a GraphDef passed in (as Saver.export_meta_graph
    # does) and rewritten for export_scope / clear_devices / clear_extraneous_savers carries
    # its library over, so an empty one is still present (`library {}`); a graph_def made
    # here from the graph has a library only when the graph has functions.
    if given and rebuilt:
        graph_def.library.SetInParent()
    elif not given and not (graph_def.library.function or graph_def.library.gradient):
        graph_def.ClearField("library")
    if strip_default_attrs:
        _strip_default_attrs(graph_def, graph)
        meta.meta_info_def.stripped_default_attrs = True
    meta.graph_def.CopyFrom(graph_def)
    if not meta.meta_info_def.HasField("stripped_op_list"):
        meta.meta_info_def.stripped_op_list.CopyFrom(op_defs.stripped_op_list(_op_types(graph_def), graph))
    meta.meta_info_def.tensorflow_version = TENSORFLOW_VERSION
    meta.meta_info_def.tensorflow_git_version = TENSORFLOW_GIT_VERSION
    if saver_def is not None:
        meta.saver_def.CopyFrom(saver_def)
    keys = collection_list if collection_list is not None else graph.get_all_collection_keys()
    for key in keys:
        if isinstance(key, str):
            _add_collection(meta, key, graph, export_scope)
    if unbound and (collection_list is None or "unbound_inputs" in collection_list):
        meta.collection_def["unbound_inputs"].bytes_list.value.extend(u.encode() for u in unbound)
    if clear_extraneous_savers and saver_def is not None:
        _clear_extraneous_saver_collections(meta, saver_def)
    if filename is not None:
        _write(os.fspath(filename), meta, as_text)
    return meta


# Ops whose scope TF 2.21 treats as a saver's (observed: SaveSlices and MergeV2Checkpoints
# do not mark a scope, these do).
_SAVER_SCOPE_OPS = frozenset({"SaveV2", "Save", "RestoreV2", "Restore", "RestoreSlice"})


def _drop_extraneous_saver_nodes(graph_def: Any, saver_def: Any) -> None:
    """Drop the nodes of every saver scope but ``saver_def``'s (all of them without one).

    A saver scope is the parent scope of a save or restore node (``save``,
    ``a/save_1``); the kept scopes are those of the SaverDef's save tensor and
    restore op (observed on TF 2.21).
    """
    names = {n.name for n in graph_def.node}
    scopes = {n.name.rsplit("/", 1)[0] for n in graph_def.node
              if n.op in _SAVER_SCOPE_OPS and "/" in n.name} - names
    if saver_def is not None:
        for kept in (saver_def.save_tensor_name.split(":")[0], saver_def.restore_op_name):
            scopes.discard(kept.rsplit("/", 1)[0] if "/" in kept else "")
    if not scopes:
        return
    prefixes = tuple(sc + "/" for sc in scopes)
    nodes = [n for n in graph_def.node if not n.name.startswith(prefixes)]
    del graph_def.node[:]
    graph_def.node.extend(nodes)


def _clear_extraneous_saver_collections(meta: meta_graph_pb2.MetaGraphDef, saver_def: Any) -> None:
    """Keep only ``saver_def``'s entry in the ``savers`` collection."""
    keep = saver_def.save_tensor_name.split("/")[0]
    if "savers" in meta.collection_def:
        kept = [v for v in meta.collection_def["savers"].bytes_list.value
                if saver_pb2.SaverDef.FromString(v).save_tensor_name.split("/")[0] == keep]
        del meta.collection_def["savers"].bytes_list.value[:]
        meta.collection_def["savers"].bytes_list.value.extend(kept)


def _write(path: str, meta: meta_graph_pb2.MetaGraphDef, as_text: bool) -> None:
    from tensorkeep.io import files
    directory = os.path.dirname(path)
    if directory:
        files.makedirs(directory)
    data = text_format.MessageToString(meta).encode() if as_text else \
        meta.SerializeToString(deterministic=True)
    files.atomic_write(path, data)


# --- import -------------------------------------------------------------------------------------
def read_meta_graph_file(filename: str | os.PathLike[str]) -> meta_graph_pb2.MetaGraphDef:
    """A MetaGraphDef from a binary or text file (binary tried first)."""
    from tensorkeep import errors
    from tensorkeep.io import files
    path = os.fspath(filename)
    if not os.path.exists(path):
        raise OSError(f"File {path} does not exist.")
    data = files.read_bytes(path)
    meta = meta_graph_pb2.MetaGraphDef()
    try:
        meta.ParseFromString(data)
        return meta
    except _pb_message.DecodeError:
        pass
    try:
        text_format.Merge(data.decode("utf-8"), meta)
    except (text_format.ParseError, UnicodeDecodeError) as exc:
        raise errors.DataLossError(f"Cannot parse file {path} as a MetaGraphDef (binary or text): {exc}",
                                   filename=path) from None
    return meta


def import_meta_graph(meta_graph_or_file: Any, clear_devices: bool = False,
                      import_scope: str | None = None, **kwargs: Any) -> Any:
    """Import a meta graph into the default graph; returns a Saver for it (or None).

    A meta graph (a file or an in-memory MetaGraphDef) that does not describe a
    valid graph raises InvalidArgumentError (a ValueError, as TF's ValueError)
    naming the file, never another exception type: files may come from strangers.
    An argument that is neither a path nor a MetaGraphDef is a TypeError.
    """
    source = os.fspath(meta_graph_or_file) if isinstance(meta_graph_or_file, (str, os.PathLike)) \
        else None
    if source is None and not hasattr(meta_graph_or_file, "SerializeToString"):
        raise TypeError(f"Expected a MetaGraphDef or a file name, got "
                        f"{type(meta_graph_or_file).__name__}")
    try:
        return _import_meta_graph(meta_graph_or_file, clear_devices, import_scope, **kwargs)
    except errors.OpError:
        raise
    except (ValueError, KeyError, TypeError, AttributeError, IndexError,
            _pb_message.DecodeError) as exc:
        what = f"meta graph file {source}" if source is not None else "meta graph"
        raise errors.InvalidArgumentError(
            f"{what} does not describe a valid graph: {type(exc).__name__}: {exc}",
            filename=source) from exc


def _import_meta_graph(meta_graph_or_file: Any, clear_devices: bool, import_scope: str | None,
                       **kwargs: Any) -> Any:
    result = import_scoped_meta_graph_with_return_elements(
        meta_graph_or_file, clear_devices=clear_devices, import_scope=import_scope, **kwargs)
    meta, imported_vars = result["meta_graph_def"], result["variables"]
    scope = import_scope
    if imported_vars:
        key = next(iter(imported_vars))
        scope = imported_vars[key].name[: -len(key)]
    if meta.HasField("saver_def"):
        return _saver_from_def(meta.saver_def, scope)
    return _saver_from_def(None, import_scope)


def _as_meta_graph_def(value: Any) -> meta_graph_pb2.MetaGraphDef:
    if isinstance(value, meta_graph_pb2.MetaGraphDef):
        return value
    if isinstance(value, (str, os.PathLike)):
        return read_meta_graph_file(value)
    if hasattr(value, "SerializeToString"):  # e.g. TensorFlow's own MetaGraphDef
        return meta_graph_pb2.MetaGraphDef.FromString(value.SerializeToString())
    raise TypeError(f"Expected a MetaGraphDef or a file name, got {type(value).__name__}")


def import_scoped_meta_graph_with_return_elements(
        meta_graph_or_file: Any, clear_devices: bool = False, graph: _ops.Graph | None = None,
        import_scope: str | None = None, input_map: dict[str, Any] | None = None,
        unbound_inputs_col_name: str = "unbound_inputs", restore_collections_predicate: Any = None,
        return_elements: list[str] | None = None) -> dict[str, Any]:
    """TF's ``import_scoped_meta_graph_with_return_elements``, returning a dict of results."""
    meta = meta_graph_pb2.MetaGraphDef()
    meta.CopyFrom(_as_meta_graph_def(meta_graph_or_file))
    graph = graph or _ops.get_default_graph()
    predicate = restore_collections_predicate or (lambda key: True)
    for op_def in meta.meta_info_def.stripped_op_list.op:
        op_defs.register_imported(op_def, graph)
    with graph.as_default():
        graph_def = meta.graph_def
        if clear_devices:
            for node in graph_def.node:
                node.device = ""
        scope_prefix = graph.unique_name(import_scope or "", mark_as_used=False)
        returned = importer.import_graph_def(graph_def, name=import_scope or scope_prefix,
                                             input_map=input_map, return_elements=return_elements)
        variable_objects: dict[bytes, Any] = {}
        for key, col in sorted(meta.collection_def.items()):
            if key == unbound_inputs_col_name or not predicate(key):
                continue
            kind = col.WhichOneof("kind")
            if kind is None:
                continue
            entry = _PROTO_FUNCTIONS.get(key)
            if entry is not None and entry[2] is not None and kind == "bytes_list":
                proto_type, _, from_proto = entry
                for value in col.bytes_list.value:
                    if key in GraphKeys._VARIABLE_COLLECTIONS:
                        obj = variable_objects.get(value)
                        if obj is None:
                            obj = from_proto(proto_type.FromString(value), import_scope=scope_prefix)
                            variable_objects[value] = obj
                    else:
                        try:
                            obj = from_proto(proto_type.FromString(value), import_scope=scope_prefix)
                        except ImportError:
                            continue
                    graph.add_to_collection(key, obj)
            elif kind == "node_list":
                for value in col.node_list.value:
                    graph.add_to_collection(key, graph.as_graph_element(
                        _vars.prepend_name_scope(value, scope_prefix)))
            elif kind == "int64_list":
                for value in col.int64_list.value:
                    graph.add_to_collection(key, int(value))
            elif kind == "bytes_list":
                for value in col.bytes_list.value:
                    graph.add_to_collection(key, _vars.prepend_name_scope(value.decode("utf-8", "replace"),
                                                                          scope_prefix)
                                            if scope_prefix else value)
            else:
                for value in getattr(col, kind).value:
                    graph.add_to_collection(key, value)
        var_list: dict[str, Any] = {}
        for v in variable_objects.values():
            var_list[_vars.strip_name_scope(v.name, scope_prefix)] = v
    return {"meta_graph_def": meta, "variables": var_list, "return_elements": returned}


def import_scoped_meta_graph(meta_graph_or_file: Any, clear_devices: bool = False,
                             graph: _ops.Graph | None = None, import_scope: str | None = None,
                             input_map: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
    """Import and return the imported variables by (unscoped) name."""
    return import_scoped_meta_graph_with_return_elements(
        meta_graph_or_file, clear_devices=clear_devices, graph=graph, import_scope=import_scope,
        input_map=input_map, **kwargs)["variables"]


def _saver_from_def(saver_def: Any, import_scope: str | None) -> Any:
    """The Saver ``import_meta_graph`` returns: built from the stored SaverDef, or a default
    Saver over the graph's variables when the meta graph has none (None without variables).

    Hook owned jointly with the Saver (``tensorkeep.graph.saver``); returns None until it exists.
    """
    try:
        from tensorkeep.graph.saver import Saver  # type: ignore[import-not-found]
    except ImportError:
        return None
    if saver_def is None:
        if _vars.global_variables() or _ops.get_collection(GraphKeys.SAVEABLE_OBJECTS):
            return Saver()
        return None
    return Saver(saver_def=saver_def, name=import_scope)
