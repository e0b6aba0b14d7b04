"""Live processes: attach gdb and lldb to a running fixture, take goext's
snapshot, then let the runtime print its own traceback (SIGQUIT with
GOTRACEBACK=crash).  Goroutines that stayed parked must match; a gcore of a
live process (goroutines truly running on threads) must match the same way."""

from __future__ import annotations

import json
import os
import signal

import pytest

from goext_core.output.snapshot import build_snapshot
from goext_core.program import GoProgram
from goext_core.target.core import CoreTarget
from support.build import build
from support.cores import gcore_live, running_fixture
from support.debuggers import require_gdb, require_lldb, run_gdb, run_lldb
from support.oracle import parse_traceback
from support.parity import compare


@pytest.mark.e2e
@pytest.mark.go_versions("1.22", "1.27")
@pytest.mark.flavours("default")
def test_attached_debuggers_agree_with_the_runtime(go_version, flavour, tmp_path):
    require_gdb()
    require_lldb()
    exe = build("zoo", go_version, flavour)
    stderr_path = tmp_path / "traceback.txt"
    with running_fixture(exe, tmp_path, stderr_path) as process:
        snapshots = {}
        for name, run in (("gdb", run_gdb), ("lldb", run_lldb)):
            path = tmp_path / f"{name}.json"
            result = run([f"go snapshot -o {path}", "go goroutines", "go bt all"], pid=process.pid)
            assert path.exists(), result.transcript()
            assert "Traceback" not in result.stdout + result.stderr, result.transcript()
            assert process.poll() is None, f"{name} left the process dead"
            snapshots[name] = json.loads(path.read_text())
        os.kill(process.pid, signal.SIGQUIT)
        process.wait(timeout=60)
    traceback = parse_traceback(stderr_path.read_text(errors="replace"))
    assert len(traceback.by_id()) > 20
    for name, snapshot in snapshots.items():
        assert snapshot["target"]["core"] is None
        report = compare(snapshot, traceback, parked_only=True)
        assert report.compared >= 20, name
        assert report.ok(), f"{name}: {report.summary()}"


@pytest.mark.go_versions("1.19", "1.22", "1.27")
def test_gcore_of_live_process_matches_the_runtime(go_version, flavour):
    artifact = gcore_live("zoo", go_version, flavour)
    traceback = parse_traceback(artifact.traceback.read_text(errors="replace"))
    snapshot = build_snapshot(GoProgram(CoreTarget(str(artifact.exe), str(artifact.core))))
    report = compare(snapshot, traceback, parked_only=True)
    assert report.compared >= 20
    assert report.ok(), report.summary()
    # The busy loops run on threads in a gcore: they are unwound from the thread's registers.
    running = [g for g in snapshot["goroutines"] if g["state"] == "running"]
    for goroutine in running:
        assert goroutine["thread"] is not None
        functions = [f["function"] for f in goroutine["frames"]]
        assert functions and functions[-1] == "runtime.goexit", functions
