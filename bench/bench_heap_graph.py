#!/usr/bin/env python3
"""Benchmark the heap-graph analyses (dominator tree and retained sizes) on synthetic
graphs of 10^5, 10^6 and 10^7 objects.

    bench/bench_heap_graph.py                  # 10^5, 10^6, 10^7 objects
    bench/bench_heap_graph.py --sizes 100000,1000000

The graph looks like a heap: a random tree (every object pointed at by one earlier
object, so long chains and wide fan-outs both occur) plus one extra pointer per two
objects to a random object (sharing, cycles), and one root per 1,000 objects.  Each
size runs in a fresh process: wall and CPU time of the dominator tree, objects per
second, the resident memory once the graph is built and the process's peak (graph
included).  Not a test.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import subprocess
import sys
import time
from array import array
from itertools import accumulate
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "common"))
sys.path.insert(0, str(REPO / "tests"))

DEFAULT_SIZES = (100_000, 1_000_000, 10_000_000)


def synthetic_graph(objects: int, seed: int = 1) -> Any:
    """A heap-like graph in compact arrays (built without a Python object per edge)."""
    from unit.heapgraph_fakes import FakeGraph, FakeObjects, FakeRoot

    rng = random.Random(seed)
    sources = array("I")
    targets = array("I")
    for index in range(1, objects):
        # Mostly recent parents (chains, lists), sometimes any earlier object (fan-out).
        parent = index - 1 - int(rng.expovariate(0.05)) if rng.random() < 0.7 else rng.randrange(index)
        sources.append(max(parent, 0))
        targets.append(index)
    for _ in range(objects // 2):
        sources.append(rng.randrange(objects))
        targets.append(rng.randrange(objects))
    counts = array("Q", [0]) * (objects + 1)
    for source in sources:
        counts[source + 1] += 1
    edge_start = array("Q", accumulate(counts))
    fill = array("Q", edge_start)
    edges = array("I", [0]) * len(targets)
    for source, target in zip(sources, targets):
        edges[fill[source]] = target
        fill[source] += 1
    del sources, targets, fill, counts
    sizes = [16, 32, 48, 64, 128, 512, 4096]
    graph_objects = FakeObjects(array("Q", (sizes[rng.randrange(7)] for _ in range(objects))))
    roots = [FakeRoot("global", f"main.root{n}", 0, None, (rng.randrange(objects),)) for n in range(objects // 1000)]
    roots.append(FakeRoot("global", "main.head", 0, None, (0,)))
    return FakeGraph(graph_objects, edge_start, edges, roots)


def resident_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / (1 << 20)


def run_one(objects: int) -> None:
    from goext_core.runtime.heapdominators import dominator_tree

    start = time.perf_counter()
    graph = synthetic_graph(objects)
    built = time.perf_counter() - start
    before = resident_mb()
    start, cpu = time.perf_counter(), time.process_time()
    tree = dominator_tree(graph)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    assert sum(tree.root_retained) + tree.shared_bytes + tree.unreachable_bytes == tree.total_bytes
    rate = objects / elapsed if elapsed else float("nan")
    print(
        f"{objects:>12,} {len(graph.edges):>12,} {elapsed:>8.2f} {cpu:>8.2f} {rate:>11,.0f}"
        f" {before:>9.0f} {peak:>8.0f}  (graph built in {built:.1f} s)",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)), help="object counts")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args()
    if args.one:
        run_one(args.one)
        return
    print(f"{'objects':>12} {'edges':>12} {'seconds':>8} {'cpu s':>8} {'objects/s':>11} {'graph MB':>9} {'peak MB':>8}")
    for objects in (int(text) for text in args.sizes.split(",") if text.strip()):
        sys.stdout.flush()
        subprocess.run([sys.executable, __file__, "--one", str(objects)], check=True, env=dict(os.environ))


if __name__ == "__main__":
    main()
