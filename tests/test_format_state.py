"""The ``checkpoint`` state file codec against TensorFlow's text format.

* ``encode_state`` equals TF's ``text_format.MessageToString`` for hypothesis-generated
  states (quotes, backslashes, control characters, non-ASCII, odd doubles), in both
  the default (UTF-8) and the ``as_utf8=False`` (octal) form;
* files written by TF's ``update_checkpoint_state_internal`` equal ours, and TF's
  ``get_checkpoint_state`` reads ours;
* ``decode_state`` round-trips, accepts any valid text format, agrees with TF's
  ``text_format.Merge`` on arbitrary input, and raises only ``DataLossError``.
"""

from __future__ import annotations

import math
import struct
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tensorkeep.errors import DataLossError, InvalidArgumentError
from tensorkeep.format.state import CheckpointState, decode_state, encode_state

# --------------------------------------------------------------------------- strategies

_SPECIAL_CHARS = '"\'\\\n\r\t\x00\x01\x1f\x7f\x80\x9f\u00e9\u4e2d\u2028\ufeff\U0001f600 /.-_:#{}'
paths = st.text(
    alphabet=st.one_of(st.sampled_from(_SPECIAL_CHARS),
                       st.characters(blacklist_categories=("Cs",))),
    max_size=40,
)
_SPECIAL_FLOATS = [0.0, -0.0, 1.0, 1700000000.25, 1784015299.2607172, 1e16, 1e-5, 1e300,
                   5e-324, -1e-300, 2.0**53, 2.0**53 + 2, 1e22, 123456789012345678.0,
                   math.inf, -math.inf, math.nan]
timestamps = st.one_of(st.sampled_from(_SPECIAL_FLOATS), st.floats())
states = st.builds(
    CheckpointState,
    model_checkpoint_path=paths,
    all_model_checkpoint_paths=st.lists(paths, max_size=4),
    all_model_checkpoint_timestamps=st.lists(timestamps, max_size=4),
    last_preserved_timestamp=timestamps,
)


def _key(state: CheckpointState) -> tuple[Any, ...]:
    """Comparable form: doubles by their bits (-0.0 != 0.0); every NaN is one NaN.

    Text format writes any NaN as ``nan``, so a NaN's payload and sign cannot
    survive a round trip; all NaNs compare equal here.
    """
    def bits(x: float) -> bytes:
        return b"nan" if x != x else struct.pack("<d", x)
    return (state.model_checkpoint_path, state.all_model_checkpoint_paths,
            tuple(bits(t) for t in state.all_model_checkpoint_timestamps),
            bits(state.last_preserved_timestamp))


def _tf_message(state: CheckpointState) -> Any:
    from tensorflow.python.training import checkpoint_state_pb2

    return checkpoint_state_pb2.CheckpointState(
        model_checkpoint_path=state.model_checkpoint_path,
        all_model_checkpoint_paths=state.all_model_checkpoint_paths,
        all_model_checkpoint_timestamps=state.all_model_checkpoint_timestamps,
        last_preserved_timestamp=state.last_preserved_timestamp,
    )


# --------------------------------------------------------------------------- golden text


def test_spec_examples() -> None:
    # STATE_AND_SAVER.md §1.2
    saver = CheckpointState("/tmp/train/model.ckpt-200",
                            ("/tmp/train/model.ckpt-100", "/tmp/train/model.ckpt-200"))
    assert encode_state(saver) == (
        'model_checkpoint_path: "/tmp/train/model.ckpt-200"\n'
        'all_model_checkpoint_paths: "/tmp/train/model.ckpt-100"\n'
        'all_model_checkpoint_paths: "/tmp/train/model.ckpt-200"\n')
    manager = CheckpointState("ckpt-3", ["ckpt-2", "ckpt-3"], [1700000100.25, 1700000200.5],
                              1699999999.75)
    assert encode_state(manager) == (
        'model_checkpoint_path: "ckpt-3"\n'
        'all_model_checkpoint_paths: "ckpt-2"\n'
        'all_model_checkpoint_paths: "ckpt-3"\n'
        "all_model_checkpoint_timestamps: 1700000100.25\n"
        "all_model_checkpoint_timestamps: 1700000200.5\n"
        "last_preserved_timestamp: 1699999999.75\n")
    assert decode_state(encode_state(manager)) == manager


def test_escapes_and_defaults() -> None:
    state = CheckpointState('a"b\'c\\d\ne\rf\tg\x00h\x7fi\u00e9', (), (0.0, -0.0), 0.0)
    assert encode_state(state) == (
        'model_checkpoint_path: "a\\"b\\\'c\\\\d\\ne\\rf\\tg\\000h\\177i\u00e9"\n'
        "all_model_checkpoint_timestamps: 0.0\n"
        "all_model_checkpoint_timestamps: -0.0\n")
    assert encode_state(state, as_utf8=False).startswith(
        'model_checkpoint_path: "a\\"b\\\'c\\\\d\\ne\\rf\\tg\\000h\\177i\\303\\251"\n')
    assert encode_state(CheckpointState()) == ""
    assert encode_state(CheckpointState(last_preserved_timestamp=-0.0)) == (
        "last_preserved_timestamp: -0.0\n")
    assert encode_state(CheckpointState(last_preserved_timestamp=math.nan)) == (
        "last_preserved_timestamp: nan\n")


def test_dataclass_normalises_and_is_frozen() -> None:
    state = CheckpointState("a", ["a"], [1], 2)
    assert state.all_model_checkpoint_paths == ("a",)
    assert state.all_model_checkpoint_timestamps == (1.0,)
    assert isinstance(state.last_preserved_timestamp, float)
    with pytest.raises(AttributeError):
        state.model_checkpoint_path = "b"  # type: ignore[misc]
    assert hash(state) == hash(CheckpointState("a", ("a",), (1.0,), 2.0))


def test_unencodable_path_is_invalid_argument() -> None:
    with pytest.raises(InvalidArgumentError):
        encode_state(CheckpointState("bad\udc80"))


# --------------------------------------------------------------------------- against TF


@pytest.mark.tf
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(state=states)
def test_encode_equals_tf_message_to_string(tf: Any, state: CheckpointState) -> None:
    from google.protobuf import text_format

    message = _tf_message(state)
    assert encode_state(state) == text_format.MessageToString(message)
    assert encode_state(state, as_utf8=False) == text_format.MessageToString(message, as_utf8=False)


@pytest.mark.tf
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(state=states)
def test_decode_equals_tf_parse(tf: Any, state: CheckpointState) -> None:
    from google.protobuf import text_format
    from tensorflow.python.training import checkpoint_state_pb2

    for text in (encode_state(state), encode_state(state, as_utf8=False)):
        message = checkpoint_state_pb2.CheckpointState()
        text_format.Merge(text, message)
        decoded = decode_state(text)
        assert _key(decoded) == _key(state)
        assert encode_state(decoded) == text_format.MessageToString(message)


@pytest.mark.tf
def test_tf_written_files_match_and_tf_reads_ours(tf: Any, tmp_path: Any) -> None:
    from tensorflow.python.checkpoint import checkpoint_management as cm

    cases = [
        CheckpointState("model.ckpt-200", ("model.ckpt-100", "model.ckpt-200")),
        CheckpointState("ckpt-3", ("ckpt-2", "ckpt-3"), (1700000100.25, 1784015299.2607172),
                        1699999999.75),
        CheckpointState("caf\u00e9 \"q\" \\ ckpt-1", ("caf\u00e9 \"q\" \\ ckpt-1",)),
    ]
    for i, state in enumerate(cases):
        d = tmp_path / f"case{i}"
        d.mkdir()
        cm.update_checkpoint_state_internal(
            str(d), state.model_checkpoint_path, list(state.all_model_checkpoint_paths),
            all_model_checkpoint_timestamps=list(state.all_model_checkpoint_timestamps) or None,
            last_preserved_timestamp=state.last_preserved_timestamp or None)
        data = (d / "checkpoint").read_bytes()
        assert data == encode_state(state).encode("utf-8")
        assert decode_state(data, filename=str(d / "checkpoint")) == state

        (d / "checkpoint").write_bytes(encode_state(state, as_utf8=(i % 2 == 0)).encode("utf-8"))
        got = cm.get_checkpoint_state(str(d))
        assert got.model_checkpoint_path == str(d / state.model_checkpoint_path)
        assert list(got.all_model_checkpoint_timestamps) == list(state.all_model_checkpoint_timestamps)
        assert got.last_preserved_timestamp == state.last_preserved_timestamp


# --------------------------------------------------------------------------- reading


@settings(max_examples=200, deadline=None)
@given(state=states)
def test_round_trip(state: CheckpointState) -> None:
    assert _key(decode_state(encode_state(state))) == _key(state)
    assert _key(decode_state(encode_state(state, as_utf8=False).encode())) == _key(state)


LENIENT = [
    # comments, blank lines, odd whitespace, no trailing newline
    ('# written by hand\n\n  model_checkpoint_path :"a"   # trailing\r\n'
     'all_model_checkpoint_paths: "a"', CheckpointState("a", ("a",))),
    # any field order; a singular field twice: the last one wins (text_format.Merge)
    ('last_preserved_timestamp: 5\nall_model_checkpoint_paths: "x"\n'
     'model_checkpoint_path: "old"\nmodel_checkpoint_path: "new"\n',
     CheckpointState("new", ("x",), (), 5.0)),
    # adjacent literals, single quotes, octal / hex / named escapes, raw UTF-8
    ("model_checkpoint_path: \"a\" 'b' \"\\101\\x42\\n\\303\\251\" \"\u00e9\"",
     CheckpointState("abAB\n\u00e9\u00e9")),
    # repeated fields in list syntax; doubles in all spellings
    ("all_model_checkpoint_paths: [\"p\", 'q']\n"
     "all_model_checkpoint_timestamps: [1, 2.5, 1e3, -inf, 1E-2]",
     CheckpointState("", ("p", "q"), (1.0, 2.5, 1000.0, -math.inf, 0.01))),
    ("", CheckpointState()),
    (b"model_checkpoint_path: 'b'\n", CheckpointState("b")),
    (memoryview(b"model_checkpoint_path: 'm'"), CheckpointState("m")),
]


@pytest.mark.parametrize("text,expected", LENIENT)
def test_accepts_any_valid_text_format(text: Any, expected: CheckpointState) -> None:
    assert decode_state(text) == expected


MALFORMED = [
    ("unknown_field: 1\n", "unknown_field"),
    ('model_checkpoint_path: "a\n', None),
    ("model_checkpoint_path: 3\n", None),
    ("model_checkpoint_path {\n}", None),
    ('all_model_checkpoint_timestamps: "x"', None),
    ("last_preserved_timestamp: 1.5.5", None),
    ('model_checkpoint_path: "\\377"', None),  # escapes to invalid UTF-8
    ("model_checkpoint_path: \"a\"\x00", None),
    ("[ext]: 1", None),
    (b"model_checkpoint_path: \"\xff\"", None),  # not UTF-8 at all
    (b"\xc3", None),
]


@pytest.mark.parametrize("text,needle", MALFORMED)
def test_malformed_is_data_loss_naming_the_file(text: Any, needle: str | None) -> None:
    with pytest.raises(DataLossError) as info:
        decode_state(text, filename="/ckpts/checkpoint")
    assert info.value.filename == "/ckpts/checkpoint"
    assert "/ckpts/checkpoint" in str(info.value)
    if needle:
        assert needle in str(info.value)


def test_not_utf8_reports_offset() -> None:
    with pytest.raises(DataLossError) as info:
        decode_state(b'model_checkpoint_path: "ok"\n\xff', filename="f")
    assert info.value.offset == 28


_FRAGMENTS = ["model_checkpoint_path", "all_model_checkpoint_paths",
              "all_model_checkpoint_timestamps", "last_preserved_timestamp", ":", " ", "\n",
              '"', "'", "\\", "#", "[", "]", ",", "{", "}", "<", ">", "1", "-", ".", "e", "inf",
              "nan", "\\x", "\\u", "\\3", "\u00e9", "\x00", "foo"]


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(), st.binary(), st.lists(st.sampled_from(_FRAGMENTS)).map("".join)))
def test_fuzz_only_data_loss(text: str | bytes) -> None:
    try:
        state = decode_state(text, filename="fuzz")
    except DataLossError as exc:
        assert exc.filename == "fuzz"
        return
    assert isinstance(state, CheckpointState)
    assert _key(decode_state(encode_state(state))) == _key(state)


@pytest.mark.tf
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.one_of(st.lists(st.sampled_from(_FRAGMENTS)).map("".join),
                      states.map(encode_state)))
def test_fuzz_agrees_with_tf_merge(tf: Any, text: str) -> None:
    from google.protobuf import text_format
    from tensorflow.python.training import checkpoint_state_pb2

    message = checkpoint_state_pb2.CheckpointState()
    try:
        text_format.Merge(text, message)
    except Exception:  # TF would log the file and treat the state as absent
        with pytest.raises(DataLossError):
            decode_state(text)
        return
    ours = decode_state(text)
    assert encode_state(ours) == text_format.MessageToString(message)
