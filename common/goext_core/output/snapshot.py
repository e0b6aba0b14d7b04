"""The versioned JSON snapshot (format ``goext.snapshot/2``), documented in
README.md and described by ``snapshot.schema.json`` next to this file.

Everything in it is computed by the core from target memory, so a snapshot
taken inside gdb, inside lldb or offline from the same core is the same
document (the thread frames are goext's own symbolization, not a debugger's).

Format history: /1 had target, threads (tid, pc, sp, m, goroutine), goroutines
and notes.  /2 adds target.build (module path, dependencies, build settings),
scheduler (Ps, Ms, run queues, idle lists), gc (phase, cycles, heap), richer
threads (P, role, locked goroutine, syscall/cgo, top frames), per-goroutine
wait_reason, status, parent and, with locals, each frame's locals; later,
within /2, the optional heap section (``go snapshot --heap``).
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any, Callable, Iterator, Optional, Protocol, Sequence

from goext_core.errors import GoextError
from goext_core.progress import steps
from goext_core.runtime.sched import read_sched, read_threads
from goext_core.runtime.stacks import created_by
from goext_core.values.decode import frame_locals_json

if TYPE_CHECKING:
    from goext_core.program import GoProgram
    from goext_core.runtime.goroutines import GoroutineRecord

FORMAT = "goext.snapshot/2"
SCHEMA_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "snapshot.schema.json")
_THREAD_FRAMES = 4


def _thread_entries(program: "GoProgram", sched: Any) -> list[dict[str, Any]]:
    out = []
    for view in read_threads(program, sched, frames=_THREAD_FRAMES, native=False):
        out.append(
            {
                "tid": view.tid,
                "pc": view.pc,
                "sp": view.sp,
                "m": view.m,
                "goroutine": view.goroutine,
                "p": view.p,
                "role": view.role,
                "locked_goroutine": view.lockedg,
                "in_syscall": view.in_syscall,
                "in_cgo": view.in_cgo,
                "frames": view.frames,
            }
        )
    return out


LocalsReader = Callable[[Any, Any, int], list[dict[str, Any]]]


def _locals_reader(notes: list[str]) -> Optional[LocalsReader]:
    """frame_locals_json(program, record, frame_index) of goext_core.values.decode."""
    return frame_locals_json


def goroutine_entry(
    program: "GoProgram", record: "GoroutineRecord", locals_reader: Optional[LocalsReader] = None
) -> dict[str, Any]:
    machine = program.machine_of(record)
    entry: dict[str, Any] = {
        "id": record.id,
        "address": record.address,
        "state": record.state,
        "status": record.plain_status,
        "wait_reason": record.wait_reason or None,
        "wait_minutes": record.wait_minutes,
        "locked_to_thread": record.locked_to_thread,
        "system": record.system,
        "thread": machine.procid if machine and machine.procid else None,
        "m": machine.id if machine else None,
        "parent": record.parent_id or None,
        "labels": dict(record.labels),
        "frames": [],
        "created_by": None,
        "error": record.error,
    }
    if record.error:
        return entry
    stack = program.stack(record)
    entry["frames"] = [
        {
            "function": f.function,
            "file": f.file,
            "line": f.line,
            "pc": f.pc,
            "sp": f.sp,
            "inlined": f.inlined,
            "stack": f.stack,
        }
        for f in stack.frames
    ]
    if locals_reader is not None:
        for index, frame in enumerate(entry["frames"]):
            try:
                frame["locals"] = locals_reader(program, record, index)
            except GoextError as exc:
                frame["locals_error"] = str(exc)
            except Exception as exc:
                frame["locals_error"] = f"{type(exc).__name__}: {exc}"
    if stack.error:
        entry["error"] = stack.error
    creator = created_by(program, record)
    if creator is not None:
        entry["created_by"] = {
            "function": creator.function,
            "file": creator.file,
            "line": creator.line,
            "goroutine": creator.goroutine,
        }
    return entry


def _build_entry(program: "GoProgram") -> Optional[dict[str, Any]]:
    info = program.binary.buildinfo
    if info is None:
        return None
    return {
        "path": info.path or None,
        "main": {"path": info.main.path, "version": info.main.version, "sum": info.main.sum or None}
        if info.main is not None
        else None,
        "deps": [
            {
                "path": dep.path,
                "version": dep.version,
                "sum": dep.sum or None,
                "replace": (
                    {"path": info.replacements[dep.path].path, "version": info.replacements[dep.path].version}
                    if dep.path in info.replacements
                    else None
                ),
            }
            for dep in info.deps
        ],
        "settings": [{"key": key, "value": value} for key, value in info.settings],
    }


def _snapshot_head(program: "GoProgram", heap: Optional[dict[str, Any]] = None) -> tuple[dict[str, Any], Any]:
    """Everything but the goroutines and the notes, plus the scheduler view (or None).
    ``heap`` is the optional heap section, made by the caller (commands/heap.py heap_section)."""
    target = program.target
    info = program.binary.buildinfo
    goos = info.setting("GOOS") if info else None
    head: dict[str, Any] = {
        "format": FORMAT,
        "target": {
            "go_version": program.go_version,
            "goos": goos or "linux",
            "goarch": target.arch,
            "executable": os.path.abspath(program.binary.path),
            "core": target.core_path(),
            "has_dwarf": program.binary.has_dwarf(),
            "build": _build_entry(program),
        },
        "scheduler": None,
        "gc": None,
        "threads": [],
    }
    notes: list[str] = []
    sched = None
    try:
        sched = read_sched(program)
        data = sched.to_json()
        head["gc"] = data.pop("gc")
        notes.extend(f"scheduler: {note}" for note in data.pop("notes"))
        head["scheduler"] = data
    except GoextError as exc:
        notes.append(f"scheduler: {exc}")
    try:
        head["threads"] = _thread_entries(program, sched)
    except GoextError as exc:
        notes.append(f"threads: {exc}")
    if heap is not None:
        head["heap"] = heap
    return head, notes


def iter_goroutine_entries(program: "GoProgram", with_locals: bool, notes: list[str]) -> Iterator[dict[str, Any]]:
    """One snapshot entry per goroutine, made as it is consumed (nothing retained)."""
    reader = _locals_reader(notes) if with_locals else None
    for record in steps(program.goroutines(), "snapshot"):
        yield goroutine_entry(program, record, reader)


def build_snapshot(
    program: "GoProgram", with_locals: bool = False, heap: Optional[dict[str, Any]] = None
) -> dict[str, Any]:
    """The whole snapshot as one document (see write_snapshot for a file); ``heap``, when
    given, becomes its heap section."""
    head, notes = _snapshot_head(program, heap)
    snapshot = dict(head)
    snapshot["goroutines"] = list(iter_goroutine_entries(program, with_locals, notes))
    snapshot["notes"] = notes + program.notes
    return snapshot


class TextSink(Protocol):
    """Anything with a text write(): a file, or a command's output."""

    def write(self, text: str) -> Any: ...


def write_snapshot(
    program: "GoProgram",
    handle: TextSink,
    with_locals: bool = False,
    dumps: Callable[[Any], str] = lambda data: json.dumps(data, indent=1),
    heap: Optional[dict[str, Any]] = None,
    extra_notes: Sequence[str] = (),
    line_dumps: Callable[[Any], str] = json.dumps,
) -> int:
    """Write the snapshot to ``handle`` goroutine by goroutine, so its size in
    memory does not grow with the number of goroutines; the text parses to
    exactly what build_snapshot returns.  Returns the number of goroutines.

    Each goroutine is one line (``line_dumps``, no indentation): a snapshot of
    100,000 goroutines can be searched line by line, and JSON without
    indentation is written by the json module's C encoder, which indented
    output bypasses (it was two thirds of the time).  The rest is ``dumps``."""
    head, notes = _snapshot_head(program, heap)
    marker = "@@goext-goroutines@@"
    text = dumps({**head, "goroutines": marker, "notes": []})
    before, _, after = text.rpartition(json.dumps(marker))
    handle.write(before + "[")
    count = 0
    for entry in iter_goroutine_entries(program, with_locals, notes):
        handle.write(("," if count else "") + "\n  " + line_dumps(entry))
        count += 1
    handle.write(("\n " if count else "") + "]")
    # The notes come last: the walk above adds to them.
    closing = after.rstrip()
    notes_text = dumps(notes + list(extra_notes) + program.notes)
    handle.write(closing.replace("[]", _indented(notes_text, " ").lstrip(), 1) + "\n")
    return count


def _indented(text: str, prefix: str) -> str:
    return "\n".join(prefix + line for line in text.split("\n"))


def schema() -> dict[str, Any]:
    with open(SCHEMA_FILE, encoding="utf-8") as handle:
        return json.load(handle)


__all__ = [
    "FORMAT",
    "SCHEMA_FILE",
    "build_snapshot",
    "goroutine_entry",
    "iter_goroutine_entries",
    "schema",
    "write_snapshot",
]
