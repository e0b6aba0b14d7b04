"""The Go runtime's pc/line table (``pclntab``): functions, file:line, frame sizes, inlining.

Every Go binary carries this table, stripped or not; the runtime itself uses it
for tracebacks, so reading it the way the runtime does gives the same answers
``runtime.Callers``/``runtime.traceback`` give.

Four layouts exist, told apart by the magic (internal/abi/symtab.go
``PCLnTabMagic``; debug/gosym/pclntab.go):

=============  ==========  =====================================================
magic          Go          layout
=============  ==========  =====================================================
0xfffffffb     1.2–1.15    one blob; functab of {entry uintptr, funcoff uintptr};
                           names, files and pc tables are offsets into the blob
0xfffffffa     1.16–1.17   pcHeader with offsets to funcnametab, cutab, filetab,
                           pctab, pclntab; functab still {uintptr, uintptr}
0xfffffff0     1.18–1.19   adds textStart; functab is {entryoff, funcoff uint32};
                           funcdata are uint32 offsets from moduledata.gofunc
0xfffffff1     1.20–1.27   _func gains startLine; inlinedCall is rewritten
=============  ==========  =====================================================

Sources for the layouts: runtime/symtab.go (``pcHeader``, ``moduledata``,
``funcline1``, ``pcvalue``, ``step``, ``funcdata``), runtime/runtime2.go
(``_func``), runtime/symtabinl.go (``inlinedCall``, 1.21+), runtime/traceback.go
(how inlined frames are printed) and debug/gosym/pclntab.go, each of the Go
release named next to the constant that comes from it.

All addresses are link-time addresses of the executable.
"""

from __future__ import annotations

import struct
import sys
from array import array
from bisect import bisect_right
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterator, Optional, Union

from goext_core.binary.buildinfo import go_version_tuple
from goext_core.errors import CorruptDataError, MemoryReadError, UnsupportedError

if TYPE_CHECKING:
    import mmap

    from goext_core.binary.elf import GoBinary

Buffer = Union[bytes, bytearray, "mmap.mmap"]
ReadMemory = Callable[[int, int], bytes]
GoVersion = tuple[int, int, int]

# -- magics (debug/gosym/pclntab.go go12magic … go120magic) -----------------
MAGIC_GO12 = 0xFFFFFFFB
MAGIC_GO116 = 0xFFFFFFFA
MAGIC_GO118 = 0xFFFFFFF0
MAGIC_GO120 = 0xFFFFFFF1

FORMAT_GO12 = "1.2-1.15"
FORMAT_GO116 = "1.16-1.17"
FORMAT_GO118 = "1.18-1.19"
FORMAT_GO120 = "1.20+"

_FORMAT_BY_MAGIC = {
    MAGIC_GO12: FORMAT_GO12,
    MAGIC_GO116: FORMAT_GO116,
    MAGIC_GO118: FORMAT_GO118,
    MAGIC_GO120: FORMAT_GO120,
}

# -- funcdata / pcdata indexes ----------------------------------------------
# Go 1.16–1.27: internal/abi/symtab.go (runtime/symtab.go before 1.21).
FUNCDATA_ARGS_POINTER_MAPS = 0
FUNCDATA_LOCALS_POINTER_MAPS = 1
FUNCDATA_STACK_OBJECTS = 2
FUNCDATA_INL_TREE = 3
FUNCDATA_OPEN_CODED_DEFER_INFO = 4
FUNCDATA_ARG_INFO = 5
FUNCDATA_ARG_LIVE_INFO = 6
FUNCDATA_WRAP_INFO = 7
PCDATA_UNSAFE_POINT = 0
PCDATA_STACK_MAP_INDEX = 1
PCDATA_INL_TREE_INDEX = 2
PCDATA_ARG_LIVE_INDEX = 3

# (pcdata InlTreeIndex, funcdata InlTree) of the 0xfffffffb releases:
# go1.9–go1.12 runtime/symtab.go: _PCDATA_InlTreeIndex = 1, _FUNCDATA_InlTree = 2;
# go1.13–go1.15: _PCDATA_RegMapIndex/_PCDATA_UnsafePoint took index 0, so
# _PCDATA_InlTreeIndex = 2 and _FUNCDATA_InlTree = 4 (after RegPointerMaps, StackObjects).
_INLINE_INDEXES_GO19 = (1, 2)
_INLINE_INDEXES_GO113 = (2, 4)
_INLINE_INDEXES_GO116 = (PCDATA_INL_TREE_INDEX, FUNCDATA_INL_TREE)

# internal/abi/symtab.go FuncFlag (runtime/symtab.go funcFlag since 1.17).
FUNC_FLAG_TOPFRAME = 1
FUNC_FLAG_SPWRITE = 2
FUNC_FLAG_ASM = 4

# Inline tree entry layouts.
_INL_NONE = "none"  # before Go 1.9: no inlining information
_INL_GO19 = "go1.9"  # {parent, file, line, func_ int32}: go1.9–go1.11 runtime/symtab.go
_INL_GO112 = "go1.12"  # {parent int16, funcID uint8, _ byte, file, line, func_, parentPc int32}: go1.12–go1.19
_INL_GO120 = "go1.20"  # {funcID uint8, _ [3]byte, nameOff, parentPc, startLine int32}: go1.20+ symtabinl.go

# -- bounds -----------------------------------------------------------------
_MAX_FUNCS = 1 << 23
_MAX_PCDATA = 1 << 10  # npcdata/nfuncdata are tiny (≤ 8 today)
# Names looked up by searching before func_by_name builds its index of all names.
_DIRECT_NAME_LOOKUPS = 3
_MAX_NAME = 1 << 16  # generic instantiation names can be long, but not 64 KB
_MAX_INLINE_DEPTH = 1 << 10
_MAX_SCAN = 256 << 20  # bytes scanned for a pclntab magic when no section/symbol leads to it
_MAX_MODULEDATA_SCAN = 64 << 20
_VALUE_CACHE_ENTRIES = 1 << 15

_INT32_MIN = -(1 << 31)


def func_name_for_print(name: str, generic_methods: bool = True) -> str:
    """runtime/traceback.go funcNameForPrint (Go 1.21+): the text between the first
    "[" and the last "]" prints as "[...]".  Go 1.27 (``generic_methods``) keeps
    what lies between the two bracket groups of a generic method of a generic
    type.  Malformed names come back unchanged."""
    open_at = name.find("[")
    if open_at < 0:
        return name
    close_at = name.rfind("]")
    if close_at <= open_at:
        return name
    interior = name[open_at + 1 : close_at]
    if not generic_methods or "[" not in interior:
        return name[:open_at] + "[...]" + name[close_at + 1 :]
    depth = 1
    right = left = -1
    for index, char in enumerate(interior):
        if char == "[":
            depth += 1
            if depth != 1:
                continue
            left = index
            break
        if char == "]":
            depth -= 1
            if depth < 0:
                break
            if depth != 0:
                continue
            right = index
    if depth == 1:
        if right >= 0 and left > right:
            return name[:open_at] + "[...]" + interior[right + 1 : left] + "[...]" + name[close_at + 1 :]
        if right == -1 and left == -1:
            return name[:open_at] + "[...]" + name[close_at + 1 :]
    return name


@dataclass(frozen=True)
class SourceFrame:
    """One logical frame at a pc: an inlined call or the physical function.

    ``function`` is the name as the runtime's traceback prints it (shape
    arguments elided on Go 1.21+; the traceback additionally prints
    runtime.gopanic as "panic"); ``raw_name`` is the symbol-table name.
    """

    function: str
    file: str
    line: int
    inlined: bool
    entry: int  # entry of the physical function holding the code
    raw_name: str = ""
    func_id: int = 0


@dataclass(frozen=True)
class _InlinedCall:
    parent: int  # index of the parent entry (Go 1.9–1.19), -1 on 1.20+
    func_id: int
    file: int  # file index (Go 1.9–1.19)
    line: int  # call-site line (Go 1.9–1.19)
    name_off: int
    parent_pc: int  # offset from entry of an instruction at the call site (1.12+)
    start_line: int  # Go 1.20+


class Func:
    """One function of the table (a runtime ``_func``), decoded on first lookup.

    Attributes, raw from the table: ``entry``/``end`` (link-time, end = next
    function's entry or the end of the text, as findfunc sees it), ``name_off``,
    ``args`` (argument frame size; -0x80000000 = unknown, for assembly),
    ``deferreturn`` (offset of the deferreturn call; 0 when none, and not
    meaningful before Go 1.14), ``func_id`` (abi.FuncID; numbering differs
    between releases, 0 before 1.12), ``flags`` (abi.FuncFlag bits, see
    FUNC_FLAG_*; 0 before Go 1.17, which added the byte), ``start_line`` (line
    of the ``func`` keyword, Go 1.20+, else None), ``cu_offset``, ``npcdata``,
    ``nfuncdata``.
    """

    __slots__ = (
        "table",
        "index",
        "entry",
        "end",
        "name_off",
        "args",
        "deferreturn",
        "pcsp",
        "pcfile",
        "pcln",
        "npcdata",
        "cu_offset",
        "start_line",
        "func_id",
        "flags",
        "nfuncdata",
        "_pcdata_at",
        "_funcdata_at",
        "_name",
    )
    table: "Pclntab"
    index: int
    entry: int
    end: int
    name_off: int
    args: int
    deferreturn: int
    pcsp: int
    pcfile: int
    pcln: int
    npcdata: int
    cu_offset: int
    start_line: Optional[int]
    func_id: int
    flags: int
    nfuncdata: int
    _pcdata_at: int  # buffer-relative offset of the pcdata offsets
    _funcdata_at: int  # buffer-relative offset of the funcdata slots
    _name: Optional[str]

    def __init__(self, table: "Pclntab", index: int) -> None:
        self.table = table
        self.index = index
        self._name: Optional[str] = None
        table._decode_func(self)

    def __repr__(self) -> str:
        return f"Func({self.name!r}, entry={self.entry:#x}, end={self.end:#x})"

    @property
    def name(self) -> str:
        if self._name is None:
            self._name = self.table._function_name(self.name_off)
        return self._name

    @property
    def print_name(self) -> str:
        return self.table._print_name(self.name)

    def contains(self, pc: int) -> bool:
        return self.entry <= pc < self.end

    # -- pc-value tables ---------------------------------------------------
    def file_line(self, pc: int) -> tuple[str, int]:
        """runtime funcline1: the source position of the instruction at ``pc``
        (("?", 0) when the table has none)."""
        table = self.table
        fileno = table._pcvalue(self, self.pcfile, pc)
        line = table._pcvalue(self, self.pcln, pc)
        if fileno == -1 or line == -1:
            return "?", 0
        return table._file_name(self, fileno), line

    def sp_delta(self, pc: int) -> int:
        """runtime funcspdelta: bytes the function has pushed on the stack when
        executing ``pc`` (the pcsp table).  0 at entry; -1 if the function has no
        table (assembly without frame info).

        The unwinder (runtime/traceback.go ``resolveInternal``) computes the
        caller's SP as ``fp = sp + sp_delta(pc)`` and, on x86 where CALL pushes
        the return address, adds the pointer size: the return address is at
        ``sp + sp_delta(pc)`` and the caller's SP is ``sp + sp_delta(pc) + ptr``.
        On link-register machines (arm64, …) ``fp = sp + sp_delta(pc)`` and the
        saved LR of a non-leaf frame is at ``*sp``; with a zero delta the return
        address is still in LR.  Pass the pc the unwinder uses: the faulting or
        current pc for the innermost frame, the return address for callers.
        """
        return self.table._pcvalue(self, self.pcsp, pc)

    def pcdata(self, table_index: int, pc: int) -> int:
        """runtime pcdatavalue1: value of PCDATA table ``table_index`` at ``pc`` (-1 if none)."""
        if table_index < 0 or table_index >= self.npcdata:
            return -1
        return self.table._pcvalue(self, self.table._pcdata_offset(self, table_index), pc)

    def funcdata_address(self, index: int) -> Optional[int]:
        """runtime funcdata: link-time address of FUNCDATA ``index``, None when absent.

        Raises UnsupportedError on Go 1.18+ when the table's ``gofunc`` base
        (moduledata.gofunc) could not be found.
        """
        if index < 0 or index >= self.nfuncdata:
            return None
        return self.table._funcdata_address(self, index)


@dataclass(frozen=True)
class FunctionColumns:
    """Every function of a table as parallel lists, in address order (for
    callers that visit all of them: a :class:`Func` object per function costs
    more than the rest of the work)."""

    entries: list[int]  # link-time entry
    ends: list[int]  # link-time end (the next function's entry)
    names: list[Optional[str]]  # None: unreadable
    pcsp: list[int]  # offset of the pcsp table in pctab; 0: none


class Pclntab:
    """A decoded pc/line table.  Construct with :meth:`from_binary` (or directly
    over a buffer holding the table, e.g. read from target memory)."""

    def __init__(
        self,
        buffer: Buffer,
        base: int,
        limit: int,
        address: int,
        *,
        text_start: Optional[int] = None,
        gofunc: Optional[int] = None,
        read_memory: Optional[ReadMemory] = None,
        go_version: Optional[GoVersion] = None,
    ) -> None:
        """``buffer[base:limit]`` holds the table, whose header is at link-time ``address``.

        ``text_start`` is moduledata.text (needed on Go 1.26+, where the header
        no longer stores it); ``gofunc`` is moduledata.gofunc (Go 1.18+ funcdata
        base); ``read_memory(address, size)`` reads other parts of the image
        (funcdata such as inline trees live outside the table before 1.26).
        """
        if base < 0 or limit > len(buffer) or limit - base < 16:
            raise CorruptDataError("pclntab: table is too small")
        self._buf = buffer
        self._base = base
        self._limit = limit
        self.address = address
        self.go_version = go_version
        self._read_memory = read_memory
        self.gofunc = gofunc
        head = bytes(buffer[base : base + 8])
        magic_le = int.from_bytes(head[:4], "little")
        magic_be = int.from_bytes(head[:4], "big")
        if magic_le in _FORMAT_BY_MAGIC:
            self.byte_order = "little"
            magic = magic_le
        elif magic_be in _FORMAT_BY_MAGIC:
            self.byte_order = "big"
            magic = magic_be
        else:
            raise CorruptDataError(f"pclntab at {address:#x}: unknown magic {magic_le:#x}")
        if head[4] != 0 or head[5] != 0:
            raise CorruptDataError(f"pclntab at {address:#x}: bad header padding")
        self.magic = magic
        self.version = _FORMAT_BY_MAGIC[magic]
        self.quantum = head[6]
        self.ptr_size = head[7]
        if self.quantum not in (1, 2, 4) or self.ptr_size not in (4, 8):
            raise CorruptDataError(
                f"pclntab at {address:#x}: implausible quantum {self.quantum} / pointer size {self.ptr_size}"
            )
        self._bo = "<" if self.byte_order == "little" else ">"
        self._u32 = struct.Struct(self._bo + "I")
        self._i32 = struct.Struct(self._bo + "i")
        self._ptr = struct.Struct(self._bo + ("Q" if self.ptr_size == 8 else "I"))
        # The _func record of Go 1.18+ (see _decode_func); None for the older layouts.
        self._func_record: Optional[struct.Struct] = None
        if self.version == FORMAT_GO118:
            self._func_record = struct.Struct(self._bo + "IiiIIIIIIBBBB")
        elif self.version == FORMAT_GO120:
            self._func_record = struct.Struct(self._bo + "IiiIIIIIIiBBBB")
        self.inline_info_missing = False  # set when inline trees were needed but unreachable
        self.moduledata: Optional[int] = None  # link-time address of the moduledata naming this table, if found
        self._funcs: dict[int, Func] = {}
        self._values: dict[int, tuple[array, array]] = {}
        self._names: Optional[dict[str, int]] = None
        self._direct_lookups = 0
        self._parse_header(text_start)
        self._choose_variant()

    # -- construction --------------------------------------------------------
    @classmethod
    def from_binary(cls, binary: "GoBinary", go_version: Optional[GoVersion] = None) -> "Pclntab":
        """Find and open the table of ``binary``.

        Order: the ``.gopclntab`` section (``.data.rel.ro.gopclntab`` in older
        PIEs); the ``runtime.pcheader``/``runtime.pclntab`` symbols; moduledata
        (``runtime.firstmoduledata`` or Go 1.26+'s ``.go.module`` section),
        whose first word points at the table; a bounded scan of the image for a
        magic followed by a plausible header whose first function lies in code.
        """
        if go_version is None:
            go_version = go_version_tuple(binary.go_version() or "")
        found = _locate_table(binary, go_version)
        if found is None:
            raise UnsupportedError(f"{binary.path}: no Go pc/line table found (not a Go binary?)")
        address, limit_address = found
        base = binary.file_offset(address)
        if base is None:
            raise CorruptDataError(f"{binary.path}: pclntab at {address:#x} is not in the file")
        limit = base + (limit_address - address)
        if limit > len(binary.mapped):
            raise CorruptDataError(f"{binary.path}: pclntab at {address:#x} is truncated")
        probe = cls(
            binary.mapped,
            base,
            limit,
            address,
            read_memory=binary.read_static,
            go_version=go_version,
            text_start=_guess_text_start(binary),
        )
        moduledata = _find_moduledata(binary, probe)
        text_start = _resolve_text_start(binary, probe, moduledata)
        gofunc = _resolve_gofunc(binary, probe, moduledata, go_version)
        table = cls(
            binary.mapped,
            base,
            limit,
            address,
            text_start=text_start,
            gofunc=gofunc,
            read_memory=binary.read_static,
            go_version=go_version,
        )
        table.moduledata = moduledata
        return table

    def _parse_header(self, text_start: Optional[int]) -> None:
        ptr = self.ptr_size

        def word(index: int) -> int:
            return self._read_ptr(8 + index * ptr)

        if self.version in (FORMAT_GO118, FORMAT_GO120):
            self.nfunc = word(0)
            self.nfiles = word(1)
            header_text = word(2)  # Go 1.26+ leaves this zero (runtime/symtab.go pcHeader)
            self._funcnametab = word(3)
            self._cutab = word(4)
            self._filetab = word(5)
            self._pctab = word(6)
            self._funcbase = word(7)
            self._functab = self._funcbase
            self._field = 4
            if text_start is None:
                text_start = header_text or None
            self._text_start = text_start
        elif self.version == FORMAT_GO116:
            self.nfunc = word(0)
            self.nfiles = word(1)
            self._funcnametab = word(2)
            self._cutab = word(3)
            self._filetab = word(4)
            self._pctab = word(5)
            self._funcbase = word(6)
            self._functab = self._funcbase
            self._field = ptr
            self._text_start = text_start
        else:
            self.nfunc = word(0)
            self._funcnametab = 0
            self._cutab = 0
            self._pctab = 0
            self._funcbase = 0
            self._functab = 8 + ptr
            self._field = ptr
            self._text_start = text_start
        if not 0 < self.nfunc <= _MAX_FUNCS:
            raise CorruptDataError(f"pclntab at {self.address:#x}: implausible function count {self.nfunc}")
        size = self._limit - self._base
        for name in (
            ("_funcnametab", "_cutab", "_filetab", "_pctab", "_funcbase") if self.version != FORMAT_GO12 else ()
        ):
            if not 0 < getattr(self, name) < size:
                raise CorruptDataError(f"pclntab at {self.address:#x}: header offset {name[1:]} out of range")
        # functab: nfunc {entry, funcoff} pairs and the end pc (debug/gosym: (nfunc*2+1) fields).
        count = 2 * self.nfunc + 1
        start = self._functab
        end = start + count * self._field
        if end > size:
            raise CorruptDataError(f"pclntab at {self.address:#x}: function table runs past the end")
        raw = bytes(self._buf[self._base + start : self._base + end])
        words = array("I" if self._field == 4 else "Q")
        if words.itemsize != self._field:  # exotic platforms
            words = array("L" if self._field == 4 else "Q")
        words.frombytes(raw)
        if (self.byte_order == "little") != (sys.byteorder == "little"):
            words.byteswap()
        self._entries = words[0::2]  # nfunc + 1 values, the last is the end of the text
        self._funcoffs = words[1::2]
        entries = self._entries
        if entries.tolist() != sorted(entries):  # in C: this runs for every table opened
            raise CorruptDataError(f"pclntab at {self.address:#x}: function table is not sorted")
        if self.version == FORMAT_GO12:
            fileoff = self._read_u32(end)
            if not 0 < fileoff < size:
                raise CorruptDataError(f"pclntab at {self.address:#x}: file table offset out of range")
            self._filetab = fileoff
            self.nfiles = self._read_u32(fileoff)
            if self.nfiles * 4 > size - fileoff:
                raise CorruptDataError(f"pclntab at {self.address:#x}: file table runs past the end")
        # Functab entries are offsets from the text start on 1.18+, absolute before.
        if self.version in (FORMAT_GO118, FORMAT_GO120):
            if self._text_start is None:
                raise UnsupportedError(f"pclntab at {self.address:#x}: text start unknown (Go 1.26+ needs moduledata)")
            self._entry_bias = self._text_start
        else:
            self._entry_bias = 0
            if self._text_start is None:
                self._text_start = entries[0]

    def _choose_variant(self) -> None:
        """Pick the _func tail, inline-tree layout and funcdata indexes of this release."""
        version = self.go_version
        ptr = self.ptr_size
        self._inline_indexes = _INLINE_INDEXES_GO116
        if self.version == FORMAT_GO120:
            self._func_size = 44
            self._inline_layout = _INL_GO120
        elif self.version == FORMAT_GO118:
            self._func_size = 40
            self._inline_layout = _INL_GO112
        elif self.version == FORMAT_GO116:
            self._func_size = ptr + 36
            self._inline_layout = _INL_GO112
        else:
            self._func_size = ptr + 32
            if version is not None and version[:2] >= (1, 2):
                funcid_tail = version[:2] >= (1, 12)
            else:
                funcid_tail = self._looks_like_funcid_tail()
            self._funcid_tail = funcid_tail
            if version is None:
                # Without build info (added in 1.13) the binary is at most 1.12.
                version = (1, 12, 0) if funcid_tail else (1, 11, 0)
            if version[:2] >= (1, 13):
                self._inline_indexes = _INLINE_INDEXES_GO113
                self._inline_layout = _INL_GO112
            elif version[:2] >= (1, 12):
                self._inline_indexes = _INLINE_INDEXES_GO19
                self._inline_layout = _INL_GO112
            elif version[:2] >= (1, 9):
                self._inline_indexes = _INLINE_INDEXES_GO19
                self._inline_layout = _INL_GO19
            else:
                self._inline_layout = _INL_NONE
        # Go 1.21 changed how names print: funcNameForPrint (runtime/traceback.go)
        # elides shape arguments and moduledata.funcName maps offset 0 to "".
        # An unknown 1.20+ binary is assumed to be 1.21 or later.
        if self.version == FORMAT_GO120:
            self._since_go121 = version is None or version[:2] >= (1, 21)
        else:
            self._since_go121 = False
        self._since_go127 = self._since_go121 and (version is None or version[:2] >= (1, 27))

    def _looks_like_funcid_tail(self) -> bool:
        """Go 1.2–1.11 end _func with ``nfuncdata int32``; 1.12–1.15 with
        ``funcID uint8, _ [2]int8, nfuncdata uint8`` (runtime/runtime2.go).  On a
        little-endian table the old form keeps byte 3 zero while the new one has
        nfuncdata there (nearly every Go function has funcdata)."""
        if self.byte_order == "big":
            return True  # byte 3 is nfuncdata either way; funcID only matters for a few runtime funcs
        sample = range(0, self.nfunc, max(1, self.nfunc // 64))
        for index in sample:
            at = self._funcbase + self._funcoffs[index] + self.ptr_size + 28
            try:
                tail = self._bytes(at, 4)
            except CorruptDataError:
                continue
            if tail[3] != 0:
                return True
        return False

    # -- public API ------------------------------------------------------------
    @property
    def text_start(self) -> int:
        assert self._text_start is not None
        return self._text_start

    @property
    def text_end(self) -> int:
        return self._entries[self.nfunc] + self._entry_bias

    def __len__(self) -> int:
        return self.nfunc

    def __repr__(self) -> str:
        return f"Pclntab({self.version}, {self.nfunc} funcs at {self.address:#x})"

    def find_func(self, pc: int) -> Optional[Func]:
        """The function whose code contains ``pc`` (runtime findfunc), or None."""
        rel = pc - self._entry_bias
        entries = self._entries
        n = self.nfunc
        if rel < entries[0] or rel >= entries[n]:
            return None
        index = bisect_right(entries, rel, 0, n) - 1
        return self.func_at(index)

    def func_at(self, index: int) -> Func:
        func = self._funcs.get(index)
        if func is None:
            if not 0 <= index < self.nfunc:
                raise IndexError(index)
            func = Func(self, index)
            self._funcs[index] = func
        return func

    def funcs(self) -> Iterator[Func]:
        for index in range(self.nfunc):
            yield self.func_at(index)

    def function_columns(self) -> Optional["FunctionColumns"]:
        """Every function's entry, end, name and pcsp table, decoded in one pass
        (Go 1.18+ tables); None for older layouts, or when a record does not
        check out (then :meth:`funcs` decodes, and reports, each one)."""
        if self._func_record is None or self.version not in (FORMAT_GO118, FORMAT_GO120):
            return None
        count = self.nfunc
        offsets = self._funcoffs[:count]
        first = self._base + self._funcbase
        # runtime2.go _func (1.18+): entryOff uint32, nameOff int32, args, deferreturn, pcsp uint32.
        head = struct.Struct(self._bo + "Ii8xI")
        if not offsets or first + max(offsets) + self._func_size > self._limit:
            return None
        unpack, buf = head.unpack_from, self._buf
        records = [unpack(buf, first + offset) for offset in offsets]
        relative = self._entries
        if [record[0] for record in records] != relative[:count].tolist():
            return None
        bias = self._entry_bias
        known = self._names_by_offset()
        names: list[Optional[str]] = []
        for _entry, name_off, _pcsp in records:
            name = known.get(name_off)
            if name is None:
                try:
                    name = self._function_name(name_off)
                except CorruptDataError:
                    name = None
            names.append(name)
        return FunctionColumns(
            [value + bias for value in relative[:count]],
            [value + bias for value in relative[1 : count + 1]],
            names,
            [record[2] for record in records],
        )

    def func_by_name(self, name: str) -> Optional[Func]:
        """The function with symbol name ``name`` (an index is built on first use,
        unless a few lookups find their name without it)."""
        if self._names is None and self._direct_lookups < _DIRECT_NAME_LOOKUPS:
            self._direct_lookups += 1
            index = self._lookup_without_index(name)
            if index is not None:
                return None if index < 0 else self.func_at(index)
        if self._names is None:
            names: dict[str, int] = {}
            name_at = self._name_off_position()
            known = self._names_by_offset()
            # _read_i32 inlined (its bounds check included): this runs for every function.
            unpack, buf, base, limit = self._i32.unpack_from, self._buf, self._base, self._limit
            funcoffs, first = self._funcoffs, self._funcbase + name_at
            for index in range(self.nfunc):
                at = first + funcoffs[index]
                try:
                    if at < 0 or base + at + 4 > limit:
                        self._check(at, 4)  # raises
                    name_off = unpack(buf, base + at)[0]
                    listed = known.get(name_off)
                    names.setdefault(self._function_name(name_off) if listed is None else listed, index)
                except CorruptDataError:
                    continue
            self._names = names
        found = self._names.get(name)
        return None if found is None else self.func_at(found)

    def _lookup_without_index(self, name: str) -> Optional[int]:
        """Index of the first function named ``name`` (-1: none), found by
        searching the name bytes and then the functions' name offsets, without
        decoding every name; None when this shortcut does not apply."""
        try:
            # A name with U+FFFD may stand for undecodable bytes: only the index matches those.
            encoded = name.encode() if "\ufffd" not in name else b""
        except UnicodeEncodeError:
            return None
        if not encoded or b"\0" in encoded or len(encoded) >= _MAX_NAME or self.version == FORMAT_GO12:
            return None
        needle = encoded + b"\0"
        region = self._base + self._funcnametab
        if not 0 <= self._funcnametab or region >= self._limit:
            return None
        offsets: set[int] = set()
        at = self._buf.find(needle, region, self._limit)
        while at >= 0 and len(offsets) < 64:
            offsets.add(at - region)
            at = self._buf.find(needle, at + len(needle), self._limit)
        if at >= 0:
            return None  # the name is everywhere: let the index sort it out
        if not offsets:
            return -1
        unpack, buf, base, limit = self._i32.unpack_from, self._buf, self._base, self._limit
        first = self._funcbase + self._name_off_position()
        funcoffs = self._funcoffs
        for index in range(self.nfunc):
            at = first + funcoffs[index]
            if at < 0 or base + at + 4 > limit:
                continue  # unreadable: the index skips it too
            if unpack(buf, base + at)[0] in offsets:
                return index
        return -1

    def _names_by_offset(self) -> dict[int, str]:
        """Name offset -> name for each NUL-terminated string of funcnametab
        (Go 1.16+, where the names have their own region before cutab), read
        as :meth:`_function_name` would but in one pass: indexing a Debian
        binary's 54,000 names one ``_cstring`` at a time took 0.13 s."""
        if self.version == FORMAT_GO12 or not 0 <= self._funcnametab < self._cutab:
            return {}
        start = self._base + self._funcnametab
        end = min(self._base + self._cutab, self._limit)
        if end <= start:
            return {}
        pieces = bytes(self._buf[start:end]).split(b"\0")
        pieces.pop()  # after the last NUL: not terminated inside the region
        out: dict[int, str] = {}
        offset = 0
        for piece in pieces:
            if len(piece) < _MAX_NAME:
                out[offset] = piece.decode("utf-8", "replace")
            offset += len(piece) + 1
        return out

    def source_frames(self, pc: int) -> list[SourceFrame]:
        """The logical frames at ``pc``: innermost inlined call first, the physical
        function last, with the names and file:line runtime.traceback prints.

        ``pc`` is looked up as given: for a caller frame pass the return address
        minus one (the traceback's ``tracepc``), for the innermost frame of a
        trap the faulting pc.  Wrapper and runtime frames are not elided; use
        ``func_id`` and the names to filter like the traceback's ``showframe``.
        An empty list means no function contains ``pc``.
        """
        func = self.find_func(pc)
        if func is None:
            return []
        frames: list[SourceFrame] = []
        if self._inline_layout == _INL_GO19:
            return self._source_frames_go19(func, pc)
        tracepc = pc
        tree = self._inline_tree(func)
        if tree is not None:
            pcdata_index = self._inline_indexes[0]
            for _ in range(_MAX_INLINE_DEPTH):
                index = func.pcdata(pcdata_index, tracepc)
                if index < 0:
                    break
                call = self._inlined_call(tree, index)
                file, line = func.file_line(tracepc)
                raw = self._function_name(call.name_off)
                shown = self._runtime_name(raw, call.name_off, inlined=True)
                frames.append(SourceFrame(shown, file, line, True, func.entry, raw, call.func_id))
                # runtime/symtabinl.go (1.21+) and traceback.go (1.12–1.20): back up to an
                # instruction in the caller whose position is the call site.
                tracepc = func.entry + call.parent_pc
            else:
                raise CorruptDataError(f"inline tree of {func.name} loops")
        file, line = func.file_line(tracepc)
        shown = self._runtime_name(func.name, func.name_off, inlined=False)
        frames.append(SourceFrame(shown, file, line, False, func.entry, func.name, func.func_id))
        return frames

    def _source_frames_go19(self, func: Func, pc: int) -> list[SourceFrame]:
        """Go 1.9–1.11 traceback.go: the innermost position comes from the pc; each
        outer frame's position is the call site recorded in the inline tree."""
        frames: list[SourceFrame] = []
        file, line = func.file_line(pc)
        tree = self._inline_tree(func)
        if tree is not None:
            index = func.pcdata(self._inline_indexes[0], pc)
            for _ in range(_MAX_INLINE_DEPTH):
                if index < 0:
                    break
                call = self._inlined_call(tree, index)
                raw = self._function_name(call.name_off)
                frames.append(SourceFrame(raw, file, line, True, func.entry, raw, call.func_id))
                file = self._file_by_index(func, call.file) if call.file >= 0 else "?"
                line = call.line
                index = call.parent
            else:
                raise CorruptDataError(f"inline tree of {func.name} loops")
        shown = self._runtime_name(func.name, func.name_off, inlined=False)
        frames.append(SourceFrame(shown, file, line, False, func.entry, func.name, func.func_id))
        return frames

    # -- decoding --------------------------------------------------------------
    def _check(self, offset: int, size: int) -> int:
        at = self._base + offset
        if offset < 0 or size < 0 or at + size > self._limit:
            raise CorruptDataError(f"pclntab at {self.address:#x}: offset {offset:#x} out of range")
        return at

    def _bytes(self, offset: int, size: int) -> bytes:
        at = self._check(offset, size)
        return bytes(self._buf[at : at + size])

    def _read_u32(self, offset: int) -> int:
        return self._u32.unpack_from(self._buf, self._check(offset, 4))[0]

    def _read_i32(self, offset: int) -> int:
        return self._i32.unpack_from(self._buf, self._check(offset, 4))[0]

    def _read_ptr(self, offset: int) -> int:
        return self._ptr.unpack_from(self._buf, self._check(offset, self.ptr_size))[0]

    def _cstring(self, offset: int) -> str:
        at = self._check(offset, 1)
        stop = self._buf.find(b"\0", at, min(self._limit, at + _MAX_NAME))
        if stop < 0:
            raise CorruptDataError(f"pclntab at {self.address:#x}: unterminated string at offset {offset:#x}")
        return bytes(self._buf[at:stop]).decode("utf-8", "replace")

    def _name_off_position(self) -> int:
        """Offset of nameOff within _func: after entryOff (uint32) on 1.18+, after entry (uintptr) before."""
        return 4 if self.version in (FORMAT_GO118, FORMAT_GO120) else self.ptr_size

    def _decode_func(self, func: Func) -> None:
        index = func.index
        at = self._funcbase + self._funcoffs[index]
        listed_entry = self._entries[index] + self._entry_bias
        func.end = self._entries[index + 1] + self._entry_bias
        func.start_line = None
        func.cu_offset = 0
        func.flags = 0
        record = self._func_record
        if record is not None:
            # runtime2.go _func (1.18+): entryOff, nameOff, args, deferreturn, pcsp, pcfile,
            # pcln, npcdata, cuOffset, [startLine (1.20+)], funcID, flag, _, nfuncdata.
            # Unpacked in place with one precompiled Struct: every function
            # symbolized or unwound is decoded here.
            fields = record.unpack_from(self._buf, self._check(at, self._func_size))
            (
                entry_off,
                func.name_off,
                func.args,
                func.deferreturn,
                func.pcsp,
                func.pcfile,
                func.pcln,
                func.npcdata,
                func.cu_offset,
            ) = fields[:9]
            if self.version == FORMAT_GO120:
                func.start_line = fields[9]
            func.func_id, func.flags, _, func.nfuncdata = fields[-4:]
            entry = entry_off + self._entry_bias
        else:
            raw = self._bytes(at, self._func_size)
            bo = self._bo
            ptr = self.ptr_size
            entry = self._ptr.unpack_from(raw, 0)[0]
            if self.version == FORMAT_GO116:
                # runtime2.go _func (1.16–1.17): entry, nameoff, args, deferreturn, pcsp, pcfile,
                # pcln, npcdata, cuOffset, funcID, flag (1.17; pad on 1.16), _, nfuncdata.
                (
                    func.name_off,
                    func.args,
                    func.deferreturn,
                    func.pcsp,
                    func.pcfile,
                    func.pcln,
                    func.npcdata,
                    func.cu_offset,
                ) = struct.unpack_from(bo + "iiIIIIII", raw, ptr)
                func.func_id, func.flags, _, func.nfuncdata = raw[ptr + 32 : ptr + 36]
            else:
                # runtime2.go _func (1.2–1.15): entry, nameoff, args, frame/unused/deferreturn
                # (1.14+), pcsp, pcfile, pcln, npcdata, then nfuncdata int32 (≤1.11) or
                # funcID uint8, _ [2]int8, nfuncdata uint8 (1.12+).
                (func.name_off, func.args, func.deferreturn, func.pcsp, func.pcfile, func.pcln, func.npcdata) = (
                    struct.unpack_from(bo + "iiIIIII", raw, ptr)
                )
                if self._funcid_tail:
                    func.func_id, _, _, func.nfuncdata = raw[ptr + 28 : ptr + 32]
                else:
                    func.func_id = 0
                    func.nfuncdata = struct.unpack_from(bo + "i", raw, ptr + 28)[0]
        if entry != listed_entry:
            raise CorruptDataError(
                f"pclntab at {self.address:#x}: function {index} entry {entry:#x} != table entry {listed_entry:#x}"
            )
        func.entry = entry
        if not (0 <= func.npcdata <= _MAX_PCDATA and 0 <= func.nfuncdata <= _MAX_PCDATA):
            raise CorruptDataError(f"pclntab at {self.address:#x}: function {index} has implausible pcdata counts")
        func._pcdata_at = at + self._func_size
        funcdata_at = func._pcdata_at + 4 * func.npcdata
        if self.version not in (FORMAT_GO118, FORMAT_GO120):
            # Pointer-sized funcdata are aligned (runtime/symtab.go funcdata before 1.18).
            absolute = self.address + funcdata_at
            funcdata_at += (-absolute) % self.ptr_size
        func._funcdata_at = funcdata_at

    def _pcdata_offset(self, func: Func, table_index: int) -> int:
        return self._read_u32(func._pcdata_at + 4 * table_index)

    def _funcdata_address(self, func: Func, index: int) -> Optional[int]:
        if self.version in (FORMAT_GO118, FORMAT_GO120):
            off = self._read_u32(func._funcdata_at + 4 * index)
            if off == 0xFFFFFFFF:  # runtime/symtab.go funcdata: ^uint32(0) means "no value"
                return None
            if self.gofunc is None:
                raise UnsupportedError("funcdata unavailable: moduledata.gofunc not found")
            return self.gofunc + off
        value = self._read_ptr(func._funcdata_at + self.ptr_size * index)
        return value or None

    def _function_name(self, name_off: int) -> str:
        if name_off < 0:
            raise CorruptDataError(f"pclntab at {self.address:#x}: negative name offset")
        return self._cstring(self._funcnametab + name_off)

    def _print_name(self, name: str) -> str:
        return func_name_for_print(name, self._since_go127) if self._since_go121 else name

    def _runtime_name(self, name: str, name_off: int, inlined: bool) -> str:
        """The name as the runtime prints it.  Name offset 0 reads as "" for a
        physical function in every release (runtime/symtab.go cfuncname) and, from
        Go 1.21, for inlined calls too (moduledata.funcName); the function whose
        name happens to sit at offset 0 of funcnametab is printed nameless."""
        if name_off == 0 and (not inlined or self._since_go121):
            return ""
        return self._print_name(name)

    def _file_name(self, func: Func, fileno: int) -> str:
        if self.version == FORMAT_GO12:
            # go1.2–1.15 funcline1: fileno indexes the global filetab (entry 0 is the count).
            if fileno >= self.nfiles or fileno < 0:
                return "?"
            return self._cstring(self._read_u32(self._filetab + 4 * fileno))
        # 1.16+ funcline1 rejects fileno >= len(filetab); funcfile maps it through the CU table.
        if fileno < 0 or fileno >= self._pctab - self._filetab:
            return "?"
        slot = self._cutab + 4 * (func.cu_offset + fileno)
        if slot + 4 > self._filetab:
            raise CorruptDataError(f"pclntab at {self.address:#x}: compile-unit index out of range")
        fileoff = self._read_u32(slot)
        if fileoff == 0xFFFFFFFF:
            return "?"
        return self._cstring(self._filetab + fileoff)

    def _file_by_index(self, func: Func, fileno: int) -> str:
        return self._file_name(func, fileno)

    def _pcvalue(self, func: Func, offset: int, pc: int) -> int:
        """runtime pcvalue: the value of the pc-value table at ``offset`` for ``pc`` (-1 if none)."""
        if offset == 0:
            return -1
        decoded = self._values.get(offset)
        if decoded is None:
            decoded = self.decode_values(func, offset)
        ends, values = decoded
        position = bisect_right(ends, pc - func.entry)
        if position >= len(ends):
            return -1
        return values[position]

    def decode_values(self, func: Func, offset: int) -> tuple[array, array]:
        """Decode the whole pc-value table at ``offset`` of ``func`` (the runtime's
        step): two arrays, the end of each run (pc - entry) and its value.  For
        callers that want every run (symfile's CFI), not one pc's value."""
        ends, values = self.decode_table(offset, func.end - func.entry)
        decoded = array("q", ends), array("q", values)
        if len(self._values) >= _VALUE_CACHE_ENTRIES:
            self._values.clear()
        self._values[offset] = decoded
        return decoded

    def decode_table(self, offset: int, span: int) -> tuple[list[int], list[int]]:
        """:meth:`decode_values` for a function of ``span`` bytes, as lists and
        without keeping the result (a caller decoding every table keeps its own)."""
        buf = self._buf
        at = self._check(self._pctab + offset, 1)
        limit = self._limit
        quantum = self.quantum
        # Every step but a leading one advances the pc by ≥1 quantum.
        max_steps = span // quantum + 2
        ends: list[int] = []
        values: list[int] = []
        pc = 0
        value = -1
        # The two varints of each step are decoded inline (one byte each, nearly
        # always), not with goext_core.binary.leb128.read_uleb128: this loop runs
        # for every function unwound or symbolized, and a call per varint made
        # decoding it about 1.7x slower (all pcsp tables of a Debian Go binary,
        # 8,201 functions: 36 ms inline, 60 ms with calls).
        for _ in range(max_steps):
            if at >= limit:
                raise CorruptDataError(f"pclntab at {self.address:#x}: pc-value table runs past the end")
            uvdelta = buf[at]
            at += 1
            if uvdelta & 0x80:  # two bytes for frame sizes from 64 bytes on
                if at < limit and buf[at] < 0x80:
                    uvdelta = (uvdelta & 0x7F) | buf[at] << 7
                    at += 1
                else:
                    uvdelta, at = self._varint_rest(uvdelta, at)
                    uvdelta &= 0xFFFFFFFF
            if uvdelta == 0 and pc != 0:
                break  # end of table (runtime step: uvdelta == 0 && !first)
            if at >= limit:
                raise CorruptDataError(f"pclntab at {self.address:#x}: pc-value table runs past the end")
            pcdelta = buf[at]
            at += 1
            if pcdelta & 0x80:
                if at < limit and buf[at] < 0x80:
                    pcdelta = (pcdelta & 0x7F) | buf[at] << 7
                    at += 1
                else:
                    pcdelta, at = self._varint_rest(pcdelta, at)
            # val += int32(-(uvdelta & 1) ^ (uvdelta >> 1))
            value += (uvdelta >> 1) ^ -(uvdelta & 1)
            if not _INT32_MIN <= value < -_INT32_MIN:
                value = (value - _INT32_MIN) % (1 << 32) + _INT32_MIN
            pc += (pcdelta * quantum) & 0xFFFFFFFF
            ends.append(pc)
            values.append(value)
        return ends, values

    def _varint_rest(self, first: int, at: int) -> tuple[int, int]:
        """The value of a varint whose first byte ``first`` (continuation bit
        set) was read just before ``at``, and the offset after it."""
        buf, limit = self._buf, self._limit
        result = first & 0x7F
        shift = 7
        byte = first
        while byte & 0x80:
            if at >= limit or shift > 28:
                raise CorruptDataError(f"pclntab at {self.address:#x}: bad varint in pc-value table")
            byte = buf[at]
            at += 1
            result |= (byte & 0x7F) << shift
            shift += 7
        return result, at

    # -- inline tree -------------------------------------------------------------
    def _inline_tree(self, func: Func) -> Optional[int]:
        if self._inline_layout == _INL_NONE:
            return None
        try:
            return func.funcdata_address(self._inline_indexes[1])
        except UnsupportedError:
            # Go 1.18+ without moduledata.gofunc: frames come out without their
            # inlined callees rather than not at all.
            self.inline_info_missing = True
            return None

    def _inlined_call(self, tree: int, index: int) -> _InlinedCall:
        layout = self._inline_layout
        size = 16 if layout in (_INL_GO120, _INL_GO19) else 20
        address = tree + index * size
        raw = self._read_image(address, size)
        bo = self._bo
        if layout == _INL_GO120:
            func_id = raw[0]
            name_off, parent_pc, start_line = struct.unpack_from(bo + "iii", raw, 4)
            return _InlinedCall(-1, func_id, -1, 0, name_off, parent_pc, start_line)
        if layout == _INL_GO112:
            parent, func_id = struct.unpack_from(bo + "hB", raw, 0)
            file, line, name_off, parent_pc = struct.unpack_from(bo + "iiii", raw, 4)
            return _InlinedCall(parent, func_id, file, line, name_off, parent_pc, 0)
        parent, file, line, name_off = struct.unpack_from(bo + "iiii", raw, 0)
        return _InlinedCall(parent, 0, file, line, name_off, 0, 0)

    def _read_image(self, address: int, size: int) -> bytes:
        """Bytes at a link-time address: from the table when inside it, else via read_memory."""
        offset = address - self.address
        if 0 <= offset and self._base + offset + size <= self._limit:
            return self._bytes(offset, size)
        if self._read_memory is None:
            raise UnsupportedError(f"cannot read {size} bytes at {address:#x}: no memory reader")
        try:
            data = self._read_memory(address, size)
        except MemoryReadError as exc:
            raise CorruptDataError(f"pclntab funcdata at {address:#x} is unreadable: {exc}") from None
        if len(data) != size:
            raise CorruptDataError(f"pclntab funcdata at {address:#x} is truncated")
        return data


# -- locating the table in a binary ------------------------------------------------

_SECTION_NAMES = (".gopclntab", ".data.rel.ro.gopclntab")
_MAGIC_BYTES = tuple(
    (magic.to_bytes(4, order), order)
    for magic in (MAGIC_GO120, MAGIC_GO118, MAGIC_GO116, MAGIC_GO12)
    for order in ("little", "big")
)


def _has_magic(binary: "GoBinary", address: int) -> bool:
    try:
        head = binary.read_static(address, 8)
    except (MemoryReadError, CorruptDataError):
        return False
    return any(head[:4] == magic for magic, _ in _MAGIC_BYTES) and head[4:6] == b"\0\0"


def _extent(binary: "GoBinary", address: int) -> Optional[int]:
    """End of the file-backed bytes of the segment holding ``address``."""
    seg = binary.segment_for(address)
    if seg is None:
        return None
    return seg.vaddr + min(seg.filesz, seg.memsz)


def _locate_table(binary: "GoBinary", go_version: Optional[GoVersion]) -> Optional[tuple[int, int]]:
    for name in _SECTION_NAMES:
        section = binary.section(name)
        if section is not None and section.type != "SHT_NOBITS" and section.size >= 16 and section.address:
            if _has_magic(binary, section.address):
                return section.address, section.address + section.size
    for name in ("runtime.pcheader", "runtime.pclntab"):
        address = binary.symbol(name)
        if address and _has_magic(binary, address):
            end = binary.symbol("runtime.epclntab")
            limit = _extent(binary, address)
            if limit is None:
                continue
            return address, end if end and address < end <= limit else limit
    for moduledata in _moduledata_candidates(binary):
        try:
            pointer = binary.read_ptr(moduledata)
        except (MemoryReadError, CorruptDataError):
            continue
        if pointer and _has_magic(binary, pointer):
            limit = _extent(binary, pointer)
            if limit is not None:
                return pointer, limit
    return _scan_for_table(binary, go_version)


def _moduledata_candidates(binary: "GoBinary") -> Iterator[int]:
    address = binary.symbol("runtime.firstmoduledata")
    if address:
        yield address
    section = binary.section(".go.module")  # Go 1.26+: cmd/link/internal/ld/data.go
    if section is not None and section.address:
        yield section.address


def _guess_text_start(binary: "GoBinary") -> Optional[int]:
    address = binary.symbol("runtime.text")
    if address:
        return address
    text = binary.text_range()
    return text[0] if text else None


def _scan_for_table(binary: "GoBinary", go_version: Optional[GoVersion]) -> Optional[tuple[int, int]]:
    """Bounded scan of the non-executable file-backed segments for a plausible table."""
    data = binary.mapped
    budget = _MAX_SCAN
    segments = sorted(binary.segments, key=lambda s: (s.executable, s.writable))
    for seg in segments:
        size = min(seg.filesz, seg.memsz, budget)
        if size < 16 or seg.offset + size > len(data):
            continue
        budget -= size
        start, end = seg.offset, seg.offset + size
        for magic, _ in _MAGIC_BYTES:
            cursor = start
            while cursor < end:
                hit = data.find(magic, cursor, end)
                if hit < 0:
                    break
                cursor = hit + 1
                if (hit - seg.offset) % 4:
                    continue
                address = seg.vaddr + (hit - seg.offset)
                limit = seg.vaddr + size
                if _plausible_table(binary, hit, seg.offset + size, address, go_version):
                    return address, limit
        if budget <= 0:
            break
    return None


def _plausible_table(binary: "GoBinary", base: int, limit: int, address: int, go_version: Optional[GoVersion]) -> bool:
    head = binary.mapped[base : base + 8]
    if head[4:6] != b"\0\0" or head[6] not in (1, 2, 4) or head[7] not in (4, 8):
        return False
    if head[7] != binary.ptr_size:
        return False
    try:
        table = Pclntab(
            binary.mapped,
            base,
            limit,
            address,
            read_memory=binary.read_static,
            go_version=go_version,
            text_start=_guess_text_start(binary),
        )
        first = table.func_at(0)
    except (CorruptDataError, UnsupportedError, IndexError):
        return False
    return binary.is_executable_address(first.entry) and binary.is_executable_address(table.text_end - 1)


# -- moduledata ------------------------------------------------------------------

# Word indexes into runtime.moduledata (runtime/symtab.go of each release).
# 1.16+: pcHeader, funcnametab/cutab/filetab/pctab/pclntable/ftab slices (3 words
# each), findfunctab, minpc, maxpc, text (word 22).  1.2–1.15: pclntable, ftab,
# filetab slices, findfunctab, minpc, maxpc, text (word 12).
_MD_TEXT_GO116 = 22
_MD_TEXT_GO12 = 12
_MD_FTAB_GO116 = 16
_MD_FUNCNAMETAB_GO116 = 1
_MD_FTAB_GO12 = 3
# moduledata.gofunc: go1.18–1.19 word 38; go1.20–1.26 word 40 (covctrs/ecovctrs
# added in 1.20); go1.27 word 43 (types gained typedesclen; itaboffset/itabsize).
_MD_GOFUNC_GO118 = 38
_MD_GOFUNC_GO120 = 40
_MD_GOFUNC_GO127 = 43
# In 1.27 the word after the 1.20–1.26 gofunc slot is itabsize (a count); in
# 1.20–1.26 it is a pointer (textsectmap.ptr or epclntab).
_MD_GO127_PROBE = 41


def _moduledata_matches(binary: "GoBinary", table: Pclntab, address: int) -> bool:
    ptr = binary.ptr_size
    try:
        if table.version == FORMAT_GO12:
            if binary.read_ptr(address) != table.address:
                return False
            return binary.read_ptr(address + _MD_FTAB_GO12 * ptr) == table.address + table._functab
        if binary.read_ptr(address) != table.address:
            return False
        funcnametab = binary.read_ptr(address + _MD_FUNCNAMETAB_GO116 * ptr)
        ftab = binary.read_ptr(address + _MD_FTAB_GO116 * ptr)
        return funcnametab == table.address + table._funcnametab and ftab == table.address + table._functab
    except (MemoryReadError, CorruptDataError):
        return False


def _find_moduledata(binary: "GoBinary", table: Pclntab) -> Optional[int]:
    for candidate in _moduledata_candidates(binary):
        if _moduledata_matches(binary, table, candidate):
            return candidate
    # Bounded scan of the writable data for a word pointing at the table.
    needle = table.address.to_bytes(binary.ptr_size, binary.byte_order)
    data = binary.mapped
    budget = _MAX_MODULEDATA_SCAN
    for seg in binary.segments:
        if not seg.writable or budget <= 0:
            continue
        size = min(seg.filesz, seg.memsz, budget)
        budget -= size
        start, end = seg.offset, min(seg.offset + size, len(data))
        cursor = start
        while cursor < end:
            hit = data.find(needle, cursor, end)
            if hit < 0:
                break
            cursor = hit + 1
            if (hit - seg.offset) % binary.ptr_size:
                continue
            address = seg.vaddr + (hit - seg.offset)
            if _moduledata_matches(binary, table, address):
                return address
    return None


def _resolve_text_start(binary: "GoBinary", table: Pclntab, moduledata: Optional[int]) -> Optional[int]:
    ptr = binary.ptr_size
    if table.version in (FORMAT_GO118, FORMAT_GO120):
        header_text = table._read_ptr(8 + 2 * ptr)  # pcHeader.textStart (zero on Go 1.26+)
        if header_text and binary.is_executable_address(header_text):
            return header_text
    if moduledata is not None:
        word = _MD_TEXT_GO12 if table.version == FORMAT_GO12 else _MD_TEXT_GO116
        try:
            text = binary.read_ptr(moduledata + word * ptr)
        except (MemoryReadError, CorruptDataError):
            text = 0
        if text and binary.is_executable_address(text):
            return text
    if table.version in (FORMAT_GO12, FORMAT_GO116):
        return None  # entries are absolute; Pclntab uses the first entry
    return _guess_text_start(binary)


def _resolve_gofunc(
    binary: "GoBinary", table: Pclntab, moduledata: Optional[int], go_version: Optional[GoVersion]
) -> Optional[int]:
    if table.version not in (FORMAT_GO118, FORMAT_GO120):
        return None
    for name in ("go:func.*", "go.func.*"):
        address = binary.symbol(name)
        if address:
            return address
    if moduledata is None:
        return None
    ptr = binary.ptr_size
    if table.version == FORMAT_GO118:
        word = _MD_GOFUNC_GO118
    elif go_version is not None:
        word = _MD_GOFUNC_GO127 if go_version[:2] >= (1, 27) else _MD_GOFUNC_GO120
    else:
        try:
            probe = binary.read_ptr(moduledata + _MD_GO127_PROBE * ptr)
        except (MemoryReadError, CorruptDataError):
            probe = 0
        word = _MD_GOFUNC_GO127 if probe < 0x10000 else _MD_GOFUNC_GO120
    try:
        gofunc = binary.read_ptr(moduledata + word * ptr)
    except (MemoryReadError, CorruptDataError):
        return None
    if gofunc and binary.segment_for(gofunc) is not None:
        return gofunc
    return None


__all__ = [
    "FORMAT_GO12",
    "FORMAT_GO116",
    "FORMAT_GO118",
    "FORMAT_GO120",
    "FUNCDATA_INL_TREE",
    "FUNC_FLAG_ASM",
    "FUNC_FLAG_SPWRITE",
    "FUNC_FLAG_TOPFRAME",
    "Func",
    "FunctionColumns",
    "PCDATA_INL_TREE_INDEX",
    "PCDATA_STACK_MAP_INDEX",
    "PCDATA_UNSAFE_POINT",
    "Pclntab",
    "SourceFrame",
    "func_name_for_print",
]
