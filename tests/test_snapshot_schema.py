"""The snapshot (goext.snapshot/2) against its documented JSON Schema
(common/goext_core/output/snapshot.schema.json), README's example against both."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from goext_core.commands import Context, dispatch
from goext_core.output.snapshot import FORMAT, build_snapshot, schema
from goext_core.program import GoProgram
from goext_core.target.core import CoreTarget
from support.cores import kernel_core

README = Path(__file__).resolve().parent.parent / "README.md"


def _validate(instance: Any, node: dict, root: dict, path: str = "$") -> list[str]:
    """The subset of JSON Schema the snapshot schema uses (type, const, enum, required,
    properties, additionalProperties, items, oneOf, $ref); used when the
    jsonschema package is missing, and checked against it when present."""
    if "$ref" in node:
        target: Any = root
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        return _validate(instance, target, root, path)
    errors: list[str] = []
    kinds = node.get("type")
    if kinds is not None:
        kinds = [kinds] if isinstance(kinds, str) else kinds
        checks = {
            "object": lambda v: isinstance(v, dict),
            "array": lambda v: isinstance(v, list),
            "string": lambda v: isinstance(v, str),
            "boolean": lambda v: isinstance(v, bool),
            "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
            "null": lambda v: v is None,
        }
        if not any(checks[k](instance) for k in kinds):
            return [f"{path}: {instance!r:.60} is not {kinds}"]
    if "const" in node and instance != node["const"]:
        errors.append(f"{path}: {instance!r} != {node['const']!r}")
    if "enum" in node and instance not in node["enum"]:
        errors.append(f"{path}: {instance!r} not in {node['enum']}")
    if "oneOf" in node:
        matching = [option for option in node["oneOf"] if not _validate(instance, option, root, path)]
        if len(matching) != 1:
            errors.append(f"{path}: matches {len(matching)} of oneOf")
    if isinstance(instance, dict):
        for key in node.get("required", []):
            if key not in instance:
                errors.append(f"{path}: missing {key}")
        for key, value in instance.items():
            if key in node.get("properties", {}):
                errors += _validate(value, node["properties"][key], root, f"{path}.{key}")
            elif isinstance(node.get("additionalProperties"), dict):
                errors += _validate(value, node["additionalProperties"], root, f"{path}.{key}")
    if isinstance(instance, list) and "items" in node:
        for index, item in enumerate(instance):
            errors += _validate(item, node["items"], root, f"{path}[{index}]")
            if len(errors) > 20:
                break
    return errors


def _check(snapshot: dict) -> None:
    document = schema()
    errors = _validate(snapshot, document, document)
    assert not errors, "\n".join(errors[:20])
    try:
        import jsonschema
    except ImportError:
        return
    jsonschema.validate(snapshot, document)


@pytest.mark.go_versions("1.19", "1.22", "1.27")
@pytest.mark.flavours("default", "stripped")
def test_snapshot_matches_its_schema(go_version, flavour):
    artifact = kernel_core("zoo", go_version, flavour, "panic")
    snapshot = build_snapshot(GoProgram(CoreTarget(str(artifact.exe), str(artifact.core))))
    assert snapshot["format"] == FORMAT == "goext.snapshot/2" == schema()["properties"]["format"]["const"]
    _check(json.loads(json.dumps(snapshot)))
    if flavour == "default":
        assert snapshot["scheduler"]["gomaxprocs"] >= 1 and snapshot["gc"]["phase"] != "unknown"
        assert snapshot["target"]["build"]["settings"]
        assert any(t["frames"] for t in snapshot["threads"])


@pytest.mark.go_versions("1.27")
@pytest.mark.flavours("default")
def test_snapshot_with_locals_matches_its_schema(go_version, flavour, tmp_path):
    artifact = kernel_core("sched", go_version, flavour, "panic")
    program = GoProgram(CoreTarget(str(artifact.exe), str(artifact.core)))
    output = tmp_path / "s.json"
    written: list[str] = []
    assert dispatch(Context(lambda: program), "snapshot", f"-o {output} --locals", written.append), written
    snapshot = json.loads(output.read_text())
    _check(snapshot)
    frames = [f for g in snapshot["goroutines"] for f in g["frames"]]
    assert any("locals" in f or "locals_error" in f for f in frames) or any("locals" in n for n in snapshot["notes"])
    # The page can be made offline from this file.
    page = tmp_path / "r.html"
    assert dispatch(Context(lambda: program), "report", f"--html {page} --from {output}", written.append), written
    assert page.stat().st_size > 10_000


@pytest.mark.unit
def test_readme_documents_the_current_format():
    text = README.read_text()
    assert f"## The snapshot format (`{FORMAT}`)" in text
    example = re.search(r"```json\n(\{\n  \"format\": \"goext.snapshot/2\".*?)\n```", text, re.S)
    assert example, "README has no JSON example of the current format"
    for key in schema()["required"]:
        assert f'"{key}"' in example.group(1), key
