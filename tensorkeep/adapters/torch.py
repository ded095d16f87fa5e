"""PyTorch: modules, optimizers and state_dicts to checkpoint arrays and back.

Imports torch only when called (``tensorkeep`` never imports it). Dtypes keep
their identity, mapped through the one table in :mod:`tensorkeep.dtypes` by
TensorFlow's dtype name (``torch.bfloat16`` <-> ``DT_BFLOAT16``, the float8
types, ``bool``, ``int4``/``uint4``/``int2``/``uint2`` as one byte per element).
Tensors become numpy arrays without a copy (CPU tensors; a dtype numpy lacks is
viewed as the integer of its width, then as the ml_dtypes type); arrays become
tensors with ``torch.from_numpy`` on such views.

Names: a module's ``state_dict()`` keys (``fc1.weight``); an optimizer's
``state_dict()`` flattened (``state/0/exp_avg``, ``param_groups/0/lr``).
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from tensorkeep import dtypes as _dt
from tensorkeep import errors
from tensorkeep.adapters._common import (
    IncompatibleKeys, check, join, loaded, shape_error, stored_shape)

_INT_OF_WIDTH = {1: "uint8", 2: "int16", 4: "int32", 8: "int64"}


def _torch() -> Any:
    try:
        import torch
    except ImportError:
        raise errors.UnimplementedError(
            "PyTorch is not installed; install it with `pip install tensorkeep[torch]`") from None
    return torch


def kind(obj: Any) -> str | None:
    """'tensor', 'module', 'optimizer' or None — without importing torch."""
    torch = loaded("torch")
    if torch is None:
        return None
    if isinstance(obj, torch.Tensor):
        return "tensor"
    if isinstance(obj, torch.nn.Module):
        return "module"
    if isinstance(obj, torch.optim.Optimizer):
        return "optimizer"
    return None


@functools.cache
def _maps() -> tuple[dict[Any, tuple[Any, np.dtype]], dict[np.dtype, tuple[Any, Any]]]:
    """torch dtype <-> numpy dtype, derived from the dtype table by TensorFlow's names.

    Each entry carries the same-width view dtype used when numpy cannot hold the
    torch dtype directly (``None`` when it can).
    """
    torch = _torch()
    to_np: dict[Any, tuple[Any, np.dtype]] = {}
    from_np: dict[np.dtype, tuple[Any, Any]] = {}
    for d in _dt.all_dtypes():
        if d.numpy is None or d.kind == "quantized":
            continue
        td = getattr(torch, d.name, None)
        if not isinstance(td, torch.dtype) or td.itemsize != d.numpy.itemsize:
            continue                                   # e.g. no float4_e2m1fn in torch
        npd = d.numpy.newbyteorder("=")
        try:
            native = torch.empty(0, dtype=td).numpy().dtype == npd
        except (TypeError, RuntimeError):
            native = False
        view = None if native else getattr(torch, _INT_OF_WIDTH[npd.itemsize])
        to_np[td] = (view, npd)
        from_np[npd] = (td, view)
    return to_np, from_np


def numpy_dtype(torch_dtype: Any) -> np.dtype:
    """The numpy (ml_dtypes) dtype of a torch dtype, by the one dtype table."""
    try:
        return _maps()[0][torch_dtype][1]
    except KeyError:
        raise errors.InvalidArgumentError(
            f"{torch_dtype} has no TensorFlow checkpoint dtype") from None


def torch_dtype(numpy_dtype: Any) -> Any:
    """The torch dtype of a numpy dtype, by the one dtype table."""
    npd = np.dtype(numpy_dtype).newbyteorder("=")
    try:
        return _maps()[1][npd][0]
    except KeyError:
        raise errors.InvalidArgumentError(f"PyTorch has no dtype for {npd}") from None


def tensor_to_numpy(t: Any) -> np.ndarray:
    """A numpy view of a tensor (detached; copied only if it is not on the CPU)."""
    t = t.detach()
    if t.layout != _torch().strided:
        raise errors.InvalidArgumentError(f"cannot save a {t.layout} tensor; convert it to dense")
    if t.device.type != "cpu":
        t = t.cpu()
    if t.is_conj():
        t = t.resolve_conj()
    if t.is_neg():
        t = t.resolve_neg()
    try:
        view, npd = _maps()[0][t.dtype]
    except KeyError:
        raise errors.InvalidArgumentError(
            f"{t.dtype} tensors have no TensorFlow checkpoint dtype") from None
    if view is None:
        return t.numpy()
    return t.view(view).numpy().view(npd)


def numpy_to_tensor(arr: np.ndarray) -> Any:
    """A tensor sharing ``arr``'s memory (read-only arrays too: torch only reads them here)."""
    torch = _torch()
    arr = np.asarray(arr)
    if arr.dtype.kind in "OSU":
        raise errors.InvalidArgumentError("string tensors have no PyTorch equivalent")
    if arr.dtype.byteorder == ">" or any(s < 0 for s in arr.strides):
        arr = np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("="))
    td, view = _maps()[1].get(arr.dtype.newbyteorder("="), (None, None))
    if td is None:
        raise errors.InvalidArgumentError(f"PyTorch has no dtype for {arr.dtype}")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        if view is None:
            return torch.from_numpy(arr)
        np_view = np.dtype(_INT_OF_WIDTH[arr.dtype.itemsize])
        return torch.from_numpy(arr.view(np_view)).view(td)


def to_arrays(obj: Any) -> dict[str, np.ndarray]:
    """A module's, optimizer's or state_dict's tensors as numpy arrays by name."""
    from tensorkeep.adapters import numpy as _np_adapter

    k = kind(obj)
    if k == "module":
        return {name: tensor_to_numpy(v) for name, v in obj.state_dict().items()}
    if k == "optimizer":
        return _np_adapter.to_arrays(obj.state_dict())
    if k == "tensor":
        raise errors.InvalidArgumentError("save() takes a mapping of names to tensors, got a tensor")
    return _np_adapter.to_arrays(obj)


# ---------------------------------------------------------------------- restore

def restore(obj: Any, arrays: Mapping[str, Any], strict: bool = True) -> IncompatibleKeys:
    """Copy ``arrays`` into a module, optimizer or state_dict in place."""
    k = kind(obj)
    if k == "module":
        return _restore_module(obj, arrays, strict)
    if k == "optimizer":
        return _restore_optimizer(obj, arrays, strict)
    from tensorkeep.adapters import numpy as _np_adapter

    return _np_adapter.restore(obj, arrays, strict, what="state_dict")


def _restore_module(module: Any, arrays: Mapping[str, Any], strict: bool) -> IncompatibleKeys:
    """``module.load_state_dict`` over zero-copy tensors: PyTorch's own checks and hooks."""
    torch = _torch()
    expected = set(module.state_dict().keys())
    placeholder = torch.empty(0)
    state = {}
    for name in arrays:
        # Unexpected names are only reported, never read (they may be strings).
        state[name] = numpy_to_tensor(arrays[name]) if name in expected else placeholder
    try:
        res = module.load_state_dict(state, strict=False)
    except RuntimeError as exc:                 # size mismatch: PyTorch's message
        raise errors.InvalidArgumentError(f"error(s) restoring {type(module).__name__}: "
                                          + " ".join(str(exc).split())) from None
    return check(list(res.missing_keys), list(res.unexpected_keys), strict, type(module).__name__)


def copy_into(name: str, t: Any, arrays: Mapping[str, Any], mismatched: list[str]) -> None:
    """``t.copy_(stored)`` without autograd; shapes must match."""
    torch = _torch()
    stored = stored_shape(arrays, name)
    if tuple(t.shape) != stored:
        mismatched.append(shape_error(name, stored, tuple(t.shape)))
        return
    with torch.no_grad():
        t.copy_(numpy_to_tensor(arrays[name]))


def _restore_optimizer(opt: Any, arrays: Mapping[str, Any], strict: bool) -> IncompatibleKeys:
    """Rebuild the optimizer's state_dict from ``state/<id>/<key>`` and ``param_groups/...``."""
    torch = _torch()
    from tensorkeep.adapters import numpy as _np_adapter

    template = opt.state_dict()
    missing: list[str] = []
    used: set[str] = set()
    mismatched: list[str] = []
    groups = []
    for i, group in enumerate(template["param_groups"]):
        new = dict(group)
        for key, value in group.items():
            name = join(join("param_groups", i), key)
            if key == "params" or value is None:
                if key == "params" and name in arrays:
                    used.add(name)
                continue
            if name not in arrays:
                missing.append(name)
                continue
            used.add(name)
            if isinstance(value, torch.Tensor):
                new[key] = numpy_to_tensor(np.array(arrays[name])).to(value.dtype)
            else:
                restored = _np_adapter._like(name, value, arrays[name], mismatched)
                if restored is not None:
                    new[key] = restored
        groups.append(new)
    known_ids = {p for g in template["param_groups"] for p in g["params"]}
    state: dict[Any, dict[str, Any]] = {}
    for name in arrays:
        parts = name.split("/")
        if len(parts) != 3 or parts[0] != "state" or not parts[1].isdigit() \
                or int(parts[1]) not in known_ids:
            continue
        pid, key = int(parts[1]), parts[2]
        old = template["state"].get(pid, {}).get(key)
        value = np.array(arrays[name])                         # the optimizer owns its state
        if old is None or isinstance(old, torch.Tensor):
            state.setdefault(pid, {})[key] = numpy_to_tensor(value)
        else:
            restored = _np_adapter._like(name, old, value, mismatched)
            if restored is not None:
                state.setdefault(pid, {})[key] = restored
        used.add(name)
    for pid, entries in template["state"].items():
        for key, value in entries.items():
            name = f"state/{pid}/{key}"
            if value is not None and name not in arrays:
                missing.append(name)
    unexpected = [n for n in arrays if n not in used]
    report = check(missing, unexpected, strict, type(opt).__name__, mismatched)
    opt.load_state_dict({"state": state, "param_groups": groups})
    return report


__all__ = ["to_arrays", "restore", "tensor_to_numpy", "numpy_to_tensor", "numpy_dtype",
           "torch_dtype", "kind"]
