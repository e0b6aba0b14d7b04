"""Goroutines as lldb threads: an lldb OperatingSystem plug-in.

lldb asks an OperatingSystem plug-in for the thread list on every stop
(``settings set target.process.python-os-plugin-path FILE``; goext sets it
when it loads, ``lldb/goext_threads.py`` is that FILE).  We answer with one
thread per goroutine, so lldb's own ``thread list``, ``thread select``,
``bt``, ``frame select``, ``register read`` and ``frame variable`` work per
goroutine, on cores and live processes:

* a goroutine running on an OS thread (running, or in a syscall) is *backed*
  by that thread (``"core"`` in the thread dictionary): its registers, stop
  reason, stepping and resuming are the real thread's;
* a parked goroutine gets a register context of what the runtime saved for
  it (``g.sched``: pc, sp, frame pointer, and lr on link-register machines).
  Only those registers are presented: the others are not saved by the
  runtime, and a made-up value would be a wrong answer;
* OS threads that run no goroutine (idle Ms, g0 work, threads that are not
  Go's) stay as they are: lldb keeps every real thread we do not use.

The thread id is the goroutine id; the name says the goroutine and its
state, the queue the M and OS thread it runs on.  System goroutines are
hidden unless ``go lldb-threads system`` asks for them.  Anything that goes
wrong (not a Go program, unreadable runtime) yields no goroutine threads, so
lldb shows its real threads: C programs debug as before.

lldb calls the plug-in while it updates the thread list, and reading the
real threads from Python asks lldb for the thread list again; that nested
call is answered with no goroutine threads, which makes lldb hand back the
real threads (what we asked for).
"""

from __future__ import annotations

import heapq
import os
import sys
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any, Callable, Optional

import lldb  # type: ignore[import-not-found]

from goext_core.commands.frontend import quote_argument
from goext_core.errors import GoextError
from goext_core.program import GoProgram
from goext_core.runtime.goroutines import GoroutineRecord, MachineRecord
from goext_core.target.core import CoreTarget
from goext_core.textsafe import safe_field

# src/runtime/runtime2.go: _Grunning, _Gsyscall, _Gdead.
_G_RUNNING = 2
_G_SYSCALL = 3
_G_DEAD = 6
# A goroutine id equal to the tid of a real thread lldb keeps would make two
# threads with one id; such a goroutine's thread id is moved above this.
_COLLISION_OFFSET = 1 << 40
_by_id = attrgetter("id")

# Every general register in the order of lldb's own numbering for the
# architecture (lldb-x86-register-enums.h, lldb-arm64-register-enums.h): lldb
# caches unwind plans per function with its register numbers and applies them
# to every thread, ours included, so the numbers must mean the same registers.
# (register, DWARF number (System V amd64 psABI; AArch64 DWARF ABI), lldb's
# generic role, the g.sched (gobuf) field that holds it, or None: not saved).
_RegisterSpec = tuple[str, int, Optional[str], Optional[str]]
_AMD64_REGISTERS: tuple[_RegisterSpec, ...] = (
    ("rax", 0, None, None),
    ("rbx", 3, None, None),
    ("rcx", 2, None, None),
    ("rdx", 1, None, None),
    ("rdi", 5, None, None),
    ("rsi", 4, None, None),
    ("rbp", 6, "fp", "sched.bp"),
    ("rsp", 7, "sp", "sched.sp"),
    *((f"r{number}", number, None, None) for number in range(8, 16)),
    ("rip", 16, "pc", "sched.pc"),
)
_ARM64_REGISTERS: tuple[_RegisterSpec, ...] = (
    *((f"x{number}", number, None, None) for number in range(29)),
    ("fp", 29, "fp", "sched.bp"),
    ("lr", 30, "ra", "sched.lr"),
    ("sp", 31, "sp", "sched.sp"),
    ("pc", 32, "pc", "sched.pc"),
)
_SAVED_SET = "Goroutine (saved by the Go runtime in g.sched)"
_UNSAVED_SET = "Not saved by the Go runtime for a parked goroutine: unknown (shown as 0)"
_REGISTERS_BY_ARCH = {"amd64": _AMD64_REGISTERS, "arm64": _ARM64_REGISTERS}


DEFAULT_LIMIT = 2000
MAX_LIMIT = 1_000_000


@dataclass
class Settings:
    """``go lldb-threads``: whether goroutines are threads, and which."""

    enabled: bool = True
    system: bool = False
    # lldb 16's thread list costs grow with the square of the number of
    # plug-in threads (~7 s for 10,000, minutes for 100,000): beyond this many
    # goroutines, the running ones and then the lowest ids are shown.
    limit: int = DEFAULT_LIMIT


SETTINGS = Settings()


@dataclass
class GoroutineThreads:
    """What the plug-in presented at one stop of one process."""

    stop_id: int
    backing: dict[int, int] = field(default_factory=dict)  # thread id -> OS tid, goroutines on a thread
    parked: dict[int, GoroutineRecord] = field(default_factory=dict)  # thread id -> goroutine, no thread
    goroutine_of: dict[int, int] = field(default_factory=dict)  # thread id -> goroutine id
    real_order: list[int] = field(default_factory=list)  # OS tids in the order the process lists them

    def real_tid(self, tid: int) -> Optional[int]:
        """The OS thread behind lldb thread ``tid`` (itself when it is no
        goroutine thread); None for a parked goroutine (no OS thread)."""
        if tid in self.backing:
            return self.backing[tid]
        if tid in self.parked:
            return None
        return tid


# process unique id -> the latest presentation (read by LldbTarget to find the real threads)
_presented: dict[int, GoroutineThreads] = {}
_in_update: set[int] = set()
# Processes lldb asked for threads (the plug-in is loaded for them), and the
# ones goext loaded it for itself (lldb 16 does not load it on attach).
_asked: set[int] = set()
_loaded_by_us: set[int] = set()
_warned: set[str] = set()
# Set by the front end: the GoProgram of an SBTarget (shared with the commands).
program_for_target: Optional[Callable[["lldb.SBTarget"], GoProgram]] = None
# Set by the front end: run when lldb creates the plug-in for a process, before
# it unwinds anything (the lldb debug file is added there).
on_process_created: Optional[Callable[["lldb.SBProcess"], None]] = None


def updating(process: "lldb.SBProcess") -> bool:
    """Whether lldb is building ``process``'s thread list through the plug-in right now
    (asking lldb for threads then crashes lldb 16)."""
    return process.IsValid() and process.GetUniqueID() in _in_update


def presented(process: "lldb.SBProcess") -> Optional[GoroutineThreads]:
    """The goroutine threads lldb shows for ``process`` at its current stop."""
    if not process.IsValid():
        return None
    view = _presented.get(process.GetUniqueID())
    if view is None or view.stop_id != process.GetStopID():
        return None
    return view


def _warn_once(text: str) -> None:
    if text not in _warned:
        _warned.add(text)
        print(f"goext: goroutine threads: {safe_field(text)}", file=sys.stderr)


class OperatingSystemPlugIn:
    """The object lldb creates per process (the name is lldb's convention)."""

    def __init__(self, process: "lldb.SBProcess") -> None:
        self.process = process
        self.arch = ""
        # Registers whose g.sched field this Go version has.
        self.saved: set[str] = set()
        self.laid_out = False
        self.core_threads: Optional[tuple[str, list[int]]] = None
        # lldb creates the plug-in while it creates the process, before it
        # unwinds anything: the moment to add goext's symbol file (without
        # lldb keeping stale section addresses).
        if on_process_created is not None:
            on_process_created(process)

    # -- lldb's interface ---------------------------------------------------------------
    def get_thread_info(self) -> list[dict[str, Any]]:
        process = self.process
        key = process.GetUniqueID()
        if process.GetTarget().GetExecutable().IsValid():
            _asked.add(key)  # else (early in an attach) a goext command asks again: ensure_loaded
        if key in _in_update or not SETTINGS.enabled or program_for_target is None:
            return []  # nested (we are reading the real threads) or turned off
        _in_update.add(key)
        try:
            return self._thread_info(process, key)
        except GoextError as exc:
            _presented.pop(key, None)
            if "does not look like a Go program" not in str(exc):
                _warn_once(str(exc))
            return []
        except Exception as exc:  # never break lldb's thread list: show the real threads
            _presented.pop(key, None)
            _warn_once(f"internal error: {type(exc).__name__}: {exc}")
            return []
        finally:
            _in_update.discard(key)

    def get_register_info(self) -> dict[str, Any]:
        """Registers the runtime saved in g.sched come first in lldb's view
        (``register read``); the others are in a second set, named as unknown."""
        registers = []
        offset = 0
        for name, dwarf, generic, _ in self._register_specs():
            entry: dict[str, Any] = {
                "name": name,
                "bitsize": 64,
                "offset": offset,
                "encoding": "uint",
                "format": "hex",
                "set": 0 if name in self.saved else 1,
                "gcc": dwarf,
                "dwarf": dwarf,
            }
            if generic is not None:
                entry["generic"] = generic
            registers.append(entry)
            offset += 8
        return {"sets": [_SAVED_SET, _UNSAVED_SET], "registers": registers}

    def get_register_data(self, tid: int) -> bytes:
        view = presented(self.process)
        record = view.parked.get(tid) if view is not None else None
        if record is None:  # not ours (lldb 16 crashes on anything but bytes)
            return bytes(8 * len(self._register_specs()))
        values = {"sched.pc": record.sched_pc, "sched.sp": record.sched_sp, "sched.bp": record.sched_bp}
        values["sched.lr"] = record.sched_lr
        return b"".join(
            (values.get(path, 0) if name in self.saved and path else 0).to_bytes(8, "little")
            for name, _, _, path in self._register_specs()
        )

    def create_thread(self, tid: int, context: int) -> Optional[dict[str, Any]]:
        return None  # threads are the goroutines, nothing else

    # -- helpers ------------------------------------------------------------------------
    def _core_thread_ids(self, program: GoProgram) -> Optional[list[int]]:
        """A core's threads in the order lldb lists them (its NT_PRSTATUS notes);
        None for a live process, whose order lldb alone knows."""
        core = program.target.core_path()
        if not core:
            return None
        if self.core_threads is None or self.core_threads[0] != core:
            tids = [thread.tid for thread in CoreTarget(program.target.executable(), core).threads()]
            self.core_threads = (core, tids)
        return list(self.core_threads[1])

    def _lay_out_registers(self, program: GoProgram) -> None:
        """Which registers g.sched holds in this Go version (DWARF, else goext's tables)."""
        layout = program.layouts.g
        self.saved = {name for name, _, _, path in self._register_specs() if path is not None and layout.has(path)}
        self.laid_out = True

    def _register_specs(self) -> tuple[_RegisterSpec, ...]:
        return _REGISTERS_BY_ARCH.get(self._arch(), _AMD64_REGISTERS)

    def _arch(self) -> str:
        if not self.arch:
            triple = self.process.GetTarget().GetTriple() or ""
            machine = triple.split("-", 1)[0]
            self.arch = "arm64" if machine in ("aarch64", "arm64") else "amd64" if machine == "x86_64" else machine
        return self.arch

    def _thread_info(self, process: "lldb.SBProcess", key: int) -> list[dict[str, Any]]:
        assert program_for_target is not None
        if self._arch() not in _REGISTERS_BY_ARCH:
            return []
        program = program_for_target(process.GetTarget())
        program.require_go()
        if not self.laid_out:
            self._lay_out_registers(program)
        # The process's own threads, in lldb's order ("core" is an index into
        # it), known without asking lldb: asking it for threads while it
        # builds its thread list crashes lldb 16 on some cores.
        real_order = self._core_thread_ids(program)
        backing_known = real_order is not None
        real_tids = list(real_order) if real_order is not None else _live_thread_ids(process)
        real_index = {tid: index for index, tid in reversed(list(enumerate(real_tids)))}
        view = GoroutineThreads(process.GetStopID(), real_order=real_tids)
        machines = {machine.address: machine for machine in program.machines()}
        infos: list[dict[str, Any]] = []
        records = [record for record in program.goroutines() if not record.error and record.plain_status != _G_DEAD]
        used_real: set[int] = set()
        backed: list[tuple[GoroutineRecord, MachineRecord, int]] = []
        for record in records:
            machine = machines.get(record.m) if record.m and backing_known else None
            if machine is not None and machine.curg == record.address and machine.procid in real_index:
                backed.append((record, machine, machine.procid))
                used_real.add(machine.procid)
        backed_goroutines = {record.address for record, _, _ in backed}
        kept_real = set(real_index) - used_real
        # A running goroutine is its OS thread's (backed); when lldb's order of
        # the OS threads is unknown (live), that OS thread shows it.
        shown = [
            r
            for r in records
            if (SETTINGS.system or not r.system or r.address in backed_goroutines)
            and (r.plain_status != _G_RUNNING or r.address in backed_goroutines)
        ]
        if len(shown) > SETTINGS.limit:
            _warn_once(
                f"{len(shown)} goroutines; lldb shows {SETTINGS.limit} of them as threads (the running ones, "
                "then the lowest ids): 'go lldb-threads limit N' changes that, 'go goroutines' lists them all"
            )
            # The running ones, then the lowest ids, without sorting 100,000 records.
            running = sorted((r for r in shown if r.address in backed_goroutines), key=_by_id)[: SETTINGS.limit]
            parked = (r for r in shown if r.address not in backed_goroutines)
            shown = sorted(running + heapq.nsmallest(SETTINGS.limit - len(running), parked, key=_by_id), key=_by_id)
        for record in shown:
            tid = record.id + _COLLISION_OFFSET if record.id in kept_real else record.id
            info: dict[str, Any] = {
                "tid": tid,
                "name": f"goroutine {record.id} [{safe_field(record.state)}]",
                "state": "stopped",
                "stop_reason": "none",
            }
            view.goroutine_of[tid] = record.id
            infos.append(info)
            if record.address in backed_goroutines:
                machine = machines[record.m]
                info["core"] = real_index[machine.procid]
                info["queue"] = f"M{machine.id}, thread {machine.procid}"
                view.backing[tid] = machine.procid
            else:
                view.parked[tid] = record
        _presented[key] = view
        return infos


def _live_thread_ids(process: "lldb.SBProcess") -> list[int]:
    """The live process's thread ids when it runs on this machine (only to keep
    goroutine ids from colliding with them), else none."""
    try:
        return sorted(int(name) for name in os.listdir(f"/proc/{process.GetProcessID()}/task") if name.isdigit())
    except OSError:
        return []


LLDB_THREADS_USAGE = "usage: go lldb-threads [on|off|user|system|limit N]"
LLDB_THREADS_HELP = (
    "Goroutines as lldb threads (thread list, thread select, bt, register read).\n"
    + LLDB_THREADS_USAGE
    + "\n  on       goroutines are lldb threads (the default)\n"
    "  off      lldb shows OS threads only\n"
    "  user     hide system goroutines (the default)\n"
    "  system   show system goroutines too\n"
    f"  limit N  at most N goroutine threads (default {DEFAULT_LIMIT}: lldb slows down with many threads)\n"
    "With no argument: the current setting.  A change applies at once."
)


def plugin_path() -> str:
    """The file lldb's python-os-plugin-path setting names."""
    return os.path.join(os.path.dirname(os.path.dirname(os.path.realpath(__file__))), "goext_threads.py")


def enable_plugin(debugger: "lldb.SBDebugger") -> Optional[str]:
    """Make lldb load the plug-in for every process (new targets, and the
    selected one's process if any).  Returns an error line, or None."""
    interpreter = debugger.GetCommandInterpreter()
    result = lldb.SBCommandReturnObject()
    setting = f"settings set target.process.python-os-plugin-path {quote_argument(plugin_path())}"
    interpreter.HandleCommand(setting, result)
    if not result.Succeeded():
        return f"goext: warning: goroutines are not lldb threads: {(result.GetError() or '').strip()}"
    return None


def refresh(debugger: "lldb.SBDebugger") -> None:
    """Make lldb build its thread list again at the same stop: clearing and
    setting the plug-in path reloads the plug-in, and each reload flushes the
    thread list (setting the same path again changes nothing)."""
    process = debugger.GetSelectedTarget().GetProcess()
    if process.IsValid():
        _presented.pop(process.GetUniqueID(), None)
    result = lldb.SBCommandReturnObject()
    debugger.GetCommandInterpreter().HandleCommand("settings clear target.process.python-os-plugin-path", result)
    enable_plugin(debugger)


def ensure_loaded(debugger: "lldb.SBDebugger") -> None:
    """Load the plug-in for the selected process if lldb has not (it does not
    on ``process attach``): once per process, from a goext command."""
    process = debugger.GetSelectedTarget().GetProcess()
    if not SETTINGS.enabled or not process.IsValid():
        return
    key = process.GetUniqueID()
    if key in _asked or key in _loaded_by_us:
        return
    _loaded_by_us.add(key)
    refresh(debugger)


def _apply(words: list[str]) -> Optional[str]:
    """Change SETTINGS as ``go lldb-threads WORDS`` asks; an error line, or None."""
    if not words:
        return None
    if words[0] == "limit" and len(words) == 2:
        try:
            limit = int(words[1])
        except ValueError:
            return f"limit must be a number, not {safe_field(words[1])!r}"
        if not 1 <= limit <= MAX_LIMIT:
            return f"limit must be between 1 and {MAX_LIMIT}"
        SETTINGS.limit = limit
    elif len(words) == 1 and words[0] in ("on", "off"):
        SETTINGS.enabled = words[0] == "on"
    elif len(words) == 1 and words[0] in ("user", "system"):
        SETTINGS.system = words[0] == "system"
        SETTINGS.enabled = True
    else:
        return LLDB_THREADS_USAGE
    return None


def lldb_threads_command(
    debugger: "lldb.SBDebugger",
    command: str,
    exe_ctx: "lldb.SBExecutionContext",
    result: "lldb.SBCommandReturnObject",
    internal_dict: dict,
) -> None:
    words = command.split()
    error = _apply(words)
    if error:
        result.SetError(f"goext: {error}")
        return
    if words:
        refresh(debugger)
    shown = "system goroutines too" if SETTINGS.system else "user goroutines (system ones hidden)"
    state = f"on: {shown}, at most {SETTINGS.limit}" if SETTINGS.enabled else "off: lldb shows OS threads only"
    result.Print(f"goroutines as lldb threads: {state}\n")
    result.SetStatus(lldb.eReturnStatusSuccessFinishResult)


GOROUTINE_USAGE = "usage: goroutine ID [COMMAND...]   (goroutine off: back to the crashing/stopped thread)"
GOROUTINE_HELP = (
    "Run an lldb command on a goroutine's thread, or select that thread.\n"
    + GOROUTINE_USAGE
    + "\n  goroutine 21 bt          lldb's bt of goroutine 21, then the selection is restored\n"
    "  goroutine 21 frame variable\n"
    "  goroutine 21             select goroutine 21's thread (thread select)\n"
    "Goroutines are lldb threads (go lldb-threads): ID is the thread id lldb shows."
)


def _goroutine_thread(process: "lldb.SBProcess", goid: int) -> Optional["lldb.SBThread"]:
    """The lldb thread that shows goroutine ``goid`` at this stop."""
    view = presented(process)
    if view is None:
        return None
    for tid, shown in view.goroutine_of.items():
        if shown == goid:
            thread = process.GetThreadByID(tid)
            return thread if thread.IsValid() else None
    return None


def goroutine_command(
    debugger: "lldb.SBDebugger",
    command: str,
    exe_ctx: "lldb.SBExecutionContext",
    result: "lldb.SBCommandReturnObject",
    internal_dict: dict,
) -> None:
    words = command.strip().split(None, 1)
    process = debugger.GetSelectedTarget().GetProcess()
    if not words or not process.IsValid():
        result.SetError(f"goext: {GOROUTINE_USAGE}")
        return
    if not words[0].isdigit():
        result.SetError(f"goext: goroutine id expected, not {safe_field(words[0])!r}; {GOROUTINE_USAGE}")
        return
    ensure_loaded(debugger)
    goid = int(words[0])
    thread = _goroutine_thread(process, goid)
    if thread is None:
        result.SetError(
            f"goext: goroutine {goid} is not an lldb thread at this stop (no such goroutine, a system one: "
            "'go lldb-threads system', beyond the limit, or running on a live thread: 'go goroutines' shows it)"
        )
        return
    previous = process.GetSelectedThread()
    process.SetSelectedThread(thread)
    if len(words) == 1:
        result.Print(f"goroutine {goid}: thread #{thread.GetIndexID()} selected\n")
        result.SetStatus(lldb.eReturnStatusSuccessFinishResult)
        return
    inner = lldb.SBCommandReturnObject()
    try:
        # The command runs in the goroutine thread's context (not the one this command was given).
        debugger.GetCommandInterpreter().HandleCommand(words[1], lldb.SBExecutionContext(thread), inner, False)
    finally:
        if previous.IsValid() and process.GetThreadByID(previous.GetThreadID()).IsValid():
            process.SetSelectedThread(previous)
    result.Print(inner.GetOutput() or "")
    if inner.Succeeded():
        result.SetStatus(lldb.eReturnStatusSuccessFinishResult)
    else:
        result.SetError(inner.GetError() or "command failed")
