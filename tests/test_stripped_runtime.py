"""The runtime's globals without a symbol table (runtime/stripped.py): go sched on a
binary without symbols and DWARF equals go sched with them, on the same core.

The executable of a DWARF build is copied with its symbol table and DWARF
sections renamed away (what ``-ldflags=-s -w`` drops); its ELF and program
headers are untouched, so the core still belongs to it and both views read the
same memory (tests/test_sched.py checks the -s -w builds against what the
fixture set up).  Every global found from code (allp, sched, gomaxprocs, ncpu,
gcphase, memstats, gcController, semtable) must be at its symbol's address.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from goext_core.commands import Context, dispatch
from goext_core.program import GoProgram
from goext_core.runtime import stripped
from goext_core.runtime.sched import read_sched
from goext_core.target.core import CoreTarget
from support.cores import kernel_core
from support.foreign import qemu_core
from test_debian_programs import debian_core  # noqa: F401 (a fixture: the Debian programs' cores)

ALL_VERSIONS = ("1.19", "1.21", "1.22", "1.23", "1.24", "1.25", "1.26", "1.27")
FROM_CODE = sorted(stripped.RECOVERABLE - {"runtime.allgs", "runtime.allm"})


def _hide_symbols(exe: Path, out: Path) -> Path:
    """A copy of ``exe`` whose .symtab and DWARF sections no reader finds (their names changed)."""
    data = bytearray(exe.read_bytes())
    with open(exe, "rb") as handle:
        elf = ELFFile(handle)
        names = elf.get_section(elf["e_shstrndx"])
        start, size = names["sh_offset"], names["sh_size"]
    table = bytes(data[start : start + size])
    for old, new in ((b".symtab\0", b".xymtab\0"), (b".debug_", b".xebug_"), (b".zdebug_", b".xdebug_")):
        table = table.replace(old, new)
    data[start : start + size] = table
    out.write_bytes(bytes(data))
    out.chmod(0o755)
    return out


def _run(program: GoProgram, command: str, args: str) -> str:
    out: list[str] = []
    assert dispatch(Context(lambda: program), command, args, out.append)
    return "".join(out)


def _without_symbols(exe: Path, core: Path, tmp_path: Path) -> GoProgram:
    program = GoProgram(CoreTarget(str(_hide_symbols(exe, tmp_path / exe.name)), str(core)))
    assert program.binary.symbol("runtime.main") is None and not program.binary.has_dwarf()
    return program


def _assert_same_globals(with_symbols: GoProgram, without: GoProgram) -> None:
    bias = with_symbols.target.load_bias()
    for name in FROM_CODE:
        truth = with_symbols.binary.symbol(name)
        assert without.runtime_symbol(name) == (None if truth is None else truth + bias), name
        if truth is not None:
            assert without.runtime_symbol_size(name) == with_symbols.binary.symbol_size(name), name


@pytest.mark.go_versions(*ALL_VERSIONS)
@pytest.mark.flavours("default")
def test_sched_without_symbols_equals_sched_with_dwarf(go_version, flavour, tmp_path, monkeypatch):
    monkeypatch.setenv("GOEXT_CACHE_DIR", str(tmp_path / "cache"))
    artifact = kernel_core("sched", go_version, flavour, "panic")
    with_dwarf = GoProgram(CoreTarget(str(artifact.exe), str(artifact.core)))
    without = _without_symbols(artifact.exe, artifact.core, tmp_path)
    # The layouts come from DWARF on one side and from the version tables on the
    # other; no field of go sched needs a type beyond them.
    for args in ("", "--json"):
        assert _run(without, "sched", args) == _run(with_dwarf, "sched", args)
    view = json.loads(_run(without, "sched", "--json"))
    assert view["gomaxprocs"] == 3 and len(view["processors"]) == 3 and not view["notes"]
    _assert_same_globals(with_dwarf, without)

    # Warm: a second process finds every global where the on-disk index says, without decoding code.
    def no_decoding(*args):
        raise AssertionError("decoded code although the index knew the address")

    monkeypatch.setattr(stripped, "data_refs", no_decoding)
    again = GoProgram(CoreTarget(str(tmp_path / artifact.exe.name), str(artifact.core)))
    assert _run(again, "sched", "--json") == _run(with_dwarf, "sched", "--json")
    assert again.disk_index.hits >= 1


@pytest.mark.slow
@pytest.mark.go_versions("1.22", "1.27")
@pytest.mark.flavours("default")
def test_arm64_globals_without_symbols(go_version, flavour, tmp_path, monkeypatch):
    """arm64 code addresses globals with ADRP + ADD/LDR/STR; the zoo fixture has semaphore waiters."""
    monkeypatch.setenv("GOEXT_CACHE_DIR", str(tmp_path / "cache"))
    artifact = qemu_core("zoo", go_version, "arm64", "panic")
    with_symbols = GoProgram(CoreTarget(str(artifact.exe), str(artifact.core)))
    without = _without_symbols(Path(artifact.exe), Path(artifact.core), tmp_path)
    assert without.target.arch == "arm64"
    _assert_same_globals(with_symbols, without)
    assert _run(without, "sched", "--json") == _run(with_symbols, "sched", "--json")


@pytest.mark.e2e
def test_debian_programs_have_the_whole_scheduler(debian_core):  # noqa: F811
    """Debian's stripped Go 1.19 builds (-trimpath, cgo): GOMAXPROCS, Ps, the global
    queue, the idle lists, GC and heap are all known."""
    program = GoProgram(CoreTarget(str(debian_core.exe), str(debian_core.core)))
    view = read_sched(program)
    assert not view.notes, view.notes
    assert view.gomaxprocs and len(view.processors) == view.gomaxprocs
    assert [p.id for p in view.processors] == list(range(view.gomaxprocs))
    assert view.ncpu and view.npidle is not None and view.nmidle is not None and view.global_runq_size is not None
    assert view.gc.phase in ("off", "mark", "mark termination") and view.gc.enabled is not None
    assert view.gc.gc_percent is not None and view.gc.heap_live and view.gc.cycles is not None
    text = _run(program, "sched", "")
    assert "GOMAXPROCS: ?" not in text and "phase unknown" not in text and "heap: live ?" not in text
