"""Retention policies: tables of "records in -> kept / deleted / preserved out".

Includes TF's exact sequences (STATE_AND_SAVER.md §3.5 for the Saver, §4 for
the CheckpointManager) and a model-based check against a literal transcription
of TF's two algorithms, driven by hypothesis.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tensorkeep.checkpoint import naming
from tensorkeep.checkpoint.retention import (
    Any, AnyPolicy, CheckpointRecord as R, Decision, EveryNHours, EveryNHoursDeadline, KeepAll,
    LatestN, manager_policy, record_checkpoint, recover_manager_records, saver_policy,
)

H = 3600.0


def paths(recs):
    return [r.path for r in recs]


# ---------------------------------------------------------------- building blocks

def test_record_checkpoint_moves_resaved_path_to_end():
    recs = record_checkpoint([], "a", 1.0)
    recs = record_checkpoint(recs, "b", 2.0)
    recs = record_checkpoint(recs, "a", 3.0)
    assert recs == (R("b", 2.0), R("a", 3.0))
    assert record_checkpoint([("x", 1)], "y", 2) == (R("x", 1.0), R("y", 2.0))


@pytest.mark.parametrize("n, given, kept, deleted", [
    (2, [], [], []),
    (2, ["a"], ["a"], []),
    (2, ["a", "b"], ["a", "b"], []),
    (2, ["a", "b", "c"], ["b", "c"], ["a"]),
    (1, ["a", "b", "c", "d"], ["d"], ["a", "b", "c"]),
    (5, ["a", "b", "c"], ["a", "b", "c"], []),
])
def test_latest_n_table(n, given, kept, deleted):
    d = LatestN(n).decide([R(p, i) for i, p in enumerate(given)])
    assert (paths(d.kept), paths(d.to_delete), d.to_preserve) == (kept, deleted, ())


def test_latest_n_with_max_evictions_is_the_savers_one_per_save():
    d = LatestN(2, max_evictions=1).decide([R(p, 0) for p in "abcde"])
    assert paths(d.kept) == ["b", "c", "d", "e"] and paths(d.to_delete) == ["a"]


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, None])
def test_latest_n_rejects_non_positive(bad):
    with pytest.raises(ValueError):
        LatestN(bad)


@pytest.mark.parametrize("bad", [0, -2, float("nan")])
def test_hours_rejects_non_positive(bad):
    with pytest.raises(ValueError):
        EveryNHours(bad)


def test_deadline_accepts_zero_hours_like_tf():
    """TF's Saver with keep_checkpoint_every_n_hours=0 keeps every evicted checkpoint."""
    with pytest.raises(ValueError):
        EveryNHoursDeadline(float("nan"))
    s = OurSaver(1, 0.0, build_time=10.0)
    for i in range(4):
        s.save(f"m-{i}", 11.0 + i)
    assert s.preserved == ["m-0", "m-1", "m-2"] and s.deleted == []
    with pytest.raises(ValueError):
        saver_policy(-1, 1.0)


def test_keep_all_keeps_everything_and_passes_state():
    recs = [R(p, 0) for p in "abc"]
    assert KeepAll().decide(recs, state=7.0) == Decision(tuple(recs), (), (), 7.0)


def test_policies_are_frozen_values():
    p = Any(LatestN(2), EveryNHours(1))
    assert p == AnyPolicy(LatestN(2), EveryNHours(1.0))
    with pytest.raises(Exception):
        p.tracking = KeepAll()  # type: ignore[misc]
    assert hash(LatestN(3)) == hash(LatestN(3))


# ---------------------------------------------------------------- every-N-hours rules

@pytest.mark.parametrize("deadline, t, preserved, new_deadline", [
    (100.0, 50.0, False, 100.0),
    (100.0, 100.0, False, 100.0),        # strictly greater than the deadline
    (100.0, 100.5, True, 100.0 + H),     # advances by N hours, not to t + N hours
    (100.0, 10 * H, True, 100.0 + H),
    (100.0, math.inf, True, 100.0 + H),  # set_last_checkpoints entries
])
def test_deadline_offer(deadline, t, preserved, new_deadline):
    assert EveryNHoursDeadline(1).offer(R("p", t), deadline) == (preserved, new_deadline)


@pytest.mark.parametrize("last, t, preserved, new_last", [
    (0.0, H - 1, False, 0.0),
    (0.0, H, True, H),                   # ">=": exactly N hours later is preserved
    (10.0, 5 * H, True, 5 * H),          # becomes the new last_preserved
])
def test_since_last_preserved_offer(last, t, preserved, new_last):
    assert EveryNHours(1).offer(R("p", t), last) == (preserved, new_last)


def test_initial_states():
    assert EveryNHoursDeadline(2).initial_state(1000.0) == 1000.0 + 2 * H
    assert EveryNHours(2).initial_state(1000.0) == 999.0
    assert Any(LatestN(1), EveryNHours(1), EveryNHoursDeadline(1)).initial_state(0.0) == (-1.0, H)


def test_state_needs_now_or_value():
    with pytest.raises(ValueError):
        Any(LatestN(1), EveryNHours(1)).decide([R("a", 0), R("b", 1)])
    with pytest.raises(ValueError):
        Any(LatestN(1), EveryNHours(1)).decide([R("a", 0)], state=(1.0, 2.0))


def test_standalone_preserver_decide():
    d = EveryNHours(1).decide([R("a", 0.5 * H), R("b", 1.5 * H), R("c", 2 * H), R("d", 2.6 * H)],
                              state=0.0)
    assert paths(d.to_preserve) == ["b", "d"] and paths(d.to_delete) == ["a", "c"]
    assert d.state == 2.6 * H and d.kept == ()


def test_any_consults_preservers_in_order_and_first_wins():
    p = Any(LatestN(1), EveryNHours(1), EveryNHoursDeadline(1))
    d = p.decide([R("a", 2 * H), R("b", 3 * H)], state=(0.0, 0.0))
    # "a" is preserved by the first preserver; the second is not asked, its state stays.
    assert paths(d.kept) == ["b"] and paths(d.to_preserve) == ["a"] and d.state == (2 * H, 0.0)


# ---------------------------------------------------------------- TF Saver, literally

class TFSaverModel:
    """TF's Saver bookkeeping transcribed from STATE_AND_SAVER.md §3.5 (the oracle)."""

    def __init__(self, max_to_keep, hours, build_time):
        self.max_to_keep = max_to_keep or 0
        self.hours = hours
        self.last = []              # (path, t)
        self.to_be_deleted = []
        self.next_time = build_time + hours * 3600
        self.deleted, self.preserved = [], []

    def save(self, path, t):
        if self.max_to_keep:
            self.last = [p for p in self.last if p[0] != path]
            self.last.append((path, t))
            if len(self.last) > self.max_to_keep:
                self.to_be_deleted.append(self.last.pop(0))
        if self.to_be_deleted:
            p = self.to_be_deleted.pop(0)
            if p[1] > self.next_time:
                self.next_time += self.hours * 3600
                self.preserved.append(p[0])
            else:
                self.deleted.append(p[0])


class OurSaver:
    """How graph.saver drives the policy (same contract)."""

    def __init__(self, max_to_keep, hours, build_time):
        self.policy = saver_policy(max_to_keep, hours)
        self.records = ()
        self.state = self.policy.initial_state(build_time) if self.policy else None
        self.deleted, self.preserved = [], []

    def save(self, path, t):
        if self.policy is None:
            return
        d = self.policy.decide(record_checkpoint(self.records, path, t), self.state)
        self.records, self.state = d.kept, d.state
        self.deleted += paths(d.to_delete)
        self.preserved += paths(d.to_preserve)


def test_saver_max_to_keep_2_four_saves():
    """OBSERVED §2: max_to_keep=2, steps 1..4 → keeps 3,4; 1,2 deleted."""
    s = OurSaver(2, 10000.0, build_time=1000.0)
    for step in range(1, 5):
        s.save(f"save/model.ckpt-{step}", 1000.0 + step)
    assert paths(s.records) == ["save/model.ckpt-3", "save/model.ckpt-4"]
    assert s.deleted == ["save/model.ckpt-1", "save/model.ckpt-2"] and s.preserved == []


@pytest.mark.parametrize("max_to_keep", [None, 0])
def test_saver_keep_everything_tracks_nothing(max_to_keep):
    assert saver_policy(max_to_keep, 10000.0) is None


def test_saver_every_n_hours_moving_deadline_sequence():
    """max_to_keep=1, N=1h, built at t=0; saves every 40 minutes.

    Evictions happen at each save from the second on, evicting the previous
    one. The deadline starts at 1h and moves by exactly 1h per preserved
    checkpoint, independently of when that checkpoint was saved.
    """
    s = OurSaver(1, 1.0, build_time=0.0)
    times = [i * 2400.0 for i in range(8)]   # 0, 40m, 80m, 120m, 160m, 200m, 240m, 280m
    for i, t in enumerate(times):
        s.save(f"m-{i}", t)
    # evicted in order m-0 .. m-6 with times 0, 2400, 4800, 7200, 9600, 12000, 14400
    # deadline 3600: m-0 del, m-1 del, m-2 (4800>3600) keep → 7200; m-3 (7200) del;
    # m-4 (9600>7200) keep → 10800; m-5 (12000>10800) keep → 14400; m-6 (14400) del.
    assert s.preserved == ["m-2", "m-4", "m-5"]
    assert s.deleted == ["m-0", "m-1", "m-3", "m-6"]
    assert paths(s.records) == ["m-7"] and s.state == (14400.0,)


def test_saver_set_last_checkpoints_inf_time_is_preserved():
    s = OurSaver(2, 10000.0, build_time=0.0)
    s.records = (R("old-a", math.inf), R("old-b", math.inf))
    s.save("new-1", 5.0)
    assert s.preserved == ["old-a"] and s.deleted == []
    assert paths(s.records) == ["old-b", "new-1"]
    assert s.state == (10000.0 * H * 2,)


def test_saver_long_installed_list_evicts_one_per_save():
    s = OurSaver(2, 10000.0, build_time=0.0)
    s.records = tuple(R(f"o{i}", 1.0) for i in range(5))
    s.save("n", 2.0)
    assert s.deleted == ["o0"] and paths(s.records) == ["o1", "o2", "o3", "o4", "n"]


@settings(max_examples=200, deadline=None)
@given(max_to_keep=st.sampled_from([None, 0, 1, 2, 3, 5]),
       hours=st.sampled_from([0.0, 0.5, 1.0, 10000.0]),
       ops=st.lists(st.tuples(st.integers(0, 6), st.floats(0, 4 * H)), max_size=30))
def test_saver_matches_tf_model(max_to_keep, hours, ops):
    ours, tf = OurSaver(max_to_keep, hours, 0.0), TFSaverModel(max_to_keep, hours, 0.0)
    t = 0.0
    for step, dt in ops:
        t += dt
        ours.save(f"p-{step}", t)
        tf.save(f"p-{step}", t)
        assert paths(ours.records) == [p for p, _ in tf.last]
        assert ours.deleted == tf.deleted and ours.preserved == tf.preserved


# ---------------------------------------------------------------- TF CheckpointManager, literally

class TFManagerModel:
    """TF's CheckpointManager sweep transcribed from STATE_AND_SAVER.md §4 (the oracle)."""

    def __init__(self, max_to_keep, hours, last_preserved):
        self.max_to_keep, self.hours, self.last_preserved = max_to_keep, hours, last_preserved
        self.maybe_delete = {}  # insertion ordered
        self.deleted, self.preserved = [], []

    def save(self, path, t):
        self.maybe_delete.pop(path, None)
        self.maybe_delete[path] = t
        if not self.max_to_keep:
            return
        while len(self.maybe_delete) > self.max_to_keep:
            fn = next(iter(self.maybe_delete))
            ts = self.maybe_delete.pop(fn)
            if self.hours and ts - self.hours * 3600.0 >= self.last_preserved:
                self.last_preserved = ts
                self.preserved.append(fn)
                continue
            self.deleted.append(fn)


def test_manager_max_to_keep_2_keeps_latest_two():
    """OBSERVED §5: CheckpointManager(max_to_keep=2) saves 10, 11, 12 → 11, 12."""
    pol = manager_policy(2, None)
    recs, state = (), ()
    deleted = []
    for n, t in [(10, 1.0), (11, 2.0), (12, 3.0)]:
        d = pol.decide(record_checkpoint(recs, f"ckpt-{n}", t), state)
        recs, state = d.kept, d.state
        deleted += paths(d.to_delete)
    assert paths(recs) == ["ckpt-11", "ckpt-12"] and deleted == ["ckpt-10"]


def test_manager_every_n_hours_sequence():
    """max_to_keep=1, N=1h, last_preserved starts at now-1 = -1; saves every 40 min."""
    pol = manager_policy(1, 1.0)
    state = pol.initial_state(0.0)
    assert state == (-1.0,)
    recs, deleted, preserved = (), [], []
    for i in range(8):
        d = pol.decide(record_checkpoint(recs, f"m-{i}", i * 2400.0), state)
        recs, state = d.kept, d.state
        deleted += paths(d.to_delete)
        preserved += paths(d.to_preserve)
    # evicted: m-0 (0: 0-3600 < -1) del; m-1 (2400) del; m-2 (4800-3600=1200 >= -1) keep, last=4800;
    # m-3 (7200-3600=3600 < 4800) del; m-4 (9600-3600=6000 >= 4800) keep, last=9600;
    # m-5 (12000-3600=8400 < 9600) del; m-6 (14400-3600=10800 >= 9600) keep, last=14400.
    assert preserved == ["m-2", "m-4", "m-6"] and deleted == ["m-0", "m-1", "m-3", "m-5"]
    assert state == (14400.0,)


def test_manager_keep_all():
    pol = manager_policy(None, 1.0)
    d = pol.decide([R(f"c{i}", i * H) for i in range(10)], ())
    assert len(d.kept) == 10 and not d.to_delete and not d.to_preserve


@settings(max_examples=200, deadline=None)
@given(max_to_keep=st.sampled_from([None, 1, 2, 4]),
       hours=st.sampled_from([None, 0.5, 2.0]),
       ops=st.lists(st.tuples(st.integers(0, 6), st.floats(0, 3 * H)), max_size=30))
def test_manager_matches_tf_model(max_to_keep, hours, ops):
    pol = manager_policy(max_to_keep, hours)
    state = pol.initial_state(0.0)
    tf = TFManagerModel(max_to_keep, hours, -1.0)
    recs, deleted, preserved, t = (), [], [], 0.0
    for n, dt in ops:
        t += dt
        d = pol.decide(record_checkpoint(recs, f"c-{n}", t), state)
        recs, state = d.kept, d.state
        deleted += paths(d.to_delete)
        preserved += paths(d.to_preserve)
        tf.save(f"c-{n}", t)
        assert paths(recs) == list(tf.maybe_delete) and deleted == tf.deleted
        assert preserved == tf.preserved
        if hours and max_to_keep:
            assert state == (tf.last_preserved,)


# ---------------------------------------------------------------- manager recovery

def test_recover_without_state_file():
    r = recover_manager_records(None, None, None, now=100.0)
    assert r.records == () and r.last_preserved_timestamp == 99.0


def test_recover_filters_by_last_preserved_and_clamps_to_now():
    r = recover_manager_records(["a", "b", "c"], [5.0, 20.0, 500.0], 10.0, now=100.0)
    assert r.records == (R("b", 20.0), R("c", 100.0)) and r.last_preserved_timestamp == 10.0
    assert not r.clock_went_backwards


def test_recover_missing_timestamps_default_to_last_preserved_so_nothing_is_tracked():
    r = recover_manager_records(["a", "b"], [], 10.0, now=100.0)
    assert r.records == ()


def test_recover_clock_went_backwards():
    r = recover_manager_records(["a"], [300.0], 200.0, now=100.0)
    assert r.clock_went_backwards and r.last_preserved_timestamp == 100.0 and r.records == ()


def test_recover_old_state_file_without_timestamps_tracks_nothing():
    # A Saver-written state (no fields 3-4): last_preserved 0.0, timestamps default to it.
    r = recover_manager_records(["x-1", "x-2"], [], 0.0, now=1e9)
    assert r.records == () and r.last_preserved_timestamp == 0.0


# ---------------------------------------------------------------- naming

@pytest.mark.parametrize("fn, want", [
    (lambda: naming.meta_graph_filename("model.ckpt-1000"), "model.ckpt-1000.meta"),
    (lambda: naming.meta_graph_filename("m-?????-of-00002"), "m.meta"),
    (lambda: naming.meta_graph_filename("m-00001-of-00002", "txt"), "m.txt"),
    (lambda: naming.sharded_filename("/d/p_temp/part", 1, 2), "/d/p_temp/part-00001-of-00002"),
    (lambda: naming.sharded_filespec("m", 3), "m-?????-of-00003"),
    (lambda: naming.data_filename("p", 0, 1), "p.data-00000-of-00001"),
    (lambda: naming.data_filename("p", 12, 100000), "p.data-00012-of-100000"),
    (lambda: naming.index_filename("p"), "p.index"),
    (lambda: naming.checkpoint_name("save/model.ckpt", 1000), "save/model.ckpt-1000"),
    (lambda: naming.checkpoint_name("save/model.ckpt", 1000, True), "save/model.ckpt-00001000"),
    (lambda: naming.checkpoint_name("m", None, True), "m"),
    (lambda: naming.checkpoint_name("m", -5, True), "m--0000005"),
    (lambda: naming.sharded_temp_prefix("/d/p"), "/d/p_temp/part"),
    (lambda: naming.sharded_temp_prefix("s3://b/p"), "s3://b/p.part"),
    (lambda: naming.state_filename("d"), "d/checkpoint"),
    (lambda: naming.state_filename("d", "mystate"), "d/mystate"),
])
def test_naming_table(fn, want):
    assert fn() == want


@pytest.mark.parametrize("prefix, version, yes, no", [
    ("/d/model.ckpt-3", 2,
     ["model.ckpt-3.index", "model.ckpt-3.data-00000-of-00001", "model.ckpt-3.meta"],
     ["model.ckpt-30.index", "model.ckpt-3", "model.ckpt-3.data-0-of-1", "checkpoint"]),
    ("/d/m[1]*", 2, ["m[1]*.index", "m[1]*.meta"], ["m1x.index", "m[1]x.index"]),
    ("/d/model.ckpt", 1, ["model.ckpt", "model.ckpt.meta"], ["model.ckpt.index", "model.ckptx"]),
    ("/d/m-?????-of-00002", 1, ["m-00000-of-00002", "m-00001-of-00002", "m.meta"],
     ["m-00000-of-00003", "m-?????-of-00002x", "m"]),
])
def test_checkpoint_file_pattern(prefix, version, yes, no):
    pat = naming.checkpoint_file_pattern(prefix, version)
    for name in yes:
        assert pat.fullmatch(name), name
    for name in no:
        assert not pat.fullmatch(name), name
