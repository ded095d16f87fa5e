"""Background saves: tensorkeep.save(blocking=False) and CheckpointManager(async_save=True).

The call returns once the tensors are snapshotted; the checkpoint, then the
state file and retention, follow in the background; an error surfaces on
wait(), on the next save, or at exit, never silently.
"""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest

import tensorkeep as tk
from tensorkeep import api
from tensorkeep.checkpoint import async_save
from tensorkeep.checkpoint.state import get_checkpoint_state


@pytest.fixture(autouse=True)
def _no_leftover_errors():  # type: ignore[no-untyped-def]
    yield
    try:
        async_save.wait_all()
    except BaseException:  # noqa: BLE001  (a test that expected its error already checked it)
        pass


@pytest.fixture
def gate(monkeypatch):  # type: ignore[no-untyped-def]
    """Hold every bundle write until gate.set(); counts writes started."""
    ev = threading.Event()
    started = []
    real = api._write

    def slow(flat, prefix, **kw):  # type: ignore[no-untyped-def]
        started.append(prefix)
        assert ev.wait(30), "test gate never opened"
        return real(flat, prefix, **kw)

    monkeypatch.setattr(api, "_write", slow)
    ev.started = started  # type: ignore[attr-defined]
    return ev


def _state(n: int = 3) -> dict[str, np.ndarray]:
    return {f"t{i}": np.arange(1000, dtype=np.float32) + i for i in range(n)}


def test_save_returns_a_handle_and_writes_in_the_background(tmp_path, gate) -> None:  # type: ignore[no-untyped-def]
    state = _state()
    prefix = str(tmp_path / "ckpt")
    h = tk.save(state, prefix, blocking=False)
    assert not h.done()
    assert not os.path.exists(prefix + ".index")
    for a in state.values():          # the snapshot was taken: changes do not leak in
        a[:] = -1
    gate.set()
    assert h.wait(timeout=30) == prefix
    assert h.done()
    got = tk.load(prefix)
    np.testing.assert_array_equal(got["t1"], np.arange(1000, dtype=np.float32) + 1)


def test_copy_false_does_not_copy() -> None:
    a = np.ones(10)
    assert async_save.snapshot({"a": a}, copy=False)["a"] is a
    snap = async_save.snapshot({"a": a, "s": np.array([b"x"], dtype=object), "z": np.float32(2)})
    assert snap["a"] is not a and np.shares_memory(snap["a"], a) is False
    assert snap["s"][0] == b"x" and float(snap["z"]) == 2.0


def test_large_snapshot_split_over_threads(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(async_save, "_COPY_CHUNK", 4096)
    monkeypatch.setattr(async_save, "_PARALLEL_FROM", 0)
    flat = {"a": np.arange(100_000, dtype=np.int64).reshape(100, 1000),
            "b": np.arange(7, dtype=np.uint8), "c": np.arange(12.0)[::2]}
    snap = async_save.snapshot(flat)
    for k in flat:
        np.testing.assert_array_equal(snap[k], flat[k])
        assert not np.shares_memory(snap[k], flat[k])


def test_error_surfaces_on_wait(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "file").write_text("not a directory")
    h = tk.save(_state(), str(tmp_path / "file" / "ckpt"), blocking=False)
    with pytest.raises(tk.errors.OpError):
        h.wait(timeout=30)
    with pytest.raises(tk.errors.OpError):     # again: like Future.result()
        h.wait()
    tk.save(_state(), str(tmp_path / "ok"))    # seen, so the next save does not raise it


def test_unobserved_error_surfaces_on_the_next_save(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "file").write_text("not a directory")
    bad = tk.save(_state(), str(tmp_path / "file" / "ckpt"), blocking=False)
    with pytest.raises(tk.errors.OpError) as info:
        tk.save(_state(), str(tmp_path / "next"))          # a blocking save raises it
    assert any("background save" in n for n in getattr(info.value, "__notes__", []))
    assert not os.path.exists(str(tmp_path / "next") + ".index")
    assert bad.done()
    tk.save(_state(), str(tmp_path / "next"))              # reported once, then saves go on
    assert os.path.exists(str(tmp_path / "next") + ".index")


def test_saves_run_one_at_a_time_in_call_order(tmp_path, gate) -> None:  # type: ignore[no-untyped-def]
    h1 = tk.save(_state(), str(tmp_path / "a"), blocking=False)
    result: list = []
    t = threading.Thread(target=lambda: result.append(tk.save(_state(), str(tmp_path / "b"),
                                                              blocking=False)))
    t.start()
    t.join(0.3)
    assert t.is_alive()                 # the second save waits for the first
    assert gate.started == [str(tmp_path / "a")]
    gate.set()
    t.join(30)
    h1.wait()
    result[0].wait()
    assert gate.started == [str(tmp_path / "a"), str(tmp_path / "b")]


def test_manager_publishes_and_deletes_only_after_the_save_completed(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    d = str(tmp_path)
    m = tk.CheckpointManager(d, max_to_keep=2, async_save=True)
    for step in (1, 2):
        m.save(_state(), step=step)
        m.wait_until_finished()
    assert get_checkpoint_state(d).model_checkpoint_path.endswith("ckpt-2")
    ev = threading.Event()
    real = api._write

    def slow(flat, prefix, **kw):  # type: ignore[no-untyped-def]
        assert ev.wait(30)
        return real(flat, prefix, **kw)

    monkeypatch.setattr(api, "_write", slow)
    path = m.save(_state(), step=3)
    assert path == os.path.join(d, "ckpt-3")
    # still writing: the state file, the list and the old files are untouched
    assert get_checkpoint_state(d).model_checkpoint_path.endswith("ckpt-2")
    assert os.path.exists(os.path.join(d, "ckpt-1.index"))
    assert m.latest_checkpoint.endswith("ckpt-2")
    ev.set()
    m.wait_until_finished()
    assert get_checkpoint_state(d).model_checkpoint_path.endswith("ckpt-3")
    assert m.checkpoints == [os.path.join(d, "ckpt-2"), os.path.join(d, "ckpt-3")]
    assert not os.path.exists(os.path.join(d, "ckpt-1.index"))
    assert os.path.exists(os.path.join(d, "ckpt-3.index"))
    out = {k: np.zeros_like(v) for k, v in _state().items()}
    m.restore(out)
    np.testing.assert_array_equal(out["t2"], _state()["t2"])


def test_manager_default_step_and_error(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    m = tk.CheckpointManager(str(tmp_path), async_save=True)
    assert m.save(_state()).endswith("ckpt-1")
    m.wait_until_finished()
    assert m.save(_state()).endswith("ckpt-2")
    m.wait_until_finished()

    def boom(flat, prefix, **kw):  # type: ignore[no-untyped-def]
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(api, "_write", boom)
    m.save(_state(), step=3)
    with pytest.raises(OSError, match="No space"):
        m.wait_until_finished()
    assert m.latest_checkpoint.endswith("ckpt-2")          # a failed save publishes nothing
    m.save(_state(), step=4)
    with pytest.raises(OSError):                             # unobserved: the next save raises
        m.save(_state(), step=5)
    with pytest.raises(ValueError):
        m.save(_state(), step=-1)


def test_unwaited_failure_is_reported_at_exit(tmp_path, run_python) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "file").write_text("x")
    proc = run_python(f"""
        import numpy as np, tensorkeep as tk
        tk.save({{"a": np.ones(3)}}, {str(tmp_path / "file" / "ckpt")!r}, blocking=False)
    """)
    assert "background save" in proc.stderr and "nobody called wait()" in proc.stderr


def test_exit_finishes_a_running_save(tmp_path, run_python) -> None:  # type: ignore[no-untyped-def]
    prefix = str(tmp_path / "ckpt")
    run_python(f"""
        import numpy as np, tensorkeep as tk
        tk.save({{"a": np.ones((256, 1024))}}, {prefix!r}, blocking=False)
    """)
    np.testing.assert_array_equal(tk.load(prefix)["a"], np.ones((256, 1024)))
