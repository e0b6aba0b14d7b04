"""Runtime struct layouts and constants, per Go version.

DWARF wins when the binary has it (any Go version, including future ones);
otherwise the tables in :mod:`goext_core.runtime.layout_tables`, keyed by Go minor
version and GOARCH (amd64, arm64; 64-bit only), are used.  Those tables are
generated from the DWARF of each toolchain's own binaries (cross-built for
arm64) by ``tools/gen_layout_tables.py``, and a test checks them against DWARF
again for every toolchain in the matrix and each GOARCH (delve's rtype check,
in spirit).  The structs are defined in src/runtime/runtime2.go of each release.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Optional

from goext_core.errors import CorruptDataError, UnsupportedError
from goext_core.runtime.dwarflayout import StructLayout, read_struct_layouts
from goext_core.runtime.layout_tables import ARCH_DIFFERENCES, BASE_GOARCH, LAYOUT_GOARCHES, LAYOUTS

# The fields the core reads.  Keep in sync with tools/gen_layout_tables.py.
RUNTIME_FIELDS: dict[str, tuple[str, ...]] = {
    "runtime.g": (
        "stack.lo",
        "stack.hi",
        "_panic",
        "_defer",
        "m",
        "sched.sp",
        "sched.pc",
        "sched.g",
        "sched.ctxt",
        "sched.lr",
        "sched.bp",
        "syscallsp",
        "syscallpc",
        "syscallbp",
        "atomicstatus",
        "goid",
        "schedlink",
        "waitsince",
        "waitreason",
        "preempt",
        "lockedm",
        "sigcode0",
        "sigcode1",
        "sigpc",
        "parentGoid",
        "gopc",
        "ancestors",
        "startpc",
        "waiting",
        "labels",
        "param",
        "runningCleanups",
        "bubble",
        "timer",
        "sleepWhen",
        "stkbar",
        "stkbarPos",  # Go 1.5-1.8 stack barriers (src/runtime/runtime2.go of those releases)
    ),
    "runtime.m": (
        "g0",
        "morebuf.sp",
        "morebuf.pc",
        "procid",
        "gsignal",
        "curg",
        "caughtsig",
        "p",
        "nextp",
        "oldp",
        "id",
        "mallocing",
        "throwing",
        "locks",
        "dying",
        "spinning",
        "blocked",
        "incgo",
        "isextra",
        "ncgo",
        "alllink",
        "schedlink",
        "lockedg",
        "mstartfn",
        "libcallpc",
        "libcallsp",
        "libcallg",
        "vdsoSP",
        "vdsoPC",
        "lockedExt",
        "lockedInt",
        "syscalltick",
        "ncgocall",
        "preemptoff",  # go sched (sched.py)
    ),
    "runtime.schedt": (
        "lastpoll",
        "pollUntil",
        "midle",
        "nmidle",
        "nmidlelocked",
        "mnext",
        "maxmcount",
        "nmsys",
        "nmfreed",
        "ngsys",
        "pidle",
        "npidle",
        "nmspinning",
        "needspinning",
        "runq.head",
        "runq.tail",
        "runq.size",
        "runqsize",
        "gcwaiting",
        "stopwait",
        "stopnote",
        "sysmonwait",
        "safePointWait",
    ),
    # Timers (runtime/timers.py): src/runtime/time.go timer; p.timers is a []*timer
    # heap up to Go 1.22, a struct timers{heap []timerWhen} since Go 1.23.
    "runtime.timer": ("when", "pp", "period", "f", "arg.data", "status", "state", "isChan", "ts"),
    "runtime.timerWhen": ("timer", "when"),
    "runtime.p": (
        "id",
        "status",
        "link",
        "schedtick",
        "syscalltick",
        "m",
        "runqhead",
        "runqtail",
        "runq",
        "runnext",
        "timers.array",
        "timers.len",
        "timers.heap.array",
        "timers.heap.len",
        "mcache",  # go heap: the spans each P caches (runtime/heap.py)
    ),
    # go sched's GC summary (src/runtime/mstats.go, mgcpacer.go).
    "runtime.mstats": (
        "last_gc_unix",
        "pause_total_ns",
        "numgc",
        "numforcedgc",
        "last_gc_nanotime",
        "lastHeapInUse",
        "enablegc",
        "heapStats.stats",  # go heap: consistentHeapStats, src/runtime/mstats.go
    ),
    "runtime.gcControllerState": (
        "gcPercent",
        "heapLive",
        "heapMarked",
        "lastHeapGoal",
        "heapMinimum",
        "heapInUse",  # go heap's reconciliation (src/runtime/mgcpacer.go)
        "totalAlloc",
        "totalFree",
    ),
    # go heap (runtime/heap.py): the heap's spans, src/runtime/mheap.go, mcache.go, mstats.go.
    # allArenas became heapArenas (heap arenas only) in later releases.
    "runtime.mheap": (
        "sweepgen",
        "arenas",
        "allArenas.array",
        "allArenas.len",
        "heapArenas.array",
        "heapArenas.len",
        "pagesInUse",
    ),
    # The heap bitmap of Go 1.19 (2 bits per word) and 1.20-1.21 (1 bit per word, plus
    # noMorePtrs), src/runtime/mheap.go heapArena; go heap path/refs (runtime/heapgraph.py).
    "runtime.heapArena": ("spans", "pageInUse", "bitmap", "noMorePtrs"),
    "runtime.mspan": (
        "startAddr",
        "npages",
        "freeindex",
        "nelems",
        "allocBits",
        "sweepgen",
        "allocCount",
        "spanclass",
        "state",
        "allocCountBeforeCache",
        "elemsize",
        "largeType",
        "specials",  # finalizers and cleanups: heap roots (runtime/heapgraph.py)
    ),
    # Specials, src/runtime/mheap.go: finalizer and cleanup records (heap roots).
    "runtime.special": ("next", "offset", "kind"),
    "runtime.specialfinalizer": ("special", "fn", "nret", "fint", "ot"),
    "runtime.specialCleanup": ("special", "fn", "id"),
    "runtime.mcache": ("alloc", "reusableNoscan", "tiny"),  # tiny: a heap root (gcMarkTinyAllocs)
    "runtime.heapStatsDelta": (
        "tinyAllocCount",
        "largeAlloc",
        "largeAllocCount",
        "smallAllocCount",
        "largeFree",
        "largeFreeCount",
        "smallFreeCount",
    ),
    # The wait graph (src/runtime/runtime2.go sudog, chan.go hchan, sema.go semaRoot).
    "runtime.sudog": (
        "g",
        "next",
        "prev",
        "elem",
        "acquiretime",
        "ticket",
        "isSelect",
        "success",
        "parent",
        "waitlink",
        "waittail",
        "c",
    ),
    "runtime.hchan": (
        "qcount",
        "dataqsiz",
        "buf",
        "elemsize",
        "closed",
        "elemtype",
        "sendx",
        "recvx",
        "recvq.first",
        "recvq.last",
        "sendq.first",
        "sendq.last",
        "timer",
    ),
    "runtime.semaRoot": ("treap", "nwait"),
    # types: go heap's type names; data/bss and the GC's pointer masks of them (built at
    # start-up by modulesinit, src/runtime/symtab.go): heap roots (runtime/heapgraph.py).
    "runtime.moduledata": (
        "types",
        "etypes",
        "data",
        "edata",
        "bss",
        "ebss",
        "gcdatamask.n",
        "gcdatamask.bytedata",
        "gcbssmask.n",
        "gcbssmask.bytedata",
        "next",
    ),
}

# Goroutine status values, src/runtime/runtime2.go (unchanged 1.19..1.27 for 0..9).
G_IDLE, G_RUNNABLE, G_RUNNING, G_SYSCALL, G_WAITING = 0, 1, 2, 3, 4
G_MORIBUND_UNUSED, G_DEAD, G_ENQUEUE_UNUSED, G_COPYSTACK, G_PREEMPTED = 5, 6, 7, 8, 9
G_LEAKED, G_DEADEXTRA = 10, 11  # Go 1.26+ (_Gleaked), 1.27 (_Gdeadextra)
G_SCAN = 0x1000


@functools.lru_cache(maxsize=None)
def status_strings(minor: int) -> dict[int, str]:
    """gStatusStrings of src/runtime/traceback.go for Go 1.<minor>."""
    table = {
        G_IDLE: "idle",
        G_RUNNABLE: "runnable",
        G_RUNNING: "running",
        G_SYSCALL: "syscall",
        G_WAITING: "waiting",
        G_DEAD: "dead",
        G_COPYSTACK: "copystack",
        G_PREEMPTED: "preempted",
    }
    if minor >= 26:
        table[G_LEAKED] = "leaked"
    if minor >= 27:
        table[G_DEADEXTRA] = "waiting for cgo callback"
    return table


def is_dead_status(status: int) -> bool:
    plain = status & ~G_SCAN
    return plain == G_DEAD or plain == G_DEADEXTRA


@dataclass
class RuntimeLayouts:
    """Struct layouts for one binary and where they came from."""

    structs: dict[str, StructLayout]
    source: str  # "dwarf" or "table go1.N GOARCH"
    notes: list[str] = field(default_factory=list)

    def __getitem__(self, name: str) -> StructLayout:
        try:
            return self.structs[name]
        except KeyError:
            raise UnsupportedError(f"no layout for {name} ({self.source})") from None

    @property
    def g(self) -> StructLayout:
        return self["runtime.g"]

    @property
    def m(self) -> StructLayout:
        return self["runtime.m"]

    @property
    def p(self) -> StructLayout:
        return self["runtime.p"]


# GOARCHes whose pointers are 4 bytes (src/internal/goarch/zgoarch_*.go, PtrSize): every
# runtime struct is laid out differently there, and the tables are 64-bit only.
_GOARCHES_32BIT = frozenset(
    {"386", "arm", "armbe", "mips", "mipsle", "mips64p32", "mips64p32le", "ppc", "riscv", "s390", "sparc", "amd64p32"}
)


def _from_table(minor: int, goarch: str, ptr_size: int) -> tuple[dict[str, StructLayout], str, list[str]]:
    """The generated layouts for Go 1.<minor> on ``goarch``: the nearest older release
    with a table for that GOARCH, amd64's for a 64-bit GOARCH without tables, never
    for a 32-bit GOARCH."""
    table_goarches = sorted({arch for arches in LAYOUT_GOARCHES.values() for arch in arches})
    if ptr_size != 8 or goarch in _GOARCHES_32BIT:
        raise UnsupportedError(
            f"{goarch} is a 32-bit architecture and the binary has no DWARF: goext's runtime layout "
            f"tables are for 64-bit {', '.join(table_goarches)} only (a 32-bit runtime lays out every "
            "struct differently); use a binary with DWARF or its debug file"
        )
    notes: list[str] = []
    table_goarch = goarch if goarch in table_goarches else BASE_GOARCH
    available = sorted(version for version, arches in LAYOUT_GOARCHES.items() if table_goarch in arches)
    if not available:
        raise UnsupportedError("no runtime layout tables are available")
    chosen = minor
    if minor not in available:
        older = [version for version in available if version <= minor]
        chosen = older[-1] if older else available[0]
    if chosen != minor or table_goarch != goarch:
        reasons = []
        if table_goarch != goarch:
            reasons.append(f"goext has tables for {', '.join(table_goarches)} only")
        if chosen != minor:
            which = "the nearest older release with" if chosen < minor else "the oldest release with"
            versions = ", ".join(f"1.{version}" for version in available)
            reasons.append(f"Go 1.{chosen} is {which} a table for {table_goarch}; {table_goarch} tables: Go {versions}")
        notes.append(
            f"the binary has no DWARF and goext has no runtime layout table for Go 1.{minor} {goarch}: "
            f"using Go 1.{chosen} {table_goarch}'s ({'; '.join(reasons)}); results may be wrong"
        )
    structs = {}
    for name, (size, fields) in LAYOUTS[chosen].items():
        structs[name] = StructLayout(name, size, {path: (off, sz) for path, (off, sz) in fields.items()})
    for name, difference in ARCH_DIFFERENCES.get((chosen, table_goarch), {}).items():
        if difference is None:  # a struct this GOARCH lacks
            structs.pop(name, None)
            continue
        size, changed_fields = difference
        layout = structs.setdefault(name, StructLayout(name, size))
        layout.size = size
        for path, location in changed_fields.items():
            if location is None:  # a field this GOARCH lacks
                layout.fields.pop(path, None)
            else:
                layout.fields[path] = location
    return structs, f"table go1.{chosen} {table_goarch}", notes


def load_layouts(
    elf: Optional[object], has_dwarf: bool, go_minor: Optional[int], goarch: str, ptr_size: int
) -> RuntimeLayouts:
    """DWARF first; then the table of the Go version and GOARCH; raise UnsupportedError
    if neither works."""
    notes: list[str] = []
    if elf is not None and has_dwarf:
        try:
            structs = read_struct_layouts(elf, RUNTIME_FIELDS)
            if "runtime.g" in structs and "runtime.m" in structs:
                return RuntimeLayouts(structs, "dwarf", notes)
            notes.append("DWARF lacks runtime.g; falling back to the version tables")
        except CorruptDataError as exc:
            notes.append(f"{exc}; falling back to the version tables")
    if go_minor is None:
        raise UnsupportedError("cannot tell the Go version of this binary and it has no DWARF")
    structs, source, table_notes = _from_table(go_minor, goarch, ptr_size)
    return RuntimeLayouts(structs, source, notes + table_notes)
