"""Find goext's one third-party dependency, pyelftools, for the Python a
debugger embeds.

A debugger's embedded Python computes its prefix from the ``python3`` first
on PATH; when that is another installation of the same minor version (pyenv,
a virtualenv), the distribution's site directories where the debugger's
packages live drop out of ``sys.path`` and ``import elftools`` fails although
python3-pyelftools is installed.  The entry files call :func:`add_pyelftools`
before importing anything else of goext.  Standard library only.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from typing import Optional

# Where distributions install packages for a Python X.Y (Debian and derivatives
# first: python3-pyelftools goes to /usr/lib/python3/dist-packages).
_SITE_TEMPLATES = (
    "/usr/lib/python3/dist-packages",
    "/usr/lib/python{minor}/dist-packages",
    "/usr/local/lib/python{minor}/dist-packages",
    "/usr/lib/python{minor}/site-packages",
    "/usr/local/lib/python{minor}/site-packages",
    "/usr/lib64/python{minor}/site-packages",
)


def _importable() -> bool:
    # find_spec, not import: goext imports pyelftools only when it reads DWARF.
    try:
        return importlib.util.find_spec("elftools") is not None
    except (ImportError, ValueError):
        return False


def pyelftools_directory(candidates: Optional[list[str]] = None) -> Optional[str]:
    """The first site directory that has ``elftools`` for this Python's minor version."""
    minor = f"{sys.version_info.major}.{sys.version_info.minor}"
    extra = os.environ.get("GOEXT_PYTHONPATH", "")
    paths = [path for path in extra.split(os.pathsep) if path]
    paths += candidates if candidates is not None else [t.format(minor=minor) for t in _SITE_TEMPLATES]
    for path in paths:
        if os.path.isfile(os.path.join(path, "elftools", "__init__.py")):
            return path
    return None


def add_pyelftools() -> Optional[str]:
    """Make ``import elftools`` work if it does not; returns a one-line reason
    when it cannot (None: it works)."""
    if _importable():
        return None
    directory = pyelftools_directory()
    if directory is not None and directory not in sys.path:
        sys.path.append(directory)  # after everything: it must not shadow the running Python's modules
        if _importable():
            return None
    return (
        f"pyelftools is not importable by this Python ({sys.executable or 'embedded'}, prefix {sys.prefix}); "
        "install python3-pyelftools (or pip install pyelftools for it), or name its directory in GOEXT_PYTHONPATH"
    )
