"""``tf.compat.v1.train.Saver``: save and restore graph variables by name.

Three parts, each small:

* **saveables** — what a Saver saves: :func:`op_list_to_dict` turns a
  ``var_list`` into ``{checkpoint key: variable}`` as TF does (op names, slice
  full names for partitioned variables, TF's errors); :func:`validate_and_slice_inputs`
  makes :class:`SaveableObject` s from it (each a list of :class:`SaveSpec`).
* **builders** — :class:`BulkSaverBuilder` adds exactly TF's nodes to the graph
  (METAGRAPH.md §5): ``save/filename``, ``save/Const``, ``save/SaveV2`` (or
  ``save/save`` SaveSlices for V1), ``save/control_dependency``,
  ``save/RestoreV2`` on CPU, ``save/Assign*``, ``save/restore_all``; sharded
  saves group saveables by device and merge with ``MergeV2Checkpoints``.
* **Saver** — runs those nodes through a Session, then keeps the books with
  :mod:`tensorkeep.checkpoint.state` (the ``checkpoint`` file) and
  :mod:`tensorkeep.checkpoint.retention` (``max_to_keep``,
  ``keep_checkpoint_every_n_hours``).

Behaviour, names and messages follow STATE_AND_SAVER.md §3 and
OBSERVED_TF_2.21.md §2-3. Deliberate differences are listed in the Saver's
docstring.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import operator
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from tensorkeep import dtypes as _dt
from tensorkeep import errors
from tensorkeep.checkpoint import retention as _retention
from tensorkeep.graph import array_ops, control_flow_ops
from tensorkeep.graph import device as _device
from tensorkeep.graph import ops as _ops
from tensorkeep.graph import shape_fns as _shape_fns
from tensorkeep.graph import variables as _variables
from tensorkeep.graph.constant_op import constant, placeholder_with_default
from tensorkeep.graph.op_def_library import apply_op, node_plan
from tensorkeep.proto import saver_pb2

# checkpoint.naming and checkpoint.state (and through them the bundle reader, writer and
# crc32c) are imported by the methods that save and restore: building a Saver's nodes
# needs none of them, and importing them took ~0.15 s of a 10,000-variable build (no
# .pyc files here: each module is compiled when imported).

__all__ = [
    "Saver", "SaverDef", "BaseSaverBuilder", "BulkSaverBuilder", "SaveSpec", "SaveableObject",
    "op_list_to_dict", "validate_and_slice_inputs", "saver_from_def",
]

logger = logging.getLogger("tensorkeep")

SaverDef = saver_pb2.SaverDef

_REF_VARIABLE_OPS = ("Variable", "VariableV2", "AutoReloadVariable")


# ====================================================================== saveables

class SaveSpec:
    """One tensor to save: its value tensor, slice spec, checkpoint key, dtype, device."""

    def __init__(self, tensor: _ops.Tensor, slice_spec: str, name: str, dtype: Any = None,
                 device: str | None = None) -> None:
        self.tensor = tensor
        self.slice_spec = slice_spec
        self.name = name
        if type(dtype) is not _dt.DType:
            dtype = _dt.as_dtype(dtype) if dtype is not None else tensor.dtype
        self.dtype = dtype.base_dtype
        self.device = device if device is not None else tensor.device


class SaveableObject:
    """Something saved as one or more tensors and restored by one op.

    ``op`` identifies the underlying object (two saveables with the same ``op``
    are an error: the same variable under two names).
    """

    def __init__(self, op: Any, specs: list[SaveSpec], name: str) -> None:
        self.op = op
        self.specs = specs
        self.name = name

    @property
    def device(self) -> str:
        return self.specs[0].device

    def restore(self, restored_tensors: Sequence[_ops.Tensor],
                restored_shapes: Sequence[Any] | None) -> _ops.Operation:
        raise NotImplementedError


class ReferenceVariableSaveable(SaveableObject):
    """A reference variable (VariableV2): saved directly, restored by ``Assign``.

    ``var`` is the variable's ref tensor (whole variables: SaveV2 reads ``v``) or,
    for a partition, the Variable object (SaveV2 reads its ``read`` snapshot), as TF.
    """

    def __init__(self, var: Any, slice_spec: str, name: str) -> None:
        if type(var) is _ops.Tensor:  # a whole variable (a Saver makes thousands): read directly
            spec = SaveSpec(var, slice_spec, name, var._dtype.base_dtype, var._op._device)
        else:
            tensor = var if isinstance(var, _ops.Tensor) else var.value()
            spec = SaveSpec(tensor, slice_spec, name, dtype=var.dtype.base_dtype, device=var.device)
        super().__init__(var, [spec], name)

    def restore(self, restored_tensors: Sequence[_ops.Tensor],
                restored_shapes: Sequence[Any] | None) -> _ops.Operation:
        tensor = restored_tensors[0]
        if restored_shapes is not None:
            tensor = array_ops.reshape(tensor, restored_shapes[0])
        validate = restored_shapes is None and self.op.shape.is_fully_defined()
        return _variables.assign(self.op, tensor, validate_shape=validate).op


class ResourceVariableSaveable(SaveableObject):
    """A resource variable: its read value is saved; restored by ``AssignVariableOp``."""

    def __init__(self, var: Any, slice_spec: str, name: str) -> None:
        self._var = var
        self._handle = var.handle
        self._var_shape = var.shape
        self._var_device = var.device
        read = var._as_graph_element()  # the "<name>/Read/ReadVariableOp" tensor
        super().__init__(var, [SaveSpec(read, slice_spec, name, dtype=var.dtype,
                                        device=var.device)], name)

    def restore(self, restored_tensors: Sequence[_ops.Tensor],
                restored_shapes: Sequence[Any] | None) -> _ops.Operation:
        tensor = restored_tensors[0]
        if restored_shapes is not None:
            tensor = array_ops.reshape(tensor, restored_shapes[0])
        with _ops.device(self._var_device):
            tensor = array_ops.identity(tensor)
            if not self._var_shape.is_compatible_with(tensor.shape):
                raise ValueError(f"Shapes {self._var_shape} and {tensor.shape} are incompatible")
            return apply_op("AssignVariableOp", resource=self._handle, value=tensor,
                            dtype=self._var.dtype)


def _is_variable(x: Any) -> bool:
    return isinstance(x, _variables.Variable)


def _is_partitioned(x: Any) -> bool:
    return type(x).__name__ == "PartitionedVariable" or hasattr(x, "_get_variable_list")


def _tensor_comes_from_variable(t: Any) -> bool:
    return isinstance(t, _ops.Tensor) and t.op.type in (
        _REF_VARIABLE_OPS + ("VarHandleOp", "ReadVariableOp"))


def _flatten(values: Iterable[Any]) -> list[Any]:
    out: list[Any] = []
    for v in values:
        if isinstance(v, (list, tuple)):
            out.extend(_flatten(v))
        else:
            out.append(v)
    return out


def op_list_to_dict(op_list: Any) -> dict[str, Any]:
    """``{checkpoint key: variable or list of slices}`` for a list of variables (TF's rules).

    Ref variable → its op name; resource variable → its handle op name; a
    partition (``_save_slice_info``) → its full name, grouped in a list.
    """
    if not isinstance(op_list, (list, tuple, set)):
        raise TypeError(f"Variables to save should be passed in a dict or a list. Got {op_list}")
    op_list = sorted(_flatten(list(op_list)), key=lambda x: x.name)
    out: dict[str, Any] = {}
    for var in op_list:
        if isinstance(var, SaveableObject):
            out[var.name] = var
        elif _is_partitioned(var):
            if var.name in out:
                raise ValueError(f"At least two variables have the same name: {var.name}")
            out[var.name] = var
        elif _is_variable(var) and var._get_save_slice_info() is not None:
            name = var._get_save_slice_info().full_name
            if name in out:
                if not isinstance(out[name], list):
                    raise ValueError(f"Mixing slices and non-slices with the same name: {name}")
                out[name].append(var)
            else:
                out[name] = [var]
        else:
            if isinstance(var, _variables.ResourceVariable):
                name = var.handle.op.name
            else:
                t = _ops.convert_to_tensor(var, as_ref=True)
                if not _tensor_comes_from_variable(t):
                    raise TypeError(f"Variable to save is not a Variable: {t}")
                name = t.op.inputs[0].op.name if t.op.type == "ReadVariableOp" else t.op.name
                if t.op.type not in _REF_VARIABLE_OPS:
                    var = t
                else:
                    var = var if _is_variable(var) else t
            if name in out:
                raise ValueError(f"At least two variables have the same name: {name}")
            out[name] = var
    return out


def _saveables_for_op(op: Any, name: Any) -> list[SaveableObject]:
    if not isinstance(name, str):
        raise TypeError("names_to_saveables must be a dict mapping string names to trackable "
                        f"operations. Name is not a string: {name}")
    if type(op) is _variables.RefVariable:  # the common case: its ref tensor, as converted below
        t = op._variable
        if t._op._type in _REF_VARIABLE_OPS:
            return [ReferenceVariableSaveable(t, "", name)]
    if isinstance(op, SaveableObject):
        return [op]
    if isinstance(op, (list, tuple)) or _is_partitioned(op):
        parts = list(op._get_variable_list()) if hasattr(op, "_get_variable_list") else list(op)
        out: list[SaveableObject] = []
        slice_name = None
        for var in parts:
            if isinstance(var, SaveableObject):
                out.append(var)
                continue
            if not _is_variable(var):
                raise ValueError(f"Slices must all be Variables: {var}")
            info = var._get_save_slice_info()
            if info is None:
                raise ValueError(f"Slices must all be slices: {var!r}")
            if slice_name is None:
                slice_name = info.full_name
            elif slice_name != info.full_name:
                raise ValueError(f"Slices must all be from the same tensor: {slice_name} != "
                                 f"{info.full_name}")
            if isinstance(var, _variables.ResourceVariable):
                out.append(ResourceVariableSaveable(var, info.spec, name))
            else:
                out.append(ReferenceVariableSaveable(var, info.spec, name))
        return out
    if isinstance(op, _variables.ResourceVariable):
        return [ResourceVariableSaveable(op, "", name)]
    if isinstance(op, _ops.Tensor) and op.op.type == "VarHandleOp":
        raise TypeError("names_to_saveables must be a dict mapping string names to "
                        f"Tensors/Variables. Not a variable: {op}")
    try:
        t = _ops.convert_to_tensor(op, as_ref=True)
    except (TypeError, ValueError):
        t = None
    if t is None or not _tensor_comes_from_variable(t) or t.op.type == "ReadVariableOp":
        if t is None:
            t = op
        raise TypeError("names_to_saveables must be a dict mapping string names to "
                        f"Tensors/Variables. Not a variable: {t}")
    return [ReferenceVariableSaveable(t, "", name)]


_first = operator.itemgetter(0)


def validate_and_slice_inputs(names_to_saveables: Any) -> list[SaveableObject]:
    """Saveables sorted by checkpoint key; the same variable twice is an error."""
    if not isinstance(names_to_saveables, dict):
        names_to_saveables = op_list_to_dict(names_to_saveables)
    for key in names_to_saveables:
        if not isinstance(key, str):
            raise TypeError("names_to_saveables must be a dict mapping string names to trackable "
                            f"operations. Name is not a string: {key}")
    out: list[SaveableObject] = []
    seen: set[int] = set()
    for name, op in sorted(names_to_saveables.items(), key=_first):
        for saveable in _saveables_for_op(op, name):
            key = id(saveable.op)
            if saveable.op is not None and key in seen:
                raise ValueError(f"The same saveable will be restored with two names: {saveable.name}")
            out.append(saveable)
            seen.add(key)
    return out


def _whole_reference_variables(names_to_saveables: Any, graph: _ops.Graph
                               ) -> tuple[list[str], list[_ops.Tensor]] | None:
    """``(names, ref tensors)``, sorted by name, when ``names_to_saveables`` (a dict, or a
    list :func:`op_list_to_dict` takes) holds only whole RefVariables of ``graph`` over
    variable ops, each once: what :func:`validate_and_slice_inputs` would make a
    ReferenceVariableSaveable of, reading each one's ref tensor. None otherwise (the
    general path then makes the saveables, or raises its errors)."""
    if not isinstance(names_to_saveables, dict):
        if not isinstance(names_to_saveables, (list, tuple, set)) or not all(
                type(v) is _variables.RefVariable for v in names_to_saveables):
            return None
        names_to_saveables = op_list_to_dict(names_to_saveables)
    names: list[str] = []
    refs: list[_ops.Tensor] = []
    seen: set[int] = set()
    for name, var in names_to_saveables.items():
        if type(var) is not _variables.RefVariable or not isinstance(name, str):
            return None
        ref = var._variable
        if type(ref) is not _ops.Tensor or ref._op._type not in _REF_VARIABLE_OPS \
                or ref._op._graph is not graph or id(ref) in seen:
            return None
        seen.add(id(ref))
        names.append(name)
        refs.append(ref)
    order = sorted(range(len(names)), key=names.__getitem__)
    return [names[i] for i in order], [refs[i] for i in order]


def _all_saveable_objects(graph: _ops.Graph) -> list[Any]:
    return (graph.get_collection(_ops.GraphKeys.GLOBAL_VARIABLES)
            + graph.get_collection(_ops.GraphKeys.SAVEABLE_OBJECTS))


# ====================================================================== builders

@contextlib.contextmanager
def _no_collection() -> Iterator[None]:
    """Pause the cyclic garbage collector while a builder makes nodes in bulk.

    Every object made there is kept by the graph, so a collection would free nothing
    and only walk each node made so far: with thousands of variables that walking is
    a quarter of the Saver's build. Paused only around tensorkeep's own code (no user
    callbacks run inside); the collector's previous state is restored on exit.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _set_cpu0(device: str) -> str:
    spec = _device.DeviceSpec.from_string(device or "")
    return _device.DeviceSpec(spec.job, spec.replica, spec.task, "CPU", 0).to_string()


def _assigns_directly(graph: _ops.Graph) -> bool:
    """Whether :func:`_direct_assign` may create restore ops in ``graph`` now: the graph
    adds nothing to new colocated nodes and ``<name scope>/Assign`` is a valid node name."""
    scope = graph._name_stack
    return graph._adds_nothing(colocated=True) and _ops._VALID_OP_NAME.match(
        scope + "/Assign" if scope else "Assign") is not None


# (ref dtype enum, value dtype enum, validate_shape) -> Assign's attrs, output dtypes and OpDef
_ASSIGN_PLANS: dict[tuple[Any, ...], tuple[dict[str, Any], list[Any], Any]] = {}


def _direct_assign(graph: _ops.Graph, var: _ops.Tensor, value: _ops.Tensor) -> _ops.Operation:
    """``ReferenceVariableSaveable(var, ...).restore([value], None)`` (an Assign named
    ``Assign`` in the current name scope, colocated with the variable), created directly
    when :func:`_assigns_directly` holds: a Saver makes one per variable, and all of them
    share attrs worked out once."""
    validate = var._shape.is_fully_defined()
    key = (var._dtype.as_datatype_enum, value._dtype.as_datatype_enum, validate)  # hashed in C
    plan = _ASSIGN_PLANS.get(key)
    name, uniquify = "Assign", True
    if plan is None:  # worked out once the name is taken, as apply_op does (it may raise)
        name, uniquify = graph.unique_name(name), False
        plan = _ASSIGN_PLANS[key] = node_plan(
            "Assign", {"ref": var, "value": value, "validate_shape": validate, "use_locking": True})
    attrs, (dtype,), op_def = plan
    # its output is rarely used: made lazily, with the shape the shape function gives
    op = graph._create_plain_op(name, "Assign", [var, value], dtype, attrs, op_def,
                                colocate_with=var._op, uniquify=uniquify,
                                lazy_shape=_shape_fns.UNKNOWN)
    op._lazy_shape = _shape_fns.output_shapes(op)[0]
    return op


class _Built:
    """What a builder made, for the Saver's sequential restore.

    Kept as the lists each restore call made (restored tensors, saveables, their restore
    ops), not as one tuple per saveable: thousands fewer objects for the garbage collector
    to walk, and a Saver rarely restores sequentially.
    """

    def __init__(self) -> None:
        self._calls: list[tuple[list[_ops.Tensor], Any, list[_ops.Operation]]] = []

    def add(self, tensors: list[_ops.Tensor],
            saveables: list[SaveableObject] | Callable[[], list[SaveableObject]],
            ops: list[_ops.Operation]) -> None:
        """Record one restore call: ``tensors`` holds each saveable's restored tensors in
        turn; ``saveables`` may be a function making them, called when first asked for."""
        self._calls.append((tensors, saveables, ops))

    @property
    def restores(self) -> list[tuple[list[_ops.Tensor], _ops.Operation, SaveableObject]]:
        """(its restored tensors, its restore op, the saveable) for every saveable."""
        out = []
        for i, (tensors, saveables, ops) in enumerate(self._calls):
            if callable(saveables):
                saveables = saveables()
                self._calls[i] = (tensors, saveables, ops)
            idx = 0
            for saveable, op in zip(saveables, ops):
                out.append((tensors[idx:idx + len(saveable.specs)], op, saveable))
                idx += len(saveable.specs)
        return out


class BaseSaverBuilder:
    """Adds save and restore nodes for a list of saveables (one RestoreV2 per spec)."""

    def __init__(self, write_version: int = saver_pb2.SaverDef.V2) -> None:
        self._write_version = write_version
        self._built = _Built()

    # -- the nodes ----------------------------------------------------------------------

    def save_op(self, filename_tensor: _ops.Tensor, saveables: list[SaveableObject]) -> _ops.Operation:
        names, tensors, slices = [], [], []
        for saveable in saveables:
            for spec in saveable.specs:
                names.append(spec.name)
                tensors.append(spec.tensor)
                slices.append(spec.slice_spec)
        return self._save_op(filename_tensor, names, tensors, slices)

    def _save_op(self, filename_tensor: _ops.Tensor, names: list[str], tensors: list[_ops.Tensor],
                 slices: list[str]) -> _ops.Operation:
        if self._write_version == saver_pb2.SaverDef.V1:
            return apply_op("SaveSlices", name="save", filename=filename_tensor, tensor_names=names,
                            shapes_and_slices=slices, data=tensors)
        if self._write_version == saver_pb2.SaverDef.V2:
            return apply_op("SaveV2", prefix=filename_tensor, tensor_names=names,
                            shape_and_slices=slices, tensors=tensors)
        raise RuntimeError(f"Unexpected write_version: {self._write_version}")

    def restore_op(self, filename_tensor: _ops.Tensor, saveable: SaveableObject,
                   preferred_shard: int) -> list[_ops.Tensor]:
        del preferred_shard
        return [apply_op("RestoreV2", prefix=filename_tensor, tensor_names=[spec.name],
                         shape_and_slices=[spec.slice_spec], dtypes=[spec.dtype]).outputs[0]
                for spec in saveable.specs]

    def bulk_restore(self, filename_tensor: _ops.Tensor, saveables: list[SaveableObject],
                     preferred_shard: int, restore_sequentially: bool) -> list[_ops.Tensor]:
        out: list[_ops.Tensor] = []
        for saveable in saveables:
            device = _set_cpu0(saveable.device) if saveable.device else None
            with _ops.device(device):
                out.extend(self.restore_op(filename_tensor, saveable, preferred_shard))
        return out

    def sharded_filename(self, filename_tensor: _ops.Tensor, shard: int,
                         num_shards: _ops.Tensor) -> _ops.Tensor:
        return apply_op("ShardedFilename", basename=filename_tensor, shard=shard,
                        num_shards=num_shards).outputs[0]

    def _add_save_ops(self, filename_tensor: _ops.Tensor,
                      saveables: list[SaveableObject]) -> _ops.Tensor:
        save = self.save_op(filename_tensor, saveables)
        return control_flow_ops.with_dependencies([save], filename_tensor)

    def _add_sharded_save_ops_v2(self, prefix: _ops.Tensor,
                                 per_device: list[tuple[str, list[SaveableObject]]]) -> _ops.Tensor:
        with _ops.device("CPU"):
            suffix = apply_op("Select", condition=apply_op(
                "StaticRegexFullMatch", input=prefix, pattern="^s3://.*").outputs[0],
                t=constant(".part"), e=constant(os.path.normpath("_temp/part"))).outputs[0]
            tmp_prefix = apply_op("StringJoin", inputs=[prefix, suffix]).outputs[0]
        num_shards = constant(len(per_device), name="num_shards")
        saves, prefixes = [], []
        last_device = None
        for shard, (device, saveables) in enumerate(per_device):
            last_device = device
            with _ops.device(_set_cpu0(device)):
                filename = self.sharded_filename(tmp_prefix, shard, num_shards)
                prefixes.append(filename)
                saves.append(self._add_save_ops(filename, saveables))
        with _ops.control_dependencies([x.op for x in saves]):
            with _ops.device(_set_cpu0(last_device or "")):
                with _ops.name_scope("MergeV2Checkpoints") as scope:
                    # TF's list-to-tensor conversion: a Pack named after the input.
                    packed = apply_op("Pack", name="checkpoint_prefixes", values=prefixes,
                                      axis=0).outputs[0]
                merge = apply_op("MergeV2Checkpoints", name=scope, checkpoint_prefixes=packed,
                                 destination_prefix=prefix, delete_old_dirs=True)
                with _ops.control_dependencies([merge]):
                    return array_ops.identity(prefix)

    def _add_sharded_save_ops(self, filename_tensor: _ops.Tensor,
                              per_device: list[tuple[str, list[SaveableObject]]]) -> _ops.Tensor:
        if self._write_version == saver_pb2.SaverDef.V2:
            return self._add_sharded_save_ops_v2(filename_tensor, per_device)
        num_shards = constant(len(per_device), name="num_shards")
        saves = []
        for shard, (device, saveables) in enumerate(per_device):
            with _ops.device(device):
                filename = self.sharded_filename(filename_tensor, shard, num_shards)
                saves.append(self._add_save_ops(filename, saveables))
        with _ops.control_dependencies([x.op for x in saves]):
            return apply_op("ShardedFilespec", basename=filename_tensor,
                            num_shards=num_shards).outputs[0]

    def _add_restore_ops(self, filename_tensor: _ops.Tensor, saveables: list[SaveableObject],
                         restore_sequentially: bool, reshape: bool, preferred_shard: int = -1,
                         name: str = "restore_all") -> _ops.Operation:
        tensors = self.bulk_restore(filename_tensor, saveables, preferred_shard, restore_sequentially)
        assigns = []
        idx = 0
        graph = _ops.get_default_graph()
        direct = not reshape and _assigns_directly(graph)
        for saveable in saveables:
            if direct and type(saveable) is ReferenceVariableSaveable:
                var = saveable.op
                if type(var) is _ops.Tensor and var._op._graph is graph:
                    assigns.append(_direct_assign(graph, var, tensors[idx]))
                    idx += 1
                    continue
            shapes = None
            if reshape:
                shapes = []
                for spec in saveable.specs:
                    shape = spec.tensor.shape
                    if not shape.is_fully_defined():
                        shape = array_ops.shape(spec.tensor)
                    else:
                        shape = shape.as_list()
                    shapes.append(shape)
            mine = tensors[idx:idx + len(saveable.specs)]
            idx += len(saveable.specs)
            assigns.append(saveable.restore(mine, shapes))
        self._built.add(tensors, saveables, assigns)
        return control_flow_ops.group(*assigns, name=name)

    def _add_sharded_restore_ops(self, filename_tensor: _ops.Tensor,
                                 per_device: list[tuple[str, list[SaveableObject]]],
                                 restore_sequentially: bool, reshape: bool) -> _ops.Operation:
        shards = []
        for shard, (device, saveables) in enumerate(per_device):
            with _ops.device(device):
                shards.append(self._add_restore_ops(filename_tensor, saveables, restore_sequentially,
                                                    reshape, preferred_shard=shard,
                                                    name="restore_shard"))
        return control_flow_ops.group(*shards, name="restore_all")

    @staticmethod
    def _group_by_devices(saveables: list[SaveableObject]) -> list[tuple[str, list[SaveableObject]]]:
        per_device: dict[str, list[SaveableObject]] = {}
        for saveable in saveables:
            devices = {_device.canonical(spec.device) for spec in saveable.specs}
            if len(devices) != 1:
                raise ValueError("All tensors of a saveable object must be on the same device: "
                                 f"{saveable.name}")
            per_device.setdefault(devices.pop(), []).append(saveable)
        return sorted(per_device.items(), key=lambda kv: kv[0])

    # -- the whole saver ----------------------------------------------------------------

    def _build_internal(self, names_to_saveables: Any, reshape: bool = False, sharded: bool = False,
                        max_to_keep: int | None = 5, keep_checkpoint_every_n_hours: float = 10000.0,
                        name: str | None = None, restore_sequentially: bool = False,
                        filename: str = "model", build_save: bool = True,
                        build_restore: bool = True) -> saver_pb2.SaverDef:
        """Add the nodes and return their SaverDef (TF's ``_build_internal``)."""
        if not build_save or not build_restore:
            raise ValueError("save and restore operations need to be built together when eager "
                             "execution is not enabled.")
        self._built = _Built()
        graph = _ops.get_default_graph()
        # whole reference variables only: their ref tensors by name, with no saveables made
        whole = None
        if type(self) is BulkSaverBuilder and not (sharded or reshape):
            whole = _whole_reference_variables(names_to_saveables, graph)
        saveables = validate_and_slice_inputs(names_to_saveables) if whole is None else None
        if max_to_keep is None:
            max_to_keep = 0
        with graph.as_default(), _ops.name_scope(
                name, "save", whole[1] if whole is not None else [s.op for s in saveables]):
            filename_tensor = placeholder_with_default(filename or "model", shape=(), name="filename")
            filename_tensor = placeholder_with_default(filename_tensor, shape=(), name="Const")
            if whole is not None and _assigns_directly(graph):
                save_tensor, restore_op = self._add_whole_variable_ops(filename_tensor, *whole)
            else:
                if saveables is None:  # whole variables, in a scope where Assigns go the general way
                    saveables = validate_and_slice_inputs(names_to_saveables)
                if sharded:
                    per_device = self._group_by_devices(saveables)
                    save_tensor = self._add_sharded_save_ops(filename_tensor, per_device)
                    restore_op = self._add_sharded_restore_ops(filename_tensor, per_device,
                                                               restore_sequentially, reshape)
                else:
                    save_tensor = self._add_save_ops(filename_tensor, saveables)
                    restore_op = self._add_restore_ops(filename_tensor, saveables,
                                                       restore_sequentially, reshape)
        return saver_pb2.SaverDef(
            filename_tensor_name=filename_tensor.name, save_tensor_name=save_tensor.name,
            restore_op_name=restore_op.name, max_to_keep=max_to_keep, sharded=sharded,
            keep_checkpoint_every_n_hours=keep_checkpoint_every_n_hours,
            version=self._write_version)


class BulkSaverBuilder(BaseSaverBuilder):
    """TF's default builder: one RestoreV2 on CPU:0 restores every tensor."""

    def bulk_restore(self, filename_tensor: _ops.Tensor, saveables: list[SaveableObject],
                     preferred_shard: int, restore_sequentially: bool) -> list[_ops.Tensor]:
        names, slices, dtypes = [], [], []
        for saveable in saveables:
            for spec in saveable.specs:
                names.append(spec.name)
                slices.append(spec.slice_spec)
                dtypes.append(spec.dtype)
        return self._restore_v2(filename_tensor, names, slices, dtypes)

    @staticmethod
    def _restore_v2(filename_tensor: _ops.Tensor, names: list[str], slices: list[str],
                    dtypes: list[_dt.DType]) -> list[_ops.Tensor]:
        with _ops.device("cpu:0"):
            return apply_op("RestoreV2", prefix=filename_tensor, tensor_names=names,
                            shape_and_slices=slices, dtypes=dtypes).outputs

    def _add_whole_variable_ops(self, filename_tensor: _ops.Tensor, names: list[str],
                                refs: list[_ops.Tensor]) -> tuple[_ops.Tensor, _ops.Operation]:
        """The save and restore nodes of whole reference variables (their ref tensors
        ``refs``, saved under ``names``), built from the lists :meth:`save_op` and
        :meth:`bulk_restore` would make of their saveables, without making those: the
        same nodes, in the same order, as ``_add_save_ops`` and ``_add_restore_ops``
        when :func:`_assigns_directly` holds. The saveables are made if a sequential
        restore asks for them."""
        with _no_collection():
            return self._whole_variable_ops(filename_tensor, names, refs)

    def _whole_variable_ops(self, filename_tensor: _ops.Tensor, names: list[str],
                            refs: list[_ops.Tensor]) -> tuple[_ops.Tensor, _ops.Operation]:
        slices = [""] * len(names)
        save = self._save_op(filename_tensor, names, refs, slices)
        save_tensor = control_flow_ops.with_dependencies([save], filename_tensor)
        tensors = self._restore_v2(filename_tensor, names, slices,
                                   [ref._dtype.base_dtype for ref in refs])
        graph = _ops.get_default_graph()
        assigns = [_direct_assign(graph, ref, tensor) for ref, tensor in zip(refs, tensors)]
        self._built.add(tensors, lambda: [ReferenceVariableSaveable(ref, "", name)
                                          for name, ref in zip(names, refs)], assigns)
        return save_tensor, control_flow_ops.group(*assigns, name="restore_all")


# ====================================================================== the Saver

def _wrap_restore_error(err: errors.OpError, verbiage: str) -> errors.OpError:
    msg = ("Restoring from checkpoint failed. This is most likely due to "
           f"{verbiage} from the checkpoint. Please ensure that you have not altered the graph "
           f"expected based on the checkpoint. Original error:\n\n{err.message}")
    return type(err)(err.node_def, err.op, msg)


def _is_session(sess: Any) -> bool:
    try:
        from tensorkeep.graph.session import Session
    except ImportError:  # pragma: no cover - the runtime always has it
        return hasattr(sess, "run") and hasattr(sess, "graph")
    return isinstance(sess, Session)


class Saver:
    """Saves and restores variables (``tf.compat.v1.train.Saver``).

    Arguments, methods, file names, the ``checkpoint`` state file, retention and
    error messages are TensorFlow's (STATE_AND_SAVER.md §3). Deliberate differences:

    * ``restore_sequentially=True`` restores one saveable at a time (the value
      read, assigned and dropped before the next is read), so peak memory is
      bounded by the largest variable; TF's default builder ignores the flag.
      The graph's nodes are TF's either way.
    * old checkpoints are deleted by exact file names (never by glob), and a
      failed delete is logged as a warning instead of passing silently.
    * a negative ``max_to_keep`` is refused (TF would delete the checkpoint it
      just wrote).
    """

    def __init__(self, var_list: Any = None, reshape: bool = False, sharded: bool = False,
                 max_to_keep: int | None = 5, keep_checkpoint_every_n_hours: float = 10000.0,
                 name: str | None = None, restore_sequentially: bool = False,
                 saver_def: saver_pb2.SaverDef | None = None, builder: BaseSaverBuilder | None = None,
                 defer_build: bool = False, allow_empty: bool = False,
                 write_version: int = saver_pb2.SaverDef.V2, pad_step_number: bool = False,
                 save_relative_paths: bool = False, filename: str | None = None) -> None:
        if defer_build and var_list:
            raise ValueError("If `var_list` is provided then build cannot be deferred. Either set "
                             "defer_build=False or var_list=None.")
        if max_to_keep is not None and max_to_keep < 0:
            raise ValueError(f"max_to_keep must be >= 0 or None, got {max_to_keep}")
        self._var_list = var_list
        self._reshape = reshape
        self._sharded = sharded
        self._max_to_keep = max_to_keep
        self._keep_checkpoint_every_n_hours = keep_checkpoint_every_n_hours
        self._name = name
        self._restore_sequentially = restore_sequentially
        self.saver_def = saver_def
        self._builder = builder
        self._is_built = False
        self._allow_empty = allow_empty
        self._is_empty: bool | None = None
        self._write_version = write_version
        self._pad_step_number = pad_step_number
        self._filename = filename
        self._save_relative_paths = save_relative_paths
        self._records: tuple[_retention.CheckpointRecord, ...] = ()
        self._policy: _retention.AnyPolicy | None = None
        self._policy_state: Any = None
        self._graph: _ops.Graph | None = None
        self._object_restore_saver: Saver | None = None
        if not defer_build:
            self.build()
        if self.saver_def:
            self._check_saver_def()
            self._write_version = self.saver_def.version

    # -- building -----------------------------------------------------------------------

    def build(self) -> None:
        """Add the save/restore nodes (once); called by the constructor unless deferred."""
        self._build(self._filename, build_save=True, build_restore=True)

    def _build(self, checkpoint_path: str | None, build_save: bool, build_restore: bool) -> None:
        if self._is_built:
            return
        self._is_built = True
        self._graph = _ops.get_default_graph()
        if not self.saver_def:
            if self._builder is None:
                self._builder = BulkSaverBuilder(self._write_version)
            if self._var_list is None:
                self._var_list = _all_saveable_objects(self._graph)
            if not self._var_list:
                if self._allow_empty:
                    self._is_empty = True
                    return
                raise ValueError("No variables to save")
            self._is_empty = False
            self.saver_def = self._builder._build_internal(
                self._var_list, reshape=self._reshape, sharded=self._sharded,
                max_to_keep=self._max_to_keep,
                keep_checkpoint_every_n_hours=self._keep_checkpoint_every_n_hours,
                name=self._name, restore_sequentially=self._restore_sequentially,
                filename=checkpoint_path or "model", build_save=build_save,
                build_restore=build_restore)
        elif self._name:
            # With a saver_def, ``name`` is the import scope of its three names.
            sd = self.saver_def
            sd.filename_tensor_name = _ops.prepend_name_scope(sd.filename_tensor_name, self._name)
            sd.save_tensor_name = _ops.prepend_name_scope(sd.save_tensor_name, self._name)
            sd.restore_op_name = _ops.prepend_name_scope(sd.restore_op_name, self._name)
        self._check_saver_def()
        self._policy = _retention.saver_policy(self.saver_def.max_to_keep,
                                               self.saver_def.keep_checkpoint_every_n_hours)
        self._policy_state = self._policy.initial_state(time.time()) if self._policy else None

    def _check_saver_def(self) -> None:
        if not isinstance(self.saver_def, saver_pb2.SaverDef):
            raise ValueError(f"saver_def must be a saver_pb2.SaverDef: {self.saver_def}")
        if not self.saver_def.save_tensor_name:
            raise ValueError(f"saver_def must specify the save_tensor_name: {self.saver_def}")
        if not self.saver_def.restore_op_name:
            raise ValueError(f"saver_def must specify the restore_op_name: {self.saver_def}")

    def as_saver_def(self) -> saver_pb2.SaverDef | None:
        return self.saver_def

    def to_proto(self, export_scope: str | None = None) -> saver_pb2.SaverDef | None:
        """The SaverDef; with ``export_scope``, a copy with the scope stripped (None if outside it)."""
        if export_scope is None:
            return self.saver_def
        sd = self.saver_def
        if not (sd.filename_tensor_name.startswith(export_scope)
                and sd.save_tensor_name.startswith(export_scope)
                and sd.restore_op_name.startswith(export_scope)):
            return None
        out = saver_pb2.SaverDef()
        out.CopyFrom(sd)
        out.filename_tensor_name = _ops.strip_name_scope(out.filename_tensor_name, export_scope)
        out.save_tensor_name = _ops.strip_name_scope(out.save_tensor_name, export_scope)
        out.restore_op_name = _ops.strip_name_scope(out.restore_op_name, export_scope)
        return out

    @staticmethod
    def from_proto(saver_def: saver_pb2.SaverDef, import_scope: str | None = None) -> "Saver":
        return Saver(saver_def=saver_def, name=import_scope)

    # -- retention bookkeeping ----------------------------------------------------------

    @property
    def last_checkpoints(self) -> list[str]:
        """Checkpoints this Saver tracks and may delete, oldest first."""
        return [r.path for r in self._records]

    def set_last_checkpoints(self, last_checkpoints: list[str]) -> None:
        """Track these paths (deprecated in TF); they count as saved at time +inf."""
        assert isinstance(last_checkpoints, list)
        self._records = tuple(_retention.CheckpointRecord(p, float("inf")) for p in last_checkpoints)

    def set_last_checkpoints_with_time(self, last_checkpoints_with_time: list[tuple[str, float]]) -> None:
        assert isinstance(last_checkpoints_with_time, list)
        self._records = tuple(_retention.CheckpointRecord(p, float(t))
                              for p, t in last_checkpoints_with_time)

    def recover_last_checkpoints(self, checkpoint_paths: Iterable[str]) -> None:
        """Track existing checkpoints among ``checkpoint_paths`` with their files' mtimes."""
        from tensorkeep.checkpoint import state as _state

        found = []
        for path in checkpoint_paths:
            try:
                mtime = _state.get_checkpoint_mtimes([path])
            except errors.NotFoundError:
                continue
            if mtime:
                found.append((path, mtime[0]))
        self.set_last_checkpoints_with_time(found)

    def _record_and_sweep(self, path: str, meta_graph_suffix: str, write: Any) -> None:
        """Record ``path``, write the state file, then delete what retention evicts."""
        from tensorkeep.checkpoint import state as _state

        to_delete: tuple[_retention.CheckpointRecord, ...] = ()
        if self._policy is not None:
            records = _retention.record_checkpoint(self._records, path, time.time())
            decision = self._policy.decide(records, self._policy_state)
            self._records, self._policy_state = decision.kept, decision.state
            to_delete = decision.to_delete
        write()
        for record in to_delete:
            try:
                _state.remove_checkpoint(record.path, self.saver_def.version, meta_graph_suffix)
            except Exception as exc:  # reported, not fatal: the new checkpoint is safe
                logger.warning("Could not delete old checkpoint %s: %s", record.path, exc)
        if to_delete and self.saver_def.version == saver_pb2.SaverDef.V2:
            # data files a killed deletion left without their index (never listed)
            base = os.path.basename(to_delete[0].path)
            family = re.sub(r"-\d+$", "", base)
            _state.remove_orphaned_data(os.path.dirname(to_delete[0].path), family)

    # -- save and restore ---------------------------------------------------------------

    def save(self, sess: Any, save_path: str | os.PathLike[str], global_step: Any = None,
             latest_filename: str | None = None, meta_graph_suffix: str = "meta",
             write_meta_graph: bool = True, write_state: bool = True,
             strip_default_attrs: bool = False, save_debug_info: bool = False) -> str | None:
        """Save the variables to ``save_path`` (+ ``-<step>``); return the checkpoint prefix."""
        from tensorkeep.checkpoint import naming
        from tensorkeep.checkpoint import state as _state

        if not self._is_built:
            raise RuntimeError("`build()` should be called before save if defer_build==True")
        if latest_filename is None:
            latest_filename = naming.DEFAULT_STATE_FILENAME
        if self._write_version != saver_pb2.SaverDef.V2:
            logger.warning("TensorFlow's V1 checkpoint format has been deprecated.")
        if os.path.split(latest_filename)[0]:
            raise ValueError("'latest_filename' must not contain path components")
        save_path = os.fspath(save_path)
        if isinstance(save_path, bytes):
            save_path = save_path.decode("utf-8")
        if global_step is not None:
            if not isinstance(global_step, int) or isinstance(global_step, bool):
                global_step = int(sess.run(global_step))
            checkpoint_file = naming.checkpoint_name(save_path, global_step, self._pad_step_number)
        else:
            checkpoint_file = save_path
            if os.path.basename(save_path) == latest_filename and not self._sharded:
                raise ValueError(f"'latest_filename' collides with 'save_path': "
                                 f"'{latest_filename}' and '{save_path}'")
        if not _is_session(sess):
            raise TypeError(f"'sess' must be a Session; {sess}")
        parent = os.path.dirname(save_path)
        model_checkpoint_path: str | None = None
        if not self._is_empty:
            try:
                out = sess.run(self.saver_def.save_tensor_name,
                               {self.saver_def.filename_tensor_name: checkpoint_file})
                model_checkpoint_path = _as_str(out)
                if write_state:
                    def write() -> None:
                        _state.update_checkpoint_state_internal(
                            save_dir=parent, model_checkpoint_path=model_checkpoint_path,
                            all_model_checkpoint_paths=self.last_checkpoints,
                            latest_filename=latest_filename,
                            save_relative_paths=self._save_relative_paths)
                    self._record_and_sweep(model_checkpoint_path, meta_graph_suffix, write)
            except (errors.FailedPreconditionError, errors.NotFoundError) as exc:
                if not os.path.isdir(parent):
                    raise ValueError(f"Parent directory of {save_path} doesn't exist, can't save.") from exc
                raise
        if write_meta_graph:
            meta_file = naming.meta_graph_filename(checkpoint_file, meta_graph_suffix)
            graph = getattr(sess, "graph", None) or self._graph or _ops.get_default_graph()
            with graph.as_default():
                self.export_meta_graph(meta_file, strip_default_attrs=strip_default_attrs,
                                       save_debug_info=save_debug_info)
        return None if self._is_empty else model_checkpoint_path

    def restore(self, sess: Any, save_path: str | os.PathLike[str] | None) -> None:
        """Restore the variables from checkpoint ``save_path``."""
        from tensorkeep.checkpoint import state as _state

        if self._is_empty:
            return None
        if save_path is None:
            raise ValueError("Can't load save_path when it is None.")
        prefix = os.fspath(save_path)
        if isinstance(prefix, bytes):
            prefix = prefix.decode("utf-8")
        if not _state.checkpoint_exists_internal(prefix):
            raise ValueError("The passed save_path is not a valid checkpoint: " + prefix)
        logger.info("Restoring parameters from %s", prefix)
        try:
            if self._restore_sequentially and self._sequential_plan() is not None:
                self._restore_one_by_one(sess, prefix)
            else:
                sess.run(self.saver_def.restore_op_name,
                         {self.saver_def.filename_tensor_name: prefix})
        except errors.NotFoundError as err:
            mapping = self._object_graph_mapping(prefix)
            if mapping is None:
                raise _wrap_restore_error(err, "a Variable name or other graph key that is missing") from None
            logger.warning("Restoring an object-based checkpoint using a name-based saver. This "
                           "may be somewhat fragile, and will re-build the Saver. Instead, consider "
                           "loading object-based checkpoints using tf.train.Checkpoint().")
            self._object_restore_saver = self._saver_for_object_graph(prefix, mapping)
            self._object_restore_saver.restore(sess, prefix)
        except errors.InvalidArgumentError as err:
            raise _wrap_restore_error(err, "a mismatch between the current graph and the graph") from None
        return None

    def _sequential_plan(self) -> list[tuple[list[_ops.Tensor], _ops.Operation, SaveableObject]] | None:
        built = getattr(self._builder, "_built", None)
        return (built.restores or None) if built is not None else None

    def _restore_one_by_one(self, sess: Any, prefix: str) -> None:
        """Read one saveable, feed it to its assign op, drop it; then the next.

        The RestoreV2 outputs are fed, so each run executes only the assign (and
        its reshape/identity), never the bulk read of every tensor.
        """
        from tensorkeep.bundle import read_tensors

        for tensors, assign_op, saveable in self._sequential_plan() or []:
            values = read_tensors(prefix, [s.name for s in saveable.specs],
                                  [s.slice_spec for s in saveable.specs],
                                  [s.dtype for s in saveable.specs])
            feed = {t: v for t, v in zip(tensors, values)}
            del values
            sess.run(assign_op, feed)
            del feed

    def _object_graph_mapping(self, prefix: str) -> dict[str, str] | None:
        """``{TF1 name: checkpoint key}`` of an object-based checkpoint, else None."""
        from tensorkeep.checkpoint.reader import CheckpointReader

        try:
            reader = CheckpointReader(prefix)
            objects = reader.object_graph()
        except errors.OpError:
            return None
        if not objects:
            return None
        return {full_name: key for _, _, key, full_name in objects if full_name}

    def _saver_for_object_graph(self, prefix: str, names_to_keys: dict[str, str]) -> "Saver":
        if self._object_restore_saver is not None:
            return self._object_restore_saver
        var_list = self._var_list
        if var_list is None:
            var_list = _all_saveable_objects(self._graph or _ops.get_default_graph())
        if not isinstance(var_list, dict):
            var_list = op_list_to_dict(var_list)
        current = set(var_list)
        missing = current - set(names_to_keys)
        if missing:
            extra = set(names_to_keys) - current
            raise errors.NotFoundError(
                None, None,
                "\n\nExisting variables not in the checkpoint: %s\n\nVariables names when this "
                "checkpoint was written which don't exist now: %s\n\n(%d variable name(s) did "
                "match)\n\nCould not find some variables in the checkpoint (see names above). "
                "Saver was attempting to load an object-based checkpoint (saved using "
                "tf.train.Checkpoint or tf.keras.Model.save_weights) using variable names. If "
                "the checkpoint was written with eager execution enabled, it's possible that "
                "variable names have changed (for example missing a '_1' suffix). It's also "
                "possible that there are new variables which did not exist when the checkpoint "
                "was written. You can construct a Saver(var_list=...) with only the variables "
                "which previously existed, and if variable names have changed you may need to "
                "make this a dictionary with the old names as keys." % (
                    ", ".join(sorted(missing)), ", ".join(sorted(extra)),
                    len(current & set(names_to_keys))))
        renamed = {names_to_keys[name]: value for name, value in var_list.items()}
        return Saver(var_list=renamed, builder=self._builder and type(self._builder)(self._write_version),
                     allow_empty=True)

    # -- meta graph -----------------------------------------------------------------------

    def export_meta_graph(self, filename: str | None = None, collection_list: Any = None,
                          as_text: bool = False, export_scope: str | None = None,
                          clear_devices: bool = False, clear_extraneous_savers: bool = False,
                          strip_default_attrs: bool = False, save_debug_info: bool = False) -> Any:
        """Write the default graph with this SaverDef as a MetaGraphDef (see METAGRAPH.md)."""
        from tensorkeep.graph import meta_graph

        graph = _ops.get_default_graph()
        meta = meta_graph.export_meta_graph(
            filename=filename, graph_def=graph.as_graph_def(add_shapes=True),
            saver_def=self.saver_def, collection_list=collection_list, as_text=as_text,
            export_scope=export_scope, clear_devices=clear_devices,
            clear_extraneous_savers=clear_extraneous_savers,
            strip_default_attrs=strip_default_attrs, save_debug_info=save_debug_info)
        if save_debug_info and filename:
            # TF writes a GraphDebugInfo beside the meta graph: the Python stack of each
            # node's creation. The graph runtime records no stacks, so ours holds none.
            debug_path = os.path.splitext(os.fspath(filename))[0] + ".debug"
            if not os.path.exists(debug_path):
                from tensorkeep.io import files
                from tensorkeep.proto import graph_debug_info_pb2

                files.atomic_write(debug_path, graph_debug_info_pb2.GraphDebugInfo()
                                   .SerializeToString(deterministic=True))
        return meta


def _as_str(value: Any) -> str:
    if hasattr(value, "item") and getattr(value, "shape", None) == ():
        value = value.item()
    if isinstance(value, bytes):
        return value.decode("utf-8")
    return str(value)


def saver_from_def(saver_def: saver_pb2.SaverDef, import_scope: str | None) -> Saver:
    """The Saver ``import_meta_graph`` returns for an imported SaverDef."""
    return Saver(saver_def=saver_def, name=import_scope)
