"""Atheris (libFuzzer) target for tensorkeep's decoders: the long-running fuzz of issue 7.2.

    pip install -e ".[fuzz]"
    python fuzz/fuzz_decoders.py TARGET [libFuzzer flags, e.g. -max_total_time=600 -rss_limit_mb=2048]

TARGET: sstable, bundle, v1, state_file, meta_graph, bundle_entry, snappy,
tensor_strings, slice_key. Any exception outside ``tensorkeep.errors``, any
allocation above 8x the input + 4 MiB and any input running over 2 s is a crash
(libFuzzer stores the input as ``crash-*``). Seeds: pass a corpus directory;
``python fuzz/fuzz_decoders.py --make-seeds DIR`` writes small real files.
"""

from __future__ import annotations

import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
sys.path.insert(0, os.path.join(HERE, ".."))

import reliability_helpers as h  # noqa: E402

_TMP = tempfile.mkdtemp(prefix="tk-fuzz-")


def _bundle(data: bytes) -> None:
    cut = data[0] if data else 0                     # first byte: where index and data split
    body = data[1:]
    split = len(body) * cut // 256
    h.bundle_from_bytes(body[:split], body[split:], _TMP)


def _v1(data: bytes) -> None:
    path = os.path.join(_TMP, "model.ckpt")
    with open(path, "wb") as f:
        f.write(data)
    h.read_all(path)


TARGETS = dict(h.DECODERS, bundle=_bundle, v1=_v1)


def make_seeds(directory: str) -> None:
    corpus = h.build_corpus(os.path.join(_TMP, "seeds"))
    os.makedirs(directory, exist_ok=True)
    for name, prefix in corpus.items():
        if os.path.exists(prefix + ".index"):
            index = open(prefix + ".index", "rb").read()
            data = open(prefix + ".data-00000-of-00001", "rb").read()
            split = len(index) * 256 // max(len(index) + len(data), 1)
            blob = bytes([min(split, 255)]) + index + data
            open(os.path.join(directory, f"{name}.bundle"), "wb").write(blob)
            open(os.path.join(directory, f"{name}.index"), "wb").write(index)
        else:
            open(os.path.join(directory, f"{name}.v1"), "wb").write(open(prefix, "rb").read())


def main() -> None:
    if sys.argv[1:2] == ["--make-seeds"]:
        make_seeds(sys.argv[2])
        return
    import atheris

    name = sys.argv.pop(1)
    fn = TARGETS[name]

    # warm up: lazy imports allocate megabytes once; they must not count against an input
    seeds = h.build_corpus(os.path.join(_TMP, "warm"))
    for blob in [b"", b"\x00" * 64] + [open(p + ".index", "rb").read() for p in seeds.values()
                                        if os.path.exists(p + ".index")]:
        try:
            fn(blob)
        except Exception:
            pass

    def one(data: bytes) -> None:
        h.run_guarded(lambda: fn(data), len(data))

    atheris.instrument_all()   # coverage feedback from every loaded module (tensorkeep included)
    atheris.Setup(sys.argv, one)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
