"""Pclntab against the Go runtime itself.

For each toolchain and build flavour, tests/unit_data/pclnprog reports what the
runtime says (runtime.Callers + CallersFrames, FuncForPC, debug.Stack) and the
same pcs are resolved with :class:`goext_core.binary.pclntab.Pclntab` from the file.
Entries are checked against ``go tool nm`` and frame sizes against the DWARF
call-frame information.  Hand-built tables cover the 0xfffffffb/0xfffffffa
layouts no installable toolchain produces any more.
"""

from __future__ import annotations

import random
import re
import shutil
import struct
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import pytest

from goext_core.binary.buildinfo import go_version_tuple
from goext_core.binary.elf import GoBinary
from goext_core.binary.leb128 import encode_uleb128
from goext_core.binary.pclntab import (
    FORMAT_GO12,
    FORMAT_GO116,
    FORMAT_GO118,
    FORMAT_GO120,
    Pclntab,
    SourceFrame,
    func_name_for_print,
)
from goext_core.errors import CorruptDataError, GoextError, UnsupportedError
from unit_data.pclnprog_fixture import PROGRAM_DIR, Built, build_pclnprog

# Tests taking ``go_version``/``flavour`` run over the matrix tests/conftest.py
# selects (--go-versions, --flavours, --quick); PIE builds are extra flavours
# of this file only.


def _open(built: Built) -> tuple[GoBinary, Pclntab]:
    binary = GoBinary(str(built.path))
    return binary, Pclntab.from_binary(binary)


def _bias(table: Pclntab, output: str) -> int:
    """Load bias: run-time address of main.main (printed as "MAIN 0x…") minus link-time."""
    match = re.search(r"^MAIN (0x[0-9a-f]+)$", output, re.M)
    assert match, output[:500]
    main = table.func_by_name("main.main")
    assert main is not None
    return int(match.group(1), 16) - main.entry


def _expected_format(version: str) -> str:
    return FORMAT_GO118 if version == "1.19" else FORMAT_GO120


# -- runtime.Callers / CallersFrames ------------------------------------------


def _parse_stacks(output: str) -> list[list[tuple[int, str, str, int]]]:
    stacks: list[list[tuple[int, str, str, int]]] = []
    for line in output.splitlines():
        if line == "STACK":
            stacks.append([])
        elif stacks and line.startswith("0x"):
            pc, function, file, number = line.split("\t")
            stacks[-1].append((int(pc, 16), function, file, int(number)))
    return stacks


def test_callers_frames_match_runtime(go_version: str, flavour: str) -> None:
    """Every pc runtime.Callers returned expands, with source_frames(pc-1), into
    exactly the logical frames (inlined ones included) the runtime reports."""
    _check_callers(go_version, flavour)


def test_callers_frames_match_runtime_pie(go_version: str) -> None:
    _check_callers(go_version, "pie-stripped")


def _check_callers(version: str, flavour: str) -> None:
    built = build_pclnprog(version, flavour)
    output = built.run("callers")
    _, table = _open(built)
    assert table.version == _expected_format(version)
    bias = _bias(table, output)
    stacks = _parse_stacks(output)
    assert len(stacks) >= 8
    inlined_seen = 0
    for stack in stacks:
        index = 0
        while index < len(stack):
            pc = stack[index][0] - bias
            frames = table.source_frames(pc - 1)
            assert frames, f"no function at {pc:#x}"
            got = [(f.function, f.file, f.line) for f in frames]
            want = [(fn, file, line) for _, fn, file, line in stack[index : index + len(frames)]]
            assert got == want, f"go{version} {flavour} pc {pc:#x}"
            assert [f.inlined for f in frames] == [True] * (len(frames) - 1) + [False]
            inlined_seen += len(frames) - 1
            index += len(frames)
    if flavour == "noopt":
        assert inlined_seen == 0
    else:
        assert inlined_seen >= 10  # leaf/middle/top, bump, sub.Twice… were inlined


# -- runtime.FuncForPC ----------------------------------------------------------


def _sample_pcs(table: Pclntab, count: int, seed: int) -> list[int]:
    rng = random.Random(seed)
    pcs = [rng.randrange(table.text_start, table.text_end) for _ in range(count)]
    main_funcs = [f for f in table.funcs() if f.name.startswith("main.")]
    for func in main_funcs:  # every instruction of the program's own code: inlining lives there
        pcs.extend(range(func.entry, func.end))
    return pcs


@pytest.mark.flavours("default", "stripped")
def test_funcforpc_matches_runtime(go_version: str, flavour: str) -> None:
    _check_funcforpc(go_version, flavour)


def test_funcforpc_matches_runtime_pie(go_version: str) -> None:
    _check_funcforpc(go_version, "pie-stripped")


def _check_funcforpc(version: str, flavour: str) -> None:
    built = build_pclnprog(version, flavour)
    binary, table = _open(built)
    main = table.func_by_name("main.main")
    assert main is not None
    pcs = _sample_pcs(table, 3000, seed=int(version.replace(".", "")))
    output = built.run("funcforpc", hex(main.entry), stdin="\n".join(hex(pc) for pc in pcs) + "\n")
    lines = output.splitlines()
    assert len(lines) == len(pcs)
    mismatches = []
    for line in lines:
        pc_text, name, entry_text, file, number = line.split("\t")
        pc = int(pc_text, 16)
        func = table.find_func(pc)
        if name == "?":
            assert func is None, f"{pc:#x}: runtime has no function, we found {func}"
            continue
        assert func is not None, f"{pc:#x}: runtime says {name}"
        innermost = table.source_frames(pc)[0]
        got = (innermost.function, func.entry, innermost.file, innermost.line)
        want = (name, int(entry_text, 16), file, int(number))
        if got != want:
            mismatches.append((hex(pc), got, want))
    assert not mismatches, mismatches[:10]


# -- runtime/debug.Stack text -----------------------------------------------------

_FRAME_FUNC = re.compile(r"^(\S.*)\((.*)\)$")
_FRAME_POS = re.compile(r"^\t(.+):(\d+)(?: \+0x([0-9a-f]+))?")


def _parse_stack_text(text: str) -> list[tuple[str, str, int, Optional[int]]]:
    """(function, file, line, offset-or-None) of each printed frame."""
    frames = []
    lines = text.splitlines()
    for first, second in zip(lines, lines[1:]):
        func = _FRAME_FUNC.match(first)
        pos = _FRAME_POS.match(second)
        if func and pos and not first.startswith("goroutine "):
            offset = int(pos.group(3), 16) if pos.group(3) else None
            frames.append((func.group(1), pos.group(1), int(pos.group(2)), offset))
    return frames


def _shown_by_traceback(frame: SourceFrame) -> bool:
    """runtime/traceback.go showfuncinfo at GOTRACEBACK=single: hide unexported runtime functions."""
    name = frame.raw_name
    if "." not in name:
        return False
    if not name.startswith("runtime."):
        return True
    rest = name[len("runtime.") :]
    return rest[:1].isupper() or name == "runtime.gopanic"


@pytest.mark.flavours("default", "stripped")
def test_debug_stack_text_matches(go_version: str, flavour: str) -> None:
    """What runtime.traceback prints (function, file:line, inlined frames) for the
    physical pcs it shows equals source_frames(entry + offset - 1)."""
    built = build_pclnprog(go_version, flavour)
    output = built.run("stack")
    _, table = _open(built)
    printed = _parse_stack_text(output)
    assert any(offset is None for *_, offset in printed), "expected inlined frames in the traceback"
    ours: list[tuple[str, str, int]] = []
    for function, _file, _line, offset in printed:
        if offset is None:
            continue
        func = table.func_by_name(function)
        assert func is not None, function
        frames = table.source_frames(func.entry + offset - 1)
        ours.extend((f.function, f.file, f.line) for f in frames if _shown_by_traceback(f))
    assert ours == [(f, file, line) for f, file, line, _ in printed]


# -- go tool nm -------------------------------------------------------------------


def test_entries_match_nm(go_version: str) -> None:
    version = go_version
    built = build_pclnprog(version, "default")
    _, table = _open(built)
    nm: dict[str, set[int]] = {}  # ABI0/ABIInternal wrappers share a name
    for line in built.go("tool", "nm", str(built.path)).splitlines():
        parts = line.split(None, 2)
        if len(parts) == 3 and parts[1] in "Tt":
            # the symbol table calls an assembly function's ABI0 body "f.abi0"; the pclntab says "f"
            nm.setdefault(parts[2].removesuffix(".abi0"), set()).add(int(parts[0], 16))
    matched = 0
    for func in table.funcs():
        if func.name in nm:
            assert func.entry in nm[func.name], func.name
            matched += 1
        assert func.entry < func.end
    assert matched >= 0.95 * len(table)
    # The table also answers by name and at every entry.
    outer = table.func_by_name("main.outer")
    assert outer is not None and {outer.entry} == nm["main.outer"]
    assert table.find_func(outer.entry) is outer
    assert table.find_func(outer.end - 1) is outer
    assert table.func_by_name("no.such.function") is None


def test_stripped_table_equals_unstripped(go_version: str) -> None:
    version = go_version
    """Locating the table without symbols (moduledata scan or .go.module) gives the same answers."""
    _, full = _open(build_pclnprog(version, "default"))
    _, bare = _open(build_pclnprog(version, "stripped"))
    assert full.text_start == bare.text_start
    assert (full.gofunc is None) == (bare.gofunc is None) or full.version == FORMAT_GO116
    assert len(full) == len(bare)
    assert [f.name for f in full.funcs()] == [f.name for f in bare.funcs()]


@pytest.mark.parametrize("know_version", (True, False))
def test_moduledata_agrees_with_symbols(go_version: str, know_version: bool) -> None:
    """With the symbol table hidden, text start and gofunc come from moduledata
    (found through .go.module or by scanning) and equal the symbols' values; the
    moduledata layout is also guessed right when the Go version is unknown."""
    built = build_pclnprog(go_version, "default")
    binary = GoBinary(str(built.path))
    gofunc = binary.symbol("go:func.*") or binary.symbol("go.func.*")
    text = binary.symbol("runtime.text")
    assert gofunc and text
    binary._symbols, binary._symbol_sizes = {}, {}
    if not know_version:
        binary.go_version = lambda: None  # type: ignore[method-assign]
    table = Pclntab.from_binary(binary)
    assert table.go_version == (go_version_tuple(binary.buildinfo.go_version) if know_version else None)
    assert table.gofunc == gofunc
    assert table.text_start == text
    outer = table.func_by_name("main.outer")
    assert outer is not None and len(table.source_frames(outer.entry + 0x10)) >= 1


@pytest.mark.go_versions("1.19", "1.22", "1.27")
def test_table_found_without_section_headers(go_version: str, tmp_path: Path) -> None:
    """With the section headers gone the table and moduledata are found by scanning."""
    version = go_version
    built = build_pclnprog(version, "stripped")
    copy = tmp_path / "noshdr"
    shutil.copy(built.path, copy)
    with open(copy, "r+b") as handle:
        header = bytearray(handle.read(64))
        header[0x28:0x30] = bytes(8)  # e_shoff
        header[0x3C:0x40] = bytes(4)  # e_shnum, e_shstrndx
        handle.seek(0)
        handle.write(header)
    _, original = _open(built)
    binary = GoBinary(str(copy))
    assert binary.section(".gopclntab") is None
    assert binary.buildinfo is not None  # found by scanning the data segments
    assert binary.buildinfo.go_version == "go" + built.toolchain.full_version
    table = Pclntab.from_binary(binary)
    assert table.address == original.address
    assert table.text_start == original.text_start
    assert table.gofunc == original.gofunc
    outer = table.func_by_name("main.outer")
    assert outer is not None
    for pc in range(outer.entry, outer.end):
        assert table.source_frames(pc) == original.source_frames(pc)


# -- frame sizes ----------------------------------------------------------------------


def _readelf_cfa_rows(path: Path) -> list[tuple[int, int, int]]:
    """(fde start, pc, N) for each "pc  rsp+N" row of ``readelf --debug-dump=frames-interp``."""
    readelf = shutil.which("readelf")
    if readelf is None:
        pytest.skip("readelf (binutils) not installed")
    done = subprocess.run(
        [readelf, "--debug-dump=frames-interp", str(path)], capture_output=True, text=True, timeout=120
    )
    rows = []
    fde = None
    for line in done.stdout.splitlines():
        header = re.search(r"FDE cie=\S+ pc=([0-9a-f]+)\.\.", line)
        if header:
            fde = int(header.group(1), 16)
            continue
        row = re.match(r"^([0-9a-f]{8,16}) rsp\+(\d+)\s", line)
        if row and fde is not None:
            rows.append((fde, int(row.group(1), 16), int(row.group(2))))
    return rows


def test_sp_delta_matches_dwarf_cfa(go_version: str) -> None:
    """amd64: DWARF says CFA = rsp + N from each row's pc on; the runtime's unwinder
    computes the caller's SP as sp + spdelta + 8, so spdelta must be N - 8."""
    built = build_pclnprog(go_version, "default")
    _, table = _open(built)
    checked = 0
    for fde, pc, cfa_offset in _readelf_cfa_rows(built.path):
        func = table.find_func(fde)
        if func is None or func.entry != fde or pc >= func.end:
            continue
        assert func.sp_delta(pc) == cfa_offset - 8, f"{func.name} at {pc:#x}"
        checked += 1
    assert checked > 1000
    outer = table.func_by_name("main.outer")
    assert outer is not None
    assert outer.sp_delta(outer.entry) == 0
    assert max(outer.sp_delta(pc) for pc in range(outer.entry, outer.end)) > 0


# -- funcdata / pcdata / misc ---------------------------------------------------------


def _source_line(text: str) -> int:
    source = (PROGRAM_DIR / "main.go").read_text().splitlines()
    return next(number for number, line in enumerate(source, 1) if line.startswith(text))


def test_func_fields(go_version: str) -> None:
    version = go_version
    built = build_pclnprog(version, "default")
    _, table = _open(built)
    outer = table.func_by_name("main.outer")
    assert outer is not None
    if table.version == FORMAT_GO120:
        assert outer.start_line == _source_line("func outer(")
    else:
        assert outer.start_line is None
    assert outer.args == 8  # one int argument (the result travels in a register)
    assert outer.file_line(outer.entry)[0].endswith("unit_data/pclnprog/main.go")
    assert outer.funcdata_address(99) is None
    assert outer.pcdata(99, outer.entry) == -1
    deferred = table.func_by_name("main.deferred")
    assert deferred is not None and deferred.deferreturn != 0
    goexit = table.func_by_name("runtime.goexit")
    assert goexit is not None and goexit.func_id != 0
    mstart = table.func_by_name("runtime.mstart")
    assert mstart is not None
    assert mstart.flags & 1  # FuncFlagTopFrame (abi/symtab.go; runtime funcFlag_TOPFRAME before 1.21)
    assert mstart.args == -0x80000000  # ArgsSizeUnknown: assembly without a Go prototype
    generic = [f for f in table.funcs() if f.name.startswith("main.mapInts[")]
    assert generic
    for func in generic:
        shown = func.print_name
        if version == "1.19":
            assert shown == func.name
        else:
            assert shown == "main.mapInts[...]"


@pytest.mark.unit
def test_func_name_for_print() -> None:
    assert func_name_for_print("main.f") == "main.f"
    assert func_name_for_print("main.mapInts[go.shape.int]") == "main.mapInts[...]"
    assert func_name_for_print("main.(*T[go.shape.int]).m") == "main.(*T[...]).m"
    assert func_name_for_print("main.T[go.shape.int].m[go.shape.string]") == "main.T[...].m[...]"
    assert func_name_for_print("main.T[go.shape.int].m[go.shape.string]", generic_methods=False) == "main.T[...]"
    assert func_name_for_print("type:.eq.[2]sync/atomic.Pointer[go.shape.int]", False) == "type:.eq.[...]"
    assert func_name_for_print("main.f[map[int]string]") == "main.f[...]"
    assert func_name_for_print("bad]name[") == "bad]name["


# -- corruption -------------------------------------------------------------------------


def test_garbage_table_raises_typed_errors(matrix, tmp_path: Path) -> None:
    """Random damage inside the table never escapes as IndexError/struct.error."""
    built = build_pclnprog(matrix.newest(), "stripped")
    binary, table = _open(built)
    section = binary.section(".gopclntab")
    assert section is not None
    data = bytearray(built.path.read_bytes())
    rng = random.Random(7)
    outer = table.func_by_name("main.outer")
    assert outer is not None
    probes = [rng.randrange(table.text_start, table.text_end) for _ in range(300)]
    probes += list(range(outer.entry, outer.end))
    for trial in range(12):
        damaged = bytearray(data)
        for _ in range(200):
            at = section.offset + rng.randrange(section.size)
            damaged[at] = rng.randrange(256)
        path = tmp_path / f"damaged{trial}"
        path.write_bytes(damaged)
        try:
            with GoBinary(str(path)) as other:
                damaged_table = Pclntab.from_binary(other)
                for pc in probes:
                    try:
                        for frame in damaged_table.source_frames(pc):
                            assert isinstance(frame.line, int)
                        func = damaged_table.find_func(pc)
                        if func is not None:
                            func.sp_delta(pc)
                    except GoextError:
                        pass
        except GoextError as exc:
            assert "\n" not in str(exc)


def test_truncated_table(matrix, tmp_path: Path) -> None:
    built = build_pclnprog(matrix.newest(), "stripped")
    binary, _ = _open(built)
    section = binary.section(".gopclntab")
    assert section is not None
    path = tmp_path / "cut"
    path.write_bytes(built.path.read_bytes()[: section.offset + 64])
    with pytest.raises(CorruptDataError) as caught:
        with GoBinary(str(path)) as cut:
            Pclntab.from_binary(cut)
    assert "truncated" in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.unit
def test_not_go(tmp_path: Path) -> None:
    path = tmp_path / "true"
    shutil.copy("/bin/true", path)
    with GoBinary(str(path)) as binary:
        with pytest.raises(UnsupportedError):
            Pclntab.from_binary(binary)


# -- hand-built old layouts -------------------------------------------------------------


def _pcvalue_table(runs: list[tuple[int, int]], quantum: int = 1) -> bytes:
    """Encode (value, length in bytes) runs like cmd/internal/obj/pcln.go funcpctab."""
    out = bytearray()
    value = -1
    for new_value, length in runs:
        delta = new_value - value
        udelta = (-delta << 1) - 1 if delta < 0 else delta << 1
        out += encode_uleb128(udelta) + encode_uleb128(length // quantum)
        value = new_value
    return bytes(out + b"\0")


class _Blob:
    def __init__(self) -> None:
        self.data = bytearray()

    def put(self, chunk: bytes, align: int = 1) -> int:
        while len(self.data) % align:
            self.data.append(0)
        at = len(self.data)
        self.data += chunk
        return at


_OLD_FUNCS = [  # name, size, sp delta after the 4-byte prologue, lines per 8-byte run
    ("main.alpha", 32, 24, [10, 11, 12, 13]),
    ("main.beta", 48, 40, [20, 21, 22, 23, 24, 25]),
    ("runtime.gamma", 16, 8, [30, 31]),
]
_TEXT = 0x401000
_IMAGE = 0x500000  # the table's address


@dataclass(frozen=True)
class _Layout:
    """Byte order and pointer size of a hand-built table; "P" in a format is a pointer."""

    order: str  # "<" or ">"
    ptr: int

    def _format(self, fmt: str) -> str:
        return self.order + fmt.replace("P", "Q" if self.ptr == 8 else "I")

    def pack(self, fmt: str, *values: int) -> bytes:
        return struct.pack(self._format(fmt), *values)

    def pack_into(self, fmt: str, buffer: bytearray, offset: int, *values: int) -> None:
        struct.pack_into(self._format(fmt), buffer, offset, *values)


def _build_go12_table(L: "_Layout", funcid_tail: bool, inline: bool) -> tuple[bytes, dict[int, bytes]]:
    """A 0xfffffffb table (Go 1.12–1.15 layout when funcid_tail).

    main.beta has an inline tree (1.13–1.15 indexes: pcdata 2, funcdata 4) whose
    entry 0 is "main.inlined" called from line 21 of beta."""
    ptr = L.ptr
    blob = _Blob()
    blob.put(L.pack("IBBBB", 0xFFFFFFFB, 0, 0, 1, ptr))
    blob.put(L.pack("P", len(_OLD_FUNCS)))
    functab_at = blob.put(bytes((2 * len(_OLD_FUNCS) + 1) * ptr))
    fileoff_at = blob.put(bytes(4))
    names = {name: blob.put(name.encode() + b"\0") for name, *_ in _OLD_FUNCS}
    names["main.inlined"] = blob.put(b"main.inlined\0")
    file_a = blob.put(b"/src/a.go\0")
    file_b = blob.put(b"/src/b.go\0")
    filetab_at = blob.put(L.pack("III", 3, file_a, file_b), align=4)
    L.pack_into("I", blob.data, fileoff_at, filetab_at)
    memory: dict[int, bytes] = {}
    entry = _TEXT
    for index, (name, size, frame, lines) in enumerate(_OLD_FUNCS):
        pcsp = blob.put(_pcvalue_table([(0, 4), (frame, size - 4)]))
        pcfile = blob.put(_pcvalue_table([(1 if index != 1 else 2, size)]))
        pcln = blob.put(_pcvalue_table([(line, 8) for line in lines]))
        npcdata = 3 if inline and name == "main.beta" else 0
        nfuncdata = 5 if npcdata else 0
        pcdata = [0, 0, 0]
        if npcdata:
            # bytes 8..15 of beta are the inlined body (index 0), elsewhere -1
            pcdata[2] = blob.put(_pcvalue_table([(-1, 8), (0, 8), (-1, size - 16)]))
        tail = L.pack("BBBB", 0, 0, 0, nfuncdata) if funcid_tail else L.pack("i", nfuncdata)
        record = L.pack("PiiIIIII", entry, names[name], 16, 0, pcsp, pcfile, pcln, npcdata) + tail
        record += b"".join(L.pack("I", p) for p in pcdata[:npcdata])
        func_at = blob.put(record, align=ptr)
        if nfuncdata:
            inltree = 0x600000
            funcdata = [0, 0, 0, 0, inltree]
            blob.put(b"".join(L.pack("P", p) for p in funcdata), align=ptr)
            # inlinedCall (go1.12–1.15): parent int16, funcID, _, file, line, func_, parentPc
            memory[inltree] = L.pack("hBBiiii", -1, 0, 0, 1, 21, names["main.inlined"], 20)
        L.pack_into("PP", blob.data, functab_at + index * 2 * ptr, entry, func_at)
        entry += size
    L.pack_into("P", blob.data, functab_at + len(_OLD_FUNCS) * 2 * ptr, entry)
    return bytes(blob.data), memory


def _build_go116_table(L: "_Layout") -> tuple[bytes, dict[int, bytes]]:
    """A 0xfffffffa table: pcHeader with offsets; _func with cuOffset; funcdata pointers."""
    ptr = L.ptr
    blob = _Blob()
    header_at = blob.put(bytes(8 + 7 * ptr))
    funcnametab = len(blob.data)
    names = {}
    for name, *_ in _OLD_FUNCS:
        names[name] = blob.put(name.encode() + b"\0") - funcnametab
    names["main.inlined"] = blob.put(b"main.inlined\0") - funcnametab
    cutab = blob.put(L.pack("III", 0, 10, 0xFFFFFFFF), align=4)
    filetab = len(blob.data)
    blob.put(b"/src/a.go\0")
    blob.put(b"/src/b.go\0")
    pctab = len(blob.data)
    blob.put(b"\0")  # offset 0 means "no table"
    tables = []
    for index, (_name, size, frame, lines) in enumerate(_OLD_FUNCS):
        pcsp = blob.put(_pcvalue_table([(0, 4), (frame, size - 4)])) - pctab
        pcfile = blob.put(_pcvalue_table([(0 if index != 1 else 1, size)])) - pctab
        pcln = blob.put(_pcvalue_table([(line, 8) for line in lines])) - pctab
        inl = blob.put(_pcvalue_table([(-1, 8), (0, 8), (-1, size - 16)])) - pctab if index == 1 else 0
        tables.append((pcsp, pcfile, pcln, inl))
    pclntab = blob.put(b"", align=ptr)
    functab = blob.put(bytes((2 * len(_OLD_FUNCS) + 1) * ptr))
    memory: dict[int, bytes] = {}
    entry = _TEXT
    for index, (name, size, _frame, _lines) in enumerate(_OLD_FUNCS):
        pcsp, pcfile, pcln, inl = tables[index]
        npcdata = 3 if inl else 0
        nfuncdata = 4 if inl else 0
        record = L.pack("PiiIIIIII", entry, names[name], 16, 0, pcsp, pcfile, pcln, npcdata, 0)
        record += L.pack("BBBB", 0, 0, 0, nfuncdata)
        if npcdata:
            record += L.pack("III", 0, 0, inl)
        func_at = blob.put(record, align=ptr)
        if nfuncdata:
            inltree = 0x600000
            blob.put(L.pack("PPPP", 0, 0, 0, inltree), align=ptr)
            # inlinedCall (go1.16–1.19): func_ is an offset into funcnametab
            memory[inltree] = L.pack("hBBiiii", -1, 0, 0, 0, 21, names["main.inlined"], 20)
        L.pack_into("PP", blob.data, functab + index * 2 * ptr, entry, func_at - pclntab)
        entry += size
    L.pack_into("P", blob.data, functab + len(_OLD_FUNCS) * 2 * ptr, entry)
    L.pack_into("IBBBB", blob.data, header_at, 0xFFFFFFFA, 0, 0, 1, ptr)
    L.pack_into("PPPPPPP", blob.data, header_at + 8, len(_OLD_FUNCS), 2, funcnametab, cutab, filetab, pctab, pclntab)
    return bytes(blob.data), memory


def _reader(memory: dict[int, bytes]):
    def read(address: int, size: int) -> bytes:
        for start, data in memory.items():
            if start <= address and address + size <= start + len(data):
                return data[address - start : address - start + size]
        from goext_core.errors import MemoryReadError

        raise MemoryReadError(address, size)

    return read


_LAYOUTS = {"le64": _Layout("<", 8), "be64": _Layout(">", 8), "le32": _Layout("<", 4), "be32": _Layout(">", 4)}


@pytest.mark.unit
@pytest.mark.parametrize("arch", sorted(_LAYOUTS))
@pytest.mark.parametrize("layout", ("go1.13", "go1.11", "go1.16"))
def test_hand_built_old_tables(layout: str, arch: str) -> None:
    packer = _LAYOUTS[arch]
    if layout == "go1.16":
        data, memory = _build_go116_table(packer)
        table = Pclntab(data, 0, len(data), _IMAGE, read_memory=_reader(memory), go_version=(1, 16, 15))
        assert table.version == FORMAT_GO116
        files = ("/src/a.go", "/src/b.go")
    else:
        new_tail = layout == "go1.13"
        data, memory = _build_go12_table(packer, funcid_tail=new_tail, inline=new_tail)
        version = (1, 13, 15) if new_tail else None  # None: no build info, layout guessed from _func
        table = Pclntab(data, 0, len(data), _IMAGE, read_memory=_reader(memory), go_version=version)
        assert table.version == FORMAT_GO12
        files = ("/src/a.go", "/src/b.go")
    assert len(table) == 3
    assert (table.ptr_size, table.byte_order) == (packer.ptr, "little" if packer.order == "<" else "big")
    assert table.text_start == _TEXT
    assert table.find_func(_TEXT - 1) is None
    assert table.find_func(_TEXT + 32 + 48 + 16) is None
    alpha = table.find_func(_TEXT + 5)
    assert alpha is not None and alpha.name == "main.alpha" and alpha.entry == _TEXT and alpha.end == _TEXT + 32
    assert alpha.args == 16
    assert alpha.sp_delta(_TEXT) == 0
    assert alpha.sp_delta(_TEXT + 4) == 24
    assert alpha.file_line(_TEXT + 9) == (files[0], 11)
    assert alpha.file_line(_TEXT + 31) == (files[0], 13)
    beta = table.func_by_name("main.beta")
    assert beta is not None and beta.entry == _TEXT + 32
    assert beta.file_line(beta.entry + 47) == (files[1], 25)
    assert table.find_func(_TEXT + 80) is not None and table.find_func(_TEXT + 80).name == "runtime.gamma"
    frames = table.source_frames(beta.entry + 10)
    if layout == "go1.11":
        assert [f.function for f in frames] == ["main.beta"]
    else:
        # beta+10 is in the inlined body (line run 8..15 = 21); the call site is
        # looked up at parentPc 20 (line run 16..23 = 22), like the runtime does
        assert [(f.function, f.line, f.inlined) for f in frames] == [
            ("main.inlined", 21, True),
            ("main.beta", 22, False),
        ]
    assert [f.function for f in table.source_frames(beta.entry + 2)] == ["main.beta"]


@pytest.mark.unit
def test_bad_magic_and_header() -> None:
    with pytest.raises(CorruptDataError):
        Pclntab(bytes(64), 0, 64, 0x1000)
    bad = bytearray(64)
    struct.pack_into("<IBBBB", bad, 0, 0xFFFFFFF1, 0, 0, 3, 8)  # quantum 3
    with pytest.raises(CorruptDataError):
        Pclntab(bytes(bad), 0, 64, 0x1000)
    huge = bytearray(128)
    struct.pack_into("<IBBBBQ", huge, 0, 0xFFFFFFF1, 0, 0, 1, 8, 1 << 40)
    with pytest.raises(CorruptDataError):
        Pclntab(bytes(huge), 0, 128, 0x1000, text_start=0x401000)


# -- performance ------------------------------------------------------------------------


def test_performance_open_and_resolve(matrix) -> None:
    """Open a ~2–5 MB Go binary and resolve 10,000 random pcs (with inlined frames)."""
    built = build_pclnprog(matrix.newest(), "default")
    started = time.perf_counter()
    binary = GoBinary(str(built.path))
    table = Pclntab.from_binary(binary)
    opened = time.perf_counter() - started
    rng = random.Random(1)
    pcs = [rng.randrange(table.text_start, table.text_end) for _ in range(10_000)]
    started = time.perf_counter()
    frames = sum(len(table.source_frames(pc)) for pc in pcs)
    resolved = time.perf_counter() - started
    size = built.path.stat().st_size
    print(
        f"\n{size / 1e6:.1f} MB binary, {len(table)} funcs: open {opened * 1000:.1f} ms, "
        f"10000 pcs -> {frames} frames in {resolved * 1000:.0f} ms"
    )
    assert opened < 2.0
    assert resolved < 20.0
