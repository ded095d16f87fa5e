"""Tensor bundles on disk: writer, lazy reader, merge of sharded saves, V1 files."""

from tensorkeep.bundle.merge import merge_bundles
from tensorkeep.bundle.naming import data_filename, index_filename, sharded_filename, sharded_filespec
from tensorkeep.bundle.reader import BundleReader, read_tensors
from tensorkeep.bundle.writer import BundleWriter, write_bundle, write_tensors


def write_v1(filename, names, slice_specs, arrays):  # type: ignore[no-untyped-def]
    """The SaveSlices kernel: a V1 checkpoint file (see :mod:`tensorkeep.bundle.v1`)."""
    from tensorkeep.bundle import v1

    return v1.write_v1(filename, names, slice_specs, arrays)


__all__ = ["BundleWriter", "BundleReader", "write_bundle", "write_tensors", "read_tensors",
           "merge_bundles", "write_v1", "data_filename", "index_filename", "sharded_filename",
           "sharded_filespec"]
