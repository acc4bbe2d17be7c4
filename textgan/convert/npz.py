"""Read TensorLayer ``.npz`` weight files (zsdonghao/text-to-image vendors TensorLayer 1.4.3) without pickle risk.

Two layouts exist (``../shared/notes/tf_formats.md`` §4):

* ``tl.files.save_npz``: ``np.savez(name, params=[arrays...])``, one member ``params.npy`` holding the list in
  ``network.all_params`` order and **no names**. Arrays of different shapes make numpy store an object
  array, i.e. a pickle; it is read here with an unpickler that can only rebuild numpy arrays (and refuses
  every other global before anything runs). If all arrays had one shape numpy stacked them into a plain
  N-D array; its rows are the parameters.
* ``tl.files.save_npz_dict``: ``np.savez(name, **{var.name: value})``, one plain ``.npy`` per name.

Arrays keep TensorFlow's layouts (conv ``W`` HWIO, deconv ``W`` [h, w, out, in], dense ``W`` [in, out]); see
:mod:`textgan.convert.tf_mapping` for the transposes.
"""
from __future__ import annotations

import io
import os
import pickle
import struct
import zipfile
import zlib
from typing import Any, Dict, List, Union

import numpy as np
import torch

from .._pickle import _latin1_encode, _resolve, claims_beyond
from ..errors import CheckpointError, UnsafePickleError

__all__ = ["read_tensorlayer_npz", "read_tensorlayer_params"]

PathLike = Union[str, os.PathLike]

# What numpy writes for an object array of arrays (np.save pickles it; numpy 1.x and 2.x spellings), plus
# Python 3's protocol-2 spelling of bytes, which old numpy versions wrote.
_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
}


class _ArraysOnly(pickle.Unpickler):
    def __init__(self, file, what: str) -> None:
        super().__init__(file, encoding="latin1")
        self._what = what

    def find_class(self, module: str, name: str) -> Any:  # noqa: D401 - pickle API
        if (module, name) not in _ALLOWED:
            raise UnsafePickleError(f"{self._what}: refused to load '{module}.{name}'; a TensorLayer params file "
                                    f"only holds numpy arrays, and nothing from the file was executed")
        return _latin1_encode if module == "_codecs" else _resolve(module, name)

    def persistent_load(self, pid: Any) -> Any:  # noqa: D401 - pickle API
        raise UnsafePickleError(f"{self._what}: refused a persistent id; nothing from the file was executed")


class _ArraysOnlyPy(pickle._Unpickler):  # type: ignore[name-defined]
    """:class:`_ArraysOnly` on the pure-Python unpickler, for pickles whose size fields claim more than the file
    (see textgan._pickle.claims_beyond): CPython's C unpickler would allocate what they claim."""

    def __init__(self, file, what: str) -> None:
        pickle._Unpickler.__init__(self, file, encoding="latin1")  # type: ignore[attr-defined]
        self._what = what

    find_class = _ArraysOnly.find_class
    persistent_load = _ArraysOnly.persistent_load


def _read_npy(raw: bytes, what: str) -> np.ndarray:
    f = io.BytesIO(raw)
    try:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
        else:
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
    except (ValueError, SyntaxError, struct.error, EOFError, IndexError, TypeError) as e:
        raise CheckpointError(f"{what}: not a .npy array ({type(e).__name__}: {e})") from e
    if dtype.hasobject:
        try:
            rest = raw[f.tell():]
            unpickler = _ArraysOnlyPy if claims_beyond(rest) else _ArraysOnly
            arr = unpickler(io.BytesIO(rest), what).load()
        except UnsafePickleError:
            raise
        except Exception as e:  # the unpickler fails in many ways on garbage
            raise CheckpointError(f"{what}: corrupt pickled array ({type(e).__name__}: {e})") from e
        if not isinstance(arr, np.ndarray) or arr.shape != tuple(shape):
            raise CheckpointError(f"{what}: the pickle holds {type(arr).__name__}, not an array of shape {shape}")
        return arr
    count = int(np.prod(shape, dtype=np.int64))
    data = raw[f.tell():]
    if len(data) != count * dtype.itemsize:
        raise CheckpointError(f"{what}: {len(data)} data bytes for shape {tuple(shape)} of {dtype}; truncated file")
    arr = np.frombuffer(data, dtype=dtype, count=count)
    return arr.reshape(shape, order="F" if fortran else "C")


def _tensor(arr: Any, what: str) -> torch.Tensor:
    if not isinstance(arr, np.ndarray) or arr.dtype.hasobject or arr.dtype.kind not in "biufc":
        raise CheckpointError(f"{what}: expected a numeric array, found {type(arr).__name__} "
                              f"{getattr(arr, 'dtype', '')}")
    return torch.from_numpy(np.array(arr, dtype=arr.dtype.newbyteorder("="), order="C", copy=True))


def _members(path: PathLike) -> Dict[str, bytes]:
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such .npz file (check the path)")
    try:
        with zipfile.ZipFile(path) as z:
            members = [i for i in z.infolist() if not i.is_dir()]
            for i in members:
                # deflate expands at most ~1032x: a larger claimed size is a lie or a zip bomb; refuse it
                # before decompressing anything
                if i.file_size > 1100 * i.compress_size + (1 << 16):
                    raise CheckpointError(f"{path}: member {i.filename!r} claims {i.file_size} bytes from "
                                          f"{i.compress_size} compressed bytes; a corrupt file or a zip bomb")
            return {i.filename: z.read(i) for i in members}
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, NotImplementedError, ValueError,
            zlib.error, RuntimeError, IndexError) as e:  # RuntimeError: an "encrypted" member (a flipped flag bit)
        raise CheckpointError(f"{path}: not a readable .npz (zip) file ({e}); download it again") from e


def read_tensorlayer_npz(path: PathLike) -> Dict[str, torch.Tensor]:
    """All arrays of a TensorLayer ``.npz`` as ``{name: tensor}``, in file order.

    A ``save_npz`` file gives ``params/0``, ``params/1``, ... (``network.all_params`` order); a
    ``save_npz_dict`` file gives the variable names (e.g. ``generator/conv1/W_conv2d:0``). Other ``.npz``
    files give one entry per member (``.npy`` dropped).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        UnsafePickleError: a pickled member references anything but numpy arrays (nothing is executed).
        CheckpointError: the file is not an ``.npz`` or is corrupt.
    """
    out: Dict[str, torch.Tensor] = {}
    for member, raw in _members(path).items():
        name = member[:-4] if member.endswith(".npy") else member
        what = f"{os.fspath(path)}:{member}"
        arr = _read_npy(raw, what)
        if name == "params" and (arr.dtype.hasobject or arr.ndim >= 1):
            for i, item in enumerate(arr):
                out[f"params/{i}"] = _tensor(item, f"{what}[{i}]")
        else:
            out[name] = _tensor(arr, what)
    return out


def read_tensorlayer_params(path: PathLike) -> List[torch.Tensor]:
    """The positional parameter list of a ``tl.files.save_npz`` file (what ``tl.files.load_npz`` returns)."""
    tensors = read_tensorlayer_npz(path)
    params = [tensors[f"params/{i}"] for i in range(len(tensors)) if f"params/{i}" in tensors]
    if len(params) != len(tensors):
        raise CheckpointError(f"{os.fspath(path)}: not a save_npz file (members {sorted(tensors)[:5]}); read it "
                              f"with read_tensorlayer_npz, which keeps the names")
    return params
