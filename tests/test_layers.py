"""Imports point downward only: format -> io -> bundle -> checkpoint -> graph -> facade.

Parses every module's imports (without importing it) and checks that no module
imports a layer above its own. ``errors``, ``dtypes`` and ``proto`` sit below all.
"""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parent.parent / "tensorkeep"

# rank: a module may import tensorkeep modules of equal or lower rank only.
RANKS = {
    "errors": 0, "dtypes": 0, "proto": 0,
    "format": 1,
    "io": 2,
    "bundle": 3,
    "checkpoint": 4,
    "graph": 5,
    # the top: facade, adapters, command line
    "train": 6, "compat": 6, "adapters": 6, "cli": 6, "api": 6, "__init__": 6, "__main__": 6,
    "nn": 6, "initializers": 6, "manager": 6,
}


def _layer(module: str) -> str:
    parts = module.split(".")
    if parts[0] != "tensorkeep":
        raise ValueError(module)
    if len(parts) == 1:
        return "__init__"
    return parts[1]


def _module_name(path: Path) -> str:
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts = parts[:-1] if len(parts) > 2 else parts
    return ".".join(parts)


def _imports(path: Path, module: str) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    pkg_parts = module.split(".")
    if path.name != "__init__.py":
        pkg_parts = pkg_parts[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.startswith("tensorkeep")]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg_parts[: len(pkg_parts) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            if name.startswith("tensorkeep"):
                if name == "tensorkeep":
                    found += [f"tensorkeep.{a.name}" for a in node.names]
                else:
                    found.append(name)
    return found


def test_imports_point_downward() -> None:
    bad = []
    for path in sorted(PKG.rglob("*.py")):
        if "proto" in path.parts and path.name.endswith("_pb2.py"):
            continue
        module = _module_name(path)
        own = RANKS.get(_layer(module) if module != "tensorkeep" else "__init__")
        assert own is not None, f"{path}: layer {_layer(module)!r} has no rank in RANKS"
        for target in _imports(path, module):
            layer = _layer(target)
            rank = RANKS.get(layer)
            if rank is None:  # a module directly under tensorkeep, e.g. tensorkeep.foo
                continue
            if rank > own:
                bad.append(f"{module} (layer {own}) imports {target} (layer {rank})")
    assert not bad, "upward imports:\n" + "\n".join(bad)


def test_no_pickle_eval_exec() -> None:
    """Nothing in the package can execute data: no pickle, eval or exec."""
    offenders = []
    for path in sorted(PKG.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] + ([node.module] if isinstance(node, ast.ImportFrom) and node.module else [])
                if any(n and n.split(".")[0] in ("pickle", "cPickle", "dill", "marshal", "shelve") for n in names):
                    offenders.append(f"{path}:{node.lineno} imports pickle-like module")
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("eval", "exec"):
                offenders.append(f"{path}:{node.lineno} calls {node.func.id}")
            if isinstance(node, ast.keyword) and node.arg == "allow_pickle" and not (
                    isinstance(node.value, ast.Constant) and node.value.value is False):
                offenders.append(f"{path}:{node.lineno} allow_pickle not False")
    assert not offenders, "\n".join(offenders)
