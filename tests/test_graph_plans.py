"""Graph building's shortcuts give exactly the graph the general code gives.

``op_def_library`` works out a node's attrs, output dtypes and checks once per
signature (input dtypes + plain attr values) and reuses them; ``constant`` takes
an array's own bytes when it already has the wanted dtype; ops colocated alike share
one ``_class`` AttrValue. Each program below is built twice, once with the plan
cache in use and once with every plan dropped before each node, and the two
GraphDefs must be byte-identical; errors must repeat on every call (a failed build
is never remembered).

A variable from an array creates its four nodes directly, a Saver creates a whole
variable's restore Assign directly, and a Saver over whole variables makes no
saveables: each is checked against the general path with the shortcut switched off
(GraphDef, MetaGraphDef, names in use, errors), and checked to have been taken.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import pytest

import tensorkeep as tf
from tensorkeep.graph import op_def_library
from tensorkeep.graph import tensor_util
from tensorkeep.graph import variables as _variables


def _program() -> None:
    rng = np.random.default_rng(0)
    vs = []
    for i in range(6):
        shape = (3, 2) if i % 2 else (4,)
        dtype = np.float32 if i < 4 else np.float64
        vs.append(tf.Variable(rng.standard_normal(shape).astype(dtype), name=f"v{i}"))
    with tf.variable_scope("scope"):
        w = tf.get_variable("w", shape=[2, 5], initializer=tf.zeros_initializer())
    with tf.device("/cpu:0"):
        x = tf.placeholder(tf.float32, [None, 2])
        y = tf.matmul(x, w) + 1.0
        y = tf.nn.relu(y)
    with tf.control_dependencies([y]):
        z = tf.identity(vs[1]) * 2.0
    for v in vs:
        tf.assign(v, tf.zeros_like(v), validate_shape=True)
        v.assign_add(tf.ones_like(v))
    tf.add_n([vs[0], vs[2]], name="sum")
    tf.cast(z, tf.int32)
    tf.train.Saver(var_list=vs + [w])
    tf.train.Saver(var_list={"a": vs[0], "b": vs[4]}, sharded=True)


def _graph_def_bytes(build: Callable[[], None]) -> bytes:
    g = tf.Graph()
    with g.as_default():
        build()
    return g.as_graph_def(add_shapes=True).SerializeToString(deterministic=True)


def _without_plans(monkeypatch: pytest.MonkeyPatch) -> None:
    real = op_def_library._apply

    def forgetful(graph, info, op_type, scope, keywords):  # type: ignore[no-untyped-def]
        info.plans.clear()
        return real(graph, info, op_type, scope, keywords)

    monkeypatch.setattr(op_def_library, "_apply", forgetful)


def test_reused_plans_build_the_same_graph(monkeypatch: pytest.MonkeyPatch) -> None:
    with_plans = _graph_def_bytes(_program)
    again = _graph_def_bytes(_program)           # every signature seen before now
    _without_plans(monkeypatch)
    general = _graph_def_bytes(_program)
    assert with_plans == general
    assert again == general


def test_plans_were_used() -> None:
    g = tf.Graph()
    with g.as_default():
        a = tf.Variable(np.zeros(3, np.float32), name="a")
        info = op_def_library._info(a.initializer.op_def)
        before = dict(info.plans)
        tf.Variable(np.ones(3, np.float32), name="b")
    assert len(info.plans) == len(before) >= 1   # b's Assign reused a's plan


def test_a_failed_build_is_not_remembered() -> None:
    g = tf.Graph()
    with g.as_default():
        f = tf.constant([1.0, 2.0])
        i = tf.constant([1, 2])
        for _ in range(3):
            with pytest.raises((TypeError, ValueError), match="int32"):
                op_def_library.apply_op("AddV2", x=f, y=i)
        c = tf.constant(np.zeros(2, np.float32))
        for _ in range(3):                          # a ref input is required
            with pytest.raises(TypeError, match="mutable tensor"):
                op_def_library.apply_op("Assign", ref=c, value=f)


def test_differing_attr_values_do_not_share_a_plan() -> None:
    g = tf.Graph()
    with g.as_default():
        v = tf.Variable(np.zeros(2, np.float32), name="v")
        a = tf.assign(v, [1.0, 2.0], validate_shape=True, use_locking=True)
        b = tf.assign(v, [1.0, 2.0], validate_shape=False, use_locking=True)
        c = tf.assign(v, [1.0, 2.0], validate_shape=True, use_locking=False)
    assert a.op.get_attr("validate_shape") is True and b.op.get_attr("validate_shape") is False
    assert c.op.get_attr("use_locking") is False and a.op.get_attr("use_locking") is True


@pytest.mark.parametrize("value", [
    np.arange(6, dtype=np.float32).reshape(2, 3),
    np.arange(5, dtype=np.int64),
    np.arange(4, dtype=np.float64).astype(">f8"),      # big-endian: the general path
    np.arange(3, dtype=np.uint16),                       # not a tensor_content dtype
    np.array([1.5], np.float32),                          # one element: typed field
    np.arange(8, dtype=np.float32)[::2],                 # a strided view
])
@pytest.mark.parametrize("dtype", [None, "float32", "float64", "int64"])
def test_const_from_an_array_equals_the_general_encoding(value: np.ndarray, dtype: str | None) -> None:
    want = None if dtype is None else tf.as_dtype(dtype)
    try:   # a list never takes the shortcut
        general = tensor_util.make_tensor_proto(
            value.tolist(), dtype=want or tf.as_dtype(value.dtype.newbyteorder("=")))
    except (TypeError, ValueError) as exc:
        with pytest.raises(type(exc)):
            tensor_util.make_tensor_proto(value, dtype=want)
        return
    fast = tensor_util.make_tensor_proto(value, dtype=want)
    assert fast.SerializeToString() == general.SerializeToString()


# --- shortcuts for the common case of a variable and a Saver -------------------------
class _Array(np.ndarray):
    """An ndarray subclass: takes none of the exact-ndarray shortcuts."""


class _RefSubclass(_variables.RefVariable):
    """A RefVariable subclass: the Saver takes the general conversion path for it."""


def _variables_and_savers(as_input: Callable[[np.ndarray], object],
                          variable: Callable[..., object]) -> None:
    rng = np.random.default_rng(1)
    vs = {}
    for i in range(5):
        value = rng.standard_normal((3, 2) if i % 2 else (4,)).astype(np.float32 if i < 3 else np.float64)
        dtype = "float64" if i == 4 else None
        vs[f"v{i}"] = variable(as_input(value), name=f"v{i}", dtype=dtype)
    with tf.control_dependencies([vs["v0"].initializer]):
        tf.no_op(name="after_init")
    tf.train.Saver(var_list=vs)
    tf.train.Saver(var_list=list(vs.values()), restore_sequentially=True, name="seq")
    tf.train.Saver(var_list=vs, sharded=True, name="sharded")


def test_variables_and_savers_take_shortcuts_to_the_general_graph() -> None:
    """A variable from an exact ndarray is a Const of it without convert_to_tensor, and the
    Saver takes an exact RefVariable's ref tensor without converting: the same bytes as an
    ndarray subclass and a RefVariable subclass, which take the general paths."""
    fast = _graph_def_bytes(lambda: _variables_and_savers(lambda a: a, tf.Variable))
    general = _graph_def_bytes(lambda: _variables_and_savers(lambda a: a.view(_Array), _RefSubclass))
    assert fast == general
    assert b"_has_manual_control_dependencies" in fast


def test_a_ref_variable_over_a_non_variable_op_is_refused_by_the_saver() -> None:
    g = tf.Graph()
    with g.as_default():
        v = tf.Variable(np.zeros(2, np.float32), name="v")
        v._variable = tf.constant([1.0, 2.0])          # not a variable op: TF's error
        with pytest.raises(TypeError, match="Not a variable"):
            tf.train.Saver(var_list={"v": v})


def test_sequential_restores_pair_each_saveable_with_its_tensors() -> None:
    g = tf.Graph()
    with g.as_default():
        vs = [tf.Variable(np.full(3, i, np.float32), name=f"v{i}") for i in range(4)]
        for sharded in (False, True):
            saver = tf.train.Saver(var_list=vs, restore_sequentially=True, sharded=sharded)
            plan = saver._sequential_plan()
            assert plan is not None and [s.name for _, _, s in plan] == [f"v{i}" for i in range(4)]
            for tensors, assign, saveable in plan:
                assert len(tensors) == len(saveable.specs) == 1
                assert assign.type == "Assign"
                assert assign.inputs[0] is saveable.op and assign.inputs[1] is tensors[0]


def test_control_dependencies_share_one_true_attr() -> None:
    g = tf.Graph()
    with g.as_default():
        a, b = tf.no_op(name="a"), tf.no_op(name="b")
        with tf.control_dependencies([a, b]):
            c = tf.no_op(name="c")
    assert a.get_attr("_has_manual_control_dependencies") is True
    assert b.get_attr("_has_manual_control_dependencies") is True
    assert [op.name for op in c.control_inputs] == ["a", "b"]


@pytest.mark.parametrize("groups", [[b"loc:@v"], [b"loc:@b", b"loc:@a", b"loc:@b"], [b"loc:@x/y"] * 3])
def test_class_attr_filled_in_place_equals_one_built_from_a_list_value(groups: list[bytes]) -> None:
    from tensorkeep.proto import attr_value_pb2

    general = attr_value_pb2.AttrValue(list=attr_value_pb2.AttrValue.ListValue(s=sorted(set(groups))))
    fast = tf.Graph._class_attr(groups)
    assert fast.SerializeToString(deterministic=True) == general.SerializeToString(deterministic=True)
    assert fast == general and fast.HasField("list")


@pytest.mark.parametrize("value", [
    np.arange(6, dtype=np.float32).reshape(2, 3),
    np.arange(5, dtype=np.int64),
    np.arange(4, dtype=np.float64).astype(">f8"),      # big-endian: not its own bytes
    np.arange(3, dtype=np.uint16),                       # not a tensor_content dtype
    np.array([1.5], np.float32),                          # one element: typed field
    np.zeros((2, 0), np.float32),                         # no elements
    np.arange(8, dtype=np.float32)[::2],                 # a strided view: its C-order bytes
    np.arange(300, dtype=np.uint8).astype(np.uint8),      # content longer than 127 bytes
    np.arange(40000, dtype=np.float32).reshape(200, 200),  # lengths of 3-byte varints
    np.arange(6, dtype=np.float32).view(_Array),          # a subclass: the general path
])
def test_a_const_parsed_from_its_head_equals_the_filled_one(value: np.ndarray) -> None:
    from tensorkeep.proto import attr_value_pb2

    filled = attr_value_pb2.AttrValue()
    tensor_util.fill_tensor_proto(filled.tensor, value)
    for _ in range(2):                                   # the head, worked out then reused
        encoded = tensor_util.array_tensor_attr(value)
        takes_shortcut = type(value) is np.ndarray and value.size > 1 and \
            value.dtype.isnative and value.dtype != np.uint16
        assert (encoded is not None) == takes_shortcut
        if encoded is not None:
            data, dt, dims = encoded
            assert data == filled.SerializeToString(deterministic=True)
            assert attr_value_pb2.AttrValue.FromString(data) == filled
            assert dt.as_datatype_enum == filled.tensor.dtype and dims == value.shape
    g = tf.Graph()
    with g.as_default():
        const = tf.constant(value)
    assert const.op._attrs["value"].SerializeToString(deterministic=True) == \
        filled.SerializeToString(deterministic=True)
    assert const.shape.as_list() == list(value.shape)


# --- a variable from an array, its nodes created directly ----------------------------
def _array_variables() -> None:
    """Variables from arrays in the cases the direct path takes and the ones it leaves to
    the general path, with later nodes whose names depend on the names the variables took."""
    rng = np.random.default_rng(2)
    a32 = rng.standard_normal((3, 2)).astype(np.float32)
    v = tf.Variable(a32, name="v")
    tf.Variable(a32 * 2, name="v")                       # uniquified: v_1
    with tf.control_dependencies([v.op]):                 # an attr set on v's node alone (v_1's
        tf.no_op(name="after_v")                          # VariableV2 shares its attrs dict)
    tf.Variable(rng.standard_normal(4), name="V")         # float64; case-insensitive: V_2
    tf.Variable(np.arange(5, dtype=np.int64))             # default name
    tf.Variable(np.arange(3, dtype=np.int32), name="outer/")   # a name taken verbatim
    with tf.name_scope("outer"):
        w = tf.Variable(a32, name="w", trainable=False)
        tf.Variable(a32, name="w_1/")
    tf.Variable(np.array([1.5], np.float32), name="one")  # one element: the general path
    tf.Variable(a32, name="typed", dtype=tf.float64)      # dtype given: the general path
    with tf.control_dependencies([w.initializer]):         # left by the variable (init_scope)
        tf.Variable(a32, name="in_deps")
    with tf.device("/cpu:0"):                               # a device: the general path
        tf.Variable(a32, name="on_cpu")
    with tf.colocate_with(w.op):                            # colocated: the general path
        tf.Variable(a32, name="coloc")
    tf.identity(w, name="w/read")                          # read_1
    tf.no_op(name="v/Assign")                               # Assign_1
    tf.Variable(a32, name="v/Assign")                       # a scope over an op's name
    tf.train.Saver(var_list=tf.global_variables())


def _meta_bytes(build: Callable[[], None]) -> tuple[bytes, bytes, list[tuple[str, int]]]:
    """The GraphDef and MetaGraphDef ``build`` makes, and the names it used (later names depend
    on them)."""
    g = tf.Graph()
    with g.as_default():
        build()
        meta = tf.train.export_meta_graph()
        names = sorted(g._names_in_use.items())
    return (g.as_graph_def(add_shapes=True).SerializeToString(deterministic=True),
            meta.SerializeToString(deterministic=True), names)


def _general_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_variables.RefVariable, "_build_from_array", lambda *args: False)


def _forget_plans() -> None:
    """Drop every plan (apply_op's, the variable and Saver shortcuts'): a build then works
    its attrs out anew, so a shortcut that changed a shared dict cannot hide it."""
    import tensorkeep.graph.saver as saver_mod

    for info in list(op_def_library._INFO.values()):
        info.plans.clear()
    _variables._FROM_ARRAY_PLANS.clear()
    saver_mod._ASSIGN_PLANS.clear()


def test_variables_from_arrays_built_directly_equal_the_general_graph(
        monkeypatch: pytest.MonkeyPatch) -> None:
    taken: list[str] = []
    real = _variables.RefVariable._build_from_array

    def counting(self, graph, scope, value):  # type: ignore[no-untyped-def]
        took = real(self, graph, scope, value)
        if took:
            taken.append(scope)
        return took

    _forget_plans()
    with monkeypatch.context() as general_path:
        _general_variables(general_path)
        general = _meta_bytes(_array_variables)
    monkeypatch.setattr(_variables.RefVariable, "_build_from_array", counting)
    _forget_plans()
    first = _meta_bytes(_array_variables)                 # plans worked out as they go
    again = _meta_bytes(_array_variables)                 # every plan seen before
    assert taken == 2 * ["v/", "v_1/", "V_2/", "Variable/", "outer/", "outer_1/w/", "w_1/",
                         "in_deps/", "v/Assign_2/"]
    assert first == general
    assert again == general


def _underscore_in_scope() -> None:
    with tf.name_scope("a"):
        tf.Variable(np.zeros(2, np.float32), name="_x/")


@pytest.mark.parametrize("build", [
    lambda: (tf.no_op(name="x/initial_value/"), tf.Variable(np.zeros(2, np.float32), name="x")),
    lambda: (tf.no_op(name="x/"), tf.Variable(np.zeros(2, np.float32), name="x/")),
    lambda: tf.Variable(np.zeros(2, np.float32), name="_x"),
    _underscore_in_scope,
    lambda: (tf.get_default_graph().finalize(), tf.Variable(np.zeros(2, np.float32), name="x")),
])
def test_variables_from_arrays_are_named_and_refused_as_by_the_general_path(
        build: Callable[[], object], monkeypatch: pytest.MonkeyPatch) -> None:
    def outcome() -> tuple[str, str, list[str], list[str]]:
        g = tf.Graph()
        error = ("", "")
        with g.as_default():
            try:
                build()
            except Exception as exc:  # noqa: BLE001 - the error is what is compared
                error = (type(exc).__name__, str(exc))
        return (*error, sorted(g._names_in_use), [op.name for op in g.get_operations()])

    direct = outcome()
    _general_variables(monkeypatch)
    assert direct == outcome()


# --- a Saver's restore Assigns, created directly ---------------------------------------
def _savers_over_mixed_variables() -> None:
    """Savers whose restore Assigns the direct path creates, among ones it leaves to the
    general path (resource variables, partitions, reshape, scopes that add to nodes)."""
    rng = np.random.default_rng(3)
    vs = {f"v{i}": tf.Variable(rng.standard_normal((2, 3)).astype(np.float32), name=f"v{i}")
          for i in range(3)}
    vs["r"] = tf.Variable(np.ones(4, np.float64), name="r", use_resource=True)
    vs["unknown"] = tf.Variable(np.zeros(3, np.int64), name="unknown", validate_shape=False)
    with tf.device("/cpu:0"):
        vs["on_cpu"] = tf.Variable(np.zeros(2, np.float32), name="on_cpu")
    parts = []
    for k in range(2):
        part = tf.Variable(np.zeros((1, 3), np.float32), name=f"big/part_{k}")
        part._set_save_slice_info(_variables.SaveSliceInfo("big", [2, 3], [k, 0], [1, 3]))
        parts.append(part)
    tf.train.Saver(var_list=vs)
    tf.train.Saver(var_list=list(vs.values()) + parts, name="listed")
    tf.train.Saver(var_list=vs, sharded=True, name="sharded")
    tf.train.Saver(var_list=vs, reshape=True, name="reshaped")
    with tf.name_scope("outer"), tf.device("/job:w/task:0"):
        tf.train.Saver(var_list=vs)
    with tf.control_dependencies([vs["v0"].initializer]):
        tf.train.Saver(var_list=vs, name="after_init")
    with tf.colocate_with(vs["v1"].op):
        tf.train.Saver(var_list=vs, name="colocated")


def test_savers_restore_assigns_built_directly_equal_the_general_graph(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import tensorkeep.graph.saver as saver_mod

    made: list[str] = []
    real = saver_mod._direct_assign

    def counting(graph, var, value):  # type: ignore[no-untyped-def]
        op = real(graph, var, value)
        made.append(op.name)
        return op

    _forget_plans()
    with monkeypatch.context() as general_path:
        general_path.setattr(saver_mod, "_assigns_directly", lambda graph: False)
        general = _meta_bytes(_savers_over_mixed_variables)
    monkeypatch.setattr(saver_mod, "_direct_assign", counting)
    _forget_plans()
    direct = _meta_bytes(_savers_over_mixed_variables)
    # the five whole reference variables (key order: [big,] on_cpu, r, unknown, v0, v1, v2;
    # big's two slices take Assign and Assign_1) in the Savers whose scopes add nothing to
    # a colocated node (a device does not)
    whole = ["", "_1", "_2", "_3", "_4"]
    assert made == [f"{saver}/Assign{suffix}" for saver, suffixes in (
        ("save", whole), ("listed", ["_2", "_3", "_4", "_5", "_6"]), ("sharded", whole),
        ("outer/save", whole)) for suffix in suffixes]
    assert direct == general


# --- a Saver over whole reference variables, built without saveables -------------------
def _savers_over_whole_variables() -> None:
    """Savers the saveable-free path builds (dict, list, every global variable, V1,
    sequential restores) among ones it leaves (a resource variable, sharded, reshape, a
    control-dependency scope, a builder subclass)."""
    rng = np.random.default_rng(4)
    vs = {f"w{i}": tf.Variable(rng.standard_normal((2, 2)).astype(np.float32), name=f"w{i}")
          for i in range(3)}
    vs["i"] = tf.Variable(np.arange(3, dtype=np.int64), name="i")
    tf.train.Saver(var_list=vs)
    tf.train.Saver(var_list={"renamed/" + k: v for k, v in vs.items()}, name="by_key")
    tf.train.Saver(var_list=list(vs.values())[::-1], name="listed")
    tf.train.Saver(name="all")
    tf.train.Saver(var_list=vs, write_version=tf.train.SaverDef.V1, name="v1")
    tf.train.Saver(var_list=vs, restore_sequentially=True, name="seq")
    tf.train.Saver(var_list=dict(vs, r=tf.Variable(np.ones(2), name="r", use_resource=True)),
                   name="with_resource")
    tf.train.Saver(var_list=vs, sharded=True, name="sharded")
    tf.train.Saver(var_list=vs, reshape=True, name="reshaped")
    with tf.control_dependencies([vs["w0"].initializer]):
        tf.train.Saver(var_list=vs, name="after_init")

    class Builder(tf.train.BulkSaverBuilder):
        pass

    tf.train.Saver(var_list=vs, builder=Builder(), name="subclassed")


def test_savers_of_whole_variables_built_without_saveables_equal_the_general_graph(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import tensorkeep.graph.saver as saver_mod

    _forget_plans()
    with monkeypatch.context() as general_path:
        general_path.setattr(saver_mod, "_whole_reference_variables", lambda *args: None)
        general = _meta_bytes(_savers_over_whole_variables)
    built: list[str] = []
    real = saver_mod.BulkSaverBuilder._add_whole_variable_ops

    def recording(self, filename_tensor, names, refs):  # type: ignore[no-untyped-def]
        save, restore = real(self, filename_tensor, names, refs)
        built.append(restore.name)
        return save, restore

    monkeypatch.setattr(saver_mod.BulkSaverBuilder, "_add_whole_variable_ops", recording)
    _forget_plans()
    direct = _meta_bytes(_savers_over_whole_variables)
    assert built == [f"{scope}/restore_all" for scope in ("save", "by_key", "listed", "all", "v1", "seq")]
    assert direct == general


@pytest.mark.parametrize("var_list", [
    lambda vs: {"a": vs[0], "b": vs[0]},                 # one variable under two names
    lambda vs: {"a": vs[0], 1: vs[1]},                    # a key that is not a string
    lambda vs: [vs[0], vs[0]],                            # listed twice
    lambda vs: {"a": vs[0], "b": vs[2]},                  # another graph's variable
])
def test_savers_refuse_as_the_general_path_does(
        var_list: Callable[[list[object]], object], monkeypatch: pytest.MonkeyPatch) -> None:
    import tensorkeep.graph.saver as saver_mod

    def outcome() -> tuple[str, str, list[str]]:
        other = tf.Graph()
        with other.as_default():
            stranger = tf.Variable(np.zeros(2, np.float32), name="c")
        g = tf.Graph()
        with g.as_default():
            vs = [tf.Variable(np.zeros(2, np.float32), name=n) for n in "ab"] + [stranger]
            try:
                tf.train.Saver(var_list=var_list(vs))
                error = ("", "")
            except Exception as exc:  # noqa: BLE001 - the error is what is compared
                error = (type(exc).__name__, str(exc))
        return (*error, [op.name for op in g.get_operations()])

    direct = outcome()
    monkeypatch.setattr(saver_mod, "_whole_reference_variables", lambda *args: None)
    assert direct == outcome()


# --- outputs made when first asked for ----------------------------------------------
def test_initializer_and_restore_assign_outputs_are_made_when_first_asked_for(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A variable's initializer and a Saver's restore Assigns are run for their effect:
    their output Tensor is made on first use, and is then the tensor the general path
    makes (name, dtype, shape), the same object on every access, fetchable by name and
    runnable."""
    import tensorkeep.graph.saver as saver_mod

    def build() -> tuple[tf.Graph, list[object]]:
        g = tf.Graph()
        with g.as_default():
            v = tf.Variable(np.arange(6, dtype=np.float32).reshape(2, 3), name="v")
            w = tf.Variable(np.zeros(4, np.int64), name="w")
            saver = tf.train.Saver(var_list=[v, w])
        assigns = [v.initializer, w.initializer,
                   g.get_operation_by_name("save/Assign"), g.get_operation_by_name("save/Assign_1")]
        return g, assigns

    g, lazy = build()
    assert all("_outputs" not in vars(op) for op in lazy)       # not made yet
    outs = [op.outputs[0] for op in lazy]
    assert [op.outputs[0] for op in lazy] == outs                # the same objects again
    assert all(g.get_tensor_by_name(t.name) is t for t in outs)
    with monkeypatch.context() as general_path:
        general_path.setattr(_variables.RefVariable, "_build_from_array", lambda *args: False)
        general_path.setattr(saver_mod, "_assigns_directly", lambda graph: False)
        _, eager = build()
    assert all("_outputs" in vars(op) for op in eager)
    described = [(t.name, t.dtype, t.shape.as_list() if t.shape.ndims is not None else None)
                 for t in outs]
    assert described == [(t.name, t.dtype, t.shape.as_list() if t.shape.ndims is not None else None)
                         for t in (op.outputs[0] for op in eager)]
    assert described[:2] == [("v/Assign:0", tf.float32._as_ref, [2, 3]), ("w/Assign:0", tf.int64._as_ref, [4])]
    with tf.Session(graph=g) as sess:
        np.testing.assert_array_equal(sess.run(outs[0]), np.arange(6).reshape(2, 3))
    with pytest.raises(AttributeError, match="no attribute '_no_such'"):
        lazy[0]._no_such


@pytest.mark.parametrize("enabled", [True, False])
def test_a_saver_build_leaves_the_garbage_collector_as_it_found_it(enabled: bool) -> None:
    import gc

    import tensorkeep.graph.saver as saver_mod

    seen: list[bool] = []
    real = saver_mod.BulkSaverBuilder._whole_variable_ops

    def recording(self, *args):  # type: ignore[no-untyped-def]
        seen.append(gc.isenabled())
        return real(self, *args)

    was = gc.isenabled()
    try:
        (gc.enable if enabled else gc.disable)()
        g = tf.Graph()
        with g.as_default(), pytest.MonkeyPatch.context() as mp:
            v = tf.Variable(np.zeros(2, np.float32), name="v")
            mp.setattr(saver_mod.BulkSaverBuilder, "_whole_variable_ops", recording)
            tf.train.Saver(var_list=[v])
            assert seen == [False] and gc.isenabled() is enabled
            mp.setattr(saver_mod.BulkSaverBuilder, "_save_op",
                       lambda *args: (_ for _ in ()).throw(RuntimeError("boom")))
            with pytest.raises(RuntimeError, match="boom"):
                tf.train.Saver(var_list=[v], name="failing")
            assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()
