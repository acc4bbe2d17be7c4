"""A test-only writer of TensorFlow checkpoints (V2 bundles and V1 tables), written from the format notes.

It produces what TF writes (``../shared/notes/tf_formats.md``) and more than the shared fixtures cover:
several data blocks, snappy-compressed or mixed blocks, any number of shards, partitioned variables along any
axes, every dtype, non-scalar strings, big-endian headers, V1 shards. Used by the tests and by
``benchmarks/tf_read.py``. Not part of the library.
"""
from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np

from textgan.convert._crc32c import crc32c, mask
from textgan.convert._tf_proto import encode_slice_key

# numpy dtype (or "string"/"bfloat16"/...) -> TF DataType enum
TF_DTYPES = {"float32": 1, "float64": 2, "int32": 3, "uint8": 4, "int16": 5, "int8": 6, "string": 7,
             "complex64": 8, "int64": 9, "bool": 10, "bfloat16": 14, "uint16": 17, "complex128": 18,
             "float16": 19, "variant": 21, "uint32": 22, "uint64": 23}
MAGIC = struct.pack("<Q", 0xDB4775248B80FB57)


# ------------------------------------------------------------------ protobuf wire format

def varint(n: int) -> bytes:
    n &= (1 << 64) - 1  # negative int32/int64 are written as 10-byte two's complement
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def f_varint(number: int, value: int, keep_zero: bool = False) -> bytes:
    return varint(number << 3) + varint(value) if (value or keep_zero) else b""


def f_bytes(number: int, payload: bytes) -> bytes:
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def f_fixed32(number: int, value: int) -> bytes:
    return varint(number << 3 | 5) + struct.pack("<I", value)


def shape_proto(shape: Sequence[int]) -> bytes:
    return b"".join(f_bytes(2, f_varint(1, d)) for d in shape)


def slice_proto(extents: Sequence[Tuple[int, int]]) -> bytes:
    """TensorSliceProto; a length of -1 is a full extent (no fields at all)."""
    out = b""
    for start, length in extents:
        ext = b"" if length == -1 else f_varint(1, start) + f_varint(2, length, keep_zero=True)
        out += f_bytes(1, ext)
    return out


# ------------------------------------------------------------------ snappy (greedy LZ77, for tests)

def snappy_compress(data: bytes) -> bytes:
    out = bytearray(varint(len(data)))
    table: Dict[bytes, int] = {}
    lit_start = 0
    i = 0
    n = len(data)

    def literal(a: int, b: int) -> None:
        while a < b:
            size = min(b - a, 1 << 16)
            if size <= 60:
                out.append((size - 1) << 2)
            elif size <= 256:
                out.extend(bytes([60 << 2, size - 1]))
            else:
                out.extend(bytes([61 << 2]) + (size - 1).to_bytes(2, "little"))
            out.extend(data[a:a + size])
            a += size

    while i + 4 <= n:
        key = data[i:i + 4]
        cand = table.get(key)
        table[key] = i
        if cand is None or i - cand > 65535:
            i += 1
            continue
        length = 4
        while i + length < n and length < 64 and data[cand + length] == data[i + length]:
            length += 1
        literal(lit_start, i)
        offset = i - cand
        if length <= 11 and offset < 2048:
            out += bytes([1 | ((length - 4) << 2) | ((offset >> 8) << 5), offset & 0xFF])
        else:
            out += bytes([2 | ((length - 1) << 2)]) + offset.to_bytes(2, "little")
        i += length
        lit_start = i
    literal(lit_start, n)
    return bytes(out)


# ------------------------------------------------------------------ table

def _block(entries: List[Tuple[bytes, bytes]], restart_interval: int) -> bytes:
    buf = bytearray()
    restarts = []
    prev = b""
    for k, (key, value) in enumerate(entries):
        if k % restart_interval == 0:
            restarts.append(len(buf))
            shared = 0
        else:
            shared = 0
            while shared < min(len(prev), len(key)) and prev[shared] == key[shared]:
                shared += 1
        buf += varint(shared) + varint(len(key) - shared) + varint(len(value)) + key[shared:] + value
        prev = key
    if not restarts:
        restarts.append(0)
    buf += b"".join(struct.pack("<I", r) for r in restarts) + struct.pack("<I", len(restarts))
    return bytes(buf)


def write_table(path: Union[str, Path], items: Iterable[Tuple[bytes, bytes]], *, block_size: int = 262144,
                restart_interval: int = 16, compression: str = "none") -> None:
    """Write a sorted table. ``compression``: "none", "snappy" (every block, as the v2_snappy_index fixture),
    "auto" (LevelDB's rule: keep a block raw unless snappy saves 12.5%) or "alternate" (mixed types)."""
    items = sorted(items)
    out = bytearray()
    counter = [0]

    def emit(contents: bytes) -> Tuple[int, int]:
        kind = 0
        counter[0] += 1
        if compression != "none":
            packed = snappy_compress(contents)
            use = {"snappy": True, "auto": len(packed) < len(contents) - len(contents) // 8,
                   "alternate": counter[0] % 2 == 1}[compression]
            if use:
                contents, kind = packed, 1
        handle = (len(out), len(contents))
        out.extend(contents)
        out.append(kind)
        out.extend(struct.pack("<I", mask(crc32c(bytes([kind]), crc32c(contents)))))
        return handle

    index: List[Tuple[bytes, bytes]] = []
    block: List[Tuple[bytes, bytes]] = []
    size = 0
    for key, value in items:
        block.append((key, value))
        size += len(key) + len(value) + 8
        if size >= block_size:
            off, sz = emit(_block(block, restart_interval))
            index.append((block[-1][0], varint(off) + varint(sz)))
            block, size = [], 0
    if block:
        off, sz = emit(_block(block, restart_interval))
        index.append((block[-1][0], varint(off) + varint(sz)))
    meta = emit(_block([], 1))
    idx = emit(_block(index, 1))
    footer = varint(meta[0]) + varint(meta[1]) + varint(idx[0]) + varint(idx[1])
    out += footer + b"\x00" * (40 - len(footer)) + MAGIC
    Path(path).write_bytes(bytes(out))


# ------------------------------------------------------------------ tensors

@dataclass
class Partitioned:
    """A variable saved in slices: ``splits[d]`` lists the cut points along dimension ``d``."""
    value: np.ndarray
    splits: Dict[int, List[int]]
    dtype: Optional[str] = None

    def slices(self) -> List[Tuple[Tuple[Tuple[int, int], ...], np.ndarray]]:
        axes = []
        for d, n in enumerate(self.value.shape):
            cuts = [0] + sorted(self.splits.get(d, [])) + [n]
            axes.append([(a, b - a) for a, b in zip(cuts[:-1], cuts[1:])])
        out = []
        for combo in np.ndindex(*[len(a) for a in axes]):
            ext = tuple(axes[d][i] for d, i in enumerate(combo))
            out.append((ext, self.value[tuple(slice(s, s + n) for s, n in ext)]))
        return out


Tensor = Union[np.ndarray, bytes, Partitioned, Tuple[str, np.ndarray]]


def _dtype_name(value) -> Tuple[str, np.ndarray]:
    """(TF dtype name, array); ("bfloat16", uint16 array) marks raw bfloat16 bits."""
    if isinstance(value, tuple):
        return value
    if isinstance(value, bytes):
        return "string", np.array(value, dtype=object)
    arr = np.asarray(value)
    if arr.dtype == object:
        return "string", arr
    return arr.dtype.name, arr


def _string_payload(arr: np.ndarray) -> Tuple[bytes, int]:
    items = [bytes(x) for x in arr.reshape(-1)]
    lengths = b"".join(varint(len(s)) for s in items)
    crc = crc32c(b"".join(struct.pack("<I", len(s)) for s in items))
    length_crc = struct.pack("<I", mask(crc))
    crc = crc32c(length_crc, crc)
    body = b"".join(items)
    return lengths + length_crc + body, crc32c(body, crc)


def write_v2(prefix: Union[str, Path], tensors: Dict[str, Tensor], *, num_shards: int = 1,
             shard_of: Optional[Callable[[str], int]] = None, compression: str = "none",
             block_size: int = 262144, big_endian: bool = False, reverse_data_order: bool = False,
             extra_entries: Sequence[Tuple[bytes, bytes]] = ()) -> None:
    """Write ``prefix.index`` and ``prefix.data-SSSSS-of-NNNNN`` like TF's BundleWriter (+ MergeBundles)."""
    prefix = str(prefix)
    shard_of = shard_of or (lambda name: zlib.crc32(name.encode()) % num_shards)
    files = [open(f"{prefix}.data-{i:05d}-of-{num_shards:05d}", "wb") for i in range(num_shards)]
    offsets = [0] * num_shards
    items: List[Tuple[bytes, bytes]] = []

    def put(name: str, dtype: str, arr: np.ndarray) -> bytes:
        shard = shard_of(name)
        if dtype == "string":
            payload, crc = _string_payload(arr)
        else:
            data = np.ascontiguousarray(arr)
            if big_endian:
                data = data.astype(data.dtype.newbyteorder(">"))
            payload = memoryview(data.reshape(-1).view(np.uint8)) if data.size else b""
            crc = crc32c(payload)
        files[shard].write(payload)
        entry = (f_varint(1, TF_DTYPES[dtype]) + f_bytes(2, shape_proto(arr.shape)) + f_varint(3, shard)
                 + f_varint(4, offsets[shard]) + f_varint(5, len(payload)) + f_fixed32(6, mask(crc)))
        offsets[shard] += len(payload)
        return entry

    names = sorted(tensors, reverse=reverse_data_order)  # TF writes in the order variables are saved
    for name in names:
        value = tensors[name]
        if isinstance(value, Partitioned):
            dtype = value.dtype or value.value.dtype.name
            parts = value.slices()
            for ext, part in parts:
                items.append((encode_slice_key(name, ext), put(name, dtype, part)))
            full = (f_varint(1, TF_DTYPES[dtype]) + f_bytes(2, shape_proto(value.value.shape))
                    + b"".join(f_bytes(7, slice_proto(ext)) for ext, _ in parts))
            items.append((name.encode(), full))
        else:
            dtype, arr = _dtype_name(value)
            items.append((name.encode(), put(name, dtype, arr)))
    for f in files:
        f.close()
    header = f_varint(1, num_shards) + f_varint(2, 1 if big_endian else 0) + f_bytes(3, f_varint(1, 1))
    items.append((b"", header))
    items.extend(extra_entries)
    write_table(prefix + ".index", items, block_size=block_size, compression=compression)


# ------------------------------------------------------------------ V1

def tensor_proto(dtype: str, arr: np.ndarray, packed: bool = True) -> bytes:
    """A TensorProto with the values in the typed field, as TF's V1 TensorSliceWriter fills it."""
    flat = arr.reshape(-1)
    if flat.size == 0:
        return b""

    def packed_field(number: int, payload: bytes) -> bytes:
        return f_bytes(number, payload)

    if dtype in ("float32", "float64", "complex64", "complex128"):
        number = {"float32": 5, "float64": 6, "complex64": 9, "complex128": 12}[dtype]
        base = "<f4" if dtype in ("float32", "complex64") else "<f8"
        vals = flat.view(np.float32 if base == "<f4" else np.float64).astype(base)
        if packed:
            return packed_field(number, vals.tobytes())
        wire, width = (5, 4) if base == "<f4" else (1, 8)
        return b"".join(varint(number << 3 | wire) + v.tobytes() for v in vals)
    if dtype == "string":
        return b"".join(f_bytes(8, bytes(s)) for s in flat)
    if dtype in ("float16", "bfloat16"):
        ints = [int(v) for v in flat.view(np.uint16)]
        number = 13
    else:
        number = {"int64": 10, "bool": 11, "uint32": 16, "uint64": 17}.get(dtype, 7)
        ints = [int(v) for v in flat]
    if packed:
        return packed_field(number, b"".join(varint(v) for v in ints))
    return b"".join(varint(number << 3) + varint(v) for v in ints)


def write_v1(path: Union[str, Path], tensors: Dict[str, Tensor], *, compression: str = "none",
             block_size: int = 262144, packed: bool = True) -> None:
    """Write a V1 checkpoint file (SavedTensorSlices meta under '' + one entry per slice)."""
    metas = []
    items = []
    for name in sorted(tensors):
        value = tensors[name]
        if isinstance(value, Partitioned):
            dtype = value.dtype or value.value.dtype.name
            shape = value.value.shape
            parts = value.slices()
        else:
            dtype, arr = _dtype_name(value)
            shape = arr.shape
            parts = [(tuple((0, -1) for _ in shape), arr)]
        metas.append(f_bytes(1, name.encode()) + f_bytes(2, shape_proto(shape)) + f_varint(3, TF_DTYPES[dtype])
                     + b"".join(f_bytes(4, slice_proto(ext)) for ext, _ in parts))
        for ext, part in parts:
            saved = (f_bytes(1, name.encode()) + f_bytes(2, slice_proto(ext))
                     + f_bytes(3, tensor_proto(dtype, part, packed)))
            items.append((encode_slice_key(name, ext), f_bytes(2, saved)))
    meta = b"".join(f_bytes(1, m) for m in metas) + f_bytes(2, f_varint(1, 1))
    items.append((b"", f_bytes(1, meta)))
    write_table(path, items, block_size=block_size, compression=compression)
