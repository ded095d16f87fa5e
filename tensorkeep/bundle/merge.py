"""Merging per-shard bundles into one, as TF's MergeV2Checkpoints does (FORMAT.md §4.2).

Each input prefix contributes its entries; a partitioned tensor's slices from
several inputs are joined into one full entry; data files are renamed to
``dest.data-%05d-of-%05d`` with shard ids in order of first appearance; the
merged index is written last (atomically); inputs' index files are then
removed, and their directories too when empty and not the destination's.
"""

from __future__ import annotations

import os
from typing import Sequence

from tensorkeep import errors
from tensorkeep.bundle.naming import data_filename, index_filename
from tensorkeep.bundle.reader import BundleReader, key_str
from tensorkeep.format.entry import BundleEntry, BundleHeader
from tensorkeep.io.files import AtomicWriter, fsync_dir, remove_stale_temps, translate_os_error


def merge_bundles(prefixes: Sequence[str], destination: str, *, delete_old_dirs: bool = True,
                  allow_missing_files: bool = False, fsync: bool = True) -> None:
    """Merge the bundles at ``prefixes`` into one bundle at ``destination``."""
    from tensorkeep.format.table import TableBuilder

    dest_dir = os.path.dirname(destination)
    if dest_dir and not os.path.isdir(dest_dir):
        try:
            os.makedirs(dest_dir, exist_ok=True)
        except OSError as exc:
            raise translate_os_error(exc, dest_dir, "creating the checkpoint directory") from exc
    remove_stale_temps(dest_dir or ".")   # leftovers of killed saves (unlocked temporaries)
    present = []
    for p in prefixes:
        if os.path.exists(index_filename(p)):
            present.append(p)
        elif not allow_missing_files:
            raise errors.InvalidArgumentError(
                f"allow_missing_files was set to false and {p} did not exist. "
                f"{index_filename(p)}; No such file or directory")
    if not present:
        raise errors.InvalidArgumentError(
            "At least one prefix checkpoint file must exist, but none existed.")

    merged: dict[bytes, BundleEntry] = {}
    file_ids: dict[str, int] = {}
    renames: list[tuple[str, str]] = []
    total_shards = 0
    shards_of: dict[str, int] = {}
    first: BundleHeader | None = None
    for p in present:
        reader = BundleReader(p)
        h = reader.header
        if first is None:
            first = h
        elif (h.endianness, h.producer, h.min_consumer, h.bad_consumers) != (
                first.endianness, first.producer, first.min_consumer, first.bad_consumers):
            raise errors.InvalidArgumentError(
                f"bundle {p} has a different endianness or version than {present[0]}")
        total_shards += h.num_shards
        shards_of[p] = h.num_shards
        for k in reader.raw_keys():
            e = reader.entry(k)
            old = merged.get(k)
            if old is not None:
                if not (old.slices and e.slices):
                    raise errors.InvalidArgumentError(
                        f"Duplicate tensor keyed by {key_str(k)} encountered, when merging "
                        f"prefix: {p}")
                if old.dtype != e.dtype or old.shape != e.shape:
                    raise errors.InvalidArgumentError(
                        f"slices of {key_str(k)} disagree on dtype or shape when merging {p}")
                merged[k] = BundleEntry(old.dtype, old.shape, old.shard_id, old.offset, old.size,
                                        old.crc32c, old.slices + e.slices)
                continue
            src = data_filename(p, e.shard_id, h.num_shards)
            if src not in file_ids:
                file_ids[src] = len(file_ids)
            merged[k] = BundleEntry(e.dtype, e.shape, file_ids[src], e.offset, e.size, e.crc32c,
                                    e.slices)
        reader.close()
    n = len(file_ids)
    for src, new_id in file_ids.items():
        renames.append((src, data_filename(destination, new_id, n)))
    assert first is not None
    try:
        for src, dst in renames:
            if os.path.exists(src):
                os.replace(src, dst)
    except OSError as exc:
        raise translate_os_error(exc, src, "renaming a data shard") from exc
    header = BundleHeader(num_shards=total_shards, endianness=first.endianness,
                          producer=first.producer, min_consumer=first.min_consumer,
                          bad_consumers=first.bad_consumers)
    with AtomicWriter(index_filename(destination), fsync=fsync) as out:
        table = TableBuilder(out.write)
        table.add(b"", header.encode())
        for k in sorted(merged):
            table.add(k, merged[k].encode())
        table.finish()
    for p in present:
        # the input index, and data files no entry referenced (an input with no tensors)
        leftovers = [index_filename(p)] + [data_filename(p, i, shards_of[p])
                                           for i in range(shards_of[p])]
        for name in leftovers:
            try:
                os.remove(name)
            except OSError:
                pass
        if delete_old_dirs:
            d = os.path.dirname(p)
            if os.path.abspath(d or ".") != os.path.abspath(dest_dir or "."):
                try:
                    os.rmdir(d)      # non-recursive: a directory with foreign files survives
                except OSError:
                    pass
    if fsync:
        fsync_dir(dest_dir or ".")


__all__ = ["merge_bundles"]
