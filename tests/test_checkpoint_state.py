"""The ``checkpoint`` state file functions, alone and side by side with TensorFlow's."""

from __future__ import annotations

import logging
import os
import re

import pytest

from tensorkeep import errors
from tensorkeep.checkpoint import state as cs
from tensorkeep.proto import checkpoint_state_pb2


def _touch(path, data=b"x"):
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def _v2(prefix):
    _touch(prefix + ".index")
    _touch(prefix + ".data-00000-of-00001")
    _touch(prefix + ".meta")


def _fields(p):
    return (p.model_checkpoint_path, list(p.all_model_checkpoint_paths),
            list(p.all_model_checkpoint_timestamps), p.last_preserved_timestamp)


GENERATE_CASES = [
    ("", "model.ckpt-3", ["x/y"], None, None),
    ("", "/abs/m", None, None, None),
    ("rel", "rel/a/m", ["x/y"], None, None),
    ("rel", "other/m", ["rel/m-0", "/abs/q"], None, None),
    ("rel/./sub/", "rel/sub/m", None, None, None),
    ("/abs", "rel/m", ["x/y"], None, None),
    ("/abs", "/abs/m-1", ["/abs/m-0"], [1.5, 2.25], 0.5),
    ("d", "d/m-1", ["d/m-1"], [3.0], 1e16),
    ("d", "d/m-2", [], None, 0.0),
    ("d", "d/é \"q\"\n", None, None, None),
]


# ---------------------------------------------------------------- pure building

@pytest.mark.parametrize("args", GENERATE_CASES)
def test_generate_matches_tf(tf, args):
    from google.protobuf import text_format
    from tensorflow.python.checkpoint import checkpoint_management as cm

    save_dir, model, paths, stamps, last = args
    ours = cs.generate_checkpoint_state_proto(save_dir, model, paths, stamps, last)
    theirs = cm.generate_checkpoint_state_proto(save_dir, model, list(paths) if paths else paths,
                                                stamps, last)
    assert isinstance(ours, checkpoint_state_pb2.CheckpointState)
    assert _fields(ours) == _fields(theirs)
    assert cs._encode(ours) == text_format.MessageToString(theirs)


def test_generate_does_not_modify_callers_list():
    paths = ["a"]
    cs.generate_checkpoint_state_proto("/d", "b", paths)
    assert paths == ["a"]


def test_generate_timestamp_count_mismatch():
    with pytest.raises(ValueError, match=re.escape(
            "Checkpoint timestamps, if provided, must match checkpoint paths (got paths "
            "['ck/m-0', 'ck/m-1'] and timestamps [1.5])")):
        cs.generate_checkpoint_state_proto("ck", "ck/m-1", ["ck/m-0"], [1.5])


# ---------------------------------------------------------------- writing

UPDATE_CASES = [
    # (save_dir, model, paths, save_relative_paths, stamps, last)
    ("d", "d/m-1", ["d/m-0"], False, None, None),
    ("d", "d/m-1", ["d/m-0"], True, None, None),
    ("d", "ABS/d/m-1", ["ABS/d/m-0", "d/m-x"], True, None, None),
    ("d", "ABS/d/m-1", ["ABS/d/m-0"], False, None, None),
    ("ABS/d", "ABS/d/m-1", ["ABS/d/m-0"], False, None, None),
    ("ABS/d", "ABS/d/m-1", ["ABS/d/m-0", "ABS/other/q"], True, [1.0, 2.0, 3.5], 0.25),
    ("d/", "d/sub/m-1", None, False, None, None),
    ("", "m-1", ["m-0"], False, None, None),
]


@pytest.mark.parametrize("case", UPDATE_CASES)
def test_update_state_file_text_matches_tf(tf, tmp_path, monkeypatch, case):
    from tensorflow.python.checkpoint import checkpoint_management as cm

    save_dir, model, paths, rel, stamps, last = case
    texts = []
    for who, fn in (("tf", cm.update_checkpoint_state_internal),
                    ("tk", cs.update_checkpoint_state_internal)):
        root = tmp_path / who
        (root / "d").mkdir(parents=True)
        monkeypatch.chdir(root)
        sub = lambda p: p.replace("ABS", str(root))  # noqa: E731
        fn(sub(save_dir), sub(model), [sub(p) for p in paths] if paths is not None else [],
           None, save_relative_paths=rel, all_model_checkpoint_timestamps=stamps,
           last_preserved_timestamp=last)
        state_path = os.path.join(sub(save_dir), "checkpoint")
        texts.append(open(state_path).read().replace(str(root), "ABS"))
        assert sorted(os.listdir(sub(save_dir) or ".")) == ["checkpoint", "d"] if not save_dir \
            else os.listdir(sub(save_dir)) == ["checkpoint"]
    assert texts[0] == texts[1]


def test_public_update_and_latest_filename(tmp_path):
    d = str(tmp_path)
    cs.update_checkpoint_state(d, os.path.join(d, "m-1"), latest_filename="mystate")
    assert os.listdir(d) == ["mystate"]
    assert open(os.path.join(d, "mystate")).read() == (
        f'model_checkpoint_path: "{d}/m-1"\nall_model_checkpoint_paths: "{d}/m-1"\n')


def test_state_file_conflict(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(RuntimeError, match=re.escape(
            "Save path 'checkpoint' conflicts with path used for checkpoint state.  "
            "Please use a different save path.")):
        cs.update_checkpoint_state_internal("", "checkpoint")
    assert os.listdir(".") == []


def test_state_write_missing_dir_is_not_found(tmp_path):
    with pytest.raises(errors.NotFoundError) as info:
        cs.update_checkpoint_state(str(tmp_path / "nope"), str(tmp_path / "nope" / "m"))
    assert ".tmp" in str(info.value)


def test_state_write_is_atomic_with_tf_temp_name(tmp_path, monkeypatch):
    seen = []
    real = os.replace

    def spy(src, dst):
        seen.append((os.fspath(src), os.fspath(dst), open(src).read()))
        return real(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    path = tmp_path / "checkpoint"
    path.write_text("old")
    cs.update_checkpoint_state(str(tmp_path), str(tmp_path / "m"))
    (src, dst, content), = seen
    assert dst == str(path) and re.fullmatch(re.escape(str(path)) + r"\.tmp[0-9a-f]{32}", src)
    assert content == path.read_text() and "old" not in content
    assert os.listdir(tmp_path) == ["checkpoint"]


def test_failed_state_write_leaves_old_file(tmp_path, monkeypatch):
    path = tmp_path / "checkpoint"
    path.write_text('model_checkpoint_path: "old"\n')

    def boom(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(errors.OpError):
        cs.update_checkpoint_state(str(tmp_path), str(tmp_path / "m"))
    assert os.listdir(tmp_path) == ["checkpoint"] and "old" in path.read_text()


# ---------------------------------------------------------------- reading

READ_CASES = [
    'model_checkpoint_path: "m-2"\nall_model_checkpoint_paths: "m-1"\nall_model_checkpoint_paths: "m-2"\n',
    'model_checkpoint_path: "/abs/m"\nall_model_checkpoint_paths: "rel/m"\n',
    '# comment\n  all_model_checkpoint_paths: "a"  model_checkpoint_path: "a" "b"\n'
    'all_model_checkpoint_timestamps: 1.5 last_preserved_timestamp: 2\n',
    'model_checkpoint_path: "\\303\\251"',
]


@pytest.mark.parametrize("text", READ_CASES)
@pytest.mark.parametrize("dirname", ["sub", "ABS", ""])
def test_get_checkpoint_state_matches_tf(tf, tmp_path, monkeypatch, text, dirname):
    from tensorflow.python.checkpoint import checkpoint_management as cm

    monkeypatch.chdir(tmp_path)
    d = str(tmp_path) if dirname == "ABS" else dirname
    _touch(os.path.join(d, "checkpoint"), text.encode())
    ours, theirs = cs.get_checkpoint_state(d), cm.get_checkpoint_state(d)
    assert _fields(ours) == _fields(theirs)


def test_get_checkpoint_state_absent_or_bad(tmp_path, caplog):
    assert cs.get_checkpoint_state(str(tmp_path)) is None
    assert cs.get_checkpoint_state(str(tmp_path / "missing")) is None
    (tmp_path / "checkpoint").write_text("bogus: 1\n")
    with caplog.at_level(logging.WARNING, logger="tensorkeep"):
        assert cs.get_checkpoint_state(str(tmp_path)) is None
    assert "Checkpoint ignored" in caplog.text
    (tmp_path / "checkpoint").write_bytes(b'model_checkpoint_path: "\xff"')
    assert cs.get_checkpoint_state(str(tmp_path)) is None
    (tmp_path / "checkpoint").write_text('model_checkpoint_path: ""\n')
    with pytest.raises(ValueError, match="^Invalid checkpoint state loaded from " + re.escape(str(tmp_path))):
        cs.get_checkpoint_state(str(tmp_path))


def test_get_checkpoint_state_pathlike(tmp_path):
    cs.update_checkpoint_state(tmp_path, tmp_path / "m")
    assert cs.get_checkpoint_state(tmp_path).model_checkpoint_path == str(tmp_path / "m")


def test_latest_checkpoint(tmp_path, monkeypatch, caplog):
    monkeypatch.chdir(tmp_path)
    assert cs.latest_checkpoint("nodir") is None
    os.mkdir("d")
    cs.update_checkpoint_state("d", "d/m-1")
    with caplog.at_level(logging.ERROR, logger="tensorkeep"):
        assert cs.latest_checkpoint("d") is None
    assert "Couldn't match files for checkpoint d/m-1" in caplog.text
    _v2("d/m-1")
    assert cs.latest_checkpoint("d") == "d/m-1"
    # V1: the prefix itself, possibly a sharded pattern
    cs.update_checkpoint_state("d", "d/v1-?????-of-00002")
    assert cs.latest_checkpoint("d") is None
    _touch("d/v1-00000-of-00002")
    assert cs.latest_checkpoint("d") == "d/v1-?????-of-00002"


def test_latest_checkpoint_matches_tf(tf, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    os.mkdir("d")
    _v2("d/m-1")
    _touch("d/v1")
    for model in ["d/m-1", "d/m-2", "d/v1", "d/v?", "d/m-*"]:
        cs.update_checkpoint_state("d", model)
        assert cs.latest_checkpoint("d") == tf.train.latest_checkpoint("d"), model


def test_checkpoint_exists_and_mtimes(tf, tmp_path):
    from tensorflow.python.checkpoint import checkpoint_management as cm

    p = str(tmp_path / "m")
    assert not cs.checkpoint_exists(p)
    _v2(p)
    _touch(str(tmp_path / "v1"))
    os.utime(p + ".index", ns=(1_700_000_000_250_000_000, 1_700_000_000_250_000_000))
    prefixes = [p, str(tmp_path / "v1"), str(tmp_path / "none")]
    assert [cs.checkpoint_exists(x) for x in prefixes] == [True, True, False]
    assert [cs.checkpoint_exists(x) for x in prefixes] == [cm.checkpoint_exists(x) for x in prefixes]
    assert cs.get_checkpoint_mtimes(prefixes) == cm.get_checkpoint_mtimes(prefixes)
    assert cs.get_checkpoint_mtimes(prefixes)[0] == 1700000000.0  # whole seconds, as TF


# ---------------------------------------------------------------- deleting

def test_remove_checkpoint_v2_and_v1(tmp_path):
    d = tmp_path
    for name in ["m-1.index", "m-1.data-00000-of-00002", "m-1.data-00001-of-00002", "m-1.meta",
                 "m-10.index", "m-1.index.bak", "m-1", "checkpoint", "v1", "v1.meta",
                 "sh-00000-of-00002", "sh-00001-of-00002", "sh.meta", "sh-00000-of-00003"]:
        _touch(str(d / name))
    removed = cs.remove_checkpoint(str(d / "m-1"))
    assert sorted(os.path.basename(p) for p in removed) == [
        "m-1.data-00000-of-00002", "m-1.data-00001-of-00002", "m-1.index", "m-1.meta"]
    cs.remove_checkpoint(str(d / "v1"), 1)
    cs.remove_checkpoint(str(d / "sh-?????-of-00002"), 1)
    assert sorted(os.listdir(d)) == ["checkpoint", "m-1", "m-1.index.bak", "m-10.index",
                                     "sh-00000-of-00003"]
    assert cs.remove_checkpoint(str(d / "none")) == []
    assert cs.remove_checkpoint(str(d / "nodir" / "x")) == []


def test_remove_checkpoint_matches_tf_on_ordinary_names(tf, tmp_path):
    from tensorflow.python.checkpoint import checkpoint_management as cm

    names = ["m-1.index", "m-1.data-00000-of-00001", "m-1.meta", "m-1.txt", "m-12.index",
             "v1", "v1.meta", "v1x", "s-00000-of-00002", "s-00001-of-00002", "s.meta"]
    results = []
    for who, fn in (("tf", cm.remove_checkpoint), ("tk", cs.remove_checkpoint)):
        d = tmp_path / who
        for n in names:
            _touch(str(d / n))
        fn(str(d / "m-1"))
        fn(str(d / "m-1"), meta_graph_suffix="txt")
        fn(str(d / "v1"), 1)
        fn(str(d / "s-?????-of-00002"), 1)
        results.append(sorted(os.listdir(d)))
    assert results[0] == results[1] == ["m-12.index", "v1x"]


def test_remove_checkpoint_treats_glob_characters_literally(tmp_path):
    """Deliberate difference: TF globs the prefix; we never delete another checkpoint's files."""
    for n in ["m1.index", "m1.meta", "mx.index", "m*.index"]:
        _touch(str(tmp_path / n))
    cs.remove_checkpoint(str(tmp_path / "m*"))
    assert sorted(os.listdir(tmp_path)) == ["m1.index", "m1.meta", "mx.index"]


def test_remove_checkpoint_reports_failures(tmp_path, monkeypatch):
    _v2(str(tmp_path / "m"))

    def denied(path):
        raise errors.PermissionDeniedError(f"{path}; Permission denied", filename=path)

    monkeypatch.setattr(cs.files, "remove", denied)
    with pytest.raises(errors.PermissionDeniedError):
        cs.remove_checkpoint(str(tmp_path / "m"))


# ---------------------------------------------------------------- waiting

class FakeClock:
    def __init__(self):
        self.t = 1000.0
        self.sleeps = []
        self.on_sleep = None

    def __call__(self):
        return self.t

    def sleep(self, s):
        self.sleeps.append(s)
        self.t += s
        if self.on_sleep:
            self.on_sleep(self.t)


def test_checkpoints_iterator_yields_new_and_times_out(tmp_path):
    d = str(tmp_path)
    clock = FakeClock()
    saved = iter([1003.0, 1006.0])
    pending = [next(saved)]

    def maybe_save(t):
        if pending and t >= pending[0]:
            step = len(clock.sleeps)
            _v2(f"{d}/m-{step}")
            cs.update_checkpoint_state(d, f"{d}/m-{step}")
            pending.pop()
            nxt = next(saved, None)
            if nxt:
                pending.append(nxt)

    clock.on_sleep = maybe_save
    got = list(cs.checkpoints_iterator(d, min_interval_secs=0, timeout=5, clock=clock,
                                       sleep=clock.sleep))
    assert got == [f"{d}/m-3", f"{d}/m-6"]
    assert clock.sleeps == [1] * 11  # 3 until m-3, 3 until m-6, then 5 until the timeout


def test_checkpoints_iterator_timeout_fn_and_min_interval(tmp_path):
    d = str(tmp_path)
    _v2(f"{d}/m-1")
    cs.update_checkpoint_state(d, f"{d}/m-1")
    clock = FakeClock()
    calls = []

    def timeout_fn():
        calls.append(clock.t)
        return len(calls) >= 2

    it = cs.checkpoints_iterator(d, min_interval_secs=10, timeout=2, timeout_fn=timeout_fn,
                                 clock=clock, sleep=clock.sleep)
    assert next(it) == f"{d}/m-1"
    assert list(it) == []
    assert clock.sleeps[0] == 10 and len(calls) == 2


def test_wait_for_new_checkpoint_timeout(tmp_path):
    clock = FakeClock()
    assert cs.wait_for_new_checkpoint(str(tmp_path), timeout=3.5, clock=clock,
                                      sleep=clock.sleep) is None
    assert clock.sleeps == [1, 1, 1]  # stops once now + 1 s would pass the deadline
