"""Progress of long loops over goroutines, shown only by interactive front ends.

The core calls :func:`steps` around loops that may be long; nothing is shown
unless a front end installed a reporter (gdb and lldb do so only when a person
typed the command) and the loop has at least :data:`THRESHOLD` items.  A
reporter may raise :class:`KeyboardInterrupt` (lldb signals Ctrl-C through a
flag rather than Python's signal handler), which :func:`goext_core.commands.dispatch`
turns into "goext: interrupted": every cache fills only when its computation
completes, so an interrupted command leaves nothing half-built behind.
"""

from __future__ import annotations

import time
from typing import Callable, Iterable, Iterator, Optional, TypeVar

T = TypeVar("T")

# (what, done, total); total 0 means "finished: clear the line".
Reporter = Callable[[str, int, int], None]

THRESHOLD = 10_000  # shorter loops finish before a person would notice
_MIN_INTERVAL_S = 0.2

_reporter: Optional[Reporter] = None


def set_reporter(reporter: Optional[Reporter]) -> Optional[Reporter]:
    """Install ``reporter`` (None removes it); returns the previous one."""
    global _reporter
    previous, _reporter = _reporter, reporter
    return previous


def steps(items: Iterable[T], what: str, total: Optional[int] = None) -> Iterator[T]:
    """Yield ``items``, reporting every ``_MIN_INTERVAL_S`` when a reporter is installed."""
    reporter = _reporter
    if total is None:
        try:
            total = len(items)  # type: ignore[arg-type]
        except TypeError:
            total = 0
    if reporter is None or total < THRESHOLD:
        yield from items
        return
    last = 0.0
    done = 0
    try:
        for item in items:
            now = time.monotonic()
            if now - last >= _MIN_INTERVAL_S:
                reporter(what, done, total)
                last = now
            yield item
            done += 1
    finally:
        reporter(what, done, 0)


def check_interrupt(what: str = "") -> None:
    """Let the reporter raise KeyboardInterrupt between chunks of non-loop work."""
    reporter = _reporter
    if reporter is not None:
        reporter(what, 0, -1)


def terminal_reporter(
    write_status: Callable[[str], None], interrupted: Optional[Callable[[], bool]] = None
) -> Reporter:
    """A reporter for a person at a terminal: one status line rewritten in place
    ("\\r"), cleared when the loop ends; raises KeyboardInterrupt when
    ``interrupted()`` says Ctrl-C was pressed (lldb), since gdb raises it itself."""
    width = [0]

    def report(what: str, done: int, total: int) -> None:
        if interrupted is not None and interrupted():
            if width[0]:
                write_status("\r" + " " * width[0] + "\r")
                width[0] = 0
            raise KeyboardInterrupt
        if total < 0:
            return
        if total == 0:
            if width[0]:
                write_status("\r" + " " * width[0] + "\r")
                width[0] = 0
            return
        text = f"goext: {what}: {done:,}/{total:,} ({100 * done // total}%)  Ctrl-C stops"
        write_status("\r" + text.ljust(width[0]))
        width[0] = max(width[0], len(text))

    return report
