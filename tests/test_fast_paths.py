"""The hot-path shortcuts give exactly what the general code gives.

* ``format.entry``: ``encode_entry`` / ``_decode_canonical`` against the generic
  encoder and field walker, on random entries and on every truncation;
* ``format.table``: ``Table.scan`` + ``value_at`` against ``Table.items`` on random
  tables (long keys and values force multi-byte entry headers; bytes, bytearray and
  memoryview buffers), and on corrupt tables the same error class;
* ``bundle.reader``: small reads (copied from the map) and large reads (chunked,
  checksummed in a helper thread) return the right bytes and catch bit flips.
"""

from __future__ import annotations

import random

import numpy as np
import pytest

from tensorkeep import errors
from tensorkeep.bundle import reader as reader_mod
from tensorkeep.bundle.reader import BundleReader
from tensorkeep.bundle.writer import write_bundle
from tensorkeep.format import entry as E
from tensorkeep.format.coding import encode_signed_varint64, encode_varint
from tensorkeep.format.entry import BundleEntry
from tensorkeep.format.table import Table, TableBuilder


def _generic_encode(e: BundleEntry) -> bytes:
    out = bytearray()
    if e.dtype:
        out += b"\x08" + encode_varint(e.dtype)
    sh = E.encode_shape(e.shape)
    out += b"\x12" + encode_varint(len(sh)) + sh
    if e.shard_id:
        out += b"\x18" + encode_signed_varint64(e.shard_id)
    if e.offset:
        out += b"\x20" + encode_signed_varint64(e.offset)
    if e.size:
        out += b"\x28" + encode_signed_varint64(e.size)
    if e.crc32c:
        out += b"\x35" + E._FIXED32.pack(e.crc32c)
    return bytes(out)


def _generic_decode(buf: bytes) -> tuple:
    real = E._decode_canonical
    E._decode_canonical = lambda b: None           # type: ignore[assignment]
    try:
        e = BundleEntry.decode(buf)
    finally:
        E._decode_canonical = real                  # type: ignore[assignment]
    return (e.dtype, e.shape, e.shard_id, e.offset, e.size, e.crc32c)


def _random_entry(rng: random.Random) -> BundleEntry:
    dims = [0, 1, 2, 127, 128, 255, 4096, 16383, 16384, 1 << 20, 1 << 40]
    shape = tuple(rng.choice(dims) for _ in range(rng.randint(0, 4)))
    return BundleEntry(rng.choice([0, 1, 2, 7, 14, 23, 200]), shape, rng.choice([0, 0, 1, 5, 300]),
                       rng.choice([0, 1, 127, 128, 1 << 35]), rng.choice([0, 4, 1 << 33]),
                       rng.choice([0, 1, 0xFFFFFFFF, 0x1234]))


def test_entry_fast_encode_and_decode_match_the_generic_code() -> None:
    rng = random.Random(6)
    for i in range(5000):
        e = _random_entry(rng)
        b = e.encode()
        assert b == _generic_encode(e)
        assert E._decode_canonical(b) == _generic_decode(b)
        assert BundleEntry.decode(b) == e
        if i % 25 == 0:
            for k in range(len(b)):
                fast = E._decode_canonical(b[:k])
                if fast is not None:
                    assert fast == _generic_decode(b[:k])


@pytest.mark.parametrize("buf", [
    b"\x08\x81\x00\x12\x00",                 # overlong varint
    b"\x28\x04\x08\x01\x12\x00",             # fields out of order
    b"\x08\x01\x12\x00\x20\x00",             # explicit default
    BundleEntry(1, (2,), 0, 0, 8, 7, slices=(((0, 1),),)).encode(),
    b"\x08\x01\x12\x00\x98\x01\x00",         # unknown field
])
def test_non_canonical_entries_fall_back_to_the_generic_decoder(buf: bytes) -> None:
    assert E._decode_canonical(buf) is None
    BundleEntry.decode(buf)                  # the generic walker accepts (or raises) as before


def _table(rng: random.Random, n: int, block_size: int) -> tuple[bytes, dict[bytes, bytes]]:
    keys = sorted({bytes(rng.getrandbits(8) for _ in range(rng.choice([1, 3, 10, 200])))
                   for _ in range(n)})
    out: list[bytes] = []
    tb = TableBuilder(out.append, block_size=block_size)
    model = {}
    for k in keys:
        v = bytes(rng.getrandbits(8) for _ in range(rng.choice([0, 5, 130, 300])))
        tb.add(k, v)
        model[k] = v
    tb.finish()
    return b"".join(out), model


def test_table_scan_matches_items() -> None:
    rng = random.Random(7)
    for _ in range(150):
        data, model = _table(rng, rng.randint(0, 200), rng.choice([64, 1024, 262144]))
        for src in (data, bytearray(data), memoryview(data)):
            t = Table(src)
            found = t.scan()
            assert list(found) == list(model)
            assert {k: bytes(t.value_at(v)) for k, v in found.items()} == model
            assert [(k, bytes(v)) for k, v in t.items()] == list(model.items())


def test_table_scan_raises_what_items_raises_on_corruption() -> None:
    rng = random.Random(8)
    data, model = _table(rng, 60, 256)
    for pos in range(0, len(data) - 48, 7):
        bad = bytearray(data)
        bad[pos] ^= 0x40
        for verify in (True, False):
            def outcome(fn):  # type: ignore[no-untyped-def]
                try:
                    t = Table(bytes(bad), verify_checksums=verify)
                    return ("ok", fn(t))
                except errors.DataLossError:
                    return ("DataLossError",)
            a = outcome(lambda t: [(k, bytes(t.value_at(v))) for k, v in t.scan().items()])
            b = outcome(lambda t: [(k, bytes(v)) for k, v in t.items()])
            assert a == b


@pytest.mark.parametrize("nbytes", [0, 4, 1000, (1 << 20) + 4, (20 << 20) + 12])
def test_reads_small_and_large(tmp_path, monkeypatch, nbytes: int) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(reader_mod, "_CHUNK", 1 << 20)
    rng = np.random.default_rng(0)
    arr = rng.integers(0, 255, size=nbytes, dtype=np.uint8)
    prefix = str(tmp_path / "ckpt")
    write_bundle(prefix, {"a": arr, "b": arr[::-1].copy()}, fsync=False)
    r = BundleReader(prefix)
    for name, want in (("a", arr), ("b", arr[::-1])):
        out = np.empty_like(want)
        assert r.get(name, out=out) is out
        np.testing.assert_array_equal(out, want)
        np.testing.assert_array_equal(r.get(name), want)
    r.close()
    if nbytes:
        data = tmp_path / "ckpt.data-00000-of-00001"
        raw = bytearray(data.read_bytes())
        raw[nbytes // 2] ^= 1
        data.write_bytes(bytes(raw))
        r = BundleReader(prefix)
        with pytest.raises(errors.DataLossError, match="[Cc]hecksum"):
            r.get("a", out=np.empty_like(arr))
        r.close()


def test_table_add_many_writes_the_bytes_add_writes() -> None:
    rng = random.Random(9)
    for _ in range(200):
        n = rng.randint(0, 400)
        keys = sorted({bytes(rng.getrandbits(8) for _ in range(rng.choice([0, 1, 3, 9, 150])))
                       for _ in range(n)})
        items = [(k, bytes(rng.getrandbits(8) for _ in range(rng.choice([0, 4, 40, 200, 700]))))
                 for k in keys]
        block_size = rng.choice([16, 128, 1024, 262144])
        interval = rng.choice([1, 2, 16])
        one: list[bytes] = []
        tb = TableBuilder(one.append, block_size=block_size, restart_interval=interval)
        for k, v in items:
            tb.add(k, v)
        tb.finish()
        many: list[bytes] = []
        tb = TableBuilder(many.append, block_size=block_size, restart_interval=interval)
        split = rng.randint(0, len(items))
        for k, v in items[:split]:
            tb.add(k, v)
        mixed = [(k, bytearray(v)) if rng.random() < 0.1 else (k, v) for k, v in items[split:]]
        tb.add_many(mixed)
        tb.finish()
        assert b"".join(many) == b"".join(one)


def test_table_add_many_refuses_unsorted_keys() -> None:
    tb = TableBuilder(lambda b: None)
    with pytest.raises(ValueError, match="increasing"):
        tb.add_many([(b"b", b""), (b"a", b"")])


@pytest.mark.parametrize("field,value", [("offset", -8), ("offset", 1 << 40), ("size", -4),
                                         ("shard_id", -1), ("shard_id", 5), ("crc32c", 1)])
def test_fast_read_falls_back_to_the_checked_path_on_bad_fields(tmp_path, field, value):
    """A hostile entry the fused reader cannot vouch for gets the general path's error."""
    import dataclasses

    arr = np.arange(4, dtype=np.float32)
    prefix = write_bundle(str(tmp_path / "ok"), {"x": arr})
    good = BundleReader(prefix).entry("x")
    bad = dataclasses.replace(good, **{field: value})
    evil = str(tmp_path / "evil")
    chunks: list[bytes] = []
    t = TableBuilder(chunks.append)
    t.add(b"", E.BundleHeader().encode())
    t.add(b"x", bad.encode())
    t.finish()
    open(evil + ".index", "wb").write(b"".join(chunks))
    open(evil + ".data-00000-of-00001", "wb").write(arr.tobytes())
    with pytest.raises(errors.DataLossError):
        BundleReader(evil).get("x")
    import tensorkeep

    with pytest.raises(errors.DataLossError):
        tensorkeep.load(evil)["x"]
