"""Grouping and ordering: ``no_op``, ``group``, ``tuple``, ``with_dependencies``."""

from __future__ import annotations

import builtins
from typing import Any

from tensorkeep.graph import array_ops
from tensorkeep.graph import ops as _ops
from tensorkeep.graph.op_def_library import apply_op


def no_op(name: str | None = None) -> _ops.Operation:
    return apply_op("NoOp", name=name)


def _flatten(values: Any) -> list[Any]:
    out: list[Any] = []
    for v in values:
        if isinstance(v, (list, builtins.tuple)):
            out.extend(_flatten(v))
        elif isinstance(v, dict):
            out.extend(_flatten([v[k] for k in sorted(v)]))
        else:
            out.append(v)
    return out


def _group_on_device(dev: str | None, deps: list[Any], name: str | None = None) -> _ops.Operation:
    with _ops.control_dependencies(deps):
        if dev is None:
            return no_op(name=name)
        with _ops.device(dev):
            return no_op(name=name)


def group(*inputs: Any, name: str | None = None) -> _ops.Operation:
    """A NoOp depending on all inputs (one NoOp per device when they span devices)."""
    with _ops.name_scope(name, "group_deps", inputs) as scope:
        if not inputs:
            return no_op(name=scope)
        on_device: dict[str, list[Any]] = {}
        for inp in _flatten(inputs):
            if type(inp) is not _ops.Operation:  # else nothing to check (a Saver groups thousands)
                if not isinstance(inp, (_ops.Tensor, _ops.Operation)) and hasattr(inp, "_as_graph_element"):
                    inp = inp._as_graph_element()
                if not hasattr(inp, "device"):
                    raise TypeError(f"'{inp}' is not a tf.Operation or tf.Tensor")
            on_device.setdefault(inp.device, []).append(inp)
        if len(on_device) == 1:
            (dev, deps), = on_device.items()
            return _group_on_device(dev, deps, name=scope)
        all_deps = [_group_on_device(dev, on_device[dev]) for dev in sorted(on_device)]
        with _ops.control_dependencies(all_deps):
            return no_op(name=scope)


def with_dependencies(dependencies: list[Any], output_tensor: Any, name: str | None = None) -> Any:
    """``output_tensor`` passed through an Identity that runs after ``dependencies``."""
    with _ops.name_scope(name, "control_dependency", list(dependencies) + [output_tensor]) as scope:
        with _ops.colocate_with(output_tensor):
            with _ops.control_dependencies(dependencies):
                output_tensor = _ops.convert_to_tensor(output_tensor)
                return array_ops.identity(output_tensor, name=scope)


def tuple(tensors: list[Any], name: str | None = None, control_inputs: list[Any] | None = None) -> list[Any]:  # noqa: A001
    """The tensors, each gated on all of them (TF's ``tf.tuple``)."""
    with _ops.name_scope(name, "tuple", tensors) as scope:
        gating = [t.op if isinstance(t, _ops.Tensor) else t for t in tensors if t is not None]
        if control_inputs:
            gating.extend(control_inputs)
        gate = group(*gating)
        out = []
        for t in tensors:
            if isinstance(t, _ops.Tensor):
                out.append(with_dependencies([gate], t))
            elif isinstance(t, _ops.Operation):
                with _ops.control_dependencies([gate]):
                    out.append(group(t))
            else:
                out.append(None)
        del scope
        return out
