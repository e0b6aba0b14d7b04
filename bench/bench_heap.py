#!/usr/bin/env python3
"""Benchmark go heap on kernel cores of tests/programs/heapy scaled to 10^5, 10^6
and 10^7 objects (its SCALE argument multiplies the small objects).

    bench/bench_heap.py                    # Go 1.27, 10^5..10^7 objects
    bench/bench_heap.py --version 1.22 --scales 20,200

For each core: goext offline ``go heap --json --no-graph`` in a fresh process, its wall
time, objects per second and peak resident memory, and whether the totals
reconciled with the runtime's own figures.  With ``--graph``: instead, in a fresh
process, the time to index the objects and to build the object graph and its
roots (runtime/heapgraph.py, what ``go heap path`` / ``refs`` need), its peak
resident memory, and the graph's size.  Not a test: the cores of the
largest scale take a few hundred MB in the test cache.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "common"))

from support.cores import kernel_core  # noqa: E402

# heapy keeps 5,000 small objects per unit of SCALE (3,000 + 2,000), plus ~800 others.
DEFAULT_SCALES = (20, 200, 2000)


def measure(exe: Path, core: Path) -> tuple[float, float, dict]:
    """(seconds, peak RSS in MB, go heap's JSON) of one offline run."""
    env = dict(os.environ, PYTHONPATH=str(REPO / "common"), GOEXT_QUIET="1")
    # --no-graph: the census and reconciliation alone (--graph measures the object graph).
    argv = [sys.executable, "-m", "goext_core", str(exe), str(core), "heap", "--json", "--no-graph"]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        process = subprocess.Popen(argv, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        if os.waitstatus_to_exitcode(status):
            raise SystemExit(f"go heap failed on {core}: {err.read().decode(errors='replace')[-500:]}")
        return elapsed, usage.ru_maxrss / 1024, json.loads(out.read())


GRAPH_SCRIPT = """
import json, sys, time
from goext_core.program import GoProgram
from goext_core.runtime.heap import heap_objects
from goext_core.runtime.heapgraph import build_heap_graph, reachable
from goext_core.target.core import CoreTarget
program = GoProgram(CoreTarget(sys.argv[1], sys.argv[2]))
start = time.perf_counter()
objects = heap_objects(program)
indexed = time.perf_counter()
graph = build_heap_graph(program)
built = time.perf_counter()
seen = reachable(graph, graph.roots)
done = time.perf_counter()
print(json.dumps({"objects": len(objects), "edges": len(graph.edges), "roots": len(graph.roots),
                  "reachable": seen.count(1), "precise": graph.precise, "index_s": indexed - start,
                  "graph_s": built - indexed, "reachable_s": done - built}))
"""


def measure_graph(exe: Path, core: Path) -> tuple[float, dict]:
    """(peak RSS in MB, the timings and sizes GRAPH_SCRIPT prints) of one fresh process."""
    env = dict(os.environ, PYTHONPATH=str(REPO / "common"), GOEXT_QUIET="1")
    argv = [sys.executable, "-c", GRAPH_SCRIPT, str(exe), str(core)]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = subprocess.Popen(argv, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(process.pid, 0)
        out.seek(0)
        err.seek(0)
        if os.waitstatus_to_exitcode(status):
            raise SystemExit(f"graph build failed on {core}: {err.read().decode(errors='replace')[-500:]}")
        return usage.ru_maxrss / 1024, json.loads(out.read())


def main_graph(version: str, scales: list[int]) -> None:
    print(f"{'objects':>12} {'edges':>12} {'roots':>7} {'index s':>8} {'graph s':>8} {'reach s':>8} {'peak MB':>8}")
    for scale in scales:
        artifact = kernel_core("heapy", version, "default", "panic", [str(scale)])
        peak, data = measure_graph(artifact.exe, artifact.core)
        print(
            f"{data['objects']:>12,} {data['edges']:>12,} {data['roots']:>7,} {data['index_s']:>8.2f} "
            f"{data['graph_s']:>8.2f} {data['reachable_s']:>8.2f} {peak:>8.0f}"
            f"{'' if data['precise'] else '  (conservative)'}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", default="1.27", help="Go release of the fixture (default 1.27)")
    parser.add_argument(
        "--scales", default=",".join(map(str, DEFAULT_SCALES)), help="heapy SCALEs (default 20,200,2000)"
    )
    parser.add_argument("--graph", action="store_true", help="measure the object graph's build instead")
    args = parser.parse_args()
    if args.graph:
        main_graph(args.version, [int(text) for text in args.scales.split(",") if text.strip()])
        return
    print(f"{'objects':>12} {'seconds':>8} {'objects/s':>11} {'peak MB':>8}  reconciled")
    for scale in (int(text) for text in args.scales.split(",") if text.strip()):
        artifact = kernel_core("heapy", args.version, "default", "panic", [str(scale)])
        elapsed, peak, data = measure(artifact.exe, artifact.core)
        reconciled = all(line["goext"] == line["expected"] for line in data["reconciliation"])
        rate = data["objects"] / elapsed if elapsed else float("nan")
        print(f"{data['objects']:>12,} {elapsed:>8.2f} {rate:>11,.0f} {peak:>8.0f}  {'yes' if reconciled else 'NO'}")


if __name__ == "__main__":
    main()
