"""``tf.compat``: ``compat.v1`` is tensorkeep itself; the v2-behaviour switches are no-ops.

tensorkeep always behaves as TF1 graph mode with reference variables, which is
what ``tf.compat.v1.disable_v2_behavior()`` asks TensorFlow for, so these
switches have nothing to do. ``enable_eager_execution`` cannot be honoured and
says so. Also here: TF1 config/run-option protos as plain attribute bags
(accepted, and ignored, by ``Session``).
"""

from __future__ import annotations

from typing import Any

import tensorkeep as v1  # noqa: F401  (tf.compat.v1)


def disable_v2_behavior() -> None:
    """No-op: tensorkeep is TF1 graph mode already."""


def enable_v2_behavior() -> None:
    """No-op: tensorkeep has no TF2 (eager) mode."""


def disable_eager_execution() -> None:
    """No-op: tensorkeep never executes eagerly."""


def enable_eager_execution(*args: Any, **kwargs: Any) -> None:
    raise NotImplementedError("tensorkeep runs TF1 graphs only; eager execution is not available")


def executing_eagerly() -> bool:
    return False


def disable_resource_variables() -> None:
    """No-op: ``tf.Variable`` makes reference variables unless ``use_resource=True``."""


def enable_resource_variables() -> None:
    """No-op (see :func:`disable_resource_variables`)."""


def as_bytes(value: Any, encoding: str = "utf-8") -> bytes:
    return value.encode(encoding) if isinstance(value, str) else bytes(value)


def as_text(value: Any, encoding: str = "utf-8") -> str:
    return value.decode(encoding) if isinstance(value, (bytes, bytearray)) else str(value)


as_str = as_text


class _Options:
    """An attribute bag standing in for a TF1 config proto (ignored by tensorkeep)."""

    def __init__(self, **kwargs: Any) -> None:
        self.__dict__.update(kwargs)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        value = _Options()
        setattr(self, name, value)
        return value

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.__dict__.items())})"


class ConfigProto(_Options):
    pass


class GPUOptions(_Options):
    pass


class RunOptions(_Options):
    FULL_TRACE = 3
    SOFTWARE_TRACE = 1
    HARDWARE_TRACE = 2
    NO_TRACE = 0


class RunMetadata(_Options):
    pass
