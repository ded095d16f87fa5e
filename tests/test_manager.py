"""tensorkeep.CheckpointManager: TF's rotation, state file and recovery; PyTorch/numpy state; TF interop."""

from __future__ import annotations

import os

import numpy as np
import pytest

import tensorkeep
from tensorkeep import api, errors
from tensorkeep.checkpoint import state as ckstate
from tensorkeep.checkpoint.manager import ManagerCore, checkpoint_number


def _files(d):
    return sorted(n for n in os.listdir(d) if not n.startswith("checkpoint"))


def test_rotation_and_state_file(tmp_path):
    m = tensorkeep.CheckpointManager(tmp_path, max_to_keep=2)
    assert m.latest_checkpoint is None and m.checkpoints == []
    for step in (10, 20, 30):
        path = m.save({"w": np.full(3, step, np.float32)}, step)
        assert path == str(tmp_path / f"ckpt-{step}")
    assert m.checkpoints == [str(tmp_path / "ckpt-20"), str(tmp_path / "ckpt-30")]
    assert m.latest_checkpoint == str(tmp_path / "ckpt-30")
    assert _files(tmp_path) == ["ckpt-20.data-00000-of-00001", "ckpt-20.index",
                                "ckpt-30.data-00000-of-00001", "ckpt-30.index"]
    text = (tmp_path / "checkpoint").read_text()
    lines = text.splitlines()
    assert lines[:3] == ['model_checkpoint_path: "ckpt-30"', 'all_model_checkpoint_paths: "ckpt-20"',
                         'all_model_checkpoint_paths: "ckpt-30"']
    assert [ln.split(":")[0] for ln in lines[3:]] == ["all_model_checkpoint_timestamps"] * 2 + [
        "last_preserved_timestamp"]
    assert ckstate.latest_checkpoint(tmp_path) == m.latest_checkpoint


def test_default_steps_resume_and_restore(tmp_path):
    m = tensorkeep.CheckpointManager(tmp_path, max_to_keep=3, checkpoint_name="model")
    for i in range(4):
        m.save({"w": np.full(2, i, np.int64), "cfg": {"lr": 0.1 * i}})
    assert [checkpoint_number(p) for p in m.checkpoints] == [2, 3, 4]
    again = tensorkeep.CheckpointManager(tmp_path, max_to_keep=3, checkpoint_name="model")
    assert again.checkpoints == m.checkpoints and again.latest_checkpoint == m.latest_checkpoint
    assert again.save({"w": np.zeros(2, np.int64), "cfg": {"lr": 0.0}}).endswith("model-5")
    target = {"w": np.empty(2, np.int64), "cfg": {"lr": 0.0}}
    again.restore(target, checkpoint=4)
    assert target["w"].tolist() == [3, 3] and target["cfg"]["lr"] == pytest.approx(0.3)
    again.restore(target)
    assert target["w"].tolist() == [0, 0]


def test_restore_without_checkpoint(tmp_path):
    m = tensorkeep.CheckpointManager(tmp_path / "new")
    with pytest.raises(errors.NotFoundError, match="no checkpoint to restore"):
        m.restore({"w": np.zeros(1)})


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_max_to_keep_validation(tmp_path, bad):
    with pytest.raises(ValueError, match="Expected a positive integer or `None` for `max_to_keep`"):
        tensorkeep.CheckpointManager(tmp_path, max_to_keep=bad)


def test_keep_all(tmp_path):
    m = tensorkeep.CheckpointManager(tmp_path, max_to_keep=None)
    for i in range(6):
        m.save({"x": np.ones(1)}, i)
    assert len(m.checkpoints) == 6 and len(_files(tmp_path)) == 12


def test_every_n_hours_preserves(tmp_path):
    """max_to_keep=1, keep every 1 h; saves every 40 min: TF's rule preserves 1 in ~2."""
    now = [1_000_000.0]
    core = ManagerCore(tmp_path, 1, 1.0, write=api._write, clock=lambda: now[0])
    for step in range(1, 7):
        core.save({"x": np.ones(1)}, step)
        now[0] += 40 * 60
    # last_preserved starts at t0 - 1; an evicted checkpoint is kept if t - 3600 >= last_preserved.
    kept = sorted(checkpoint_number(n.removesuffix(".index")) for n in os.listdir(tmp_path)
                  if n.endswith(".index"))
    assert core.checkpoints == [str(tmp_path / "ckpt-6")]
    assert kept == [3, 5, 6]
    st = ckstate.get_checkpoint_state(tmp_path)
    assert st.last_preserved_timestamp == 1_000_000.0 + 4 * 40 * 60
    # A new manager continues from the state file.
    again = ManagerCore(tmp_path, 1, 1.0, write=api._write, clock=lambda: now[0])
    assert again.checkpoints == core.checkpoints
    assert again.last_preserved_timestamp == st.last_preserved_timestamp


def test_pytorch_training_loop(torch, tmp_path):
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    mgr = tensorkeep.CheckpointManager(tmp_path, max_to_keep=2)
    for step in range(1, 5):
        opt.zero_grad()
        model(torch.ones(3, 4)).pow(2).sum().backward()
        opt.step()
        mgr.save({"model": model, "optimizer": opt, "step": step}, step)
    assert [checkpoint_number(p) for p in mgr.checkpoints] == [3, 4]

    model2 = torch.nn.Linear(4, 2)
    opt2 = torch.optim.SGD(model2.parameters(), lr=0.1, momentum=0.9)
    state = {"model": model2, "optimizer": opt2, "step": 0}
    resumed = tensorkeep.CheckpointManager(tmp_path, max_to_keep=2)
    assert resumed.restore(state) == ([], [])
    assert state["step"] == 4
    assert torch.equal(model.weight, model2.weight)
    buf = opt.state_dict()["state"][0]["momentum_buffer"]
    assert torch.equal(buf, opt2.state_dict()["state"][0]["momentum_buffer"])


def test_tensorflow_continues_our_directory_and_back(tf, tmp_path):
    ours = tensorkeep.CheckpointManager(tmp_path, max_to_keep=3)
    for step in (1, 2):
        ours.save({"v/.ATTRIBUTES/VARIABLE_VALUE": np.float32(step)}, step)
    ckpt = tf.train.Checkpoint(v=tf.Variable(0.0))
    theirs = tf.train.CheckpointManager(ckpt, str(tmp_path), max_to_keep=3)
    assert theirs.checkpoints == ours.checkpoints
    assert theirs.latest_checkpoint == ours.latest_checkpoint
    reader = tf.train.load_checkpoint(theirs.latest_checkpoint)
    assert reader.get_tensor("v/.ATTRIBUTES/VARIABLE_VALUE") == 2.0
    theirs.save(checkpoint_number=3)
    theirs.save(checkpoint_number=4)            # evicts our ckpt-1
    assert not (tmp_path / "ckpt-1.index").exists()
    back = tensorkeep.CheckpointManager(tmp_path, max_to_keep=3)
    assert back.checkpoints == theirs.checkpoints
    back.save({"v/.ATTRIBUTES/VARIABLE_VALUE": np.float32(5)}, 5)  # evicts TF's ckpt-2
    assert back.checkpoints == [str(tmp_path / f"ckpt-{n}") for n in (3, 4, 5)]
    assert tf.train.CheckpointManager(ckpt, str(tmp_path), max_to_keep=3).checkpoints == \
        back.checkpoints
    assert tensorkeep.load(tmp_path)["v/.ATTRIBUTES/VARIABLE_VALUE"][()] == 5
