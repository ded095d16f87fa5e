"""File access: the only module that opens files.

* reads: whole-file ``read_bytes`` (small files: index, state, meta graph) and
  ``map_file`` (read-only mmap for data files, so a tensor is read when asked);
* writes: ``AtomicWriter`` / ``atomic_write`` write under a temporary name in the
  destination's directory, fsync the file, rename it over the final name, then
  fsync the directory, so that a crash leaves either the old file or the new one,
  never a torn one. ``fsync=False`` skips both fsyncs (the caller accepts that a
  power loss may lose the newest file; a process crash still cannot tear it).

OS errors become ``tensorkeep.errors`` classes naming the path.
"""

from __future__ import annotations

import errno
import logging
import mmap
import os
import re
import secrets
import sys
from types import TracebackType
from typing import Callable, Iterable, Union

from tensorkeep import errors

try:  # POSIX advisory locks mark a temporary file as "being written"
    import fcntl as _fcntl
except ImportError:  # pragma: no cover - Windows: no locks, so no leftover cleanup
    _fcntl = None  # type: ignore[assignment]

logger = logging.getLogger("tensorkeep")


def _bind_fallocate() -> Callable[[int, int, int, int], int] | None:
    """Linux ``fallocate(2)`` (not ``posix_fallocate``, whose fallback on filesystems
    without it writes every block); None where it is not to be had."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        fn = ctypes.CDLL(None, use_errno=True).fallocate
    except (ImportError, OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
    fn.restype = ctypes.c_int

    def fallocate(fd: int, mode: int, offset: int, length: int) -> int:
        return 0 if fn(fd, mode, offset, length) == 0 else ctypes.get_errno()
    return fallocate


_fallocate = _bind_fallocate()
# Writes at least this large allocate their blocks first: allocating a range in one
# call, rather than page by page inside write(), makes a large write ~10 % faster
# on ext4 (measured on 1 GiB, benchmarks/README.md). Smaller writes gain nothing.
PREALLOCATE_BYTES = 1 << 20

Buffer = Union[bytes, bytearray, memoryview]

# Temporary names: TensorFlow's BundleWriter uses "<final>.tempstate<uint64>",
# its state file writer "<final>.tmp<uuid hex>". Both are recognised as leftovers.
TEMP_MARKERS = (".tempstate", ".tmp")
# Exactly the names temp_name() makes; cleanup touches nothing else.
_TEMP_NAME = re.compile(r".+(?:\.tempstate\d{1,20}|\.tmp[0-9a-f]{32})", re.DOTALL)


def translate_os_error(exc: OSError, path: str | os.PathLike[str], action: str) -> errors.OpError:
    """The tensorkeep error for an OSError while ``action`` on ``path``."""
    path = os.fspath(path)
    reason = exc.strerror or str(exc)
    msg = f"{path}; {reason} (while {action})"
    code = exc.errno
    if isinstance(exc, FileNotFoundError) or code == errno.ENOENT:
        return errors.NotFoundError(msg, filename=path)
    if isinstance(exc, PermissionError) or code in (errno.EACCES, errno.EPERM, errno.EROFS):
        return errors.PermissionDeniedError(msg, filename=path)
    if isinstance(exc, FileExistsError):
        return errors.AlreadyExistsError(msg, filename=path)
    if isinstance(exc, IsADirectoryError) or isinstance(exc, NotADirectoryError):
        return errors.FailedPreconditionError(msg, filename=path)
    if code in (errno.ENOSPC, errno.EDQUOT):
        return errors.ResourceExhaustedError(msg, filename=path)
    return errors.UnknownError(msg, filename=path)


def read_bytes(path: str | os.PathLike[str]) -> bytes:
    """The whole file's bytes."""
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as exc:
        raise translate_os_error(exc, path, "reading") from exc


def file_size(path: str | os.PathLike[str]) -> int:
    try:
        return os.stat(path).st_size
    except OSError as exc:
        raise translate_os_error(exc, path, "reading its size") from exc


def map_file(path: str | os.PathLike[str]) -> memoryview:
    """A read-only memoryview of the whole file, memory-mapped (empty file: empty view)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as exc:
        raise translate_os_error(exc, path, "opening") from exc
    try:
        size = os.fstat(fd).st_size
        if size == 0:
            return memoryview(b"")
        m = mmap.mmap(fd, size, access=mmap.ACCESS_READ)
    except OSError as exc:
        raise translate_os_error(exc, path, "mapping") from exc
    finally:
        os.close(fd)
    return memoryview(m)


def read_into(path: str | os.PathLike[str], offset: int, out: memoryview | bytearray) -> None:
    """Fill ``out`` with the file's bytes at ``offset`` (DataLossError if the file is short)."""
    view = memoryview(out).cast("B")
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as exc:
        raise translate_os_error(exc, path, "opening") from exc
    try:
        done = 0
        total = len(view)
        while done < total:
            n = os.preadv(fd, [view[done:]], offset + done)
            if n == 0:
                raise errors.data_loss(f"file ends before {total} bytes could be read",
                                       filename=os.fspath(path), offset=offset + done)
            done += n
    except OSError as exc:
        raise translate_os_error(exc, path, "reading") from exc
    finally:
        os.close(fd)


def fsync_dir(path: str | os.PathLike[str]) -> None:
    """fsync a directory so a rename inside it is durable (no-op where unsupported)."""
    try:
        fd = os.open(path or ".", os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        try:
            os.close(fd)
        except OSError:  # a read-only directory descriptor: nothing to lose
            pass


def temp_name(path: str, marker: str = ".tempstate") -> str:
    """A fresh temporary name beside ``path`` (TF's ``<path>.tempstate<random uint64>``)."""
    if marker == ".tmp":
        return f"{path}.tmp{secrets.token_hex(16)}"
    return f"{path}{marker}{secrets.randbits(64)}"


class AtomicWriter:
    """Write a file under a temporary name; publish it by rename on ``commit``.

    Use as a context manager: leaving the block normally commits, an exception
    removes the temporary file and leaves any existing file untouched.
    """

    def __init__(self, path: str | os.PathLike[str], *, fsync: bool = True,
                 marker: str = ".tempstate") -> None:
        self.path = os.fspath(path)
        self.fsync = fsync
        self.tmp_path = temp_name(self.path, marker)
        self.bytes_written = 0
        self._preallocate = _fallocate is not None
        self._held: int | None = None
        self.committed = False
        self._fd: int | None = self._create_locked(marker)

    def _create_locked(self, marker: str) -> int:
        """Create the temporary file and hold an exclusive lock on it while it is written.

        The lock tells :func:`remove_stale_temps` (run by later saves) that the file
        belongs to a live writer; a killed writer's lock vanishes with it. If a
        cleaner removed the name between create and lock, start over with a new name.
        """
        for _ in range(100):
            try:
                fd = os.open(self.tmp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            except OSError as exc:
                raise translate_os_error(exc, self.tmp_path, "creating") from exc
            if _fcntl is None:
                return fd
            try:
                _fcntl.flock(fd, _fcntl.LOCK_EX)
                if os.fstat(fd).st_nlink > 0:
                    return fd
            except OSError:
                return fd  # a filesystem without flock: write unlocked
            os.close(fd)
            self.tmp_path = temp_name(self.path, marker)
        raise errors.UnavailableError(f"{self.path}: could not create a temporary file",
                                      filename=self.path)

    def write(self, data: Buffer) -> None:
        """Write all of ``data`` (any buffer; no copy is made)."""
        assert self._fd is not None, "write after commit/abort"
        view = memoryview(data).cast("B") if not isinstance(data, bytes) else data
        total = len(view)
        done = 0
        if total >= PREALLOCATE_BYTES and self._preallocate:
            self._allocate(total)
        try:
            while done < total:
                done += os.write(self._fd, view[done:] if done else view)
        except OSError as exc:
            self.abort()
            raise translate_os_error(exc, self.path, f"writing its temporary file {self.tmp_path}"
                                     ) from exc
        self.bytes_written += total

    def _allocate(self, length: int) -> None:
        """Allocate the file's next ``length`` bytes (the file grows to hold them; the
        write that follows fills them). A full disk fails here, before any copying."""
        assert self._fd is not None and _fallocate is not None
        err = _fallocate(self._fd, 0, self.bytes_written, length)
        if err in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
            self.abort()
            raise translate_os_error(OSError(err, os.strerror(err)), self.path,
                                     f"allocating space in its temporary file {self.tmp_path}")
        if err:  # not supported by this filesystem (EOPNOTSUPP, ...): plain writes
            self._preallocate = False

    def writev(self, buffers: Iterable[Buffer]) -> None:
        for b in buffers:
            self.write(b)

    def commit(self, *, hold: bool = False) -> None:
        """fsync (unless disabled), rename over the final name, close, fsync the directory.

        ``hold=True`` keeps the file open (and locked) after the rename until
        :meth:`release`: a bundle's data files stay locked until its index is
        published, so no cleaner takes them for a killed save's leftovers.
        """
        fd = self._fd
        if fd is None:
            return
        self._fd = None
        # Renamed while still open, so its lock keeps cleaners off it until published.
        try:
            if self.fsync:
                os.fsync(fd)
            os.replace(self.tmp_path, self.path)
        except OSError as exc:
            os.close(fd)
            _silent_remove(self.tmp_path)
            raise translate_os_error(exc, self.path, "publishing") from exc
        self.committed = True
        if hold:
            self._held = fd
        else:
            self._close(fd)
        if self.fsync:
            fsync_dir(os.path.dirname(self.path) or ".")

    def release(self) -> None:
        """Close a file kept open by ``commit(hold=True)``."""
        fd, self._held = self._held, None
        if fd is not None:
            self._close(fd)

    def _close(self, fd: int) -> None:
        try:
            os.close(fd)
        except OSError as exc:  # e.g. a deferred write error reported at close
            raise translate_os_error(exc, self.path, "closing") from exc

    def abort(self) -> None:
        """Close and remove the temporary file; the final name is untouched."""
        fd = self._fd
        self._fd = None
        self.release()
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass
            _silent_remove(self.tmp_path)

    def __enter__(self) -> "AtomicWriter":
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()


def atomic_write(path: str | os.PathLike[str], data: Buffer | Iterable[Buffer], *,
                 fsync: bool = True, marker: str = ".tempstate") -> None:
    """Write ``data`` (a buffer or an iterable of buffers) to ``path`` atomically."""
    with AtomicWriter(path, fsync=fsync, marker=marker) as w:
        if isinstance(data, (bytes, bytearray, memoryview)):
            w.write(data)
        else:
            w.writev(data)


def _silent_remove(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass


def is_temp_name(name: str) -> bool:
    """True for a name :func:`temp_name` makes (``*.tempstate<digits>``, ``*.tmp<32 hex>``)."""
    return _TEMP_NAME.fullmatch(os.path.basename(name)) is not None


def remove_if_unlocked(path: str) -> bool:
    """Delete ``path`` if no live process holds a lock on it; True if deleted.

    A writer locks its temporary file for as long as it writes it (see
    :class:`AtomicWriter`), so an unlocked temporary file is a killed save's.
    """
    if _fcntl is None:
        return False
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return False
    try:
        try:
            _fcntl.flock(fd, _fcntl.LOCK_EX | _fcntl.LOCK_NB)
        except OSError:
            return False  # a live writer holds it (or no flock here): leave it
        try:
            os.remove(path)
        except FileNotFoundError:
            return False
        except OSError as exc:
            logger.warning("could not remove the leftover temporary file %s: %s", path, exc)
            return False
        return True
    finally:
        os.close(fd)


def remove_stale_temps(directory: str | os.PathLike[str]) -> list[str]:
    """Remove the temporary files killed saves left in ``directory``; returns their paths.

    Only regular files named as :func:`temp_name` names them and not locked by a
    live writer are removed, so a concurrent save in the same directory is safe.
    """
    directory = os.fspath(directory) or "."
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    removed = []
    for name in names:
        if not is_temp_name(name):
            continue
        path = os.path.join(directory, name)
        if os.path.islink(path) or not os.path.isfile(path):
            continue
        if remove_if_unlocked(path):
            removed.append(path)
    return removed


def remove(path: str | os.PathLike[str]) -> None:
    """Delete a file (NotFoundError / PermissionDeniedError naming it on failure)."""
    try:
        os.remove(path)
    except OSError as exc:
        raise translate_os_error(exc, path, "deleting") from exc


def makedirs(path: str | os.PathLike[str]) -> None:
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as exc:
        raise translate_os_error(exc, path, "creating directory") from exc


__all__ = ["read_bytes", "file_size", "map_file", "read_into", "fsync_dir", "temp_name",
           "AtomicWriter", "atomic_write", "remove", "makedirs", "translate_os_error",
           "TEMP_MARKERS", "is_temp_name", "remove_if_unlocked", "remove_stale_temps"]
