"""The command table's module manifest: running a command imports only its module."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from goext_core.commands import COMMAND_MODULES, base, load_all_commands, load_command_infos

COMMON = Path(__file__).resolve().parents[2] / "common"


def _fresh_python(code: str) -> str:
    """What ``code`` prints in a new interpreter (nothing of goext imported yet)."""
    env = {"PYTHONPATH": str(COMMON)}
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout


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
    output = _fresh_python(code)
    assert output.strip() == "['goext_core.commands.base', 'goext_core.commands.stacks']", output


def test_help_lists_every_command() -> None:
    code = (
        "from goext_core.commands import dispatch, Context; "
        "out = []; dispatch(Context(lambda: None), 'help', '', out.append); print(''.join(out))"
    )
    output = _fresh_python(code)
    for name in COMMAND_MODULES:
        assert f"go {name} " in output, name


def test_the_front_ends_manifest_is_up_to_date() -> None:
    """manifest.json is what the front ends register: names, help, options."""
    tool = COMMON.parent / "tools" / "command_manifest.py"
    result = subprocess.run([sys.executable, str(tool), "--check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    infos = load_command_infos()
    specs = load_all_commands()
    assert list(infos) == list(COMMAND_MODULES)
    for name, info in infos.items():
        assert info == specs[name].info()


def test_front_ends_register_commands_without_importing_them() -> None:
    code = (
        "import sys; from goext_core.commands.frontend import load_command_table; "
        "infos, _ = load_command_table(); assert 'goroutines' in infos and '--help' in infos['goroutines'].options; "
        "print(sorted(m for m in sys.modules if m.startswith('goext_core.commands.')))"
    )
    output = _fresh_python(code)
    assert output.strip() == "['goext_core.commands.base', 'goext_core.commands.frontend']", output


def test_a_missing_manifest_falls_back_to_the_modules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(base, "MANIFEST_PATH", str(tmp_path / "absent.json"))
    assert base.load_command_infos() == {name: spec.info() for name, spec in load_all_commands().items()}
    (tmp_path / "stale.json").write_text('{"format": 1, "commands": {"goroutines": {}}}')
    monkeypatch.setattr(base, "MANIFEST_PATH", str(tmp_path / "stale.json"))
    assert list(base.load_command_infos()) == list(COMMAND_MODULES)


def test_commands_added_before_the_front_end_loads_are_registered() -> None:
    code = (
        "from goext_core.commands import COMMANDS, CommandSpec, load_command_infos; "
        "COMMANDS['zz-extra'] = CommandSpec('zz-extra', 'An extra command.', lambda parser: None, "
        "lambda context, args, write: None, gdb_aliases=['info extra']); "
        "infos = load_command_infos(); print(list(infos)[-1], infos['zz-extra'].gdb_aliases)"
    )
    output = _fresh_python(code)
    assert output.strip() == "zz-extra ('info extra',)", output
