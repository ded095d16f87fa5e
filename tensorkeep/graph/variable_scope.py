"""``variable_scope`` / ``get_variable``: named variable sharing (TF1).

Each graph keeps a store of variables made by ``get_variable`` (full name ->
variable) and a stack of ``VariableScope`` objects. Reuse rules and error texts
are TensorFlow's: creating an existing name without ``reuse`` fails, reusing a
missing one fails, ``AUTO_REUSE`` does either. The default initializer is
``glorot_uniform`` for floats and zeros for integers/bools.
"""

from __future__ import annotations

import contextlib
import enum
import functools
from typing import Any, Iterator

from tensorkeep import dtypes as _dt
from tensorkeep.graph import init_ops
from tensorkeep.graph import ops as _ops
from tensorkeep.graph import variables as _vars
from tensorkeep.graph.tensor_shape import TensorShape


class _ReuseMode(enum.Enum):
    AUTO_REUSE = 1


AUTO_REUSE = _ReuseMode.AUTO_REUSE


class VariableScope:
    def __init__(self, reuse: Any, name: str = "", initializer: Any = None, regularizer: Any = None,
                 caching_device: Any = None, partitioner: Any = None, custom_getter: Any = None,
                 name_scope: str = "", dtype: Any = _dt.float32, use_resource: Any = None,
                 constraint: Any = None) -> None:
        self._name = name
        self._reuse = reuse
        self._initializer = initializer
        self._regularizer = regularizer
        self._caching_device = caching_device
        self._partitioner = partitioner
        self._custom_getter = custom_getter
        self._name_scope = name_scope
        self._dtype = _dt.as_dtype(dtype)
        self._use_resource = use_resource
        self._constraint = constraint

    name = property(lambda self: self._name)
    original_name_scope = property(lambda self: self._name_scope)
    reuse = property(lambda self: self._reuse)
    initializer = property(lambda self: self._initializer)
    regularizer = property(lambda self: self._regularizer)
    dtype = property(lambda self: self._dtype)
    use_resource = property(lambda self: self._use_resource)
    caching_device = property(lambda self: self._caching_device)
    partitioner = property(lambda self: self._partitioner)
    constraint = property(lambda self: self._constraint)

    def reuse_variables(self) -> None:
        self._reuse = True

    def set_initializer(self, initializer: Any) -> None:
        self._initializer = initializer

    def set_dtype(self, dtype: Any) -> None:
        self._dtype = _dt.as_dtype(dtype)

    def get_variable(self, var_store: Any, name: str, *args: Any, **kwargs: Any) -> Any:
        return get_variable(name, *args, **kwargs)

    def global_variables(self) -> list[Any]:
        return _vars.global_variables(self._name)

    def trainable_variables(self) -> list[Any]:
        return _vars.trainable_variables(self._name)


class _Store:
    """Per-graph state: variables by full name, the scope stack, scope use counts."""

    def __init__(self) -> None:
        self.vars: dict[str, Any] = {}
        self.stack: list[VariableScope] = [VariableScope(False)]
        self.scope_counts: dict[str, int] = {}


def _store(graph: _ops.Graph | None = None) -> _Store:
    graph = graph or _ops.get_default_graph()
    coll = graph.get_collection_ref(("__variable_store",))
    if not coll:
        coll.append(_Store())
    return coll[0]


def get_variable_scope() -> VariableScope:
    return _store().stack[-1]


def _unique_scope_name(store: _Store, parent: str, base: str) -> str:
    full = f"{parent}/{base}" if parent else base
    n = store.scope_counts.get(full, 0)
    store.scope_counts[full] = n + 1
    return full if n == 0 else f"{full}_{n}"


@contextlib.contextmanager
def variable_scope(name_or_scope: Any, default_name: str | None = None, values: Any = None,
                   initializer: Any = None, regularizer: Any = None, caching_device: Any = None,
                   partitioner: Any = None, custom_getter: Any = None, reuse: Any = None,
                   dtype: Any = None, use_resource: Any = None, constraint: Any = None,
                   auxiliary_name_scope: bool = True) -> Iterator[VariableScope]:
    if name_or_scope is None and default_name is None:
        raise TypeError("If default_name is None then name_or_scope is required")
    graph = _ops.get_graph_from_inputs(list(values) if values else [])
    with graph.as_default():
        store = _store(graph)
        parent = store.stack[-1]
        # True is sticky for sub-scopes; None/False inherit (TF1 semantics).
        inherited = name_or_scope.reuse if isinstance(name_or_scope, VariableScope) else parent.reuse
        if parent.reuse is True:
            reuse = True
        elif reuse is None or reuse is False:
            reuse = inherited
        if isinstance(name_or_scope, VariableScope):
            full = name_or_scope.name
            scope_cm = graph.name_scope(name_or_scope.original_name_scope or None) \
                if auxiliary_name_scope else contextlib.nullcontext(name_or_scope.original_name_scope)
            base = name_or_scope
        else:
            if name_or_scope is not None:
                full = f"{parent.name}/{name_or_scope}" if parent.name else str(name_or_scope)
                store.scope_counts[full] = store.scope_counts.get(full, 0) + 1
                scope_name = name_or_scope
            else:
                full = _unique_scope_name(store, parent.name, default_name)  # type: ignore[arg-type]
                scope_name = full.rsplit("/", 1)[-1]
            scope_cm = graph.name_scope(scope_name) if auxiliary_name_scope else contextlib.nullcontext("")
            base = parent
        with scope_cm as ns:
            new = VariableScope(
                reuse, full,
                initializer=initializer if initializer is not None else base.initializer,
                regularizer=regularizer if regularizer is not None else base.regularizer,
                caching_device=caching_device if caching_device is not None else base.caching_device,
                partitioner=partitioner if partitioner is not None else base.partitioner,
                name_scope=ns if isinstance(ns, str) else "",
                dtype=dtype if dtype is not None else base.dtype,
                use_resource=use_resource if use_resource is not None else base.use_resource,
                constraint=constraint if constraint is not None else base.constraint)
            store.stack.append(new)
            try:
                yield new
            finally:
                store.stack.pop()


def _default_initializer(name: str, dtype: _dt.DType) -> Any:
    if dtype.is_floating:
        return init_ops.GlorotUniform()
    if dtype.is_integer or dtype.is_bool or dtype is _dt.string:
        return init_ops.Zeros()
    raise ValueError(f"An initializer for variable {name} of {dtype.name} is required")


def get_variable(name: str, shape: Any = None, dtype: Any = None, initializer: Any = None,
                 regularizer: Any = None, trainable: bool | None = None, collections: Any = None,
                 caching_device: Any = None, partitioner: Any = None, validate_shape: bool = True,
                 use_resource: bool | None = None, custom_getter: Any = None, constraint: Any = None,
                 synchronization: Any = None, aggregation: Any = None) -> Any:
    """Get an existing variable (reuse) or create a new one under the current scope."""
    store = _store()
    scope = store.stack[-1]
    full = f"{scope.name}/{name}" if scope.name else name
    dtype = _dt.as_dtype(dtype if dtype is not None else scope.dtype).base_dtype
    reuse = scope.reuse
    initializer = initializer if initializer is not None else scope.initializer
    use_resource = use_resource if use_resource is not None else scope.use_resource
    shape = None if shape is None else TensorShape(shape)
    graph = _ops.get_default_graph()
    with graph.name_scope(None):
        if full in store.vars:
            if reuse is False:
                raise ValueError(f"Variable {full} already exists, disallowed. Did you mean to set "
                                 f"reuse=True or reuse=tf.AUTO_REUSE in VarScope?")
            found = store.vars[full]
            if shape is not None and not shape.is_compatible_with(found.shape):
                raise ValueError(f"Trying to share variable {full}, but specified shape {shape} and "
                                 f"found shape {found.shape}.")
            if dtype is not found.dtype.base_dtype and dtype is not None:
                raise ValueError(f"Trying to share variable {full}, but specified dtype {dtype.name} "
                                 f"and found dtype {found.dtype.base_dtype.name}.")
            return found
        if reuse is True:
            raise ValueError(f"Variable {full} does not exist, or was not created with "
                             f"tf.get_variable(). Did you mean to set reuse=tf.AUTO_REUSE in VarScope?")
        from_value = initializer is not None and not callable(initializer)
        if from_value:
            if shape is not None:
                raise ValueError("If initializer is a constant, do not specify shape.")
            init_val: Any = initializer
            var_dtype = None
        else:
            if shape is None or not shape.is_fully_defined():
                raise ValueError(f"Shape of a new variable ({full}) must be fully defined, but "
                                 f"instead was {shape}.")
            if initializer is None:
                initializer = _default_initializer(full, dtype)
            if isinstance(initializer, type):
                initializer = initializer()
            init_val = functools.partial(initializer, shape.as_list(), dtype=dtype)
            var_dtype = dtype
        v = _vars.Variable(initial_value=init_val, name=full, trainable=trainable,
                           collections=collections, caching_device=caching_device,
                           dtype=var_dtype, validate_shape=validate_shape, constraint=constraint,
                           use_resource=bool(use_resource))
        store.vars[full] = v
        if regularizer is not None:
            with graph.name_scope(full + "/Regularizer/"):
                loss = regularizer(v)
            if loss is not None:
                graph.add_to_collection(_ops.GraphKeys.REGULARIZATION_LOSSES, loss)
        return v
