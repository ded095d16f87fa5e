"""The README's user examples run as written (in one fresh interpreter, in order)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

README = Path(__file__).resolve().parent.parent / "README.md"


def _blocks() -> list[str]:
    text = README.read_text()
    section = text.split("## Using tensorkeep", 1)[1]
    return re.findall(r"```python\n(.*?)```", section, re.DOTALL)


def _tf1_run(tf, directory: Path) -> None:
    """A TF1 Saver run with the variable names of two tf.compat.v1.layers.dense layers."""
    rng = np.random.default_rng(0)
    shapes = {"dense/kernel": (4, 8), "dense/bias": (8,), "dense_1/kernel": (8, 2),
              "dense_1/bias": (2,)}
    with tf.Graph().as_default():
        for name, shape in shapes.items():
            tf.compat.v1.get_variable(name, initializer=rng.standard_normal(shape).astype(np.float32))
        saver = tf.compat.v1.train.Saver()
        with tf.compat.v1.Session() as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            saver.save(sess, str(directory / "model.ckpt"), global_step=1000)


def test_readme_examples_run(tf, torch, jax, tmp_path, run_python):
    blocks = _blocks()
    assert len(blocks) >= 5
    _tf1_run(tf, tmp_path / "tf_run")
    out = run_python("\n".join(blocks), cwd=tmp_path)
    assert "<All keys matched successfully>" in out.stdout
    assert "['out/run/ckpt-8', 'out/run/ckpt-9', 'out/run/ckpt-10']" in out.stdout


def test_quickstart_example(run_python, tmp_path):
    code = (Path(__file__).resolve().parent.parent / "examples" / "quickstart.py").read_text()
    out = run_python(code, cwd=tmp_path)
    assert "resumed at step 5" in out.stdout and "every checksum matches" in out.stdout
