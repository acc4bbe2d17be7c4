"""TensorLayer .npz files: both layouts, the arrays-only unpickler, and errors on bad files."""
import io
import os
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from textgan.convert import read_tensorlayer_npz, read_tensorlayer_params
from textgan.errors import CheckpointError, UnsafePickleError

TF_DIR = Path(os.environ.get("TEXTGAN_TF_DIR", Path(__file__).resolve().parents[2].parent / "shared" / "tf"))
NPZ = TF_DIR / "tensorlayer_npz"
needs_fixtures = pytest.mark.skipif(not NPZ.is_dir(), reason=f"no fixtures at {TF_DIR} (set TEXTGAN_TF_DIR)")


@needs_fixtures
def test_shared_fixtures():
    want = load_file(str(NPZ / "expected.safetensors"))
    got = read_tensorlayer_npz(NPZ / "net_g.npz")
    assert list(got) == [f"params/{i}" for i in range(8)] == list(want)
    for k in want:
        assert got[k].dtype == want[k].dtype and torch.equal(got[k], want[k]), k
    params = read_tensorlayer_params(NPZ / "net_g.npz")
    assert [tuple(p.shape) for p in params][:3] == [(5, 5, 3, 8), (8,), (4, 4, 8, 16)]
    named = read_tensorlayer_npz(NPZ / "net_g_dict.npz")
    assert list(named) == ["generator/conv1/W_conv2d:0", "generator/conv1/b_conv2d:0"]
    assert torch.equal(named["generator/conv1/W_conv2d:0"], want["params/0"])
    with pytest.raises(CheckpointError, match="not a save_npz file"):
        read_tensorlayer_params(NPZ / "net_g_dict.npz")


def _npz(path: Path, members: dict) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for name, raw in members.items():
            z.writestr(name, raw)
    return path


def _npy_object(obj, protocol: int = 3) -> bytes:
    """A .npy member holding ``obj`` pickled, as np.save writes object arrays."""
    buf = io.BytesIO()
    header = {"descr": "|O", "fortran_order": False, "shape": (len(obj),)}
    np.lib.format.write_array_header_1_0(buf, header)
    pickle.dump(obj, buf, protocol=protocol)
    return buf.getvalue()


@pytest.mark.parametrize("protocol", [2, 3, 4])
def test_object_list_any_protocol(tmp_path, protocol):
    """numpy < 1.17 pickled with protocol 2 (bytes as _codecs.encode); newer with 3/4."""
    arrays = [np.arange(6, dtype=np.float32).reshape(2, 3), np.ones(4, dtype=">f8"), np.array([1, -2], np.int64)]
    obj = np.empty(3, dtype=object)
    obj[:] = arrays
    path = _npz(tmp_path / "p.npz", {"params.npy": _npy_object(obj, protocol)})
    got = read_tensorlayer_params(path)
    for g, a in zip(got, arrays):
        assert g.dtype == torch.from_numpy(a.astype(a.dtype.newbyteorder("="))).dtype
        assert np.array_equal(g.numpy(), a)


def test_stacked_same_shape_params(tmp_path):
    buf = io.BytesIO()
    np.save(buf, np.arange(12, dtype=np.float32).reshape(3, 4))
    got = read_tensorlayer_params(_npz(tmp_path / "s.npz", {"params.npy": buf.getvalue()}))
    assert len(got) == 3 and torch.equal(got[1], torch.arange(4, 8, dtype=torch.float32))


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > " + os.devnull,))


def test_refuses_code_in_pickles(tmp_path):
    obj = np.empty(1, dtype=object)
    obj[0] = _Evil()
    path = _npz(tmp_path / "evil.npz", {"params.npy": _npy_object(obj)})
    with pytest.raises(UnsafePickleError, match="refused to load 'posix.system'|refused to load 'nt.system'"):
        read_tensorlayer_npz(path)
    text = np.empty(2, dtype=object)
    text[:] = ["not", "arrays"]
    with pytest.raises(CheckpointError, match="numeric array"):
        read_tensorlayer_npz(_npz(tmp_path / "text.npz", {"params.npy": _npy_object(text)}))


def test_bad_files(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_tensorlayer_npz(tmp_path / "missing.npz")
    (tmp_path / "junk.npz").write_bytes(b"PK\x03\x04 this is not a zip")
    with pytest.raises(CheckpointError, match="not a readable .npz"):
        read_tensorlayer_npz(tmp_path / "junk.npz")
    buf = io.BytesIO()
    np.save(buf, np.ones((4, 4), np.float32))
    with pytest.raises(CheckpointError, match="truncated"):
        read_tensorlayer_npz(_npz(tmp_path / "t.npz", {"w.npy": buf.getvalue()[:-7]}))
    with pytest.raises(CheckpointError, match="not a .npy"):
        read_tensorlayer_npz(_npz(tmp_path / "n.npz", {"w.npy": b"hello"}))
