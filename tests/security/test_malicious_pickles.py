"""Every pickle path of textgan fed a payload that would create a marker file if it were executed.

Paths: ``.pth`` through load_torch_file (zip and legacy torch.save formats) and everything built on it
(from_official, the CLI's ``textgan convert``, trainer checkpoints through load_trainer_checkpoint); TensorLayer
``.npz`` (the pickled list form, and a pickled member of the dict form); ``captions.pickle`` (load_captions_pickle,
Vocabulary.from_captions_pickle / from_file); dataset metadata pickles (filenames, class_info, char-CNN-RNN
embeddings, through textgan.data's read_pickles / load_metadata_pickle); FID statistics ``.npz``. tests/
test_pickle_safety.py covers safe_load itself (protocols, nesting, hand-written opcodes).
In every case: the documented error, and the marker never appears.
"""
import io
import os
import pickle
import subprocess

import numpy as np
import pytest
import torch

from textgan.errors import CheckpointError, TextganError, UnsafePickleError


class _System:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.system, (f"touch '{self.marker}'",)


class _Popen:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return subprocess.Popen, (["touch", self.marker],)


class _Exec:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return exec, (f"open({self.marker!r}, 'w').close()",)


PAYLOADS = [_System, _Popen, _Exec]


@pytest.fixture(params=PAYLOADS, ids=lambda c: c.__name__)
def evil(request, tmp_path):
    marker = tmp_path / "PWNED"
    yield request.param(marker), marker
    assert not marker.exists(), "the payload ran"


def test_the_payloads_are_real(tmp_path):
    for cls in PAYLOADS:
        marker = tmp_path / f"ran-{cls.__name__}"
        pickle.loads(pickle.dumps(cls(marker)))
        if cls is _Popen:
            import time

            for _ in range(100):
                if marker.exists():
                    break
                time.sleep(0.02)
        assert marker.exists(), cls


@pytest.mark.parametrize("zipfile_format", [True, False], ids=["zip", "legacy"])
def test_pth_through_load_torch_file(evil, tmp_path, zipfile_format):
    from textgan._weights import load_torch_file

    payload, _ = evil
    path = tmp_path / "netG.pth"
    torch.save({"w": torch.zeros(2), "evil": payload}, path, _use_new_zipfile_serialization=zipfile_format)
    with pytest.raises(UnsafePickleError, match="Nothing was executed"):
        load_torch_file(path)
    path.write_bytes(pickle.dumps(payload, protocol=2))  # a bare pickle named .pth
    with pytest.raises(CheckpointError):
        load_torch_file(path)


def test_from_official_and_the_cli(evil, tmp_path, capsys):
    from textgan import cli
    from textgan.convert import from_official

    payload, _ = evil
    path = tmp_path / "netG.pth"
    torch.save({"evil": payload}, path)
    with pytest.raises(UnsafePickleError):
        from_official("dfgan", path)
    captions = tmp_path / "captions.pickle"
    captions.write_bytes(pickle.dumps([[], [], {0: "<end>"}, {"<end>": 0}], protocol=2))
    code = cli.main(["convert", "dfgan", str(path), "--text-encoder", str(path), "--captions", str(captions),
                     "-o", str(tmp_path / "out")])
    assert code == 2 and "refused to load" in capsys.readouterr().err


def test_trainer_checkpoint(evil, tmp_path):
    from textgan._weights import load_trainer_checkpoint

    payload, _ = evil
    path = tmp_path / "last.pt"
    torch.save({"rng": [{"numpy": np.random.get_state()}], "modules": {}}, path)
    assert load_trainer_checkpoint(path)["rng"][0]["numpy"][0] == "MT19937"  # real checkpoints still load
    torch.save({"rng": [{"numpy": payload}], "modules": {}}, path)
    with pytest.raises(UnsafePickleError):
        load_trainer_checkpoint(path)


def _object_array(*items):
    arr = np.empty(len(items), dtype=object)
    arr[:] = list(items)
    return arr


def test_tensorlayer_npz(evil, tmp_path):
    from textgan.convert import read_tensorlayer_npz, read_tensorlayer_params

    payload, _ = evil
    path = tmp_path / "net_g.npz"
    np.savez(path, params=_object_array(np.zeros((2, 2), np.float32), payload))  # save_npz list form
    with pytest.raises(UnsafePickleError, match="nothing from the file was executed"):
        read_tensorlayer_npz(path)
    with pytest.raises(UnsafePickleError):
        read_tensorlayer_params(path)
    np.savez(path, **{"g/w:0": np.zeros(2, np.float32), "g/b:0": _object_array(payload)})  # dict form
    with pytest.raises(UnsafePickleError):
        read_tensorlayer_npz(path)


def _captions_with(payload):
    return [[[1, 2]], [[1]], {0: "<end>", 1: "a", 2: payload}, {"<end>": 0, "a": 1}]


@pytest.mark.parametrize("protocol", [2, 4])
def test_captions_pickle(evil, tmp_path, protocol):
    from textgan.text import Vocabulary
    from textgan.text.vocab import load_captions_pickle

    payload, _ = evil
    path = tmp_path / "captions.pickle"
    path.write_bytes(pickle.dumps(_captions_with(payload), protocol=protocol))
    for read in (load_captions_pickle, Vocabulary.from_captions_pickle, Vocabulary.from_file):
        with pytest.raises(UnsafePickleError):
            read(path)


@pytest.mark.parametrize("which", ["filenames.pickle", "class_info.pickle", "char-CNN-RNN-embeddings.pickle",
                                   "captions.pickle"])
def test_dataset_pickles(evil, tmp_path, which):
    from textgan.data._layouts import load_metadata_pickle, read_pickles

    payload, _ = evil
    root = tmp_path / "flowers"
    (root / "train").mkdir(parents=True)
    good = {"filenames.pickle": ["jpg/image_00001"], "class_info.pickle": [1],
            "char-CNN-RNN-embeddings.pickle": np.zeros((1, 10, 8), np.float32),
            "captions.pickle": [[[1]] * 10, [], {0: "<end>", 1: "a"}, {"<end>": 0, "a": 1}]}
    for name, obj in good.items():
        folder = root if name == "captions.pickle" else root / "train"
        (folder / name).write_bytes(pickle.dumps(obj, protocol=2))
    target = (root if which == "captions.pickle" else root / "train") / which
    target.write_bytes(pickle.dumps([payload], protocol=2))
    with pytest.raises(TextganError) as info:
        if which == "char-CNN-RNN-embeddings.pickle":
            load_metadata_pickle(target)  # what the dataset reads lazily for its embeddings
        else:
            read_pickles(root, "train", "flowers", bbox=False)
    chain, e = [], info.value
    while e is not None:
        chain.append(e)
        e = e.__cause__
    assert any(isinstance(x, UnsafePickleError) or "refused" in str(x) for x in chain), chain


def test_fid_statistics_npz_refuses_pickles(evil, tmp_path):
    from textgan.metrics.features import load_statistics

    payload, _ = evil
    path = tmp_path / "stats.npz"
    np.savez(path, mu=np.zeros(4), sigma=_object_array(payload))
    with pytest.raises((TextganError, ValueError)):
        load_statistics(path)


def test_safe_load_from_a_file_object(evil):
    from textgan._pickle import safe_load

    payload, _ = evil
    with pytest.raises(UnsafePickleError):
        safe_load(io.BytesIO(pickle.dumps({"a": [payload]}, protocol=4)))
