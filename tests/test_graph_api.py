"""The TF1 graph API of tensorkeep on its own: graphs, naming, variables, sessions.

TensorFlow-compared behaviour lives in test_graph_tf_parity.py and test_graph_ops.py;
here the rules are checked directly (models: METAGRAPH.md §4-§5).
"""

from __future__ import annotations

import collections
from typing import Any

import numpy as np
import pytest

import tensorkeep as tf
from tensorkeep.graph import kernels
from tensorkeep.graph import meta_graph as tk_meta
from tensorkeep.proto import variable_pb2


@pytest.fixture
def g() -> Any:
    graph = tf.Graph()
    with graph.as_default():
        yield graph


# --------------------------------------------------------------------------- graph and names
def test_default_graph_stack_and_reset() -> None:
    outer = tf.get_default_graph()
    g1 = tf.Graph()
    with g1.as_default():
        assert tf.get_default_graph() is g1
        with pytest.raises(AssertionError):
            tf.reset_default_graph()
    assert tf.get_default_graph() is outer
    tf.reset_default_graph()
    assert tf.get_default_graph() is not outer


def test_unique_names_case_insensitive(g: Any) -> None:
    names = [tf.constant(1.0, name=n).op.name for n in ("x", "x", "X", "x_1", "x")]
    assert names == ["x", "x_1", "X_2", "x_1_1", "x_3"]
    assert g.unique_name("x", mark_as_used=False) == "x_4"
    assert tf.constant(1.0).op.name == "Const"
    assert tf.constant(2.0).op.name == "Const_1"


def test_name_scopes(g: Any) -> None:
    with tf.name_scope("a") as scope:
        assert scope == "a/"
        assert tf.constant(1.0, name="c").name == "a/c:0"
        with tf.name_scope("b"):
            assert g.get_name_scope() == "a/b"
    with tf.name_scope("a") as scope:
        assert scope == "a_1/"
    with tf.name_scope("a/"):
        assert tf.constant(1.0, name="c").op.name == "a/c_1"
    with tf.name_scope(None, "default") as scope:
        assert scope == "default/"
    with pytest.raises(ValueError):
        with tf.name_scope("bad name!"):
            pass


def test_lookups_and_errors(g: Any) -> None:
    c = tf.constant([1, 2], name="c")
    assert g.get_tensor_by_name("c:0") is c
    assert g.get_operation_by_name("c") is c.op
    assert g.get_operations() == [c.op]
    with pytest.raises(KeyError):
        g.get_tensor_by_name("nope:0")
    with pytest.raises(KeyError):
        g.get_tensor_by_name("c:1")
    with pytest.raises(ValueError):
        g.get_tensor_by_name("c")
    with pytest.raises(ValueError):
        g.get_operation_by_name("c:0")


def test_tensor_and_operation_surface(g: Any) -> None:
    x = tf.placeholder(tf.float32, [None, 3], name="x")
    y = tf.matmul(x, tf.ones([3, 2]))
    assert x.name == "x:0" and x.dtype == tf.float32 and x.graph is g
    assert x.shape.as_list() == [None, 3] and x.get_shape().ndims == 2
    assert y.shape.as_list() == [None, 2]
    assert y.op.type == "MatMul" and y.op.name == "MatMul"
    assert [t.name for t in y.op.inputs] == ["x:0", "ones:0"]
    assert y.op.outputs == [y] and y.op.control_inputs == []
    assert y.op.get_attr("transpose_a") is False
    assert y.op.get_attr("T") == tf.float32
    assert y.op.node_def.op == "MatMul"
    assert str(x) == 'Tensor("x:0", shape=(?, 3), dtype=float32)'
    with pytest.raises(ValueError):
        y.op.get_attr("nope")
    with pytest.raises(TypeError):
        bool(x)


def test_control_dependencies_and_marking(g: Any) -> None:
    a = tf.constant(1.0, name="a")
    b = tf.constant(2.0, name="b")
    with tf.control_dependencies([a, b.op]):
        c = tf.identity(a, name="c")
        with tf.control_dependencies(None):
            free = tf.constant(3.0, name="free")
    assert c.op.control_inputs == [b.op]  # a is a data input already
    assert free.op.control_inputs == []
    assert a.op.get_attr("_has_manual_control_dependencies") is True


def test_device_and_colocation(g: Any) -> None:
    with tf.device("/cpu:0"):
        a = tf.constant(1.0, name="a")
        with tf.device("/job:ps/task:2"):
            b = tf.constant(1.0, name="b")
    assert a.device == "/device:CPU:0"
    assert b.device == "/job:ps/task:2/device:CPU:0"
    with tf.colocate_with(a):
        c = tf.identity(b, name="c")
    assert c.device == "/device:CPU:0"
    assert c.op.get_attr("_class") == [b"loc:@a"]


def test_collections(g: Any) -> None:
    tf.add_to_collection("k", 1)
    tf.add_to_collections(["k", "j"], 2)
    assert tf.get_collection("k") == [1, 2] and tf.get_collection("j") == [2]
    ref = tf.get_collection_ref("k")
    ref.append(3)
    assert tf.get_collection("k") == [1, 2, 3]
    assert tf.get_collection("missing") == []
    v = tf.Variable(1.0, name="scope1/v")
    tf.Variable(1.0, name="scope2/w")
    assert tf.get_collection(tf.GraphKeys.GLOBAL_VARIABLES, scope="scope1") == [v]


def test_finalize(g: Any) -> None:
    g.finalize()
    with pytest.raises(RuntimeError, match="finalized"):
        tf.constant(1.0)


# --------------------------------------------------------------------------- variables
def test_variable_nodes_and_properties(g: Any) -> None:
    v = tf.Variable(tf.random_normal([1, 2]), name="v1")
    assert v.name == "v1:0" and v.op.type == "VariableV2"
    assert v.dtype == tf.float32._as_ref and v.shape.as_list() == [1, 2]
    assert v.initializer.name == "v1/Assign" and v.value().name == "v1/read:0"
    assert v.initial_value.name == "random_normal:0"
    assert tf.global_variables() == [v] and tf.trainable_variables() == [v]
    assert repr(v) == "<tf.Variable 'v1:0' shape=(1, 2) dtype=float32_ref>"
    w = tf.Variable([1, 2], name="w", trainable=False, collections=[tf.GraphKeys.LOCAL_VARIABLES])
    assert w.dtype.base_dtype == tf.int32 and w.initial_value.op.name == "w/initial_value"
    assert tf.local_variables() == [w] and w not in tf.trainable_variables()


def test_variable_def_bytes_match_spec(g: Any) -> None:
    v = tf.Variable(tf.random_normal([1, 2]), name="v1")
    data = v.to_proto().SerializeToString()
    assert data == b"\n\x04v1:0\x12\tv1/Assign\x1a\tv1/read:02\x0frandom_normal:08\x01"  # METAGRAPH §1.2
    again = tf.Variable(variable_def=variable_pb2.VariableDef.FromString(data))
    assert again.op is v.op and again.initializer is v.initializer and again.trainable


def test_assign_load_eval_and_arithmetic(g: Any) -> None:
    v = tf.Variable([1.0, 2.0], name="v")
    doubled = v * 2.0
    add = v.assign_add([1.0, 1.0])
    with tf.Session() as sess:
        sess.run(v.initializer)
        np.testing.assert_array_equal(sess.run(doubled), [2.0, 4.0])
        np.testing.assert_array_equal(sess.run(add), [2.0, 3.0])
        np.testing.assert_array_equal(v.eval(), [2.0, 3.0])
        v.load([5.0, 6.0], sess)
        np.testing.assert_array_equal(sess.run(v), [5.0, 6.0])
        sess.run(v.assign([0.0, 1.0]))
        np.testing.assert_array_equal(sess.run(v.read_value()), [0.0, 1.0])
        sess.run(v.assign_sub([1.0, 1.0]))
        np.testing.assert_array_equal(sess.run(v), [-1.0, 0.0])
        with pytest.raises(tf.errors.InvalidArgumentError, match="Assign requires shapes"):
            sess.run(tf.assign(v, [1.0, 2.0, 3.0], validate_shape=True))


def test_sessions_hold_separate_variable_values(g: Any) -> None:
    v = tf.Variable(0, name="counter")
    inc = v.assign_add(1)
    s1, s2 = tf.Session(), tf.Session()
    s1.run(v.initializer)
    s2.run(v.initializer)
    s1.run(inc)
    s1.run(inc)
    assert s1.run(v) == 2 and s2.run(v) == 0
    s1.close()
    with pytest.raises(RuntimeError, match="closed"):
        s1.run(v)


def test_uninitialized_errors_and_report(g: Any) -> None:
    a = tf.Variable(1.0, name="a")
    b = tf.Variable(2.0, name="b")
    report = tf.report_uninitialized_variables()
    with tf.Session() as sess:
        with pytest.raises(tf.errors.FailedPreconditionError,
                           match="Attempting to use uninitialized value a"):
            sess.run(a.value() + 1.0)
        assert sess.run(report).tolist() == [b"a", b"b"]
        sess.run(b.initializer)
        assert sess.run(report).tolist() == [b"a"]
        assert sess.run(tf.is_variable_initialized(b)) is np.True_
        sess.run(tf.global_variables_initializer())
        assert sess.run(report).tolist() == []


def test_resource_variable(g: Any) -> None:
    v = tf.Variable([1.0, 2.0], name="rv", use_resource=True)
    assert [op.type for op in g.get_operations()] == [
        "Const", "VarHandleOp", "VarIsInitializedOp", "AssignVariableOp", "ReadVariableOp"]
    assert v.handle.op.get_attr("shared_name") == b"rv"
    assert v.to_proto().is_resource
    with tf.Session() as sess:
        with pytest.raises(tf.errors.FailedPreconditionError):
            sess.run(v)
        sess.run(tf.global_variables_initializer())
        sess.run(v.assign_add([1.0, 1.0]))
        np.testing.assert_array_equal(sess.run(v), [2.0, 3.0])


def test_get_variable_reuse_rules(g: Any) -> None:
    with tf.variable_scope("s"):
        w = tf.get_variable("w", [2, 3])
        with pytest.raises(ValueError, match="Variable s/w already exists, disallowed"):
            tf.get_variable("w", [2, 3])
    with tf.variable_scope("s", reuse=True):
        assert tf.get_variable("w", [2, 3]) is w
        with pytest.raises(ValueError, match="Variable s/nope does not exist"):
            tf.get_variable("nope", [1])
        with pytest.raises(ValueError, match="Trying to share variable s/w"):
            tf.get_variable("w", [3, 3])
    with tf.variable_scope("s", reuse=tf.AUTO_REUSE):
        assert tf.get_variable("w", [2, 3]) is w
        made = tf.get_variable("new", [1], initializer=tf.ones_initializer())
    assert w.name == "s/w:0" and made.name == "s/new:0"
    with tf.variable_scope("s") as scope:
        scope.reuse_variables()
        assert tf.get_variable("w") is w
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        values = sess.run(w)
        limit = np.sqrt(6.0 / 5.0)  # glorot_uniform on [2, 3]
        assert values.shape == (2, 3) and np.abs(values).max() <= limit
        assert sess.run(made).tolist() == [1.0]


@pytest.mark.parametrize("init,check", [
    (tf.zeros_initializer(), lambda a: np.all(a == 0)),
    (tf.ones_initializer(), lambda a: np.all(a == 1)),
    (tf.constant_initializer(2.5), lambda a: np.all(a == 2.5)),
    (tf.random_normal_initializer(mean=10.0, stddev=0.1), lambda a: abs(a.mean() - 10) < 0.1),
    (tf.truncated_normal_initializer(stddev=1.0), lambda a: np.abs(a).max() <= 2.0),
    (tf.random_uniform_initializer(-2.0, -1.0), lambda a: a.min() >= -2 and a.max() < -1),
    (tf.glorot_uniform_initializer(), lambda a: np.abs(a).max() <= np.sqrt(6 / 80)),
    (tf.glorot_normal_initializer(), lambda a: np.abs(a).max() <= 2 * np.sqrt(2 / 80) / 0.8796),
])
def test_initializers(g: Any, init: Any, check: Any) -> None:
    v = tf.get_variable("v", [40, 40], initializer=init)
    with tf.Session() as sess:
        sess.run(tf.initializers.global_variables())
        assert check(sess.run(v))


def test_graph_seed_gives_repeatable_values() -> None:
    def values() -> tuple[Any, Any]:
        graph = tf.Graph()
        with graph.as_default():
            tf.set_random_seed(42)
            a = tf.random_normal([3])
            b = tf.random_uniform([3])
            with tf.Session() as sess:
                return sess.run([a, b])
    first, second = values(), values()
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])


# --------------------------------------------------------------------------- session
def test_fetch_structures(g: Any) -> None:
    a = tf.constant(1.0, name="a")
    b = tf.constant([1, 2], name="b")
    noop = tf.no_op(name="noop")
    Pair = collections.namedtuple("Pair", "x y")
    with tf.Session() as sess:
        out = sess.run({"a": a, "nested": [b, (a, "b:0")], "pair": Pair(a, noop), "op": "noop"})
    assert out["a"] == 1.0 and isinstance(out["a"], np.float32)
    assert out["nested"][0].tolist() == [1, 2]
    assert isinstance(out["nested"][1], tuple) and out["nested"][1][1].tolist() == [1, 2]
    assert out["pair"] == Pair(1.0, None) and out["op"] is None
    with tf.Session() as sess:
        assert sess.run([]) == []
        assert sess.run(tf.constant("s")) == b"s"
        with pytest.raises(TypeError):
            sess.run(None)
        with pytest.raises(ValueError):
            sess.run("nope:0")


def test_only_needed_ops_run_once(g: Any, monkeypatch: Any) -> None:
    counts: collections.Counter[str] = collections.Counter()
    kernels.get("AddV2")  # load the registry
    for op_type in ("AddV2", "Mul", "Const", "NoOp", "Identity"):
        original = kernels.KERNELS[op_type]

        def counting(ctx: Any, *args: Any, _orig: Any = original, _t: str = op_type) -> Any:
            counts[_t] += 1
            return _orig(ctx, *args)
        monkeypatch.setitem(kernels.KERNELS, op_type, counting)
    x = tf.constant(2.0, name="x")
    shared = x * 3.0
    left = shared + 1.0
    right = shared + 2.0
    unused = tf.identity(x * 100.0, name="unused")
    with tf.control_dependencies([unused]):
        gated = tf.no_op(name="gated")
    with tf.Session() as sess:
        assert sess.run([left, right, left]) == [7.0, 8.0, 7.0]
        assert counts == {"Const": 4, "Mul": 1, "AddV2": 2}
        counts.clear()
        sess.run(gated)
        assert counts == {"Const": 2, "Mul": 1, "Identity": 1, "NoOp": 1}
        counts.clear()
        assert sess.run(left, {shared: 10.0}) == 11.0
        assert counts == {"Const": 1, "AddV2": 1}


def test_feeds(g: Any) -> None:
    x = tf.placeholder(tf.float32, [None, 2], name="x")
    y = x * 2.0
    d = tf.placeholder_with_default(tf.constant([1, 2]), [2], name="d")
    with tf.Session() as sess:
        assert sess.run(y, {x: [[1, 2]]}).tolist() == [[2.0, 4.0]]
        assert sess.run(y, {"x:0": np.ones((3, 2))}).shape == (3, 2)
        assert sess.run(d).tolist() == [1, 2]
        assert sess.run(d, {d: [5, 6]}).tolist() == [5, 6]
        with pytest.raises(ValueError, match="Cannot feed value of shape"):
            sess.run(y, {x: [1.0, 2.0, 3.0]})
        with pytest.raises(tf.errors.InvalidArgumentError,
                           match="You must feed a value for placeholder tensor 'x' with dtype float"):
            sess.run(y)


def test_control_dependencies_are_honoured(g: Any) -> None:
    v = tf.Variable(0, name="v")
    inc = v.assign_add(1)
    with tf.control_dependencies([inc]):
        read = tf.identity(v.value(), name="read_after")
    with tf.Session() as sess:
        sess.run(v.initializer)
        assert sess.run(read) == 1
        assert sess.run(read) == 2


def test_interactive_session_and_default_session(g: Any) -> None:
    c = tf.constant(3.0) * 2.0
    with pytest.raises(ValueError, match="No default session"):
        c.eval()
    sess = tf.InteractiveSession()
    try:
        assert c.eval() == 6.0 and tf.get_default_session() is sess
        tf.no_op(name="n").run()
    finally:
        sess.close()
    assert tf.get_default_session() is None
    with tf.Session() as s:
        assert c.eval() == 6.0 and c.eval(session=s) == 6.0


def test_op_without_kernel_names_its_type(g: Any) -> None:
    from tensorkeep.graph import importer
    from tensorkeep.proto import graph_pb2
    gd = graph_pb2.GraphDef()
    node = gd.node.add(name="mystery", op="NoSuchOpAnywhere")
    node.attr["_output_shapes"].list.shape.add()
    importer.import_graph_def(gd, name="")
    with tf.Session() as sess:
        with pytest.raises(tf.errors.NotFoundError, match="NoSuchOpAnywhere"):
            sess.run("mystery:0")
    with pytest.raises(NotImplementedError, match="NoSuchOpAnywhere"):
        from tensorkeep.graph.op_def_library import apply_op
        apply_op("NoSuchOpAnywhere")


# --------------------------------------------------------------------------- meta graph details
def test_export_import_roundtrip_text_and_scope(tmp_path: Any) -> None:
    g = tf.Graph()
    with g.as_default():
        with tf.name_scope("net"):
            v = tf.Variable([1.0], name="v")
            out = tf.identity(v.value() * 2.0, name="out")
        tf.add_to_collection("outputs", out)
        tf.add_to_collection("floats", 0.5)
        path = str(tmp_path / "sub" / "dir" / "m.meta")
        meta = tf.train.export_meta_graph(path, as_text=True)
        assert (tmp_path / "sub" / "dir" / "m.meta").read_text().startswith("meta_info_def")
        scoped = tf.train.export_meta_graph(export_scope="net")
    assert [n.name for n in scoped.graph_def.node][:2] == ["v/initial_value", "v"]
    assert scoped.collection_def["outputs"].node_list.value == ["out:0"]
    assert meta.collection_def["floats"].float_list.value == [0.5]
    g2 = tf.Graph()
    with g2.as_default():
        tk_meta.import_scoped_meta_graph(path, import_scope="imp")
        assert tf.get_collection("outputs")[0].name == "imp/net/out:0"
        assert tf.global_variables()[0].name == "imp/net/v:0"
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            assert sess.run(tf.get_collection("outputs")[0]).tolist() == [2.0]


def test_strip_default_attrs_and_clear_devices(g: Any) -> None:
    with tf.device("/cpu:0"):
        tf.Variable(1.0, name="v")
    meta = tf.train.export_meta_graph(strip_default_attrs=True, clear_devices=True)
    node = {n.name: n for n in meta.graph_def.node}["v"]
    assert "container" not in node.attr and "shared_name" not in node.attr and node.device == ""
    assert meta.meta_info_def.stripped_default_attrs


def test_tutorial_program_runs_with_tensorkeep(tmp_path: Any, run_python: Any) -> None:
    from pathlib import Path
    source = Path("/work/shared/seed/tutorial.py")
    if not source.exists():
        pytest.skip("seed tutorial not present")
    program = source.read_text().replace("import tensorflow as tf", "import tensorkeep as tf")
    proc = run_python(program, cwd=str(tmp_path))
    lines = proc.stdout.splitlines()
    assert "Model saved in file: save/model.ckpt" in lines and "Model Restored" in lines
    blocks = [i for i, line in enumerate(lines) if line.startswith("v1:")]
    assert len(blocks) == 3 and len({lines[i] for i in blocks}) == 1
    assert (tmp_path / "save" / "model.meta").read_bytes() == (tmp_path / "save" / "model.ckpt.meta").read_bytes()


def test_getitem_and_iteration(g: Any) -> None:
    x = tf.constant(np.arange(12, dtype=np.int32).reshape(3, 4), name="x")
    row = x[1]
    cols = x[:, 1:3]
    last = x[-1, ::-1]
    first, second, third = x
    assert row.op.type == "StridedSlice" and row.op.name == "strided_slice"
    with tf.Session() as sess:
        assert sess.run(row).tolist() == [4, 5, 6, 7]
        assert sess.run(cols).tolist() == [[1, 2], [5, 6], [9, 10]]
        assert sess.run(last).tolist() == [11, 10, 9, 8]
        assert sess.run(third).tolist() == [8, 9, 10, 11]


def test_list_output_ops_with_one_element() -> None:
    """IdentityN / Unpack with a single output still yield that element, not a list."""
    import tensorkeep as tf

    g = tf.Graph()
    with g.as_default():
        x = tf.constant([[1.0, 2.0]])
        (only,) = tf.unstack(x, axis=0) if hasattr(tf, "unstack") else [x[0]]
        with tf.Session() as sess:
            assert sess.run(only).tolist() == [1.0, 2.0]


def test_tensor_operators_work_before_math_ops_is_imported(run_python: Any) -> None:
    """``tensor * 2.0`` in a fresh process that only imported the facade and made a constant."""
    proc = run_python("""
        import sys
        import tensorkeep as tf
        g = tf.Graph()
        with g.as_default():
            x = tf.constant([1.0, 2.0])
            assert "tensorkeep.graph.math_ops" not in sys.modules
            y = 2.0 - x * 2.0
            print(y.op.type, y.op.inputs[1].op.type, -x, x[0].op.type)
    """)
    assert proc.stdout.split()[:2] == ["Sub", "Mul"]


def test_imported_op_defs_stay_in_their_graph(tmp_path) -> None:
    """An OpDef a meta graph declares for an unknown op type reaches only the graph it was
    imported into, and never replaces a built-in OpDef."""
    import tensorkeep as tf
    from tensorkeep.graph import op_defs
    from tensorkeep.proto import meta_graph_pb2

    meta = meta_graph_pb2.MetaGraphDef()
    node = meta.graph_def.node.add(name="x", op="MyCustomOp")
    custom = meta.meta_info_def.stripped_op_list.op.add(name="MyCustomOp")
    custom.output_arg.add(name="out", type=1)
    hostile = meta.meta_info_def.stripped_op_list.op.add(name="Const")   # tries to redefine Const
    hostile.output_arg.add(name="nope", type=7)
    assert node.op == "MyCustomOp"
    g1, g2 = tf.Graph(), tf.Graph()
    with g1.as_default():
        tf.train.import_meta_graph(meta)
    assert op_defs.get("MyCustomOp", g1) is not None
    assert op_defs.get("MyCustomOp", g2) is None and op_defs.get("MyCustomOp") is None
    assert op_defs.get("Const", g1).output_arg[0].name == "output"
    with g1.as_default():
        with tf.Session() as sess, pytest.raises(tf.errors.OpError, match="MyCustomOp"):
            sess.run(g1.get_operation_by_name("x"))
