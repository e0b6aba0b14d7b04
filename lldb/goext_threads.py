"""The file lldb's ``target.process.python-os-plugin-path`` names: goroutines
as lldb threads (see ``goext_lldb/goroutine_threads.py``).  goext sets the
setting when it loads; ``go lldb-threads off`` turns the threads off."""

import os
import sys

_here = os.path.dirname(os.path.realpath(__file__))
for _directory in (os.path.join(os.path.dirname(_here), "common"), _here):
    if _directory not in sys.path:
        sys.path.insert(0, _directory)

from goext_lldb.goroutine_threads import OperatingSystemPlugIn  # noqa: E402,F401
