"""The ``tensorkeep`` command: inspect, ls, diff, convert and verify checkpoints.

Every command reads TensorFlow checkpoints (a prefix, or a directory: its
latest checkpoint); inspect, diff and convert also read ``.safetensors``,
``.npz`` and PyTorch weights-only files. Errors are one line on stderr,
``tensorkeep: error: ...``, with exit status 1.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import sys
from collections.abc import Mapping, Sequence
from typing import Any, NoReturn

import numpy as np

from tensorkeep import errors
from tensorkeep.cli import formats
from tensorkeep.cli.progress import Progress, human

EXIT_OK, EXIT_ERROR, EXIT_DIFFERENT = 0, 1, 2


class UsageError(Exception):
    """Bad command-line input (exit status 1)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"tensorkeep: error: {message} (see '{self.prog} --help')\n")
        sys.exit(EXIT_ERROR)


# ---------------------------------------------------------------- tensor facts


def _count(n: int, noun: str) -> str:
    """'1 tensor', '2 tensors', '10,000 elements'."""
    return f"{n:,} {noun}" + ("" if n == 1 else "s")

def _info(ck: Mapping[str, Any], name: str) -> tuple[str, tuple[int, ...], int | None]:
    """(dtype name, shape, stored bytes) — from the index alone for TF checkpoints."""
    from tensorkeep.checkpoint.reader import LazyCheckpoint

    if isinstance(ck, LazyCheckpoint):
        dt = ck.dtype(name)
        shape = ck.shape(name)
        if dt.is_memcpyable:
            return dt.name, shape, int(np.prod(shape, dtype=np.int64)) * dt.itemsize
        reader = getattr(ck, "_reader", None)
        entry = getattr(reader, "entry", None)
        return dt.name, shape, entry(name).size if callable(entry) else None
    arr = np.asarray(ck[name])
    return _dtype_name(arr), tuple(arr.shape), arr.nbytes


def _dtype_name(arr: np.ndarray) -> str:
    from tensorkeep import dtypes as _dt

    try:
        return _dt.as_dtype(arr.dtype).name
    except TypeError:
        return str(arr.dtype)


def _shape(shape: Sequence[int]) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


def _table(rows: list[list[str]], right: set[int] = frozenset()) -> str:  # type: ignore[assignment]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for r in rows:
        cells = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def _jsonable(arr: np.ndarray) -> Any:
    if arr.dtype.kind == "O" or arr.dtype.kind == "S":
        return np.vectorize(lambda b: b.decode("utf-8", "backslashreplace")
                            if isinstance(b, bytes) else str(b), otypes=[object])(arr).tolist()
    if arr.dtype.kind == "V" or arr.dtype.type.__module__.startswith("ml_dtypes"):
        arr = arr.astype(np.float64) if "float" in arr.dtype.name else arr.astype(np.int64)
    if arr.dtype.kind == "c":
        return [[float(z.real), float(z.imag)] for z in arr.reshape(-1)]
    return arr.tolist()


def _open(path: str, fmt: str | None) -> Mapping[str, Any]:
    return formats.read(path, fmt)


def _prefix_of(ck: Mapping[str, Any], path: str) -> str:
    return getattr(ck, "prefix", path)


# ---------------------------------------------------------------- inspect

def cmd_inspect(args: argparse.Namespace) -> int:
    ck = _open(args.path, args.format)
    if args.tensor is not None:
        if args.tensor not in ck:
            raise errors.NotFoundError(f"no tensor named {args.tensor!r} in {_prefix_of(ck, args.path)}"
                                       + _did_you_mean(args.tensor, ck))
        arr = np.asarray(ck[args.tensor])
        dtype, shape, _ = _info(ck, args.tensor)
        if args.json:
            print(json.dumps({"name": args.tensor, "dtype": dtype, "shape": list(shape),
                              "values": _jsonable(arr)}))
        else:
            print(f"{args.tensor}  {dtype}  {_shape(shape)}")
            opts = {"threshold": sys.maxsize} if args.full else {}
            print(np.array2string(arr, **opts) if arr.ndim else repr(arr[()]))
        return EXIT_OK
    names = sorted(ck)
    infos = [(n, *_info(ck, n)) for n in names]
    total = sum(b or 0 for *_, b in infos)
    elements = sum(int(np.prod(s, dtype=np.int64)) for _, _, s, _ in infos)
    if args.json:
        print(json.dumps({"checkpoint": _prefix_of(ck, args.path), "total_bytes": total,
                          "total_elements": elements, "tensors": [
                              {"name": n, "dtype": d, "shape": list(s), "bytes": b}
                              for n, d, s, b in infos]}))
        return EXIT_OK
    print(f"checkpoint: {_prefix_of(ck, args.path)}")
    if infos:
        rows = [["name", "dtype", "shape", "size"]] + [
            [n, d, _shape(s), human(b) if b is not None else "?"] for n, d, s, b in infos]
        print(_table(rows, right={3}))
    print(f"{_count(len(infos), 'tensor')}, {_count(elements, 'element')}, {human(total)}")
    return EXIT_OK


def _did_you_mean(name: str, names: Any) -> str:
    import difflib

    close = difflib.get_close_matches(name, list(names), n=3)
    return f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""


# ---------------------------------------------------------------- ls

def cmd_ls(args: argparse.Namespace) -> int:
    from tensorkeep.checkpoint import naming, state
    from tensorkeep.checkpoint.manager import checkpoint_number

    directory = args.directory
    if not os.path.isdir(directory):
        raise errors.NotFoundError(f"no such directory: {directory}", filename=directory)
    st = state.get_checkpoint_state(directory)
    if st is None:
        raise errors.NotFoundError(f"no 'checkpoint' state file in {directory}", filename=directory)
    paths = list(st.all_model_checkpoint_paths) or [st.model_checkpoint_path]
    stamps = list(st.all_model_checkpoint_timestamps)
    entries = []
    for i, p in enumerate(paths):
        files = _owned(p, naming)
        size = sum(os.path.getsize(f) for f in files)
        index = naming.index_filename(p)
        t: float | None = stamps[i] if i < len(stamps) else (
            os.path.getmtime(index) if os.path.exists(index) else None)
        entries.append({"path": p, "step": checkpoint_number(p), "time": t, "bytes": size,
                        "exists": bool(files), "latest": p == st.model_checkpoint_path})
    if args.json:
        print(json.dumps({"directory": directory, "latest": st.model_checkpoint_path,
                          "checkpoints": entries}))
        return EXIT_OK
    rows = [["", "step", "saved", "size", "checkpoint"]]
    for e in entries:
        when = datetime.datetime.fromtimestamp(e["time"]).strftime("%Y-%m-%d %H:%M:%S") \
            if e["time"] is not None else "-"
        rows.append(["*" if e["latest"] else "", str(e["step"]) if e["step"] is not None else "-",
                     when, human(e["bytes"]) if e["exists"] else "missing",
                     os.path.relpath(e["path"], directory)])
    print(_table(rows, right={1, 3}))
    print(f"{_count(len(entries), 'checkpoint')}, {human(sum(e['bytes'] for e in entries))}"
          f" (* = latest)")
    return EXIT_OK


def _owned(prefix: str, naming: Any) -> list[str]:
    directory = os.path.dirname(prefix) or "."
    pattern = naming.checkpoint_file_pattern(prefix)
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    return [os.path.join(directory, n) for n in names
            if pattern.fullmatch(n) and not n.endswith(".meta")]


# ---------------------------------------------------------------- diff

_CHUNK = 1 << 20


def max_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    """max |a - b| over all elements (NaN at the same place counts as equal), in chunks."""
    if a.dtype.kind in "OSU" or b.dtype.kind in "OSU":
        return 0.0 if a.shape == b.shape and np.array_equal(a, b) else float("inf")
    fa, fb = a.reshape(-1), b.reshape(-1)
    worst = 0.0
    for i in range(0, fa.size, _CHUNK):
        x, y = _as_float(fa[i:i + _CHUNK]), _as_float(fb[i:i + _CHUNK])
        d = np.abs(x - y)
        both_nan = np.isnan(x) & np.isnan(y)
        if both_nan.any():
            d = np.where(both_nan, 0.0, d)
        same = x == y                                   # inf == inf
        if same.any():
            d = np.where(same, 0.0, d)
        if d.size:
            m = float(np.nanmax(d)) if not np.isnan(d).all() else float("inf")
            if np.isnan(d).any():
                m = float("inf")
            worst = max(worst, m)
    return worst


def _as_float(x: np.ndarray) -> np.ndarray:
    if x.dtype.kind == "c":
        return x.astype(np.complex128)
    return x.astype(np.float64)


def cmd_diff(args: argparse.Namespace) -> int:
    a, b = _open(args.a, args.format_a), _open(args.b, args.format_b)
    only_a = sorted(set(a) - set(b))
    only_b = sorted(set(b) - set(a))
    common = sorted(set(a) & set(b))
    total = sum((_info(a, n)[2] or 0) for n in common)
    changed, compared = [], []
    with Progress(total, "diff") as bar:
        for n in common:
            da, sa, size = _info(a, n)
            db, sb, _ = _info(b, n)
            row: dict[str, Any] = {"name": n, "dtype": [da, db], "shape": [list(sa), list(sb)]}
            if sa != sb:
                row["max_abs_diff"] = None
                row["change"] = "shape"
            else:
                m = max_abs_diff(np.asarray(a[n]), np.asarray(b[n]))
                row["max_abs_diff"] = m
                row["change"] = "dtype" if da != db else ("values" if m > args.atol else None)
            bar(size or 0)
            compared.append(row)
            if row["change"]:
                changed.append(row)
    differ = bool(only_a or only_b or changed)
    if args.json:
        print(json.dumps({"a": _prefix_of(a, args.a), "b": _prefix_of(b, args.b), "atol": args.atol,
                          "only_in_a": only_a, "only_in_b": only_b,
                          "tensors": compared if args.all else changed, "same": not differ}))
        return EXIT_DIFFERENT if differ else EXIT_OK
    for n in only_a:
        print(f"only in A: {n}  {_info(a, n)[0]} {_shape(_info(a, n)[1])}")
    for n in only_b:
        print(f"only in B: {n}  {_info(b, n)[0]} {_shape(_info(b, n)[1])}")
    rows = [["tensor", "dtype", "shape", "max |A-B|", ""]]
    for r in (compared if args.all else changed):
        dt = r["dtype"][0] if r["dtype"][0] == r["dtype"][1] else f"{r['dtype'][0]} -> {r['dtype'][1]}"
        sh = _shape(r["shape"][0]) if r["shape"][0] == r["shape"][1] else \
            f"{_shape(r['shape'][0])} -> {_shape(r['shape'][1])}"
        m = "-" if r["max_abs_diff"] is None else f"{r['max_abs_diff']:.6g}"
        rows.append([r["name"], dt, sh, m, {"shape": "shape changed", "dtype": "dtype changed",
                                            "values": f"> atol"}.get(r["change"] or "", "")])
    if len(rows) > 1:
        print(_table(rows, right={3}))
    print(f"{len(common)} tensors in both: {len(changed)} differ (atol={args.atol:g}); "
          f"{len(only_a)} only in A, {len(only_b)} only in B")
    return EXIT_DIFFERENT if differ else EXIT_OK


# ---------------------------------------------------------------- convert

def _parse_rename(specs: Sequence[str]) -> list[tuple[re.Pattern[str], str]]:
    out = []
    for spec in specs:
        if "=" not in spec:
            raise UsageError(f"--rename wants REGEX=REPLACEMENT, got {spec!r}")
        pattern, repl = spec.rsplit("=", 1)
        try:
            out.append((re.compile(pattern), repl))
        except re.error as exc:
            raise UsageError(f"--rename: bad regular expression {pattern!r}: {exc}") from None
    return out


def rename_all(names: Sequence[str], rules: list[tuple[re.Pattern[str], str]]) -> dict[str, str]:
    """old name -> new name, each rule applied in order (``re.sub``); duplicates are an error."""
    mapping: dict[str, str] = {}
    seen: dict[str, str] = {}
    for name in names:
        new = name
        for pattern, repl in rules:
            try:
                new = pattern.sub(repl, new)
            except (re.error, IndexError) as exc:
                raise UsageError(f"--rename {pattern.pattern!r}: {exc}") from None
        if not new:
            raise UsageError(f"--rename turns {name!r} into an empty name")
        if new in seen:
            raise UsageError(f"--rename maps both {seen[new]!r} and {name!r} to {new!r}")
        seen[new] = name
        mapping[name] = new
    return mapping


def cmd_convert(args: argparse.Namespace) -> int:
    src_fmt = args.from_format or formats.guess_format(args.src)
    dst_fmt = args.to_format or formats.guess_format(args.dst)
    if os.path.abspath(args.src) == os.path.abspath(args.dst):
        raise UsageError("SRC and DST are the same path")
    ck = _open(args.src, src_fmt)
    exclude = [re.compile(p) for p in args.exclude]
    names = [n for n in sorted(ck) if not any(p.search(n) for p in exclude)]
    mapping = rename_all(names, _parse_rename(args.rename))
    out: dict[str, np.ndarray] = {}
    skipped = []
    for old, new in mapping.items():
        arr = np.asarray(ck[old])
        if not formats.can_hold(dst_fmt, arr):
            skipped.append(f"{old} ({_dtype_name(arr)})")
            continue
        out[new] = arr
    total = sum(a.nbytes for a in out.values() if a.dtype.kind not in "OSU")
    with Progress(total, "convert") as bar:
        formats.write(args.dst, out, dst_fmt, progress=bar)
    for s in skipped:
        print(f"tensorkeep: skipped {s}: {dst_fmt} files cannot hold this dtype", file=sys.stderr)
    if not args.quiet:
        print(f"wrote {len(out)} tensors ({human(total)}) to {args.dst} [{dst_fmt}]"
              + (f", skipped {len(skipped)}" if skipped else ""))
    return EXIT_OK


# ---------------------------------------------------------------- verify

def cmd_verify(args: argparse.Namespace) -> int:
    from tensorkeep.bundle.naming import index_filename
    from tensorkeep.bundle.reader import BundleReader, key_str

    prefix = formats.tf_prefix(args.prefix)
    failures: list[str] = []
    count = 0
    if os.path.exists(index_filename(prefix)):
        reader = BundleReader(prefix, verify_checksums=True)     # index block CRCs checked here
        keys = reader.raw_keys()
        entries = {}
        for k in keys:
            try:
                entries[k] = reader.entry(k)
            except errors.OpError as exc:
                failures.append(f"{key_str(k)}: {exc}")
        total = sum(e.size for e in entries.values() if not e.slices)
        with Progress(total, "verify") as bar:
            for k, e in entries.items():
                if e.slices:
                    continue                      # its slices are separate entries, checked
                count += 1
                try:
                    reader.get(k)
                except errors.OpError as exc:
                    failures.append(f"{key_str(k)}: {exc}")
                bar(e.size)
        total_bytes = total
    else:
        from tensorkeep.checkpoint.reader import CheckpointReader

        reader1 = CheckpointReader(prefix)
        total_bytes = 0
        for name in sorted(reader1.get_variable_to_shape_map()):
            count += 1
            try:
                total_bytes += np.asarray(reader1.get_tensor(name)).nbytes
            except errors.OpError as exc:
                failures.append(f"{name}: {exc}")
    for f in failures:
        print(f"FAILED {f}")
    if failures:
        print(f"{len(failures)} of {count} tensors failed verification in {prefix}")
        return EXIT_ERROR
    if not args.quiet:
        print(f"OK: {_count(count, 'tensor')}, {human(total_bytes)}, every checksum matches ({prefix})")
    return EXIT_OK


# ---------------------------------------------------------------- parser

_EXAMPLES = {
    "inspect": """examples:
  tensorkeep inspect train/model.ckpt-1000        # a table of every tensor
  tensorkeep inspect train/                       # the directory's latest checkpoint
  tensorkeep inspect model.safetensors --json
  tensorkeep inspect train/ --tensor dense/kernel # print one tensor's values""",
    "ls": """examples:
  tensorkeep ls train/          # checkpoints listed by train/checkpoint, * marks the latest
  tensorkeep ls train/ --json""",
    "diff": """examples:
  tensorkeep diff run1/ckpt-10 run2/ckpt-10
  tensorkeep diff tf_ckpt/ model.safetensors --atol 1e-6
  tensorkeep diff a/ b/ --all --json

exit status: 0 when the checkpoints match (within --atol), 2 when they differ, 1 on errors.""",
    "convert": """examples:
  tensorkeep convert train/model.ckpt-1000 model.safetensors
  tensorkeep convert model.pt tf/model.ckpt                # PyTorch weights -> TensorFlow
  tensorkeep convert weights.npz model.pt
  tensorkeep convert tf2/ckpt-3 model.pt \\
      --exclude '^_CHECKPOINTABLE_OBJECT_GRAPH$|save_counter' \\
      --rename '/\\.ATTRIBUTES/VARIABLE_VALUE$=' --rename '^model/='

Formats follow the file names (.safetensors, .npz, .pt/.pth/.bin; anything else is
a TensorFlow checkpoint prefix); --from/--to override. --rename REGEX=REPLACEMENT
rewrites names with re.sub, rules applied in order.""",
    "verify": """examples:
  tensorkeep verify train/model.ckpt-1000 && echo intact
  tensorkeep verify train/        # the directory's latest checkpoint

exit status: 0 when every checksum holds, 1 otherwise.""",
}


def build_parser() -> argparse.ArgumentParser:
    from tensorkeep import __version__

    parser = _Parser(prog="tensorkeep", description="Inspect, compare, convert and verify "
                     "TensorFlow checkpoints (and safetensors, .npz and PyTorch weight files).",
                     formatter_class=argparse.RawDescriptionHelpFormatter,
                     epilog="run 'tensorkeep COMMAND --help' for a command's options and examples")
    parser.add_argument("--version", action="version", version=f"tensorkeep {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    kw = {"formatter_class": argparse.RawDescriptionHelpFormatter}

    p = sub.add_parser("inspect", help="list a checkpoint's tensors, or print one",
                       description="A table of names, dtypes, shapes and sizes, with totals.",
                       epilog=_EXAMPLES["inspect"], **kw)
    p.add_argument("path", metavar="PREFIX|DIR|FILE")
    p.add_argument("--tensor", metavar="NAME", help="print this tensor's values")
    p.add_argument("--full", action="store_true", help="with --tensor: print every element")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--format", choices=formats.FORMATS, help="the file's format (default: by name)")
    p.set_defaults(func=cmd_inspect)

    p = sub.add_parser("ls", help="list the checkpoints of a directory's state file",
                       description="The checkpoints the 'checkpoint' state file lists, "
                                   "with steps, save times and sizes.",
                       epilog=_EXAMPLES["ls"], **kw)
    p.add_argument("directory", metavar="DIR")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_ls)

    p = sub.add_parser("diff", help="compare two checkpoints tensor by tensor",
                       description="Tensors only in one side, changed dtypes or shapes, and the "
                                   "maximum absolute difference of each tensor.",
                       epilog=_EXAMPLES["diff"], **kw)
    p.add_argument("a", metavar="A")
    p.add_argument("b", metavar="B")
    p.add_argument("--atol", type=float, default=0.0,
                   help="tolerated absolute difference (default 0: exact)")
    p.add_argument("--all", action="store_true", help="list every common tensor, not just changed ones")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--format-a", choices=formats.FORMATS, help="A's format (default: by name)")
    p.add_argument("--format-b", choices=formats.FORMATS, help="B's format (default: by name)")
    p.set_defaults(func=cmd_diff)

    p = sub.add_parser("convert", help="convert between TF checkpoints, safetensors, .npz, PyTorch",
                       description="Copy every tensor from SRC to DST, converting the format.",
                       epilog=_EXAMPLES["convert"], **kw)
    p.add_argument("src", metavar="SRC")
    p.add_argument("dst", metavar="DST")
    p.add_argument("--rename", action="append", default=[], metavar="REGEX=REPL",
                   help="rename tensors (re.sub; repeatable, applied in order)")
    p.add_argument("--exclude", action="append", default=[], metavar="REGEX",
                   help="leave out tensors whose names match (repeatable)")
    p.add_argument("--from", dest="from_format", choices=formats.FORMATS, help="SRC's format")
    p.add_argument("--to", dest="to_format", choices=formats.FORMATS, help="DST's format")
    p.add_argument("-q", "--quiet", action="store_true", help="no summary line")
    p.set_defaults(func=cmd_convert)

    p = sub.add_parser("verify", help="check every checksum of a checkpoint",
                       description="Read every tensor and check its CRC-32C (and the index's "
                                   "block checksums).",
                       epilog=_EXAMPLES["verify"], **kw)
    p.add_argument("prefix", metavar="PREFIX|DIR")
    p.add_argument("-q", "--quiet", action="store_true", help="print only failures")
    p.set_defaults(func=cmd_verify)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help(sys.stderr)
        return EXIT_ERROR
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        sys.stderr.write("tensorkeep: interrupted\n")
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except (errors.OpError, UsageError, OSError, ValueError, KeyError, RuntimeError,
            TypeError) as exc:
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args and not isinstance(
            exc, errors.OpError) else str(exc)
        msg = " ".join(str(msg).split()) or type(exc).__name__
        sys.stderr.write(f"tensorkeep: error: {msg}\n")
        return EXIT_ERROR


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
