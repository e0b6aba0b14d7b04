"""Synthetic heap graphs (plain arrays) for the analyses written against runtime/heapgraphshape.py."""

from __future__ import annotations

import bisect
from array import array
from dataclasses import dataclass, field
from typing import Optional, Sequence


class FakeObjects:
    def __init__(self, sizes: Sequence[int], base: int = 0xC000000000, stride: int = 0x100) -> None:
        self.sizes = array("Q", sizes)
        self.addresses = array("Q", (base + i * stride for i in range(len(sizes))))
        self.problems: list[str] = []

    def __len__(self) -> int:
        return len(self.sizes)

    def find(self, address: int) -> int:
        index = bisect.bisect_right(self.addresses, address) - 1
        if index >= 0 and address < self.addresses[index] + self.sizes[index]:
            return index
        return -1


@dataclass(frozen=True)
class FakeRoot:
    kind: str
    name: str
    address: int
    goroutine: Optional[int]
    targets: tuple[int, ...]


@dataclass
class FakeGraph:
    objects: FakeObjects
    edge_start: array
    edges: array
    roots: list[FakeRoot]
    precise: bool = True
    notes: list[str] = field(default_factory=list)


def make_graph(
    sizes: Sequence[int],
    pointers: dict[int, Sequence[int]],
    roots: Sequence[tuple[str, Sequence[int]]] = (),
    stack_roots: Sequence[tuple[int, Sequence[int]]] = (),
    precise: bool = True,
) -> FakeGraph:
    """Objects of ``sizes``; object i points at pointers[i]; global roots (name, targets);
    stack roots (goroutine, targets)."""
    objects = FakeObjects(sizes)
    edge_start = array("Q", [0])
    edges = array("I")
    for index in range(len(sizes)):
        edges.extend(pointers.get(index, ()))
        edge_start.append(len(edges))
    root_list = [FakeRoot("global", name, 0x500000 + 8 * n, None, tuple(t)) for n, (name, t) in enumerate(roots)]
    for goroutine, targets in stack_roots:
        root_list.append(FakeRoot("stack", f"goroutine {goroutine} local", 0, goroutine, tuple(targets)))
    return FakeGraph(objects, edge_start, edges, root_list, precise)
