"""tensorkeep in one minute, with numpy only (no TensorFlow, PyTorch or JAX needed).

Run:  python examples/quickstart.py [WORKDIR]

1. save a nested mapping of arrays as a TensorFlow checkpoint;
2. load it back lazily (memory-mapped, checksums verified on read);
3. restore it in place into arrays of the same names;
4. keep rotating checkpoints of a small training loop with CheckpointManager;
5. look at the result with the command line.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

import ml_dtypes
import numpy as np

import tensorkeep


def main(workdir: str) -> None:
    rng = np.random.default_rng(0)

    # 1. A TensorFlow checkpoint from plain arrays: nested names are joined with "/".
    params = {
        "dense": {"kernel": rng.standard_normal((4, 3)).astype(np.float32),
                  "bias": np.zeros(3, dtype=ml_dtypes.bfloat16)},
        "step": np.int64(0),
    }
    prefix = tensorkeep.save(params, os.path.join(workdir, "model", "ckpt"))
    print("saved", prefix, "->", sorted(os.listdir(os.path.dirname(prefix))))

    # 2. Lazy, read-only arrays; dtypes keep their identity (bfloat16 stays bfloat16).
    ckpt = tensorkeep.load(prefix)
    for name in ckpt:
        print(f"  {name:14s} {str(ckpt[name].dtype):9s} {ckpt[name].shape}")
    assert ckpt["dense/bias"].dtype == ml_dtypes.bfloat16

    # 3. Restore in place; missing and unexpected names are reported like PyTorch's.
    target = {"dense": {"kernel": np.empty((4, 3), np.float32),
                        "bias": np.empty(3, ml_dtypes.bfloat16)}, "step": 0}
    report = tensorkeep.load(prefix, into=target)
    print("restored:", report)
    np.testing.assert_array_equal(target["dense"]["kernel"], params["dense"]["kernel"])

    # 4. Rotating checkpoints: the newest 3 are kept, listed in TF's `checkpoint` file.
    run = os.path.join(workdir, "run")
    manager = tensorkeep.CheckpointManager(run, max_to_keep=3)
    w = np.zeros(3, np.float32)
    for step in range(1, 6):
        w += 0.1                                # "training"
        manager.save({"w": w, "step": step}, step)
    print("kept:", [os.path.basename(p) for p in manager.checkpoints])

    resumed = {"w": np.zeros(3, np.float32), "step": 0}
    tensorkeep.CheckpointManager(run).restore(resumed)
    print("resumed at step", resumed["step"], "with w =", resumed["w"])
    assert resumed["step"] == 5

    # 5. The command line (also `python -m tensorkeep`).
    for args in (["ls", run], ["inspect", run], ["verify", run]):
        cmd = [sys.executable, "-m", "tensorkeep", *args]
        print("$ tensorkeep", " ".join(args))
        subprocess.run(cmd, check=True)


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(sys.argv[1])
    else:
        with tempfile.TemporaryDirectory() as tmp:
            main(tmp)
