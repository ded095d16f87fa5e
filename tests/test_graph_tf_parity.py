"""Graphs built by tensorkeep against the same programs built by TensorFlow 2.21.

* node structure: the same TF1 program (``tf.compat.v1``, reference variables) in
  a ``tf.Graph()`` and in a tensorkeep ``Graph`` gives byte-identical NodeDefs
  (names, ops, inputs, devices, every attr) — variables, random ops with and
  without seeds, get_variable with initializers, operator overloads, nn ops;
* our ``export_meta_graph`` of the tutorial graph equals TF's export except the
  git version string, and TF's ``import_meta_graph`` imports it;
* TF-written meta graphs (ref and resource variables, a small MLP) import into
  tensorkeep and evaluate to TF's numbers; import-then-export gives back the graph;
* re-importing into the graph that made it renames clashing nodes as TF does.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest

import tensorkeep as tk
from tensorkeep.graph import meta_graph as tk_meta
from tensorkeep.proto import graph_pb2, meta_graph_pb2


def _tf_graph_def(tf: Any, build: Callable[[Any], Any], seed: int | None = None) -> graph_pb2.GraphDef:
    g = tf.Graph()
    with g.as_default():
        if seed is not None:
            tf.compat.v1.set_random_seed(seed)
        build(tf.compat.v1)
    return graph_pb2.GraphDef.FromString(g.as_graph_def(add_shapes=True).SerializeToString())


def _our_graph_def(build: Callable[[Any], Any], seed: int | None = None) -> graph_pb2.GraphDef:
    g = tk.Graph()
    with g.as_default():
        if seed is not None:
            tk.set_random_seed(seed)
        build(tk)
    return g.as_graph_def(add_shapes=True)


def _assert_same_nodes(ours: graph_pb2.GraphDef, theirs: graph_pb2.GraphDef) -> None:
    assert [n.name for n in ours.node] == [n.name for n in theirs.node]
    for a, b in zip(ours.node, theirs.node):
        assert a.SerializeToString(deterministic=True) == b.SerializeToString(deterministic=True), \
            f"node {a.name} differs:\nours:\n{a}\ntheirs:\n{b}"


def _tutorial(tf: Any) -> None:
    tf.Variable(tf.random_normal([1, 2]), name="v1", use_resource=False)
    tf.Variable(tf.random_normal([2, 3]), name="v2", use_resource=False)
    tf.global_variables_initializer()


def _programs() -> dict[str, Callable[[Any], Any]]:
    def variables(tf: Any) -> None:
        a = tf.Variable(np.arange(6, dtype=np.float32).reshape(2, 3), name="a", use_resource=False)
        b = tf.Variable(3, name="b", trainable=False, use_resource=False)
        c = tf.Variable(lambda: tf.zeros([4]), name="c", use_resource=False)
        tf.Variable(tf.ones([2]), name="a", use_resource=False)  # clash -> a_1
        a.assign(a * 2.0)
        b.assign_add(1)
        c.assign_sub(tf.ones([4]))
        a.read_value()
        tf.variables_initializer([a, b])
        tf.global_variables_initializer()

    def random_ops(tf: Any) -> None:
        tf.random_normal([2, 3], mean=1.0, stddev=2.0)
        tf.random_uniform([3], -1.0, 1.0)
        tf.random_uniform([2, 2])
        tf.random_uniform([4], maxval=5.0)
        tf.truncated_normal([5], seed=42)
        tf.random_normal([1], seed=7)

    def get_variable(tf: Any) -> None:
        with tf.variable_scope("layer"):
            tf.get_variable("w", [3, 4], use_resource=False)
            tf.get_variable("b", [4], initializer=tf.zeros_initializer(), use_resource=False)
            tf.get_variable("c", [2], initializer=tf.constant_initializer(0.5), use_resource=False)
            tf.get_variable("n", [2, 2], initializer=tf.random_normal_initializer(stddev=0.1),
                            use_resource=False)
            tf.get_variable("t", [2], initializer=tf.truncated_normal_initializer(), use_resource=False)
            tf.get_variable("o", [3], initializer=tf.ones_initializer(), use_resource=False)
        with tf.variable_scope("layer", reuse=True):
            tf.get_variable("w", [3, 4], use_resource=False)
        with tf.variable_scope("other"):
            tf.get_variable("i", [2], dtype=tf.int32, use_resource=False)

    def arithmetic(tf: Any) -> None:
        x = tf.placeholder(tf.float32, [None, 3], name="x")
        w = tf.Variable(tf.ones([3, 2]), name="w", use_resource=False)
        y = tf.matmul(x, w) + 1.0
        z = (y * 2 - 1) / 3.0
        z = -z
        z = tf.add(z, 1.0)
        tf.reduce_sum(z, axis=1, keepdims=True)
        tf.reduce_mean(z)
        tf.argmax(z, 1)
        tf.cast(z, tf.int32)
        tf.reshape(z, [-1])
        tf.concat([z, z], 1)
        tf.stack([z, z])
        tf.transpose(z)
        tf.expand_dims(z, 0)
        tf.squeeze(tf.expand_dims(z, 0), [0])
        tf.identity(z, name="out")
        tf.equal(z, z)
        tf.maximum(z, 0.0)
        tf.square(z)
        tf.sqrt(tf.abs(z))
        tf.exp(z)
        tf.log(tf.abs(z) + 1)
        tf.where(z > 0.0, z, -z)
        tf.nn.relu(z)
        tf.nn.sigmoid(z)
        tf.nn.tanh(z)
        tf.nn.softmax(z)
        tf.nn.bias_add(z, tf.constant([1.0, 2.0]))
        tf.shape(z)
        tf.zeros([2, 2], dtype=tf.int32)
        tf.ones([3])
        tf.fill([2], 7)
        tf.constant("hello")
        tf.placeholder_with_default(tf.constant([1, 2]), [2])

    def scopes_and_deps(tf: Any) -> None:
        a = tf.constant(1.0, name="a")
        with tf.name_scope("outer"):
            b = tf.constant(2.0, name="b")
            with tf.name_scope("inner"):
                c = tf.add(a, b)
        with tf.name_scope("outer"):  # outer_1
            tf.constant(3.0, name="b")
        with tf.name_scope("outer/"):  # re-enter
            tf.constant(4.0, name="d")
        with tf.control_dependencies([c]):
            d = tf.identity(a, name="after_c")
            with tf.control_dependencies([b.op]):
                tf.identity(d, name="after_b")  # c implied through d's op
        with tf.device("/cpu:0"):
            e = tf.constant(5.0, name="e")
            with tf.device("/job:worker/task:1"):
                tf.constant(6.0, name="f")
        with tf.colocate_with(e):
            tf.identity(a, name="coloc")
        tf.constant(7.0, name="A")      # case-insensitive clash with "a" -> A_1
        tf.group(c, d, name="grouped")
        tf.no_op(name="noop")

    def axes_and_splits(tf: Any) -> None:
        x = tf.placeholder(tf.float32, [2, 3, 4], name="x")
        tf.nn.softmax(x, axis=1)
        tf.nn.log_softmax(x, axis=0, name="ls")
        tf.nn.softmax(x, axis=-1)
        tf.nn.softmax(x, axis=-2, name="neg")
        tf.nn.log_softmax(x, axis=-3)
        tf.nn.softmax(tf.placeholder(tf.float32, [None, 5]), axis=0)
        tf.where(x > 0.0)
        tf.where([[True, False]], name="w")
        tf.split(x, 2, axis=2)
        tf.split(x, [1, 2], axis=1)
        tf.split(x, [1, -1], 1, name="sp")
        tf.unstack(x, axis=1)
        tf.rank(x)
        tf.rank(tf.placeholder(tf.float32))

    def zeros_ones_like(tf: Any) -> None:
        p = tf.placeholder(tf.float32, [None, 3], name="p")
        q = tf.placeholder(tf.int32, name="q")
        tf.zeros_like(p)
        tf.ones_like(p)
        tf.zeros_like(q, dtype=tf.float32)
        tf.ones_like(q, dtype=tf.float32, name="o")
        tf.zeros_like(p, optimize=False)
        c = tf.constant([[1, 2]], name="c")
        big = tf.placeholder(tf.float32, [40, 40], name="big")
        tf.ones_like(c)
        tf.zeros_like(c)
        tf.zeros_like(c, dtype=tf.float32)
        tf.ones_like(c, dtype=tf.float32)
        tf.zeros_like(big)
        tf.ones_like(big)
        tf.ones_like(big, optimize=False)
        tf.zeros_like(c, dtype=tf.string)
        # (Variable.initialized_value() is not compared: TF 2.21 builds a StatelessIf
        # over function branches, which this runtime does not have)

    return {"variables": variables, "random_ops": random_ops, "get_variable": get_variable,
            "arithmetic": arithmetic, "scopes_and_deps": scopes_and_deps, "tutorial": _tutorial,
            "axes_and_splits": axes_and_splits, "zeros_ones_like": zeros_ones_like}


@pytest.mark.parametrize("seed", [None, 1234], ids=["unseeded", "graph-seed"])
@pytest.mark.parametrize("program", sorted(_programs()))
def test_nodes_identical_to_tensorflow(tf: Any, program: str, seed: int | None) -> None:
    build = _programs()[program]
    _assert_same_nodes(_our_graph_def(build, seed), _tf_graph_def(tf, build, seed))


def test_uninitialized_variable_message_matches_tensorflow(tf: Any) -> None:
    def run(lib: Any, session_cls: Any, g: Any, fetch_read: bool) -> str:
        with g.as_default():
            v = lib.Variable(lib.random_normal([1, 2]), name="v1", **(
                {"use_resource": False} if lib is not tk else {}))
            target = v.value() if fetch_read else v
            with session_cls(graph=g) as sess:
                with pytest.raises(Exception) as info:
                    sess.run(target)
        assert type(info.value).__name__ == "FailedPreconditionError"
        return info.value.message

    for fetch_read in (True, False):
        ours = run(tk, tk.Session, tk.Graph(), fetch_read)
        theirs = run(tf.compat.v1, tf.compat.v1.Session, tf.Graph(), fetch_read)
        # TF lists the Python frames that created the node; tensorkeep does not record them.
        theirs = "\n".join(line for line in theirs.split("\n") if not line.startswith("    "))
        assert ours == theirs
        assert "Attempting to use uninitialized value v1" in ours


# --------------------------------------------------------------------------- meta graph export
def _tf_tutorial_meta(tf: Any, tmp_path: Any) -> meta_graph_pb2.MetaGraphDef:
    g = tf.Graph()
    with g.as_default():
        _tutorial(tf.compat.v1)
        saver = tf.compat.v1.train.Saver()
        meta = saver.export_meta_graph(str(tmp_path / "tf.meta"))
    return meta_graph_pb2.MetaGraphDef.FromString(meta.SerializeToString())


def _tk_tutorial_graph() -> tuple[Any, Any]:
    g = tk.Graph()
    with g.as_default():
        _tutorial(tk)
    return g


def test_export_tutorial_graph_matches_tensorflow_export(tf: Any, tmp_path: Any) -> None:
    theirs = _tf_tutorial_meta(tf, tmp_path)
    g = _tk_tutorial_graph()
    with g.as_default():
        ours = tk.train.export_meta_graph(str(tmp_path / "ours.meta"), graph=g)
    # without a Saver, compare graph parts TF also has: drop TF's save/ nodes and saver_def
    theirs_nodes = [n for n in theirs.graph_def.node if not n.name.startswith("save/")]
    assert [n.SerializeToString(deterministic=True) for n in ours.graph_def.node] == \
        [n.SerializeToString(deterministic=True) for n in theirs_nodes]
    assert ours.graph_def.versions == theirs.graph_def.versions
    assert dict(ours.collection_def) == dict(theirs.collection_def)
    assert ours.meta_info_def.tensorflow_version == theirs.meta_info_def.tensorflow_version == "2.21.0"
    ours_ops = [o.name for o in ours.meta_info_def.stripped_op_list.op]
    assert ours_ops == ["AddV2", "Assign", "Const", "Identity", "Mul", "NoOp", "RandomStandardNormal",
                        "VariableV2"]
    for op in ours.meta_info_def.stripped_op_list.op:
        match = [o for o in theirs.meta_info_def.stripped_op_list.op if o.name == op.name]
        assert match and match[0] == op
    data = (tmp_path / "ours.meta").read_bytes()
    assert data == ours.SerializeToString(deterministic=True)


def test_export_with_saver_def_is_tensorflow_bytes_but_version(tf: Any, tmp_path: Any) -> None:
    """With the SaverDef and save/ nodes present, the file equals TF's but for the git version."""
    theirs = _tf_tutorial_meta(tf, tmp_path)
    g = tk.Graph()
    with g.as_default():
        tk.import_graph_def(theirs.graph_def, name="")
        ours = tk.train.export_meta_graph(graph=g, saver_def=theirs.saver_def)
    theirs.meta_info_def.tensorflow_git_version = ours.meta_info_def.tensorflow_git_version
    del theirs.collection_def["variables"]  # tk.import_graph_def does not rebuild collections
    del theirs.collection_def["trainable_variables"]
    assert ours.SerializeToString(deterministic=True) == theirs.SerializeToString(deterministic=True)


def test_tensorflow_imports_our_export(tf: Any, tmp_path: Any) -> None:
    g = _tk_tutorial_graph()
    path = str(tmp_path / "ours.meta")
    with g.as_default():
        tk.train.export_meta_graph(path, graph=g)
    for as_text in (False, True):
        if as_text:
            with g.as_default():
                tk.train.export_meta_graph(path + ".txt", graph=g, as_text=True)
        tg = tf.Graph()
        with tg.as_default():
            tf.compat.v1.train.import_meta_graph(path + (".txt" if as_text else ""))
            names = [op.name for op in tg.get_operations()]
            assert "v1" in names and "v2/read" in names and "init" in names
            assert [v.name for v in tf.compat.v1.global_variables()] == ["v1:0", "v2:0"]
            with tf.compat.v1.Session(graph=tg) as sess:
                sess.run("init")
                assert sess.run("v2:0").shape == (2, 3)


# --------------------------------------------------------------------------- TF-written meta graphs
def _tf_mlp_meta(tf: Any, path: str, use_resource: bool) -> tuple[dict[str, np.ndarray], np.ndarray,
                                                                  np.ndarray]:
    rng = np.random.default_rng(0)
    values = {"w1": rng.standard_normal((4, 5)).astype(np.float32),
              "b1": rng.standard_normal(5).astype(np.float32),
              "w2": rng.standard_normal((5, 3)).astype(np.float32),
              "b2": rng.standard_normal(3).astype(np.float32)}
    x = rng.standard_normal((6, 4)).astype(np.float32)
    g = tf.Graph()
    with g.as_default():
        v1 = tf.compat.v1
        inp = v1.placeholder(tf.float32, [None, 4], name="x")
        with v1.variable_scope("mlp"):
            w1 = v1.get_variable("w1", [4, 5], use_resource=use_resource)
            b1 = v1.get_variable("b1", [5], use_resource=use_resource)
            w2 = v1.get_variable("w2", [5, 3], use_resource=use_resource)
            b2 = v1.get_variable("b2", [3], use_resource=use_resource)
        h = tf.nn.relu(tf.nn.bias_add(tf.matmul(inp, w1), b1))
        out = tf.nn.softmax(tf.nn.bias_add(tf.matmul(h, w2), b2), name="probs")
        v1.add_to_collection("outputs", out)
        v1.add_to_collection("my_ints", 3)
        v1.add_to_collection("my_strings", "hello")
        init = v1.global_variables_initializer()
        v1.train.export_meta_graph(path)
        with v1.Session(graph=g) as sess:
            sess.run(init)
            for var, name in zip((w1, b1, w2, b2), ("w1", "b1", "w2", "b2")):
                var.load(values[name], sess)
            expected = sess.run(out, {inp: x})
    return values, x, expected


@pytest.mark.parametrize("use_resource", [False, True], ids=["ref", "resource"])
def test_import_tensorflow_mlp_and_evaluate(tf: Any, tmp_path: Any, use_resource: bool) -> None:
    path = str(tmp_path / "mlp.meta")
    values, x, expected = _tf_mlp_meta(tf, path, use_resource)
    g = tk.Graph()
    with g.as_default():
        tk.train.import_meta_graph(path)
        gvars = tk.global_variables()
        assert [v.name for v in gvars] == ["mlp/w1:0", "mlp/b1:0", "mlp/w2:0", "mlp/b2:0"]
        assert [v.name for v in tk.trainable_variables()] == [v.name for v in gvars]
        kinds = {type(v).__name__ for v in gvars}
        assert kinds == ({"ResourceVariable"} if use_resource else {"RefVariable"})
        out = tk.get_collection("outputs")[0]
        assert out.name == "probs:0"
        assert tk.get_collection("my_ints") == [3]
        assert tk.get_collection("my_strings") == [b"hello"]
        with tk.Session(graph=g) as sess:
            sess.run(tk.global_variables_initializer())
            for v in gvars:
                v.load(values[v.op.name.split("/")[1]], sess)
            got = sess.run(out, {"x:0": x})
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("use_resource", [False, True], ids=["ref", "resource"])
def test_import_then_export_gives_back_the_graph(tf: Any, tmp_path: Any, use_resource: bool) -> None:
    path = str(tmp_path / "mlp.meta")
    _tf_mlp_meta(tf, path, use_resource)
    original = tk_meta.read_meta_graph_file(path)
    g = tk.Graph()
    with g.as_default():
        # (import_meta_graph would add a default Saver, as TF's does: no saver_def here)
        tk_meta.import_scoped_meta_graph(path)
        again = tk.train.export_meta_graph(graph=g)
    assert [n.SerializeToString(deterministic=True) for n in again.graph_def.node] == \
        [n.SerializeToString(deterministic=True) for n in original.graph_def.node]
    assert dict(again.collection_def) == dict(original.collection_def)
    assert again.meta_info_def.stripped_op_list == original.meta_info_def.stripped_op_list


def test_import_keeps_ops_without_kernels(tf: Any, tmp_path: Any) -> None:
    g = tf.Graph()
    with g.as_default():
        a = tf.compat.v1.placeholder(tf.float32, [2, 2], name="a")
        tf.linalg.det(a, name="det")  # MatrixDeterminant: no tensorkeep OpDef or kernel
        gd = graph_pb2.GraphDef.FromString(g.as_graph_def(add_shapes=True).SerializeToString())
    ours = tk.Graph()
    with ours.as_default():
        tk.import_graph_def(gd, name="")
        det = ours.get_tensor_by_name("det:0")
        assert det.op.type == "MatrixDeterminant"
        assert det.shape.as_list() == []
        again = ours.as_graph_def(add_shapes=True)
        assert [n.SerializeToString(deterministic=True) for n in again.node] == \
            [n.SerializeToString(deterministic=True) for n in gd.node]
        with tk.Session(graph=ours) as sess:
            with pytest.raises(tk.errors.NotFoundError, match="MatrixDeterminant"):
                sess.run(det, {"a:0": np.eye(2, dtype=np.float32)})


# --------------------------------------------------------------------------- clashes on re-import
def test_reimport_into_same_graph_renames_like_tensorflow(tf: Any, tmp_path: Any, run_python: Any) -> None:
    """OBSERVED_TF_2.21 §1: re-importing the tutorial into its own graph (import_scope=None).

    TF runs in a process of its own with v2 behaviour disabled, as in the observation.
    """
    import json
    proc = run_python(f"""
        import json
        import tensorflow.compat.v1 as tf
        tf.disable_v2_behavior()
        v1 = tf.Variable(tf.random_normal([1, 2]), name='v1')
        v2 = tf.Variable(tf.random_normal([2, 3]), name='v2')
        tf.global_variables_initializer()
        tf.train.Saver().export_meta_graph({str(tmp_path / "t.meta")!r})
        tf.train.import_meta_graph({str(tmp_path / "t.meta")!r})
        g = tf.get_default_graph()
        print(json.dumps([[op.name for op in g.get_operations()],
                          [v.name for v in tf.global_variables()]]))
    """)
    theirs, theirs_vars = json.loads(proc.stdout.strip().splitlines()[-1])
    g = tk.Graph()
    with g.as_default():
        # the same graph, made by importing TF's export (our Saver is another engineer's)
        tk.train.import_meta_graph(str(tmp_path / "t.meta"))
        tk.train.import_meta_graph(str(tmp_path / "t.meta"))
        ours = [op.name for op in g.get_operations()]
        ours_vars = [v.name for v in tk.global_variables()]
    assert ours == theirs
    assert ours_vars == theirs_vars == ["v1:0", "v2:0", "v1:0", "v2:0"]
    assert len(ours) == 64 and "random_normal_2" in ours and "v1/Assign_1" in ours
    node = {n.name: n for n in g.as_graph_def().node}["v1/Assign_1"]
    assert list(node.input) == ["v1_1", "random_normal_2"]
    assert list(node.attr["_class"].list.s) == [b"loc:@v1_1"]


@pytest.mark.parametrize("existing,imported,expected", [
    (["a"], ["a", "b"], ["a_1", "b"]),
    (["a", "a_1"], ["a"], ["a_2"]),
    (["a"], ["a", "a_1"], ["a_2", "a_1"]),
    (["a", "a_1/x"], ["a"], ["a_2"]),
    (["v1/Assign"], ["v1"], ["v1_1"]),
    (["A"], ["a"], ["a"]),
])
def test_import_graph_def_uniquify_rule(tf: Any, existing: list[str], imported: list[str],
                                        expected: list[str]) -> None:
    def build(lib: Any, g: Any) -> list[str]:
        with g.as_default():
            for n in existing:
                lib.constant(1.0, name=n) if lib is tk else tf.constant(1.0, name=n)
        gd_graph = tf.Graph()
        with gd_graph.as_default():
            for n in imported:
                tf.constant(2.0, name=n)
        gd = gd_graph.as_graph_def()
        with g.as_default():
            if lib is tk:
                tk.import_graph_def(graph_pb2.GraphDef.FromString(gd.SerializeToString()), name="")
            else:
                tf.graph_util.import_graph_def(gd, name="")
        return [op.name for op in g.get_operations()][len(existing):]

    theirs = build(tf, tf.Graph())
    ours = build(tk, tk.Graph())
    assert ours == theirs == expected


def test_import_graph_def_prefixes(tf: Any) -> None:
    gd_graph = tf.Graph()
    with gd_graph.as_default():
        a = tf.constant(2.0, name="a")
        tf.identity(a, name="b")
    gd = graph_pb2.GraphDef.FromString(gd_graph.as_graph_def().SerializeToString())
    g = tk.Graph()
    with g.as_default():
        tk.import_graph_def(gd)
        tk.import_graph_def(gd)
        b, = tk.import_graph_def(gd, name="x", return_elements=["b:0"])
        tk.import_graph_def(gd, input_map={"a:0": tk.constant(5.0, name="five")}, name="m")
        assert [op.name for op in g.get_operations()] == [
            "import/a", "import/b", "import_1/a", "import_1/b", "x/a", "x/b", "five", "m/a", "m/b"]
        assert b.name == "x/b:0"
        with tk.Session(graph=g) as sess:
            assert sess.run("m/b:0") == 5.0
            assert sess.run(b) == 2.0


def test_tutorial_meta_file_equals_tensorflow_but_git_version(tmp_path: Any, run_python: Any) -> None:
    """The seed tutorial's save/model.meta from tensorkeep vs TF 2.21 (v2 behaviour disabled)."""
    from pathlib import Path
    source = Path("/work/shared/seed/tutorial.py")
    if not source.exists():
        pytest.skip("seed tutorial not present")
    text = source.read_text()
    ours_dir, theirs_dir = tmp_path / "ours", tmp_path / "theirs"
    ours_dir.mkdir()
    theirs_dir.mkdir()
    run_python(text.replace("import tensorflow as tf", "import tensorkeep as tf"), cwd=str(ours_dir))
    run_python(text.replace("import tensorflow as tf",
                            "import tensorflow.compat.v1 as tf; tf.disable_v2_behavior()"), cwd=str(theirs_dir))
    ours = meta_graph_pb2.MetaGraphDef.FromString((ours_dir / "save" / "model.meta").read_bytes())
    theirs = meta_graph_pb2.MetaGraphDef.FromString((theirs_dir / "save" / "model.meta").read_bytes())
    assert ours.meta_info_def.tensorflow_git_version == tk_meta.TENSORFLOW_GIT_VERSION
    theirs.meta_info_def.tensorflow_git_version = ours.meta_info_def.tensorflow_git_version
    assert ours.SerializeToString(deterministic=True) == theirs.SerializeToString(deterministic=True)
    assert (ours_dir / "save" / "model.meta").read_bytes() == ours.SerializeToString(deterministic=True)


# --------------------------------------------------------------------------- scoped names
_SCOPED_NAMES = ["v:0", "^v", "loc:@v", "a/b:0", "^a/b", "loc:@a/b", "", "a//b", "a///b:1", "ab/c",
                 "a", "^a", "x^y", "loc:@loc:@a", "^^a", "a/", "^a//b", "loc:@a/b/c", "axb/c",
                 b"a/b:0", None]


@pytest.mark.parametrize("scope", [None, "", "a", "a/", "a//", "/", "imp/x", "a.b"])
def test_prepend_and_strip_name_scope_match_tensorflow(tf: Any, scope: str | None) -> None:
    """Trailing "/" of the scope, ``^`` control inputs, ``loc:@`` entries, bytes, non-strings."""
    from tensorflow.python.framework import ops as tf_ops

    from tensorkeep.graph import ops as tk_ops
    for name in _SCOPED_NAMES:
        assert tk_ops.prepend_name_scope(name, scope) == tf_ops.prepend_name_scope(name, scope), name
        assert tk_ops.strip_name_scope(name, scope) == tf_ops.strip_name_scope(name, scope), name


def _scoped_program(tf: Any) -> None:
    c = tf.constant(1.0, name="c")
    d = tf.constant(2.0, name="d")
    with tf.name_scope("outer"):
        x = tf.identity(c, name="x")
        with tf.control_dependencies([c, d]):
            y = tf.identity(x, name="y")
        tf.add(d, c, name="u")
        with tf.colocate_with(c):
            with tf.colocate_with(x):
                tf.identity(x, name="z")
        with tf.colocate_with(c):
            tf.identity(x, name="zc")
    with tf.name_scope("outer2"):
        tf.identity(c, name="w")
    tf.add_to_collection("outs", y)


@pytest.mark.parametrize("scope", ["outer", "outer/"])
def test_export_scope_matches_tensorflow(tf: Any, scope: str) -> None:
    """Prefix match without "/", $unbound_inputs_ for outside inputs (data ones collected),
    loc:@ entries outside the scope dropped — the whole MetaGraphDef as TF 2.21 writes it."""
    metas = []
    for lib, export in ((tf.compat.v1, tf.compat.v1.train.export_meta_graph), (tk, tk_meta.export_meta_graph)):
        g = lib.Graph()
        with g.as_default():
            _scoped_program(lib)
            meta = meta_graph_pb2.MetaGraphDef.FromString(export(export_scope=scope).SerializeToString())
        meta.meta_info_def.ClearField("tensorflow_git_version")
        metas.append(meta)
    theirs, ours = metas
    assert ours.SerializeToString(deterministic=True) == theirs.SerializeToString(deterministic=True), \
        f"ours:\n{ours.graph_def}\n{ours.collection_def}\ntheirs:\n{theirs.graph_def}\n{theirs.collection_def}"


def test_saver_from_saver_def_with_scope_name_like_tensorflow(tf: Any) -> None:
    """``Saver(saver_def=..., name=scope)`` prepends the scope as TF's prepend_name_scope does."""
    from tensorkeep.graph.saver import Saver as TkSaver
    got = {}
    for who, lib, saver_cls in (("tf", tf.compat.v1, tf.compat.v1.train.Saver), ("tk", tk, TkSaver)):
        g = lib.Graph()
        with g.as_default():
            lib.Variable(1.0, name="v", use_resource=False)
            sd = saver_cls().as_saver_def()
            out = []
            for name in ("imp", "imp/", "imp//", "a/b/"):
                copy = type(sd).FromString(sd.SerializeToString())
                s = saver_cls(saver_def=copy, name=name).as_saver_def()
                out.append((s.filename_tensor_name, s.save_tensor_name, s.restore_op_name))
        got[who] = out
    assert got["tk"] == got["tf"]
    assert got["tf"][1] == ("imp/save/Const:0", "imp/save/control_dependency:0", "imp/save/restore_all")


def test_axis_softmax_where_split_values_match_tensorflow(tf: Any) -> None:
    """softmax/log_softmax over every axis, Where coordinates (int64), Split/SplitV/Unpack."""
    data = np.random.default_rng(0).normal(size=(2, 3, 4)).astype(np.float32)

    def build(lib: Any) -> list[Any]:
        x = lib.constant(data)
        outs = [lib.nn.softmax(x, axis=a) for a in (0, 1, 2, -1, -2, -3)]
        outs += [lib.nn.log_softmax(x, axis=a) for a in (0, 1, -2)]
        outs += [lib.where(x > 0.0), lib.where(lib.constant([[True, False], [False, True]]))]
        outs += lib.split(x, 2, axis=2) + lib.split(x, [1, -1, 1], axis=1) + lib.unstack(x, axis=2)
        return outs

    g = tf.Graph()
    with g.as_default():
        outs = build(tf.compat.v1)
        with tf.compat.v1.Session(graph=g) as sess:
            theirs = sess.run(outs)
    g2 = tk.Graph()
    with g2.as_default():
        outs = build(tk)
        assert [t.shape.as_list() for t in outs] == [list(v.shape) if i not in (9, 10) else [None, v.shape[1]]
                                                     for i, v in enumerate(theirs)]
        with tk.Session() as sess:
            ours = sess.run(outs)
    for a, b in zip(ours, theirs):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
