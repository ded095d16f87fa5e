"""File names of a tensor bundle (TF's naming.cc): ``P.index``, ``P.data-%05d-of-%05d``."""

from __future__ import annotations


def index_filename(prefix: str) -> str:
    return f"{prefix}.index"


def data_filename(prefix: str, shard_id: int, num_shards: int) -> str:
    return f"{prefix}.data-{shard_id:05d}-of-{num_shards:05d}"


def sharded_filename(basename: str, shard: int, num_shards: int) -> str:
    """TF's ShardedFilename op: ``%s-%05d-of-%05d``."""
    return f"{basename}-{shard:05d}-of-{num_shards:05d}"


def sharded_filespec(basename: str, num_shards: int) -> str:
    """TF's ShardedFilespec op: ``%s-?????-of-%05d``."""
    return f"{basename}-?????-of-{num_shards:05d}"


__all__ = ["index_filename", "data_filename", "sharded_filename", "sharded_filespec"]
