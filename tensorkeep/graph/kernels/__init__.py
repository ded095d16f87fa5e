"""Numpy kernels, one small function per op type, registered by op type.

A kernel is ``fn(ctx, *inputs) -> output`` (a value for one-output ops, a
sequence for several, None for none). Ops whose output is a list argument
(``RestoreV2``, ``IdentityN``, ``Unpack``) register with ``list_output=True``
and always return a sequence, even when the list has one element. ``ctx`` gives the node's attrs
(``ctx.attr("T")``), the node itself and the session's state (variables,
resources, random generators). Inputs arrive as numpy arrays (object arrays of
``bytes`` for strings); reference inputs (``Ref(T)`` in the OpDef) arrive as
:class:`Ref` so that ``Assign`` can store through them.

Adding an op: its OpDef row in ``op_defs.py``, a ``@kernel("Op")`` function in
the family module below, and a shape function in ``shape_fns.py`` if it has outputs.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable

from tensorkeep.graph import attrs as _attrs

Kernel = Callable[..., Any]
KERNELS: dict[str, Kernel] = {}
LIST_OUTPUT: set[str] = set()     # op types whose kernels return a sequence for any arity

_FAMILIES = ("state", "math", "array", "random", "io")


def kernel(*op_types: str, list_output: bool = False) -> Callable[[Kernel], Kernel]:
    """Register ``fn`` as the kernel of each of ``op_types``."""
    def deco(fn: Kernel) -> Kernel:
        for t in op_types:
            KERNELS[t] = fn
            if list_output:
                LIST_OUTPUT.add(t)
        return fn
    return deco


_loaded = False


def get(op_type: str) -> Kernel | None:
    global _loaded
    if not _loaded:
        for family in _FAMILIES:
            importlib.import_module(f"tensorkeep.graph.kernels.{family}")
        _loaded = True
    return KERNELS.get(op_type)


class OpContext:
    """What a kernel sees besides its inputs."""

    __slots__ = ("op", "state")

    def __init__(self, op: Any, state: Any) -> None:
        self.op = op
        self.state = state

    def attr(self, name: str) -> Any:
        return _attrs.to_python(self.op._attrs[name])

    def has_attr(self, name: str) -> bool:
        return name in self.op._attrs

    @property
    def output_dtypes(self) -> list[Any]:
        return [t.dtype for t in self.op._outputs]


class Ref:
    """A reference to a session-held variable buffer (output of VariableV2)."""

    __slots__ = ("state", "key", "name", "dtype")

    def __init__(self, state: Any, key: str, name: str, dtype: Any) -> None:
        self.state, self.key, self.name, self.dtype = state, key, name, dtype

    def get(self, node: str) -> Any:
        value = self.state.variables.get(self.key)
        if value is None:
            from tensorkeep import errors
            raise errors.FailedPreconditionError(
                None, None, f"Attempting to use uninitialized value {self.name}\n\t [[{{{{node {node}}}}}]]")
        return value

    def set(self, value: Any) -> None:
        self.state.variables[self.key] = value

    @property
    def initialized(self) -> bool:
        return self.state.variables.get(self.key) is not None


class ResourceHandle:
    """The value of a DT_RESOURCE tensor: which variable a VarHandleOp names."""

    __slots__ = ("container", "name", "debug_name", "dtype", "shape")

    def __init__(self, container: str, name: str, debug_name: str, dtype: Any, shape: Any) -> None:
        self.container, self.name, self.debug_name = container, name, debug_name
        self.dtype, self.shape = dtype, shape

    @property
    def key(self) -> tuple[str, str]:
        return (self.container or "localhost", self.name)

    def __repr__(self) -> str:
        return f"<ResourceHandle {self.key[0]}/{self.name}>"
