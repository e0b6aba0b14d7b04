"""Real Go programs nobody here wrote: Debian's stripped builds (Go 1.19).

Each program is installed from Debian (small packages), started so that it
waits (on stdin, or as an HTTP server on 127.0.0.1 only), and stopped with
SIGQUIT under GOTRACEBACK=crash: the runtime prints every goroutine, then the
kernel writes the core.  goext must agree with that traceback on every parked
goroutine, offline and inside gdb.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

from goext_core.binary.elf import GoBinary
from goext_core.output.snapshot import build_snapshot
from goext_core.program import GoProgram
from goext_core.runtime.waitgraph import analyze_deadlock
from goext_core.target.core import CoreTarget
from support.cores import CoreArtifact
from support.debuggers import run_gdb
from support.distro import apt_install, free_port, port_open, quit_core
from support.oracle import parse_traceback
from support.parity import compare


@dataclass(frozen=True)
class DebianProgram:
    package: str
    path: str
    # (scratch directory) -> (argv, ready check, working directory)
    start: Callable[[Path], tuple[list[str], Callable[[], bool], Path]]


def _after(seconds: float) -> Callable[[], bool]:
    started = time.monotonic()
    return lambda: time.monotonic() - started >= seconds


def _stdin_reader(path: str, *args: str) -> Callable[[Path], tuple[list[str], Callable[[], bool], Path]]:
    def start(scratch: Path) -> tuple[list[str], Callable[[], bool], Path]:
        return [path, *args], _after(1.0), scratch

    return start


def _webhook(scratch: Path) -> tuple[list[str], Callable[[], bool], Path]:
    hooks = scratch / "hooks.json"
    hooks.write_text(json.dumps([{"id": "noop", "execute-command": "/bin/true"}]))
    port = free_port()
    argv = ["/usr/bin/webhook", "-ip", "127.0.0.1", "-port", str(port), "-hooks", str(hooks)]
    return argv, lambda: port_open(port), scratch


def _etcd(scratch: Path) -> tuple[list[str], Callable[[], bool], Path]:
    client, peer = free_port(), free_port()
    argv = [
        "/usr/bin/etcd",
        "--data-dir",
        str(scratch / "data"),
        "--listen-client-urls",
        f"http://127.0.0.1:{client}",
        "--advertise-client-urls",
        f"http://127.0.0.1:{client}",
        "--listen-peer-urls",
        f"http://127.0.0.1:{peer}",
        "--initial-advertise-peer-urls",
        f"http://127.0.0.1:{peer}",
        "--initial-cluster",
        f"default=http://127.0.0.1:{peer}",
    ]
    return argv, lambda: port_open(client), scratch


def _node_exporter(scratch: Path) -> tuple[list[str], Callable[[], bool], Path]:
    port = free_port()
    argv = ["/usr/bin/prometheus-node-exporter", f"--web.listen-address=127.0.0.1:{port}"]
    return argv, lambda: port_open(port), scratch


PROGRAMS = [
    DebianProgram("shfmt", "/usr/bin/shfmt", _stdin_reader("/usr/bin/shfmt")),
    DebianProgram("gron", "/usr/bin/gron", _stdin_reader("/usr/bin/gron")),
    # Servers, idle on loopback: the healthy programs a deadlock detector must not accuse.
    DebianProgram("webhook", "/usr/bin/webhook", _webhook),
    DebianProgram("etcd-server", "/usr/bin/etcd", _etcd),
    DebianProgram("prometheus-node-exporter", "/usr/bin/prometheus-node-exporter", _node_exporter),
]


@pytest.fixture(scope="module", params=PROGRAMS, ids=[p.package for p in PROGRAMS])
def debian_core(request, tmp_path_factory) -> CoreArtifact:
    program: DebianProgram = request.param
    apt_install(program.package, program.path)
    with GoBinary(program.path) as binary:
        assert binary.symbol("runtime.main") is None and not binary.has_dwarf(), "Debian ships it stripped"
        assert (binary.go_version() or "").startswith("go1.19"), binary.go_version()
    argv, ready, workdir = program.start(tmp_path_factory.mktemp(program.package))
    return quit_core(argv, f"debian-{program.package}", ready, workdir=workdir)


def _check(snapshot: dict, artifact: CoreArtifact) -> None:
    traceback = parse_traceback(artifact.traceback_text())
    assert len(traceback.by_id()) >= 2, artifact.traceback_text()[:2000]
    report = compare(snapshot, traceback, parked_only=True)
    assert report.compared >= 2
    assert report.ok(), f"{len(report.mismatches)} mismatches:\n{report.summary()}"


@pytest.mark.e2e
def test_offline_parity(debian_core):
    program = GoProgram(CoreTarget(str(debian_core.exe), str(debian_core.core)))
    _check(build_snapshot(program), debian_core)


@pytest.mark.e2e
def test_no_false_deadlock(debian_core):
    """A healthy server has no stuck goroutine, and every user goroutine gets one verdict."""
    report = analyze_deadlock(GoProgram(CoreTarget(str(debian_core.exe), str(debian_core.core))))
    assert not report.stuck, [(s.goroutine, s.location, s.reason) for s in report.stuck]
    assert sum(report.counts.values()) == report.user_goroutines > 0


@pytest.mark.e2e
@pytest.mark.gdb
def test_gdb_parity(debian_core, tmp_path):
    output = tmp_path / "snapshot.json"
    run = run_gdb(
        [f"go snapshot -o {output}", "bt 12"],
        exe=debian_core.exe,
        core=debian_core.core,
        env={"GOEXT_CACHE_DIR": str(tmp_path / "cache")},
    )
    assert output.is_file(), run.transcript()
    _check(json.loads(output.read_text()), debian_core)
    assert "runtime" in run.outputs[1] and "??" not in run.outputs[1], run.outputs[1]
