"""Dominators and retained sizes of synthetic heap graphs, checked by hand and by brute force."""

from __future__ import annotations

import random
from typing import Optional

import pytest

from goext_core.errors import CorruptDataError
from goext_core.progress import set_reporter
from goext_core.runtime.heapdominators import (
    SHARED,
    UNREACHABLE,
    decode_dominator,
    dominator_tree,
    format_retained,
    retained_by_root,
    retained_to_json,
    root_code,
    top_retainers,
)

from .heapgraph_fakes import FakeGraph, make_graph


def check_accounting(tree) -> None:  # type: ignore[no-untyped-def]
    assert sum(tree.root_retained) + tree.shared_bytes + tree.unreachable_bytes == tree.total_bytes
    assert sum(tree.root_retained_objects) + tree.shared_objects + tree.unreachable_objects == tree.total_objects


def test_chain_and_diamond() -> None:
    # root A -> 0 -> 1 -> {2, 3} -> 4 (a diamond below 1), 5 unreachable
    graph = make_graph([10, 20, 30, 40, 50, 60], {0: [1], 1: [2, 3], 2: [4], 3: [4]}, [("A", [0])])
    tree = dominator_tree(graph)
    assert list(tree.idom) == [root_code(0), 0, 1, 1, 1, UNREACHABLE]
    assert list(tree.retained) == [150, 140, 30, 40, 50, 0]
    assert list(tree.retained_objects) == [5, 4, 1, 1, 1, 0]
    assert tree.root_retained[0] == 150
    assert (tree.unreachable_bytes, tree.unreachable_objects) == (60, 1)
    assert tree.shared_bytes == 0
    check_accounting(tree)


def test_shared_object_is_retained_by_no_root() -> None:
    # A -> 0 -> 2 -> 3; B -> 1 -> 2; B -> 4
    graph = make_graph([8, 16, 100, 1000, 5], {0: [2], 1: [2], 2: [3]}, [("A", [0]), ("B", [1, 4])])
    tree = dominator_tree(graph)
    assert tree.idom[2] == SHARED and tree.idom[3] == 2
    assert list(tree.root_retained) == [8, 21]
    assert (tree.shared_bytes, tree.shared_objects) == (1100, 2)
    rows = retained_by_root(graph, tree)
    assert [(r.name, r.retained_bytes, r.retained_objects) for r in rows] == [("B", 21, 2), ("A", 8, 1)]
    check_accounting(tree)


def test_cycles_self_loops_and_unreachable_cycle() -> None:
    # A -> 0 <-> 1 (cycle), 1 -> 1 (self loop), 1 -> 2; 3 <-> 4 unreachable ring; 5 -> 5 alone
    graph = make_graph([1, 2, 4, 8, 16, 32], {0: [1], 1: [0, 1, 2], 3: [4], 4: [3], 5: [5]}, [("A", [0])])
    tree = dominator_tree(graph)
    assert list(tree.idom) == [root_code(0), 0, 1, UNREACHABLE, UNREACHABLE, UNREACHABLE]
    assert tree.retained[0] == 7 and tree.retained[1] == 6
    assert tree.unreachable_bytes == 56
    check_accounting(tree)


def test_two_roots_on_the_same_object_and_empty_graphs() -> None:
    graph = make_graph([5], {}, [("A", [0]), ("B", [0])])
    tree = dominator_tree(graph)
    assert tree.idom[0] == SHARED and tree.shared_bytes == 5 and list(tree.root_retained) == [0, 0]
    empty = dominator_tree(make_graph([], {}, []))
    assert empty.total_bytes == 0 and len(empty.idom) == 0
    no_roots = dominator_tree(make_graph([3, 4], {0: [1]}, []))
    assert list(no_roots.idom) == [UNREACHABLE, UNREACHABLE] and no_roots.unreachable_bytes == 7


def test_bad_graph_is_one_error() -> None:
    graph = make_graph([1, 1], {0: [1]}, [("A", [0])])
    graph.edges[0] = 7
    with pytest.raises(CorruptDataError, match="points at object 7"):
        dominator_tree(graph)


# -- brute force -----------------------------------------------------------------------


def brute_force_idoms(graph: FakeGraph) -> list[int]:
    """idom codes by definition: d dominates o when o is unreachable with d removed."""
    objects = len(graph.objects.sizes)
    roots = graph.roots

    def successors(node: tuple[str, int]) -> list[tuple[str, int]]:
        kind, value = node
        if kind == "super":
            return [("root", r) for r in range(len(roots))]
        if kind == "root":
            return [("object", t) for t in roots[value].targets]
        start, end = graph.edge_start[value], graph.edge_start[value + 1]
        return [("object", t) for t in graph.edges[start:end]]

    def reach(removed: Optional[tuple[str, int]]) -> set[tuple[str, int]]:
        seen = {("super", 0)}
        work = [("super", 0)]
        while work:
            for nxt in successors(work.pop()):
                if nxt != removed and nxt not in seen:
                    seen.add(nxt)
                    work.append(nxt)
        return seen

    everything = reach(None)
    candidates = [n for n in everything if n[0] != "super"]
    dominated: dict[tuple[str, int], set[tuple[str, int]]] = {}
    for d in candidates:
        without = reach(d)
        dominated[d] = {n for n in everything if n not in without and n != d}
    out = []
    for index in range(objects):
        node = ("object", index)
        if node not in everything:
            out.append(UNREACHABLE)
            continue
        doms = [d for d in candidates if node in dominated[d]]
        # The immediate dominator is the strict dominator that every other strict dominator dominates.
        idom = [d for d in doms if all(other == d or d in dominated[other] for other in doms)]
        if not idom:
            out.append(SHARED)
        else:
            kind, value = idom[0]
            out.append(value if kind == "object" else root_code(value))
    return out


def random_graph(rng: random.Random) -> FakeGraph:
    objects = rng.randint(0, 25)
    density = rng.choice([0.02, 0.08, 0.2])
    pointers = {i: [j for j in range(objects) if rng.random() < density] for i in range(objects)}
    roots = []
    for r in range(rng.randint(0, 4)):
        targets = [j for j in range(objects) if rng.random() < 0.1] if objects else []
        roots.append((f"r{r}", targets))
    return make_graph([rng.randint(1, 64) for _ in range(objects)], pointers, roots)


def test_random_graphs_against_brute_force() -> None:
    rng = random.Random(20261130)
    for _ in range(300):
        graph = random_graph(rng)
        tree = dominator_tree(graph)
        assert list(tree.idom) == brute_force_idoms(graph)
        check_accounting(tree)
        # Retained size by definition: the object plus everything it dominates.
        for index in range(len(graph.objects.sizes)):
            if tree.idom[index] == UNREACHABLE:
                continue
            members, code = 0, index
            expected = 0
            for other in range(len(graph.objects.sizes)):
                code = other
                while code >= 0 and code != index:
                    code = tree.idom[code]
                if code == index:
                    expected += graph.objects.sizes[other]
                    members += 1
            assert tree.retained[index] == expected and tree.retained_objects[index] == members


def test_deep_chain_needs_no_recursion() -> None:
    count = 100_000
    graph = make_graph([8] * count, {i: [i + 1] for i in range(count - 1)}, [("head", [0])])
    graph.edges.append(0)  # a back edge from the tail to the head
    graph.edge_start[-1] += 1
    tree = dominator_tree(graph)
    assert tree.retained[0] == 8 * count and tree.idom[count - 1] == count - 2


def test_top_retainers_and_formatting() -> None:
    graph = make_graph([16, 1 << 20, 32, 48], {0: [1], 2: [3]}, [("main.cache", [0]), ("goroutine 7 buf", [2])])
    tree = dominator_tree(graph)
    top = top_retainers(graph, tree, 2)
    assert [(r.index, r.retained_bytes) for r in top] == [(0, 16 + (1 << 20)), (1, 1 << 20)]
    assert decode_dominator(top[1].dominator) == ("object", 0)
    text = format_retained(graph, tree, top=5, by="root")
    assert text[0] == "heap: 4 objects, 1,048,672 bytes"
    assert any("main.cache" in line and "1,048,592" in line for line in text)
    objects = format_retained(graph, tree, top=5, by="object")
    assert any(line.rstrip().endswith("root main.cache") for line in objects)
    data = retained_to_json(graph, tree, top=1)
    assert data["roots"] == [
        {
            "name": "main.cache",
            "kind": "global",
            "goroutine": None,
            "retained_bytes": 1048592,
            "retained_objects": 2,
        }
    ]
    assert data["single_root_bytes"] + data["shared_bytes"] + data["unreachable_bytes"] == data["total_bytes"]


def test_larger_random_graphs_against_brute_force() -> None:
    # Long chains with back and cross edges exercise the path compression and the buckets.
    rng = random.Random(7)
    for _ in range(30):
        objects = rng.randint(60, 120)
        pointers: dict[int, list[int]] = {i: [i + 1] for i in range(objects - 1) if rng.random() < 0.8}
        for _ in range(rng.randint(0, objects)):
            pointers.setdefault(rng.randrange(objects), []).append(rng.randrange(objects))
        roots = [(f"r{r}", [rng.randrange(objects)]) for r in range(rng.randint(1, 3))]
        graph = make_graph([rng.randint(1, 512) for _ in range(objects)], pointers, roots)
        tree = dominator_tree(graph)
        assert list(tree.idom) == brute_force_idoms(graph)
        check_accounting(tree)


def test_ctrl_c_interrupts_a_large_graph() -> None:
    calls: list[str] = []

    def reporter(what: str, done: int, total: int) -> None:
        calls.append(what)
        raise KeyboardInterrupt

    graph = make_graph([8] * 70_000, {i: [i + 1] for i in range(69_999)}, [("head", [0])])
    previous = set_reporter(reporter)
    try:
        with pytest.raises(KeyboardInterrupt):
            dominator_tree(graph)
    finally:
        set_reporter(previous)
    assert calls == ["heap dominators"]
