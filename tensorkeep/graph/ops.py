"""The TF1 graph: ``Graph``, ``Operation``, ``Tensor`` and the default-graph stack.

A ``Graph`` owns its operations in creation order and the bookkeeping TensorFlow's
Python graph does around op creation, with TensorFlow's observable rules
(METAGRAPH.md §3-§4):

* names: ``unique_name`` is case-insensitive and suffixes ``_1``, ``_2``, ...;
  ``name_scope`` prefixes ``scope/``; a name ending in ``/`` is taken verbatim;
* ``control_dependencies``: ops created inside get control inputs, minus those
  already implied by an input created inside the same block; every op passed in
  is marked ``_has_manual_control_dependencies`` (TF 2.x);
* ``device`` (merged specs / device functions), ``colocate_with`` (``_class`` =
  sorted ``loc:@`` groups, device taken from the colocated op), ``_attr_scope``;
* collections by key, ``as_graph_def(add_shapes=...)`` with control inputs sorted.

Ops are built by :func:`tensorkeep.graph.op_def_library.apply_op` (typed by the
OpDef table) or directly with :meth:`Graph.create_op`.
"""

from __future__ import annotations

import contextlib
import re
import threading
from typing import Any, Callable, Iterator, Sequence

from tensorkeep import dtypes as _dt
from tensorkeep.graph import attrs as _attrs
from tensorkeep.graph import device as _device
from tensorkeep.graph import shape_fns as _shape_fns
from tensorkeep.graph.tensor_shape import TensorShape, as_shape
from tensorkeep.proto import attr_value_pb2, graph_pb2, node_def_pb2, versions_pb2

# TF_GRAPH_DEF_VERSION of TensorFlow 2.21 (METAGRAPH.md §2.1).
GRAPH_DEF_VERSION = 2474
GRAPH_DEF_VERSION_MIN_CONSUMER = 0

_UNKNOWN_SHAPE = TensorShape(None)
_VALID_OP_NAME = re.compile(r"^[A-Za-z0-9.][A-Za-z0-9_.\\/>-]*$")
_VALID_SCOPE_NAME = re.compile(r"^[A-Za-z0-9_.\\/>-]*$")


# One shared ``b: true`` AttrValue (operations replace attrs, never change them in place).
_TRUE_ATTR = attr_value_pb2.AttrValue(b=True)


def name_from_scope_name(name: str) -> str:
    return name[:-1] if name and name[-1] == "/" else name


# Where a name may carry a scope: at its start, after a control input's "^", or after a
# colocation entry's "loc:@" (TF's ops.prepend_name_scope / strip_name_scope).
_SCOPED_NAME = r"([\^]|loc:@|^)"


def _scope_pattern(scope: str) -> str:
    """``scope`` as TF matches it: a regular expression, where only ``.`` (the one
    metacharacter a valid node name can hold) matches any character; every other
    character is taken literally."""
    return "".join("." if c == "." else re.escape(c) for c in scope)


def prepend_name_scope(name: Any, import_scope: str | None) -> Any:
    """``name`` with ``import_scope/`` inserted (after a leading ``^`` or ``loc:@``).

    As TF 2.21 (checked against ``ops.prepend_name_scope``): one trailing ``/`` of
    the scope is dropped (``"a/"`` and ``"a"`` give ``a/v``, ``"a//"`` gives
    ``a//v``); bytes come back as str; a non-string name is returned unchanged.
    """
    if not import_scope:
        return name
    if import_scope[-1] == "/":
        import_scope = import_scope[:-1]
    if isinstance(name, bytes):
        name = name.decode("utf-8")
    if not isinstance(name, str):
        return name
    return re.sub(_SCOPED_NAME + "(.*)", lambda m: m.group(1) + import_scope + "/" + m.group(2), name)


def strip_name_scope(name: Any, export_scope: str | None) -> Any:
    """``name`` without a leading ``export_scope/`` (also after ``^`` or ``loc:@``).

    As TF 2.21: one trailing ``/`` of the scope is dropped, then the scope and any
    run of ``/`` after it are removed once (``a//b`` -> ``b``, ``a/`` -> ``""``);
    a name not in the scope is unchanged; bytes come back as str.
    """
    if not export_scope:
        return name
    if export_scope[-1] == "/":
        export_scope = export_scope[:-1]
    if isinstance(name, bytes):
        name = name.decode("utf-8")
    if not isinstance(name, str):
        return name
    return re.sub(_SCOPED_NAME + _scope_pattern(export_scope) + r"[\/]+(.*)",
                  lambda m: m.group(1) + m.group(2), name, count=1)


class GraphKeys:
    """Standard collection names (``tf.compat.v1.GraphKeys``)."""

    GLOBAL_VARIABLES = "variables"
    LOCAL_VARIABLES = "local_variables"
    METRIC_VARIABLES = "metric_variables"
    MODEL_VARIABLES = "model_variables"
    TRAINABLE_VARIABLES = "trainable_variables"
    SUMMARIES = "summaries"
    QUEUE_RUNNERS = "queue_runners"
    TABLE_INITIALIZERS = "table_initializer"
    ASSET_FILEPATHS = "asset_filepaths"
    MOVING_AVERAGE_VARIABLES = "moving_average_variables"
    REGULARIZATION_LOSSES = "regularization_losses"
    CONCATENATED_VARIABLES = "concatenated_variables"
    SAVERS = "savers"
    WEIGHTS = "weights"
    BIASES = "biases"
    ACTIVATIONS = "activations"
    UPDATE_OPS = "update_ops"
    LOSSES = "losses"
    SAVEABLE_OBJECTS = "saveable_objects"
    RESOURCES = "resources"
    LOCAL_RESOURCES = "local_resources"
    TRAINABLE_RESOURCE_VARIABLES = "trainable_resource_variables"
    INIT_OP = "init_op"
    LOCAL_INIT_OP = "local_init_op"
    READY_OP = "ready_op"
    READY_FOR_LOCAL_INIT_OP = "ready_for_local_init_op"
    SUMMARY_OP = "summary_op"
    GLOBAL_STEP = "global_step"
    EVAL_STEP = "eval_step"
    TRAIN_OP = "train_op"
    COND_CONTEXT = "cond_context"
    WHILE_CONTEXT = "while_context"
    _SUMMARY_COLLECTION = "_SUMMARY_V2"
    VARIABLES = GLOBAL_VARIABLES
    _VARIABLE_COLLECTIONS = [GLOBAL_VARIABLES, LOCAL_VARIABLES, METRIC_VARIABLES,
                             MODEL_VARIABLES, TRAINABLE_VARIABLES, MOVING_AVERAGE_VARIABLES,
                             CONCATENATED_VARIABLES, TRAINABLE_RESOURCE_VARIABLES]


# --------------------------------------------------------------------------- Tensor
class Tensor:
    """One output of an Operation: ``name`` is ``"op:index"``."""

    # Higher than numpy's, so ``ndarray + tensor`` defers to Tensor.__radd__.
    __array_priority__ = 100

    # immutable; shared by every tensor not yet shaped (a class default: one store less per tensor)
    _shape = _UNKNOWN_SHAPE

    def __init__(self, op: "Operation", value_index: int, dtype: _dt.DType | None) -> None:
        self._op = op
        self._value_index = value_index
        self._dtype = dtype

    @property
    def op(self) -> "Operation":
        return self._op

    @property
    def value_index(self) -> int:
        return self._value_index

    @property
    def dtype(self) -> _dt.DType:
        return self._dtype  # type: ignore[return-value]

    @property
    def graph(self) -> "Graph":
        return self._op.graph

    @property
    def name(self) -> str:
        return f"{self._op.name}:{self._value_index}"

    @property
    def device(self) -> str:
        return self._op.device

    @property
    def shape(self) -> TensorShape:
        return self._shape

    def get_shape(self) -> TensorShape:
        return self._shape

    def set_shape(self, shape: Any) -> None:
        self._shape = self._shape.merge_with(as_shape(shape))

    @property
    def ndim(self) -> int | None:
        return self._shape.ndims

    def consumers(self) -> list["Operation"]:
        return [op for op in self.graph._ops if any(t is self for t in op._inputs)]

    def eval(self, feed_dict: Any = None, session: Any = None) -> Any:
        from tensorkeep.graph import session as _session
        return _session._eval_using_default_session(self, feed_dict, self.graph, session)

    def _as_node_def_input(self) -> str:
        return self._op.name if self._value_index == 0 else f"{self._op.name}:{self._value_index}"

    def __repr__(self) -> str:
        dt = self._dtype.name if self._dtype is not None else "unknown"
        return f'<tf.Tensor \'{self.name}\' shape={self._shape} dtype={dt}>'

    def __str__(self) -> str:
        dt = self._dtype.name if self._dtype is not None else "unknown"
        return f'Tensor("{self.name}", shape={self._shape}, dtype={dt})'

    def __hash__(self) -> int:
        return id(self)

    def __eq__(self, other: object) -> bool:  # TF1 graph tensors compare by identity
        return self is other

    def __ne__(self, other: object) -> bool:
        return self is not other

    def __bool__(self) -> bool:
        raise TypeError("Using a `tf.Tensor` as a Python `bool` is not allowed in Graph "
                        "execution. Use Eager execution or decorate this function with @tf.function.")

    def __iter__(self) -> Iterator["Tensor"]:
        shape = self._shape
        if shape.ndims is None or not shape.ndims or shape[0] is None:
            raise TypeError("Tensor objects are only iterable when eager execution is enabled. "
                            "To iterate over this tensor use tf.map_fn.")
        from tensorkeep.graph import array_ops
        return iter(array_ops.unstack(self, num=shape[0]))

    def __len__(self) -> int:
        raise TypeError(f"len is not well defined for a symbolic Tensor ({self.name}). "
                        "Please call `x.shape` rather than `len(x)` for shape information.")


# --------------------------------------------------------------------------- Operation
# Tensor's operators (``+``, ``*``, ``[]``, ...) are installed by ``math_ops``, which
# imports this module. Until it is imported, each operator loads it and dispatches, so
# ``tensor * 2.0`` works whichever modules a program happened to import first.
_LAZY_OPERATORS = tuple(f"__{p}{d}__" for d in ("add", "sub", "mul", "truediv", "floordiv", "mod",
                                                "pow", "matmul", "and", "or") for p in ("", "r")) + (
    "__lt__", "__le__", "__gt__", "__ge__", "__neg__", "__abs__", "__invert__", "__getitem__")


def _lazy_operator(dunder: str) -> Callable[..., Any]:
    def method(self: Tensor, *args: Any) -> Any:
        from tensorkeep.graph import math_ops  # noqa: F401  (installs the real operators)
        real = getattr(Tensor, dunder)
        if real is method:
            raise TypeError(f"Tensor does not support {dunder}")
        return real(self, *args)
    method.__name__ = dunder
    return method


for _dunder in _LAZY_OPERATORS:
    setattr(Tensor, _dunder, _lazy_operator(_dunder))


class Operation:
    """A node of the graph: type, inputs, control inputs, attrs, device, outputs."""

    def __init__(self, graph: "Graph", name: str, op_type: str,
                 inputs: list[Tensor] | tuple[Tensor, ...],
                 output_dtypes: Sequence[_dt.DType | None], attrs: dict[str, attr_value_pb2.AttrValue],
                 control_inputs: list["Operation"] | tuple[()], device: str = "",
                 op_def: Any = None, *, shared_attrs: bool = False,
                 lazy_shape: Any = None) -> None:
        """The operation keeps ``inputs`` and ``control_inputs`` (callers pass new lists,
        or tuples: the empty one, or another op's outputs; one GC-tracked object fewer per
        node) and a copy of ``attrs``, or with ``shared_attrs`` ``attrs`` itself, copied
        when an attr is set or cleared (nodes created alike share one dict). Given
        ``lazy_shape``, the static shape of its one output, that output's Tensor is made
        when first asked for (two plain attributes until then, not a tracked tuple)."""
        self._graph = graph
        self._name = name
        self._type = op_type
        self._inputs = inputs
        self._control_inputs = control_inputs
        if shared_attrs:
            self._attrs = attrs
            self._attrs_shared = True
        else:
            self._attrs = dict(attrs)
        if device:
            self._device = device
        self._op_def = op_def
        if lazy_shape is not None:  # one output, made when first asked for (__getattr__)
            self._lazy_dtype = output_dtypes[0]
            self._lazy_shape = lazy_shape
        elif len(output_dtypes) == 1:  # most nodes
            self._outputs = (Tensor(self, 0, output_dtypes[0]),)
        else:
            self._outputs = tuple([Tensor(self, i, dt) for i, dt in enumerate(output_dtypes)])

    def __getattr__(self, name: str) -> Any:
        # Reached only when ``name`` is not set: ``_outputs`` of an op made with a lazy
        # output. Many ops' outputs are never used as tensors (an Assign run for its
        # effect, a restore Assign): no Tensor and tuple made, nor walked by the GC.
        if name == "_outputs":
            shape = self._lazy_shape
            if shape is not None:
                out = Tensor(self, 0, self._lazy_dtype)
                out._shape = shape
                self._outputs = (out,)
                self._lazy_shape = None
                return self._outputs
        raise AttributeError(f"'Operation' object has no attribute '{name}'")

    # Defaults most nodes keep (class attributes: fewer stores per node).
    _attrs_shared = False  # _attrs is another node's too: copy before changing it
    _device = ""
    _id = 0
    _experimental: node_def_pb2.NodeDef | None = None  # debug_info / experimental_type
    # _class of an op colocated with this one alone (Graph._create_op_internal)
    _colocated_class: attr_value_pb2.AttrValue | None = None
    _lazy_shape: Any = None  # with _lazy_dtype: the one output, not yet a Tensor
    _ref_mask: list[bool] | None = None  # the Session's per-op cache (session._ref_inputs)
    _lazy_dtype: _dt.DType | None = None

    # --- identity ----------------------------------------------------------
    @property
    def name(self) -> str:
        return self._name

    @property
    def type(self) -> str:
        return self._type

    @property
    def graph(self) -> "Graph":
        return self._graph

    @property
    def op_def(self) -> Any:
        return self._op_def

    @property
    def device(self) -> str:
        return self._device

    def _set_device(self, device: str) -> None:
        self._device = _device.canonical(device)

    # --- wiring ------------------------------------------------------------
    @property
    def inputs(self) -> tuple[Tensor, ...]:
        return tuple(self._inputs)

    @property
    def outputs(self) -> list[Tensor]:
        return list(self._outputs)

    def values(self) -> tuple[Tensor, ...]:
        return tuple(self._outputs)

    @property
    def control_inputs(self) -> list["Operation"]:
        return list(self._control_inputs)

    def _add_control_input(self, op: "Operation") -> None:
        if op not in self._control_inputs:
            if type(self._control_inputs) is tuple:
                self._control_inputs = list(self._control_inputs)
            self._control_inputs.append(op)

    def _add_control_inputs(self, ops: list["Operation"]) -> None:
        for op in ops:
            self._add_control_input(op)

    def _update_input(self, index: int, tensor: Tensor) -> None:
        if type(self._inputs) is tuple:
            self._inputs = list(self._inputs)
        self._inputs[index] = tensor

    # --- attrs -------------------------------------------------------------
    def get_attr(self, name: str) -> Any:
        if name not in self._attrs:
            raise ValueError(f"Operation '{self._name}' has no attr named '{name}'.")
        return _attrs.to_python(self._attrs[name])

    def _set_attr(self, name: str, value: attr_value_pb2.AttrValue) -> None:
        self._own_attrs()[name] = value
        self._colocated_class = None

    def _clear_attr(self, name: str) -> None:
        self._own_attrs().pop(name, None)
        self._colocated_class = None

    def _own_attrs(self) -> dict[str, attr_value_pb2.AttrValue]:
        """``_attrs``, first copied if other nodes share it: the dict to change."""
        if self._attrs_shared:
            self._attrs = dict(self._attrs)
            self._attrs_shared = False
        return self._attrs

    def colocation_groups(self) -> list[bytes]:
        cls = self._attrs.get("_class")
        groups = [s for s in cls.list.s if s.startswith(b"loc:@")] if cls is not None else []
        return groups or [f"loc:@{self._name}".encode()]

    def _node_def(self, add_shapes: bool = False, sort_control: bool = False) -> node_def_pb2.NodeDef:
        nd = node_def_pb2.NodeDef(name=self._name, op=self._type, device=self._device)
        if self._experimental is not None:
            nd.MergeFrom(self._experimental)
        nd.input.extend(t._as_node_def_input() for t in self._inputs)
        controls = [op.name for op in self._control_inputs]
        if sort_control:
            controls.sort()
        nd.input.extend("^" + c for c in controls)
        for key, value in self._attrs.items():
            nd.attr[key].CopyFrom(value)
        if add_shapes and self._outputs:
            shapes = nd.attr["_output_shapes"].list
            shapes.shape.extend(t.shape.as_proto() for t in self._outputs)
        return nd

    @property
    def node_def(self) -> node_def_pb2.NodeDef:
        return self._node_def()

    def run(self, feed_dict: Any = None, session: Any = None) -> None:
        from tensorkeep.graph import session as _session
        _session._run_using_default_session(self, feed_dict, self.graph, session)

    def __repr__(self) -> str:
        return f"<tf.Operation '{self._name}' type={self._type}>"

    def __str__(self) -> str:
        return str(self.node_def)


# --------------------------------------------------------------------------- Graph helpers
class _ControlDependenciesController:
    def __init__(self, graph: "Graph", control_inputs: list[Operation] | None) -> None:
        self._graph = graph
        self._new_stack = control_inputs is None
        self.control_inputs: list[Operation] = [] if control_inputs is None else control_inputs
        self._seen_nodes: set[int] = set()
        self._old_stack: list["_ControlDependenciesController"] | None = None

    def __enter__(self) -> "_ControlDependenciesController":
        if self._new_stack:
            self._old_stack = self._graph._control_stack
            self._graph._control_stack = []
        self._graph._control_stack.append(self)
        return self

    def __exit__(self, *exc: Any) -> None:
        self._graph._control_stack.pop()
        if self._new_stack:
            self._graph._control_stack = self._old_stack or []


class Graph:
    """A TF1 dataflow graph."""

    def __init__(self) -> None:
        self._ops: list[Operation] = []
        self._by_name: dict[str, Operation] = {}
        self._names_in_use: dict[str, int] = {}
        self._name_stack = ""
        self._control_stack: list[_ControlDependenciesController] = []
        self._device_stack: list[Any] = []        # strings or callables
        self._colocation_stack: list[Operation] = []
        self._attr_scope_map: dict[str, attr_value_pb2.AttrValue | None] = {}
        self._collections: dict[Any, list[Any]] = {}
        self._finalized = False
        self._seed: int | None = None
        self._seed_offset = 0
        self._next_id = 0
        self._library: Any = None               # FunctionDefLibrary kept from an import
        self._graph_def_versions = versions_pb2.VersionDef(producer=GRAPH_DEF_VERSION)
        self._lock = threading.RLock()
        self._building_function = False

    # --- default graph ------------------------------------------------------
    @contextlib.contextmanager
    def as_default(self) -> Iterator["Graph"]:
        _default_graph_stack.append(self)
        try:
            yield self
        finally:
            _default_graph_stack.remove(self) if _default_graph_stack[-1] is not self \
                else _default_graph_stack.pop()

    # --- state ----------------------------------------------------------------
    @property
    def seed(self) -> int | None:
        return self._seed

    @seed.setter
    def seed(self, seed: int | None) -> None:
        self._seed = seed

    @property
    def finalized(self) -> bool:
        return self._finalized

    def finalize(self) -> None:
        self._finalized = True

    def _unsafe_unfinalize(self) -> None:
        self._finalized = False

    def _check_not_finalized(self) -> None:
        if self._finalized:
            raise RuntimeError("Graph is finalized and cannot be modified.")

    @property
    def version(self) -> int:
        return self._next_id  # the id of the last op added

    @property
    def graph_def_versions(self) -> versions_pb2.VersionDef:
        return self._graph_def_versions

    @property
    def _last_id(self) -> int:
        return self._next_id

    @property
    def building_function(self) -> bool:
        return False

    # --- names ------------------------------------------------------------
    def get_name_scope(self) -> str:
        return self._name_stack

    def unique_name(self, name: str, mark_as_used: bool = True) -> str:
        """TensorFlow's uniquification: case-insensitive, ``name_1``, ``name_2``, ..."""
        if self._name_stack:
            name = self._name_stack + "/" + name
        name_key = name.lower()
        i = self._names_in_use.get(name_key, 0)
        if mark_as_used:
            self._names_in_use[name_key] = i + 1
        if i > 0:
            base_key = name_key
            while name_key in self._names_in_use:
                name_key = f"{base_key}_{i}"
                i += 1
            if mark_as_used:
                self._names_in_use[name_key] = 1
            name = f"{name}_{i - 1}"
        return name

    @contextlib.contextmanager
    def name_scope(self, name: str | None) -> Iterator[str]:
        old = self._name_stack
        returned = self._push_name_scope(name)
        try:
            yield returned
        finally:
            self._name_stack = old

    def _push_name_scope(self, name: str | None) -> str:
        """Enter scope ``name`` (the caller restores ``_name_stack``); returns the scope string."""
        if name:
            if isinstance(name, bytes):
                name = name.decode()
            regex = _VALID_SCOPE_NAME if self._name_stack else _VALID_OP_NAME
            if not regex.match(name):
                raise ValueError(f"'{name}' is not a valid scope name")
        if not name:
            new, returned = "", ""
        elif name[-1] == "/":
            new, returned = name_from_scope_name(name), name
        else:
            new = self.unique_name(name)
            returned = new + "/"
        self._name_stack = new
        return returned

    # --- control dependencies -------------------------------------------------
    def _current_control_dependencies(self) -> set[Operation]:
        out: set[Operation] = set()
        for controller in self._control_stack:
            out.update(controller.control_inputs)
        return out

    def control_dependencies(self, control_inputs: Any) -> _ControlDependenciesController:
        if control_inputs is None:
            return _ControlDependenciesController(self, None)
        control_ops: list[Operation] = []
        current = self._current_control_dependencies()
        for c in control_inputs:
            if type(c) is not Operation:  # else nothing to convert (a Saver passes thousands)
                if not isinstance(c, (Tensor, Operation)) and hasattr(c, "_as_graph_element"):
                    c = c._as_graph_element()
                if isinstance(c, Tensor):
                    c = c.op
                elif not isinstance(c, Operation):
                    raise TypeError(f"Can not convert a {type(c).__name__} into a Operation or Tensor.")
            if c not in current:
                control_ops.append(c)
                current.add(c)
                c._set_attr("_has_manual_control_dependencies", _TRUE_ATTR)
        return _ControlDependenciesController(self, control_ops)

    def _control_dependencies_for_inputs(self, input_ops: list[Operation]) -> list[Operation]:
        ret: list[Operation] = []
        input_ids = {id(op) for op in input_ops}
        for controller in self._control_stack:
            if not input_ids.isdisjoint(controller._seen_nodes):
                continue
            ret.extend(c for c in controller.control_inputs if id(c) not in input_ids)
        return ret

    # --- devices, colocation, attr scopes -------------------------------------
    @contextlib.contextmanager
    def device(self, device_name_or_function: Any) -> Iterator[None]:
        old = self._device_stack
        if device_name_or_function is None:
            self._device_stack = []
        else:
            self._device_stack = old + [device_name_or_function]
        try:
            yield
        finally:
            self._device_stack = old

    def _apply_device_functions(self, op: Operation) -> None:
        current = ""
        for spec in self._device_stack:
            if callable(spec):
                result = spec(op)
                current = _device.canonical(getattr(result, "to_string", lambda: result)()
                                            if result is not None else "")
            else:
                current = _device.merge(str(spec), current)
        op._device = current

    @contextlib.contextmanager
    def colocate_with(self, op: Any, ignore_existing: bool = False) -> Iterator[None]:
        if op is None and not ignore_existing:
            raise ValueError("Trying to reset colocation (op is None) but ignore_existing is not True")
        if op is not None and not isinstance(op, Operation):
            op = self.as_graph_element(op, allow_tensor=True, allow_operation=True)
            if isinstance(op, Tensor):
                op = op.op
        old_device, old_coloc = self._device_stack, self._colocation_stack
        self._device_stack = []
        self._colocation_stack = ([] if ignore_existing else list(old_coloc)) + ([op] if op else [])
        try:
            yield
        finally:
            self._device_stack, self._colocation_stack = old_device, old_coloc

    @contextlib.contextmanager
    def _attr_scope(self, attr_map: dict[str, Any]) -> Iterator[None]:
        saved = dict(self._attr_scope_map)
        self._attr_scope_map.update(attr_map)
        try:
            yield
        finally:
            self._attr_scope_map = saved

    # --- op creation ------------------------------------------------------------
    def create_op(self, op_type: str, inputs: list[Tensor], dtypes: list[Any] | None = None,
                  input_types: Any = None, name: str | None = None,
                  attrs: dict[str, Any] | None = None, op_def: Any = None,
                  compute_shapes: bool = True, compute_device: bool = True) -> Operation:
        """TF1's ``Graph.create_op``; attrs may be AttrValue protos or Python values."""
        from tensorkeep.graph import op_defs
        op_def = op_def or op_defs.get(op_type, self)
        protos: dict[str, attr_value_pb2.AttrValue] = {}
        types = {a.name: a.type for a in op_def.attr} if op_def is not None else {}
        for key, value in (attrs or {}).items():
            protos[key] = _attrs.make(value, types[key]) if key in types else _attrs.guess(value)
        if dtypes is None:
            from tensorkeep.graph.op_def_library import output_dtypes
            dtypes = output_dtypes(op_def, protos) if op_def is not None else []
        return self._create_op_internal(op_type, list(inputs), [_dt.as_dtype(d) for d in dtypes],
                                        name=name, attrs=protos, op_def=op_def)

    def _create_op_internal(self, op_type: str, inputs: list[Tensor],
                            output_dtypes: list[_dt.DType | None], name: str | None = None,
                            attrs: dict[str, attr_value_pb2.AttrValue] | None = None,
                            op_def: Any = None, infer_shapes: bool = True,
                            colocate_with: list[Operation] | None = None) -> Operation:
        """Create and register a node; ``colocate_with`` acts as ``with colocate_with(op)``
        around the creation for each op given (without entering the context managers)."""
        if self._finalized:
            self._check_not_finalized()
        for t in inputs:
            if type(t) is not Tensor and not isinstance(t, Tensor):
                raise TypeError(f"Input must be a Tensor, got {t!r}")
            if t._op._graph is not self:
                raise ValueError(f"Tensor {t} must be from the same graph as the op being created.")
        if name is None:
            name = op_type
        if name and name[-1] == "/":
            name = name[:-1]
        else:
            name = self.unique_name(name)
        if not _VALID_OP_NAME.match(name):
            raise ValueError(f"'{name}' is not a valid node name")
        if name in self._by_name:
            raise ValueError(f"Duplicate node name in graph: '{name}'")
        control_inputs: list[Operation] | tuple[()] = ()
        control_stack = self._control_stack
        for controller in control_stack:
            if controller.control_inputs:  # else no scope adds any (init_scope opens an empty one)
                # Distinct input ops, in order; identity-keyed, so linear in the input count.
                input_ops = list(dict.fromkeys(t._op for t in inputs))
                control_inputs = list(dict.fromkeys(
                    self._control_dependencies_for_inputs(input_ops))) or ()
                break
        op = Operation(self, name, op_type, inputs or (), output_dtypes, attrs or {}, control_inputs,
                       "", op_def)
        self._add_op(op)
        # attr scope (never overwrites), devices, colocation: TF's order.
        if self._attr_scope_map:
            for key, value in self._attr_scope_map.items():
                if value is not None and key not in op._attrs:
                    op._attrs[key] = value
        colocation = self._colocation_stack
        if colocate_with:
            colocation = colocation + colocate_with if colocation else colocate_with
        elif self._device_stack:  # colocation clears the device stack (colocate_with below)
            self._apply_device_functions(op)
        if len(colocation) == 1:  # one op's groups: its _class, worked out once per op
            coloc = colocation[0]
            op._attrs["_class"] = self._colocated_class_of(coloc)
            if coloc._device:
                op._device = coloc._device
        elif colocation:
            groups: list[bytes] = []
            for coloc in colocation:
                groups.extend(coloc.colocation_groups())
                if coloc._device:
                    op._device = coloc._device
            op._attrs["_class"] = self._class_attr(groups)
        if control_stack:
            for controller in control_stack:
                controller._seen_nodes.add(id(op))
        if infer_shapes:
            _shape_fns.set_shapes(op)
        return op

    def _adds_nothing(self, colocated: bool = False) -> bool:
        """Whether a node created now gets nothing from the graph's state: no control
        dependencies, device, colocation or attr scope in force, and not finalized. A
        ``colocated`` node (one given ``colocate_with``) takes no device from the scope."""
        return not (self._finalized or self._control_stack or (self._device_stack and not colocated)
                    or self._colocation_stack or self._attr_scope_map)

    def _create_plain_op(self, name: str, op_type: str, inputs: list[Tensor] | tuple[Tensor, ...],
                         output_dtype: _dt.DType | None, attrs: dict[str, attr_value_pb2.AttrValue],
                         op_def: Any, colocate_with: Operation | None = None,
                         shared_attrs: bool = False, uniquify: bool = False,
                         lazy_shape: Any = None) -> Operation:
        """``_create_op_internal`` for callers that did its work already: ``name`` is valid
        and taken verbatim, or with ``uniquify`` uniquified here in the current name scope
        (:meth:`unique_name`, which marks it used); ``inputs`` are this graph's Tensors and
        :meth:`_adds_nothing` holds. One output, whose shape the caller sets; the op is
        colocated with ``colocate_with`` when given (its ``_class`` and device); with
        ``shared_attrs`` (not with ``colocate_with``) it shares ``attrs`` (see Operation).
        Given ``lazy_shape``, the output's shape, the output Tensor is made lazily."""
        if uniquify:
            name = self.unique_name(name)
        if name in self._by_name:
            raise ValueError(f"Duplicate node name in graph: '{name}'")
        op = Operation(self, name, op_type, inputs, (output_dtype,), attrs, (), "", op_def,
                       shared_attrs=shared_attrs, lazy_shape=lazy_shape)
        self._add_op(op)
        if colocate_with is not None:
            assert not shared_attrs
            op._attrs["_class"] = self._colocated_class_of(colocate_with)
            if colocate_with._device:
                op._device = colocate_with._device
        return op

    def _colocated_class_of(self, op: Operation) -> attr_value_pb2.AttrValue:
        """The ``_class`` of an op colocated with ``op`` alone, worked out once per op."""
        cls = op._colocated_class
        if cls is None:
            cls = op._colocated_class = self._class_attr(op.colocation_groups())
        return cls

    @staticmethod
    def _class_attr(groups: list[bytes]) -> attr_value_pb2.AttrValue:
        """The ``_class`` attr of these colocation groups (sorted, without repeats; never
        empty, so extending the list sets it): filled in place, half the cost of building
        it from a ListValue."""
        attr = attr_value_pb2.AttrValue()
        if len(groups) == 1:  # most ops: one group, nothing to sort
            attr.list.s.append(groups[0])
        else:
            attr.list.s.extend(sorted(set(groups)))
        return attr

    def _add_op(self, op: Operation) -> None:
        self._next_id += 1
        op._id = self._next_id
        self._ops.append(op)
        self._by_name[op._name] = op
        key = op._name.lower()
        if key not in self._names_in_use:
            self._names_in_use[key] = 1

    # --- lookup -------------------------------------------------------------------
    def get_operations(self) -> list[Operation]:
        return list(self._ops)

    def get_operation_by_name(self, name: str) -> Operation:
        if not isinstance(name, str):
            raise TypeError(f"Operation names are strings (or similar), not {type(name).__name__}.")
        return self.as_graph_element(name, allow_tensor=False, allow_operation=True)

    def get_tensor_by_name(self, name: str) -> Tensor:
        if not isinstance(name, str):
            raise TypeError(f"Tensor names are strings (or similar), not {type(name).__name__}.")
        return self.as_graph_element(name, allow_tensor=True, allow_operation=False)

    def _get_operation_or_none(self, name: str) -> Operation | None:
        return self._by_name.get(name)

    def as_graph_element(self, obj: Any, allow_tensor: bool = True,
                         allow_operation: bool = True) -> Any:
        if not isinstance(obj, (Tensor, Operation)) and hasattr(obj, "_as_graph_element"):
            obj = obj._as_graph_element()
        types_str = " or ".join(x for x, ok in (("Tensor", allow_tensor), ("Operation", allow_operation)) if ok)
        if isinstance(obj, str):
            if ":" in obj and allow_tensor:
                op_name, _, idx = obj.rpartition(":")
                try:
                    index = int(idx)
                except ValueError:
                    raise ValueError(f"The name {obj!r} looks a like a Tensor name, but is not a valid one. "
                                     "Tensor names must be of the form \"<op_name>:<output_index>\".") from None
                op = self._by_name.get(op_name)
                if op is None:
                    raise KeyError(f"The name {obj!r} refers to a Tensor which does not exist. "
                                   f"The operation, {op_name!r}, does not exist in the graph.")
                if index >= len(op._outputs) or index < 0:
                    raise KeyError(f"The name {obj!r} refers to a Tensor which does not exist. The operation, "
                                   f"{op_name!r}, exists but only has {len(op._outputs)} outputs.")
                return op._outputs[index]
            if ":" in obj and not allow_tensor:
                raise ValueError(f"Name {obj!r} appears to refer to a Tensor, not a Operation.")
            if ":" not in obj and allow_operation:
                op = self._by_name.get(obj)
                if op is None:
                    raise KeyError(f"The name {obj!r} refers to an Operation not in the graph.")
                return op
            if ":" not in obj and not allow_operation:
                if obj in self._by_name:
                    raise ValueError(f"The name {obj!r} refers to an Operation, not a Tensor. "
                                     f"Tensor names must be of the form \"<op_name>:<output_index>\".")
                raise ValueError(f"The name {obj!r} looks like an (invalid) Operation name, not a Tensor. "
                                 f"Tensor names must be of the form \"<op_name>:<output_index>\".")
        if isinstance(obj, Tensor) and allow_tensor:
            if obj.graph is not self:
                raise ValueError(f"Tensor {obj} is not an element of this graph.")
            return obj
        if isinstance(obj, Operation) and allow_operation:
            if obj.graph is not self:
                raise ValueError(f"Operation {obj} is not an element of this graph.")
            return obj
        raise TypeError(f"Can not convert a {type(obj).__name__} into a {types_str}.")

    # --- collections ---------------------------------------------------------------
    def add_to_collection(self, name: Any, value: Any) -> None:
        self._check_not_finalized()
        self._collections.setdefault(name, []).append(value)

    def add_to_collections(self, names: Any, value: Any) -> None:
        names = (names,) if isinstance(names, str) else set(names)
        for name in names:
            self.add_to_collection(name, value)

    def get_collection_ref(self, name: Any) -> list[Any]:
        return self._collections.setdefault(name, [])

    def get_collection(self, name: Any, scope: str | None = None) -> list[Any]:
        coll = self._collections.get(name)
        if coll is None:
            return []
        if scope is None:
            return list(coll)
        regex = re.compile(scope)
        return [item for item in coll
                if not hasattr(item, "name") or regex.match(item.name)]

    def get_all_collection_keys(self) -> list[Any]:
        return [k for k, v in self._collections.items() if isinstance(k, str)]

    def clear_collection(self, name: Any) -> None:
        self._check_not_finalized()
        self._collections.pop(name, None)

    # --- export ----------------------------------------------------------------------
    def as_graph_def(self, from_version: int | None = None, add_shapes: bool = False) -> graph_pb2.GraphDef:
        gd = graph_pb2.GraphDef()
        gd.versions.CopyFrom(self._graph_def_versions)
        for op in self._ops:
            if from_version is None or op._id > from_version:
                gd.node.append(op._node_def(add_shapes=add_shapes, sort_control=True))
        if self._library is not None and (self._library.function or self._library.gradient):
            gd.library.CopyFrom(self._library)
        return gd

    def is_fetchable(self, tensor_or_op: Any) -> bool:
        return True

    def is_feedable(self, tensor: Any) -> bool:
        return True

    def __repr__(self) -> str:
        return f"<tensorkeep.Graph object at {id(self):#x}>"


# --------------------------------------------------------------------------- default graph
_default_graph_stack: list[Graph] = []
_global_default_graph: Graph | None = None


def get_default_graph() -> Graph:
    global _global_default_graph
    if _default_graph_stack:
        return _default_graph_stack[-1]
    if _global_default_graph is None:
        _global_default_graph = Graph()
    return _global_default_graph


def reset_default_graph() -> None:
    """Replace the global default graph (not allowed inside ``with g.as_default()``)."""
    global _global_default_graph
    if _default_graph_stack:
        raise AssertionError("Do not use tf.reset_default_graph() to clear nested graphs. "
                             "If you need a cleared graph, exit the nesting and create a new graph.")
    from tensorkeep.graph import session as _session
    if _session._default_session_stack:
        raise AssertionError("Do not use tf.reset_default_graph() to clear nested graphs. "
                             "If you need a cleared graph, exit the nesting and create a new graph.")
    _global_default_graph = Graph()


def get_graph_from_inputs(values: list[Any], graph: Graph | None = None) -> Graph:
    for v in values:
        if isinstance(v, (Tensor, Operation)):
            return v.graph
        g = getattr(v, "graph", None)
        if isinstance(g, Graph):
            return g
    return graph or get_default_graph()


# --- module-level wrappers over the default graph (TF's tf.* names) -----------------
def name_scope(name: str | None, default_name: str | None = None, values: Any = None):  # type: ignore[no-untyped-def]
    """TF1 ``tf.name_scope(name, default_name=None, values=None)``."""
    g = get_graph_from_inputs(list(values) if values else [])
    if name is None and default_name is None:
        return g.name_scope(None)
    return _NameScope(g, name, default_name)


class _NameScope:
    def __init__(self, graph: Graph, name: str | None, default_name: str | None) -> None:
        self._graph, self._name, self._default = graph, name, default_name
        self._cm: Any = None

    def __enter__(self) -> str:
        name = self._name if self._name else self._default
        self._cm = self._graph.as_default()
        self._cm.__enter__()
        self._scope = self._graph.name_scope(name)
        return self._scope.__enter__()

    def __exit__(self, *exc: Any) -> None:
        self._scope.__exit__(*exc)
        self._cm.__exit__(*exc)


def control_dependencies(control_inputs: Any) -> _ControlDependenciesController:
    return get_default_graph().control_dependencies(control_inputs)


def device(device_name_or_function: Any):  # type: ignore[no-untyped-def]
    return get_default_graph().device(device_name_or_function)


def colocate_with(op: Any, ignore_existing: bool = False):  # type: ignore[no-untyped-def]
    return get_default_graph().colocate_with(op, ignore_existing)


def init_scope():  # type: ignore[no-untyped-def]
    """Graph-mode ``init_scope``: leave all control-dependency blocks."""
    return get_default_graph().control_dependencies(None)


def add_to_collection(name: Any, value: Any) -> None:
    get_default_graph().add_to_collection(name, value)


def add_to_collections(names: Any, value: Any) -> None:
    get_default_graph().add_to_collections(names, value)


def get_collection(key: Any, scope: str | None = None) -> list[Any]:
    return get_default_graph().get_collection(key, scope)


def get_collection_ref(key: Any) -> list[Any]:
    return get_default_graph().get_collection_ref(key)


# --- conversion of Python values / variables to tensors ------------------------------
_conversion_functions: list[tuple[type, Callable[..., Tensor]]] = []


def register_tensor_conversion_function(base_type: type, fn: Callable[..., Tensor]) -> None:
    _conversion_functions.append((base_type, fn))


def convert_to_tensor(value: Any, dtype: Any = None, name: str | None = None, as_ref: bool = False,
                      preferred_dtype: Any = None, dtype_hint: Any = None) -> Tensor:
    """A Tensor for ``value``: tensors pass through, variables give their value, else a Const."""
    preferred_dtype = preferred_dtype or dtype_hint
    want = None if dtype is None else _dt.as_dtype(dtype)
    if isinstance(value, Tensor):
        if want is not None and not want.is_compatible_with(value.dtype):
            raise ValueError(f"Tensor conversion requested dtype {want.name} for Tensor with dtype "
                             f"{value.dtype.name}: {value}")
        return value
    if isinstance(value, Operation):
        raise TypeError(f"Can't convert Operation '{value.name}' to Tensor (target dtype={want}, "
                        f"name={name}, as_ref={as_ref})")
    for base, fn in _conversion_functions:
        if isinstance(value, base):
            out = fn(value, dtype=want, name=name, as_ref=as_ref)
            if want is not None and not want.is_compatible_with(out.dtype):
                raise ValueError(f"Tensor conversion requested dtype {want.name} for Tensor with dtype "
                                 f"{out.dtype.name}: {out}")
            return out
    from tensorkeep.graph import constant_op
    if want is None and preferred_dtype is not None:
        try:
            return constant_op.constant(value, dtype=preferred_dtype, name=name or "Const")
        except (TypeError, ValueError):
            pass
    return constant_op.constant(value, dtype=want, name=name or "Const")


def convert_n_to_tensor(values: list[Any], dtype: Any = None, name: str | None = None,
                        preferred_dtype: Any = None) -> list[Tensor]:
    return [convert_to_tensor(v, dtype=dtype, name=None if name is None else f"{name}_{i}",
                              preferred_dtype=preferred_dtype) for i, v in enumerate(values)]
