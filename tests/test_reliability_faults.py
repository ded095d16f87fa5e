"""Issue 7.4 — faults during save: disk full, read-only directory, permission denied,
parent directory removed mid-save.

Each fault: a clear ``tensorkeep.errors`` error naming the path; the previous
checkpoint and state file byte-for-byte unchanged; no temporary file left.

Disk full and read-only use a real 1 MiB tmpfs when this process may mount one
(root; CI runs as root); otherwise the fault-injecting ``os`` of
:class:`reliability_helpers.FaultyOS`. Each test records which it used in its
``record_property("fault_layer", ...)``. The exhaustive sweep fails every
``open``/``write``/``fsync``/``replace`` call of a CheckpointManager save, one
call at a time.
"""

from __future__ import annotations

import errno
import os
import shutil

import numpy as np
import pytest

import reliability_helpers as h
import tensorkeep
from tensorkeep import errors
from tensorkeep.io import files


@pytest.fixture
def small_fs(tmp_path):  # type: ignore[no-untyped-def]
    """A 1 MiB tmpfs (or None when mounting is not permitted)."""
    mnt = str(tmp_path / "mnt")
    if h.mount_tmpfs(mnt, "1m"):
        yield mnt
        h.umount(mnt)
    else:
        yield None


def _previous(d: str) -> dict[str, bytes]:
    mgr = tensorkeep.CheckpointManager(d, max_to_keep=3)
    mgr.save(h.values_for(1), step=1)
    return h.snapshot(d)


def _assert_unchanged(d: str, before: dict[str, bytes]) -> None:
    after = h.snapshot(d)
    assert after == before, sorted(set(after) ^ set(before)) or "contents changed"
    h.assert_values(tensorkeep.load(os.path.join(d, "ckpt-1")), 1, d)


def test_disk_full(small_fs, tmp_path, record_property, monkeypatch):
    big = {"big": np.ones(300_000, np.float32)}          # 1.2 MB > the 1 MiB filesystem
    if small_fs is not None:
        record_property("fault_layer", "tmpfs size=1m")
        d = small_fs
    else:
        record_property("fault_layer", "FaultyOS write -> ENOSPC")
        d = str(tmp_path / "d")
        monkeypatch.setattr(files, "os", h.FaultyOS({"write": 1}, errno.ENOSPC))
    os.makedirs(d, exist_ok=True)
    before = _previous(d) if small_fs is not None else None
    if before is None:
        monkeypatch.undo()
        before = _previous(d)
        monkeypatch.setattr(files, "os", h.FaultyOS({"write": 1}, errno.ENOSPC))
    mgr = tensorkeep.CheckpointManager(d, max_to_keep=3)
    with pytest.raises(errors.ResourceExhaustedError) as ei:
        mgr.save(big, step=2)
    assert os.path.join(d, "ckpt-2") in str(ei.value)
    assert "No space left" in str(ei.value)
    _assert_unchanged(d, before)


def test_read_only_directory(small_fs, tmp_path, record_property, monkeypatch):
    if small_fs is not None:
        record_property("fault_layer", "tmpfs remounted read-only")
        d = small_fs
        before = _previous(d)
        assert h.remount(d, "ro")
    else:
        record_property("fault_layer", "FaultyOS open -> EROFS")
        d = str(tmp_path / "d")
        os.makedirs(d)
        before = _previous(d)
        monkeypatch.setattr(files, "os", h.FaultyOS({"open": 1}, errno.EROFS))
    try:
        for call in (lambda: tensorkeep.CheckpointManager(d, max_to_keep=3).save(h.values_for(2), step=2),
                     lambda: tensorkeep.save(h.values_for(2), os.path.join(d, "other"))):
            with pytest.raises(errors.PermissionDeniedError) as ei:
                call()
            assert d in str(ei.value) and "Read-only" in str(ei.value)
            _assert_unchanged(d, before)
    finally:
        if small_fs is not None:
            h.remount(d, "rw")


def test_permission_denied(tmp_path, monkeypatch, record_property):
    """Root ignores mode bits, so EACCES comes from the fault layer (as a non-root user's chmod would)."""
    d = str(tmp_path / "d")
    os.makedirs(d)
    before = _previous(d)
    if os.geteuid() != 0:
        record_property("fault_layer", "chmod 0555")
        os.chmod(d, 0o555)
    else:
        record_property("fault_layer", "FaultyOS open -> EACCES")
        monkeypatch.setattr(files, "os", h.FaultyOS({"open": 1}, errno.EACCES))
    try:
        with pytest.raises(errors.PermissionDeniedError) as ei:
            tensorkeep.CheckpointManager(d, max_to_keep=3).save(h.values_for(2), step=2)
        assert os.path.join(d, "ckpt-2") in str(ei.value)
    finally:
        os.chmod(d, 0o755)
        monkeypatch.undo()
    _assert_unchanged(d, before)


def test_parent_directory_removed_mid_save(tmp_path, monkeypatch, record_property):
    """The directory vanishes after the first data write: NotFoundError naming the path."""
    record_property("fault_layer", "directory removed from inside os.write")
    d = str(tmp_path / "gone")
    os.makedirs(d)

    def hook(name: str, n: int) -> None:
        if name == "write" and n == 1 and os.path.isdir(d):
            shutil.rmtree(d)
    monkeypatch.setattr(files, "os", h.FaultyOS(hook=hook))
    with pytest.raises(errors.OpError) as ei:
        tensorkeep.save(h.values_for(1), os.path.join(d, "ckpt-1"))
    assert isinstance(ei.value, (errors.NotFoundError, errors.FailedPreconditionError))
    assert d in str(ei.value)
    monkeypatch.undo()
    assert not os.path.exists(d)      # nothing re-created, nothing half-published


def fault_sweep(base: str, err: int = errno.EIO) -> dict[str, int]:
    """Fail each watched os call of a manager save, one at a time; check the invariants.

    Returns counts: faults injected, saves that failed with a tensorkeep error,
    saves that completed (fault in a call whose failure is tolerated).
    """
    import tensorkeep.io.files as fmod

    # count the calls of one clean save
    d0 = os.path.join(base, "count")
    os.makedirs(d0)
    tensorkeep.CheckpointManager(d0, max_to_keep=2).save(h.values_for(1), step=1)
    probe = h.FaultyOS()
    real = fmod.os
    fmod.os = probe
    try:
        tensorkeep.CheckpointManager(d0, max_to_keep=2).save(h.values_for(2), step=2)
    finally:
        fmod.os = real
    counts = {"injected": 0, "failed_cleanly": 0, "completed": 0}
    for name in h.FaultyOS.WATCHED:
        for n in range(1, probe.calls[name] + 1):
            d = os.path.join(base, f"{name}{n}")
            os.makedirs(d)
            mgr = tensorkeep.CheckpointManager(d, max_to_keep=2)
            mgr.save(h.values_for(1), step=1)
            mgr.save(h.values_for(2), step=2)
            before = h.snapshot(d)
            faulty = h.FaultyOS({name: n}, err)
            fmod.os = faulty
            try:
                tensorkeep.CheckpointManager(d, max_to_keep=2).save(h.values_for(3), step=3)
                outcome = "completed"
            except errors.OpError as exc:
                outcome = "failed_cleanly"
                assert d in str(exc), exc
            finally:
                fmod.os = real
            counts["injected"] += faulty.injected
            left = sorted(os.listdir(d))
            assert not [x for x in left if h.TEMP_RE.fullmatch(x)], (name, n, left)
            if outcome == "failed_cleanly":
                # a fault after the state file was published (closing it) still lists step 3
                done = [1, 2, 3] if h._published(d, h.FLOWS["manager"], 3) else [1, 2]
                rep = h.check_dir(d, h.FLOWS["manager"], done)
                assert not rep.orphans, (name, n, left)
                # the earlier checkpoints and the state file are exactly as before, unless
                # the fault hit after the new checkpoint was published (then it is listed)
                if "ckpt-3.index" not in left:
                    assert h.snapshot(d) == before, (name, n, left)
            else:
                h.check_dir(d, h.FLOWS["manager"], [1, 2, 3])
            counts[outcome] += 1
    return counts


def test_every_syscall_of_a_save_failing(tmp_path, record_property):
    counts = fault_sweep(str(tmp_path))
    record_property("fault_sweep", counts)
    assert counts["injected"] >= 20
    assert counts["failed_cleanly"] >= counts["injected"] // 2


# -- preallocation of large writes ---------------------------------------------------

@pytest.mark.skipif(files._fallocate is None, reason="fallocate(2) is Linux-only")
def test_large_write_allocates_exactly_what_it_writes(tmp_path, monkeypatch):
    calls = []
    real = files._fallocate

    def spy(fd: int, mode: int, offset: int, length: int) -> int:
        calls.append((mode, offset, length))
        return real(fd, mode, offset, length)

    monkeypatch.setattr(files, "_fallocate", spy)
    small = np.arange(10, dtype=np.int64)
    big = np.arange(3 * files.PREALLOCATE_BYTES // 4, dtype=np.float32)  # 3 MiB
    prefix = str(tmp_path / "ckpt")
    tensorkeep.save({"a_small": small, "b_big": big}, prefix)
    # one allocation, for the big tensor, starting where the staged small one ends
    assert calls == [(0, small.nbytes, big.nbytes)]
    data = prefix + ".data-00000-of-00001"
    assert os.path.getsize(data) == small.nbytes + big.nbytes
    loaded = tensorkeep.load(prefix)
    np.testing.assert_array_equal(loaded["b_big"], big)
    np.testing.assert_array_equal(loaded["a_small"], small)


def test_filesystem_without_fallocate_writes_plainly(tmp_path, monkeypatch):
    calls = []

    def unsupported(fd: int, mode: int, offset: int, length: int) -> int:
        calls.append(length)
        return errno.EOPNOTSUPP

    monkeypatch.setattr(files, "_fallocate", unsupported)
    arrays = {f"t{i}": np.full(files.PREALLOCATE_BYTES // 4, i, np.float32) for i in range(3)}
    prefix = str(tmp_path / "ckpt")
    tensorkeep.save(arrays, prefix)
    assert len(calls) == 1              # asked once per file, then not again
    loaded = tensorkeep.load(prefix)
    for name, value in arrays.items():
        np.testing.assert_array_equal(loaded[name], value)


def test_no_space_at_allocation_is_resource_exhausted_and_leaves_nothing(tmp_path, monkeypatch):
    d = str(tmp_path / "d")
    os.makedirs(d)
    before = _previous(d)
    monkeypatch.setattr(files, "_fallocate", lambda fd, mode, offset, length: errno.ENOSPC)
    mgr = tensorkeep.CheckpointManager(d, max_to_keep=3)
    with pytest.raises(errors.ResourceExhaustedError) as ei:
        mgr.save({"big": np.ones(files.PREALLOCATE_BYTES, np.uint8)}, step=2)
    assert os.path.join(d, "ckpt-2") in str(ei.value)
    assert "No space left" in str(ei.value) and "allocating" in str(ei.value)
    _assert_unchanged(d, before)
