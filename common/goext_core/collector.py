"""Python's cyclic garbage collector, paused for bulk work."""

from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Iterator


@contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic collector off while goext builds many acyclic objects (a
    symbol file's tuples, 100,000 goroutine records and their list lines):
    it would scan them again and again as they pile up, a fifth of such work,
    more in a debugger's embedded Python.  Reference counting still frees
    everything; the collector runs again afterwards."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
