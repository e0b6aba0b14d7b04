"""go heap retained and go leaks on real cores: the heaproots fixture (whose stdout
names every object, what holds it, and which goroutines it leaked), the healthy
fixture and Debian's servers (no leak), the same answers in gdb and lldb."""

from __future__ import annotations

import json
import re

import pytest

from goext_core.program import GoProgram
from goext_core.target.core import CoreTarget
from support.cores import CoreArtifact, kernel_core
from support.debuggers import require_gdb, require_lldb, run_gdb, run_lldb
from support.offline import core_programs, one_line_error, run
from test_debian_programs import debian_core  # noqa: F401 (a fixture: the Debian programs' cores)

VERSIONS = ("1.19", "1.22", "1.24", "1.27")


@pytest.fixture(scope="module")
def cores():
    return core_programs("heaproots")


def _ids(artifact: CoreArtifact, word: str) -> set[int]:
    return {int(line.split()[1]) for line in artifact.stdout.splitlines() if line.startswith(word + " ")}


def _addresses(artifact: CoreArtifact, kind: str) -> list[int]:
    return [int(line.split()[2], 16) for line in artifact.stdout.splitlines() if line.startswith(f"ADDR {kind} ")]


def _verdicts(program: GoProgram) -> dict[int, str]:
    report = json.loads(run(program, "leaks", "--json"))
    assert report["goroutines_omitted"] == 0
    return {entry["goroutine"]: entry["verdict"] for entry in report["goroutines"]}


@pytest.mark.go_versions(*VERSIONS)
@pytest.mark.flavours("default", "stripped")
def test_leaks_are_exactly_the_leaked_goroutines(cores, go_version, flavour):
    artifact, program = cores(go_version, flavour)
    leaked = _ids(artifact, "LEAKED")
    assert len(leaked) == 5
    verdicts = _verdicts(program)
    assert {g for g, verdict in verdicts.items() if verdict == "leaked"} == leaked, verdicts
    assert set(verdicts) == leaked, verdicts  # nothing possibly leaked or unknown either
    text = run(program, "leaks", "")
    assert re.search(r"^5 goroutines leaked \[chan receive\]: ", text, re.M), text
    assert "main.leakOne at " in text and "holdLocally" not in text and "waitOnGlobal" not in text


@pytest.mark.go_versions(*VERSIONS)
@pytest.mark.flavours("default", "stripped")
def test_retained_sizes_of_the_fixture_roots(cores, go_version, flavour):
    artifact, program = cores(go_version, flavour)
    data = json.loads(run(program, "heap", "retained --top 100000 --json"))
    assert data["single_root_bytes"] + data["shared_bytes"] + data["unreachable_bytes"] == data["total_bytes"]
    roots = data["roots"]
    big = max(roots, key=lambda row: row["retained_bytes"])
    assert big["retained_bytes"] == 200 << 20 and big["retained_objects"] == 1 and big["kind"] == "global"
    if flavour == "default":
        assert big["name"] == "main.gBig"
        # One root per variable: the words of a global struct (runtime.m0+0x2b0, ...) are merged.
        fields = [row["name"] for row in roots if row["kind"] == "global" and "+0x" in row["name"]]
        assert all(name.startswith(("data+", "bss+")) for name in fields), fields  # words no symbol covers
        assert any(row["name"] == "runtime.m0" for row in roots)
    # The goroutine's local slice alone holds the 700 Held objects and its backing array.
    held = [row for row in roots if row["kind"] == "stack" and "main.holdLocally" in row["name"]]
    assert len(held) == 1
    backing = 6144  # 700 pointers: the 6144-byte size class (src/runtime/sizeclasses.go)
    assert held[0]["retained_objects"] == 700 + 1 and held[0]["retained_bytes"] == 700 * 80 + backing
    # Each finalizer alone holds its object (16 B) and the [16]int64 it points at (128 B).
    finalizers = [row for row in roots if row["kind"] == "finalizer"]
    assert len(finalizers) >= 300
    assert sum(1 for row in finalizers if (row["retained_objects"], row["retained_bytes"]) == (2, 16 + 128)) == 300
    # The garbage ring is unreachable.
    assert data["unreachable_objects"] >= len(_addresses(artifact, "cycle"))
    text = run(program, "heap", "retained --top 3")
    assert "retained by a single root:" in text and "shared by several roots:" in text
    objects = run(program, "heap", "retained --by object --top 1")
    assert f"{200 << 20:,}" in objects, objects


@pytest.mark.go_versions(*VERSIONS)
@pytest.mark.flavours("default", "stripped")
def test_healthy_program_leaks_nothing(go_version, flavour):
    artifact = kernel_core("healthy", go_version, flavour, "panic")
    program = GoProgram(CoreTarget(str(artifact.exe), str(artifact.core)))
    verdicts = _verdicts(program)
    assert "leaked" not in verdicts.values() and "possibly leaked" not in verdicts.values(), verdicts


@pytest.mark.e2e
def test_debian_servers_leak_nothing(debian_core):  # noqa: F811
    program = GoProgram(CoreTarget(str(debian_core.exe), str(debian_core.core)))
    verdicts = _verdicts(program)
    assert "leaked" not in verdicts.values() and "possibly leaked" not in verdicts.values(), verdicts


@pytest.mark.go_versions("1.24")
@pytest.mark.flavours("default")
def test_bad_arguments_are_one_line(cores, go_version, flavour):
    _, program = cores(go_version, flavour)
    for args in ("retained --by type", "retained main.x", "--by root", "retained --top 0"):
        one_line_error(program, "heap", args)
    one_line_error(program, "leaks", "--bogus")


@pytest.mark.e2e
@pytest.mark.go_versions("1.27")
@pytest.mark.flavours("default")
def test_same_answers_in_gdb_and_lldb(cores, go_version, flavour):
    require_gdb()
    require_lldb()
    artifact, program = cores(go_version, flavour)
    commands = ["go leaks", "go heap retained --top 5"]
    offline = [run(program, "leaks", ""), run(program, "heap", "retained --top 5")]
    for result in (
        run_gdb(commands, exe=artifact.exe, core=artifact.core),
        run_lldb(commands, exe=artifact.exe, core=artifact.core),
    ):
        assert [text.strip() for text in result.outputs] == [text.strip() for text in offline], result.transcript()
