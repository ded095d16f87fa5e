"""The tensorkeep command line, run as ``python -m tensorkeep`` subprocesses on real checkpoints."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest

import tensorkeep

REPO = Path(__file__).resolve().parent.parent


def tk(*args, cwd=None, check_rc=None):
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-m", "tensorkeep", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)
    if check_rc is not None:
        assert proc.returncode == check_rc, (proc.stdout, proc.stderr)
    return proc


def _assert_one_line_error(proc, match):
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tensorkeep: error: "), proc.stderr
    assert match in lines[0], lines[0]


STATE = {"dense": {"kernel": np.arange(6, dtype=np.float32).reshape(2, 3),
                   "bias": np.array([1, 2, 3], dtype=ml_dtypes.bfloat16)},
         "step": np.int64(3), "mask": np.array([True, False]), "note": "hello"}


@pytest.fixture
def run_dir(tmp_path):
    m = tensorkeep.CheckpointManager(tmp_path / "run", max_to_keep=2)
    for s in (1, 2, 3):
        st = dict(STATE, step=np.int64(s),
                  dense={"kernel": STATE["dense"]["kernel"] * s, "bias": STATE["dense"]["bias"]})
        m.save(st, s)
    return tmp_path / "run"


def test_help_has_examples_for_every_command():
    top = tk("--help", check_rc=0)
    for cmd in ("inspect", "ls", "diff", "convert", "verify"):
        assert cmd in top.stdout
        out = tk(cmd, "--help", check_rc=0).stdout
        assert "examples:" in out and f"tensorkeep {cmd} " in out


def test_inspect_table_json_and_values(run_dir):
    out = tk("inspect", run_dir, check_rc=0).stdout
    assert out.splitlines()[0] == f"checkpoint: {run_dir / 'ckpt-3'}"
    assert "dense/bias    bfloat16  [3]      6 B" in out
    assert "dense/kernel  float32   [2, 3]  24 B" in out
    assert out.strip().endswith("5 tensors, 13 elements, 50 B")
    data = json.loads(tk("inspect", run_dir / "ckpt-2", "--json", check_rc=0).stdout)
    assert data["total_bytes"] == 50
    assert {t["name"]: (t["dtype"], t["shape"]) for t in data["tensors"]}["mask"] == ("bool", [2])
    values = tk("inspect", run_dir, "--tensor", "dense/kernel", check_rc=0).stdout
    assert values.splitlines()[0] == "dense/kernel  float32  [2, 3]"
    assert "[[ 0.  3.  6.]" in values
    one = json.loads(tk("inspect", run_dir, "--tensor", "dense/bias", "--json", check_rc=0).stdout)
    assert one["values"] == [1.0, 2.0, 3.0] and one["dtype"] == "bfloat16"


def test_inspect_tensorflow_written_checkpoint(tf, tmp_path):
    v = tf.Variable(np.ones((2, 2), np.float16))
    path = tf.train.Checkpoint(v=v).write(str(tmp_path / "tfc"))
    out = tk("inspect", path, check_rc=0).stdout
    assert "v/.ATTRIBUTES/VARIABLE_VALUE" in out and "float16" in out
    assert "_CHECKPOINTABLE_OBJECT_GRAPH" in out and "string" in out


def test_ls(run_dir):
    out = tk("ls", run_dir, check_rc=0).stdout.splitlines()
    assert out[0].split() == ["step", "saved", "size", "checkpoint"]
    assert out[1].split()[0] == "2" and out[1].endswith("ckpt-2")
    assert out[2].startswith("*") and out[2].endswith("ckpt-3")
    assert out[-1].startswith("2 checkpoints")
    data = json.loads(tk("ls", run_dir, "--json", check_rc=0).stdout)
    assert [c["step"] for c in data["checkpoints"]] == [2, 3]
    assert all(c["bytes"] > 0 and c["time"] > 1e9 for c in data["checkpoints"])


def test_diff(run_dir, tmp_path):
    same = tk("diff", run_dir, run_dir / "ckpt-3", check_rc=0)
    assert "0 differ" in same.stdout
    d = tk("diff", run_dir / "ckpt-2", run_dir / "ckpt-3", check_rc=2).stdout
    assert "dense/kernel" in d and "5" in d.split("dense/kernel")[1].splitlines()[0]
    assert "2 differ" in d
    assert tk("diff", run_dir / "ckpt-2", run_dir / "ckpt-3", "--atol", "10").returncode == 0
    tensorkeep.save({"dense": {"kernel": np.zeros((3, 2), np.float32),
                               "bias": np.zeros(3, np.float32)}, "extra": np.ones(1)},
                    tmp_path / "other")
    d = tk("diff", run_dir, tmp_path / "other", "--json", check_rc=2).stdout
    data = json.loads(d)
    assert data["only_in_a"] == ["mask", "note", "step"] and data["only_in_b"] == ["extra"]
    changes = {t["name"]: t["change"] for t in data["tensors"]}
    assert changes == {"dense/bias": "dtype", "dense/kernel": "shape"}
    tensorkeep.save(dict(STATE, dense={"kernel": STATE["dense"]["kernel"] * 3 + 1e-4,
                                       "bias": STATE["dense"]["bias"]}), tmp_path / "near")
    assert tk("diff", run_dir, tmp_path / "near", "--atol", "1e-3").returncode == 0
    assert tk("diff", run_dir, tmp_path / "near").returncode == 2


@pytest.mark.parametrize("fmt", ["safetensors", "npz", "pt"])
def test_convert_round_trip_every_direction(run_dir, tmp_path, fmt, torch):
    dst = tmp_path / f"model.{fmt}"
    proc = tk("convert", run_dir, dst, check_rc=0)
    assert "skipped note (string)" in proc.stderr or fmt == "npz" and "skipped" in proc.stderr
    back = tmp_path / "back" / "ckpt"
    tk("convert", dst, back, check_rc=0)
    ck = tensorkeep.load(back)
    assert sorted(ck) == ["dense/bias", "dense/kernel", "mask", "step"]
    assert ck.dtype("dense/bias").name == "bfloat16" and ck["step"].shape == ()
    np.testing.assert_array_equal(ck["dense/kernel"], STATE["dense"]["kernel"] * 3)
    # and onwards to each other format
    for other in ("safetensors", "npz", "pt"):
        tk("convert", dst, tmp_path / f"x.{other}", "-q", check_rc=0)
        tk("diff", dst, tmp_path / f"x.{other}", check_rc=0)


def test_convert_rename_exclude_and_torch_loads_it(run_dir, tmp_path, torch):
    dst = tmp_path / "w.pt"
    tk("convert", run_dir, dst, "--rename", r"^dense/=fc.", "--exclude", "^(step|note|mask)$",
       check_rc=0)
    sd = torch.load(dst, weights_only=True)
    assert sorted(sd) == ["fc.bias", "fc.kernel"] and sd["fc.bias"].dtype == torch.bfloat16
    proc = tk("convert", run_dir, tmp_path / "y.pt", "--rename", "dense/.*=same")
    _assert_one_line_error(proc, "--rename maps both")
    _assert_one_line_error(tk("convert", run_dir, tmp_path / "z.pt", "--rename", "nope"),
                           "REGEX=REPLACEMENT")


def test_convert_tensorflow_mlp_to_pytorch(tf, torch, tmp_path):
    """TF-written TF2 checkpoint -> .pt via the CLI -> a torch module computing TF's outputs."""
    rng = np.random.default_rng(1)
    w = tf.Variable(rng.standard_normal((4, 3)).astype(np.float32))
    b = tf.Variable(rng.standard_normal(3).astype(np.float32))
    x = rng.standard_normal((2, 4)).astype(np.float32)
    want = tf.nn.relu(tf.matmul(x, w) + b).numpy()
    path = tf.train.Checkpoint(w=w, b=b).write(str(tmp_path / "tf" / "mlp"))
    tk("convert", path, tmp_path / "mlp.pt", "--exclude", "_CHECKPOINTABLE_OBJECT_GRAPH",
       "--rename", r"/\.ATTRIBUTES/VARIABLE_VALUE$=", "--rename", "^w$=weight", "--rename",
       "^b$=bias", check_rc=0)
    sd = torch.load(tmp_path / "mlp.pt", weights_only=True)
    layer = torch.nn.Linear(4, 3)
    layer.load_state_dict({"weight": sd["weight"].T, "bias": sd["bias"]})
    with torch.no_grad():
        got = torch.relu(layer(torch.from_numpy(x))).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


def test_verify(run_dir, tmp_path):
    out = tk("verify", run_dir, check_rc=0).stdout
    assert out.startswith("OK: 5 tensors")
    data = run_dir / "ckpt-3.data-00000-of-00001"
    raw = bytearray(data.read_bytes())
    raw[8] ^= 0x01
    data.write_bytes(bytes(raw))
    proc = tk("verify", run_dir / "ckpt-3")
    assert proc.returncode == 1
    assert "FAILED dense/kernel: Checksum does not match" in proc.stdout
    assert "1 of 5 tensors failed verification" in proc.stdout
    index = run_dir / "ckpt-2.index"
    index.write_bytes(index.read_bytes()[:-5])
    proc = tk("verify", run_dir / "ckpt-2")
    _assert_one_line_error(proc, "ckpt-2.index")


@pytest.mark.parametrize("args, match", [
    (("inspect", "missing/prefix"), "no checkpoint at missing/prefix"),
    (("ls", "nowhere"), "no such directory: nowhere"),
    (("verify", "missing"), "no checkpoint at missing"),
    (("diff", "a.safetensors", "b"), "no such file: a.safetensors"),
    (("convert", "x.npz", "y.pt"), "no such file: x.npz"),
    (("inspect",), "the following arguments are required"),
    (("frobnicate",), "invalid choice"),
    (("diff", "a", "b", "--atol", "x"), "invalid float value"),
])
def test_bad_input_is_one_line_and_exit_1(tmp_path, args, match):
    _assert_one_line_error(tk(*args, cwd=tmp_path), match)


def test_bad_files_are_one_line_errors(tmp_path, run_dir):
    (tmp_path / "junk.safetensors").write_bytes(b"not a safetensors file")
    _assert_one_line_error(tk("inspect", tmp_path / "junk.safetensors"), "cannot read safetensors")
    (tmp_path / "junk.pt").write_bytes(b"garbage")
    _assert_one_line_error(tk("inspect", tmp_path / "junk.pt"), "cannot read PyTorch file")
    _assert_one_line_error(tk("inspect", run_dir, "--tensor", "dense/kernl"),
                           "did you mean 'dense/kernel'")
    (tmp_path / "empty").mkdir()
    _assert_one_line_error(tk("ls", tmp_path / "empty"), "no 'checkpoint' state file")


def test_main_callable_in_process(run_dir, capsys):
    from tensorkeep.cli.main import main

    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert main(["verify", str(run_dir), "-q"]) == 0
    assert main(["ls", str(run_dir / "nope")]) == 1
    assert capsys.readouterr().err.startswith("tensorkeep: error: no such directory")


def test_progress_bar_only_when_asked_or_on_a_terminal():
    import io

    from tensorkeep.cli.progress import Progress, human

    assert human(1536) == "1.5 KiB" and human(10) == "10 B"
    buf = io.StringIO()                                   # not a terminal: nothing drawn
    with Progress(1 << 30, "verify", stream=buf) as p:
        p(1 << 29)
    assert buf.getvalue() == ""
    buf = io.StringIO()
    with Progress(100, "verify", stream=buf, enabled=True) as p:
        p(100)
    assert "verify [" in buf.getvalue() and "100%" in buf.getvalue()
    assert buf.getvalue().endswith("\r")                  # the line is cleared afterwards
