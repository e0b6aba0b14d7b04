"""Keep our aliases when Go's runtime-gdb.py loads after goext.

A Go binary asks gdb to auto-load $GOROOT/src/runtime/runtime-gdb.py, which
registers its own ``info goroutines``.  When goext comes from a gdbinit file
and the binary from the command line, gdb runs that script after all init
files and just before the first ``-ex`` command, and fires no event we could
react to then.  The script registers through ``gdb.Command.__init__(self,
"info goroutines", ...)``, looking ``gdb.Command`` up at call time; so goext
puts a transparent subclass in its place that lets every registration
through and, when the name is one of our aliases, registers ours again
right after.

The guard is a plain subclass (no metaclass of its own), so extensions that
subclass ``gdb.Command`` with their own metaclass (GEF uses ``abc.ABCMeta``)
keep working.  The one visible difference: a command class defined before
the guard is not ``issubclass`` of the new ``gdb.Command``.  goext installs
the guard only when it has an alias to defend.
"""

from __future__ import annotations

from typing import Any, Callable

import gdb  # type: ignore[import-not-found]

_RealCommand = gdb.Command


def install_guard(is_ours: Callable[[str], bool], reclaim: Callable[[str], None]) -> None:
    """Replace ``gdb.Command`` by a guard calling ``reclaim(name)`` after any
    foreign registration of a name for which ``is_ours(name)`` is true."""
    if getattr(gdb.Command, "_goext_guard", False):
        return

    class Command(_RealCommand):  # type: ignore[misc, valid-type]
        __doc__ = _RealCommand.__doc__
        _goext_guard = True

        def __init__(self, name: str, *args: Any, **kwargs: Any) -> None:
            # Not super(): classes defined before the guard call this too.
            _RealCommand.__init__(self, name, *args, **kwargs)
            if isinstance(name, str) and is_ours(name):
                reclaim(name)

    Command.__module__ = _RealCommand.__module__
    Command.__qualname__ = _RealCommand.__qualname__
    gdb.Command = Command
