"""``Session``: runs the part of a graph that fetches need, with numpy kernels.

``run(fetches, feed_dict)`` accepts TF1's fetch structures (a tensor, op,
variable or name string; lists, tuples, namedtuples and dicts of them, nested)
and returns the same structure with numpy values (None for operations). Only
the ops the fetches depend on (through data and control inputs, stopping at fed
tensors) run, each once, in dependency order. A session owns the values of
variables and resources, so two sessions on one graph are independent.
"""

from __future__ import annotations

import contextlib
from typing import Any, Iterator

import numpy as np

from tensorkeep import dtypes as _dt
from tensorkeep import errors
from tensorkeep.graph import kernels as _kernels
from tensorkeep.graph import ops as _ops
from tensorkeep.graph.kernels import Ref, ResourceHandle


class _State:
    """Per-session mutable state: ref-variable buffers, resources, random generators."""

    def __init__(self) -> None:
        self.variables: dict[str, np.ndarray] = {}
        self.resources: dict[tuple[str, str], np.ndarray] = {}
        self.random: dict[Any, np.random.Generator] = {}


# --- fetch structures -------------------------------------------------------------------
def _is_namedtuple(x: Any) -> bool:
    return isinstance(x, tuple) and hasattr(x, "_fields")


class _FetchPlan:
    """Flattens a nested fetch structure to graph elements and rebuilds it from values."""

    def __init__(self, graph: _ops.Graph, fetches: Any) -> None:
        self.graph = graph
        self.elements: list[Any] = []
        self._index: dict[int, int] = {}
        self.structure = self._flatten(fetches)

    def _add(self, element: Any) -> int:
        key = id(element)
        if key not in self._index:
            self._index[key] = len(self.elements)
            self.elements.append(element)
        return self._index[key]

    def _flatten(self, fetch: Any) -> Any:
        if fetch is None:
            raise TypeError(f"Fetch argument None has invalid type {type(None)}")
        if isinstance(fetch, dict):
            return ("dict", type(fetch), [(k, self._flatten(v)) for k, v in fetch.items()])
        if _is_namedtuple(fetch):
            return ("namedtuple", type(fetch), [self._flatten(v) for v in fetch])
        if isinstance(fetch, (list, tuple)):
            return ("seq", type(fetch), [self._flatten(v) for v in fetch])
        try:
            element = self.graph.as_graph_element(fetch, allow_tensor=True, allow_operation=True)
        except TypeError as exc:
            raise TypeError(f"Fetch argument {fetch!r} has invalid type {type(fetch)}, must be a string "
                            f"or Tensor. ({exc})") from None
        except (KeyError, ValueError) as exc:
            raise ValueError(f"Fetch argument {fetch!r} cannot be interpreted as a Tensor. ({exc})") from None
        return ("leaf", self._add(element))

    def rebuild(self, values: list[Any], node: Any = None) -> Any:
        node = self.structure if node is None else node
        kind = node[0]
        if kind == "leaf":
            return values[node[1]]
        if kind == "dict":
            items = [(k, self.rebuild(values, v)) for k, v in node[2]]
            try:
                return node[1](items)
            except TypeError:
                return dict(items)
        if kind == "namedtuple":
            return node[1](*[self.rebuild(values, v) for v in node[2]])
        seq = [self.rebuild(values, v) for v in node[2]]
        return seq if node[1] is list else (tuple(seq) if node[1] is tuple else node[1](seq))


# --- the session ------------------------------------------------------------------------
class Session:
    """TF1 ``tf.Session(target='', graph=None, config=None)``."""

    def __init__(self, target: str = "", graph: _ops.Graph | None = None, config: Any = None) -> None:
        self._graph = graph if graph is not None else _ops.get_default_graph()
        self._target = target
        self._config = config
        self._closed = False
        self._state = _State()
        self._default_cm: Any = None

    @property
    def graph(self) -> _ops.Graph:
        return self._graph

    @property
    def graph_def(self) -> Any:
        return self._graph.as_graph_def()

    @property
    def sess_str(self) -> str:
        return self._target

    def close(self) -> None:
        self._closed = True
        self._state = _State()

    def as_default(self) -> Any:
        return _default_session(self)

    def __enter__(self) -> "Session":
        self._default_cm = _default_session(self)
        self._default_cm.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        cm, self._default_cm = self._default_cm, None
        if cm is not None:
            cm.__exit__(*exc)
        self.close()

    def __del__(self) -> None:
        pass

    def list_devices(self) -> list[Any]:
        return []

    # --- run --------------------------------------------------------------------------
    def run(self, fetches: Any, feed_dict: Any = None, options: Any = None,
            run_metadata: Any = None) -> Any:
        if self._closed:
            raise RuntimeError("Attempted to use a closed Session.")
        plan = _FetchPlan(self._graph, fetches)
        feeds = self._process_feeds(feed_dict or {})
        values = self._execute(plan.elements, feeds)
        return plan.rebuild(values)

    def partial_run_setup(self, *args: Any, **kwargs: Any) -> Any:
        raise errors.UnimplementedError("partial_run is not supported by tensorkeep")

    def make_callable(self, fetches: Any, feed_list: Any = None, accept_options: bool = False) -> Any:
        feed_list = list(feed_list or [])

        def call(*feed_args: Any, **kwargs: Any) -> Any:
            return self.run(fetches, dict(zip(feed_list, feed_args)))
        return call

    def _process_feeds(self, feed_dict: Any) -> dict[_ops.Tensor, Any]:
        feeds: dict[_ops.Tensor, Any] = {}
        for key, value in feed_dict.items():
            if not isinstance(key, (_ops.Tensor, _ops.Operation)) and hasattr(key, "_as_graph_element"):
                from tensorkeep.graph.variables import RefVariable
                key = key._variable if isinstance(key, RefVariable) else key._as_graph_element()
            try:
                tensor = self._graph.as_graph_element(key, allow_tensor=True, allow_operation=False)
            except (TypeError, ValueError, KeyError) as exc:
                raise TypeError(f"Cannot interpret feed_dict key as Tensor: {exc}") from None
            if isinstance(value, _ops.Tensor):
                raise TypeError("The value of a feed cannot be a tf.Tensor object. Acceptable feed values "
                                "include Python scalars, strings, lists, numpy ndarrays, or TensorHandles.")
            dt = tensor.dtype.base_dtype if tensor.dtype is not None else None
            if dt is _dt.string:
                from tensorkeep.graph.tensor_util import to_numpy
                arr = to_numpy(value, _dt.string)
            elif dt is not None and dt.numpy is not None:
                src = np.asarray(value)
                if dt.is_integer and src.dtype.kind == "f" and not np.all(np.mod(src, 1) == 0):
                    raise ValueError(f"invalid literal for int: {value!r}")
                arr = src.astype(dt.numpy)
            else:
                arr = value
            shape = tensor.shape
            if isinstance(arr, np.ndarray) and not shape.is_compatible_with(arr.shape):
                raise ValueError(f"Cannot feed value of shape {arr.shape!r} for Tensor {tensor.name}, "
                                 f"which has shape {shape}")
            feeds[tensor] = arr
        return feeds

    def _execute(self, elements: list[Any], feeds: dict[_ops.Tensor, Any]) -> list[Any]:
        order = _plan(elements, feeds)
        computed: dict[_ops.Tensor, Any] = dict(feeds)
        for op in order:
            fn = _kernels.get(op.type)
            if fn is None:
                raise errors.NotFoundError(
                    None, op, f"No kernel registered for op type '{op.type}' (node {op.name}); "
                    f"tensorkeep cannot run this op.")
            ref_mask = _ref_inputs(op)
            ctx = _kernels.OpContext(op, self._state)
            try:
                args = []
                for i, t in enumerate(op._inputs):
                    v = computed[t]
                    if isinstance(v, Ref) and not ref_mask[i]:
                        v = v.get(op.name)
                    args.append(v)
                result = fn(ctx, *args)
            except errors.OpError as exc:
                raise _graph_execution_error(exc, op) from exc
            except (ValueError, TypeError, IndexError, ArithmeticError) as exc:
                raise _graph_execution_error(errors.InvalidArgumentError(None, op, str(exc)), op) from exc
            outs = op._outputs
            if len(outs) == 1 and op.type not in _kernels.LIST_OUTPUT:
                result = [result]
            elif not outs:
                result = []
            for t, v in zip(outs, result):
                computed[t] = _coerce(t, v)
        results = []
        for element in elements:
            if isinstance(element, _ops.Operation):
                results.append(None)
                continue
            v = computed[element]
            if isinstance(v, Ref):
                try:
                    v = v.get(f"_retval_{element.op.name}_{element.value_index}_0")
                except errors.OpError as exc:
                    raise _graph_execution_error(exc, element.op, fetch=True) from None
            results.append(_fetch_value(v))
        return results


# TF 2.x prefixes every error raised while running a graph (observed on TF 2.21).
_PREFIX = "Graph execution error:\n\n"


def _graph_execution_error(exc: errors.OpError, op: _ops.Operation, fetch: bool = False) -> errors.OpError:
    """TF 2.21's wording: prefix, the node it was detected at (TF also lists the Python frames
    that created the node, which tensorkeep does not record), the core message, the node tag."""
    message = exc.message
    if message.startswith(_PREFIX):
        return exc
    if "[[{{node" not in message:
        message += f"\n\t [[{{{{node {op.name}}}}}]]"
    if not fetch:
        message = (f"Detected at node '{op.name}' defined at (most recent call last):\n"
                   f"Node: '{op.name}'\n" + message)
    message = _PREFIX + message
    out = type(exc)(exc.node_def, exc.op if exc.op is not None else op, message,
                    filename=exc.filename, key=exc.key, offset=exc.offset)
    return out


def _coerce(tensor: _ops.Tensor, value: Any) -> Any:
    if isinstance(value, (Ref, ResourceHandle)) or value is None:
        return value
    dt = tensor.dtype
    if dt is None:
        return value
    base = dt.base_dtype
    if base is _dt.string:
        arr = np.asarray(value, dtype=object)
        return arr
    if base.numpy is None:
        return value
    arr = np.asarray(value)
    if arr.dtype != base.numpy:
        with np.errstate(all="ignore"):
            arr = arr.astype(base.numpy)
    return arr


def _fetch_value(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        value = np.array(value, copy=True)
        if value.ndim == 0:
            return value[()]
        return value
    return value


def _ref_inputs(op: _ops.Operation) -> list[bool]:
    cached = op._ref_mask
    if cached is not None and len(cached) == len(op._inputs):
        return cached
    mask: list[bool] = []
    op_def = op.op_def
    if op_def is not None:
        for arg in op_def.input_arg:
            if arg.number_attr:
                n = op._attrs[arg.number_attr].i if arg.number_attr in op._attrs else 0
            elif arg.type_list_attr:
                n = len(op._attrs[arg.type_list_attr].list.type) if arg.type_list_attr in op._attrs else 0
            else:
                n = 1
            mask.extend([arg.is_ref] * n)
    mask = (mask + [False] * len(op._inputs))[: len(op._inputs)]
    op._ref_mask = mask
    return mask


def _plan(elements: list[Any], feeds: dict[_ops.Tensor, Any]) -> list[_ops.Operation]:
    """Ops needed for ``elements`` in dependency order (iterative post-order DFS)."""
    order: list[_ops.Operation] = []
    state: dict[int, int] = {}  # 1 = on stack, 2 = done
    roots: list[_ops.Operation] = []
    for e in elements:
        if isinstance(e, _ops.Operation):
            roots.append(e)
        elif e not in feeds:
            roots.append(e.op)
    for root in roots:
        if state.get(id(root)) == 2:
            continue
        stack: list[tuple[_ops.Operation, bool]] = [(root, False)]
        while stack:
            op, expanded = stack.pop()
            if expanded:
                state[id(op)] = 2
                order.append(op)
                continue
            s = state.get(id(op))
            if s == 2:
                continue
            if s == 1:
                continue  # already scheduled lower in the stack
            state[id(op)] = 1
            stack.append((op, True))
            deps = [c for c in op._control_inputs]
            deps += [t.op for t in op._inputs if t not in feeds]
            for dep in reversed(deps):
                ds = state.get(id(dep))
                if ds == 2:
                    continue
                if ds == 1:
                    if _on_path(stack, dep):
                        raise errors.InvalidArgumentError(
                            None, op, f"Graph has a cycle through node {dep.name}; tensorkeep runs "
                            f"only acyclic graphs")
                    continue
                stack.append((dep, False))
    return order


def _on_path(stack: list[tuple[_ops.Operation, bool]], op: _ops.Operation) -> bool:
    return any(o is op and expanded for o, expanded in stack)


# --- default session ------------------------------------------------------------------------
_default_session_stack: list[Session] = []


@contextlib.contextmanager
def _default_session(session: Session) -> Iterator[Session]:
    _default_session_stack.append(session)
    try:
        with session.graph.as_default():
            yield session
    finally:
        if _default_session_stack and _default_session_stack[-1] is session:
            _default_session_stack.pop()
        elif session in _default_session_stack:
            _default_session_stack.remove(session)


def get_default_session() -> Session | None:
    return _default_session_stack[-1] if _default_session_stack else None


class InteractiveSession(Session):
    """A session that installs itself as the default session until closed."""

    def __init__(self, target: str = "", graph: _ops.Graph | None = None, config: Any = None) -> None:
        super().__init__(target, graph, config)
        self._interactive_cm: Any = _default_session(self)
        self._interactive_cm.__enter__()

    def close(self) -> None:
        cm, self._interactive_cm = getattr(self, "_interactive_cm", None), None
        if cm is not None:
            cm.__exit__(None, None, None)
        super().close()


def _eval_using_default_session(tensor: Any, feed_dict: Any, graph: _ops.Graph,
                                session: Session | None = None) -> Any:
    if session is None:
        session = get_default_session()
        if session is None:
            raise ValueError("Cannot evaluate tensor using `eval()`: No default session is registered. "
                             "Use `with sess.as_default()` or pass an explicit session to "
                             "`eval(session=sess)`")
        if session.graph is not graph:
            raise ValueError("Cannot use the default session to evaluate tensor: the tensor's graph is "
                             "different from the session's graph. Pass an explicit session to "
                             "`eval(session=sess)`.")
    elif session.graph is not graph:
        raise ValueError("Cannot use the given session to evaluate tensor: the tensor's graph is "
                         "different from the session's graph.")
    return session.run(tensor, feed_dict)


def _run_using_default_session(operation: Any, feed_dict: Any, graph: _ops.Graph,
                               session: Session | None = None) -> None:
    if session is None:
        session = get_default_session()
        if session is None:
            raise ValueError("Cannot execute operation using `run()`: No default session is registered. "
                             "Use `with sess.as_default():` or pass an explicit session to "
                             "`run(session=sess)`")
        if session.graph is not graph:
            raise ValueError("Cannot use the default session to execute operation: the operation's graph "
                             "is different from the session's graph. Pass an explicit session to "
                             "run(session=sess).")
    session.run(operation, feed_dict)
