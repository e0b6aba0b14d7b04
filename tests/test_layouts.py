"""The built-in layout tables (used without DWARF) equal what each toolchain's
DWARF says for every GOARCH they cover (arm64 binaries are cross-built), the
wait-reason tables equal each runtime's own strings, and the lookup falls back
honestly (nearest older release of the same GOARCH, amd64 for an unknown 64-bit
GOARCH, never a 64-bit table for a 32-bit GOARCH)."""

from __future__ import annotations

import re

import pytest

from goext_core.binary.elf import GoBinary
from goext_core.errors import UnsupportedError
from goext_core.runtime.dwarflayout import read_struct_layouts
from goext_core.runtime.layout_tables import ARCH_DIFFERENCES, BASE_GOARCH, LAYOUT_GOARCHES, LAYOUTS, WAIT_REASONS
from goext_core.runtime.layouts import RUNTIME_FIELDS, _from_table, load_layouts
from support.build import build

# The GOARCHes the tables are generated and checked for (tools/gen_layout_tables.py).
TABLE_GOARCHES = ("amd64", "arm64")


def _minor(binary: GoBinary) -> int:
    return int(re.match(r"go1\.(\d+)", binary.go_version() or "").group(1))


def _as_table(structs: dict) -> dict[str, tuple[int, dict[str, tuple[int, int]]]]:
    """Layouts in the tables' shape: (size, {field: (offset, size)}) for the fields goext reads."""
    return {
        name: (
            layout.size,
            {path: tuple(layout.fields[path]) for path in RUNTIME_FIELDS[name] if path in layout.fields},
        )
        for name, layout in structs.items()
    }


@pytest.mark.parametrize("goarch", TABLE_GOARCHES)
def test_tables_match_dwarf(go_version, goarch):
    exe = build("simple", go_version, "default", goarch)
    with GoBinary(str(exe)) as binary:
        assert binary.arch == goarch
        minor = _minor(binary)
        assert goarch in LAYOUT_GOARCHES.get(minor, ()), (
            f"no layout table for Go 1.{minor} {goarch}: run tools/gen_layout_tables.py"
        )
        from_dwarf = _as_table(read_struct_layouts(binary.elf, RUNTIME_FIELDS))
    structs, source, notes = _from_table(minor, goarch, 8)
    assert (source, notes) == (f"table go1.{minor} {goarch}", [])
    from_table = _as_table(structs)
    assert sorted(from_table) == sorted(from_dwarf)
    for name, layout in from_dwarf.items():
        assert from_table[name] == layout, f"{name} of Go 1.{minor} {goarch}: run tools/gen_layout_tables.py"


@pytest.mark.parametrize("goarch", TABLE_GOARCHES)
def test_wait_reason_tables_match_the_runtime(go_version, goarch):
    exe = build("simple", go_version, "default", goarch)
    with GoBinary(str(exe)) as binary:
        address = binary.symbol("runtime.waitReasonStrings")
        size = binary.symbol_size("runtime.waitReasonStrings")
        strings = [binary.read_go_string(address + i, 256) for i in range(0, size, 2 * binary.ptr_size)]
        assert WAIT_REASONS[_minor(binary)] == strings


@pytest.mark.unit
def test_tables_store_each_goarch_once_and_only_real_differences():
    assert sorted(LAYOUT_GOARCHES) == sorted(LAYOUTS) == sorted(WAIT_REASONS)
    for goarches in LAYOUT_GOARCHES.values():
        assert goarches[0] == BASE_GOARCH and len(set(goarches)) == len(goarches)
    for (minor, goarch), structs in ARCH_DIFFERENCES.items():
        assert goarch != BASE_GOARCH and goarch in LAYOUT_GOARCHES[minor]
        assert structs, f"empty difference for Go 1.{minor} {goarch}"
        for name, difference in structs.items():
            base = LAYOUTS[minor].get(name)
            if difference is None or base is None:
                assert difference != base
                continue
            (base_size, base_fields), (size, changed_fields) = base, difference
            assert size != base_size or changed_fields, f"Go 1.{minor} {goarch} {name} repeats {BASE_GOARCH}'s"
            for path, location in changed_fields.items():
                assert base_fields.get(path) != location, f"Go 1.{minor} {goarch} {name}.{path} repeats {BASE_GOARCH}'s"


def _available(goarch: str) -> list[int]:
    return sorted(minor for minor, goarches in LAYOUT_GOARCHES.items() if goarch in goarches)


@pytest.mark.unit
def test_go_1_20_says_which_table_it_uses():
    layouts = load_layouts(None, False, 20, "amd64", 8)
    if 20 in _available("amd64"):
        assert (layouts.source, layouts.notes) == ("table go1.20 amd64", [])
        return
    used = max(minor for minor in _available("amd64") if minor < 20)
    assert layouts.source == f"table go1.{used} amd64"
    [note] = layouts.notes
    assert "no runtime layout table for Go 1.20 amd64" in note
    assert f"using Go 1.{used} amd64's" in note and "may be wrong" in note


@pytest.mark.unit
@pytest.mark.parametrize("goarch", TABLE_GOARCHES)
def test_a_newer_release_uses_the_newest_table_of_its_own_goarch(goarch):
    newest = _available(goarch)[-1]
    structs, source, [note] = _from_table(newest + 5, goarch, 8)
    assert source == f"table go1.{newest} {goarch}"
    assert f"using Go 1.{newest} {goarch}'s" in note
    assert _as_table(structs) == _as_table(_from_table(newest, goarch, 8)[0])


@pytest.mark.unit
def test_a_release_older_than_every_table_uses_the_oldest_and_says_so():
    oldest = _available("arm64")[0]
    _, source, [note] = _from_table(oldest - 1, "arm64", 8)
    assert source == f"table go1.{oldest} arm64"
    assert f"Go 1.{oldest} is the oldest release with a table for arm64" in note


@pytest.mark.unit
def test_an_unknown_64bit_goarch_uses_amd64_and_says_so():
    newest = _available(BASE_GOARCH)[-1]
    _, source, [note] = _from_table(newest, "riscv64", 8)
    assert source == f"table go1.{newest} {BASE_GOARCH}"
    assert f"Go 1.{newest} riscv64" in note and f"using Go 1.{newest} {BASE_GOARCH}'s" in note
    assert "tables for amd64, arm64 only" in note


@pytest.mark.unit
@pytest.mark.parametrize("goarch, ptr_size", [("386", 4), ("arm", 4), ("mipsle", 4), ("riscv64", 4)])
def test_a_32bit_goarch_never_gets_64bit_layouts(goarch, ptr_size):
    with pytest.raises(UnsupportedError, match="32-bit"):
        load_layouts(None, False, _available(BASE_GOARCH)[-1], goarch, ptr_size)
