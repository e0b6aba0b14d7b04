"""A small ELF symbol file made from pclntab, for debuggers looking at a stripped Go binary.

``go build -ldflags=-s -w`` (and every Debian package) drops ``.symtab`` and
DWARF, so gdb's own ``bt``, ``info symbol`` and ``break FUNC`` see nothing.
The function table the runtime itself uses (pclntab) survives stripping; this
module writes its functions as ``STT_FUNC`` symbols into a minimal ELF file,
and on amd64 a ``.debug_frame`` derived from the pcsp tables (the same CFA
rules the Go linker writes into an unstripped binary), so the debugger's own
unwinder walks Go frames and, through the signal trampoline, past a crash.

The file holds no code: every allocated section of the executable is repeated
as ``SHT_NOBITS`` at its link address, with the executable's entry point, so
gdb accepts the file as the executable's separate debug file
(``Objfile.add_separate_debug_file``; PIE offsets follow the executable) and
lldb with ``target symbols add -s EXE FILE``.  A GNU build-id is copied when
the executable has one.  In gdb's file, functions the executable's ``.dynsym``
already names alike (a Go program that imports ``plugin`` exports them all)
get CFI but no symbol: gdb reads those itself (lldb, given a symbol file,
shows the file's symbols instead of the executable's: its file keeps them).

Large binaries have 50,000+ functions, and the file is built on the first
command: the function table is read in one pass
(:meth:`Pclntab.function_columns`), each distinct pcsp table is decoded once,
functions sharing a table share their FDE instructions, and the symbol table
is packed a field at a time.

Files are written once per executable into the cache directory
(:func:`symbol_cache_dir`), named by build-id or by path, size and mtime.
"""

from __future__ import annotations

import os
import struct
import sys
from array import array
from bisect import bisect_left
from dataclasses import dataclass
from functools import partial
from itertools import accumulate
from typing import TYPE_CHECKING, Callable, Iterable, NamedTuple, Optional

from goext_core.binary.diskindex import cached_file_name, goext_cache_dir, write_cached_file
from goext_core.binary.leb128 import encode_sleb128, encode_uleb128, read_uleb128
from goext_core.binary.pclntab import Func, Pclntab
from goext_core.collector import collector_paused
from goext_core.errors import CorruptDataError, GoextError, UnsupportedError
from goext_core.target import ByteOrder
from goext_core.textsafe import safe_field

if TYPE_CHECKING:
    from goext_core.binary.elf import GoBinary

# ELF constants (System V gABI, elf.h).
_ET_EXEC = 2
_EV_CURRENT = 1
_SHT_PROGBITS = 1
_SHT_SYMTAB = 2
_SHT_STRTAB = 3
_SHT_NOTE = 7
_SHT_NOBITS = 8
_SHF_ALLOC = 0x2
_SHF_EXECINSTR = 0x4
_STB_GLOBAL = 1
_STT_FUNC = 2
_SHN_ABS = 0xFFF1
_NT_GNU_BUILD_ID = 3

_EM_BY_GOARCH = {
    "amd64": 62,
    "386": 3,
    "arm64": 183,
    "arm": 40,
    "riscv64": 243,
    "ppc64": 21,
    "ppc64le": 21,
    "s390x": 22,
    "loong64": 258,
    "mips": 8,
    "mips64": 8,
    "mipsle": 8,
    "mips64le": 8,
}

# A Go binary has at most a few hundred thousand functions; a pclntab that
# claims more is corrupt and must not make us write gigabytes.
_MAX_FUNCTIONS = 2_000_000
# Bump when the file layout changes, so cached files are rewritten.
_FORMAT_VERSION = 11


class FunctionSymbol(NamedTuple):
    """One function of the symbol file (a tuple: a large binary has 50,000+ of them)."""

    name: str
    address: int  # link-time entry
    size: int
    # pcsp runs: (end offset from entry, bytes pushed before that end); empty when unknown
    frame_runs: tuple[tuple[int, int], ...] = ()
    # Offset from entry from which the caller's frame pointer is saved at CFA-16
    # (while the frame is set up); None: the function saves none, or we cannot tell.
    frame_pointer_saved_from: Optional[int] = None


@dataclass(frozen=True)
class MirroredSection:
    """An allocated section of the executable, repeated (as SHT_NOBITS) in the symbol file."""

    name: str
    address: int
    size: int
    flags: int


# Functions that must get no CFI: gdb recognizes the signal return trampoline
# by name ("sigaction" in it) and by its instructions, and only when no FDE
# claims the frame first (src/runtime/sys_linux_amd64.s sigreturn__sigaction).
_NO_CFI = frozenset({"runtime.sigreturn__sigaction", "runtime.sigreturn"})
_RENAMED = {"runtime.sigreturn": "runtime.sigreturn__sigaction"}
# The signal restorer (its name here, after _RENAMED): it gets an FDE of its
# own that restores the interrupted registers from the signal frame.
SIGNAL_RESTORER = "runtime.sigreturn__sigaction"
# Where a stack starts: the runtime's traceback stops at these too
# (src/runtime/symtab.go: abi.FuncID_goexit, FuncID_mstart, FuncID_rt0_go).
_OUTERMOST = frozenset(
    {
        "runtime.goexit",
        "runtime.mstart",
        "runtime.rt0_go",
        "runtime.goexit.abi0",
        "runtime.mstart.abi0",
        "runtime.rt0_go.abi0",
    }
)
# The functions whose frames a goext unwinder in the debugger leaves to the
# symbol file's CFI: where stacks end (the CFI says the return address is
# undefined) and the signal restorer (the CFI restores the interrupted
# registers, and marks the frame a signal frame for the debugger).
DEBUGGER_UNWOUND = _OUTERMOST | {SIGNAL_RESTORER}


def function_symbols(
    pclntab: "Pclntab",
    with_frames: bool = False,
    read_code: Optional[Callable[[int, int], Optional[bytes]]] = None,
    frames_only_for: Optional[frozenset[str]] = None,
) -> list[FunctionSymbol]:
    """Every pclntab function as (name, link-time entry, size), in address order;
    with ``with_frames`` also its pcsp runs (for CFI; with ``frames_only_for``,
    only for the functions named there), and with ``read_code`` (link address,
    size -> the executable's bytes) where it saves the frame pointer."""
    if len(pclntab) > _MAX_FUNCTIONS:
        raise UnsupportedError(f"pclntab lists {len(pclntab)} functions: too many to export")
    symbols: list[FunctionSymbol] = []
    # The linker shares identical pc-value tables between functions (a large
    # Debian binary: 54,000 functions, 21,000 distinct pcsp tables): decode each once.
    # Keyed with the size too: the decoder's step bound depends on it.  The
    # value: the runs, and where the first push ends (see _frame_pointer_check).
    runs_by_table: dict[tuple[int, int], tuple[tuple[tuple[int, int], ...], int, int]] = {}
    append = symbols.append
    names, entries, ends, pcsps = _function_columns(pclntab)
    # Names that need a second look, found in one pass: the loop below runs
    # for every function of a large binary.
    all_printable = "".join(name or "" for name in names).isprintable()
    special = _NO_CFI | _RENAMED.keys()
    no_frames: tuple[tuple[int, int], ...] = ()
    for name, entry, end, pcsp in zip(names, entries, ends, pcsps):
        if not name or end <= entry:
            continue
        size = end - entry
        runs = no_frames
        saved_from: Optional[int] = None
        if name in special:
            if name in _RENAMED:
                # Before Go 1.20 the signal restorer was plain runtime.sigreturn; Go
                # renamed it runtime.sigreturn__sigaction so that gdb's amd64 Linux
                # sigtramp check ("sigaction" in the name) finds it.  Do the same.
                name = _RENAMED[name]
        elif with_frames and pcsp and (frames_only_for is None or name in frames_only_for):
            key = (pcsp, size)
            known = runs_by_table.get(key)
            if known is None:
                known = runs_by_table[key] = _frame_pointer_check(_frame_runs(pclntab, pcsp, size))
            runs, start, pushed = known
            if pushed and read_code is not None:
                saved_from = _amd64_frame_pointer_saved_at(start, pushed, entry, read_code)
        if not all_printable and not name.isprintable():
            # The debugger prints these names raw (bt, info symbol): a name made of
            # the target's bytes must not carry terminal controls or bidi characters.
            name = safe_field(name)
        append(_new_symbol((name, entry, size, runs, saved_from)))
    return symbols


# FunctionSymbol's own __new__ is Python code taking twice as long: this is
# the tuple constructor, for the 50,000+ symbols of a large binary.
_new_symbol: Callable[[tuple[str, int, int, tuple[tuple[int, int], ...], Optional[int]]], FunctionSymbol] = partial(
    tuple.__new__, FunctionSymbol
)


def _function_columns(pclntab: "Pclntab") -> tuple[list[Optional[str]], list[int], list[int], list[int]]:
    """Names (None when unreadable), entries, ends and pcsp offsets of every
    function, as four parallel lists."""
    columns = pclntab.function_columns()
    if columns is not None:
        return columns.names, columns.entries, columns.ends, columns.pcsp
    names: list[Optional[str]] = []
    entries: list[int] = []
    ends: list[int] = []
    pcsp: list[int] = []
    for func in pclntab.funcs():
        try:
            names.append(func.name)
        except GoextError:
            names.append(None)  # one unreadable name must not lose every other symbol
        entries.append(func.entry)
        ends.append(func.end)
        pcsp.append(func.pcsp)
    return names, entries, ends, pcsp


# The two amd64 prologues the Go compiler and assembler emit for a function
# with a frame (cmd/internal/obj/x86/obj6.go preprocess): since Go 1.21
# PUSHQ BP; MOVQ SP, BP; SUBQ $n, SP, before it SUBQ $n, SP; MOVQ BP, n-8(SP);
# LEAQ n-8(SP), BP.  Either way the caller's BP ends up at CFA-16.
_PUSH_RBP = 0x55
_MOV_RBP_TO_RSP_DISP8 = bytes([0x48, 0x89, 0x6C, 0x24])
_MOV_RBP_TO_RSP_DISP32 = bytes([0x48, 0x89, 0xAC, 0x24])


def _frame_pointer_check(runs: tuple[tuple[int, int], ...]) -> tuple[tuple[tuple[int, int], ...], int, int]:
    """(runs, start, pushed) of the first run that pushes anything (where the
    prologue has just set up the frame); pushed 0 when none does."""
    start = 0
    for end, pushed in runs:
        if pushed > 0:
            return runs, start, pushed
        start = end
    return runs, 0, 0


def _amd64_frame_pointer_saved_at(
    start: int, pushed: int, entry: int, read_code: Callable[[int, int], Optional[bytes]]
) -> Optional[int]:
    """The offset after the prologue instruction that stores the caller's BP,
    recognized by its bytes where the first push ends (``start``, with
    ``pushed`` bytes on the stack); None when the instruction is not one of
    the two forms (then the CFI says nothing about BP, as the Go linker's own
    CFI does)."""
    if pushed == 8:  # PUSHQ BP just before
        before = read_code(entry + start - 1, 1) if start else None
        return start if before is not None and before[0] == _PUSH_RBP else None
    code = read_code(entry + start, 8)
    if code is None:
        return None
    slot = pushed - 8
    if code[:4] == _MOV_RBP_TO_RSP_DISP8 and code[4] == slot:
        return start + 5
    if code[:4] == _MOV_RBP_TO_RSP_DISP32 and int.from_bytes(code[4:8], "little") == slot:
        return start + 8
    return None


def _frame_runs(pclntab: "Pclntab", pcsp: int, size: int) -> tuple[tuple[int, int], ...]:
    try:
        # The decoded pcsp table (runtime pcvalue's runs); Func only offers
        # point lookups, which would cost one binary search per instruction.
        ends, values = pclntab.decode_table(pcsp, size)
    except GoextError:
        return ()
    if values and min(values) < 0:
        return ()  # no frame information for part of the function
    return tuple(zip(ends, values))


def symbol_cache_dir() -> str:
    """``$GOEXT_CACHE_DIR/symbols``, else ``$XDG_CACHE_HOME/goext/symbols``, else ``~/.cache/goext/symbols``."""
    return os.path.join(goext_cache_dir(), "symbols")


def symbol_file_for(
    binary: "GoBinary",
    pclntab: Optional[Pclntab] = None,
    directory: Optional[str] = None,
    for_gdb: bool = False,
    unwound_by_goext: bool = False,
) -> str:
    """Path of the symbol file for ``binary`` (written on first use, then reused;
    without ``pclntab``, the table is opened only to write the file).  With
    ``for_gdb``, functions the executable's ``.dynsym`` names alike get CFI but
    no symbol: gdb reads the executable's own symbols beside the file, lldb
    reads the file's instead of them.  With ``unwound_by_goext`` the file has
    CFI only for :data:`DEBUGGER_UNWOUND` (a :class:`FrameRules` unwinder in
    the debugger gives every other frame, on demand)."""
    kind = "gdb.sym" if for_gdb else "sym"
    if unwound_by_goext:
        kind = "unwound-" + kind
    name = cached_file_name(binary, _FORMAT_VERSION, kind)
    return write_cached_file(
        directory or symbol_cache_dir(),
        name,
        lambda: symbol_file_image(binary, pclntab or Pclntab.from_binary(binary), for_gdb, unwound_by_goext),
        "symbol file",
    )


def symbol_file_image(
    binary: "GoBinary", pclntab: "Pclntab", for_gdb: bool = False, unwound_by_goext: bool = False
) -> bytes:
    """The symbol file of ``binary``: its functions (with ``for_gdb``, those
    the executable does not export alike), CFI on amd64 (with
    ``unwound_by_goext``, for :data:`DEBUGGER_UNWOUND` only), and its
    allocated sections mirrored so that gdb pairs the file with the executable."""
    sections = [
        MirroredSection(sec.name, sec.address, sec.size, sec.flags)
        for sec in binary.sections()
        if sec.allocated and sec.name
    ]
    with_frames = binary.arch == "amd64"
    with collector_paused():
        symbols = function_symbols(
            pclntab, with_frames, code_reader(binary), DEBUGGER_UNWOUND if unwound_by_goext else None
        )
        return build_symbol_file(
            symbols,
            binary.arch,
            binary.ptr_size,
            binary.byte_order,
            build_id=binary.gnu_build_id(),
            sections=sections,
            entry=binary.entry,
            cfi=with_frames,
            named_elsewhere=named_by_executable(binary, symbols) if for_gdb else None,
        )


def code_reader(binary: "GoBinary") -> Callable[[int, int], Optional[bytes]]:
    """(link address, size) -> the executable's bytes there, or None.

    A few prologue bytes of every function: straight from the mapped file
    when they lie in the file-backed part of a segment (read_static finds
    the segment and copies through a bytearray: a tenth of the build time).
    The segment of the last read is tried first: nearly every read is in .text."""
    image = binary.mapped
    segments = [(seg.vaddr, seg.end, seg.vaddr + seg.filesz, seg.offset) for seg in binary.segments]
    last = [segments[0] if segments else (0, 0, 0, 0)]

    def read_code(address: int, size: int) -> Optional[bytes]:
        start, end, backed_end, offset = last[0]
        if not start <= address < end:
            for segment in segments:
                if segment[0] <= address < segment[1]:  # the segment read_static would use
                    start, end, backed_end, offset = last[0] = segment
                    break
            else:
                return _read_static(binary, address, size)
        at = offset + address - start
        if address + size <= backed_end and at + size <= len(image):
            return image[at : at + size]
        return _read_static(binary, address, size)

    return read_code


def named_by_executable(binary: "GoBinary", symbols: list[FunctionSymbol]) -> set[tuple[str, int]]:
    """(name, address) of the functions the executable's ``.dynsym`` already
    names alike: the debugger reads those itself, and a Go program that
    exports everything (it imports ``plugin``) would otherwise make it read
    50,000 symbols twice."""
    table = binary.dynamic_symbols()
    if table is None:
        return set()
    return table.functions_named_alike([symbol.name for symbol in symbols], [symbol.address for symbol in symbols])


def _read_static(binary: "GoBinary", address: int, size: int) -> Optional[bytes]:
    try:
        return binary.read_static(address, size)
    except GoextError:
        return None


def build_symbol_file(
    symbols: Iterable[FunctionSymbol],
    arch: str,
    ptr_size: int = 8,
    byte_order: ByteOrder = "little",
    build_id: Optional[str] = None,
    sections: Optional[list[MirroredSection]] = None,
    entry: int = 0,
    cfi: bool = False,
    named_elsewhere: Optional[set[tuple[str, int]]] = None,
) -> bytes:
    """The bytes of an ELF (ET_EXEC, no segments) whose ``.symtab`` lists ``symbols``.

    ``sections`` and ``entry`` should be the executable's allocated sections and
    ``e_entry``: gdb pairs a separate debug file's sections with the
    executable's by name, size and address relative to the entry point.  With
    ``cfi`` (amd64 only) a ``.debug_frame`` built from the pcsp runs lets the
    debugger's own unwinder walk Go frames.  Symbols whose (name, address) is
    in ``named_elsewhere`` get CFI but no symbol: the executable names them."""
    machine = _EM_BY_GOARCH.get(arch)
    if machine is None:
        raise UnsupportedError(f"no ELF machine number known for GOARCH {arch}")
    is64 = ptr_size == 8
    endian = "<" if byte_order == "little" else ">"
    ordered = sorted(symbols, key=lambda s: s.address)
    mirrored = list(sections or [])
    if not any(sec.name == ".text" for sec in mirrored):
        text_start = ordered[0].address if ordered else 0
        text_end = max((s.address + s.size for s in ordered), default=0)
        mirrored.insert(0, MirroredSection(".text", text_start, text_end - text_start, _SHF_ALLOC | _SHF_EXECINSTR))
    note = _build_id_note(build_id, endian) if build_id else b""
    debug_frame = _debug_frame(ordered, endian) if cfi and is64 else b""

    # Section indexes: 0 null, mirrored sections, .symtab, .strtab, .shstrtab, [.debug_frame], [build-id note]
    names = [b""] + [sec.name.encode() for sec in mirrored] + [b".symtab", b".strtab", b".shstrtab"]
    symtab_index = len(mirrored) + 1
    if debug_frame:
        names.append(b".debug_frame")
    if note:
        names.append(b".note.gnu.build-id")
    shstrtab = bytearray()
    name_offsets = []
    for name in names:
        name_offsets.append(len(shstrtab))
        shstrtab += name + b"\0"

    code_sections = [
        (sec.address, sec.address + sec.size, index)
        for index, sec in enumerate(mirrored, start=1)
        if sec.flags & _SHF_EXECINSTR
    ]
    listed = [s for s in ordered if (s.name, s.address) not in named_elsewhere] if named_elsewhere else ordered
    symtab, strtab = _symbol_table(listed, code_sections, endian, is64)
    symbol_size = 24 if is64 else 16
    first_global = 1

    header_size = 64 if is64 else 52
    section_header_format = endian + ("IIQQQQIIQQ" if is64 else "IIIIIIIIII")
    section_header_size = struct.calcsize(section_header_format)

    body = bytearray()
    offsets: dict[str, int] = {}

    def place(key: str, data: bytes, align: int) -> None:
        while (header_size + len(body)) % align:
            body.append(0)
        offsets[key] = header_size + len(body)
        body.extend(data)

    if note:
        place("note", note, 4)
    place("symtab", bytes(symtab), 8)
    place("strtab", bytes(strtab), 1)
    place("shstrtab", bytes(shstrtab), 1)
    if debug_frame:
        place("debug_frame", debug_frame, 8)
    while (header_size + len(body)) % 8:
        body.append(0)
    section_headers_at = header_size + len(body)

    def section(
        name_index: int,
        kind: int,
        flags: int,
        address: int,
        offset: int,
        size: int,
        link: int = 0,
        info: int = 0,
        align: int = 1,
        entsize: int = 0,
    ) -> bytes:
        return struct.pack(
            section_header_format,
            name_offsets[name_index],
            kind,
            flags,
            address,
            offset,
            size,
            link,
            info,
            align,
            entsize,
        )

    headers = bytearray(section_header_size)  # the null section
    for index, sec in enumerate(mirrored, start=1):
        headers += section(index, _SHT_NOBITS, sec.flags, sec.address, offsets["symtab"], sec.size, align=16)
    headers += section(
        symtab_index,
        _SHT_SYMTAB,
        0,
        0,
        offsets["symtab"],
        len(symtab),
        link=symtab_index + 1,
        info=first_global,
        align=8,
        entsize=symbol_size,
    )
    headers += section(symtab_index + 1, _SHT_STRTAB, 0, 0, offsets["strtab"], len(strtab))
    headers += section(symtab_index + 2, _SHT_STRTAB, 0, 0, offsets["shstrtab"], len(shstrtab))
    next_index = symtab_index + 3
    if debug_frame:
        headers += section(next_index, _SHT_PROGBITS, 0, 0, offsets["debug_frame"], len(debug_frame), align=8)
        next_index += 1
    if note:
        # Not SHF_ALLOC: the executable's note is what the debugger maps.
        headers += section(next_index, _SHT_NOTE, 0, 0, offsets["note"], len(note), align=4)
    section_count = len(names)

    ident = b"\x7fELF" + bytes([2 if is64 else 1, 1 if byte_order == "little" else 2, _EV_CURRENT, 0]) + bytes(8)
    if is64:
        header = ident + struct.pack(
            endian + "HHIQQQIHHHHHH",
            _ET_EXEC,
            machine,
            _EV_CURRENT,
            entry,
            0,
            section_headers_at,
            0,
            header_size,
            0,
            0,
            section_header_size,
            section_count,
            symtab_index + 2,
        )
    else:
        header = ident + struct.pack(
            endian + "HHIIIIIHHHHHH",
            _ET_EXEC,
            machine,
            _EV_CURRENT,
            entry,
            0,
            section_headers_at,
            0,
            header_size,
            0,
            0,
            section_header_size,
            section_count,
            symtab_index + 2,
        )
    return bytes(header) + bytes(body) + bytes(headers)


def _symbol_table(
    ordered: list[FunctionSymbol], code_sections: list[tuple[int, int, int]], endian: str, is64: bool
) -> tuple[bytes, bytes]:
    """``.symtab`` and ``.strtab`` for ``ordered`` (sorted by address): one
    global STT_FUNC per (name, address), in the code section holding it.
    Built a field at a time (a column per field, interleaved with strided
    slice assignments): a struct.pack per symbol cost a tenth of the file."""
    unique = ordered
    addresses = [symbol.address for symbol in ordered]
    if len(set(addresses)) != len(addresses):  # equal addresses are adjacent: keep the first of each name
        unique, seen = [], set()
        for symbol in ordered:
            if (symbol.name, symbol.address) not in seen:
                seen.add((symbol.name, symbol.address))
                unique.append(symbol)
        addresses = [symbol.address for symbol in unique]
    encoded = [symbol.name.encode("utf-8", "replace") for symbol in unique]
    names = b"\0".join(encoded)
    if names.count(0) != max(0, len(encoded) - 1):  # a NUL inside a name would cut it
        encoded = [name.replace(b"\0", b"?") for name in encoded]
        names = b"\0".join(encoded)
    strtab = b"\0" + names + b"\0" if encoded else b"\0"
    name_offsets = list(accumulate((len(name) + 1 for name in encoded), initial=1))[:-1]
    count = len(unique)
    sections = [_SHN_ABS] * count
    # The first code section holding an address wins: paint the others first.
    for start, end, index in reversed(code_sections):
        low, high = bisect_left(addresses, start), bisect_left(addresses, end)
        sections[low:high] = [index] * (high - low)
    sizes = [symbol.size for symbol in unique]
    info = bytes([(_STB_GLOBAL << 4) | _STT_FUNC]) * count
    word = "Q" if is64 else "I"
    if is64:  # Elf64_Sym: name u32, info u8, other u8, shndx u16, value u64, size u64
        record, fields = 24, [(0, "I", name_offsets), (6, "H", sections), (8, word, addresses), (16, word, sizes)]
        info_at = 4
    else:  # Elf32_Sym: name u32, value u32, size u32, info u8, other u8, shndx u16
        record, fields = 16, [(0, "I", name_offsets), (4, word, addresses), (8, word, sizes), (14, "H", sections)]
        info_at = 12
    table = bytearray(record * (count + 1))  # entry 0: the null symbol
    body = memoryview(table)[record:]
    swap = (endian == "<") != (sys.byteorder == "little")
    for at, code, values in fields:
        column = array(_ARRAY_CODES[code], values)
        if swap:
            column.byteswap()
        raw = column.tobytes()
        width = column.itemsize
        for lane in range(width):
            body[at + lane :: record] = raw[lane::width]
    body[info_at::record] = info
    return bytes(table), strtab


# array type codes of the widths ELF fields need (array's "I" and "L" depend on the platform).
_ARRAY_CODES = {
    code: next(candidate for candidate in candidates if array(candidate).itemsize == width)
    for code, width, candidates in (("H", 2, "H"), ("I", 4, "IL"), ("Q", 8, "QL"))
}


# -- CFI ------------------------------------------------------------------------
# DWARF call frame instructions (DWARF 4 section 6.4.2) and amd64 register
# numbers (System V psABI: 7 = rsp, 16 = return address).
_DW_CFA_advance_loc1 = 0x02
_DW_CFA_advance_loc2 = 0x03
_DW_CFA_advance_loc4 = 0x04
_DW_CFA_def_cfa = 0x0C
_DW_CFA_def_cfa_offset = 0x0E
_DW_CFA_offset = 0x80
_DW_CFA_same_value = 0x08
_DW_CFA_nop = 0x00
_DW_CFA_undefined = 0x07
_DW_CFA_def_cfa_expression = 0x0F
_DW_CFA_expression = 0x10
_DW_OP_breg0 = 0x70
_DW_OP_deref = 0x06
# The kernel's x86-64 signal frame: ucontext {uc_flags, uc_link, uc_stack (24
# bytes), uc_mcontext, ...}; uc_mcontext is sigcontext {r8..r15, rdi, rsi, rbp,
# rbx, rdx, rax, rcx, rsp, rip, ...} (src/runtime/defs_linux_amd64.go ucontext,
# stackt, sigcontext; arch/x86/include/uapi/asm/sigcontext.h sigcontext_64).
_AMD64_UC_MCONTEXT = 40
# DWARF register number (System V x86-64 psABI) -> index in sigcontext.
_AMD64_SIGCONTEXT_INDEX = {
    8: 0,
    9: 1,
    10: 2,
    11: 3,
    12: 4,
    13: 5,
    14: 6,
    15: 7,  # r8..r15
    5: 8,
    4: 9,
    6: 10,
    3: 11,
    1: 12,
    0: 13,
    2: 14,  # rdi, rsi, rbp, rbx, rdx, rax, rcx
    7: 15,
    16: 16,  # rsp, rip (the return address column)
}
_AMD64_RBP = 6
_AMD64_RSP = 7
_AMD64_RA = 16
_FDE_HEAD = 24  # length, CIE pointer, initial location, address range (64-bit)


def _debug_frame(symbols: list[FunctionSymbol], endian: str) -> bytes:
    """``.debug_frame`` for amd64: CFA = rsp + pushed bytes + 8 (the CALL's
    return address), return address at CFA-8, one FDE per function, the CFA
    offset following the pcsp table as the runtime's unwinder does
    (src/runtime/traceback.go: frame.fp = sp + funcspdelta + PtrSize on x86)."""
    # CIE, version 1: no augmentation, code alignment 1, data alignment -8.
    cie_body = bytes([1, 0]) + encode_uleb128(1) + bytes([0x78]) + bytes([_AMD64_RA])
    cie_body += (
        bytes([_DW_CFA_def_cfa, _AMD64_RSP])
        + encode_uleb128(8)
        + bytes([_DW_CFA_offset | _AMD64_RA])
        + encode_uleb128(1)
    )
    cie_body = struct.pack(endian + "I", 0xFFFFFFFF) + cie_body
    cie_body += bytes([_DW_CFA_nop]) * (-(len(cie_body) + 4) % 8)
    parts = [struct.pack(endian + "I", len(cie_body)) + cie_body]
    # Functions sharing a pcsp table (the same runs object from
    # function_symbols) and prologue share their instructions: keyed by the
    # runs' identity, which holds while ``symbols`` keeps them alive.
    tails: dict[tuple[int, Optional[int], bool, int], bytes] = {}
    fde_head = struct.Struct(endian + "IIQQ").pack
    append = parts.append
    count = len(symbols)
    for position, symbol in enumerate(symbols):
        name, address, size, runs, saved_from = symbol
        if name == SIGNAL_RESTORER:
            signal_tail = _signal_restorer_instructions()
            signal_tail += bytes(-(len(signal_tail) + _FDE_HEAD) % 8)
            append(fde_head(_FDE_HEAD - 4 + len(signal_tail), 0, address, size))
            append(signal_tail)
            continue
        if not runs:
            continue
        covered = size
        if position + 1 < count:
            following = symbols[position + 1]
            if following.name in _NO_CFI and following.address <= address + covered:
                # The debugger looks a caller frame up at its return address - 1:
                # for the signal trampoline's frame that byte is the end of this
                # function, and an FDE covering it would hide the trampoline
                # (glibc puts a nop before __restore_rt for the same reason).
                covered = max(1, following.address - address - 1)
        outermost = name in _OUTERMOST
        # The size matters only when a run ends past it.
        key = (id(runs), saved_from, outermost, size if runs[-1][0] > size else -1)
        tail = tails.get(key)
        if tail is None:
            instructions = _fde_instructions(runs, size, saved_from, outermost, endian)
            tail = tails[key] = instructions + bytes(-(len(instructions) + _FDE_HEAD) % 8)
        append(fde_head(_FDE_HEAD - 4 + len(tail), 0, address, covered))
        append(tail)
    return b"".join(parts)


def _signal_restorer_instructions() -> bytes:
    """CFI of the signal restorer's frame: the kernel "called" the handler with
    the restorer as return address on top of the rt_sigframe, so at the
    restorer rsp points at the ucontext, and the interrupted registers are in
    its uc_mcontext (what gdb and libgcc know of glibc's __restore_rt; lldb
    reads it when the restorer is one of its trap handler names, which goext
    sets).  The caller's CFA is its rsp; every general register is at
    rsp + 40 + 8 * its index in sigcontext."""
    instructions = bytearray()
    saved_rsp = _AMD64_UC_MCONTEXT + 8 * _AMD64_SIGCONTEXT_INDEX[_AMD64_RSP]
    expression = bytes([_DW_OP_breg0 + _AMD64_RSP]) + encode_sleb128(saved_rsp) + bytes([_DW_OP_deref])
    instructions += bytes([_DW_CFA_def_cfa_expression]) + encode_uleb128(len(expression)) + expression
    for register, index in _AMD64_SIGCONTEXT_INDEX.items():
        at = bytes([_DW_OP_breg0 + _AMD64_RSP]) + encode_sleb128(_AMD64_UC_MCONTEXT + 8 * index)
        instructions += bytes([_DW_CFA_expression]) + encode_uleb128(register) + encode_uleb128(len(at)) + at
    return bytes(instructions)


def _fde_instructions(
    runs: tuple[tuple[int, int], ...], size: int, saved_from: Optional[int], outermost: bool, endian: str
) -> bytes:
    """The call frame instructions of one function's FDE: the pcsp runs (split
    where the frame pointer becomes saved) as CFA offsets and BP rules."""
    # No caller: say so, or the debugger unwinds into garbage.
    instructions = bytearray(_UNDEFINED_RA if outermost else b"")
    # The instruction stream so far describes [.., offset) with CFA = rsp + cfa
    # and BP saved or not; each segment [start, end) that changes either emits
    # an advance to its start and the new rules.
    offset = 0
    cfa = 8
    saved = False
    start = 0
    split = -1 if saved_from is None else saved_from
    for end, pushed in runs:
        if start < split < end:  # [start, split): BP not saved yet
            if split > size:
                break
            if pushed + 8 != cfa or saved:
                offset, cfa, saved = _emit(instructions, offset, start, cfa, pushed + 8, saved, False, endian)
            start = split
        if end > size:
            break
        want_saved = split >= 0 and start >= split and pushed >= 8
        if pushed + 8 != cfa or want_saved != saved:
            offset, cfa, saved = _emit(instructions, offset, start, cfa, pushed + 8, saved, want_saved, endian)
        start = end
    return bytes(instructions)


def _emit(
    out: bytearray, offset: int, start: int, cfa: int, new_cfa: int, saved: bool, want_saved: bool, endian: str
) -> tuple[int, int, bool]:
    """Append the rules that change at ``start``; the new (offset, cfa, saved)."""
    advance = start - offset
    if advance:
        if advance < 1 << 8:
            out += _ADVANCE_LOC1[advance]
        elif advance < 1 << 16:
            out.append(_DW_CFA_advance_loc2)
            out += struct.pack(endian + "H", advance)
        else:
            out.append(_DW_CFA_advance_loc4)
            out += struct.pack(endian + "I", advance)
        offset = start
    if new_cfa != cfa:
        cfa = new_cfa
        out += _DEF_CFA_OFFSET[cfa] if cfa < 0x80 else bytes([_DW_CFA_def_cfa_offset]) + encode_uleb128(cfa)
    if want_saved != saved:
        # BP at CFA-16 (factored by the CIE's data alignment, -8); else back in
        # its register (DW_CFA_restore would leave lldb's last rule: the CIE has none).
        out += _BP_SAVED if want_saved else _BP_SAME
    return offset, cfa, want_saved


class FrameRule(NamedTuple):
    """How to find a frame's caller at one pc: CFA = sp + ``cfa_offset``, the
    return address at CFA-8, and with ``bp_saved`` the caller's BP at CFA-16
    (else BP still holds it)."""

    entry: int  # link-time entry of the function (the frame's identity with the CFA)
    cfa_offset: int
    bp_saved: bool


class FrameRules:
    """The rules the symbol file's ``.debug_frame`` would give, computed per
    function on first use: for a debugger unwinding Go frames through goext
    (gdb's Python unwinders) instead of reading CFI built up front for every
    function of the binary.  Each rule is read back from the very FDE
    instructions :func:`symbol_file_image` would write, so both agree."""

    def __init__(self, pclntab: Pclntab, read_code: Callable[[int, int], Optional[bytes]]) -> None:
        self._pclntab = pclntab
        self._read_code = read_code
        # entry -> (FDE instructions, bytes covered), or None: no rule (the debugger decides)
        self._functions: dict[int, Optional[tuple[bytes, int]]] = {}

    def is_signal_restorer(self, link_pc: int) -> bool:
        func = self._pclntab.find_func(link_pc)
        return func is not None and _symbol_name(func) == SIGNAL_RESTORER

    def rule(self, link_pc: int) -> Optional[FrameRule]:
        """The rule at ``link_pc`` (as the debugger's CFI lookup would use it:
        the return address minus one for a caller's frame); None where the
        symbol file's CFI, or nothing, decides."""
        func = self._pclntab.find_func(link_pc)
        if func is None:
            return None
        entry = func.entry
        if entry in self._functions:
            known = self._functions[entry]
        else:
            if len(self._functions) >= _MAX_FUNCTION_RULES:
                self._functions.clear()
            known = self._functions[entry] = self._function_instructions(func)
        if known is None:
            return None
        instructions, covered = known
        offset = link_pc - entry
        if offset >= covered:
            return None
        cfa_offset, bp_saved = _row_at(instructions, offset)
        return FrameRule(entry, cfa_offset, bp_saved)

    def _function_instructions(self, func: Func) -> Optional[tuple[bytes, int]]:
        name = _symbol_name(func)
        if not name or name in _NO_CFI or name in DEBUGGER_UNWOUND or func.end <= func.entry or not func.pcsp:
            return None
        size = func.end - func.entry
        runs, start, pushed = _frame_pointer_check(_frame_runs(self._pclntab, func.pcsp, size))
        if not runs:
            return None  # no FDE in the symbol file either
        saved_from = _amd64_frame_pointer_saved_at(start, pushed, func.entry, self._read_code) if pushed else None
        covered = size
        following = self._pclntab.find_func(func.end)
        if following is not None and _name_of(following) in _NO_CFI and following.entry <= func.entry + size:
            covered = max(1, following.entry - func.entry - 1)  # as _debug_frame: the trampoline's byte before
        return _fde_instructions(runs, size, saved_from, False, "<"), covered


_MAX_FUNCTION_RULES = 65536


def _name_of(func: Func) -> str:
    try:
        return func.name
    except GoextError:
        return ""


def _symbol_name(func: Func) -> str:
    """The function's name as the symbol file has it (after _RENAMED); "" when unreadable."""
    name = _name_of(func)
    return _RENAMED.get(name, name)


def _row_at(instructions: bytes, offset: int) -> tuple[int, bool]:
    """(CFA offset, BP saved) of the CFI row that applies at ``offset``: the
    instructions :func:`_fde_instructions` writes, run as a debugger runs them
    (rows whose location is at or before the offset)."""
    location = 0
    cfa = 8
    saved = False
    position = 0
    end = len(instructions)
    while position < end:
        opcode = instructions[position]
        if opcode in _ADVANCE_WIDTHS:
            width = _ADVANCE_WIDTHS[opcode]
            delta = int.from_bytes(instructions[position + 1 : position + 1 + width], "little")
            if location + delta > offset:
                break
            location += delta
            position += 1 + width
        elif opcode == _DW_CFA_def_cfa_offset:
            cfa, position = read_uleb128(instructions, position + 1)
        elif opcode == _BP_SAVED[0]:
            saved = True
            _, position = read_uleb128(instructions, position + 1)
        elif opcode == _DW_CFA_same_value:
            saved = False
            position += 2
        else:
            raise CorruptDataError(f"unexpected call frame instruction {opcode:#x}")
    return cfa, saved


# The few instruction encodings nearly every FDE is made of, built once.
_ADVANCE_LOC1 = [bytes((_DW_CFA_advance_loc1, delta)) for delta in range(256)]
_DEF_CFA_OFFSET = [bytes((_DW_CFA_def_cfa_offset, offset)) for offset in range(0x80)]
_BP_SAVED = bytes((_DW_CFA_offset | _AMD64_RBP, 2))
_BP_SAME = bytes((_DW_CFA_same_value, _AMD64_RBP))
_UNDEFINED_RA = bytes((_DW_CFA_undefined, _AMD64_RA))
_ADVANCE_WIDTHS = {_DW_CFA_advance_loc1: 1, _DW_CFA_advance_loc2: 2, _DW_CFA_advance_loc4: 4}


def _build_id_note(build_id: str, endian: str) -> bytes:
    try:
        desc = bytes.fromhex(build_id)
    except ValueError:
        return b""
    owner = b"GNU\0"
    return struct.pack(endian + "III", len(owner), len(desc), _NT_GNU_BUILD_ID) + owner + desc + bytes(-len(desc) % 4)


__all__ = [
    "SIGNAL_RESTORER",
    "FunctionSymbol",
    "MirroredSection",
    "build_symbol_file",
    "function_symbols",
    "named_by_executable",
    "symbol_cache_dir",
    "symbol_file_for",
    "symbol_file_image",
]
