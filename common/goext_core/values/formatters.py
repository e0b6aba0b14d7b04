"""The one recognizer table and the text/JSON formatters, shared by every front end.

Recognizers turn well-known standard-library types into readable values
(time.Time, time.Duration, sync.Mutex/RWMutex/WaitGroup, sync/atomic types,
errors); :func:`format_value` spells any :class:`Value` the way a Go
programmer reads it, and :func:`value_to_json` gives the same as data.
Layouts of the recognized types come from their DWARF/runtime type (fields
looked up by name), so they follow the Go release.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Optional

from goext_core.textsafe import safe_field
from goext_core.values.model import Value, quote_go_string
from goext_core.values.stdtypes import STDTYPES_EXACT
from goext_core.values.types import GoType, Kind

if TYPE_CHECKING:
    from goext_core.values.decode import Decoder

Recognizer = Callable[["Decoder", GoType, bytes, Optional[int], int], Optional["Value"]]


# -- time ------------------------------------------------------------------------------
# time.Time and time.Location: values/stdtypes.py.
def format_duration(nanoseconds: int) -> str:
    """time.Duration.String (src/time/time.go)."""
    if nanoseconds == 0:
        return "0s"
    sign = "-" if nanoseconds < 0 else ""
    value = abs(nanoseconds)
    if value < 1000_000_000:
        for unit, scale in (("ms", 1000_000), ("µs", 1000), ("ns", 1)):
            if value >= scale:
                return sign + _fraction(value, scale) + unit
    seconds_text = _fraction(value % 60_000_000_000, 1000_000_000) + "s"
    minutes = value // 60_000_000_000
    if minutes == 0:
        return sign + seconds_text
    hours, minutes = divmod(minutes, 60)
    if hours == 0:
        return f"{sign}{minutes}m{seconds_text}"
    return f"{sign}{hours}h{minutes}m{seconds_text}"


def _fraction(value: int, scale: int) -> str:
    whole, rest = divmod(value, scale)
    if not rest:
        return str(whole)
    digits = len(str(scale)) - 1
    return f"{whole}." + f"{rest:0{digits}d}".rstrip("0")


def _duration(decoder: "Decoder", t: GoType, data: bytes, address: Optional[int], depth: int) -> Optional["Value"]:
    if t.kind != Kind.INT64:
        return None
    nanoseconds = int.from_bytes(data[:8], "little", signed=True)
    return Value(
        t.name,
        "time.Duration",
        address,
        text=format_duration(nanoseconds),
        details={"nanoseconds": nanoseconds},
        go_type=t,
    )


# -- sync ------------------------------------------------------------------------------
# src/sync/mutex.go (internal/sync/mutex.go since 1.24): state bit 0 locked,
# bit 1 woken, bit 2 starving, the rest counts waiters (mutexWaiterShift 3).
_MUTEX_LOCKED, _MUTEX_WOKEN, _MUTEX_STARVING, _MUTEX_WAITER_SHIFT = 1, 2, 4, 3
_RWMUTEX_MAX_READERS = 1 << 30  # src/sync/rwmutex.go rwmutexMaxReaders


def _first_word32(t: GoType, data: bytes) -> int:
    # sync.Mutex is {state int32; sema uint32} or, since 1.24, {_ noCopy; mu internal/sync.Mutex}:
    # the state is the first 4 bytes either way.
    return int.from_bytes(data[0:4], "little", signed=True)


def _mutex_text(state: int) -> tuple[str, dict[str, Any]]:
    locked = bool(state & _MUTEX_LOCKED)
    waiters = (state & 0xFFFFFFFF) >> _MUTEX_WAITER_SHIFT
    words = ["locked" if locked else "unlocked"]
    if waiters:
        words.append(f"{waiters} waiter{'s' if waiters != 1 else ''}")
    if state & _MUTEX_STARVING:
        words.append("starving")
    return ", ".join(words), {"locked": locked, "waiters": waiters}


def _mutex(decoder: "Decoder", t: GoType, data: bytes, address: Optional[int], depth: int) -> Optional["Value"]:
    if t.size < 8:
        return None
    text, details = _mutex_text(_first_word32(t, data))
    return Value(t.name, "sync.Mutex", address, text=text, details=details, go_type=t)


def _rwmutex(decoder: "Decoder", t: GoType, data: bytes, address: Optional[int], depth: int) -> Optional["Value"]:
    count_field, wait_field = t.field("readerCount"), t.field("readerWait")
    writer = t.field("w")
    if count_field is None or wait_field is None or writer is None:
        return None
    # readerCount is int32 or atomic.Int32 ({_ noCopy; v int32}): 4 bytes at its offset.
    reader_count = int.from_bytes(data[count_field.offset : count_field.offset + 4], "little", signed=True)
    reader_wait = int.from_bytes(data[wait_field.offset : wait_field.offset + 4], "little", signed=True)
    writer_state = int.from_bytes(data[writer.offset : writer.offset + 4], "little", signed=True)
    details: dict[str, Any] = {}
    if reader_count < 0:
        pending = reader_count + _RWMUTEX_MAX_READERS
        if reader_wait > 0:
            text = f"read-locked by {reader_wait}, writer waiting"
            details.update(readers=reader_wait, writer="waiting")
        else:
            text = "write-locked"
            if pending:
                text += f", {pending} reader{'s' if pending != 1 else ''} waiting"
            details.update(readers=0, writer="holding", readers_waiting=pending)
    elif reader_count > 0:
        text = f"read-locked by {reader_count}"
        details.update(readers=reader_count, writer="none")
    else:
        text = "unlocked"
        details.update(readers=0, writer="none")
    waiters = (writer_state & 0xFFFFFFFF) >> _MUTEX_WAITER_SHIFT
    if waiters:
        text += f", {waiters} writer{'s' if waiters != 1 else ''} queued"
    return Value(t.name, "sync.RWMutex", address, text=text, details=details, go_type=t)


def _waitgroup(decoder: "Decoder", t: GoType, data: bytes, address: Optional[int], depth: int) -> Optional["Value"]:
    member = t.field("state") or t.field("state1")
    if member is None:
        return None
    # state (atomic.Uint64 or, in 1.19, state1 uint64): counter in the high 32
    # bits, waiters in the low ones (bit 31 marks a synctest bubble since 1.25).
    state = int.from_bytes(data[member.offset : member.offset + 8], "little")
    counter = state >> 32
    if counter >= 1 << 31:
        counter -= 1 << 32
    waiters = state & 0x7FFFFFFF
    text = f"counter {counter}, waiters {waiters}"
    return Value(
        t.name, "sync.WaitGroup", address, text=text, details={"counter": counter, "waiters": waiters}, go_type=t
    )


def _atomic(decoder: "Decoder", t: GoType, data: bytes, address: Optional[int], depth: int) -> Optional["Value"]:
    """sync/atomic.{Int32,Int64,Uint32,Uint64,Uintptr,Bool,Pointer[T],Value}: show the held value."""
    member = t.field("v")
    if member is None:
        return None
    base = t.name.split("[", 1)[0]
    chunk = data[member.offset : member.offset + member.type.size]
    where = address + member.offset if address is not None else None
    if base == "sync/atomic.Bool":
        return Value(t.name, "bool", address, text="true" if int.from_bytes(chunk, "little") else "false", go_type=t)
    if base == "sync/atomic.Pointer" and member.type.kind == Kind.UNSAFE_POINTER:
        pointee = None
        for candidate in t.fields:
            if candidate.name == "_" and candidate.type.kind == Kind.ARRAY and candidate.type.elem is not None:
                pointee = candidate.type.elem
        if pointee is not None and pointee.kind == Kind.POINTER:
            inner = decoder.decode_bytes(pointee, chunk, where, depth)
            inner.type_name = t.name
            return inner
    inner = decoder.decode_bytes(member.type, chunk, where, depth)
    inner.type_name = t.name
    return inner


# -- errors ------------------------------------------------------------------------------
def error_message(decoder: "Decoder", value: "Value", depth: int = 0) -> Optional[str]:
    """The Error() text of well-known error implementations, without calling code."""
    if depth > 16 or value.kind != "interface" or not value.children:
        return None
    dynamic, inner = value.children[0]
    target = inner.children[0][1] if inner.kind == "pointer" and inner.children else None
    if target is None or target.kind != "struct":
        return None
    fields = dict(target.children)
    if dynamic == "*errors.errorString":
        return _string_text(fields.get("s"))
    if dynamic in ("*fmt.wrapError", "*fmt.wrapErrors"):
        return _string_text(fields.get("msg"))
    return None


def _string_text(message: Optional["Value"]) -> Optional[str]:
    """The exact text of a decoded string: from its bytes, so quoting it again
    (the error's text form) does not escape its escapes twice."""
    if message is None or message.text is None:
        return None
    blob = message.details.get("bytes")
    if isinstance(blob, bytes):
        return blob.decode("utf-8", "surrogateescape")
    text = message.text
    return text[1:-1] if len(text) >= 2 and text[0] == '"' and text[-1] == '"' else text


def wrapped_chain(value: "Value") -> list[str]:
    """Dynamic type names of the errors an error wraps (fmt.wrapError.err chains)."""
    chain: list[str] = []
    current: Optional["Value"] = value
    for _ in range(16):
        if current is None or current.kind != "interface" or not current.children:
            break
        dynamic, inner = current.children[0]
        target = inner.children[0][1] if inner.kind == "pointer" and inner.children else None
        if target is None:
            break
        wrapped = dict(target.children).get("err")
        if wrapped is None or wrapped.kind != "interface" or not wrapped.children:
            break
        chain.append(wrapped.children[0][0])
        current = wrapped
    return chain


# -- the table ---------------------------------------------------------------------------
_EXACT: dict[str, Recognizer] = {
    "time.Duration": _duration,
    "sync.Mutex": _mutex,
    "internal/sync.Mutex": _mutex,
    "sync.RWMutex": _rwmutex,
    "sync.WaitGroup": _waitgroup,
}
_EXACT.update(STDTYPES_EXACT)  # time, big, net, url, regexp, reflect, sync.Once/Cond/Map, context, builders
# The runtime's type metadata (all a stripped binary has) spells a type with its
# package's name, not its path ("big.Int" for math/big.Int); such types are
# looked up under that spelling too (the recognizers check the fields they read).
_RUNTIME_SPELLING: dict[str, Recognizer] = {
    name.rsplit("/", 1)[1]: recognizer for name, recognizer in _EXACT.items() if "/" in name.split("[", 1)[0]
}
_PREFIX: tuple[tuple[str, Recognizer], ...] = (
    ("sync/atomic.Int32", _atomic),
    ("sync/atomic.Int64", _atomic),
    ("sync/atomic.Uint32", _atomic),
    ("sync/atomic.Uint64", _atomic),
    ("sync/atomic.Uintptr", _atomic),
    ("sync/atomic.Bool", _atomic),
    ("sync/atomic.Pointer[", _atomic),
    ("sync/atomic.Value", _atomic),
)


def recognize(decoder: "Decoder", t: GoType) -> Optional[Recognizer]:
    """The special decoder for a type, if the table has one (cheap: a dict lookup)."""
    special = _EXACT.get(t.name)
    if special is not None:
        return special
    if t.source == "runtime" and t.name in _RUNTIME_SPELLING:
        return _RUNTIME_SPELLING[t.name]
    if t.name.startswith("sync/atomic."):
        for prefix, candidate in _PREFIX:
            if t.name == prefix or (prefix.endswith("[") and t.name.startswith(prefix)):
                return candidate
    return None


def has_recognizer(t: GoType) -> bool:
    """Whether the table has a special decoder for the type (for front ends
    that pick which values get a pretty-printer)."""
    return recognize_name(t.name)


def recognize_name(name: str) -> bool:
    if name in _EXACT:
        return True
    return any(name == prefix or (prefix.endswith("[") and name.startswith(prefix)) for prefix, _ in _PREFIX)


def recognized_names() -> tuple[str, ...]:
    """Exact type names and name prefixes the table recognizes."""
    return (*_EXACT, *(prefix for prefix, _ in _PREFIX))


# -- text ---------------------------------------------------------------------------------
def _more(count: int) -> str:
    return f"…({count} more)"


def format_value(value: "Value", top: bool = True, depth: int = 0) -> str:
    """Go-like text of a value.  ``top`` adds the type where Go code would need it.

    The whole text is made terminal-safe once, at the outermost call: type,
    field and zone names and error texts come from the target too, not only
    its (already Go-quoted) strings."""
    text = _format_value_unchecked(value, top, depth)
    return safe_field(text) if depth == 0 else text


def _format_value_unchecked(value: "Value", top: bool, depth: int) -> str:
    if depth > 32:
        return "…"
    if value.unavailable:
        return f"<{value.unavailable}>"
    if value.error and value.text is None and not value.children and not value.entries:
        return f"<{value.error}>"
    kind = value.kind
    if value.missing and kind in ("slice", "interface"):
        return _format_partial_header(value, top, depth)
    if value.text is not None and kind not in ("pointer", "string", "func"):
        return value.text
    if kind == "string":
        text = value.text or '""'
        if value.more:
            text += _more(value.more)
        return text
    if kind == "func":
        return value.text or "nil"
    if kind == "pointer":
        if value.is_nil:
            return "nil"
        head = f"({value.type_name})({value.text})"
        if value.details.get("cycle"):
            return head + " <cycle>"
        if value.children:
            return f"{head} → {format_value(value.children[0][1], False, depth + 1)}"
        return head
    if kind == "interface":
        if value.is_nil:
            return "nil"
        if value.error:
            return f"<{value.error}>"
        dynamic, inner = value.children[0]
        body = format_value(inner, False, depth + 1)
        message = value.details.get("error_message")
        if message is not None:
            body = f"{_quote(message)}"
            chain = value.details.get("wraps")
            if chain:
                body += " wraps " + " → ".join(chain)
        elif inner.is_nil and inner.kind in ("pointer", "map", "slice", "chan", "func"):
            body = "nil"
        return f"{dynamic}({body})" if not body.startswith(dynamic) else body
    if kind in ("slice", "array"):
        if value.is_nil:
            return "nil"
        head = ""
        if top:
            head = value.type_name
            if kind == "slice":
                head += f" len {value.length} cap {value.capacity} "
        items = [format_value(child, False, depth + 1) for _, child in value.children]
        if value.more:
            items.append(_more(value.more))
        return f"{head}[{', '.join(items)}]" if kind == "slice" or not top else f"{head}{{{', '.join(items)}}}"
    if kind == "map":
        if value.is_nil:
            return "nil"
        items = [
            f"{format_value(k, False, depth + 1)}: {format_value(v, False, depth + 1)}"
            for k, v in sorted(value.entries, key=lambda e: _sort_key(e[0]))
        ]
        if value.more:
            items.append(_more(value.more))
        head = f"{value.type_name} len {value.length} " if top else ""
        body = f"{head}[{', '.join(items)}]"
        if value.details.get("growing"):
            body += " (growing)"
        if value.error:
            body += f" <{value.error}>"
        return body
    if kind == "chan":
        if value.is_nil:
            return "nil"
        parts = [f"len {value.length} cap {value.capacity}"]
        if value.details.get("closed"):
            parts.append("closed")
        if value.children or value.more:
            items = [format_value(child, False, depth + 1) for _, child in value.children]
            if value.more:
                items.append(_more(value.more))
            parts.append(f"[{', '.join(items)}]")
        for key, label in (("recv_waiters", "receivers"), ("send_waiters", "senders")):
            ids = value.details.get(key)
            if ids:
                listed = ", ".join(map(str, ids))
                more = value.details.get(f"{key}_more")
                if more:
                    listed += ", " + (_more(more) if isinstance(more, int) else f"…({more} more)")
                parts.append(f"{label}: goroutine{'s' if len(ids) > 1 else ''} {listed}")
        if value.error:
            parts.append(f"<{value.error}>")
        return f"{value.type_name} {{{', '.join(parts)}}}" if top else f"{{{', '.join(parts)}}}"
    if kind == "struct":
        items = []
        for name, child in value.children:
            label = f"{name} (embedded)" if child.details.get("embedded") else name
            items.append(f"{label}: {format_value(child, False, depth + 1)}")
        if value.more:
            items.append(_more(value.more))
        head = value.type_name if top else ""
        return f"{head}{{{', '.join(items)}}}"
    if value.error:
        return f"<{value.error}>"
    return value.text or "?"


def _format_partial_header(value: "Value", top: bool, depth: int) -> str:
    """A slice or interface some of whose header words are not known: what is
    known, and the rest marked (never read as zero, never walked as empty)."""
    missing = value.missing
    if value.kind == "interface":
        data = value.details.get("data")
        if "type" in missing:
            text = f"{value.type_name}(<type {missing['type']}>)"
            return text + (
                f" data {data:#x}" if isinstance(data, int) else f" data <{missing.get('data', missing['type'])}>"
            )
        dynamic, inner = value.children[0] if value.children else ("?", None)
        return f"{dynamic}(<{missing.get('data', 'optimized out')}>)"

    def word(name: str, number: Optional[int]) -> str:
        return str(number) if number is not None else f"<{missing.get(name, 'optimized out')}>"

    head = f"len {word('len', value.length)} cap {word('cap', value.capacity)}"
    if top:
        head = f"{value.type_name} {head}"
    if value.children or value.more:
        items = [format_value(child, False, depth + 1) for _, child in value.children]
        if value.more:
            items.append(_more(value.more))
        body = f"[{', '.join(items)}]"
    elif value.length == 0:
        # Empty either way; only whether it is nil depends on the pointer.
        body = f"[] <ptr {missing['ptr']}>" if "ptr" in missing else "[]"
    else:
        body = f"<elements {missing.get('len') or missing.get('ptr') or 'optimized out'}>"
    if value.error:
        body += f" <{value.error}>"
    return f"{head} {body}"


def _quote(text: str) -> str:
    return quote_go_string(text.encode("utf-8", "surrogateescape"))


def _sort_key(value: "Value") -> tuple[int, Any, str]:
    text = value.text if value.text is not None else format_value(value, False)
    try:
        return (0, float(text), text)
    except (TypeError, ValueError):
        return (1, 0, text)


# -- JSON -----------------------------------------------------------------------------------
def value_to_json(value: "Value", depth: int = 0) -> dict[str, Any]:
    out: dict[str, Any] = {"type": value.type_name, "kind": value.kind}
    if value.address is not None:
        out["address"] = f"{value.address:#x}"
    if value.error:
        out["error"] = value.error
    if value.is_nil:
        out["nil"] = True
    if value.text is not None:
        out["value"] = value.text
    if value.length is not None:
        out["len"] = value.length
    if value.capacity is not None:
        out["cap"] = value.capacity
    if value.more:
        out["more"] = value.more
    if value.unavailable:
        out["optimized_out"] = True  # the whole value is not known; "reason" says why
        out["reason"] = value.unavailable
    if value.partial:
        out["partly_optimized_out"] = True  # see "missing" and the marked fields/elements
    if value.missing:
        out["missing"] = dict(value.missing)
    for key, item in value.details.items():
        if key == "bytes":
            continue
        if isinstance(item, (str, int, float, bool, list)) or item is None:
            out[key if key not in out else f"detail_{key}"] = item
    if depth > 32:
        return out
    if value.kind == "interface" and value.children:
        out["dynamic_type"] = value.children[0][0]
        out["dynamic"] = value_to_json(value.children[0][1], depth + 1)
    elif value.kind == "pointer" and value.children:
        out["target"] = value_to_json(value.children[0][1], depth + 1)
    elif value.kind == "struct":
        out["fields"] = [dict(name=name, **value_to_json(child, depth + 1)) for name, child in value.children]
    elif value.children:
        out["elements"] = [value_to_json(child, depth + 1) for _, child in value.children]
    if value.entries:
        out["entries"] = [
            {"key": value_to_json(k, depth + 1), "value": value_to_json(v, depth + 1)} for k, v in value.entries
        ]
    out["text"] = format_value(value, depth == 0)
    return out
