"""The shape of a heap object graph, as the analyses over it read it.

The graph itself is built by ``runtime/heapgraph.py`` (``HeapGraph``, ``HeapRoot``);
the analyses (dominators, retained sizes, goroutine leaks) only read these
attributes, so they are written against these protocols and tested on
synthetic graphs made of plain arrays.
"""

from __future__ import annotations

from array import array
from typing import Optional, Protocol, Sequence


class ObjectsShape(Protocol):
    """The heap's objects in address order (``runtime/heap.py`` HeapObjects)."""

    @property
    def addresses(self) -> array:  # array("Q"): slot addresses, ascending
        ...

    @property
    def sizes(self) -> array:  # array("Q"): slot sizes in bytes
        ...

    @property
    def problems(self) -> list[str]:  # spans that could not be read (their objects are missing)
        ...

    def find(self, address: int) -> int:
        """Index of the object whose slot contains ``address``, -1 when none does."""
        ...


class RootShape(Protocol):
    """One root: a pointer slot outside the heap (global, stack slot, finalizer, ...)."""

    @property
    def kind(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def address(self) -> int: ...

    @property
    def goroutine(self) -> Optional[int]: ...

    @property
    def targets(self) -> tuple[int, ...]: ...


class GraphShape(Protocol):
    """Objects, their pointers in CSR form, and the roots."""

    @property
    def objects(self) -> ObjectsShape: ...

    @property
    def edge_start(self) -> array:  # array("Q"), len(objects) + 1
        ...

    @property
    def edges(self) -> array:  # array("I"): object i points at edges[edge_start[i]:edge_start[i + 1]]
        ...

    @property
    def roots(self) -> Sequence[RootShape]: ...

    @property
    def precise(self) -> bool: ...

    @property
    def notes(self) -> list[str]: ...
