"""Retention policies: which checkpoints stay tracked, which are deleted, which are preserved.

Small, pure, frozen policy objects in the manner of Orbax's preservation
policies. A policy looks only at its inputs — a tuple of
:class:`CheckpointRecord` ``(path, time)`` ordered oldest → newest and an
explicit policy state — and returns a :class:`Decision`:

* ``kept``: records that stay tracked (listed in the ``checkpoint`` state file);
* ``to_delete``: records whose files the caller should delete;
* ``to_preserve``: records dropped from tracking whose files stay on disk
  forever (``keep_checkpoint_every_n_hours``);
* ``state``: the policy state to pass to the next call.

No filesystem and no clock: times come in through the records and through
``now`` (used only to build an initial state). The same objects serve
``tf.compat.v1.train.Saver`` and :class:`tensorkeep.CheckpointManager`; the
two differ in TensorFlow only in how the every-N-hours rule keeps its clock,
so there are two preservation rules:

* :class:`EveryNHoursDeadline` — the Saver's rule
  (``tensorflow/python/training/saver.py``, ``_MaybeDeleteOldCheckpoints``): a
  moving deadline that starts at build time + N hours; an evicted checkpoint
  saved *after* the deadline (``t > deadline``) is preserved and the deadline
  advances by N hours (not to ``t`` + N hours).
* :class:`EveryNHours` — the CheckpointManager's rule
  (``checkpoint_management.py``, ``CheckpointManager._sweep``): an evicted
  checkpoint is preserved when ``t - N*3600 >= last_preserved``; it then
  becomes ``last_preserved``.

Composition: ``Any(LatestN(n), EveryNHours(h))`` — exactly TF's
``max_to_keep`` + ``keep_checkpoint_every_n_hours``. The first policy decides
tracking; the others are consulted, oldest first and in order, only for the
records it lets go; a record any of them preserves is preserved, the rest are
deleted.

The Saver evicts at most one record per save (``LatestN(n, max_evictions=1)``),
which matters only when more than ``n`` records were installed with
``set_last_checkpoints``; the manager evicts every excess record at once.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, Union, runtime_checkable

__all__ = [
    "CheckpointRecord", "Decision", "KeepAll", "LatestN", "EveryNHours", "EveryNHoursDeadline",
    "AnyPolicy", "Any", "record_checkpoint", "recover_manager_records", "RecoveredRecords",
    "saver_policy", "manager_policy",
]

SECONDS_PER_HOUR = 3600.0  # TF multiplies hours by 3600 (float) in both rules


@dataclass(frozen=True)
class CheckpointRecord:
    """One checkpoint: its prefix (as stored in the state file) and its save time (Unix s)."""

    path: str
    time: float


Records = tuple[CheckpointRecord, ...]
State = Union[float, tuple, None]


@dataclass(frozen=True)
class Decision:
    """What a policy decided for a tuple of records (all tuples oldest → newest)."""

    kept: Records
    to_delete: Records = ()
    to_preserve: Records = ()
    state: State = None

    @property
    def kept_paths(self) -> list[str]:
        return [r.path for r in self.kept]


def _as_records(records: Iterable[CheckpointRecord | tuple[str, float]]) -> Records:
    out = []
    for r in records:
        if isinstance(r, CheckpointRecord):
            out.append(r)
        else:
            path, t = r
            out.append(CheckpointRecord(path, float(t)))
    return tuple(out)


def record_checkpoint(records: Iterable[CheckpointRecord | tuple[str, float]], path: str,
                      time: float) -> Records:
    """``records`` with ``path`` (re)appended as the newest, saved at ``time``.

    A path saved again moves to the end (both TF's Saver and manager do this).
    """
    return tuple(r for r in _as_records(records) if r.path != path) + (CheckpointRecord(path, time),)


@runtime_checkable
class TrackingPolicy(Protocol):
    """Chooses which records stay tracked; the others are candidates for deletion."""

    def decide(self, records: Iterable[CheckpointRecord], state: State = None,
               now: float | None = None) -> Decision: ...


@runtime_checkable
class PreservationPolicy(Protocol):
    """Offered one evicted record at a time: keep its files on disk, or not."""

    def initial_state(self, now: float) -> float: ...

    def offer(self, record: CheckpointRecord, state: float) -> tuple[bool, float]: ...


@dataclass(frozen=True)
class KeepAll:
    """Track every checkpoint (``max_to_keep=None`` for the CheckpointManager)."""

    def decide(self, records: Iterable[CheckpointRecord], state: State = None,
               now: float | None = None) -> Decision:
        return Decision(kept=_as_records(records), state=state)


@dataclass(frozen=True)
class LatestN:
    """Track the ``n`` newest checkpoints; evict the oldest beyond them.

    ``max_evictions`` bounds how many are evicted per call (TF's Saver: 1).
    """

    n: int
    max_evictions: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.n, int) or isinstance(self.n, bool) or self.n < 1:
            raise ValueError(f"LatestN needs a positive integer, got {self.n!r}")
        if self.max_evictions is not None and self.max_evictions < 0:
            raise ValueError(f"max_evictions must be >= 0 or None, got {self.max_evictions!r}")

    def decide(self, records: Iterable[CheckpointRecord], state: State = None,
               now: float | None = None) -> Decision:
        recs = _as_records(records)
        excess = max(0, len(recs) - self.n)
        if self.max_evictions is not None:
            excess = min(excess, self.max_evictions)
        return Decision(kept=recs[excess:], to_delete=recs[:excess], state=state)


def _check_hours(hours: float) -> float:
    hours = float(hours)
    if math.isnan(hours) or hours <= 0:
        raise ValueError(f"hours must be a positive number, got {hours!r}")
    return hours


@dataclass(frozen=True)
class EveryNHoursDeadline:
    """TF Saver's ``keep_checkpoint_every_n_hours``: a moving deadline.

    State: the deadline (``_next_checkpoint_time``), initially ``now + N h``.
    An evicted record with ``time > deadline`` is preserved and the deadline
    advances by N hours. Records set with ``set_last_checkpoints`` carry
    ``time = +inf`` and are therefore always preserved.
    """

    hours: float

    def __post_init__(self) -> None:
        # TF's Saver accepts any number here: 0 keeps every evicted checkpoint saved after
        # build time (the deadline never moves), so only NaN is refused.
        hours = float(self.hours)
        if math.isnan(hours):
            raise ValueError("hours must be a number, got nan")
        object.__setattr__(self, "hours", hours)

    @property
    def seconds(self) -> float:
        return self.hours * SECONDS_PER_HOUR

    def initial_state(self, now: float) -> float:
        return now + self.seconds

    def offer(self, record: CheckpointRecord, state: float) -> tuple[bool, float]:
        if record.time > state:
            return True, state + self.seconds
        return False, state

    def decide(self, records: Iterable[CheckpointRecord], state: State = None,
               now: float | None = None) -> Decision:
        """Standalone use: every record is offered; unpreserved ones are deleted."""
        return _offer_all(self, _as_records(records), state, now)


@dataclass(frozen=True)
class EveryNHours:
    """TF CheckpointManager's ``keep_checkpoint_every_n_hours``.

    State: ``last_preserved_timestamp``; initially ``now - 1`` (TF sets the clock
    back one second for a directory without a state file). An evicted record
    with ``time - N h >= last_preserved`` is preserved and becomes the new
    ``last_preserved``.
    """

    hours: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "hours", _check_hours(self.hours))

    @property
    def seconds(self) -> float:
        return self.hours * SECONDS_PER_HOUR

    def initial_state(self, now: float) -> float:
        return now - 1.0

    def offer(self, record: CheckpointRecord, state: float) -> tuple[bool, float]:
        if record.time - self.seconds >= state:
            return True, record.time
        return False, state

    def decide(self, records: Iterable[CheckpointRecord], state: State = None,
               now: float | None = None) -> Decision:
        """Standalone use: every record is offered; unpreserved ones are deleted."""
        return _offer_all(self, _as_records(records), state, now)


def _initial(policy: PreservationPolicy, state: State, now: float | None) -> float:
    if state is not None:
        return float(state)  # type: ignore[arg-type]
    if now is None:
        raise ValueError(f"{type(policy).__name__}: pass a state or `now` to start one")
    return policy.initial_state(now)


def _offer_all(policy: PreservationPolicy, recs: Records, state: State,
               now: float | None) -> Decision:
    s = _initial(policy, state, now)
    keep, drop = [], []
    for r in recs:
        preserved, s = policy.offer(r, s)
        (keep if preserved else drop).append(r)
    return Decision(kept=(), to_delete=tuple(drop), to_preserve=tuple(keep), state=s)


@dataclass(frozen=True)
class AnyPolicy:
    """``Any(tracking, *preservers)``: files survive if any policy keeps them.

    State: a tuple with one entry per preserver (``None`` entries are started
    from ``now``). Preservers are consulted in order for each record the
    tracking policy evicts, oldest first; the first that preserves a record
    takes it (later ones are not asked, so their state does not move).
    """

    tracking: TrackingPolicy
    preservers: tuple[PreservationPolicy, ...] = field(default=())

    def __init__(self, tracking: TrackingPolicy, *preservers: PreservationPolicy) -> None:
        object.__setattr__(self, "tracking", tracking)
        object.__setattr__(self, "preservers", tuple(preservers))

    def initial_state(self, now: float) -> tuple[float, ...]:
        return tuple(p.initial_state(now) for p in self.preservers)

    def decide(self, records: Iterable[CheckpointRecord], state: State = None,
               now: float | None = None) -> Decision:
        if state is None:
            state = (None,) * len(self.preservers)
        if not isinstance(state, tuple) or len(state) != len(self.preservers):
            raise ValueError(f"state must be a tuple of {len(self.preservers)} entries, got {state!r}")
        states = [_initial(p, s, now) for p, s in zip(self.preservers, state)]
        base = self.tracking.decide(records)
        to_delete, to_preserve = [], []
        for r in base.to_delete:
            for i, p in enumerate(self.preservers):
                preserved, states[i] = p.offer(r, states[i])
                if preserved:
                    to_preserve.append(r)
                    break
            else:
                to_delete.append(r)
        return Decision(kept=base.kept, to_delete=tuple(to_delete),
                        to_preserve=tuple(base.to_preserve) + tuple(to_preserve),
                        state=tuple(states))


Any = AnyPolicy  # Orbax's spelling


def saver_policy(max_to_keep: int | None, keep_checkpoint_every_n_hours: float) -> AnyPolicy | None:
    """The policy of a ``tf.compat.v1.train.Saver``; ``None`` when it tracks nothing.

    ``max_to_keep`` None or 0: TF keeps no list at all (the state file names
    only the latest checkpoint) and deletes nothing.
    """
    if not max_to_keep:
        return None
    if max_to_keep < 0:
        raise ValueError(f"max_to_keep must be >= 0 or None, got {max_to_keep}")
    return AnyPolicy(LatestN(int(max_to_keep), max_evictions=1),
                     EveryNHoursDeadline(keep_checkpoint_every_n_hours))


def manager_policy(max_to_keep: int | None,
                   keep_checkpoint_every_n_hours: float | None) -> AnyPolicy:
    """The policy of a ``tf.train.CheckpointManager`` (state: ``(last_preserved,)`` or ``()``).

    ``max_to_keep=None`` keeps and tracks everything (no preservation either,
    as in TF, whose sweep returns early).
    """
    if max_to_keep is None:
        return AnyPolicy(KeepAll())
    tracking = LatestN(int(max_to_keep))
    if keep_checkpoint_every_n_hours:
        return AnyPolicy(tracking, EveryNHours(keep_checkpoint_every_n_hours))
    return AnyPolicy(tracking)


@dataclass(frozen=True)
class RecoveredRecords:
    """What a CheckpointManager continues with after reading a state file."""

    records: Records
    last_preserved_timestamp: float
    clock_went_backwards: bool = False


def recover_manager_records(paths: Sequence[str] | None, timestamps: Sequence[float] | None,
                            last_preserved_timestamp: float | None, now: float) -> RecoveredRecords:
    """TF CheckpointManager's recovery of its list from a state file (pure).

    ``paths is None`` means "no state file": nothing is tracked and
    ``last_preserved = now - 1``. Otherwise: ``last_preserved`` is the file's
    value, lowered to ``now`` if the clock went backwards; missing timestamps
    default to ``last_preserved``; each timestamp is ``min``'ed with ``now``;
    only records newer than ``last_preserved`` are tracked again.
    """
    if paths is None:
        return RecoveredRecords((), now - 1.0)
    last = float(last_preserved_timestamp or 0.0)
    backwards = now < last
    if backwards:
        last = now
    paths = list(paths)
    times = list(timestamps) if timestamps else [last] * len(paths)
    recs = []
    for p, t in zip(paths, times):
        t = min(float(t), now)
        if t > last:
            # TF keeps an OrderedDict: a repeated path keeps its first position, last time.
            for i, r in enumerate(recs):
                if r.path == p:
                    recs[i] = CheckpointRecord(p, t)
                    break
            else:
                recs.append(CheckpointRecord(p, t))
    return RecoveredRecords(tuple(recs), last, backwards)
