"""Our protos (package ``tensorkeep.tf``) against TensorFlow's (package ``tensorflow``).

* Coexistence: importing ours before or after TensorFlow works in a fresh process.
* Descriptors: every message, field, enum value, oneof, map and reserved range of each
  of our files equals TF 2.21's, with the package renamed (the strongest check).
* Bytes: for every message, a fully populated TF message (one variant per oneof member)
  serialized deterministically parses with ours and re-serializes to identical bytes,
  and the reverse; text format (which names every field) agrees too.
* Golden bytes from the specs, and real TF-produced messages (an exported meta graph,
  a TF2 checkpoint's object graph, tensors from ``make_tensor_proto``).
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

import pytest
from google.protobuf import descriptor_pb2, text_format
from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor, FileDescriptor

# our module name -> TensorFlow 2.21's module holding the same .proto
TF_MODULES = {
    "types": "tensorflow.core.framework.types_pb2",
    "tensor_shape": "tensorflow.core.framework.tensor_shape_pb2",
    "tensor_slice": "tensorflow.core.framework.tensor_slice_pb2",
    "versions": "tensorflow.core.framework.versions_pb2",
    "resource_handle": "tensorflow.core.framework.resource_handle_pb2",
    "tensor": "tensorflow.core.framework.tensor_pb2",
    "attr_value": "tensorflow.core.framework.attr_value_pb2",
    "node_def": "tensorflow.core.framework.node_def_pb2",
    "op_def": "tensorflow.core.framework.op_def_pb2",
    "function": "tensorflow.core.framework.function_pb2",
    "full_type": "tensorflow.core.framework.full_type_pb2",
    "graph_debug_info": "tensorflow.core.framework.graph_debug_info_pb2",
    "graph": "tensorflow.core.framework.graph_pb2",
    "variable": "tensorflow.core.framework.variable_pb2",
    "saver": "tensorflow.core.protobuf.saver_pb2",
    "meta_graph": "tensorflow.core.protobuf.meta_graph_pb2",
    "saved_object_graph": "tensorflow.core.protobuf.saved_object_graph_pb2",
    "struct": "tensorflow.core.protobuf.struct_pb2",
    "trackable_object_graph": "tensorflow.core.protobuf.trackable_object_graph_pb2",
    "tensor_bundle": "tensorflow.core.protobuf.tensor_bundle_pb2",
    "saved_tensor_slice": "tensorflow.core.util.saved_tensor_slice_pb2",
    "checkpoint_state": "tensorflow.python.training.checkpoint_state_pb2",
}

# (our module, top-level message) for every message of every file
MESSAGES = [
    (mod, name)
    for mod in TF_MODULES
    for name in importlib.import_module(f"tensorkeep.proto.{mod}_pb2").DESCRIPTOR.message_types_by_name
]

OURS_PKG = "tensorkeep.tf"
TF_PKG = "tensorflow"


def ours(mod: str) -> ModuleType:
    return importlib.import_module(f"tensorkeep.proto.{mod}_pb2")


def theirs(mod: str) -> ModuleType:
    return importlib.import_module(TF_MODULES[mod])


def _unpkg(full_name: str, pkg: str) -> str:
    return full_name[len(pkg) + 1:] if full_name.startswith(pkg + ".") else full_name


# --------------------------------------------------------------------------- coexistence


IMPORT_OURS = """
from tensorkeep.proto import (attr_value_pb2, checkpoint_state_pb2, function_pb2, graph_pb2,
    meta_graph_pb2, node_def_pb2, op_def_pb2, saved_object_graph_pb2, saved_tensor_slice_pb2,
    saver_pb2, tensor_bundle_pb2, tensor_pb2, trackable_object_graph_pb2, types_pb2, variable_pb2)
"""
IMPORT_TF = """
import tensorflow as tf
from tensorflow.core.protobuf import saver_pb2 as tf_saver_pb2
"""
CHECK = """
assert saver_pb2.SaverDef is not tf_saver_pb2.SaverDef
assert saver_pb2.SaverDef.DESCRIPTOR.full_name == "tensorkeep.tf.SaverDef"
assert tf_saver_pb2.SaverDef.DESCRIPTOR.full_name == "tensorflow.SaverDef"
data = tf_saver_pb2.SaverDef(filename_tensor_name="save/Const:0", max_to_keep=5,
                             version=tf_saver_pb2.SaverDef.V2).SerializeToString()
assert saver_pb2.SaverDef.FromString(data).SerializeToString() == data
g = tf.Graph()
with g.as_default():
    tf.constant(1.0, name="c")
assert graph_pb2.GraphDef.FromString(g.as_graph_def().SerializeToString()).node[0].name == "c"
print("OK")
"""


@pytest.mark.tf
@pytest.mark.parametrize("order", ["ours_first", "tf_first"])
def test_import_order(run_python: Any, order: str) -> None:
    first, second = (IMPORT_OURS, IMPORT_TF) if order == "ours_first" else (IMPORT_TF, IMPORT_OURS)
    proc = run_python(first + second + CHECK)
    assert proc.stdout.strip().endswith("OK")


def test_generated_modules_use_own_package_and_files() -> None:
    for mod in TF_MODULES:
        fd = ours(mod).DESCRIPTOR
        assert fd.package == OURS_PKG
        assert fd.name == f"tensorkeep/proto/{mod}.proto"
        for dep in fd.dependencies:
            assert dep.name.startswith(("tensorkeep/proto/", "google/protobuf/")), dep.name


# --------------------------------------------------------------------------- descriptors


def _field_sig(f: FieldDescriptor, fp: descriptor_pb2.FieldDescriptorProto,
               pkg: str) -> tuple[Any, ...]:
    sub = f.message_type or f.enum_type
    return (
        f.number,
        f.type,
        fp.label,
        fp.proto3_optional,
        _unpkg(sub.full_name, pkg) if sub is not None else None,
        f.containing_oneof.name if f.containing_oneof is not None else None,
        f.has_presence,
        f.is_packed if f.is_repeated else None,
        fp.options.SerializeToString(deterministic=True),
        f.json_name,
    )


def _enum_sig(e: EnumDescriptor) -> dict[str, Any]:
    opts = e.GetOptions()
    return {
        "values": {v.name: v.number for v in e.values},
        "allow_alias": opts.allow_alias,
        "closed": e.is_closed,
    }


def _message_sig(m: Descriptor, pkg: str) -> dict[str, Any]:
    proto = descriptor_pb2.DescriptorProto()
    m.CopyToProto(proto)
    return {
        "fields": {f.name: _field_sig(f, fp, pkg) for f, fp in zip(m.fields, proto.field)},
        "oneofs": {o.name: sorted(f.name for f in o.fields) for o in m.oneofs},
        "map_entry": m.GetOptions().map_entry,
        "nested": {n.name: _message_sig(n, pkg) for n in m.nested_types},
        "enums": {e.name: _enum_sig(e) for e in m.enum_types},
        "reserved": sorted((r.start, r.end) for r in proto.reserved_range),
        "reserved_names": sorted(proto.reserved_name),
    }


def _file_sig(fd: FileDescriptor, pkg: str) -> dict[str, Any]:
    proto = descriptor_pb2.FileDescriptorProto()
    fd.CopyToProto(proto)
    return {
        "syntax": proto.syntax or "proto2",
        "messages": {n: _message_sig(m, pkg) for n, m in fd.message_types_by_name.items()},
        "enums": {n: _enum_sig(e) for n, e in fd.enum_types_by_name.items()},
        "extensions": sorted(fd.extensions_by_name),
        "deps": sorted(_dep_key(d.name) for d in fd.dependencies),
    }


def _dep_key(name: str) -> str:
    return name if name.startswith("google/") else name.rsplit("/", 1)[1]


@pytest.mark.tf
@pytest.mark.parametrize("mod", sorted(TF_MODULES))
def test_descriptor_matches_tensorflow(tf: Any, mod: str) -> None:
    mine = _file_sig(ours(mod).DESCRIPTOR, OURS_PKG)
    ref = _file_sig(theirs(mod).DESCRIPTOR, TF_PKG)
    assert mine["syntax"] == ref["syntax"]
    assert mine["deps"] == ref["deps"]
    assert sorted(mine["messages"]) == sorted(ref["messages"])
    for name in ref["messages"]:
        assert mine["messages"][name] == ref["messages"][name], name
    assert mine == ref


@pytest.mark.tf
def test_datatype_enum_equals_tensorflow(tf: Any) -> None:
    from tensorflow.core.framework import types_pb2 as tf_types

    mine = ours("types").DataType
    assert dict(mine.items()) == dict(tf_types.DataType.items())
    numbers = set(mine.values())
    assert set(range(0, 34)) <= numbers
    assert set(range(101, 134)) <= numbers
    for number in numbers:
        assert mine.Name(number) == tf_types.DataType.Name(number)
        if number:
            base = number % 100
            assert mine.Name(base + 100) == mine.Name(base) + "_REF"


# --------------------------------------------------------------------------- populated messages

_STRINGS = ["v1:0", 'qu"ote\\back', "caf\u00e9 \u4e2d", "", "line\nbreak\ttab"]


def _scalar(f: FieldDescriptor, k: int) -> Any:
    t = f.type
    if t == FieldDescriptor.TYPE_STRING:
        return _STRINGS[k % len(_STRINGS)] or f"s{k}"
    if t == FieldDescriptor.TYPE_BYTES:
        return bytes([k % 256, 0, 255, 0x80]) + b"\x00raw"
    if t == FieldDescriptor.TYPE_BOOL:
        return True
    if t in (FieldDescriptor.TYPE_FLOAT, FieldDescriptor.TYPE_DOUBLE):
        return [1.5, -0.25, 3e-3, 1e30, -7.0][k % 5]
    if t in (FieldDescriptor.TYPE_UINT32, FieldDescriptor.TYPE_FIXED32):
        return [1, 0xFFFFFFFF, 300][k % 3]
    if t in (FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_FIXED64):
        return [2, 0xFFFFFFFFFFFFFFFF, 1 << 40][k % 3]
    if t in (FieldDescriptor.TYPE_INT32, FieldDescriptor.TYPE_SINT32, FieldDescriptor.TYPE_SFIXED32):
        return [-1, 7, 2**31 - 1, -(2**31)][k % 4]
    if t in (FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_SINT64, FieldDescriptor.TYPE_SFIXED64):
        return [-1, 1 << 40, 2**63 - 1, -(2**63)][k % 4]
    if t == FieldDescriptor.TYPE_ENUM:
        values = f.enum_type.values
        return values[(k + 1) % len(values)].number
    raise AssertionError(f"unhandled type {t} for {f.full_name}")


def _populate(msg: Any, variant: int, depth: int = 0) -> None:
    """Set every field of ``msg`` (each oneof: member ``variant``), nested to a fixed depth."""
    desc = msg.DESCRIPTOR
    chosen = {o.name: o.fields[variant % len(o.fields)].name for o in desc.oneofs}
    for k, f in enumerate(desc.fields):
        oneof = f.containing_oneof
        if oneof is not None and chosen[oneof.name] != f.name:
            continue
        is_msg = f.type == FieldDescriptor.TYPE_MESSAGE
        if is_msg and depth >= 4:
            continue
        if is_msg and f.message_type.GetOptions().map_entry:
            key_f, val_f = f.message_type.fields_by_name["key"], f.message_type.fields_by_name["value"]
            container = getattr(msg, f.name)
            for j in range(2):
                key = _scalar(key_f, k + j)
                if key_f.type == FieldDescriptor.TYPE_STRING:
                    key = f"{key}#{j}"
                if val_f.type == FieldDescriptor.TYPE_MESSAGE:
                    _populate(container[key], variant + j, depth + 1)
                else:
                    container[key] = _scalar(val_f, k + j)
        elif f.is_repeated:
            container = getattr(msg, f.name)
            for j in range(2):
                if is_msg:
                    _populate(container.add(), variant + j, depth + 1)
                else:
                    container.append(_scalar(f, k + j))
        elif is_msg:
            sub = getattr(msg, f.name)
            sub.SetInParent()
            _populate(sub, variant, depth + 1)
        else:
            setattr(msg, f.name, _scalar(f, k))


def _max_oneof(desc: Descriptor, seen: set[str] | None = None) -> int:
    seen = set() if seen is None else seen
    if desc.full_name in seen:
        return 1
    seen.add(desc.full_name)
    n = max([len(o.fields) for o in desc.oneofs] + [1])
    for f in desc.fields:
        if f.message_type is not None:
            n = max(n, _max_oneof(f.message_type, seen))
    return n


def _text(msg: Any, pkg: str) -> str:
    # Any.type_url and the text of nested type names carry no package; field names do not either.
    return text_format.MessageToString(msg).replace(pkg + ".", "PKG.")


@pytest.mark.tf
@pytest.mark.parametrize("mod,name", MESSAGES, ids=[f"{m}.{n}" for m, n in MESSAGES])
def test_populated_messages_round_trip_both_ways(tf: Any, mod: str, name: str) -> None:
    our_cls = getattr(ours(mod), name)
    tf_cls = getattr(theirs(mod), name)
    for variant in range(_max_oneof(tf_cls.DESCRIPTOR)):
        ref = tf_cls()
        _populate(ref, variant)
        data = ref.SerializeToString(deterministic=True)
        assert data or not tf_cls.DESCRIPTOR.fields, name  # only empty messages serialize to b""
        mine = our_cls.FromString(data)
        assert mine.SerializeToString(deterministic=True) == data
        assert _text(mine, OURS_PKG) == _text(ref, TF_PKG)

        built = our_cls()
        _populate(built, variant)
        data2 = built.SerializeToString(deterministic=True)
        assert data2 == data  # same populator, same field numbers: same bytes
        back = tf_cls.FromString(data2)
        assert back.SerializeToString(deterministic=True) == data2
        assert _text(back, TF_PKG) == _text(built, OURS_PKG)


# --------------------------------------------------------------------------- golden bytes


def test_default_saver_def_bytes() -> None:
    # STATE_AND_SAVER.md §3.1: the default SaverDef is 68 bytes.
    saver_pb2 = ours("saver")
    sd = saver_pb2.SaverDef(filename_tensor_name="save/Const:0",
                            save_tensor_name="save/control_dependency:0",
                            restore_op_name="save/restore_all", max_to_keep=5,
                            keep_checkpoint_every_n_hours=10000.0,
                            version=saver_pb2.SaverDef.V2)
    assert sd.SerializeToString() == (
        b"\n\x0csave/Const:0" b"\x12\x19save/control_dependency:0" b"\x1a\x10save/restore_all"
        + bytes.fromhex("2005" "3500401c46" "3802"))
    assert len(sd.SerializeToString()) == 68


def test_variable_def_bytes() -> None:
    # METAGRAPH.md §1.2: a ref variable's VariableDef, 47 bytes.
    vd = ours("variable").VariableDef(variable_name="v1:0", initializer_name="v1/Assign",
                                      snapshot_name="v1/read:0",
                                      initial_value_name="random_normal:0", trainable=True)
    assert vd.SerializeToString() == (
        b"\n\x04v1:0\x12\tv1/Assign\x1a\tv1/read:02\x0frandom_normal:08\x01")


def test_bundle_header_and_entry_bytes() -> None:
    # FORMAT.md §3.3-3.4.
    tb = ours("tensor_bundle")
    header = tb.BundleHeaderProto(num_shards=1)
    header.version.producer = 1
    assert header.SerializeToString() == bytes.fromhex("08011a020801")
    entry = tb.BundleEntryProto(dtype=ours("types").DT_FLOAT)
    entry.shape.SetInParent()
    assert entry.SerializeToString() == bytes.fromhex("08011200")


# --------------------------------------------------------------------------- real TF messages


@pytest.mark.tf
def test_exported_meta_graph_round_trips(tf: Any) -> None:
    g = tf.Graph()
    with g.as_default():
        v = tf.compat.v1.Variable(tf.random.normal([2, 3], seed=1), name="v1")
        tf.compat.v1.add_to_collection("my_ints", 3)
        tf.compat.v1.add_to_collection("my_floats", 2.5)
        tf.compat.v1.add_to_collection("my_nodes", v.op)
        saver = tf.compat.v1.train.Saver()
        meta = saver.export_meta_graph()
    data = meta.SerializeToString(deterministic=True)
    mine = ours("meta_graph").MetaGraphDef.FromString(data)
    assert mine.SerializeToString(deterministic=True) == data
    assert _text(mine, OURS_PKG) == _text(meta, TF_PKG)
    assert mine.saver_def.filename_tensor_name == "save/Const:0"
    assert mine.collection_def["my_ints"].int64_list.value == [3]
    var_def = ours("variable").VariableDef.FromString(
        mine.collection_def["variables"].bytes_list.value[0])
    assert var_def.variable_name == "v1:0"


@pytest.mark.tf
def test_trackable_object_graph_from_tf2_checkpoint(tf: Any, tmp_path: Any) -> None:
    ckpt = tf.train.Checkpoint(x=tf.Variable(1.0))
    path = ckpt.save(str(tmp_path / "ckpt"))
    data = tf.train.load_checkpoint(path).get_tensor("_CHECKPOINTABLE_OBJECT_GRAPH")
    graph = ours("trackable_object_graph").TrackableObjectGraph.FromString(data)
    assert graph.SerializeToString(deterministic=True) == data
    assert [c.local_name for c in graph.nodes[0].children] == ["x", "save_counter"]
    x = graph.nodes[graph.nodes[0].children[0].node_id]
    assert x.attributes[0].checkpoint_key == "x/.ATTRIBUTES/VARIABLE_VALUE"
    assert x.has_checkpoint_values.value is True


@pytest.mark.tf
@pytest.mark.parametrize("value,dtype", [
    ([[1.0, 2.0], [3.0, 4.0]], "float32"), (1.5, "float64"), ([1, 2, 3], "int32"),
    (7, "int64"), ([True, False], "bool"), ([b"a", b"\xff\x00"], "string"),
    ([1 + 2j], "complex64"), ([0.5], "float16"), ([0.5, 1.0], "bfloat16"),
    ([1, 2], "uint32"), ([2**63], "uint64"),
])
def test_make_tensor_proto_round_trips(tf: Any, value: Any, dtype: str) -> None:
    tp = tf.make_tensor_proto(value, dtype=getattr(tf, dtype))
    data = tp.SerializeToString(deterministic=True)
    mine = ours("tensor").TensorProto.FromString(data)
    assert mine.SerializeToString(deterministic=True) == data
    assert mine.dtype == tp.dtype
