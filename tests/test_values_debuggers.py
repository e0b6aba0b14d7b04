"""Go values inside gdb and lldb: the same `go print` / `go locals` output as
offline (and so the same expectations, written from zoo's source), gdb's
pretty-printers and convenience functions, and gdb/MI varobj children."""

from __future__ import annotations

import os
import re
import subprocess

import pytest

from support.cores import kernel_core
from support.debuggers import GDB_ENTRY, require_gdb, run_gdb, run_lldb
from test_values import GLOBALS, LOCALS, VERSIONS, matches

# A cross-section of kinds (every kind and recognizer at least once).
SAMPLE = (
    "gInt8",
    "gUint64",
    "gFloat64",
    "gComplex64",
    "gString",
    "gLongString",
    "gSlice",
    "gNilSlice",
    "gInterfaceSlice",
    "gCube",
    "gEmptyMap",
    "gBufferedChan",
    "gClosedChan",
    "gIfacePointer",
    "gShape",
    "gNilShape",
    "gDoubleWrapped",
    "gTypedNilError",
    "gPtrPtr",
    "gSelfLoop",
    "gDerived",
    "gPairPoint",
    "gFunc",
    "gTime",
    "gDuration",
    "gLockedMutex",
    "gReadLocked",
    "gWaitGroup",
    "gAtomicValue",
)
MAP_ENTRIES = {
    "gSmallMap": ('"one": 1', '"two": 2', '"three": 3'),
    "gStructMap": ('"origin": {X: 0, Y: 0}', '"unit": {X: 1, Y: 1}'),
}


def _holdlocals_goid(artifact) -> int:
    parked = artifact.parsed().by_id()
    return next(g.id for g in parked.values() if any(f.function == "main.holdLocals" for f in g.frames))


def _check_outputs(outputs: list[str], names: tuple[str, ...]) -> list[str]:
    wrong = []
    for name, output in zip(names, outputs):
        text = output.strip()
        if not matches(GLOBALS[name], text):
            wrong.append(f"{name}: {text!r}")
    return wrong


@pytest.mark.e2e
@pytest.mark.gdb
@pytest.mark.go_versions(*VERSIONS)
@pytest.mark.flavours("default", "noopt")
def test_go_print_in_gdb_equals_the_source(go_version, flavour):
    require_gdb()
    artifact = kernel_core("zoo", go_version, flavour, "panic")
    goid = _holdlocals_goid(artifact)
    commands = (
        [f"go print {name}" for name in SAMPLE] + [f"go print {name}" for name in MAP_ENTRIES] + [f"go locals {goid}"]
    )
    result = run_gdb(commands, exe=artifact.exe, core=artifact.core)
    outputs = result.outputs
    wrong = _check_outputs(outputs, SAMPLE)
    for name, output in zip(MAP_ENTRIES, outputs[len(SAMPLE) :]):
        wrong += [f"{name}: {entry} missing" for entry in MAP_ENTRIES[name] if entry not in output]
    if flavour == "noopt":
        wrong += _locals_wrong(outputs[-1])
    assert not wrong, "\n".join(wrong) + "\n" + result.transcript()[:3000]


@pytest.mark.e2e
@pytest.mark.lldb
@pytest.mark.go_versions(*VERSIONS)
@pytest.mark.flavours("default", "noopt")
def test_go_print_in_lldb_equals_the_source(go_version, flavour):
    artifact = kernel_core("zoo", go_version, flavour, "panic")
    goid = _holdlocals_goid(artifact)
    commands = [f"go print {name}" for name in SAMPLE] + [f"go locals {goid}"]
    result = run_lldb(commands, exe=artifact.exe, core=artifact.core)
    wrong = _check_outputs(result.outputs, SAMPLE)
    if flavour == "noopt":
        wrong += _locals_wrong(result.outputs[-1])
    assert not wrong, "\n".join(wrong) + "\n" + result.transcript()[:3000]


def _locals_wrong(text: str) -> list[str]:
    got = dict(re.findall(r"^  (\w+) = (.*)$", text, re.M))
    return [
        f"local {name}: {got.get(name)!r}"
        for name, want in LOCALS.items()
        if got.get(name) is None or not matches(want, got[name])
    ]


@pytest.mark.e2e
@pytest.mark.gdb
@pytest.mark.go_versions("1.22", "1.24")
@pytest.mark.flavours("default")
def test_gdb_printers_and_functions(go_version, flavour):
    require_gdb()
    artifact = kernel_core("zoo", go_version, flavour, "panic")
    commands = [
        "print 'main.gSmallMap'",
        "print 'main.gStringSlice'",
        "print 'main.gShape'",
        "print 'main.gTime'",
        "print $len('main.gBigMap')",
        "print $cap('main.gSubSlice')",
        "print $dtype('main.gShape')",
        "print $dtype('main.gNilError')",
        "print $len('main.gBufferedChan')",
        "info pretty-printer",
        "disable pretty-printer .* goext-go",
        "print 'main.gShape'",
    ]
    outputs = run_gdb(commands, exe=artifact.exe, core=artifact.core).outputs
    small_map, strings, shape, when, big_len, sub_cap, dtype, nil_dtype, chan_len, listing, _, raw = outputs
    assert small_map.startswith("$1 = map[string]int len 3 = {") and '["two"] = 2' in small_map, small_map
    assert strings.strip() == '$2 = []string len 3 cap 3 = {"alpha", "beta", "gamma"}'
    assert shape.strip() == "$3 = main.Rect({W: 3, H: 4})"
    assert when.strip() == "$4 = 2024-02-29 12:34:56.789 +0000 UTC"
    assert big_len.strip() == "$5 = 1000" and sub_cap.strip() == "$6 = 4"
    assert dtype.strip() == '$7 = "main.Rect"' and nil_dtype.strip() == '$8 = "<nil>"'
    assert chan_len.strip() == "$9 = 3"
    assert "goext-go" in listing
    assert "tab =" in raw  # disabled: gdb's own struct printing again


@pytest.mark.e2e
@pytest.mark.gdb
@pytest.mark.go_versions("1.22", "1.27")
@pytest.mark.flavours("default")
def test_gdb_mi_lists_map_children(go_version, flavour):
    gdb_binary = require_gdb()
    artifact = kernel_core("zoo", go_version, flavour, "panic")
    script = (
        "\n".join(
            [
                "-enable-pretty-printing",
                "-var-create m * 'main.gSmallMap'",
                "-var-list-children --all-values m",
                "-var-create s * 'main.gStructSlice'",
                "-var-list-children --all-values s",
                "-gdb-exit",
            ]
        )
        + "\n"
    )
    done = subprocess.run(
        [
            gdb_binary,
            "--interpreter=mi",
            "-nx",
            "-q",
            "-iex",
            f"source {GDB_ENTRY}",
            str(artifact.exe),
            str(artifact.core),
        ],
        input=script,
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ, GOEXT_QUIET="1"),
    )
    records = [line for line in done.stdout.splitlines() if line.startswith("^done")]
    created, children, _, slice_children = records[-4:]
    assert 'displayhint="map"' in created and 'type="map[string]int"' in created, done.stdout
    assert 'numchild="6"' in children, children
    names = re.findall(r'name="m\.(\[\d\]\.(?:key|value))"', children)
    assert names == ["[0].key", "[0].value", "[1].key", "[1].value", "[2].key", "[2].value"], children
    values = re.findall(r'name="m\.\[\d\]\.value",exp="[^"]*",numchild="0",value="(\d+)"', children)
    assert sorted(values) == ["1", "2", "3"], children
    keys = re.findall(r'name="m\.\[\d\]\.key",exp="[^"]*",numchild="0",value="\\"(\w+)\\""', children)
    assert sorted(keys) == ["one", "three", "two"], children
    assert slice_children.count('type="main.Point"') == 2, slice_children
