"""The value data model: what the decoder produces and everything that prints
or walks values needs, without the decoder itself.  The decoder
(:mod:`goext_core.values.decode`), the formatter table
(:mod:`goext_core.values.formatters`) and the map walker
(:mod:`goext_core.values.maps`) all import it, so none of them imports another
just for these names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from goext_core.errors import MemoryReadError
from goext_core.textsafe import safe_field
from goext_core.values.types import COMPLEX_KINDS, FLOAT_KINDS, SIGNED_KINDS, UNSIGNED_KINDS, GoType, Kind


class Memory:
    """Reads for one decoding pass.  Pages are cached by the target itself
    (the debugger front ends read through :mod:`goext_core.target.memory`; an
    offline core is a memory map); this refuses null and out-of-range
    addresses before the target is asked."""

    def __init__(self, target: Any) -> None:
        self.target = target
        self.reads = 0

    def read(self, address: int, size: int) -> bytes:
        if size <= 0:
            return b""
        if address <= 0 or address + size > 1 << 64:
            raise MemoryReadError(address, size, "bad address")
        self.reads += 1
        return self.target.read(address, size)

    def ptr(self, address: int) -> int:
        return int.from_bytes(self.read(address, self.target.ptr_size), self.target.byte_order)


# The state of each byte of a value read from a DWARF location (a "known"
# mask, one entry per byte).  What goext cannot know is marked, never read as
# zero: optimized out (DWARF says the compiler kept no copy: an empty piece, a
# location-list gap) or unavailable (a copy exists, but not where goext can
# read it: a register the unwinder could not recover for an outer frame,
# unreadable memory, a value at function entry).
BYTE_OPTIMIZED_OUT = 0
BYTE_KNOWN = 1
BYTE_UNAVAILABLE = 2

OPTIMIZED_OUT = "optimized out"
UNAVAILABLE = "unavailable"


def mask_reason(known: Optional[bytes]) -> Optional[str]:
    """Why some byte of a region is not known; None when every byte is."""
    if known is None or all(byte == BYTE_KNOWN for byte in known):
        return None
    return OPTIMIZED_OUT if BYTE_OPTIMIZED_OUT in known else UNAVAILABLE


@dataclass
class Settings:
    """Bounds on what one value prints."""

    max_elements: int = 64  # slice/array/map/chan elements shown
    max_string: int = 256  # string bytes shown
    max_depth: int = 6  # nesting levels decoded
    follow_pointers: bool = True  # one level past each pointer, cycle-safe
    max_map_groups: int = 1 << 20  # groups/buckets scanned in one map
    max_values: int = 1500  # values decoded for one printed value, all levels together


@dataclass
class Value:
    """One decoded Go value.  ``text`` holds a scalar's Go spelling; composite
    values carry ``children`` (name, Value) or ``entries`` (key, value).

    A value goext cannot know has ``unavailable`` set to the reason
    ("optimized out", "unavailable") and ``error`` to the same text; a value
    of which only some parts are known has ``partial`` set, and ``missing``
    names the header words that are not known (a slice's "ptr"/"len"/"cap",
    a string's "ptr"/"len", an interface's "type"/"data") with the reason,
    while fields and elements carry their own marks."""

    type_name: str
    kind: str  # the Go kind name ("int", "map", ...), or a recognizer's name ("time.Time", "error")
    address: Optional[int] = None
    text: Optional[str] = None
    children: list[tuple[str, "Value"]] = field(default_factory=list)
    entries: list[tuple["Value", "Value"]] = field(default_factory=list)
    length: Optional[int] = None
    capacity: Optional[int] = None
    more: int = 0  # elements not shown
    error: Optional[str] = None
    is_nil: bool = False
    details: dict[str, Any] = field(default_factory=dict)  # recognizer extras
    go_type: Optional[GoType] = field(default=None, repr=False, compare=False)
    unavailable: Optional[str] = None  # why the whole value is not known
    partial: bool = False  # some part (see missing, children, entries) is not known
    missing: dict[str, str] = field(default_factory=dict)  # header word -> why it is not known
    # The bytes a value with no address was decoded from (a variable in
    # registers or DWARF pieces), when all of them are known: what Go
    # expressions index, slice and select from.
    raw: Optional[bytes] = field(default=None, repr=False, compare=False)

    @property
    def marked(self) -> bool:
        """Whether any part of this value is not known (optimized out or unavailable)."""
        return self.unavailable is not None or self.partial

    @property
    def ok(self) -> bool:
        return self.error is None


def alignment(go_type: GoType, ptr_size: int = 8) -> int:
    """Go's alignment of a type (src/cmd/compile/internal/types/size.go rules)."""
    kind = go_type.kind
    if kind in COMPLEX_KINDS:
        return go_type.size // 2
    if kind in SIGNED_KINDS or kind in UNSIGNED_KINDS or kind in FLOAT_KINDS or kind == Kind.BOOL:
        return max(1, min(go_type.size, ptr_size))
    if kind == Kind.STRUCT:
        best = 1
        for member in go_type.fields[:256]:
            best = max(best, alignment(member.type, ptr_size))
        return best
    if kind == Kind.ARRAY:
        return alignment(go_type.elem, ptr_size) if go_type.elem is not None else 1
    return ptr_size


def quote_go_string(blob: bytes) -> str:
    """strconv.Quote of (possibly cut) string bytes."""
    text = blob.decode("utf-8", "surrogateescape")
    # Backslash and quote first; then textsafe escapes controls, C1, bidi and
    # format characters and undecodable bytes as %q does, so the target's
    # string can never reach a terminal raw.
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{safe_field(escaped)}"'
