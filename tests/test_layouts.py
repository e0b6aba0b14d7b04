"""The built-in layout tables (used without DWARF) equal what each toolchain's
DWARF says, and the wait-reason tables equal each runtime's own strings."""

from __future__ import annotations

import re

from goext_core.binary import GoBinary
from goext_core.dwarflayout import read_struct_layouts
from goext_core.layout_tables import LAYOUTS, WAIT_REASONS
from goext_core.layouts import RUNTIME_FIELDS
from support.build import build


def _minor(binary: GoBinary) -> int:
    return int(re.match(r"go1\.(\d+)", binary.go_version() or "").group(1))


def test_tables_match_dwarf(go_version):
    exe = build("simple", go_version, "default")
    with GoBinary(str(exe)) as binary:
        minor = _minor(binary)
        assert minor in LAYOUTS, f"no layout table for Go 1.{minor}: run tools/gen_layout_tables.py"
        structs = read_struct_layouts(binary.elf, RUNTIME_FIELDS)
        for name, (size, fields) in LAYOUTS[minor].items():
            assert structs[name].size == size, name
            for path, location in fields.items():
                assert structs[name].fields[path] == location, f"{name}.{path}"
            missing = [f for f in RUNTIME_FIELDS[name] if f in structs[name].fields and f not in fields]
            assert not missing, f"{name}: table lacks {missing}"


def test_wait_reason_tables_match_the_runtime(go_version):
    exe = build("simple", go_version, "default")
    with GoBinary(str(exe)) as binary:
        address = binary.symbol("runtime.waitReasonStrings")
        size = binary.symbol_size("runtime.waitReasonStrings")
        strings = [binary.read_go_string(address + i, 256) for i in range(0, size, 16)]
        assert WAIT_REASONS[_minor(binary)] == strings
