"""The LevelDB-style sorted table ("SSTable") that holds a V2 ``.index`` and a whole V1 checkpoint.

Layout (TensorFlow ``core/lib/io/table*.cc``, ``format.cc``, ``block.cc``): data blocks, a metaindex block and
an index block, each followed by a 5-byte trailer (type byte: 0 raw, 1 snappy; masked crc32c of the contents
plus the type byte), then a 48-byte footer: two varint BlockHandles (metaindex, index), zero padding to 40
bytes and the magic ``0xdb4775248b80fb57``. A block is a run of prefix-compressed entries
(``varint shared, varint non_shared, varint value_len, key suffix, value``), then a uint32 restart array and
its uint32 count. Each index-block value is the BlockHandle of a data block.
"""
from __future__ import annotations

import struct
from typing import Dict, Iterator, List, Tuple

from ..errors import CheckpointError
from . import _snappy
from ._crc32c import crc32c, unmask
from ._tf_proto import ProtoError, varint

__all__ = ["ChecksumError", "Table", "TABLE_MAGIC", "FOOTER_SIZE", "has_table_magic"]

TABLE_MAGIC = 0xDB4775248B80FB57
FOOTER_SIZE = 48
_TRAILER = 5


from ..errors import ChecksumError  # noqa: E402,F401  (re-exported for the readers)


def has_table_magic(buf) -> bool:
    """True when ``buf`` ends like a table file (V2 ``.index`` or V1 checkpoint)."""
    return len(buf) >= FOOTER_SIZE and struct.unpack_from("<Q", buf, len(buf) - 8)[0] == TABLE_MAGIC


class Table:
    """Random access to the entries of one table file held in ``buf`` (bytes or an mmap).

    Keys are parsed eagerly (cheap: headers and keys only); values stay zero-copy memoryviews into ``buf`` or
    into a decompressed block. ``verify`` checks each block's CRC: small blocks when they are parsed, blocks
    over ``lazy_verify_over`` bytes (V1 tensors of many MB) only when a value in them is read.
    """

    def __init__(self, buf, what: str, *, verify: bool = True, lazy_verify_over: int = 1 << 20) -> None:
        self.what = what
        self.verify = verify
        self._buf = memoryview(buf)
        self._lazy_over = lazy_verify_over
        self._checked: set = set()
        self._handles: List[Tuple[int, int]] = []
        self.entries: Dict[bytes, Tuple[int, memoryview]] = {}  # key -> (block number, value)
        try:
            self._open()
        except ProtoError as e:
            raise CheckpointError(f"{what}: corrupt table ({e}); the file is damaged, download it again") from e

    # -- structure --
    def _open(self) -> None:
        buf = self._buf
        if not has_table_magic(buf):
            raise CheckpointError(f"{self.what}: not a TensorFlow table file (no table magic at the end; "
                                  f"truncated, or another format)")
        footer = len(buf) - FOOTER_SIZE
        meta_handle, pos = self._handle(buf, footer, footer + 40)
        index_handle, _ = self._handle(buf, pos, footer + 40)
        if self.verify:  # the metaindex is empty in TF files and never read, but a flipped byte there is damage too
            self._check(meta_handle, -2)
        index = self._block(index_handle, -1)
        last = None
        for key, value in self._iter(index):
            if last is not None and key <= last:
                raise CheckpointError(f"{self.what}: index block keys out of order (corrupt file)")
            last = key
            handle, _ = self._handle(value, 0, len(value))
            self._handles.append(handle)
        previous = None
        for number, handle in enumerate(self._handles):
            block = self._block(handle, number, lazy=True)
            for key, value in self._iter(block):
                if previous is not None and key <= previous:
                    raise CheckpointError(f"{self.what}: table keys out of order (corrupt file)")
                previous = key
                self.entries[key] = (number, value)

    def _handle(self, buf, pos: int, end: int) -> Tuple[Tuple[int, int], int]:
        offset, pos = varint(buf, pos, end)
        size, pos = varint(buf, pos, end)
        if offset + size + _TRAILER > len(self._buf) - FOOTER_SIZE:
            raise CheckpointError(f"{self.what}: a block handle ({offset}, {size}) points past the end of the "
                                  f"file ({len(self._buf)} bytes); the file is truncated, download it again")
        return (offset, size), pos

    def _block(self, handle: Tuple[int, int], number: int, lazy: bool = False) -> memoryview:
        offset, size = handle
        kind = self._buf[offset + size]
        if self.verify and not (lazy and size > self._lazy_over):
            self._check(handle, number)
        raw = self._buf[offset:offset + size]
        if kind == 0:
            return raw
        if kind == 1:
            try:
                return memoryview(_snappy.decompress(raw))
            except _snappy.SnappyError as e:
                raise CheckpointError(f"{self.what}: corrupt snappy block at offset {offset} ({e})") from e
        raise CheckpointError(f"{self.what}: block at offset {offset} has unknown compression type {kind}")

    def _check(self, handle: Tuple[int, int], number: int) -> None:
        if number in self._checked:
            return
        offset, size = handle
        stored = unmask(int.from_bytes(self._buf[offset + size + 1:offset + size + 5], "little"))
        actual = crc32c(self._buf[offset + size:offset + size + 1], crc32c(self._buf[offset:offset + size]))
        if stored != actual:
            raise ChecksumError(f"{self.what}: checksum mismatch in the table block at offset {offset} "
                                f"(stored {stored:#010x}, computed {actual:#010x}); the file is corrupt, "
                                f"download it again")
        self._checked.add(number)

    def _iter(self, block: memoryview) -> Iterator[Tuple[bytes, memoryview]]:
        n = len(block)
        if n < 4:
            raise CheckpointError(f"{self.what}: table block of {n} bytes is too short")
        restarts = struct.unpack_from("<I", block, n - 4)[0]
        limit = n - 4 - 4 * restarts
        if restarts == 0 or limit < 0:
            raise CheckpointError(f"{self.what}: bad restart array ({restarts} restarts in {n} bytes)")
        key = b""
        pos = 0
        while pos < limit:
            shared, pos = varint(block, pos, limit)
            non_shared, pos = varint(block, pos, limit)
            value_len, pos = varint(block, pos, limit)
            if shared > len(key) or pos + non_shared + value_len > limit:
                raise CheckpointError(f"{self.what}: corrupt table entry (sizes run past the block)")
            key = key[:shared] + bytes(block[pos:pos + non_shared])
            pos += non_shared
            yield key, block[pos:pos + value_len]
            pos += value_len

    # -- access --
    def value(self, key: bytes) -> memoryview:
        """The value stored under ``key``; its block's CRC is checked first if that was deferred."""
        number, value = self.entries[key]
        if self.verify and number >= 0:
            self._check(self._handles[number], number)
        return value

    def release(self) -> None:
        """Drop every view into the buffer (so an mmap behind it can be closed)."""
        self.entries = {}
        try:
            self._buf.release()
        except BufferError:  # a caller still holds a numpy view; the buffer goes when that view does
            pass
