"""go heap path / refs and the heap graph on cores of tests/programs/heaproots, whose
stdout names every object it built and what holds it: main.Item objects held by the
global map main.cache, main.Held objects held only by main.holdLocally's local
slice, main.Finalized objects (and the [16]int64 each points at) held only by their
finalizers, a ring of main.CycleNode objects held by nothing (the GC is off), a
200 MB []byte held by main.gBig.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from goext_core.program import GoProgram
from goext_core.runtime.heapgraph import HeapGraph, build_heap_graph, reachable, shortest_chains
from goext_core.target.core import CoreTarget
from support.cores import CoreArtifact, kernel_core
from support.debuggers import require_gdb, require_lldb, run_gdb, run_lldb
from support.foreign import qemu_core
from support.offline import core_programs, one_line_error, run

VERSIONS = ("1.19", "1.22", "1.24", "1.27")


@pytest.fixture(scope="module")
def cores():
    return core_programs("heaproots")


def addresses(artifact: CoreArtifact, kind: str) -> list[int]:
    found = [int(line.split()[2], 16) for line in artifact.stdout.splitlines() if line.startswith(f"ADDR {kind} ")]
    assert found, (kind, artifact.stdout[-2000:])
    return found


def _root_kinds(graph: HeapGraph, target: int) -> list[tuple[str, str]]:
    """(kind, name) of every root that reaches object ``target``."""
    return [(root.kind, root.name) for root, _chain in shortest_chains(graph, target, len(graph.roots))]


@pytest.mark.go_versions(*VERSIONS)
@pytest.mark.flavours("default", "stripped")
def test_every_object_has_its_known_root(cores, go_version, flavour):
    artifact, program = cores(go_version, flavour)
    graph = build_heap_graph(program)
    assert graph.precise, graph.notes
    objects = graph.objects
    seen = reachable(graph, graph.roots)
    index_of = {kind: [objects.find(a) for a in addresses(artifact, kind)] for kind in ("item", "held", "cycle")}
    for kind in index_of:
        assert all(index >= 0 for index in index_of[kind]), kind
    assert all(seen[i] for i in index_of["item"])
    assert all(seen[i] for i in index_of["held"])
    assert not any(seen[i] for i in index_of["cycle"]), "the garbage ring must be unreachable"
    # The global map holds the items (stripped: a bss/data word, no symbol).
    for address in addresses(artifact, "item")[::97]:
        kinds = _root_kinds(graph, objects.find(address))
        if flavour == "default":
            assert ("global", "main.cache") in kinds, kinds
        else:
            assert any(kind == "global" and name.startswith(("bss+", "data+")) for kind, name in kinds), kinds
    # Held objects: only main.holdLocally's stack (the goroutine parked on its channel).
    for address in addresses(artifact, "held")[::61]:
        kinds = _root_kinds(graph, objects.find(address))
        assert kinds and all(kind == "stack" and " main.holdLocally " in name for kind, name in kinds), kinds
    # Finalized objects: their finalizer; their buffers: through them.
    finalized = addresses(artifact, "finalized")
    for address, buffer in list(zip(finalized, addresses(artifact, "finalizedbuf")))[::37]:
        chains = shortest_chains(graph, objects.find(address), 10)
        assert chains and all(root.kind == "finalizer" for root, _ in chains), chains
        assert chains[0][0].name == f"finalizer of {address:#x}"
        root, chain = shortest_chains(graph, objects.find(buffer), 1)[0]
        assert root.kind == "finalizer" and [objects.addresses[i] for i in chain] == [address, buffer]
    big = objects.find(addresses(artifact, "big")[0])
    root, chain = shortest_chains(graph, big, 1)[0]
    assert root.kind == "global" and chain == [big]
    if flavour == "default":
        assert root.name == "main.gBig"


@pytest.mark.go_versions(*VERSIONS)
@pytest.mark.flavours("default")
def test_path_and_refs_commands(cores, go_version, flavour):
    artifact, program = cores(go_version, flavour)
    items = addresses(artifact, "item")
    out = run(program, "heap", f"path {items[500]:#x} --all")
    assert "global root main.cache at 0x" in out, out
    assert f"-> {items[500]:#x} (" in out
    data = json.loads(run(program, "heap", f"path {items[500] + 8:#x} --limit 3 --json"))
    assert data["reachable"] and data["object"] == items[500] and data["precise"]
    assert data["chains"][0]["steps"][-1]["address"] == items[500]
    assert all(step["from_offset"] is not None for step in data["chains"][0]["steps"][1:])
    # refs of an item: the map's bucket/group array, and the next item's `next` field
    # (Item{key string; next *Item}: offset 0x10).
    refs = json.loads(run(program, "heap", f"refs {items[500]:#x} --json"))
    by_address = {entry["address"]: entry for entry in refs["objects"]}
    assert by_address[items[501]]["offsets"] == [0x10], refs
    storage = [entry for entry in refs["objects"] if entry["address"] not in items and entry["reachable"]]
    assert len(storage) == 1, refs  # the map's bucket (group) array
    if go_version != "1.19":  # its type is recorded: the field holding the pointer is named
        assert storage[0]["fields"][0].endswith((".elem", "]")) and "elem" in storage[0]["fields"][0], storage
    held = run(program, "heap", f"path {addresses(artifact, 'held')[0]:#x}")
    assert "stack root goroutine " in held and " main.holdLocally (main.go:" in held, held
    if go_version == "1.27":  # where DWARF places the slice's pointer at the parked pc
        assert " local held" in held, held
    cycle = addresses(artifact, "cycle")[3]
    assert "unreachable (garbage not yet collected)" in run(program, "heap", f"path {cycle:#x}")
    summary = run(program, "heap", "--top 3")
    assert "reachable from" in summary and "unreachable (not yet collected)" in summary
    assert "(the graph is precise" in summary


@pytest.mark.go_versions("1.22", "1.27")
@pytest.mark.flavours("default")
def test_path_of_a_go_expression(cores, go_version, flavour):
    artifact, program = cores(go_version, flavour)
    item = addresses(artifact, "item")[3]
    out = run(program, "heap", "path 'main.cache[\"k3\"]'")
    assert out.startswith(f"{item:#x}: ") and "global root main.cache" in out, out
    # A map, slice or channel variable: the heap object it refers to.
    for expression, root in (("main.cache", "main.cache"), ("main.gBig", "main.gBig"), ("main.gWake", "main.gWake")):
        out = run(program, "heap", f"path {expression}")
        assert "chain 1 (1 reference):" in out and f"global root {root} at" in out, out


@pytest.mark.go_versions("1.24")
@pytest.mark.flavours("default")
def test_bad_input_is_one_line(cores, go_version, flavour):
    _, program = cores(go_version, flavour)
    for args in (
        "path",
        "path 0x10",
        "path 0xzz",
        "refs 0xffffffffffffffffff",
        "path 0x1000 --limit 0",
        "path 0x1000 --limit 99999999999",
        "path main.nosuch",
        "refs -- -5",
        "path 0x1000 --all --limit 2",
        "--all",
    ):
        one_line_error(program, "heap", args)


@pytest.mark.go_versions("1.27")
@pytest.mark.flavours("default")
def test_same_path_in_gdb_and_lldb(cores, go_version, flavour):
    artifact, program = cores(go_version, flavour)
    commands = [
        f"go heap path {addresses(artifact, 'finalizedbuf')[7]:#x}",
        f"go heap path {addresses(artifact, 'item')[9]:#x}",
    ]
    offline = [run(program, "heap", command[len("go heap ") :]) for command in commands]
    for require, runner in ((require_gdb, run_gdb), (require_lldb, run_lldb)):
        require()
        outputs = runner(commands, exe=artifact.exe, core=artifact.core).outputs
        for got, want in zip(outputs, offline):
            assert got.strip() == want.strip(), (runner.__name__, got, want)


@pytest.mark.go_versions("1.24")
@pytest.mark.flavours("default")
def test_corrupt_heap_says_the_graph_is_incomplete(cores, go_version, flavour, tmp_path):
    """A span whose state is garbage and a finalizer list pointing into unmapped memory:
    the graph is built, says what it skipped, and is no longer called precise."""
    artifact, program = cores(go_version, flavour)
    graph = build_heap_graph(program)
    objects = graph.objects
    victim = objects.span(objects.find(addresses(artifact, "cycle")[0]))
    finalized = objects.span(objects.find(addresses(artifact, "finalized")[0]))
    layout = program.layouts["runtime.mspan"]
    data = bytearray(artifact.core.read_bytes())
    data[_file_offset(artifact.core, victim.address + layout.offset("state"))] = 0x55
    specials_at = _file_offset(artifact.core, finalized.address + layout.offset("specials"))
    data[specials_at : specials_at + 8] = (0xDEAD0000).to_bytes(8, "little")
    core = tmp_path / "core"
    core.write_bytes(bytes(data))
    broken = GoProgram(CoreTarget(str(artifact.exe), str(core)))
    summary = run(broken, "heap", "--top 1")
    assert "partly conservative" in summary and "1 spans or arenas skipped" in summary, summary
    assert "the specials of 1 spans are unreadable" in summary, summary
    out = run(broken, "heap", f"path {addresses(artifact, 'item')[0]:#x}")
    assert "global root main.cache" in out and "partly conservative" in out, out


def _file_offset(core: Path, address: int) -> int:
    with open(core, "rb") as handle:
        for segment in ELFFile(handle).iter_segments():
            if (
                segment["p_type"] == "PT_LOAD"
                and segment["p_vaddr"] <= address < segment["p_vaddr"] + segment["p_filesz"]
            ):
                return segment["p_offset"] + address - segment["p_vaddr"]
    raise AssertionError(f"{address:#x} is not in the core")


# What tests/programs/heapy allocates after its last runtime.GC (test_heap.py's bound).
AFTER_LAST_GC_OBJECTS = 64
AFTER_LAST_GC_BYTES = 4096


@pytest.mark.go_versions(*VERSIONS)
@pytest.mark.flavours("default", "stripped")
def test_after_a_full_gc_everything_is_reachable(go_version, flavour):
    """heapy keeps every object it allocated live and crashes just after runtime.GC():
    a pointer word the graph missed would leave objects unreachable, and the bytes
    reached must be what that GC itself marked (gcController.heapMarked), give or take
    the few allocations made after it."""
    _check_marked_bytes(kernel_core("heapy", go_version, flavour, "panic"))


@pytest.mark.go_versions("1.27")
@pytest.mark.flavours("default")
def test_after_a_full_gc_on_arm64(go_version, flavour):
    _check_marked_bytes(qemu_core("heapy", go_version, "arm64", "panic"))


def _check_marked_bytes(artifact: CoreArtifact) -> None:
    program = GoProgram(CoreTarget(str(artifact.exe), str(artifact.core)))
    graph = build_heap_graph(program)
    seen = reachable(graph, graph.roots)
    assert graph.precise, graph.notes
    assert len(seen) > 5000 and len(seen) - seen.count(1) <= AFTER_LAST_GC_OBJECTS
    reached_bytes = sum(size for size, hit in zip(graph.objects.sizes, seen) if hit)
    controller = program.runtime_symbol("runtime.gcController")
    marked = program.target.read_ptr(controller + program.layouts["runtime.gcControllerState"].offset("heapMarked"))
    assert abs(reached_bytes - marked) <= AFTER_LAST_GC_BYTES, (reached_bytes, marked)
