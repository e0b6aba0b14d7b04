"""goext for lldb.  Load it with ``command script import /path/to/lldb/goext.py``
(install.sh puts that line in ~/.lldbinit).

lldb imports this file as a module named ``goext`` and calls
:func:`__lldb_init_module`; the work is done by :mod:`goext_lldb`.  Importing
it again is harmless.  ``GOEXT_QUIET=1`` in the environment silences the
one-line banner.
"""

import os
import sys


def _add_paths() -> None:
    # realpath: the file may be reached through a symlink.
    here = os.path.dirname(os.path.realpath(__file__))
    common = os.path.join(os.path.dirname(here), "common")
    for directory in (common, here):
        if directory not in sys.path:
            sys.path.insert(0, directory)


def __lldb_init_module(debugger, internal_dict) -> None:  # type: ignore[no-untyped-def]
    _add_paths()
    from goext_core.dependencies import add_pyelftools

    # pyelftools is needed for DWARF only: without it goext loads, and the
    # commands that read DWARF say in one line that it is missing.
    add_pyelftools()
    try:
        import goext_lldb
    except Exception as exc:
        if os.environ.get("GOEXT_DEBUG"):
            raise
        print(f"goext: cannot load: {type(exc).__name__}: {exc}", file=sys.stderr)
        return
    goext_lldb.load(debugger, sys.modules[__name__])
