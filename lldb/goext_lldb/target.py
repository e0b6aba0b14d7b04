"""LldbTarget: goext's :class:`Target` over lldb's SB API.

lldb has no Python events a script can rely on, so whether the process ran,
or the target or its modules changed, is checked once when goext is entered
(:meth:`LldbTarget.begin_command`): the process's stop id counts every stop
and resume.  Reads and facts inside one command trust that check.
"""

from __future__ import annotations

import time
from functools import cached_property
from typing import Optional

import lldb  # type: ignore[import-not-found]

from goext_core.commands.frontend import quote_argument
from goext_core.errors import MemoryReadError
from goext_core.target import NativeFrame, Thread
from goext_core.target.memory import CachedTarget

from .corefile import find_mapped_core
from .goroutine_threads import presented, updating

# lldb triple architecture -> Go's GOARCH.
_ARCH_NAMES: dict[str, str] = {
    "x86_64": "amd64",
    "i386": "386",
    "i686": "386",
    "aarch64": "arm64",
    "arm64": "arm64",
    "riscv64": "riscv64",
    "powerpc64le": "ppc64le",
    "s390x": "s390x",
    "loongarch64": "loong64",
}

# lldb's register names that differ from the ones goext (and gdb) use.
_REGISTER_RENAMES: dict[str, str] = {"rflags": "eflags", "fp": "x29", "lr": "x30"}
# Not in lldb's general purpose set on some platforms; read by name when present.
_EXTRA_REGISTERS = ("fs_base", "gs_base")
_CORE_PLUGINS = ("elf-core", "mach-o-core", "minidump")
_NOT_LIVE_STATES = {
    lldb.eStateInvalid,
    lldb.eStateUnloaded,
    lldb.eStateDetached,
    lldb.eStateExited,
}
_INVALID_ADDRESS = lldb.LLDB_INVALID_ADDRESS


class LldbTarget(CachedTarget):
    """One lldb target (and its process, if any)."""

    def __init__(self, sbtarget: "lldb.SBTarget") -> None:
        super().__init__()
        self.sbtarget = sbtarget
        self._last_identity: Optional[tuple] = None

    def bind(self, sbtarget: "lldb.SBTarget") -> None:
        """Follow the SBTarget lldb hands this command (a new wrapper each
        time; a different target drops everything read from the old one)."""
        if sbtarget != self.sbtarget:
            self.invalidate()
        self.sbtarget = sbtarget

    def begin_command(self) -> None:
        """A new epoch: drop what was read if the process ran (its stop id
        counts stops and resumes), was replaced, or the module list changed
        (dlopen, target replaced).  lldb changes no stop id when the user
        writes memory (``memory write``, ``expression x = 1``), so a live
        process's pages are read again in every command."""
        process = self.sbtarget.GetProcess()
        valid = process.IsValid()
        identity = (
            valid and process.GetUniqueID(),
            valid and process.GetStopID(),
            valid and process.GetState(),
            self.sbtarget.GetNumModules(),
            self.sbtarget.GetExecutable().fullpath if self.sbtarget.IsValid() else None,
        )
        if identity != self._last_identity:
            self._last_identity = identity
            self.invalidate()
        elif self.is_live():
            self.invalidate_memory()

    def _process(self) -> "lldb.SBProcess":
        return self.cached("process", self.sbtarget.GetProcess)

    # -- Target interface -----------------------------------------------
    @cached_property  # dropped by invalidate()
    def arch(self) -> str:
        return self._compute_arch()

    @cached_property  # dropped by invalidate()
    def ptr_size(self) -> int:
        return self.sbtarget.GetAddressByteSize() or 8

    @cached_property  # dropped by invalidate()
    def byte_order(self) -> str:
        return "big" if self.sbtarget.GetByteOrder() == lldb.eByteOrderBig else "little"

    def _compute_arch(self) -> str:
        triple = self.sbtarget.GetTriple() or ""
        machine = triple.split("-", 1)[0]
        return _ARCH_NAMES.get(machine, machine)

    def _read_uncached(self, address: int, size: int) -> bytes:
        process = self._process()
        if not process.IsValid():
            raise MemoryReadError(address, size, "no process or core")
        error = lldb.SBError()
        data = process.ReadMemory(address, size, error)
        if error.Fail() or data is None or len(data) != size:
            # A kernel core leaves out unmodified file-backed pages (text, rodata),
            # and lldb's core process does not fall back to the executable for
            # them; the target's section contents do.
            from_file = self._read_from_sections(address, size)
            if from_file is not None:
                return from_file
            reason = error.GetCString() if error.Fail() else f"only {len(data or b'')} bytes readable"
            raise MemoryReadError(address, size, reason or "read failed")
        return bytes(data)

    def _read_from_sections(self, address: int, size: int) -> Optional[bytes]:
        sbaddress = self.sbtarget.ResolveLoadAddress(address)
        if not sbaddress.IsValid() or not sbaddress.GetSection().IsValid():
            return None
        error = lldb.SBError()
        data = self.sbtarget.ReadMemory(sbaddress, size, error)
        if error.Fail() or data is None or len(data) != size:
            return None
        return bytes(data)

    def selected_thread(self) -> Optional[Thread]:
        """The thread selected in lldb (``thread select N``), else the first one."""
        threads = self.threads()
        process = self._process()
        if process.IsValid():
            wanted: Optional[int] = process.GetSelectedThread().GetThreadID()
            view = presented(process)
            if view is not None and wanted is not None:
                wanted = view.real_tid(wanted)
                if wanted is None:
                    return None  # a parked goroutine: see selected_goroutine_id
            for thread in threads:
                if thread.tid == wanted:
                    return thread
        return threads[0] if threads else None

    def selected_goroutine_id(self) -> Optional[int]:
        """The goroutine of the selected lldb thread, when goroutines are lldb threads."""
        process = self._process()
        view = presented(process) if process.IsValid() else None
        if view is None:
            return None
        return view.goroutine_of.get(process.GetSelectedThread().GetThreadID())

    def threads(self) -> list[Thread]:
        if updating(self._process()):
            return []  # lldb is listing its threads through goext's plug-in: none known yet (not cached)
        return self.cached("threads", self._read_threads)

    def executable(self) -> Optional[str]:
        spec = self.sbtarget.GetExecutable()
        return spec.fullpath if spec.IsValid() else None

    def core_path(self) -> Optional[str]:
        return self.cached("core_path", self._compute_core_path)

    def monotonic_now(self) -> Optional[int]:
        # A process on the host platform reads the same CLOCK_MONOTONIC as we do.
        platform = self.sbtarget.GetPlatform()
        if self.is_live() and platform.IsValid() and platform.GetName() == "host":
            return time.monotonic_ns()
        return None

    def is_live(self) -> bool:
        process = self._process()
        return (
            process.IsValid()
            and process.GetPluginName() not in _CORE_PLUGINS
            and process.GetState() not in _NOT_LIVE_STATES
        )

    def load_bias(self) -> int:
        return self.cached("load_bias", self._compute_load_bias)

    def describe(self) -> str:
        process = self._process()
        kind = "core" if self.core_path() else ("process" if self.is_live() else "file")
        pid = process.GetProcessID() if process.IsValid() else 0
        return f"lldb target ({kind}, pid {pid}, {self.executable() or 'no executable'})"

    def load_symbol_file(self, path: str, bias: int) -> bool:
        """``target symbols add -s EXE PATH``: lldb applies the module's own
        slide, so ``bias`` is not needed."""
        executable = self.executable()
        if not executable:
            return False
        interpreter = self.sbtarget.GetDebugger().GetCommandInterpreter()
        result = lldb.SBCommandReturnObject()
        interpreter.HandleCommand(f"target symbols add -s {quote_argument(executable)} {quote_argument(path)}", result)
        return bool(result.Succeeded())

    # -- helpers -------------------------------------------------------------
    def _compute_core_path(self) -> Optional[str]:
        process = self._process()
        if not process.IsValid() or process.GetPluginName() != "elf-core":
            return None
        # lldb 16 has no API for the core's file name; lldb keeps the core
        # mapped, so /proc/self/maps names it.
        return find_mapped_core(process.GetProcessID())

    def _compute_load_bias(self) -> int:
        """Run-time minus link-time address of the executable's ELF header."""
        module = self.sbtarget.GetModuleAtIndex(0)
        if not module.IsValid():
            return 0
        header = module.GetObjectFileHeaderAddress()
        load_address = header.GetLoadAddress(self.sbtarget)
        file_address = header.GetFileAddress()
        if _INVALID_ADDRESS in (load_address, file_address):
            return 0
        return load_address - file_address

    def _read_threads(self) -> list[Thread]:
        process = self._process()
        if not process.IsValid() or process.GetState() in _NOT_LIVE_STATES:
            return []
        result: list[Thread] = []
        # When goroutines are lldb threads, a goroutine on an OS thread shows
        # that thread's registers under the goroutine's id; parked ones have none.
        # Count first: that is what makes lldb ask the plug-in, which presents them
        # (without the view, the registers of thousands of parked goroutines are read).
        count = process.GetNumThreads()
        view = presented(process)
        # A core's registers as its own notes hold them (what lldb shows too),
        # without a frame and dozens of SBValues per thread.
        core_file = self.core_file()
        in_file = {thread.tid: thread.registers for thread in core_file.threads()} if core_file is not None else {}
        for index in range(count):
            thread = process.GetThreadAtIndex(index)
            tid: Optional[int] = thread.GetThreadID()
            if view is not None:
                tid = view.real_tid(thread.GetThreadID())
                if tid is None:
                    continue
            registers = in_file.get(tid)
            if registers is None:
                frame = thread.GetFrameAtIndex(0)
                if not frame.IsValid():
                    continue
                registers = self._frame_registers(frame)
            result.append(
                Thread(
                    tid=tid,
                    registers=dict(registers),
                    index=thread.GetIndexID(),
                    # A goroutine's lldb thread carries the goroutine's name, not the OS thread's.
                    name="" if view is not None and tid != thread.GetThreadID() else thread.GetName() or "",
                )
            )
        if view is not None:
            # The process's own order (a core's: the crashing thread first), not
            # lldb's list with goroutines in it.
            order = {tid: position for position, tid in enumerate(view.real_order)}
            result.sort(key=lambda thread: order.get(thread.tid, len(order)))
        return result

    def native_frames(self, thread: Thread, limit: int) -> Optional[list[NativeFrame]]:
        """lldb's own unwinding of one thread (go threads): C frames get lldb's names."""
        process = self._process()
        if not process.IsValid():
            return None
        sbthread = process.GetThreadByIndexID(thread.index) if thread.index else process.GetThreadByID(thread.tid)
        if not sbthread.IsValid():
            return None
        out: list[NativeFrame] = []
        for index in range(min(sbthread.GetNumFrames(), limit)):
            frame = sbthread.GetFrameAtIndex(index)
            if not frame.IsValid():
                break
            entry = frame.GetLineEntry()
            spec = entry.GetFileSpec() if entry.IsValid() else None
            if spec is not None and spec.IsValid() and entry.GetLine():
                location = f"{spec.fullpath}:{entry.GetLine()}"
            else:
                location = frame.GetModule().GetFileSpec().GetFilename() or ""
            out.append(NativeFrame(frame.GetPC(), frame.GetFunctionName(), location))
        return out or None

    def _frame_registers(self, frame: "lldb.SBFrame") -> dict[str, int]:
        registers: dict[str, int] = {}
        register_sets = frame.GetRegisters()
        general = register_sets.GetFirstValueByName("General Purpose Registers")
        if not general.IsValid() and register_sets.GetSize() > 0:
            general = register_sets.GetValueAtIndex(0)
        word = self.ptr_size
        for index in range(general.GetNumChildren()):
            register = general.GetChildAtIndex(index)
            # The set also lists sub-registers (eax, ax, al): keep full words.
            if register.GetByteSize() != word:
                continue
            name = register.GetName()
            registers[_REGISTER_RENAMES.get(name, name)] = register.GetValueAsUnsigned()
        for name in _EXTRA_REGISTERS:
            register = frame.FindRegister(name)
            if register.IsValid():
                registers[name] = register.GetValueAsUnsigned()
        registers["pc"] = frame.GetPC()
        registers["sp"] = frame.GetSP()
        return registers
