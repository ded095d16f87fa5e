"""V1 checkpoints (SavedTensorSlices tables): golden bytes, round trips, corruption, TF both ways."""

from __future__ import annotations

import os
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tensorkeep import dtypes as dt
from tensorkeep import errors
from tensorkeep.bundle import v1
from tensorkeep.format import v1 as fmt
from tensorkeep.format.coding import encode_varint
from tensorkeep.format.tensor_slice import TensorSlice

# FORMAT.md §5.5: tensor v1, float32 [2], values [1, 2] (identical to what TF 2.21 writes).
GOLDEN_154 = bytes.fromhex(
    "0000180a160a100a027631120412020802180122020a001202080100091600763100010101807f12140a0276"
    "3112020a001a0a2a080000803f0000004000000000010000000000a7b753000000000100000000c0f2a1b000"
    "0102010045000000000100000000cb60e4854a08570e000000000000000000000000000000000000000000"
    "00000000000000000000000000000057fb808b247547db")


def test_golden_file(tmp_path):
    path = tmp_path / "m"
    v1.write_v1(path, ["v1"], [""], [np.array([1.0, 2.0], np.float32)])
    assert path.read_bytes() == GOLDEN_154
    assert os.listdir(tmp_path) == ["m"]
    r = v1.V1Reader(str(path))
    assert r.debug_string() == b"v1 (DT_FLOAT) [2]\n"
    np.testing.assert_array_equal(r.get_tensor("v1"), [1.0, 2.0])


def test_golden_records():
    meta = fmt.encode_meta(fmt.V1Meta((fmt.SliceMeta("v1", (2,), 1, (TensorSlice.full(1),)),)))
    assert meta.hex(" ") == "0a 16 0a 10 0a 02 76 31 12 04 12 02 08 02 18 01 22 02 0a 00 12 02 08 01"
    assert fmt.slice_key("v1", TensorSlice.full(1)).hex(" ") == "00 76 31 00 01 01 01 80 7f"
    assert fmt.slice_key("s", TensorSlice(())).hex(" ") == "00 73 00 01 00"
    rec = fmt.encode_slice("v1", TensorSlice.full(1), dt.float32, np.array([1, 2], np.float32))
    assert rec.hex(" ") == ("12 14 0a 02 76 31 12 02 0a 00 1a 0a 2a 08 00 00 80 3f 00 00 00 40")
    back = fmt.decode_meta(meta)
    assert back.tensors[0] == fmt.SliceMeta("v1", (2,), 1, (TensorSlice.full(1),))
    assert (back.producer, back.min_consumer) == (1, 0)
    assert fmt.decode_slice_key(b"\x00s\x00\x01\x00") == ("s", TensorSlice(()))


# ------------------------------------------------------------------ round trips

def _values(d, shape, rng):
    n = int(np.prod(shape, dtype=np.int64))
    if d is dt.string:
        out = np.empty(n, dtype=object)
        out[:] = [bytes(rng.integers(0, 256, size=i % 4)) for i in range(n)]
        return out.reshape(shape)
    if d is dt.bool:
        return rng.integers(0, 2, size=shape).astype(bool)
    npd = d.numpy
    if npd.kind == "f":
        return rng.standard_normal(shape).astype(npd)
    if npd.kind == "c":
        return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(npd)
    info = np.iinfo(npd)
    return rng.integers(info.min, info.max, size=shape, endpoint=True, dtype=np.int64).astype(npd)


ROUNDTRIP_DTYPES = [dt.float32, dt.float64, dt.int32, dt.uint8, dt.int16, dt.int8, dt.string,
                    dt.complex64, dt.int64, dt.bool, dt.qint8, dt.quint8, dt.qint32, dt.qint16,
                    dt.quint16, dt.uint16, dt.complex128, dt.float16]
SHAPES = [(), (0,), (3,), (2, 3), (2, 0, 4), (3, 1, 2)]


@pytest.mark.parametrize("d", ROUNDTRIP_DTYPES, ids=lambda d: d.name)
def test_roundtrip_matrix(tmp_path, d):
    rng = np.random.default_rng(d.as_datatype_enum)
    names, arrays = [], []
    for i, shape in enumerate(SHAPES):
        names.append(f"t{i}")
        arrays.append(_values(d, shape, rng))
    path = str(tmp_path / "ck")
    v1.write_v1(path, names, [""] * len(names), arrays, dtypes=[d] * len(names))
    r = v1.V1Reader(path)
    assert r.get_variable_to_dtype_map() == {n: d for n in names}
    assert r.get_variable_to_shape_map() == {n: list(s) for n, s in zip(names, SHAPES)}
    for n, a in zip(names, arrays):
        got = r.get_tensor(n)
        assert got.shape == a.shape
        if d is dt.string:
            assert got.tolist() == a.tolist()
        else:
            assert got.dtype == d.numpy
            np.testing.assert_array_equal(got, a)


def test_extreme_integer_values(tmp_path):
    path = str(tmp_path / "ck")
    vals = {
        "i64": np.array([np.iinfo(np.int64).min, -1, 0, 1, np.iinfo(np.int64).max]),
        "i32": np.array([np.iinfo(np.int32).min, -1, 0, 127, 128, np.iinfo(np.int32).max], np.int32),
        "h": np.array([np.inf, -np.inf, np.nan, -0.0, 65504], np.float16),
    }
    v1.write_v1(path, list(vals), [""] * 3, list(vals.values()))
    r = v1.V1Reader(path)
    for k, a in vals.items():
        got = r.get_tensor(k)
        assert got.tobytes() == a.tobytes(), k


def test_partitioned_and_sharded_pattern(tmp_path):
    full = np.arange(24, dtype=np.float32).reshape(6, 4)
    p = str(tmp_path / "m")
    v1.write_v1(p + "-00000-of-00002", ["w", "x"], ["6 4 0,2:-", ""], [full[:2], np.int64(5)])
    v1.write_v1(p + "-00001-of-00002", ["w", "w"], ["6 4 2,3:-", "6 4 5,1:0,4"],
                [full[2:5], full[5:]])
    spec = p + "-?????-of-00002"
    r = v1.V1Reader(spec)
    assert r.filenames == [p + "-00000-of-00002", p + "-00001-of-00002"]
    np.testing.assert_array_equal(r.get_tensor("w"), full)
    assert r.num_slices("w") == 3 and r.get_tensor("x") == 5
    np.testing.assert_array_equal(r.get_slice("w", TensorSlice(((1, 3), (1, 2)))), full[1:4, 1:3])
    assert r.debug_string().splitlines() == [b"w (DT_FLOAT) [6,4], 3 slices", b"x (DT_INT64) []"]
    got = v1.read_tensors(spec, ["w", "w", "x"], ["", "6 4 4,2:-", ""],
                          [dt.float32, dt.float32, dt.int64])
    np.testing.assert_array_equal(got[0], full)
    np.testing.assert_array_equal(got[1], full[4:])


def test_partial_coverage(tmp_path):
    p = str(tmp_path / "m")
    v1.write_v1(p, ["w"], ["4 2 0,2:-"], [np.ones((2, 2), np.float32)])
    r = v1.V1Reader(p)
    with pytest.raises(errors.InvalidArgumentError, match="^Error copying slice data"):
        r.get_tensor("w")
    np.testing.assert_array_equal(r.get_slice("w", TensorSlice(((0, 1), (0, -1)))), [[1, 1]])


def test_meta_sorted_by_name_and_data_in_key_order(tmp_path):
    p = str(tmp_path / "m")
    v1.write_v1(p, ["b", "a", "c"], [""] * 3, [np.int32(1), np.int32(2), np.int32(3)])
    meta = fmt.decode_meta(v1.V1Reader(p)._tables[0].get(b""))
    assert [t.name for t in meta.tensors] == ["a", "b", "c"]


# ------------------------------------------------------------------ writer errors

def test_writer_errors(tmp_path):
    p = str(tmp_path / "m")
    z = np.zeros((2, 2), np.float32)
    cases = [
        (errors.InternalError, "Mismatching shapes: existing tensor = [4,2], trying to add name w, shape = [5,2]",
         (["w", "w"], ["4 2 0,2:-", "5 2 2,2:-"], [z, z], None)),
        (errors.InternalError, "Mismatching types: existing type = float, trying to add name w, type = double",
         (["w", "w"], ["4 2 0,2:-", "4 2 2,2:-"], [z, z.astype(np.float64)], None)),
        (errors.InvalidArgumentError, "Slice in shape_and_slice specification does not match the shape "
         "of the tensor to  save: 4 2 0,2:-, tensor: [3,2]",
         (["w"], ["4 2 0,2:-"], [np.zeros((3, 2))], None)),
        (errors.UnimplementedError, "Saving data type bfloat16 not yet supported",
         (["w"], [""], [z], [dt.bfloat16])),
        (errors.UnimplementedError, "Saving data type float8_e5m2 not yet supported",
         (["w"], [""], [z], [dt.float8_e5m2])),
        (errors.InvalidArgumentError, "Tensor slice serialization not implemented for dtype 22",
         (["w"], [""], [np.zeros(2, np.uint32)], None)),
        (errors.InvalidArgumentError, "Overlapping slices: existing slice = 0,2:-, new slice = 1,2:-",
         (["w", "w"], ["4 2 0,2:-", "4 2 1,2:-"], [z, z], None)),
    ]
    for cls, msg, (names, specs, arrays, dtypes) in cases:
        with pytest.raises(cls, match="^" + re.escape(msg) + "$"):
            v1.write_v1(p, names, specs, arrays, dtypes=dtypes)
    assert os.listdir(tmp_path) == []


def test_missing_directory_names_the_tempstate_file(tmp_path):
    with pytest.raises(errors.NotFoundError, match=r"/nodir/m\.tempstate\d+; No such file"):
        v1.write_v1(str(tmp_path / "nodir" / "m"), ["w"], [""], [np.zeros(2)])


def test_atomic_write_uses_tempstate_then_rename(tmp_path, monkeypatch):
    seen = []
    real = os.replace
    monkeypatch.setattr(os, "replace", lambda a, b: (seen.append((a, b)), real(a, b))[1])
    p = str(tmp_path / "m")
    v1.write_v1(p, ["w"], [""], [np.zeros(2)])
    (src, dst), = seen
    assert dst == p and re.fullmatch(re.escape(p) + r"\.tempstate\d+", src)


def test_slice_too_large_estimate(monkeypatch):
    monkeypatch.setattr(fmt, "MAX_SLICE_BYTES", 2000)
    with pytest.raises(errors.InvalidArgumentError,
                       match=r"^Tensor slice is too large to serialize \(conservative estimate: \d+ bytes\)$"):
        fmt.encode_slice("w", TensorSlice.full(1), dt.int64, np.zeros(200, np.int64))


# ------------------------------------------------------------------ reader errors

def test_reader_not_found_and_not_a_table(tmp_path):
    with pytest.raises(errors.NotFoundError, match="^Unsuccessful TensorSliceReader constructor: "
                       "Failed to find any matching files for " + re.escape(str(tmp_path / "x"))):
        v1.V1Reader(str(tmp_path / "x"))
    (tmp_path / "junk").write_bytes(b"not a table" * 10)
    with pytest.raises(errors.DataLossError, match="^Unable to open table file .*junk"):
        v1.V1Reader(str(tmp_path / "junk"))
    r = _small(tmp_path)
    with pytest.raises(errors.NotFoundError, match="^nope not found in checkpoint file$"):
        r.get_tensor("nope")


def _small(tmp_path):
    p = str(tmp_path / "m")
    v1.write_v1(p, ["v", "w"], ["", "4 2 0,2:-"], [np.array([1, 2], np.int32), np.ones((2, 2), np.float32)])
    return v1.V1Reader(p)


def test_read_tensors_errors(tmp_path):
    _small(tmp_path)
    p = str(tmp_path / "m")
    with pytest.raises(errors.NotFoundError, match=f'^Tensor name "x" not found in checkpoint files {re.escape(p)}$'):
        v1.read_tensors(p, ["x"], [""], [dt.int32])
    with pytest.raises(errors.InvalidArgumentError, match="^Expected to restore a tensor of type float, "
                       "got a tensor of type int32 instead: tensor_name = v$"):
        v1.read_tensors(p, ["v"], [""], [dt.float32])
    with pytest.raises(errors.InvalidArgumentError, match=re.escape(
            "Shape in shape_and_slice spec does not match the shape in the save file: [5,2], "
            "save file shape: [4,2]")):
        v1.read_tensors(p, ["w"], ["5 2 0,1:-"], [dt.float32])


def test_truncation_at_every_byte_is_an_error_never_a_crash(tmp_path):
    data = GOLDEN_154
    for cut in range(len(data)):
        p = tmp_path / f"t{cut}"
        p.write_bytes(data[:cut])
        with pytest.raises(errors.OpError):
            v1.V1Reader(str(p)).get_tensor("v1")


def test_bit_flips_are_detected(tmp_path):
    hits = 0
    for i in range(len(GOLDEN_154) - 8):          # the magic's last bytes are checked too
        for bit in (0, 7):
            b = bytearray(GOLDEN_154)
            b[i] ^= 1 << bit
            p = tmp_path / "f"
            p.write_bytes(bytes(b))
            try:
                got = v1.V1Reader(str(p)).get_tensor("v1")
            except errors.OpError:
                hits += 1
                continue
            # undetected flips can only be in bytes that carry no information
            assert got.tolist() == [1.0, 2.0], (i, bit)
    assert hits > 2 * (len(GOLDEN_154) - 48) * 0.9


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64), st.sampled_from([dt.float32, dt.int32, dt.string, dt.complex64,
                                                 dt.bool, dt.float16, dt.int64]),
       st.integers(0, 8))
def test_decoders_raise_only_our_errors(buf, d, count):
    for fn in (lambda: fmt.decode_meta(buf), lambda: fmt.decode_slice(buf, d, count),
               lambda: fmt.decode_slice_key(buf)):
        try:
            fn()
        except errors.OpError:
            pass


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(-(1 << 63), (1 << 64) - 1), max_size=40))
def test_vectorized_varints_match_reference(values):
    arr = np.array([v & 0xFFFFFFFFFFFFFFFF for v in values], dtype=np.uint64)
    want = b"".join(encode_varint(int(v)) for v in arr)
    assert fmt._encode_varints(arr) == want
    assert fmt._decode_varints(want, "x", 0).tolist() == arr.tolist()


def test_unpacked_repeated_values_are_accepted():
    # SavedSlice{name "a", slice{}, data{int_val: 1, int_val: -2 (unpacked)}}
    tensor = b"\x38\x01" + b"\x38" + encode_varint((-2) & 0xFFFFFFFFFFFFFFFF)
    body = b"\x0a\x01a" + b"\x12\x02\x0a\x00" + b"\x1a" + bytes([len(tensor)]) + tensor
    rec = b"\x12" + bytes([len(body)]) + body
    out = fmt.decode_slice(rec, dt.int32, 2)
    assert out.values.tolist() == [1, -2] and out.name == "a"
    with pytest.raises(errors.DataLossError, match="2 values of dtype int32 for a slice of 3"):
        fmt.decode_slice(rec, dt.int32, 3)


# ------------------------------------------------------------------ with TensorFlow

def _tf_cases():
    z = np.arange(6, dtype=np.float32).reshape(3, 2)
    return {
        "mix": ([np.int32(3), np.array([[-1, 2], [300, -70000]], np.int64), np.array([True, False]),
                 np.array([b"ab", b""], object), np.array([1.5, -2], np.float16),
                 np.array([1 + 2j], np.complex64), np.array([[1, 2, 3]], np.float64),
                 np.zeros((0, 3), np.float32), np.array([-128, 127], np.int8),
                 np.array([255, 0], np.uint8), np.array([65535], np.uint16),
                 np.array([-5], np.int16), np.array([3 - 1j], np.complex128)],
                [""] * 13, ["s", "i64", "b", "str", "h", "c", "d", "empty", "i8", "u8", "u16",
                            "i16", "c128"]),
        "part": ([z[:2], z[2:], np.array([7.0], np.float32)], ["3 2 0,2:-", "3 2 2,1:-", ""],
                 ["w", "w", "\x00odd"]),
        "scalar_str": ([np.array(b"hello", object)], [""], ["s"]),
    }


@pytest.mark.parametrize("case", ["mix", "part", "scalar_str"])
def test_same_bytes_as_tf_saveslices(tf, tmp_path, case):
    arrays, specs, names = _tf_cases()[case]
    tf.raw_ops.SaveSlices(filename=str(tmp_path / "tf"), tensor_names=names, shapes_and_slices=specs,
                          data=[tf.constant(a) for a in arrays])
    v1.write_v1(str(tmp_path / "tk"), names, specs, arrays)
    assert (tmp_path / "tk").read_bytes() == (tmp_path / "tf").read_bytes()


def test_tf_restores_ours_all_dtypes(tf, tmp_path):
    arrays, specs, names = _tf_cases()["mix"]
    p = str(tmp_path / "tk")
    v1.write_v1(p, names, specs, arrays)
    got = tf.raw_ops.RestoreV2(prefix=p, tensor_names=names, shape_and_slices=specs,
                               dtypes=[tf.as_dtype(a.dtype if a.dtype != object else tf.string) for a in arrays])
    for a, g in zip(arrays, got):
        g = g.numpy()
        if a.dtype == object:
            assert g.tolist() == a.tolist()
        else:
            assert g.dtype == a.dtype and g.tobytes() == a.tobytes()
    # TF's own reader path for the dtypes it supports in V1 get_tensor
    reader = tf.train.load_checkpoint(p)
    for n in ("s", "i64", "d", "i8", "u8", "i16", "empty"):
        np.testing.assert_array_equal(reader.get_tensor(n), arrays[names.index(n)])
    assert set(reader.get_variable_to_shape_map()) == set(names)


def test_tf_restores_our_sharded_partitioned(tf, tmp_path):
    full = np.arange(12, dtype=np.float64).reshape(4, 3)
    p = str(tmp_path / "m")
    v1.write_v1(p + "-00000-of-00002", ["w"], ["4 3 0,1:-"], [full[:1]])
    v1.write_v1(p + "-00001-of-00002", ["w"], ["4 3 1,3:-"], [full[1:]])
    got = tf.raw_ops.RestoreV2(prefix=p + "-?????-of-00002", tensor_names=["w", "w"],
                               shape_and_slices=["", "4 3 0,2:1,2"], dtypes=[tf.float64] * 2)
    np.testing.assert_array_equal(got[0].numpy(), full)
    np.testing.assert_array_equal(got[1].numpy(), full[0:2, 1:3])


def test_we_read_tf_saver_v1(tf, tmp_path):
    prefix = str(tmp_path / "model.ckpt")
    with tf.Graph().as_default():
        a = tf.compat.v1.Variable(np.arange(6, dtype=np.float32).reshape(2, 3), name="a", use_resource=False)
        b = tf.compat.v1.Variable(np.int64(-7), name="scope/b", use_resource=False)
        c = tf.compat.v1.Variable(np.array([b"x", b"yz"], object), name="c", use_resource=False)
        saver = tf.compat.v1.train.Saver(write_version=tf.compat.v1.train.SaverDef.V1)
        with tf.compat.v1.Session() as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            assert saver.save(sess, prefix) == prefix
    assert not os.path.exists(prefix + ".index")
    r = v1.V1Reader(prefix)
    assert r.get_variable_to_dtype_map() == {"a": dt.float32, "scope/b": dt.int64, "c": dt.string}
    np.testing.assert_array_equal(r.get_tensor("a"), np.arange(6).reshape(2, 3))
    assert r.get_tensor("scope/b") == -7 and r.get_tensor("c").tolist() == [b"x", b"yz"]
    # and through the framework-level reader (NewCheckpointReader's V1 path)
    from tensorkeep.checkpoint.reader import CheckpointReader

    cr = CheckpointReader(prefix)
    assert sorted(cr.get_variable_to_shape_map().items()) == [("a", [2, 3]), ("c", [2]), ("scope/b", [])]
    np.testing.assert_array_equal(cr.get_tensor("a"), r.get_tensor("a"))


def test_we_read_tf_sharded_v1_partitioned(run_python, tmp_path):
    """TF Saver(sharded=True, V1) over two CPUs with a partitioned variable."""
    proc = run_python(f"""
        import numpy as np
        import tensorflow.compat.v1 as tf
        tf.disable_v2_behavior()
        with tf.device("/cpu:0"):
            a = tf.Variable(np.arange(4, dtype=np.float32), name="a")
        with tf.device("/cpu:1"):
            w = tf.get_variable("w", shape=[6, 2], dtype=tf.float32,
                                initializer=tf.random_uniform_initializer(),
                                partitioner=tf.fixed_size_partitioner(2))
        s = tf.train.Saver(sharded=True, write_version=tf.train.SaverDef.V1)
        cfg = tf.ConfigProto(device_count={{"CPU": 2}})
        with tf.Session(config=cfg) as sess:
            sess.run(tf.global_variables_initializer())
            print(s.save(sess, {str(tmp_path / "m")!r}))
            print(sess.run(tf.concat(list(w), 0)).tobytes().hex())
    """)
    names = sorted(os.listdir(tmp_path))
    assert "m-00000-of-00002" in names and "m-00001-of-00002" in names
    r = v1.V1Reader(str(tmp_path / "m-?????-of-00002"))
    np.testing.assert_array_equal(r.get_tensor("a"), np.arange(4))
    want = np.frombuffer(bytes.fromhex(proc.stdout.split()[-1]), np.float32).reshape(6, 2)
    np.testing.assert_array_equal(r.get_tensor("w"), want)
    assert r.num_slices("w") == 2 and proc.stdout.split()[-2] == str(tmp_path / "m-?????-of-00002")
