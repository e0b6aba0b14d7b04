"""Every local goext prints is either the value the program held or marked.

tests/programs/locals parks goroutines in functions whose variables hold
values of every kind, and prints, before it crashes, what each variable held
("TRUTH {json}", computed by Go's reflect in the program itself, not by
goext).  For each parking function this test reads `go locals` and `go args`
(--json) of its frame, offline and inside gdb and lldb (one debugger run per
core), and compares every value with the truth:

- right: what goext printed equals the truth;
- marked: goext said (part of) it is optimized out or unavailable, and every
  part it did print is right;
- wrong: goext printed something that differs from the truth, unmarked.

Unoptimized builds must be 100% right; optimized builds must have no wrong
value.  The counts per version and flavour are printed (pytest -s shows them).
"""

from __future__ import annotations

import json
import math
import re
import struct
from dataclasses import dataclass, field
from typing import Any, Optional

import pytest

from goext_core.commands import Context, dispatch
from goext_core.output.report import report_data
from goext_core.output.snapshot import build_snapshot
from goext_core.program import GoProgram
from goext_core.target.core import CoreTarget
from support.cores import kernel_core
from support.debuggers import require_gdb, run_gdb, run_lldb

VERSIONS = ("1.19", "1.22", "1.24", "1.27")
SPLIT_SLOT = re.compile(r"([^\W\d]\w*)(?:\.\w+|\[\d+\])+")


@dataclass
class Tally:
    right: int = 0
    marked: int = 0
    absent: int = 0  # in the truth, but not listed (the compiler left no DWARF for it)
    unreadable: int = 0  # goext refused to decode what the location holds (e.g. not an itab)
    wrong: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"right {self.right}, marked {self.marked}, unreadable {self.unreadable}, absent {self.absent}, "
            f"wrong {len(self.wrong)}"
        )


class _Wrong(Exception):
    pass


class _Unreadable(Exception):
    """goext printed no value but an explicit error (a stale location it detected)."""


def truth_of(artifact: Any) -> dict[str, dict[str, Any]]:
    line = next(line for line in artifact.stdout.splitlines() if line.startswith("TRUTH "))
    return json.loads(line[len("TRUTH ") :])


# -- comparing one goext JSON value with one truth description ----------------------------
def compare(truth: dict[str, Any], got: dict[str, Any], path: str = "") -> bool:
    """True when everything goext printed of the value is right and some part
    is marked; False when all of it is right and nothing is marked; raises
    _Wrong at the first difference goext did not mark."""
    if got.get("optimized_out"):
        return True
    kind = truth["k"]
    if kind == "deep":
        return False
    if got.get("error"):
        raise _Unreadable(f"{path}: {got['error']}")
    marked = bool(got.get("missing"))
    if kind in ("int", "uint"):
        text = str(got.get("nanoseconds", got.get("value", "")))
        _expect(_parse_int(text) == int(truth["v"]), path, got, truth)
    elif kind == "bool":
        _expect(got.get("value") == truth["v"], path, got, truth)
    elif kind == "float":
        _expect(_same_float(got.get("value", ""), truth["v"], truth["bits"]), path, got, truth)
    elif kind == "complex":
        match = re.fullmatch(r"\((.+?)([+-](?:[^+-]|e[+-])+)i\)", got.get("value", ""))
        _expect(match is not None, path, got, truth)
        assert match is not None
        _expect(_same_float(match.group(1), truth["re"], truth["bits"]), path, got, truth)
        _expect(_same_float(match.group(2).lstrip("+"), truth["im"], truth["bits"]), path, got, truth)
    elif kind == "string":
        _expect(not got.get("more") and _unquote(got.get("value", "")) == truth["v"], path, got, truth)
    elif kind == "slice":
        marked |= _compare_slice(truth, got, path)
    elif kind == "array":
        marked |= _compare_elements(truth["elems"], got.get("elements", []), path)
    elif kind == "struct":
        fields = {item["name"]: item for item in got.get("fields", [])}
        for name, described in truth["fields"]:
            if name not in fields:
                raise _Wrong(f"{path}.{name}: field missing")
            marked |= compare(described, fields[name], f"{path}.{name}")
    elif kind == "map":
        marked |= _compare_map(truth, got, path)
    elif kind == "ptr":
        if truth.get("nil"):
            _expect(got.get("nil") is True, path, got, truth)
        else:
            _expect(not got.get("nil") and _parse_int(got.get("value", "")) == int(truth["addr"], 16), path, got, truth)
            if "target" in got:
                marked |= compare(truth["elem"], got["target"], f"{path}.*")
    elif kind == "iface":
        marked |= _compare_interface(truth, got, path)
    elif kind == "chan":
        if truth.get("nil"):
            _expect(got.get("nil") is True, path, got, truth)
        else:
            _expect(
                (got.get("len"), got.get("cap"), got.get("hchan"))
                == (truth["len"], truth["cap"], int(truth["addr"], 16)),
                path,
                got,
                truth,
            )
    elif kind == "func":
        if truth.get("nil"):
            _expect(got.get("nil") is True, path, got, truth)
        else:
            _expect(got.get("value") == truth["name"], path, got, truth)
    elif kind == "uptr":
        text = got.get("value", "")
        _expect((0 if text == "nil" else _parse_int(text)) == int(truth["v"], 16), path, got, truth)
    else:
        raise _Wrong(f"{path}: unknown truth kind {kind}")
    return marked or bool(got.get("partly_optimized_out"))


def _compare_slice(truth: dict[str, Any], got: dict[str, Any], path: str) -> bool:
    missing = got.get("missing", {})
    if truth.get("nil"):
        if got.get("nil"):
            return False
        # A partly known header may not tell nil from empty; what it shows must be 0.
        _expect(bool(missing) and got.get("len", 0) == 0 and got.get("cap", 0) == 0, path, got, truth)
        return True
    _expect(not got.get("nil"), path, got, truth)
    for name in ("len", "cap"):
        if name in got:
            _expect(got[name] == truth[name], f"{path}.{name}", got, truth)
        else:
            _expect(name in missing, f"{path}.{name}", got, truth)
    elements = got.get("elements", [])
    if "len" in missing or ("ptr" in missing and truth["len"]):
        _expect(not elements, path, got, truth)
        return True
    _expect(len(elements) + got.get("more", 0) == truth["len"], path, got, truth)
    return _compare_elements(truth["elems"][: len(elements)], elements, path) or bool(missing)


def _compare_elements(truth: list[Any], got: list[dict[str, Any]], path: str) -> bool:
    if len(got) > len(truth):
        raise _Wrong(f"{path}: {len(got)} elements, truth has {len(truth)}")
    marked = False
    for index, (described, element) in enumerate(zip(truth, got)):
        marked |= compare(described, element, f"{path}[{index}]")
    return marked


def _compare_map(truth: dict[str, Any], got: dict[str, Any], path: str) -> bool:
    if truth.get("nil"):
        _expect(got.get("nil") is True, path, got, truth)
        return False
    _expect(not got.get("nil") and got.get("len") == truth["len"], path, got, truth)
    marked = False
    entries = got.get("entries", [])
    _expect(len(entries) + got.get("more", 0) == truth["len"], path, got, truth)
    for entry in entries:
        for key, value in truth["entries"]:
            try:
                if compare(key, entry["key"], path):
                    continue  # a marked key matches nothing for sure
            except (_Wrong, _Unreadable):
                continue
            marked |= compare(value, entry["value"], f"{path}[{entry['key'].get('text')}]")
            break
        else:
            raise _Wrong(f"{path}: key {entry['key'].get('text')} is not in the map")
    return marked


def _compare_interface(truth: dict[str, Any], got: dict[str, Any], path: str) -> bool:
    missing = got.get("missing", {})
    if truth.get("nil"):
        _expect(got.get("nil") is True, path, got, truth)
        return False
    _expect(not got.get("nil"), path, got, truth)
    if "type" in missing:
        return True
    _expect(got.get("dynamic_type") == truth["type"], path, got, truth)
    if "data" in missing:
        return True
    return compare(truth["v"], got["dynamic"], f"{path}.({truth['type']})")


def _expect(condition: bool, path: str, got: dict[str, Any], truth: dict[str, Any]) -> None:
    if not condition:
        raise _Wrong(f"{path or '.'}: printed {got.get('text')!r}, truth {json.dumps(truth)[:300]}")


def _parse_int(text: str) -> Optional[int]:
    try:
        return int(text, 0) if text.startswith(("0x", "-0x")) else int(text)
    except ValueError:
        return None


def _same_float(text: str, expected: str, bits: int) -> bool:
    specials = {"+Inf": math.inf, "-Inf": -math.inf, "NaN": math.nan}
    try:
        got = specials[text] if text in specials else float(text)
    except ValueError:
        return False
    want = specials.get(expected, None)
    want = float(expected) if want is None else want
    if bits == 32:
        got, want = (struct.unpack("<f", struct.pack("<f", number))[0] for number in (got, want))
    return got == want or (math.isnan(got) and math.isnan(want))


def _unquote(text: str) -> Optional[str]:
    if len(text) < 2 or text[0] != '"' or text[-1] != '"':
        return None
    return json.loads(text)  # goext quotes as Go's %q; the fixture's strings need no escapes JSON lacks


# -- one frame's variables ---------------------------------------------------------------
def tally_frame(
    tally: Tally, where: str, truth: dict[str, Any], variables: list[dict[str, Any]], text: Optional[str]
) -> None:
    by_name = {item["name"]: item for item in variables}
    for item in variables:
        # The Go compiler's split slots ("xs.ptr", "err.itab"): not Go names, and
        # their one location for the whole function holds the piece only while spilled.
        piece = SPLIT_SLOT.fullmatch(item["name"].strip("()"))
        if piece is None:
            continue
        if piece.group(1) in by_name or f"({piece.group(1)})" in by_name:
            tally.wrong.append(f"{where}: {item['name']} listed next to {piece.group(1)}")
        elif not item.get("optimized_out"):
            tally.wrong.append(f"{where}: {item['name']} = {item.get('text')!r} is a spill slot's, unmarked")
    for name, described in truth.items():
        got = by_name.get(name)
        if got is None:
            tally.absent += 1
            continue
        try:
            marked = compare(described, got, name)
        except _Wrong as wrong:
            tally.wrong.append(f"{where}: {wrong}")
            continue
        except _Unreadable as unreadable:
            tally.unreadable += 1
            line = _text_line(text, name)
            if line is not None and "<" not in line:
                tally.wrong.append(f"{where}: {unreadable} in JSON, not in text: {line!r}")
            continue
        if marked:
            tally.marked += 1
            line = _text_line(text, name)  # the text view says so too
            if line is not None and "optimized out" not in line and "unavailable" not in line:
                tally.wrong.append(f"{where}: {name} is marked in JSON, not in text: {line!r}")
        else:
            tally.right += 1


def _text_line(text: Optional[str], name: str) -> Optional[str]:
    if text is None:
        return None
    return next((line for line in text.splitlines() if line.startswith(f"  {name} = ")), "")


def frames_to_check(program: GoProgram, truth: dict[str, Any]) -> list[tuple[str, int, int]]:
    """(function, goroutine id, frame index) of each parking function."""
    out = []
    for record in program.goroutines():
        for index, frame in enumerate(program.stack(record).frames):
            if frame.function in truth:
                out.append((frame.function, record.id, index))
    return out


def _commands(goid: int, frame: int, text: bool) -> list[str]:
    """JSON of the frame's locals and args, and (text) their text view."""
    json_views = [f"locals {goid} {frame} --json", f"args {goid} {frame} --json"]
    return json_views + ([f"locals {goid} {frame}", f"args {goid} {frame}"] if text else [])


def _check(
    outputs: list[str], checks: list[tuple[str, int, int]], truth: dict[str, Any], label: str, text: bool
) -> Tally:
    tally = Tally()
    per_frame = 4 if text else 2
    for position, (function, _, _) in enumerate(checks):
        views = outputs[per_frame * position : per_frame * (position + 1)]
        variables = []
        for blob in views[:2]:
            try:
                variables += json.loads(blob[blob.index("{") :])["variables"]
            except (ValueError, KeyError) as exc:
                tally.wrong.append(f"{label} {function}: no JSON ({exc}): {blob[:300]!r}")
        tally_frame(tally, f"{label} {function}", truth[function], variables, "".join(views[2:]) if text else None)
    for function in set(truth) - {function for function, _, _ in checks}:
        tally.wrong.append(f"{label}: no frame of {function}")
    return tally


def _offline_outputs(program: GoProgram, commands: list[str]) -> list[str]:
    outputs = []
    for command in commands:
        name, _, args = command.partition(" ")
        out: list[str] = []
        dispatch(Context(lambda: program), name, args, out.append)
        outputs.append("".join(out))
    return outputs


def _assert_tally(tally: Tally, flavour: str, label: str) -> None:
    print(f"{label}: {tally.line()}")
    assert not tally.wrong, f"{label}: {tally.line()}\n" + "\n".join(tally.wrong[:40])
    if flavour == "noopt":
        assert tally.marked == tally.unreadable == tally.absent == 0, f"{label}: unoptimized, yet {tally.line()}"


@pytest.fixture(scope="module")
def artifacts():
    cache: dict[tuple[str, str], Any] = {}

    def get(version: str, flavour: str) -> tuple[Any, GoProgram, dict[str, Any], list[tuple[str, int, int]]]:
        if (version, flavour) not in cache:
            artifact = kernel_core("locals", version, flavour, "panic")
            program = GoProgram(CoreTarget(str(artifact.exe), str(artifact.core)))
            truth = truth_of(artifact)
            cache[(version, flavour)] = (artifact, program, truth, frames_to_check(program, truth))
        return cache[(version, flavour)]

    return get


@pytest.mark.go_versions(*VERSIONS)
@pytest.mark.flavours("noopt", "default")
def test_offline_locals_are_right_or_marked(artifacts, go_version, flavour):
    _, program, truth, checks = artifacts(go_version, flavour)
    assert sum(len(variables) for variables in truth.values()) >= 150
    commands = [command for _, goid, frame in checks for command in _commands(goid, frame, text=True)]
    tally = _check(_offline_outputs(program, commands), checks, truth, f"offline go{go_version} {flavour}", True)
    _assert_tally(tally, flavour, f"offline go{go_version} {flavour}")


@pytest.mark.e2e
@pytest.mark.gdb
@pytest.mark.go_versions(*VERSIONS)
@pytest.mark.flavours("noopt", "default")
def test_gdb_locals_are_right_or_marked(artifacts, go_version, flavour):
    require_gdb()
    artifact, _, truth, checks = artifacts(go_version, flavour)
    commands = [f"go {command}" for _, goid, frame in checks for command in _commands(goid, frame, text=False)]
    result = run_gdb(commands, exe=artifact.exe, core=artifact.core)
    tally = _check(result.outputs, checks, truth, f"gdb go{go_version} {flavour}", False)
    _assert_tally(tally, flavour, f"gdb go{go_version} {flavour}")


@pytest.mark.e2e
@pytest.mark.lldb
@pytest.mark.go_versions(*VERSIONS)
@pytest.mark.flavours("noopt", "default")
def test_lldb_locals_are_right_or_marked(artifacts, go_version, flavour):
    artifact, _, truth, checks = artifacts(go_version, flavour)
    commands = [f"go {command}" for _, goid, frame in checks for command in _commands(goid, frame, text=False)]
    result = run_lldb(commands, exe=artifact.exe, core=artifact.core)
    tally = _check(result.outputs, checks, truth, f"lldb go{go_version} {flavour}", False)
    _assert_tally(tally, flavour, f"lldb go{go_version} {flavour}")


def _run(program: GoProgram, command: str) -> str:
    name, _, args = command.partition(" ")
    out: list[str] = []
    ok = dispatch(Context(lambda: program), name, args, out.append)
    text = "".join(out)
    assert ok, f"{command}: {text}"
    return text


def _is_marked(text: str) -> bool:
    return "optimized out" in text or "unavailable" in text


@pytest.mark.go_versions("1.22", "1.27")
@pytest.mark.flavours("noopt", "default")
def test_go_names_and_default_frames(artifacts, go_version, flavour):
    _, program, _, checks = artifacts(go_version, flavour)
    goroutine_of = {function: goid for function, goid, _ in checks}
    # Without a frame: the innermost frame of the program's own code (an inlined one too).
    for goid in set(goroutine_of.values()):
        frame, function = min((frame, function) for function, other, frame in checks if other == goid)
        header = _run(program, f"locals {goid}").splitlines()[0]
        assert header.startswith(f"goroutine {goid} frame {frame}: {function} at "), header
    expectations = {
        # heap-escaped ("&heapInt" in DWARF) by its Go name, as its value
        ("main.parkEscaped", "heapInt"): "41",
        ("main.parkEscaped", "heapString"): '"on the heap"',
        ("main.parkEscaped", "heapPoint.Y"): "32",
        # the innermost of the shadowing declarations
        ("main.parkShadowed", "x"): '"inner x"',
        ("main.parkShadowed", "y"): "main.Point{X: 0, Y: 10}",
        # a parameter of the inlined call (its own frame in unoptimized builds)
        ("main.inlineMe", "p"): "6",
        ("main.inlineMe", "q"): "42",
        # captured by a closure, by value and by reference
        ("main.parkClosure.func1", "byValue"): "5",
        ("main.parkClosure.func1", "counter"): "11",
    }
    for (function, name), want in expectations.items():
        got = _run(program, f"print -g {goroutine_of[function]} {name}").strip()
        assert got == want or (flavour == "default" and _is_marked(got)), f"{function} {name}: {got!r}"
    shadowed = _run(program, f"locals {goroutine_of['main.parkShadowed']}")
    if flavour == "noopt":
        assert "\n  (x) = 1\n" in shadowed and '\n  (y) = "outer y"\n' in shadowed, shadowed


@pytest.mark.go_versions("1.19", "1.27")
@pytest.mark.flavours("default")
def test_trimpath_builds_default_to_the_same_frames(go_version, flavour):
    """Built with -trimpath, standard-library files carry no GOROOT prefix: a goroutine
    parked in sync.Mutex.Lock, WaitGroup.Wait, a network read or time.Sleep is still
    located (go goroutines, the default frame of go locals) in the program's own code,
    the same frames as in a normal build."""
    located, reported = {}, {}
    for build_flavour in (flavour, "trimpath"):
        artifact = kernel_core("healthy", go_version, build_flavour, "panic")
        program = GoProgram(CoreTarget(str(artifact.exe), str(artifact.core)))
        frames = {record.id: program.user_frame(record) for record in program.goroutines()}
        located[build_flavour] = sorted(frame.function for frame in frames.values() if frame is not None)
        # The HTML report, from the snapshot alone, locates the groups the same way.
        data = report_data(build_snapshot(program))
        where = sorted(
            data["strings"][data["frames"][group["where"]][0]] for group in data["groups"] for _ in group["ids"]
        )
        reported[build_flavour] = where
        user = [goid for goid, frame in frames.items() if frame is not None and frame.function.startswith("main.")]
        assert len(user) >= 8, located[build_flavour]
        for goid in user[:3]:
            header = _run(program, f"locals {goid}").splitlines()[0]
            assert f": {frames[goid].function} at " in header, header
    assert located["trimpath"] == located[flavour]
    assert reported["trimpath"] == reported[flavour]
    assert not any(name.startswith(("sync.", "internal/", "time.")) for name in located["trimpath"]), located


@pytest.mark.go_versions("1.22")
@pytest.mark.flavours("default")
def test_channel_waiter_lists_say_how_many_more(go_version, flavour):
    artifact = kernel_core("zoo", go_version, flavour, "panic")
    program = GoProgram(CoreTarget(str(artifact.exe), str(artifact.core)))
    text = _run(program, "print --max-elements 1 gRecvWaitChan").strip()
    assert re.fullmatch(r"chan int \{len 0 cap 0, receivers: goroutine \d+, …\(1 more\)\}", text), text
    payload = json.loads(_run(program, "print --json --max-elements 1 gRecvWaitChan"))
    assert len(payload["recv_waiters"]) == 1 and payload["recv_waiters_more"] == 1


@pytest.mark.e2e
@pytest.mark.gdb
@pytest.mark.go_versions("1.22", "1.27")
@pytest.mark.flavours("default")
def test_gdb_printers_mark_optimized_out_parts(artifacts, go_version, flavour):
    """gdb evaluates the DWARF pieces itself: goext's printers get values with
    optimized-out parts and mark them (never a Python exception, never zero)."""
    require_gdb()
    artifact, _, truth, checks = artifacts(go_version, flavour)
    wanted = [(goid, frame) for function, goid, frame in checks if function in ("main.parkInterfaces", "main.parkLive")]
    result = run_gdb(
        [f"goroutine {goid} frame {frame} info locals" for goid, frame in wanted], exe=artifact.exe, core=artifact.core
    )
    transcript = result.transcript()
    assert "Python Exception" not in transcript and "Traceback" not in transcript, transcript[-3000:]
    printed = dict(re.findall(r"^(\w+) = (.*)$", "\n".join(result.outputs), re.M))
    assert any(_is_marked(text) for text in printed.values()), printed
    # What gdb prints of a slice or interface through goext is right or marked.
    for name in ("xs", "letters", "tail", "anySlice", "plainErr", "myErr", "wrapped", "m"):
        text = printed.get(name)
        if text is None or _is_marked(text):
            continue
        assert not re.search(r"len 0 cap 0|^nil$", text), f"{name} = {text}"


@pytest.mark.go_versions("1.22")
@pytest.mark.flavours("default")
def test_snapshot_and_report_show_the_marks(artifacts, go_version, flavour):
    _, program, _, checks = artifacts(go_version, flavour)
    (goid,) = {goid for function, goid, _ in checks if function == "main.parkInterfaces"}
    snapshot = build_snapshot(program, with_locals=True)
    entry = next(entry for entry in snapshot["goroutines"] if entry["id"] == goid)
    rows = [row for frame in entry["frames"] for row in frame.get("locals", [])]
    by_name = {row["name"]: row for row in rows}
    assert by_name["anyString"].get("optimized_out") is True and by_name["anyString"]["value"] == "<optimized out>"
    partial = [row for row in rows if row.get("partly_optimized_out")]
    assert partial and all("optimized out" in row["value"] or "unavailable" in row["value"] for row in partial)
    data = report_data(snapshot)
    shown = [item for _, items, _ in data["locals"][str(goid)] for item in items]
    assert ["anyString", "interface {}", "<optimized out>"] in shown, shown
