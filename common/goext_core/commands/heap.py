"""go heap: live heap objects by type, package, size or span class, reconciled
with the runtime's own figures; go heap objects TYPE: their addresses; and the
heap section of the snapshot and the report (heap_section)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any, Optional

from goext_core.commands.base import Context, Write, bounded_int, command
from goext_core.errors import GoextError, UsageError
from goext_core.runtime.heap import (
    ALLOCATION_HEADERS_SINCE,
    MALLOC_HEADER_SIZE,
    UNTYPED,
    HeapCensus,
    RuntimeFigures,
    Span,
    census,
    objects,
    runtime_figures,
)
from goext_core.textsafe import json_for_terminal, safe_field
from goext_core.values.heaptypes import SOURCE_PROPAGATED, HeapTypes, RecordedTypeLabels, propagate_types
from goext_core.values.typepackage import package_of

if TYPE_CHECKING:
    from goext_core.program import GoProgram

_MAX_TOP = 1_000_000
_MAX_LIMIT = 10_000_000


def _size_class_label(sizeclass: int, size: Optional[int], noscan: Optional[bool] = None) -> str:
    scan = "" if noscan is None else (", noscan" if noscan else ", with pointers")
    if sizeclass == 0:
        return f"large objects{scan}"
    return f"size class {sizeclass} ({size if size is not None else '?'} B){scan}"


def _rows_by_type(
    heap: HeapCensus, namer: RecordedTypeLabels, types: Optional[HeapTypes]
) -> list[tuple[str, int, int, str]]:
    """(label, objects, bytes, source of the type) per type: the runtime's records as
    counted by the census, then the objects typed by propagation moved out of their
    untyped size-class rows (so every total stays the census's)."""
    rows: dict[str, list[int]] = {}
    sources: dict[str, set[str]] = {}

    def add(label: str, count: int, size: int, source: str) -> None:
        row = rows.setdefault(label, [0, 0])
        row[0] += count
        row[1] += size
        sources.setdefault(label, set()).add(source)

    untyped: dict[tuple[int, int], str] = {}
    for (type_key, spanclass, size), tally in heap.by_type.items():
        sizeclass = spanclass >> 1
        if type_key == UNTYPED:
            label = "untyped, " + _size_class_label(sizeclass, size, bool(spanclass & 1))
            untyped[(spanclass, size)] = label
            add(label, tally.objects, tally.bytes, "none")
        else:
            label = namer.label(type_key, size - (MALLOC_HEADER_SIZE if sizeclass else 0))
            add(label, tally.objects, tally.bytes, "none" if label.startswith("untyped") else "runtime")
    if types is not None:
        for (label, spanclass, size), count in types.propagated_by_slot().items():
            source_label = untyped.get((spanclass, size))
            if source_label is None or rows[source_label][0] < count:
                continue  # not counted untyped by the census (cannot happen: both read the same spans)
            rows[source_label][0] -= count
            rows[source_label][1] -= count * size
            add(label, count, count * size, "propagated")
    out = []
    for label, (count, size) in rows.items():
        if count:
            kinds = sources[label] - {"none"} if len(sources[label]) > 1 else sources[label]
            out.append((label, count, size, " and ".join(sorted(kinds, reverse=True))))
    return out


Row = tuple[str, int, int, str]  # (label, objects, bytes, where its type came from: "" when not a type row)


def _rows_by_package(type_rows: list[Row]) -> tuple[list[Row], dict[str, int]]:
    """The rows of --by type summed per package of their label (values.typepackage),
    and how many type rows each package row holds."""
    rows: dict[str, list[int]] = {}
    sources: dict[str, set[str]] = {}
    for label, count, size, source in type_rows:
        package = package_of(label)
        row = rows.setdefault(package, [0, 0, 0])
        row[0] += count
        row[1] += size
        row[2] += 1
        sources.setdefault(package, set()).update(part for part in source.split(" and ") if part)
    return [
        (label, count, size, " and ".join(sorted(sources[label], reverse=True)))
        for label, (count, size, _) in rows.items()
    ], {label: types for label, (_, _, types) in rows.items()}


def _rows_by_class(heap: HeapCensus) -> list[tuple[str, int, int]]:
    out = []
    for spanclass, tally in heap.by_span_class.items():
        sizeclass = spanclass >> 1
        label = _size_class_label(sizeclass, heap.elemsize_by_class.get(sizeclass), bool(spanclass & 1))
        out.append((f"{label}, {heap.span_count_by_class.get(spanclass, 0)} spans", tally.objects, tally.bytes))
    return out


def _rows_by_size(heap: HeapCensus) -> list[tuple[str, int, int]]:
    rows: dict[str, list[int]] = {}
    for spanclass, tally in heap.by_span_class.items():
        sizeclass = spanclass >> 1
        label = f"{heap.elemsize_by_class.get(sizeclass)} B" if sizeclass else "large (over 32 KiB)"
        row = rows.setdefault(label, [0, 0])
        row[0] += tally.objects
        row[1] += tally.bytes
    return [(label, count, size) for label, (count, size) in rows.items()]


def _line(what: str, ours: int, theirs: Optional[int], source: str, adjustment: int, why: str) -> dict[str, Any]:
    return {
        "what": what,
        "goext": ours,
        "runtime": theirs,
        "runtime_source": source,
        "adjustment": adjustment,
        "adjustment_explained": why,
        "expected": None if theirs is None else theirs + adjustment,
    }


def _reconcile(heap: HeapCensus, figures: RuntimeFigures) -> list[dict[str, Any]]:
    """Each figure goext can set against the runtime's, with the expected difference explained."""
    lines = [_line("bytes of in-use heap spans", heap.span_bytes, figures.heap_in_use, "gcController.heapInUse", 0, "")]
    if figures.objects is None:
        return lines
    unflushed = sum(figures.cached_unflushed.values())
    cached = (
        f"allocated from the {figures.cached_spans} spans the Ps' mcaches hold, which the runtime "
        "counts when a span leaves the cache (src/runtime/mcache.go)"
    )
    lines.append(
        _line(
            "objects",
            heap.objects.objects,
            figures.objects,
            "memstats.heapStats allocated - freed (ReadMemStats' HeapObjects)",
            unflushed,
            cached,
        )
    )
    if figures.bytes is not None:
        unflushed_bytes = sum(n * heap.elemsize_by_class.get(c, 0) for c, n in figures.cached_unflushed.items())
        lines.append(
            _line(
                "bytes of objects",
                heap.objects.bytes,
                figures.bytes,
                "memstats.heapStats (ReadMemStats' HeapAlloc)",
                unflushed_bytes,
                cached,
            )
        )
    for sizeclass in sorted(set(figures.objects_by_sizeclass) | {c >> 1 for c in heap.by_span_class}):
        ours = sum(t.objects for c, t in heap.by_span_class.items() if c >> 1 == sizeclass)
        theirs = figures.objects_by_sizeclass.get(sizeclass, 0)
        what = "large objects" if sizeclass == 0 else f"objects of size class {sizeclass}"
        line = _line(what, ours, theirs, "memstats.heapStats", figures.cached_unflushed.get(sizeclass, 0), cached)
        line["per_class"] = True
        lines.append(line)
    return lines


_COUNTED = (
    "goext counts every allocated slot: objects that died in the last GC but whose span is not swept yet "
    "count until the sweeper frees them (so does the runtime); a tiny-allocator block (16 B, size class 2, "
    "noscan) counts as one object however many tiny allocations it holds (the runtime counts those separately"
)


def _sorted_rows(rows: list[Row]) -> list[Row]:
    """Most bytes first, then most objects, then by label."""
    return sorted(rows, key=lambda row: (-row[2], -row[1], row[0]))


def _write_table(rows: list[Row], top: int, write: Write, types_per_row: Optional[dict[str, int]] = None) -> None:
    rows = _sorted_rows(rows)
    write(f"{'objects':>12} {'bytes':>15}  what\n")
    for label, count, size, _ in rows[:top]:
        types = types_per_row.get(label, 0) if types_per_row else 0
        extra = f"  ({types} type{'s' if types > 1 else ''})" if types and not label.startswith("(") else ""
        write(f"{count:>12,} {size:>15,}  {safe_field(label)}{extra}\n")
    if len(rows) > top:
        rest = rows[top:]
        write(f"{sum(r[1] for r in rest):>12,} {sum(r[2] for r in rest):>15,}  ... {len(rest)} more (--top)\n")


def _configure_heap(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "action", nargs="?", choices=("objects",), help="objects TYPE: list the addresses of TYPE's objects"
    )
    parser.add_argument("type", nargs="?", metavar="TYPE", help="the Go type for 'objects' (as 'go heap' names it)")
    parser.add_argument("--by", choices=("type", "package", "size", "class"), default="type", help="group objects by")
    parser.add_argument("--top", type=bounded_int(1, _MAX_TOP), default=30, help="rows to show")
    parser.add_argument("--limit", type=bounded_int(1, _MAX_LIMIT), default=100, help="addresses to list (objects)")
    parser.add_argument("--json", action="store_true", help="print as JSON")


@command(
    "heap",
    "Live heap objects and bytes per type, package, size or span class, reconciled with the runtime's figures; "
    "'go heap objects TYPE' lists addresses.",
    _configure_heap,
)
def run_heap(context: Context, args: argparse.Namespace, write: Write) -> None:
    program = context.program
    if args.action == "objects":
        if not args.type:
            raise UsageError("go heap objects: name a TYPE, as 'go heap' prints it")
        _run_objects(program, args.type, args.limit, args.json, write)
        return
    if args.type:
        raise UsageError(f"go heap: unexpected argument {args.type!r} (did you mean 'go heap objects TYPE'?)")
    heap = census(program, types=args.by in ("type", "package"))
    figures = runtime_figures(program, heap.elemsize_by_class)
    namer = RecordedTypeLabels(program)
    types: Optional[HeapTypes] = None
    type_notes: list[str] = []
    types_per_package: Optional[dict[str, int]] = None
    rows: list[tuple[str, int, int, str]]
    if args.by in ("type", "package"):
        types, type_notes = _propagated(program)
        rows = _rows_by_type(heap, namer, types)
        if args.by == "package":
            rows, types_per_package = _rows_by_package(rows)
    elif args.by == "class":
        rows = [(label, count, size, "") for label, count, size in _rows_by_class(heap)]
    else:
        rows = [(label, count, size, "") for label, count, size in _rows_by_size(heap)]
    reconciliation = _reconcile(heap, figures)
    typed_note = _typed_note(program, propagated=args.by in ("type", "package"))
    by_source = types.counts_by_source() if types is not None else {}
    if args.json:
        data = {
            "objects": heap.objects.objects,
            "bytes": heap.objects.bytes,
            "spans": heap.spans,
            "span_bytes": heap.span_bytes,
            "by": args.by,
            "rows": _json_rows(rows, args.top, types_per_package),
            "rows_total": len(rows),
            "types": typed_note,
            "type_sources": {name: {"objects": n, "bytes": b} for name, (n, b) in by_source.items()},
            "type_notes": type_notes,
            "reconciliation": reconciliation,
            "tiny_allocs": figures.tiny_allocs,
            "heap_live": figures.heap_live,
            "reusable_freed_objects": figures.reusable,
            "alloc_count_mismatches": heap.alloc_count_mismatches,
            "problems": heap.problems,
            "notes": figures.notes,
        }
        write(json_for_terminal(data) + "\n")
        return
    write(
        f"heap: {heap.objects.objects:,} objects, {heap.objects.bytes:,} bytes in {heap.spans:,} spans "
        f"({heap.span_bytes:,} bytes of in-use spans)\n"
    )
    write(f"({typed_note})\n")
    if args.by == "package":
        write(
            "(the package of each row's type: a composite type's element's; runtime type names give the "
            "package's name, DWARF's its path)\n"
        )
    _write_table(rows, args.top, write, types_per_package)
    if by_source:
        runtime, propagated, untyped = by_source["runtime"], by_source["propagated"], by_source["untyped"]
        write(
            f"types: {propagated[0]:,} objects ({propagated[1]:,} bytes) typed by propagation through typed "
            f"pointers, {runtime[0]:,} ({runtime[1]:,} bytes) recorded by the runtime, "
            f"{untyped[0]:,} ({untyped[1]:,} bytes) untyped\n"
        )
    for note in type_notes:
        write(f"  types: {safe_field(note)}\n")
    write("reconciliation with the runtime's own figures:\n")
    _write_reconciliation(reconciliation, write)
    tiny = "" if figures.tiny_allocs is None else f": {figures.tiny_allocs:,} since start)"
    write(f"  {_COUNTED}{tiny or ')'}\n")
    if figures.heap_live is not None:
        write(
            f"  gcController.heapLive {figures.heap_live:,}: the GC pacer's figure, not comparable "
            "(it counts the free slots of cached spans as allocated and drops the dead only at the next GC)\n"
        )
    if figures.reusable:
        write(
            f"  {figures.reusable:,} objects on the Ps' reusable lists (GOEXPERIMENT=runtimefreegc) were freed "
            "explicitly but stay allocated in their spans: goext counts them as allocated\n"
        )
    if heap.alloc_count_mismatches:
        write(f"  {heap.alloc_count_mismatches} spans' allocCount disagrees with their allocation bits\n")
    for note in figures.notes:
        write(f"  note: {safe_field(note)}\n")
    _write_problems(heap.problems, write)


def _typed_note(program: "GoProgram", propagated: bool) -> str:
    """Where the rows' types come from (``propagated``: types followed through typed pointers too)."""
    minor = program.go_minor or 0
    if minor >= ALLOCATION_HEADERS_SINCE:
        note = "types come from allocation headers (objects over 512 B with pointers) and large spans"
        if propagated:
            note += ", and from typed pointers followed from package variables, goroutines' locals and those objects"
        return note + "; other objects are listed untyped by size class"
    if propagated:
        return (
            f"Go 1.{minor} records no type for heap objects (allocation headers came in Go 1.22): types come "
            "from typed pointers followed from package variables and goroutines' locals; other objects are "
            "listed untyped by size class"
        )
    return (
        f"Go 1.{minor} records no type for heap objects (allocation headers came in Go 1.22): "
        "objects are listed untyped by size class"
    )


def _propagated(program: "GoProgram") -> tuple[Optional[HeapTypes], list[str]]:
    """The heap's types followed through typed pointers, and their notes (None when that failed)."""
    try:
        types = propagate_types(program)
    except GoextError as exc:
        return None, [f"types not propagated through pointers: {exc}"]
    return types, list(types.notes)


def _json_rows(rows: list[Row], top: int, types_per_row: Optional[dict[str, int]] = None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for label, count, size, source in _sorted_rows(rows)[:top]:
        row: dict[str, Any] = {"what": label, "objects": count, "bytes": size}
        if source:
            row["source"] = source
        if types_per_row is not None:
            row["types"] = types_per_row.get(label, 0)
        out.append(row)
    return out


def heap_section(program: "GoProgram", top: int = 20) -> dict[str, Any]:
    """The snapshot's ``heap`` section: the totals and reconciliation of ``go heap --json``
    (same walk, same figures), the ``top`` types and packages by bytes, and what went wrong.
    Its optional ``top_retainers`` list is filled by whoever computes retained sizes."""
    heap = census(program, types=True)
    figures = runtime_figures(program, heap.elemsize_by_class)
    types, type_notes = _propagated(program)
    type_rows = _rows_by_type(heap, RecordedTypeLabels(program), types)
    package_rows, types_per_package = _rows_by_package(type_rows)
    reconciliation = _reconcile(heap, figures)
    differing = [
        line["what"] for line in reconciliation if line["runtime"] is None or line["goext"] != line["expected"]
    ]
    return {
        "objects": heap.objects.objects,
        "bytes": heap.objects.bytes,
        "spans": heap.spans,
        "span_bytes": heap.span_bytes,
        "types": _typed_note(program, propagated=types is not None),
        "reconciliation": reconciliation,
        "reconciled": not differing,
        "differing": differing,
        "top_types": _json_rows(type_rows, top),
        "types_total": len(type_rows),
        "top_packages": _json_rows(package_rows, top, types_per_package),
        "packages_total": len(package_rows),
        "alloc_count_mismatches": heap.alloc_count_mismatches,
        "problems": heap.problems,
        "notes": figures.notes + type_notes,
    }


def _write_reconciliation(lines: list[dict[str, Any]], write: Write) -> None:
    per_class = [line for line in lines if line.get("per_class")]
    for line in lines:
        if line.get("per_class"):
            continue
        what, ours, theirs = line["what"], line["goext"], line["runtime"]
        if theirs is None:
            write(f"  {what}: goext {ours:,}; {line['runtime_source']} unreadable\n")
            continue
        verdict = "agrees" if ours == line["expected"] else f"DIFFERS by {ours - line['expected']:+,}"
        extra = f" + {line['adjustment']:,} {line['adjustment_explained']}" if line["adjustment"] else ""
        write(f"  {what}: goext {ours:,} = {line['runtime_source']} {theirs:,}{extra}: {verdict}\n")
    if not per_class:
        return
    differing = [line for line in per_class if line["goext"] != line["expected"]]
    if not differing:
        write(f"  objects per size class: all {len(per_class)} classes agree likewise\n")
    for line in differing:
        write(
            f"  {line['what']}: goext {line['goext']:,}, memstats.heapStats {line['runtime']:,} "
            f"+ {line['adjustment']:,} in mcaches: DIFFERS by {line['goext'] - line['expected']:+,}\n"
        )


def _write_problems(problems: list[str], write: Write) -> None:
    if not problems:
        return
    capped = problems[-1] == "... further problems not listed"
    count = f"over {len(problems) - 1}" if capped else str(len(problems))
    write(f"  {count} spans or arenas skipped as unreadable or corrupt:\n")
    for problem in problems[:20]:
        write(f"    {safe_field(problem)}\n")
    if len(problems) > 20:
        write(f"    ... {len(problems) - 20} more\n")


def _run_objects(program: "GoProgram", wanted_type: str, limit: int, as_json: bool, write: Write) -> None:
    """The objects of ``wanted_type``: those the runtime typed (Go 1.22+), then those
    typed by propagation."""
    minor = program.go_minor or 0
    found: list[tuple[int, int]] = []
    if minor >= ALLOCATION_HEADERS_SINCE:
        namer = RecordedTypeLabels(program)

        def matches(type_address: int, span: Span) -> bool:
            header = MALLOC_HEADER_SIZE if span.sizeclass else 0
            return namer.label(type_address, span.elemsize - header) == wanted_type

        found = [(address, span.elemsize) for address, span in objects(program, matches, limit)]
    propagated = propagate_types(program)
    for index in propagated.indexes_of(wanted_type, SOURCE_PROPAGATED):
        if len(found) >= limit:
            break
        found.append((propagated.value_address(index), propagated.objects.sizes[index]))
    if not found and minor < ALLOCATION_HEADERS_SINCE:
        raise GoextError(
            f"Go 1.{minor} records no type for heap objects (allocation headers came in Go 1.22), "
            f"and no object was typed {wanted_type} through typed pointers (see 'go heap')"
        )
    if as_json:
        write(json_for_terminal({"type": wanted_type, "objects": [{"address": a, "slot": s} for a, s in found]}))
        write("\n")
        return
    if not found:
        write(f"no live objects of type {safe_field(wanted_type)} with a known type (see 'go heap')\n")
        return
    for address, slot in found:
        write(f"{address:#x}  {safe_field(wanted_type)}  ({slot} B slot)\n")
    more = " (--limit reached)" if len(found) >= limit else ""
    if wanted_type.startswith("[]"):
        # An array of E (a slice's backing array) has no slice header to print: its first element does.
        hint = f"print the first element of one with: go print --type {safe_field(wanted_type[2:])}"
    else:
        hint = f"print one with: go print --type {safe_field(wanted_type)}"
    write(f"{len(found)} objects{more}; {hint} {found[0][0]:#x}\n")
