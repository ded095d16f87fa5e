"""The Saver's graph nodes are TensorFlow's: whole GraphDefs compared with TF 2.21's.

Each case builds the same program with ``tf.compat.v1`` (reference variables, a
fresh ``tf.Graph``) and with tensorkeep, and compares the serialized GraphDefs
(every node, input, device and attr) with only ``versions.producer`` cleared.
"""

from __future__ import annotations

import difflib

import numpy as np
import pytest

from tensorkeep.graph import ops, variables
from tensorkeep.graph.saver import Saver
from tensorkeep.proto import graph_pb2, saver_pb2


class _Lib:
    def __init__(self, tf=None):
        self.tf = tf

    def graph(self):
        return self.tf.Graph() if self.tf else ops.Graph()

    def var(self, value, name, resource=False):
        if self.tf:
            return self.tf.compat.v1.Variable(value, name=name, use_resource=resource)
        return variables.Variable(value, name=name, use_resource=resource)

    def saver(self, *args, **kwargs):
        return (self.tf.compat.v1.train.Saver if self.tf else Saver)(*args, **kwargs)

    def device(self, d):
        return self.tf.device(d) if self.tf else ops.device(d)

    def base_builder(self):
        if self.tf:
            from tensorflow.python.training.saver import BaseSaverBuilder as B
        else:
            from tensorkeep.graph.saver import BaseSaverBuilder as B
        return B()

    def slice_info(self, *args):
        return (self.tf.Variable.SaveSliceInfo if self.tf else variables.SaveSliceInfo)(*args)


def _program(lib, kind):
    g = lib.graph()
    with g.as_default():
        a = lib.var(np.ones((1, 2), np.float32), "v1")
        b = lib.var(np.arange(3, dtype=np.int64), "scope/v2")
        if kind == "default":
            s = lib.saver()
        elif kind == "v1":
            s = lib.saver(write_version=saver_pb2.SaverDef.V1)
        elif kind == "sharded":
            s = lib.saver(sharded=True)
        elif kind == "sharded_v1":
            s = lib.saver(sharded=True, write_version=saver_pb2.SaverDef.V1)
        elif kind == "reshape":
            s = lib.saver(reshape=True)
        elif kind == "dict_name_filename":
            s = lib.saver({"renamed/a": a, "b": b}, name="mysaver", filename="foo")
        elif kind == "two_savers":
            lib.saver()
            s = lib.saver([a], max_to_keep=None, keep_checkpoint_every_n_hours=2.5)
        elif kind == "resource":
            lib.var(np.zeros(2, np.float32), "r", resource=True)
            s = lib.saver()
        elif kind in ("devices", "devices_v1"):
            with lib.device("/cpu:1"):
                lib.var(np.zeros(2, np.float32), "c")
            s = lib.saver(sharded=True, write_version=1 if kind == "devices_v1" else 2)
        elif kind == "partitioned":
            p0 = lib.var(np.zeros((2, 2), np.float32), "w/part_0")
            p1 = lib.var(np.ones((2, 2), np.float32), "w/part_1")
            p0._set_save_slice_info(lib.slice_info("w", [4, 2], [0, 0], [2, 2]))
            p1._set_save_slice_info(lib.slice_info("w", [4, 2], [2, 0], [2, 2]))
            s = lib.saver([a, p0, p1], sharded=True)
        elif kind == "base_builder":
            with lib.device("/cpu:0"):
                lib.var(np.zeros(2, np.float32), "c")
            s = lib.saver(builder=lib.base_builder(), restore_sequentially=True)
        elif kind == "from_saver_def":
            first = lib.saver()
            s = lib.saver(saver_def=first.as_saver_def(), max_to_keep=1)
        elif kind == "deferred":
            s = lib.saver(defer_build=True)
            lib.var(np.zeros(1, np.float32), "late")
            s.build()
        else:
            raise AssertionError(kind)
    gd = g.as_graph_def()
    if lib.tf:
        gd = graph_pb2.GraphDef.FromString(gd.SerializeToString())
    gd.versions.ClearField("producer")
    sd = saver_pb2.SaverDef.FromString(s.as_saver_def().SerializeToString())
    return gd, sd


KINDS = ["default", "v1", "sharded", "sharded_v1", "reshape", "dict_name_filename", "two_savers",
         "resource", "devices", "devices_v1", "partitioned", "deferred", "base_builder",
         "from_saver_def"]


@pytest.mark.parametrize("kind", KINDS)
def test_graph_and_saver_def_identical_to_tf(tf, kind):
    ours, our_sd = _program(_Lib(), kind)
    theirs, their_sd = _program(_Lib(tf), kind)
    if ours.SerializeToString(deterministic=True) != theirs.SerializeToString(deterministic=True):
        from google.protobuf import text_format

        diff = difflib.unified_diff(text_format.MessageToString(theirs).splitlines(),
                                    text_format.MessageToString(ours).splitlines(), "tf", "tk",
                                    lineterm="", n=3)
        pytest.fail("GraphDef differs from TF's:\n" + "\n".join(list(diff)[:120]))
    assert our_sd.SerializeToString() == their_sd.SerializeToString()


def test_default_saver_def_bytes():
    """STATE_AND_SAVER.md §3.1: the 68-byte default SaverDef."""
    g = ops.Graph()
    with g.as_default():
        variables.Variable(np.zeros(2, np.float32), name="v1")
        sd = Saver().as_saver_def()
    assert sd.SerializeToString() == bytes.fromhex(
        "0a0c" + b"save/Const:0".hex() + "1219" + b"save/control_dependency:0".hex()
        + "1a10" + b"save/restore_all".hex() + "2005" + "3500401c46" + "3802")
    assert len(sd.SerializeToString()) == 68
