"""GoProgram: all Go-level analysis of one target, cached per target generation.

Binary facts (pclntab, layouts, wait-reason table) live as long as the
executable; goroutines, Ms and stacks are recomputed when the target's
generation changes (it ran, or a different core was loaded).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import OrderedDict
from typing import Any, Callable, Optional, TypeVar

from goext_core.binary.debuginfod import find_debug_binary
from goext_core.binary.diskindex import DiskIndex, sections_digest
from goext_core.binary.elf import GoBinary
from goext_core.binary.pclntab import Pclntab
from goext_core.errors import GoextError, MemoryReadError, MissingDependencyError, UnsupportedError
from goext_core.runtime.dwarflayout import struct_layouts_from_json, struct_layouts_to_json
from goext_core.runtime.goroutines import FieldReader, GoroutineRecord, MachineRecord, read_allm, walk_goroutines
from goext_core.runtime.layout_tables import WAIT_REASONS
from goext_core.runtime.layouts import RUNTIME_FIELDS, RuntimeLayouts, load_layouts
from goext_core.runtime.stacks import LibraryCode, creation_site, is_user_code, user_frame
from goext_core.runtime.stripped import FOUND_FROM_CODE, NotYetKnown, recover_runtime_symbol, recovered_symbol_size
from goext_core.runtime.unwind import (
    Frame,
    FrameStep,
    ParkedWalk,
    Stack,
    frame_step,
    unwind_goroutine,
)
from goext_core.target import Target
from goext_core.values.maps import read_string_map

T = TypeVar("T")

# Full stacks kept per target generation, least recently used dropped first:
# at least MAX_CACHED_STACKS, and more while they hold no more frames than
# MAX_CACHED_FRAMES (~260 bytes each).  Every stack of a program with ten
# thousand goroutines stays for an analysis that walks them all more than
# once (go report: heap graph, heap types, wait graph), and 100,000
# goroutines do not keep 100,000 stacks alive.
MAX_CACHED_STACKS = 4096
MAX_CACHED_FRAMES = 100_000


class StackCache:
    """The most recently used stacks of one stop, by g address (see above)."""

    def __init__(self) -> None:
        self._stacks: "OrderedDict[int, Stack]" = OrderedDict()
        self._frames = 0

    def peek(self, address: int) -> "Optional[Stack]":
        return self._stacks.get(address)

    def get(self, address: int) -> "Optional[Stack]":
        stack = self._stacks.get(address)
        if stack is not None:
            self._stacks.move_to_end(address)
        return stack

    def put(self, address: int, stack: "Stack") -> None:
        old = self._stacks.pop(address, None)
        if old is not None:
            self._frames -= len(old.frames)
        self._stacks[address] = stack
        self._frames += len(stack.frames)
        while len(self._stacks) > MAX_CACHED_STACKS and self._frames > MAX_CACHED_FRAMES:
            _, evicted = self._stacks.popitem(last=False)
            self._frames -= len(evicted.frames)


# Goroutines whose start function is in package runtime are "system" goroutines,
# except these (src/runtime/traceback.go isSystemGoroutine).
_USER_RUNTIME_STARTS = {"runtime.main", "runtime.corostart", "runtime.handleAsyncEvent"}
_FINALIZER_STARTS = {"runtime.runfinq", "runtime.runFinalizers", "runtime.runCleanups"}

# What cached DWARF layouts depend on besides the file: the fields asked for.
_LAYOUT_FIELDS_DIGEST = hashlib.sha256(json.dumps(RUNTIME_FIELDS, sort_keys=True).encode()).hexdigest()[:16]
# ... and the DWARF bytes they are read from (dwarflayout.read_struct_layouts).
_LAYOUT_DWARF_SECTIONS = (".debug_info", ".debug_abbrev", ".debug_str", ".zdebug_info", ".zdebug_abbrev", ".zdebug_str")
# Where stripped.py found runtime globals, relative to the load bias (PIE relocates).
_RUNTIME_GLOBALS_KIND = "runtime-globals"
_RUNTIME_GLOBALS_DEPENDS_ON = "found-by-shape"


def _runtime_globals_from_json(data: Any) -> Optional[dict[str, int]]:
    if not isinstance(data, dict):
        return None
    if not all(
        isinstance(name, str) and type(offset) is int and 0 <= offset < 1 << 64 for name, offset in data.items()
    ):
        return None
    return dict(data)


class GoProgram:
    """Entry point for commands and front ends."""

    def __init__(self, target: Target, binary: Optional[GoBinary] = None) -> None:
        self.target = target
        path = target.executable()
        if binary is None:
            if not path:
                raise GoextError("no executable: load a Go program (or give the core's executable)")
            binary = GoBinary(path)
        self.binary = binary
        self._static: dict[str, Any] = {}
        self._dynamic: dict[str, Any] = {}
        self._generation = target.generation()
        # Damage found on opening the target and the executable, and what it costs.
        self.notes: list[str] = list(getattr(target, "notes", ())) + list(getattr(binary, "notes", ()))

    # -- caches --------------------------------------------------------------
    def binary_memo(self, key: str, compute: Callable[[], T]) -> T:
        """``compute()``, computed once per program and kept: for facts that
        depend only on the executable (its tables, symbols, layouts, type
        descriptors), never on target memory, which can change.  Callers in
        other modules pick keys of their own ("swiss_maps", "rtype_region");
        a mutable result (a dict) makes a per-binary cache."""
        if key not in self._static:
            self._static[key] = compute()
        return self._static[key]

    def _dynamic_value(self, key: str, compute: Callable[[], T]) -> T:
        generation = self.target.generation()
        if generation != self._generation:
            self._dynamic.clear()
            self._generation = generation
        if key not in self._dynamic:
            self._dynamic[key] = compute()
        return self._dynamic[key]

    def stop_memo(self, key: str, compute: Callable[[], T]) -> T:
        """``compute()``, kept until the target's memory may have changed (it ran,
        or memory was written): for facts read from target memory (the heap's
        object index, its graph).  Callers in other modules pick their own keys."""
        return self._dynamic_value(key, compute)

    def read_string_map(self, hmap: int, limit: int) -> dict[str, str]:
        """Entries of the map[string]string at ``hmap``, at most ``limit``: the
        values layer's map walker, offered to the runtime layer (pprof labels
        before Go 1.24) without it importing values/."""
        return read_string_map(self, hmap, limit)

    def invalidate(self) -> None:
        self._dynamic.clear()

    # -- binary facts ----------------------------------------------------------
    @property
    def go_version(self) -> Optional[str]:
        return self.binary_memo("go_version", self.binary.go_version)

    @property
    def go_minor(self) -> Optional[int]:
        def compute() -> Optional[int]:
            match = re.match(r"go1\.(\d+)", self.go_version or "")
            return int(match.group(1)) if match else None

        return self.binary_memo("go_minor", compute)

    @property
    def pclntab(self) -> "Pclntab":
        return self.binary_memo("pclntab", lambda: Pclntab.from_binary(self.binary))

    @property
    def debug_binary(self) -> Optional[GoBinary]:
        """The file holding this program's DWARF: the executable itself when it
        has DWARF, else the debug file debuginfod serves for its GNU build-id
        (when $DEBUGINFOD_URLS is set), else None."""
        return self.binary_memo("debug_binary", lambda: find_debug_binary(self.binary, self.notes))

    @property
    def disk_index(self) -> DiskIndex:
        """The on-disk index of this executable (shared with other processes)."""
        return self.binary_memo("disk_index", lambda: DiskIndex.for_binary(self.binary))

    def _index_of(self, binary: GoBinary) -> DiskIndex:
        return self.disk_index if binary is self.binary else DiskIndex.for_binary(binary)

    def _store_in_index(self, index: DiskIndex, kind: str, depends_on: str, payload: Any) -> None:
        index.store(kind, depends_on, payload)
        self.notes.extend(note for note in index.notes if note not in self.notes)

    @property
    def layouts(self) -> RuntimeLayouts:
        def compute() -> RuntimeLayouts:
            debug = self.debug_binary
            if debug is None:
                layouts = load_layouts(None, False, self.go_minor, self.binary.arch, self.binary.ptr_size)
            else:
                layouts = self._dwarf_layouts(debug)
            self.notes.extend(layouts.notes)
            return layouts

        return self.binary_memo("layouts", compute)

    def _dwarf_layouts(self, debug: GoBinary) -> RuntimeLayouts:
        """Layouts from ``debug``'s DWARF, through the on-disk index: parsing takes seconds."""
        source = "exe" if debug is self.binary else "debug-file"
        dwarf_digest = sections_digest(debug, _LAYOUT_DWARF_SECTIONS)
        depends_on = f"dwarf-of-{source};dwarf={dwarf_digest};fields={_LAYOUT_FIELDS_DIGEST}"
        # Unreadable DWARF sections: no index, the parser below says what is wrong.
        index = self._index_of(debug) if dwarf_digest is not None else None
        if index is not None:
            structs = index.load("layouts", depends_on, struct_layouts_from_json)
            if structs is not None and "runtime.g" in structs and "runtime.m" in structs:
                return RuntimeLayouts(structs, "dwarf")
        try:
            elf = debug.elf
        except MissingDependencyError as exc:  # no pyelftools: the tables of this Go release, said so
            layouts = load_layouts(None, False, self.go_minor, self.binary.arch, self.binary.ptr_size)
            layouts.notes.append(f"runtime struct layouts from goext's tables, not DWARF: {exc}")
            return layouts
        layouts = load_layouts(elf, True, self.go_minor, self.binary.arch, self.binary.ptr_size)
        if index is not None and layouts.source == "dwarf":  # the table fallback is cheap; its notes show every time
            self._store_in_index(index, "layouts", depends_on, struct_layouts_to_json(layouts.structs))
        return layouts

    def runtime_symbol(self, name: str) -> Optional[int]:
        """Run-time address of a runtime global (symbol table, dynamic symbol
        table, else recovered)."""

        cache: dict[str, Optional[int]] = self.binary_memo("symbols", dict)
        if name in cache:
            return cache[name]
        # A global found from code fails its shape check before the runtime has set it
        # up (a live process stopped early): look again once the target has run.
        misses: set[str] = self._dynamic_value("runtime_symbol_misses", set)
        if name in misses:
            return None
        address = self.binary.symbol(name)
        if address is None:
            address = self.binary.dynamic_symbol(name)
        if address is not None:
            address += self.target.load_bias()
        else:
            try:
                address = self._recovered_runtime_symbol(name)
            except NotYetKnown:
                return None  # not a miss: look again on the next call
        if address is None and name in FOUND_FROM_CODE:
            misses.add(name)
        else:
            cache[name] = address
        return address

    def runtime_symbol_size(self, name: str) -> Optional[int]:
        """Size in bytes of a runtime global: the symbol table's, else, for a global
        found without symbols, the size its shape gives (runtime.semtable: 251 entries
        padded to the cache line of this GOARCH and release); None when unknown."""
        if self.binary.symbol(name) is not None:
            return self.binary.symbol_size(name)
        if self.binary.dynamic_symbol(name) is not None:
            return self.binary.dynamic_symbol_size(name)
        if self.runtime_symbol(name) is None:
            return None
        return recovered_symbol_size(self, name)

    def _recovered_runtime_symbol(self, name: str) -> Optional[int]:
        """stripped.recover_runtime_symbol, told where an earlier process found the
        global: checking one word there replaces a scan of the data sections."""
        index = self.disk_index
        known: dict[str, int] = self.binary_memo(
            "indexed_runtime_globals",
            lambda: index.load(_RUNTIME_GLOBALS_KIND, _RUNTIME_GLOBALS_DEPENDS_ON, _runtime_globals_from_json) or {},
        )
        bias = self.target.load_bias()
        offset = known.get(name)
        address = recover_runtime_symbol(self, name, None if offset is None else offset + bias)
        if address is not None and address - bias != offset:
            known[name] = address - bias
            self._store_in_index(index, _RUNTIME_GLOBALS_KIND, _RUNTIME_GLOBALS_DEPENDS_ON, known)
        return address

    def field_reader(self, struct_key: str, names: tuple[str, ...], signed: tuple[str, ...] = ()) -> Any:
        """A goroutines.FieldReader for ``self.layouts.<struct_key>``, built once."""
        readers: dict[tuple, FieldReader] = self.binary_memo("field_readers", dict)
        key = (struct_key, names, signed)
        reader = readers.get(key)
        if reader is None:
            layout = getattr(self.layouts, struct_key)
            reader = readers[key] = FieldReader(layout, names, signed, self.target.byte_order)
        return reader

    def wait_reason(self, index: int) -> str:
        """g.waitreason as text: the binary's own runtime.waitReasonStrings, else the
        table of its Go release (src/runtime/runtime2.go)."""
        table = self.wait_reasons()
        if 0 <= index < len(table):
            return table[index]
        return f"waitreason {index}"

    def wait_reasons(self) -> list[str]:
        """Every wait reason of this binary's runtime, by index."""
        return self.binary_memo("wait_reasons", self._load_wait_reasons)

    def _load_wait_reasons(self) -> list[str]:
        address = self.binary.symbol("runtime.waitReasonStrings")
        size = self.binary.symbol_size("runtime.waitReasonStrings")
        ptr = self.target.ptr_size
        if address is not None and size and size % (2 * ptr) == 0 and size < 1 << 16:
            try:
                return [self.binary.read_go_string(address + i, 256) for i in range(0, size, 2 * ptr)]
            except GoextError:
                pass
        minor = self.go_minor
        if minor in WAIT_REASONS:
            return WAIT_REASONS[minor]
        if minor is not None:
            older = [v for v in WAIT_REASONS if v <= minor]
            if older:
                self.notes.append(f"no wait-reason table for Go 1.{minor}: using Go 1.{max(older)}'s")
                return WAIT_REASONS[max(older)]
        return []

    @property
    def goroot_src(self) -> Optional[str]:
        """GOROOT/src/ as recorded in the binary's file names (from runtime.main's file)."""

        def compute() -> Optional[str]:
            try:
                func = self.pclntab.func_by_name("runtime.main")
                path = func.file_line(func.entry)[0] if func is not None else ""
            except GoextError:
                return None
            marker = "/src/runtime/"
            index = path.rfind(marker)
            return path[: index + len("/src/")] if index >= 0 else None

        return self.binary_memo("goroot_src", compute)

    @property
    def library_code(self) -> LibraryCode:
        """Which frames are the runtime's and the standard library's (stacks.LibraryCode)."""

        def compute() -> LibraryCode:
            info = self.binary.buildinfo
            own: list[str] = []
            if info is not None:
                # The main module and package, and every module it depends on (a
                # local one may have a path without a dot): none is the standard library.
                own += [info.module_path, info.path] + [module.path for module in info.deps]
            return LibraryCode(self.goroot_src, tuple(sorted({path for path in own if path})))

        return self.binary_memo("library_code", compute)

    def func_for_pc(self, pc: int) -> Any:
        """pclntab Func at a run-time pc, memoized (unwinding revisits the same pcs)."""
        cache: dict[int, Any] = self.binary_memo("func_for_pc", dict)
        if pc not in cache:
            if len(cache) > 1 << 20:
                cache.clear()
            cache[pc] = self.pclntab.find_func(pc - self.target.load_bias())
        return cache[pc]

    def sp_delta(self, pc: int) -> int:
        """The pcsp value of the function at a run-time pc, memoized (a parked
        goroutine's frames sit at the same few call sites); raises GoextError
        for a bad table, like Func.sp_delta."""
        cache: dict[int, int] = self.binary_memo("sp_delta", dict)
        delta = cache.get(pc)
        if delta is None:
            func = self.func_for_pc(pc)
            if func is None:
                raise GoextError(f"pc {pc:#x} is not in Go code")
            if len(cache) > 1 << 20:
                cache.clear()
            delta = cache[pc] = func.sp_delta(pc - self.target.load_bias())
        return delta

    def frame_step(self, pc: int) -> "Optional[FrameStep]":
        """What unwinding needs to know about a run-time pc, computed once per pc
        (unwind.frame_step); None outside Go code."""
        cache: dict[int, Optional[FrameStep]] = self.binary_memo("frame_steps", dict)
        if pc in cache:
            return cache[pc]
        if len(cache) > 1 << 18:
            cache.clear()
        step = cache[pc] = frame_step(self, pc)
        return step

    def source_frames(self, pc: int) -> list[Any]:
        """Logical frames (inlined first) at a run-time symbolization pc, memoized."""
        cache: dict[int, list[Any]] = self.binary_memo("source_frames", dict)
        if pc not in cache:
            if len(cache) > 1 << 20:
                cache.clear()
            cache[pc] = self.pclntab.source_frames(pc - self.target.load_bias())
        return cache[pc]

    def func_name(self, pc: int) -> Optional[str]:
        func = self.func_for_pc(pc)
        return func.name if func is not None else None

    def is_system_goroutine(self, record: GoroutineRecord) -> bool:
        name = self.func_name(record.startpc) if record.startpc else None
        if name is None or name in _USER_RUNTIME_STARTS:
            return False
        if name in _FINALIZER_STARTS:
            # The finalizer/cleanup goroutines count as user code while they run user code.
            return record.plain_status != 2
        return name.startswith("runtime.")

    # -- process state -------------------------------------------------------------
    def goroutines(self) -> list[GoroutineRecord]:
        return self._dynamic_value("goroutines", lambda: walk_goroutines(self))

    def machines(self) -> list[MachineRecord]:
        known: dict[str, list[MachineRecord]] = self._dynamic_value("machines", dict)
        if "all" not in known:
            found = read_allm(self)
            if not found and self.runtime_symbol("runtime.allm") is None:
                return found  # allm may be found later in this stop (once the debugger lists threads)
            known["all"] = found
        return known["all"]

    def selected_goroutine(self) -> Optional[GoroutineRecord]:
        """The goroutine the user selected in the debugger (lldb's goroutine
        threads, gdb's 'goroutine N'), else the one on the selected thread (a
        core's: the crashing one); None when that thread runs no goroutine."""
        selected = self.target.selected_goroutine_id()
        if selected is not None:
            for record in self.goroutines():
                if record.id == selected:
                    return record
        thread = self.target.selected_thread()
        if thread is None:
            return None
        for machine in self.machines():
            if machine.procid == thread.tid and machine.curg:
                for record in self.goroutines():
                    if record.address == machine.curg:
                        return record
        return None

    def goroutine(self, goid: int) -> GoroutineRecord:
        for record in self.goroutines():
            if record.id == goid:
                return record
        raise GoextError(f"no goroutine with id {goid}")

    def stack(self, record: GoroutineRecord) -> "Stack":
        """Every frame of a goroutine, kept in a bounded cache (StackCache)."""
        stacks: StackCache = self._dynamic_value("stacks", StackCache)
        stack = stacks.get(record.address)
        if stack is None:
            stack = unwind_goroutine(self, record)
            stacks.put(record.address, stack)
        return stack

    def user_frame(self, record: GoroutineRecord) -> "Optional[Frame]":
        """The innermost frame of the program's own code (stacks.user_frame),
        unwinding only as far as that frame when the stack is not cached."""
        return self.user_frame_finder()(record)

    def user_frame_finder(self) -> "Callable[[GoroutineRecord], Optional[Frame]]":
        """:meth:`user_frame` for the goroutines of one command (a list asks
        it of every goroutine): what it looks up is looked up once."""
        stacks: StackCache = self._dynamic_value("stacks", StackCache)
        library = self.library_code
        walk = self.binary_memo("parked_walk", lambda: ParkedWalk(self, library.holds_code))
        # Whether a frame is user code depends on its function, file and stack only.
        verdicts: dict[tuple[str, str, str], bool] = self.binary_memo("user_code_verdicts", dict)

        def is_user(frame: "Frame") -> bool:
            key = (frame.function, frame.file, frame.stack)
            verdict = verdicts.get(key)
            if verdict is None:
                verdict = verdicts[key] = is_user_code(frame, library)
            return verdict

        def find(record: GoroutineRecord) -> "Optional[Frame]":
            stack = stacks.peek(record.address)
            if stack is None:
                found = walk.user_frame(record)
                if found is not None:
                    return found
                stack = unwind_goroutine(self, record, stop=is_user)
                if not stack.complete:  # it stopped at the physical frame holding the first user frame
                    return next(frame for frame in stack.frames if is_user(frame))
            return user_frame(stack, library)

        return find

    def creation_site(self, gopc: int) -> Optional[tuple[str, str, int]]:
        """(function, file, line) of the go statement at run-time pc ``gopc``, memoized."""
        cache: dict[int, Optional[tuple[str, str, int]]] = self.binary_memo("creation_sites", dict)
        if gopc not in cache:
            if len(cache) > 1 << 16:
                cache.clear()
            cache[gopc] = creation_site(self, gopc)
        return cache[gopc]

    def machine_of(self, record: GoroutineRecord) -> Optional[MachineRecord]:
        if not record.m:
            return None
        by_address: dict[int, MachineRecord] = self._dynamic_value(
            "machines_by_address", lambda: {machine.address: machine for machine in self.machines()}
        )
        return by_address.get(record.m)

    def thread_for(self, machine: MachineRecord) -> Optional[Any]:
        for thread in self.target.threads():
            if machine.procid and thread.tid == machine.procid:
                return thread
        return None

    def read_ok(self, address: int, size: int) -> bool:
        try:
            self.target.read(address, size)
            return True
        except MemoryReadError:
            return False

    def require_go(self) -> None:
        if self.go_version is None and self.binary.section(".gopclntab") is None:
            raise UnsupportedError(f"{self.binary.path} does not look like a Go program")
