"""Protocol-buffer wire format and the few TensorFlow messages a checkpoint holds, without ``protobuf``.

Messages (field numbers from TensorFlow's ``tensor_bundle.proto``, ``saved_tensor_slice.proto``,
``tensor.proto``, ``tensor_shape.proto``, ``tensor_slice.proto``, ``versions.proto``) are decoded into plain
dicts / tuples. Also here: TensorFlow's ``DataType`` enum and the OrderedCode keys of tensor slices
(``core/lib/strings/ordered_code.cc``, ``EncodeTensorNameSlice``). Every malformed input raises
:class:`ProtoError`, which the readers turn into a :class:`~textgan.errors.CheckpointError` naming the file.
"""
from __future__ import annotations

from typing import Dict, List, NamedTuple, Optional, Tuple

import numpy as np

__all__ = ["ProtoError", "DType", "DTYPES", "fields", "parse_shape", "parse_slice", "parse_bundle_header",
           "parse_bundle_entry", "BundleEntry", "decode_slice_key", "encode_slice_key", "packed_varints"]


class ProtoError(ValueError):
    """A protobuf message or key is malformed."""


class DType(NamedTuple):
    """A TensorFlow ``DataType``: its name, the little-endian numpy storage dtype and the torch dtype name."""
    name: str
    storage: Optional[str]  # numpy dtype of the stored bytes (None: strings / unsupported)
    torch: Optional[str]  # attribute of torch (None: returned as bytes, or not readable)
    tf_name: str  # as TensorFlow's DataTypeString / inspect_checkpoint prints it


# DataType enum (types.proto). Quantized types are stored as their integer representation.
DTYPES: Dict[int, DType] = {
    1: DType("float32", "<f4", "float32", "DT_FLOAT"),
    2: DType("float64", "<f8", "float64", "DT_DOUBLE"),
    3: DType("int32", "<i4", "int32", "DT_INT32"),
    4: DType("uint8", "u1", "uint8", "DT_UINT8"),
    5: DType("int16", "<i2", "int16", "DT_INT16"),
    6: DType("int8", "i1", "int8", "DT_INT8"),
    7: DType("string", None, None, "DT_STRING"),
    8: DType("complex64", "<c8", "complex64", "DT_COMPLEX64"),
    9: DType("int64", "<i8", "int64", "DT_INT64"),
    10: DType("bool", "u1", "bool", "DT_BOOL"),
    11: DType("qint8", "i1", "int8", "DT_QINT8"),
    12: DType("quint8", "u1", "uint8", "DT_QUINT8"),
    13: DType("qint32", "<i4", "int32", "DT_QINT32"),
    14: DType("bfloat16", "<u2", "bfloat16", "DT_BFLOAT16"),
    15: DType("qint16", "<i2", "int16", "DT_QINT16"),
    16: DType("quint16", "<u2", "uint16", "DT_QUINT16"),
    17: DType("uint16", "<u2", "uint16", "DT_UINT16"),
    18: DType("complex128", "<c16", "complex128", "DT_COMPLEX128"),
    19: DType("float16", "<f2", "float16", "DT_HALF"),
    20: DType("resource", None, None, "DT_RESOURCE"),
    21: DType("variant", None, None, "DT_VARIANT"),
    22: DType("uint32", "<u4", "uint32", "DT_UINT32"),
    23: DType("uint64", "<u8", "uint64", "DT_UINT64"),
    24: DType("float8_e5m2", "u1", "float8_e5m2", "DT_FLOAT8_E5M2"),
    25: DType("float8_e4m3fn", "u1", "float8_e4m3fn", "DT_FLOAT8_E4M3FN"),
}


def dtype_of(code: int) -> DType:
    """The :class:`DType` of an enum value; ``_REF`` codes (+100) never occur on disk."""
    dt = DTYPES.get(code)
    if dt is None:
        raise ProtoError(f"unknown TensorFlow DataType {code}")
    return dt


# --- wire format ---

def varint(buf, pos: int, end: int) -> Tuple[int, int]:
    """Decode a base-128 varint at ``buf[pos]``; returns (value, next position)."""
    result = 0
    shift = 0
    while True:
        if pos >= end:
            raise ProtoError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, pos
        shift += 7
        if shift >= 70:
            raise ProtoError("varint longer than 10 bytes")


def _signed64(v: int) -> int:
    if v >= 1 << 64:
        raise ProtoError("varint does not fit 64 bits")
    return v - (1 << 64) if v >= 1 << 63 else v


def fields(buf, start: int = 0, end: Optional[int] = None) -> Dict[int, list]:
    """All fields of a message: ``{number: [value, ...]}``; varints and fixed ints as int, bytes as memoryview."""
    mv = buf if isinstance(buf, memoryview) else memoryview(buf)
    end = len(mv) if end is None else end
    # Indexing bytes is much faster than indexing a memoryview; big messages (V1 tensors) stay zero-copy.
    data = mv.tobytes() if len(mv) <= 4096 else mv
    if data is not mv:
        mv = memoryview(data)
    out: Dict[int, list] = {}
    pos = start
    while pos < end:
        key = data[pos]
        if key < 0x80:
            pos += 1
        else:
            key, pos = varint(data, pos, end)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise ProtoError("field number 0")
        if wire == 0:
            if pos < end and data[pos] < 0x80:
                value = data[pos]
                pos += 1
            else:
                value, pos = varint(data, pos, end)
        elif wire == 2:
            size, pos = varint(data, pos, end)
            if pos + size > end:
                raise ProtoError("length-delimited field runs past the end of its message")
            value = mv[pos:pos + size]
            pos += size
        elif wire == 5:
            if pos + 4 > end:
                raise ProtoError("truncated fixed32")
            value = int.from_bytes(mv[pos:pos + 4], "little")
            pos += 4
        elif wire == 1:
            if pos + 8 > end:
                raise ProtoError("truncated fixed64")
            value = int.from_bytes(mv[pos:pos + 8], "little")
            pos += 8
        else:
            raise ProtoError(f"unsupported wire type {wire} (field {number})")
        out.setdefault(number, []).append(value)
    return out


def _last_int(f: Dict[int, list], number: int, default: int = 0, signed: bool = True) -> int:
    values = f.get(number)
    if not values:
        return default
    v = values[-1]
    if not isinstance(v, int):
        raise ProtoError(f"field {number} should be an integer")
    return _signed64(v) if signed else v


def _messages(f: Dict[int, list], number: int) -> List[memoryview]:
    values = f.get(number)
    if not values:
        return []
    for v in values:
        if v.__class__ is int:
            raise ProtoError(f"field {number} should be a message")
    return values


def packed_varints(chunks: list) -> np.ndarray:
    """Values of a repeated varint field (packed chunks and/or single ints) as uint64, without a Python loop."""
    parts = []
    for c in chunks:
        if isinstance(c, int):
            parts.append(np.array([c & 0xFFFFFFFFFFFFFFFF], dtype=np.uint64))
            continue
        b = np.frombuffer(c, dtype=np.uint8)
        if b.size == 0:
            continue
        ends = np.flatnonzero(b < 0x80)
        if ends.size == 0 or ends[-1] != b.size - 1:
            raise ProtoError("truncated packed varint")
        starts = np.empty_like(ends)
        starts[0] = 0
        starts[1:] = ends[:-1] + 1
        lengths = ends - starts + 1
        if lengths.max() > 10:
            raise ProtoError("varint longer than 10 bytes")
        pos_in = np.arange(b.size) - np.repeat(starts, lengths)
        vals = (b & 0x7F).astype(np.uint64) << (7 * pos_in).astype(np.uint64)
        parts.append(np.bitwise_or.reduceat(vals, starts))
    if not parts:
        return np.zeros(0, dtype=np.uint64)
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def packed_fixed(chunks: list, dtype: str, width: int) -> np.ndarray:
    """Values of a repeated fixed32/fixed64 field (float_val, double_val, ...) as a numpy array."""
    parts = []
    for c in chunks:
        if isinstance(c, int):
            if c >> (8 * width):
                raise ProtoError(f"a varint where a fixed{8 * width} value belongs")
            parts.append(np.frombuffer(c.to_bytes(width, "little"), dtype=dtype))
        else:
            if len(c) % width:
                raise ProtoError(f"packed field of {len(c)} bytes is not a multiple of {width}")
            parts.append(np.frombuffer(c, dtype=dtype))
    if not parts:
        return np.zeros(0, dtype=dtype)
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


# --- messages ---

def parse_shape(buf) -> Tuple[int, ...]:
    """TensorShapeProto -> tuple of dims (``dim``=2, ``Dim.size``=1; unknown rank or sizes are refused)."""
    f = fields(buf)
    if _last_int(f, 3, 0):
        raise ProtoError("shape of unknown rank")
    dims = []
    for d in _messages(f, 2):
        size = _last_int(fields(d), 1, 0)
        if size < 0:
            raise ProtoError(f"negative dimension {size}")
        dims.append(size)
    return tuple(dims)


def parse_slice(buf) -> Tuple[Tuple[int, int], ...]:
    """TensorSliceProto -> ((start, length), ...) with length -1 for "the whole dimension"."""
    extents = []
    for e in _messages(fields(buf), 1):
        ef = fields(e)
        start = _last_int(ef, 1, 0)
        length = _last_int(ef, 2, -1) if 2 in ef else -1
        if start < 0 or length < -1:
            raise ProtoError(f"bad slice extent ({start}, {length})")
        extents.append((start, length))
    return tuple(extents)


class BundleHeader(NamedTuple):
    num_shards: int
    big_endian: bool
    producer: int
    min_consumer: int
    bad_consumers: Tuple[int, ...]


def parse_bundle_header(buf) -> BundleHeader:
    """BundleHeaderProto: num_shards=1, endianness=2 (LITTLE=0, BIG=1), version=3 (VersionDef)."""
    f = fields(buf)
    versions = _messages(f, 3)
    vf = fields(versions[-1]) if versions else {}
    bad = []
    for v in vf.get(3, []):
        bad.extend(int(x) for x in (packed_varints([v]) if not isinstance(v, int) else [v]))
    endian = _last_int(f, 2, 0)
    if endian not in (0, 1):
        raise ProtoError(f"unknown endianness {endian}")
    return BundleHeader(_last_int(f, 1, 1), endian == 1, _last_int(vf, 1, 0), _last_int(vf, 2, 0), tuple(bad))


class BundleEntry(NamedTuple):
    dtype: int
    shape: Tuple[int, ...]
    shard_id: int
    offset: int
    size: int
    crc32c: Optional[int]  # masked
    slices: Tuple[Tuple[Tuple[int, int], ...], ...]


def parse_bundle_entry(buf) -> BundleEntry:
    """BundleEntryProto: dtype=1, shape=2, shard_id=3, offset=4, size=5, crc32c=6 (fixed32), slices=7."""
    f = fields(buf)
    shapes = _messages(f, 2)
    crc = f.get(6)
    if crc is not None and not isinstance(crc[-1], int):
        raise ProtoError("crc32c should be a fixed32")
    entry = BundleEntry(
        dtype=_last_int(f, 1, 0), shape=parse_shape(shapes[-1]) if shapes else (),
        shard_id=_last_int(f, 3, 0), offset=_last_int(f, 4, 0), size=_last_int(f, 5, 0),
        crc32c=crc[-1] if crc else None, slices=tuple(parse_slice(s) for s in _messages(f, 7)))
    if entry.shard_id < 0 or entry.offset < 0 or entry.size < 0:
        raise ProtoError("negative shard, offset or size")
    return entry


# --- OrderedCode keys of slices: 0x00, name, ndims, then (start, length) per dim ---

def _write_num_increasing(v: int) -> bytes:
    body = v.to_bytes((v.bit_length() + 7) // 8, "big") if v else b""
    return bytes([len(body)]) + body


def _write_signed_num_increasing(v: int) -> bytes:
    x = ~v if v < 0 else v
    length = 1
    while x >= 1 << (7 * length - 1):  # a length-L code holds 7L-1 payload bits
        length += 1
    if length > 10:
        raise ProtoError(f"{v} does not fit OrderedCode")
    raw = v & ((1 << (8 * length)) - 1)
    header = ((1 << length) - 1) << (8 * length - length)
    return (raw ^ header).to_bytes(length, "big")


def encode_slice_key(name: str, extents) -> bytes:
    """TensorFlow's ``EncodeTensorNameSlice(name, slice)`` (full extents as (0, -1))."""
    raw = name.encode("utf-8").replace(b"\xff", b"\xff\x00").replace(b"\x00", b"\x00\xff")
    out = [b"\x00", raw, b"\x00\x01", _write_num_increasing(len(extents))]
    for start, length in extents:
        out.append(_write_signed_num_increasing(start))
        out.append(_write_signed_num_increasing(length))
    return b"".join(out)


def _read_signed(key: bytes, pos: int) -> Tuple[int, int]:
    if pos >= len(key):
        raise ProtoError("truncated slice key")
    flip = 0 if key[pos] & 0x80 else 0xFF
    length = 0
    while length <= 10 and pos + length // 8 < len(key) and (key[pos + length // 8] ^ flip) & (0x80 >> (length % 8)):
        length += 1  # the code length is the number of leading (sign-adjusted) one bits
    if length == 0 or length > 10 or pos + length > len(key):
        raise ProtoError("bad signed number in slice key")
    raw = int.from_bytes(key[pos:pos + length], "big") ^ (((1 << length) - 1) << (8 * length - length))
    if raw >= 1 << (8 * length - 1):
        raw -= 1 << (8 * length)
    if not -(1 << 63) <= raw < 1 << 63:
        raise ProtoError("slice key number does not fit 64 bits")
    return raw, pos + length


def decode_slice_key(key: bytes) -> Tuple[str, Tuple[Tuple[int, int], ...]]:
    """Inverse of :func:`encode_slice_key`: (tensor name, ((start, length), ...))."""
    if not key or key[0] != 0:
        raise ProtoError("not a slice key")
    pos = 1
    name = bytearray()
    while True:
        if pos + 1 >= len(key):
            raise ProtoError("unterminated name in slice key")
        b = key[pos]
        if b == 0x00 or b == 0xFF:
            nxt = key[pos + 1]
            if b == 0x00 and nxt == 0x01:
                pos += 2
                break
            if (b, nxt) not in ((0x00, 0xFF), (0xFF, 0x00)):
                raise ProtoError("bad escape in slice key")
            name.append(b)
            pos += 2
        else:
            name.append(b)
            pos += 1
    if pos >= len(key) or key[pos] > 8 or pos + 1 + key[pos] > len(key):
        raise ProtoError("bad rank in slice key")
    ndims = int.from_bytes(key[pos + 1:pos + 1 + key[pos]], "big")
    pos += 1 + key[pos]
    if ndims > len(key):
        raise ProtoError("bad rank in slice key")
    extents = []
    for _ in range(ndims):
        start, pos = _read_signed(key, pos)
        length, pos = _read_signed(key, pos)
        extents.append((start, length))
    if pos != len(key):
        raise ProtoError("trailing bytes in slice key")
    try:
        text = name.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ProtoError("slice key name is not UTF-8") from e
    return text, tuple(extents)
