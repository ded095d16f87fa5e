"""Every op of the runtime against TensorFlow 2.21: OpDefs and kernel results.

* OpDefs: each row of ``tensorkeep.graph.op_defs`` serializes byte-for-byte like
  ``op_def_registry.get(name)`` (the registry of a pip build has no docs).
* Kernels: one table of (op, inputs, attrs); each case runs through a tensorkeep
  graph + Session and through TF2 eager ``tf.raw_ops.<Op>``; values, dtypes and
  shapes must agree.
* Save/restore kernels: files written by our SaveV2/SaveSlices are read by TF's
  RestoreV2 and the other way round.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tensorkeep import dtypes as _dt
from tensorkeep.graph import constant_op, op_defs
from tensorkeep.graph import ops as _ops
from tensorkeep.graph.op_def_library import apply_op
from tensorkeep.graph.session import Session


# --------------------------------------------------------------------------- OpDefs
@pytest.mark.parametrize("op_type", op_defs.known_op_types())
def test_op_def_matches_tensorflow(tf: Any, op_type: str) -> None:
    from tensorflow.python.framework import op_def_registry
    theirs = op_def_registry.get(op_type)
    assert theirs is not None
    mine = op_defs.get(op_type)
    assert mine.SerializeToString(deterministic=True) == theirs.SerializeToString(deterministic=True), \
        f"{mine}\n---\n{theirs}"


def test_stripped_op_list_sorted_and_known_only() -> None:
    lst = op_defs.stripped_op_list({"VariableV2", "AddV2", "NoSuchOp", "Const"})
    assert [o.name for o in lst.op] == ["AddV2", "Const", "VariableV2"]


# --------------------------------------------------------------------------- kernels
A = np.array([[1.5, -2.25, 3.0], [0.5, 4.0, -1.0]], np.float32)
B = np.array([[2.0, 0.5, -3.0], [1.0, -2.0, 0.25]], np.float32)
I1 = np.array([7, -7, 9, -9, 3], np.int32)
I2 = np.array([2, 2, -4, -4, 5], np.int32)
POS = np.array([[0.5, 2.0, 9.0], [1.0, 4.0, 0.25]], np.float32)
HALF = np.array([0.5, 1.5, 2.5, -0.5, -1.5, 2.4, -2.6], np.float32)
BOOL1 = np.array([True, False, True, False])
BOOL2 = np.array([True, True, False, False])
X4 = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
S = np.array([b"ab", b"cd", b"e"], dtype=object)


def _i32(*v: int) -> np.ndarray:
    return np.array(v, np.int32)


# (id, op, inputs (name -> array or list of arrays), attrs (dtype attrs by name))
CASES: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = [
    ("AddV2", "AddV2", {"x": A, "y": B}, {}),
    ("AddV2-broadcast", "AddV2", {"x": A, "y": np.float32(2.5)}, {}),
    ("Add-string", "Add", {"x": S, "y": np.array(b"!", dtype=object)}, {}),
    ("Sub", "Sub", {"x": A, "y": B}, {}),
    ("Mul", "Mul", {"x": A, "y": B}, {}),
    ("Mul-int", "Mul", {"x": I1, "y": I2}, {}),
    ("RealDiv", "RealDiv", {"x": A, "y": B}, {}),
    ("Div-int", "Div", {"x": I1, "y": I2}, {}),
    ("FloorDiv-int", "FloorDiv", {"x": I1, "y": I2}, {}),
    ("FloorDiv-float", "FloorDiv", {"x": A, "y": B}, {}),
    ("FloorMod-int", "FloorMod", {"x": I1, "y": I2}, {}),
    ("FloorMod-float", "FloorMod", {"x": A, "y": B}, {}),
    ("Maximum", "Maximum", {"x": A, "y": B}, {}),
    ("Minimum", "Minimum", {"x": A, "y": B}, {}),
    ("Pow", "Pow", {"x": POS, "y": B}, {}),
    ("Pow-int", "Pow", {"x": I1, "y": _i32(2, 3, 0, 1, 2)}, {}),
    ("SquaredDifference", "SquaredDifference", {"x": A, "y": B}, {}),
    ("AddN", "AddN", {"inputs": [A, B, A]}, {}),
    ("MatMul", "MatMul", {"a": A, "b": B.T.copy()}, {}),
    ("MatMul-transpose", "MatMul", {"a": A, "b": B}, {"transpose_b": True}),
    ("MatMul-transpose-a", "MatMul", {"a": A.T.copy(), "b": B.T.copy()}, {"transpose_a": True}),
    ("BatchMatMulV2", "BatchMatMulV2", {"x": X4, "y": X4}, {"adj_y": True}),
    ("BiasAdd", "BiasAdd", {"value": A, "bias": np.array([1, 2, 3], np.float32)}, {}),
    ("BiasAdd-NCHW", "BiasAdd", {"value": X4.reshape(1, 2, 3, 4), "bias": np.array([1, -1], np.float32)},
     {"data_format": "NCHW"}),
    ("Relu", "Relu", {"features": A}, {}),
    ("Relu6", "Relu6", {"features": A * 3}, {}),
    ("Elu", "Elu", {"features": A}, {}),
    ("Selu", "Selu", {"features": A}, {}),
    ("Softplus", "Softplus", {"features": A}, {}),
    ("Sigmoid", "Sigmoid", {"x": A}, {}),
    ("Tanh", "Tanh", {"x": A}, {}),
    ("Square", "Square", {"x": A}, {}),
    ("Sqrt", "Sqrt", {"x": POS}, {}),
    ("Rsqrt", "Rsqrt", {"x": POS}, {}),
    ("Exp", "Exp", {"x": A}, {}),
    ("Log", "Log", {"x": POS}, {}),
    ("Neg", "Neg", {"x": A}, {}),
    ("Abs", "Abs", {"x": A}, {}),
    ("Abs-int", "Abs", {"x": I1}, {}),
    ("Sign", "Sign", {"x": A}, {}),
    ("Floor", "Floor", {"x": A}, {}),
    ("Ceil", "Ceil", {"x": A}, {}),
    ("Round", "Round", {"x": HALF}, {}),
    ("Reciprocal", "Reciprocal", {"x": A}, {}),
    ("Softmax", "Softmax", {"logits": A}, {}),
    ("LogSoftmax", "LogSoftmax", {"logits": A}, {}),
    ("Reshape", "Reshape", {"tensor": X4, "shape": _i32(4, -1)}, {}),
    ("Shape", "Shape", {"input": X4}, {}),
    ("Shape-int64", "Shape", {"input": X4}, {"out_type": "int64"}),
    ("Size", "Size", {"input": X4}, {}),
    ("Rank", "Rank", {"input": X4}, {}),
    ("Fill", "Fill", {"dims": _i32(2, 3), "value": np.float32(1.5)}, {}),
    ("ZerosLike", "ZerosLike", {"x": A}, {}),
    ("OnesLike", "OnesLike", {"x": I1}, {}),
    ("Cast-float-int", "Cast", {"x": A}, {"DstT": "int32"}),
    ("Cast-int-bool", "Cast", {"x": I1 % 2}, {"DstT": "bool"}),
    ("Cast-bool-float", "Cast", {"x": BOOL1}, {"DstT": "float32"}),
    ("Cast-float-half", "Cast", {"x": A}, {"DstT": "float16"}),
    ("Pack", "Pack", {"values": [A, B]}, {"axis": 1}),
    ("Unpack", "Unpack", {"value": X4}, {"num": 3, "axis": 1}),
    ("ConcatV2", "ConcatV2", {"values": [A, B], "axis": np.int32(1)}, {}),
    ("ConcatV2-neg-axis", "ConcatV2", {"values": [A, B, A], "axis": np.int32(-2)}, {}),
    ("Sum", "Sum", {"input": X4, "reduction_indices": _i32(0, 2)}, {}),
    ("Sum-keep", "Sum", {"input": X4, "reduction_indices": _i32(1)}, {"keep_dims": True}),
    ("Mean", "Mean", {"input": X4, "reduction_indices": _i32(-1)}, {}),
    ("Mean-int", "Mean", {"input": I1, "reduction_indices": _i32(0)}, {}),
    ("Max", "Max", {"input": A, "reduction_indices": _i32(1)}, {}),
    ("Min", "Min", {"input": A, "reduction_indices": _i32(0)}, {}),
    ("Prod", "Prod", {"input": A, "reduction_indices": _i32(0, 1)}, {}),
    ("All", "All", {"input": np.stack([BOOL1, BOOL2]), "reduction_indices": _i32(0)}, {}),
    ("Any", "Any", {"input": np.stack([BOOL1, BOOL2]), "reduction_indices": _i32(1)}, {}),
    ("ArgMax", "ArgMax", {"input": A, "dimension": np.int32(1)}, {}),
    ("ArgMin-int32", "ArgMin", {"input": A, "dimension": np.int32(0)}, {"output_type": "int32"}),
    ("Equal", "Equal", {"x": I1, "y": np.abs(I1)}, {}),
    ("NotEqual", "NotEqual", {"x": I1, "y": np.abs(I1)}, {}),
    ("Equal-string", "Equal", {"x": S, "y": np.array([b"ab", b"x", b"e"], dtype=object)}, {}),
    ("Less", "Less", {"x": A, "y": B}, {}),
    ("Greater", "Greater", {"x": A, "y": B}, {}),
    ("LessEqual", "LessEqual", {"x": I1, "y": I2}, {}),
    ("GreaterEqual", "GreaterEqual", {"x": I1, "y": I2}, {}),
    ("LogicalAnd", "LogicalAnd", {"x": BOOL1, "y": BOOL2}, {}),
    ("LogicalOr", "LogicalOr", {"x": BOOL1, "y": BOOL2}, {}),
    ("LogicalNot", "LogicalNot", {"x": BOOL1}, {}),
    ("Select", "Select", {"condition": A > B, "t": A, "e": B}, {}),
    ("Select-vector-cond", "Select", {"condition": np.array([True, False]), "t": A, "e": B}, {}),
    ("SelectV2-broadcast", "SelectV2", {"condition": np.array([True, False, True]), "t": A, "e": np.float32(0)}, {}),
    ("Transpose", "Transpose", {"x": X4, "perm": _i32(2, 0, 1)}, {}),
    ("ExpandDims", "ExpandDims", {"input": A, "dim": np.int32(-1)}, {}),
    ("Squeeze", "Squeeze", {"input": X4.reshape(1, 2, 1, 12)}, {}),
    ("Squeeze-dims", "Squeeze", {"input": X4.reshape(1, 2, 1, 12)}, {"squeeze_dims": [2]}),
    ("Range", "Range", {"start": np.int32(3), "limit": np.int32(-7), "delta": np.int32(-3)}, {}),
    ("Range-float", "Range", {"start": np.float32(0.5), "limit": np.float32(3), "delta": np.float32(0.75)}, {}),
    ("Tile", "Tile", {"input": A, "multiples": _i32(2, 1)}, {}),
    ("Slice", "Slice", {"input": X4, "begin": _i32(0, 1, 1), "size": _i32(-1, 2, 2)}, {}),
    ("StridedSlice", "StridedSlice", {"input": X4, "begin": _i32(0, 1, 0), "end": _i32(2, 3, 4),
                                      "strides": _i32(1, 1, 2)}, {}),
    ("StridedSlice-masks", "StridedSlice", {"input": X4, "begin": _i32(1, 0, 3), "end": _i32(0, 0, 0),
                                            "strides": _i32(1, 1, -1)},
     {"begin_mask": 2, "end_mask": 6, "shrink_axis_mask": 1}),
    ("GatherV2", "GatherV2", {"params": X4, "indices": _i32(2, 0), "axis": np.int32(1)}, {}),
    ("Where", "Where", {"input": A > 0}, {}),
    ("Identity", "Identity", {"input": A}, {}),
    ("IdentityN", "IdentityN", {"input": [A, I1]}, {}),
    ("StopGradient", "StopGradient", {"input": A}, {}),
    ("Snapshot", "Snapshot", {"input": I1}, {}),
    ("PlaceholderWithDefault", "PlaceholderWithDefault", {"input": A}, {"shape": [2, 3]}),
    ("ShardedFilename", "ShardedFilename", {"basename": np.array(b"ckpt", dtype=object),
                                            "shard": np.int32(3), "num_shards": np.int32(12)}, {}),
    ("ShardedFilespec", "ShardedFilespec", {"basename": np.array(b"ckpt", dtype=object),
                                            "num_shards": np.int32(7)}, {}),
    ("StringJoin", "StringJoin", {"inputs": [S, np.array(b"_x", dtype=object)]}, {"separator": "-"}),
    ("StaticRegexFullMatch", "StaticRegexFullMatch",
     {"input": np.array([b"s3://a/b", b"/tmp/x", b"s3:/"], dtype=object)}, {"pattern": "^s3://.*"}),
]


def _attr_for_tf(tf: Any, key: str, value: Any) -> Any:
    if isinstance(value, str) and key in ("DstT", "out_type", "output_type", "Tout", "dtype"):
        return tf.as_dtype(value)
    return value


def _attr_for_us(key: str, value: Any) -> Any:
    if isinstance(value, str) and key in ("DstT", "out_type", "output_type", "Tout", "dtype"):
        return _dt.as_dtype(value)
    return value


def _const(value: Any) -> Any:
    if isinstance(value, np.ndarray) and value.dtype == object:
        return constant_op.constant(value.tolist() if value.ndim else value.item(), dtype=_dt.string)
    return constant_op.constant(np.asarray(value))


def run_ours(op_type: str, inputs: dict[str, Any], attrs: dict[str, Any]) -> list[Any]:
    g = _ops.Graph()
    with g.as_default():
        kw = {k: ([_const(x) for x in v] if isinstance(v, list) else _const(v)) for k, v in inputs.items()}
        kw.update({k: _attr_for_us(k, v) for k, v in attrs.items()})
        op = apply_op(op_type, **kw)
        with Session(graph=g) as sess:
            return sess.run(op.outputs)


# tf.raw_ops renames some OpDef argument names in Python.
_TF_PY_NAMES = {("*", "reduction_indices"): "axis", ("Select", "t"): "x", ("Select", "e"): "y",
                ("Squeeze", "squeeze_dims"): "axis", ("ExpandDims", "dim"): "axis",
                ("Where", "input"): "condition"}


def run_tf(tf: Any, op_type: str, inputs: dict[str, Any], attrs: dict[str, Any]) -> list[Any]:
    def py(k: str) -> str:
        return _TF_PY_NAMES.get((op_type, k), _TF_PY_NAMES.get(("*", k), k))
    kw = {}
    for k, v in inputs.items():
        kw[py(k)] = [tf.constant(x) for x in v] if isinstance(v, list) else tf.constant(v)
    kw.update({py(k): _attr_for_tf(tf, k, v) for k, v in attrs.items()})
    out = getattr(tf.raw_ops, op_type)(**kw)
    if isinstance(out, (list, tuple)):
        return [o.numpy() for o in out]
    return [out.numpy()]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_kernel_matches_tensorflow(tf: Any, case: tuple[str, str, dict[str, Any], dict[str, Any]]) -> None:
    _, op_type, inputs, attrs = case
    ours = run_ours(op_type, inputs, attrs)
    theirs = run_tf(tf, op_type, inputs, attrs)
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        a, b = np.asarray(a), np.asarray(b)
        assert a.shape == b.shape, (a, b)
        if b.dtype == object:
            assert a.tolist() == b.tolist()
            continue
        assert a.dtype == b.dtype, (a.dtype, b.dtype)
        if a.dtype.kind == "f":
            np.testing.assert_allclose(a, b, rtol=2e-6, atol=1e-6)
        else:
            np.testing.assert_array_equal(a, b)


def test_every_table_op_with_a_kernel_is_covered_or_listed() -> None:
    """Kernels exist for the whole METAGRAPH §6 table (plus the extras above)."""
    from tensorkeep.graph import kernels
    needed = """Const Placeholder PlaceholderWithDefault Identity NoOp VariableV2 Assign AssignAdd AssignSub
    VarHandleOp ReadVariableOp AssignVariableOp AssignAddVariableOp AssignSubVariableOp VarIsInitializedOp
    Add AddV2 Sub Mul RealDiv Maximum Minimum Pow MatMul BiasAdd Relu Sigmoid Tanh Square Sqrt Rsqrt Exp
    Log Neg Abs Softmax Reshape Shape Fill Cast Pack ConcatV2 Sum Mean Max Min Prod ArgMax ArgMin Equal
    NotEqual Less Greater LessEqual GreaterEqual Select SelectV2 Transpose ExpandDims Squeeze
    RandomStandardNormal RandomUniform TruncatedNormal SaveV2 RestoreV2 MergeV2Checkpoints
    ShardedFilename ShardedFilespec SaveSlices StringJoin StaticRegexFullMatch""".split()
    missing = [t for t in needed if kernels.get(t) is None]
    assert not missing


# --------------------------------------------------------------------------- random kernels
@pytest.mark.parametrize("op_type", ["RandomStandardNormal", "RandomUniform", "TruncatedNormal"])
def test_random_kernels_distribution_and_seeding(op_type: str) -> None:
    g = _ops.Graph()
    with g.as_default():
        shape = constant_op.constant([200, 50])
        seeded = apply_op(op_type, shape=shape, dtype=_dt.float32, seed=3, seed2=7).outputs[0]
        fresh = apply_op(op_type, shape=shape, dtype=_dt.float32).outputs[0]
    with Session(graph=g) as s1, Session(graph=g) as s2:
        a1, a2 = s1.run(seeded), s1.run(seeded)
        b1 = s2.run(seeded)
        f1, f2 = s1.run(fresh), s2.run(fresh)
    assert a1.dtype == np.float32 and a1.shape == (200, 50)
    np.testing.assert_array_equal(a1, b1)  # same seeds: same sequence in every session
    assert not np.array_equal(a1, a2)      # successive runs advance the stream
    assert not np.array_equal(f1, f2)      # unseeded: fresh randomness
    if op_type == "RandomUniform":
        assert a1.min() >= 0 and a1.max() < 1 and abs(a1.mean() - 0.5) < 0.02
    elif op_type == "TruncatedNormal":
        assert np.abs(a1).max() <= 2 and abs(a1.mean()) < 0.03
    else:
        assert abs(a1.mean()) < 0.03 and abs(a1.std() - 1) < 0.03


# --------------------------------------------------------------------------- save/restore kernels
def _save_graph(prefix: str, names: list[str], specs: list[str], arrays: list[np.ndarray],
                op_type: str = "SaveV2") -> None:
    g = _ops.Graph()
    with g.as_default():
        tensors = [constant_op.constant(a) for a in arrays]
        if op_type == "SaveV2":
            op = apply_op("SaveV2", prefix=prefix, tensor_names=names, shape_and_slices=specs,
                          tensors=tensors)
        else:
            op = apply_op("SaveSlices", filename=prefix, tensor_names=names, shapes_and_slices=specs,
                          data=tensors)
    with Session(graph=g) as s:
        s.run(op)


def test_savev2_kernel_read_by_tensorflow(tf: Any, tmp_path: Any) -> None:
    prefix = str(tmp_path / "ours")
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    b = np.array([1, 2, 3], np.int64)
    s = np.array([b"x", b"yz"], dtype=object)
    _save_graph(prefix, ["a", "b", "s"], ["", "", ""], [a, b, s])
    got = tf.raw_ops.RestoreV2(prefix=prefix, tensor_names=["a", "b", "s"], shape_and_slices=["", "", ""],
                               dtypes=[tf.float32, tf.int64, tf.string])
    np.testing.assert_array_equal(got[0].numpy(), a)
    np.testing.assert_array_equal(got[1].numpy(), b)
    assert got[2].numpy().tolist() == [b"x", b"yz"]


def test_restorev2_kernel_reads_tensorflow(tf: Any, tmp_path: Any) -> None:
    prefix = str(tmp_path / "theirs")
    a = np.arange(6, dtype=np.float64).reshape(3, 2)
    tf.raw_ops.SaveV2(prefix=prefix, tensor_names=["a", "i"], shape_and_slices=["", ""],
                      tensors=[tf.constant(a), tf.constant(7, tf.int32)])
    g = _ops.Graph()
    with g.as_default():
        op = apply_op("RestoreV2", prefix=prefix, tensor_names=["a", "i"], shape_and_slices=["", ""],
                      dtypes=[_dt.float64, _dt.int32])
    with Session(graph=g) as sess:
        got_a, got_i = sess.run(op.outputs)
    np.testing.assert_array_equal(got_a, a)
    assert got_i == 7 and got_i.dtype == np.int32


def test_merge_v2_checkpoints_kernel(tf: Any, tmp_path: Any) -> None:
    p1, p2, dest = (str(tmp_path / n) for n in ("part1", "part2", "merged"))
    _save_graph(p1, ["a"], [""], [np.ones((2,), np.float32)])
    _save_graph(p2, ["b"], [""], [np.zeros((3,), np.int32)])
    g = _ops.Graph()
    with g.as_default():
        op = apply_op("MergeV2Checkpoints", checkpoint_prefixes=[p1, p2], destination_prefix=dest)
    with Session(graph=g) as sess:
        sess.run(op)
    reader = tf.compat.v1.train.NewCheckpointReader(dest)
    assert sorted(reader.get_variable_to_shape_map()) == ["a", "b"]


def test_save_slices_kernel_read_by_tensorflow(tf: Any, tmp_path: Any) -> None:
    path = str(tmp_path / "v1.ckpt")
    a = np.arange(4, dtype=np.float32)
    _save_graph(path, ["a"], [""], [a], op_type="SaveSlices")
    got = tf.raw_ops.RestoreV2(prefix=path, tensor_names=["a"], shape_and_slices=[""], dtypes=[tf.float32])
    np.testing.assert_array_equal(got[0].numpy(), a)


# --------------------------------------------------------------------------- restore shapes
_RESTORE_SPECS = ["", "3 2 -:0,1", "5 0,2", "4 3 1,2:-", "2 2 0,2:0,2"]


def test_restore_output_shapes_from_constant_specs(tf: Any) -> None:
    """RestoreV2/RestoreSlice outputs take the slice shape of a constant spec, as TF infers it."""
    from tensorflow.python.ops import gen_io_ops

    def shapes(lib: Any, g: Any, restore_v2: Any, restore_slice: Any, placeholder: Any,
               identity: Any, constant: Any) -> list[Any]:
        n = len(_RESTORE_SPECS)
        with g.as_default():
            outs = list(restore_v2("p", ["t"] * n, _RESTORE_SPECS, [lib.float32] * n))
            outs += list(restore_v2("p", ["t"] * n, placeholder(lib.string, [n]), [lib.float32] * n))
            outs += list(restore_v2("p", ["t"], identity(constant(["3 2 1,2:-"])), [lib.float32]))
            outs += [restore_slice("p", "t", s, lib.float32) for s in _RESTORE_SPECS]
        return [t.shape.as_list() if t.shape.ndims is not None else None for t in outs]

    theirs = shapes(tf, tf.Graph(), gen_io_ops.restore_v2, gen_io_ops.restore_slice,
                    tf.compat.v1.placeholder, tf.identity, tf.constant)

    import tensorkeep as tk

    def restore_v2(prefix: Any, names: Any, specs: Any, dtypes: Any) -> Any:
        return apply_op("RestoreV2", prefix=prefix, tensor_names=names, shape_and_slices=specs,
                        dtypes=dtypes).outputs

    def restore_slice(pattern: Any, name: Any, spec: Any, dt: Any) -> Any:
        return apply_op("RestoreSlice", file_pattern=pattern, tensor_name=name, shape_and_slice=spec,
                        dt=dt).outputs[0]

    ours = shapes(tk, tk.Graph(), restore_v2, restore_slice, tk.placeholder, tk.identity, tk.constant)
    assert ours == theirs
    assert theirs[1:5] == [[3, 1], [2], [2, 3], [2, 2]]
