"""Dominators of the heap's object graph, and the bytes each object and each root retains.

Object ``d`` dominates object ``o`` when every path from the roots to ``o`` passes
through ``d``: freeing ``d`` (dropping every pointer to it) frees ``o`` too.  The
*retained size* of ``d`` is the size of every object it dominates, itself included:
what the heap would shrink by if ``d`` went.

The graph gets one virtual super-root whose children are one pseudo-node per
root (``HeapRoot``); each pseudo-node points at its root's targets.  So an object
reached from one root only is retained by that root; an object reached from two
roots is dominated by the super-root alone and is *shared*: retained by no root.
Objects no root reaches are *unreachable* (garbage the next GC frees, or objects
whose pointers goext could not see).  The totals always add up::

    sum(retained by each root) + shared + unreachable == bytes of every object

Sizes are slot sizes (``HeapObjects.sizes``): what the allocator spent.

The dominator tree is computed with Lengauer and Tarjan's algorithm ("A fast
algorithm for finding dominators in a flowgraph", TOPLAS 1979) in its simple
form (path compression, O(E log V)), written without recursion and over compact
arrays indexed by depth-first number: no Python object per heap object, so
20 million objects fit.
"""

from __future__ import annotations

import heapq
from array import array
from dataclasses import dataclass
from itertools import accumulate
from typing import Any, Iterable, Optional

from goext_core.errors import CorruptDataError
from goext_core.progress import check_interrupt
from goext_core.runtime.heapgraphshape import GraphShape

# The immediate dominator of an object, when it is not another object (DominatorTree.idom).
SHARED = -1  # the super-root: reached from more than one root
UNREACHABLE = -2  # no root reaches it
_ROOT_BASE = -3  # root r is encoded as _ROOT_BASE - r
_CHECK_EVERY = 1 << 16  # loop iterations between Ctrl-C checks
_CHUNK = 1 << 20  # edges per chunk of a loop over every edge (a Ctrl-C check between chunks)


def root_code(root_index: int) -> int:
    """How DominatorTree.idom encodes "dominated directly by root ``root_index``"."""
    return _ROOT_BASE - root_index


def decode_dominator(code: int) -> tuple[str, int]:
    """("object", index), ("root", index), ("shared", -1) or ("unreachable", -1)."""
    if code >= 0:
        return "object", code
    if code == SHARED:
        return "shared", -1
    if code == UNREACHABLE:
        return "unreachable", -1
    return "root", _ROOT_BASE - code


@dataclass
class DominatorTree:
    """Per object (same indexes as the graph's objects) and per root."""

    idom: array  # array("q"): immediate dominator object, or SHARED, UNREACHABLE, root_code(r)
    retained: array  # array("Q"): bytes of the objects it dominates, itself included (0: unreachable)
    retained_objects: array  # array("Q"): how many objects that is
    root_retained: array  # array("Q"): per root, bytes of the objects only it reaches
    root_retained_objects: array  # array("Q")
    shared_bytes: int  # objects reached from several roots (dominated by the super-root only)
    shared_objects: int
    unreachable_bytes: int
    unreachable_objects: int
    total_bytes: int
    total_objects: int

    def reachable(self, index: int) -> bool:
        return self.idom[index] != UNREACHABLE

    def owner_root(self, index: int) -> Optional[int]:
        """The root that alone retains object ``index`` (walking up the tree); None when shared or unreachable."""
        code = self.idom[index]
        for _ in range(len(self.idom) + 1):
            if code < 0:
                break
            code = self.idom[code]
        kind, value = decode_dominator(code)
        return value if kind == "root" else None


def check_graph(graph: GraphShape) -> int:
    """The number of objects; CorruptDataError (one line) when the arrays do not fit together."""
    objects = len(graph.objects.sizes)
    if len(graph.edge_start) != objects + 1 or (objects and graph.edge_start[-1] != len(graph.edges)):
        raise CorruptDataError(
            f"heap graph: {len(graph.edge_start)} edge offsets and {len(graph.edges)} edges for {objects} objects"
        )
    if len(graph.edges) and max(graph.edges) >= objects:
        raise CorruptDataError(f"heap graph: an edge points at object {max(graph.edges)} of {objects}")
    for root in graph.roots:
        if root.targets and not 0 <= min(root.targets) <= max(root.targets) < objects:
            raise CorruptDataError(f"heap graph: root {root.name} points outside the {objects} objects")
    return objects


def dominator_tree(graph: GraphShape) -> DominatorTree:
    """The dominator tree of ``graph`` below a super-root over one pseudo-node per root."""
    objects = check_graph(graph)
    roots = graph.roots
    first_object = len(roots) + 1  # node 0: the super-root; 1..len(roots): the roots
    nodes = first_object + objects
    edge_start, edges = graph.edge_start, graph.edges

    # 1. Depth-first numbering from the super-root.  A node is numbered when it is
    #    popped, with the node that pushed it as its tree parent: the same tree as a
    #    recursive DFS that visits children in reverse order.
    number = array("i", [-1]) * nodes  # node -> depth-first number
    vertex = array("I")  # depth-first number -> node
    parent = array("i")  # depth-first number -> the parent's number
    sources = array("I")  # every edge out of a reached node: its source's number...
    successors = array("I")  # ... and its target node (translated to a number below)
    sizes = graph.objects.sizes
    retained = array("Q")  # depth-first number -> its own size, then (step 4) what it retains
    count = array("Q")  # ... 1 for an object, then the objects it retains
    stack = array("q", [0, -1])  # (node, parent number) pairs
    steps = 0
    while stack:
        from_number = stack.pop()
        node = stack.pop()
        if number[node] >= 0:
            continue
        current = len(vertex)
        number[node] = current
        vertex.append(node)
        parent.append(from_number)
        targets: Iterable[int]
        if node >= first_object:
            index = node - first_object
            retained.append(sizes[index])
            count.append(1)
            targets = edges[edge_start[index] : edge_start[index + 1]]
        else:
            retained.append(0)
            count.append(0)
            if node:
                targets = roots[node - 1].targets
            else:
                targets = ()
                for successor in range(1, first_object):  # the root pseudo-nodes
                    sources.append(current)
                    successors.append(successor)
                    stack.append(successor)
                    stack.append(current)
        for target in targets:
            successor = target + first_object
            sources.append(current)
            successors.append(successor)
            if number[successor] < 0:
                stack.append(successor)
                stack.append(current)
        steps += 1
        if steps % _CHECK_EVERY == 0:
            check_interrupt("heap dominators")
    reached = len(vertex)
    del stack

    # 2. Predecessors by depth-first number (counting sort of the reached edges).
    counts = array("Q", [0]) * (reached + 1)
    edge_count = len(successors)
    for chunk in range(0, edge_count, _CHUNK):
        check_interrupt("heap dominators")
        for position, successor in enumerate(successors[chunk : chunk + _CHUNK], chunk):
            target = number[successor]
            successors[position] = target
            counts[target + 1] += 1
    pred_start = array("Q", accumulate(counts))
    fill = array("Q", pred_start)
    predecessors = array("I", [0]) * edge_count
    for chunk in range(0, edge_count, _CHUNK):
        check_interrupt("heap dominators")
        for source, target in zip(sources[chunk : chunk + _CHUNK], successors[chunk : chunk + _CHUNK]):
            predecessors[fill[target]] = source
            fill[target] += 1
    del successors, sources, fill, counts

    # 3. Semidominators, then immediate dominators (Lengauer-Tarjan, simple version).
    semi = array("i", range(reached))
    label = array("i", range(reached))
    ancestor = array("i", [-1]) * reached
    idom = array("i", [0]) * reached
    bucket_head = array("i", [-1]) * reached
    bucket_next = array("i", [-1]) * reached

    def evaluate(v: int) -> int:
        """The vertex of least semidominator on v's forest path (with path compression)."""
        if ancestor[v] < 0:
            return v
        if ancestor[ancestor[v]] >= 0:
            chain = []
            x = v
            while ancestor[ancestor[x]] >= 0:
                chain.append(x)
                x = ancestor[x]
            for x in reversed(chain):
                up = ancestor[x]
                if semi[label[up]] < semi[label[x]]:
                    label[x] = label[up]
                ancestor[x] = ancestor[up]
        return label[v]

    for w in range(reached - 1, 0, -1):
        best = semi[w]
        for position in range(pred_start[w], pred_start[w + 1]):
            v = predecessors[position]
            up = ancestor[v]
            if up < 0:
                u = v  # not linked yet: numbered before w, its own semidominator
            elif ancestor[up] < 0:
                u = label[v]
            else:
                u = evaluate(v)
            if semi[u] < best:
                best = semi[u]
        semi[w] = best
        p = parent[w]
        if best == p:
            # Its bucket would give it p at once below: the semidominator is its tree parent.
            idom[w] = p
        else:
            bucket_next[w] = bucket_head[best]
            bucket_head[best] = w
        ancestor[w] = p
        v = bucket_head[p]
        bucket_head[p] = -1
        while v >= 0:
            up = ancestor[v]
            u = label[v] if up >= 0 and ancestor[up] < 0 else evaluate(v)
            idom[v] = u if semi[u] < semi[v] else p
            v = bucket_next[v]
        if w % _CHECK_EVERY == 0:
            check_interrupt("heap dominators")
    for w in range(1, reached):
        if idom[w] != semi[w]:
            idom[w] = idom[idom[w]]
    del bucket_head, bucket_next, predecessors, pred_start

    # 4. Retained sizes: a dominator has a smaller depth-first number than what it
    #    dominates, so one pass in reverse order adds every subtree into its root.
    for w in range(reached - 1, 0, -1):
        up = idom[w]
        retained[up] += retained[w]
        count[up] += count[w]

    # 5. Back to object indexes.
    object_idom = array("q", [UNREACHABLE]) * objects
    object_retained = array("Q", [0]) * objects
    object_count = array("Q", [0]) * objects
    root_retained = array("Q", [0]) * len(roots)
    root_count = array("Q", [0]) * len(roots)
    shared_bytes = shared_objects = 0
    for w in range(1, reached):
        if w % _CHECK_EVERY == 0:
            check_interrupt("heap dominators")
        node = vertex[w]
        if node < first_object:
            root_retained[node - 1] = retained[w]
            root_count[node - 1] = count[w]
            continue
        index = node - first_object
        up = vertex[idom[w]]
        if up >= first_object:
            object_idom[index] = up - first_object
        elif up:
            object_idom[index] = _ROOT_BASE - (up - 1)
        else:
            object_idom[index] = SHARED
            shared_bytes += retained[w]
            shared_objects += count[w]
        object_retained[index] = retained[w]
        object_count[index] = count[w]
    total_bytes = sum(sizes)
    reached_objects = reached - first_object
    reached_bytes = sum(root_retained) + shared_bytes
    return DominatorTree(
        idom=object_idom,
        retained=object_retained,
        retained_objects=object_count,
        root_retained=root_retained,
        root_retained_objects=root_count,
        shared_bytes=shared_bytes,
        shared_objects=shared_objects,
        unreachable_bytes=total_bytes - reached_bytes,
        unreachable_objects=objects - reached_objects,
        total_bytes=total_bytes,
        total_objects=objects,
    )


@dataclass(frozen=True)
class RetainedRoot:
    """What one root alone keeps alive."""

    index: int  # into graph.roots
    name: str
    kind: str
    goroutine: Optional[int]
    retained_bytes: int
    retained_objects: int


def retained_by_root(graph: GraphShape, tree: DominatorTree) -> list[RetainedRoot]:
    """Every root with what it alone retains, the largest first."""
    rows = [
        RetainedRoot(
            index,
            root.name,
            root.kind,
            root.goroutine,
            tree.root_retained[index],
            tree.root_retained_objects[index],
        )
        for index, root in enumerate(graph.roots)
    ]
    rows.sort(key=lambda row: (-row.retained_bytes, -row.retained_objects, row.index))
    return rows


@dataclass(frozen=True)
class Retainer:
    """One object and what it alone keeps alive."""

    index: int  # into graph.objects
    address: int
    size: int
    retained_bytes: int
    retained_objects: int
    dominator: int  # DominatorTree.idom code


def top_retainers(graph: GraphShape, tree: DominatorTree, count: int) -> list[Retainer]:
    """The ``count`` objects that retain the most bytes (dominators retain their subtrees,
    so an object and the one that dominates it may both be listed)."""
    retained = tree.retained
    best = heapq.nlargest(max(count, 0), range(len(retained)), key=retained.__getitem__)
    addresses, sizes = graph.objects.addresses, graph.objects.sizes
    return [
        Retainer(i, addresses[i], sizes[i], retained[i], tree.retained_objects[i], tree.idom[i])
        for i in best
        if tree.idom[i] != UNREACHABLE
    ]


def describe_dominator(graph: GraphShape, code: int) -> str:
    kind, value = decode_dominator(code)
    if kind == "object":
        return f"object {graph.objects.addresses[value]:#x}"
    if kind == "root":
        return f"root {graph.roots[value].name}"
    return "several roots" if kind == "shared" else "unreachable"


def _objects(count: int) -> str:
    return f"{count:,} object{'s' if count != 1 else ''}"


def _percent(part: int, whole: int) -> str:
    """Six characters; never rounded to 0.0% or 100.0% when it is not exactly that."""
    if not whole:
        return "     -"
    share = 100 * part / whole
    if 0 < share < 0.05:
        return " <0.1%"
    if part != whole and share >= 99.95:
        return ">99.9%"
    return f"{share:5.1f}%"


def format_retained(graph: GraphShape, tree: DominatorTree, top: int = 20, by: str = "root") -> list[str]:
    """Text lines: the accounting, then the ``top`` roots (by="root") or objects (by="object")."""
    total = tree.total_bytes
    single, single_objects = sum(tree.root_retained), sum(tree.root_retained_objects)
    lines = [
        f"heap: {_objects(tree.total_objects)}, {total:,} bytes",
        f"  retained by a single root: {single:>16,} bytes {_percent(single, total)}  ({_objects(single_objects)})",
        f"  shared by several roots:   {tree.shared_bytes:>16,} bytes {_percent(tree.shared_bytes, total)}"
        f"  ({_objects(tree.shared_objects)})",
        f"  unreachable from any root: {tree.unreachable_bytes:>16,} bytes {_percent(tree.unreachable_bytes, total)}"
        f"  ({_objects(tree.unreachable_objects)})",
    ]
    if not graph.precise:
        lines.append(
            "  conservative: some memory was scanned as if every word were a pointer; "
            "retained sizes may be too small (a false pointer can make an object look shared)"
        )
    lines.extend(f"  note: {note}" for note in graph.notes)
    lines.append("")
    if by == "object":
        rows = top_retainers(graph, tree, top)
        lines.append(f"{'retained bytes':>16} {'%':>6} {'objects':>10} {'size':>10}  object              dominated by")
        for row in rows:
            lines.append(
                f"{row.retained_bytes:>16,} {_percent(row.retained_bytes, total)} {row.retained_objects:>10,}"
                f" {row.size:>10,}  {row.address:#018x}  {describe_dominator(graph, row.dominator)}"
            )
        return lines
    roots = [row for row in retained_by_root(graph, tree) if row.retained_bytes][: max(top, 0)]
    lines.append(f"{'retained bytes':>16} {'%':>6} {'objects':>10}  {'kind':<10} root")
    for root in roots:
        lines.append(
            f"{root.retained_bytes:>16,} {_percent(root.retained_bytes, total)} {root.retained_objects:>10,}"
            f"  {root.kind:<10} {root.name}"
        )
    if not roots:
        lines.append("  (no root alone retains any object)")
    return lines


def retained_to_json(graph: GraphShape, tree: DominatorTree, top: int = 20, by: str = "root") -> dict[str, Any]:
    """The accounting and the ``top`` roots or objects, for ``--json``."""
    out: dict[str, Any] = {
        "total_bytes": tree.total_bytes,
        "total_objects": tree.total_objects,
        "single_root_bytes": sum(tree.root_retained),
        "single_root_objects": sum(tree.root_retained_objects),
        "shared_bytes": tree.shared_bytes,
        "shared_objects": tree.shared_objects,
        "unreachable_bytes": tree.unreachable_bytes,
        "unreachable_objects": tree.unreachable_objects,
        "precise": graph.precise,
        "notes": list(graph.notes),
    }
    if by == "object":
        out["objects"] = [
            {
                "address": row.address,
                "size": row.size,
                "retained_bytes": row.retained_bytes,
                "retained_objects": row.retained_objects,
                "dominated_by": describe_dominator(graph, row.dominator),
            }
            for row in top_retainers(graph, tree, top)
        ]
    else:
        out["roots"] = [
            {
                "name": root.name,
                "kind": root.kind,
                "goroutine": root.goroutine,
                "retained_bytes": root.retained_bytes,
                "retained_objects": root.retained_objects,
            }
            for root in retained_by_root(graph, tree)[: max(top, 0)]
            if root.retained_bytes
        ]
    return out
