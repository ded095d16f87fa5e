"""File names of a checkpoint, exactly as TensorFlow forms them.

Pure string functions (no file access). Sources: ``saver.py`` (checkpoint
name with global step, ``pad_step_number``), ``checkpoint_management.py``
(``meta_graph_filename``, state file name), ``save_op.cc``
(``ShardedFilename``/``ShardedFilespec``), ``tensor_bundle.cc``
(``DataFilename``/``MetaFilename``).

For a V2 prefix ``P`` with ``K`` data shards::

    P.index                       index_filename(P)
    P.data-00000-of-0000K ...     data_filename(P, i, K)
    P.meta                        meta_graph_filename(P)

A sharded V1 save writes ``P-00000-of-0000K`` ... (``sharded_filename``) and
records the glob ``P-?????-of-0000K`` (``sharded_filespec``).

:func:`checkpoint_file_pattern` gives the regular expression of every file a
checkpoint owns; deletion matches names against it instead of globbing, so a
prefix holding ``*`` or ``[`` can never delete files of another checkpoint.
"""

from __future__ import annotations

import os
import re

# The bundle layer owns the per-file names; re-exported here with the rest.
from tensorkeep.bundle.naming import data_filename, index_filename, sharded_filename, sharded_filespec

__all__ = [
    "DEFAULT_STATE_FILENAME", "DEFAULT_META_GRAPH_SUFFIX", "meta_graph_filename",
    "sharded_filename", "sharded_filespec", "data_filename", "index_filename",
    "data_file_glob", "checkpoint_name", "sharded_temp_prefix", "state_filename",
    "checkpoint_file_pattern", "strip_v1_shard_suffix",
]

DEFAULT_STATE_FILENAME = "checkpoint"  # checkpoint_management: latest_filename default
DEFAULT_META_GRAPH_SUFFIX = "meta"

# checkpoint_management.meta_graph_filename strips a V1 shard suffix first.
_V1_SHARD_SUFFIX = re.compile(r"-[\d\?]+-of-\d+$")
# A V1 sharded filespec as ShardedFilespec writes it: "<prefix>-?????-of-NNNNN".
_V1_FILESPEC = re.compile(r"^(?P<base>.*)-\?{5}-of-(?P<n>\d{5,})$", re.DOTALL)


def strip_v1_shard_suffix(checkpoint_filename: str) -> str:
    """``checkpoint_filename`` without a trailing ``-<digits or ?>-of-<digits>``."""
    return _V1_SHARD_SUFFIX.sub("", checkpoint_filename)


def meta_graph_filename(checkpoint_filename: str, meta_graph_suffix: str = "meta") -> str:
    """``model.ckpt-1000`` → ``model.ckpt-1000.meta`` (a V1 shard suffix is stripped first)."""
    return f"{strip_v1_shard_suffix(os.fspath(checkpoint_filename))}.{meta_graph_suffix}"


def data_file_glob(prefix: str) -> str:
    """The glob TF uses to delete V2 data files: ``prefix + ".data-?????-of-?????"``."""
    return f"{prefix}.data-?????-of-?????"


def checkpoint_name(save_path: str, global_step: int | None = None,
                    pad_step_number: bool = False) -> str:
    """The checkpoint prefix a Saver writes for ``save_path`` at ``global_step``.

    ``"%s-%d" % (save_path, step)``; with ``pad_step_number`` the step is
    zero-padded to 8 digits (``model-00001000``). No step: ``save_path``.
    """
    save_path = os.fspath(save_path)
    if global_step is None:
        return save_path
    step = int(global_step)
    if pad_step_number:
        return "%s-%s" % (save_path, "{:08d}".format(step))
    return "%s-%d" % (save_path, step)


def sharded_temp_prefix(prefix: str) -> str:
    """Where the shards of a sharded V2 save are written before the merge.

    ``prefix + ".part"`` for ``s3://`` paths, else ``prefix + "_temp/part"``
    (TF 2.x; FORMAT.md §4.1).
    """
    if re.fullmatch(r"^s3://.*", prefix, re.DOTALL):
        return prefix + ".part"
    return prefix + "_temp/part"


def state_filename(save_dir: str, latest_filename: str | None = None) -> str:
    """The state file: ``os.path.join(save_dir, latest_filename or "checkpoint")``."""
    return os.path.join(os.fspath(save_dir), latest_filename or DEFAULT_STATE_FILENAME)


def checkpoint_file_pattern(prefix: str, version: int = 2,
                            meta_graph_suffix: str = DEFAULT_META_GRAPH_SUFFIX) -> re.Pattern[str]:
    """A regex matching the *basenames* of the files checkpoint ``prefix`` owns.

    V2 (``version == 2``): ``<base>.index``, ``<base>.data-NNNNN-of-NNNNN`` and the
    meta graph. V1/LEGACY: the file ``<base>`` itself or, for a sharded spec
    ``<base>-?????-of-K``, each ``<base>-NNNNN-of-K``; plus the meta graph.
    Every part of the prefix is matched literally.
    """
    base = os.path.basename(prefix)
    meta = re.escape(os.path.basename(meta_graph_filename(prefix, meta_graph_suffix)))
    if version == 2:
        b = re.escape(base)
        body = rf"{b}\.index|{b}\.data-\d{{5,}}-of-\d{{5,}}"
    else:
        m = _V1_FILESPEC.match(base)
        if m:
            body = rf"{re.escape(m.group('base'))}-\d{{5,}}-of-{m.group('n')}"
        else:
            body = re.escape(base)
    return re.compile(rf"(?:{body}|{meta})", re.DOTALL)
