"""Issue 7.5 — concurrency.

* two processes save different checkpoint names into one directory (each save
  also cleans leftovers there: the locks must keep it off the other's files);
* a reader polls ``latest_checkpoint`` and restores while a writer rotates with
  ``max_to_keep=2``: every read is complete and exact, or a NotFoundError;
* two processes rewrite the state file while a third parses it: never torn.

The state file is protected by **atomic replacement** (temp + fsync + rename),
not by a lock or a merge: every version on disk is one writer's complete text;
when two writers race, the last rename wins (TF behaves the same).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import reliability_helpers as h

TIMEOUT = 120


def _spawn(code: str, *args: str) -> subprocess.Popen[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = f"{h.REPO}{os.pathsep}{h.REPO / 'tests'}{os.pathsep}" + env.get("PYTHONPATH", "")
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(procs: list[subprocess.Popen[str]]) -> list[dict]:
    out = []
    try:
        for p in procs:
            stdout, stderr = p.communicate(timeout=TIMEOUT)
            assert p.returncode == 0, stderr[-3000:]
            out.append(json.loads(stdout.strip().splitlines()[-1]))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    return out


WRITER = """
import json, os, sys
import reliability_helpers as h, tensorkeep
d, name, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
for step in range(1, n + 1):
    tensorkeep.save(h.values_for(step), os.path.join(d, f"{name}-{step}"))
print(json.dumps({"saves": n}))
"""


def two_writers(d: str, n: int = 40) -> dict[str, int]:
    res = _finish([_spawn(WRITER, d, "a", str(n)), _spawn(WRITER, d, "b", str(n))])
    for name in ("a", "b"):
        for step in range(1, n + 1):
            h.assert_values(tensorkeep_load(os.path.join(d, f"{name}-{step}")), step, name)
    left = [x for x in os.listdir(d) if h.TEMP_RE.fullmatch(x)]
    assert not left, left
    return {"saves": sum(r["saves"] for r in res), "restored_exactly": 2 * n}


def tensorkeep_load(prefix: str):  # type: ignore[no-untyped-def]
    import tensorkeep

    return tensorkeep.load(prefix)


def test_two_processes_save_into_one_directory(tmp_path):
    two_writers(str(tmp_path))


ROTATOR = """
import json, os, sys, time
import reliability_helpers as h, tensorkeep
d, n = sys.argv[1], int(sys.argv[2])
# start once the reader is polling: its imports alone can outlast all n saves
deadline = time.monotonic() + 120
while not os.path.exists(d + ".ready") and time.monotonic() < deadline:
    time.sleep(0.005)
mgr = tensorkeep.CheckpointManager(d, max_to_keep=2)
for step in range(1, n + 1):
    mgr.save(h.values_for(step), step=step)
open(d + ".done", "w").close()
print(json.dumps({"saves": n}))
"""

READER = """
import json, os, sys, time
import reliability_helpers as h, tensorkeep
from tensorkeep import errors
from tensorkeep.checkpoint import state
d = sys.argv[1]
counts = {"complete_reads": 0, "NotFoundError": 0, "no_checkpoint_yet": 0}
steps = set()
open(d + ".ready", "w").close()
while True:
    finished = os.path.exists(d + ".done")
    latest = state.latest_checkpoint(d)
    if latest is None:
        counts["no_checkpoint_yet"] += 1
    else:
        try:
            h.assert_values(h.read_all(latest), h.step_of(latest), latest)
            counts["complete_reads"] += 1
            steps.add(h.step_of(latest))
        except errors.NotFoundError:
            counts["NotFoundError"] += 1
    if finished:
        break
counts["distinct_steps"] = len(steps)
print(json.dumps(counts))
"""


def reader_vs_rotating_writer(d: str, n: int = 60) -> dict[str, int]:
    os.makedirs(d, exist_ok=True)
    reader = _spawn(READER, d)
    writer = _spawn(ROTATOR, d, str(n))
    _w, r = _finish([writer, reader])
    return r


def test_reader_polls_while_writer_rotates(tmp_path):
    r = reader_vs_rotating_writer(str(tmp_path / "run"))
    assert r["complete_reads"] > 0 and r["distinct_steps"] >= 2, r


STATE_WRITER = """
import json, os, sys
from tensorkeep.checkpoint import state
d, tag, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
for i in range(n):
    paths = [f"{tag}-{j}" for j in range(i % 7 + 1)]
    state.update_checkpoint_state(d, paths[-1], paths)
open(os.path.join(d, "done-" + tag), "w").close()
print(json.dumps({"writes": n}))
"""

STATE_READER = """
import json, os, sys
from tensorkeep.format.state import decode_state
d, n = sys.argv[1], int(sys.argv[2])
parsed = 0
while not (os.path.exists(os.path.join(d, "done-x")) and os.path.exists(os.path.join(d, "done-y"))):
    try:
        raw = open(os.path.join(d, "checkpoint"), "rb").read()
    except FileNotFoundError:
        continue
    s = decode_state(raw)           # DataLossError here would be a torn file
    tags = {p.split("-")[0] for p in s.all_model_checkpoint_paths}
    assert len(tags) == 1 and s.model_checkpoint_path == s.all_model_checkpoint_paths[-1], s
    parsed += 1
print(json.dumps({"parsed": parsed}))
"""


def state_file_race(d: str, n: int = 300) -> dict[str, int]:
    procs = [_spawn(STATE_WRITER, d, "x", str(n)), _spawn(STATE_WRITER, d, "y", str(n)),
             _spawn(STATE_READER, d, str(3 * n))]
    a, b, r = _finish(procs)
    assert not [x for x in os.listdir(d) if h.TEMP_RE.fullmatch(x)]
    assert r["parsed"] > 0, r      # the reader overlapped the writers
    return {"writes": a["writes"] + b["writes"], "parsed_whole": r["parsed"]}


def test_state_file_never_torn_by_concurrent_writers(tmp_path):
    r = state_file_race(str(tmp_path))
    assert r["parsed_whole"] > 0, r
