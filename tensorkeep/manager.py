"""``tensorkeep.CheckpointManager``: rotating checkpoints of any state ``save`` accepts.

A thin layer over :class:`tensorkeep.checkpoint.manager.ManagerCore` (TensorFlow's
CheckpointManager semantics, the shared retention policies and the Saver's
state-file writer): it turns PyTorch modules, optimizers, state_dicts, JAX
pytrees and mappings of arrays into flat arrays, and restores into them.
"""

from __future__ import annotations

import os
from typing import Any

from tensorkeep import api, errors
from tensorkeep.checkpoint import async_save as _async
from tensorkeep.checkpoint.manager import ManagerCore


class CheckpointManager:
    """Keep the newest ``max_to_keep`` checkpoints of a training run in ``directory``.

    Checkpoints are ``<directory>/<checkpoint_name>-<step>``, listed in the
    ``checkpoint`` state file exactly as TensorFlow's ``tf.train.CheckpointManager``
    writes it (so TensorFlow can continue the directory, and the reverse).
    ``max_to_keep=None`` keeps all; ``keep_checkpoint_every_n_hours`` also keeps
    one checkpoint per that many hours for good.

    ``async_save=True``: ``save`` returns once the tensors are snapshotted
    (``copy=False``: not copied, the caller promises not to change them until
    the save is done) and writes in the background; the state file names the
    new checkpoint, and old ones are deleted, only once it is complete. A
    background error is raised by :meth:`wait_until_finished` or the next save.
    """

    def __init__(self, directory: str | os.PathLike[str], max_to_keep: int | None = 5,
                 keep_checkpoint_every_n_hours: float | None = None,
                 checkpoint_name: str = "ckpt", *, async_save: bool = False,
                 copy: bool = True) -> None:
        self._core = ManagerCore(directory, max_to_keep, keep_checkpoint_every_n_hours,
                                 checkpoint_name, write=self._write)
        self._async = async_save
        self._copy = copy
        self._pending: _async.SaveHandle | None = None

    @staticmethod
    def _write(flat: Any, prefix: str) -> None:
        api._write(flat, prefix)

    @property
    def directory(self) -> str:
        return self._core.directory

    @property
    def latest_checkpoint(self) -> str | None:
        """The newest checkpoint prefix, or None."""
        return self._core.latest_checkpoint

    @property
    def checkpoints(self) -> list[str]:
        """Kept checkpoint prefixes, oldest first."""
        return self._core.checkpoints

    def save(self, state: Any, step: int | None = None) -> str:
        """Write ``state`` as checkpoint ``step`` (default: one past the newest); returns its path.

        Older checkpoints beyond ``max_to_keep`` are deleted afterwards.
        """
        _async.raise_pending()
        if not self._async:
            return self._core.save(api.to_arrays(state), step)
        step, path = self._core.checkpoint_path(step)
        self._pending = _async.start(path, api.to_arrays(state),
                                     lambda snap: self._core.save(snap, step), copy=self._copy)
        return path

    def wait_until_finished(self) -> None:
        """Wait for a background save; raise its error if it failed."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.wait()

    def restore(self, into: Any, checkpoint: str | int | None = None, *, strict: bool = True) -> Any:
        """Restore the latest checkpoint (or ``checkpoint``: a path or a step) into ``into``.

        Returns what :func:`tensorkeep.load` returns: the missing/unexpected keys,
        or the new pytree for JAX. NotFoundError when there is no checkpoint.
        """
        if checkpoint is None:
            path = self.latest_checkpoint
            if path is None:
                raise errors.NotFoundError(
                    f"no checkpoint to restore in {self.directory} (check `latest_checkpoint` first)",
                    filename=self.directory)
        elif isinstance(checkpoint, int) and not isinstance(checkpoint, bool):
            path = f"{os.path.join(self.directory, self._core._name)}-{checkpoint}"
        else:
            path = os.fspath(checkpoint)
        return api.load(path, into=into, strict=strict)

    def __repr__(self) -> str:
        return f"<CheckpointManager {self.directory!r}: {len(self.checkpoints)} checkpoints>"


__all__ = ["CheckpointManager"]
