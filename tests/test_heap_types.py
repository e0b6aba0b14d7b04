"""Types of heap objects propagated through typed pointers (values/heaptypes.py), on
cores of tests/programs/heaproots, whose stdout names every object of its kinds
("ADDR kind 0x..."), and of tests/programs/heapy.

With DWARF, the package variables, the goroutines' locals and the finalizers'
records seed the propagation: main.cache's map types its buckets or groups and
every main.Item, a goroutine's local slice every main.Held, the finalizers every
main.Finalized and through it its [16]int64.  Stripped, the runtime's records
seed it: allocation headers (Go 1.22+: the map's bucket arrays and the slice's
backing array have one) and the finalizers' records.  Garbage nothing reaches stays untyped.  No
object ever gets a wrong type.
"""

from __future__ import annotations

import json
import re

import pytest

from goext_core.program import GoProgram
from goext_core.runtime.heap import heap_objects
from goext_core.values.heaptypes import propagate_types
from support.cores import CoreArtifact
from support.offline import core_programs, run, truth_values
from test_heap import truths as heapy_truths

VERSIONS = ("1.19", "1.22", "1.24", "1.27")
# The one right type of each kind of object the fixture names.
KIND_TYPES = {
    "item": "main.Item",
    "held": "main.Held",
    "finalized": "main.Finalized",
    "finalizedbuf": "[16]int64",
    "cycle": "main.CycleNode",
    "big": "[]uint8",
}


@pytest.fixture(scope="module")
def roots():
    return core_programs("heaproots")


@pytest.fixture(scope="module")
def heapy():
    return core_programs("heapy")


def truth(artifact: CoreArtifact) -> dict[str, int]:
    return truth_values(artifact.stdout)


def objects_by_kind(artifact: CoreArtifact) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for line in artifact.stdout.splitlines():
        if line.startswith("ADDR "):
            _, kind, address = line.split()
            out.setdefault(kind, []).append(int(address, 16))
    return out


def types_of_kinds(artifact: CoreArtifact, program: GoProgram) -> dict[str, dict[object, int]]:
    """kind -> {type goext gave its objects (None: untyped): objects}."""
    objects = heap_objects(program)
    types = propagate_types(program)
    out: dict[str, dict[object, int]] = {}
    for kind, found in objects_by_kind(artifact).items():
        tally = out.setdefault(kind, {})
        for address in found:
            index = objects.find(address)
            assert index >= 0, (kind, hex(address))
            got = types.type_of(index)
            tally[got] = tally.get(got, 0) + 1
    return out


@pytest.mark.go_versions(*VERSIONS)
@pytest.mark.flavours("default", "stripped")
def test_types_are_right_and_totals_unchanged(roots, go_version, flavour):
    artifact, program = roots(go_version, flavour)
    counts = truth(artifact)
    minor = int(go_version.split(".")[1])
    data = json.loads(run(program, "heap", "--by type --top 100000 --json"))
    assert [line for line in data["reconciliation"] if line["goext"] != line["expected"]] == []
    assert sum(row["objects"] for row in data["rows"]) == data["objects"]
    assert sum(row["bytes"] for row in data["rows"]) == data["bytes"]
    rows = {row["what"]: row for row in data["rows"]}
    assert all(row["source"] in ("runtime", "propagated", "runtime and propagated", "none") for row in rows.values())
    sources = data["type_sources"]
    assert sum(entry["objects"] for entry in sources.values()) == data["objects"]

    # Go 1.22+: every propagated type of a small object with pointers matched the runtime's
    # own pointer bits of the object (Items and Helds among them), and none was refused.
    types = propagate_types(program)
    assert not [note for note in data["type_notes"] if "pointer bits differ" in note], data["type_notes"]
    if minor >= 22 and flavour == "default":
        assert types.bits_checked >= counts["count.Item"] + counts["count.Held"]
    elif minor < 22:
        assert types.bits_checked == 0

    # No object of a known kind has a wrong type.
    kinds = types_of_kinds(artifact, program)
    wrong = {kind: tally for kind, tally in kinds.items() if set(tally) - {None, KIND_TYPES[kind]}}
    assert not wrong, wrong
    # Garbage nothing reaches stays untyped; objects only finalizers keep are typed from the
    # finalizer's record (its layout from DWARF or the tables: stripped too), and what they
    # point at through them.
    assert kinds["cycle"] == {None: counts["count.CycleNode"]}
    for kind in ("finalized", "finalizedbuf"):
        assert kinds[kind] == {KIND_TYPES[kind]: counts["count.Finalized"]}, kind

    typed_items = flavour == "default" or minor >= 22  # stripped: through the buckets' headers
    if typed_items:
        assert kinds["item"] == {"main.Item": counts["count.Item"]}
        assert rows["main.Item"]["objects"] == counts["count.Item"]
        assert rows["main.Item"]["source"] == "propagated"
        family = "map.group" if minor >= 24 else "map.bucket"
        buckets = [row for label, row in rows.items() if re.fullmatch(rf"(\[\])?{family}\[string\]\*main\.Item", label)]
        assert buckets, sorted(rows)
    else:
        assert kinds["item"] == {None: counts["count.Item"]}
        assert sources["runtime"]["objects"] == 0  # Go 1.19 records no type; only finalizers seed
        assert sources["propagated"]["objects"] >= 2 * counts["count.Finalized"]
    if minor >= 22 or flavour == "default":
        # Held by a goroutine's local slice: its live stack slot (DWARF and the GC's stack
        # map) types the backing array, which Go 1.22+ also records in its allocation header.
        assert kinds["held"] == {"main.Held": counts["count.Held"]}
        assert rows["main.Held"]["objects"] == counts["count.Held"]
        assert rows["[]*main.Held"]["source"] == ("runtime" if minor >= 22 else "propagated")
    else:
        assert kinds["held"] == {None: counts["count.Held"]}
        assert "main.Held" not in rows
    if flavour == "default":
        assert kinds["big"] == {"[]uint8": 1}
        assert rows["[]uint8"]["bytes"] >= counts["size.big"]
    else:
        assert kinds["big"] == {None: 1}


@pytest.mark.go_versions("1.19", "1.27")
@pytest.mark.flavours("default")
def test_text_output_and_objects_listing(roots, go_version, flavour):
    artifact, program = roots(go_version, flavour)
    text = run(program, "heap", "--top 5")
    assert re.search(r"^types: [\d,]+ objects \([\d,]+ bytes\) typed by propagation through typed pointers", text, re.M)
    items = set(objects_by_kind(artifact)["item"])
    listed = json.loads(run(program, "heap", "objects main.Item --limit 100000 --json"))["objects"]
    assert {entry["address"] for entry in listed} == items
    first = min(items)
    printed = run(program, "print", f"--type main.Item {first:#x}")
    assert printed.startswith('main.Item{key: "k'), printed


@pytest.mark.go_versions("1.19", "1.27")
@pytest.mark.flavours("default")
def test_heapy_small_objects_of_a_global_slice_get_their_type(heapy, go_version, flavour):
    artifact, program = heapy(go_version, flavour)
    counts = heapy_truths(artifact)
    rows = {row["what"]: row for row in json.loads(run(program, "heap", "--top 100000 --json"))["rows"]}
    assert rows["main.smallPtr"]["objects"] >= counts["count.smallPtr"]
    assert rows["main.smallPtr"]["source"] == "propagated"
    assert rows["main.smallNoscan"]["objects"] >= counts["count.smallNoscan"]
