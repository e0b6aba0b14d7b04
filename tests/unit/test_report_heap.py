"""The snapshot's heap section in the HTML report, on synthetic snapshots: the
schema takes it (top_retainers included), the page's model keeps it, capped and
typed, and no string of it reaches the page as markup."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest

from goext_core.output.report import MAX_HEAP_ROWS, MAX_RETAINERS, render_html, report_data
from goext_core.output.schemacheck import SchemaViolation, validate
from goext_core.output.snapshot import schema

pytestmark = pytest.mark.unit

EVIL = "</script><script>alert(1)</script><!--<img src=x onerror=alert(2)>\"'&\u2028"


def heap_section(name_suffix: str = "") -> dict[str, Any]:
    line = {
        "what": "objects",
        "goext": 6568,
        "runtime": 6020,
        "runtime_source": "memstats.heapStats",
        "adjustment": 548,
        "adjustment_explained": "allocated from cached spans",
        "expected": 6568,
    }
    return {
        "objects": 6568,
        "bytes": 210131960,
        "spans": 73,
        "span_bytes": 210493440,
        "types": "types come from allocation headers",
        "reconciliation": [line, {**line, "what": "objects of size class 6", "per_class": True}],
        "reconciled": True,
        "differing": [],
        "top_types": [
            {"what": "untyped, large objects, noscan", "objects": 1, "bytes": 209715200},
            {"what": "main.Box[" + name_suffix + "]", "objects": 8, "bytes": 108032},
        ],
        "types_total": 34,
        "top_packages": [{"what": "main" + name_suffix, "objects": 9, "bytes": 114176, "types": 2}],
        "packages_total": 20,
        "top_retainers": [
            {"name": "main.gBig" + name_suffix, "kind": "global", "retained_bytes": 209715200, "retained_objects": 1},
            {
                "name": "goroutine 7 main.holdLocally (main.go:99) local held" + name_suffix,
                "kind": "stack" + name_suffix,
                "retained_bytes": 62624,
                "retained_objects": 701,
            },
        ],
        "alloc_count_mismatches": 0,
        "problems": ["span 0x1 at 0x2: state 85" + name_suffix],
        "notes": ["note" + name_suffix],
    }


def snapshot_with(heap: Any) -> dict[str, Any]:
    return {
        "format": "goext.snapshot/2",
        "target": {
            "go_version": "go1.27.3",
            "goos": "linux",
            "goarch": "amd64",
            "executable": "/srv/app",
            "core": None,
            "has_dwarf": True,
            "build": None,
        },
        "scheduler": None,
        "gc": None,
        "threads": [],
        "goroutines": [],
        "notes": [],
        "heap": heap,
    }


def test_schema_takes_the_heap_section_with_and_without_retainers() -> None:
    document = snapshot_with(heap_section())
    validate(document, schema())
    del document["heap"]["top_retainers"]
    validate(document, schema())
    del document["heap"]
    validate(document, schema())  # the section is optional
    broken = snapshot_with(heap_section())
    broken["heap"]["top_retainers"][0]["retained_bytes"] = "many"
    with pytest.raises(SchemaViolation, match="retained_bytes"):
        validate(broken, schema())
    broken = snapshot_with(heap_section())
    del broken["heap"]["reconciliation"]
    with pytest.raises(SchemaViolation, match="reconciliation"):
        validate(broken, schema())


def test_report_model_keeps_totals_tables_and_retainers() -> None:
    model = report_data(snapshot_with(heap_section()))["heap"]
    assert (model["objects"], model["bytes"], model["spans"], model["reconciled"]) == (6568, 210131960, 73, True)
    assert model["top_types"][1] == {"what": "main.Box[]", "objects": 8, "bytes": 108032}
    assert model["top_packages"] == [{"what": "main", "objects": 9, "bytes": 114176, "types": 2}]
    assert model["top_retainers"][0] == {"name": "main.gBig", "kind": "global", "bytes": 209715200, "objects": 1}
    assert [line["per_class"] for line in model["reconciliation"]] == [False, True]
    without = heap_section()
    del without["top_retainers"]
    assert report_data(snapshot_with(without))["heap"]["top_retainers"] is None  # the page shows no retainer view
    assert report_data(snapshot_with(None))["heap"] is None


def test_report_model_caps_lists_and_refuses_odd_values() -> None:
    heap = heap_section()
    heap["top_types"] = [{"what": f"main.T{i}", "objects": 1, "bytes": 1} for i in range(MAX_HEAP_ROWS + 50)]
    heap["top_retainers"] = [
        {"name": f"r{i}", "kind": "global", "retained_bytes": 1, "retained_objects": 1}
        for i in range(MAX_RETAINERS * 2)
    ]
    heap["top_packages"] = [{"what": ["not", "text"], "objects": "9", "bytes": True}, "not a row"]
    heap["objects"] = "lots"
    heap["reconciled"] = "yes"
    model = report_data(snapshot_with(heap))["heap"]
    assert len(model["top_types"]) == MAX_HEAP_ROWS and len(model["top_retainers"]) == MAX_RETAINERS
    assert model["top_packages"] == [{"what": "['not', 'text']", "objects": None, "bytes": None}]
    assert model["objects"] is None and model["reconciled"] is False


def test_hostile_heap_strings_reach_the_page_only_as_escaped_data() -> None:
    snapshot = snapshot_with(heap_section(EVIL))
    page = render_html(report_data(copy.deepcopy(snapshot)))
    assert page.count("<script") == 2 and page.count("</script>") == 2
    assert "<img" not in page and "alert(1)</script>" not in page and "\u2028" not in page
    data = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', page, re.S)
    assert data is not None
    heap = json.loads(data.group(1))["heap"]  # the exact strings come back from the data block
    assert heap["top_retainers"][0]["name"] == "main.gBig" + EVIL
    assert heap["top_types"][1]["what"] == "main.Box[" + EVIL + "]"
    assert heap["top_packages"][0]["what"] == "main" + EVIL and heap["problems"][0].endswith(EVIL)
    # The page builds the section with textContent only: no markup from data.
    script = page[page.index("// -- heap") : page.index("// -- histogram")]
    assert "innerHTML" not in script and "insertAdjacentHTML" not in script and "document.write" not in script
