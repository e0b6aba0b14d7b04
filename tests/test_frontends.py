"""The gdb and lldb front ends, in the real debuggers (batch mode).

Most tests run under both debuggers.  Target-level tests use a probe command
(``go zz-probe``) injected into the command table before goext loads: it
prints what the front end's Target reports as JSON, so gdb and lldb can be
compared with each other and with the ELF file.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import textwrap
from pathlib import Path
from typing import Callable

import pytest

from support import Unavailable
from support.debuggers import (
    GDB_ENTRY,
    LLDB_ENTRY,
    REPO_ROOT,
    DebuggerRun,
    require_gdb,
    run_gdb,
    run_lldb,
)
from support.toolchains import toolchain

DEBUGGERS = ["gdb", "lldb"]
BANNER = re.compile(r"^goext \S+: go commands registered \(go help\)$", re.MULTILINE)
GO_VERSION_FOR_FIXTURES = "1.22"
_BUILD_TIMEOUT_S = 600
_READY_TIMEOUT_S = 60

Runner = Callable[..., DebuggerRun]


def runner(debugger: str) -> Runner:
    return run_gdb if debugger == "gdb" else run_lldb


def load_command(debugger: str) -> str:
    return f"source {GDB_ENTRY}" if debugger == "gdb" else f"command script import {LLDB_ENTRY}"


def python_command(debugger: str, code: str) -> str:
    return f"{'python' if debugger == 'gdb' else 'script'} {code}"


def assert_no_traceback(run: DebuggerRun) -> None:
    everything = run.stdout + run.stderr
    assert "Traceback" not in everything, run.transcript()
    assert "Python Exception" not in everything, run.transcript()


def one_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line, got {lines!r}"
    return lines[0]


# -- the probe command ---------------------------------------------------------
PROBE_SOURCE = textwrap.dedent(
    """
    import json, sys
    sys.path.insert(0, {common!r})
    # As goext's entry files do first: with another python3 of the same
    # version first on PATH, the debugger's Python lacks the distribution's
    # site directory, where pyelftools is.
    from goext_core.dependencies import add_pyelftools
    add_pyelftools()
    from goext_core.commands import COMMANDS, CommandSpec

    def _configure(parser):
        parser.add_argument("--read", type=lambda text: int(text, 0), help="address to read 4 bytes from")

    def _run(context, args, write):
        target = context.program.target
        report = {{
            "arch": target.arch, "ptr_size": target.ptr_size, "byte_order": target.byte_order,
            "executable": target.executable(), "core_path": target.core_path(),
            "is_live": target.is_live(), "load_bias": target.load_bias(),
            "generation": target.generation(), "program_id": id(context.program),
            "threads": [{{"tid": t.tid, "index": t.index, "registers": t.registers}} for t in target.threads()],
        }}
        if args.read is not None:
            report["read"] = target.read(args.read, 4).hex()
        write("PROBE " + json.dumps(report, sort_keys=True) + "\\n")

    COMMANDS["zz-probe"] = CommandSpec(
        "zz-probe", "Report what the Target sees (test only).", _configure, _run,
        gdb_aliases=["info goroutines"],
    )
    """
)


@pytest.fixture(scope="session")
def probe_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("probe") / "probe.py"
    path.write_text(PROBE_SOURCE.format(common=str(REPO_ROOT / "common")))
    return path


def probe_init(debugger: str, probe: Path) -> list[str]:
    """Init commands that add the probe before goext loads."""
    return [python_command(debugger, f"exec(open({str(probe)!r}).read())")]


def probe_report(output: str) -> dict:
    match = re.search(r"^PROBE (.*)$", output, re.MULTILINE)
    assert match, f"no probe output in {output!r}"
    return json.loads(match.group(1))


# -- a Go program, a PIE build of it, and cores of both ----------------------------
GO_PROGRAM = """\
package main

import (
	"fmt"
	"os"
	"time"
)

func spin(ch chan int) {
	for v := range ch {
		_ = v
	}
}

// progress changes between two stops at advance: reads must not be stale.
var progress int32

//go:noinline
func advance() {
	progress++
}

func main() {
	advance()
	advance()
	ch := make(chan int)
	for i := 0; i < 3; i++ {
		go spin(ch)
	}
	fmt.Println("ready")
	if len(os.Args) > 1 && os.Args[1] == "sleep" {
		time.Sleep(time.Hour)
	}
}
"""


class GoFixture:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.exe = root / "prog"
        self.pie = root / "prog-pie"
        self.core = root / "prog.core"
        self.pie_core = root / "prog-pie.core"


def _build(tmp: Path) -> GoFixture:
    try:
        go = toolchain(GO_VERSION_FOR_FIXTURES)
    except Unavailable:
        raise
    except Exception as exc:
        raise Unavailable(f"no Go {GO_VERSION_FOR_FIXTURES} toolchain: {exc}") from exc
    fixture = GoFixture(tmp)
    (tmp / "go.mod").write_text("module example.com/goextfrontend\n\ngo 1.19\n")
    (tmp / "main.go").write_text(GO_PROGRAM)
    for output, extra in ((fixture.exe, []), (fixture.pie, ["-buildmode=pie"])):
        done = subprocess.run(
            [str(go.go), "build", *extra, "-o", str(output), "."],
            cwd=tmp,
            env=go.env(),
            capture_output=True,
            text=True,
            timeout=_BUILD_TIMEOUT_S,
        )
        assert done.returncode == 0, done.stderr
    return fixture


def _gcore(exe: Path, core: Path) -> None:
    """Dump a core of the sleeping program with gdb's gcore (independent of
    the kernel's core_pattern)."""
    gdb = require_gdb()
    process = subprocess.Popen([str(exe), "sleep"], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.strip() == "ready", line
        done = subprocess.run(
            [gdb, "-nx", "-batch", "-p", str(process.pid), "-ex", f"gcore {core}"],
            capture_output=True,
            text=True,
            timeout=_READY_TIMEOUT_S,
            stdin=subprocess.DEVNULL,
        )
        if not core.exists():
            raise Unavailable(f"gcore failed (ptrace not allowed?): {done.stderr.strip()[-300:]}")
    finally:
        process.kill()
        process.wait()


@pytest.fixture(scope="module")
def go_fixture(tmp_path_factory: pytest.TempPathFactory) -> GoFixture:
    fixture = _build(tmp_path_factory.mktemp("goprog"))
    _gcore(fixture.exe, fixture.core)
    _gcore(fixture.pie, fixture.pie_core)
    return fixture


def elf_header_vaddr(path: Path) -> int:
    """Link-time address of the ELF header: the PT_LOAD that maps offset 0."""
    from elftools.elf.elffile import ELFFile

    with open(path, "rb") as stream:
        for segment in ELFFile(stream).iter_segments():
            if segment["p_type"] == "PT_LOAD" and segment["p_offset"] == 0:
                return int(segment["p_vaddr"])
    raise AssertionError(f"{path}: no PT_LOAD at offset 0")


def symbol_address(path: Path, name: str) -> int:
    from elftools.elf.elffile import ELFFile

    with open(path, "rb") as stream:
        symbols = ELFFile(stream).get_section_by_name(".symtab")
        assert symbols is not None, f"{path}: no symbol table"
        found = symbols.get_symbol_by_name(name)
        assert found, f"{path}: no symbol {name}"
        return int(found[0]["st_value"])


# -- loading ---------------------------------------------------------------------
@pytest.mark.parametrize("debugger", DEBUGGERS)
def test_banner_once_and_loading_twice_is_harmless(debugger: str) -> None:
    run = runner(debugger)([load_command(debugger), "go help"], env={"GOEXT_QUIET": None})
    assert run.completed == 2, run.transcript()
    assert len(BANNER.findall(run.stdout)) == 1, run.transcript()
    assert run.outputs[0].strip() == "", run.transcript()  # the second load says nothing
    assert run.outputs[1].count("  go help ") == 1
    assert_no_traceback(run)


def test_loads_with_another_python_first_on_path(tmp_path: Path) -> None:
    """lldb's embedded Python takes its prefix from the python3 first on PATH: a
    virtualenv (or pyenv) python3 of the same version there moves it away from
    the distribution's packages; goext still finds python3-pyelftools and loads.
    (gdb's Python keeps the prefix gdb was built with.)"""
    debugger = "lldb"
    venv = tmp_path / "venv"
    done = subprocess.run(
        ["/usr/bin/python3", "-m", "venv", "--without-pip", str(venv)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    path = f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"
    prefix = python_command(debugger, "import sys; print('PREFIX', sys.prefix)")
    run = runner(debugger)([prefix, "go help"], env={"PATH": path})
    assert f"PREFIX {venv}" in run.outputs[0], run.transcript()  # the situation is real
    assert "goext commands:" in run.outputs[1], run.transcript()
    assert "cannot load" not in run.stdout + run.stderr, run.transcript()


@pytest.mark.parametrize("debugger", DEBUGGERS)
def test_goext_quiet_silences_the_banner(debugger: str) -> None:
    run = runner(debugger)(["go help"], env={"GOEXT_QUIET": "1"})
    assert not BANNER.search(run.stdout), run.transcript()
    assert "goext commands:" in run.outputs[0]


def test_gdb_quiet_convenience_variable() -> None:
    run = run_gdb(["go help"], env={"GOEXT_QUIET": None}, init_commands=["set $goext_quiet = 1"])
    assert not BANNER.search(run.stdout), run.transcript()
    assert "goext commands:" in run.outputs[0]


@pytest.mark.parametrize("debugger", DEBUGGERS)
def test_debugger_python_imports_elftools_and_core(debugger: str) -> None:
    code = "import elftools, goext_core; print('IMPORTS-OK', goext_core.__version__)"
    run = runner(debugger)([python_command(debugger, code)])
    assert "IMPORTS-OK" in run.outputs[0], run.transcript()


@pytest.mark.parametrize("debugger", DEBUGGERS)
def test_every_spec_is_registered(debugger: str) -> None:
    names_code = "import goext_core.commands as c; print('SPECS', ' '.join(sorted(c.COMMANDS)))"
    run = runner(debugger)([python_command(debugger, names_code), "go help"])
    names = one_line(run.outputs[0]).split()[1:]
    assert "help" in names
    for name in names:
        assert re.search(rf"^  go {re.escape(name)}\s", run.outputs[1], re.MULTILINE), (name, run.outputs[1])
    helps = runner(debugger)([f"help go {name}" for name in names])
    for name, output in zip(names, helps.outputs):
        assert f"usage: go {name}" in output, (name, output)
    assert_no_traceback(helps)


# -- errors ---------------------------------------------------------------------
@pytest.mark.parametrize("debugger", DEBUGGERS)
def test_unknown_command_is_one_line(debugger: str) -> None:
    run = runner(debugger)(["go nosuch", "go help"])
    assert "nosuch" in one_line(run.outputs[0])
    assert "goext commands:" in run.outputs[1]  # the debugger carried on
    assert_no_traceback(run)


@pytest.mark.parametrize("debugger", DEBUGGERS)
def test_usage_error_is_one_line(debugger: str) -> None:
    run = runner(debugger)(["go help --bogus"])
    line = one_line(run.outputs[0])
    assert "unrecognized arguments: --bogus" in line
    assert run.stderrs[0].strip() == line  # reported as an error, on stderr
    if debugger == "lldb":
        assert run.succeeded == [False]
    assert_no_traceback(run)


def test_gdb_failure_raises_a_gdb_error_once() -> None:
    code = "import gdb\ntry:\n    gdb.execute('go help --bogus')\nexcept gdb.error as e:\n    print('CAUGHT', e)"
    run = run_gdb([f"python exec({code!r})"])
    assert one_line(run.outputs[0]).startswith("CAUGHT goext: error: go help: unrecognized"), run.transcript()


# -- gdb specifics ----------------------------------------------------------------
def test_gdb_go_is_our_prefix_not_goto_bookmark() -> None:
    run = run_gdb(["help go", "go"])
    assert run.outputs[0].startswith("Inspect Go programs"), run.outputs[0]
    assert "goto-bookmark" not in run.outputs[0]
    assert "goext commands:" in run.outputs[1]


def test_gdb_completes_subcommands_and_options() -> None:
    run = run_gdb(["complete go hel", "complete go help --he"])
    assert run.outputs[0].split() == ["go", "help"]
    assert "go help --help" in run.outputs[1]


def test_lldb_completes_subcommand_names_only() -> None:
    """lldb completes ``go`` subcommand names (``go`` is a container command);
    lldb 16 gives Python commands no completion hook for their options (no
    ``command script add --completion-type``, no ``handle_argument_completion``),
    so ``go help --he`` completes to nothing, as the README says."""
    code = (
        "import lldb; ci = lldb.debugger.GetCommandInterpreter(); "
        "show = lambda line: [m for m in [lldb.SBStringList()] if ci.HandleCompletion(line, len(line), 0, -1, m) >= 0]"
        "[0]; print('COMPLETE', [[s.GetStringAtIndex(i) for i in range(s.GetSize())] "
        "for s in (show('go hel'), show('go lldb-th'), show('go help --he'))])"
    )
    run = run_lldb([python_command("lldb", code)])
    match = re.search(r"^COMPLETE (.*)$", run.outputs[0], re.M)
    assert match, run.transcript()
    name, threads, option = ast.literal_eval(match.group(1))
    assert "help" in name and "lldb-threads" in threads, (name, threads)
    assert [item for item in option if item] == [], option


def test_gdb_info_goroutines_follows_the_goroutines_spec(probe_file: Path) -> None:
    # A spec named "goroutines" gets "info goroutines"; here an explicit
    # gdb_aliases entry (the probe's) takes it, as the table allows.
    run = run_gdb(["help info goroutines", "help go zz-probe"], init_commands=probe_init("gdb", probe_file))
    assert run.outputs[0] == run.outputs[1], run.transcript()


def test_gdb_info_goroutines_exists_for_a_goroutines_spec() -> None:
    code = (
        f"import sys; sys.path.insert(0, {str(REPO_ROOT / 'common')!r}); "
        "from goext_core.commands import COMMANDS, CommandSpec; "
        "COMMANDS.setdefault('goroutines', CommandSpec('goroutines', 'List goroutines (test).', "
        "lambda parser: None, lambda context, args, write: write('GOROUTINES\\n')))"
    )
    run = run_gdb(["help info goroutines", "help go goroutines"], init_commands=[f"python {code}"])
    assert run.outputs[0] and run.outputs[0] == run.outputs[1], run.transcript()


def test_gdb_extensions_loaded_after_goext_still_define_commands(probe_file: Path) -> None:
    # GEF-style: a gdb.Command subclass with its own metaclass, defined while
    # goext's registration guard stands in for gdb.Command.
    code = (
        "import abc, gdb\n"
        "class Later(gdb.Command, metaclass=abc.ABCMeta):\n"
        "    def __init__(self):\n"
        "        super().__init__('later-ext', gdb.COMMAND_USER)\n"
        "    def invoke(self, arg, from_tty):\n"
        "        print('LATER', isinstance(self, gdb.Command))\n"
        "Later()\n"
    )
    run = run_gdb([f"python exec({code!r})", "later-ext"], init_commands=probe_init("gdb", probe_file))
    assert one_line(run.outputs[1]) == "LATER True", run.transcript()
    assert_no_traceback(run)


@pytest.mark.parametrize("order", ["goext-first", "runtime-gdb-first"])
def test_gdb_info_goroutines_wins_over_go_runtime_gdb(go_fixture: GoFixture, probe_file: Path, order: str) -> None:
    """Go binaries auto-load $GOROOT/src/runtime/runtime-gdb.py, which defines
    its own ``info goroutines``; ours must answer whichever loads last."""
    init = ["set auto-load safe-path /", *probe_init("gdb", probe_file)]
    commands = ["info auto-load python-scripts", "info goroutines", "go zz-probe"]
    if order == "goext-first":
        run = run_gdb(commands, exe=go_fixture.exe, core=go_fixture.core, init_commands=init)
    else:
        commands = [f"source {GDB_ENTRY}", *commands]
        run = run_gdb(commands, exe=go_fixture.exe, core=go_fixture.core, init_commands=init, load_goext=False)
        run.stdouts, run.stderrs = run.stdouts[1:], run.stderrs[1:]
    assert re.search(r"Yes\s+\S*runtime-gdb\.py", run.outputs[0]), run.transcript()
    assert probe_report(run.outputs[1])["core_path"] == str(go_fixture.core)
    assert probe_report(run.outputs[1])["threads"] == probe_report(run.outputs[2])["threads"]
    assert_no_traceback(run)


def test_gdb_restores_the_selected_thread_and_frame(go_fixture: GoFixture, probe_file: Path) -> None:
    where = "python print('AT', gdb.selected_thread().num, gdb.selected_frame().level())"
    run = run_gdb(
        ["thread 2", "frame 1", where, "go zz-probe", where],
        exe=go_fixture.exe,
        core=go_fixture.core,
        init_commands=probe_init("gdb", probe_file),
    )
    assert one_line(run.outputs[2]) == "AT 2 1", run.transcript()
    assert one_line(run.outputs[4]) == "AT 2 1", run.transcript()
    assert len(probe_report(run.outputs[3])["threads"]) >= 2


# -- targets ---------------------------------------------------------------------
@pytest.mark.parametrize("debugger", DEBUGGERS)
@pytest.mark.parametrize("pie", [False, True], ids=["exec", "pie"])
def test_core_target(go_fixture: GoFixture, probe_file: Path, debugger: str, pie: bool) -> None:
    exe, core = (go_fixture.pie, go_fixture.pie_core) if pie else (go_fixture.exe, go_fixture.core)
    header = elf_header_vaddr(exe)
    run = runner(debugger)(
        ["go zz-probe", "go zz-probe", "go zz-probe --read 0"],
        exe=exe,
        core=core,
        init_commands=probe_init(debugger, probe_file),
    )
    first, second = probe_report(run.outputs[0]), probe_report(run.outputs[1])
    assert first["program_id"] == second["program_id"]  # one GoProgram, reused
    assert first["generation"] == second["generation"]  # nothing ran in between
    assert (first["arch"], first["ptr_size"], first["byte_order"]) == ("amd64", 8, "little")
    assert first["executable"] == str(exe)
    assert first["core_path"] == str(core)
    assert first["is_live"] is False
    assert (first["load_bias"] != 0) == pie
    threads = first["threads"]
    assert len(threads) >= 2
    for thread in threads:
        for name in ("rip", "rsp", "rbp", "pc", "sp", "rax", "r14"):
            assert name in thread["registers"], (name, thread)
        assert thread["registers"]["pc"] == thread["registers"]["rip"]
    if debugger == "gdb":  # lldb 16 shows no fs_base on Linux
        assert all(thread["registers"].get("fs_base", 0) != 0 for thread in threads)
    # The ELF header is where load_bias says it is.
    reread = runner(debugger)(
        [f"go zz-probe --read {header + first['load_bias']:#x}"],
        exe=exe,
        core=core,
        init_commands=probe_init(debugger, probe_file),
    )
    assert probe_report(reread.outputs[0])["read"] == b"\x7fELF".hex()
    assert "cannot read 4 bytes at 0x0" in one_line(run.outputs[2])
    assert_no_traceback(run)


@pytest.mark.parametrize("pie", [False, True], ids=["exec", "pie"])
def test_gdb_and_lldb_see_the_same_core(go_fixture: GoFixture, probe_file: Path, pie: bool) -> None:
    exe, core = (go_fixture.pie, go_fixture.pie_core) if pie else (go_fixture.exe, go_fixture.core)
    reports = {
        debugger: probe_report(
            runner(debugger)(
                ["go zz-probe"], exe=exe, core=core, init_commands=probe_init(debugger, probe_file)
            ).outputs[0]
        )
        for debugger in DEBUGGERS
    }
    gdb_report, lldb_report = reports["gdb"], reports["lldb"]
    for key in ("arch", "executable", "core_path", "load_bias", "is_live"):
        assert gdb_report[key] == lldb_report[key], key
    compared = (
        "rax",
        "rbx",
        "rcx",
        "rdx",
        "rsi",
        "rdi",
        "rbp",
        "rsp",
        "r8",
        "r9",
        "r10",
        "r11",
        "r12",
        "r13",
        "r14",
        "r15",
        "rip",
        "eflags",
        "pc",
        "sp",
    )

    def by_tid(report: dict) -> dict[int, dict[str, int]]:
        return {t["tid"]: {n: t["registers"].get(n) for n in compared} for t in report["threads"]}

    assert by_tid(gdb_report) == by_tid(lldb_report)


@pytest.mark.parametrize("debugger", DEBUGGERS)
def test_live_target_generation_moves(go_fixture: GoFixture, probe_file: Path, debugger: str) -> None:
    start = ["break main.main", "run"] if debugger == "gdb" else ["breakpoint set -n main.main", "process launch"]
    run = runner(debugger)(
        [
            *start,
            "go zz-probe",
            "go zz-probe",
            "next" if debugger == "gdb" else "thread step-over",
            "go zz-probe",
            "kill" if debugger == "gdb" else "process kill",
            "go zz-probe",
        ],
        exe=go_fixture.exe,
        init_commands=probe_init(debugger, probe_file),
    )
    stopped, again, stepped, killed = (probe_report(run.outputs[i]) for i in (2, 3, 5, 7))
    assert stopped["is_live"] is True and stopped["core_path"] is None, run.transcript()
    assert stopped["threads"], run.transcript()
    assert again["generation"] == stopped["generation"]
    assert stepped["generation"] != stopped["generation"]
    assert stepped["program_id"] == stopped["program_id"]
    assert killed["is_live"] is False and killed["threads"] == []
    assert_no_traceback(run)


@pytest.mark.parametrize("debugger", DEBUGGERS)
def test_live_reads_are_fresh_after_running_and_after_writes(
    go_fixture: GoFixture, probe_file: Path, debugger: str
) -> None:
    """goext caches pages of target memory: a continue, or the user writing
    memory, must not leave it reading what was there before.  Each of goext's
    reads is checked against the debugger's own read at the same stop (the
    values themselves depend on scheduling: a goroutine parked at the
    breakpoint can be reported again from another thread)."""
    address = symbol_address(go_fixture.exe, "main.progress")
    probe = f"go zz-probe --read {address:#x}"
    if debugger == "gdb":
        native = f"x/1wx {address:#x}"
        commands = [
            "break main.advance",
            "run",
            probe,
            native,
            "continue",
            probe,
            native,
            "set language c",
            f"set var *(int *){address:#x} = 42",
            "set language auto",
            probe,
            native,
        ]
        pairs = ((2, 3), (5, 6), (10, 11))
    else:
        native = f"memory read -s 4 -c 1 -f x {address:#x}"
        commands = [
            "breakpoint set -n main.advance",
            "process launch",
            probe,
            native,
            "process continue",
            probe,
            native,
            f"memory write -s 4 {address:#x} 0x2a",
            probe,
            native,
        ]
        pairs = ((2, 3), (5, 6), (8, 9))
    run = runner(debugger)(commands, exe=go_fixture.exe, init_commands=probe_init(debugger, probe_file))
    for probe_index, native_index in pairs:
        ours = int.from_bytes(bytes.fromhex(probe_report(run.outputs[probe_index])["read"]), "little")
        words = re.findall(r"0x[0-9a-fA-F]{8}\b", run.outputs[native_index].split(":", 1)[-1])
        assert words, run.transcript()
        assert ours == int(words[0], 16), run.transcript()
    last = int.from_bytes(bytes.fromhex(probe_report(run.outputs[pairs[-1][0]])["read"]), "little")
    assert last == 42, run.transcript()
    assert_no_traceback(run)
