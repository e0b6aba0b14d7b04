"""Function symbols (and CFI) recovered from pclntab for stripped Go binaries.

gdb's own ``bt`` on a ``-s -w`` core walks from the signal handler down to
``main.main`` with Go names; ``info symbol`` and ``break FUNC`` agree with
pclntab; lldb's ``bt`` names frames after ``go symbols``.  The generated CFI
matches the compiler's own ``.debug_frame`` of the unstripped build.
(Goroutine parity on the stripped builds is test_parity.py's stripped flavour.)
"""

from __future__ import annotations

import re

import pytest
from elftools.elf.elffile import ELFFile

from goext_core.binary import symfile
from goext_core.binary.elf import GoBinary
from goext_core.binary.pclntab import Pclntab
from goext_core.binary.symfile import (
    DEBUGGER_UNWOUND,
    SIGNAL_RESTORER,
    FrameRules,
    FunctionSymbol,
    build_symbol_file,
    code_reader,
    function_symbols,
    named_by_executable,
    symbol_file_for,
    symbol_file_image,
)
from support.build import build
from support.cores import kernel_core
from support.debuggers import run_gdb, run_lldb

# gdb shows minimal symbols through its Go demangler: "main.panicNested" reads
# "main[panicNested]" (it does so for the original symbol table too).
_GO_NAME = r"{pkg}(?:\.|\[){name}\]?"


def _name(pkg: str, name: str) -> re.Pattern[str]:
    return re.compile(_GO_NAME.format(pkg=re.escape(pkg), name=re.escape(name)))


@pytest.mark.unit
def test_symbol_file_layout(tmp_path):
    symbols = [
        FunctionSymbol("main.main", 0x401000, 0x40, ((1, 0), (8, 8), (0x40, 24))),
        FunctionSymbol("runtime.goexit", 0x401040, 0x10, ((0x10, 0),)),
    ]
    image = build_symbol_file(symbols, "amd64", build_id="0123456789abcdef", entry=0x401000, cfi=True)
    path = tmp_path / "x.sym"
    path.write_bytes(image)
    with open(path, "rb") as handle:
        elf = ELFFile(handle)
        names = {sym.name: sym for sym in elf.get_section_by_name(".symtab").iter_symbols()}
        assert names["main.main"]["st_value"] == 0x401000 and names["main.main"]["st_size"] == 0x40
        assert names["main.main"]["st_info"]["type"] == "STT_FUNC"
        assert elf.get_section_by_name(".text")["sh_type"] == "SHT_NOBITS"
        assert elf.header["e_entry"] == 0x401000
        entries = [e for e in elf.get_dwarf_info().CFI_entries() if type(e).__name__ == "FDE"]
        rows = entries[0].get_decoded().table
        assert [(row["pc"], row["cfa"].offset) for row in rows] == [(0x401000, 8), (0x401001, 16), (0x401008, 32)]
    with GoBinary(str(path)) as binary:
        assert binary.gnu_build_id() == "0123456789abcdef"


@pytest.mark.slow
@pytest.mark.go_versions("1.19", "1.27")  # oldest and newest pclntab layouts; ~20 s each (pyelftools CFI)
@pytest.mark.flavours("default")
def test_cfi_matches_compiler_debug_frame(go_version, flavour, tmp_path):
    """Our CFA offsets equal the ones the Go compiler wrote in .debug_frame."""
    exe = build("zoo", go_version, flavour)
    with GoBinary(str(exe)) as binary:
        path = symbol_file_for(binary, Pclntab.from_binary(binary), str(tmp_path))
    ours = _cfa_rows(path)
    theirs = _cfa_rows(str(exe))
    checked = 0
    for entry, rows in theirs.items():
        if entry in ours:
            assert _expand(ours[entry]) == _expand(rows), f"CFA rules differ for the function at {entry:#x}"
            checked += 1
    assert checked > 1000


def _cfa_rows(path: str) -> dict[int, list[tuple[int, int]]]:
    """Function entry -> [(pc, CFA offset from rsp)], interpreting the CFA
    instructions here: pyelftools 0.29 ignores DW_CFA_def_cfa_offset_sf,
    which the Go linker uses."""
    with open(path, "rb") as handle:
        elf = ELFFile(handle)
        dwarf = elf.get_dwarf_info(relocate_dwarf_sections=False)
        out: dict[int, list[tuple[int, int]]] = {}
        for entry in dwarf.CFI_entries():
            if type(entry).__name__ != "FDE":
                continue
            cie = entry.cie.header
            code_align, data_align = cie["code_alignment_factor"], cie["data_alignment_factor"]
            pc = start = entry.header["initial_location"]
            end = start + entry.header["address_range"]
            offset = 8
            rows = [(pc, offset)]
            for instruction in entry.instructions:
                opcode, args = instruction.opcode, instruction.args
                if opcode & 0xC0 == 0x40 or opcode in (0x02, 0x03, 0x04):  # advance_loc, advance_loc1/2/4
                    pc += args[0] * code_align
                elif opcode == 0x0E:  # def_cfa_offset
                    offset = args[0]
                elif opcode == 0x13:  # def_cfa_offset_sf
                    offset = args[0] * data_align
                elif opcode == 0x0C:  # def_cfa
                    offset = args[1]
                else:
                    continue
                if pc < end:
                    rows.append((pc, offset))
            out[start] = rows
        return out


def _expand(rows: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The CFA offset in force at each pc where it changes (two encoders, same rules)."""
    latest: dict[int, int] = {}
    for pc, offset in rows:
        latest[pc] = offset  # the last instruction at a pc wins
    out: list[tuple[int, int]] = []
    for pc in sorted(latest):
        if not out or out[-1][1] != latest[pc]:
            out.append((pc, latest[pc]))
    return out


@pytest.mark.e2e
@pytest.mark.gdb
@pytest.mark.go_versions("1.19", "1.22", "1.24", "1.27")
@pytest.mark.flavours("stripped")
def test_gdb_own_bt_on_stripped_core(go_version, flavour, tmp_path):
    artifact = kernel_core("zoo", go_version, flavour, "panic")
    with GoBinary(str(artifact.exe)) as binary:
        assert binary.symbol("main.main") is None and not binary.has_dwarf()
        main_entry = Pclntab.from_binary(binary).func_by_name("main.main").entry
    run = run_gdb(
        ["bt", f"info symbol {main_entry:#x}", "break main.main", "go symbols"],
        exe=artifact.exe,
        core=artifact.core,
        env={"GOEXT_CACHE_DIR": str(tmp_path)},
    )
    bt, info, brk, symbols = run.outputs
    assert "<signal handler called>" in bt, run.transcript()
    for pkg, name in (("runtime", "sigtramp"), ("runtime", "gopanic"), ("main", "panicNested"), ("main", "main")):
        assert _name(pkg, name).search(bt), f"{pkg}.{name} missing from gdb's bt:\n{bt}"
    assert "??" not in bt.split("<signal handler called>")[1], bt
    assert info.startswith("main.main in section .text"), info
    assert f"Breakpoint 1 at {main_entry:#x}" in brk, brk
    assert "loaded" in symbols, symbols


@pytest.mark.e2e
@pytest.mark.gdb
@pytest.mark.go_versions("1.22")
@pytest.mark.flavours("stripped")
def test_gdb_auto_symbols_can_be_turned_off(go_version, flavour, tmp_path):
    artifact = kernel_core("zoo", go_version, flavour, "panic")
    env = {"GOEXT_CACHE_DIR": str(tmp_path), "GOEXT_AUTO_SYMBOLS": "0"}
    run = run_gdb(["bt 2", "go symbols", "bt 2"], exe=artifact.exe, core=artifact.core, env=env)
    before, loaded, after = run.outputs
    assert "raise" not in before, run.transcript()
    assert "loaded" in loaded
    assert _name("runtime", "raise").search(after), after


@pytest.mark.e2e
@pytest.mark.lldb
@pytest.mark.go_versions("1.22", "1.27")
@pytest.mark.flavours("stripped")
def test_lldb_bt_after_go_symbols(go_version, flavour, tmp_path):
    artifact = kernel_core("zoo", go_version, flavour, "panic")
    run = run_lldb(["go symbols", "bt 3"], exe=artifact.exe, core=artifact.core, env={"GOEXT_CACHE_DIR": str(tmp_path)})
    symbols, bt = run.outputs
    assert "loaded" in symbols, run.transcript()
    assert "runtime.raise" in bt and "runtime.dieFromSignal" in bt, bt


@pytest.mark.go_versions("1.22")
@pytest.mark.flavours("stripped")
def test_offline_go_symbols_writes_file(go_version, flavour, tmp_path):
    from goext_core.__main__ import main

    artifact = kernel_core("zoo", go_version, flavour, "panic")
    out = tmp_path / "zoo.sym"
    assert main([str(artifact.exe), str(artifact.core), "symbols", "-o", str(out)]) == 0
    with open(out, "rb") as handle:
        names = {sym.name for sym in ELFFile(handle).get_section_by_name(".symtab").iter_symbols()}
    assert {"main.main", "runtime.main", "main.panicNested"} <= names


@pytest.mark.unit
def test_cfi_says_where_the_frame_pointer_is_saved(tmp_path):
    """From the prologue's BP store on, the caller's BP is at CFA-16; after the
    epilogue's pop it is back in its register (lldb needs both to walk Go frames)."""
    runs = ((1, 0), (4, 8), (0x18, 40), (0x19, 8), (0x1A, 0), (0x20, 40))
    symbols = [FunctionSymbol("main.f", 0x401000, 0x20, runs, frame_pointer_saved_from=1)]
    path = tmp_path / "fp.sym"
    path.write_bytes(build_symbol_file(symbols, "amd64", entry=0x401000, cfi=True))
    with open(path, "rb") as handle:
        fde = next(e for e in ELFFile(handle).get_dwarf_info().CFI_entries() if type(e).__name__ == "FDE")
        table = fde.get_decoded().table
    rbp = {row["pc"] - 0x401000: row.get(6) for row in table}
    assert rbp[0] is None
    assert (rbp[1].type, rbp[1].arg) == ("OFFSET", -16)
    assert (rbp[0x18].type, rbp[0x18].arg) == ("OFFSET", -16)  # between ADDQ and POPQ: still saved
    assert rbp[0x19].type == "SAME_VALUE"
    assert (rbp[0x1A].type, rbp[0x1A].arg) == ("OFFSET", -16)  # code after the RET has the frame again


@pytest.mark.go_versions("1.19", "1.27")  # SUBQ/MOVQ BP prologue (before 1.21), PUSHQ BP prologue (1.21+)
@pytest.mark.flavours("default")
def test_frame_pointer_saves_are_recognized(go_version, flavour):
    exe = build("zoo", go_version, flavour)
    with GoBinary(str(exe)) as binary:

        def read_code(address: int, size: int):
            return binary.read_static(address, size)

        symbols = {s.name: s for s in function_symbols(Pclntab.from_binary(binary), True, read_code)}
    framed = [s for s in symbols.values() if any(pushed > 0 for _, pushed in s.frame_runs)]
    recognized = [s for s in framed if s.frame_pointer_saved_from is not None]
    # Assembly functions with frames but no BP save (NOFRAME) are the rest.
    assert len(recognized) > 0.95 * len(framed), (len(recognized), len(framed))
    chansend1 = symbols["runtime.chansend1"]
    # 1.27: PUSHQ BP (1 byte) saves it at +1; 1.19: SUBQ $n, SP (4 bytes), MOVQ BP, n-8(SP) (5 bytes).
    assert chansend1.frame_pointer_saved_from == (1 if go_version != "1.19" else 9)


@pytest.mark.unit
def test_cfi_of_the_signal_restorer(tmp_path):
    """The restorer's FDE reads the interrupted registers from the signal
    frame: CFA = the saved rsp (ucontext at rsp, uc_mcontext at +40, rsp its
    16th word), rip and rbp at their sigcontext slots; the function before it
    stops one byte short (gdb looks the restorer's frame up at pc - 1)."""
    symbols = [
        FunctionSymbol("runtime.sigtramp", 0x401000, 0x20, ((0x20, 0),)),
        FunctionSymbol(SIGNAL_RESTORER, 0x401020, 0x10),
    ]
    path = tmp_path / "sig.sym"
    path.write_bytes(build_symbol_file(symbols, "amd64", entry=0x401000, cfi=True))
    with open(path, "rb") as handle:
        fdes = [e for e in ELFFile(handle).get_dwarf_info().CFI_entries() if type(e).__name__ == "FDE"]
    ranges = {fde.header["initial_location"]: fde.header["address_range"] for fde in fdes}
    assert ranges == {0x401000: 0x1F, 0x401020: 0x10}
    restorer = next(fde for fde in fdes if fde.header["initial_location"] == 0x401020)
    by_name: dict[int, list] = {instruction.opcode: [] for instruction in restorer.instructions}
    for instruction in restorer.instructions:
        by_name[instruction.opcode].append(instruction.args)
    # DW_CFA_def_cfa_expression: DW_OP_breg7 (rsp) 160; DW_OP_deref.
    assert [bytes(args[0]) for args in by_name[0x0F]] == [bytes([0x77, 0xA0, 0x01, 0x06])]
    saved = {args[0]: bytes(args[1]) for args in by_name[0x10]}  # DW_CFA_expression: register -> expression
    assert saved[16] == bytes([0x77, 0xA8, 0x01])  # rip at rsp + 40 + 16 * 8
    assert saved[6] == bytes([0x77, 0xF8, 0x00])  # rbp at rsp + 40 + 10 * 8 (SLEB128 120)
    assert len(saved) == 17


@pytest.mark.go_versions("1.19", "1.22", "1.27")
@pytest.mark.flavours("stripped")
def test_bulk_function_columns_match_each_func(go_version, flavour):
    """The one-pass function table the symbol file is built from says what
    decoding each function on its own says: entry, end, name, pcsp runs."""
    exe = build("zoo", go_version, flavour)
    with GoBinary(str(exe)) as binary:
        table = Pclntab.from_binary(binary)
        columns = table.function_columns()
        assert columns is not None
        funcs = list(table.funcs())
        assert columns.entries == [f.entry for f in funcs]
        assert columns.ends == [f.end for f in funcs]
        assert columns.names == [f.name for f in funcs]
        assert columns.pcsp == [f.pcsp for f in funcs]
        for func in funcs[:: max(1, len(funcs) // 500)]:
            if func.pcsp:
                ends, values = table.decode_values(func, func.pcsp)
                assert table.decode_table(func.pcsp, func.end - func.entry) == (list(ends), list(values))


@pytest.mark.go_versions("1.22")
@pytest.mark.flavours("stripped")
def test_gdb_file_leaves_out_what_dynsym_names_and_lldb_file_keeps_it(go_version, flavour, tmp_path):
    """A cgo program exports a few Go functions (crosscall2, _cgo_panic) in
    .dynsym.  gdb reads those from the executable, so its file lists them only
    in the CFI; lldb shows the file's symbols instead of the executable's, so
    its file keeps every function."""
    exe = build("cgo", go_version, flavour)
    with GoBinary(str(exe)) as binary:
        table = Pclntab.from_binary(binary)
        exported = named_by_executable(binary, function_symbols(table))
        assert exported and all(binary.dynamic_symbol(name) == address for name, address in exported)
        full = symbol_file_image(binary, table)
        for_gdb = symbol_file_image(binary, table, for_gdb=True)

    def contents(image: bytes) -> tuple[set[tuple[str, int]], bytes]:
        path = tmp_path / "image"
        path.write_bytes(image)
        with open(path, "rb") as handle:
            elf = ELFFile(handle)
            symbols = {(s.name, s["st_value"]) for s in elf.get_section_by_name(".symtab").iter_symbols() if s.name}
            return symbols, elf.get_section_by_name(".debug_frame").data()

    full_symbols, full_frames = contents(full)
    gdb_symbols, gdb_frames = contents(for_gdb)
    assert exported <= full_symbols
    assert gdb_symbols == full_symbols - exported
    assert gdb_frames == full_frames


@pytest.mark.go_versions("1.19", "1.27")  # both prologue forms (SUBQ/MOVQ BP before 1.21, PUSHQ BP since)
@pytest.mark.flavours("stripped")
def test_frame_rules_equal_the_symbol_files_cfi(go_version, flavour, tmp_path):
    """gdb unwinds stripped Go frames through FrameRules instead of CFI written
    for every function: at every pc it must give what the full file's
    .debug_frame (read by pyelftools, not by goext) holds, and nothing where
    that file has no FDE or leaves the frame to a special rule."""
    exe = build("zoo", go_version, flavour)
    with GoBinary(str(exe)) as binary:
        table = Pclntab.from_binary(binary)
        path = tmp_path / "full.sym"
        path.write_bytes(symbol_file_image(binary, table))
        rules = FrameRules(table, code_reader(binary))
        with open(path, "rb") as handle:
            fdes = {
                entry.header.initial_location: entry
                for entry in ELFFile(handle).get_dwarf_info().CFI_entries()
                if type(entry).__name__ == "FDE"
            }
            checked = 0
            for func in table.funcs():
                fde = fdes.get(func.entry)
                if fde is None:
                    assert rules.rule(func.entry) is None, func.name
                    continue
                rows = fde.get_decoded().table
                covered = fde.header.address_range
                for offset in range(0, func.end - func.entry, 3):
                    pc = func.entry + offset
                    got = rules.rule(pc)
                    if offset >= covered:
                        assert got is None, (func.name, offset)
                        continue
                    row = [r for r in rows if r["pc"] <= pc][-1]
                    special = row["cfa"].expr is not None or (16 in row and row[16].type == "UNDEFINED")
                    if special:
                        assert got is None and func.name in DEBUGGER_UNWOUND | {"runtime.sigreturn"}, func.name
                        continue
                    bp_saved = 6 in row and row[6].type == "OFFSET"
                    assert got == (func.entry, row["cfa"].offset, bp_saved), (func.name, offset, got, row)
                    checked += 1
    assert checked > 10_000


@pytest.mark.unit
def test_frame_rule_rows_follow_the_instructions():
    """The row interpreter on instructions of every kind _fde_instructions
    writes: 1/2/4-byte advances, a CFA offset over 127 (two-byte ULEB), the
    frame pointer saved and restored."""
    runs = ((1, 0), (0x120, 0x98), (0x20000, 0x98), (0x20004, 0), (0x20010, 0x98))
    instructions = symfile._fde_instructions(runs, 0x20010, 4, False, "<")
    expectations = {
        0: (8, False),
        1: (0xA0, False),  # pushed 0x98 from offset 1, but BP is saved only from offset 4
        3: (0xA0, False),
        4: (0xA0, True),
        0x11F: (0xA0, True),
        0x1FFFF: (0xA0, True),
        0x20000: (8, False),
        0x20003: (8, False),
        0x20004: (0xA0, True),
        0x2000F: (0xA0, True),
    }
    for offset, expected in expectations.items():
        assert symfile._row_at(instructions, offset) == expected, hex(offset)


@pytest.mark.e2e
@pytest.mark.gdb
@pytest.mark.go_versions("1.19", "1.27")
@pytest.mark.flavours("stripped")
def test_gdb_unwinder_and_full_cfi_give_the_same_backtraces(go_version, flavour, tmp_path):
    """Every thread's bt through goext's unwinder (auto symbols) equals the bt
    gdb makes from a symbol file with CFI for every function (go symbols,
    auto symbols off): signal frames, runtime and user frames alike."""
    artifact = kernel_core("zoo", go_version, flavour, "segv")
    commands = ["set width 0", "thread apply all bt", "frame 1", "info registers rip rsp rbp"]
    unwound = run_gdb(commands, exe=artifact.exe, core=artifact.core, env={"GOEXT_CACHE_DIR": str(tmp_path / "a")})
    full = run_gdb(
        ["go symbols", *commands],
        exe=artifact.exe,
        core=artifact.core,
        env={"GOEXT_CACHE_DIR": str(tmp_path / "b"), "GOEXT_AUTO_SYMBOLS": "0"},
    )
    assert "loaded" in full.outputs[0], full.transcript()
    assert "<signal handler called>" in unwound.outputs[1], unwound.transcript()
    assert unwound.outputs[1].count("\n#") >= 10, unwound.transcript()
    assert unwound.outputs[1:] == full.outputs[2:], unwound.transcript() + full.transcript()
