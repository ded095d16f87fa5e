"""The ``checkpoint`` state file and TF's module functions around it.

``latest_checkpoint``, ``get_checkpoint_state``, ``update_checkpoint_state``
(and ``_internal``), ``generate_checkpoint_state_proto``, ``checkpoint_exists``,
``get_checkpoint_mtimes``, ``remove_checkpoint``, ``checkpoints_iterator`` and
``wait_for_new_checkpoint``, with TensorFlow's path semantics
(STATE_AND_SAVER.md §1.4, §2):

* writing: a path relative to a *relative, non-empty* save directory is
  rewritten relative to it (``os.path.relpath``); absolute paths are kept,
  unless ``save_relative_paths`` first makes them relative to the directory;
* reading: relative paths in the file are joined with the directory.

The file text is :func:`tensorkeep.format.state.encode_state` (byte-identical to
TF's ``text_format``), written atomically as ``<path>.tmp<uuid hex>`` then
renamed over ``<path>``, as TF does.

Deletion (``remove_checkpoint``) lists the checkpoint's directory and removes
only names matching :func:`tensorkeep.checkpoint.naming.checkpoint_file_pattern`
— files this checkpoint owns — where TF would glob the prefix.
"""

from __future__ import annotations

import glob
import logging
import os
import re
import time
from collections.abc import Callable, Iterator, Sequence

from tensorkeep import errors
from tensorkeep.checkpoint import naming
from tensorkeep.format import state as _state_text
from tensorkeep.io import files
from tensorkeep.proto import checkpoint_state_pb2, saver_pb2

__all__ = [
    "CheckpointState", "generate_checkpoint_state_proto", "update_checkpoint_state",
    "update_checkpoint_state_internal", "get_checkpoint_state", "latest_checkpoint",
    "checkpoint_exists", "checkpoint_exists_internal", "get_checkpoint_mtimes",
    "remove_checkpoint", "remove_orphaned_data", "wait_for_new_checkpoint", "checkpoints_iterator",
]

logger = logging.getLogger("tensorkeep")

CheckpointState = checkpoint_state_pb2.CheckpointState

PathLike = str | os.PathLike[str]


# ---------------------------------------------------------------- building the state

def _is_abs(p: str) -> bool:
    return os.path.isabs(p)


def generate_checkpoint_state_proto(save_dir: PathLike, model_checkpoint_path: PathLike,
                                    all_model_checkpoint_paths: Sequence[PathLike] | None = None,
                                    all_model_checkpoint_timestamps: Sequence[float] | None = None,
                                    last_preserved_timestamp: float | None = None
                                    ) -> checkpoint_state_pb2.CheckpointState:
    """The CheckpointState TF would write for these paths (nothing is written).

    ``model_checkpoint_path`` is appended to the list unless it already ends it.
    With a relative (non-empty) ``save_dir``, relative paths are rewritten
    relative to it. The caller's list is not modified (TF appends to it).
    """
    save_dir = os.fspath(save_dir)
    model = os.fspath(model_checkpoint_path)
    paths = [os.fspath(p) for p in (all_model_checkpoint_paths or [])]
    if not paths or paths[-1] != model:
        logger.debug("%s is not in all_model_checkpoint_paths. Manually adding it.", model)
        paths.append(model)
    stamps = list(all_model_checkpoint_timestamps) if all_model_checkpoint_timestamps else []
    if stamps and len(stamps) != len(paths):
        raise ValueError("Checkpoint timestamps, if provided, must match checkpoint paths "
                         f"(got paths {paths} and timestamps {stamps})")
    # TF leaves paths as they are when save_dir is "" (a save path without directory).
    if save_dir and not _is_abs(save_dir):
        if not _is_abs(model):
            model = os.path.relpath(model, save_dir)
        paths = [p if _is_abs(p) else os.path.relpath(p, save_dir) for p in paths]
    proto = checkpoint_state_pb2.CheckpointState(
        model_checkpoint_path=model, all_model_checkpoint_paths=paths,
        all_model_checkpoint_timestamps=stamps)
    if last_preserved_timestamp is not None:
        proto.last_preserved_timestamp = float(last_preserved_timestamp)
    return proto


def _encode(proto: checkpoint_state_pb2.CheckpointState) -> str:
    return _state_text.encode_state(_state_text.CheckpointState(
        model_checkpoint_path=proto.model_checkpoint_path,
        all_model_checkpoint_paths=tuple(proto.all_model_checkpoint_paths),
        all_model_checkpoint_timestamps=tuple(proto.all_model_checkpoint_timestamps),
        last_preserved_timestamp=proto.last_preserved_timestamp))


def _decode(text: bytes, filename: str) -> checkpoint_state_pb2.CheckpointState:
    s = _state_text.decode_state(text, filename=filename)
    return checkpoint_state_pb2.CheckpointState(
        model_checkpoint_path=s.model_checkpoint_path,
        all_model_checkpoint_paths=list(s.all_model_checkpoint_paths),
        all_model_checkpoint_timestamps=list(s.all_model_checkpoint_timestamps),
        last_preserved_timestamp=s.last_preserved_timestamp)


def write_state_file(path: PathLike, proto: checkpoint_state_pb2.CheckpointState, *,
                     fsync: bool = True) -> None:
    """Write ``proto`` as TF's text to ``path``: ``<path>.tmp<uuid hex>``, then rename."""
    files.atomic_write(os.fspath(path), _encode(proto).encode("utf-8"), fsync=fsync, marker=".tmp")


def update_checkpoint_state_internal(save_dir: PathLike, model_checkpoint_path: PathLike,
                                     all_model_checkpoint_paths: Sequence[PathLike] | None = None,
                                     latest_filename: str | None = None,
                                     save_relative_paths: bool = False,
                                     all_model_checkpoint_timestamps: Sequence[float] | None = None,
                                     last_preserved_timestamp: float | None = None) -> None:
    """Write the state file ``save_dir/latest_filename`` (TF's internal variant).

    ``save_relative_paths``: absolute paths are first made relative to
    ``save_dir``. RuntimeError if the state file would overwrite the checkpoint.
    """
    save_dir = os.fspath(save_dir)
    state_path = naming.state_filename(save_dir, latest_filename)
    model = os.fspath(model_checkpoint_path)
    paths = [os.fspath(p) for p in (all_model_checkpoint_paths or [])]
    if save_relative_paths:
        model = os.path.relpath(model, save_dir) if _is_abs(model) else model
        paths = [os.path.relpath(p, save_dir) if _is_abs(p) else p for p in paths]
    proto = generate_checkpoint_state_proto(
        save_dir, model, all_model_checkpoint_paths=paths,
        all_model_checkpoint_timestamps=all_model_checkpoint_timestamps,
        last_preserved_timestamp=last_preserved_timestamp)
    if state_path == proto.model_checkpoint_path:
        raise RuntimeError(f"Save path '{model}' conflicts with path used for checkpoint state.  "
                           "Please use a different save path.")
    write_state_file(state_path, proto)


def update_checkpoint_state(save_dir: PathLike, model_checkpoint_path: PathLike,
                            all_model_checkpoint_paths: Sequence[PathLike] | None = None,
                            latest_filename: str | None = None,
                            all_model_checkpoint_timestamps: Sequence[float] | None = None,
                            last_preserved_timestamp: float | None = None) -> None:
    """``tf.train.update_checkpoint_state`` (paths stored as given, see module doc)."""
    update_checkpoint_state_internal(
        save_dir, model_checkpoint_path, all_model_checkpoint_paths, latest_filename,
        save_relative_paths=False, all_model_checkpoint_timestamps=all_model_checkpoint_timestamps,
        last_preserved_timestamp=last_preserved_timestamp)


# ---------------------------------------------------------------- reading the state

def get_checkpoint_state(checkpoint_dir: PathLike, latest_filename: str | None = None
                         ) -> checkpoint_state_pb2.CheckpointState | None:
    """The parsed state file of ``checkpoint_dir``, paths joined with the directory.

    ``None`` when there is no state file, or (with a logged warning) when it
    cannot be read or parsed. ValueError when it names no checkpoint.
    """
    checkpoint_dir = os.fspath(checkpoint_dir)
    path = naming.state_filename(checkpoint_dir, latest_filename)
    if not os.path.exists(path):
        return None
    try:
        raw = files.read_bytes(path)
        ckpt = _decode(raw, path)
    except errors.OpError as exc:
        logger.warning("%s: %s", type(exc).__name__, exc)
        logger.warning("%s: Checkpoint ignored", path)
        return None
    if not ckpt.model_checkpoint_path:
        raise ValueError("Invalid checkpoint state loaded from " + checkpoint_dir)
    if not _is_abs(ckpt.model_checkpoint_path):
        ckpt.model_checkpoint_path = os.path.join(checkpoint_dir, ckpt.model_checkpoint_path)
    for i, p in enumerate(ckpt.all_model_checkpoint_paths):
        if not _is_abs(p):
            ckpt.all_model_checkpoint_paths[i] = os.path.join(checkpoint_dir, p)
    return ckpt


def _prefix_has_files(prefix: str) -> bool:
    """TF's test: a glob match for ``prefix.index`` (V2) or for ``prefix`` itself (V1)."""
    return bool(glob.glob(naming.index_filename(prefix)) or glob.glob(prefix))


def latest_checkpoint(checkpoint_dir: PathLike, latest_filename: str | None = None) -> str | None:
    """The newest checkpoint prefix named by the state file, if its files exist; else None."""
    ckpt = get_checkpoint_state(checkpoint_dir, latest_filename)
    if ckpt and ckpt.model_checkpoint_path:
        if _prefix_has_files(ckpt.model_checkpoint_path):
            return ckpt.model_checkpoint_path
        logger.error("Couldn't match files for checkpoint %s", ckpt.model_checkpoint_path)
    return None


def checkpoint_exists_internal(checkpoint_prefix: PathLike) -> bool:
    return _prefix_has_files(os.fspath(checkpoint_prefix))


def checkpoint_exists(checkpoint_prefix: PathLike) -> bool:
    """True iff a V2 ``prefix.index`` or a V1 file (pattern) ``prefix`` exists."""
    return checkpoint_exists_internal(checkpoint_prefix)


def get_checkpoint_mtimes(checkpoint_prefixes: Sequence[PathLike]) -> list[float]:
    """Modification times (whole Unix seconds, as float) of each existing checkpoint.

    Checkpoints without files are skipped, so the result may be shorter.
    """
    out = []
    for prefix in checkpoint_prefixes:
        prefix = os.fspath(prefix)
        for pattern in (naming.index_filename(prefix), prefix):
            found = glob.glob(pattern)
            if found:
                try:
                    # TF's local filesystem reports whole seconds (observed on TF 2.21).
                    out.append(float(os.stat(found[0]).st_mtime_ns // 1_000_000_000))
                except OSError:
                    continue
                break
    return out


def _owned_files(prefix: str, version: int, meta_graph_suffix: str) -> list[str]:
    directory = os.path.dirname(prefix)
    pattern = naming.checkpoint_file_pattern(prefix, version, meta_graph_suffix)
    try:
        names = os.listdir(directory or ".")
    except (FileNotFoundError, NotADirectoryError):
        return []
    except OSError as exc:
        raise files.translate_os_error(exc, directory or ".", "listing") from exc
    return sorted(os.path.join(directory, n) for n in names if pattern.fullmatch(n))


def remove_checkpoint(checkpoint_prefix: PathLike,
                      checkpoint_format_version: int = saver_pb2.SaverDef.V2,
                      meta_graph_suffix: str = "meta") -> list[str]:
    """Delete the files of a checkpoint: its meta graph and its V2 or V1 files.

    Returns the paths deleted. A file that vanished meanwhile is logged and
    skipped, as in TF; any other failure (e.g. permission) raises an error
    naming the file.
    """
    prefix = os.fspath(checkpoint_prefix)
    version = 2 if checkpoint_format_version == saver_pb2.SaverDef.V2 else 1
    removed = []
    # The index goes first: a deletion cut short then leaves data files without an
    # index (never listed as a checkpoint), not an index whose data is gone.
    owned = sorted(_owned_files(prefix, version, meta_graph_suffix),
                   key=lambda p: (not p.endswith(".index"), p))
    for path in owned:
        if os.path.isdir(path):
            continue
        try:
            files.remove(path)
        except errors.NotFoundError as exc:
            logger.warning("While deleting checkpoint %s: %s", prefix, exc)
            continue
        removed.append(path)
    return removed


def remove_orphaned_data(directory: PathLike, checkpoint_basename: str, *,
                         numbered_only: bool = False) -> list[str]:
    """Delete data files of ``checkpoint_basename[-<n>]`` checkpoints that have no index.

    A kill during a save (between the data and the index renames) or during a
    deletion (the index goes first) leaves such files: they are never listed or
    restorable, only wasted bytes. Only names of this checkpoint family in
    ``directory`` are touched, and never a file a live writer holds locked.
    Returns the paths deleted.
    """
    directory = os.fspath(directory)
    step = r"-\d+" if numbered_only else r"(?:-\d+)?"
    pattern = re.compile(re.escape(checkpoint_basename) + step + r"\.data-\d{5,}-of-\d{5,}",
                         re.DOTALL)
    try:
        names = set(os.listdir(directory or "."))
    except OSError:
        return []
    removed = []
    for n in sorted(names):
        if not pattern.fullmatch(n):
            continue
        base = n[:n.rindex(".data-")]
        if base + ".index" in names or os.path.exists(os.path.join(directory, base + ".index")):
            continue
        path = os.path.join(directory, n)
        if files.remove_if_unlocked(path):
            removed.append(path)
    return removed


# ---------------------------------------------------------------- waiting for checkpoints

def wait_for_new_checkpoint(checkpoint_dir: PathLike, last_checkpoint: str | None = None,
                            seconds_to_sleep: float = 1, timeout: float | None = None, *,
                            clock: Callable[[], float] = time.time,
                            sleep: Callable[[float], None] = time.sleep) -> str | None:
    """Poll ``latest_checkpoint`` until it differs from ``last_checkpoint``; None on timeout."""
    logger.info("Waiting for new checkpoint at %s", checkpoint_dir)
    stop_time = clock() + timeout if timeout is not None else None
    while True:
        path = latest_checkpoint(checkpoint_dir)
        if path is not None and path != last_checkpoint:
            logger.info("Found new checkpoint at %s", path)
            return path
        if stop_time is not None and clock() + seconds_to_sleep > stop_time:
            return None
        sleep(seconds_to_sleep)


def checkpoints_iterator(checkpoint_dir: PathLike, min_interval_secs: float = 0,
                         timeout: float | None = None,
                         timeout_fn: Callable[[], bool] | None = None, *,
                         clock: Callable[[], float] = time.time,
                         sleep: Callable[[float], None] = time.sleep) -> Iterator[str]:
    """Yield each new checkpoint path as it appears (TF's polling iterator).

    On a timeout: stop, unless ``timeout_fn`` is given and returns False, in
    which case waiting resumes. ``clock``/``sleep`` are injectable for tests.
    """
    current = None
    while True:
        found = wait_for_new_checkpoint(checkpoint_dir, current, timeout=timeout,
                                        clock=clock, sleep=sleep)
        if found is None:
            if not timeout_fn:
                logger.info("Timed-out waiting for a checkpoint.")
                return
            if timeout_fn():
                return
            continue
        start = clock()
        current = found
        yield current
        wait = start + min_interval_secs - clock()
        if wait > 0:
            sleep(wait)
