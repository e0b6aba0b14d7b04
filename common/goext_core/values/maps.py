"""Go map walking: classic hash maps (Go <= 1.23) and swiss tables (Go 1.24+).

Classic, src/runtime/map.go (1.19-1.23): hmap{count int; flags uint8; B uint8;
noverflow uint16; hash0 uint32; buckets, oldbuckets unsafe.Pointer;
nevacuate uintptr; extra *mapextra}.  A bucket is tophash [8]uint8, 8 keys,
8 elems, then the overflow pointer; keys/elems over 128 bytes are stored
indirectly.  tophash 0 emptyRest, 1 emptyOne, 2/3 evacuatedX/Y, 4
evacuatedEmpty, >= 5 (minTopHash) a live cell.  While the map grows,
oldbuckets holds the old array; an old bucket whose tophash[0] is 2..4 has
been moved, otherwise its live cells are still only there.

Swiss, src/internal/runtime/maps/map.go, table.go, group.go (1.24+):
Map{used uint64; seed uintptr; dirPtr unsafe.Pointer; dirLen int; ...}.
dirLen == 0: a small map, dirPtr is one group.  Otherwise dirPtr is
*[dirLen]*table, and a table appears at 2^(globalDepth-localDepth)
consecutive indexes: only the entry whose index equals table.index is walked.
table{used, capacity, growthLeft uint16; localDepth uint8; index int;
groups{data unsafe.Pointer; lengthMask uint64}}.  A group is a ctrl word (8
control bytes, high bit set = empty or deleted) then 8 slots {key; elem}.
Swiss tables grow by rebuilding a table synchronously, so no map is ever seen
half-moved.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterator, Optional

from goext_core.errors import CorruptDataError, MemoryReadError
from goext_core.values.model import Memory, Value, alignment
from goext_core.values.types import GoType

if TYPE_CHECKING:
    from goext_core.program import GoProgram
    from goext_core.values.decode import Decoder

BUCKET_COUNT = 8  # abi.MapBucketCount / abi.MapGroupSlots
MIN_TOP_HASH = 5
EVACUATED_X, EVACUATED_Y, EVACUATED_EMPTY = 2, 3, 4
SAME_SIZE_GROW = 8  # hmap.flags sameSizeGrow
MAX_KEY_BYTES = 128  # abi.MapMaxKeyBytes / MapMaxElemBytes
CTRL_EMPTY_BIT = 0x80
_MAX_B = 40
_MAX_OVERFLOW_CHAIN = 1 << 16
_MAX_DIRECTORY = 1 << 20


# -- the runtime's own map[string]string (pprof labels) ----------------------------------
def read_string_map(program: "GoProgram", hmap: int, limit: int) -> dict[str, str]:
    """Entries of a map[string]string at ``hmap`` (a *hmap or *maps.Map), at most ``limit``."""
    if not hmap:
        return {}
    target = program.target
    ptr = target.ptr_size
    string_size = 2 * ptr
    out: dict[str, str] = {}
    for key_at, value_at in _slots(program, Memory(target), hmap, string_size, string_size, ptr, limit):
        out[target.read_go_string(key_at, 4096)] = target.read_go_string(value_at, 4096)
    return out


def is_swiss(program: "GoProgram") -> bool:
    def compute() -> bool:
        try:
            if program.pclntab.func_by_name("runtime.evacuate") is not None:
                return False
            if program.pclntab.func_by_name("runtime.growWork") is not None:
                return False
        except Exception:
            pass
        return (program.go_minor or 0) >= 24

    return program.binary_memo("swiss_maps", compute)


def slot_layout(
    key_size: int, key_align: int, elem_size: int, elem_align: int, ptr: int, swiss: bool
) -> tuple[int, int, int, int, bool, bool]:
    """(key stride, elem offset, elem stride / slot size, group-or-bucket size,
    key indirect, elem indirect) for one map type."""
    key_indirect = key_size > MAX_KEY_BYTES
    elem_indirect = elem_size > MAX_KEY_BYTES
    if key_indirect:
        key_size, key_align = ptr, ptr
    if elem_indirect:
        elem_size, elem_align = ptr, ptr
    if swiss:
        # slot struct {key K; elem V} (src/cmd/compile/internal/reflectdata/map.go)
        elem_offset = _round(key_size, elem_align)
        align = max(key_align, elem_align)
        slot = _round(elem_offset + elem_size, align)
        group = _round(8 + BUCKET_COUNT * slot, max(8, align))
        return slot, elem_offset, slot, group, key_indirect, elem_indirect
    # bucket {tophash [8]uint8; keys [8]K; elems [8]V; overflow *bucket}
    keys_offset = BUCKET_COUNT
    elems_offset = keys_offset + BUCKET_COUNT * key_size
    bucket = _round(elems_offset + BUCKET_COUNT * elem_size, ptr) + ptr
    return key_size, elems_offset, elem_size, bucket, key_indirect, elem_indirect


def _round(value: int, align: int) -> int:
    align = max(align, 1)
    return (value + align - 1) // align * align


def _slots(
    program: "GoProgram",
    reader: Any,
    map_address: int,
    key_size: int,
    elem_size: int,
    align: int,
    limit: int,
    key_align: Optional[int] = None,
    elem_align: Optional[int] = None,
    max_groups: int = 1 << 20,
    stats: Optional[dict[str, int]] = None,
) -> Iterator[tuple[int, int]]:
    """(key address, elem address) of each live entry, at most ``limit``."""
    ptr = program.target.ptr_size
    swiss = is_swiss(program)
    key_stride, elem_offset, elem_stride, unit, key_indirect, elem_indirect = slot_layout(
        key_size, key_align or align, elem_size, elem_align or align, ptr, swiss
    )
    walker = _swiss_groups if swiss else _classic_buckets
    produced = 0
    for base, index in walker(reader, map_address, unit, ptr, max_groups, stats):
        if swiss:
            key_at = base + 8 + index * key_stride
            elem_at = key_at + elem_offset
        else:
            key_at = base + BUCKET_COUNT + index * key_stride
            elem_at = base + elem_offset + index * elem_stride
        if key_indirect:
            key_at = reader.ptr(key_at)
        if elem_indirect:
            elem_at = reader.ptr(elem_at)
        yield key_at, elem_at
        produced += 1
        if produced >= limit:
            return


def map_count(reader: Any, map_address: int, ptr: int) -> int:
    # hmap.count int and Map.used uint64 are both the first word.
    return int.from_bytes(reader.read(map_address, ptr), "little")


def _classic_buckets(
    reader: Any, hmap: int, bucket_size: int, ptr: int, max_buckets: int, stats: Optional[dict[str, int]]
) -> Iterator[tuple[int, int]]:
    header = reader.read(hmap, 6 * ptr)
    flags, log2_buckets = header[ptr], header[ptr + 1]
    if log2_buckets > _MAX_B:
        raise CorruptDataError(f"map at {hmap:#x} has an absurd size (B={log2_buckets})")
    buckets = int.from_bytes(header[2 * ptr : 3 * ptr], "little")
    oldbuckets = int.from_bytes(header[3 * ptr : 4 * ptr], "little")
    scanned = 0
    if oldbuckets:
        old_b = log2_buckets if flags & SAME_SIZE_GROW else max(log2_buckets - 1, 0)
        old_count = 1 << old_b
        if stats is not None:
            stats["growing"] = 1
        blob = reader.read(oldbuckets, old_count * bucket_size) if old_count * bucket_size <= 1 << 26 else None
        for index in range(old_count):
            if scanned >= max_buckets:
                return
            first = blob[index * bucket_size : (index + 1) * bucket_size] if blob else None
            top0 = first[0] if first else reader.read(oldbuckets + index * bucket_size, 1)[0]
            if EVACUATED_X <= top0 <= EVACUATED_EMPTY:
                continue  # moved: its entries are in the new array
            for cell in _bucket_chain(reader, oldbuckets + index * bucket_size, first, bucket_size, ptr):
                scanned += 1
                yield cell
    if not buckets:
        return
    count = 1 << log2_buckets
    blob = reader.read(buckets, count * bucket_size) if count * bucket_size <= 1 << 26 else None
    for index in range(count):
        if scanned >= max_buckets:
            return
        first = blob[index * bucket_size : (index + 1) * bucket_size] if blob else None
        for cell in _bucket_chain(reader, buckets + index * bucket_size, first, bucket_size, ptr):
            scanned += 1
            yield cell


def _bucket_chain(
    reader: Any, bucket: int, first: Optional[bytes], bucket_size: int, ptr: int
) -> Iterator[tuple[int, int]]:
    seen: set[int] = set()
    data = first
    for _ in range(_MAX_OVERFLOW_CHAIN):
        if not bucket or bucket in seen:
            return
        seen.add(bucket)
        if data is None:
            data = reader.read(bucket, bucket_size)
        for slot in range(BUCKET_COUNT):
            if data[slot] >= MIN_TOP_HASH:
                yield bucket, slot
        bucket = int.from_bytes(data[bucket_size - ptr : bucket_size], "little")
        data = None


def _swiss_groups(
    reader: Any, map_address: int, group_size: int, ptr: int, max_groups: int, stats: Optional[dict[str, int]]
) -> Iterator[tuple[int, int]]:
    header = reader.read(map_address, 5 * ptr)
    used = int.from_bytes(header[0:8], "little")
    dir_ptr = int.from_bytes(header[2 * ptr : 3 * ptr], "little")
    dir_len = int.from_bytes(header[3 * ptr : 4 * ptr], "little", signed=True)
    if used == 0 or not dir_ptr:
        return
    if dir_len == 0:
        yield from _group_slots(reader.read(dir_ptr, group_size), dir_ptr)
        return
    if dir_len < 0 or dir_len > _MAX_DIRECTORY:
        raise CorruptDataError(f"map at {map_address:#x} has a bad directory length {dir_len}")
    directory = reader.read(dir_ptr, dir_len * ptr)
    scanned = 0
    for dir_index in range(dir_len):
        table = int.from_bytes(directory[dir_index * ptr : (dir_index + 1) * ptr], "little")
        if not table:
            continue
        header = reader.read(table, 4 * ptr)
        index = int.from_bytes(header[8:16], "little", signed=True)
        if index != dir_index:
            continue  # the same table again: walked at its first index
        if stats is not None:
            stats["tables"] = stats.get("tables", 0) + 1
        groups = int.from_bytes(header[16:24], "little")
        length_mask = int.from_bytes(header[24:32], "little")
        if length_mask >= 1 << 32:
            raise CorruptDataError(f"map table at {table:#x} has a bad group mask {length_mask:#x}")
        count = length_mask + 1
        if scanned + count > max_groups:
            count = max(0, max_groups - scanned)
        blob = reader.read(groups, count * group_size) if count else b""
        for group_index in range(count):
            data = blob[group_index * group_size : (group_index + 1) * group_size]
            yield from _group_slots(data, groups + group_index * group_size)
        scanned += count
        if scanned >= max_groups:
            return


def _group_slots(data: bytes, group: int) -> Iterator[tuple[int, int]]:
    for slot in range(BUCKET_COUNT):
        if not data[slot] & CTRL_EMPTY_BIT:
            yield group, slot


# -- the general map value -----------------------------------------------------------
def decode_map(decoder: "Decoder", t: GoType, map_address: int, address: Optional[int], depth: int) -> "Value":
    value = Value(t.name, "map", address, go_type=t)
    value.details["map"] = map_address
    if map_address == 0:
        value.is_nil = True
        return value
    key_type, elem_type = t.key, t.elem
    if key_type is None or elem_type is None:
        value.error = f"unknown key/element type of {t.name}"
        return value
    reader = decoder.memory
    program = decoder.program
    ptr = decoder.ptr_size
    try:
        count = map_count(reader, map_address, ptr)
    except MemoryReadError:
        value.error = f"unreadable map at {map_address:#x}"
        return value
    if count > 1 << 40:
        value.error = f"bad map length {count}"
        return value
    value.length = count
    if depth >= decoder.settings.max_depth:
        value.more = count
        return value
    limit = decoder.settings.max_elements
    stats: dict[str, int] = {}
    try:
        for key_at, elem_at in _slots(
            program,
            reader,
            map_address,
            key_type.size,
            elem_type.size,
            ptr,
            limit,
            alignment(key_type, ptr),
            alignment(elem_type, ptr),
            decoder.settings.max_map_groups,
            stats,
        ):
            value.entries.append(
                (decoder.decode(key_type, key_at, depth + 1), decoder.decode(elem_type, elem_at, depth + 1))
            )
    except (MemoryReadError, CorruptDataError) as exc:
        value.error = str(exc)
    value.more = max(0, count - len(value.entries))
    if stats.get("growing"):
        value.details["growing"] = True
    return value


def map_entries(decoder: "Decoder", t: GoType, map_address: int, limit: int) -> Iterator[tuple[int, int]]:
    """(key address, elem address) of the live entries of a map value (for printers)."""
    if not map_address or t.key is None or t.elem is None:
        return iter(())
    ptr = decoder.ptr_size
    return _slots(
        decoder.program,
        decoder.memory,
        map_address,
        t.key.size,
        t.elem.size,
        ptr,
        limit,
        alignment(t.key, ptr),
        alignment(t.elem, ptr),
        decoder.settings.max_map_groups,
    )


__all__ = ["decode_map", "is_swiss", "map_entries", "read_string_map", "slot_layout"]
