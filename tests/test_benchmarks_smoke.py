"""The benchmark harness runs end to end (quick sizes, tensorkeep and the floor only).

No timing is asserted: the suite never asserts speed. It checks that every
worker ran, every restore returned the right values (the workers verify), and
the report has its tables.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_quick_benchmark_runs(tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "results.md"
    proc = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "run.py"), "--quick", "--systems", "tensorkeep",
         "--silent", "--dir", str(tmp_path / "scratch"), "--out", str(out)],
        capture_output=True, text=True, timeout=600, cwd=REPO)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    text = out.read_text()
    assert "Failed measurements" not in text
    for heading in ("## W1", "## W2", "## W3", "## Flatness", "## Targets"):
        assert heading in text
    assert "**tensorkeep** (fsync off)" in text
    assert not (tmp_path / "scratch").exists()
