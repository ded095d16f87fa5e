"""The hot-path shortcuts give exactly what the general code gives.

* ``format.entry``: ``encode_entry`` / ``_decode_canonical`` against the generic
  encoder and field walker, on random entries and on every truncation;
* ``format.table``: ``Table.scan`` + ``value_at`` against ``Table.items`` on random
  tables (long keys and values force multi-byte entry headers; bytes, bytearray and
  memoryview buffers), and on corrupt tables the same error class;
* ``format.block``: ``Block.scan`` (numpy, all restart runs at once) against
  ``Block.entries`` on random blocks of every restart interval (trailing zero bytes in
  keys, chunked key matrices), and declining every block it cannot vouch for;
* ``format.entry``: ``decode_entries`` (numpy, many entries) against ``_decode_common``;
* ``bundle.reader``: small reads (copied from the map) and large reads (chunked,
  checksummed in a helper thread) return the right bytes and catch bit flips; the
  whole-index table built after many lookups returns what the one-at-a-time path
  returns, and still refuses hostile entries and flipped bits.
"""

from __future__ import annotations

import os
import random
import struct

import numpy as np
import pytest

from tensorkeep import errors
from tensorkeep.bundle import reader as reader_mod
from tensorkeep.bundle.reader import BundleReader
from tensorkeep.bundle.writer import write_bundle
from tensorkeep.format import block as block_mod
from tensorkeep.format import entry as E
from tensorkeep.format import table as table_mod
from tensorkeep.format.block import Block, BlockBuilder
from tensorkeep.format.coding import encode_signed_varint64, encode_varint
from tensorkeep.format.crc32c import MASK_DELTA
from tensorkeep.format.entry import BundleEntry
from tensorkeep.format.footer import BlockHandle, Footer
from tensorkeep.format.table import Table, TableBuilder, block_trailer


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


# How a table's index is listed: by the C loop (tensorkeep.format._native, where built),
# or without it by numpy (one pass over every block) or by the Python loop.
SCANNERS = ["native", "numpy", "loop"]


class _CountingNative:
    """The C module, counting calls (``names``: those that returned): a test checks its
    path was taken."""

    def __init__(self, native) -> None:  # type: ignore[no-untyped-def]
        self.native = native
        self.calls = 0
        self.names: list[str] = []

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        fn = getattr(self.native, name)

        def counted(*args):  # type: ignore[no-untyped-def]
            self.calls += 1
            out = fn(*args)
            self.names.append(name)          # calls that returned (not refused)
            return out
        return counted


def _use_scanner(monkeypatch, scanner: str) -> _CountingNative | None:  # type: ignore[no-untyped-def]
    if scanner == "native":
        native = _native_or_skip()
        counting = _CountingNative(native)
        monkeypatch.setattr(table_mod, "_native", counting)
        return counting
    monkeypatch.setattr(table_mod, "_native", None)
    monkeypatch.setattr(table_mod, "_SCAN_NUMPY_BYTES", 0 if scanner == "numpy" else 1 << 62)
    return None


def _native_or_skip():  # type: ignore[no-untyped-def]
    """The built C module; its absence skips a test locally and fails it in CI, where
    the install must have built it."""
    try:
        from tensorkeep.format import _native
    except ImportError:
        if os.environ.get("CI") == "true":
            pytest.fail("tensorkeep.format._native was not built by the install")
        pytest.skip("tensorkeep.format._native is not built here")
    return _native


@pytest.mark.parametrize("scanner", SCANNERS)
def test_table_scan_matches_items(monkeypatch, scanner: str) -> None:
    native = _use_scanner(monkeypatch, scanner)
    rng = random.Random(7)
    whole = 0
    for _ in range(150):
        data, model = _table(rng, rng.randint(0, 200), rng.choice([64, 1024, 262144]))
        for src in (data, bytearray(data), memoryview(data)):
            t = Table(src)
            keys, locs = t.scan()
            assert keys == list(model)
            assert [bytes(t.value_at(v)) for v in locs] == list(model.values())
            assert [(k, bytes(v)) for k, v in t.items()] == list(model.items())
    # plain entries (one-byte headers) over many blocks: listed in one numpy pass
    for _ in range(60):
        keys, values = _plain_table(rng, rng.randint(1, 300))
        out: list[bytes] = []
        tb = TableBuilder(out.append, block_size=rng.choice([64, 256, 1024]))
        for k, v in zip(keys, values):
            tb.add(k, v)
        tb.finish()
        t = Table(b"".join(out))
        got, locs = t.scan()
        assert got == keys == [k for k, _ in t.items()]
        assert [bytes(t.value_at(v)) for v in locs] == values
        whole += isinstance(locs, np.ndarray) and t.num_data_blocks > 1
    assert (whole > 40) if scanner == "numpy" else (whole == 0)   # one numpy pass
    assert native is None or native.calls > 200


def _plain_table(rng: random.Random, n: int) -> tuple[list[bytes], list[bytes]]:
    keys = sorted({b"k/" + bytes(rng.choice(b"\x00ab/\xff") for _ in range(rng.randint(0, 12)))
                   for _ in range(n)})
    return keys, [bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 20))) for _ in keys]


def test_table_scan_of_blocks_stored_out_of_key_order(monkeypatch) -> None:
    """A table whose data blocks lie in the file in reverse key order (legal: the index
    names each block's place) lists the same as one stored in order."""
    _use_scanner(monkeypatch, "numpy")
    rng = random.Random(11)
    for _ in range(20):
        keys, values = _plain_table(rng, 120)
        third = len(keys) // 3
        parts = [list(zip(keys[a:b], values[a:b]))
                 for a, b in ((0, third), (third, 2 * third), (2 * third, len(keys)))]
        blocks = []
        for part in parts:
            b = BlockBuilder()
            for k, v in part:
                b.add(k, v)
            blocks.append(b.finish())
        out = bytearray()
        handles: list[BlockHandle] = [BlockHandle(0, 0)] * 3
        for i in (2, 1, 0):                                    # last block first
            handles[i] = BlockHandle(len(out), len(blocks[i]))
            out += blocks[i] + block_trailer(blocks[i])
        meta = BlockBuilder().finish()
        meta_handle = BlockHandle(len(out), len(meta))
        out += meta + block_trailer(meta)
        index = BlockBuilder(1)
        for part, h in zip(parts, handles):
            index.add(part[-1][0], h.encode())
        idx = index.finish()
        index_handle = BlockHandle(len(out), len(idx))
        out += idx + block_trailer(idx)
        t = Table(bytes(out + Footer(meta_handle, index_handle).encode()))
        got, locs = t.scan()
        assert got == keys
        assert [bytes(t.value_at(v)) for v in locs] == values
        # the same blocks stored in key order take the one-pass path and agree
        tb_out: list[bytes] = []
        tb = TableBuilder(tb_out.append, block_size=len(blocks[0]) // 2)
        for k, v in zip(keys, values):
            tb.add(k, v)
        tb.finish()
        t2 = Table(b"".join(tb_out))
        keys2, locs2 = t2.scan()
        assert keys2 == keys and isinstance(locs2, np.ndarray) and t2.num_data_blocks > 1


@pytest.mark.parametrize("scanner", SCANNERS)
def test_table_scan_raises_what_items_raises_on_corruption(monkeypatch, scanner: str) -> None:
    _use_scanner(monkeypatch, scanner)
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
            a = outcome(lambda t: [(k, bytes(t.value_at(v))) for k, v in zip(*t.scan())])
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


@pytest.mark.parametrize("engine", ["native", "numpy"])
def test_table_batch_encoding_writes_the_bytes_add_writes(monkeypatch, engine: str) -> None:
    """A large add_many into a fresh builder (all blocks at once: in C where built, else
    numpy) writes what the one-at-a-time path writes: block boundaries, restarts,
    index and open block."""
    from tensorkeep.format import table as table_mod

    native = _CountingNative(_native_or_skip()) if engine == "native" else None
    rng = random.Random(12)
    taken = expect = 0
    real = TableBuilder._add_fresh

    def spy(self, items):  # type: ignore[no-untyped-def]
        nonlocal taken
        done = real(self, items)
        taken += done
        return done

    for _ in range(120):
        n = rng.randint(250, 2500)
        width = rng.choice([1, 4, 12, 40, 127, 130])
        keys = sorted({bytes(rng.choice(b"\x00ab\xff") for _ in range(rng.randint(0, width)))
                       for _ in range(n)})
        lengths = rng.choice([[0, 3, 30, 127], [0, 3, 30, 200]])
        items = [(k, bytes(rng.getrandbits(8) for _ in range(rng.choice(lengths)))) for k in keys]
        block_size = rng.choice([128, 256, 300, 1024, 4096, 262144])
        interval = rng.choice([1, 2, 3, 16])
        extra = rng.random() < 0.3               # more entries after the batch
        expect += len(items) >= 256 and width < 128 and lengths[-1] < 128
        outs = []
        for batch in (True, False):
            monkeypatch.setattr(TableBuilder, "_add_fresh", spy)
            monkeypatch.setattr(table_mod, "_native", native)
            if not batch:
                monkeypatch.setattr(table_mod, "_BATCH_MIN", 1 << 60)
            out: list[bytes] = []
            tb = TableBuilder(out.append, block_size=block_size, restart_interval=interval)
            tb.add_many(items)
            if extra:
                tb.add(b"\xff" * 140, b"tail")
            tb.finish()
            outs.append(b"".join(out))
            monkeypatch.undo()
        assert outs[0] == outs[1]
        assert Table(outs[0]).scan()[0] == keys + ([b"\xff" * 140] if extra else [])
    assert taken == expect > 20
    assert native is None or native.names.count("pack_entries") == expect


def test_c_block_packing_refuses_what_it_cannot_pack() -> None:
    native = _native_or_skip()
    with pytest.raises(ValueError, match="order"):
        native.pack_entries([b"b", b"a"], [b"", b""], 4096, 16)
    with pytest.raises(ValueError, match="order"):
        native.pack_entries([b"a", b"a"], [b"", b""], 4096, 16)
    with pytest.raises(ValueError, match="128"):
        native.pack_entries([b"a" * 128], [b""], 4096, 16)
    with pytest.raises(ValueError, match="128"):
        native.pack_entries([b"a"], [b"v" * 200], 4096, 16)
    with pytest.raises(TypeError):
        native.pack_entries([b"a", bytearray(b"b")], [b"", b""], 4096, 16)
    with pytest.raises(ValueError):
        native.pack_entries([b"a"], [b"", b""], 4096, 16)
    with pytest.raises(ValueError):
        native.pack_entries([b"a"], [b""], 4096, 0)
    assert native.pack_entries([], [], 4096, 16) == ([], False)
    blocks, closed = native.pack_entries([b"a", b"ab", b"b"], [b"1", b"", b"22"], 1, 2)
    assert closed and [(a, b) for a, b, _, _ in blocks] == [(0, 1), (1, 2), (2, 3)]
    assert blocks[0][2:] == (b"\x00\x01\x01a1", [0])


def test_table_add_many_refuses_unsorted_keys() -> None:
    tb = TableBuilder(lambda b: None)
    with pytest.raises(ValueError, match="increasing"):
        tb.add_many([(b"b", b""), (b"a", b"")])


@pytest.mark.parametrize("field,value", [
    ("offset", -8), ("offset", 1 << 40), ("size", -4), ("shard_id", -1), ("shard_id", 5),
    ("crc32c", 1),
    ("shape", (1 << 40, 1 << 40)),          # its byte count does not fit in int64
    ("offset", (1 << 63) - 2),              # offset + size wraps around int64 ...
])
def test_fast_read_falls_back_to_the_checked_path_on_bad_fields(tmp_path, field, value):
    """A hostile entry the fused reader cannot vouch for gets the general path's error."""
    import dataclasses

    from tensorkeep.format.crc32c import masked_crc32c

    arr = np.arange(4, dtype=np.float32)
    prefix = write_bundle(str(tmp_path / "ok"), {"x": arr})
    good = BundleReader(prefix).entry("x")
    bad = dataclasses.replace(good, **{field: value})
    if field == "offset" and value > len(arr.tobytes()):
        # ... and the checksum is that of the empty range such a wrapped end would slice
        bad = dataclasses.replace(bad, crc32c=masked_crc32c(b""))
    evil = str(tmp_path / "evil")
    chunks: list[bytes] = []
    t = TableBuilder(chunks.append)
    t.add(b"", E.BundleHeader().encode())
    # good neighbours (same bytes, same checksum): read first, they build the whole-index
    # table, through which "x" is then looked up
    for i in range(reader_mod._FAST_AFTER + 8):
        t.add(b"a%03d" % i, good.encode())
    t.add(b"x", bad.encode())
    t.finish()
    open(evil + ".index", "wb").write(b"".join(chunks))
    open(evil + ".data-00000-of-00001", "wb").write(arr.tobytes())
    with pytest.raises(errors.DataLossError):
        BundleReader(evil).get("x")
    import tensorkeep

    with pytest.raises(errors.DataLossError):
        tensorkeep.load(evil)["x"]
    for reader in (BundleReader(evil), tensorkeep.load(evil)):
        get = reader.get if isinstance(reader, BundleReader) else reader.__getitem__
        for i in range(reader_mod._FAST_AFTER + 8):
            np.testing.assert_array_equal(get(f"a{i:03d}"), arr)
        fast = reader._fast if isinstance(reader, BundleReader) else reader._reader._fast
        assert fast is not None and len(fast) >= reader_mod._FAST_AFTER
        assert ("x" in fast) == (field == "crc32c")      # a checksum is checked on read
        with pytest.raises(errors.DataLossError):
            get("x")


# -- Block.scan -------------------------------------------------------------------------

def _positions(block: Block) -> list[tuple[bytes, int]]:
    """(key, entry offset) of every entry, by the checked iteration."""
    out = []
    start = 0
    for key, _, vend in block.entries():
        out.append((key, start))
        start = vend
    return out


def _random_block(rng: random.Random, interval: int) -> tuple[bytes, bool]:
    """A block of sorted keys over a small alphabet (shared prefixes, zero bytes, the
    empty key); also whether every entry header is three one-byte varints."""
    alphabet = b"\x00ab\xff"
    n = rng.randint(0, 300)
    small = rng.random() < 0.75
    width = rng.choice([1, 4, 12, 40] + ([] if small else [130]))
    lengths = [0, 3, 30, 127] + ([] if small else [200])
    keys = sorted({bytes(rng.choice(alphabet) for _ in range(rng.randint(0, width)))
                   for _ in range(n)})
    b = BlockBuilder(interval)
    plain = True
    for k in keys:
        v = bytes(rng.getrandbits(8) for _ in range(rng.choice(lengths)))
        b.add(k, v)
        plain &= len(k) < 0x80 and len(v) < 0x80
    return b.finish(), plain


@pytest.mark.parametrize("cells", [block_mod._GATHER_CELLS, 64])
def test_block_scan_matches_entries(monkeypatch, cells: int) -> None:
    monkeypatch.setattr(block_mod, "_GATHER_CELLS", cells)   # 64: many small chunks
    rng = random.Random(cells)
    taken = 0
    for _ in range(300):
        interval = rng.choice([1, 2, 3, 16, 64, 65])
        data, plain = _random_block(rng, interval)
        block = Block(data, 1000)
        fast = block.scan()
        want = _positions(block)
        if plain and (interval <= 64 or len(want) <= 64):
            assert fast is not None                          # the fast path is taken
        if fast is not None:
            taken += 1
            keys, where = fast
            assert list(zip(keys, where.tolist())) == want
    assert taken > 150


def _block_with_restarts(entries: list[tuple[int, bytes, bytes]], restarts: list[int]) -> bytes:
    """Raw entries (shared, key delta, value) and an arbitrary restart array."""
    out = bytearray()
    for shared, delta, value in entries:
        out += bytes((shared, len(delta), len(value))) + delta + value
    return bytes(out) + struct.pack(f"<{len(restarts) + 1}I", *restarts, len(restarts))


@pytest.mark.parametrize("case", ["restart shares a prefix", "restarts not increasing",
                                  "restart inside an entry", "first restart not 0",
                                  "run longer than 64", "two-byte header"])
def test_block_scan_declines_what_it_cannot_vouch_for(case: str) -> None:
    e = [(0, b"abc", b"1"), (2, b"d", b"2"), (0, b"b", b"3")]   # abc, abd, b
    if case == "restart shares a prefix":
        data = _block_with_restarts(e, [0, 6])                   # entry 1 shares 2 bytes
    elif case == "restarts not increasing":
        data = _block_with_restarts(e, [0, 11, 11])
    elif case == "restart inside an entry":
        data = _block_with_restarts(e, [0, 3])
    elif case == "first restart not 0":
        data = _block_with_restarts(e, [7])
    elif case == "run longer than 64":
        b = BlockBuilder(100)
        for i in range(70):
            b.add(b"k%03d" % i, b"v")
        data = b.finish()
    else:
        b = BlockBuilder()
        b.add(b"k" * 200, b"v")
        data = b.finish()
    block = Block(data)
    assert block.scan() is None
    if case != "restart inside an entry":
        list(block)                  # the checked iteration still reads it (or raises)


# -- decode_entries ---------------------------------------------------------------------

def test_decode_entries_matches_decode_common() -> None:
    rng = random.Random(11)
    bufs = []
    for i in range(4000):
        b = _random_entry(rng).encode()
        if i % 3 == 0 and b:
            k = rng.randrange(len(b))
            b = b[:k] + bytes([rng.getrandbits(8)]) + b[k + 1:]
        if i % 5 == 0:
            b = b[:rng.randrange(len(b) + 1)]
        bufs.append(b)
    for shape in [(), (0,), (3, 0), (256,), (4096, 4096), (1 << 40, 2)]:     # writer's own
        for offset in [0, 1, 1 << 20, 1 << 45]:
            bufs.append(E.encode_entry(1, shape, 0, offset, 4 * 7, 0x1234))
    blob = b"".join(bufs)
    starts = np.cumsum([0] + [len(b) for b in bufs[:-1]]).astype(np.int64)
    lengths = np.array([len(b) for b in bufs], np.int64)
    cols = E.decode_entries(np.frombuffer(blob, np.uint8), starts, lengths)
    taken = 0
    for i, b in enumerate(bufs):
        want = E._decode_common(b)
        if i >= 4000:
            assert cols.ok[i], b                 # everything the writer writes
        if cols.ok[i]:
            taken += 1
            head = cols.heads[cols.head_id[i]]
            assert head is not None
            got = (head[0], head[1], int(cols.shard_id[i]), int(cols.offset[i]),
                   int(cols.size[i]), int(cols.crc32c[i]))
            assert got == want, b
    assert taken > 1000


# -- the whole-index table of BundleReader ----------------------------------------------

def _mixed_tensors(n: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(3)
    kinds = [np.float32, np.float16, np.int64, np.uint8, np.bool_, np.complex64]
    out: dict[str, np.ndarray] = {}
    for i in range(n):
        shape = [(), (0,), (5,), (3, 4), (2, 0, 3), (1, 2, 3, 4)][i % 6]
        dt = kinds[i % len(kinds)]
        out[f"layer_{i:04d}/w"] = rng.integers(0, 2, size=shape).astype(dt)
    out["names"] = np.array([b"a", b"bc"], dtype=object)
    return out


@pytest.mark.parametrize("scanner", SCANNERS)
def test_whole_index_table_reads_what_the_one_at_a_time_path_reads(tmp_path, monkeypatch,
                                                                   scanner: str):
    tensors = _mixed_tensors(300)
    prefix = write_bundle(str(tmp_path / "ck"), tensors)
    for verify in (True, False):
        _use_scanner(monkeypatch, scanner)
        r = BundleReader(prefix, verify_checksums=verify)
        assert isinstance(r._locs, np.ndarray) == (scanner == "numpy")    # index listed in numpy
        got = {k: r.get(k) for k in tensors}
        assert r._fast is not None and len(r._fast) == 300       # every numeric entry
        monkeypatch.setattr(reader_mod, "_FAST_AFTER", 1 << 30)
        slow = BundleReader(prefix, verify_checksums=verify)
        for k, want in tensors.items():
            for a in (got[k], slow.get(k), r.get(k), r.get(k.encode())):
                assert a.dtype == want.dtype and a.shape == want.shape
                assert a.dtype == object or not a.flags.writeable
                np.testing.assert_array_equal(a, want)
            assert r.shape(k) == slow.shape(k) == want.shape
            assert r.dtype(k) is slow.dtype(k)
            if want.dtype != object:
                outs = [np.full_like(want, 1), np.full_like(want, 1)]
                assert r.get(k, out=outs[0]) is outs[0]
                assert slow.get(k, out=outs[1]) is outs[1]
                for out in outs:
                    np.testing.assert_array_equal(out, want)
        assert slow._fast is None
        monkeypatch.undo()


def test_whole_index_table_still_catches_flipped_bits(tmp_path) -> None:
    tensors = _mixed_tensors(200)
    prefix = write_bundle(str(tmp_path / "ck"), tensors)
    r = BundleReader(prefix)
    victim = "layer_0197/w"                  # (1, 2, 3, 4) complex64, read after the table
    e = r.entry(victim)
    assert e.size == 192
    r.close()
    data = tmp_path / "ck.data-00000-of-00001"
    raw = bytearray(data.read_bytes())
    raw[e.offset] ^= 0x10
    data.write_bytes(bytes(raw))
    r = BundleReader(prefix)
    for k in tensors:
        if k != victim:
            r.get(k)
    assert r._fast is not None and victim in r._fast
    with pytest.raises(errors.DataLossError, match="[Cc]hecksum"):
        r.get(victim)
    with pytest.raises(errors.DataLossError, match="[Cc]hecksum"):
        r.get(victim, out=np.empty_like(tensors[victim]))


def _table_bytes(items: list[tuple[bytes, bytes]]) -> bytes:
    """An SSTable of ``items`` in the order given (TableBuilder refuses unsorted keys)."""
    b = BlockBuilder()
    for k, v in items:
        b.add(k, v)
    data = b.finish()
    out = bytearray(data + block_trailer(data))
    meta = BlockBuilder().finish()
    meta_handle = BlockHandle(len(out), len(meta))
    out += meta + block_trailer(meta)
    index = BlockBuilder(1)
    index.add(b"\xff", BlockHandle(0, len(data)).encode())
    idx = index.finish()
    index_handle = BlockHandle(len(out), len(idx))
    out += idx + block_trailer(idx)
    return bytes(out + Footer(meta_handle, index_handle).encode())


@pytest.mark.parametrize("keys", [[b"b", b"a"], [b"a", b"a"]])
def test_keys_out_of_order_are_data_loss(tmp_path, keys: list[bytes]) -> None:
    entry = BundleEntry(1, (1,), 0, 0, 4, 0).encode()
    items = [(b"", E.BundleHeader().encode())] + [(k, entry) for k in keys]
    (tmp_path / "ck.index").write_bytes(_table_bytes(items))
    (tmp_path / "ck.data-00000-of-00001").write_bytes(b"\0" * 4)
    with pytest.raises(errors.DataLossError, match="out of order") as info:
        BundleReader(str(tmp_path / "ck"))
    assert info.value.key == keys[1] and info.value.filename.endswith("ck.index")


# --- the C loops (tensorkeep.format._native) against their Python twins ------------------
def _entries_bytes(rng: random.Random, n: int) -> bytes:
    """Block entries as a writer lays them out, mostly plain, some with long keys or values
    (multi-byte headers), keys sharing prefixes."""
    b = BlockBuilder(rng.choice([1, 2, 16]))
    keys = sorted({bytes(rng.choice(b"\x00ab\xff") for _ in range(rng.choice([0, 2, 6, 140])))
                   for _ in range(n)})
    for k in keys:
        b.add(k, bytes(rng.getrandbits(8) for _ in range(rng.choice([0, 3, 200]))))
    return b.finish()


def test_c_block_walk_matches_the_python_walk_on_good_and_corrupt_entries() -> None:
    native = _native_or_skip()
    rng = random.Random(21)
    for trial in range(400):
        raw = bytearray(_entries_bytes(rng, rng.randint(0, 40)))
        for _ in range(rng.choice([0, 0, 1, 3])):                  # corrupt a few bytes
            if raw:
                raw[rng.randrange(len(raw))] = rng.getrandbits(8)
        pad = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 5)))
        data = pad + bytes(raw)
        start = len(pad)
        for limit in {len(data), rng.randint(start, len(data)), start}:
            want: tuple[list, list] = ([], [])
            got: tuple[list, list] = ([b"before"], [-1])          # appends after what is there
            p = table_mod._scan_block(data, start, limit, *want)
            assert native.scan_block(data, start, limit, *got) == p
            assert got == ([b"before", *want[0]], [-1, *want[1]])
    with pytest.raises(ValueError):
        native.scan_block(b"abc", 2, 5, [], [])                    # limit past the buffer
    with pytest.raises(ValueError):
        native.scan_block(b"abc", -1, 2, [], [])
    with pytest.raises(TypeError):
        native.scan_block(b"abc", 0, 3, (), [])


def test_c_key_decoding_and_order_check_match_python() -> None:
    native = _native_or_skip()
    rng = random.Random(22)
    for _ in range(300):
        alphabet = rng.choice([b"ab/", b"\x00a\xff", bytes(range(256)), "é€".encode()])
        keys = [bytes(rng.choice(alphabet) for _ in range(rng.randint(0, 6)))
                for _ in range(rng.randint(0, 12))]
        if rng.random() < 0.5:
            keys = sorted(set(keys))
        assert native.decode_keys(keys) == [k.decode("utf-8", "surrogateescape") for k in keys]
        bad = next((i for i in range(len(keys) - 1) if not keys[i] < keys[i + 1]), -1)
        assert native.first_unordered(keys) == bad
        assert reader_mod._in_order(keys) == (bad < 0)
    for fn in (native.decode_keys, native.first_unordered):
        with pytest.raises(TypeError):
            fn([b"a", "b"])
        with pytest.raises(TypeError):
            fn((b"a", b"b"))
    # keys that are not exactly bytes fall back to the Python checks
    assert reader_mod._in_order([b"a", bytearray(b"b")])
    assert reader_mod.keys_str([b"a", bytearray(b"\xffb")]) == ["a", "\udcffb"]


def test_the_c_module_is_built_in_ci() -> None:
    """The install builds it (a C compiler is on CI's machines): without it listing a
    10,000-entry index takes ~4x longer, which the benchmarks would report."""
    _native_or_skip()
    assert table_mod._native is not None


def _reference_rows(r: BundleReader) -> dict[str, tuple]:
    """The whole-index table by its definition, one entry at a time: every plain entry
    ``_get_fast`` would read (``_decode_common``, a fast dtype, size matching the shape,
    shard and byte range inside the mapped file)."""
    data = r._fast_index
    out = {}
    for name, pos in zip(r._names, r._locs):
        if (data[pos] | data[pos + 1] | data[pos + 2]) >= 0x80:
            continue
        start = pos + 3 + data[pos + 1]
        fast = E._decode_common(data[start:start + data[pos + 2]])
        if fast is None:
            continue
        dtype, shape, shard, offset, size, crc = fast
        kind = reader_mod._FAST_KINDS.get(dtype)
        if kind is None:
            continue
        nbytes = kind[1] * int(np.prod(shape, dtype=object))
        if nbytes != size or nbytes >= 1 << 62 or shard >= r._num_files:
            continue
        m = r._map_or_none(shard)
        if m is None or offset + size > len(m):
            continue
        if r.verify_checksums:
            rot = (crc - MASK_DELTA) & 0xFFFFFFFF
            crc = ((rot >> 17) | (rot << 15)) & 0xFFFFFFFF
        else:
            crc = None
        out[name] = (id(m), offset, offset + size, crc, (kind[0], shape, kind[2]))
    return out


def _rows(table: dict[str, tuple]) -> dict[str, tuple]:
    return {k: (id(m), *rest) for k, (m, *rest) in table.items()}


def test_c_whole_index_table_matches_its_definition_on_hostile_entries(tmp_path, monkeypatch) -> None:
    """Entries of every shape a hostile index can hold (flipped and random bytes, huge
    dims, shards and ranges out of bounds, other dtypes): the C builder
    keeps exactly the rows the definition keeps, and the numpy builder the same rows
    among entries it decodes (64 bytes at most)."""
    _native_or_skip()
    rng = random.Random(23)
    good = write_bundle(str(tmp_path / "good"), _mixed_tensors(40))
    header = BundleReader(good)._table.get(b"")
    kept = 0
    for trial in range(30):
        values = []
        for i in range(150):
            shape = tuple(rng.choice([0, 1, 3, 200, 1 << 40]) for _ in range(rng.choice([0, 1, 2, 5, 9])))
            dtype = rng.choice([1, 2, 3, 9, 14, 19, 7, 200])
            n = int(np.prod(shape, dtype=object)) * rng.choice([1, 2, 4, 8])
            value = bytearray(E._encode_entry(dtype, shape, rng.choice([0, 0, 0, 1, 5]),
                                             rng.choice([0, 8, 1000, 1 << 30]), n,
                                             rng.getrandbits(32)))
            for _ in range(rng.choice([0, 0, 0, 1, 2])):
                value[rng.randrange(len(value))] = rng.getrandbits(8)
            if rng.random() < 0.05 or len(value) >= 0x80:     # plain entries: one-byte lengths
                value = bytearray(rng.getrandbits(8) for _ in range(rng.randint(0, 30)))
            values.append(bytes(value))
        out: list[bytes] = []
        tb = TableBuilder(out.append)
        tb.add(b"", bytes(header))
        for i, v in enumerate(values):
            tb.add(f"t{i:04d}".encode(), v)
        tb.finish()
        prefix = str(tmp_path / f"bad{trial}")
        with open(prefix + ".index", "wb") as f:
            f.write(b"".join(out))
        with open(prefix + ".data-00000-of-00001", "wb") as f:
            f.write(bytes(4096))
        for verify in (True, False):
            with monkeypatch.context() as m:
                native = _use_scanner(m, "native")
                r = BundleReader(prefix, verify_checksums=verify)
                want = _reference_rows(r)
                got = _rows(r._build_fast())
                assert native is not None and {"scan_block", "first_unordered", "decode_keys",
                                               "fast_rows"} <= set(native.names)
            assert got == want
            with monkeypatch.context() as m:
                _use_scanner(m, "loop")
                r2 = BundleReader(prefix, verify_checksums=verify)
                numpy_rows = _rows(r2._build_fast())
            short = {k for k, v in zip(r2._names, values) if len(v) <= 64}
            assert {k: (0, *v[1:]) for k, v in numpy_rows.items()} == \
                {k: (0, *v[1:]) for k, v in want.items() if k in short}
        kept += len(want)
    assert 300 < kept < 30 * 2 * 150 - 300                  # many rows kept, many left out


def test_c_entry_encoder_matches_the_python_encoder() -> None:
    """``encode_entry`` (C where built) and ``_encode_entry`` give the generic encoder's
    bytes, for shapes of every rank (past the C stack buffer's 64 dims too), negative
    and 63-bit values; both refuse a crc outside 32 bits and a shape of non-integers."""
    native = _native_or_skip()
    rng = random.Random(24)
    values = [0, 1, 127, 128, 16383, 16384, (1 << 21) - 1, 1 << 28, (1 << 63) - 1, -1, -(1 << 63)]
    for _ in range(4000):
        shape = tuple(rng.choice(values[:-2] + [5]) for _ in range(rng.choice([0, 1, 3, 8, 64, 65, 200])))
        args = (rng.choice(values), shape, rng.choice(values), rng.choice(values),
                rng.choice(values), rng.choice([0, 1, 0x1234, 0xFFFFFFFF]))
        want = E._encode_entry(*args)
        assert native.encode_entry(*args) == want
        assert native.encode_entry(args[0], list(shape), *args[2:]) == want   # any sequence
        if all(v >= 0 for v in (args[0], *shape, *args[2:])):
            assert want == _generic_encode(BundleEntry(args[0], shape, *args[2:]))
    for bad in (-1, 1 << 32):
        with pytest.raises(ValueError):
            native.encode_entry(1, (2,), 0, 8, 8, bad)
        with pytest.raises(Exception):      # struct.error in Python
            E._encode_entry(1, (2,), 0, 8, 8, bad)
    with pytest.raises(TypeError):
        native.encode_entry(1, (2, "3"), 0, 8, 8, 0)
    with pytest.raises(TypeError):
        native.encode_entry(1, 7, 0, 8, 8, 0)
    assert E.encode_entry is native.encode_entry           # the writer's encoder is the C one
