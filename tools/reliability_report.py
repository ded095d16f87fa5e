"""Reproduce the figures of docs/reliability.md (issue 7): the long versions of the tests.

    python tools/reliability_report.py [--crash-trials 500] [--fuzz-inputs 5000] [--out report.json]

Prints one JSON document: crash trials per save flow, the corpus sweep, random
inputs per decoder with outcomes by exception type, the per-syscall fault sweep,
and the concurrency runs. Every figure comes from this run.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from collections import Counter

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
sys.path.insert(0, ROOT)

import reliability_helpers as h  # noqa: E402


def crash(trials: int, base: str) -> dict:
    out = {}
    with h.Zygote() as z:
        for flow in h.available_flows():
            t0 = time.time()
            stats = h.run_crash_trials(flow, base, trials, seed=11, zygote=z)
            out[flow] = dict(stats.as_dict(), wall_seconds=round(time.time() - t0, 1))
            print(f"crash {flow}: {out[flow]}", file=sys.stderr)
    return out


def fuzz(inputs: int) -> dict:
    rng = random.Random(5)
    corpus_dir = tempfile.mkdtemp()
    seeds = [open(p + ".index", "rb").read() for p in h.build_corpus(corpus_dir).values()
             if os.path.exists(p + ".index")]
    for fn in h.DECODERS.values():          # warm lazy imports
        try:
            fn(b"")
        except Exception:
            pass
    out = {}
    for name, fn in h.DECODERS.items():
        counts: Counter = Counter()
        for i in range(inputs):
            if i % 2 and name in ("sstable", "bundle_entry", "snappy"):
                b = bytearray(rng.choice(seeds))
                for _ in range(rng.randint(1, 4)):
                    b[rng.randrange(len(b))] = rng.randrange(256)
                blob = bytes(b)
            else:
                blob = rng.randbytes(rng.randint(0, 600))
            counts[h.run_guarded(lambda: fn(blob), len(blob))] += 1
        out[name] = dict(counts)
        print(f"fuzz {name}: {out[name]}", file=sys.stderr)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--crash-trials", type=int, default=500)
    ap.add_argument("--fuzz-inputs", type=int, default=5000)
    ap.add_argument("--out")
    ap.add_argument("--only", default="crash,corpus,fuzz,faults,concurrency",
                    help="comma-separated sections to run")
    args = ap.parse_args()
    report: dict = {"python": sys.version.split()[0], "cpus": os.cpu_count()}
    only = set(args.only.split(","))
    with tempfile.TemporaryDirectory() as base:
        if "crash" in only:
            report["crash"] = crash(args.crash_trials, os.path.join(base, "crash"))
        if "corpus" in only:
            t0 = time.time()
            report["corpus"] = h.corpus_sweep(os.path.join(base, "corpus"))
            report["corpus"]["seconds"] = round(time.time() - t0, 1)
            print(f"corpus: {report['corpus']}", file=sys.stderr)
        if "fuzz" in only:
            report["fuzz_random_inputs"] = fuzz(args.fuzz_inputs)
        import test_reliability_concurrency as conc
        import test_reliability_faults as faults

        if "faults" in only:
            os.makedirs(os.path.join(base, "faults"))
            report["fault_sweep"] = faults.fault_sweep(os.path.join(base, "faults"))
            print(f"faults: {report['fault_sweep']}", file=sys.stderr)
        if "concurrency" in only:
            for sub in ("two", "state"):
                os.makedirs(os.path.join(base, sub))
            report["concurrency"] = {
                "two_writers": conc.two_writers(os.path.join(base, "two"), 100),
                "reader_vs_rotation": conc.reader_vs_rotating_writer(os.path.join(base, "rot"), 150),
                "state_file_race": conc.state_file_race(os.path.join(base, "state"), 1000),
            }
    text = json.dumps(report, indent=1, default=str)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
