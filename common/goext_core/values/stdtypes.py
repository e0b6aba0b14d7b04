"""Recognizers for standard-library types, read from memory as their String
methods would print them, without calling any target code.

Every layout is looked up by field name in the type's own DWARF or runtime
type metadata, so the recognizers follow the Go release (fields that moved or
changed type between Go 1.19 and 1.27 are handled where they are read).  A
recognizer returns None when the type does not have the fields it expects, or
its bytes are not all known, so the generic struct view shows instead; memory
it cannot read makes the value unreadable (the decoder catches the
MemoryReadError), never a guess.
"""

from __future__ import annotations

import decimal
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional

from goext_core.errors import GoextError, MemoryReadError
from goext_core.values.model import Value, quote_go_string
from goext_core.values.types import GoType, Kind

if TYPE_CHECKING:
    from goext_core.values.decode import Decoder

_MAX_ZONES = 1024  # a Location's zone table (real ones hold < 20)
_MAX_TRANSITIONS = 1 << 14  # a Location's transition table (real "fat" ones hold < 400)
_MAX_BIG_WORDS = 200  # big.Int/big.Float mantissa words read (12800 bits: ~3850 decimal digits)
# Exact decimal expansions stay below Python's 4300-digit int-to-text limit (and fast).
_MAX_EXACT_BITS = 14000
_MAX_CONTEXT_CHAIN = 32  # contexts followed towards the root
_MAX_TRIE_NODES = 1 << 14  # HashTrieMap nodes visited for one sync.Map


# -- reading helpers ------------------------------------------------------------------
def _complete(t: GoType, data: bytes) -> bool:
    return len(data) >= t.size


def _uint(t: GoType, data: bytes, name: str, signed: bool = False) -> Optional[int]:
    """A scalar field (or the first word of a one-field wrapper such as atomic.Uint32)."""
    member = t.field(name)
    if member is None or member.type.size > 8 or member.offset + member.type.size > len(data):
        return None
    return int.from_bytes(data[member.offset : member.offset + member.type.size], "little", signed=signed)


def _part(t: GoType, data: bytes, name: str) -> Optional[tuple[GoType, bytes, int]]:
    """(type, bytes, offset) of a field."""
    member = t.field(name)
    if member is None or member.offset + member.type.size > len(data):
        return None
    return member.type, data[member.offset : member.offset + member.type.size], member.offset


def _at(address: Optional[int], offset: int) -> Optional[int]:
    return address + offset if address is not None else None


def _words(decoder: "Decoder", data: bytes, count: int) -> list[int]:
    size = decoder.ptr_size
    return [int.from_bytes(data[i * size : (i + 1) * size], "little") for i in range(count)]


def _string_field(decoder: "Decoder", t: GoType, data: bytes, name: str, limit: int = 1 << 16) -> Optional[bytes]:
    """The bytes of a string field, None if the field is missing; longer than ``limit`` is an error."""
    part = _part(t, data, name)
    if part is None or part[0].kind != Kind.STRING:
        return None
    pointer, length = _words(decoder, part[1], 2)
    if length > limit:
        raise GoextError(f"{name}: string of {length} bytes is too long to be right")
    return decoder.memory.read(pointer, length) if length else b""


def _slice_field(decoder: "Decoder", t: GoType, data: bytes, name: str) -> Optional[tuple[int, int, int]]:
    """(pointer, len, cap) of a slice field."""
    part = _part(t, data, name)
    if part is None or part[0].kind != Kind.SLICE:
        return None
    pointer, length, capacity = _words(decoder, part[1], 3)
    if length > capacity:
        raise GoextError(f"{name}: bad slice header (len {length}, cap {capacity})")
    return pointer, length, capacity


def _symbol_address(decoder: "Decoder", name: str) -> Optional[int]:
    """Run-time address of a package variable, from the symbol table (None when stripped)."""
    program = decoder.program
    cache: dict[str, Optional[int]] = program.binary_memo("stdtypes_symbols", dict)
    if name not in cache:
        address = program.binary.symbol(name)
        cache[name] = None if address is None else address + program.target.load_bias()
    return cache[name]


def _text_value(t: GoType, kind: str, address: Optional[int], text: str, **details: Any) -> Value:
    return Value(t.name, kind, address, text=text, details=dict(details), go_type=t)


def _go_text(blob: bytes) -> str:
    return blob.decode("utf-8", "surrogateescape")


# -- time ------------------------------------------------------------------------------
# src/time/time.go: wall's top bit hasMonotonic; with it, wall bits 1..33 hold
# seconds since 1885 (wallToInternal) and ext the monotonic reading; without
# it ext holds seconds since year 1 (unixToInternal).
_WALL_TO_INTERNAL = (1884 * 365 + 1884 // 4 - 1884 // 100 + 1884 // 400) * 86400
_UNIX_TO_INTERNAL = (1969 * 365 + 1969 // 4 - 1969 // 100 + 1969 // 400) * 86400
_NSEC_MASK = (1 << 30) - 1
_NSEC_SHIFT = 30
_SECONDS_PER_DAY = 86400


@dataclass
class Zone:
    """The zone in effect at one instant: what Location.lookup returns."""

    abbreviation: str
    offset: int  # seconds east of UTC
    location: str  # the Location's name ("UTC", "Local", "America/Mazatlan", ...)


def _days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (any year)."""
    year -= month <= 2
    era = year // 400
    year_of_era = year - era * 400
    day_of_year = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146097 + day_of_era - 719468


def _civil_from_days(days: int) -> tuple[int, int, int]:
    """(year, month, day) of a day count since 1970-01-01 (any year)."""
    days += 719468
    era = days // 146097
    day_of_era = days - era * 146097
    year_of_era = (day_of_era - day_of_era // 1460 + day_of_era // 36524 - day_of_era // 146096) // 365
    day_of_year = day_of_era - (365 * year_of_era + year_of_era // 4 - year_of_era // 100)
    mp = (5 * day_of_year + 2) // 153
    day = day_of_year - (153 * mp + 2) // 5 + 1
    month = mp + (3 if mp < 10 else -9)
    return year_of_era + era * 400 + (month <= 2), month, day


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _go_int(number: int, width: int) -> str:
    """time's appendInt: a '-' then the absolute value zero-padded to width."""
    return ("-" if number < 0 else "") + str(abs(number)).zfill(width)


def _go_rem(a: int, b: int) -> int:
    """Go's % (truncated towards zero)."""
    rem = abs(a) % abs(b)
    return -rem if a < 0 else rem


def _numeric_zone(offset: int, colon: bool = False) -> str:
    """-0700 (or -07:00): hours and minutes, seconds dropped, as time.Format does."""
    minutes = abs(offset) // 60
    sign = "-" if offset < 0 else "+"
    return f"{sign}{minutes // 60:02d}{':' if colon else ''}{minutes % 60:02d}"


def format_time(unix: int, nsec: int, zone: Zone, monotonic: Optional[int]) -> tuple[str, str]:
    """(Time.String(), RFC 3339 with nanoseconds) of an instant in a zone."""
    local = unix + zone.offset
    days, seconds = divmod(local, _SECONDS_PER_DAY)
    year, month, day = _civil_from_days(days)
    hour, rest = divmod(seconds, 3600)
    minute, second = divmod(rest, 60)
    fraction = f".{nsec:09d}".rstrip("0") if nsec else ""
    date = f"{_go_int(year, 4)}-{month:02d}-{day:02d}"
    clock = f"{hour:02d}:{minute:02d}:{second:02d}{fraction}"
    name = zone.abbreviation or _numeric_zone(zone.offset)
    text = f"{date} {clock} {_numeric_zone(zone.offset)} {name}"
    if monotonic is not None:
        # Time.String's " m=±seconds.nanoseconds" (src/time/format.go).
        sign = "-" if monotonic < 0 else "+"
        whole, nanos = divmod(abs(monotonic), 1_000_000_000)
        text += f" m={sign}{whole}.{nanos:09d}"
    rfc = f"{date}T{clock}{'Z' if zone.offset == 0 else _numeric_zone(zone.offset, colon=True)}"
    return text, rfc


def _time(decoder: "Decoder", t: GoType, data: bytes, address: Optional[int], depth: int) -> Optional[Value]:
    wall = _uint(t, data, "wall")
    ext = _uint(t, data, "ext", signed=True)
    loc_part = _part(t, data, "loc")
    if wall is None or ext is None or loc_part is None or not _complete(t, data):
        return None
    loc = int.from_bytes(loc_part[1][: decoder.ptr_size], "little")
    nsec = wall & _NSEC_MASK
    monotonic: Optional[int] = None
    if wall >> 63:
        seconds = ((wall << 1) & ((1 << 64) - 1)) >> (_NSEC_SHIFT + 1)
        internal = seconds + _WALL_TO_INTERNAL
        monotonic = ext
    else:
        internal = ext
    unix = internal - _UNIX_TO_INTERNAL
    details: dict[str, Any] = {"unix": unix, "nsec": nsec}
    if monotonic is not None:
        details["monotonic"] = monotonic
    location_type = loc_part[0].elem
    zone: Optional[Zone]
    if loc == 0:
        zone = Zone("UTC", 0, "UTC")  # a nil *Location is UTC (src/time/time.go Time.loc)
    elif location_type is None:
        return None
    else:
        try:
            zone = zone_at(decoder, location_type, loc, unix)
        except (MemoryReadError, GoextError) as exc:
            zone = None  # the instant is still known
            details["zone_error"] = str(exc)
    if zone is None:
        # The zone cannot be known: say so, with the instant in UTC.
        text, rfc = format_time(unix, nsec, Zone("UTC", 0, "UTC"), monotonic)
        details.update(rfc3339_utc=rfc, zone="unknown")
        return Value(t.name, "time.Time", address, text=f"{text} (zone unknown)", details=details, go_type=t)
    text, rfc = format_time(unix, nsec, zone, monotonic)
    details.update(rfc3339=rfc, zone=zone.abbreviation, offset=zone.offset, location=zone.location)
    return Value(t.name, "time.Time", address, text=text, details=details, go_type=t)


@dataclass
class _Location:
    name: str
    zones: list[tuple[str, int, bool]]  # (abbreviation, offset, isDST)
    transitions: list[tuple[int, int]]  # (when, zone index)
    extend: str
    cache: Optional[tuple[int, int, int]]  # (start, end, address of the cached zone)


def _read_location(decoder: "Decoder", t: GoType, address: int) -> Optional[_Location]:
    """time.Location{name, zone []zone, tx []zoneTrans, extend, cacheStart, cacheEnd,
    cacheZone} (src/time/zoneinfo.go), or None if the type does not look like it."""
    data = decoder.memory.read(address, t.size)
    name = _string_field(decoder, t, data, "name", 4096)
    zones_header = _slice_field(decoder, t, data, "zone")
    tx_header = _slice_field(decoder, t, data, "tx")
    extend = _string_field(decoder, t, data, "extend", 4096)
    zone_member, tx_member = t.field("zone"), t.field("tx")
    if name is None or zones_header is None or tx_header is None or extend is None:
        return None
    if zone_member is None or tx_member is None or zone_member.type.elem is None or tx_member.type.elem is None:
        return None
    zone_type, tx_type = zone_member.type.elem, tx_member.type.elem
    if zones_header[1] > _MAX_ZONES or tx_header[1] > _MAX_TRANSITIONS:
        raise GoextError(f"time.Location with {zones_header[1]} zones and {tx_header[1]} transitions")
    zones: list[tuple[str, int, bool]] = []
    if zones_header[1]:
        blob = decoder.memory.read(zones_header[0], zones_header[1] * zone_type.size)
        for index in range(zones_header[1]):
            chunk = blob[index * zone_type.size : (index + 1) * zone_type.size]
            abbreviation = _string_field(decoder, zone_type, chunk, "name", 256)
            offset = _uint(zone_type, chunk, "offset", signed=True)
            is_dst = _uint(zone_type, chunk, "isDST")
            if abbreviation is None or offset is None or is_dst is None:
                return None
            zones.append((_go_text(abbreviation), offset, bool(is_dst)))
    transitions: list[tuple[int, int]] = []
    if tx_header[1]:
        blob = decoder.memory.read(tx_header[0], tx_header[1] * tx_type.size)
        for index in range(tx_header[1]):
            chunk = blob[index * tx_type.size : (index + 1) * tx_type.size]
            when = _uint(tx_type, chunk, "when", signed=True)
            zone_index = _uint(tx_type, chunk, "index")
            if when is None or zone_index is None:
                return None
            transitions.append((when, zone_index))
    cache = None
    start = _uint(t, data, "cacheStart", signed=True)
    end = _uint(t, data, "cacheEnd", signed=True)
    cached = _uint(t, data, "cacheZone")
    if start is not None and end is not None and cached:
        cache = (start, end, cached)
    return _Location(_go_text(name), zones, transitions, _go_text(extend), cache)


def zone_at(decoder: "Decoder", location_type: GoType, loc: int, unix: int) -> Optional[Zone]:
    """Location.lookup (src/time/zoneinfo.go): the zone in effect at ``unix`` in
    the Location at ``loc``; None when that cannot be known."""
    location = _read_location(decoder, location_type, loc)
    if location is None:
        return None
    if not location.zones:
        local = _symbol_address(decoder, "time.localLoc")
        if location.name == "" and (local is None or local == loc):
            # time.Local before its first use (initLocal has not run) looks
            # like this, and so does an empty Location{}: which one is unknown
            # without the symbol table, and Local's zone is unknown until loaded.
            return None
        return Zone("UTC", 0, location.name)
    if location.cache is not None and location.cache[0] <= unix < location.cache[1]:
        zone = _cached_zone(decoder, location_type, location.cache[2])
        if zone is not None:
            return Zone(zone[0], zone[1], location.name)
    zones, transitions = location.zones, location.transitions
    if not transitions or unix < transitions[0][0]:
        abbreviation, offset, _ = zones[_first_zone(zones, transitions)]
        return Zone(abbreviation, offset, location.name)
    low, high = 0, len(transitions)
    while high - low > 1:
        middle = (low + high) // 2
        if unix < transitions[middle][0]:
            high = middle
        else:
            low = middle
    index = transitions[low][1]
    if index >= len(zones):
        raise GoextError(f"time.Location {location.name!r}: transition to zone {index} of {len(zones)}")
    abbreviation, offset, _ = zones[index]
    if low == len(transitions) - 1 and location.extend:
        extended = tzset(location.extend, unix)
        if extended is not None:
            return Zone(extended[0], extended[1], location.name)
    return Zone(abbreviation, offset, location.name)


def _cached_zone(decoder: "Decoder", location_type: GoType, address: int) -> Optional[tuple[str, int]]:
    member = location_type.field("cacheZone")
    zone_type = member.type.elem if member is not None else None
    if zone_type is None:
        return None
    data = decoder.memory.read(address, zone_type.size)
    name = _string_field(decoder, zone_type, data, "name", 256)
    offset = _uint(zone_type, data, "offset", signed=True)
    if name is None or offset is None:
        return None
    return _go_text(name), offset


def _first_zone(zones: list[tuple[str, int, bool]], transitions: list[tuple[int, int]]) -> int:
    """Location.lookupFirstZone: the zone for times before the first transition."""
    if not any(index == 0 for _, index in transitions):
        return 0
    if transitions and transitions[0][1] < len(zones) and zones[transitions[0][1]][2]:
        for index in range(transitions[0][1] - 1, -1, -1):
            if not zones[index][2]:
                return index
    for index, zone in enumerate(zones):
        if not zone[2]:
            return index
    return 0


# POSIX TZ strings ("EST5EDT,M3.2.0,M11.1.0"), as src/time/zoneinfo.go tzset reads them.
def _tz_number(text: str, low: int, high: int) -> Optional[tuple[int, str]]:
    digits = 0
    while digits < len(text) and text[digits].isdigit() and text[digits].isascii():
        digits += 1
    if digits == 0:
        return None
    number = int(text[:digits])
    if number < low or number > high:
        return None
    return number, text[digits:]


def _tz_name(text: str) -> Optional[tuple[str, str]]:
    if not text:
        return None
    if text[0] == "<":
        end = text.find(">")
        return None if end < 0 else (text[1:end], text[end + 1 :])
    for index, char in enumerate(text):
        if char in "0123456789,-+":
            return None if index < 3 else (text[:index], text[index:])
    return None if len(text) < 3 else (text, "")


def _tz_offset(text: str) -> Optional[tuple[int, str]]:
    if not text:
        return None
    negative = text[0] == "-"
    if text[0] in "+-":
        text = text[1:]
    parsed = _tz_number(text, 0, 24 * 7)
    if parsed is None:
        return None
    offset, text = parsed[0] * 3600, parsed[1]
    for scale in (60, 1):
        if not text or text[0] != ":":
            break
        parsed = _tz_number(text[1:], 0, 59)
        if parsed is None:
            return None
        offset, text = offset + parsed[0] * scale, parsed[1]
    return (-offset if negative else offset), text


@dataclass
class _Rule:
    kind: str  # "julian" (Jn), "doy" (n) or "mwd" (Mm.w.d)
    day: int
    week: int = 0
    month: int = 0
    time: int = 2 * 3600


def _tz_rule(text: str) -> Optional[tuple[_Rule, str]]:
    if not text:
        return None
    if text[0] == "J":
        parsed = _tz_number(text[1:], 1, 365)
        if parsed is None:
            return None
        rule, text = _Rule("julian", parsed[0]), parsed[1]
    elif text[0] == "M":
        fields: list[int] = []
        text = text[1:]
        for low, high in ((1, 12), (1, 5), (0, 6)):
            if fields:
                if not text or text[0] != ".":
                    return None
                text = text[1:]
            parsed = _tz_number(text, low, high)
            if parsed is None:
                return None
            fields.append(parsed[0])
            text = parsed[1]
        rule = _Rule("mwd", fields[2], week=fields[1], month=fields[0])
    else:
        parsed = _tz_number(text, 0, 365)
        if parsed is None:
            return None
        rule, text = _Rule("doy", parsed[0]), parsed[1]
    if text and text[0] == "/":
        offset = _tz_offset(text[1:])
        if offset is None:
            return None
        rule.time, text = offset
    return rule, text


_DAYS_BEFORE = (0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365)


def _rule_time(year: int, rule: _Rule, offset: int) -> int:
    """tzruleTime: seconds since the start of the year (UTC) when the rule fires."""
    if rule.kind == "julian":
        seconds = (rule.day - 1) * _SECONDS_PER_DAY
        if _is_leap(year) and rule.day >= 60:
            seconds += _SECONDS_PER_DAY
    elif rule.kind == "doy":
        seconds = rule.day * _SECONDS_PER_DAY
    else:
        first_weekday = (_days_from_civil(year, rule.month, 1) + 4) % 7  # 1970-01-01 was a Thursday; Sunday is 0
        day = rule.day - first_weekday
        if day < 0:
            day += 7
        month_days = _DAYS_BEFORE[rule.month] - _DAYS_BEFORE[rule.month - 1] + (rule.month == 2 and _is_leap(year))
        for _ in range(1, rule.week):
            if day + 7 >= month_days:
                break
            day += 7
        day += _DAYS_BEFORE[rule.month - 1] + (_is_leap(year) and rule.month > 2)
        seconds = day * _SECONDS_PER_DAY
    return seconds + rule.time - offset


def tzset(spec: str, unix: int) -> Optional[tuple[str, int]]:
    """(abbreviation, offset) a POSIX TZ string gives at ``unix``; None if Go would not parse it."""
    parsed_name = _tz_name(spec)
    parsed_offset = _tz_offset(parsed_name[1]) if parsed_name else None
    if parsed_name is None or parsed_offset is None:
        return None
    std_name, (std_offset, rest) = parsed_name[0], parsed_offset
    std_offset = -std_offset  # TZ offsets are west of UTC
    if not rest or rest[0] == ",":
        return std_name, std_offset
    parsed_name = _tz_name(rest)
    if parsed_name is None:
        return None
    dst_name, rest = parsed_name
    if not rest or rest[0] == ",":
        dst_offset = std_offset + 3600
    else:
        parsed_offset = _tz_offset(rest)
        if parsed_offset is None:
            return None
        dst_offset, rest = -parsed_offset[0], parsed_offset[1]
    if not rest:
        rest = ",M3.2.0,M11.1.0"  # tzcode's default rules
    if rest[0] not in ",;":
        return None
    start_rule = _tz_rule(rest[1:])
    if start_rule is None or not start_rule[1] or start_rule[1][0] != ",":
        return None
    end_rule = _tz_rule(start_rule[1][1:])
    if end_rule is None or end_rule[1]:
        return None
    days = (unix // _SECONDS_PER_DAY) if unix >= 0 else -((-unix + _SECONDS_PER_DAY - 1) // _SECONDS_PER_DAY)
    year, _, _ = _civil_from_days(days)
    year_day = days - _days_from_civil(year, 1, 1)
    year_seconds = year_day * _SECONDS_PER_DAY + _go_rem(unix, _SECONDS_PER_DAY)
    start = _rule_time(year, start_rule[0], std_offset)
    end = _rule_time(year, end_rule[0], dst_offset)
    if end < start:  # southern hemisphere: the names swap roles
        start, end = end, start
        std_name, dst_name = dst_name, std_name
        std_offset, dst_offset = dst_offset, std_offset
    if year_seconds < start or year_seconds >= end:
        return std_name, std_offset
    return dst_name, dst_offset


def _location(decoder: "Decoder", t: GoType, data: bytes, address: Optional[int], depth: int) -> Optional[Value]:
    """time.Location: its name, as Location.String prints it."""
    if address is None or not _complete(t, data):
        return None
    name = _string_field(decoder, t, data, "name", 4096)
    if name is None:
        return None
    if not name and address == _symbol_address(decoder, "time.localLoc"):
        return _text_value(t, "time.Location", address, "Local (not loaded yet)", name="Local", loaded=False)
    return _text_value(t, "time.Location", address, _go_text(name) if name else '""', name=_go_text(name))


# -- math/big ------------------------------------------------------------------------
def _nat(decoder: "Decoder", t: GoType, data: bytes, name: str) -> Optional[tuple[int, int]]:
    """(value, words) of a big.nat field ([]Word, least significant word first)."""
    header = _slice_field(decoder, t, data, name)
    if header is None:
        return None
    pointer, length, _ = header
    if length > _MAX_BIG_WORDS:
        return None
    blob = decoder.memory.read(pointer, length * decoder.ptr_size) if length else b""
    return int.from_bytes(blob, "little"), length


def _big_int(decoder: "Decoder", t: GoType, data: bytes, address: Optional[int], depth: int) -> Optional[Value]:
    """math/big.Int{neg bool; abs nat} (src/math/big/int.go), in decimal as Int.String."""
    negative = _uint(t, data, "neg")
    if negative is None or not _complete(t, data):
        return None
    header = _slice_field(decoder, t, data, "abs")
    if header is None:
        return None
    if header[1] > _MAX_BIG_WORDS:
        # nat is normalized (no leading zero word): the top word gives the exact bit length
        top = decoder.memory.ptr(header[0] + (header[1] - 1) * decoder.ptr_size)
        bits = (header[1] - 1) * decoder.ptr_size * 8 + top.bit_length()
        text = f"<{'negative ' if negative else ''}{bits}-bit integer, too long to show>"
        return _text_value(t, "big.Int", address, text, bits=bits)
    magnitude = _nat(decoder, t, data, "abs")
    if magnitude is None:
        return None
    number = -magnitude[0] if negative else magnitude[0]
    return _text_value(t, "big.Int", address, str(number))


_FORM_ZERO, _FORM_FINITE, _FORM_INF = 0, 1, 2  # src/math/big/float.go form


def _big_float(decoder: "Decoder", t: GoType, data: bytes, address: Optional[int], depth: int) -> Optional[Value]:
    """math/big.Float{prec, mode, acc, form, neg, mant nat, exp int32} (src/math/big/float.go):
    x = 0.mant × 2**exp; shown as fmt's %v does (the shortest decimal that
    rounds back to x at its precision, src/math/big/ftoa.go)."""
    precision = _uint(t, data, "prec")
    form = _uint(t, data, "form")
    negative = _uint(t, data, "neg")
    exponent = _uint(t, data, "exp", signed=True)
    if precision is None or form is None or negative is None or exponent is None or not _complete(t, data):
        return None
    sign = "-" if negative else ""
    if form == _FORM_ZERO:
        return _text_value(t, "big.Float", address, f"{sign}0", precision=precision)
    if form == _FORM_INF:
        return _text_value(t, "big.Float", address, "-Inf" if negative else "+Inf", precision=precision)
    if form != _FORM_FINITE:
        raise GoextError(f"big.Float with unknown form {form}")
    mantissa = _nat(decoder, t, data, "mant")
    if mantissa is None or mantissa[0] == 0 or precision == 0:
        header = _slice_field(decoder, t, data, "mant")
        words = header[1] if header else 0
        return _text_value(
            t, "big.Float", address, f"<{words}-word mantissa at precision {precision}: not shown>", precision=precision
        )
    value, words = mantissa
    bits = words * decoder.ptr_size * 8
    binary_exponent = exponent - bits
    # roundShortest widens the mantissa to precision+1 bits: size the widest expansion.
    widen = max(0, precision + 1 - value.bit_length())
    if precision > _MAX_EXACT_BITS or not _decimal_fits(value.bit_length() + widen, binary_exponent - widen):
        # Too many digits to spell exactly: 17 significant digits, said to be approximate.
        context = decimal.Context(prec=17, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN)
        approximate = context.multiply(decimal.Decimal(value), context.power(decimal.Decimal(2), binary_exponent))
        text = f"{sign}{approximate:e} (approximately)"
        return _text_value(t, "big.Float", address, text, precision=precision, approximate=True)
    digits, point = shortest_decimal(value, binary_exponent, precision, decoder.program.go_minor or 0)
    return _text_value(t, "big.Float", address, sign + format_shortest(digits, point), precision=precision)


def _decimal_fits(bit_length: int, exponent: int) -> bool:
    """Whether the exact decimal of a bit_length-bit value × 2**exponent (value ×
    5**-exponent when exponent < 0: 5**k has k·log2(5) bits) stays under _MAX_EXACT_BITS."""
    grown = exponent if exponent > 0 else (-exponent * 2322) // 1000 + 1
    return bit_length + 1 + grown <= _MAX_EXACT_BITS


def _decimal(value: int, exponent: int) -> tuple[str, int]:
    """Exact decimal of value × 2**exponent: (digits without trailing zeros, point position)."""
    if exponent >= 0:
        text = str(value << exponent)
        point = len(text)
    else:
        text = str(value * 5**-exponent)
        point = len(text) + exponent
    stripped = text.rstrip("0")
    return stripped or "0", point


def _round_up(digits: str, point: int, keep: int) -> tuple[str, int]:
    """decimal.roundUp (src/math/big/decimal.go)."""
    if keep >= len(digits):
        return digits, point
    head = digits[:keep]
    number = str(int(head) + 1) if head else "1"
    if len(number) > len(head):
        point += 1
    return number.rstrip("0") or "0", point


def _round_down(digits: str, point: int, keep: int) -> tuple[str, int]:
    if keep >= len(digits):
        return digits, point
    return digits[:keep].rstrip("0") or "0", point


def shortest_decimal(mantissa: int, exponent: int, precision: int, go_minor: int = 0) -> tuple[str, int]:
    """roundShortest (src/math/big/ftoa.go), digit for digit as Go runs it: the
    fewest digits that still identify mantissa × 2**exponent among Floats of
    its precision.  Returns (digits, decimal point position)."""
    digits, point = _decimal(mantissa, exponent)
    shift = mantissa.bit_length() - (precision + 1)
    if shift < 0:
        mantissa <<= -shift
    else:
        mantissa >>= shift
    exponent += shift
    # mantissa's lowest bit is now half an ulp at the Float's precision
    lower, _ = _decimal(mantissa - 1, exponent)
    upper, _ = _decimal(mantissa + 1, exponent)
    inclusive = mantissa & 2 == 0
    for index, digit in enumerate(digits):
        # Go compares the digit strings index by index (decimal.at), whatever their exponents.
        low = lower[index] if index < len(lower) else "0"
        high = upper[index] if index < len(upper) else "0"
        ok_down = low != digit or (inclusive and index + 1 == len(lower))
        ok_up = digit != high and (
            inclusive
            or ord(digit) + 1 < ord(high)
            or index + 1 < len(upper)
            or (go_minor >= 27 and index >= len(upper) and digit < "9")  # added in Go 1.27
        )
        if ok_down and ok_up:
            return _round_nearest(digits, point, index + 1)
        if ok_down:
            return _round_down(digits, point, index + 1)
        if ok_up:
            return _round_up(digits, point, index + 1)
    return digits, point


def _round_nearest(digits: str, point: int, keep: int) -> tuple[str, int]:
    """decimal.round: half to even on the exact digits."""
    if keep >= len(digits):
        return digits, point
    next_digit = digits[keep]
    if next_digit == "5" and keep + 1 == len(digits):
        up = keep > 0 and int(digits[keep - 1]) % 2 == 1
    else:
        up = next_digit >= "5"
    return _round_up(digits, point, keep) if up else _round_down(digits, point, keep)


def format_shortest(digits: str, point: int) -> str:
    """%g with the shortest digits: exponent form when exp < -4 || exp >= 6 (ftoa.go)."""
    exp = point - 1
    if exp < -4 or exp >= 6:
        body = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{body}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if point <= 0:
        return "0." + "0" * -point + digits
    if point >= len(digits):
        return digits + "0" * (point - len(digits))
    return f"{digits[:point]}.{digits[point:]}"


# -- net, net/netip --------------------------------------------------------------------
def _ipv4_text(raw: bytes) -> str:
    return ".".join(str(b) for b in raw)


def ipv6_text(raw: bytes) -> str:
    """RFC 5952 text as net.IP.String and netip.Addr.String print it: the first
    longest run of two or more zero groups becomes '::'."""
    groups = [int.from_bytes(raw[i : i + 2], "big") for i in range(0, 16, 2)]
    best_start, best_length = -1, 0
    index = 0
    while index < 8:
        if groups[index]:
            index += 1
            continue
        end = index
        while end < 8 and groups[end] == 0:
            end += 1
        if end - index >= 2 and end - index > best_length:
            best_start, best_length = index, end - index
        index = end
    if best_start < 0:
        return ":".join(f"{g:x}" for g in groups)
    left = ":".join(f"{g:x}" for g in groups[:best_start])
    right = ":".join(f"{g:x}" for g in groups[best_start + best_length :])
    return f"{left}::{right}"


_V4_IN_V6_PREFIX = b"\0" * 10 + b"\xff\xff"


def _net_ip(decoder: "Decoder", t: GoType, data: bytes, address: Optional[int], depth: int) -> Optional[Value]:
    """net.IP ([]byte): IP.String (src/net/ip.go)."""
    if t.kind != Kind.SLICE or not _complete(t, data):
        return None
    pointer, length, capacity = _words(decoder, data, 3)
    if length > capacity:
        return None
    if length == 0:
        return _text_value(t, "net.IP", address, "<nil>", len=0)
    if length not in (4, 16):
        if length > 64:
            return None
        raw = decoder.memory.read(pointer, length)
        return _text_value(t, "net.IP", address, "?" + raw.hex(), len=length)
    raw = decoder.memory.read(pointer, length)
    if length == 4:
        return _text_value(t, "net.IP", address, _ipv4_text(raw), len=4)
    if raw[:12] == _V4_IN_V6_PREFIX:
        return _text_value(t, "net.IP", address, _ipv4_text(raw[12:]), len=16)
    return _text_value(t, "net.IP", address, ipv6_text(raw), len=16)


def _netip_addr_text(decoder: "Decoder", t: GoType, data: bytes, with_zone: bool = True) -> Optional[str]:
    """netip.Addr{addr uint128{hi, lo}; z} (src/net/netip/netip.go): z is
    *intern.Value until Go 1.22 (z0 nil, z4, z6noz package variables, else the
    zone string) and unique.Handle[addrDetail]{value *addrDetail{isV6, zoneV6}}
    since 1.23.  Returns None if the layout is not one of those."""
    address_part = _part(t, data, "addr")
    zone_part = _part(t, data, "z")
    if address_part is None or zone_part is None:
        return None
    hi = _uint(address_part[0], address_part[1], "hi")
    lo = _uint(address_part[0], address_part[1], "lo")
    if hi is None or lo is None:
        return None
    raw = hi.to_bytes(8, "big") + lo.to_bytes(8, "big")
    zone_type, zone_bytes, _ = zone_part
    handle = int.from_bytes(zone_bytes[: decoder.ptr_size], "little")
    if handle == 0:
        return "invalid IP"
    is_v6: Optional[bool]
    zone = ""
    if zone_type.kind == Kind.STRUCT and zone_type.field("value") is not None:
        detail_type = zone_type.fields[0].type.elem
        if detail_type is None:
            return None
        detail = decoder.memory.read(handle, detail_type.size)
        flag = _uint(detail_type, detail, "isV6")
        zone_bytes_read = _string_field(decoder, detail_type, detail, "zoneV6", 256)
        if flag is None or zone_bytes_read is None:
            return None
        is_v6, zone = bool(flag), _go_text(zone_bytes_read)
    elif zone_type.kind == Kind.POINTER:
        z4, z6 = _symbol_address(decoder, "net/netip.z4"), _symbol_address(decoder, "net/netip.z6noz")
        if z4 is not None and z6 is not None:
            z4, z6 = decoder.memory.ptr(z4), decoder.memory.ptr(z6)
        if handle == z4:
            is_v6 = False
        elif handle == z6:
            is_v6 = True
        else:
            is_v6 = None
            value_type = zone_type.elem
            cmp = value_type.field("cmpVal") if value_type is not None else None
            if value_type is not None and cmp is not None and cmp.type.kind == Kind.INTERFACE:
                boxed = decoder.decode(cmp.type, handle + cmp.offset)
                if boxed.children and boxed.children[0][1].kind == "string":
                    blob = boxed.children[0][1].details.get("bytes")
                    if isinstance(blob, bytes):
                        is_v6, zone = True, _go_text(blob)
            if is_v6 is None and z4 is None and raw[:12] != _V4_IN_V6_PREFIX:
                is_v6 = True  # without the symbol table: only z4 holds IPv4-mapped bits as IPv4
            if is_v6 is None:
                return None
    else:
        return None
    if not is_v6:
        return _ipv4_text(raw[12:])
    text = "::ffff:" + _ipv4_text(raw[12:]) if raw[:12] == _V4_IN_V6_PREFIX else ipv6_text(raw)
    if zone and with_zone:
        text += "%" + zone
    return text


def _netip_addr(decoder: "Decoder", t: GoType, data: bytes, address: Optional[int], depth: int) -> Optional[Value]:
    if not _complete(t, data):
        return None
    text = _netip_addr_text(decoder, t, data)
    return None if text is None else _text_value(t, "netip.Addr", address, text)


def _netip_prefix(decoder: "Decoder", t: GoType, data: bytes, address: Optional[int], depth: int) -> Optional[Value]:
    """netip.Prefix{ip Addr; bits int16 (-1 invalid, Go ≤1.21) | bitsPlusOne uint8 (0 invalid)}."""
    part = _part(t, data, "ip")
    if part is None or not _complete(t, data):
        return None
    plus_one = _uint(t, data, "bitsPlusOne")
    bits = plus_one - 1 if plus_one is not None else _uint(t, data, "bits", signed=True)
    if bits is None:
        return None
    ip_text = _netip_addr_text(decoder, part[0], part[1], with_zone=False)
    if ip_text is None:
        return None
    if bits < 0 or ip_text == "invalid IP":
        return _text_value(t, "netip.Prefix", address, "invalid Prefix")
    return _text_value(t, "netip.Prefix", address, f"{ip_text}/{bits}")


# -- net/url -------------------------------------------------------------------------------
_ENCODE_PATH, _ENCODE_HOST, _ENCODE_USER, _ENCODE_FRAGMENT = "path", "host", "user", "fragment"


def _should_escape(byte: int, mode: str) -> bool:
    """shouldEscape (src/net/url/url.go) for the modes URL.String uses."""
    char = chr(byte)
    if char.isascii() and char.isalnum():
        return False
    if mode == _ENCODE_HOST and char in "!$&'()*+,;=:[]<>\"":
        return False
    if char in "-_.~":
        return False
    if char in "$&+,/:;=?@":
        if mode == _ENCODE_PATH:
            return char == "?"
        if mode == _ENCODE_USER:
            return char in "@/?:"
        if mode == _ENCODE_FRAGMENT:
            return False
    if mode == _ENCODE_FRAGMENT and char in "!()*":
        return False
    return True


def _escape(blob: bytes, mode: str) -> str:
    return "".join(f"%{b:02X}" if _should_escape(b, mode) else chr(b) for b in blob)


def _valid_encoded(blob: bytes, mode: str) -> bool:
    return all(chr(b) in "!$&'()*+,;=:@[]%" or not _should_escape(b, mode) for b in blob)


def _unescape(blob: bytes) -> Optional[bytes]:
    """Percent-decoding of a path or fragment; None on a bad escape."""
    out = bytearray()
    index = 0
    while index < len(blob):
        if blob[index] == 0x25:
            pair = blob[index + 1 : index + 3]
            if len(pair) < 2 or not all(chr(b) in "0123456789abcdefABCDEF" for b in pair):
                return None
            out.append(int(pair, 16))
            index += 3
        else:
            out.append(blob[index])
            index += 1
    return bytes(out)


def _escaped(raw: bytes, plain: bytes, mode: str) -> str:
    """EscapedPath / EscapedFragment: the raw form when it is a valid encoding of the plain one."""
    if raw and _valid_encoded(raw, mode) and _unescape(raw) == plain:
        return _go_text(raw)
    if mode == _ENCODE_PATH and plain == b"*":
        return "*"
    return _escape(plain, mode)


def _url(decoder: "Decoder", t: GoType, data: bytes, address: Optional[int], depth: int) -> Optional[Value]:
    """net/url.URL as URL.Redacted prints it (URL.String with the password shown as xxxxx)."""
    if not _complete(t, data):
        return None
    texts: dict[str, bytes] = {}
    for name in ("Scheme", "Opaque", "Host", "Path", "RawPath", "RawQuery", "Fragment", "RawFragment"):
        blob = _string_field(decoder, t, data, name, 1 << 20)
        if blob is None:
            return None
        texts[name] = blob
    user_part = _part(t, data, "User")
    force_query = _uint(t, data, "ForceQuery")
    omit_host = _uint(t, data, "OmitHost") or 0  # OmitHost is new in Go 1.19's successors' layouts too
    if user_part is None or force_query is None or user_part[0].elem is None:
        return None
    user_pointer = int.from_bytes(user_part[1][: decoder.ptr_size], "little")
    user_text: Optional[str] = None
    redacted = False
    if user_pointer:
        info_type = user_part[0].elem
        info = decoder.memory.read(user_pointer, info_type.size)
        username = _string_field(decoder, info_type, info, "username", 1 << 16)
        password_set = _uint(info_type, info, "passwordSet")
        if username is None or password_set is None:
            return None
        user_text = _escape(username, _ENCODE_USER)
        if password_set:
            user_text += ":xxxxx"
            redacted = True
    out = ""
    if texts["Scheme"]:
        out += _go_text(texts["Scheme"]) + ":"
    if texts["Opaque"]:
        out += _go_text(texts["Opaque"])
    else:
        host = texts["Host"]
        if texts["Scheme"] or host or user_text is not None:
            if not (omit_host and not host and user_text is None):
                if host or texts["Path"] or user_text is not None:
                    out += "//"
                if user_text is not None:
                    out += user_text + "@"
                if host:
                    out += _escape(host, _ENCODE_HOST)
        path = _escaped(texts["RawPath"], texts["Path"], _ENCODE_PATH)
        minor = decoder.program.go_minor or 0
        if minor >= 27 and omit_host and not host and user_text is None and path.startswith("//"):
            out += "%2F"  # Go 1.27: keep a re-parse from reading the path as an authority
            path = path[1:]
        if path and path[0] != "/" and host:
            out += "/"
        if not out and ":" in path.split("/", 1)[0]:
            out += "./"
        out += path
    if force_query or texts["RawQuery"]:
        out += "?" + _go_text(texts["RawQuery"])
    if texts["Fragment"]:
        out += "#" + _escaped(texts["RawFragment"], texts["Fragment"], _ENCODE_FRAGMENT)
    return _text_value(t, "url.URL", address, out, redacted=redacted)


# -- regexp, strings.Builder, bytes.Buffer ---------------------------------------------------
def _regexp(decoder: "Decoder", t: GoType, data: bytes, address: Optional[int], depth: int) -> Optional[Value]:
    """regexp.Regexp: its source (Regexp.String returns expr), in backquotes like Go source."""
    if not _complete(t, data):
        return None
    expr = _string_field(decoder, t, data, "expr", decoder.settings.max_string)
    if expr is None:
        return None
    text = _go_text(expr)
    shown = f"`{text}`" if "`" not in text and text.isprintable() else quote_go_string(expr)
    return _text_value(t, "regexp.Regexp", address, shown, expr=text)


def _bytes_text(decoder: "Decoder", t: GoType, pointer: int, length: int, address: Optional[int], kind: str) -> Value:
    shown = min(length, decoder.settings.max_string)
    blob = decoder.memory.read(pointer, shown) if shown else b""
    return Value(
        t.name,
        kind,
        address,
        text=quote_go_string(blob),
        length=length,
        more=length - shown,
        details={"bytes": blob},
        go_type=t,
    )


def _builder(decoder: "Decoder", t: GoType, data: bytes, address: Optional[int], depth: int) -> Optional[Value]:
    """strings.Builder{addr *Builder; buf []byte} (src/strings/builder.go): its content."""
    header = _slice_field(decoder, t, data, "buf") if _complete(t, data) else None
    if header is None:
        return None
    return _bytes_text(decoder, t, header[0], header[1], address, "strings.Builder")


def _buffer(decoder: "Decoder", t: GoType, data: bytes, address: Optional[int], depth: int) -> Optional[Value]:
    """bytes.Buffer{buf []byte; off int; lastRead} (src/bytes/buffer.go): the unread part buf[off:]."""
    header = _slice_field(decoder, t, data, "buf") if _complete(t, data) else None
    offset = _uint(t, data, "off", signed=True)
    if header is None or offset is None:
        return None
    if not 0 <= offset <= header[1]:
        raise GoextError(f"bytes.Buffer read offset {offset} outside its {header[1]} bytes")
    return _bytes_text(decoder, t, header[0] + offset, header[1] - offset, address, "bytes.Buffer")


# -- reflect -------------------------------------------------------------------------------
# src/reflect/value.go: flag's low 5 bits are the Kind, flagIndir 1<<7 (ptr
# points to the data), flagMethod 1<<9 (a method value).
_FLAG_KIND_MASK, _FLAG_INDIR, _FLAG_METHOD = (1 << 5) - 1, 1 << 7, 1 << 9


def _reflect_value(decoder: "Decoder", t: GoType, data: bytes, address: Optional[int], depth: int) -> Optional[Value]:
    """reflect.Value{typ *rtype (typ_ *abi.Type since 1.21); ptr; flag}: its type and value."""
    type_address = _uint(t, data, "typ_")
    if type_address is None:
        type_address = _uint(t, data, "typ")
    pointer = _uint(t, data, "ptr")
    flag = _uint(t, data, "flag")
    if type_address is None or pointer is None or flag is None or not _complete(t, data):
        return None
    if type_address == 0:
        return _text_value(t, "reflect.Value", address, "<invalid reflect.Value>")
    dynamic = decoder.runtime_type(type_address)
    if dynamic is None:
        raise GoextError(f"reflect.Value: no type descriptor at {type_address:#x}")
    if flag & _FLAG_METHOD:
        return _text_value(t, "reflect.Value", address, f"<method value of {dynamic.name}>", type=dynamic.name)
    if flag & _FLAG_INDIR:
        inner = decoder.decode(dynamic, pointer, depth + 1) if pointer else None
    else:
        inner = decoder.decode_bytes(
            dynamic, pointer.to_bytes(decoder.ptr_size, "little")[: dynamic.size].ljust(dynamic.size, b"\0"), None
        )
    if inner is None:
        return _text_value(t, "reflect.Value", address, f"{dynamic.name}(<nil data>)", type=dynamic.name)
    value = Value(t.name, "reflect.Value", address, details={"type": dynamic.name}, go_type=t)
    value.children.append((dynamic.name, inner))
    value.text = f"{dynamic.name}({_formatted(inner)})"
    return value


def _formatted(value: Value) -> str:
    """The text form of a nested value, without importing the formatter module
    (it imports this one): the recognizers here only need scalar-ish texts."""
    if value.text is not None:
        return value.text
    if value.error:
        return f"<{value.error}>"
    if value.kind == "struct":
        return "{" + ", ".join(f"{name}: {_formatted(child)}" for name, child in value.children) + "}"
    if value.kind == "interface" and value.children:
        dynamic, inner = value.children[0]
        return f"{dynamic}({_formatted(inner)})"
    if value.is_nil:
        return "nil"
    if value.kind in ("slice", "array"):
        items = [_formatted(child) for _, child in value.children]
        if value.more:
            items.append(f"…({value.more} more)")
        return "[" + ", ".join(items) + "]"
    return f"<{value.kind}>"


def _reflect_type(decoder: "Decoder", t: GoType, data: bytes, address: Optional[int], depth: int) -> Optional[Value]:
    """reflect.Type (an interface whose dynamic value is *reflect.rtype): the type's name."""
    if t.kind != Kind.INTERFACE or not _complete(t, data):
        return None
    first, data_word = _words(decoder, data, 2)
    if first == 0:
        return _text_value(t, "reflect.Type", address, "nil")
    if data_word == 0:
        return None
    named = decoder.runtime_type(data_word)
    if named is None:
        raise GoextError(f"reflect.Type: no type descriptor at {data_word:#x}")
    return _text_value(t, "reflect.Type", address, named.name)


def _rtype_pointer(decoder: "Decoder", t: GoType, data: bytes, address: Optional[int], depth: int) -> Optional[Value]:
    """*reflect.rtype / *internal/abi.Type: the name of the type it describes."""
    if t.kind != Kind.POINTER or not _complete(t, data):
        return None
    pointer = _words(decoder, data, 1)[0]
    if pointer == 0:
        return None
    named = decoder.runtime_type(pointer)
    return None if named is None else _text_value(t, "reflect.Type", address, named.name)


# -- sync ----------------------------------------------------------------------------------
def _once(decoder: "Decoder", t: GoType, data: bytes, address: Optional[int], depth: int) -> Optional[Value]:
    """sync.Once{done uint32 | atomic.Uint32 (1.22) | atomic.Bool (1.25+); m Mutex}."""
    done = _uint(t, data, "done")
    if done is None or not _complete(t, data):
        return None
    return _text_value(t, "sync.Once", address, "done" if done else "not done", done=bool(done))


def _cond(decoder: "Decoder", t: GoType, data: bytes, address: Optional[int], depth: int) -> Optional[Value]:
    """sync.Cond{L Locker; notify notifyList{wait, notify uint32, ...}}: tickets
    handed out minus tickets notified is the goroutines in Wait (src/runtime/sema.go)."""
    part = _part(t, data, "notify")
    if part is None or not _complete(t, data):
        return None
    wait = _uint(part[0], part[1], "wait")
    notify = _uint(part[0], part[1], "notify")
    if wait is None or notify is None:
        return None
    waiters = (wait - notify) & 0xFFFFFFFF
    text = f"{waiters} waiter{'s' if waiters != 1 else ''}"
    return _text_value(t, "sync.Cond", address, text, waiters=waiters)


def _sync_map(decoder: "Decoder", t: GoType, data: bytes, address: Optional[int], depth: int) -> Optional[Value]:
    """sync.Map's live entries: read/dirty maps of *entry until Go 1.23
    (src/sync/map.go), a HashTrieMap since 1.24 (src/internal/sync/hashtriemap.go)."""
    if not _complete(t, data):
        return None
    trie = _part(t, data, "m")
    if trie is not None and trie[0].kind == Kind.STRUCT and trie[0].field("root") is not None:
        pairs, more = _trie_entries(decoder, trie[0], trie[1], depth)
    else:
        found = _classic_map_entries(decoder, t, data, depth)
        if found is None:
            return None
        pairs, more = found
    value = Value(t.name, "map", address, length=len(pairs) + more, more=more, go_type=t)
    value.entries = pairs
    value.details["sync_map"] = True
    return value


def _any_type(decoder: "Decoder") -> Optional[GoType]:
    return decoder.types.by_name("interface {}") or decoder.types.by_name("interface{}")


def _trie_entries(decoder: "Decoder", t: GoType, data: bytes, depth: int) -> tuple[list[tuple[Value, Value]], int]:
    root_part = _part(t, data, "root")
    any_type = _any_type(decoder)
    if root_part is None or any_type is None:
        raise GoextError("sync.Map: HashTrieMap layout not recognized")
    root = _words(decoder, root_part[1], 1)[0]
    indirect_type = None
    for member in root_part[0].fields:
        if member.type.kind == Kind.ARRAY and member.type.elem is not None:
            indirect_type = member.type.elem.elem
    if root == 0:
        return [], 0
    if indirect_type is None:
        raise GoextError("sync.Map: HashTrieMap node type unknown")
    children = indirect_type.field("children")
    if children is None:
        raise GoextError("sync.Map: HashTrieMap node layout not recognized")
    word = decoder.ptr_size
    # entry[K,V]{node{isEntry bool}; overflow atomic.Pointer[entry]; key K; value V}
    key_offset = 2 * word
    value_offset = key_offset + any_type.size
    pairs: list[tuple[Value, Value]] = []
    total = 0
    stack = [root]
    visited = 0
    seen: set[int] = set()
    limit = decoder.settings.max_elements
    while stack:
        node = stack.pop()
        visited += 1
        if visited > _MAX_TRIE_NODES or node in seen:
            raise GoextError("sync.Map: trie too large or cyclic")
        seen.add(node)
        slots = decoder.memory.read(node + children.offset, children.type.length * word)
        for child in reversed(_words(decoder, slots, children.type.length)):
            if child == 0:
                continue
            if decoder.memory.read(child, 1)[0]:  # isEntry
                entry = child
                chain = 0
                while entry and chain < _MAX_TRIE_NODES:
                    chain += 1
                    total += 1
                    if len(pairs) < limit:
                        key = decoder.decode(any_type, entry + key_offset, depth + 1)
                        item = decoder.decode(any_type, entry + value_offset, depth + 1)
                        pairs.append((key, item))
                    entry = decoder.memory.ptr(entry + word)
            else:
                stack.append(child)
    return pairs, total - len(pairs)


def _classic_map_entries(
    decoder: "Decoder", t: GoType, data: bytes, depth: int
) -> Optional[tuple[list[tuple[Value, Value]], int]]:
    read_part = _part(t, data, "read")
    dirty_part = _part(t, data, "dirty")
    if read_part is None or dirty_part is None or dirty_part[0].kind != Kind.MAP:
        return None
    read_type, read_bytes, _ = read_part
    v = _part(read_type, read_bytes, "v")
    if v is None:
        return None
    readonly_address = _words(decoder, v[1], 2)[1 if v[0].kind == Kind.INTERFACE else 0]
    # sync.readOnly{m map[any]*entry; amended bool}; with amended, dirty holds every live entry.
    readonly_type = decoder.types.by_name("sync.readOnly")
    chosen = dirty_part
    if readonly_address and readonly_type is not None:
        readonly = decoder.memory.read(readonly_address, readonly_type.size)
        amended = _uint(readonly_type, readonly, "amended")
        m = _part(readonly_type, readonly, "m")
        if amended is None or m is None:
            return None
        if not amended:
            chosen = m
    elif readonly_address:
        return None
    map_value = decoder.decode_bytes(chosen[0], chosen[1], None, depth)
    if map_value.error:
        raise GoextError(map_value.error)
    any_type = _any_type(decoder)
    expunged_symbol = _symbol_address(decoder, "sync.expunged")
    expunged = decoder.memory.ptr(expunged_symbol) if expunged_symbol is not None else None
    pairs: list[tuple[Value, Value]] = []
    for key, pointer_value in map_value.entries:
        entry = pointer_value.details.get("target")
        if not isinstance(entry, int) or entry == 0 or any_type is None:
            continue
        # entry{p unsafe.Pointer (1.19) | atomic.Pointer[any] (1.20+)}: p is the first word.
        boxed = decoder.memory.ptr(entry)
        if boxed == 0 or boxed == expunged:
            continue  # deleted
        item = decoder.decode(any_type, boxed, depth + 1)
        if expunged is None and item.is_nil:
            item = Value(any_type.name, "interface", boxed, error="nil or deleted", go_type=any_type)
        pairs.append((key, item))
    return pairs, map_value.more


# -- context -------------------------------------------------------------------------------
def _context(decoder: "Decoder", t: GoType, data: bytes, address: Optional[int], depth: int) -> Optional[Value]:
    """A context.Context chain from the value towards its root (src/context/context.go):
    each link's kind, deadline, key and value, and whether it is cancelled (with the cause)."""
    if t.kind != Kind.INTERFACE or not _complete(t, data):
        return None
    links: list[str] = []
    chain: list[dict[str, Any]] = []
    current_type, current_data = t, data
    for _ in range(_MAX_CONTEXT_CHAIN):
        type_address, data_word = decoder.dynamic_type(current_type, current_data)
        if type_address == 0:
            links.append("nil")
            chain.append({"kind": "nil"})
            break
        dynamic = decoder.runtime_type(type_address)
        if dynamic is None:
            raise GoextError(f"context: no type descriptor at {type_address:#x}")
        link, parent = _context_link(decoder, dynamic, data_word, depth)
        chain.append(link)
        links.append(_context_link_text(link))
        if parent is None:
            break
        current_type, current_data = parent
    else:
        links.append("…")
    text = " → ".join(links)
    return Value(t.name, "context", address, text=text, details={"chain": chain}, go_type=t)


def _context_link(
    decoder: "Decoder", dynamic: GoType, data_word: int, depth: int
) -> tuple[dict[str, Any], Optional[tuple[GoType, bytes]]]:
    """(what one context is, its parent Context (type, bytes) or None at the root)."""
    name = dynamic.name
    base = name.lstrip("*")
    if base in ("context.backgroundCtx", "context.todoCtx"):
        return {"kind": "background" if base == "context.backgroundCtx" else "todo"}, None
    if base == "context.emptyCtx":  # Go ≤1.20: Background and TODO are two *emptyCtx
        kind = "background or todo"
        for candidate in ("background", "todo"):
            symbol = _symbol_address(decoder, f"context.{candidate}")
            if symbol is not None and decoder.memory.ptr(symbol) == data_word:
                kind = candidate
        return {"kind": kind}, None
    struct_type = dynamic.elem if dynamic.kind == Kind.POINTER else dynamic
    known = {
        "context.cancelCtx": "cancel",
        "context.timerCtx": "timer",
        "context.valueCtx": "value",
        "context.withoutCancelCtx": "withoutCancel",
        "context.afterFuncCtx": "afterFunc",
        "context.stopCtx": "stop",
    }
    if struct_type is None or struct_type.kind != Kind.STRUCT or base not in known or data_word == 0:
        return {"kind": "custom", "type": name}, None
    data = decoder.memory.read(data_word, struct_type.size)
    link: dict[str, Any] = {"kind": known[base]}
    cancel_type, cancel_data = struct_type, data
    embedded = _part(struct_type, data, "cancelCtx")
    if embedded is not None:
        cancel_type, cancel_data = embedded[0], embedded[1]
    if base == "context.timerCtx":
        deadline = _part(struct_type, data, "deadline")
        if deadline is not None:
            shown = _time(decoder, deadline[0], deadline[1], None, depth + 1)
            link["deadline"] = shown.text if shown is not None else "unknown"
    if base == "context.valueCtx":
        for field_name in ("key", "val"):
            member = struct_type.field(field_name)
            if member is not None:
                link[field_name] = _formatted(decoder.decode(member.type, data_word + member.offset, depth + 1))
    if cancel_type.field("err") is not None:
        link["err"] = _error_text(decoder, cancel_type, cancel_data, "err", depth)
        if cancel_type.field("cause") is not None:
            link["cause"] = _error_text(decoder, cancel_type, cancel_data, "cause", depth)
    parent_field = "c" if base == "context.withoutCancelCtx" else "Context"
    parent = _part(cancel_type, cancel_data, parent_field)
    if parent is None or parent[0].kind != Kind.INTERFACE:
        return link, None
    return link, (parent[0], parent[1])


def _error_text(decoder: "Decoder", t: GoType, data: bytes, name: str, depth: int) -> Optional[str]:
    """The message of an error field (an error, or an atomic.Value holding one in Go 1.27+); None if nil."""
    part = _part(t, data, name)
    if part is None:
        return None
    field_type, field_bytes, _ = part
    if field_type.kind == Kind.STRUCT:  # atomic.Value{v any}
        inner = _part(field_type, field_bytes, "v")
        if inner is None:
            return "unknown"
        field_type, field_bytes = inner[0], inner[1]
    if field_type.kind != Kind.INTERFACE:
        return "unknown"
    if _words(decoder, field_bytes, 1)[0] == 0:
        return None
    value = decoder.decode_bytes(field_type, field_bytes, None, depth + 1)
    message = value.details.get("error_message")
    if isinstance(message, str):
        return message
    dynamic = value.details.get("dynamic_type")
    if dynamic == "context.deadlineExceededError":
        return "context deadline exceeded"  # src/context/context.go deadlineExceededError.Error
    return _formatted(value)


def _context_link_text(link: dict[str, Any]) -> str:
    kind = link["kind"]
    if kind == "custom":
        return f"{link['type']} (parent unknown)"
    parts: list[str] = []
    if "key" in link:
        parts.append(f"{link['key']}: {link.get('val', '?')}")
    if "deadline" in link:
        parts.append(f"deadline {link['deadline']}")
    if "err" in link:
        if link["err"] is None:
            parts.append("active")
        else:
            state = f"canceled: {link['err']}"
            cause = link.get("cause")
            if cause is not None and cause != link["err"]:
                state += f" (cause: {cause})"
            parts.append(state)
    return f"{kind}{{{', '.join(parts)}}}" if parts else kind


# -- the table entries --------------------------------------------------------------------
# Exact type names -> recognizer; values/formatters.py merges these into its table.
STDTYPES_EXACT = {
    "time.Time": _time,
    "time.Location": _location,
    "math/big.Int": _big_int,
    "math/big.Float": _big_float,
    "net.IP": _net_ip,
    "net/netip.Addr": _netip_addr,
    "net/netip.Prefix": _netip_prefix,
    "net/url.URL": _url,
    "regexp.Regexp": _regexp,
    "reflect.Value": _reflect_value,
    "reflect.Type": _reflect_type,
    "*reflect.rtype": _rtype_pointer,
    "sync.Once": _once,
    "sync.Cond": _cond,
    "sync.Map": _sync_map,
    "context.Context": _context,
    "strings.Builder": _builder,
    "bytes.Buffer": _buffer,
}

__all__ = [
    "STDTYPES_EXACT",
    "Zone",
    "format_shortest",
    "format_time",
    "ipv6_text",
    "shortest_decimal",
    "tzset",
    "zone_at",
]
