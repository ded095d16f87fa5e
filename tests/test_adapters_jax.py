"""JAX pytrees through tensorkeep: key-path names, dtype identity, restore as a new pytree."""

from __future__ import annotations

import collections

import ml_dtypes
import numpy as np
import pytest

import tensorkeep

AdamState = collections.namedtuple("AdamState", ["count", "mu", "nu"])


def _tree(jnp):
    params = {"dense": {"kernel": jnp.arange(6, dtype=jnp.float32).reshape(2, 3),
                        "bias": jnp.ones(3, dtype=jnp.bfloat16)},
              "layers": [jnp.zeros(2, dtype=jnp.float8_e4m3fn), jnp.array([1, -2], dtype=jnp.int4)]}
    opt = (AdamState(count=jnp.array(5, jnp.int32), mu={"w": jnp.full(2, 0.5)},
                     nu={"w": jnp.full(2, 0.25)}), None)
    return {"params": params, "opt": opt, "mask": jnp.array([True, False])}


def test_key_path_names_and_dtypes(jax, tmp_path):
    jnp = jax.numpy
    tree = _tree(jnp)
    tensorkeep.save(tree, tmp_path / "c")
    ck = tensorkeep.load(tmp_path / "c")
    assert sorted(ck) == ["mask", "opt/0/count", "opt/0/mu/w", "opt/0/nu/w", "params/dense/bias",
                          "params/dense/kernel", "params/layers/0", "params/layers/1"]
    assert ck.dtype("params/dense/bias").name == "bfloat16"
    assert ck.dtype("params/layers/0").name == "float8_e4m3fn"
    assert ck.dtype("params/layers/1").name == "int4"
    assert ck["params/layers/1"].astype(np.int8).tolist() == [1, -2]
    assert ck.dtype("mask").name == "bool"


def test_restore_returns_new_tree(jax, tmp_path):
    jnp = jax.numpy
    tree = _tree(jnp)
    tensorkeep.save(tree, tmp_path / "c")
    template = jax.tree_util.tree_map(jnp.zeros_like, tree)
    new = tensorkeep.load(tmp_path / "c", into=template)
    assert jax.tree_util.tree_structure(new) == jax.tree_util.tree_structure(tree)
    for a, b in zip(jax.tree_util.tree_leaves(new), jax.tree_util.tree_leaves(tree)):
        assert isinstance(a, jax.Array) and a.dtype == b.dtype and a.shape == b.shape
        assert np.asarray(a).tobytes() == np.asarray(b).tobytes()
    assert isinstance(new["opt"][0], AdamState)
    assert float(jax.tree_util.tree_leaves(template)[0].sum()) == 0    # template untouched


def test_restore_into_abstract_tree(jax, tmp_path):
    jnp = jax.numpy
    tree = {"w": jnp.arange(4.0), "b": jnp.ones(2, jnp.bfloat16)}
    tensorkeep.save(tree, tmp_path / "c")
    abstract = jax.tree_util.tree_map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype), tree)
    new = tensorkeep.load(tmp_path / "c", into=abstract)
    assert new["w"].tolist() == [0, 1, 2, 3] and new["b"].dtype == jnp.bfloat16


def test_strict_and_shape_errors(jax, tmp_path):
    jnp = jax.numpy
    tensorkeep.save({"w": np.ones(3, np.float32), "extra": np.ones(1)}, tmp_path / "c")
    template = {"w": jnp.zeros(3), "v": jnp.zeros(2)}
    with pytest.raises(RuntimeError, match=r'missing key\(s\) in checkpoint: "v".*"extra"'):
        tensorkeep.load(tmp_path / "c", into=template)
    new = tensorkeep.load(tmp_path / "c", into=template, strict=False)
    assert new["w"].tolist() == [1, 1, 1] and new["v"].tolist() == [0, 0]
    with pytest.raises(ValueError, match="size mismatch for w"):
        tensorkeep.load(tmp_path / "c", into={"w": jnp.zeros(4)}, strict=False)


def test_manager_with_pytree(jax, tmp_path):
    jnp = jax.numpy
    state = {"params": {"w": jnp.zeros(3)}, "step": jnp.array(0)}
    mgr = tensorkeep.CheckpointManager(tmp_path, max_to_keep=2)
    for step in range(1, 4):
        state = {"params": {"w": state["params"]["w"] + 1}, "step": jnp.array(step)}
        mgr.save(state, step)
    assert len(mgr.checkpoints) == 2
    fresh = {"params": {"w": jnp.zeros(3)}, "step": jnp.array(0)}
    restored = mgr.restore(fresh)
    assert restored["params"]["w"].tolist() == [3, 3, 3] and int(restored["step"]) == 3
    earlier = mgr.restore(fresh, checkpoint=2)
    assert int(earlier["step"]) == 2


def test_tensorflow_checkpoint_into_jax(tf, jax, tmp_path):
    jnp = jax.numpy
    rng = np.random.default_rng(2)
    w = tf.Variable(rng.standard_normal((3, 2)).astype(np.float32))
    b = tf.Variable(rng.standard_normal(2).astype(np.float32))
    x = rng.standard_normal((4, 3)).astype(np.float32)
    want = tf.tanh(tf.matmul(x, w) + b).numpy()
    path = tf.train.Checkpoint(w=w, b=b).write(str(tmp_path / "tfc"))
    ckpt = tensorkeep.load(path)
    params = {"w": jnp.asarray(ckpt["w/.ATTRIBUTES/VARIABLE_VALUE"]),
              "b": jnp.asarray(ckpt["b/.ATTRIBUTES/VARIABLE_VALUE"])}
    got = jnp.tanh(x @ params["w"] + params["b"])
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5, atol=1e-5)


def test_bfloat16_numpy_is_ml_dtypes(jax, tmp_path):
    tensorkeep.save({"x": jax.numpy.ones(2, jax.numpy.bfloat16)}, tmp_path / "c")
    assert tensorkeep.load(tmp_path / "c")["x"].dtype == np.dtype(ml_dtypes.bfloat16)
