"""Kernels of variables: reference (VariableV2/Assign...) and resource (VarHandleOp...)."""

from __future__ import annotations

from typing import Any

import numpy as np

from tensorkeep import errors
from tensorkeep.graph.kernels import OpContext, Ref, ResourceHandle, kernel


def _shape_str(shape: Any) -> str:
    return "[" + ",".join(str(d) for d in shape) + "]"


@kernel("VariableV2", "Variable")
def variable_v2(ctx: OpContext) -> Ref:
    shared = ctx.attr("shared_name").decode()
    container = ctx.attr("container").decode()
    key = f"{container}/{shared or ctx.op.name}" if container else (shared or ctx.op.name)
    return Ref(ctx.state, key, ctx.op.name, ctx.op.outputs[0].dtype.base_dtype)


@kernel("Assign")
def assign(ctx: OpContext, ref: Ref, value: np.ndarray) -> Ref:
    value = np.array(value, copy=True)
    if ctx.attr("validate_shape") and ref.initialized:
        old = ref.state.variables[ref.key]
        if old.shape != value.shape:
            raise errors.InvalidArgumentError(
                None, None, f"Assign requires shapes of both tensors to match. lhs shape= "
                f"{_shape_str(old.shape)} rhs shape= {_shape_str(value.shape)}\n\t "
                f"[[{{{{node {ctx.op.name}}}}}]]")
    if ctx.attr("validate_shape"):
        declared = ref_shape(ctx)
        if declared is not None and declared.ndims is not None and not declared.is_compatible_with(value.shape):
            raise errors.InvalidArgumentError(
                None, None, f"Assign requires shapes of both tensors to match. lhs shape= "
                f"{_shape_str(['?' if d is None else d for d in declared.as_list()])} rhs shape= "
                f"{_shape_str(value.shape)}\n\t [[{{{{node {ctx.op.name}}}}}]]")
    ref.set(value)
    return ref


def ref_shape(ctx: OpContext) -> Any:
    return ctx.op.inputs[0].shape


@kernel("AssignAdd")
def assign_add(ctx: OpContext, ref: Ref, value: np.ndarray) -> Ref:
    ref.set(ref.get(ctx.op.name) + value)
    return ref


@kernel("AssignSub")
def assign_sub(ctx: OpContext, ref: Ref, value: np.ndarray) -> Ref:
    ref.set(ref.get(ctx.op.name) - value)
    return ref


@kernel("IsVariableInitialized")
def is_variable_initialized(ctx: OpContext, ref: Ref) -> np.ndarray:
    return np.array(ref.initialized)


# --- resource variables -----------------------------------------------------------------
@kernel("VarHandleOp")
def var_handle_op(ctx: OpContext) -> ResourceHandle:
    shared = ctx.attr("shared_name").decode() or ctx.op.name
    debug = ctx.attr("debug_name").decode() if ctx.has_attr("debug_name") else ""
    return ResourceHandle(ctx.attr("container").decode(), shared, debug, ctx.attr("dtype"),
                          ctx.attr("shape"))


def _read(ctx: OpContext, handle: ResourceHandle) -> np.ndarray:
    value = ctx.state.resources.get(handle.key)
    if value is None:
        container, name = handle.key
        raise errors.FailedPreconditionError(
            None, None, f"Could not find variable {name}. This could mean that the variable has been "
            f"deleted. In TF1, it can also mean the variable is uninitialized. Debug info: "
            f"container={container}, status error message=Resource {container}/{name}/"
            f"N10tensorflow3VarE does not exist.\n\t [[{{{{node {ctx.op.name}}}}}]]")
    return value


@kernel("ReadVariableOp")
def read_variable_op(ctx: OpContext, handle: ResourceHandle) -> np.ndarray:
    return _read(ctx, handle)


@kernel("AssignVariableOp")
def assign_variable_op(ctx: OpContext, handle: ResourceHandle, value: np.ndarray) -> None:
    ctx.state.resources[handle.key] = np.array(value, copy=True)


@kernel("AssignAddVariableOp")
def assign_add_variable_op(ctx: OpContext, handle: ResourceHandle, value: np.ndarray) -> None:
    ctx.state.resources[handle.key] = _read(ctx, handle) + value


@kernel("AssignSubVariableOp")
def assign_sub_variable_op(ctx: OpContext, handle: ResourceHandle, value: np.ndarray) -> None:
    ctx.state.resources[handle.key] = _read(ctx, handle) - value


@kernel("VarIsInitializedOp")
def var_is_initialized_op(ctx: OpContext, handle: ResourceHandle) -> np.ndarray:
    return np.array(ctx.state.resources.get(handle.key) is not None)


@kernel("DestroyResourceOp")
def destroy_resource_op(ctx: OpContext, handle: ResourceHandle) -> None:
    if ctx.state.resources.pop(handle.key, None) is None and not ctx.attr("ignore_lookup_error"):
        raise errors.NotFoundError(None, None, f"Resource {handle.key[0]}/{handle.key[1]} does not exist.")
