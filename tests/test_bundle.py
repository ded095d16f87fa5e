"""Tensor bundle V2: round trips, TensorFlow interop both ways, byte identity, corruption.

TensorFlow is used through the session-scoped ``tf`` fixture (eager raw ops:
SaveV2 / RestoreV2 and tf.train.load_checkpoint).
"""

from __future__ import annotations

import os

import ml_dtypes
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tensorkeep as tk
from tensorkeep import errors
from tensorkeep.bundle import BundleReader, BundleWriter, merge_bundles, read_tensors, write_bundle
from tensorkeep.train import NewCheckpointReader

RNG = np.random.default_rng(1234)

# every dtype a bundle stores, with a value generator
NUMERIC = {
    "float16": np.float16, "bfloat16": ml_dtypes.bfloat16, "float32": np.float32,
    "float64": np.float64, "int8": np.int8, "int16": np.int16, "int32": np.int32,
    "int64": np.int64, "uint8": np.uint8, "uint16": np.uint16, "uint32": np.uint32,
    "uint64": np.uint64, "complex64": np.complex64, "complex128": np.complex128, "bool": np.bool_,
    "float8_e5m2": ml_dtypes.float8_e5m2, "float8_e4m3fn": ml_dtypes.float8_e4m3fn,
    "float8_e4m3fnuz": ml_dtypes.float8_e4m3fnuz,
    "float8_e4m3b11fnuz": ml_dtypes.float8_e4m3b11fnuz, "float8_e5m2fnuz": ml_dtypes.float8_e5m2fnuz,
    "int4": ml_dtypes.int4, "uint4": ml_dtypes.uint4, "int2": ml_dtypes.int2,
    "uint2": ml_dtypes.uint2, "float4_e2m1fn": ml_dtypes.float4_e2m1fn,
}
SHAPES = [(), (0,), (3,), (2, 3), (2, 0, 4), (1, 1, 1, 5)]


def make(dtype: object, shape: tuple[int, ...]) -> np.ndarray:
    dt = np.dtype(dtype)
    n = int(np.prod(shape))
    if dt == np.bool_:
        return RNG.integers(0, 2, n).astype(bool).reshape(shape)
    if dt.kind == "c":
        return (RNG.standard_normal(n) + 1j * RNG.standard_normal(n)).astype(dt).reshape(shape)
    if dt.kind in "iu" or dt.name in ("int4", "uint4", "int2", "uint2"):
        lo, hi = {"int4": (-8, 8), "uint4": (0, 16), "int2": (-2, 2), "uint2": (0, 4)}.get(
            dt.name, (-100 if dt.kind == "i" else 0, 100))
        return RNG.integers(lo, hi, n).astype(dt).reshape(shape)
    return RNG.uniform(-4, 4, n).astype(np.float32).astype(dt).reshape(shape)


def strings(shape: tuple[int, ...]) -> np.ndarray:
    n = int(np.prod(shape))
    vals = [b"", b"a", b"\x00\xff binary \x80", "ünïcode".encode(), b"x" * 300]
    arr = np.empty(n, dtype=object)
    arr[:] = [vals[i % len(vals)] for i in range(n)]
    return arr.reshape(shape)


def all_cases() -> dict[str, np.ndarray]:
    cases = {}
    for name, dt in NUMERIC.items():
        for shape in SHAPES:
            cases[f"{name}/{'x'.join(map(str, shape)) or 'scalar'}"] = make(dt, shape)
    for shape in SHAPES:
        cases[f"string/{'x'.join(map(str, shape)) or 'scalar'}"] = strings(shape)
    return cases


def same(a: np.ndarray, b: np.ndarray) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return False
    if a.dtype == object or b.dtype == object:
        return a.reshape(-1).tolist() == b.reshape(-1).tolist()
    return a.dtype == b.dtype and a.tobytes() == b.tobytes()


# -- round trips within tensorkeep ------------------------------------------------------

def test_round_trip_every_dtype_and_shape(tmp_path):
    cases = all_cases()
    prefix = tk.save(cases, str(tmp_path / "ckpt"))
    loaded = tk.load(prefix)
    assert set(loaded) == set(cases)
    for name, value in cases.items():
        got = loaded[name]
        assert same(got, value), name
        if got.dtype != object:
            assert not got.flags.writeable, "lazy loads are read-only"


def test_worked_example_bytes(tmp_path):
    """FORMAT.md §2.10: one float32 tensor gives the 126-byte index and 8-byte data file."""
    prefix = tk.save({"v1": np.array([[1.0, 2.0]], np.float32)}, str(tmp_path / "m"))
    index = open(prefix + ".index", "rb").read()
    assert len(index) == 126
    assert index.hex().startswith("00000608011a020801000213763108011208120208011202080228083559")
    assert open(prefix + ".data-00000-of-00001", "rb").read() == bytes.fromhex("0000803f00000040")


def test_deterministic_whatever_the_dict_order(tmp_path):
    a = {"b": np.arange(3), "a": np.ones(2, np.float32), "c/d": np.array(b"x", dtype=object)}
    b = dict(reversed(list(a.items())))
    p1, p2 = tk.save(a, str(tmp_path / "one")), tk.save(b, str(tmp_path / "two"))
    for suffix in (".index", ".data-00000-of-00001"):
        assert open(p1 + suffix, "rb").read() == open(p2 + suffix, "rb").read()


def test_nested_names_and_strings(tmp_path):
    p = tk.save({"layer": {"w": np.eye(2), "b": np.zeros(2)}, "s": np.array(["α", "b"])},
                str(tmp_path / "n"))
    got = tk.load(p)
    assert sorted(got) == ["layer/b", "layer/w", "s"]
    assert got["s"].tolist() == ["α".encode(), b"b"]


def test_large_tensor_and_many_shards(tmp_path):
    big = RNG.standard_normal((1024, 1100)).astype(np.float32)     # > 4 MiB, past any block
    tensors = {f"t{i}": make(np.float32, (i + 1, 7)) for i in range(20)} | {"big": big}
    p = tk.save(tensors, str(tmp_path / "s"), num_shards=4)
    names = sorted(os.listdir(tmp_path))
    assert [n for n in names if ".data-" in n] == [f"s.data-0000{i}-of-00004" for i in range(4)]
    got = tk.load(p)
    for k, v in tensors.items():
        assert same(got[k], v)


def test_read_into_existing_array(tmp_path):
    value = make(np.float64, (64, 33))
    p = tk.save({"x": value}, str(tmp_path / "r"))
    out = np.empty_like(value)
    tk.load(p).read_into("x", out)
    assert same(out, value)
    with pytest.raises(errors.InvalidArgumentError):
        tk.load(p).read_into("x", np.empty((3,), np.float64))


@settings(max_examples=40, deadline=None)
@given(st.dictionaries(
    st.text(min_size=1, max_size=12).filter(lambda s: "/" not in s),
    st.tuples(st.sampled_from(["float32", "int64", "bool", "uint8", "string", "bfloat16"]),
              st.lists(st.integers(0, 4), max_size=3)),
    max_size=8))
def test_hypothesis_round_trip(tmp_path_factory, spec):
    tensors = {}
    for name, (dt, shape) in spec.items():
        shape = tuple(shape)
        tensors[name] = strings(shape) if dt == "string" else make(NUMERIC[dt], shape)
    p = tk.save(tensors, str(tmp_path_factory.mktemp("h") / "c"))
    got = tk.load(p)
    assert set(got) == set(tensors)
    for k, v in tensors.items():
        assert same(got[k], v)


# -- partitioned tensors ----------------------------------------------------------------

def test_partitioned_write_and_assemble(tmp_path):
    full = make(np.float32, (10, 6))
    with BundleWriter(str(tmp_path / "p")) as w:
        w.add_slice("w", (10, 6), [(0, 4), (0, -1)], full[0:4])
        w.add_slice("w", (10, 6), [(4, 6), (0, -1)], full[4:10])
        w.add("other", np.arange(3))
    r = NewCheckpointReader(str(tmp_path / "p"))
    assert r.get_variable_to_shape_map() == {"w": [10, 6], "other": [3]}
    assert same(r.get_tensor("w"), full)
    assert b"(DT_FLOAT) [4,6]" in r.debug_string() and b"w (DT_FLOAT)" not in r.debug_string()


# -- TensorFlow interop ----------------------------------------------------------------------

def tf_cases(tf) -> dict[str, np.ndarray]:  # type: ignore[no-untyped-def]
    """The dtypes TF can make eager tensors of (all of ours)."""
    return all_cases()


def test_tensorflow_reads_ours(tf, tmp_path):
    cases = all_cases()
    prefix = tk.save(cases, str(tmp_path / "ours"))
    reader = tf.train.load_checkpoint(prefix)
    shapes = reader.get_variable_to_shape_map()
    assert set(shapes) == set(cases)
    for name, value in cases.items():
        assert shapes[name] == list(value.shape), name
        if value.dtype == object:
            got = reader.get_tensor(name)
            assert np.asarray(got, dtype=object).reshape(-1).tolist() == value.reshape(-1).tolist()
    # RestoreV2 returns every dtype's exact bytes
    names = sorted(cases)
    dts = [tf.as_dtype(tk.load(prefix).dtype(n).as_datatype_enum) for n in names]
    restored = tf.raw_ops.RestoreV2(prefix=prefix, tensor_names=names,
                                    shape_and_slices=[""] * len(names), dtypes=dts)
    for name, t in zip(names, restored):
        value = cases[name]
        if value.dtype == object:
            assert np.asarray(t.numpy(), dtype=object).reshape(-1).tolist() == value.reshape(-1).tolist()
        else:
            assert same(t.numpy().view(value.dtype).reshape(value.shape), value), name


def test_we_read_tensorflows_and_bytes_are_identical(tf, tmp_path):
    cases = all_cases()
    names = sorted(cases)
    tensors = [tf.constant(cases[n]) if cases[n].dtype != object
               else tf.reshape(tf.constant(cases[n].reshape(-1).tolist(), dtype=tf.string),
                               cases[n].shape)
               for n in names]
    tf_prefix = str(tmp_path / "theirs")
    tf.raw_ops.SaveV2(prefix=tf_prefix, tensor_names=names, shape_and_slices=[""] * len(names),
                      tensors=tensors)
    got = tk.load(tf_prefix)
    for name in names:
        value = cases[name]
        assert same(got[name], value), name
        assert got.dtype(name).as_datatype_enum == tensors[names.index(name)].dtype.as_datatype_enum
    ours = tk.save(cases, str(tmp_path / "ours"))
    for suffix in (".index", ".data-00000-of-00001"):
        assert open(ours + suffix, "rb").read() == open(tf_prefix + suffix, "rb").read(), suffix


def test_tensorflow_partitioned_and_merged(tf, tmp_path):
    full = make(np.float32, (4, 2))
    a, b, c = (str(tmp_path / "t" / x) for x in "abc")
    os.makedirs(tmp_path / "t")
    tf.raw_ops.SaveV2(prefix=a, tensor_names=["w", "z"], shape_and_slices=["4 2 0,2:0,2", ""],
                      tensors=[tf.constant(full[:2]), tf.constant([1.5])])
    tf.raw_ops.SaveV2(prefix=b, tensor_names=["w", "a"], shape_and_slices=["4 2 2,2:0,2", ""],
                      tensors=[tf.constant(full[2:]), tf.constant([7], tf.int64)])
    tf.raw_ops.SaveV2(prefix=c, tensor_names=["m"], shape_and_slices=[""],
                      tensors=[tf.constant(np.arange(5, dtype=np.int32))])
    # TF merges one copy, tensorkeep merges an identical copy: same files
    import shutil

    shutil.copytree(tmp_path / "t", tmp_path / "u")
    tf.raw_ops.MergeV2Checkpoints(checkpoint_prefixes=[c, a, b], destination_prefix=str(tmp_path / "tfm"))
    u = [str(tmp_path / "u" / x) for x in "cab"]
    merge_bundles(u, str(tmp_path / "tkm"))
    for suffix in (".index", ".data-00000-of-00003", ".data-00001-of-00003", ".data-00002-of-00003"):
        assert open(str(tmp_path / "tkm") + suffix, "rb").read() == \
            open(str(tmp_path / "tfm") + suffix, "rb").read(), suffix
    assert not (tmp_path / "u").exists() or not any(n.endswith(".index") for n in os.listdir(tmp_path / "u"))
    r = NewCheckpointReader(str(tmp_path / "tkm"))
    assert r.get_variable_to_shape_map() == {"w": [4, 2], "z": [1], "a": [1], "m": [5]}
    assert same(r.get_tensor("w"), full)
    # RestoreV2 semantics: a slice request of the partitioned tensor
    (part,) = read_tensors(str(tmp_path / "tkm"), ["w"], ["4 2 1,2:0,2"], [tk.float32])
    assert same(part, full[1:3])


def test_merge_errors(tmp_path):
    tk.save({"x": np.ones(1)}, str(tmp_path / "a"))
    tk.save({"x": np.ones(1)}, str(tmp_path / "b"))
    with pytest.raises(errors.InvalidArgumentError, match="Duplicate tensor keyed by x"):
        merge_bundles([str(tmp_path / "a"), str(tmp_path / "b")], str(tmp_path / "m"))
    with pytest.raises(errors.InvalidArgumentError, match="none existed"):
        merge_bundles([str(tmp_path / "nope")], str(tmp_path / "m"), allow_missing_files=True)


def test_restore_v2_dtype_mismatch_message(tmp_path):
    p = tk.save({"v1": np.ones(2, np.float32)}, str(tmp_path / "d"))
    with pytest.raises(errors.InvalidArgumentError,
                       match="tensor_name = v1; expected dtype double does not equal original dtype float"):
        read_tensors(p, ["v1"], [""], [tk.float64])


def test_tensorflow_tf2_checkpoint_object_graph(tf, tmp_path):
    v = tf.Variable([1.0, 2.0, 3.0])
    model = tf.Module()
    model.w = tf.Variable(np.eye(2, dtype=np.float32))
    ckpt = tf.train.Checkpoint(v=v, model=model, step=tf.Variable(7, dtype=tf.int64))
    path = ckpt.write(str(tmp_path / "obj"))
    r = NewCheckpointReader(path)
    assert set(r.get_variable_to_shape_map()) == {
        "_CHECKPOINTABLE_OBJECT_GRAPH", "model/w/.ATTRIBUTES/VARIABLE_VALUE",
        "step/.ATTRIBUTES/VARIABLE_VALUE", "v/.ATTRIBUTES/VARIABLE_VALUE"}
    assert r.get_tensor("step/.ATTRIBUTES/VARIABLE_VALUE") == 7
    objects = {key: (path_, attr) for path_, attr, key, _ in r.object_graph()}
    assert objects["model/w/.ATTRIBUTES/VARIABLE_VALUE"] == ("model/w", "VARIABLE_VALUE")
    assert objects["v/.ATTRIBUTES/VARIABLE_VALUE"] == ("v", "VARIABLE_VALUE")
    tf_dbg = tf.train.load_checkpoint(path)._CheckpointReader__debug_string() if hasattr(
        tf.train.load_checkpoint(path), "_CheckpointReader__debug_string") else None
    if tf_dbg is not None:
        assert r.debug_string() == tf_dbg


def test_debug_string_and_maps_match_tensorflow(tf, tmp_path):
    p = tk.save({"v2": np.zeros((2, 3), np.float32), "v1": np.zeros((1, 2), np.float32),
                 "s": np.int64(3)}, str(tmp_path / "dbg"))
    theirs = tf.compat.v1.train.NewCheckpointReader(p)
    ours = NewCheckpointReader(p)
    assert ours.debug_string() == theirs.debug_string()
    assert ours.get_variable_to_shape_map() == theirs.get_variable_to_shape_map()
    assert {k: v.name for k, v in ours.get_variable_to_dtype_map().items()} == \
        {k: v.name for k, v in theirs.get_variable_to_dtype_map().items()}
    assert type(ours.get_tensor("s")) is type(theirs.get_tensor("s"))
    assert tk.train.list_variables(p) == tf.train.list_variables(p)


# -- errors and corruption ------------------------------------------------------------------

def test_missing_checkpoint_and_key(tmp_path):
    with pytest.raises(errors.NotFoundError, match="Failed to find any matching files for"):
        NewCheckpointReader(str(tmp_path / "nope"))
    p = tk.save({"a": np.ones(1)}, str(tmp_path / "k"))
    with pytest.raises(errors.NotFoundError, match="Key nope not found in checkpoint"):
        NewCheckpointReader(p).get_tensor("nope")
    with pytest.raises(errors.DataLossError, match="Is a directory"):
        NewCheckpointReader(str(tmp_path))
    with pytest.raises(KeyError):        # NotFoundError is also a KeyError
        tk.load(p)["nope"]


def test_data_file_corruption_detected(tmp_path):
    p = tk.save({"a": np.arange(100, dtype=np.int32), "s": strings((4,))}, str(tmp_path / "c"))
    data = p + ".data-00000-of-00001"
    raw = bytearray(open(data, "rb").read())
    raw[17] ^= 0x40
    open(data, "wb").write(bytes(raw))
    with pytest.raises(errors.DataLossError, match="Checksum does not match") as info:
        tk.load(p)["a"]
    assert info.value.filename == data and info.value.key == "a"
    open(data, "wb").write(bytes(raw[:200]))
    with pytest.raises(errors.DataLossError, match="run past the end"):
        tk.load(p)["s"]


def test_index_truncation_and_bit_flips_raise_only_our_errors(tmp_path):
    p = tk.save({"v1": np.array([[1.0, 2.0]], np.float32), "s": strings((3,))}, str(tmp_path / "t"))
    index = open(p + ".index", "rb").read()
    target = str(tmp_path / "x")
    os.link(p + ".data-00000-of-00001", target + ".data-00000-of-00001")
    outcomes = {"ok": 0, "DataLossError": 0}
    variants = [index[:n] for n in range(len(index))]
    variants += [index[:i] + bytes([index[i] ^ (1 << b)]) + index[i + 1:]
                 for i in range(len(index)) for b in range(8)]
    for blob in variants:
        with open(target + ".index", "wb") as f:
            f.write(blob)
        try:
            loaded = tk.load(target)
            for k in loaded:
                loaded[k]
            outcomes["ok"] += 1
        except errors.OpError as exc:
            outcomes[type(exc).__name__] = outcomes.get(type(exc).__name__, 0) + 1
    assert outcomes["DataLossError"] > len(index)
    assert set(outcomes) <= {"ok", "DataLossError", "NotFoundError"}, outcomes


def test_absurd_sizes_rejected_before_allocation(tmp_path):
    from tensorkeep.format.entry import BundleEntry, BundleHeader
    from tensorkeep.format.table import TableBuilder

    prefix = str(tmp_path / "evil")
    open(prefix + ".data-00000-of-00001", "wb").write(b"\0" * 16)
    for entry in [BundleEntry(1, (0x7FFFFFFFFFFFFFF0,), size=0x7FFFFFFFFFFFFFF0 * 4 % (1 << 63)),
                  BundleEntry(1, (4,), offset=0x7FFFFFFFFFFFFFF0, size=16),
                  BundleEntry(7, (0x7FFFFFFFFFFF,), size=16),
                  BundleEntry(1, (1 << 40, 1 << 40), slices=(((0, 1), (0, 1)),))]:
        chunks: list[bytes] = []
        t = TableBuilder(chunks.append)
        t.add(b"", BundleHeader().encode())
        t.add(b"x", entry.encode())
        t.finish()
        open(prefix + ".index", "wb").write(b"".join(chunks))
        with pytest.raises(errors.DataLossError):
            tk.load(prefix)["x"]


def test_prefix_that_is_a_directory_is_refused(tmp_path):
    with pytest.raises(errors.InvalidArgumentError, match="is a directory"):
        tk.save({"a": np.ones(1)}, str(tmp_path))


def test_failed_save_publishes_nothing(tmp_path):
    with pytest.raises(errors.InvalidArgumentError):
        tk.save({"a": np.ones(1), "b": object()}, str(tmp_path / "f"))
    with pytest.raises(errors.InvalidArgumentError):
        write_bundle(str(tmp_path / "g"), {"a": np.ones(1), "b": np.array([object()])})
    assert os.listdir(tmp_path) == []


def test_partitioned_save_bytes_identical_to_tensorflow(tf, tmp_path):
    from tensorkeep.bundle import write_tensors

    full = make(np.float32, (4, 2))
    other = make(np.int64, (6, 3))
    names = ["w", "w", "x", "x", "plain"]
    specs = ["4 2 0,2:0,2", "4 2 2,2:0,2", "6 3 0,6:0,1", "6 3 -:1,2", ""]
    values = [full[:2], full[2:], other[:, :1], other[:, 1:], np.arange(3, dtype=np.int32)]
    tf.raw_ops.SaveV2(prefix=str(tmp_path / "tf"), tensor_names=names, shape_and_slices=specs,
                      tensors=[tf.constant(v) for v in values])
    write_tensors(str(tmp_path / "tk"), names, specs, values)
    for suffix in (".index", ".data-00000-of-00001"):
        assert open(str(tmp_path / "tk") + suffix, "rb").read() == \
            open(str(tmp_path / "tf") + suffix, "rb").read(), suffix
    r = tf.train.load_checkpoint(str(tmp_path / "tk"))
    assert np.array_equal(r.get_tensor("w"), full) and np.array_equal(r.get_tensor("x"), other)


def test_tensorflow_saver_restores_what_tensorkeep_saved(tf, tmp_path):
    """tf.compat.v1.train.Saver.restore reads a tensorkeep.save bundle (every Variable dtype)."""
    values = {
        "f32": make(np.float32, (3, 4)), "f64": make(np.float64, (2,)), "f16": make(np.float16, (5,)),
        "bf16": make(ml_dtypes.bfloat16, (2, 2)), "i32": make(np.int32, (4,)),
        "i64": make(np.int64, ()), "u8": make(np.uint8, (3,)), "b": make(np.bool_, (6,)),
        "c64": make(np.complex64, (2,)), "scope/s": strings((2,)),
    }
    prefix = tk.save(values, str(tmp_path / "ours"))
    with tf.Graph().as_default():
        variables = {
            name: tf.compat.v1.Variable(
                tf.zeros(v.shape, dtype=tf.string if v.dtype == object else tf.as_dtype(v.dtype)),
                name=name, use_resource=False)
            for name, v in values.items()}
        saver = tf.compat.v1.train.Saver()
        with tf.compat.v1.Session() as sess:
            saver.restore(sess, prefix)
            got = sess.run(variables)
    for name, value in values.items():
        assert same(np.asarray(got[name], dtype=object if value.dtype == object else value.dtype),
                    value), name
