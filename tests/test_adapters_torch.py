"""PyTorch through tensorkeep: dtypes, zero-copy views, modules, optimizers, state_dicts, TF."""

from __future__ import annotations

import numpy as np
import pytest

import tensorkeep
from tensorkeep import dtypes as _dt


def _net(torch, dtype=None):
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.ReLU(),
                              torch.nn.Linear(4, 2))
    return net.to(dtype) if dtype is not None else net


def _torch_dtypes(torch):
    return [getattr(torch, d.name) for d in _dt.all_dtypes()
            if d.numpy is not None and d.kind != "quantized"
            and isinstance(getattr(torch, d.name, None), torch.dtype)
            and getattr(torch, d.name).itemsize == d.numpy.itemsize]


def test_dtype_identity_both_ways(torch, tmp_path):
    from tensorkeep.adapters import torch as adapter

    names = {str(d) for d in _torch_dtypes(torch)}
    for want in ("torch.bfloat16", "torch.float8_e4m3fn", "torch.float8_e5m2", "torch.bool",
                 "torch.int4", "torch.uint16", "torch.complex128"):
        assert want in names
    state = {}
    for td in _torch_dtypes(torch):
        raw = torch.tensor([0, 1, 2, 1], dtype=torch.uint8)
        state[str(td).removeprefix("torch.")] = raw.view(td) if td.itemsize == 1 else \
            torch.arange(4).to(torch.float32).to(td)
    tensorkeep.save(state, tmp_path / "c")
    ck = tensorkeep.load(tmp_path / "c")
    for name, t in state.items():
        assert ck.dtype(name).name == name                 # torch.X <-> DT_X, by the one table
        back = adapter.numpy_to_tensor(ck[name])
        assert back.dtype == t.dtype
        assert back.view(torch.uint8).tolist() == t.view(torch.uint8).tolist()


def test_tensor_to_numpy_is_a_view(torch):
    from tensorkeep.adapters import torch as adapter

    t = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    a = adapter.tensor_to_numpy(t)
    t[0, 0] = 42
    assert a[0, 0] == 42
    b16 = torch.ones(3, dtype=torch.bfloat16, requires_grad=True)
    v = adapter.tensor_to_numpy(b16)
    assert v.dtype.name == "bfloat16" and np.shares_memory(v, adapter.tensor_to_numpy(b16))
    back = adapter.numpy_to_tensor(v)
    assert back.dtype == torch.bfloat16 and back.data_ptr() == b16.data_ptr()


@pytest.mark.parametrize("dtype", ["float32", "bfloat16", "float64"])
def test_module_round_trip(torch, tmp_path, dtype):
    net = _net(torch, getattr(torch, dtype))
    net.train()
    net(torch.randn(8, 3, dtype=getattr(torch, dtype)))       # moves BatchNorm statistics
    tensorkeep.save(net, tmp_path / "m")
    ck = tensorkeep.load(tmp_path / "m")
    assert set(ck) == set(net.state_dict())
    assert ck["0.weight"].dtype.name == dtype
    other = _net(torch, getattr(torch, dtype))
    torch.nn.init.zeros_(other[0].weight)
    report = tensorkeep.load(tmp_path / "m", into=other)
    assert report.missing_keys == [] and report.unexpected_keys == []
    for k, v in net.state_dict().items():
        assert torch.equal(v, other.state_dict()[k]), k


def test_state_dict_round_trip_and_in_place(torch, tmp_path):
    net = _net(torch)
    tensorkeep.save(net.state_dict(), tmp_path / "sd")
    fresh = _net(torch)
    with torch.no_grad():
        for p in fresh.parameters():
            p.zero_()
    sd = fresh.state_dict()
    tensorkeep.load(tmp_path / "sd", into=sd)                 # in place: shares the parameters
    for k, v in net.state_dict().items():
        assert torch.equal(v, fresh.state_dict()[k])


def test_strict_report_like_load_state_dict(torch, tmp_path):
    net = _net(torch)
    state = net.state_dict()
    state.pop("3.bias")
    state["extra"] = torch.ones(1)
    tensorkeep.save(state, tmp_path / "c")
    with pytest.raises(RuntimeError, match=r'missing key\(s\) in checkpoint: "3.bias".*'
                                           r'unexpected key\(s\) in checkpoint: "extra"'):
        tensorkeep.load(tmp_path / "c", into=_net(torch))
    report = tensorkeep.load(tmp_path / "c", into=_net(torch), strict=False)
    expected = _net(torch).load_state_dict({k: v for k, v in state.items()}, strict=False)
    assert report.missing_keys == list(expected.missing_keys) == ["3.bias"]
    assert report.unexpected_keys == list(expected.unexpected_keys) == ["extra"]


def test_size_mismatch(torch, tmp_path):
    tensorkeep.save(torch.nn.Linear(3, 4), tmp_path / "c")
    with pytest.raises(ValueError, match="size mismatch for weight"):
        tensorkeep.load(tmp_path / "c", into=torch.nn.Linear(3, 5), strict=False)


def test_training_state_with_optimizer(torch, tmp_path):
    net = _net(torch)
    opt = torch.optim.AdamW(net.parameters(), lr=0.01, betas=(0.8, 0.9))
    for _ in range(2):
        opt.zero_grad()
        net(torch.randn(4, 3)).sum().backward()
        opt.step()
    tensorkeep.save({"model": net, "optimizer": opt, "epoch": 3}, tmp_path / "c")
    ck = tensorkeep.load(tmp_path / "c")
    assert "optimizer/state/0/exp_avg" in ck and "optimizer/param_groups/0/lr" in ck
    net2 = _net(torch)
    opt2 = torch.optim.AdamW(net2.parameters(), lr=1.0)
    target = {"model": net2, "optimizer": opt2, "epoch": 0}
    report = tensorkeep.load(tmp_path / "c", into=target)
    assert report == ([], [])
    assert target["epoch"] == 3
    s1, s2 = opt.state_dict(), opt2.state_dict()
    assert s2["param_groups"][0]["lr"] == 0.01 and s2["param_groups"][0]["betas"] == (0.8, 0.9)
    for pid, entries in s1["state"].items():
        for k, v in entries.items():
            assert torch.equal(v, s2["state"][pid][k]), (pid, k)
    # Both continue identically.
    x = torch.randn(4, 3)
    for n, o in ((net, opt), (net2, opt2)):
        o.zero_grad()
        n(x).sum().backward()
        o.step()
    for a, b in zip(net.parameters(), net2.parameters()):
        assert torch.equal(a, b)


def test_tensorflow_mlp_to_pytorch_module(tf, torch, tmp_path):
    """A TensorFlow-written MLP checkpoint restored into a PyTorch module computes TF's outputs."""
    rng = np.random.default_rng(0)

    class MLP(tf.Module):
        def __init__(self):
            self.w1 = tf.Variable(rng.standard_normal((5, 8)).astype(np.float32))
            self.b1 = tf.Variable(rng.standard_normal(8).astype(np.float32))
            self.w2 = tf.Variable(rng.standard_normal((8, 3)).astype(np.float32))
            self.b2 = tf.Variable(rng.standard_normal(3).astype(np.float32))

        def __call__(self, x):
            return tf.matmul(tf.nn.relu(tf.matmul(x, self.w1) + self.b1), self.w2) + self.b2

    mlp = MLP()
    x = rng.standard_normal((4, 5)).astype(np.float32)
    want = mlp(x).numpy()
    manager = tf.train.CheckpointManager(tf.train.Checkpoint(mlp=mlp), str(tmp_path), max_to_keep=2)
    manager.save()

    ckpt = tensorkeep.load(str(tmp_path))                      # the directory: its latest
    def get(n):
        return ckpt[f"mlp/{n}/.ATTRIBUTES/VARIABLE_VALUE"]
    model = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    # TF stores dense kernels as [in, out]; torch.nn.Linear wants [out, in].
    state = {"0.weight": get("w1").T, "0.bias": get("b1"), "2.weight": get("w2").T,
             "2.bias": get("b2")}
    model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in state.items()})
    with torch.no_grad():
        got = model(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
