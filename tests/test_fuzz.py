"""Fuzzing: mutated cores and executables give a clear error or marked values,
never an internal error, a traceback, a hang, a crash or a memory blowup.

The default run is a quick slice (GOEXT_FUZZ_QUICK_RUNS, 320 runs over two
workers).  ``GOEXT_FUZZ_RUNS=10000`` runs the long campaign instead, with
more commands, and prints the classification table; ``GOEXT_FUZZ_MASTER``
picks another campaign seed.  A failure names the run, seed fixture, mutation
and command, and the command line that rebuilds the mutant.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from support import Unavailable, fuzz
from support.debuggers import REPO_ROOT, run_gdb, run_lldb

QUICK_RUNS = int(os.environ.get("GOEXT_FUZZ_QUICK_RUNS", "320"))
LONG_RUNS = int(os.environ.get("GOEXT_FUZZ_RUNS", "0"))
MASTER = int(os.environ.get("GOEXT_FUZZ_MASTER", "1"))
DEBUGGER_RUNS = 3  # each is a whole debugger start: a handful only
SHOWN_FAILURES = 10


@pytest.fixture(scope="module")
def seeds() -> list[fuzz.FuzzSeed]:
    try:
        return fuzz.fixture_seeds()
    except Unavailable as exc:
        pytest.skip(str(exc))


def _failures_message(outcomes: list[fuzz.Outcome]) -> str:
    failures = [outcome for outcome in outcomes if outcome.result in fuzz.FAILURE_CLASSES]
    shown = "\n".join(outcome.summary() for outcome in failures[:SHOWN_FAILURES])
    more = f"\n... and {len(failures) - SHOWN_FAILURES} more" if len(failures) > SHOWN_FAILURES else ""
    return f"{len(failures)} of {len(outcomes)} fuzz runs failed:\n{shown}{more}\n\n{fuzz.table(outcomes)}"


def test_fuzz_offline(seeds: list[fuzz.FuzzSeed]) -> None:
    long_mode = LONG_RUNS > 0
    runs = LONG_RUNS if long_mode else QUICK_RUNS
    commands = fuzz.LONG_COMMANDS if long_mode else fuzz.QUICK_COMMANDS
    outcomes = fuzz.campaign(seeds, MASTER, range(runs), commands, workers=2)
    if long_mode:
        print(f"\ngoext fuzz campaign {MASTER}, {runs} runs:\n{fuzz.table(outcomes)}")
    assert not any(outcome.result in fuzz.FAILURE_CLASSES for outcome in outcomes), _failures_message(outcomes)
    classes = {outcome.result for outcome in outcomes}
    assert fuzz.OK in classes and fuzz.CLEAN_ERROR in classes, fuzz.table(outcomes)  # the mutator bites, not always


def test_the_mutator_is_deterministic(seeds: list[fuzz.FuzzSeed]) -> None:
    first_core, first_exe, second_core, second_exe = bytearray(), bytearray(), bytearray(), bytearray()
    for run in range(20):
        case_a, _ = fuzz.make_case(seeds, MASTER, run, fuzz.QUICK_COMMANDS, first_core, first_exe)
        case_b, _ = fuzz.make_case(seeds, MASTER, run, fuzz.QUICK_COMMANDS, second_core, second_exe)
        assert case_a == case_b
        assert first_core == second_core and first_exe == second_exe, case_a.label()


@pytest.mark.parametrize("debugger", ["gdb", "lldb"])
def test_fuzz_in_debuggers(seeds: list[fuzz.FuzzSeed], debugger: str, tmp_path: Path) -> None:
    """A few mutants inside the real debuggers: goext's commands never show a traceback."""
    runner = run_gdb if debugger == "gdb" else run_lldb
    core, exe = bytearray(), bytearray()
    # Mutations that keep the files loadable by the debugger itself, so goext's code is what runs.
    wanted = ("flip-g", "flip-allgs", "flip-stack", "wild-pointers", "absurd-lengths", "flip-m", "zero-pages")
    run, done = 0, 0
    while done < DEBUGGER_RUNS and run < 500:
        case, _ = fuzz.make_case(seeds, MASTER, run, fuzz.QUICK_COMMANDS, core, exe)
        run += 1
        if case.mutation not in wanted:
            continue
        done += 1
        fuzz.write_sparse(tmp_path / "core", core)
        (tmp_path / "exe").write_bytes(exe)
        (tmp_path / "exe").chmod(0o755)
        try:
            result = runner(
                ["go goroutines", "go bt all", "go info"], exe=tmp_path / "exe", core=tmp_path / "core", timeout=180
            )
        except Unavailable as exc:
            pytest.skip(str(exc))
        text = result.stdout + result.stderr
        assert "Traceback" not in text and "internal error" not in text, f"{case.label()}\n{result.transcript()}"
        assert result.completed == 3, f"{case.label()}\n{result.transcript()}"


# -- files that are not what they claim ----------------------------------------------------------
def _cli(*args: str, module: str = "goext_core", timeout: float = 60) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT / "common"))
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        stdin=subprocess.DEVNULL,
    )


def _one_error_line(result: subprocess.CompletedProcess) -> str:
    output = result.stdout + result.stderr
    assert "Traceback" not in output and "internal error" not in output, output
    errors = [line for line in output.splitlines() if line.startswith("goext: error:")]
    assert len(errors) == 1 and result.returncode == 1, output
    return errors[0]


@pytest.mark.parametrize("kind", ["fifo", "directory", "device"])
@pytest.mark.parametrize("role", ["core", "executable", "core-alone"])
def test_non_regular_files_are_refused(seeds: list[fuzz.FuzzSeed], tmp_path: Path, kind: str, role: str) -> None:
    seed = seeds[0]
    if kind == "fifo":
        odd = tmp_path / "fifo"
        os.mkfifo(odd)
    elif kind == "directory":
        odd = tmp_path
    else:
        odd = Path("/dev/zero")
    if role == "core":
        result = _cli(str(seed.exe), str(odd), "goroutines")
    elif role == "executable":
        result = _cli(str(odd), str(seed.core), "goroutines")
    else:
        result = _cli("--core", str(odd), "goroutines")
    line = _one_error_line(result)
    assert "not a regular file" in line


def _snapshot(seed: fuzz.FuzzSeed, directory: Path) -> Path:
    path = directory / "snapshot.json"
    result = _cli(str(seed.exe), str(seed.core), "snapshot", "-o", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    return path


def _deep(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(
    "document",
    [
        "[]",
        "null",
        "42",
        '"text"',
        "{}",
        '{"format": "goext.snapshot/2", "target": null, "scheduler": null, "gc": null, "threads": null,'
        ' "goroutines": null, "notes": null}',
        "deep-list",
        "deep-object",
        "goroutines-as-object",
        "frame-of-wrong-type",
        "wrong-format",
        "not-json",
        "not-utf8",
        "deadlock-as-list",
    ],
)
def test_report_from_rejects_what_is_not_a_snapshot(seeds: list[fuzz.FuzzSeed], tmp_path: Path, document: str) -> None:
    valid = json.loads(_snapshot(seeds[0], tmp_path).read_text())
    bad = tmp_path / "bad.json"
    if document == "deep-list":
        bad.write_text(_deep(200_000))
    elif document == "deep-object":
        nested: object = {}
        for _ in range(500):
            nested = {"x": nested}
        valid["target"]["extra"] = nested
        bad.write_text(json.dumps(valid))
    elif document == "goroutines-as-object":
        valid["goroutines"] = {"1": valid["goroutines"][0]}
        bad.write_text(json.dumps(valid))
    elif document == "frame-of-wrong-type":
        valid["goroutines"][0]["frames"] = [None, 3, "x"]
        bad.write_text(json.dumps(valid))
    elif document == "wrong-format":
        valid["format"] = "goext.snapshot/999"
        bad.write_text(json.dumps(valid))
    elif document == "deadlock-as-list":
        valid["deadlock"] = [1, 2]
        bad.write_text(json.dumps(valid))
    elif document == "not-json":
        bad.write_text("{not json")
    elif document == "not-utf8":
        bad.write_bytes(b"\xff\xfe{}")
    else:
        bad.write_text(document)
    seed = seeds[0]
    line = _one_error_line(
        _cli(str(seed.exe), str(seed.core), "report", "--html", str(tmp_path / "r.html"), "--from", str(bad))
    )
    assert str(bad) in line
    offline = _cli(str(bad), str(tmp_path / "r2.html"), module="goext_core.output.report")
    _one_error_line(offline)
    assert not (tmp_path / "r.html").exists() and not (tmp_path / "r2.html").exists()


def test_report_from_a_real_snapshot_and_a_fifo(seeds: list[fuzz.FuzzSeed], tmp_path: Path) -> None:
    snapshot = _snapshot(seeds[1], tmp_path)
    result = _cli(str(snapshot), str(tmp_path / "r.html"), module="goext_core.output.report")
    assert result.returncode == 0, result.stdout + result.stderr
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    line = _one_error_line(_cli(str(fifo), str(tmp_path / "r2.html"), module="goext_core.output.report"))
    assert "FIFO" in line


def test_schema_checker_matches_the_schema_on_real_snapshots(seeds: list[fuzz.FuzzSeed], tmp_path: Path) -> None:
    from goext_core.output.schemacheck import SchemaViolation, validate
    from goext_core.output.snapshot import schema

    document = json.loads(_snapshot(seeds[2], tmp_path).read_text())
    validate(document, schema())
    document["goroutines"][0]["id"] = "seven"
    with pytest.raises(SchemaViolation, match=r"goroutines\[0\]\.id is a string, expected integer"):
        validate(document, schema())
