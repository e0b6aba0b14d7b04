"""go heap on cores of tests/programs/heapy, whose stdout holds the truth: how many
objects of each known type and size it keeps live, every address of its objects
over 512 bytes with pointers and of its large objects, and runtime.ReadMemStats'
figures read after a full GC just before it crashed.

goext must find every object of the known types (exactly, where the runtime
records types: Go 1.22+), reconcile its totals with the runtime's own figures in
the core exactly (objects and bytes per size class, in-use span bytes), and agree
with ReadMemStats up to the few allocations made after it was read.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from goext_core.commands import Context, dispatch
from goext_core.program import GoProgram
from goext_core.runtime.heap import census, heap_geometry, heap_objects, iter_spans, span_allocated
from goext_core.target.core import CoreTarget
from support.cores import CoreArtifact
from support.debuggers import require_gdb, require_lldb, run_gdb, run_lldb
from support.foreign import qemu_core
from support.offline import core_programs, one_line_error, run, truth_values
from test_debian_programs import debian_core  # noqa: F401 (a fixture: the Debian programs' cores)

VERSIONS = ("1.19", "1.22", "1.24", "1.27")
# What the fixture allocates after runtime.ReadMemStats (the figures' line, the panic).
AFTER_READMEMSTATS_OBJECTS = 64
AFTER_READMEMSTATS_BYTES = 64 << 10


def truths(artifact: CoreArtifact) -> dict[str, int]:
    out = truth_values(artifact.stdout)
    assert "mem.HeapObjects" in out, artifact.stdout[-2000:]
    return out


def addresses(artifact: CoreArtifact, kind: str) -> set[int]:
    return {int(line.split()[2], 16) for line in artifact.stdout.splitlines() if line.startswith(f"ADDR {kind} ")}


@pytest.fixture(scope="module")
def cores():
    return core_programs("heapy")


def _class_rows(program: GoProgram) -> dict[tuple[int, bool], int]:
    """(object size, noscan) -> objects, from go heap --by class."""
    data = json.loads(run(program, "heap", "--by class --top 1000 --json"))
    out = {}
    for row in data["rows"]:
        match = re.match(r"size class \d+ \((\d+) B\), (noscan|with pointers)", row["what"])
        if match:
            out[(int(match.group(1)), match.group(2) == "noscan")] = row["objects"]
    return out


def _objects(rows: dict[str, dict], *labels: str) -> int:
    """Objects of the rows named (the large byte arrays are untyped, or typed []uint8
    through the package variable holding them when there is DWARF)."""
    return sum(rows[label]["objects"] for label in labels if label in rows)


@pytest.mark.go_versions(*VERSIONS)
@pytest.mark.flavours("default", "stripped")
def test_counts_and_reconciliation(cores, go_version, flavour):
    artifact, program = cores(go_version, flavour)
    truth = truths(artifact)
    data = json.loads(run(program, "heap", "--top 1000 --json"))
    assert data["problems"] == [] and data["alloc_count_mismatches"] == 0, data
    wrong = []
    for line in data["reconciliation"]:
        if line["goext"] != line["expected"] or line["runtime"] is None:
            wrong.append(line)
    assert not wrong, wrong
    assert {line["what"] for line in data["reconciliation"]} >= {"objects", "bytes of objects"}
    # The runtime's figures in the core are ReadMemStats' plus what came after it.
    objects, size = data["objects"], data["bytes"]
    assert truth["mem.HeapObjects"] <= objects <= truth["mem.HeapObjects"] + AFTER_READMEMSTATS_OBJECTS
    assert truth["mem.HeapAlloc"] <= size <= truth["mem.HeapAlloc"] + AFTER_READMEMSTATS_BYTES

    rows = {row["what"]: row for row in data["rows"]}
    minor = int(go_version.split(".")[1])
    if minor >= 22:
        header = rows["main.headerObj"]
        assert header["objects"] == truth["count.headerObj"]
        assert header["bytes"] == truth["count.headerObj"] * 704  # 640 B + the 8 B header: size class 704
        large = rows["main.largeObj"]
        assert large["objects"] == truth["count.largeObj"]
        assert large["bytes"] == truth["count.largeObj"] * truth["size.largeObj"]  # whole pages: 48 KiB
        assert _objects(rows, "untyped, large objects, noscan", "[]uint8") >= truth["count.largeBytes"]
    else:
        # No type recorded by the runtime: only types propagated from DWARF's package variables.
        assert not [label for label, row in rows.items() if row["source"] not in ("none", "propagated")]
        assert _objects(rows, "untyped, large objects, with pointers", "main.largeObj") >= truth["count.largeObj"]
        assert _objects(rows, "untyped, large objects, noscan", "[]uint8") >= truth["count.largeBytes"]

    by_class = _class_rows(program)
    assert by_class[(24, True)] >= truth["count.smallNoscan"]
    assert by_class[(32, False)] >= truth["count.smallPtr"]
    assert by_class[(16, True)] >= truth["count.tiny"] // 4  # four [4]byte per 16-byte tiny block
    if minor < 22:  # no header: 640 B objects in the 640 B class
        assert by_class[(640, False)] >= truth["count.headerObj"]


@pytest.mark.go_versions("1.22", "1.27")
@pytest.mark.flavours("default", "stripped")
def test_objects_lists_every_address_and_print_reads_them(cores, go_version, flavour):
    artifact, program = cores(go_version, flavour)
    for kind, type_name in (("headerObj", "main.headerObj"), ("largeObj", "main.largeObj")):
        listed = json.loads(run(program, "heap", f"objects {type_name} --limit 10000 --json"))["objects"]
        assert {entry["address"] for entry in listed} == addresses(artifact, kind)
    first = min(addresses(artifact, "headerObj"))
    printed = run(program, "print", f"--type main.headerObj {first:#x}")
    assert printed.startswith("main.headerObj{ptrs: [(*main.smallPtr)(0x"), printed
    limited = run(program, "heap", "objects main.headerObj --limit 2")
    assert len(re.findall(r"^0x[0-9a-f]+  main\.headerObj", limited, re.M)) == 2 and "--limit reached" in limited


@pytest.mark.go_versions("1.19")
@pytest.mark.flavours("default")
def test_no_types_before_allocation_headers(cores, go_version, flavour):
    artifact, program = cores(go_version, flavour)
    out: list[str] = []
    assert not dispatch(Context(lambda: program), "heap", "objects main.noSuchType", out.append)
    assert "records no type for heap objects" in "".join(out)
    assert "records no type" in run(program, "heap", "--top 3")
    # What propagation typed through the package variables is listed all the same.
    listed = json.loads(run(program, "heap", "objects main.headerObj --limit 10000 --json"))["objects"]
    assert {entry["address"] for entry in listed} == addresses(artifact, "headerObj")


@pytest.mark.go_versions("1.24")
@pytest.mark.flavours("default")
def test_bad_arguments_are_one_line(cores, go_version, flavour):
    _, program = cores(go_version, flavour)
    for args in ("objects", "bogus", "--top 0", "--by nothing", "--limit -1", "objects main.headerObj extra"):
        one_line_error(program, "heap", args)


@pytest.mark.go_versions("1.22")
@pytest.mark.flavours("default")
def test_same_answer_in_gdb_and_lldb(cores, go_version, flavour):
    artifact, program = cores(go_version, flavour)
    offline = run(program, "heap", "--top 8")
    commands = ["go heap --top 8", "go heap objects main.largeObj"]
    want_objects = run(program, "heap", "objects main.largeObj")
    for require, runner in ((require_gdb, run_gdb), (require_lldb, run_lldb)):
        require()
        outputs = runner(commands, exe=artifact.exe, core=artifact.core).outputs
        assert outputs[0].strip() == offline.strip(), (runner.__name__, outputs[0])
        assert outputs[1].strip() == want_objects.strip(), (runner.__name__, outputs[1])


@pytest.mark.go_versions("1.22", "1.27")
@pytest.mark.flavours("default")
def test_arm64_heap_reconciles(go_version, flavour):
    artifact = qemu_core("heapy", go_version, "arm64", "panic")
    program = GoProgram(CoreTarget(str(artifact.exe), str(artifact.core)))
    assert program.target.arch == "arm64"
    data = json.loads(run(program, "heap", "--top 1000 --json"))
    assert data["problems"] == [] and data["alloc_count_mismatches"] == 0, data
    assert all(line["goext"] == line["expected"] for line in data["reconciliation"]), data["reconciliation"]
    rows = {row["what"]: row["objects"] for row in data["rows"]}
    assert (rows["main.headerObj"], rows["main.largeObj"]) == (300, 7)  # nHeader, nLarge in heapy's main.go
    # Typed through the package variables' slices, every type matching the runtime's pointer bits.
    assert (rows["main.smallPtr"], rows["main.smallNoscan"]) == (2000, 3000)  # nSmallPtr, nSmallNoscan
    assert not [note for note in data["type_notes"] if "pointer bits differ" in note]


@pytest.mark.e2e
def test_debian_servers_heaps_reconcile(debian_core):  # noqa: F811
    """Debian's stripped Go 1.19 servers, cored while serving: every span reads, and
    the counts agree with the runtime's own."""
    program = GoProgram(CoreTarget(str(debian_core.exe), str(debian_core.core)))
    data = json.loads(run(program, "heap", "--json"))
    assert data["problems"] == [] and data["alloc_count_mismatches"] == 0, data
    assert data["objects"] > 100 and data["notes"] == [], data
    assert all(line["goext"] == line["expected"] for line in data["reconciliation"]), data["reconciliation"]


def _file_offset(core: Path, address: int) -> int:
    with open(core, "rb") as handle:
        for segment in ELFFile(handle).iter_segments():
            start, size = segment["p_vaddr"], segment["p_filesz"]
            if segment["p_type"] == "PT_LOAD" and start <= address < start + size:
                return segment["p_offset"] + address - start
    raise AssertionError(f"{address:#x} is not in the core")


@pytest.mark.go_versions("1.24")
@pytest.mark.flavours("default")
def test_corrupt_spans_are_reported_skipped_and_show_in_the_reconciliation(cores, go_version, flavour, tmp_path):
    artifact, program = cores(go_version, flavour)
    layout = program.layouts["runtime.mspan"]
    spans = list(iter_spans(program, heap_geometry(program), []))
    victims = [span for span in spans if span.sizeclass == 3][:2]  # two spans of 24-byte objects
    assert len(victims) == 2
    lost = sum(span_allocated(program, span) for span in victims)
    data = bytearray(artifact.core.read_bytes())
    data[_file_offset(artifact.core, victims[0].address + layout.offset("state"))] = 0x55
    bits_at = _file_offset(artifact.core, victims[1].address + layout.offset("allocBits"))
    data[bits_at : bits_at + 8] = (0xDEAD0000).to_bytes(8, "little")
    core = tmp_path / "core"
    core.write_bytes(bytes(data))
    broken = GoProgram(CoreTarget(str(artifact.exe), str(core)))
    report = json.loads(run(broken, "heap", "--json"))
    problems = report["problems"]
    assert len(problems) == 2 and "state 85" in problems[0] and "allocation bits" in problems[1], problems
    objects = next(line for line in report["reconciliation"] if line["what"] == "objects")
    assert objects["expected"] - objects["goext"] == lost  # the runtime still counts them: shown, not hidden
    text = run(broken, "heap", "--top 3")
    assert f"DIFFERS by {-lost:+,}" in text and "2 spans or arenas skipped" in text
    # A heap index that cannot be one: one error line, no walk.
    mheap = program.layouts["runtime.mheap"]
    data = bytearray(artifact.core.read_bytes())
    length_at = _file_offset(artifact.core, heap_geometry(program).mheap + mheap.offset("allArenas.len"))
    data[length_at : length_at + 8] = (1 << 40).to_bytes(8, "little")
    core.write_bytes(bytes(data))
    out: list[str] = []
    hopeless = GoProgram(CoreTarget(str(artifact.exe), str(core)))
    assert not dispatch(Context(lambda: hopeless), "heap", "", out.append)
    assert "".join(out).startswith("goext: error: mheap_ at 0x") and "".join(out).count("\n") == 1, out


@pytest.mark.go_versions("1.19", "1.27")
@pytest.mark.flavours("default")
def test_object_index_holds_every_counted_object(cores, go_version, flavour):
    """heap_objects: the census's objects, in address order, each found by any of its bytes."""
    artifact, program = cores(go_version, flavour)
    index = heap_objects(program)
    counted = census(program, types=False)
    assert len(index) == counted.objects.objects and index.total_bytes() == counted.objects.bytes
    assert list(index.addresses) == sorted(index.addresses)
    for address in sorted(addresses(artifact, "headerObj") | addresses(artifact, "largeObj"))[:50]:
        found = index.find(address + 1)
        assert found >= 0 and index.addresses[found] <= address < index.addresses[found] + index.sizes[found]
    assert index.find(0x1000) == -1
