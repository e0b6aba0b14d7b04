"""The versioned JSON snapshot (format ``goext.snapshot/1``), documented in README.md."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Optional

from .errors import GoextError
from .stacks import created_by

if TYPE_CHECKING:
    from .goroutines import GoroutineRecord
    from .program import GoProgram

FORMAT = "goext.snapshot/1"


def _thread_entries(program: "GoProgram") -> list[dict[str, Any]]:
    by_tid = {m.procid: m for m in program.machines() if m.procid}
    out = []
    for thread in program.target.threads():
        machine = by_tid.get(thread.tid)
        out.append({
            "tid": thread.tid,
            "pc": thread.pc,
            "sp": thread.sp,
            "m": machine.id if machine else None,
            "goroutine": _goid_at(program, machine.curg) if machine else None,
        })
    return out


def _goid_at(program: "GoProgram", g: int) -> Optional[int]:
    if not g:
        return None
    for record in program.goroutines():
        if record.address == g:
            return record.id
    return None


def goroutine_entry(program: "GoProgram", record: "GoroutineRecord") -> dict[str, Any]:
    machine = program.machine_of(record)
    entry: dict[str, Any] = {
        "id": record.id,
        "address": record.address,
        "state": record.state,
        "wait_minutes": record.wait_minutes,
        "locked_to_thread": record.locked_to_thread,
        "system": record.system,
        "thread": machine.procid if machine and machine.procid else None,
        "m": machine.id if machine else None,
        "labels": dict(record.labels),
        "frames": [],
        "created_by": None,
        "error": record.error,
    }
    if record.error:
        return entry
    stack = program.stack(record)
    entry["frames"] = [
        {"function": f.function, "file": f.file, "line": f.line, "pc": f.pc, "sp": f.sp,
         "inlined": f.inlined, "stack": f.stack}
        for f in stack.frames
    ]
    if stack.error:
        entry["error"] = stack.error
    creator = created_by(program, record)
    if creator is not None:
        entry["created_by"] = {"function": creator.function, "file": creator.file, "line": creator.line,
                               "goroutine": creator.goroutine}
    return entry


def build_snapshot(program: "GoProgram") -> dict[str, Any]:
    target = program.target
    info = program.binary.buildinfo
    goos = info.setting("GOOS") if info else None
    snapshot: dict[str, Any] = {
        "format": FORMAT,
        "target": {
            "go_version": program.go_version,
            "goos": goos or "linux",
            "goarch": target.arch,
            "executable": os.path.abspath(program.binary.path),
            "core": target.core_path(),
            "has_dwarf": program.binary.has_dwarf(),
        },
        "threads": [],
        "goroutines": [],
        "notes": [],
    }
    try:
        snapshot["threads"] = _thread_entries(program)
    except GoextError as exc:
        snapshot["notes"].append(f"threads: {exc}")
    snapshot["goroutines"] = [goroutine_entry(program, record) for record in program.goroutines()]
    snapshot["notes"].extend(program.notes)
    return snapshot
