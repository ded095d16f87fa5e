"""Shared machinery of the reliability tests (issue 7) and of ``tools/reliability_report.py``.

* **Crash trials** (:class:`Zygote`, :func:`run_crash_trials`): a helper process
  imports tensorkeep once, then for every trial forks a child that runs one save
  of a *flow* (``tensorkeep.save``, sharded, state file rotation, ...) and kills
  it with SIGKILL after a random delay in ``[0, measured save duration]``. After
  each trial the test process checks the directory against a model of what must
  be there (:func:`check_dir`).
* **Decoder fuzzing** (:data:`DECODERS`, :func:`run_decoder`): each entry feeds
  arbitrary bytes to one decoder and lets only ``tensorkeep.errors`` escape,
  under an allocation bound (tracemalloc) and a time bound.
* **Corpus** (:func:`build_corpus`): small real checkpoints for truncation and
  bit-flip sweeps.
* **Fault injection** (:class:`FaultyOS`): a stand-in for the ``os`` module of
  ``tensorkeep.io.files`` that fails the n-th call of chosen functions.

Run as a script (``python tests/reliability_helpers.py zygote``) it is the
crash-trial helper process; it speaks JSON lines on stdin/stdout.
"""

from __future__ import annotations

import errno
import json
import os
import random
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import tensorkeep  # noqa: E402
from tensorkeep import errors  # noqa: E402

# --------------------------------------------------------------------------- values

def values_for(step: int) -> dict[str, Any]:
    """The tensors saved at ``step``: small, distinct per step, several dtypes."""
    return {
        "dense/kernel": (np.arange(12, dtype=np.float32).reshape(3, 4) + step * 0.5),
        "dense/bias": np.full((4,), step, dtype=np.float64),
        "global_step": np.array(step, dtype=np.int64),
        "vocab": np.array([b"step", str(step).encode(), b"\x00\xff"], dtype=object),
        "emb": (np.arange(64, dtype=np.int32) * (step + 1)).reshape(8, 8),
    }


def assert_values(got: Any, step: int, where: str,
                  expect: Callable[[int], dict[str, Any]] = values_for) -> None:
    want = expect(step)
    keys = set(got)
    if keys != set(want):
        raise AssertionError(f"{where}: keys {sorted(keys)} != {sorted(want)}")
    for k, v in want.items():
        g = np.asarray(got[k])
        if g.shape != v.shape or not np.array_equal(g, v):
            raise AssertionError(f"{where}: wrong value for {k!r} at step {step}")


STEP_RE = re.compile(r"ckpt-(\d+)$")


def step_of(prefix: str) -> int:
    m = STEP_RE.search(prefix)
    if not m:
        raise AssertionError(f"unexpected checkpoint name {prefix}")
    return int(m.group(1))


# --------------------------------------------------------------------------- flows

@dataclass(frozen=True)
class Flow:
    """One way of saving: ``save(dir, step)`` runs in the killed child.

    ``keep``: how many newest checkpoints must survive (None: all of them);
    ``state``: whether the flow maintains a ``checkpoint`` state file.
    """

    name: str
    save: Callable[[str, int], None]
    keep: int | None
    state: bool
    available: Callable[[], bool] = lambda: True
    # whether the flow removes data files that an interrupted *deletion* of an
    # evicted checkpoint left without their index (the state functions alone cannot)
    sweeps_deleted: bool = True
    expect: Callable[[int], dict[str, Any]] = values_for     # the tensors of step n


def _save_plain(d: str, step: int) -> None:
    tensorkeep.save(values_for(step), os.path.join(d, f"ckpt-{step}"))


def _save_sharded(d: str, step: int) -> None:
    tensorkeep.save(values_for(step), os.path.join(d, f"ckpt-{step}"), num_shards=3)


def _save_rotate(d: str, step: int) -> None:
    """save + the state file functions + deletion beyond max_to_keep=2, as TF1 users do."""
    from tensorkeep.checkpoint import state

    prefix = os.path.join(d, f"ckpt-{step}")
    tensorkeep.save(values_for(step), prefix)
    old = state.get_checkpoint_state(d)
    paths = [p for p in (old.all_model_checkpoint_paths if old else []) if p != prefix]
    paths.append(prefix)
    kept, evicted = paths[-2:], paths[:-2]
    state.update_checkpoint_state(d, prefix, kept)
    for p in evicted:
        state.remove_checkpoint(p)


def _save_v1(d: str, step: int) -> None:
    """A V1 (SaveSlices) checkpoint: one SSTable file at the prefix."""
    from tensorkeep.bundle.v1 import write_v1

    vals = values_for(step)
    names = sorted(vals)
    write_v1(os.path.join(d, f"ckpt-{step}"), names, [""] * len(names), [vals[n] for n in names])


def _saver_values(step: int) -> dict[str, Any]:
    v = values_for(step)
    return {k: v[k] for k in ("dense/kernel", "dense/bias", "global_step", "emb")}


def _save_saver(d: str, step: int, *, sharded: bool = False, version: int = 2) -> None:
    """tf.compat.v1.train.Saver(max_to_keep=2) in a fresh graph, recovering the state file."""
    import tensorkeep as tf
    from tensorkeep.checkpoint import state

    with tf.Graph().as_default():
        for name, value in _saver_values(step).items():
            tf.Variable(value, name=name)
        saver = tf.compat.v1.train.Saver(
            max_to_keep=2, sharded=sharded,
            write_version=tf.compat.v1.train.SaverDef.V1 if version == 1 else tf.compat.v1.train.SaverDef.V2)
        old = state.get_checkpoint_state(d)
        if old is not None:
            saver.recover_last_checkpoints(list(old.all_model_checkpoint_paths))
        with tf.compat.v1.Session() as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            saver.save(sess, os.path.join(d, "ckpt"), global_step=step, write_meta_graph=False)


def _has(module: str, name: str | None = None) -> Callable[[], bool]:
    def check() -> bool:
        import importlib

        try:
            mod = importlib.import_module(module)
        except ImportError:
            return False
        return name is None or hasattr(mod, name)
    return check


def _save_manager(d: str, step: int) -> None:
    """tensorkeep.CheckpointManager(max_to_keep=2), made afresh (recovering the state file)."""
    tensorkeep.CheckpointManager(d, max_to_keep=2).save(values_for(step), step=step)


FLOWS: dict[str, Flow] = {
    "save": Flow("save", _save_plain, keep=None, state=False),
    "save_sharded": Flow("save_sharded", _save_sharded, keep=None, state=False),
    "rotate": Flow("rotate", _save_rotate, keep=2, state=True, sweeps_deleted=False),
    "v1": Flow("v1", _save_v1, keep=None, state=False, available=_has("tensorkeep.bundle.v1", "write_v1")),
    "saver": Flow("saver", _save_saver, keep=2, state=True, expect=_saver_values, sweeps_deleted=False,
                  available=_has("tensorkeep.graph.saver", "Saver")),
    "saver_sharded": Flow("saver_sharded", lambda d, s: _save_saver(d, s, sharded=True), keep=2,
                          state=True, expect=_saver_values, sweeps_deleted=False,
                          available=_has("tensorkeep.graph.saver", "Saver")),
    "saver_v1": Flow("saver_v1", lambda d, s: _save_saver(d, s, version=1), keep=2, state=True,
                     expect=_saver_values, sweeps_deleted=False, available=_has("tensorkeep.graph.saver", "Saver")),
    "manager": Flow("manager", _save_manager, keep=2, state=True,
                    available=_has("tensorkeep.manager", "CheckpointManager")),
}


def available_flows() -> list[str]:
    return [n for n, f in FLOWS.items() if f.available()]


# --------------------------------------------------------------------------- checking a directory

TEMP_RE = re.compile(r".+(?:\.tempstate\d{1,20}|\.tmp[0-9a-f]{32})", re.DOTALL)
DATA_RE = re.compile(r"(?P<p>.+)\.data-\d{5}-of-\d{5}")
STATE = "checkpoint"


@dataclass
class DirReport:
    complete: list[int] = field(default_factory=list)     # steps whose index exists
    temps: list[str] = field(default_factory=list)        # recognisable temporary files
    orphans: list[str] = field(default_factory=list)      # data files without an index
    latest: int | None = None
    listed: list[int] = field(default_factory=list)
    restored: int = 0      # checkpoints whose values were compared in this check


def _fingerprint(d: str, base: str) -> tuple:
    """(name, inode, size, mtime) of each file of checkpoint ``base``."""
    out = []
    for n in sorted(os.listdir(d)):
        if n in (base, base + ".index") or DATA_RE.fullmatch(n) and n.startswith(base + ".data-"):
            st = os.stat(os.path.join(d, n))
            out.append((n, st.st_ino, st.st_size, st.st_mtime_ns))
    return tuple(out)


def check_dir(d: str, flow: Flow, completed: list[int],
              verified: dict[int, tuple] | None = None) -> DirReport:
    """Assert the crash-safety model for ``d``; ``completed``: steps whose save returned.

    Every completed step that the flow keeps restores exactly; every checkpoint
    whose index exists restores exactly (an index is published last); the state
    file, if any, parses and names only complete checkpoints, and so does
    ``latest_checkpoint``; every other file is a recognisable leftover.
    """
    from tensorkeep.checkpoint import state

    rep = DirReport()
    names = sorted(os.listdir(d))
    if verified is not None:   # a checkpoint that is gone (rotated out) forgets its fingerprint
        for s in list(verified):
            if f"ckpt-{s}.index" not in names and f"ckpt-{s}" not in names:
                del verified[s]
    for n in names:
        if n.endswith(".index") and STEP_RE.search(n[:-6]):
            rep.complete.append(step_of(n[:-6]))
        elif STEP_RE.fullmatch(n):                       # a V1 checkpoint file
            rep.complete.append(step_of(n))
    rep.complete.sort()
    must_keep = completed if flow.keep is None else completed[-flow.keep:]
    for s in must_keep:
        if s not in rep.complete:
            raise AssertionError(f"{flow.name}: completed checkpoint ckpt-{s} is gone from {d}: {names}")
    for s in rep.complete:
        prefix = os.path.join(d, f"ckpt-{s}")
        fp = _fingerprint(d, f"ckpt-{s}")
        if verified is not None and verified.get(s) == fp:
            continue          # files untouched since their values were last compared
        assert_values(tensorkeep.load(prefix), s, prefix, flow.expect)
        rep.restored += 1
        if verified is not None:
            verified[s] = fp
    if flow.state:
        if completed and STATE not in names:
            raise AssertionError(f"{flow.name}: state file missing in {d}")
        if STATE in names:
            from tensorkeep.format.state import decode_state

            decode_state(open(os.path.join(d, STATE), "rb").read())   # must parse
            ckpt = state.get_checkpoint_state(d)
            assert ckpt is not None
            for p in ckpt.all_model_checkpoint_paths:
                s = step_of(p)
                if s not in rep.complete:
                    raise AssertionError(f"state file names partial or missing checkpoint {p}")
                rep.listed.append(s)
            for s in must_keep:
                if s not in rep.listed:
                    raise AssertionError(f"state file in {d} lost completed checkpoint {s}")
            latest = state.latest_checkpoint(d)
            if latest is not None:
                rep.latest = step_of(latest)
                assert rep.latest in rep.complete
                assert_values(tensorkeep.load(latest), rep.latest, latest, flow.expect)
            if completed and (rep.latest is None or rep.latest < completed[-1]):
                raise AssertionError(f"latest_checkpoint {rep.latest} older than completed {completed[-1]}")
    for n in names:
        if n == STATE or n.endswith(".index") or n.endswith(".meta") or STEP_RE.fullmatch(n):
            continue
        if TEMP_RE.fullmatch(n) or n.endswith("_temp") and os.path.isdir(os.path.join(d, n)):
            rep.temps.append(n)
            continue
        m = DATA_RE.fullmatch(n)
        if m:
            if not os.path.exists(os.path.join(d, m.group("p") + ".index")):
                rep.orphans.append(n)
            continue
        raise AssertionError(f"unrecognised file {n} in {d}")
    return rep


# --------------------------------------------------------------------------- the zygote

def _child_run(flow_name: str, d: str, step: int) -> None:
    FLOWS[flow_name].save(d, step)


def zygote_main() -> None:  # pragma: no cover - runs in the helper process
    """Serve trials: {"flow", "dir", "step", "delay"} -> {"status", "elapsed"}."""
    # Run every flow once before forking: the children then inherit its imports and
    # first-call caches, so a trial's time (and the kill delays drawn from it) is the
    # save itself, not module loading before any file is touched.
    warm = tempfile.mkdtemp(prefix="tk-zygote-warm-")
    try:
        for name, flow in FLOWS.items():
            if flow.available():
                os.makedirs(os.path.join(warm, name))
                flow.save(os.path.join(warm, name), 1)
    finally:
        shutil.rmtree(warm, ignore_errors=True)
    from tensorkeep.checkpoint import state  # noqa: F401
    from tensorkeep.format import state as _s  # noqa: F401
    import google.protobuf.text_format  # noqa: F401
    out = sys.stdout
    for line in sys.stdin:
        req = json.loads(line)
        r, w = os.pipe()
        t0 = time.perf_counter()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            code = 0
            try:
                _child_run(req["flow"], req["dir"], req["step"])
            except BaseException as exc:   # report, don't raise in a forked child
                os.write(w, f"{type(exc).__name__}: {exc}".encode()[:4000])
                code = 3
            os._exit(code)
        os.close(w)
        delay = req.get("delay")
        status = None
        if delay is not None:
            deadline = t0 + delay
            while True:
                done, st = os.waitpid(pid, os.WNOHANG)
                if done:
                    status = st
                    break
                left = deadline - time.perf_counter()
                if left <= 0:
                    os.kill(pid, signal.SIGKILL)
                    break
                time.sleep(min(left, 0.0005))
        if status is None:
            _, status = os.waitpid(pid, 0)
        elapsed = time.perf_counter() - t0
        msg = b""
        while True:
            chunk = os.read(r, 4096)
            if not chunk:
                break
            msg += chunk
        os.close(r)
        if os.WIFSIGNALED(status):
            result = "killed"
        else:
            result = "completed" if os.WEXITSTATUS(status) == 0 else "failed"
        out.write(json.dumps({"status": result, "elapsed": elapsed,
                              "error": msg.decode(errors="replace")}) + "\n")
        out.flush()


class Zygote:
    """The helper process that forks one child per trial (see module doc)."""

    def __init__(self, timeout: float = 60.0) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
        self.timeout = timeout
        self.proc = subprocess.Popen([sys.executable, __file__, "zygote"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, env=env, cwd=str(REPO))

    def trial(self, flow: str, d: str, step: int, delay: float | None) -> dict[str, Any]:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(json.dumps({"flow": flow, "dir": d, "step": step, "delay": delay}) + "\n")
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], self.timeout)
        if not ready:
            self.close()
            raise AssertionError(f"crash trial hung for {self.timeout}s ({flow}, step {step})")
        line = self.proc.stdout.readline()
        if not line:
            raise AssertionError(f"zygote died (rc={self.proc.poll()})")
        return json.loads(line)

    def close(self) -> None:
        if self.proc.poll() is None:
            if self.proc.stdin:
                self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> "Zygote":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


@dataclass
class CrashStats:
    flow: str
    trials: int = 0
    killed: int = 0
    completed: int = 0
    save_seconds: float = 0.0
    outcomes: Counter = field(default_factory=Counter)   # where the kill landed
    leftovers_seen: int = 0           # trials after which a temp file / orphan data remained
    leftovers_cleaned: int = 0        # ... and the next completed save removed them
    deletion_orphans: int = 0         # data files of evicted checkpoints whose deletion was cut
    checkpoints_verified: int = 0     # restores compared value by value
    lost: int = 0                     # completed checkpoints that vanished (must stay 0)

    def as_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["outcomes"] = dict(self.outcomes)
        return d


def _published(d: str, flow: Flow, step: int) -> bool:
    """Whether ``step`` was published before the kill (its index; and the state file names it)."""
    if not (os.path.exists(os.path.join(d, f"ckpt-{step}.index"))
            or os.path.exists(os.path.join(d, f"ckpt-{step}"))):
        return False
    if not flow.state:
        return True
    from tensorkeep.checkpoint import state

    ckpt = state.get_checkpoint_state(d)
    return ckpt is not None and any(step_of(p) == step for p in ckpt.all_model_checkpoint_paths)


def run_crash_trials(flow_name: str, base: str, trials: int, seed: int = 0,
                     zygote: Zygote | None = None) -> CrashStats:
    """``trials`` saves of ``flow_name`` into one directory, each SIGKILLed at a random moment.

    The step to save is always "last completed + 1", as a training job resumed
    after a crash does; so a killed step is saved again by the next trial.
    """
    flow = FLOWS[flow_name]
    rng = random.Random(seed)
    stats = CrashStats(flow_name)
    own = zygote is None
    z = zygote or Zygote()
    try:
        d = os.path.join(base, flow_name)
        os.makedirs(d, exist_ok=True)
        # calibrate: the duration of an uninterrupted save
        cal = os.path.join(base, flow_name + "_calibrate")
        os.makedirs(cal, exist_ok=True)
        durations = []
        for i in range(1, 8):
            r = z.trial(flow_name, cal, i, None)
            if r["status"] != "completed":
                raise AssertionError(f"calibration save failed: {r}")
            durations.append(r["elapsed"])
        # 1.25 x the median: most trials die mid-save, about one in five completes just
        # before its kill (so the cleanup by the next completed save is exercised too)
        duration = sorted(durations)[len(durations) // 2] * 1.25
        stats.save_seconds = duration
        # stratified: one delay drawn from each of ``trials`` equal slices of [0, duration]
        delays = [duration * (i + rng.random()) / trials for i in range(trials)]
        rng.shuffle(delays)
        completed: list[int] = []
        verified: dict[int, tuple] = {}
        pending_leftovers = False
        step = 1
        for delay in delays:
            r = z.trial(flow_name, d, step, delay)
            stats.trials += 1
            if r["status"] == "failed":
                raise AssertionError(f"{flow_name} save of step {step} failed: {r['error']}")
            published = r["status"] == "completed" or _published(d, flow, step)
            rep = check_dir(d, flow, completed + ([step] if published else []), verified)
            stats.checkpoints_verified += rep.restored
            if not flow.sweeps_deleted:
                kept_min = min(completed[-flow.keep:]) if completed and flow.keep else 0
                gone = [o for o in rep.orphans if step_of(DATA_RE.fullmatch(o).group("p")) < kept_min]
                stats.deletion_orphans = max(stats.deletion_orphans, len(gone))
                rep.orphans = [o for o in rep.orphans if o not in gone]
            if r["status"] == "completed":
                stats.completed += 1
                completed.append(step)
                if pending_leftovers:
                    if rep.temps or rep.orphans:
                        raise AssertionError(
                            f"{flow_name}: leftovers not cleaned by the next save: "
                            f"{rep.temps + rep.orphans}")
                    stats.leftovers_cleaned += 1
                    pending_leftovers = False
                stats.outcomes["completed"] += 1
                step += 1
            else:
                stats.killed += 1
                if step in rep.complete:
                    where = "after the checkpoint was published"
                    if flow.state and step not in rep.listed:
                        where = "after index, before state file"
                    elif flow.state:
                        where = "after state file (during cleanup)"
                elif rep.orphans:
                    where = "between data and index rename"
                elif rep.temps:
                    where = "while writing temporary files"
                else:
                    where = "before any file was created"
                stats.outcomes[where] += 1
                if rep.temps or rep.orphans:
                    stats.leftovers_seen += 1
                    pending_leftovers = True
                if published:
                    completed.append(step)      # the kill came after it was published
                    step += 1
        # a final uninterrupted save must leave nothing behind
        r = z.trial(flow_name, d, step, None)
        assert r["status"] == "completed", r
        completed.append(step)
        rep = check_dir(d, flow, completed)      # every checkpoint compared again
        stats.checkpoints_verified += rep.restored
        if not flow.sweeps_deleted:
            kept_min = min(completed[-flow.keep:]) if flow.keep else 0
            rep.orphans = [o for o in rep.orphans
                           if step_of(DATA_RE.fullmatch(o).group("p")) >= kept_min]
        if rep.temps or rep.orphans:
            raise AssertionError(f"{flow_name}: leftovers after a clean save: {rep.temps + rep.orphans}")
        if pending_leftovers:
            stats.leftovers_cleaned += 1
    finally:
        if own:
            z.close()
    return stats


# --------------------------------------------------------------------------- decoders under fuzz

ALLOWED = (errors.OpError,)


class DecodeTimeout(Exception):
    pass


def _table(data: bytes) -> None:
    from tensorkeep.format.table import Table

    t = Table(data)
    for _k, _v in t.items():
        pass
    t.get(b"a")
    for _ in t.seek(b"\x80"):
        break


def _entry(data: bytes) -> None:
    from tensorkeep.format.entry import BundleEntry, BundleHeader

    for fn in (BundleEntry.decode, BundleHeader.decode):
        try:
            fn(data)
        except errors.OpError:
            pass


def _state(data: bytes) -> None:
    from tensorkeep.format.state import decode_state

    decode_state(data)


def _snappy(data: bytes) -> None:
    from tensorkeep.format import snappy

    snappy.decompress(data, max_output=snappy.max_decompressed_length(len(data)))


def _strings(data: bytes) -> None:
    from tensorkeep.format import tensor_data

    n = data[0] if data else 0
    tensor_data.decode_strings(memoryview(data[1:]), n, verify=False)


def _slice_key(data: bytes) -> None:
    from tensorkeep.format.ordered_code import decode_tensor_name_slice
    from tensorkeep.format.tensor_slice import TensorSlice

    try:
        decode_tensor_name_slice(data)
    except errors.OpError:
        pass
    TensorSlice.decode(data)


def bundle_from_bytes(index: bytes, data: bytes, directory: str) -> None:
    """Open a bundle made of these two files and read every tensor."""
    prefix = os.path.join(directory, "fuzz")
    with open(prefix + ".index", "wb") as f:
        f.write(index)
    with open(prefix + ".data-00000-of-00001", "wb") as f:
        f.write(data)
    read_all(prefix)


def read_all(prefix: str) -> dict[str, Any]:
    """Every tensor of the checkpoint (through tensorkeep.load), copied out."""
    loaded = tensorkeep.load(prefix)
    out = {}
    for k in loaded:
        out[k] = np.array(loaded[k], copy=True)
    return out


def _meta_graph(data: bytes) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        import_meta_graph_bytes(data, os.path.join(d, "m.meta"))


DECODERS: dict[str, Callable[[bytes], None]] = {
    "meta_graph": _meta_graph,
    "sstable": _table,
    "bundle_entry": _entry,
    "state_file": _state,
    "snappy": _snappy,
    "tensor_strings": _strings,
    "slice_key": _slice_key,
}


def run_guarded(fn: Callable[[], Any], input_size: int, *, max_seconds: float = 2.0,
                alloc_slack: int = 4 << 20, alloc_factor: int = 8) -> str:
    """Run ``fn``; return "ok" or the tensorkeep error's class name.

    Fails (AssertionError) on any other exception, on a peak allocation above
    ``alloc_factor * input_size + alloc_slack`` bytes, or on running longer than
    ``max_seconds`` (SIGALRM interrupts a hang).
    """
    def on_alarm(signum: int, frame: Any) -> None:
        raise DecodeTimeout()

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, max_seconds)
    tracing = tracemalloc.is_tracing()
    if not tracing:
        tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    try:
        fn()
        outcome = "ok"
    except ALLOWED as exc:
        outcome = type(exc).__name__
    except DecodeTimeout:
        raise AssertionError(f"decoder ran longer than {max_seconds}s on a {input_size}-byte input")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        peak = tracemalloc.get_traced_memory()[1] - base
        if not tracing:
            tracemalloc.stop()
    limit = alloc_factor * input_size + alloc_slack
    if peak > limit:
        raise AssertionError(f"decoder allocated {peak} bytes for a {input_size}-byte input "
                             f"(limit {limit})")
    return outcome


# --------------------------------------------------------------------------- corpus

def build_corpus(directory: str) -> dict[str, str]:
    """Small real checkpoints: name -> prefix."""
    from tensorkeep.bundle import BundleWriter

    os.makedirs(directory, exist_ok=True)
    out = {}
    out["mixed"] = tensorkeep.save(values_for(3), os.path.join(directory, "mixed"))
    out["scalar"] = tensorkeep.save({"x": np.float32(1.5)}, os.path.join(directory, "scalar"))
    out["strings"] = tensorkeep.save(
        {"s": np.array([b"", b"abc", b"\xff" * 40], dtype=object)}, os.path.join(directory, "strings"))
    out["empty"] = tensorkeep.save({}, os.path.join(directory, "empty"))
    p = os.path.join(directory, "partitioned")
    with BundleWriter(p) as w:
        full = np.arange(12, dtype=np.float32).reshape(4, 3)
        w.add_slice("part", (4, 3), [(0, 2), (0, -1)], full[:2])
        w.add_slice("part", (4, 3), [(2, 2), (0, -1)], full[2:])
        w.add("plain", np.int16([1, 2, 3]))
    out["partitioned"] = p
    try:
        from tensorkeep.bundle.v1 import write_v1
    except ImportError:   # V1 not available: the corpus is V2 only
        return out
    v = os.path.join(directory, "v1")
    vals = values_for(5)
    write_v1(v, sorted(vals), [""] * len(vals), [vals[k] for k in sorted(vals)])
    out["v1"] = v
    return out


def mutations(blob: bytes) -> list[tuple[str, bytes]]:
    """Every truncation and every single-bit flip of ``blob``."""
    out = [("truncate", blob[:n]) for n in range(len(blob))]
    for i in range(len(blob)):
        for b in range(8):
            out.append(("flip", blob[:i] + bytes([blob[i] ^ (1 << b)]) + blob[i + 1:]))
    return out


def corpus_sweep(directory: str) -> dict[str, Any]:
    """Truncate every file of each corpus checkpoint at every byte, flip every index bit.

    Each mutant must load to exactly the original values or raise a tensorkeep
    error; returns counts by outcome.
    """
    import shutil

    corpus = build_corpus(os.path.join(directory, "corpus"))
    work = os.path.join(directory, "mutant")
    os.makedirs(work, exist_ok=True)
    counts: Counter = Counter()
    for name, prefix in corpus.items():
        original = read_all(prefix)
        base = os.path.basename(prefix)
        files = sorted(f for f in os.listdir(os.path.dirname(prefix))
                       if f == base or f.startswith(base + "."))
        for fname in files:
            src = os.path.join(os.path.dirname(prefix), fname)
            blob = open(src, "rb").read()
            part = "index" if fname.endswith(".index") else "v1 file" if fname == base else "data"
            for kind, mutant in mutations(blob):
                kind = f"{kind} {part}"
                for f in files:
                    shutil.copyfile(os.path.join(os.path.dirname(prefix), f), os.path.join(work, f))
                target = os.path.join(work, fname)
                with open(target, "wb") as fh:
                    fh.write(mutant)
                result: dict[str, Any] = {}

                def load() -> None:
                    result.update(read_all(os.path.join(work, os.path.basename(prefix))))
                outcome = run_guarded(load, len(mutant) + 4096)
                if outcome == "ok":
                    if set(result) != set(original) or any(
                            not np.array_equal(result[k], original[k]) for k in original):
                        raise AssertionError(f"{name}/{fname} {kind}: loaded wrong values silently")
                    outcome = "ok (same values)"
                counts[(kind, outcome)] += 1
            for f in os.listdir(work):
                os.remove(os.path.join(work, f))
    return {"inputs": sum(counts.values()),
            "by_outcome": {f"{k} -> {o}": n for (k, o), n in sorted(counts.items())}}


def import_meta_graph_bytes(blob: bytes, path: str) -> None:
    """Write ``blob`` as a meta graph file and import it into a fresh graph."""
    import tensorkeep as tf

    with open(path, "wb") as f:
        f.write(blob)
    with tf.Graph().as_default():
        tf.compat.v1.train.import_meta_graph(path)


def meta_graph_sweep(blob: bytes, path: str, stride: int = 1) -> Counter:
    """Truncations and bit flips of a meta graph (every ``stride``-th byte), imported."""
    counts: Counter = Counter()
    for i in range(0, len(blob), stride):
        for kind, mutant in [("truncate", blob[:i])] + [
                ("flip", blob[:i] + bytes([blob[i] ^ (1 << b)]) + blob[i + 1:]) for b in range(8)]:
            counts[(kind, run_guarded(lambda: import_meta_graph_bytes(mutant, path),
                                      len(mutant) + 65536))] += 1
    return counts


# --------------------------------------------------------------------------- fault injection

class FaultyOS:
    """A stand-in for ``os`` inside ``tensorkeep.io.files`` failing the n-th call of some functions.

    ``fail = {"write": 3}`` raises ``OSError(err)`` on the third ``os.write``.
    Every other attribute is the real ``os``'s. ``calls`` counts calls per name.
    """

    WATCHED = ("open", "write", "fsync", "replace", "close")

    def __init__(self, fail: dict[str, int] | None = None, err: int = errno.ENOSPC,
                 hook: Callable[[str, int], None] | None = None) -> None:
        self._fail = dict(fail or {})
        self._err = err
        self._hook = hook
        self.calls: Counter = Counter()
        self.injected = 0

    def __getattr__(self, name: str) -> Any:
        real = getattr(os, name)
        if name not in self.WATCHED:
            return real

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            n = self.calls[name]
            if self._hook:
                self._hook(name, n)
            if self._fail.get(name) == n:
                self.injected += 1
                raise OSError(self._err, os.strerror(self._err))
            return real(*args, **kwargs)
        return wrapper


def mount_tmpfs(path: str, size: str = "1m") -> bool:
    """Mount a small tmpfs at ``path``; False when this process may not mount."""
    os.makedirs(path, exist_ok=True)
    try:
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", path],
                           capture_output=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return r.returncode == 0


def umount(path: str) -> None:
    subprocess.run(["umount", "-l", path], capture_output=True, timeout=20)


def remount(path: str, opts: str) -> bool:
    r = subprocess.run(["mount", "-o", f"remount,{opts}", path], capture_output=True, timeout=20)
    return r.returncode == 0


def snapshot(d: str) -> dict[str, bytes]:
    """Every file under ``d`` (relative name -> bytes)."""
    out = {}
    for root, _dirs, names in os.walk(d):
        for n in names:
            p = os.path.join(root, n)
            out[os.path.relpath(p, d)] = open(p, "rb").read()
    return out


if __name__ == "__main__":  # pragma: no cover
    if sys.argv[1:] == ["zygote"]:
        zygote_main()
    else:
        sys.exit("usage: reliability_helpers.py zygote")
