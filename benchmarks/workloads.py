"""Deterministic benchmark workloads (shared by ``run.py`` and ``worker.py``).

Data is generated cheaply and deterministically (arange-based patterns, no RNG
state to keep in sync): content does not matter for I/O, since nothing is
compressed, but every tensor holds different values so a wrong read shows.

* W1: 16 float32 tensors of 4096x4096 (1 GiB); quick: 16 of 512x512 (16 MiB)
* W2: 10,000 float32 tensors of 256 elements; quick: 1,000
* W3: 64 tensors cycling float16, bfloat16, float32, int64, bool, string
  (numeric 512x512, strings 4,096 elements of 0..63 bytes); quick: 128x128 / 256
* S<size>: 16 float32 tensors totalling <size> (GB/s flatness)
* N<count>: <count> float32 tensors of 256 elements (per-tensor cost linearity)
"""

from __future__ import annotations

import numpy as np

W3_KINDS = ("float16", "bfloat16", "float32", "int64", "bool", "string")


def _bf16() -> np.dtype:
    import ml_dtypes

    return np.dtype(ml_dtypes.bfloat16)


def _numeric(i: int, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    n = int(np.prod(shape))
    base = np.arange(n, dtype=np.float32)
    base *= np.float32(1.0 / 1024)
    base += np.float32(i)
    if dtype.kind == "b":
        return ((np.arange(n) + i) % 3 == 0).reshape(shape)
    if dtype.kind in "iu":
        return (np.arange(n, dtype=np.int64) * (i + 1)).astype(dtype).reshape(shape)
    return base.astype(dtype, copy=False).reshape(shape)


def _strings(i: int, n: int) -> np.ndarray:
    out = np.empty(n, dtype=object)
    for j in range(n):
        out[j] = (b"%d:%d;" % (i, j)) * ((i + j) % 8)
    return out


def spec(workload: str, quick: bool = False) -> list[tuple[str, str, tuple[int, ...]]]:
    """(name, dtype name, shape) of every tensor of ``workload``."""
    if workload == "W1":
        side = 512 if quick else 4096
        return [(f"layer_{i:02d}/kernel", "float32", (side, side)) for i in range(16)]
    if workload == "W2":
        count = 1000 if quick else 10000
        return [(f"var_{i:05d}", "float32", (256,)) for i in range(count)]
    if workload == "W3":
        side, nstr = (128, 256) if quick else (512, 4096)
        out = []
        for i in range(64):
            kind = W3_KINDS[i % len(W3_KINDS)]
            shape = (nstr,) if kind == "string" else (side, side)
            out.append((f"mixed_{i:02d}_{kind}", kind, shape))
        return out
    if workload.startswith("S"):
        total = parse_size(workload[1:])
        per = total // 16 // 4
        return [(f"t_{i:02d}", "float32", (per,)) for i in range(16)]
    if workload.startswith("N"):
        count = int(workload[1:].replace("k", "000"))
        return [(f"var_{i:06d}", "float32", (256,)) for i in range(count)]
    raise ValueError(f"unknown workload {workload}")


def parse_size(text: str) -> int:
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    if text[-1] in units:
        return int(text[:-1]) * units[text[-1]]
    return int(text)


def make(workload: str, quick: bool = False) -> dict[str, np.ndarray]:
    """The workload's tensors (name -> numpy array), always the same values."""
    out: dict[str, np.ndarray] = {}
    for i, (name, kind, shape) in enumerate(spec(workload, quick)):
        if kind == "string":
            out[name] = _strings(i, shape[0])
        else:
            dt = _bf16() if kind == "bfloat16" else np.dtype(kind)
            out[name] = _numeric(i, shape, dt)
    return out


def expected(workload: str, quick: bool = False) -> tuple[dict[str, tuple], dict[str, np.ndarray], int]:
    """What a restore of ``workload`` must give, without holding the workload: the
    fingerprint of every tensor (generated one at a time), an empty array of each
    tensor's shape and dtype (a template; no memory is touched), and the byte count."""
    prints: dict[str, tuple] = {}
    templates: dict[str, np.ndarray] = {}
    total = 0
    for i, (name, kind, shape) in enumerate(spec(workload, quick)):
        if kind == "string":
            value = _strings(i, shape[0])
        else:
            value = _numeric(i, shape, numpy_dtype(kind))
        prints[name] = fingerprint(value)
        total += nbytes({name: value})
        templates[name] = np.empty(value.shape, value.dtype)
        del value
    return prints, templates, total


def numpy_dtype(kind: str) -> np.dtype:
    if kind == "string":
        return np.dtype(object)
    return _bf16() if kind == "bfloat16" else np.dtype(kind)


def nbytes(tensors: dict[str, np.ndarray]) -> int:
    total = 0
    for a in tensors.values():
        if a.dtype == object:
            total += sum(len(x) for x in a.reshape(-1))
        else:
            total += a.nbytes
    return total


def fingerprint(value: np.ndarray) -> tuple:
    """A cheap check that a restored tensor holds the right values."""
    a = np.asarray(value)
    flat = a.reshape(-1)
    if flat.size == 0:
        return (a.shape,)
    if a.dtype == object:
        return (a.shape, bytes(flat[0]), bytes(flat[-1]), bytes(flat[flat.size // 2]))
    return (a.shape, flat[:1].tobytes(), flat[-1:].tobytes(), flat[flat.size // 2:flat.size // 2 + 1].tobytes())
