"""The two on-disk formats behind :func:`textgan.convert.read_tf_checkpoint`: V2 bundles and V1 tables.

Each reader lists ``(name, shape, DType)`` from the index alone and reads one tensor on demand into a numpy
array of its storage dtype (the public mapping in :mod:`textgan.convert.tf` turns it into a torch tensor).
Partitioned variables are stitched back from their slices; every inconsistency raises a
:class:`~textgan.errors.CheckpointError` that names the file, or :class:`ChecksumError` for a CRC mismatch.
"""
from __future__ import annotations

import mmap
import os
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

import numpy as np

from ..errors import CheckpointError
from ._crc32c import crc32c, crc32c_combine, mask, unmask
from ._tf_proto import (DType, ProtoError, decode_slice_key, dtype_of, fields, packed_fixed, packed_varints,
                        parse_bundle_entry, parse_bundle_header, parse_shape, parse_slice, varint)
from ._tf_table import ChecksumError, Table

__all__ = ["V1Reader", "V2Reader", "map_file"]

Extents = Tuple[Tuple[int, int], ...]

def map_file(path: Path):
    """A read-only mmap of ``path`` (bytes for an empty file, which mmap refuses)."""
    with open(path, "rb") as f:
        if os.fstat(f.fileno()).st_size == 0:
            return b""
        return mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)


# ----------------------------------------------------------------------------------------------- helpers

def _numel(shape: Tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def _full_extents(extents: Extents, shape: Tuple[int, ...], what: str) -> Extents:
    """Extents with "whole dimension" (-1) spelled out, checked against the full shape."""
    if len(extents) != len(shape):
        raise CheckpointError(f"{what}: a slice of rank {len(extents)} for a tensor of shape {list(shape)}")
    out = []
    for (start, length), dim in zip(extents, shape):
        if length == -1:
            start, length = 0, dim
        if start < 0 or length < 0 or start + length > dim:
            raise CheckpointError(f"{what}: slice extent ({start}, {length}) outside dimension {dim}")
        out.append((start, length))
    return tuple(out)


def _assemble(what: str, shape: Tuple[int, ...], storage: str, parts: List[Tuple[Extents, np.ndarray]]) -> np.ndarray:
    """Stitch slices of a partitioned variable into the full array; every element must be covered once."""
    if len(parts) == 1 and parts[0][1].shape == shape:
        return parts[0][1]
    if sum(arr.size for _, arr in parts) != _numel(shape):  # before allocating: the shape may be corrupt
        raise CheckpointError(f"{what}: its slices hold {sum(a.size for _, a in parts)} elements, the tensor "
                              f"{_numel(shape)} (corrupt or incomplete checkpoint)")
    out = np.empty(shape, dtype=np.dtype(storage))
    covered = np.zeros(shape, dtype=np.uint8)
    for extents, arr in parts:
        index = tuple(slice(s, s + n) for s, n in extents)
        out[index] = arr
        covered[index] += 1
    if covered.size and (covered.min() != 1 or covered.max() != 1):
        raise CheckpointError(f"{what}: its slices do not cover the tensor exactly once (corrupt or incomplete "
                              f"checkpoint)")
    return out


# ----------------------------------------------------------------------------------------------- V2

class V2Reader:
    """``P.index`` (parsed at once, blocks checked) and ``P.data-*`` (mapped when a tensor in them is read)."""

    def __init__(self, prefix: Path, verify: bool) -> None:
        self.prefix = prefix
        self.verify = verify
        index = Path(str(prefix) + ".index")
        self.what = str(index)
        self.table = Table(index.read_bytes(), self.what, verify=verify)
        self._maps: Dict[int, Any] = {}
        self._verified: set = set()  # entries whose bytes a run check (prevalidate) already covered
        try:
            self._parse()
        except ProtoError as e:
            raise CheckpointError(f"{self.what}: corrupt index entry ({e}); download the file again") from e

    def _parse(self) -> None:
        if b"" not in self.table.entries:
            raise CheckpointError(f"{self.what}: no bundle header (key ''); not a TensorFlow V2 .index file")
        header = parse_bundle_header(self.table.value(b""))
        if header.min_consumer > 1 or 1 in header.bad_consumers:
            raise CheckpointError(f"{self.what}: written for readers of version >= {header.min_consumer}; this "
                                  f"reader implements version 1 (re-save it with an older TensorFlow)")
        if not 1 <= header.num_shards <= 1 << 20:
            raise CheckpointError(f"{self.what}: implausible number of data shards {header.num_shards}")
        self.num_shards, self.big_endian = header.num_shards, header.big_endian
        self.entries: Dict[str, Any] = {}
        self.slices: Dict[Tuple[str, Extents], Any] = {}
        for key, (_, value) in self.table.entries.items():
            if not key:
                continue
            entry = parse_bundle_entry(value)
            dtype_of(entry.dtype)
            if key[0] == 0:
                self.slices[decode_slice_key(key)] = entry
            else:
                try:
                    self.entries[key.decode("utf-8")] = entry
                except UnicodeDecodeError as e:
                    raise CheckpointError(f"{self.what}: a tensor name is not UTF-8 ({key[:40]!r})") from e

    def listing(self) -> Iterator[Tuple[str, Tuple[int, ...], DType]]:
        for name, e in self.entries.items():
            yield name, e.shape, dtype_of(e.dtype)

    def _shard(self, shard_id: int):
        if shard_id >= self.num_shards:
            raise CheckpointError(f"{self.what}: an entry names data shard {shard_id} of {self.num_shards}")
        if shard_id not in self._maps:
            path = Path(f"{self.prefix}.data-{shard_id:05d}-of-{self.num_shards:05d}")
            if not path.is_file():
                raise CheckpointError(f"{path} is missing: a V2 checkpoint needs its .index and every "
                                      f".data-*-of-{self.num_shards:05d} file side by side; download them all")
            self._maps[shard_id] = map_file(path)
        return self._maps[shard_id]

    def _bytes(self, name: str, e) -> np.ndarray:
        buf = self._shard(e.shard_id)
        if e.offset + e.size > len(buf):
            raise CheckpointError(f"{self.what}: tensor {name!r} lies at bytes [{e.offset}, {e.offset + e.size}) "
                                  f"of a {len(buf)}-byte data shard; the data file is truncated, download it again")
        return np.frombuffer(buf, dtype=np.uint8, count=e.size, offset=e.offset) if e.size else np.zeros(0, np.uint8)

    def _check(self, name: str, stored: Optional[int], actual: int) -> None:
        if mask(actual) != (stored or 0):
            raise ChecksumError(f"{self.what}: checksum mismatch for tensor {name!r} (the data file is corrupt); "
                                f"download the checkpoint again, or read with verify=False to skip the check")

    def _numeric(self, name: str, e, dt: DType, check: bool) -> np.ndarray:
        storage = np.dtype(dt.storage)
        if e.size != _numel(e.shape) * storage.itemsize:
            raise CheckpointError(f"{self.what}: tensor {name!r} has {e.size} bytes, its shape {list(e.shape)} "
                                  f"and dtype {dt.name} need {_numel(e.shape) * storage.itemsize}")
        src = self._bytes(name, e)
        out = np.empty(_numel(e.shape), dtype=storage)
        np.copyto(out.view(np.uint8), src)
        del src
        if check and self.verify and e not in self._verified:
            self._check(name, e.crc32c, crc32c(out))
        if self.big_endian and storage.itemsize > 1:
            out = out.byteswap()
        return out.reshape(e.shape)

    def _strings(self, name: str, e, check: bool) -> np.ndarray:
        raw = self._bytes(name, e)
        count = _numel(e.shape)
        if count > e.size:
            raise CheckpointError(f"{self.what}: string tensor {name!r} cannot hold {count} elements in {e.size} bytes")
        data = raw.tobytes()
        lengths, pos = [], 0
        for _ in range(count):
            n, pos = varint(data, pos, len(data))
            lengths.append(n)
        if pos + 4 + sum(lengths) != len(data):
            raise CheckpointError(f"{self.what}: string tensor {name!r}: lengths do not add up to its {e.size} bytes")
        if check and self.verify:
            as_ints = b"".join(n.to_bytes(4 if n < 1 << 32 else 8, "little") for n in lengths)
            crc = crc32c(as_ints)
            if mask(crc) != int.from_bytes(data[pos:pos + 4], "little"):
                raise ChecksumError(f"{self.what}: checksum mismatch in the string lengths of {name!r} (corrupt "
                                    f"data file); download it again, or read with verify=False")
            self._check(name, e.crc32c, crc32c(data[pos:], crc))
        pos += 4
        out = np.empty(count, dtype=object)
        for i, n in enumerate(lengths):
            out[i] = data[pos:pos + n]
            pos += n
        return out.reshape(e.shape)

    def _parts(self, names) -> Dict[int, list]:
        """The entries (tensors, or the slices of partitioned ones) holding the numeric tensors ``names``
        with bytes, by shard."""
        by_shard: Dict[int, list] = {}
        for name in names:
            e = self.entries[name]
            dt = dtype_of(e.dtype)
            if dt.storage is None:
                continue
            for part in ([self.slices.get((name, ext)) for ext in e.slices] if e.slices else [e]):
                if part is not None and part.size:
                    by_shard.setdefault(part.shard_id, []).append(part)
        return by_shard

    def open_shards(self, names) -> None:
        """Map every data shard that ``names`` need (before :meth:`prevalidate` runs in another thread)."""
        for shard in self._parts(names):
            self._shard(shard)

    def prevalidate(self, names) -> None:
        """Check the CRCs of many numeric tensors at once: each run of them lying back to back in a shard gets
        one CRC over the run, compared with their stored CRCs combined (one long message is checked much
        faster than many short ones). Entries of a matching run are recorded in ``_verified``; a run that
        does not match is left to the per-tensor checks, which name the corrupt tensor."""
        for shard, entries in self._parts(names).items():
            entries.sort(key=lambda e: e.offset)
            run: list = []
            for e in entries + [None]:
                if run and (e is None or e.offset != run[-1].offset + run[-1].size):
                    self._check_run(shard, run)
                    run = []
                if e is not None:
                    run.append(e)

    def _check_run(self, shard: int, run: list) -> None:
        buf = self._maps[shard]
        start, stop = run[0].offset, run[-1].offset + run[-1].size
        if stop > len(buf):
            return  # the per-tensor read reports it
        expected = 0
        for e in run:
            expected = crc32c_combine(expected, unmask(e.crc32c or 0), e.size)
        if crc32c(np.frombuffer(buf, dtype=np.uint8, count=stop - start, offset=start)) == expected:
            self._verified.update(run)

    def verified(self, name: str) -> bool:
        """Whether :meth:`prevalidate` covered every byte of numeric tensor ``name``."""
        e = self.entries[name]
        if dtype_of(e.dtype).storage is None:
            return False
        for part in ([self.slices.get((name, ext)) for ext in e.slices] if e.slices else [e]):
            if part is None or (part not in self._verified if part.size else (part.crc32c or 0) != mask(0)):
                return False
        return True

    def _array(self, name: str, e, dt: DType, check: bool) -> np.ndarray:
        return self._strings(name, e, check) if dt.name == "string" else self._numeric(name, e, dt, check)

    def read(self, name: str, check: bool = True) -> np.ndarray:
        """Tensor ``name``; ``check=False`` skips its CRC (:meth:`prevalidate` covers it, or verify is off)."""
        e = self.entries[name]
        dt = dtype_of(e.dtype)
        if not e.slices:
            return self._array(name, e, dt, check)
        if dt.name == "string":
            raise CheckpointError(f"{self.what}: {name!r} is a partitioned string tensor, which is not supported")
        parts = []
        for extents in e.slices:
            full = _full_extents(extents, e.shape, f"{self.what}: {name!r}")
            part = self.slices.get((name, extents))
            if part is None:  # the key may spell a full extent (0, -1) where the entry gives (0, dim)
                part = next((p for (n, ex), p in self.slices.items()
                             if n == name and len(ex) == len(e.shape)
                             and _full_extents(ex, e.shape, self.what) == full), None)
            if part is None:
                raise CheckpointError(f"{self.what}: slice {list(full)} of partitioned {name!r} is missing")
            if part.dtype != e.dtype or part.shape != tuple(n for _, n in full):
                raise CheckpointError(f"{self.what}: slice {list(full)} of {name!r} has shape {list(part.shape)}")
            parts.append((full, self._array(name, part, dt, check)))
        return _assemble(f"{self.what}: {name!r}", e.shape, dt.storage, parts)

    def close(self) -> None:
        self.table.release()
        for m in self._maps.values():
            if isinstance(m, mmap.mmap):
                try:
                    m.close()
                except BufferError:
                    pass
        self._maps = {}


# ----------------------------------------------------------------------------------------------- V1

# TensorProto typed value fields: (field number, kind, numpy dtype of the decoded values)
_TP_FIELDS = {
    "float32": (5, "fixed", "<f4"), "float64": (6, "fixed", "<f8"), "complex64": (9, "fixed", "<f4"),
    "complex128": (12, "fixed", "<f8"), "int64": (10, "varint", "<i8"), "bool": (11, "varint", "u1"),
    "float16": (13, "varint", "<u2"), "bfloat16": (13, "varint", "<u2"), "uint32": (16, "varint", "<u4"),
    "uint64": (17, "varint", "<u8"),
}


def _tensor_proto(buf, dt: DType, shape: Tuple[int, ...], what: str) -> np.ndarray:
    """The values of a V1 TensorProto (dtype and shape come from the checkpoint's meta)."""
    f = fields(buf)
    count = _numel(shape)
    content = [v for v in f.get(4, []) if not isinstance(v, int) and len(v)]
    if dt.name == "string":
        vals = f.get(8, [])
        if len(vals) != count or any(isinstance(v, int) for v in vals):
            raise CheckpointError(f"{what}: {len(vals)} string values for {count} elements")
        out = np.empty(count, dtype=object)
        for i, v in enumerate(vals):
            out[i] = bytes(v)
        return out.reshape(shape)
    storage = np.dtype(dt.storage)
    if content:
        values = np.frombuffer(b"".join(bytes(c) for c in content), dtype=np.uint8)
        if values.size != count * storage.itemsize:
            raise CheckpointError(f"{what}: tensor_content of {values.size} bytes for {count} elements")
        return values.view(storage).reshape(shape).copy()
    number, kind, decoded = _TP_FIELDS.get(dt.name, (7, "varint", "<i8"))  # int_val: int32/16/8, uint8/16, q*
    chunks = f.get(number, [])
    if kind == "fixed":
        values = packed_fixed(chunks, decoded, np.dtype(decoded).itemsize)
        if dt.name.startswith("complex"):
            if values.size % 2:
                raise ProtoError("complex values with an odd number of parts")
            values = values.view(storage)
    else:
        values = packed_varints(chunks)
        if decoded == "<i8":  # int_val / int64_val: sign-extended, so truncating keeps negative values
            values = values.view(np.int64).astype(storage)
        elif decoded == "<u2":  # half_val holds the 16-bit patterns of float16 / bfloat16
            values = values.astype(np.uint16).view(storage)
        else:
            values = values.astype(storage)
    if values.size != count:
        raise CheckpointError(f"{what}: {values.size} values stored for {count} elements (corrupt checkpoint)")
    return values.reshape(shape)


class V1Reader:
    """One V1 table file, or the ``P-SSSSS-of-NNNNN`` shards of a sharded V1 save, mapped read-only."""

    def __init__(self, files: List[Path], verify: bool) -> None:
        self.what = str(files[0]) if len(files) == 1 else f"{files[0]} (+{len(files) - 1} shards)"
        self.tables: List[Table] = []
        self._maps = []
        self.meta: Dict[str, Tuple[Tuple[int, ...], int, List[Extents]]] = {}
        self.data: Dict[Tuple[str, Extents], Tuple[Table, bytes]] = {}
        for path in files:
            buf = map_file(path)
            self._maps.append(buf)
            table = Table(buf, str(path), verify=verify)
            self.tables.append(table)
            try:
                self._parse(table, str(path))
            except ProtoError as e:
                raise CheckpointError(f"{path}: corrupt V1 checkpoint ({e}); download the file again") from e

    def _parse(self, table: Table, what: str) -> None:
        if b"" not in table.entries:
            raise CheckpointError(f"{what}: a table without the V1 metadata key ''; not a TensorFlow V1 checkpoint")
        top = fields(table.value(b""))
        if 1 not in top or isinstance(top[1][-1], int):
            raise CheckpointError(f"{what}: key '' holds no SavedTensorSliceMeta; this is not a V1 checkpoint "
                                  f"(a V2 .index? then pass the prefix without .index)")
        for m in fields(top[1][-1]).get(1, []):
            if isinstance(m, int):
                raise ProtoError("SavedSliceMeta should be a message")
            mf = fields(m)
            names = mf.get(1, [])
            if not names or isinstance(names[-1], int):
                raise ProtoError("SavedSliceMeta without a name")
            try:
                name = bytes(names[-1]).decode("utf-8")
            except UnicodeDecodeError as e:
                raise ProtoError("tensor name is not UTF-8") from e
            shape = parse_shape(mf[2][-1]) if mf.get(2) and not isinstance(mf[2][-1], int) else ()
            code = mf.get(3, [0])[-1]
            dtype_of(code if isinstance(code, int) else -1)
            slices = [parse_slice(s) for s in mf.get(4, []) if not isinstance(s, int)]
            old = self.meta.get(name)
            if old is not None and (old[0], old[1]) != (shape, code):
                raise CheckpointError(f"{what}: {name!r} has different shapes or dtypes in two shards")
            self.meta[name] = (shape, code, (old[2] if old else []) + slices)
        for key in table.entries:
            if key:
                self.data[decode_slice_key(key)] = (table, key)

    def listing(self) -> Iterator[Tuple[str, Tuple[int, ...], DType]]:
        for name, (shape, code, _) in self.meta.items():
            yield name, shape, dtype_of(code)

    def read(self, name: str, check: bool = True) -> np.ndarray:
        """Tensor ``name`` (V1 has no per-tensor CRC: ``check`` changes nothing; block CRCs are checked)."""
        shape, code, slices = self.meta[name]
        dt = dtype_of(code)
        where = f"{self.what}: {name!r}"
        if not slices:
            raise CheckpointError(f"{where} has no saved slices")
        parts = []
        for extents in slices:
            full = _full_extents(extents, shape, where) if extents or shape else ()
            found = self.data.get((name, extents))
            if found is None:
                found = next((v for (n, ex), v in self.data.items() if n == name and len(ex) == len(shape)
                              and _full_extents(ex, shape, where) == full), None)
            if found is None:
                raise CheckpointError(f"{where}: the data of slice {list(full)} is missing (corrupt checkpoint)")
            table, key = found
            try:
                saved = fields(table.value(key)).get(2, [])
                if not saved or isinstance(saved[-1], int):
                    raise ProtoError("no SavedSlice")
                tensor = fields(saved[-1]).get(3, [])
                if tensor and isinstance(tensor[-1], int):
                    raise ProtoError("SavedSlice.data should be a TensorProto")
                arr = _tensor_proto(tensor[-1] if tensor else b"", dt, tuple(n for _, n in full), where)
            except ProtoError as e:
                raise CheckpointError(f"{where}: corrupt slice data ({e}); download the file again") from e
            parts.append((full, arr))
        if dt.name == "string":
            if len(parts) != 1:
                raise CheckpointError(f"{where} is a partitioned string tensor, which is not supported")
            return parts[0][1]
        return _assemble(where, shape, dt.storage, parts)

    def close(self) -> None:
        for t in self.tables:
            t.release()
        for m in self._maps:
            if isinstance(m, mmap.mmap):
                try:
                    m.close()
                except BufferError:
                    pass
        self.tables, self._maps = [], []
