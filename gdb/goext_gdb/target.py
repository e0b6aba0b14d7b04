"""GdbTarget: goext's :class:`Target` over gdb's Python API.

Everything is read through the selected inferior of one program space.  Memory
pages and values that need a gdb call to find out (architecture, threads, core
path, load bias) are cached until gdb's events (stop, continue, memory or
register writes, objfiles, inferiors) invalidate them, so a read of a cached
page is a dictionary lookup.
"""

from __future__ import annotations

import os
import re
import time
import weakref
from functools import cached_property
from typing import Callable, Optional

import gdb  # type: ignore[import-not-found]

from goext_core.binary.elfheader import read_elf_header
from goext_core.commands.frontend import quote_argument
from goext_core.errors import MemoryReadError
from goext_core.target import NativeFrame, Thread
from goext_core.target.memory import CachedTarget

# gdb architecture name -> Go's GOARCH.
_ARCH_NAMES: tuple[tuple[str, str], ...] = (
    ("i386:x86-64", "amd64"),
    ("i386", "386"),
    ("aarch64", "arm64"),
    ("arm", "arm"),
    ("riscv:rv64", "riscv64"),
    ("powerpc:common64", "ppc64le"),
    ("s390:64-bit", "s390x"),
    ("mips:isa64", "mips64le"),
    ("loongarch64", "loong64"),
)

# Registers read from every thread besides gdb's "general" group: the TLS
# bases are not in that group, and Go keeps g in fs-relative TLS on amd64.
_EXTRA_REGISTERS = ("fs_base", "gs_base")
_PC_SP_NAMES = {"amd64": ("rip", "rsp"), "386": ("eip", "esp")}

_CORE_FILE_RE = re.compile(r"Local core dump file:\s*\n\s*`(.+?)', file type")
_ENTRY_RE = re.compile(r"Entry point: (0x[0-9a-fA-F]+)")


class _Generation:
    """Invalidates every GdbTarget on gdb's events, and once per command when
    the selected inferior changed, since switching inferiors fires no event."""

    def __init__(self) -> None:
        self._targets: "weakref.WeakSet[GdbTarget]" = weakref.WeakSet()
        self._last_identity: Optional[tuple[int, int, int]] = None

    def track(self, target: "GdbTarget") -> None:
        self._targets.add(target)

    def bump(self, *_event: object) -> None:
        for target in list(self._targets):
            target.invalidate()

    def check_selection(self) -> None:
        inferior = gdb.selected_inferior()
        identity = (inferior.num, inferior.pid, id(inferior.progspace))
        if identity != self._last_identity:
            self._last_identity = identity
            self.bump()


GENERATION = _Generation()

_EVENTS_THAT_INVALIDATE = (
    "stop",
    "cont",
    "exited",
    "new_objfile",
    "clear_objfiles",
    "free_objfile",
    "memory_changed",
    "register_changed",
    "inferior_call",
    "new_inferior",
    "inferior_deleted",
    "new_thread",
)


def connect_events() -> None:
    """Connect the generation counter to gdb's events (call once per gdb)."""
    for name in _EVENTS_THAT_INVALIDATE:
        registry = getattr(gdb.events, name, None)  # older gdbs lack some
        if registry is not None:
            registry.connect(GENERATION.bump)
    before_prompt = getattr(gdb.events, "before_prompt", None)
    if before_prompt is not None:
        before_prompt.connect(_quiet_core_registers_once)


# Kernel cores carry each thread's XSAVE area (NT_X86_XSTATE), whose size
# depends on the CPU that wrote it; gdb 13 warns "Unexpected size of section
# `.reg-xstate/TID'" (older: "... too small") the first time it reads each
# thread's registers.  The warning is harmless for Go, which keeps no vector
# state in g.sched, so goext fetches every thread's registers once with the
# output captured (before gdb's first prompt, and before goext itself switches
# threads): gdb keeps them cached, and neither goext's commands nor the user's
# own "info threads" / "thread apply all bt" repeat the warning.
# (inferior, connection): each core gdb opens is a new connection, so a second
# core loaded for the same executable is quieted too.
_quieted_cores: set[tuple[int, int]] = set()


def quiet_core_registers(inferior: "gdb.Inferior") -> None:
    """Fetch every thread's registers of a core with gdb's warnings captured."""
    connection = getattr(inferior, "connection", None)
    if inferior.pid <= 0 or connection is None or connection.type != "core":
        return
    key = (inferior.num, connection.num)
    if key in _quieted_cores:
        return
    _quieted_cores.add(key)
    previous_thread = gdb.selected_thread()
    previous_frame = _selected_frame_or_none()
    try:
        for thread in inferior.threads():
            if thread.is_valid():
                thread.switch()
                gdb.execute("info registers pc", to_string=True)
    except gdb.error:
        pass
    finally:
        _restore_selection(previous_thread, previous_frame)


def _quiet_core_registers_once() -> None:
    try:
        quiet_core_registers(gdb.selected_inferior())
    except Exception:
        pass


class GdbTarget(CachedTarget):
    """The inferior of one gdb program space."""

    # Set by goroutine_frames.register(): the goroutine 'goroutine N' shows, or None.
    goroutine_selection: Optional[Callable[[], Optional[int]]] = None

    def __init__(self, progspace: "gdb.Progspace") -> None:
        super().__init__()
        self.progspace = progspace
        self._register_names: dict[str, tuple[str, ...]] = {}
        GENERATION.track(self)

    def begin_command(self) -> None:
        GENERATION.check_selection()

    def selected_goroutine_id(self) -> Optional[int]:
        """The goroutine selected with 'goroutine N' (go bt, go locals follow it)."""
        selection = GdbTarget.goroutine_selection
        return selection() if selection is not None else None

    def _inferior(self) -> "gdb.Inferior":
        return self.cached("inferior", self._find_inferior)

    def _find_inferior(self) -> "gdb.Inferior":
        selected = gdb.selected_inferior()
        if selected.progspace == self.progspace:
            return selected
        for inferior in gdb.inferiors():
            if inferior.progspace == self.progspace:
                return inferior
        return selected

    # -- Target interface -----------------------------------------------
    @cached_property  # dropped by invalidate()
    def arch(self) -> str:
        return self._compute_arch()

    @cached_property  # dropped by invalidate()
    def ptr_size(self) -> int:
        return int(gdb.lookup_type("void").pointer().sizeof)

    @cached_property  # dropped by invalidate()
    def byte_order(self) -> str:
        return _compute_byte_order()

    def _read_uncached(self, address: int, size: int) -> bytes:
        try:
            return bytes(self._inferior().read_memory(address, size))
        except gdb.MemoryError as exc:
            raise MemoryReadError(address, size, str(exc)) from None
        except gdb.error as exc:  # e.g. "No process", a target that cannot read now
            raise MemoryReadError(address, size, str(exc)) from None

    def threads(self) -> list[Thread]:
        return self.cached("threads", self._read_threads)

    def selected_thread(self) -> Optional[Thread]:
        """The thread selected in gdb (``thread N``), else the first one."""
        selected = gdb.selected_thread()
        threads = self.threads()
        if selected is not None:
            pid, lwp, tid = selected.ptid
            for thread in threads:
                if thread.tid == (lwp or tid or pid):
                    return thread
        return threads[0] if threads else None

    def executable(self) -> Optional[str]:
        if self.progspace.filename:
            return self.progspace.filename
        for objfile in self.progspace.objfiles():
            if objfile.is_valid() and objfile.filename and not objfile.filename.startswith("system-supplied"):
                return objfile.filename
        return None

    def core_path(self) -> Optional[str]:
        return self.cached("core_path", self._compute_core_path)

    def is_live(self) -> bool:
        inferior = self._inferior()
        return inferior.pid > 0 and self._connection_type() != "core"

    def load_bias(self) -> int:
        return self.cached("load_bias", self._compute_load_bias)

    def monotonic_now(self) -> Optional[int]:
        # A native inferior runs on this machine: its nanotime() is our CLOCK_MONOTONIC.
        if self.is_live() and self._connection_type() == "native":
            return time.monotonic_ns()
        return None

    def describe(self) -> str:
        inferior = self._inferior()
        kind = "core" if self.core_path() else ("process" if self.is_live() else "file")
        return f"gdb inferior {inferior.num} ({kind}, pid {inferior.pid}, {self.executable() or 'no executable'})"

    def load_symbol_file(self, path: str, bias: int) -> bool:
        """Attach ``path`` to the executable's objfile as its separate debug
        file, so gdb pairs the two .text sections and names frames (symbols in
        an unrelated objfile are found by ``info symbol`` but not by ``bt``).
        The debug file takes the executable's offsets, so ``bias`` only matters
        for the ``add-symbol-file`` fallback."""
        real = os.path.realpath(path)
        if any(
            objfile.is_valid() and objfile.filename and os.path.realpath(objfile.filename) == real
            for objfile in self.progspace.objfiles()
        ):
            return True  # loaded already
        main = self._executable_objfile()
        try:
            if main is not None and hasattr(main, "add_separate_debug_file"):
                main.add_separate_debug_file(path)
                return True
            quoted = quote_argument(path)
            confirm = gdb.parameter("confirm")
            try:
                gdb.execute("set confirm off", to_string=True)
                gdb.execute(f"add-symbol-file {quoted} -o {bias:#x}", to_string=True)
            finally:
                if confirm:
                    gdb.execute("set confirm on", to_string=True)
        except gdb.error:
            return False
        return True

    def _executable_objfile(self) -> Optional["gdb.Objfile"]:
        path = self.executable()
        if not path:
            return None
        real = os.path.realpath(path)
        for objfile in self.progspace.objfiles():
            if objfile.is_valid() and objfile.filename and os.path.realpath(objfile.filename) == real:
                return objfile
        return None

    # -- helpers -------------------------------------------------------------
    def _connection_type(self) -> Optional[str]:
        connection = getattr(self._inferior(), "connection", None)  # gdb >= 12
        if connection is not None:
            return connection.type
        return "core" if self._compute_core_path() else None

    def _info_target(self) -> str:
        return self.cached("info_target", lambda: gdb.execute("info target", to_string=True))

    def _compute_core_path(self) -> Optional[str]:
        connection = getattr(self._inferior(), "connection", None)
        if connection is not None and connection.type != "core":
            return None
        return _core_file_in(self._info_target())

    def _compute_load_bias(self) -> int:
        """Relocated entry point (what gdb reports) minus the ELF's e_entry."""
        path = self.executable()
        header = read_elf_header(path) if path else None
        file_entry = header.entry if header is not None else None
        match = _ENTRY_RE.search(self._info_target())
        if file_entry is None or match is None:
            return 0
        return int(match.group(1), 16) - file_entry

    def _compute_arch(self) -> str:
        name = self._inferior().architecture().name()
        for prefix, goarch in _ARCH_NAMES:
            if name.startswith(prefix):
                return goarch
        return name

    def _registers_to_read(self, architecture: "gdb.Architecture") -> tuple[str, ...]:
        arch_name = architecture.name()
        names = self._register_names.get(arch_name)
        if names is None:
            general = [reg.name for reg in architecture.registers("general")]
            # fs_base/gs_base sit in the "system" group, not in "all".
            every = {reg.name for group in ("all", "system") for reg in architecture.registers(group)}
            names = tuple(general + [n for n in _EXTRA_REGISTERS if n in every and n not in general])
            self._register_names[arch_name] = names
        return names

    def _read_threads(self) -> list[Thread]:
        inferior = self._inferior()
        if inferior.pid <= 0:
            return []
        from_core = self._threads_of_core_file(inferior)
        if from_core is not None:
            return from_core
        quiet_core_registers(inferior)
        previous_thread = gdb.selected_thread()
        previous_frame = _selected_frame_or_none()
        result: list[Thread] = []
        try:
            for thread in sorted(inferior.threads(), key=lambda t: t.num):
                if not thread.is_valid() or thread.is_running() or thread.is_exited():
                    continue
                thread.switch()
                frame = gdb.newest_frame()
                registers = self._frame_registers(frame)
                pid, lwp, tid = thread.ptid
                result.append(
                    Thread(tid=lwp or tid or pid, registers=registers, index=thread.num, name=thread.name or "")
                )
        finally:
            _restore_selection(previous_thread, previous_frame)
        return result

    def _threads_of_core_file(self, inferior: "gdb.Inferior") -> Optional[list[Thread]]:
        """A core's threads as gdb numbers them, with the registers of the core
        file's own notes: the registers gdb shows for a core.  Reading them
        through gdb means switching threads, and saving the user's selection
        first makes gdb select a frame, which reads the full symbols of that
        function's compile unit: 0.06 s for Go's runtime, on every first
        command.  None unless every gdb thread is in the file."""
        core_file = self.core_file()
        if core_file is None:
            return None
        by_tid = {thread.tid: thread for thread in core_file.threads()}
        result: list[Thread] = []
        for thread in sorted(inferior.threads(), key=lambda t: t.num):
            if not thread.is_valid():
                continue
            pid, lwp, tid = thread.ptid
            in_file = by_tid.get(lwp or tid or pid)
            if in_file is None:
                return None
            result.append(
                Thread(tid=in_file.tid, registers=dict(in_file.registers), index=thread.num, name=thread.name or "")
            )
        return result

    def native_frames(self, thread: Thread, limit: int) -> Optional[list[NativeFrame]]:
        """gdb's own unwinding of one thread (go threads): C frames get gdb's names."""
        inferior = self._inferior()
        wanted = next((t for t in inferior.threads() if t.is_valid() and thread.tid in t.ptid[1:]), None)
        if wanted is None or wanted.is_running() or wanted.is_exited():
            return None
        quiet_core_registers(inferior)
        previous_thread = gdb.selected_thread()
        previous_frame = _selected_frame_or_none()
        out: list[NativeFrame] = []
        try:
            wanted.switch()
            frame: Optional["gdb.Frame"] = gdb.newest_frame()
            while frame is not None and frame.is_valid() and len(out) < limit:
                sal = frame.find_sal()
                location = f"{sal.symtab.filename}:{sal.line}" if sal.symtab is not None and sal.line else ""
                if not location:
                    solib = gdb.solib_name(frame.pc())
                    location = solib or ""
                out.append(NativeFrame(int(frame.pc()), frame.name(), location))
                frame = frame.older()
        except gdb.error:
            pass
        finally:
            _restore_selection(previous_thread, previous_frame)
        return out or None

    def _frame_registers(self, frame: "gdb.Frame") -> dict[str, int]:
        registers: dict[str, int] = {}
        for name in self._registers_to_read(frame.architecture()):
            try:
                value = frame.read_register(name)
                registers[name] = int(value) & ((1 << (8 * value.type.sizeof)) - 1)
            except (gdb.error, ValueError, OverflowError):
                continue  # unavailable in this core or not an integer register
        pc_name, sp_name = _PC_SP_NAMES.get(self.arch, ("pc", "sp"))
        if pc_name in registers:
            registers.setdefault("pc", registers[pc_name])
        else:
            registers.setdefault("pc", int(frame.pc()))
        if sp_name in registers:
            registers.setdefault("sp", registers[sp_name])
        return registers


def core_file_of(inferior: "gdb.Inferior") -> Optional[str]:
    """The core file open in ``inferior`` (the selected one), if any."""
    connection = getattr(inferior, "connection", None)
    if connection is not None and connection.type != "core":
        return None
    return _core_file_in(gdb.execute("info target", to_string=True))


def _core_file_in(info_target: str) -> Optional[str]:
    # gdb exposes the core's file name only in "info target".
    match = _CORE_FILE_RE.search(info_target)
    return match.group(1) if match else None


def _compute_byte_order() -> str:
    text = gdb.execute("show endian", to_string=True)
    return "big" if "big endian" in text else "little"


def _selected_frame_or_none() -> Optional["gdb.Frame"]:
    try:
        return gdb.selected_frame()
    except gdb.error:
        return None


def _restore_selection(thread: Optional["gdb.InferiorThread"], frame: Optional["gdb.Frame"]) -> None:
    """Give the user back the thread and frame they had selected."""
    if thread is None or not thread.is_valid():
        return
    thread.switch()
    if frame is not None and frame.is_valid():
        try:
            frame.select()
        except gdb.error:
            pass
