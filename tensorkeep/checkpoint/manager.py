"""The framework-neutral core of ``tf.train.CheckpointManager`` (STATE_AND_SAVER.md §4).

Works on flat name -> array mappings; :class:`tensorkeep.CheckpointManager`
(top level) adds PyTorch modules and JAX pytrees. Behaviour is TensorFlow's:

* checkpoints are ``<directory>/<checkpoint_name>-<n>``;
* on construction the list is recovered from the ``checkpoint`` state file
  (:func:`~tensorkeep.checkpoint.retention.recover_manager_records`);
* ``save``: write the bundle, record ``(path, time)`` (a path saved again moves
  to the end), decide the sweep, write the state file once (already without
  the evicted checkpoints; TF's final content), then delete the evicted files
  (TF writes, deletes, writes again: a kill in between would leave a state file
  naming a deleted checkpoint);
* the sweep is the one retention implementation shared with the Saver,
  :func:`~tensorkeep.checkpoint.retention.manager_policy` (``max_to_keep`` +
  ``keep_checkpoint_every_n_hours``); evicted checkpoints are deleted with
  :func:`~tensorkeep.checkpoint.state.remove_checkpoint`, preserved ones stay on
  disk and leave the list;
* the state file stores paths relative to the directory, with timestamps and
  ``last_preserved_timestamp``, through the Saver's state-file writer.

TensorFlow's own ``CheckpointManager`` can continue a directory this one wrote,
and the reverse.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

from tensorkeep.checkpoint import retention, state

Writer = Callable[[Mapping[str, Any], str], Any]


def _check_max_to_keep(max_to_keep: int | None) -> None:
    if max_to_keep is not None and (isinstance(max_to_keep, bool) or not isinstance(max_to_keep, int)
                                    or max_to_keep <= 0):
        raise ValueError(f"Expected a positive integer or `None` for `max_to_keep`, got {max_to_keep}.")


def checkpoint_number(path: str, checkpoint_name: str | None = None) -> int | None:
    """The ``n`` of a ``.../<name>-<n>`` prefix, or None."""
    base = os.path.basename(path)
    pattern = (re.escape(checkpoint_name) if checkpoint_name else r".*") + r"-(\d+)"
    m = re.fullmatch(pattern, base, re.DOTALL)
    return int(m.group(1)) if m else None


class ManagerCore:
    """Rotating checkpoints of flat tensor mappings in one directory.

    ``write(flat, prefix)`` writes one checkpoint (injected so that the caller
    chooses how: synchronously, or later in the background); ``clock`` gives
    Unix seconds (injectable for tests).
    """

    def __init__(self, directory: str | os.PathLike[str], max_to_keep: int | None = 5,
                 keep_checkpoint_every_n_hours: float | None = None,
                 checkpoint_name: str = "ckpt", *, write: Writer,
                 clock: Callable[[], float] = time.time) -> None:
        _check_max_to_keep(max_to_keep)
        if not checkpoint_name or os.sep in checkpoint_name:
            raise ValueError(f"checkpoint_name must be a plain file name, got {checkpoint_name!r}")
        self._directory = os.fspath(directory)
        self._name = checkpoint_name
        self._prefix = os.path.join(self._directory, checkpoint_name)
        self._max_to_keep = max_to_keep
        self._hours = keep_checkpoint_every_n_hours
        self._policy = retention.manager_policy(max_to_keep, keep_checkpoint_every_n_hours)
        self._write = write
        self._clock = clock
        found = state.get_checkpoint_state(self._directory)
        now = clock()
        if found is None:
            rec = retention.recover_manager_records(None, None, None, now)
            self._latest: str | None = None
        else:
            rec = retention.recover_manager_records(
                list(found.all_model_checkpoint_paths), list(found.all_model_checkpoint_timestamps),
                found.last_preserved_timestamp, now)
            self._latest = found.model_checkpoint_path or None
        self._records = rec.records
        self._last_preserved = rec.last_preserved_timestamp

    # ---------------------------------------------------------------- properties

    @property
    def directory(self) -> str:
        return self._directory

    @property
    def latest_checkpoint(self) -> str | None:
        """The newest checkpoint prefix, or None."""
        return self._latest

    @property
    def checkpoints(self) -> list[str]:
        """Tracked checkpoint prefixes, oldest first (preserved ones are not listed)."""
        return [r.path for r in self._records]

    @property
    def last_preserved_timestamp(self) -> float:
        return self._last_preserved

    def next_number(self) -> int:
        """The number ``save`` uses when given none: one past the newest known."""
        known = [checkpoint_number(p, self._name) for p in self.checkpoints + [self._latest or ""]]
        return max([n for n in known if n is not None], default=0) + 1

    # ---------------------------------------------------------------- saving

    def checkpoint_path(self, step: int | None = None) -> tuple[int, str]:
        """``(step, prefix)`` of the checkpoint ``save`` writes for ``step`` (default: next)."""
        if step is None:
            step = self.next_number()
        if isinstance(step, bool) or not isinstance(step, int):
            try:
                step = int(step)  # numpy and 0-d tensor steps
            except (TypeError, ValueError):
                raise ValueError(f"step must be a non-negative integer, got {step!r}") from None
        if step < 0:
            raise ValueError(f"step must be a non-negative integer, got {step!r}")
        return step, f"{self._prefix}-{step}"

    def save(self, flat: Mapping[str, Any], step: int | None = None) -> str:
        """Write ``flat`` as ``<prefix>-<step>``, update the state file, sweep; returns the path."""
        _, path = self.checkpoint_path(step)
        self._write(flat, path)
        self.commit(path)
        return path

    def commit(self, path: str) -> None:
        """Record a written checkpoint: decide the sweep, write the state file, then delete.

        TF writes the state file, deletes, and writes it again; a kill between its
        deletion and its second write leaves a state file naming a deleted
        checkpoint. Here the state file is written once, already without the
        evicted checkpoints, before any file is deleted (the final file is TF's).
        """
        self._records = retention.record_checkpoint(self._records, path, self._clock())
        self._latest = path
        evicted = self._sweep()
        self._record_state()
        for r in evicted:
            state.remove_checkpoint(r.path)
        self._remove_orphans()

    def _sweep(self) -> tuple[retention.CheckpointRecord, ...]:
        """Apply the retention policy to the records; returns the records to delete."""
        has_preserver = bool(self._policy.preservers)
        decision = self._policy.decide(
            self._records, state=(self._last_preserved,) if has_preserver else ())
        if has_preserver:
            self._last_preserved = decision.state[0]  # type: ignore[index]
        self._records = decision.kept
        return decision.to_delete

    def _remove_orphans(self) -> None:
        """Remove data files of *our* checkpoint names that have no index."""
        state.remove_orphaned_data(self._directory, self._name, numbered_only=True)

    def _record_state(self) -> None:
        if self._latest is None:
            return
        state.update_checkpoint_state_internal(
            save_dir=self._directory, model_checkpoint_path=self._latest,
            all_model_checkpoint_paths=[r.path for r in self._records],
            all_model_checkpoint_timestamps=[r.time for r in self._records],
            last_preserved_timestamp=self._last_preserved, save_relative_paths=True)


__all__ = ["ManagerCore", "checkpoint_number"]
