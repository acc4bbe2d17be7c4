"""textgan._pickle.safe_load: original metadata pickles load; pickles that would run code do not."""
import io
import os
import pickle
import subprocess
from pathlib import Path

import numpy as np
import pytest

from textgan._pickle import safe_load
from textgan.errors import CheckpointError, UnsafePickleError

DATASETS = Path(
    os.environ.get("TEXTGAN_DATASETS_DIR", Path(__file__).resolve().parents[1] / ".." / "shared" / "datasets")
)
SHARED_PICKLES = sorted(DATASETS.glob("**/*.pickle")) if DATASETS.is_dir() else []


# --------------------------------------------------------------------------------------------------
# malicious payloads: each __reduce__ would create `marker` if its pickle were loaded with pickle.load
class _OsSystem:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.system, (f"touch '{self.marker}'",)


class _Subprocess:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return subprocess.check_call, (["touch", self.marker],)


class _Eval:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return eval, (f"open({self.marker!r}, 'w').close()",)


class _Exec:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return exec, (f"open({self.marker!r}, 'w').close()",)


class _SetState:
    """An instance of a class from the test module: building it needs find_class of this module."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __setstate__(self, state):
        open(state["marker"], "w").close()


PAYLOADS = [_OsSystem, _Subprocess, _Eval, _Exec, _SetState]


@pytest.mark.parametrize("protocol", [0, 2, 4])
@pytest.mark.parametrize("payload", PAYLOADS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("nesting", ["top", "in_captions_list", "in_object_array"])
def test_malicious_pickles_are_refused_and_never_run(tmp_path, payload, protocol, nesting):
    marker = tmp_path / "pwned"
    evil = payload(marker)
    if nesting == "top":
        obj = evil
    elif nesting == "in_captions_list":  # hidden inside a captions.pickle-shaped list
        obj = [[[1, 2]], [[3]], {0: "<end>", 1: evil}, {"<end>": 0}]
    else:  # an object-dtype numpy array: the allowed numpy globals must not open a back door
        arr = np.empty(2, dtype=object)
        arr[0], arr[1] = 1, evil
        obj = [arr]
    path = tmp_path / f"evil_p{protocol}.pickle"
    path.write_bytes(pickle.dumps(obj, protocol=protocol))

    with pytest.raises(UnsafePickleError) as info:
        safe_load(path)
    msg = str(info.value)
    assert str(path) in msg and "nothing" in msg and "executed" in msg
    assert not marker.exists()
    # the same bytes through a file object
    with open(path, "rb") as f, pytest.raises(UnsafePickleError):
        safe_load(f)
    assert not marker.exists()


def test_refusal_names_the_global(tmp_path):
    path = tmp_path / "eval.pickle"
    path.write_bytes(pickle.dumps(_Eval(tmp_path / "m"), protocol=2))
    with pytest.raises(UnsafePickleError, match=r"'__builtin__\.eval'"):  # py2 name below protocol 3
        safe_load(path)
    path.write_bytes(pickle.dumps(_Subprocess(tmp_path / "m"), protocol=4))
    with pytest.raises(UnsafePickleError, match=r"subprocess\.check_call"):
        safe_load(path)


def test_payloads_are_real(tmp_path):
    """Sanity check of the test itself: plain pickle.loads does run the (harmless) payload."""
    marker = tmp_path / "ran"
    pickle.loads(pickle.dumps(_Eval(marker), protocol=2))
    assert marker.exists()


@pytest.mark.parametrize(
    "data",
    [
        b"cos\nsystem\n(S'touch MARKER'\ntR.",  # protocol 0 GLOBAL + REDUCE
        b"(S'touch MARKER'\nios\nsystem\n.",  # protocol 0 INST
        b"c__builtin__\neval\n(S'open(\"MARKER\", \"w\").close()'\ntR.",  # Python 2 spelling of builtins
        b"ccopy_reg\n_reconstructor\n(cos\n_wrap_close\nc__builtin__\nobject\nNtR.",  # py2 copy_reg
    ],
    ids=["GLOBAL", "INST", "py2_builtin_eval", "copy_reg"],
)
def test_hand_written_protocol0_pickles(tmp_path, data):
    marker = tmp_path / "pwned"
    path = tmp_path / "p0.pickle"
    path.write_bytes(data.replace(b"MARKER", str(marker).encode()))
    with pytest.raises(UnsafePickleError):
        safe_load(path)
    assert not marker.exists()


def test_persistent_ids_are_refused(tmp_path):
    path = tmp_path / "pid.pickle"
    path.write_bytes(b"\x80\x02X\x03\x00\x00\x00abcQ.")  # BINPERSID
    with pytest.raises(UnsafePickleError):
        safe_load(path)


def test_allow_numpy_false_refuses_arrays(tmp_path):
    path = tmp_path / "arr.pickle"
    path.write_bytes(pickle.dumps([np.arange(3, dtype=np.float32)], protocol=4))
    assert np.array_equal(safe_load(path)[0], np.arange(3, dtype=np.float32))
    with pytest.raises(UnsafePickleError, match="allow_numpy=False"):
        safe_load(path, allow_numpy=False)
    path.write_bytes(pickle.dumps([1, "a", {"b": (2.5, None)}], protocol=2))
    assert safe_load(path, allow_numpy=False) == [1, "a", {"b": (2.5, None)}]


@pytest.mark.parametrize("protocol", [0, 2, 4])
def test_python3_data_round_trips(tmp_path, protocol):
    from collections import OrderedDict

    obj = [OrderedDict(a=1), {1, 2}, frozenset({3}), (1.5, None, True), "é", b"\x00\xff", {0: "<end>"},
           np.float32(2.5), np.int64(142), np.zeros((2, 3), dtype=np.float64), np.arange(4, dtype=np.uint8)]
    path = tmp_path / "ok.pickle"
    path.write_bytes(pickle.dumps(obj, protocol=protocol))  # < 3: bytes become _codecs.encode(s, 'latin1')
    _assert_same(safe_load(path), obj)


def test_codecs_encode_only_as_latin1(tmp_path):
    path = tmp_path / "codec.pickle"
    path.write_bytes(b"c_codecs\nencode\n(Vabc\nVrot13\ntR.")
    with pytest.raises(CheckpointError, match="latin1"):
        safe_load(path)
    path.write_bytes(b"c_codecs\nencode\n(Vabc\nVlatin1\ntR.")
    assert safe_load(path) == b"abc"


def test_protocol5_numpy_arrays_are_not_in_the_allowed_set(tmp_path):
    path = tmp_path / "p5.pickle"
    path.write_bytes(pickle.dumps(np.zeros(3), protocol=5))
    with pytest.raises(UnsafePickleError, match="_frombuffer"):
        safe_load(path)


@pytest.mark.parametrize(
    "data", [b"", b"hello world, not a pickle", b"\x80\x02]q\x00(K\x01K\x02", b"\x80\x02\x8c"],
    ids=["empty", "text", "truncated", "truncated_opcode"],
)
def test_garbage_and_truncated_files(tmp_path, data):
    path = tmp_path / "bad.pickle"
    path.write_bytes(data)
    with pytest.raises(CheckpointError, match="not a pickle or truncated") as info:
        safe_load(path)
    assert not isinstance(info.value, UnsafePickleError)
    assert str(path) in str(info.value)


def test_missing_file_and_bad_arguments(tmp_path):
    with pytest.raises(FileNotFoundError):
        safe_load(tmp_path / "nope.pickle")
    with pytest.raises(TypeError):
        safe_load(pickle.dumps(1))  # bytes, not a file
    with pytest.raises(CheckpointError, match="<file object>"):
        safe_load(io.BytesIO(b"junk"))


# --------------------------------------------------------------------------------------------------
# every metadata pickle of the shared replicas


def _assert_same(a, b):
    assert type(a) is type(b), (type(a), type(b))
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b)
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            _assert_same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _assert_same(x, y)
    else:
        assert a == b


@pytest.mark.skipif(not SHARED_PICKLES, reason=f"no shared datasets at {DATASETS} (set TEXTGAN_DATASETS_DIR)")
@pytest.mark.parametrize("path", SHARED_PICKLES, ids=lambda p: str(p.relative_to(DATASETS)))
def test_every_shared_pickle_loads_like_pickle_load(path):
    ours = safe_load(path)
    with open(path, "rb") as f:
        reference = pickle.load(f, encoding="latin1")
    _assert_same(ours, reference)


@pytest.mark.skipif(not SHARED_PICKLES, reason=f"no shared datasets at {DATASETS}")
def test_py2_quirks_of_the_shared_pickles():
    # birds train class_info: py2 numpy.int64 scalars whose bytes are not ASCII (class 142 = 0x8E)
    path = DATASETS / "cub" / "train" / "class_info.pickle"
    with open(path, "rb") as f, pytest.raises(UnicodeDecodeError):
        pickle.load(f)
    info = safe_load(path)
    assert [int(x) for x in info] == [87] * 4 + [142] * 4 and isinstance(info[0], np.int64)
    # py2 str filenames (coco, 'U' opcodes): str with latin1, bytes with encoding="bytes"
    names = safe_load(DATASETS / "coco" / "train" / "filenames.pickle", encoding="bytes")
    assert all(isinstance(n, bytes) for n in names)
    emb = np.array(safe_load(DATASETS / "cub" / "test" / "char-CNN-RNN-embeddings.pickle"))
    assert emb.shape == (4, 10, 1024) and emb.dtype == np.float32
