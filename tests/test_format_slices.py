"""OrderedCode slice keys and TensorSlice: FORMAT.md 3.8 vectors, fuzzing, and TF cross-checks."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tensorkeep.errors import DataLossError, InvalidArgumentError
from tensorkeep.format.ordered_code import (decode_num_increasing, decode_signed_num_increasing,
                                            decode_string, decode_tensor_name_slice,
                                            encode_num_increasing, encode_signed_num_increasing,
                                            encode_string, encode_tensor_name_slice)
from tensorkeep.format.table import Table
from tensorkeep.format.tensor_slice import FULL_EXTENT, TensorSlice, parse_spec, spec_string

INT64 = st.integers(-(2**63), 2**63 - 1)

# -- OrderedCode primitives -----------------------------------------------------------------


@pytest.mark.parametrize("value, hexed", [
    (0, "00"), (2, "0102"), (255, "01ff"), (300, "02012c"), (2**64 - 1, "08" + "ff" * 8),
])
def test_num_increasing_vectors(value: int, hexed: str) -> None:
    assert encode_num_increasing(value).hex() == hexed
    assert decode_num_increasing(bytes.fromhex(hexed) + b"rest") == (value, len(hexed) // 2)


@pytest.mark.parametrize("value, hexed", [
    (0, "80"), (2, "82"), (63, "bf"), (-1, "7f"), (-64, "40"),
    (64, "c040"), (-65, "3fbf"), (300, "c12c"), (1000, "c3e8"),
    (2**13 - 1, "dfff"), (2**13, "e02000"),
    (2**20, "f0100000"), (-(2**20), "100000"),
    (2**55 - 1, "ff7f" + "ff" * 6), (2**55, "ff80" + "80" + "00" * 6),
    (2**62 - 1, "ffbf" + "ff" * 7), (2**62, "ffc040" + "00" * 7),
    (2**63 - 1, "ffc07f" + "ff" * 7), (-(2**63), "003f80" + "00" * 7),
])
def test_signed_num_increasing_vectors(value: int, hexed: str) -> None:
    assert encode_signed_num_increasing(value).hex() == hexed
    assert decode_signed_num_increasing(bytes.fromhex(hexed) + b"\x00") == (value, len(hexed) // 2)


def test_signed_num_increasing_every_length() -> None:
    lengths = set()
    for bits in range(64):
        for value in (2**bits - 1, 2**bits, -(2**bits), -(2**bits) - 1):
            if -(2**63) <= value < 2**63:
                enc = encode_signed_num_increasing(value)
                lengths.add(len(enc))
                assert decode_signed_num_increasing(enc) == (value, len(enc))
    assert lengths == set(range(1, 11))
    with pytest.raises(ValueError):
        encode_signed_num_increasing(2**63)
    with pytest.raises(ValueError):
        encode_num_increasing(-1)


@given(st.lists(INT64, min_size=2, max_size=20))
def test_signed_num_increasing_preserves_order(values: list[int]) -> None:
    encoded = [encode_signed_num_increasing(v) for v in values]
    assert sorted(encoded) == [encode_signed_num_increasing(v) for v in sorted(values)]
    for v, e in zip(values, encoded):
        assert decode_signed_num_increasing(e) == (v, len(e))


@given(st.lists(st.integers(0, 2**64 - 1), min_size=2, max_size=10))
def test_num_increasing_preserves_order(values: list[int]) -> None:
    assert sorted(encode_num_increasing(v) for v in values) == [
        encode_num_increasing(v) for v in sorted(values)]


@pytest.mark.parametrize("raw, hexed", [
    (b"w", "770001"), (b"", "0001"), (b"a\x00b", "6100ff620001"), (b"\xff", "ff000001"),
    (b"\x00\xff", "00ffff000001"),
])
def test_string_vectors(raw: bytes, hexed: str) -> None:
    assert encode_string(raw).hex() == hexed
    assert decode_string(bytes.fromhex(hexed) + b"\x01") == (raw, len(hexed) // 2)


@given(st.lists(st.binary(max_size=8), min_size=2, max_size=10))
def test_string_roundtrip_and_order(values: list[bytes]) -> None:
    for v in values:
        assert decode_string(encode_string(v)) == (v, len(encode_string(v)))
    assert sorted(encode_string(v) for v in values) == [encode_string(v) for v in sorted(values)]


@pytest.mark.parametrize("data", [b"", b"abc", b"a\x00", b"a\x00\x02", b"\xff\x01\x00\x01",
                                  b"\xff"])
def test_string_malformed(data: bytes) -> None:
    with pytest.raises(DataLossError):
        decode_string(data)


@pytest.mark.parametrize("data", [b"", b"\x09" + b"\x00" * 9, b"\x02\x01"])
def test_num_increasing_malformed(data: bytes) -> None:
    with pytest.raises(DataLossError):
        decode_num_increasing(data)


@pytest.mark.parametrize("data", [b"", b"\xc0", b"\xff", b"\xff\xc0", b"\xff\xc0\x80" + b"\x00" * 7,
                                  b"\xff\xc1" + b"\x00" * 8, b"\x00", b"\x00\x3f"])
def test_signed_num_increasing_malformed(data: bytes) -> None:
    with pytest.raises(DataLossError):
        decode_signed_num_increasing(data)


# -- slice keys -----------------------------------------------------------------------------

@pytest.mark.parametrize("name, extents, hexed", [
    ("w", [(0, 2), (0, 2)], "00770001010280828082"),
    ("w", [(2, 2), (0, 2)], "00770001010282828082"),
    ("w", [(0, 2), (0, -1)], "0077000101028082807f"),
    ("layer/kernel", [(100, 100), (0, -1)],
     "006c617965722f6b65726e656c00010102c064c064807f"),
    ("v1", [(0, -1)], "00763100010101807f"),  # the V1 data key of FORMAT.md 5.5
])
def test_slice_key_vectors(name: str, extents: list[tuple[int, int]], hexed: str) -> None:
    key = encode_tensor_name_slice(name, extents)
    assert key.hex() == hexed
    assert encode_tensor_name_slice(name.encode(), TensorSlice(tuple(extents)).extents) == key
    assert decode_tensor_name_slice(key) == (name.encode(), extents)


_EXTENT = st.one_of(st.just((0, -1)), st.tuples(st.integers(0, 2**40), st.integers(1, 2**40)))


@given(st.binary(max_size=20), st.lists(_EXTENT, min_size=1, max_size=6))
def test_slice_key_roundtrip(name: bytes, extents: list[tuple[int, int]]) -> None:
    assert decode_tensor_name_slice(encode_tensor_name_slice(name, extents)) == (name, extents)


def test_slice_key_decoding_rules() -> None:
    # any negative length is a full dimension, whatever the start
    key = b"\x00w\x00\x01\x01\x01" + encode_signed_num_increasing(5) + encode_signed_num_increasing(-7)
    assert decode_tensor_name_slice(key) == (b"w", [(0, -1)])
    # trailing bytes are ignored, as TF does
    assert decode_tensor_name_slice(key + b"junk") == (b"w", [(0, -1)])
    bad = {
        b"\x01\x05w\x00\x01\x01\x01\x80\x7f": "leading number",
        b"\x00w\x00\x01\x00": "rank 0",
        b"\x00w\x00\x01\x01\x02\x80\x7f": "truncated",
        b"\x00w\x00": "unterminated",
        b"\x00w\x00\x01\x08\xff\xff\xff\xff\xff\xff\xff\xff": "does not fit",
    }
    for data, message in bad.items():
        with pytest.raises(DataLossError, match=message) as info:
            decode_tensor_name_slice(data)
        assert info.value.key == data
    with pytest.raises(ValueError):
        encode_tensor_name_slice("w", [])


@settings(max_examples=500)
@given(st.binary(max_size=30))
def test_slice_key_decoder_is_total(data: bytes) -> None:
    try:
        name, extents = decode_tensor_name_slice(data)
    except DataLossError:
        return
    assert extents and all(length >= 0 or (start, length) == (0, -1) for start, length in extents)


# -- TensorSlice ----------------------------------------------------------------------------

def test_parse_spec_and_spec_string() -> None:
    shape, sl = parse_spec("4 2 0,2:0,2")
    assert shape == (4, 2) and sl.extents == ((0, 2), (0, 2))
    assert spec_string(shape, sl) == "4 2 0,2:0,2"
    shape, sl = parse_spec("10 3 5 -:0,3:1,4")
    assert sl.extents == ((0, -1), (0, 3), (1, 4)) and str(sl) == "-:0,3:1,4"
    assert spec_string(shape, sl) == "10 3 5 0,10:0,3:1,4"  # SaveSliceInfo writes offsets
    assert sl.slice_shape(shape) == (10, 3, 4)
    assert parse_spec("") == ((), TensorSlice(()))
    assert parse_spec("")[1].is_full(())


@pytest.mark.parametrize("spec, message", [
    ("4", "at least two"), ("4 x 0,1:-", "non numerical"), ("4 2 0,5:-", "out of bounds"),
    ("4 2 0,1", "mismatching ranks"), ("4 2 0,0:-", "positive length"),
    ("4 2 -1,2:-", "non-negative start"), ("4 2 0,1,2:-", "pair of numbers"),
    ("4 2 a,1:-", "pair of numbers"), ("4 2 1_0,1:-", "pair of numbers"),
])
def test_parse_spec_errors(spec: str, message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        parse_spec(spec)


def test_is_full_numpy_index_intersect() -> None:
    shape = (4, 2)
    assert TensorSlice.full(2).is_full() and TensorSlice.full(2).is_full(shape)
    covering = TensorSlice(((0, 4), (0, 2)))
    assert not covering.is_full() and covering.is_full(shape)  # IsFullSlice: shape equality
    top = parse_spec("4 2 0,2:-")[1]
    assert not top.is_full(shape)
    arr = np.arange(8).reshape(shape)
    assert arr[top.numpy_index(shape)].tolist() == [[0, 1], [2, 3]]
    assert arr[TensorSlice(((1, 2), (1, 1))).numpy_index(shape)].tolist() == [[3], [5]]
    bottom = TensorSlice(((2, 2), (0, -1)))
    assert top.intersect(bottom) is None
    assert top.intersect(TensorSlice(((1, 3), (1, 1)))) == TensorSlice(((1, 1), (1, 1)))
    assert TensorSlice.full(2).intersect(bottom) == bottom
    assert bottom.intersect(TensorSlice.full(2)) == bottom
    assert top.intersect(TensorSlice.full(3)) is None
    with pytest.raises(InvalidArgumentError):
        TensorSlice(((3, -1),))
    with pytest.raises(InvalidArgumentError):
        TensorSlice(((0, 0),))


@pytest.mark.parametrize("extents, hexed", [
    (((2, 2), (0, 2)), "0a04080210020a021002"),
    (((0, 2), (0, 2)), "0a0210020a021002"),
    (((0, -1), (0, -1)), "0a000a00"),
    ((), ""),
    (((300, 2**40),), "0a0a08ac02108080808080" + "20"),
])
def test_tensor_slice_proto_vectors(extents: tuple, hexed: str) -> None:  # type: ignore[type-arg]
    sl = TensorSlice(extents)
    assert sl.encode().hex() == hexed
    assert TensorSlice.decode(bytes.fromhex(hexed)) == sl


def test_full_entry_slices_from_format_md() -> None:
    # FORMAT.md 3.8: the full-tensor entry of w lists both slices as field 7.
    entry = bytes.fromhex("0801120812020804120208023a080a0210020a0210023a0a0a04080210020a021002")
    assert entry[12:22] == b"\x3a\x08" + TensorSlice(((0, 2), (0, 2))).encode()
    assert entry[22:] == b"\x3a\x0a" + TensorSlice(((2, 2), (0, 2))).encode()


@pytest.mark.parametrize("data, message", [
    (b"\x0a", "truncated"), (b"\x0a\x05\x08", "runs past"),
    (b"\x0a\x02\x08\x05", "start = 5, length = -1"),  # start without length
    (b"\x0a\x02\x10\x00", "length = 0"),
    (b"\x0a\x0b\x08" + b"\xff" * 9 + b"\x01", "start = -1"),
    (b"\x0b", "wire type 3"), (b"\x00", "field number 0"),
])
def test_tensor_slice_proto_malformed(data: bytes, message: str) -> None:
    with pytest.raises(DataLossError, match=message):
        TensorSlice.decode(data)


def test_tensor_slice_proto_skips_unknown_fields() -> None:
    data = b"\x10\x05" + b"\x0a\x06\x08\x02\x10\x02\x18\x07" + b"\x1d\x00\x00\x00\x00"
    assert TensorSlice.decode(data) == TensorSlice(((2, 2),))
    # an explicit length -1 with start 0 is a full extent (TF's GetExtentLength)
    assert TensorSlice.decode(b"\x0a\x0b\x10" + b"\xff" * 9 + b"\x01").extents == ((0, -1),)


@settings(max_examples=500)
@given(st.binary(max_size=24))
def test_tensor_slice_decoder_is_total(data: bytes) -> None:
    try:
        TensorSlice.decode(data)
    except DataLossError:
        pass


# -- against TensorFlow ---------------------------------------------------------------------

@settings(max_examples=100, deadline=None)
@given(st.lists(_EXTENT, max_size=5))
def test_tensor_slice_proto_matches_tf(tf, extents: list[tuple[int, int]]) -> None:  # type: ignore[no-untyped-def]
    from tensorflow.core.framework import tensor_slice_pb2

    proto = tensor_slice_pb2.TensorSliceProto()
    for start, length in extents:
        extent = proto.extent.add()
        if length != FULL_EXTENT:
            extent.start = start
            extent.length = length
    ours = TensorSlice(tuple(extents))
    assert ours.encode() == proto.SerializeToString()
    assert TensorSlice.decode(proto.SerializeToString()) == ours


def test_spec_string_matches_save_slice_info(tf) -> None:  # type: ignore[no-untyped-def]
    info = tf.compat.v1.Variable.SaveSliceInfo("w", [10, 3], [5, 0], [5, 3])
    assert spec_string((10, 3), TensorSlice(((5, 5), (0, -1)))) == info.spec == "10 3 5,5:0,3"


def test_tf_partitioned_save_keys(tf, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tensorflow.core.protobuf import tensor_bundle_pb2

    prefix = str(tmp_path / "part")
    w = np.arange(8, dtype=np.float32).reshape(4, 2)
    specs = ["4 2 0,2:0,2", "4 2 2,2:0,2", "6 3 0,6:1,2", "5 0,5"]
    tensors = [w[0:2], w[2:4], np.ones((6, 2), np.int64), np.arange(5, dtype=np.int32)]
    names = ["w", "w", "layer/kernel", "full"]
    # SaveV2 wants distinct (name, slice) pairs; each slice of "w" is its own input
    tf.raw_ops.SaveV2(prefix=prefix, tensor_names=names, shape_and_slices=specs,
                      tensors=[tf.constant(t) for t in tensors])
    with open(prefix + ".index", "rb") as f:
        table = Table(f.read())
    keys = [k for k, _ in table.items()]
    decoded = {}
    for key in keys:
        if key[:1] == b"\x00" and key != b"":
            name, extents = decode_tensor_name_slice(key)
            decoded.setdefault(name, []).append(extents)
            for spec, n in zip(specs, names):
                shape, sl = parse_spec(spec)
                if n.encode() == name and list(sl.extents) == extents:
                    assert encode_tensor_name_slice(n, sl.extents) == key
                    break
            else:
                raise AssertionError(f"unexpected slice key {key!r}")
    assert decoded == {b"w": [[(0, 2), (0, 2)], [(2, 2), (0, 2)]],
                       b"layer/kernel": [[(0, 6), (1, 2)]]}
    assert b"full" in table and b"w" in table and b"layer/kernel" in table  # full entries
    entry = tensor_bundle_pb2.BundleEntryProto.FromString(bytes(table.get(b"w")))  # type: ignore[arg-type]
    slices = [TensorSlice.decode(s.SerializeToString()) for s in entry.slices]
    assert slices == [parse_spec(s)[1] for s in specs[:2]]
    assert [s.encode() for s in slices] == [s.SerializeToString() for s in entry.slices]
