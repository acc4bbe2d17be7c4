"""Read TensorFlow checkpoints into torch tensors without TensorFlow (V2 tensor bundles and V1 tables).

``read_tf_checkpoint(path)`` returns a lazy mapping ``{variable name: tensor}`` whose ``shapes`` and ``dtypes``
come from the index alone; a tensor's bytes are read (with mmap, by offset) and checked against their stored
CRC-32C only when it is looked up. Formats, from TensorFlow's sources (``tensor_bundle.cc``,
``tensor_slice_writer.cc``, ``table/*``) and checked against files written by TF 2.15
(see ``../shared/notes/tf_formats.md``):

* **V2** (TF >= 0.12): ``P.index`` is a table whose key ``""`` holds a BundleHeaderProto and every other key
  a BundleEntryProto (dtype, shape, shard, offset, size, masked crc32c, slices); the tensors are raw
  little-endian C-order bytes in ``P.data-SSSSS-of-NNNNN``. Strings are varint lengths, a masked crc of the
  lengths, then the bytes. Partitioned variables have a full entry with ``slices`` and one entry per slice
  under an OrderedCode key starting with ``\\x00`` (hidden from the listing, as TF's ``list_variables``).
* **V1** (TF <= 0.11, e.g. the StackGAN release): one table file; key ``""`` holds SavedTensorSlices.meta
  (names, shapes, dtypes, slices) and each slice is a TensorProto with its values in the typed repeated
  fields (``float_val``, ``half_val``...). Only table-block CRCs exist in V1.

Names, shapes and dtypes are TensorFlow's: nothing is transposed (see :mod:`textgan.convert.tf_mapping`).
``ckpt.read_all()`` reads everything at once and checks a V2 shard's CRCs a contiguous run at a time, which is
faster than ``dict(ckpt)``. Example::

    ckpt = read_tf_checkpoint("models/birds_model_164000.ckpt")
    print(ckpt.shapes["g_net/custom_conv2d/custom_conv2d/w"])  # (1, 1, 1024, 256): read from the index only
    weights = ckpt.read_all()
"""
from __future__ import annotations

import os
import re
import struct
import sys
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Tuple, Union

import numpy as np
import torch

from ..errors import CheckpointError
from ._tf_proto import DType, ProtoError
from ._tf_readers import V1Reader, V2Reader
from ._tf_table import ChecksumError, has_table_magic

__all__ = ["read_tf_checkpoint", "TFCheckpoint", "ChecksumError", "resolve_tf_checkpoint", "inspect_checkpoint"]

PathLike = Union[str, os.PathLike]
Value = Union[torch.Tensor, bytes, np.ndarray]
_SHARD_RE = re.compile(r"^(?P<prefix>.*)\.data-\d{5}-of-\d{5}$")
_V1_SHARD = "-?????-of-?????"
_UNREADABLE = ("resource", "variant")
# What malformed bytes can make numpy or struct raise below the readers' own checks: reported as corruption.
_MALFORMED = (ProtoError, ValueError, IndexError, OverflowError, struct.error)


# ----------------------------------------------------------------------------------------------- resolution

def _unescape(text: str) -> str:
    """Undo protobuf text-format C escapes (TF writes non-ASCII path bytes as octal)."""
    def repl(m: "re.Match[str]") -> str:
        if m.group(1):
            return chr(int(m.group(1), 8))
        if m.group(2):
            return chr(int(m.group(2), 16))
        return {"n": "\n", "t": "\t", "r": "\r"}.get(m.group(3), m.group(3))
    latin = re.sub(r"\\(?:([0-7]{1,3})|x([0-9a-fA-F]{1,2})|(.))", repl, text)
    try:
        return latin.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return latin


def _exists(prefix: Path) -> bool:
    p = str(prefix)
    return Path(p + ".index").is_file() or prefix.is_file() or bool(list(prefix.parent.glob(prefix.name + _V1_SHARD)))


def _from_state_file(state: Path) -> Path:
    """The checkpoint a ``checkpoint`` text file points at; another machine's absolute path is looked up
    next to the file."""
    try:
        text = state.read_text(encoding="utf-8", errors="replace")
    except OSError as e:
        raise CheckpointError(f"{state}: cannot read the checkpoint state file ({e})") from e
    m = re.search(r'^\s*model_checkpoint_path\s*:\s*"((?:[^"\\]|\\.)*)"', text, re.M)
    if not m:
        raise CheckpointError(f"{state}: no model_checkpoint_path line; pass the checkpoint prefix instead "
                              f"(e.g. {state.parent / 'model.ckpt-1000'})")
    stored = _unescape(m.group(1))
    base = re.split(r"[\\/]", stored)[-1]
    candidates = [Path(stored)] if os.path.isabs(stored) else [state.parent / stored]
    candidates.append(state.parent / base)
    for c in candidates:
        if _exists(c):
            return c
    raise FileNotFoundError(f"{state} points at {stored!r}, which is missing (also looked for "
                            f"{state.parent / base}); download the .index and .data-* files (or the V1 file) "
                            f"next to it, or pass the checkpoint prefix")


def resolve_tf_checkpoint(path: PathLike) -> Tuple[str, List[Path]]:
    """Find what ``path`` names: ``("v2", [prefix])`` or ``("v1", [file, ...])``.

    ``path`` may be a prefix (``model.ckpt-42``), its ``.index``/``.data-*``/``.meta`` file, a V1 file, a
    ``checkpoint`` state file or a directory holding one (or holding a single ``*.index``).
    """
    p = Path(path)
    if p.is_dir():
        if (p / "checkpoint").is_file():
            p = _from_state_file(p / "checkpoint")
        else:
            found = sorted(p.glob("*.index"))
            if len(found) != 1:
                raise FileNotFoundError(f"{p}: a directory without a 'checkpoint' file and with "
                                        f"{len(found)} *.index files; pass the checkpoint prefix")
            p = found[0]
    elif p.name == "checkpoint" and p.is_file() and not has_table_magic(_tail(p)):
        p = _from_state_file(p)
    name = str(p)
    for suffix in (".index", ".meta"):
        if name.endswith(suffix) and (p.is_file() or Path(name[:-len(suffix)] + ".index").is_file()):
            p = Path(name[:-len(suffix)])
            name = str(p)
    m = _SHARD_RE.match(name)
    if m and Path(m.group("prefix") + ".index").is_file():
        p = Path(m.group("prefix"))
    if Path(str(p) + ".index").is_file():
        return "v2", [p]
    if p.is_file():
        return "v1", [p]
    shards = sorted(p.parent.glob(p.name + _V1_SHARD))
    if shards:
        return "v1", shards
    raise FileNotFoundError(f"{path}: no TensorFlow checkpoint there (looked for {p}.index, a V1 file {p} and "
                            f"{p}{_V1_SHARD}); check the path and download every file of the checkpoint")


def _tail(path: Path) -> bytes:
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        f.seek(max(0, f.tell() - 48))
        return f.read()


def _to_torch(arr: np.ndarray, dt: DType) -> torch.Tensor:
    if dt.name == "bool":
        return torch.from_numpy(arr != 0)
    if not (arr.flags.c_contiguous and arr.flags.writeable):
        arr = arr.copy()  # a read-only view into the mmap or a bytes object: the tensor must own its memory
    t = torch.from_numpy(arr)
    if dt.torch in ("bfloat16", "float8_e5m2", "float8_e4m3fn"):
        t = t.view(getattr(torch, dt.torch))
    return t


# ----------------------------------------------------------------------------------------------- public

class TFCheckpoint(Mapping[str, Value]):
    """A TensorFlow checkpoint as a read-only mapping ``{variable name: value}``, read lazily.

    Values are torch tensors with TF's dtype and shape (a 0-d tensor for a scalar); ``DT_STRING`` tensors
    come back as ``bytes`` (scalars) or numpy object arrays of ``bytes``. ``resource``/``variant`` entries
    (never weights) are left out and listed in :attr:`skipped`.

    Attributes:
        path: the checkpoint prefix (V2) or file (V1).
        format: ``"v2"`` or ``"v1"``.
        shapes: ``{name: shape tuple}``, from the index only.
        dtypes: ``{name: dtype name}`` ("float32", "bfloat16", "string", ...), from the index only.
        skipped: ``{name: dtype name}`` of entries that hold no readable tensor.
    """

    def __init__(self, path: PathLike, *, verify: bool = True) -> None:
        kind, files = resolve_tf_checkpoint(path)
        self.format = kind
        self.path = files[0]
        self.verify = verify
        try:
            self._reader = V2Reader(files[0], verify) if kind == "v2" else V1Reader(files, verify)
        except CheckpointError:
            raise
        except _MALFORMED as e:
            raise CheckpointError(f"{self.path}: corrupt checkpoint ({type(e).__name__}: {e}); "
                                  f"download it again") from e
        self.shapes: Dict[str, Tuple[int, ...]] = {}
        self.dtypes: Dict[str, str] = {}
        self.skipped: Dict[str, str] = {}
        self._dt: Dict[str, DType] = {}
        for name, shape, dt in sorted(self._reader.listing(), key=lambda x: x[0].encode("utf-8")):
            if dt.name in _UNREADABLE:
                self.skipped[name] = dt.name
                continue
            self.shapes[name], self.dtypes[name], self._dt[name] = shape, dt.name, dt
        if self.skipped:
            warnings.warn(f"{self.path}: skipped {len(self.skipped)} {'/'.join(sorted(set(self.skipped.values())))} "
                          f"entries, which hold no weights: {sorted(self.skipped)[:5]}", stacklevel=3)

    def tf_dtype(self, name: str) -> str:
        """The dtype as TensorFlow prints it (``DT_FLOAT``, ``DT_HALF``, ...)."""
        return self._dt[name].tf_name

    def __getitem__(self, name: str) -> Value:
        return self._get(name, check=True)

    def _get(self, name: str, check: bool) -> Value:
        dt = self._dt.get(name)
        if dt is None:
            if name in self.skipped:
                raise KeyError(f"{name!r} is a {self.skipped[name]} entry, which holds no tensor")
            raise KeyError(name)
        try:
            arr = self._reader.read(name, check)
        except CheckpointError:
            raise
        except _MALFORMED as e:
            raise CheckpointError(f"{self.path}: corrupt entry {name!r} ({type(e).__name__}: {e}); download the "
                                  f"checkpoint again") from e
        if dt.name == "string":
            return arr.reshape(()).item() if arr.ndim == 0 else arr
        return _to_torch(arr, dt)

    def read_all(self, names: Optional[Iterable[str]] = None) -> Dict[str, Value]:
        """Every tensor (or those in ``names``) as a dict, like ``dict(ckpt)`` but faster with ``verify``:
        a V2 shard's CRCs are checked one contiguous run of tensors at a time, in a background thread while
        the tensors are copied out; a tensor whose run does not match is re-read with its own check."""
        names = list(self) if names is None else list(names)
        for name in names:
            if name not in self._dt:
                raise KeyError(f"{self.path} has no tensor {name!r}")
        reader = self._reader
        if not (self.verify and isinstance(reader, V2Reader)):
            return {name: self[name] for name in names}
        self._guard(reader.open_shards, names)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="textgan-tf-verify") as pool:
            job = pool.submit(self._guard, reader.prevalidate, names)
            try:
                values = {name: self._get(name, check=False) for name in names}
            finally:
                error = job.exception()
        if error is not None:
            raise error
        for name in names:
            if not reader.verified(name):
                values[name] = self[name]  # strings, and tensors of runs that failed: checked one by one
        return values

    def _guard(self, fn, *args):
        try:
            return fn(*args)
        except CheckpointError:
            raise
        except _MALFORMED as e:
            raise CheckpointError(f"{self.path}: corrupt checkpoint ({type(e).__name__}: {e})") from e

    def __iter__(self) -> Iterator[str]:
        return iter(self.shapes)

    def __len__(self) -> int:
        return len(self.shapes)

    def __contains__(self, name: object) -> bool:
        return name in self.shapes

    def close(self) -> None:
        """Release the memory maps (tensors already returned stay valid: they own their memory)."""
        self._reader.close()

    def __enter__(self) -> "TFCheckpoint":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"TFCheckpoint({str(self.path)!r}, format={self.format!r}, {len(self)} tensors)"


def read_tf_checkpoint(path: PathLike, *, verify: bool = True) -> TFCheckpoint:
    """Open a TensorFlow checkpoint (V2 or V1) as a lazy ``{name: tensor}`` mapping, without TensorFlow.

    Args:
        path: a checkpoint prefix (``model.ckpt-42``), its ``.index`` file, a V1 checkpoint file, a
            ``checkpoint`` state file or a directory holding one. A state file's absolute paths from another
            machine are resolved next to the file.
        verify: check the masked CRC-32C of every table block and of every tensor as it is read
            (vectorised; turn it off for speed on trusted files).

    Raises:
        FileNotFoundError: nothing at ``path`` looks like a checkpoint.
        CheckpointError: the files are truncated, corrupt or of another format;
            :class:`ChecksumError` (a subclass) when a stored checksum does not match.
    """
    return TFCheckpoint(path, verify=verify)


def inspect_checkpoint(path: PathLike, *, tensor: Optional[str] = None, verify: bool = True, file=None) -> int:
    """Print ``name (DT_TYPE) [d0,d1,...]`` per variable, as TensorFlow's ``inspect_checkpoint`` does, and the
    values of ``tensor`` if given; the ``textgan convert tf-inspect`` command. Returns an exit code."""
    out = sys.stdout if file is None else file
    with read_tf_checkpoint(path, verify=verify) as ckpt:
        if tensor is None:
            for name, shape in ckpt.shapes.items():
                print(f"{name} ({ckpt.tf_dtype(name)}) [{','.join(map(str, shape))}]", file=out)
            for name, kind in ckpt.skipped.items():
                print(f"{name} (DT_{kind.upper()}) [not read]", file=out)
            return 0
        if tensor not in ckpt:
            print(f"textgan convert tf-inspect: error: {path} has no tensor {tensor!r}; run without --tensor "
                  f"to list the names", file=sys.stderr)
            return 2
        value = ckpt[tensor]
        print(f"tensor_name:  {tensor}", file=out)
        print(value, file=out)
    return 0
