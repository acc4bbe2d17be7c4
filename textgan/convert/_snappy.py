"""Raw snappy decompression (no framing), for table blocks whose trailer type byte is 1.

Format (google/snappy ``format_description.txt``): a varint32 uncompressed length, then elements whose tag
byte's low 2 bits give the kind: 0 literal (length-1 in the upper 6 bits, 60..63 meaning 1..4 little-endian
length bytes follow), 1 copy with a 3-bit length (4..11) and an 11-bit offset, 2 copy with a 6-bit length
(1..64) and a 2-byte offset, 3 the same with a 4-byte offset. Copies may overlap their own output.
"""
from __future__ import annotations

__all__ = ["SnappyError", "decompress"]

# A copy element emits at most 64 bytes from 2 input bytes, so no valid stream expands more than 32x;
# rejecting larger declared lengths keeps a corrupt header from asking for gigabytes.
_MAX_RATIO = 32


class SnappyError(ValueError):
    """The snappy stream is corrupt (the table reader turns this into a CheckpointError)."""


def decompress(data) -> bytes:
    """Decompress a raw snappy stream; raises :class:`SnappyError` on any inconsistency."""
    src = bytes(data)
    n = len(src)
    length = 0
    shift = 0
    pos = 0
    while True:
        if pos >= n or shift > 28:
            raise SnappyError("bad uncompressed-length varint")
        b = src[pos]
        pos += 1
        length |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            break
    if length > _MAX_RATIO * n + 64:
        raise SnappyError(f"declared length {length} is impossible for {n} compressed bytes")
    out = bytearray()
    while pos < n:
        tag = src[pos]
        pos += 1
        kind = tag & 3
        if kind == 0:
            size = tag >> 2
            if size >= 60:
                extra = size - 59
                if pos + extra > n:
                    raise SnappyError("truncated literal length")
                size = int.from_bytes(src[pos:pos + extra], "little")
                pos += extra
            size += 1
            if pos + size > n:
                raise SnappyError("literal runs past the end of the input")
            out += src[pos:pos + size]
            pos += size
        else:
            if kind == 1:
                if pos >= n:
                    raise SnappyError("truncated copy")
                size = 4 + ((tag >> 2) & 7)
                offset = ((tag >> 5) << 8) | src[pos]
                pos += 1
            else:
                width = 2 if kind == 2 else 4
                if pos + width > n:
                    raise SnappyError("truncated copy")
                size = (tag >> 2) + 1
                offset = int.from_bytes(src[pos:pos + width], "little")
                pos += width
            have = len(out)
            if offset == 0 or offset > have:
                raise SnappyError(f"copy offset {offset} outside the {have} bytes written so far")
            start = have - offset
            if size <= offset:
                out += out[start:start + size]
            else:  # overlapping copy: the pattern of the last `offset` bytes repeats
                pattern = bytes(out[start:])
                reps = -(-size // offset)
                out += (pattern * reps)[:size]
        if len(out) > length:
            raise SnappyError(f"output exceeds the declared length {length}")
    if len(out) != length:
        raise SnappyError(f"output is {len(out)} bytes, the header declared {length}")
    return bytes(out)
