"""tensorkeep.save / tensorkeep.load with numpy: names, dtypes, restore into mappings, TF both ways."""

from __future__ import annotations

import numpy as np
import pytest

import tensorkeep
from tensorkeep import dtypes as _dt
from tensorkeep import errors

NUMERIC = [d for d in _dt.all_dtypes() if d.numpy is not None and d.kind != "quantized"]


def test_nested_names_and_values(tmp_path):
    state = {"a": np.arange(6.0).reshape(2, 3), "b": {"c": np.int32(3), "s": "hi"},
             "betas": (0.9, 0.999), "layers": [np.ones(2), np.zeros(3)], "none": None}
    prefix = tensorkeep.save(state, tmp_path / "ckpt")
    ck = tensorkeep.load(prefix)
    assert sorted(ck) == ["a", "b/c", "b/s", "betas", "layers/0", "layers/1"]
    np.testing.assert_array_equal(ck["a"], state["a"])
    assert ck["b/c"].dtype == np.int32 and ck["b/c"][()] == 3
    assert ck["b/s"][()] == b"hi"
    np.testing.assert_array_equal(ck["betas"], [0.9, 0.999])
    assert not ck["a"].flags.writeable


@pytest.mark.parametrize("dt", NUMERIC, ids=lambda d: d.name)
def test_dtype_identity(tmp_path, dt):
    arr = np.arange(-3, 3).reshape(2, 3).astype(dt.numpy) if dt.kind != "bool" else \
        np.array([[True, False, True], [False, False, True]])
    tensorkeep.save({"x": arr, "scalar": arr.reshape(-1)[1]}, tmp_path / "c")
    ck = tensorkeep.load(tmp_path / "c")
    assert ck.dtype("x") is dt
    assert ck["x"].dtype == arr.dtype
    assert ck["x"].tobytes() == arr.tobytes()
    assert ck["scalar"].shape == ()


def test_load_names_and_directory(tmp_path):
    tensorkeep.save({"a": np.ones(2), "b": np.zeros(2)}, tmp_path / "c")
    ck = tensorkeep.load(tmp_path / "c", names=["b"])
    assert list(ck) == ["b"]
    with pytest.raises(errors.NotFoundError, match="zz"):
        tensorkeep.load(tmp_path / "c", names=["zz"])
    with pytest.raises(KeyError):
        tensorkeep.load(tmp_path / "c")["nope"]


def test_restore_into_mapping_in_place(tmp_path):
    tensorkeep.save({"w": np.arange(4.0), "cfg": {"lr": 0.5, "n": 3}, "l": [1, 2]}, tmp_path / "c")
    w = np.zeros(4)
    target = {"w": w, "cfg": {"lr": 0.0, "n": 0}, "l": [0, 0]}
    report = tensorkeep.load(tmp_path / "c", into=target)
    assert report.missing_keys == [] and report.unexpected_keys == []
    np.testing.assert_array_equal(w, np.arange(4.0))       # the same array object, filled
    assert target["w"] is w
    assert target["cfg"] == {"lr": 0.5, "n": 3} and type(target["cfg"]["n"]) is int
    assert target["l"] == [1, 2]


def test_restore_casts_like_copy(tmp_path):
    tensorkeep.save({"w": np.arange(4.0)}, tmp_path / "c")
    w = np.zeros(4, np.float32)
    tensorkeep.load(tmp_path / "c", into={"w": w})
    assert w.dtype == np.float32 and w[3] == 3.0


def test_strict_missing_and_unexpected(tmp_path):
    tensorkeep.save({"a": np.ones(2), "extra": np.ones(1)}, tmp_path / "c")
    target = {"a": np.zeros(2), "b": np.zeros(3)}
    with pytest.raises(RuntimeError, match=r'missing key\(s\) in checkpoint: "b".*unexpected key\(s\)'
                                           r' in checkpoint: "extra"'):
        tensorkeep.load(tmp_path / "c", into=target)
    report = tensorkeep.load(tmp_path / "c", into=target, strict=False)
    assert report == (["b"], ["extra"])
    np.testing.assert_array_equal(target["a"], np.ones(2))


def test_shape_mismatch_raises_even_when_not_strict(tmp_path):
    tensorkeep.save({"a": np.ones(2)}, tmp_path / "c")
    with pytest.raises(ValueError, match=r"size mismatch for a: the checkpoint has shape \[2\], "
                                         r"the target has shape \[3\]"):
        tensorkeep.load(tmp_path / "c", into={"a": np.zeros(3)}, strict=False)


@pytest.mark.parametrize("bad, match", [
    ({1.5: np.ones(1)}, "names must be strings"),
    ({"": np.ones(1)}, "empty tensor name"),
    ({"a/b": np.ones(1), "a": {"b": np.ones(1)}}, "duplicate tensor name 'a/b'"),
    ({"a": object()}, "not an array"),
    (np.ones(3), "takes a mapping"),
])
def test_save_rejects(tmp_path, bad, match):
    with pytest.raises(errors.InvalidArgumentError, match=match):
        tensorkeep.save(bad, tmp_path / "c")
    assert not list(tmp_path.iterdir()) or not (tmp_path / "c.index").exists()


def test_restore_into_non_mapping(tmp_path):
    tensorkeep.save({"a": np.ones(2)}, tmp_path / "c")
    with pytest.raises(errors.InvalidArgumentError, match="cannot restore into a int"):
        tensorkeep.load(tmp_path / "c", into=3)


def test_import_has_no_framework_side_effects(run_python, tmp_path):
    out = run_python(f"""
        import sys, numpy as np, tensorkeep
        tensorkeep.save({{"a": np.ones(2)}}, {str(tmp_path / 'c')!r})
        dict(tensorkeep.load({str(tmp_path / 'c')!r}))
        print(sorted(m for m in ("torch", "jax", "tensorflow", "safetensors") if m in sys.modules))
    """)
    assert out.stdout.strip() == "[]"


def test_tensorflow_reads_ours_and_we_read_tensorflows(tf, tmp_path):
    import ml_dtypes

    state = {"w": np.arange(6, dtype=np.float32).reshape(2, 3),
             "h": np.array([1.5, -2], dtype=ml_dtypes.bfloat16), "flag": np.array([True, False]),
             "sub": {"n": np.int64(7)}, "s": "text"}
    tensorkeep.save(state, tmp_path / "ours")
    r = tf.train.load_checkpoint(str(tmp_path / "ours"))
    np.testing.assert_array_equal(r.get_tensor("w"), state["w"])
    assert r.get_variable_to_dtype_map()["h"] == tf.bfloat16
    assert r.get_tensor("h").tobytes() == state["h"].tobytes()
    assert r.get_tensor("flag").tolist() == [True, False]
    assert r.get_tensor("sub/n") == 7 and r.get_tensor("s") == b"text"

    v = tf.Variable(np.arange(4, dtype=np.float16))
    path = tf.train.Checkpoint(v=v).write(str(tmp_path / "theirs"))
    ck = tensorkeep.load(path)
    got = ck["v/.ATTRIBUTES/VARIABLE_VALUE"]
    assert got.dtype == np.float16 and got.tolist() == [0, 1, 2, 3]


def _restore_outcome(prefix, make_target, **kw):  # type: ignore[no-untyped-def]
    target = make_target()
    try:
        res = tensorkeep.load(prefix, into=target, **kw)
    except Exception as exc:  # noqa: BLE001  (compared between the two paths)
        res = (type(exc), str(exc))
    return res, {k: (v.dtype, v.tolist()) if isinstance(v, np.ndarray) else v
                 for k, v in target.items()}


@pytest.mark.parametrize("case", ["plain", "mixed", "read-only", "subset"])
def test_restore_hot_path_matches_the_walk(tmp_path, monkeypatch, case):
    """Top-level arrays of the stored dtype and shape are copied without the general
    walk once the whole-index table exists; the outcome is the walk's in every case."""
    from tensorkeep.bundle import reader as reader_mod
    from tensorkeep.checkpoint.reader import LazyCheckpoint

    stored = {f"v{i:03d}": np.arange(i, i + 6, dtype=np.float32).reshape(2, 3) for i in range(120)}
    stored["f64"] = np.arange(6.0)
    tensorkeep.save(stored, tmp_path / "c")

    def make_target():  # type: ignore[no-untyped-def]
        t = {k: np.zeros_like(v) for k, v in stored.items()}
        if case in ("mixed", "read-only"):
            t["v005"] = np.zeros((2, 3), np.float64)           # cast on the way in
            t["v006"] = np.zeros((3, 2), np.float32)           # shape mismatch
            t["v007"] = np.zeros((3, 4), np.float32)[:2, :3]   # not contiguous
            t["nested"] = {"x": np.zeros(1)}                    # missing
            del t["v008"]                                       # unexpected
        if case == "read-only":
            t["v050"].setflags(write=False)
        return t

    kw = {"strict": False}
    if case == "subset":
        kw["names"] = [k for k in stored if k != "v010"]      # v010 missing from the view
    calls = []
    real = LazyCheckpoint.read_into_exact

    def spy(self, name, out):  # type: ignore[no-untyped-def]
        ok = real(self, name, out)
        calls.append(ok)
        return ok

    monkeypatch.setattr(LazyCheckpoint, "read_into_exact", spy)
    monkeypatch.setattr(reader_mod, "_FAST_AFTER", 0)
    fast = _restore_outcome(tmp_path / "c", make_target, **kw)
    assert sum(calls) > (40 if case == "read-only" else 100)   # the hot path was taken
    if case == "subset":
        assert getattr(fast[0], "missing_keys", fast[0]) == ["v010"]
    if case == "read-only":
        assert fast[0][0] is errors.InvalidArgumentError and "read-only" in fast[0][1]
    monkeypatch.setattr(LazyCheckpoint, "read_into_exact", lambda self, name, out: False)
    slow = _restore_outcome(tmp_path / "c", make_target, **kw)
    assert fast == slow


def test_ml_dtypes_is_imported_only_when_one_of_its_types_is_needed(tmp_path) -> None:
    """ml_dtypes takes most of a second to import: a process that saves, lists and reads
    float32 tensors, builds a TF1 graph, or runs the CLI never imports it; the first
    bfloat16 read, numpy conversion or ``DType.numpy`` does, and the table then knows
    every one of its types, fast reads included."""
    import subprocess
    import sys

    prefix = str(tmp_path / "bf")
    import ml_dtypes

    tensorkeep.save({"b": np.arange(4).astype(ml_dtypes.bfloat16),
                     "f8": np.ones(2, ml_dtypes.float8_e4m3fn)}, prefix)
    code = f"""
import sys, numpy as np
import tensorkeep, tensorkeep.api, tensorkeep.cli.main, tensorkeep.train
import tensorkeep.graph.saver, tensorkeep.bundle.reader as R
tensorkeep.save({{"w": np.ones(3, np.float32)}}, {str(tmp_path / "f")!r})
assert list(tensorkeep.load({str(tmp_path / "f")!r})) == ["w"]
assert tensorkeep.load({str(tmp_path / "f")!r})["w"].sum() == 3
tensorkeep.cli.main.main(["inspect", {str(tmp_path / "f")!r}])
with tensorkeep.Graph().as_default():
    tensorkeep.Variable(np.zeros(2, np.float32), name="v")
try:                                    # an unknown numpy dtype: refused, without ml_dtypes
    tensorkeep.as_dtype(np.dtype("V3"))
    raise AssertionError("V3 converted")
except TypeError:
    pass
assert "ml_dtypes" not in sys.modules, "imported early"
assert tensorkeep.bfloat16.name == "bfloat16" and 14 not in R._FAST_DTYPES
ck = tensorkeep.load({prefix!r})
assert str(ck["b"].dtype) == "bfloat16" and ck["b"].tolist() == [0, 1, 2, 3]
assert "ml_dtypes" in sys.modules
import ml_dtypes
assert 14 in R._FAST_DTYPES and 25 in R._FAST_KINDS
assert tensorkeep.as_dtype(np.dtype(ml_dtypes.int4)) is tensorkeep.int4
assert tensorkeep.float8_e5m2.numpy == np.dtype(ml_dtypes.float8_e5m2)
assert tensorkeep.as_dtype("bfloat16_ref").numpy == np.dtype(ml_dtypes.bfloat16)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    # a fresh process converting an ml_dtypes numpy dtype (the user imported ml_dtypes)
    code = """
import copy, ml_dtypes, numpy as np, tensorkeep
assert tensorkeep.as_dtype(np.dtype(ml_dtypes.bfloat16)) is tensorkeep.bfloat16
assert tensorkeep.as_dtype(ml_dtypes.uint2) is tensorkeep.uint2
assert copy.deepcopy(tensorkeep.dtypes.float4_e2m1fn) is tensorkeep.dtypes.float4_e2m1fn
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
