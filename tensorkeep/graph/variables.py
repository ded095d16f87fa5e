"""Variables: TF1 reference variables (``VariableV2``) and resource variables.

A reference variable ``v1`` is exactly TensorFlow's four nodes (METAGRAPH.md §5):
``v1`` (VariableV2), ``v1/Assign`` (the initializer, colocated: ``_class
loc:@v1``), ``v1/read`` (Identity snapshot, colocated) and, when created from
a callable, ``v1/Initializer/...`` under an attr scope ``_class: loc:@v1``.
A resource variable is ``v1`` (VarHandleOp), ``v1/IsInitialized/VarIsInitializedOp``,
``v1/Assign`` (AssignVariableOp), ``v1/Read/ReadVariableOp``; imported TF2 graphs
use them. Both serialize to/from ``VariableDef`` (METAGRAPH.md §1.2).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tensorkeep import dtypes as _dt
from tensorkeep.graph import array_ops, constant_op, control_flow_ops, op_defs
from tensorkeep.graph import tensor_shape, tensor_util
from tensorkeep.graph import attrs as _attrs
from tensorkeep.graph import ops as _ops
from tensorkeep.graph import shape_fns as _shape_fns
from tensorkeep.graph.op_def_library import apply_op, node_plan
from tensorkeep.graph.ops import GraphKeys, prepend_name_scope, strip_name_scope
from tensorkeep.graph.tensor_shape import TensorShape, unknown_shape
from tensorkeep.proto import attr_value_pb2, variable_pb2


def _loc_attr(name: str) -> attr_value_pb2.AttrValue:
    return attr_value_pb2.AttrValue(list=attr_value_pb2.AttrValue.ListValue(s=[f"loc:@{name}".encode()]))


class Variable:
    """``tf.Variable`` / ``tf.compat.v1.Variable``: a reference variable by default.

    ``use_resource=True`` makes a :class:`ResourceVariable`; ``variable_def``
    rebuilds a variable object over existing graph nodes (import).
    """

    def __new__(cls, *args: Any, **kwargs: Any) -> "Variable":
        if cls is Variable:
            variable_def = kwargs.get("variable_def")
            if kwargs.get("use_resource") or (variable_def is not None and variable_def.is_resource):
                return super().__new__(ResourceVariable)
            return super().__new__(RefVariable)
        return super().__new__(cls)

    # subclasses fill these
    _variable: _ops.Tensor
    _initializer_op: _ops.Operation
    _snapshot: _ops.Tensor
    _initial_value: _ops.Tensor | None
    _trainable: bool
    _save_slice_info: Any = None
    _caching_device: Any = None
    _constraint: Any = None
    _synchronization: int = 0
    _aggregation: int = 0

    def _init_common(self, initial_value: Any, trainable: bool | None, collections: Any,
                     name: str | None) -> tuple[list[Any], bool]:
        if initial_value is None:
            raise ValueError("The `initial_value` arg (None) must be specified.")
        if trainable is None:
            trainable = True
        collections = [GraphKeys.GLOBAL_VARIABLES] if collections is None else list(collections)
        if trainable and GraphKeys.TRAINABLE_VARIABLES not in collections:
            collections = collections + [GraphKeys.TRAINABLE_VARIABLES]
        self._trainable = bool(trainable)
        return collections, bool(trainable)

    # --- public surface ---------------------------------------------------------
    @property
    def name(self) -> str:
        return self._variable.name

    @property
    def op(self) -> _ops.Operation:
        return self._variable.op

    @property
    def graph(self) -> _ops.Graph:
        return self._variable.graph

    @property
    def device(self) -> str:
        return self._variable.device

    @property
    def shape(self) -> TensorShape:
        return self._variable.shape

    def get_shape(self) -> TensorShape:
        return self.shape

    @property
    def trainable(self) -> bool:
        return self._trainable

    @property
    def initializer(self) -> _ops.Operation:
        return self._initializer_op

    @property
    def initial_value(self) -> _ops.Tensor | None:
        return self._initial_value

    @property
    def constraint(self) -> Any:
        return self._constraint

    @property
    def synchronization(self) -> int:
        return self._synchronization

    @property
    def aggregation(self) -> int:
        return self._aggregation

    def value(self) -> _ops.Tensor:
        return self._snapshot

    @property
    def snapshot(self) -> _ops.Tensor:
        return self._snapshot

    def eval(self, session: Any = None) -> Any:
        return self._as_graph_element().eval(session=session)

    def load(self, value: Any, session: Any = None) -> None:
        """Assign ``value`` by feeding the initializer's value input (TF1 ``Variable.load``)."""
        from tensorkeep.graph import session as _session
        session = session or _session.get_default_session()
        if session is None:
            raise ValueError("Either session argument should be provided or default session should "
                             "be established")
        session.run(self.initializer, {self.initializer.inputs[1]: value})

    def get_value(self, session: Any = None) -> Any:  # convenience, like Keras
        return self.eval(session)

    def _as_graph_element(self) -> _ops.Tensor:
        return self._variable

    def _should_act_as_resource_variable(self) -> None:
        pass

    def to_proto(self, export_scope: str | None = None) -> variable_pb2.VariableDef | None:
        if export_scope is not None and not self._variable.name.startswith(export_scope):
            return None
        vd = variable_pb2.VariableDef()
        vd.variable_name = strip_name_scope(self._variable.name, export_scope)
        if self._initial_value is not None:
            vd.initial_value_name = strip_name_scope(self._initial_value.name, export_scope)
        vd.trainable = self._trainable
        vd.synchronization = self._synchronization
        vd.aggregation = self._aggregation
        vd.initializer_name = strip_name_scope(self._initializer_op.name, export_scope)
        vd.snapshot_name = strip_name_scope(self._snapshot.name, export_scope)
        if isinstance(self, ResourceVariable):
            vd.is_resource = True
        if self._save_slice_info is not None:
            vd.save_slice_info_def.MergeFrom(self._save_slice_info.to_proto(export_scope))
        return vd

    @staticmethod
    def from_proto(variable_def: variable_pb2.VariableDef, import_scope: str | None = None) -> "Variable":
        cls = ResourceVariable if variable_def.is_resource else RefVariable
        return cls(variable_def=variable_def, import_scope=import_scope)

    def _init_from_proto(self, variable_def: variable_pb2.VariableDef, import_scope: str | None) -> None:
        g = _ops.get_default_graph()
        self._variable = g.as_graph_element(prepend_name_scope(variable_def.variable_name, import_scope))
        self._initializer_op = g.as_graph_element(prepend_name_scope(variable_def.initializer_name, import_scope))
        self._initial_value = (g.as_graph_element(prepend_name_scope(variable_def.initial_value_name, import_scope))
                               if variable_def.initial_value_name else None)
        self._snapshot = g.as_graph_element(prepend_name_scope(variable_def.snapshot_name, import_scope))
        self._trainable = variable_def.trainable
        self._synchronization = variable_def.synchronization
        self._aggregation = variable_def.aggregation
        self._save_slice_info = None
        if variable_def.HasField("save_slice_info_def"):
            self._save_slice_info = SaveSliceInfo(save_slice_info_def=variable_def.save_slice_info_def,
                                                  import_scope=import_scope)

    def _get_save_slice_info(self) -> Any:
        return self._save_slice_info

    def _set_save_slice_info(self, info: Any) -> None:
        self._save_slice_info = info

    def __repr__(self) -> str:
        return f"<tf.Variable '{self.name}' shape={self.shape} dtype={self.dtype.name}>"

    def __hash__(self) -> int:
        return id(self)

    def __eq__(self, other: object) -> bool:
        return self is other

    def __ne__(self, other: object) -> bool:
        return self is not other


def _delegate(dunder: str) -> None:
    """Arithmetic on a variable acts on its value (``v1/read``)."""
    def method(self: Variable, *args: Any) -> Any:
        return getattr(_ops.Tensor, dunder)(self.value(), *args)
    method.__name__ = dunder
    setattr(Variable, dunder, method)


for _d in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and", "or"):
    _delegate(f"__{_d}__")
    _delegate(f"__r{_d}__")
for _d in ("__neg__", "__abs__", "__invert__", "__lt__", "__le__", "__gt__", "__ge__", "__getitem__"):
    _delegate(_d)


class RefVariable(Variable):
    """A TF1 reference variable (VariableV2 + Assign + Identity ``read``)."""

    def __init__(self, initial_value: Any = None, trainable: bool | None = None,
                 collections: Any = None, validate_shape: bool = True, caching_device: Any = None,
                 name: str | None = None, variable_def: Any = None, dtype: Any = None,
                 expected_shape: Any = None, import_scope: str | None = None,
                 constraint: Any = None, use_resource: bool | None = None,
                 synchronization: Any = None, aggregation: Any = None, shape: Any = None) -> None:
        if variable_def is not None:
            self._init_from_proto(variable_def, import_scope)
            return
        collections, trainable = self._init_common(initial_value, trainable, collections, name)
        self._constraint = constraint
        self._caching_device = caching_device
        from_fn = callable(initial_value)
        graph = _ops.get_default_graph()
        # an array belongs to no graph (get_graph_from_inputs would find none)
        scope_graph = graph if from_fn or type(initial_value) is np.ndarray \
            else _ops.get_graph_from_inputs([initial_value])
        # init_scope() and name_scope(name, "Variable", [initial_value]), without their
        # context managers (every variable pays for them): leave all control-dependency
        # blocks (an empty stack adds no control inputs, as init_scope's empty block), then
        # open the variable's name scope.
        old_control = graph._control_stack
        graph._control_stack = []
        try:
            if scope_graph is graph:
                old_names = graph._name_stack
                try:
                    scope = graph._push_name_scope(name or "Variable")
                    if not (type(initial_value) is np.ndarray and dtype is None and shape is None
                            and validate_shape is True and caching_device is None
                            and self._build_from_array(graph, scope, initial_value)):
                        self._build(graph, scope, initial_value, from_fn, dtype, validate_shape,
                                    shape, caching_device)
                finally:
                    graph._name_stack = old_names
            else:
                with scope_graph.as_default(), scope_graph.name_scope(name or "Variable") as scope:
                    self._build(graph, scope, initial_value, from_fn, dtype, validate_shape, shape,
                                caching_device)
        finally:
            graph._control_stack = old_control
        graph.add_to_collections(collections, self)

    def _build(self, graph: _ops.Graph, scope: str, initial_value: Any, from_fn: bool, dtype: Any,
               validate_shape: bool, shape: Any, caching_device: Any) -> None:
        """The variable's nodes, in its name scope ``scope``."""
        if from_fn:
            true_name = _ops.name_from_scope_name(scope)
            with graph._attr_scope({"_class": _loc_attr(true_name)}):
                with graph.name_scope("Initializer"), graph.device(None):
                    self._initial_value = _ops.convert_to_tensor(
                        initial_value(), name="initial_value", dtype=dtype)
                var_shape = self._initial_value.shape if validate_shape else unknown_shape()
                if shape is not None:
                    var_shape = TensorShape(shape)
                self._variable = _variable_v2(var_shape, self._initial_value.dtype.base_dtype, scope)
        else:
            if type(initial_value) is np.ndarray:  # what convert_to_tensor makes of it, directly
                self._initial_value = constant_op.constant(
                    initial_value, dtype=None if dtype is None else _dt.as_dtype(dtype),
                    name="initial_value")
            else:
                self._initial_value = _ops.convert_to_tensor(initial_value, name="initial_value",
                                                             dtype=dtype)
            var_shape = self._initial_value.shape if validate_shape else unknown_shape()
            if shape is not None:
                var_shape = TensorShape(shape)
            self._variable = _variable_v2(var_shape, self._initial_value.dtype.base_dtype, scope)
        if validate_shape and not self._initial_value.shape.is_fully_defined():
            raise ValueError(f"initial_value must have a shape specified: {self._initial_value}")
        self._initializer_op = assign(self._variable, self._initial_value,
                                      validate_shape=validate_shape).op
        if caching_device is not None:
            with graph.device(caching_device):
                self._snapshot = array_ops.identity(self._variable, name="read")
            return
        # graph.colocate_with(self._variable.op), without the context manager
        old_device, old_colocation = graph._device_stack, graph._colocation_stack
        graph._device_stack = []
        graph._colocation_stack = old_colocation + [self._variable._op]
        try:
            self._snapshot = array_ops.identity(self._variable, name="read")
        finally:
            graph._device_stack, graph._colocation_stack = old_device, old_colocation

    def _build_from_array(self, graph: _ops.Graph, scope: str, value: np.ndarray) -> bool:
        """:meth:`_build` for the common case, a variable from an array in a graph adding
        nothing to its nodes: the same four nodes, created directly. What ``constant`` and
        ``apply_op`` work out per node (attrs, output dtypes, shapes) depends only on the
        array's dtype and shape, so it is worked out once per pair (:func:`_from_array_plan`).
        Returns False, having created nothing, when the case does not apply."""
        var_name = scope[:-1]  # the name stack now; valid, so are the names below it
        if not graph._adds_nothing() or not _ops._VALID_OP_NAME.match(var_name):
            return False
        encoded = tensor_util.array_tensor_attr(value)
        if encoded is None:
            return False
        data, dt, dims = encoded
        plan = _FROM_ARRAY_PLANS.get((dt.as_datatype_enum, dims))  # an int: hashed in C
        if plan is None:
            plan = _from_array_plan(graph, dt, dims)
        dtype_attr, init_shape, var_attrs, var_dtype, var_shape, assign_attrs, assign_dtype, \
            assign_shape, read_attrs, read_dtype, read_shape = plan
        create = graph._create_plain_op
        init = create("initial_value", "Const", (), dt,
                      {"value": _attrs.AttrValue.FromString(data), "dtype": dtype_attr},
                      _CONST_DEF, uniquify=True)._outputs[0]
        init._shape = init_shape
        var_op = create(var_name, "VariableV2", (), var_dtype, var_attrs, _VARIABLE_V2_DEF,
                        shared_attrs=True)  # variables of one dtype and shape: one attrs dict
        var = var_op._outputs[0]
        var._shape = var_shape
        # the initializer is run for its effect; its output Tensor is made if asked for
        assign = create("Assign", "Assign", [var, init], assign_dtype, assign_attrs, _ASSIGN_DEF,
                        colocate_with=var_op, uniquify=True, lazy_shape=assign_shape)
        # its inputs, (var,), are var_op's outputs: a tuple, never changed in place
        read = create("read", "Identity", var_op._outputs, read_dtype, read_attrs, _IDENTITY_DEF,
                      colocate_with=var_op, uniquify=True)._outputs[0]
        read._shape = read_shape
        self._initial_value, self._variable, self._initializer_op, self._snapshot = \
            init, var, assign, read
        return True

    @property
    def dtype(self) -> _dt.DType:
        return self._variable.dtype

    def _ref(self) -> _ops.Tensor:
        return self._variable

    def read_value(self) -> _ops.Tensor:
        return array_ops.identity(self._variable, name="read")

    def initialized_value(self) -> _ops.Tensor:
        with _ops.init_scope():
            with _ops.control_dependencies([self._initializer_op]):
                return array_ops.identity(self._variable)

    def assign(self, value: Any, use_locking: bool = False, name: str | None = None,
               read_value: bool = True) -> Any:
        out = assign(self._variable, value, use_locking=use_locking, name=name)
        return out if read_value else out.op

    def assign_add(self, delta: Any, use_locking: bool = False, name: str | None = None,
                   read_value: bool = True) -> Any:
        out = apply_op("AssignAdd", name=name, ref=self._variable, value=delta,
                       use_locking=use_locking).outputs[0]
        return out if read_value else out.op

    def assign_sub(self, delta: Any, use_locking: bool = False, name: str | None = None,
                   read_value: bool = True) -> Any:
        out = apply_op("AssignSub", name=name, ref=self._variable, value=delta,
                       use_locking=use_locking).outputs[0]
        return out if read_value else out.op


class ResourceVariable(Variable):
    """A resource variable (VarHandleOp + ReadVariableOp/AssignVariableOp)."""

    def __init__(self, initial_value: Any = None, trainable: bool | None = None,
                 collections: Any = None, validate_shape: bool = True, caching_device: Any = None,
                 name: str | None = None, variable_def: Any = None, dtype: Any = None,
                 expected_shape: Any = None, import_scope: str | None = None,
                 constraint: Any = None, use_resource: bool | None = None,
                 synchronization: Any = None, aggregation: Any = None, shape: Any = None) -> None:
        if variable_def is not None:
            self._init_from_proto(variable_def, import_scope)
            handle_op = self._variable.op
            self._dtype = _dt.from_enum(handle_op._attrs["dtype"].type) if "dtype" in handle_op._attrs \
                else self._snapshot.dtype
            self._handle_shape = TensorShape(handle_op._attrs["shape"].shape) if "shape" in handle_op._attrs \
                else self._snapshot.shape
            return
        collections, trainable = self._init_common(initial_value, trainable, collections, name)
        self._constraint = constraint
        from_fn = callable(initial_value)
        graph = _ops.get_default_graph()
        with _ops.init_scope():
            with _ops.name_scope(name, "Variable", [] if from_fn else [initial_value]) as scope:
                handle_name = _ops.name_from_scope_name(scope)
                with graph._attr_scope({"_class": _loc_attr(handle_name)}):
                    with graph.name_scope("Initializer"), graph.device(None):
                        init = initial_value() if from_fn else initial_value
                        init = _ops.convert_to_tensor(init, name="initial_value", dtype=dtype)
                    self._initial_value = init
                    var_shape = TensorShape(shape) if shape is not None else init.shape
                    handle = apply_op("VarHandleOp", name=scope, shape=var_shape,
                                      dtype=init.dtype.base_dtype, shared_name=handle_name,
                                      debug_name=scope, container="").outputs[0]
                self._variable = handle
                self._dtype = init.dtype.base_dtype
                self._handle_shape = var_shape
                with graph.name_scope("IsInitialized"):
                    self._is_initialized = apply_op("VarIsInitializedOp", resource=handle).outputs[0]
                with graph.name_scope("Assign") as n, graph.colocate_with(None, ignore_existing=True), \
                        graph.device(handle.device):
                    self._initializer_op = apply_op("AssignVariableOp", name=n, resource=handle,
                                                    value=init, dtype=self._dtype)
                with graph.name_scope("Read"), graph.device(handle.device):
                    self._snapshot = apply_op("ReadVariableOp", resource=handle,
                                              dtype=self._dtype).outputs[0]
        graph.add_to_collections(collections, self)

    @property
    def dtype(self) -> _dt.DType:
        return self._dtype

    @property
    def shape(self) -> TensorShape:
        return self._handle_shape

    @property
    def handle(self) -> _ops.Tensor:
        return self._variable

    def _as_graph_element(self) -> _ops.Tensor:
        return self._snapshot

    def eval(self, session: Any = None) -> Any:
        return self._snapshot.eval(session=session)

    def read_value(self) -> _ops.Tensor:
        with _ops.name_scope("Read"):
            return apply_op("ReadVariableOp", resource=self._variable, dtype=self._dtype).outputs[0]

    def initialized_value(self) -> _ops.Tensor:
        with _ops.init_scope(), _ops.control_dependencies([self._initializer_op]):
            return self.read_value()

    def _assign_op(self, op_type: str, value: Any, name: str | None, read_value: bool) -> Any:
        value = _ops.convert_to_tensor(value, dtype=self._dtype)
        op = apply_op(op_type, name=name, resource=self._variable, value=value, dtype=self._dtype)
        if not read_value:
            return op
        with _ops.control_dependencies([op]):
            return self.read_value()

    def assign(self, value: Any, use_locking: bool | None = None, name: str | None = None,
               read_value: bool = True) -> Any:
        return self._assign_op("AssignVariableOp", value, name, read_value)

    def assign_add(self, delta: Any, use_locking: bool | None = None, name: str | None = None,
                   read_value: bool = True) -> Any:
        return self._assign_op("AssignAddVariableOp", delta, name, read_value)

    def assign_sub(self, delta: Any, use_locking: bool | None = None, name: str | None = None,
                   read_value: bool = True) -> Any:
        return self._assign_op("AssignSubVariableOp", delta, name, read_value)


class SaveSliceInfo:
    """Where a partition sits in its full variable (``SaveSliceInfoDef``)."""

    def __init__(self, full_name: str | None = None, full_shape: Any = None, var_offset: Any = None,
                 var_shape: Any = None, save_slice_info_def: Any = None,
                 import_scope: str | None = None) -> None:
        if save_slice_info_def is not None:
            full_name = prepend_name_scope(save_slice_info_def.full_name, import_scope)
            full_shape = list(save_slice_info_def.full_shape)
            var_offset = list(save_slice_info_def.var_offset)
            var_shape = list(save_slice_info_def.var_shape)
        self.full_name = full_name
        self.full_shape = list(full_shape or [])
        self.var_offset = list(var_offset or [])
        self.var_shape = list(var_shape or [])

    @property
    def spec(self) -> str:
        """``"4 2 0,2:0,2"``: full shape, then offset,length per dimension."""
        full = " ".join(str(d) for d in self.full_shape)
        sl = ":".join(f"{o},{s}" for o, s in zip(self.var_offset, self.var_shape))
        return f"{full} {sl}"

    def to_proto(self, export_scope: str | None = None) -> variable_pb2.SaveSliceInfoDef:
        return variable_pb2.SaveSliceInfoDef(full_name=strip_name_scope(self.full_name, export_scope),
                                             full_shape=self.full_shape, var_offset=self.var_offset,
                                             var_shape=self.var_shape)


VariableV1 = Variable

_CONST_DEF, _VARIABLE_V2_DEF, _ASSIGN_DEF, _IDENTITY_DEF = (
    op_defs.get(t) for t in ("Const", "VariableV2", "Assign", "Identity"))
# (dtype enum, dims) of an initial value -> what RefVariable._build_from_array's nodes share
_FROM_ARRAY_PLANS: dict[tuple[int, tuple[int, ...]], tuple[Any, ...]] = {}


def _from_array_plan(graph: _ops.Graph, dt: _dt.DType, dims: tuple[int, ...]) -> tuple[Any, ...]:
    """What the four nodes of a variable from an array of dtype ``dt`` and shape ``dims``
    share: the Const's ``dtype`` attr and shape, as ``constant`` gives them; the attrs and
    output dtype of the VariableV2, Assign and ``read`` Identity, as ``apply_op`` gives
    them; their shapes, as shape inference gives them. Worked out on probe nodes, which
    are never added to the graph."""
    def probe(op_type: str, inputs: list[_ops.Tensor], dtype: Any, attrs: dict[str, Any],
              op_def: Any) -> _ops.Tensor:  # an output, shaped by shape inference
        op = _ops.Operation(graph, op_type, op_type, inputs, [dtype], attrs, (), "", op_def)
        _shape_fns.set_shapes(op)
        return op._outputs[0]

    init = _ops.Operation(graph, "Const", "Const", (), [dt], {}, (), "", _CONST_DEF)._outputs[0]
    init._shape = tensor_shape.shared(tuple(dims))  # as constant(): the shape it encoded
    var_attrs, (var_dtype,), _ = node_plan(
        "VariableV2", {"shape": init._shape, "dtype": dt, "container": "", "shared_name": ""})
    var_attrs = dict(var_attrs)  # the VariableV2s share it (never apply_op's plan itself)
    var = probe("VariableV2", [], var_dtype, var_attrs, _VARIABLE_V2_DEF)
    assign_attrs, (assign_dtype,), _ = node_plan(
        "Assign", {"ref": var, "value": init, "validate_shape": True, "use_locking": True})
    assign = probe("Assign", [var, init], assign_dtype, assign_attrs, _ASSIGN_DEF)
    read_attrs, (read_dtype,), _ = node_plan("Identity", {"input": var})
    read = probe("Identity", [var], read_dtype, read_attrs, _IDENTITY_DEF)
    plan = (_attrs.make_type(dt), init._shape, var_attrs, var_dtype, var._shape, assign_attrs,
            assign_dtype, assign._shape, read_attrs, read_dtype, read._shape)
    if len(_FROM_ARRAY_PLANS) >= 512:
        _FROM_ARRAY_PLANS.clear()
    _FROM_ARRAY_PLANS[(dt.as_datatype_enum, dims)] = plan
    return plan


def _variable_v2(shape: TensorShape, dtype: _dt.DType, name: str) -> _ops.Tensor:
    return apply_op("VariableV2", name=name, shape=shape, dtype=dtype, container="",
                    shared_name="")._outputs[0]


def assign(ref: Any, value: Any, validate_shape: bool | None = None, use_locking: bool | None = None,
           name: str | None = None) -> _ops.Tensor:
    """``Assign`` (ref variables) or ``AssignVariableOp`` (resource variables)."""
    if isinstance(ref, ResourceVariable):
        return ref.assign(value, name=name)
    if isinstance(ref, Variable):
        ref = ref._ref()  # type: ignore[attr-defined]
    return apply_op("Assign", name=name, ref=ref, value=value,
                    validate_shape=True if validate_shape is None else validate_shape,
                    use_locking=True if use_locking is None else use_locking)._outputs[0]


def assign_add(ref: Any, value: Any, use_locking: bool | None = None, name: str | None = None) -> Any:
    if isinstance(ref, Variable):
        return ref.assign_add(value, use_locking=bool(use_locking), name=name)
    return apply_op("AssignAdd", name=name, ref=ref, value=value, use_locking=bool(use_locking)).outputs[0]


def assign_sub(ref: Any, value: Any, use_locking: bool | None = None, name: str | None = None) -> Any:
    if isinstance(ref, Variable):
        return ref.assign_sub(value, use_locking=bool(use_locking), name=name)
    return apply_op("AssignSub", name=name, ref=ref, value=value, use_locking=bool(use_locking)).outputs[0]


def _variable_conversion(v: Variable, dtype: Any = None, name: str | None = None,
                         as_ref: bool = False) -> _ops.Tensor:
    if as_ref and isinstance(v, RefVariable):
        return v._ref()
    return v.value()


_ops.register_tensor_conversion_function(Variable, _variable_conversion)


# --- collections and initializers ----------------------------------------------------
def global_variables(scope: str | None = None) -> list[Variable]:
    return _ops.get_collection(GraphKeys.GLOBAL_VARIABLES, scope)


all_variables = global_variables


def trainable_variables(scope: str | None = None) -> list[Variable]:
    return _ops.get_collection(GraphKeys.TRAINABLE_VARIABLES, scope)


def local_variables(scope: str | None = None) -> list[Variable]:
    return _ops.get_collection(GraphKeys.LOCAL_VARIABLES, scope)


def model_variables(scope: str | None = None) -> list[Variable]:
    return _ops.get_collection(GraphKeys.MODEL_VARIABLES, scope)


def moving_average_variables(scope: str | None = None) -> list[Variable]:
    return _ops.get_collection(GraphKeys.MOVING_AVERAGE_VARIABLES, scope)


def variables_initializer(var_list: list[Any], name: str = "init") -> _ops.Operation:
    if var_list:
        return control_flow_ops.group(*[v.initializer for v in var_list], name=name)
    return control_flow_ops.no_op(name=name)


def global_variables_initializer() -> _ops.Operation:
    return variables_initializer(global_variables())


def local_variables_initializer() -> _ops.Operation:
    return variables_initializer(local_variables())


initialize_all_variables = global_variables_initializer
initialize_variables = variables_initializer
initialize_local_variables = local_variables_initializer


def is_variable_initialized(variable: Any) -> _ops.Tensor:
    if isinstance(variable, ResourceVariable):
        return apply_op("VarIsInitializedOp", resource=variable.handle).outputs[0]
    ref = variable._ref() if isinstance(variable, RefVariable) else variable
    return apply_op("IsVariableInitialized", ref=ref, dtype=ref.dtype.base_dtype).outputs[0]


def report_uninitialized_variables(var_list: list[Any] | None = None,
                                   name: str = "report_uninitialized_variables") -> _ops.Tensor:
    """1-D string tensor of the names of uninitialized variables (empty when all are)."""
    from tensorkeep.graph import constant_op, math_ops
    if var_list is None:
        var_list = global_variables() + local_variables()
        if not var_list:
            var_list = [op.outputs[0] for op in _ops.get_default_graph().get_operations()
                        if op.type in ("Variable", "VariableV2", "AutoReloadVariable")]
    with _ops.name_scope(name):
        init_vars = [is_variable_initialized(v) for v in var_list] if var_list else []
        with _ops.device("/cpu:0"):
            if not var_list:
                return constant_op.constant([], dtype=_dt.string)
            mask = math_ops.logical_not(array_ops.stack(init_vars))
            names = constant_op.constant([v.op.name for v in var_list])
            return boolean_mask(names, mask)


def boolean_mask(tensor: Any, mask: Any, name: str = "boolean_mask") -> _ops.Tensor:
    """1-D ``tensor[mask]`` (Where + Squeeze + GatherV2)."""
    with _ops.name_scope(name, values=[tensor, mask]):
        indices = apply_op("Where", input=mask).outputs[0]
        indices = array_ops.squeeze(indices, axis=[1])
        return array_ops.gather(tensor, indices, axis=0)


def assert_variables_initialized(var_list: list[Any] | None = None) -> _ops.Operation | None:
    from tensorkeep.graph import math_ops
    var_list = global_variables() + local_variables() if var_list is None else var_list
    if not var_list:
        return None
    with _ops.name_scope("assert_variables_initialized"):
        ranks = [is_variable_initialized(v) for v in var_list]
        return math_ops.reduce_all(array_ops.stack(ranks)).op
