"""Go values in lldb's own views: ``target variable``, ``frame variable``,
``v`` and ``expression`` show what ``go print`` / ``go locals`` show, children
expand, optimized-out values are marked; stripped binaries and C programs are
left alone, and the debug file goext gives lldb is written once.

One lldb run per zoo core.  The expectations are goext's own offline answers
(``go print`` and ``go locals`` over the core, checked against the program by
the value tests): the point here is that lldb's views agree with them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from goext_core.binary.elf import GoBinary, dwarf_info
from goext_core.binary.lldbdebug import DW_LANG_C99, DW_LANG_GO, lldb_debug_file_for, lldb_debug_image
from goext_core.commands import Context, dispatch
from goext_core.errors import GoextError
from goext_core.program import GoProgram
from goext_core.target.core import CoreTarget
from goext_core.values.decode import type_system
from support.build import build, program_dir
from support.cores import _fixture_env, kernel_core
from support.debuggers import LLDB_ENTRY, require_lldb, run_lldb

# zoo globals of every kind (tests/programs/zoo/main.go).
GLOBALS = (
    "gInt gInt8 gUint8 gUint64 gUintptr gByte gRune gFloat32 gFloat64 gComplex64 gComplex128 gBoolTrue "
    "gString gEmptyString gUnicodeString gLongString gSlice gEmptySlice gNilSlice gStringSlice gByteSlice "
    "gSubSlice gSliceOfSlices gStructSlice gInterfaceSlice gArray gMatrix gPointArray gStringArray gEmptyArray "
    "gSmallMap gEmptyMap gNilMap gStructMap gPointKeyMap gNestedMap gInterfaceMap gBigMap "
    "gBufferedChan gFullChan gNilChan gClosedChan gSendOnlyChan "
    "gEmptyIface gIfaceInt gIfaceString gIfacePoint gIfacePointer gShape gNilShape gStringer gError gWrappedError "
    "gNilError gTypedNilError gCustomError gPtr gNilPtr gPointPtr gCycleA gDerived gEmptyStruct gPairInt "
    "gPairPoint gFunc gNilFunc gCelsius gColor gTime gZeroTime gDuration gLockedMutex gUnlockedMutex gReadLocked "
    "gWriteLocked gWaitGroup gCond gOnce gAtomicInt64 gAtomicUint32 gAtomicBool gAtomicPointer gAtomicValue "
    "gBigKVMap gGrowingMap gStructChan gMixed gSelfLoop gLinkedRun gDoubleWrapped gIfaceTypedNilPtr gUnsafePtr"
).split()
# lldb's marks for a value it has no location or register for.
UNAVAILABLE = re.compile(r"optimized out|not available|<unavailable>|no location")
LOCALS_LINE = re.compile(r"^  (?P<name>\S+) = (?P<value>.*)$", re.M)


def _offline(artifact) -> GoProgram:
    return GoProgram(CoreTarget(str(artifact.exe), str(artifact.core)))


def _go(program: GoProgram, name: str, args: str) -> str:
    chunks: list[str] = []
    dispatch(Context(lambda: program), name, args, chunks.append)
    return "".join(chunks)


def _variables(output: str) -> dict[str, str]:
    """name -> value text from lldb's ``(type) name = value`` lines."""
    found: dict[str, str] = {}
    for line in output.splitlines():
        match = re.match(r"^\((.*?)\) (\S+) = (.*)$", line)
        if match:
            found.setdefault(match.group(2), match.group(3))
    return found


def _generic_goroutines(program: GoProgram) -> list[int]:
    """Goroutines parked in zoo's generic function (one per shape)."""
    return [
        record.id
        for record in program.goroutines()
        if not record.error and any(f.function.startswith("main.genericWait[") for f in program.stack(record).frames)
    ]


def _holdlocals_goroutine(program: GoProgram) -> int:
    for record in program.goroutines():
        if not record.error and any(f.function == "main.holdLocals" for f in program.stack(record).frames):
            return record.id
    raise AssertionError("no goroutine in main.holdLocals")


SELECT_FRAME = (
    "script t = lldb.debugger.GetSelectedTarget().GetProcess().GetThreadByID({goid}); "
    "t.GetProcess().SetSelectedThread(t); "
    "print([t.SetSelectedFrame(i) for i in range(t.GetNumFrames()) "
    "if (t.GetFrameAtIndex(i).GetFunctionName() or '').startswith({function!r})][:1])"
)
CHILDREN = (
    "script import json; v = lldb.debugger.GetSelectedTarget().GetProcess().GetSelectedThread()"
    ".GetSelectedFrame().FindVariable({name!r}); "
    "print('CHILDREN ' + json.dumps([[c.GetName(), c.GetSummary() or c.GetValue(), c.GetNumChildren()] "
    "for c in (v.GetChildAtIndex(i) for i in range(v.GetNumChildren()))]))"
)


def _children(output: str) -> list[list]:
    match = re.search(r"^CHILDREN (.*)$", output, re.M)
    assert match, output
    return json.loads(match.group(1))


@pytest.mark.e2e
@pytest.mark.go_versions("1.19", "1.22", "1.27")
@pytest.mark.flavours("default", "noopt")
def test_lldb_views_show_go_values(go_version, flavour, tmp_path):
    require_lldb()
    artifact = kernel_core("zoo", go_version, flavour, "panic")
    program = _offline(artifact)
    goid = _holdlocals_goroutine(program)
    expected_globals = {name: _go(program, "print", name).strip() for name in GLOBALS}
    expected_locals = {m["name"]: m["value"] for m in LOCALS_LINE.finditer(_go(program, "locals", f"{goid}"))}

    globals_commands = [f"target variable -r '^main\\.{name}$'" for name in GLOBALS]
    commands = [*globals_commands, SELECT_FRAME.format(goid=goid, function="main.holdLocals"), "bt", "frame variable"]
    commands += ["v localSlice[1]", "expression -- localInt", "expression -- localSlice", "v localIface"]
    commands += [CHILDREN.format(name=name) for name in ("localMap", "localSlice", "localIface", "localStruct")]
    commands += ["expression -- localErr"]
    generics = _generic_goroutines(program)
    expected_generic = [_go(program, "locals", f"{goid}") for goid in generics]
    for generic in generics:
        commands += [SELECT_FRAME.format(goid=generic, function="main.genericWait["), "frame variable got"]
    env = {"GOEXT_CACHE_DIR": str(tmp_path)}
    result = run_lldb(commands, exe=artifact.exe, core=artifact.core, env=env)
    assert result.completed == len(commands), result.transcript()
    outputs = result.outputs
    assert "goext: symbols for lldb" not in result.stderr, result.stderr
    # Generic functions (shapes): their locals as go locals shows them.
    assert generics
    generic_compared = 0
    for index, expected_text in enumerate(expected_generic):
        lldb_text = outputs[len(commands) - 2 * len(generics) + 2 * index + 1]
        got = LOCALS_LINE.search(expected_text)
        shown_got = _variables(lldb_text).get("got")
        if got is not None and got["name"] == "got" and shown_got is not None and not UNAVAILABLE.search(shown_got):
            assert shown_got == got["value"], (lldb_text, expected_text)
            generic_compared += 1
    assert generic_compared or flavour != "noopt", outputs[-2 * len(generics) :]

    # target variable: every global exactly as go print shows it.
    wrong = []
    for name, output in zip(GLOBALS, outputs):
        shown = _variables(output).get(f"main.{name}")
        if shown == "NULL" and expected_globals[name] == "nil":
            continue  # lldb prints a nil pointer-typed map or chan itself, without asking the summary
        if shown != expected_globals[name]:
            wrong.append((name, shown, expected_globals[name]))
    assert not wrong, wrong

    # The goroutine's user frame: lldb's bt reaches it, frame variable equals go locals.
    selected, bt, frame_variables = outputs[len(GLOBALS) : len(GLOBALS) + 3]
    assert re.search(r"^  \* frame #\d+: .*main\.holdLocals", bt, re.M), (selected, bt)
    shown = _variables(frame_variables)
    compared = wrong_locals = 0
    marked: list[str] = []
    for name, value in expected_locals.items():
        if name not in shown:
            continue  # a piece goext names (x.field) or a variable lldb does not list
        compared += 1
        if UNAVAILABLE.search(shown[name]):
            # lldb has no location: a mark, never a value; goext may know more.
            marked.append(name)
            continue
        if shown[name] != value:
            wrong_locals += 1
            print(f"{name}: lldb {shown[name]!r} go locals {value!r}")
    assert wrong_locals == 0, frame_variables
    assert compared >= 5, (frame_variables, expected_locals)
    for name, value in expected_locals.items():
        if "optimized out" in value and name in shown:
            assert UNAVAILABLE.search(shown[name]) or "optimized out" in shown[name], (name, shown[name])
    # expression -- x of a variable is the variable's value (an interface lldb
    # holds half in registers: never the zero lldb fills in).
    errs = outputs[-2 * len(generics) - 1]
    match = re.search(r"^\(error\) \$\d+ = (.*)$", errs, re.M)
    if match and "localErr" in expected_locals:
        assert match.group(1) == expected_locals["localErr"], (errs, expected_locals["localErr"])
    if flavour == "noopt":
        # Every local has a home: all of them shown, equal to go locals.
        assert not marked and compared >= 15, (marked, compared)
        element, int_expr, slice_expr, iface = outputs[len(GLOBALS) + 3 : len(GLOBALS) + 7]
        assert re.search(r"^\(long\) localSlice\[1\] = 8$", element, re.M), element
        assert re.search(r"^\(long\) \$\d+ = 1234$", int_expr, re.M), int_expr
        assert slice_expr.strip().endswith("= " + expected_locals["localSlice"]), slice_expr
        assert iface.strip().endswith("= main.Rect({W: 1, H: 2})"), iface
        map_children, slice_children, iface_children, struct_children = (
            _children(output) for output in outputs[len(GLOBALS) + 7 : len(GLOBALS) + 11]
        )
        assert [(n, s) for n, s, _ in map_children] == [('["a"]', "1"), ('["b"]', "2")], result.transcript()
        assert [(n, s) for n, s, _ in slice_children] == [("[0]", "7"), ("[1]", "8"), ("[2]", "9")], slice_children
        # The interface's one child is its dynamic value, a struct that expands further.
        assert len(iface_children) == 1 and iface_children[0][1] == "main.Rect{W: 1, H: 2}", iface_children
        assert iface_children[0][2] == 2, iface_children
        assert [(n, s) for n, s, _ in struct_children] == [("X", "100"), ("Y", "200")], struct_children


@pytest.mark.e2e
@pytest.mark.go_versions("1.27")
@pytest.mark.flavours("default")
def test_debug_file_is_written_once(go_version, flavour, tmp_path):
    require_lldb()
    artifact = kernel_core("zoo", go_version, flavour, "panic")
    env = {"GOEXT_CACHE_DIR": str(tmp_path)}
    commands = ["target variable -r '^main\\.gString$'", "image list"]
    first = run_lldb(commands, exe=artifact.exe, core=artifact.core, env=env)
    files = list((tmp_path / "lldb").glob("*.debug"))
    assert len(files) == 1 and str(files[0]) in first.outputs[1], first.transcript()
    before = files[0].stat()
    second = run_lldb(commands, exe=artifact.exe, core=artifact.core, env=env)
    after = files[0].stat()
    assert (before.st_ino, before.st_mtime_ns) == (after.st_ino, after.st_mtime_ns)
    assert second.outputs[0].strip().endswith('= "hello, zoo"'), second.transcript()
    # Turned off by the environment: lldb's own (empty) view, no file used.
    off = run_lldb(commands, exe=artifact.exe, core=artifact.core, env={**env, "GOEXT_LLDB_DEBUG_FILE": "0"})
    assert str(files[0]) not in off.outputs[1]


@pytest.mark.e2e
@pytest.mark.go_versions("1.27")
@pytest.mark.flavours("stripped")
def test_stripped_binary_has_no_debug_file(go_version, flavour, tmp_path):
    """No DWARF, nothing to give lldb (no variables, no types): goext's own
    commands still work from the runtime's metadata."""
    require_lldb()
    artifact = kernel_core("zoo", go_version, flavour, "panic")
    result = run_lldb(
        ["go goroutines", "frame variable"],
        exe=artifact.exe,
        core=artifact.core,
        env={"GOEXT_CACHE_DIR": str(tmp_path)},
    )
    assert not (tmp_path / "lldb").exists() or not list((tmp_path / "lldb").iterdir())
    assert "goext: symbols for lldb" not in result.stderr, result.stderr
    assert result.succeeded[0], result.transcript()


C_PROGRAM = r"""
#include <stdio.h>
struct point { long x, y; };
struct point g_point = {3, 4};
long g_array[3] = {1, 2, 3};
char g_name[] = "c program";
unsigned char g_byte = 200;
double g_ratio = 2.5;
int stop_here(struct point *p) { return (int)(p->x + p->y); }
int main(void) { long local = 42; printf("%d\n", stop_here(&g_point)); return (int)local - 42; }
"""


@pytest.mark.e2e
def test_c_program_is_unaffected(tmp_path):
    require_lldb()
    source = tmp_path / "prog.c"
    source.write_text(C_PROGRAM)
    exe = tmp_path / "prog"
    subprocess.run(["gcc", "-g", "-O0", "-o", str(exe), str(source)], check=True)
    commands = [
        "breakpoint set -n stop_here",
        "process launch",
        "frame variable",
        "target variable g_point g_name g_byte g_ratio g_array",
        "up",
        "frame variable",
        "process kill",
    ]
    env = {"GOEXT_CACHE_DIR": str(tmp_path / "cache")}
    with_goext = run_lldb(commands, exe=exe, env=env)
    without = run_lldb(commands, exe=exe, env=env, load_goext=False)

    def views(run) -> list[str]:
        return [re.sub(r"0x[0-9a-f]+", "0x…", run.outputs[index]) for index in (2, 3, 5)]

    assert views(with_goext) == views(without), with_goext.transcript()
    # A session that debugged a Go program first has the go category on: C
    # values still read as lldb's own.
    mixed = run_lldb(["type category enable go", *commands], exe=exe, env=env)
    assert mixed.outputs[4] == with_goext.outputs[3], mixed.transcript()
    assert "g_byte = '\\xc8'" in with_goext.outputs[3]
    assert not (tmp_path / "cache" / "lldb").exists()
    assert os.path.exists(exe)


# lldb's Debug Adapter Protocol server: lldb-dap since LLVM 18, lldb-vscode before.
LLDB_DAP_NAMES = ("lldb-dap", "lldb-dap-16", "lldb-vscode-16", "lldb-vscode")


class _DapSession:
    """A minimal Debug Adapter Protocol client over the adapter's stdio."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        self.seq = 0
        self.output: list[str] = []

    def request(self, command: str, **arguments) -> dict:
        self.seq += 1
        body = json.dumps({"seq": self.seq, "type": "request", "command": command, "arguments": arguments}).encode()
        assert self.process.stdin is not None
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.process.stdin.flush()
        for _ in range(10_000):  # events may come first
            message = self._read()
            if message.get("type") == "response" and message.get("request_seq") == self.seq:
                assert message.get("success"), message
                return message.get("body") or {}
            if message.get("event") == "output":
                self.output.append(message["body"].get("output", ""))
        raise AssertionError(f"no response to {command}")

    def _read(self) -> dict:
        assert self.process.stdout is not None
        header = b""
        while not header.endswith(b"\r\n\r\n"):
            byte = self.process.stdout.read(1)
            if not byte:
                raise AssertionError("the adapter exited: " + "".join(self.output))
            header += byte
        length = next(int(line.split(b":")[1]) for line in header.split(b"\r\n") if line.startswith(b"Content-Length"))
        return json.loads(self.process.stdout.read(length))

    def close(self) -> None:
        try:
            self.request("disconnect", terminateDebuggee=True)
            self.process.wait(timeout=20)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()


@pytest.mark.e2e
@pytest.mark.go_versions("1.27")
@pytest.mark.flavours("noopt")
def test_lldb_dap_shows_go_values(go_version, flavour, tmp_path):
    """lldb-dap (lldb-vscode-16) on a core: the goroutines are threads, a
    goroutine's stack has its frames, Locals are Go values that expand."""
    adapter = next((path for path in map(shutil.which, LLDB_DAP_NAMES) if path), None)
    if adapter is None:
        pytest.skip(f"no lldb DAP server ({', '.join(LLDB_DAP_NAMES)}) is installed")
    artifact = kernel_core("zoo", go_version, flavour, "panic")
    program = _offline(artifact)
    goid = _holdlocals_goroutine(program)
    expected = {m["name"]: m["value"] for m in LOCALS_LINE.finditer(_go(program, "locals", f"{goid}"))}
    env = {**os.environ, "GOEXT_CACHE_DIR": str(tmp_path), "GOEXT_QUIET": "1"}
    session = _DapSession([adapter], env)
    try:
        session.request("initialize", adapterID="lldb", clientID="goext-test")
        session.request(
            "attach",
            program=str(artifact.exe),
            coreFile=str(artifact.core),
            initCommands=[f"command script import {LLDB_ENTRY}"],
        )
        session.request("configurationDone")
        threads = {thread["id"] for thread in session.request("threads")["threads"]}
        assert goid in threads, threads
        frames = session.request("stackTrace", threadId=goid, startFrame=0, levels=20)["stackFrames"]
        frame = next(f for f in frames if f["name"].startswith("main.holdLocals"))
        scopes = session.request("scopes", frameId=frame["id"])["scopes"]
        local_scope = next(scope for scope in scopes if scope["name"] == "Locals")
        variables = {
            v["name"]: v
            for v in session.request("variables", variablesReference=local_scope["variablesReference"])["variables"]
        }
        # lldb-dap shows lldb's value column, then the summary: the summary is go locals' text.
        for name in ("localSlice", "localMap", "localIface", "localStruct", "localString", "localPtr"):
            assert variables[name]["value"].endswith(expected[name]), (name, variables[name], expected[name])
        for name in ("localMap", "localStruct"):
            reference = variables[name]["variablesReference"]
            assert reference, variables[name]
            children = session.request("variables", variablesReference=reference)["variables"]
            names = [child["name"] for child in children]
            assert names == (['["a"]', '["b"]'] if name == "localMap" else ["X", "Y"]), children
        watch = session.request("evaluate", expression="localSlice", frameId=frame["id"], context="watch")
        assert watch["result"].endswith(expected["localSlice"]) and watch["variablesReference"], watch
    finally:
        session.close()


@pytest.mark.e2e
@pytest.mark.go_versions("1.22", "1.27")
@pytest.mark.flavours("default")
def test_lldb_shows_standard_library_values(go_version, flavour, tmp_path):
    """Every package variable of the stdtypes fixture (times in zones, big
    numbers, addresses, URLs, regexps, reflect and sync values, contexts):
    ``target variable`` shows go print's text."""
    require_lldb()
    artifact = kernel_core("stdtypes", go_version, flavour, "panic")
    program = _offline(artifact)
    names = sorted(type_system(program).dwarf.global_names("main"))
    assert len(names) > 40, names
    result = run_lldb(
        ["target variable -r '^main\\.'"], exe=artifact.exe, core=artifact.core, env={"GOEXT_CACHE_DIR": str(tmp_path)}
    )
    shown = _variables(result.outputs[0])
    wrong = []
    for name in names:
        expected = _go(program, "print", name).strip()
        if shown.get(name) == "NULL" and expected == "nil":
            continue
        if shown.get(name) != expected:
            wrong.append((name, shown.get(name), expected))
    assert not wrong, wrong


# What lldb's member path reads as one name after "main." (see binary/packagevars.py).
_REACHABLE_MEMBER = re.compile(r"[^\W\d]\w*")


@pytest.mark.e2e
@pytest.mark.go_versions("1.22", "1.27")
@pytest.mark.flavours("default")
def test_target_variable_package_dot_name(go_version, flavour, tmp_path):
    """``target variable main.gX`` (lldb reads it as member gX of a variable
    named main: goext's debug file has one per package) shows exactly
    ``go print main.gX`` for every global of zoo's main package; expressions
    over such globals (func and string fields together) do not crash lldb."""
    require_lldb()
    artifact = kernel_core("zoo", go_version, flavour, "panic")
    program = _offline(artifact)
    names = sorted(
        name
        for name in type_system(program).dwarf.global_names("main")
        if _REACHABLE_MEMBER.fullmatch(name[len("main.") :])
    )
    assert len(names) > 100, names
    others = ["os.Args", "runtime.allglen"]
    expected = {name: _go(program, "print", name).strip() for name in names + others}
    commands = [f"target variable {name}" for name in names + others]
    commands += ["expression -- main.gMixed.Text", "expression -- main.gInt", "target variable main"]
    result = run_lldb(commands, exe=artifact.exe, core=artifact.core, env={"GOEXT_CACHE_DIR": str(tmp_path)})
    assert result.completed == len(commands), result.transcript()
    wrong = []
    for name, output in zip(names + others, result.outputs):
        shown = _variables(output).get(name)
        if shown == "NULL" and expected[name] == "nil":
            continue  # lldb prints a nil pointer-typed map or chan itself, without asking the summary
        if shown != expected[name]:
            wrong.append((name, shown, expected[name]))
    assert not wrong, wrong
    text, number, package = result.outputs[-3:]
    # lldb copies a multi-word result out of memory: goext shows it or says
    # it cannot know it (never lldb's zero-filled guess); lldb did not crash.
    assert re.search(r'^\(string\) \$\d+ = ("mixed"|<not known: .*>)$', text, re.M), text
    assert re.search(r"^\(long\) \$\d+ = -42$", number, re.M), number
    assert package.startswith("(package main) main = {") and "  gInt = -42" in package, package


@pytest.mark.go_versions("1.19", "1.27")
@pytest.mark.flavours("default")
def test_debug_file_layout(go_version, flavour, tmp_path):
    """The debug file: the executable's bytes and allocated sections unchanged,
    the build-id kept, DWARF decompressed, every Go unit marked C99, goext's
    unwind tables; damaged input is one error, never a traceback."""
    exe = build("zoo", go_version, flavour)
    with GoBinary(str(exe)) as binary:
        path = lldb_debug_file_for(binary, str(tmp_path))
        assert lldb_debug_file_for(binary, str(tmp_path)) == path
        build_id = binary.gnu_build_id()
    original = exe.read_bytes()
    image = Path(path).read_bytes()
    with GoBinary(path) as copy:
        assert copy.gnu_build_id() == build_id
        for section in copy.elf.iter_sections():
            name = section.name
            if section["sh_flags"] & 0x2:  # SHF_ALLOC: where lldb loads code and data from
                start, size = section["sh_offset"], section["sh_size"]
                if section["sh_type"] != "SHT_NOBITS":
                    assert image[start : start + size] == original[start : start + size], name
            if name.startswith(".debug_"):
                assert not section["sh_flags"] & 0x800, name  # not SHF_COMPRESSED
        info = dwarf_info(copy.elf)
        units = list(info.iter_CUs())
        languages = {unit.get_top_DIE().attributes["DW_AT_language"].value for unit in units}
        assert DW_LANG_GO not in languages and DW_LANG_C99 in languages, languages
        # Func types are pointers (lldb lays out records with them); the last
        # unit has one variable per package, main.gInt its member at its address.
        abbreviations = info.get_abbrev_table(0)
        tags = {abbreviations.get_abbrev(code)["tag"] for code in range(1, 40)}
        assert "DW_TAG_subroutine_type" not in tags and "DW_TAG_pointer_type" in tags, tags
        package_unit = units[-1].get_top_DIE()
        variables = {
            die.attributes["DW_AT_name"].value: die
            for die in package_unit.iter_children()
            if die.tag == "DW_TAG_variable"
        }
        assert b"main" in variables and b"runtime" in variables, sorted(variables)
        main = variables[b"main"]
        base = int.from_bytes(bytes(main.attributes["DW_AT_location"].value[1:]), "little")
        members = {
            die.attributes["DW_AT_name"].value: die.attributes["DW_AT_data_member_location"].value
            for die in main.get_DIE_from_attribute("DW_AT_type").iter_children()
        }
    with GoBinary(str(exe)) as binary:
        assert base + members[b"gInt"] == binary.symbol("main.gInt"), (hex(base), members)
    # Damaged executables: a clear error.
    broken = tmp_path / "broken"
    broken.write_bytes(original[: len(original) // 2])
    with pytest.raises(GoextError):
        with GoBinary(str(broken)) as binary:
            lldb_debug_image(binary)


@pytest.mark.e2e
@pytest.mark.go_versions("1.27")
@pytest.mark.flavours("noopt")
def test_live_process_shows_go_values(go_version, flavour, tmp_path):
    """A launched Go program: at a breakpoint, lldb's frame variable and target
    variable show Go values (the debug file is added while lldb creates the process)."""
    require_lldb()
    exe = build("zoo", go_version, flavour)
    source = (program_dir("zoo") / "main.go").read_text().splitlines()
    start = source.index("func holdLocals(ch chan int) {")
    line = next(number for number in range(start, len(source)) if source[number].strip() == "got := <-ch") + 1
    commands = [
        f"breakpoint set -f main.go -l {line}",
        "process launch -- wait",
        "frame variable localSlice localMap localIface",
        "target variable -r '^main\\.gSmallMap$'",
        "target variable main.gSmallMap main.gString",
        "process kill",
    ]
    result = run_lldb(commands, exe=exe, env={"GOEXT_CACHE_DIR": str(tmp_path), **_fixture_env()})
    assert result.completed == len(commands), result.transcript()
    shown = _variables(result.outputs[2])
    assert shown == {
        "localSlice": "[]int len 3 cap 3 [7, 8, 9]",
        "localMap": 'map[string]int len 2 ["a": 1, "b": 2]',
        "localIface": "main.Rect({W: 1, H: 2})",
    }, result.transcript()
    assert _variables(result.outputs[3]) == {
        "main.gSmallMap": 'map[string]int len 3 ["one": 1, "three": 3, "two": 2]'
    }, result.transcript()
    # The package variable on a live process (lldb reads each member alone).
    assert _variables(result.outputs[4]) == {
        "main.gSmallMap": 'map[string]int len 3 ["one": 1, "three": 3, "two": 2]',
        "main.gString": '"hello, zoo"',
    }, result.transcript()
