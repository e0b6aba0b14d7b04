"""goext_core: the debugger-neutral core of goext.

This package never imports ``gdb`` or ``lldb``.  The front ends in ``gdb/`` and
``lldb/`` adapt their debugger to :class:`goext_core.target.Target`; the offline
target (:mod:`goext_core.target.core`) reads an ELF core plus its executable.
"""

__version__ = "0.1.0"
