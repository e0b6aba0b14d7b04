"""Classic (pre-swiss) Go map walking, for the runtime's own small maps.

Layouts from src/runtime/map.go (Go 1.19-1.23): hmap{count int; flags uint8;
B uint8; noverflow uint16; hash0 uint32; buckets, oldbuckets unsafe.Pointer;
nevacuate uintptr; extra *mapextra}; a bucket is tophash [8]uint8, then 8 keys,
8 elems, then the overflow pointer.  Tophash values below minTopHash (5) mark
empty or evacuated cells.  The general value printer builds on this later.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import CorruptDataError

if TYPE_CHECKING:
    from .program import GoProgram

BUCKET_COUNT = 8
MIN_TOP_HASH = 5
_MAX_B = 40
_MAX_OVERFLOW_CHAIN = 1 << 16


def read_string_map(program: "GoProgram", hmap: int, limit: int) -> dict[str, str]:
    """Entries of a map[string]string at ``hmap`` (a *hmap), at most ``limit``."""
    if not hmap:
        return {}
    target = program.target
    ptr = target.ptr_size
    header = target.read(hmap, 6 * ptr)
    count = int.from_bytes(header[0:ptr], "little")
    log2_buckets = header[ptr + 1]
    if log2_buckets > _MAX_B or count > 1 << 40:
        raise CorruptDataError(f"map at {hmap:#x} has an absurd size")
    buckets = int.from_bytes(header[2 * ptr:3 * ptr], "little")
    oldbuckets = int.from_bytes(header[3 * ptr:4 * ptr], "little")
    key_size = value_size = 2 * ptr
    bucket_size = BUCKET_COUNT + BUCKET_COUNT * (key_size + value_size) + ptr
    out: dict[str, str] = {}
    tables = [(buckets, log2_buckets)]
    if oldbuckets:
        tables.append((oldbuckets, max(log2_buckets - 1, 0)))
    for base, b in tables:
        for index in range(1 << b):
            bucket = base + index * bucket_size
            for _ in range(_MAX_OVERFLOW_CHAIN):
                if not bucket or len(out) >= limit:
                    break
                data = target.read(bucket, bucket_size)
                for slot in range(BUCKET_COUNT):
                    if data[slot] < MIN_TOP_HASH:
                        continue
                    key_at = bucket + BUCKET_COUNT + slot * key_size
                    value_at = bucket + BUCKET_COUNT + BUCKET_COUNT * key_size + slot * value_size
                    out[target.read_go_string(key_at, 4096)] = target.read_go_string(value_at, 4096)
                bucket = int.from_bytes(data[bucket_size - ptr:bucket_size], "little")
    return out
