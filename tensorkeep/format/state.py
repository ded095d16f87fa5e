"""The ``checkpoint`` state file: a CheckpointState message in protobuf text format.

Mirrors ``tensorflow/python/training/checkpoint_state.proto`` and what
``checkpoint_management.update_checkpoint_state`` writes, i.e.
``google.protobuf.text_format.MessageToString(state)`` (STATE_AND_SAVER.md §1).

Fields (proto3, package ``tensorflow``; ours: ``tensorkeep.tf``)::

    1  model_checkpoint_path            string           newest checkpoint prefix
    2  all_model_checkpoint_paths       repeated string  oldest -> newest, last == field 1
    3  all_model_checkpoint_timestamps  repeated double  Unix seconds, parallel to field 2
    4  last_preserved_timestamp         double           Unix seconds

Text layout written by TensorFlow (and by :func:`encode_state`), UTF-8:

* one line ``<field name>: <value>\\n`` per value, fields in number order, repeated
  fields one line per element; no indentation, every line ends in ``\\n``, nothing else;
* singular fields equal to their proto3 default are omitted: an empty path, and a
  timestamp whose 8 bytes are all zero (``0.0``; ``-0.0`` and ``nan`` are printed);
* strings in double quotes. ASCII bytes 0x20-0x7E stand for themselves except
  ``"`` -> ``\\"``, ``'`` -> ``\\'``, ``\\`` -> ``\\\\``; ``\\n``, ``\\r``, ``\\t`` -> ``\\n``,
  ``\\r``, ``\\t``; other ASCII bytes -> three octal digits ``\\ooo``. Non-ASCII
  characters are written as UTF-8 as they are: that is what protobuf's
  ``text_format`` does by default (``as_utf8=True``) in every protobuf release TF 2.21
  allows (6.31.1 <= protobuf < 8). Older protobuf releases escaped each UTF-8 byte as
  ``\\ooo``; ``encode_state(..., as_utf8=False)`` writes that form. Readers accept both;
* doubles as Python ``str(float)``: shortest round-trip form, e.g. ``1700000000.25``,
  ``1e+16``, ``1e-05``, ``inf``, ``nan``, ``-0.0``.

Readers (:func:`decode_state`) accept any valid text format, as TensorFlow's
``text_format.Merge`` does: any whitespace, ``#`` comments, fields in any order,
adjacent string literals, every escape, a singular field given twice (the last wins).
An unknown field or any other parse error is a :class:`~tensorkeep.errors.DataLossError`
naming the file; TensorFlow logs such a file and treats the state as absent, which is
the caller's decision here. Whether ``model_checkpoint_path`` is empty is also left to
the caller (TensorFlow rejects such a state with ``ValueError``).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from tensorkeep.errors import InvalidArgumentError, data_loss

__all__ = ["CheckpointState", "encode_state", "decode_state"]


@dataclass(frozen=True)
class CheckpointState:
    """The contents of a ``checkpoint`` state file (TensorFlow's CheckpointState)."""

    model_checkpoint_path: str = ""
    all_model_checkpoint_paths: tuple[str, ...] = ()
    all_model_checkpoint_timestamps: tuple[float, ...] = ()
    last_preserved_timestamp: float = 0.0

    def __post_init__(self) -> None:
        # Accept any iterables (lists from callers), store tuples: the record stays hashable.
        object.__setattr__(self, "all_model_checkpoint_paths",
                           tuple(self.all_model_checkpoint_paths))
        object.__setattr__(self, "all_model_checkpoint_timestamps",
                           tuple(float(t) for t in self.all_model_checkpoint_timestamps))
        object.__setattr__(self, "last_preserved_timestamp", float(self.last_preserved_timestamp))


# protobuf's text_encoding: ASCII escapes, non-printable ASCII as 3-digit octal.
_ASCII_ESCAPES: dict[int, str] = {i: f"\\{i:03o}" for i in range(128) if not 32 <= i < 127}
_ASCII_ESCAPES.update({ord("\t"): "\\t", ord("\n"): "\\n", ord("\r"): "\\r",
                       ord('"'): '\\"', ord("'"): "\\'", ord("\\"): "\\\\"})
# The same per byte, and every byte >= 0x80 as octal (the as_utf8=False form).
_BYTE_ESCAPES: list[str] = [_ASCII_ESCAPES.get(i, chr(i)) if i < 128 else f"\\{i:03o}"
                            for i in range(256)]

_ZERO_DOUBLE = bytes(8)


def _quote(value: str, as_utf8: bool) -> str:
    try:
        raw = value.encode("utf-8")
    except UnicodeEncodeError as exc:  # lone surrogates: protobuf refuses them too
        raise InvalidArgumentError(
            f"checkpoint path is not valid Unicode text and cannot be stored: {value!r}") from exc
    if as_utf8:
        return '"' + value.translate(_ASCII_ESCAPES) + '"'
    return '"' + "".join([_BYTE_ESCAPES[b] for b in raw]) + '"'


def _double(value: float) -> str:
    return str(float(value))


def _is_default_double(value: float) -> bool:
    # proto3 implicit presence: only +0.0 (all bits zero) is "unset"; -0.0 and nan print.
    return struct.pack("<d", value) == _ZERO_DOUBLE


def encode_state(state: CheckpointState, *, as_utf8: bool = True) -> str:
    """The state file text, exactly as TensorFlow's ``text_format.MessageToString``.

    ``as_utf8=False`` escapes non-ASCII characters byte by byte (``\\303\\251`` for
    ``é``), as older protobuf releases did; both forms read back identically.
    """
    lines: list[str] = []
    if state.model_checkpoint_path:
        lines.append(f"model_checkpoint_path: {_quote(state.model_checkpoint_path, as_utf8)}\n")
    for path in state.all_model_checkpoint_paths:
        lines.append(f"all_model_checkpoint_paths: {_quote(path, as_utf8)}\n")
    for stamp in state.all_model_checkpoint_timestamps:
        lines.append(f"all_model_checkpoint_timestamps: {_double(stamp)}\n")
    if not _is_default_double(state.last_preserved_timestamp):
        lines.append(f"last_preserved_timestamp: {_double(state.last_preserved_timestamp)}\n")
    return "".join(lines)


def decode_state(text: str | bytes | bytearray | memoryview, *,
                 filename: str | None = None) -> CheckpointState:
    """Parse state file text (any valid text format); ``DataLossError`` if it is not one."""
    if isinstance(text, (bytes, bytearray, memoryview)):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise data_loss(f"checkpoint state is not UTF-8 text ({exc.reason} at byte "
                            f"{exc.start})", filename=filename, offset=exc.start) from exc
    elif not isinstance(text, str):
        raise TypeError(f"decode_state takes str or bytes, not {type(text).__name__}")

    from google.protobuf import text_format  # lazily: importing protobuf is not free

    from tensorkeep.proto import checkpoint_state_pb2

    message = checkpoint_state_pb2.CheckpointState()
    try:
        text_format.Merge(text, message)
    except Exception as exc:  # text_format raises ParseError, and on odd input others
        raise data_loss(f"checkpoint state is not valid CheckpointState text ({exc})",
                        filename=filename) from exc
    return CheckpointState(
        model_checkpoint_path=message.model_checkpoint_path,
        all_model_checkpoint_paths=tuple(message.all_model_checkpoint_paths),
        all_model_checkpoint_timestamps=tuple(message.all_model_checkpoint_timestamps),
        last_preserved_timestamp=message.last_preserved_timestamp,
    )
