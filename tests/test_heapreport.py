"""go heap --by package, the snapshot's heap section (go snapshot --heap) and the
report's heap section, on cores of tests/programs/heapy (whose stdout holds how
many objects of each main type it keeps) and tests/programs/heaproots."""

from __future__ import annotations

import json
import re

import pytest

from goext_core.commands import Context, dispatch, process
from goext_core.output.report import write_report
from goext_core.output.schemacheck import validate
from goext_core.output.snapshot import schema
from goext_core.values.typepackage import package_of
from support.debuggers import require_gdb, require_lldb, run_gdb, run_lldb
from support.offline import core_programs, run
from test_heap import truths
from test_report import _rendered_dom
from unit.test_report_heap import heap_section, snapshot_with


@pytest.fixture(scope="module")
def heapy():
    return core_programs("heapy")


@pytest.fixture(scope="module")
def heaproots():
    return core_programs("heaproots")


def _rows(program, by: str) -> dict[str, dict]:
    data = json.loads(run(program, "heap", f"--by {by} --top 100000 --json"))
    assert data["by"] == by and data["rows_total"] == len(data["rows"]), data["rows_total"]
    return {row["what"]: row for row in data["rows"]}


@pytest.mark.go_versions("1.22", "1.27")
@pytest.mark.flavours("default", "stripped")
def test_by_package_sums_the_type_rows_per_package(heapy, go_version, flavour):
    artifact, program = heapy(go_version, flavour)
    truth = truths(artifact)
    types = _rows(program, "type")
    packages = _rows(program, "package")
    # Every object is in exactly one package row.
    assert sum(r["objects"] for r in packages.values()) == sum(r["objects"] for r in types.values())
    assert sum(r["bytes"] for r in packages.values()) == sum(r["bytes"] for r in types.values())
    main_types = [r for label, r in types.items() if label.lstrip("[]*").startswith("main.")]
    main = packages["main"]
    assert main["types"] == len(main_types) >= 2
    assert main["objects"] == sum(r["objects"] for r in main_types)
    assert main["bytes"] == sum(r["bytes"] for r in main_types)
    assert main["objects"] >= truth["count.headerObj"] + truth["count.largeObj"]
    assert packages["runtime"]["objects"] >= 1  # runtime.p, runtime.m: the Ps and Ms
    # Untyped rows stay apart, labelled as what they are.
    # (With DWARF, propagation types the []byte arrays as []uint8: a builtin type.)
    untyped = {label: row for label, row in packages.items() if label.startswith("(untyped")}
    large_bytes = untyped.get("(untyped, large objects, noscan)", {}).get("objects", 0)
    large_bytes += packages.get("(builtin)", {}).get("objects", 0)
    assert large_bytes >= truth["count.largeBytes"]
    assert all(row["types"] == 1 for row in untyped.values())
    for label, row in types.items():
        if label.startswith("untyped"):
            assert packages[f"({label})"]["objects"] == row["objects"], label
    text = run(program, "heap", "--by package --top 3")
    assert "main  (" in text and "types)" in text and "... " in text and "reconciliation" in text


@pytest.mark.go_versions("1.22", "1.27")
@pytest.mark.flavours("default", "stripped")
def test_by_package_on_heaproots_puts_main_maps_and_slices_in_main(heaproots, go_version, flavour):
    _, program = heaproots(go_version, flavour)
    types = _rows(program, "type")
    packages = _rows(program, "package")
    bucket = "[]map.group[string]*main.Item" if go_version == "1.27" else "[]map.bucket[string]*main.Item"
    in_main = [label for label in types if package_of(label) == "main"]
    assert bucket in in_main and "[]*main.Held" in in_main
    assert packages["main"]["bytes"] == sum(types[label]["bytes"] for label in in_main)
    assert packages["main"]["types"] == len(in_main)
    biggest = max(packages.values(), key=lambda row: row["bytes"])
    # main.gBig: []uint8 when propagation typed it from the global (DWARF), else untyped.
    assert biggest["what"] in ("(untyped, large objects, noscan)", "(builtin)") and biggest["bytes"] >= 200 << 20
    # A slice's backing array: the hint prints its first element (it has no slice header).
    listed = run(program, "heap", "objects []*main.Held")
    hint = re.search(r"print the first element of one with: go print --type (\*main\.Held) (0x[0-9a-f]+)\n", listed)
    assert hint, listed
    assert run(program, "print", f"--type {hint.group(1)} {hint.group(2)}").startswith("(*main.Held)(0x")


@pytest.mark.go_versions("1.22", "1.27")
@pytest.mark.flavours("default", "stripped")
def test_snapshot_heap_section_follows_the_schema_and_go_heap(heapy, go_version, flavour, tmp_path):
    _, program = heapy(go_version, flavour)
    output = tmp_path / "s.json"
    written: list[str] = []
    assert dispatch(Context(lambda: program), "snapshot", f"-o {output} --heap", written.append), written
    snapshot = json.loads(output.read_text())
    validate(snapshot, schema())
    heap = snapshot["heap"]
    data = json.loads(run(program, "heap", "--json --top 20"))
    for key in ("objects", "bytes", "spans", "span_bytes", "problems", "alloc_count_mismatches"):
        assert heap[key] == data[key], key
    assert heap["reconciliation"] == data["reconciliation"]
    assert heap["reconciled"] and heap["differing"] == []
    assert heap["top_types"] == data["rows"] and heap["types_total"] == data["rows_total"]
    packages = json.loads(run(program, "heap", "--by package --json --top 20"))
    assert heap["top_packages"] == packages["rows"] and heap["packages_total"] == packages["rows_total"]
    retained = json.loads(run(program, "heap", "retained --top 20 --json"))["roots"]
    assert heap["top_retainers"] == [
        {key: row[key] for key in ("name", "kind", "retained_bytes", "retained_objects")}
        for row in retained
        if row["retained_bytes"]
    ]
    # The page made offline from this file has the section.
    page = tmp_path / "r.html"
    assert dispatch(Context(lambda: program), "report", f"--html {page} --from {output}", written.append), written
    assert f'"heap":{{"objects":{heap["objects"]},' in page.read_text()
    # Without --heap there is no heap section.
    assert dispatch(Context(lambda: program), "snapshot", f"-o {output}", written.append), written
    assert "heap" not in json.loads(output.read_text())


@pytest.mark.e2e
@pytest.mark.go_versions("1.27")
@pytest.mark.flavours("default")
def test_report_shows_the_heap_section(heaproots, go_version, flavour, tmp_path):
    _, program = heaproots(go_version, flavour)
    page = tmp_path / "report.html"
    out: list[str] = []
    assert dispatch(Context(lambda: program), "report", f"--html {page} --no-deadlock", out.append), out
    dom = _rendered_dom(page)
    assert 'id="heap-section" class="heap" style=""' in dom
    top = json.loads(run(program, "heap", "--json --top 2"))["rows"]
    assert f'<td class="what">{top[0]["what"]}</td>' in dom and f'<td class="what">{top[1]["what"]}</td>' in dom
    main_types = json.loads(run(program, "heap", "--by package --json"))["rows"]
    main_types = next(row["types"] for row in main_types if row["what"] == "main")
    assert "<h3>Top packages by bytes" in dom and f'<td class="what">main  ({main_types} types)</td>' in dom
    assert "<b>agrees</b><span>heap vs the runtime's figures</span>" in dom
    assert "<div>objects per size class: all" in dom and '<div class="retained">' in dom
    assert 'title="global: 200.' in dom  # main.gBig
    # --no-heap leaves it out; so does a heap bigger than the default limit (a note says so).
    assert dispatch(Context(lambda: program), "report", f"--html {page} --no-heap --no-deadlock", out.append), out
    assert '"heap":null' in page.read_text()


@pytest.mark.go_versions("1.22")
@pytest.mark.flavours("stripped")
def test_report_leaves_a_big_heap_out_unless_asked(heapy, go_version, flavour, tmp_path, monkeypatch):
    _, program = heapy(go_version, flavour)
    monkeypatch.setattr(process, "REPORT_HEAP_MAX_OBJECTS", 100)
    page = tmp_path / "report.html"
    out: list[str] = []
    assert dispatch(Context(lambda: program), "report", f"--html {page} --no-deadlock", out.append), out
    text = page.read_text()
    assert '"heap":null' in text and "heap: left out, the runtime counts" in text and "go report --heap adds it" in text
    assert dispatch(Context(lambda: program), "report", f"--html {page} --heap --no-deadlock", out.append), out
    assert '"heap":{"objects":' in page.read_text()


@pytest.mark.e2e
def test_report_draws_top_retainers_as_bars_by_kind_and_root(tmp_path):
    page = tmp_path / "retainers.html"
    write_report(str(page), snapshot_with(heap_section()))
    dom = _rendered_dom(page)
    bars = re.findall(r'<div class="(k-[a-z]+)" title="([^"]*)" style="width: ([0-9.e-]+)%;">([^<]*)</div>', dom)
    assert [(kind, label) for kind, _, _, label in bars] == [
        ("k-all", "retained by these 2 roots: 200.1 MiB of 200.4 MiB heap"),
        ("k-global", "global 200.0 MiB"),
        ("k-stack", "stack 61.2 KiB"),
        ("k-global", "main.gBig"),
        ("k-stack", "goroutine 7 main.holdLocally (main.go:99) local held"),
    ]
    widths = [float(width) for _, _, width, _ in bars]
    assert widths[0] == 100 and abs(widths[1] + widths[2] - 100) < 1e-3 and widths[1:3] == widths[3:5]
    assert '<td class="what">goroutine 7 main.holdLocally (main.go:99) local held</td>' in dom


@pytest.mark.go_versions("1.27")
@pytest.mark.flavours("default")
def test_by_package_is_the_same_in_gdb_and_lldb(heaproots, go_version, flavour):
    artifact, program = heaproots(go_version, flavour)
    offline = run(program, "heap", "--by package --top 8")
    for require, runner in ((require_gdb, run_gdb), (require_lldb, run_lldb)):
        require()
        outputs = runner(["go heap --by package --top 8"], exe=artifact.exe, core=artifact.core).outputs
        assert outputs[0].strip() == offline.strip(), (runner.__name__, outputs[0])
