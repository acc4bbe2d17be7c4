"""CRC-32C (Castagnoli) in numpy, and TensorFlow's masked form of it.

TensorFlow checkpoints store masked CRC-32C values (reflected polynomial ``0x82F63B78``, init and final xor
``0xFFFFFFFF``) over table blocks and over every tensor's bytes. A byte-at-a-time Python loop runs at about
8 MB/s, far too slow for weights, so large inputs go through numpy:

1. **Folding** (long inputs). The CRC is ``M(x) * x^32 mod P(x)`` where the message is the polynomial ``M``
   (first bit = highest degree), so ``M = H * x^d + L`` may be replaced by ``H * K + L`` with
   ``K = x^d mod P``. For the distances ``d = 64 * D`` in :data:`_FOLD_WORDS`, ``K`` has only 1 to 7 terms
   (found by an exhaustive search over ``D < 2**26``), so ``H * K`` is the XOR of a few bit-shifted copies of
   ``H``: four plain vectorised uint64 operations per term and word, no table lookups. Long messages are
   streamed (Horner's rule over 945 KB pieces with a 3-term ``K``: read once, nothing big allocated, split
   between threads); what is left is folded in halves down to 64 KB.
2. **Tables** (the last 64 KB, and mid-sized inputs). The register update is GF(2)-linear, so each 64-byte
   block is cut into 32 little-endian 16-bit units, unit ``j`` is looked up in its own 65,536-entry table
   (its contribution with ``62 - 2j`` bytes after it, one ``np.take`` per column over many blocks), and the
   block values are folded pairwise with 16-bit tables of the "append n zero bytes" operator.

Small inputs use the Python loop, which is faster below a few kilobytes. Figures in benchmarks/README.md.

When Google's ``google-crc32c`` package (a dependency; hardware CRC instructions through its C extension) is
importable with its C implementation, :func:`crc32c` hands every input of a few kilobytes or more to it: about
5x faster than the numpy kernels above, which remain the fallback (its pure-Python fallback is slower than
them, so it is never used) and can be forced with ``TEXTGAN_CRC32C=numpy``.
"""
from __future__ import annotations

import os
import sys
from typing import Dict, List, Optional, Union

import numpy as np

__all__ = ["crc32c", "crc32c_numpy", "crc32c_combine", "mask", "unmask", "crc32c_py"]

_POLY = 0x82F63B78
_MASK_DELTA = 0xA282EAD8
_U32 = 0xFFFFFFFF

Buffer = Union[bytes, bytearray, memoryview, np.ndarray]


def _make_table() -> List[int]:
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ _POLY if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _make_table()
_TABLE_NP = np.array(_TABLE, dtype=np.uint32)

_P_NORMAL = 0x11EDC6F41  # the same polynomial with x^32, bit i = coefficient of x^i (for the fold constants)
# Fold distances in 64-bit words, about 10% apart, for which x^(64*D) mod P has at most 7 terms (weight 1, 3,
# 5 or 7; all weights are odd because P has the factor x + 1). tests/convert/test_tf.py re-derives the weights.
_FOLD_WORDS = (
    4748, 6077, 6792, 8354, 10712, 13156, 14478, 16404, 18297, 20171, 23559, 26215, 28902, 32287, 35466, 35535,
    40506, 43781, 46272, 51532, 56803, 61927, 63210, 69700, 77327, 78056, 85155, 93795, 100210, 103300, 111516,
    114357, 118183, 123192, 126828, 139601, 153210, 153579, 169430, 177656, 186640, 205950, 206127, 226908,
    249911, 267668, 276479, 304427, 307105, 336266, 339700, 371070, 379804, 408365, 418429, 449453, 461025,
    495057, 508480, 544887, 564063, 599466, 621217, 659511, 685037, 725622, 759608, 798526, 836492, 878399,
    922419, 966751, 1023593, 1037394, 1063987, 1156951, 1177480, 1218485, 1278475, 1295300, 1415461, 1424833,
    1567060, 1567842, 1664082, 1725661, 1730752, 1833847, 1898538, 1907947, 2074788, 2088408, 2107400, 2297607,
    2340601, 2527984, 2564831, 2575399, 2780981, 2838872, 3059712, 3130326, 3212382, 3365971, 3443376, 3702954,
    3804263, 4073994, 4209707, 4411812, 4481648, 4632320, 4930668, 5054044, 5097366, 5424223, 5607704, 5967950,
    6124485, 6181546, 6565019, 6749757, 6821649, 7222906, 7533890, 7640632, 7945245, 8289229, 8421002, 8740557,
    9121730, 9614675, 9996263, 10034656, 10577197, 11044647, 11187674, 11635032, 12157546, 12800111, 12890647,
    13387068, 14080193, 14737492, 15139749, 15488451, 16238650, 16694103, 17037784, 17862692, 18507005,
    18741708, 19662461, 20616242, 20773832, 21645090, 22678239, 23817000, 24011315, 24946412, 26198856,
    26429486, 27442332, 28827464, 29509474, 30186685, 31725333, 32645436, 33205511, 33554432, 34902911,
    36119263, 36526705, 38399115, 40105183, 40179834, 42246720, 44198120, 44319669, 46483034, 48618167,
    48856999, 51138347, 53480187, 53787371, 56253693, 58830110, 59428048, 61879251, 64713298, 65771035,
    67108864,
)
_FOLD_STOP = 1 << 13  # fold while the input has more 64-bit words than this (64 KiB); tables do the rest
_FOLD_CHUNK = 1 << 15  # words per vectorised step (the operands stay in cache)
_STREAM_WORDS = 118183  # piece of the streaming mode (945 KB): x^(64 * 118183) mod P = x + x^17 + x^19
_BLOCK = 64  # bytes per block of the table kernel
_UNITS = _BLOCK // 2  # 16-bit units per block
_CHUNK_BLOCKS = 4096  # blocks per np.take call (256 KiB of input: the index buffer stays in cache)
_NUMPY_MIN = 4096  # below this many bytes the Python loop is faster


def mask(crc: int) -> int:
    """TensorFlow/LevelDB masking: rotate right by 15 bits, then add ``0xa282ead8`` (mod 2**32)."""
    crc &= _U32
    return ((((crc >> 15) | (crc << 17)) & _U32) + _MASK_DELTA) & _U32


def unmask(masked: int) -> int:
    """Inverse of :func:`mask`."""
    rot = (masked - _MASK_DELTA) & _U32
    return ((rot >> 17) | (rot << 15)) & _U32


def _update_py(reg: int, data) -> int:
    table = _TABLE
    for b in data:
        reg = table[(reg ^ b) & 0xFF] ^ (reg >> 8)
    return reg


def crc32c_py(data: Buffer, crc: int = 0) -> int:
    """Reference CRC-32C, one byte at a time (the definition the vectorised code is tested against)."""
    return _update_py(crc ^ _U32, memoryview(data).cast("B")) ^ _U32


# --- the "append n zero bytes" operator, a 32x32 GF(2) matrix stored as the images of the 32 basis bits ---

def _apply(op: List[int], c: int) -> int:
    r = 0
    i = 0
    while c:
        if c & 1:
            r ^= op[i]
        c >>= 1
        i += 1
    return r


_ONE_ZERO_BYTE = [_TABLE[(1 << i) & 0xFF] ^ ((1 << i) >> 8) for i in range(32)]
_ZERO_POWERS: List[List[int]] = [_ONE_ZERO_BYTE]  # [k]: append 2**k zero bytes


def _zeros_op(k: int) -> List[int]:
    while len(_ZERO_POWERS) <= k:
        last = _ZERO_POWERS[-1]
        _ZERO_POWERS.append([_apply(last, v) for v in last])
    return _ZERO_POWERS[k]


def _shift(reg: int, n: int) -> int:
    """The register after ``n`` zero bytes are fed to it (linear part only)."""
    k = 0
    while n and reg:
        if n & 1:
            reg = _apply(_zeros_op(k), reg)
        n >>= 1
        k += 1
    return reg


# --- numpy tables, built on first use (8 MiB for the unit tables, 512 KiB per fold level) ---

_UNIT_TABLES: List[np.ndarray] = []
_SHIFT_TABLES: Dict[int, tuple] = {}


def _np_zero_byte(c: np.ndarray) -> np.ndarray:
    return _TABLE_NP[c & 0xFF] ^ (c >> np.uint32(8))


def _unit_tables() -> List[np.ndarray]:
    if not _UNIT_TABLES:
        u = np.arange(65536, dtype=np.uint32)
        last = _np_zero_byte(_TABLE_NP[u & 0xFF]) ^ _TABLE_NP[u >> np.uint32(8)]  # bytes (lo, hi), nothing after
        tables = [last]
        for _ in range(_UNITS - 1):
            tables.append(_np_zero_byte(_np_zero_byte(tables[-1])))
        _UNIT_TABLES.extend(reversed(tables))  # [j]: unit j of a block, 2 * (_UNITS - 1 - j) bytes after it
    return _UNIT_TABLES


def _table16(images: List[int]) -> np.ndarray:
    """All XOR combinations of 16 basis images: ``t[u] = XOR of images[i] for the set bits i of u``."""
    t = np.zeros(1, dtype=np.uint32)
    for v in images:
        t = np.concatenate([t, t ^ np.uint32(v)])
    return t


def _shift_tables(n: int) -> tuple:
    """(lo, hi) tables of the "append n zero bytes" operator for the low and high 16 register bits."""
    tabs = _SHIFT_TABLES.get(n)
    if tabs is None:
        images = [_shift(1 << i, n) for i in range(32)]
        tabs = (_table16(images[:16]), _table16(images[16:]))
        _SHIFT_TABLES[n] = tabs
    return tabs


def _block_values(data: np.ndarray) -> np.ndarray:
    """Linear CRC contribution of each 64-byte block of ``data`` (uint8, length a multiple of 64)."""
    tables = _unit_tables()
    units = data.view("<u2").reshape(-1, _UNITS)
    out = np.empty(units.shape[0], dtype=np.uint32)
    rows = min(_CHUNK_BLOCKS, units.shape[0])
    index = np.empty(rows, dtype=np.intp)
    gathered = np.empty(rows, dtype=np.uint32)
    for start in range(0, units.shape[0], rows):
        part = units[start:start + rows]
        n = part.shape[0]
        acc = out[start:start + n]
        ix, g = index[:n], gathered[:n]
        ix[...] = part[:, 0]
        np.take(tables[0], ix, out=acc, mode="clip")
        for j in range(1, _UNITS):
            ix[...] = part[:, j]
            np.take(tables[j], ix, out=g, mode="clip")
            acc ^= g
    return out


def _fold_blocks(values: np.ndarray, piece: int) -> int:
    """Combine the contributions of consecutive ``piece``-byte pieces into that of their concatenation."""
    while values.shape[0] > 1:
        if values.shape[0] & 1:  # a zero piece in front changes nothing (its distance to the end is unchanged)
            values = np.concatenate([np.zeros(1, dtype=np.uint32), values])
        lo, hi = _shift_tables(piece)
        left, right = values[0::2], values[1::2]
        values = lo[left & np.uint32(0xFFFF)] ^ hi[left >> np.uint32(16)] ^ right
        piece *= 2
    return int(values[0]) if values.shape[0] else 0


def _poly_mulmod(a: int, b: int) -> int:
    r = 0
    while b:
        if b & 1:
            r ^= a
        b >>= 1
        a <<= 1
        if a >> 32:
            a ^= _P_NORMAL
    return r


def _fold_terms(words: int) -> List[int]:
    """The exponents j of the terms x^j of K = x^(64 * words) mod P."""
    terms = _FOLD_TERMS.get(words)
    if terms is None:
        e, base, k = 64 * words, 2, 1
        while e:
            if e & 1:
                k = _poly_mulmod(k, base)
            base = _poly_mulmod(base, base)
            e >>= 1
        terms = _FOLD_TERMS[words] = [j for j in range(32) if k >> j & 1]
    return terms


_FOLD_TERMS: Dict[int, List[int]] = {}


def _fold_pair(high: np.ndarray, low: np.ndarray, out: Optional[np.ndarray] = None) -> np.ndarray:
    """``H * x^(64 len(L)) + L`` -> ``H * K + L``: a message of ``max(len(H) + 1, len(L))`` words with the
    same remainder (``H * K`` is one word longer than ``H``), written into ``out`` when given."""
    h, d = high.shape[0], low.shape[0]
    size = max(h + 1, d)
    out = np.empty(size, dtype=np.uint64) if out is None else out[:size]
    out[:size - d] = 0
    out[size - d:] = low  # both parts end at degree 0, i.e. at the end of the message
    prod = out[size - h - 1:]  # where H * K goes
    # Word t of H * K gets bits of high[t-1] and high[t]: x^j moves bits j places towards the start.
    terms = _fold_terms(d)
    shifts = [(np.uint64(j), np.uint64(64 - j)) for j in terms if j]
    if len(shifts) < len(terms):  # the x^0 term
        prod[1:] ^= high
    a_buf = np.empty(min(_FOLD_CHUNK, h), dtype=np.uint64)
    b_buf = np.empty(min(_FOLD_CHUNK, h), dtype=np.uint64)
    for right, left in shifts:
        prod[0] ^= high[0] << left
        prod[h] ^= high[h - 1] >> right
    for start in range(1, h, _FOLD_CHUNK):
        stop = min(start + _FOLD_CHUNK, h)
        target, prev, cur = prod[start:stop], high[start - 1:stop - 1], high[start:stop]
        a, b = a_buf[:stop - start], b_buf[:stop - start]
        for right, left in shifts:
            np.right_shift(prev, right, out=a)
            np.left_shift(cur, left, out=b)
            np.bitwise_or(a, b, out=a)
            np.bitwise_xor(target, a, out=target)
    return out


def _fold_once(words: np.ndarray, d: int) -> np.ndarray:
    """Fold the last ``d`` words of a message into the rest (see :func:`_fold_pair`)."""
    return _fold_pair(words[:words.shape[0] - d], words[words.shape[0] - d:])


def _fold(words: np.ndarray) -> np.ndarray:
    """Fold a message (uint64 little-endian words) into a short one with the same CRC remainder."""
    while words.shape[0] > _FOLD_STOP:
        n = words.shape[0]
        # the distance with the best progress per unit of work: n - max(n - d + 1, d) words gone for
        # terms * (n - d) operations
        best, score = 0, 0.0
        for d in _FOLD_WORDS:
            if d >= n - 1:
                break
            gain = n - max(n - d + 1, d)
            if gain > 0 and gain / (len(_fold_terms(d)) * (n - d)) > score:
                best, score = d, gain / (len(_fold_terms(d)) * (n - d))
        if not best:
            break
        words = _fold_once(words, best)
    return words


def _stream(words: np.ndarray) -> np.ndarray:
    """Horner's rule over ``_STREAM_WORDS``-word pieces: ``A <- A * x^(64 S) + piece`` with a 3-term
    ``x^(64 S) mod P``. The accumulator stays about one piece long and lives in two reused buffers, so a long
    message is read once and nothing big is allocated (fresh memory costs page faults)."""
    piece = _STREAM_WORDS
    n = words.shape[0]
    first = n % piece or piece
    steps = (n - first) // piece
    bufs = [np.empty(piece + steps + 2, dtype=np.uint64) for _ in range(2)]
    acc = words[:first]
    for k, start in enumerate(range(first, n, piece)):
        acc = _fold_pair(acc, words[start:start + piece], bufs[k % 2])
        lead = int(np.argmax(acc != 0)) if acc[0] == 0 else 0
        acc = acc[lead:]  # drop leading zero words: the accumulator grows by at most 31 bits a step
    return acc


def _raw_words(words: np.ndarray) -> int:
    """Linear CRC part (zero initial register) of a message of uint64 little-endian words."""
    if words.shape[0] > 2 * _STREAM_WORDS:
        words = _stream(words)
    return _raw_tables(_fold(words).view(np.uint8))


def _raw_parallel(words: np.ndarray) -> int:
    """:func:`_raw_words` over up to ``_threads()`` segments at once (numpy releases the GIL), combined."""
    n = words.shape[0]
    threads = min(_threads(), n // (8 * _STREAM_WORDS))
    if threads <= 1:
        return _raw_words(words)
    bounds = [n * i // threads for i in range(threads + 1)]
    parts = list(_pool().map(lambda i: _raw_words(words[bounds[i]:bounds[i + 1]]), range(threads)))
    raw = 0
    for i, part in enumerate(parts):
        raw = _shift(raw, 8 * (bounds[i + 1] - bounds[i])) ^ part
    return raw


_POOL = None


def _threads() -> int:
    """Threads for long inputs: ``$TEXTGAN_CRC_THREADS``, else up to 4 (fewer on smaller machines)."""
    env = os.environ.get("TEXTGAN_CRC_THREADS", "")
    return max(1, int(env)) if env.isdigit() else max(1, min(4, os.cpu_count() or 1))


def _pool():
    global _POOL
    if _POOL is None:
        from concurrent.futures import ThreadPoolExecutor

        _POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="textgan-crc32c")
    return _POOL


def _raw_tables(data: np.ndarray) -> int:
    """Linear CRC part (zero initial register) of ``data`` (uint8) with the table kernel."""
    main = data.shape[0] - data.shape[0] % _BLOCK
    raw = _fold_blocks(_block_values(data[:main]), _BLOCK) if main else 0
    return _update_py(raw, data[main:].tobytes())


def _as_uint8(data: Buffer) -> np.ndarray:
    if isinstance(data, np.ndarray):
        if not data.flags.c_contiguous:
            data = np.ascontiguousarray(data)
        return data.reshape(-1).view(np.uint8)
    return np.frombuffer(data, dtype=np.uint8)


def _load_native():
    """``google_crc32c.extend`` when its C extension is available and not disabled, else None."""
    if os.environ.get("TEXTGAN_CRC32C", "").lower() == "numpy":
        return None
    try:
        import google_crc32c
    except ImportError:
        return None
    return google_crc32c.extend if getattr(google_crc32c, "implementation", "") == "c" else None


_native_extend = _load_native()


def crc32c(data: Buffer, crc: int = 0) -> int:
    """CRC-32C of ``data``, continuing from ``crc``, the CRC-32C of the bytes before it (0 to start).

    ``crc32c(b"123456789") == 0xE3069283``; ``crc32c(b, crc32c(a)) == crc32c(a + b)``. ``data`` may be any
    buffer (bytes, memoryview, mmap slice) or a C-contiguous numpy array (its raw bytes are used).
    """
    arr = _as_uint8(data)
    n = arr.shape[0]
    if n >= _NUMPY_MIN and _native_extend is not None:
        # google_crc32c takes read-only numpy arrays (not memoryviews of mmaps) without copying
        return _native_extend(crc & _U32, arr)
    return crc32c_numpy(arr, crc)


def crc32c_numpy(data: Buffer, crc: int = 0) -> int:
    """:func:`crc32c` through textgan's own kernels only (the fallback when google-crc32c is missing)."""
    arr = _as_uint8(data)
    n = arr.shape[0]
    reg = (crc ^ _U32) & _U32
    if n < _NUMPY_MIN:
        return _update_py(reg, arr.tobytes()) ^ _U32
    skip = -arr.ctypes.data % 8  # numpy is slow on unaligned words: the first bytes go the slow way
    reg = _update_py(reg, arr[:skip].tobytes())
    arr = arr[skip:]
    main = (n - skip) // 8 * 8
    if main // 8 > 2 * _FOLD_STOP and sys.byteorder == "little":
        raw = _raw_parallel(arr[:main].view("<u8"))
    else:
        raw = _raw_tables(arr[:main])
    reg = _shift(reg, main) ^ raw
    return _update_py(reg, arr[main:].tobytes()) ^ _U32


def crc32c_combine(crc_a: int, crc_b: int, len_b: int) -> int:
    """CRC-32C of ``a + b`` from the CRC-32C of ``a``, that of ``b`` and ``len(b)`` (zlib's crc32_combine)."""
    return _shift(crc_a, len_b) ^ crc_b
