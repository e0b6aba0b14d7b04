"""The same snapshot from gdb, from lldb and offline: the front ends add nothing."""

from __future__ import annotations

import json

import pytest

from goext_core.output.snapshot import build_snapshot
from goext_core.program import GoProgram
from goext_core.target.core import CoreTarget
from support.cores import kernel_core
from support.debuggers import require_gdb, require_lldb, run_gdb, run_lldb

DEBUGGERS = {"gdb": (require_gdb, run_gdb), "lldb": (require_lldb, run_lldb)}


def _comparable(snapshot: dict) -> dict:
    snapshot = dict(snapshot)
    snapshot.pop("notes", None)
    return snapshot


@pytest.mark.e2e
@pytest.mark.go_versions("1.19", "1.22", "1.24", "1.27")
@pytest.mark.parametrize("debugger", sorted(DEBUGGERS))
def test_snapshot_in_debugger_equals_offline(debugger, go_version, flavour, tmp_path):
    require, run = DEBUGGERS[debugger]
    require()
    artifact = kernel_core("zoo", go_version, flavour, "panic")
    offline = build_snapshot(GoProgram(CoreTarget(str(artifact.exe), str(artifact.core))))
    output = tmp_path / "snapshot.json"
    result = run([f"go snapshot -o {output}"], exe=artifact.exe, core=artifact.core)
    assert output.exists(), result.transcript()
    inside = json.loads(output.read_text())
    assert _comparable(inside) == _comparable(offline)


@pytest.mark.e2e
@pytest.mark.go_versions("1.22", "1.27")
@pytest.mark.flavours("default")
@pytest.mark.parametrize("debugger", sorted(DEBUGGERS))
def test_commands_in_debugger_print_what_offline_prints(debugger, go_version, flavour):
    require, run = DEBUGGERS[debugger]
    require()
    artifact = kernel_core("zoo", go_version, flavour, "panic")
    commands = ["go goroutines", "go bt 1", "go bt all", "go goroutines --group -t 3", "go info"]
    result = run(commands, exe=artifact.exe, core=artifact.core)
    from goext_core.commands import Context, dispatch

    for command, output in zip(commands, result.outputs):
        name, _, args = command[3:].partition(" ")
        expected: list[str] = []
        program = GoProgram(CoreTarget(str(artifact.exe), str(artifact.core)))
        assert dispatch(Context(lambda program=program: program), name, args, expected.append)
        if name == "info":
            # paths of the core and the executable are spelled by each debugger
            assert "goroutines:" in output and "go version:" in output, output
            continue
        assert output.strip() == "".join(expected).strip(), f"{debugger}: {command}"


@pytest.mark.e2e
@pytest.mark.go_versions("1.22")
@pytest.mark.flavours("default")
def test_bad_arguments_give_one_line_errors_in_both(go_version, flavour):
    artifact = kernel_core("zoo", go_version, flavour, "panic")
    commands = ["go bt 123456", "go bt nonsense", "go goroutines --with '('", "go goroutines -t -5x"]
    for require, run in DEBUGGERS.values():
        require()
        result = run(commands, exe=artifact.exe, core=artifact.core)
        for command, output in zip(commands, result.outputs):
            assert "Traceback" not in output, output
            errors = [line for line in output.splitlines() if "goext: error:" in line or "error: goext:" in line]
            assert len(errors) == 1, f"{command}: {output!r}"
