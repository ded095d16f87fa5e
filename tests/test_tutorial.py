"""The user's tutorial (../shared/seed/tutorial.py) under tensorkeep and under TensorFlow.

* run unchanged but for its import line, in one process and split in two
  (the import_meta_graph block alone in a fresh process);
* the same program under real TensorFlow 1 semantics leaves the same file set
  and the same state file text;
* TensorFlow reads every file tensorkeep wrote (bundle, state file, both
  meta graphs, restore through the imported Saver), and tensorkeep reads
  TensorFlow's.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO, _run_python

SEED = REPO.parent / "shared" / "seed" / "tutorial.py"
TK_IMPORT = "import tensorkeep as tf"
# TF 2.21 runs the TF1 program through compat.v1 with v2 behaviour off (ref variables).
TF_IMPORT = "import tensorflow.compat.v1 as tf; tf.disable_v2_behavior()"


def _program(import_line: str) -> str:
    src = SEED.read_text()
    line = re.compile(r"^import tensorflow as tf$", re.MULTILINE)
    assert len(line.findall(src)) == 1
    return line.sub(import_line, src)


def _blocks(stdout: str) -> list[list[str]]:
    """The printed v1/v2 values of each block, as lists of lines."""
    blocks: list[list[str]] = []
    current: list[str] | None = None
    for line in stdout.splitlines():
        if line.startswith("v1:"):
            current = []
            blocks.append(current)
        if current is not None and (line.startswith(("v1:", "v2:", " ", "[")) and line.strip()):
            current.append(line)
    return blocks


def _values(block: list[str]) -> list[float]:
    return [float(x) for x in re.findall(r"-?\d+\.\d+(?:e[-+]?\d+)?", " ".join(block))]


def _run(program: str, cwd: Path) -> str:
    path = cwd / "tutorial.py"
    path.write_text(program)
    proc = _run_python(f"exec(compile(open({str(path)!r}).read(), {str(path)!r}, 'exec'))",
                       cwd=cwd, timeout=300)
    return proc.stdout


@pytest.fixture(scope="module")
def tk_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    cwd = tmp_path_factory.mktemp("tk_tutorial")
    return cwd, _run(_program(TK_IMPORT), cwd)


@pytest.fixture(scope="module")
def tf_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    pytest.importorskip("tensorflow")
    cwd = tmp_path_factory.mktemp("tf_tutorial")
    return cwd, _run(_program(TF_IMPORT), cwd)


def test_tutorial_runs_and_three_blocks_agree(tk_run: tuple[Path, str]) -> None:
    _, out = tk_run
    blocks = _blocks(out)
    assert len(blocks) == 3, out
    first = _values(blocks[0])
    assert len(first) == 2 + 6
    assert _values(blocks[1]) == first and _values(blocks[2]) == first
    assert "Model saved in file: save/model.ckpt" in out
    assert "Model Restored" in out


def test_same_files_as_tensorflow(tk_run: tuple[Path, str], tf_run: tuple[Path, str]) -> None:
    tk_dir, tf_dir = tk_run[0] / "save", tf_run[0] / "save"
    assert sorted(os.listdir(tk_dir)) == sorted(os.listdir(tf_dir)) == [
        "checkpoint", "model.ckpt.data-00000-of-00001", "model.ckpt.index", "model.ckpt.meta",
        "model.meta"]
    assert (tk_dir / "checkpoint").read_text() == (tf_dir / "checkpoint").read_text()
    for name in ("model.ckpt.data-00000-of-00001", "model.ckpt.index"):
        assert (tk_dir / name).stat().st_size == (tf_dir / name).stat().st_size
    # TF under this program also prints three equal blocks
    tf_blocks = _blocks(tf_run[1])
    assert len(tf_blocks) == 3 and _values(tf_blocks[0]) == _values(tf_blocks[2])


def test_tensorflow_reads_every_file_tensorkeep_wrote(tf, tk_run: tuple[Path, str]) -> None:  # type: ignore[no-untyped-def]
    save = tk_run[0] / "save"
    expected = _values(_blocks(tk_run[1])[0])
    reader = tf.compat.v1.train.NewCheckpointReader(str(save / "model.ckpt"))
    assert reader.get_variable_to_shape_map() == {"v1": [1, 2], "v2": [2, 3]}
    got = np.concatenate([reader.get_tensor("v1").ravel(), reader.get_tensor("v2").ravel()])
    # printed with numpy's default 8 decimals: equal to within half a unit of the last digit
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=5e-9)
    import tensorkeep

    ours = tensorkeep.load(str(save / "model.ckpt"))
    exact = np.concatenate([ours["v1"].ravel(), ours["v2"].ravel()])
    assert got.tobytes() == exact.tobytes()
    assert tf.train.latest_checkpoint(str(save)) == str(save / "model.ckpt")
    for meta in ("model.ckpt.meta", "model.meta"):
        with tf.Graph().as_default():
            saver = tf.compat.v1.train.import_meta_graph(str(save / meta))
            with tf.compat.v1.Session() as sess:
                saver.restore(sess, str(save / "model.ckpt"))
                g = tf.compat.v1.get_default_graph()
                v1, v2 = sess.run([g.get_tensor_by_name("v1:0"), g.get_tensor_by_name("v2:0")])
        assert np.concatenate([v1.ravel(), v2.ravel()]).tobytes() == exact.tobytes()


SPLIT_A = """\
import os
{imp}
v1 = tf.Variable(tf.random_normal([1, 2]), name='v1')
v2 = tf.Variable(tf.random_normal([2, 3]), name='v2')
init_op = tf.global_variables_initializer()
saver = tf.train.Saver()
with tf.Session() as sess:
    sess.run(init_op)
    print('v1:', sess.run(v1).tolist())
    print('v2:', sess.run(v2).tolist())
    saver.save(sess, 'save/model.ckpt')
"""

SPLIT_B = """\
{imp}
saver = tf.train.import_meta_graph('save/model.ckpt.meta')
with tf.Session() as sess:
    saver.restore(sess, 'save/model.ckpt')
    print('v1:', sess.run(tf.get_default_graph().get_tensor_by_name('v1:0')).tolist())
    print('v2:', sess.run(tf.get_default_graph().get_tensor_by_name('v2:0')).tolist())
"""


@pytest.mark.parametrize("writer,reader", [("tk", "tk"), ("tk", "tf"), ("tf", "tk")])
def test_split_across_processes(tmp_path: Path, writer: str, reader: str) -> None:
    """Block 3 alone in a fresh process restores what block 1 saved, across implementations."""
    if "tf" in (writer, reader):
        pytest.importorskip("tensorflow")
    imports = {"tk": TK_IMPORT, "tf": TF_IMPORT}
    a = _run_python(SPLIT_A.format(imp=imports[writer]), cwd=tmp_path).stdout
    b = _run_python(SPLIT_B.format(imp=imports[reader]), cwd=tmp_path).stdout
    assert a.strip() and a.strip() == b.strip(), (a, b)


def test_v1_variant_of_the_tutorial(tmp_path: Path) -> None:
    """The commented-out line of the tutorial: Saver(write_version=tf.train.SaverDef.V1)."""
    program = _program(TK_IMPORT).replace(
        "saver = tf.train.Saver()", "saver = tf.train.Saver(write_version=tf.train.SaverDef.V1)")
    out = _run(program, tmp_path)
    blocks = _blocks(out)
    assert len(blocks) == 3 and _values(blocks[0]) == _values(blocks[1]) == _values(blocks[2])
    assert sorted(os.listdir(tmp_path / "save")) == ["checkpoint", "model.ckpt", "model.ckpt.meta",
                                                     "model.meta"]
    shutil.rmtree(tmp_path / "save")
