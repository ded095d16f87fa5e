"""SSTable layer: golden bytes, a dict model, corruption, Snappy blocks, and TF-written files.

Golden vectors come from FORMAT.md (section 2.10, the 126-byte ``.index`` of one
float tensor; section 5.5, the 154-byte V1 file), both byte-compared there with
TF 2.21's output. The TF cross-checks write bundles with ``tf.raw_ops.SaveV2``
and require ``TableBuilder`` to re-create TF's ``.index`` byte for byte.
"""

from __future__ import annotations

import struct
import tracemalloc

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tensorkeep.errors import DataLossError
from tensorkeep.format import snappy
from tensorkeep.format.block import Block, BlockBuilder, common_prefix_length, empty_block
from tensorkeep.format.crc32c import crc32c, mask
from tensorkeep.format.footer import TABLE_MAGIC_NUMBER, BlockHandle, Footer
from tensorkeep.format.table import (Table, TableBuilder, block_trailer, find_short_successor,
                                     find_shortest_separator)


def _hexdump(text: str) -> bytes:
    return bytes.fromhex("".join(line.split(":", 1)[1] for line in text.strip().splitlines()))


# FORMAT.md 2.10: bundle with one float32 tensor v1 = [[1.0, 2.0]].
INDEX_126 = _hexdump("""
0000: 00 00 06 08 01 1a 02 08 01 00 02 13 76 31 08 01
0010: 12 08 12 02 08 01 12 02 08 02 28 08 35 59 3c e5
0020: 35 00 00 00 00 01 00 00 00 00 77 b4 39 a1 00 00
0030: 00 00 01 00 00 00 00 c0 f2 a1 b0 00 01 02 77 00
0040: 29 00 00 00 00 01 00 00 00 00 57 13 f9 83 2e 08
0050: 3b 0e 00 00 00 00 00 00 00 00 00 00 00 00 00 00
0060: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
0070: 00 00 00 00 00 00 57 fb 80 8b 24 75 47 db
""")
HEADER_VALUE = bytes.fromhex("08011a020801")
ENTRY_VALUE = bytes.fromhex("080112081202080112020802280835593ce535")
INDEX_126_ITEMS = [(b"", HEADER_VALUE), (b"v1", ENTRY_VALUE)]

# FORMAT.md 5.5: V1 (SavedTensorSlices) file for v1 = [1.0, 2.0].
V1_154 = _hexdump("""
0000: 00 00 18 0a 16 0a 10 0a 02 76 31 12 04 12 02 08
0010: 02 18 01 22 02 0a 00 12 02 08 01 00 09 16 00 76
0020: 31 00 01 01 01 80 7f 12 14 0a 02 76 31 12 02 0a
0030: 00 1a 0a 2a 08 00 00 80 3f 00 00 00 40 00 00 00
0040: 00 01 00 00 00 00 00 a7 b7 53 00 00 00 00 01 00
0050: 00 00 00 c0 f2 a1 b0 00 01 02 01 00 45 00 00 00
0060: 00 01 00 00 00 00 cb 60 e4 85 4a 08 57 0e 00 00
0070: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
0080: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
0090: 00 00 57 fb 80 8b 24 75 47 db
""")
V1_154_ITEMS = [
    (b"", bytes.fromhex("0a160a100a027631120412020802180122020a00120208 01".replace(" ", ""))),
    (bytes.fromhex("00763100010101807f"),
     bytes.fromhex("12140a027631120 20a001a0a2a080000803f00000040".replace(" ", ""))),
]


def build(items, **options) -> bytes:  # type: ignore[no-untyped-def]
    out: list[bytes] = []
    builder = TableBuilder(out.append, **options)
    for key, value in items:
        builder.add(key, value)
    size = builder.finish()
    data = b"".join(out)
    assert size == len(data) == builder.file_size
    return data


def read_all(table: Table) -> list[tuple[bytes, bytes]]:
    return [(k, bytes(v)) for k, v in table.items()]


# -- golden files ---------------------------------------------------------------------------

def test_index_126_bytes_golden() -> None:
    assert len(INDEX_126) == 126
    assert build(INDEX_126_ITEMS) == INDEX_126


def test_index_126_parse() -> None:
    table = Table(INDEX_126, filename="model.ckpt.index")
    assert read_all(table) == INDEX_126_ITEMS
    assert table.footer == Footer(BlockHandle(46, 8), BlockHandle(59, 14))
    assert table.index_entries() == [(b"w", BlockHandle(0, 41))]
    assert bytes(table.get(b"v1")) == ENTRY_VALUE  # type: ignore[arg-type]
    assert bytes(table.get(b"")) == HEADER_VALUE  # type: ignore[arg-type]
    assert table.get(b"v") is None and table.get(b"v10") is None and table.get(b"w") is None
    assert b"v1" in table and b"v2" not in table and "v1" not in table
    assert [k for k, _ in table.seek(b"a")] == [b"v1"]
    assert list(table.seek(b"v10")) == []
    assert list(table.keys()) == [b"", b"v1"]


def test_v1_154_bytes_golden() -> None:
    assert len(V1_154) == 154
    assert build(V1_154_ITEMS) == V1_154
    table = Table(V1_154)
    assert read_all(table) == V1_154_ITEMS
    assert table.index_entries() == [(b"\x01", BlockHandle(0, 69))]


def test_empty_table() -> None:
    data = build([])
    table = Table(data)
    assert read_all(table) == [] and table.get(b"") is None and table.num_data_blocks == 0
    # empty data-less layout: meta-index, empty index, footer
    assert data[:13] == empty_block() + block_trailer(empty_block())


# -- pieces ---------------------------------------------------------------------------------

@pytest.mark.parametrize("a, b, expected", [
    (b"v1", b"v2", b"v1"),  # x + 1 == b[d]: unchanged
    (b"abc", b"abe", b"abd"),
    (b"hd:", b"{", b"i"),
    (b"abc", b"abcd", b"abc"),  # prefix: unchanged
    (b"", b"a", b""),
    (b"a\xff", b"b", b"a\xff"),  # d = 0: 'a' + 1 == 'b'
    (b"\xff\x01", b"\xff\x05", b"\xff\x02"),
    (b"\xfe", b"\xff", b"\xfe"),
    (b"the quick brown fox", b"the who", b"the r"),
])
def test_find_shortest_separator(a: bytes, b: bytes, expected: bytes) -> None:
    assert find_shortest_separator(a, b) == expected
    assert a <= expected < b


@pytest.mark.parametrize("key, expected", [
    (b"v1", b"w"), (b"\x00v1\x00\x01", b"\x01"), (b"", b""), (b"\xff\xff", b"\xff\xff"),
    (b"\xff\xfeabc", b"\xff\xff"), (b"hd:zzz", b"i"),
])
def test_find_short_successor(key: bytes, expected: bytes) -> None:
    assert find_short_successor(key) == expected


@given(st.binary(max_size=40), st.binary(max_size=40))
def test_common_prefix_length(a: bytes, b: bytes) -> None:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    assert common_prefix_length(a, b) == n


def test_block_builder_layout() -> None:
    assert empty_block() == bytes.fromhex("0000000001000000")
    assert block_trailer(empty_block()) == bytes.fromhex("00c0f2a1b0")
    b = BlockBuilder(restart_interval=2)
    assert b.empty and b.size_estimate() == 8
    b.add(b"abc", b"1")
    b.add(b"abd", b"2")  # shares "ab"
    b.add(b"abe", b"3")  # restart point: full key
    assert b.size_estimate() == 7 + 5 + 7 + 4 * 2 + 4
    data = b.finish()
    assert data == (b"\x00\x03\x01abc1" b"\x02\x01\x01d2" b"\x00\x03\x01abe3"
                    + struct.pack("<3I", 0, 12, 2))
    block = Block(data)
    assert [(k, bytes(v)) for k, v in block] == [(b"abc", b"1"), (b"abd", b"2"), (b"abe", b"3")]
    assert [k for k, _ in block.seek(b"abd")] == [b"abd", b"abe"]
    assert [k for k, _ in block.seek(b"abda")] == [b"abe"]
    assert list(block.seek(b"b")) == []
    b.reset()
    assert b.empty and b.finish() == empty_block()


def test_block_multibyte_varints() -> None:
    b = BlockBuilder()
    key = b"k" * 200
    b.add(key, b"v" * 300)
    b.add(key + b"x", b"")
    block = Block(b.finish())
    assert [(k, len(v)) for k, v in block] == [(key, 300), (key + b"x", 0)]


def test_footer_roundtrip_and_magic() -> None:
    footer = Footer(BlockHandle(46, 8), BlockHandle(59, 14))
    enc = footer.encode()
    assert enc == INDEX_126[-48:]
    assert Footer.decode(enc) == footer
    assert enc[-8:] == struct.pack("<Q", TABLE_MAGIC_NUMBER)
    big = Footer(BlockHandle(2**64 - 1, 2**64 - 1), BlockHandle(2**64 - 1, 2**64 - 1)).encode()
    assert len(big) == 48 and Footer.decode(big).index_handle.size == 2**64 - 1
    with pytest.raises(DataLossError, match="bad magic number"):
        Footer.decode(enc[:-1] + b"\x00")
    assert BlockHandle.decode(b"\x00\x29trailing") == BlockHandle(0, 41)
    with pytest.raises(DataLossError, match="bad block handle"):
        BlockHandle.decode(b"\x80")
    with pytest.raises(DataLossError, match="bad block handle"):
        BlockHandle.decode(b"\xff" * 11)


# -- model-based: Table vs a dict -----------------------------------------------------------

_KEY_BYTES = st.sampled_from([0x00, 0x01, 0x61, 0x62, 0x7F, 0x80, 0xFE, 0xFF])
_KEYS = st.lists(_KEY_BYTES, max_size=12).map(bytes)
_VALUES = st.one_of(st.binary(max_size=20), st.binary(min_size=100, max_size=3000))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(model=st.dictionaries(_KEYS, _VALUES, max_size=60),
       block_size=st.sampled_from([1, 8, 32, 100, 1024, 262144]),
       restart_interval=st.sampled_from([1, 2, 3, 16]),
       probes=st.lists(_KEYS, max_size=10))
def test_table_matches_dict_model(model: dict[bytes, bytes], block_size: int,
                                  restart_interval: int, probes: list[bytes]) -> None:
    items = sorted(model.items())
    data = build(items, block_size=block_size, restart_interval=restart_interval)
    table = Table(data)
    assert read_all(table) == items
    for key, value in items:
        assert bytes(table.get(key)) == value  # type: ignore[arg-type]
        assert key in table
    for probe in probes + [k + b"\x00" for k in model] + [b""]:
        if probe not in model:
            assert table.get(probe) is None
        expected = [(k, v) for k, v in items if k >= probe]
        assert [(k, bytes(v)) for k, v in table.seek(probe)] == expected
    # the index separates blocks correctly
    entries = table.index_entries()
    assert [k for k, _ in entries] == sorted(k for k, _ in entries)


def test_keys_must_increase() -> None:
    builder = TableBuilder(lambda _: None)
    builder.add(b"b", b"")
    with pytest.raises(ValueError, match="strictly increasing"):
        builder.add(b"b", b"")
    with pytest.raises(ValueError, match="strictly increasing"):
        builder.add(b"a", b"")
    builder.add(b"b\x00", b"")
    builder.finish()
    with pytest.raises(RuntimeError):
        builder.add(b"c", b"")


def test_oversize_entry_gets_its_own_block() -> None:
    items = [(b"a", b"x" * 10), (b"b", b"y" * 200), (b"c", b"z")]
    table = Table(build(items, block_size=100))
    handles = [h for _, h in table.index_entries()]
    assert len(handles) == 3  # "b" (>= 2 * block_size) flushed "a" first, then itself
    assert read_all(table) == items


# -- corruption -----------------------------------------------------------------------------

@pytest.mark.parametrize("data, items", [(INDEX_126, INDEX_126_ITEMS), (V1_154, V1_154_ITEMS)])
def test_every_truncation_is_data_loss(data: bytes, items: list) -> None:  # type: ignore[type-arg]
    for n in range(len(data)):
        with pytest.raises(DataLossError):
            read_all(Table(data[:n]))
        with pytest.raises(DataLossError):
            read_all(Table(data[len(data) - n:]))  # lost a prefix: offsets point elsewhere


@pytest.mark.parametrize("verify", [True, False])
def test_every_bit_flip_is_data_loss_or_harmless(verify: bool) -> None:
    harmless = set()
    for i in range(len(INDEX_126)):
        for bit in range(8):
            data = bytearray(INDEX_126)
            data[i] ^= 1 << bit
            try:
                table = Table(bytes(data), verify_checksums=verify)
                got = read_all(table)
                lookups = [table.get(k) for k, _ in INDEX_126_ITEMS]
                list(table.seek(b"v"))
            except DataLossError as e:
                assert "offset" in str(e)
                continue
            if verify:
                assert got == INDEX_126_ITEMS, (i, bit)
                assert all(v is not None for v in lookups)
                harmless.add(i)
    if verify:
        # Undetected flips only hit bytes TF never reads (the meta-index block and
        # its trailer, the meta-index handle, the footer padding) or set the
        # continuation bit of the index size 0E, which then reads the zero padding
        # as a second varint byte: the same value, 14.
        assert harmless <= set(range(46, 59)) | {78, 79, 81} | set(range(82, 118))


def test_checksum_mismatch_names_file_and_offset() -> None:
    data = bytearray(INDEX_126)
    data[12] ^= 0x01  # inside the data block ("v1" key)
    table = Table(bytes(data), filename="x.index")  # the index block is intact
    with pytest.raises(DataLossError, match="block checksum mismatch") as info:
        table.get(b"v1")
    assert info.value.filename == "x.index" and info.value.offset == 0
    assert info.value.key == b"w"  # the index entry that led there
    assert read_all(Table(bytes(data), verify_checksums=False))[1][0] == b"w1"


def _with_footer(prefix: bytes, meta: BlockHandle, index: BlockHandle) -> bytes:
    return prefix + Footer(meta, index).encode()


def test_huge_handles_fail_without_allocating() -> None:
    tracemalloc.start()
    try:
        for offset, size in [(0x7FFFFFFFFFFFFFF0, 8), (0, 0x7FFFFFFFFFFFFFF0),
                             (2**64 - 1, 2**64 - 1), (10, 60), (60, 0)]:
            data = _with_footer(INDEX_126[:78], BlockHandle(46, 8), BlockHandle(offset, size))
            with pytest.raises(DataLossError, match="truncated block read|offset"):
                Table(data, filename="evil.index")
        # a data block handle pointing far away: found when the block is read
        index = BlockBuilder(1)
        index.add(b"w", BlockHandle(0x7FFFFFFFFFFFFFF0, 0x7FFFFFFFFFFFFFF0).encode())
        contents = index.finish()
        data = _with_footer(contents + block_trailer(contents), BlockHandle(0, 0),
                            BlockHandle(0, len(contents)))
        table = Table(data)
        with pytest.raises(DataLossError, match="truncated block read"):
            table.get(b"v1")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20


def test_bad_index_value_and_bad_block_type() -> None:
    index = BlockBuilder(1)
    index.add(b"w", b"\x80\x80")  # truncated varint
    contents = index.finish()
    data = _with_footer(contents + block_trailer(contents), BlockHandle(0, 0),
                        BlockHandle(0, len(contents)))
    with pytest.raises(DataLossError, match="bad block handle") as info:
        Table(data).get(b"a")
    assert info.value.key == b"w" and info.value.offset == 4  # the value after 00 01 02 'w'
    # A block stored with type 2 (unknown compression)
    block = empty_block()
    data = block + block_trailer(block, 2)
    data = _with_footer(data, BlockHandle(0, 0), BlockHandle(0, len(block)))
    with pytest.raises(DataLossError, match="bad block type 2"):
        Table(data)


@pytest.mark.parametrize("contents, message", [
    (b"\x01\x00", "shorter than 4"),
    (struct.pack("<I", 1), "restarts do not fit"),
    (b"\x00\x00\x00" + struct.pack("<II", 0, 2), "restarts do not fit"),
    (b"\x00\x05\x00ab" + struct.pack("<II", 0, 1), "overruns"),
    (b"\x01\x01\x00a" + struct.pack("<II", 0, 1), "shares 1 bytes"),
    (b"\x00\x01\x00a\x00" + struct.pack("<II", 0, 1), "truncated entry header"),
    (b"\x80\x80\x80\x80\x80\x80" + struct.pack("<II", 0, 1), "malformed entry header"),
    (b"\x00\x01\x00a" + struct.pack("<II", 99, 1), "restart point 0"),
])
def test_block_validity_rules(contents: bytes, message: str) -> None:
    with pytest.raises(DataLossError, match=message) as info:
        block = Block(contents, 1000, filename="f")
        list(block)
        list(block.seek(b"a"))
    assert info.value.offset is not None and info.value.offset >= 1000


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=64), st.binary(max_size=4))
def test_block_decoder_is_total(contents: bytes, target: bytes) -> None:
    try:
        block = Block(contents)
        list(block)
        list(block.seek(target))
    except DataLossError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=120))
def test_table_decoder_is_total(body: bytes) -> None:
    data = body + struct.pack("<Q", TABLE_MAGIC_NUMBER)
    for verify in (True, False):
        try:
            table = Table(data, verify_checksums=verify)
            read_all(table)
            table.get(b"a")
        except DataLossError:
            pass


# -- Snappy ---------------------------------------------------------------------------------

def _varint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _literal(chunk: bytes) -> bytes:
    n = len(chunk) - 1
    if n < 60:
        return bytes((n << 2,)) + chunk
    width = (n.bit_length() + 7) // 8
    return bytes(((59 + width) << 2,)) + n.to_bytes(width, "little") + chunk


def _copy(offset: int, length: int, kind: int) -> bytes:
    if kind == 1:
        assert 4 <= length <= 11 and offset < 2048
        return bytes((1 | ((length - 4) << 2) | ((offset >> 8) << 5), offset & 0xFF))
    assert 1 <= length <= 64
    if kind == 2:
        return bytes((2 | ((length - 1) << 2),)) + offset.to_bytes(2, "little")
    return bytes((3 | ((length - 1) << 2),)) + offset.to_bytes(4, "little")


def snappy_compress(data: bytes) -> bytes:
    """A small test-only Snappy encoder (greedy 4-byte matches, all three copy kinds)."""
    out = bytearray(_varint(len(data)))
    last: dict[bytes, int] = {}
    i = lit_start = 0
    n_copies = 0
    while i + 4 <= len(data):
        j = last.get(data[i:i + 4])
        last[data[i:i + 4]] = i
        if j is None:
            i += 1
            continue
        length = 4
        while i + length < len(data) and data[j + length] == data[i + length] and length < 64:
            length += 1
        if lit_start < i:
            out += _literal(data[lit_start:i])
        offset = i - j
        kind = 1 if length <= 11 and offset < 2048 and n_copies % 3 == 0 else 2 + n_copies % 2
        n_copies += 1
        out += _copy(offset, length, kind)
        i += length
        lit_start = i
    if lit_start < len(data):
        out += _literal(data[lit_start:])
    return bytes(out)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([b"a", b"ab", b"abcabc", b"\x00" * 70, b"xyz"]), max_size=60)
       .map(b"".join) | st.binary(max_size=300))
def test_snappy_roundtrip(data: bytes) -> None:
    compressed = snappy_compress(data)
    assert snappy.decompress(compressed, max_output=len(data)) == data
    assert len(data) <= snappy.max_decompressed_length(len(compressed))


def test_snappy_vectors() -> None:
    # "abcabcabcabc": literal "abc" then an overlapping copy of 9 at offset 3
    stream = _varint(12) + _literal(b"abc") + _copy(3, 9, 1)
    assert snappy.decompress(stream, max_output=100) == b"abcabcabcabc"
    long_literal = bytes(range(256)) * 2
    assert snappy.decompress(_varint(512) + _literal(long_literal), max_output=512) == long_literal
    assert snappy.decompress(_varint(0), max_output=0) == b""


@pytest.mark.parametrize("stream, message", [
    (b"", "bad uncompressed length"),
    (_varint(2**32 - 1) + _literal(b"a"), "exceeds the limit"),
    (_varint(5) + _literal(b"ab"), "produced 2 bytes, declared 5"),
    (_varint(1) + _literal(b"ab"), "literal runs past the declared length"),
    (_varint(3) + b"\x08ab", "literal runs past the input"),
    (_varint(70) + b"\xf0", "truncated literal length"),
    (_varint(8) + _copy(1, 8, 2), "copy offset 1 outside the 0 bytes"),
    (_varint(8) + _literal(b"a") + _copy(0, 7, 2), "copy offset 0"),
    (_varint(8) + _literal(b"a") + _copy(2, 7, 3), "copy offset 2"),
    (_varint(4) + _literal(b"a") + _copy(1, 7, 2), "copy runs past the declared length"),
    (_varint(4) + _literal(b"a") + b"\x02\x01", "truncated copy"),
    (_varint(4) + _literal(b"a") + b"\x01", "truncated copy"),
    (_varint(4) + _literal(b"a") + b"\x03\x01\x00", "truncated copy"),
])
def test_snappy_corruption(stream: bytes, message: str) -> None:
    with pytest.raises(DataLossError, match=message):
        snappy.decompress(stream, max_output=100)


def test_snappy_declared_length_checked_before_allocating() -> None:
    tracemalloc.start()
    try:
        with pytest.raises(DataLossError):
            snappy.decompress(_varint(2**32 - 1) + b"\x00a", max_output=2**31)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20
    with pytest.raises(DataLossError, match="exceeds the limit"):
        snappy.decompress(_varint(2**32 - 1) + b"\x00a", max_output=snappy.max_decompressed_length(3))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=40))
def test_snappy_decoder_is_total(stream: bytes) -> None:
    try:
        out = snappy.decompress(stream, max_output=snappy.max_decompressed_length(len(stream)))
        assert len(out) <= 22 * len(stream)
    except DataLossError:
        pass


def _recompress_data_blocks(data: bytes) -> bytes:
    """Rewrite a table with every data block stored as Snappy (type 1)."""
    table = Table(data)
    out = bytearray()
    index = BlockBuilder(1)
    for key, handle in table.index_entries():
        raw = data[handle.offset:handle.offset + handle.size]
        stored = snappy_compress(raw)
        new = BlockHandle(len(out), len(stored))
        out += stored + block_trailer(stored, 1)
        index.add(key, new.encode())
    meta = BlockHandle(len(out), 8)
    out += empty_block() + block_trailer(empty_block())
    contents = index.finish()
    index_handle = BlockHandle(len(out), len(contents))
    out += contents + block_trailer(contents)
    return bytes(out) + Footer(meta, index_handle).encode()


def test_table_reads_snappy_blocks() -> None:
    items = [(b"key%04d" % i, b"value-%d" % (i % 7) * 5) for i in range(500)]
    data = _recompress_data_blocks(build(items, block_size=1024))
    table = Table(data)
    assert read_all(table) == items
    assert bytes(table.get(b"key0123")) == items[123][1]  # type: ignore[arg-type]
    # corrupt a compressed block but fix up its checksum: decompression must catch it
    handle = table.index_entries()[0][1]
    bad = bytearray(data)
    bad[handle.offset] ^= 0x7F  # the declared length varint
    stored = bytes(bad[handle.offset:handle.offset + handle.size])
    end = handle.offset + handle.size
    bad[end + 1:end + 5] = struct.pack("<I", mask(crc32c(b"\x01", crc32c(stored))))
    with pytest.raises(DataLossError, match="corrupted compressed block contents"):
        read_all(Table(bytes(bad)))


# -- large indexes (speed is measured in benchmarks/, never asserted here) ---------------

def test_large_index_many_blocks() -> None:
    items = [(b"model/layer_%05d/kernel/.ATTRIBUTES/VARIABLE_VALUE" % i, b"\x08\x01\x12\x00")
             for i in range(10_000)]
    data = build(items, block_size=64)  # ~10,000 data blocks, one index entry each
    table = Table(data)
    assert table.num_data_blocks >= 5000
    assert [k for k, _ in table.items()] == [k for k, _ in items]
    for k, v in items[::997]:
        assert bytes(table.get(k)) == v
    table = Table(build(items))
    assert sum(1 for _ in table.items()) == 10_000


# -- against TensorFlow ---------------------------------------------------------------------

def _save_v2(tf, prefix: str, names: list[str], tensors: list, slices: list[str] | None = None):  # type: ignore[no-untyped-def]
    tf.raw_ops.SaveV2(prefix=prefix, tensor_names=names,
                      shape_and_slices=slices if slices is not None else [""] * len(names),
                      tensors=tensors)
    with open(prefix + ".index", "rb") as f:
        return f.read()


def _check_tf_index(data: bytes, names: list[str]) -> Table:
    table = Table(data, filename="tf.index")
    items = read_all(table)
    assert [k for k, _ in items] == [b""] + sorted(n.encode() for n in names)
    for key, value in items:
        assert bytes(table.get(key)) == value  # type: ignore[arg-type]
    assert build(items) == data  # TableBuilder reproduces TF's bytes exactly
    return table


def test_tf_index_with_many_long_names(tf, tmp_path) -> None:  # type: ignore[no-untyped-def]
    names = [f"model/very_long_scope_name_{i // 100:03d}/sublayer_{i:05d}/kernel/"
             f".ATTRIBUTES/VARIABLE_VALUE" for i in range(6000)]
    tensors = [tf.constant([float(i)]) for i in range(len(names))]
    data = _save_v2(tf, str(tmp_path / "many"), names, tensors)
    table = _check_tf_index(data, names)
    assert table.num_data_blocks >= 2


def test_tf_index_with_600kb_name(tf, tmp_path) -> None:  # type: ignore[no-untyped-def]
    names = ["a", "m" + "x" * 600_000, "z"]
    tensors = [tf.constant(1.0), tf.constant([2, 3], dtype=tf.int32), tf.constant("s")]
    data = _save_v2(tf, str(tmp_path / "long"), names, tensors)
    table = _check_tf_index(data, names)
    assert table.num_data_blocks >= 2


def test_tf_reads_our_snappy_index(tf, tmp_path) -> None:  # type: ignore[no-untyped-def]
    prefix = str(tmp_path / "snappy")
    data = _save_v2(tf, prefix, ["v1", "v2"], [tf.constant([1.0, 2.0]), tf.constant(3)])
    with open(prefix + ".index", "wb") as f:
        f.write(_recompress_data_blocks(data))
    restored = tf.raw_ops.RestoreV2(prefix=prefix, tensor_names=["v1", "v2"],
                                    shape_and_slices=["", ""], dtypes=[tf.float32, tf.int32])
    assert restored[0].numpy().tolist() == [1.0, 2.0] and int(restored[1]) == 3
