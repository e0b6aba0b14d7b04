"""go heap: live heap objects by type, package, size or span class, reconciled
with the runtime's own figures; go heap objects TYPE: their addresses; go heap
path / refs: what keeps an object alive (runtime/heapgraph.py); and the heap
section of the snapshot and the report (heap_section)."""

from __future__ import annotations

import argparse
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Optional

from goext_core.commands.base import Context, Write, bounded_int, command
from goext_core.commands.values import evaluate
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
from goext_core.runtime.heapdominators import (
    DominatorTree,
    dominator_tree,
    format_retained,
    retained_by_root,
    retained_to_json,
)
from goext_core.runtime.heapgraph import (
    HeapGraph,
    HeapRoot,
    build_heap_graph,
    pointer_offsets,
    reachable,
    recorded_type,
    referrers,
    shortest_chains,
)
from goext_core.runtime.leaks import find_leaks, format_leaks
from goext_core.textsafe import json_for_terminal, safe_field
from goext_core.values.decode import Decoder, frame_variables
from goext_core.values.heaptypes import SOURCE_PROPAGATED, HeapTypes, RecordedTypeLabels, propagate_types
from goext_core.values.model import Settings
from goext_core.values.typepackage import package_of
from goext_core.values.types import Kind

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
        "action",
        nargs="?",
        choices=("objects", "path", "refs", "retained"),
        help="objects TYPE: list the addresses of TYPE's objects; path ADDR|EXPR: the reference chains "
        "from a root to the object; refs ADDR|EXPR: what points into the object; retained: what each root "
        "(or object) alone keeps alive",
    )
    parser.add_argument(
        "type",
        nargs="?",
        metavar="TYPE|ADDR",
        help="the Go type for 'objects' (as 'go heap' names it); an address or a Go expression "
        "whose value is a pointer for 'path' and 'refs' (quote it)",
    )
    parser.add_argument("--all", action="store_true", help="path: a chain from every root that reaches the object")
    parser.add_argument(
        "--no-graph",
        action="store_true",
        help="go heap: skip the reachable/unreachable totals (they need the object graph: seconds per million objects)",
    )
    parser.add_argument(
        "--by",
        choices=("type", "package", "size", "class", "root", "object"),
        default=None,
        help="group objects by (go heap: type, package, size or class, default type; "
        "go heap retained: root or object, default root)",
    )
    parser.add_argument("--top", type=bounded_int(1, _MAX_TOP), default=30, help="rows to show")
    parser.add_argument(
        "--limit",
        type=bounded_int(1, _MAX_LIMIT),
        default=None,
        help="addresses to list (objects, default 100); chains (path, default 1); referrers (refs, default 100)",
    )
    parser.add_argument("--json", action="store_true", help="print as JSON")


@command(
    "heap",
    "Live heap objects and bytes per type, package, size or span class, reconciled with the runtime's figures; "
    "'go heap objects TYPE' lists addresses; 'go heap path|refs ADDR|EXPR' shows what keeps an object alive.",
    _configure_heap,
)
def run_heap(context: Context, args: argparse.Namespace, write: Write) -> None:
    program = context.program
    if args.action == "retained":
        by = args.by or "root"
        if by not in ("root", "object"):
            raise UsageError("go heap retained: --by root or --by object")
        if args.type or args.all or args.limit:
            raise UsageError("go heap retained: takes only --by, --top and --json")
        _run_retained(program, by, args.top, args.json, write)
        return
    if args.by in ("root", "object"):
        raise UsageError(f"go heap: --by {args.by} is for 'go heap retained'")
    if args.by is None:
        args.by = "type"
    if args.action == "objects":
        if not args.type:
            raise UsageError("go heap objects: name a TYPE, as 'go heap' prints it")
        _run_objects(program, args.type, args.limit or 100, args.json, write)
        return
    if args.action in ("path", "refs"):
        if args.all and args.limit:
            raise UsageError("go heap path: --all or --limit N, not both")
        if not args.type:
            raise UsageError(f"go heap {args.action}: give an address or a Go expression whose value is a pointer")
        if args.action == "path":
            _run_path(program, args.type, None if args.all else (args.limit or 1), args.json, write)
        else:
            _run_refs(program, args.type, args.limit or 100, args.json, write)
        return
    if args.all:
        raise UsageError("go heap: --all is for 'go heap path'")
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
    graph_summary = {"skipped": "--no-graph"} if args.no_graph else _reachability(program)
    if args.json:
        data = {
            "reachability": graph_summary,
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
    _write_reachability(graph_summary, write)
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
    """The heap's types followed through typed pointers, and their notes (None when that
    failed); a failure is kept per stop too (go heap path labels every step with it)."""

    def compute() -> tuple[Optional[HeapTypes], list[str]]:
        try:
            types = propagate_types(program)
        except GoextError as exc:
            return None, [f"types not propagated through pointers: {exc}"]
        return types, list(types.notes)

    return program.stop_memo("heap_types_outcome", compute)


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
    ``top_retainers``: the roots that alone keep the most memory alive (go heap retained),
    left out with a note when the object graph cannot be built."""
    heap = census(program, types=True)
    figures = runtime_figures(program, heap.elemsize_by_class)
    types, type_notes = _propagated(program)
    type_rows = _rows_by_type(heap, RecordedTypeLabels(program), types)
    package_rows, types_per_package = _rows_by_package(type_rows)
    reconciliation = _reconcile(heap, figures)
    retainers: Optional[list[dict[str, Any]]] = None
    retainer_notes: list[str] = []
    try:
        retainers = top_retaining_roots(program, top)
    except GoextError as exc:
        retainer_notes.append(f"retained sizes unknown: {exc}")
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
        "notes": figures.notes + type_notes + retainer_notes,
        **({"top_retainers": retainers} if retainers is not None else {}),
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
    noun = "object" if len(found) == 1 else "objects"
    write(f"{len(found)} {noun}{more}; {hint} {found[0][0]:#x}\n")


# -- what keeps an object alive (runtime/heapgraph.py) ------------------------------------------


# Section names heapgraph gives global words of a binary without symbols ("bss+0x40"):
# there the offset is the only name, not a field of a variable.
_UNNAMED_SECTIONS = ("data", "bss")


def _variable_name(root: HeapRoot) -> str:
    """The variable a root's slot belongs to: a global's words are named ``var+0x18``
    after the first (heapgraph); every word of ``var`` is ``var``."""
    if root.kind == "global":
        base, plus, offset = root.name.rpartition("+0x")
        if plus and base not in _UNNAMED_SECTIONS and offset and all(c in "0123456789abcdef" for c in offset):
            return base
    return root.name


def _graph_by_variable(graph: HeapGraph) -> HeapGraph:
    """The graph with its roots merged per variable: heapgraph gives one root per pointer
    slot, and an object two slots of one global (or one stack variable) reach is that
    variable's alone, not "shared"."""
    merged: dict[tuple[str, str, Optional[int]], list[Any]] = {}
    for root in graph.roots:
        entry = merged.setdefault((root.kind, _variable_name(root), root.goroutine), [root.address, set()])
        entry[1].update(root.targets)
    roots = [
        HeapRoot(kind, name, address, goroutine, tuple(sorted(targets)))
        for (kind, name, goroutine), (address, targets) in merged.items()
    ]
    return replace(graph, roots=roots)


def retained_tree(program: "GoProgram") -> tuple[HeapGraph, DominatorTree]:
    """The heap graph (roots merged per variable) and its dominator tree, once per stop."""

    def compute() -> tuple[HeapGraph, DominatorTree]:
        graph = _graph_by_variable(build_heap_graph(program))
        return graph, dominator_tree(graph)

    return program.stop_memo("heap_dominators", compute)


def _run_retained(program: "GoProgram", by: str, top: int, as_json: bool, write: Write) -> None:
    graph, tree = retained_tree(program)
    if as_json:
        data = retained_to_json(graph, tree, top, by)
        data["precise"] = graph.precise
        data["notes"] = list(graph.notes)
        write(json_for_terminal(data) + "\n")
        return
    for line in format_retained(graph, tree, top, by):
        write(safe_field(line) + "\n")
    if not graph.precise:
        write("(the graph is not precise: some objects were scanned conservatively, see the notes)\n")


def top_retaining_roots(program: "GoProgram", count: int) -> list[dict[str, Any]]:
    """The snapshot's ``top_retainers``: the ``count`` roots that alone keep the most bytes alive."""
    graph, tree = retained_tree(program)
    return [
        {
            "name": row.name,
            "kind": row.kind,
            "retained_bytes": row.retained_bytes,
            "retained_objects": row.retained_objects,
        }
        for row in retained_by_root(graph, tree)[:count]
        if row.retained_bytes
    ]


_MAX_CHAINS_ALL = 10_000


def _reachable_objects(program: "GoProgram", graph: HeapGraph) -> bytearray:
    """reachable(graph, graph.roots), once per stop."""
    return program.stop_memo("heap_reachable", lambda: reachable(graph, graph.roots))


def _reachability(program: "GoProgram") -> dict[str, Any]:
    """Objects and bytes reachable from the roots and not, or why that is unknown."""
    try:
        graph = build_heap_graph(program)
    except GoextError as exc:
        return {"error": str(exc)}
    seen = _reachable_objects(program, graph)
    sizes = graph.objects.sizes
    reached = seen.count(1)
    reached_bytes = sum(sizes[i] for i in range(len(seen)) if seen[i])
    total_bytes = sum(sizes)
    return {
        "reachable_objects": reached,
        "reachable_bytes": reached_bytes,
        "unreachable_objects": len(seen) - reached,
        "unreachable_bytes": total_bytes - reached_bytes,
        "roots": len(graph.roots),
        "references": len(graph.edges),
        "precise": graph.precise,
        "notes": graph.notes,
    }


def _write_reachability(summary: dict[str, Any], write: Write) -> None:
    if "skipped" in summary:
        return
    if "error" in summary:
        write(f"reachability: unknown ({safe_field(summary['error'])})\n")
        return
    write(
        f"reachable from {summary['roots']:,} roots: {summary['reachable_objects']:,} objects, "
        f"{summary['reachable_bytes']:,} bytes; unreachable (not yet collected): "
        f"{summary['unreachable_objects']:,} objects, {summary['unreachable_bytes']:,} bytes\n"
    )
    if summary["precise"]:
        write("(the graph is precise: every pointer word read from the GC's own metadata)\n")
    else:
        write("(the graph is partly conservative: unreachable counts are a lower bound)\n")
    for note in summary["notes"]:
        write(f"  note: {safe_field(note)}\n")


def _resolve_object(program: "GoProgram", graph: HeapGraph, text: str) -> tuple[int, int]:
    """(address the user meant, index of the heap object containing it)."""
    text = text.strip()
    try:
        address = int(text, 0)
    except ValueError:
        address = _pointer_value(program, text)
    if not 0 < address < 1 << 64:
        raise UsageError(f"bad address {text!r}")
    index = graph.objects.find(address)
    if index < 0:
        raise GoextError(f"{address:#x} is not a heap object (not inside any allocated object of the heap)")
    return address, index


_REFERENCE_WORD = {Kind.MAP: 0, Kind.CHAN: 0, Kind.FUNC: 0, Kind.SLICE: 0, Kind.STRING: 0, Kind.INTERFACE: 8}


def _pointer_value(program: "GoProgram", expression: str) -> int:
    """The heap address a Go expression refers to: a pointer's target; the data a map,
    channel, func, slice, string or interface value points at; else where the value lives."""
    try:
        value = evaluate(program, Decoder(program, _VARIABLE_SETTINGS), expression)
    except GoextError as exc:
        raise GoextError(str(exc).removeprefix("go print: ")) from None
    if value.marked:
        raise GoextError(f"{expression}: its value is not known ({value.unavailable or 'partly unavailable'})")
    target = value.details.get("target")
    kind = value.go_type.kind if value.go_type is not None else None
    if isinstance(target, int) or kind in (Kind.POINTER, Kind.UNSAFE_POINTER):
        if not target:
            raise GoextError(f"{expression} is nil")
        return int(target) if isinstance(target, int) else int(value.text or "0", 0)
    if kind in _REFERENCE_WORD and value.address is not None:
        word = program.target.read_ptr(value.address + _REFERENCE_WORD[kind])
        if not word:
            raise GoextError(f"{expression} is nil or empty: it refers to no heap object")
        return word
    if value.address is not None:
        return value.address  # a value that lives in the heap (*p, a struct field, ...)
    raise GoextError(f"{expression} ({value.type_name}) is held nowhere in memory: give a pointer or an address")


def _object_label(program: "GoProgram", graph: HeapGraph, namer: RecordedTypeLabels, index: int) -> str:
    span = graph.objects.span(index)
    size = graph.objects.sizes[index]
    where = "large object" if span.sizeclass == 0 else f"size class {span.sizeclass}"
    type_address = recorded_type(program, graph.objects, index)
    if type_address:
        header = MALLOC_HEADER_SIZE if span.sizeclass else 0
        return f"{namer.label(type_address, size - header)}, {size:,} B {where}"
    types, _ = _propagated(program)
    propagated = types.type_of(index) if types is not None else None
    if propagated:
        return f"{propagated}, {size:,} B {where}"
    return f"{size:,} B {where}{', noscan' if span.noscan else ''}"


def _field_at(
    program: "GoProgram", graph: HeapGraph, namer: RecordedTypeLabels, index: int, offset: int
) -> Optional[str]:
    """The field path (``.next``, ``[3].slots[5].elem``) at ``offset`` of object ``index``'s
    slot, when the runtime recorded its type; None otherwise."""
    type_address = recorded_type(program, graph.objects, index)
    if type_address <= 0:
        return None
    span = graph.objects.span(index)
    header = MALLOC_HEADER_SIZE if span.sizeclass else 0
    try:
        go_type = namer.types.type_at(type_address)
    except GoextError:
        return None
    if offset < header or go_type.size <= 0:
        return None
    offset -= header
    parts = []
    if graph.objects.sizes[index] - header >= 2 * go_type.size:  # an array of the recorded type
        parts.append(f"[{offset // go_type.size}]")
        offset %= go_type.size
    current = go_type
    for _depth in range(_MAX_FIELD_DEPTH):
        if current.kind == Kind.STRUCT:
            member = next((f for f in current.fields if f.offset <= offset < f.offset + max(f.type.size, 1)), None)
            if member is None:
                break
            parts.append(f".{member.name}")
            offset -= member.offset
            current = member.type
        elif current.kind == Kind.ARRAY and current.elem is not None and current.elem.size > 0:
            parts.append(f"[{offset // current.elem.size}]")
            offset %= current.elem.size
            current = current.elem
        else:
            break
    return "".join(parts) or None


_MAX_FIELD_DEPTH = 16


def _stack_variable(program: "GoProgram", root: HeapRoot) -> Optional[str]:
    """``local NAME`` / ``arg NAME``: the variable DWARF places at a stack root's slot."""
    if root.kind != "stack" or root.goroutine is None or not root.address:
        return None
    try:
        record = program.goroutine(root.goroutine)
        frames = program.stack(record).frames
        for index, frame in enumerate(frames):
            if frame.stack != "goroutine" or f" {frame.function} (" not in root.name:
                continue
            for name, start, end, is_param in _frame_slots(program, record, index):
                if start <= root.address < end:
                    return f"{'arg' if is_param else 'local'} {name}"
    except GoextError:
        return None
    return None


def _frame_slots(program: "GoProgram", record: Any, index: int) -> list[tuple[str, int, int, bool]]:
    """(name, first byte, end, is_param) of the variables of a frame that live on its
    goroutine's stack, once per stop and frame."""
    cache: dict[tuple[int, int], list[tuple[str, int, int, bool]]] = program.stop_memo("heap_frame_slots", dict)
    key = (record.id, index)
    if key not in cache:
        slots = []
        for name, value, is_param in frame_variables(program, record, index, _VARIABLE_SETTINGS, split_slots=True):
            size = value.go_type.size if value.go_type is not None else 0
            where = value.address
            if where is not None and record.stack_lo <= where < record.stack_hi:
                slots.append((name, where, where + max(size, 8), is_param))
        cache[key] = slots
    return cache[key]


_VARIABLE_SETTINGS = Settings(max_elements=1, max_string=1, max_depth=1, follow_pointers=False)


def _root_json(program: "GoProgram", graph: HeapGraph, namer: RecordedTypeLabels, root: HeapRoot) -> dict[str, Any]:
    name = root.name
    variable = _stack_variable(program, root)
    if variable:
        name = f"{name} {variable}"
    if root.kind == "finalizer" and root.targets:
        # The object a finalizer is set on: its type, when the runtime recorded one.
        index = root.targets[0]
        type_address = recorded_type(program, graph.objects, index)
        if type_address > 0:
            span = graph.objects.span(index)
            payload = graph.objects.sizes[index] - (MALLOC_HEADER_SIZE if span.sizeclass else 0)
            name = f"{name} ({namer.label(type_address, payload)})"
    return {"kind": root.kind, "name": name, "address": root.address, "goroutine": root.goroutine}


def _run_path(program: "GoProgram", text: str, limit: Optional[int], as_json: bool, write: Write) -> None:
    graph = build_heap_graph(program)
    address, target = _resolve_object(program, graph, text)
    namer = RecordedTypeLabels(program)
    chains = shortest_chains(graph, target, limit if limit is not None else _MAX_CHAINS_ALL)
    objects = graph.objects
    described: list[dict[str, Any]] = []
    for root, chain in chains:
        steps: list[dict[str, Any]] = []
        previous: Optional[int] = None
        for index in chain:
            offsets: list[int] = []
            field_name: Optional[str] = None
            if previous is not None:
                offsets = pointer_offsets(program, graph, previous, index)
                field_name = _field_at(program, graph, namer, previous, offsets[0]) if offsets else None
            steps.append(
                {
                    "address": objects.addresses[index],
                    "slot": objects.sizes[index],
                    "what": _object_label(program, graph, namer, index),
                    "from_offset": offsets[0] if offsets else None,
                    "from_field": field_name,
                }
            )
            previous = index
        described.append({"root": _root_json(program, graph, namer, root), "steps": steps})
    if as_json:
        data = {
            "address": address,
            "object": objects.addresses[target],
            "what": _object_label(program, graph, namer, target),
            "reachable": bool(chains),
            "chains": described,
            "precise": graph.precise,
            "notes": graph.notes,
        }
        write(json_for_terminal(data) + "\n")
        return
    label = _object_label(program, graph, namer, target)
    inside = "" if address == objects.addresses[target] else f" (inside {objects.addresses[target]:#x})"
    write(f"{address:#x}{inside}: {safe_field(label)}\n")
    if not chains:
        hedge = "" if graph.precise else " (the graph is partly conservative: see 'go heap')"
        write(f"unreachable (garbage not yet collected): no root reaches it{hedge}\n")
        return
    for number, described_chain in enumerate(described, 1):
        root = described_chain["root"]
        count = len(described_chain["steps"])
        write(f"chain {number} ({count} reference{'s' if count != 1 else ''}):\n")
        slot = f" at {root['address']:#x}" if root["address"] else ""
        write(f"  {root['kind']} root {safe_field(root['name'])}{slot}\n")
        for step in described_chain["steps"]:
            via = "" if step["from_offset"] is None else f"+{step['from_offset']:#x} "
            if step["from_field"]:
                via = f"{via}({safe_field(step['from_field'])}) "
            write(f"    {via}-> {step['address']:#x} ({safe_field(step['what'])})\n")
    if limit is not None and len(chains) == limit:
        write("(--all or --limit N: chains from more roots)\n")
    elif limit is None and len(chains) == _MAX_CHAINS_ALL:
        write(f"(the first {_MAX_CHAINS_ALL:,} roots only)\n")
    if not graph.precise:
        write("(the graph is partly conservative: see 'go heap')\n")


def _run_refs(program: "GoProgram", text: str, limit: int, as_json: bool, write: Write) -> None:
    graph = build_heap_graph(program)
    address, target = _resolve_object(program, graph, text)
    namer = RecordedTypeLabels(program)
    sources, roots = referrers(graph, target)
    objects = graph.objects
    seen = _reachable_objects(program, graph)
    listed: list[dict[str, Any]] = []
    for index in sources[:limit]:
        offsets = pointer_offsets(program, graph, index, target)
        listed.append(
            {
                "address": objects.addresses[index],
                "what": _object_label(program, graph, namer, index),
                "offsets": offsets,
                "fields": [_field_at(program, graph, namer, index, offset) for offset in offsets],
                "reachable": bool(seen[index]),
            }
        )
    if as_json:
        data = {
            "address": address,
            "object": objects.addresses[target],
            "what": _object_label(program, graph, namer, target),
            "objects": listed,
            "objects_total": len(sources),
            "roots": [_root_json(program, graph, namer, root) for root in roots[:limit]],
            "roots_total": len(roots),
            "precise": graph.precise,
            "notes": graph.notes,
        }
        write(json_for_terminal(data) + "\n")
        return
    write(f"{objects.addresses[target]:#x}: {safe_field(_object_label(program, graph, namer, target))}\n")
    if not sources and not roots:
        write("nothing points into it\n")
    for item in listed:
        words = ", ".join(
            f"+{offset:#x}" + (f" ({safe_field(name)})" if name else "")
            for offset, name in zip(item["offsets"], item["fields"])
        )
        dead = "" if item["reachable"] else ", unreachable: garbage not yet collected"
        write(f"  object {item['address']:#x} {words or '?'} ({safe_field(item['what'])}{dead})\n")
    if len(sources) > limit:
        write(f"  ... {len(sources) - limit} more objects (--limit)\n")
    for root in roots[:limit]:
        slot = f" at {root.address:#x}" if root.address else ""
        name = _root_json(program, graph, namer, root)["name"]
        write(f"  {root.kind} root {safe_field(name)}{slot}\n")
    if len(roots) > limit:
        write(f"  ... {len(roots) - limit} more roots (--limit)\n")
    if not graph.precise:
        write("(the graph is partly conservative: see 'go heap')\n")


# -- goroutines nothing can wake (runtime/leaks.py) ----------------------------------------------


def _configure_leaks(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print as JSON")


@command(
    "leaks",
    "Goroutines blocked on channels or sync objects that no goroutine able to run can reach "
    "(Go 1.26's leak rule over the heap graph), grouped by stack.",
    _configure_leaks,
)
def run_leaks(context: Context, args: argparse.Namespace, write: Write) -> None:
    program = context.program
    graph = build_heap_graph(program)
    report = find_leaks(program, graph)
    if args.json:
        write(json_for_terminal(report.to_json()) + "\n")
        return
    for line in format_leaks(report):
        write(safe_field(line) + "\n")
