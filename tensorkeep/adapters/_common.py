"""What every adapter shares: the restore report, the strict check, name joining.

An adapter has two verbs (the same in each, as in safetensors):

* ``to_arrays(obj) -> dict[str, np.ndarray]`` — flat names (``/``-joined) to arrays;
* ``restore(obj, arrays, strict) -> ...`` — put ``arrays`` into ``obj`` (in place, returning
  :class:`IncompatibleKeys`), or, for immutable JAX pytrees, return a new tree.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, NamedTuple

import numpy as np

from tensorkeep import errors


class IncompatibleKeys(NamedTuple):
    """Names the target expected but the checkpoint lacks, and the reverse (PyTorch's report)."""

    missing_keys: list[str]
    unexpected_keys: list[str]

    def __repr__(self) -> str:
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return (f"IncompatibleKeys(missing_keys={self.missing_keys}, "
                f"unexpected_keys={self.unexpected_keys})")


def join(prefix: str, key: Any) -> str:
    """``prefix/key`` (just ``key`` at the root); keys must be str or int."""
    if isinstance(key, bool) or not isinstance(key, (str, int, np.integer)):
        raise errors.InvalidArgumentError(
            f"checkpoint names must be strings (or ints), got {type(key).__name__} {key!r} "
            f"under {prefix or 'the root'!r}")
    key = str(key)
    if not key:
        raise errors.InvalidArgumentError(f"empty tensor name under {prefix or 'the root'!r}")
    return f"{prefix}/{key}" if prefix else key


def _quote(names: Iterable[str], limit: int = 10) -> str:
    names = list(names)
    shown = ", ".join(f'"{n}"' for n in names[:limit])
    return shown + (f" (and {len(names) - limit} more)" if len(names) > limit else "")


def check(missing: list[str], unexpected: list[str], strict: bool, what: str,
          mismatched: list[str] | None = None) -> IncompatibleKeys:
    """Raise for shape mismatches always, and for missing/unexpected names when ``strict``.

    The error is a ``RuntimeError`` (FailedPreconditionError), as PyTorch's
    ``load_state_dict`` raises, and lists the names.
    """
    if mismatched:
        raise errors.InvalidArgumentError(f"error(s) restoring {what}: " + "; ".join(mismatched))
    if strict and (missing or unexpected):
        parts = []
        if missing:
            parts.append(f"missing key(s) in checkpoint: {_quote(missing)}")
        if unexpected:
            parts.append(f"unexpected key(s) in checkpoint: {_quote(unexpected)}")
        raise errors.FailedPreconditionError(
            f"error(s) restoring {what}: " + "; ".join(parts) + " (pass strict=False to ignore)")
    return IncompatibleKeys(list(missing), list(unexpected))


def shape_error(name: str, stored: tuple[int, ...], target: tuple[int, ...]) -> str:
    return (f"size mismatch for {name}: the checkpoint has shape {list(stored)}, "
            f"the target has shape {list(target)}")


class SubMapping(Mapping):  # type: ignore[type-arg]
    """The names under ``prefix/`` of a mapping, with the prefix stripped (no copies)."""

    def __init__(self, base: Mapping[str, Any], prefix: str) -> None:
        self._base = base
        self._prefix = prefix + "/" if prefix else ""
        self._keys = [k[len(self._prefix):] for k in base if k.startswith(self._prefix)]
        self._keyset = set(self._keys)

    def __getitem__(self, name: str) -> Any:
        if name not in self._keyset:
            raise KeyError(name)
        return self._base[self._prefix + name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, name: object) -> bool:
        return name in self._keyset

    def shape(self, name: str) -> tuple[int, ...]:
        return stored_shape(self._base, self._prefix + name)


def stored_shape(arrays: Mapping[str, Any], name: str) -> tuple[int, ...]:
    """A tensor's shape without reading it, when the mapping can tell (LazyCheckpoint can)."""
    shape = getattr(arrays, "shape", None)
    if callable(shape):
        return tuple(shape(name))
    return tuple(np.shape(arrays[name]))


def loaded(module: str) -> Any:
    """The module if it is already imported, else None: an object of a framework that was
    never imported cannot exist, so checking costs no import."""
    return sys.modules.get(module)
