"""Lua Torch7 (``.t7``) files: reading them without Lua, and turning Lua ``nn`` modules into PyTorch modules.

:func:`read_torch7` reads a binary ``torch.save`` file with ``torchfile`` and returns plain Python containers:
Lua tables become :class:`LuaTable` (a ``dict``) or ``list`` (keys 1..n), torch classes such as nn modules become
:class:`Torch7Object` (a ``dict`` of their fields with ``typename`` and ``version``), tensors become **copied**
``torch.Tensor`` (never views of the shared, flattened storages Lua's ``getParameters()`` leaves behind), strings
become ``str`` (``bytes`` where they are not UTF-8), whole numbers ``int``. ``torch.Cuda*Tensor`` is read as the
CPU dtype. Object identity is kept: a table referenced twice is the same Python object, and tables and objects
hash by identity so that they can be keys, as in Lua (nngraph's ``children`` and ``mapindex`` need that).

:func:`from_lua_module` maps a Lua module tree onto equivalent PyTorch modules that compute what Lua computes
on the same input layout (``TemporalConvolution`` takes (B, T, C) and its frame-major weight is re-laid out for
``conv1d``; ``SpatialFullConvolution`` → ``ConvTranspose2d``; BatchNorm files of both the old ``running_std``
layout (class version < 2) and the new one; Threshold/ReLU/LeakyReLU; Sequential/Concat/ParallelTable; nngraph
``gModule``\\ s executed in their forward-node order). Modules are evaluated as after ``net:evaluate()``. Lua's
in-place flags are dropped: the networks here never rely on aliasing. Family converters
(``char_cnn_rnn_from_torch7``, ``gan_int_cls_from_torch7``) use the same leaf conversions.

Paths in error messages use Lua's 1-based indices, as ``net:get(i)``: ``net.modules[2].modules[4]``.
"""
from __future__ import annotations

import contextlib
import os
import struct
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn as nn

from ..errors import ArchitectureMismatchError, CheckpointError

__all__ = [
    "read_torch7", "LuaTable", "Torch7Object", "LuaFunction", "from_lua_module", "lua_class", "ordered",
    "GModule", "graph_nodes", "GraphNode", "SUPPORTED_MODULES", "linear", "temporal_convolution",
    "spatial_convolution", "full_convolution", "batch_norm", "char_cnn_rnn_from_torch7", "gan_int_cls_from_torch7",
]

PathLike = Union[str, os.PathLike]
_RECURSION_LIMIT = 100_000  # torchfile reads recursively; unrolled nngraph RNNs nest thousands of levels deep


# ------------------------------------------------------------------------------------------- containers


class LuaTable(dict):
    """A Lua table that is not a 1..n list. A ``dict`` that hashes by identity (Lua tables can be keys);
    fields are also attributes (``t.weight``)."""

    __hash__ = object.__hash__

    def __getattr__(self, key: str) -> Any:
        try:
            return self[key]
        except KeyError:
            raise AttributeError(key) from None

    def __repr__(self) -> str:  # short, and safe on recursive tables
        keys = [repr(k) if isinstance(k, (str, bytes, int, float)) else f"<{type(k).__name__}>" for k in list(self)[:8]]
        return f"LuaTable({len(self)} entries: {', '.join(keys)}{', ...' if len(self) > 8 else ''})"


class Torch7Object(LuaTable):
    """An instance of a Lua torch class (``nn.Linear``, ``nngraph.Node``, ...): its fields, plus ``typename``
    (``"nn.Linear"``) and ``version`` (the class version written in the file, e.g. 1 for old BatchNorm)."""

    def __init__(self, typename: str, version: int) -> None:
        super().__init__()
        self.__dict__["typename"] = typename
        self.__dict__["version"] = version

    def __getattr__(self, key: str) -> Any:
        if key in ("typename", "version"):
            return self.__dict__[key]
        return super().__getattr__(key)

    def __repr__(self) -> str:
        return f"Torch7Object({self.typename!r}, fields={sorted(map(str, self))})"


@dataclass(frozen=True)
class LuaFunction:
    """A serialised Lua function: LuaJIT/Lua bytecode and its upvalues (never executed)."""

    size: int
    dumped: bytes
    upvalues: Any


def lua_class(obj: Any) -> Optional[str]:
    """The class name after the package, ``"Linear"`` for ``nn.Linear`` and ``cudnn.Linear``; None if not an object."""
    return obj.typename.rpartition(".")[2] if isinstance(obj, Torch7Object) else None


def ordered(table: Any) -> List[Any]:
    """Entries 1..n of a Lua table in order, whether it came back as a list or as a dict with extra keys
    (nngraph's ``children`` and ``mapindex`` hold ``[i] = x`` and ``[x] = i``)."""
    if table is None:
        return []
    if isinstance(table, list):
        return table
    out, i = [], 1
    while i in table:
        out.append(table[i])
        i += 1
    return out


# ------------------------------------------------------------------------------------------- reading


def _torchfile():
    try:
        import torchfile
    except ImportError as e:  # pragma: no cover - a declared dependency
        from ..errors import OptionalDependencyError

        raise OptionalDependencyError("reading .t7 files needs the 'torchfile' package: pip install torchfile") from e
    # torchfile knows every Cuda* type but the long ones, which cutorch-era max-pooling indices use; its
    # documented extension point is its type registry
    if b"torch.CudaLongTensor" not in torchfile.type_handlers:
        torchfile.add_tensor_reader(b"torch.CudaLongTensor", dtype=np.int64)
        torchfile.add_storage_reader(b"torch.CudaLongStorage", dtype=np.int64)
    for name, handler in list(torchfile.type_handlers.items()):
        kind = name.decode("latin-1").rsplit(".", 1)[-1].replace("Cuda", "")
        if kind.endswith("Storage") and not getattr(handler, "bounded", False):
            itemsize = _STORAGE_ITEMSIZE.get(kind[: -len("Storage")] or "Float")
            if itemsize:
                torchfile.type_handlers[name] = _bounded_storage(handler, itemsize)
        elif kind.endswith("Tensor") and kind[: -len("Tensor")] in _STORAGE_ITEMSIZE | {"": 4} \
                and not getattr(handler, "bounded", False):
            torchfile.type_handlers[name] = _bounded_tensor(handler)
    return torchfile


def _byte_bounds(arr: np.ndarray):
    try:
        return np.lib.array_utils.byte_bounds(arr)  # numpy >= 2
    except AttributeError:  # numpy 1.x
        return np.byte_bounds(arr)


def _bounded_tensor(handler: Callable) -> Callable:
    """torchfile's tensor reader, checked: it makes the tensor with ``as_strided`` from the sizes, strides and
    offset in the file, which numpy does not bound-check, so corrupt ones would address memory outside the
    storage (reading it can crash the interpreter). The view must lie inside its storage."""
    def read_tensor(reader, version):
        arr = handler(reader, version)
        if getattr(reader, "check_count", None) is None or not isinstance(arr, np.ndarray) or arr.size == 0:
            return arr
        root = arr
        while getattr(root, "base", None) is not None:
            root = root.base
        if not isinstance(root, np.ndarray) or any(s < 0 for s in arr.strides):
            raise EOFError("a tensor with negative strides or without a storage")
        low, high = _byte_bounds(arr)
        base_low, base_high = _byte_bounds(root)
        if low < base_low or high > base_high:
            raise EOFError(f"a tensor of size {list(arr.shape)} and strides {[s // arr.itemsize for s in arr.strides]} "
                           f"reaches outside its storage of {root.size} elements")
        return arr

    read_tensor.bounded = True
    return read_tensor


_C_LONG = struct.calcsize("l")  # torchfile reads longs as the platform's C long unless force_8bytes_long
_STORAGE_ITEMSIZE = {"Byte": 1, "Char": 1, "Short": 2, "Int": 4, "Long": 8, "Float": 4, "Double": 8}


def _bounded_storage(handler: Callable, itemsize: int) -> Callable:
    """torchfile's storage reader, but a storage claiming more bytes than the file has left is an error
    *before* ``np.fromfile`` allocates the claimed size (a corrupt size field could claim terabytes)."""
    def read_storage(reader, version):
        check = getattr(reader, "check_count", None)
        if check is not None:
            pos = reader.f.tell()
            check(reader.read_long(), itemsize, "storage")
            reader.f.seek(pos)
        return handler(reader, version)

    read_storage.bounded = True
    return read_storage


def _reader_class():
    torchfile = _torchfile()

    class _CheckedReader(torchfile.T7Reader):
        """torchfile's reader, plus a check that every storage got all the elements its header announced:
        torchfile reads storages with ``np.fromfile``, which silently returns fewer on a truncated file."""

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._last_long, self._checked = None, set()
            self._file_size = os.fstat(self.f.fileno()).st_size

        def check_count(self, count: int, itemsize: int, what: str) -> None:
            """Refuse a length field that claims more bytes than the rest of the file (before allocating)."""
            left = self._file_size - self.f.tell()
            if count < 0 or count * itemsize > left:
                raise EOFError(f"a {what} claims {count} x {itemsize} bytes but only {left} bytes are left")

        def read_string(self, disable_utf8=False):
            pos = self.f.tell()
            self.check_count(self.read_int(), 1, "string")
            self.f.seek(pos)
            return super().read_string(disable_utf8)

        def read_long_array(self, n):
            self.check_count(n, 8 if self.force_8bytes_long else _C_LONG, "size/stride array")
            return super().read_long_array(n)

        def read_long(self):
            self._last_long = super().read_long()
            return self._last_long

        def read_obj(self):
            obj = super().read_obj()
            if isinstance(obj, torchfile.TorchObject):
                # an object whose contents are (a chain back to) itself: torchfile's __getitem__ then recurses
                # through C frames for ever, which under the raised recursion limit overflows the C stack
                seen, inner = {id(obj)}, obj._obj
                while isinstance(inner, torchfile.TorchObject):
                    if id(inner) in seen:
                        raise EOFError("a Torch7 object that contains itself")
                    seen.add(id(inner))
                    inner = inner._obj
            # a storage is the only fresh, base-less array; its size is the long read just before its data
            if type(obj) is np.ndarray and obj.base is None and obj.size and id(obj) not in self._checked:
                self._checked.add(id(obj))
                if self._last_long is not None and obj.size < self._last_long:
                    raise EOFError(f"a storage announced {self._last_long} elements but only {obj.size} follow")
            return obj

    return _CheckedReader


@contextlib.contextmanager
def _deep_recursion():
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, _RECURSION_LIMIT))
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


_ASCII_HINT = (
    "it is a Torch7 file in the ASCII format (torch.save(path, obj, 'ascii')), which torchfile cannot read. "
    "Re-save it in the binary format with Lua Torch: "
    "th -e \"require 'nn'; require 'nngraph'; torch.save('{stem}_binary.t7', torch.load('{name}', 'ascii'))\" "
    "(add require 'cunn'/'cudnn' if the network uses them), then convert {stem}_binary.t7"
)


def read_torch7(path: PathLike) -> Any:
    """Read a binary Lua Torch7 file into plain Python containers with copied torch tensors (module docstring).

    Raises:
        FileNotFoundError: no such file.
        CheckpointError: empty, truncated or corrupt file; an ASCII-format file (the message says how to
            re-save it as binary); half-precision tensors, which torchfile cannot read.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such Torch7 file (check the path)")
    size = path.stat().st_size
    if size == 0:
        raise CheckpointError(f"{path}: the file is empty; download it again")
    with open(path, "rb") as f:
        head = f.read(16)
    if head[:1].isdigit() and b"\n" in head:
        raise CheckpointError(f"{path}: " + _ASCII_HINT.format(name=path.name, stem=path.stem))
    if len(head) < 4:
        raise CheckpointError(f"{path}: only {len(head)} bytes, the Torch7 file is truncated; download it again")
    if int.from_bytes(head[:4], "little") not in range(0, 9):
        raise CheckpointError(f"{path}: not a Torch7 binary file (it does not start with a Torch7 type tag); "
                              "pass the .t7 file as released")
    try:
        with open(path, "rb") as f, _deep_recursion():
            # torchfile's own list heuristic compares each element with the table (`elem == obj`), which numpy 2
            # refuses for tensors ("invalid __array_struct__"): lists of tensors are made by _Converter instead
            raw = _reader_class()(f, use_list_heuristic=False, use_int_heuristic=True).read_obj()
            return _Converter(str(path)).convert(raw)
    except NotImplementedError as e:
        raise CheckpointError(f"{path}: {e}; torchfile cannot read half-precision tensors: re-save the network "
                              "in Lua after net:float()") from e
    except RecursionError as e:
        raise CheckpointError(f"{path}: nested too deeply to read ({e})") from e
    except CheckpointError:
        raise
    except Exception as e:  # struct.error, EOFError, ValueError, MemoryError, T7ReaderException, ...
        data = path.read_bytes()
        if b"HalfTensor" in data or b"HalfStorage" in data:  # torchfile's own NotImplementedError fails to format
            raise CheckpointError(f"{path}: holds half-precision tensors, which torchfile cannot read: re-save the "
                                  "network in Lua after net:float()") from e
        raise CheckpointError(
            f"{path}: cannot be read as a Torch7 binary file, it is truncated or corrupt "
            f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}); download it again") from e


def _is_sequence(table: dict) -> bool:
    """Keys exactly 1..n: n distinct positive integers summing to n(n+1)/2 can only be those."""
    n = len(table)
    return all(type(k) is int and k > 0 for k in table) and sum(table) == n * (n + 1) // 2


class _Converter:
    """torchfile objects → plain containers, memoised by identity so shared and recursive structure survives."""

    def __init__(self, source: str) -> None:
        self.source, self.memo = source, {}

    def convert(self, obj: Any) -> Any:
        torchfile = _torchfile()
        if obj is None or isinstance(obj, (bool, int, float)):
            return obj
        if isinstance(obj, bytes):
            try:
                return obj.decode("utf-8")
            except UnicodeDecodeError:
                return obj
        key = id(obj)
        if key in self.memo:
            return self.memo[key]
        if isinstance(obj, np.ndarray):
            out = self.memo[key] = self._tensor(obj)
        elif isinstance(obj, list):
            out = self.memo[key] = []
            for v in obj:  # a plain loop: no C-level frame per nesting level
                out.append(self.convert(v))
        elif isinstance(obj, torchfile.TorchObject):
            out = self.memo[key] = Torch7Object(self.convert(obj.torch_typename()), int(obj._version_number))
            fields = obj._obj
            items = enumerate(fields, 1) if isinstance(fields, list) else (fields or {}).items()
            for k, v in items:
                out[self.convert(k)] = self.convert(v)
        elif isinstance(obj, dict) and _is_sequence(obj):
            out = self.memo[key] = []  # a Lua table with keys 1..n (or none): a list, as torchfile's heuristic
            for i in range(1, len(obj) + 1):
                out.append(self.convert(obj[i]))
        elif isinstance(obj, dict):
            out = self.memo[key] = LuaTable()
            for k, v in obj.items():
                out[self.convert(k)] = self.convert(v)
        elif isinstance(obj, torchfile.LuaFunction):
            out = self.memo[key] = LuaFunction(obj.size, obj.dumped, None)
            object.__setattr__(out, "upvalues", self.convert(obj.upvalues))
        else:  # pragma: no cover - torchfile returns nothing else
            raise CheckpointError(f"{self.source}: unexpected object {type(obj).__name__} from torchfile")
        return out

    def _tensor(self, arr: np.ndarray) -> torch.Tensor:
        root = arr
        while not (isinstance(root, np.ndarray) and root.base is None) and getattr(root, "base", None) is not None:
            root = root.base
        if isinstance(root, np.ndarray) and arr.size and root is not arr:
            start = arr.__array_interface__["data"][0] - root.__array_interface__["data"][0]
            end = start + sum((n - 1) * s for n, s in zip(arr.shape, arr.strides)) + arr.itemsize
            if start < 0 or end > root.nbytes:
                raise EOFError(f"a tensor of shape {tuple(arr.shape)} reaches past the end of its storage")
        return torch.from_numpy(np.array(arr, copy=True))


# ------------------------------------------------------------------------------------ Lua module semantics


def _field(obj: Torch7Object, name: str, where: str, default: Any = ...) -> Any:
    if name in obj and obj[name] is not None:
        return obj[name]
    if default is ...:
        raise ArchitectureMismatchError(f"{where}: {obj.typename} has no field {name!r}; the file is damaged "
                                        "or was written by an unexpected version of Lua nn")
    return default


def _param(t: Any, where: str, name: str, dtype: torch.dtype) -> nn.Parameter:
    if not isinstance(t, torch.Tensor) or t.numel() == 0:
        raise ArchitectureMismatchError(f"{where}: field {name!r} holds no tensor")
    return nn.Parameter(t.detach().to(dtype).clone())


class LuaTemporalConvolution(nn.Conv1d):
    """``nn.TemporalConvolution``: input (B, T, C) or (T, C), time-major like Lua; a ``Conv1d`` underneath,
    whose (out, in, kW) weight is Lua's frame-major (out, kW·in) weight re-laid out."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        single = x.dim() == 2
        y = super().forward((x[None] if single else x).transpose(1, 2)).transpose(1, 2)
        return y[0] if single else y


class LuaTemporalMaxPooling(nn.MaxPool1d):
    """``nn.TemporalMaxPooling``: max over windows of frames of a (B, T, C) or (T, C) input."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        single = x.dim() == 2
        y = super().forward((x[None] if single else x).transpose(1, 2)).transpose(1, 2)
        return y[0] if single else y


def temporal_convolution(obj: Torch7Object, where: str, dtype: torch.dtype = torch.float32) -> LuaTemporalConvolution:
    """``nn.TemporalConvolution`` → :class:`LuaTemporalConvolution` (weights copied)."""
    cin, cout = int(_field(obj, "inputFrameSize", where)), int(_field(obj, "outputFrameSize", where))
    kw, dw = int(_field(obj, "kW", where)), int(_field(obj, "dW", where, 1))
    w = _field(obj, "weight", where)
    if tuple(w.shape) != (cout, kw * cin):
        raise ArchitectureMismatchError(f"{where}: TemporalConvolution weight is {tuple(w.shape)}, expected "
                                        f"({cout}, {kw * cin}) for {cin}->{cout} channels and kW={kw}")
    with torch.device("meta"):
        conv = LuaTemporalConvolution(cin, cout, kw, stride=dw)
    # frame-major (out, kW*in) -> (out, kW, in) -> (out, in, kW)
    conv.weight = _param(w.reshape(cout, kw, cin).permute(0, 2, 1), where, "weight", dtype)
    conv.bias = _param(_field(obj, "bias", where), where, "bias", dtype)
    return conv


def linear(obj: Torch7Object, where: str, dtype: torch.dtype = torch.float32) -> nn.Linear:
    """``nn.Linear`` → ``nn.Linear`` (weight (out, in) as in PyTorch; ``noBias()`` layers have no bias)."""
    w = _field(obj, "weight", where)
    if w.dim() != 2:
        raise ArchitectureMismatchError(f"{where}: Linear weight has shape {tuple(w.shape)}, expected 2-D")
    bias = obj.get("bias")
    with torch.device("meta"):
        lin = nn.Linear(w.shape[1], w.shape[0], bias=isinstance(bias, torch.Tensor) and bias.numel() > 0)
    lin.weight = _param(w, where, "weight", dtype)
    if lin.bias is not None:
        lin.bias = _param(bias, where, "bias", dtype)
    return lin


def spatial_convolution(obj: Torch7Object, where: str, dtype: torch.dtype = torch.float32) -> nn.Conv2d:
    """``nn``/``cudnn.SpatialConvolution`` (and the 2-D weights of old SpatialConvolutionMM) → ``Conv2d``."""
    cin, cout = int(_field(obj, "nInputPlane", where)), int(_field(obj, "nOutputPlane", where))
    kw, kh = int(_field(obj, "kW", where)), int(_field(obj, "kH", where))
    pad = int(obj.get("padding", 0) or 0)  # files older than padW/padH have one `padding`
    groups = int(obj.get("groups", 1) or 1)
    w = _field(obj, "weight", where)
    if w.numel() != cout * (cin // groups) * kh * kw:
        raise ArchitectureMismatchError(f"{where}: SpatialConvolution weight {tuple(w.shape)} does not fit "
                                        f"{cin}->{cout} channels with a {kh}x{kw} kernel")
    bias = obj.get("bias")
    with torch.device("meta"):
        conv = nn.Conv2d(cin, cout, (kh, kw), (int(_field(obj, "dH", where, 1)), int(_field(obj, "dW", where, 1))),
                         (int(obj.get("padH", pad) or 0), int(obj.get("padW", pad) or 0)), groups=groups,
                         bias=isinstance(bias, torch.Tensor) and bias.numel() > 0)
    conv.weight = _param(w.reshape(cout, cin // groups, kh, kw), where, "weight", dtype)
    if conv.bias is not None:
        conv.bias = _param(bias, where, "bias", dtype)
    return conv


def full_convolution(obj: Torch7Object, where: str, dtype: torch.dtype = torch.float32) -> nn.ConvTranspose2d:
    """``nn``/``cudnn.SpatialFullConvolution`` → ``ConvTranspose2d``: the weight is (nIn, nOut, kH, kW) in
    both, and ``adjW``/``adjH`` become ``output_padding``."""
    cin, cout = int(_field(obj, "nInputPlane", where)), int(_field(obj, "nOutputPlane", where))
    kw, kh = int(_field(obj, "kW", where)), int(_field(obj, "kH", where))
    w = _field(obj, "weight", where)
    if tuple(w.shape) != (cin, cout, kh, kw):
        raise ArchitectureMismatchError(f"{where}: SpatialFullConvolution weight is {tuple(w.shape)}, expected "
                                        f"({cin}, {cout}, {kh}, {kw})")
    bias = obj.get("bias")
    with torch.device("meta"):
        conv = nn.ConvTranspose2d(
            cin, cout, (kh, kw), (int(_field(obj, "dH", where, 1)), int(_field(obj, "dW", where, 1))),
            (int(_field(obj, "padH", where, 0)), int(_field(obj, "padW", where, 0))),
            (int(obj.get("adjH", 0) or 0), int(obj.get("adjW", 0) or 0)),
            bias=isinstance(bias, torch.Tensor) and bias.numel() > 0)
    conv.weight = _param(w, where, "weight", dtype)
    if conv.bias is not None:
        conv.bias = _param(bias, where, "bias", dtype)
    return conv


def batch_norm(obj: Torch7Object, where: str, dtype: torch.dtype = torch.float32) -> nn.modules.batchnorm._BatchNorm:
    """``(Spatial)BatchNormalization`` (nn or cudnn) → ``BatchNorm1d``/``BatchNorm2d`` in eval mode.

    Class version < 2 files keep ``running_std``, an inverse standard deviation; Lua's ``BN:read`` turns it
    into ``running_var = running_std^-2 - eps``, and so does this.
    """
    mean = _field(obj, "running_mean", where)
    eps = float(obj.get("eps", 1e-5))
    if isinstance(obj.get("running_var"), torch.Tensor) and obj["running_var"].numel():
        var = obj["running_var"]
    elif isinstance(obj.get("running_std"), torch.Tensor):
        var = obj["running_std"].double().pow(-2).sub(eps)
    else:
        raise ArchitectureMismatchError(f"{where}: {obj.typename} has neither running_var nor running_std")
    weight, bias = obj.get("weight"), obj.get("bias")
    affine = isinstance(weight, torch.Tensor) and weight.numel() > 0
    cls = nn.BatchNorm2d if lua_class(obj).startswith(("Spatial", "Volumetric")) else nn.BatchNorm1d
    with torch.device("meta"):
        bn = cls(mean.numel(), eps=eps, momentum=float(obj.get("momentum", 0.1)), affine=affine)
    if affine:
        bn.weight = _param(weight, where, "weight", dtype)
        bn.bias = _param(bias, where, "bias", dtype)
    bn.running_mean = mean.detach().to(dtype).clone()
    bn.running_var = var.detach().to(dtype).clone()
    bn.num_batches_tracked = torch.zeros((), dtype=torch.long)
    return bn.eval()


def threshold(obj: Torch7Object, where: str) -> nn.Module:
    """``nn.Threshold(th, v)``: ``y = x if x > th else v`` (Lua's defaults th = 1e-6, v = 0; ReLU is (0, 0))."""
    th, val = float(obj.get("threshold", 1e-6)), float(obj.get("val", 0.0))
    return nn.ReLU() if th == 0.0 and val == 0.0 else nn.Threshold(th, val)


# -- table modules (Lua containers that pass tables of tensors around) and other parameter-free modules


def _lua_dim(dim: int, n_input_dims: Optional[int], x: torch.Tensor) -> int:
    """Lua's 1-based (possibly negative) dimension, shifted by one in batch mode (``nInputDims``), 0-based."""
    if dim < 0:
        return x.dim() + dim
    return dim if n_input_dims is not None and x.dim() == n_input_dims + 1 else dim - 1


class LuaFunctional(nn.Module):
    """A parameter-free Lua module (CAddTable, JoinTable, Replicate, View, ...) as the function it computes."""

    def __init__(self, name: str, fn: Callable[[Any], Any]) -> None:
        super().__init__()
        self.name, self.fn = name, fn

    def forward(self, x: Any) -> Any:
        return self.fn(x)

    def extra_repr(self) -> str:
        return self.name


class _Table(nn.Module):
    """``nn.ConcatTable`` (every module gets the input) or ``nn.ParallelTable`` (module i gets input i)."""

    def __init__(self, modules: Sequence[nn.Module], parallel: bool) -> None:
        super().__init__()
        self.modules_, self.parallel = nn.ModuleList(modules), parallel

    def forward(self, x: Any) -> List[Any]:
        if not self.parallel:
            return [m(x) for m in self.modules_]
        if len(x) != len(self.modules_):
            raise ValueError(f"ParallelTable of {len(self.modules_)} modules got {len(x)} inputs")
        return [m(v) for m, v in zip(self.modules_, x)]


def _join(dimension: int, n_input_dims: Optional[int]):
    def join(xs):
        # like Lua, each input is copied into its slice by element count: (B, 100, 1, 1) noise and a (B, 128)
        # text code join into (B, 228, 1, 1)
        ref = xs[0]
        d = _lua_dim(dimension, n_input_dims, ref)
        return torch.cat([x.reshape(*ref.shape[:d], -1, *ref.shape[d + 1:]) for x in xs], d)
    return join


def _replicate(n: int, dim: int, ndim: Optional[int]):
    def replicate(x):
        rdim = dim - 1 + (1 if ndim is not None and x.dim() > ndim else 0)
        y = x.unsqueeze(rdim)
        return y.expand(*y.shape[:rdim], n, *y.shape[rdim + 1:])
    return replicate


def _view(sizes: List[int], num_input_dims: Optional[int]):
    def view(x):
        if num_input_dims is not None and x.dim() > num_input_dims:
            return x.reshape(*x.shape[: x.dim() - num_input_dims], *sizes)
        if -1 not in sizes and int(np.prod(sizes)) != x.numel():
            return x.reshape(-1, *sizes)  # Lua infers a batch dimension
        return x.reshape(*sizes)
    return view


def _reduce(op):
    def apply(xs):
        out = xs[0]
        for x in xs[1:]:
            out = op(out, x)
        return out
    return apply


# -- nngraph


@dataclass
class GraphNode:
    """One node of a gModule's forward graph, in forward-node order: its module (or None for the input,
    split/select and output nodes), the positions of its inputs (``mapindex`` order) and of its consumers."""

    position: int
    module: Optional[Torch7Object]
    parents: List[int]
    children: List[int]
    select: Optional[int]  # 1-based output of a split node that this select node passes on
    is_innode: bool = False
    is_outnode: bool = False

    @property
    def cls(self) -> Optional[str]:
        return lua_class(self.module)


def graph_nodes(gmodule: Torch7Object, where: str) -> List[GraphNode]:
    """The forward graph of an ``nn.gModule``: ``forwardnodes`` in order, with parents taken from each node's
    ``data.mapindex`` (which holds the parents' ``data`` tables in input order) and children from ``children``."""
    fnodes = ordered(_field(gmodule, "forwardnodes", where))
    by_data = {id(n["data"]): i for i, n in enumerate(fnodes)}
    by_node = {id(n): i for i, n in enumerate(fnodes)}
    innode, outnode = gmodule.get("innode"), gmodule.get("outnode")
    out = []
    for i, node in enumerate(fnodes):
        data = node["data"]
        parents = [by_data.get(id(d)) for d in ordered(data.get("mapindex"))]
        if None in parents:
            raise ArchitectureMismatchError(f"{where}: forward node {i + 1} reads from a node outside the graph")
        module = data.get("module")
        out.append(GraphNode(i, module if isinstance(module, Torch7Object) else None, parents,
                             [by_node[id(c)] for c in ordered(node.get("children")) if id(c) in by_node],
                             data.get("selectindex"),
                             innode is not None and data is innode["data"],
                             outnode is not None and data is outnode["data"]))
    return out


class GModule(nn.Module):
    """An ``nn.gModule`` run node by node in its forward-node order (a topological order of the graph).

    ``modules_`` holds the graph's modules in that order, exactly the gModule's own ``modules`` list.
    """

    def __init__(self, modules: Sequence[nn.Module], plan: Sequence[tuple]) -> None:
        super().__init__()
        self.modules_ = nn.ModuleList(modules)
        self.plan = list(plan)  # (module index or None, parent positions, select index, is_innode)

    def forward(self, x: Any) -> Any:
        values: List[Any] = [None] * len(self.plan)
        for pos, (mod, parents, select, is_in) in enumerate(self.plan):
            if is_in:
                value = x
            else:
                got = [values[p] for p in parents]
                value = got[0] if len(got) == 1 else got
                if select is not None:
                    value = value[int(select) - 1]
            values[pos] = self.modules_[mod](value) if mod is not None else value
        return values[-1]


# -- the mapping


def _children(obj: Torch7Object, where: str) -> List[tuple]:
    return [(m, f"{where}.modules[{i}]") for i, m in enumerate(ordered(obj.get("modules")), 1)]


def _gmodule(obj: Torch7Object, where: str, dtype: torch.dtype) -> GModule:
    nodes = graph_nodes(obj, where)
    modules, plan = [], []
    for node in nodes:
        mod = None
        if node.module is not None:
            modules.append(from_lua_module(node.module, f"{where}.node[{node.position + 1}]", dtype))
            mod = len(modules) - 1
        plan.append((mod, node.parents, node.select, node.is_innode))
    if not nodes or not nodes[-1].is_outnode:
        raise ArchitectureMismatchError(f"{where}: the gModule's last forward node is not its output node")
    return GModule(modules, plan)


_F = LuaFunctional
_SIMPLE: Dict[str, Callable[[Torch7Object], nn.Module]] = {
    "Identity": lambda o: nn.Identity(),
    "Tanh": lambda o: nn.Tanh(),
    "Sigmoid": lambda o: nn.Sigmoid(),
    "ReLU": lambda o: nn.ReLU(),
    "LeakyReLU": lambda o: nn.LeakyReLU(float(o.get("negval", 0.01))),
    "Dropout": lambda o: nn.Identity(),  # evaluate(): Lua's (v2) dropout is the identity at test time
    "Threshold": lambda o: threshold(o, ""),
    "TemporalMaxPooling": lambda o: LuaTemporalMaxPooling(int(o["kW"]), int(o.get("dW", o["kW"]))),
    "CAddTable": lambda o: _F("CAddTable", _reduce(torch.add)),
    "CMulTable": lambda o: _F("CMulTable", _reduce(torch.mul)),
    "MulConstant": lambda o: _F(f"MulConstant({o['constant_scalar']})", lambda x, c=float(o["constant_scalar"]): x * c),
    "AddConstant": lambda o: _F(f"AddConstant({o['constant_scalar']})", lambda x, c=float(o["constant_scalar"]): x + c),
    "JoinTable": lambda o: _F(f"JoinTable({o['dimension']})", _join(int(o["dimension"]), o.get("nInputDims"))),
    "SplitTable": lambda o: _F(f"SplitTable({o['dimension']})", lambda x, d=int(o["dimension"]), n=o.get("nInputDims"):
                                list(x.unbind(_lua_dim(d, n, x)))),
    "Replicate": lambda o: _F(f"Replicate({o['nfeatures']})",
                              _replicate(int(o["nfeatures"]), int(o.get("dim", 1)), o.get("ndim"))),
    "View": lambda o: _F("View", _view([int(v) for v in o["size"].tolist()], o.get("numInputDims"))),
}
_WEIGHTED = {
    "Linear": linear, "TemporalConvolution": temporal_convolution, "SpatialConvolution": spatial_convolution,
    "SpatialConvolutionMM": spatial_convolution, "SpatialFullConvolution": full_convolution,
    "BatchNormalization": batch_norm, "SpatialBatchNormalization": batch_norm,
}
_PACKAGES = ("nn", "cudnn", "nngraph")
SUPPORTED_MODULES = sorted(set(_SIMPLE) | set(_WEIGHTED) | {"Sequential", "ConcatTable", "ParallelTable", "gModule"})


def from_lua_module(obj: Any, where: str = "net", dtype: torch.dtype = torch.float32) -> nn.Module:
    """The PyTorch equivalent of a Lua nn module tree (in eval mode), weights copied and cast to ``dtype``.

    Supported classes (``nn.*`` and their ``cudnn.*`` twins): see :data:`SUPPORTED_MODULES`. Anything else
    raises :class:`~textgan.errors.ArchitectureMismatchError` naming the class and its path in the tree.
    """
    if not isinstance(obj, Torch7Object):
        raise ArchitectureMismatchError(f"{where}: expected a Lua nn module, found {type(obj).__name__}")
    package, _, name = obj.typename.rpartition(".")
    if package not in _PACKAGES or name not in SUPPORTED_MODULES:
        raise ArchitectureMismatchError(
            f"{where}: Lua module class {obj.typename!r} has no textgan equivalent "
            f"(supported: {', '.join(SUPPORTED_MODULES)})")
    try:
        if name == "Sequential":
            return nn.Sequential(*[from_lua_module(m, w, dtype) for m, w in _children(obj, where)])
        if name in ("ConcatTable", "ParallelTable"):
            return _Table([from_lua_module(m, w, dtype) for m, w in _children(obj, where)], name == "ParallelTable")
        if name == "gModule":
            return _gmodule(obj, where, dtype)
        if name in _WEIGHTED:
            return _WEIGHTED[name](obj, where, dtype).eval()
        return _SIMPLE[name](obj)
    except (KeyError, AttributeError, TypeError) as e:
        raise ArchitectureMismatchError(f"{where}: {obj.typename} is missing a field ({e}); the file is damaged "
                                        "or was written by an unexpected version of Lua nn") from e


def load_torch7(source: Any, what: str) -> tuple:
    """``(object, name)`` for a path (read with :func:`read_torch7`) or an already read object."""
    if isinstance(source, (str, os.PathLike)):
        return read_torch7(source), os.fspath(source)
    if isinstance(source, (Torch7Object, LuaTable, list)):
        return source, f"<{what}>"
    raise TypeError(f"expected the path of a .t7 file or what read_torch7 returned, got {type(source).__name__}")


# --------------------------------------------------------------------------------------- family entry points


def char_cnn_rnn_from_torch7(source: Any, *, dtype: torch.dtype = torch.float32) -> nn.Module:
    """A :class:`~textgan.text.charcnnrnn.CharCNNRNN` from Reed's released encoder ``.t7``: a checkpoint
    table with ``protos.enc_doc`` (CVPR, ICML birds/flowers) or a bare ``nn.gModule`` (ICML COCO).
    Variant (RNN/GRU, steps, third pool, averaging) and widths are read off the graph."""
    from ..models.charcnnrnn import model_from_torch7

    obj, name = load_torch7(source, "char-CNN-RNN")
    return model_from_torch7(obj, name, dtype)


def gan_int_cls_from_torch7(source: Any, *, dtype: torch.dtype = torch.float32) -> nn.Module:
    """A Lua GAN-INT-CLS network (icml2016 ``main_cls_int.lua``/``main_cls.lua``) from its ``.t7``: the
    generator (``..._net_G.t7``) or the discriminator (``..._net_D.t7``), told apart by their structure."""
    from ..models.gan_int_cls import model_from_torch7

    obj, name = load_torch7(source, "GAN-INT-CLS network")
    return model_from_torch7(obj, name, dtype)
