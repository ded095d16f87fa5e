"""Issue 7.6 (bad calls) and 7.3 (no code runs on load).

Every bad call is a ``tensorkeep.errors`` error whose message names the thing
(tensor, path or file); a failed save leaves the directory exactly as it was.
Meta graph import runs no op; retention deletes only files matching the names
it manages in its own directory, never a path a state file points to elsewhere.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

import reliability_helpers as h
import tensorkeep
from tensorkeep import errors


def _saved(tmp_path):  # type: ignore[no-untyped-def]
    return tensorkeep.save({"w": np.ones((2, 3), np.float32), "n": np.int64(4)}, str(tmp_path / "c"))


BAD_SAVES = [
    ("non-array value", {"w": object()}, "w"),
    ("nested non-array value", {"a": {"b": {1, 2}}}, "a/b"),
    ("empty name", {"": np.ones(1)}, "empty"),
    ("duplicate name after flattening", {"a/b": np.ones(1), "a": {"b": np.ones(1)}}, "a/b"),
    ("unsupported dtype", {"t": np.array(["2020-01-01"], dtype="datetime64[D]")}, "t"),
]


@pytest.mark.parametrize("what,tensors,named", BAD_SAVES, ids=[b[0] for b in BAD_SAVES])
def test_bad_save_is_a_clear_error_and_writes_nothing(what, tensors, named, tmp_path):
    _saved(tmp_path)
    before = h.snapshot(str(tmp_path))
    with pytest.raises(errors.OpError) as ei:
        tensorkeep.save(tensors, str(tmp_path / "bad"))
    assert named in str(ei.value), (what, str(ei.value))
    assert h.snapshot(str(tmp_path)) == before


def test_prefix_that_is_a_directory(tmp_path):
    with pytest.raises(errors.InvalidArgumentError, match=str(tmp_path)):
        tensorkeep.save({"a": np.ones(1)}, str(tmp_path))
    assert os.listdir(tmp_path) == []


def test_restore_shape_dtype_missing_unexpected(tmp_path):
    p = _saved(tmp_path)
    ckpt = tensorkeep.load(p)
    with pytest.raises(errors.InvalidArgumentError, match="w"):
        ckpt.read_into("w", np.empty((3, 2), np.float32))          # shape
    with pytest.raises(errors.InvalidArgumentError, match="w"):
        ckpt.read_into("w", np.empty((2, 3), np.int32))            # dtype
    with pytest.raises(errors.NotFoundError, match="nope"):
        ckpt["nope"]                                               # missing key
    with pytest.raises(errors.NotFoundError, match="nope"):
        tensorkeep.load(p, names=["w", "nope"])
    target = {"w": np.zeros((2, 3), np.float32), "extra": np.zeros(1)}
    with pytest.raises(errors.OpError, match="extra"):
        tensorkeep.load(p, into=target)                            # missing in checkpoint
    target = {"w": np.zeros((2, 3), np.float32)}
    with pytest.raises(errors.OpError, match="n"):
        tensorkeep.load(p, into=target)                            # unexpected in checkpoint
    with pytest.raises(errors.OpError, match="w"):
        tensorkeep.load(p, into={"w": np.zeros((5,), np.float32), "n": np.zeros((), np.int64)})
    from tensorkeep.bundle import read_tensors

    with pytest.raises(errors.InvalidArgumentError, match="w"):
        read_tensors(p, ["w"], [""], [tensorkeep.int32])


def test_missing_checkpoint_names_the_path(tmp_path):
    with pytest.raises(errors.NotFoundError, match="nothing"):
        tensorkeep.load(str(tmp_path / "nothing"))


def test_state_file_that_is_not_text(tmp_path, caplog):
    from tensorkeep.checkpoint import state
    from tensorkeep.format.state import decode_state

    blob = b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe"
    (tmp_path / "checkpoint").write_bytes(blob)
    with pytest.raises(errors.DataLossError, match="not UTF-8"):
        decode_state(blob, filename=str(tmp_path / "checkpoint"))
    # TF's behaviour: the state file is logged (naming it) and treated as absent
    assert state.latest_checkpoint(str(tmp_path)) is None
    assert str(tmp_path / "checkpoint") in caplog.text
    mgr = tensorkeep.CheckpointManager(str(tmp_path), max_to_keep=2)
    mgr.save({"a": np.ones(1)}, step=1)                  # and a manager starts afresh
    assert state.latest_checkpoint(str(tmp_path)).endswith("ckpt-1")


# ------------------------------------------------------------------ 7.3 no code on load

def test_meta_graph_import_runs_no_op(tmp_path, monkeypatch):
    """Importing a meta graph builds nodes only: no kernel is called."""
    import tensorkeep as tf
    from tensorkeep.graph import session as sess_mod

    with tf.Graph().as_default():
        v = tf.Variable(np.ones(3, np.float32), name="v")
        tf.compat.v1.train.Saver()
        path = str(tmp_path / "m.meta")
        tf.compat.v1.train.export_meta_graph(path)
    ran: list[str] = []
    real_run = sess_mod.Session.run
    monkeypatch.setattr(sess_mod.Session, "run", lambda *a, **k: ran.append("run") or real_run(*a, **k))
    with tf.Graph().as_default() as g:
        saver = tf.compat.v1.train.import_meta_graph(path)
        assert saver is not None and g.get_operations()
    assert ran == []
    del v


def test_meta_graph_import_of_mutated_files_raises_only_our_errors(tmp_path):
    import tensorkeep as tf

    with tf.Graph().as_default():
        tf.Variable(np.ones(3, np.float32), name="v")
        tf.compat.v1.train.Saver()
        path = str(tmp_path / "m.meta")
        tf.compat.v1.train.export_meta_graph(path)
    blob = open(path, "rb").read()
    counts = h.meta_graph_sweep(blob, str(tmp_path / "mut.meta"), stride=max(1, len(blob) // 150))
    assert sum(counts.values()) > 1000, counts


def test_retention_deletes_only_its_own_names(tmp_path):
    """A state file naming paths elsewhere cannot make retention delete them."""
    from tensorkeep.checkpoint import state

    outside = tmp_path / "precious"
    outside.mkdir()
    victim = tensorkeep.save({"a": np.ones(1)}, str(outside / "ckpt-1"))
    (outside / "notes.txt").write_text("keep me")
    d = tmp_path / "run"
    d.mkdir()
    (d / "ckpt-0.index.bak").write_text("not a checkpoint file")
    # a hostile state file lists the outside checkpoint and a glob
    state.update_checkpoint_state(str(d), victim, [victim, str(outside / "*"), "../precious/ckpt-1"])
    before = h.snapshot(str(outside))
    mgr = tensorkeep.CheckpointManager(str(d), max_to_keep=1)
    for step in range(1, 5):
        mgr.save({"a": np.full(1, step)}, step=step)
    assert h.snapshot(str(outside)) == before
    assert (d / "ckpt-0.index.bak").exists()
    assert sorted(x for x in os.listdir(d) if x.startswith("ckpt-4")) == [
        "ckpt-4.data-00000-of-00001", "ckpt-4.index"]


def test_in_memory_meta_graph_with_bad_contents_raises_only_our_errors():
    """A MetaGraphDef object (not a file) describing a broken graph: InvalidArgumentError."""
    import tensorkeep as tf
    from tensorkeep.proto import meta_graph_pb2

    cases = []
    m = meta_graph_pb2.MetaGraphDef()
    m.graph_def.node.add(name="a", op="Identity", input=["missing"])        # dangling input
    cases.append(m)
    m = meta_graph_pb2.MetaGraphDef()
    m.graph_def.node.add(name="a", op="NoOp")
    m.graph_def.node.add(name="a", op="NoOp")                              # duplicate name
    cases.append(m)
    m = meta_graph_pb2.MetaGraphDef()
    m.graph_def.node.add(name="c", op="Const")                             # Const without attrs
    m.collection_def["variables"].bytes_list.value.append(b"\xff\xff")     # not a VariableDef
    cases.append(m)
    m = meta_graph_pb2.MetaGraphDef()
    m.saver_def.filename_tensor_name = "nope:0"                            # saver over nothing
    m.saver_def.save_tensor_name = "nope:0"
    m.saver_def.restore_op_name = "nope"
    cases.append(m)
    for meta in cases:
        with tf.Graph().as_default():
            try:
                tf.train.import_meta_graph(meta)
            except tf.errors.OpError:
                pass
    with pytest.raises(TypeError):
        tf.train.import_meta_graph(12345)
