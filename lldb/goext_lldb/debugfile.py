"""goext's symbol file for the target's executable, added to lldb in one
place when lldb creates the process:

* an executable with DWARF gets the lldb debug file (see
  ``goext_core.binary.lldbdebug``: its DWARF with the Go units marked C99,
  one variable per package, goext's unwind tables), written once per
  executable (cached by build-id); ``GOEXT_LLDB_DEBUG_FILE=0`` in the
  environment turns it off;
* a stripped Go executable gets the pclntab symbol file (function names and
  unwind tables, ``goext_core.binary.symfile``), as gdb does;
  ``GOEXT_AUTO_SYMBOLS=0`` leaves that to ``go symbols``;
* anything else is left alone.

lldb should get the file before it resolves the process's addresses: added
after a core is loaded, lldb keeps stale section load addresses (no function
at a pc, broken unwinding), so the sections are loaded again at the module's
slide.  The OperatingSystem plug-in is created by lldb while it creates the
process, before any unwinding, so goext adds the file from there
(:func:`load_for_process`); goext's load and every ``go`` command try again
(:func:`safe_load`: once per executable).
"""

from __future__ import annotations

import os
import sys
from typing import Optional

import lldb  # type: ignore[import-not-found]

from goext_core.binary.elf import GoBinary
from goext_core.binary.lldbdebug import lldb_debug_dir, lldb_debug_file_for
from goext_core.binary.symfile import symbol_cache_dir
from goext_core.commands.frontend import auto_symbols_enabled, quote_argument, stripped_go_symbol_file
from goext_core.errors import GoextError
from goext_core.textsafe import safe_field

# Executables already handled in this lldb (path, size, mtime): one attempt each.
_tried: dict[tuple[str, int, int], Optional[str]] = {}


def enabled() -> bool:
    """Whether the debug file of an executable with DWARF is given to lldb."""
    return os.environ.get("GOEXT_LLDB_DEBUG_FILE", "1") != "0"


def loaded_file(sbtarget: "lldb.SBTarget") -> Optional[str]:
    """The goext debug file lldb uses for the target's executable, if any."""
    module = sbtarget.GetModuleAtIndex(0)
    if not module.IsValid():
        return None
    symbols = module.GetSymbolFileSpec()
    path = symbols.fullpath if symbols.IsValid() else None
    if path and os.path.dirname(os.path.realpath(path)) == os.path.realpath(lldb_debug_dir()):
        return path
    return None


def _loaded_goext_file(sbtarget: "lldb.SBTarget") -> Optional[str]:
    """The goext file (debug file or pclntab symbol file) lldb uses for the
    target's executable, if any."""
    module = sbtarget.GetModuleAtIndex(0)
    symbols = module.GetSymbolFileSpec() if module.IsValid() else None
    path = symbols.fullpath if symbols is not None and symbols.IsValid() else None
    if not path:
        return None
    directory = os.path.dirname(os.path.realpath(path))
    return path if directory in (os.path.realpath(lldb_debug_dir()), os.path.realpath(symbol_cache_dir())) else None


def load_for_target(sbtarget: "lldb.SBTarget") -> Optional[str]:
    """Add goext's file for ``sbtarget``'s executable (the module docstring).
    Returns the file, or None (not Go, turned off, or the file could not be
    made: said once on stderr)."""
    if not sbtarget.IsValid():
        return None
    already = _loaded_goext_file(sbtarget)
    if already:
        return already
    executable = sbtarget.GetExecutable().fullpath
    if not executable:
        return None
    try:
        info = os.stat(executable)
    except OSError:
        return None
    key = (os.path.realpath(executable), info.st_size, info.st_mtime_ns)
    if key in _tried and _tried[key] is None:
        return None  # not Go, stripped, or failed: tried once per executable
    _tried[key] = None
    path = _goext_file(executable)
    if path is None:
        return None
    module = sbtarget.GetModuleAtIndex(0)
    slide = _slide(sbtarget, module)
    result = lldb.SBCommandReturnObject()
    command = f"target symbols add -s {quote_argument(executable)} {quote_argument(path)}"
    sbtarget.GetDebugger().GetCommandInterpreter().HandleCommand(command, result)
    if not result.Succeeded():
        _warn(f"lldb did not take the symbol file {path}: {(result.GetError() or '').strip()}")
        return None
    _tried[key] = path
    if slide is not None and sbtarget.GetProcess().IsValid():
        # The module's sections are now the file's: lldb still holds load
        # addresses for the old ones (functions would have no start address
        # and unwinding would pick wrong rows), so they are loaded again.
        for index in range(module.GetNumSections()):
            section = module.GetSectionAtIndex(index)
            file_address = section.GetFileAddress()
            if section.IsValid() and file_address != lldb.LLDB_INVALID_ADDRESS and file_address:
                sbtarget.SetSectionLoadAddress(section, file_address + slide)
    return path


def _slide(sbtarget: "lldb.SBTarget", module: "lldb.SBModule") -> Optional[int]:
    """Run-time minus link-time address of the module's ELF header, when loaded."""
    header = module.GetObjectFileHeaderAddress()
    load_address = header.GetLoadAddress(sbtarget)
    file_address = header.GetFileAddress()
    if lldb.LLDB_INVALID_ADDRESS in (load_address, file_address):
        return None
    return load_address - file_address


def _goext_file(executable: str) -> Optional[str]:
    """The debug file (DWARF) or the pclntab symbol file (stripped Go) of
    ``executable``, written if needed; None when there is none to give."""
    try:
        with GoBinary(executable) as binary:
            has_dwarf = binary.has_dwarf()
            if has_dwarf and enabled():
                binary.require_go()
                return lldb_debug_file_for(binary)
        if not has_dwarf and auto_symbols_enabled():
            # None unless a Go executable without symbols ('go print' and
            # 'go locals' read the runtime's type data there).
            return stripped_go_symbol_file(executable)
        return None
    except GoextError as exc:
        if "not a Go executable" not in str(exc) and "not an ELF" not in str(exc):
            _warn(str(exc))
        return None


def _warn(text: str) -> None:
    print(f"goext: symbols for lldb: {safe_field(text)}", file=sys.stderr)


def load_for_process(process: "lldb.SBProcess") -> Optional[str]:
    """:func:`safe_load` for the process lldb is creating (called from the
    OperatingSystem plug-in)."""
    return safe_load(process.GetTarget())


def safe_load(sbtarget: "lldb.SBTarget") -> Optional[str]:
    """:func:`load_for_target` that never raises (it runs inside lldb's own
    process creation and before goext's commands)."""
    try:
        return load_for_target(sbtarget)
    except Exception as exc:
        _warn(f"internal error: {type(exc).__name__}: {exc}")
        return None


__all__ = ["enabled", "load_for_process", "load_for_target", "loaded_file", "safe_load"]
