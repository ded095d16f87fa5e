"""The error hierarchy: TensorFlow's class names, each also the matching builtin.

Every failure tensorkeep reports is an :class:`OpError` subclass, so code written
against TensorFlow (``except tf.errors.NotFoundError``) keeps working, and each
class also inherits the builtin a Python user would reach for
(``NotFoundError`` is a ``FileNotFoundError`` and a ``KeyError``,
``InvalidArgumentError`` a ``ValueError``, ...).

Errors about bytes on disk carry ``filename``, ``key`` and ``offset`` where they
are known, and the message names them, so that a corrupt file can be located.
"""

from __future__ import annotations

from typing import Any

# Canonical error codes (tensorflow/core/protobuf/error_codes.proto).
OK = 0
CANCELLED = 1
UNKNOWN = 2
INVALID_ARGUMENT = 3
DEADLINE_EXCEEDED = 4
NOT_FOUND = 5
ALREADY_EXISTS = 6
PERMISSION_DENIED = 7
RESOURCE_EXHAUSTED = 8
FAILED_PRECONDITION = 9
ABORTED = 10
OUT_OF_RANGE = 11
UNIMPLEMENTED = 12
INTERNAL = 13
UNAVAILABLE = 14
DATA_LOSS = 15
UNAUTHENTICATED = 16


class OpError(Exception):
    """Base of all tensorkeep errors (TensorFlow's ``tf.errors.OpError``).

    Accepts TensorFlow's signature ``(node_def, op, message)`` as well as the
    shorter ``(message)``. ``filename``, ``key`` and ``offset`` locate bad bytes.
    """

    error_code: int = UNKNOWN

    def __init__(self, *args: Any, filename: str | None = None, key: str | bytes | None = None,
                 offset: int | None = None, error_code: int | None = None) -> None:
        if len(args) >= 3:
            node_def, op, message = args[0], args[1], args[2]
            if len(args) >= 4 and error_code is None:
                error_code = args[3]
        elif len(args) == 1:
            node_def, op, message = None, None, args[0]
        elif not args:
            node_def, op, message = None, None, ""
        else:
            raise TypeError("OpError takes (message) or (node_def, op, message[, error_code])")
        self.node_def = node_def
        self.op = op
        self.filename = filename
        self.key = key
        self.offset = offset
        if error_code is not None:
            self.error_code = error_code
        self._message = str(message)
        super().__init__(self._message)

    @property
    def message(self) -> str:
        """The error message, as TensorFlow's ``OpError.message``."""
        return self._message

    def __str__(self) -> str:
        return self._message

    def __reduce__(self) -> Any:  # keep errors copyable across processes
        return (_rebuild, (type(self), self._message, self.filename, self.key, self.offset))


def _rebuild(cls: type, message: str, filename: Any, key: Any, offset: Any) -> OpError:
    return cls(message, filename=filename, key=key, offset=offset)


class CancelledError(OpError):
    error_code = CANCELLED


class UnknownError(OpError):
    error_code = UNKNOWN


class InvalidArgumentError(OpError, ValueError):
    error_code = INVALID_ARGUMENT


class DeadlineExceededError(OpError, TimeoutError):
    error_code = DEADLINE_EXCEEDED


class NotFoundError(OpError, FileNotFoundError, KeyError):
    error_code = NOT_FOUND


class AlreadyExistsError(OpError, FileExistsError):
    error_code = ALREADY_EXISTS


class PermissionDeniedError(OpError, PermissionError):
    error_code = PERMISSION_DENIED


class UnauthenticatedError(OpError):
    error_code = UNAUTHENTICATED


class ResourceExhaustedError(OpError, MemoryError):
    error_code = RESOURCE_EXHAUSTED


class FailedPreconditionError(OpError, RuntimeError):
    error_code = FAILED_PRECONDITION


class AbortedError(OpError):
    error_code = ABORTED


class OutOfRangeError(OpError, IndexError):
    error_code = OUT_OF_RANGE


class UnimplementedError(OpError, NotImplementedError):
    error_code = UNIMPLEMENTED


class InternalError(OpError):
    error_code = INTERNAL


class UnavailableError(OpError):
    error_code = UNAVAILABLE


class DataLossError(OpError, ValueError):
    """Unrecoverable corruption: bad magic, checksum, varint, offset or size."""

    error_code = DATA_LOSS


_CODE_TO_CLASS: dict[int, type[OpError]] = {
    cls.error_code: cls
    for cls in (CancelledError, UnknownError, InvalidArgumentError, DeadlineExceededError,
                NotFoundError, AlreadyExistsError, PermissionDeniedError, UnauthenticatedError,
                ResourceExhaustedError, FailedPreconditionError, AbortedError, OutOfRangeError,
                UnimplementedError, InternalError, UnavailableError, DataLossError)
}


def exception_type_from_error_code(error_code: int) -> type[OpError]:
    """The OpError subclass for a canonical error code (TensorFlow's helper)."""
    return _CODE_TO_CLASS.get(error_code, UnknownError)


def error_code_from_exception_type(cls: type[OpError]) -> int:
    """The canonical error code of an OpError subclass."""
    return cls.error_code


def data_loss(what: str, *, filename: str | None = None, key: str | bytes | None = None,
              offset: int | None = None) -> DataLossError:
    """A DataLossError whose message names the file, key and offset it knows."""
    parts = [what]
    if filename is not None:
        parts.append(f"in file {filename!s}")
    if key is not None:
        parts.append(f"at key {_show_key(key)}")
    if offset is not None:
        parts.append(f"at offset {offset}")
    return DataLossError(", ".join(parts), filename=filename, key=key, offset=offset)


def _show_key(key: str | bytes) -> str:
    if isinstance(key, bytes):
        try:
            text = key.decode("utf-8")
            if text.isprintable():
                return repr(text)
        except UnicodeDecodeError:
            pass
        return repr(key)
    return repr(key)


__all__ = [
    "OpError", "CancelledError", "UnknownError", "InvalidArgumentError", "DeadlineExceededError",
    "NotFoundError", "AlreadyExistsError", "PermissionDeniedError", "UnauthenticatedError",
    "ResourceExhaustedError", "FailedPreconditionError", "AbortedError", "OutOfRangeError",
    "UnimplementedError", "InternalError", "UnavailableError", "DataLossError",
    "exception_type_from_error_code", "error_code_from_exception_type", "data_loss",
    "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
    "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
    "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
    "UNAUTHENTICATED",
]
