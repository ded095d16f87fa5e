"""Saving in the background: snapshot now, write later, never lose an error.

``start(flat, write, copy=True)`` snapshots the tensors (a memcpy of each
numeric array, spread over the cores; nothing at all with ``copy=False``, where
the caller promises not to change the arrays until the save is done), then runs
``write(snapshot)`` in a background thread and returns a :class:`SaveHandle`.

Rules, all process-wide:

* one background save at a time, in call order: a new save (background or not,
  through :func:`tensorkeep.save` or a manager) first waits for the one in
  flight, so saves never interleave and memory holds at most one snapshot;
* an error in the background is raised by :meth:`SaveHandle.wait` (every time
  it is called, like ``Future.result``); if nobody waited for it, the next save
  raises it instead of starting (:func:`raise_pending`); if the process ends
  first, it is printed to stderr at exit: never silent;
* the thread is not a daemon: an interpreter that exits normally finishes the
  save first.

What "complete" means is the writer's business: ``write`` publishes the
checkpoint (data files, index, fsync by default) and only then updates the state
file and deletes old checkpoints (the manager does both inside ``write``).
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

_COPY_CHUNK = 64 << 20   # bytes per copy task when a snapshot is split over threads
_PARALLEL_FROM = 32 << 20   # snapshots smaller than this are copied in the calling thread

_lock = threading.Lock()
_current: "SaveHandle | None" = None        # the newest background save
_unobserved: list["SaveHandle"] = []        # failed saves nobody has waited for yet


class SaveHandle:
    """A save running in the background: :meth:`wait` for it, :meth:`done` to poll."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self._done = threading.Event()
        self._error: BaseException | None = None
        self._result: Any = prefix
        self._thread: threading.Thread | None = None

    def done(self) -> bool:
        """True once the save has finished (successfully or not)."""
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> Any:
        """Block until the save is finished; its result (the prefix), or raise its error.

        With ``timeout`` (seconds), raise ``TimeoutError`` if it is still running then.
        """
        if not self._done.wait(timeout):
            raise TimeoutError(f"background save of {self.prefix} still running after {timeout} s")
        self._observed()
        if self._error is not None:
            raise self._error
        return self._result

    def exception(self) -> BaseException | None:
        """The background error (None while running or after success); counts as observed."""
        if self._done.is_set():
            self._observed()
        return self._error

    def _observed(self) -> None:
        with _lock:
            if self in _unobserved:
                _unobserved.remove(self)

    def _run(self, job: Callable[[], Any]) -> None:
        try:
            self._result = job()
        except BaseException as exc:   # noqa: BLE001  (kept and re-raised on wait())
            self._error = exc
            with _lock:
                _unobserved.append(self)
        finally:
            self._done.set()

    def __repr__(self) -> str:
        status = "running" if not self.done() else ("failed" if self._error else "done")
        return f"<SaveHandle {self.prefix!r} {status}>"


def raise_pending() -> None:
    """Wait for the background save in flight; raise an error no one has seen yet.

    Called at the start of every save, so that a failed background save is
    reported by the next save at the latest, and saves run one at a time.
    """
    with _lock:
        current = _current
    if current is not None:
        current._done.wait()
    with _lock:
        if not _unobserved:
            return
        failed = _unobserved.pop(0)
    err = failed._error
    assert err is not None
    if hasattr(err, "add_note"):
        note = f"(raised by a later save: the background save of {failed.prefix} failed)"
        if note not in getattr(err, "__notes__", ()):
            err.add_note(note)
    raise err


def snapshot(flat: Mapping[str, np.ndarray], copy: bool = True) -> dict[str, np.ndarray]:
    """Copies of the arrays (object arrays: new arrays of the same immutable elements).

    Large snapshots are copied by as many threads as there are cores (numpy
    releases the GIL while copying), in chunks, so the call costs about the
    memory bandwidth, not one core's memcpy plus page faults.
    """
    if not copy:
        return dict(flat)
    out: dict[str, np.ndarray] = {}
    tasks: list[tuple[np.ndarray, np.ndarray]] = []
    total = 0
    for name, arr in flat.items():
        a = np.asarray(arr)
        if a.dtype.hasobject or not a.flags.c_contiguous or a.ndim == 0:
            out[name] = np.array(a, copy=True)
            continue
        dst = np.empty_like(a)
        out[name] = dst
        src_flat, dst_flat = a.reshape(-1), dst.reshape(-1)
        step = max(1, _COPY_CHUNK // max(a.itemsize, 1))
        for i in range(0, src_flat.size, step):
            tasks.append((dst_flat[i:i + step], src_flat[i:i + step]))
        total += a.nbytes
    workers = min(os.cpu_count() or 1, 8, len(tasks))
    if total < _PARALLEL_FROM or workers <= 1:
        for dst, src in tasks:
            np.copyto(dst, src)
        return out
    errors: list[BaseException] = []
    lock = threading.Lock()
    queue = list(reversed(tasks))

    def worker() -> None:
        while True:
            with lock:
                if not queue or errors:
                    return
                dst, src = queue.pop()
            try:
                np.copyto(dst, src)
            except BaseException as exc:   # noqa: BLE001
                with lock:
                    errors.append(exc)
                return

    threads = [threading.Thread(target=worker, name="tensorkeep-snapshot") for _ in range(workers - 1)]
    for t in threads:
        t.start()
    worker()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return out


def start(prefix: str, flat: Mapping[str, np.ndarray], write: Callable[[dict[str, np.ndarray]], Any],
          *, copy: bool = True) -> SaveHandle:
    """Snapshot ``flat`` and run ``write(snapshot)`` in the background; the handle.

    Raises (before snapshotting) an unobserved error of an earlier background save.
    """
    global _current
    raise_pending()
    snap = snapshot(flat, copy)
    handle = SaveHandle(prefix)
    thread = threading.Thread(target=handle._run, args=(lambda: write(snap),),
                              name=f"tensorkeep-save:{os.path.basename(prefix)}", daemon=False)
    handle._thread = thread
    with _lock:
        _current = handle
    thread.start()
    return handle


def wait_all() -> None:
    """Wait for the save in flight and raise any error nobody has seen (see raise_pending)."""
    raise_pending()


@atexit.register
def _report_unobserved() -> None:
    # Non-daemon threads are joined before atexit handlers run, so every save is over.
    with _lock:
        failed = list(_unobserved)
        _unobserved.clear()
    for h in failed:
        print(f"tensorkeep: background save of {h.prefix} failed and nobody called wait(): "
              f"{type(h._error).__name__}: {h._error}", file=sys.stderr)


__all__ = ["SaveHandle", "start", "snapshot", "raise_pending", "wait_all"]
