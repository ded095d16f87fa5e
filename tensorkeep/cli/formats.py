"""Checkpoint file formats the command line reads and writes.

* ``tf``: a TensorFlow checkpoint prefix (``P.index`` + ``P.data-*``), or a
  directory with a ``checkpoint`` state file (its latest checkpoint);
* ``safetensors``: via ``safetensors.numpy`` / ``safe_open(framework="np")``;
* ``npz``: numpy archives, read with ``allow_pickle=False``. Dtypes numpy
  stores as raw void (bfloat16, float8, int4 ...) are named in an extra entry
  ``__tensorkeep_dtypes__`` (``name<TAB>dtype`` lines) so they keep their identity;
* ``torch``: PyTorch weights-only files: read with ``torch.load(weights_only=True)``,
  written with ``torch.save`` of a plain dict of tensors.

Nothing else unpickles anything. The format follows the file name (``.safetensors``,
``.npz``, ``.pt``/``.pth``/``.bin``; anything else is a TensorFlow prefix) unless
given explicitly.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from tensorkeep import dtypes as _dt
from tensorkeep import errors

FORMATS = ("tf", "safetensors", "npz", "torch")
_SUFFIXES = {".safetensors": "safetensors", ".npz": "npz", ".pt": "torch", ".pth": "torch",
             ".bin": "torch"}
NPZ_DTYPES_KEY = "__tensorkeep_dtypes__"

Progress = Callable[[int], None]


def guess_format(path: str) -> str:
    """The format a path names, from its suffix (default: a TensorFlow checkpoint)."""
    return _SUFFIXES.get(os.path.splitext(path)[1].lower(), "tf")


def tf_prefix(path: str) -> str:
    """A TF checkpoint prefix for ``path`` (a directory: its latest), or NotFoundError."""
    from tensorkeep.checkpoint.reader import _resolve

    if os.path.isdir(path):
        try:
            return _resolve(path)
        except ValueError:
            raise errors.NotFoundError(
                f"no checkpoint in directory {path} (it has no 'checkpoint' state file naming "
                f"an existing checkpoint)", filename=path) from None
    if os.path.exists(path + ".index") or (os.path.isfile(path) and not path.endswith(".index")):
        return path
    if path.endswith(".index") and os.path.isfile(path):
        return path[: -len(".index")]
    hint = ""
    if path.endswith((".data-00000-of-00001",)) or ".data-" in os.path.basename(path):
        hint = f"; pass the prefix ({path.split('.data-')[0]})"
    raise errors.NotFoundError(
        f"no checkpoint at {path} (expected {path}.index, a directory with a 'checkpoint' file, "
        f"or a .safetensors/.npz/.pt file){hint}", filename=path)


def _require(module: str, extra: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise errors.UnimplementedError(
            f"this needs {module.split('.')[0]}; install it with `pip install {extra}`") from None


def read(path: str, fmt: str | None = None) -> Mapping[str, Any]:
    """A mapping of name -> numpy array for the checkpoint at ``path``."""
    fmt = fmt or guess_format(path)
    if fmt == "tf":
        from tensorkeep.checkpoint.reader import LazyCheckpoint

        return LazyCheckpoint(tf_prefix(path))
    if not os.path.isfile(path):
        raise errors.NotFoundError(f"no such file: {path}", filename=path)
    if fmt == "safetensors":
        st = _require("safetensors", "safetensors")
        _dt.load_ml_dtypes()            # safetensors asks numpy for "bfloat16" by name
        try:
            with st.safe_open(path, framework="np") as f:
                return {k: f.get_tensor(k) for k in f.keys()}
        except Exception as exc:  # noqa: BLE001  (safetensors' own error types)
            raise errors.DataLossError(f"cannot read safetensors file {path}: {exc}",
                                       filename=path) from None
    if fmt == "npz":
        try:
            with np.load(path, allow_pickle=False) as z:
                out = {k: z[k] for k in z.files}
        except (ValueError, OSError) as exc:
            raise errors.DataLossError(f"cannot read npz file {path}: {exc}", filename=path) from None
        return _npz_restore_dtypes(out)
    if fmt == "torch":
        torch = _require("torch", "tensorkeep[torch]")
        from tensorkeep.adapters import numpy as _np_adapter

        try:
            obj = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001  (torch raises many kinds)
            raise errors.DataLossError(f"cannot read PyTorch file {path} as weights-only: "
                                       f"{' '.join(str(exc).split())[:300]}", filename=path) from None
        if not isinstance(obj, Mapping):
            raise errors.InvalidArgumentError(
                f"{path} holds a {type(obj).__name__}, not a dict of tensors")
        return _np_adapter.to_arrays(obj)
    raise errors.InvalidArgumentError(f"unknown format {fmt!r} (choose from {', '.join(FORMATS)})")


def _npz_restore_dtypes(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    names = arrays.pop(NPZ_DTYPES_KEY, None)
    if names is None:
        return arrays
    for line in np.asarray(names).reshape(-1).tolist():
        text = line.decode("utf-8") if isinstance(line, bytes) else str(line)
        name, _, dtype_name = text.rpartition("\t")
        if name in arrays:
            try:
                npd = _dt.as_dtype(dtype_name).numpy
            except TypeError:
                continue
            if npd is not None and npd.itemsize == arrays[name].dtype.itemsize:
                arrays[name] = arrays[name].view(npd)
    return arrays


def can_hold(fmt: str, array: np.ndarray) -> bool:
    """Whether ``fmt`` stores this array's dtype (only TF checkpoints hold strings)."""
    if array.dtype.kind in "OSU":
        return fmt == "tf"
    if fmt == "torch":
        from tensorkeep.adapters import torch as _t

        try:
            _t.torch_dtype(array.dtype)
        except errors.InvalidArgumentError:
            return False
    if fmt == "safetensors":
        return array.dtype.name in _safetensors_dtypes()
    return True


def _safetensors_dtypes() -> set[str]:
    """numpy dtype names safetensors accepts: asked of safetensors for each table dtype."""
    st = _require("safetensors.numpy", "safetensors")
    ok = set()
    for d in _dt.all_dtypes():
        if d.numpy is None or d.kind == "quantized":
            continue
        try:
            st.save({"x": np.zeros(0, d.numpy)})
        except Exception:  # noqa: BLE001  (SafetensorError: unknown dtype)
            continue
        ok.add(d.numpy.name)
    return ok


def write(path: str, arrays: Mapping[str, np.ndarray], fmt: str | None = None,
          progress: Progress | None = None) -> None:
    """Write ``arrays`` to ``path`` in ``fmt``; the file appears only when complete."""
    fmt = fmt or guess_format(path)
    step = progress or (lambda n: None)
    if fmt == "tf":
        from tensorkeep.bundle.writer import BundleWriter

        with BundleWriter(path, makedirs=True) as w:
            for name in sorted(arrays, key=lambda k: k.encode("utf-8", "surrogateescape")):
                w.add(name, arrays[name])
                step(_nbytes(arrays[name]))
        return
    parent = os.path.dirname(path)
    if parent:
        os.makedirs(parent, exist_ok=True)
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        if fmt == "safetensors":
            st = _require("safetensors.numpy", "safetensors")
            data = {k: v if v.flags.c_contiguous else v.copy(order="C")
                    for k, v in ((k, np.asarray(v)) for k, v in arrays.items())}
            st.save_file(data, tmp)
        elif fmt == "npz":
            data = {k: np.asarray(v) for k, v in arrays.items()}
            if NPZ_DTYPES_KEY in data:
                raise errors.InvalidArgumentError(f"the name {NPZ_DTYPES_KEY} is reserved in .npz")
            special = [f"{k}\t{_dt.as_dtype(v.dtype).name}" for k, v in data.items()
                       if v.dtype.kind == "V" and v.dtype.names is None]
            if special:
                data[NPZ_DTYPES_KEY] = np.array([s.encode("utf-8") for s in special])
            with open(tmp, "wb") as f:
                np.savez(f, **data)
        elif fmt == "torch":
            torch = _require("torch", "tensorkeep[torch]")
            from tensorkeep.adapters import torch as _t

            data = {k: _t.numpy_to_tensor(np.array(v)) for k, v in arrays.items()}
            torch.save(data, tmp)
        else:
            raise errors.InvalidArgumentError(f"unknown format {fmt!r} (choose from {', '.join(FORMATS)})")
        for v in arrays.values():
            step(_nbytes(v))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _nbytes(a: Any) -> int:
    return int(getattr(a, "nbytes", 0) or 0)
