"""goext for gdb.  Load it with ``source /path/to/gdb/goext.py`` (install.sh puts
that line in a gdbinit file).

This file only finds the package directories and hands over to
:mod:`goext_gdb`.  gdb runs a sourced file in its ``__main__`` namespace, so
the names defined here are kept few and prefixed.  Sourcing it again is
harmless: Python's module cache makes the second load a no-op.

Quiet loading: ``GOEXT_QUIET=1`` in the environment, or ``set $goext_quiet = 1``
in gdb before the ``source`` line.
"""

import os as _goext_os
import sys as _goext_sys


def _goext_add_paths() -> None:
    # realpath: the file may be reached through a symlink (e.g. a dotfiles dir).
    here = _goext_os.path.dirname(_goext_os.path.realpath(__file__))
    common = _goext_os.path.join(_goext_os.path.dirname(here), "common")
    for directory in (common, here):
        if directory not in _goext_sys.path:
            _goext_sys.path.insert(0, directory)


def _goext_load() -> None:
    import gdb

    _goext_add_paths()
    from goext_core.dependencies import add_pyelftools

    # pyelftools is needed for DWARF only: without it goext loads, and the
    # commands that read DWARF say in one line that it is missing.
    add_pyelftools()
    try:
        import goext_gdb
    except Exception as exc:
        if _goext_os.environ.get("GOEXT_DEBUG"):
            raise
        # One line instead of the traceback gdb would print for a sourced file.
        gdb.write(f"goext: cannot load: {type(exc).__name__}: {exc}\n", gdb.STDERR)
        return
    goext_gdb.load()


_goext_load()
