"""LEB128: the variable-length integers of DWARF and of Go (Go's uvarint is
unsigned LEB128, encoding/binary.Uvarint).  The one reader and encoder in goext.

pclntab.py keeps an inline copy of :func:`read_uleb128` in
``Pclntab.decode_values``: that loop decodes two varints per pc-value step for
every function goext unwinds or symbolizes, and a call per varint made it
about 1.7x slower (measured; see the comment there).
"""

from __future__ import annotations

from typing import Optional, Union

from goext_core.errors import CorruptDataError

Buffer = Union[bytes, bytearray, memoryview]


class TruncatedLeb128Error(CorruptDataError):
    """The data ended (or the allowed span did) inside a LEB128 number."""


def read_uleb128(data: Buffer, position: int = 0, end: Optional[int] = None) -> tuple[int, int]:
    """(value, position just after it) of the unsigned LEB128 at ``position``.
    ``end`` (default: the end of ``data``) bounds how far the number may run."""
    limit = len(data) if end is None else min(end, len(data))
    value = 0
    shift = 0
    while position < limit:
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, position
    raise TruncatedLeb128Error("truncated LEB128")


def read_sleb128(data: Buffer, position: int = 0, end: Optional[int] = None) -> tuple[int, int]:
    """(value, position just after it) of the signed LEB128 at ``position``."""
    limit = len(data) if end is None else min(end, len(data))
    value = 0
    shift = 0
    while position < limit:
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            if byte & 0x40:
                value -= 1 << shift
            return value, position
    raise TruncatedLeb128Error("truncated LEB128")


def skip_leb128(data: Buffer, position: int = 0, end: Optional[int] = None) -> int:
    """The position just after the LEB128 (signed or not) at ``position``."""
    limit = len(data) if end is None else min(end, len(data))
    while position < limit:
        if not data[position] & 0x80:
            return position + 1
        position += 1
    raise TruncatedLeb128Error("truncated LEB128")


def encode_uleb128(value: int) -> bytes:
    """Unsigned LEB128 (DWARF), the same bytes as Go's uvarint."""
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def encode_sleb128(value: int) -> bytes:
    """Signed LEB128 (DWARF)."""
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if (value == 0 and not byte & 0x40) or (value == -1 and byte & 0x40):
            out.append(byte)
            return bytes(out)
        out.append(byte | 0x80)
