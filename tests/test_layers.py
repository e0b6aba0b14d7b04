"""The layering rules of ARCHITECTURE.md, checked by tools/check_layers.py: no
import cycles, no function-local imports of goext modules, no access to another
module's private names, no import from a higher layer."""

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

CHECKER = Path(__file__).resolve().parent.parent / "tools" / "check_layers.py"


def test_core_keeps_its_layers() -> None:
    done = subprocess.run([sys.executable, str(CHECKER)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
