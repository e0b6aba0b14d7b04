"""The command table's module manifest: running a command imports only its module."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from goext_core.commands import COMMAND_MODULES, load_all_commands

COMMON = Path(__file__).resolve().parents[2] / "common"


def test_the_manifest_names_every_command_and_its_module() -> None:
    registered = {name: spec.run.__module__.rsplit(".", 1)[-1] for name, spec in load_all_commands().items()}
    assert registered == COMMAND_MODULES


def test_a_command_loads_its_module_only() -> None:
    code = (
        "import sys; from goext_core.commands import dispatch, Context, COMMANDS; "
        "out = []; dispatch(Context(lambda: None), 'goroutines', '--help', out.append); "
        "assert 'goroutines' in ''.join(out), out; "
        "print(sorted(m for m in sys.modules if m.startswith('goext_core.commands.')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env={"PYTHONPATH": str(COMMON)}, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "['goext_core.commands.base', 'goext_core.commands.stacks']", result.stdout


def test_help_lists_every_command() -> None:
    code = (
        "from goext_core.commands import dispatch, Context; "
        "out = []; dispatch(Context(lambda: None), 'help', '', out.append); print(''.join(out))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env={"PYTHONPATH": str(COMMON)}, capture_output=True, text=True, check=True
    )
    for name in COMMAND_MODULES:
        assert f"go {name} " in result.stdout, name
