"""Saver.export_meta_graph and import_meta_graph, against TF 2.21 both ways.

Meta graphs are compared as parsed MetaGraphDefs with ``tensorflow_git_version``
cleared (tensorkeep writes its own name there, deliberately).
"""

from __future__ import annotations

import difflib
import json
import textwrap

import numpy as np
import pytest

from tensorkeep.graph import ops, session, variables
from tensorkeep.graph.meta_graph import export_meta_graph
from tensorkeep.graph.saver import Saver
from tensorkeep.proto import meta_graph_pb2


def _normalized(meta):
    m = meta_graph_pb2.MetaGraphDef.FromString(meta.SerializeToString())
    m.meta_info_def.ClearField("tensorflow_git_version")
    return m


def _export(tf, kwargs, saver_kwargs, module_level=False):
    """Build the scenario; export with the Saver's method or (``module_level``) with
    ``export_meta_graph(saver_def=...)``, which makes its own GraphDef from the graph."""
    if tf is not None:
        g = tf.Graph()
        V = lambda v, n: tf.compat.v1.Variable(v, name=n, use_resource=False)  # noqa: E731
        S = tf.compat.v1.train.Saver
        dev = tf.device
        export = tf.compat.v1.train.export_meta_graph
    else:
        g = ops.Graph()
        V = lambda v, n: variables.Variable(v, name=n)  # noqa: E731
        S = Saver
        dev = ops.device
        export = export_meta_graph
    with g.as_default():
        with dev("/cpu:0"):
            V(np.ones((1, 2), np.float32), "outer/v1")
        V(np.arange(3, dtype=np.int64), "outer/v2")
        if saver_kwargs.pop("partitioned", False):
            # a [3, 2] variable "w" in two slices (rows 0-1, row 2)
            SSI = tf.Variable.SaveSliceInfo if tf is not None else variables.SaveSliceInfo
            p0 = V(np.zeros((2, 2), np.float32), "w/part_0")
            p1 = V(np.ones((1, 2), np.float32), "w/part_1")
            p0._set_save_slice_info(SSI("w", [3, 2], [0, 0], [2, 2]))
            p1._set_save_slice_info(SSI("w", [3, 2], [2, 0], [1, 2]))
        extra_savers = saver_kwargs.pop("extra_savers", 0)
        with ops.name_scope("inner") if tf is None else tf.name_scope("inner"):
            for _ in range(extra_savers):
                S()
        s = S(**saver_kwargs)
        for _ in range(extra_savers):
            S()
        if module_level:
            return _normalized(export(saver_def=s.as_saver_def(), **kwargs))
        return _normalized(s.export_meta_graph(**kwargs))


CASES = [
    ({}, {}),
    ({"strip_default_attrs": True}, {}),
    ({}, {"sharded": True}),
    ({}, {"write_version": 1, "max_to_keep": None, "keep_checkpoint_every_n_hours": 0.5}),
    ({"collection_list": ["variables"]}, {"reshape": True}),
    # RestoreV2's _output_shapes: the slices' shapes from its constant shape_and_slices
    ({}, {"partitioned": True}),
    ({}, {"partitioned": True, "sharded": True}),
    ({}, {"partitioned": True, "write_version": 1}),
    # a GraphDef passed in and rewritten keeps its (empty) library: `library {}` in TF's bytes
    ({"clear_devices": True}, {}),
    ({"clear_devices": True, "strip_default_attrs": True}, {"sharded": True}),
    ({"export_scope": "outer"}, {}),
    ({"clear_extraneous_savers": True}, {"extra_savers": 1}),
    ({"clear_extraneous_savers": True, "clear_devices": True}, {"extra_savers": 2, "write_version": 1}),
]


@pytest.mark.parametrize("module_level", [False, True], ids=["saver", "module"])
@pytest.mark.parametrize("kwargs, saver_kwargs", CASES)
def test_export_meta_graph_identical_to_tf(tf, kwargs, saver_kwargs, module_level):
    ours = _export(None, kwargs, dict(saver_kwargs), module_level)
    theirs = _export(tf, kwargs, dict(saver_kwargs), module_level)
    if ours.SerializeToString(deterministic=True) != theirs.SerializeToString(deterministic=True):
        from google.protobuf import text_format

        diff = difflib.unified_diff(text_format.MessageToString(theirs).splitlines(),
                                    text_format.MessageToString(ours).splitlines(), "tf", "tk",
                                    lineterm="", n=2)
        pytest.fail("\n".join(list(diff)[:80]))


def test_export_meta_graph_text_and_file(tmp_path):
    g = ops.Graph()
    with g.as_default():
        variables.Variable(np.ones(2, np.float32), name="v")
        s = Saver()
        s.export_meta_graph(str(tmp_path / "sub" / "m.pbtxt"), as_text=True)
    text = (tmp_path / "sub" / "m.pbtxt").read_text()
    assert 'restore_op_name: "save/restore_all"' in text


_TUTORIAL_A = {
    "tf": """
        import tensorflow.compat.v1 as tf
        tf.disable_v2_behavior()
        V, Saver, Session, init = tf.Variable, tf.train.Saver, tf.Session, tf.global_variables_initializer
        rn = tf.random_normal
    """,
    "tk": """
        from tensorkeep.graph import variables, session, random_ops
        from tensorkeep.graph.saver import Saver
        V, Session, init = variables.Variable, session.Session, variables.global_variables_initializer
        rn = random_ops.random_normal
    """,
}
_TUTORIAL_B = {
    "tf": """
        import tensorflow.compat.v1 as tf
        tf.disable_v2_behavior()
        Session, import_meta_graph, get_graph = tf.Session, tf.train.import_meta_graph, tf.get_default_graph
    """,
    "tk": """
        from tensorkeep.graph import session, ops
        from tensorkeep.graph.meta_graph import import_meta_graph
        Session, get_graph = session.Session, ops.get_default_graph
    """,
}


@pytest.mark.parametrize("writer, reader", [("tf", "tk"), ("tk", "tf"), ("tk", "tk")])
def test_tutorial_split_across_processes(run_python, tmp_path, writer, reader):
    """Process A declares, initializes and saves; process B only imports the meta graph and restores."""
    a = run_python(textwrap.dedent(_TUTORIAL_A[writer]) + textwrap.dedent("""
        import json, os
        v1 = V(rn([1, 2]), name="v1")
        v2 = V(rn([2, 3]), name="v2")
        s = Saver()
        with Session() as sess:
            sess.run(init())
            path = s.save(sess, "save/model.ckpt")
            print(json.dumps([path, sess.run(v1).tolist(), sess.run(v2).tolist()]))
    """), cwd=str(tmp_path))
    path, v1, v2 = json.loads(a.stdout.strip().splitlines()[-1])
    assert path == "save/model.ckpt"
    b = run_python(textwrap.dedent(_TUTORIAL_B[reader]) + textwrap.dedent("""
        import json
        saver = import_meta_graph("save/model.ckpt.meta")
        with Session() as sess:
            saver.restore(sess, "save/model.ckpt")
            g = get_graph()
            print(json.dumps([sess.run(g.get_tensor_by_name("v1:0")).tolist(),
                              sess.run(g.get_tensor_by_name("v2:0")).tolist(),
                              saver.last_checkpoints, type(saver).__name__]))
    """), cwd=str(tmp_path))
    got = json.loads(b.stdout.strip().splitlines()[-1])
    assert got[0] == v1 and got[1] == v2 and got[3] == "Saver"


def test_import_meta_graph_with_scope_returns_scoped_saver(tmp_path):
    g = ops.Graph()
    with g.as_default():
        v = variables.Variable(np.arange(3, dtype=np.float32), name="v")
        variables.Variable(np.int64(5), name="w")
        s = Saver()
        with session.Session() as sess:
            sess.run(variables.global_variables_initializer())
            s.save(sess, str(tmp_path / "m"))
    from tensorkeep.graph.meta_graph import import_meta_graph

    g2 = ops.Graph()
    with g2.as_default():
        saver = import_meta_graph(str(tmp_path / "m.meta"), import_scope="imp")
        sd = saver.as_saver_def()
        assert (sd.filename_tensor_name, sd.save_tensor_name, sd.restore_op_name) == (
            "imp/save/Const:0", "imp/save/control_dependency:0", "imp/save/restore_all")
        with session.Session() as sess:
            saver.restore(sess, str(tmp_path / "m"))
            assert sess.run(g2.get_tensor_by_name("imp/v:0")).tolist() == [0, 1, 2]
            # and it saves too, through the imported nodes
            assert saver.save(sess, str(tmp_path / "again"), write_meta_graph=False) == str(tmp_path / "again")
    del v


def test_save_debug_info_writes_a_debug_file(tmp_path):
    g = ops.Graph()
    with g.as_default():
        variables.Variable(np.ones(2, np.float32), name="v")
        variables.Variable(np.ones(1, np.int64), name="w")
        s = Saver()
        with session.Session() as sess:
            sess.run(variables.global_variables_initializer())
            s.save(sess, str(tmp_path / "model.ckpt"), global_step=3, save_debug_info=True)
    from tensorkeep.proto import graph_debug_info_pb2

    names = sorted(p.name for p in tmp_path.iterdir())
    assert "model.ckpt-3.debug" in names and "model.ckpt-3.meta" in names
    graph_debug_info_pb2.GraphDebugInfo.FromString((tmp_path / "model.ckpt-3.debug").read_bytes())
