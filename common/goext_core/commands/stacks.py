"""Commands: go goroutines, go bt, go info."""

from __future__ import annotations

import argparse
import re
from collections import OrderedDict
from functools import lru_cache
from typing import TYPE_CHECKING, Optional

from goext_core.collector import collector_paused
from goext_core.commands.base import MAX_FRAMES, Context, Write, bounded_int, command
from goext_core.errors import GoextError, UsageError
from goext_core.progress import steps
from goext_core.runtime.goroutines import GoroutineRecord, read_goroutine
from goext_core.runtime.layouts import status_strings
from goext_core.runtime.stacks import (
    created_by,
    goroutine_frames,
    match_state,
    printed_name,
    short_path,
    stack_signature,
)
from goext_core.runtime.unwind import STACK_GOROUTINE, STACK_SIGNAL, Frame, Stack, unwind_thread
from goext_core.textsafe import safe_field

if TYPE_CHECKING:
    from goext_core.program import GoProgram

_DEFAULT_TRACE_DEPTH = 10


# -- go goroutines ------------------------------------------------------------------
def _configure_goroutines(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-s", "--state", help="only goroutines in this state (e.g. 'chan receive', running)")
    kind = parser.add_mutually_exclusive_group()
    kind.add_argument("--user", dest="kind", action="store_const", const="user", help="only user goroutines")
    kind.add_argument("--system", dest="kind", action="store_const", const="system", help="only runtime goroutines")
    kind.add_argument("--all", dest="kind", action="store_const", const="all", help="every goroutine (default)")
    parser.add_argument(
        "--with",
        dest="with_func",
        metavar="FUNC",
        help="only goroutines with a frame whose function matches this regular expression",
    )
    parser.add_argument("--group", action="store_true", help="group goroutines with identical stacks, with counts")
    parser.add_argument(
        "-t",
        "--trace",
        nargs="?",
        type=bounded_int(1, MAX_FRAMES),
        const=_DEFAULT_TRACE_DEPTH,
        metavar="N",
        help=f"show N frames of each goroutine (N defaults to {_DEFAULT_TRACE_DEPTH})",
    )
    parser.set_defaults(kind="all")


def known_states(program: "GoProgram") -> list[str]:
    """Every state text this runtime can print in a goroutine header."""
    minor = program.go_minor or 99
    texts = set(status_strings(minor).values()) | {reason for reason in program.wait_reasons() if reason}
    texts |= {"leaked", "scan"}
    return sorted(text for text in texts if text)


def _check_state(program: "GoProgram", wanted: str) -> None:
    """-s takes any part of a state the runtime can print; anything else is a
    typo, which must not look like "no goroutine is in that state"."""
    if not wanted.strip():
        raise UsageError("-s/--state: empty state; give a state such as 'chan receive' or running")
    states = known_states(program)
    needle = wanted.lower()
    if not any(needle in state.lower() for state in states):
        raise UsageError(
            f"-s/--state: unknown state {wanted!r}; this runtime's states are: "
            + ", ".join(repr(state) for state in states)
        )


def _selected(context: Context, args: argparse.Namespace) -> list[GoroutineRecord]:
    program = context.program
    if args.state is not None:
        _check_state(program, args.state)
    pattern = None
    if args.with_func:
        try:
            pattern = re.compile(args.with_func)
        except re.error as exc:
            raise UsageError(f"--with: bad regular expression: {exc}") from None
    out = []
    for record in steps(program.goroutines(), "goroutines"):
        if args.kind == "user" and record.system or args.kind == "system" and not record.system:
            continue
        if args.state and not match_state(record, args.state):
            continue
        if pattern is not None:
            stack = program.stack(record)
            if not any(pattern.search(frame.function) for frame in stack.frames):
                continue
        out.append(record)
    return out


# Names, files and frame lines repeat across goroutines (bt all of 100,000
# goroutines prints 840,000 frames of a few hundred functions): made once each.
_RENDER_CACHE = 1 << 16


@lru_cache(maxsize=_RENDER_CACHE)
def _name(function: str) -> str:
    """A function name from the target's pclntab, as printed and terminal-safe."""
    return safe_field(printed_name(function))


@lru_cache(maxsize=_RENDER_CACHE)
def _frame_text(function: str, file: str, line: int, pc: int, entry: int, inlined: bool) -> tuple[str, str]:
    """The two lines of a frame in a backtrace, less the frame number and --full's sp/fp."""
    address = "(inlined)".ljust(18) if inlined else f"{pc:#018x}"
    offset = f" +{pc - entry:#x}" if not inlined and pc - entry > 0 else ""
    return f" {address} in {_name(function)}", f"         at {safe_field(file)}:{line}{offset}"


def _location(frame: Optional[Frame]) -> str:
    if frame is None:
        return "?"
    return _location_text(frame.function, frame.file, frame.line)


@lru_cache(maxsize=_RENDER_CACHE)
def _location_text(function: str, file: str, line: int) -> str:
    return f"{_name(function)} at {safe_field(short_path(file))}:{line}"


def _header_state(record: GoroutineRecord) -> str:
    text = record.state
    if record.wait_minutes:
        text += f", {record.wait_minutes} minutes"
    if record.locked_to_thread:
        text += ", locked to thread"
    return text


def _created_text(context: Context, record: GoroutineRecord) -> str:
    creator = created_by(context.program, record)
    if creator is None:
        return ""
    text = f"created by {_name(creator.function)}"
    if creator.goroutine:
        text += f" in goroutine {creator.goroutine}"
    return text


def _thread_text(context: Context, record: GoroutineRecord) -> str:
    machine = context.program.machine_of(record)
    if machine is None:
        return ""
    return f"m{machine.id}" + (f"/tid {machine.procid}" if machine.procid else "")


def _listing_frame_lines(stack: Stack, limit: Optional[int], indent: str = "    ") -> list[str]:
    frames = stack.frames if limit is None else stack.frames[:limit]
    lines = []
    for frame in frames:
        marker = " (inlined)" if frame.inlined else ""
        lines.append(f"{indent}{_name(frame.function)}{marker}\n{indent}    {safe_field(frame.file)}:{frame.line}\n")
    if limit is not None and len(stack.frames) > limit:
        lines.append(f"{indent}...({len(stack.frames) - limit} more frames)\n")
    if stack.error:
        lines.append(f"{indent}[unwinding stopped: {safe_field(stack.error)}]\n")
    return lines


def _write_frames(write: Write, stack: Stack, limit: Optional[int], indent: str = "    ") -> None:
    write("".join(_listing_frame_lines(stack, limit, indent)))


# Lines of a goroutine list passed to the writer at once: each write is checked
# and, in a debugger, handed over; 100,000 single lines cost 100,000 of both.
_LINES_PER_WRITE = 256


@command("goroutines", "List goroutines: id, state, wait, thread, user location, creator.", _configure_goroutines)
def run_goroutines(context: Context, args: argparse.Namespace, write: Write) -> None:
    with collector_paused():
        _list_goroutines(context, args, write)


def _list_goroutines(context: Context, args: argparse.Namespace, write: Write) -> None:
    program = context.program
    records = _selected(context, args)
    if args.group:
        _write_groups(context, records, args, write)
        return
    current = current_goroutine(context)
    user_frame = program.user_frame_finder()
    creators: dict[tuple[int, Optional[int], bool], str] = {}  # a few go statements start most goroutines
    pending: list[str] = []
    for record in records:
        if record.error:
            pending.append(f"  {record.id:>6}  <unreadable g at {record.address:#x}: {safe_field(record.error)}>\n")
            continue
        mark = "*" if current is not None and record.address == current.address else " "
        kind = " [system]" if record.system else ""
        thread = _thread_text(context, record) if record.m else ""
        thread = f" ({thread})" if thread else ""
        line = f"{mark} {record.id:>6}  [{_header_state(record)}]{thread}{kind}  {_location(user_frame(record))}"
        key = (record.gopc, record.parent_id, record.id == 1)
        creator = creators.get(key)
        if creator is None:
            creator = creators[key] = _created_text(context, record)
        pending.append(line + (f"  {creator}\n" if creator else "\n"))
        if args.trace:
            pending.append("".join(_listing_frame_lines(program.stack(record), args.trace, indent="          ")))
        if len(pending) >= _LINES_PER_WRITE:
            write("".join(pending))
            pending.clear()
    if pending:
        write("".join(pending))
    write(f"{len(records)} goroutines\n")


def _write_groups(context: Context, records: list[GoroutineRecord], args: argparse.Namespace, write: Write) -> None:
    groups: "OrderedDict[tuple, list[GoroutineRecord]]" = OrderedDict()
    for record in records:
        key = (record.state, stack_signature(context.program.stack(record))) if not record.error else ("?", ())
        groups.setdefault(key, []).append(record)
    ordered = sorted(groups.items(), key=lambda item: -len(item[1]))
    for (state, _), members in ordered:
        ids = ", ".join(str(r.id) for r in members[:10]) + (", ..." if len(members) > 10 else "")
        write(f"{len(members)} goroutine{'s' if len(members) != 1 else ''} [{state}]: {ids}\n")
        stack = context.program.stack(members[0])
        limit = args.trace if args.trace else None
        _write_frames(write, Stack(goroutine_frames(stack), stack.error), limit)
        write("\n")
    write(f"{len(records)} goroutines in {len(groups)} groups\n")


# -- go bt ------------------------------------------------------------------------------
def current_goroutine(context: Context) -> Optional[GoroutineRecord]:
    """The selected goroutine (GoProgram.selected_goroutine)."""
    return context.program.selected_goroutine()


def _configure_bt(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "goroutine",
        nargs="?",
        default=None,
        help="goroutine id, or 'all' (default: the goroutine of the selected thread)",
    )
    parser.add_argument("--full", action="store_true", help="also show sp and fp of each frame")
    parser.add_argument(
        "-n",
        "--limit",
        type=bounded_int(1, MAX_FRAMES),
        default=None,
        metavar="N",
        help="at most this many frames (default: all)",
    )


def write_backtrace(context: Context, record: GoroutineRecord, write: Write, full: bool, limit: Optional[int]) -> None:
    """One goroutine's frames, written as one chunk (bt all writes 100,000 of these)."""
    program = context.program
    thread = _thread_text(context, record)
    lines = [f"goroutine {record.id} [{_header_state(record)}]" + (f" ({thread}):" if thread else ":")]
    if record.error:
        lines.append(f"    <unreadable: {safe_field(record.error)}>")
        write("\n".join(lines) + "\n")
        return
    lines += _frame_lines(program.stack(record), full, limit)
    creator = created_by(program, record)
    if creator is not None:
        where = f" in goroutine {creator.goroutine}" if creator.goroutine else ""
        lines.append(f"created by {_name(creator.function)}{where}")
        lines.append(f"         at {safe_field(creator.file)}:{creator.line}")
    write("\n".join(lines) + "\n")


def _frame_lines(stack: Stack, full: bool, limit: Optional[int]) -> list[str]:
    lines: list[str] = []
    current_stack = STACK_GOROUTINE
    frames = stack.frames if limit is None else stack.frames[:limit]
    for index, frame in enumerate(frames):
        if frame.stack != current_stack:
            lines.append(f"    ---- {frame.stack} stack ----")
            current_stack = frame.stack
        head, at = _frame_text(frame.function, frame.file, frame.line, frame.pc, frame.entry, frame.inlined)
        lines.append(f"#{index:<3}{head}")
        lines.append(f"{at} sp={frame.sp:#x} fp={frame.fp:#x}" if full and not frame.inlined else at)
    if limit is not None and len(stack.frames) > limit:
        lines.append(f"    ...({len(stack.frames) - limit} more frames)")
    if stack.error:
        lines.append(f"    [unwinding stopped: {safe_field(stack.error)}]")
    return lines


def write_thread_backtrace(context: Context, write: Write, full: bool, limit: Optional[int]) -> None:
    """The selected thread's own stack when it runs no goroutine: an M on its
    g0 stack (scheduler, sysmon, idle, or a signal handler that interrupted
    one, as in a SIGQUIT core), which the runtime prints as goroutine 0."""
    program = context.program
    thread = program.target.selected_thread()
    if thread is None:
        raise GoextError("no thread is selected; give a goroutine id (see 'go goroutines')")
    machine = next((m for m in program.machines() if m.procid and m.procid == thread.tid), None)
    if machine is None or not machine.g0:
        raise GoextError(
            f"the selected thread (tid {thread.tid}) runs no goroutine and has no Go M; "
            "give a goroutine id (see 'go goroutines')"
        )
    g0 = read_goroutine(program, machine.g0)
    state = "?" if g0.error else (g0.state or "?")
    stack = unwind_thread(program, thread, machine, g0)
    where = " (it is in a signal handler)" if any(frame.stack == STACK_SIGNAL for frame in stack.frames) else ""
    lines = [
        f"goroutine 0 [{safe_field(state)}] (m{machine.id}/tid {thread.tid}):",
        f"    note: thread {thread.tid} runs no goroutine{where}: this is m{machine.id}'s own stack (g0), "
        "which the runtime prints as goroutine 0",
    ]
    write("\n".join(lines + _frame_lines(stack, full, limit)) + "\n")


def goroutine_or_current(context: Context, text: Optional[str]) -> GoroutineRecord:
    """The goroutine with id ``text``, or, without one, the selected thread's."""
    if text is None:
        record = current_goroutine(context)
        if record is None:
            raise GoextError("the selected thread runs no goroutine; give a goroutine id (see 'go goroutines')")
        return record
    return context.program.goroutine(parse_goroutine_id(text))


def parse_goroutine_id(text: str) -> int:
    try:
        value = int(text, 0)
    except ValueError:
        raise UsageError(f"'{text}' is not a goroutine id") from None
    if value < 0:
        raise UsageError(f"'{text}' is not a goroutine id")
    return value


@command("bt", "Backtrace of a goroutine (or all): functions, file:line, pc, inlined frames.", _configure_bt)
def run_bt(context: Context, args: argparse.Namespace, write: Write) -> None:
    program = context.program
    if args.limit is not None and args.limit < 0:
        raise UsageError("--limit must not be negative")
    if args.goroutine == "all":
        with collector_paused():
            for record in steps(program.goroutines(), "backtraces"):
                write_backtrace(context, record, write, args.full, args.limit)
                write("\n")
        return
    if args.goroutine is None:
        current = current_goroutine(context)
        if current is None:
            write_thread_backtrace(context, write, args.full, args.limit)
            return
        write_backtrace(context, current, write, args.full, args.limit)
        return
    chosen = program.goroutine(parse_goroutine_id(args.goroutine))
    write_backtrace(context, chosen, write, args.full, args.limit)


# -- go info ---------------------------------------------------------------------------
def _configure_info(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--modules", action="store_true", help="list every dependency module")


@command("info", "Go version, architecture, build settings, modules, tables and counts.", _configure_info)
def run_info(context: Context, args: argparse.Namespace, write: Write) -> None:
    program = context.program
    binary = program.binary
    info = binary.buildinfo
    target = program.target
    write(f"executable:    {safe_field(binary.path)}\n")
    if target.core_path():
        write(f"core:          {safe_field(target.core_path())}\n")
    write(f"go version:    {safe_field(program.go_version or 'unknown')}\n")
    write(f"arch:          {binary.arch} ({binary.ptr_size * 8}-bit, {'PIE' if binary.is_pie else 'not PIE'})\n")
    write(
        f"debug info:    {'DWARF' if binary.has_dwarf() else 'none (stripped)'}; "
        f"symbols: {'yes' if binary.symbols else 'none'}\n"
    )
    try:
        write(f"pclntab:       {program.pclntab.version}\n")
    except GoextError as exc:
        write(f"pclntab:       unavailable: {exc}\n")
    for label, value in (("gnu build-id", binary.gnu_build_id()), ("go build-id", binary.go_build_id())):
        if value:
            write(f"{label + ':':<15}{value}\n")
    if info is not None:
        if info.path:
            write(f"main package:  {safe_field(info.path)}\n")
        if info.main is not None:
            write(f"main module:   {safe_field(info.main.path)} {safe_field(info.main.version)}\n")
        for key, value in info.settings:
            write(f"  build {safe_field(key)}={safe_field(value)}\n")
        if info.deps:
            write(f"modules:       {len(info.deps)} dependencies\n")
            if args.modules:
                for dep in info.deps:
                    write(f"  {safe_field(dep.path)} {safe_field(dep.version)}\n")
    try:
        layouts = program.layouts
        write(f"layouts:       from {layouts.source}\n")
        records = program.goroutines()
        user = sum(1 for r in records if not r.system)
        write(f"goroutines:    {len(records)} ({user} user, {len(records) - user} system)\n")
        write(f"threads:       {len(target.threads())} (Ms: {len(program.machines())})\n")
    except GoextError as exc:
        write(f"goroutines:    unavailable: {exc}\n")
    for note in program.notes:
        write(f"note: {safe_field(note)}\n")
