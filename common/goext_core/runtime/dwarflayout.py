"""Struct layouts of runtime types read from DWARF (pyelftools).

Only what the goroutine walker and unwinder need: the flattened member offsets
of a few named structs.  The full Go type model lives elsewhere; this module is
deliberately small so that it can run first and cheaply.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Optional

from goext_core.binary.pyelf import describe_parse_error, dwarf_info, elf_parse_errors
from goext_core.errors import CorruptDataError

_MAX_DEPTH = 4  # nested struct members are flattened this deep ("sched.sp", "stack.lo")
_MAX_MEMBERS = 4096


@dataclass
class StructLayout:
    """Flattened layout of one struct: ``fields["sched.sp"] == (offset, size)``."""

    name: str
    size: int
    fields: dict[str, tuple[int, int]] = field(default_factory=dict)
    type_names: dict[str, str] = field(default_factory=dict)

    def has(self, path: str) -> bool:
        return path in self.fields

    def offset(self, path: str) -> int:
        try:
            return self.fields[path][0]
        except KeyError:
            raise CorruptDataError(f"{self.name} has no field {path}") from None

    def field_size(self, path: str) -> int:
        return self.fields[path][1]


def struct_layouts_to_json(structs: dict[str, StructLayout]) -> dict[str, Any]:
    """``structs`` as plain JSON data (for the on-disk index)."""
    return {
        name: {
            "size": layout.size,
            "fields": {path: list(entry) for path, entry in layout.fields.items()},
            "type_names": dict(layout.type_names),
        }
        for name, layout in structs.items()
    }


def _is_count(value: object) -> bool:
    return type(value) is int and 0 <= value < 1 << 32  # bool is not a count


def struct_layouts_from_json(data: Any) -> Optional[dict[str, StructLayout]]:
    """The inverse of :func:`struct_layouts_to_json`; None unless ``data`` has exactly that shape."""
    if not isinstance(data, dict):
        return None
    structs: dict[str, StructLayout] = {}
    for name, entry in data.items():
        if not isinstance(entry, dict) or not _is_count(entry.get("size")):
            return None
        fields, type_names = entry.get("fields"), entry.get("type_names")
        if not isinstance(fields, dict) or not isinstance(type_names, dict) or len(fields) > _MAX_MEMBERS + 1:
            return None
        layout = StructLayout(name, entry["size"])
        for path, pair in fields.items():
            if not isinstance(pair, list) or len(pair) != 2 or not all(_is_count(item) for item in pair):
                return None
            layout.fields[path] = (pair[0], pair[1])
        for path, type_name in type_names.items():
            if not isinstance(type_name, str):
                return None
            layout.type_names[path] = type_name
        structs[name] = layout
    return structs


def _attr(die: object, name: str) -> object:
    attribute = die.attributes.get(name)  # type: ignore[attr-defined]
    return None if attribute is None else attribute.value


def _name(die: object) -> str:
    value = _attr(die, "DW_AT_name")
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value if isinstance(value, str) else ""


def _strip_typedefs(die: Any) -> Any:
    for _ in range(16):
        if die.tag != "DW_TAG_typedef" or "DW_AT_type" not in die.attributes:
            return die
        die = die.get_DIE_from_attribute("DW_AT_type")
    return die


def _flatten(die: Any, prefix: str, base: int, layout: StructLayout, depth: int) -> None:
    for member in die.iter_children():
        if len(layout.fields) > _MAX_MEMBERS:
            return
        if member.tag != "DW_TAG_member":
            continue
        location = _attr(member, "DW_AT_data_member_location")
        if not isinstance(location, int):
            continue  # Go always emits constant member offsets
        name = prefix + _name(member)
        member_type = _strip_typedefs(member.get_DIE_from_attribute("DW_AT_type"))
        size = _attr(member_type, "DW_AT_byte_size")
        if member_type.tag == "DW_TAG_pointer_type":
            size = member.cu["address_size"]  # Go omits DW_AT_byte_size on pointers
        layout.fields[name] = (base + location, size if isinstance(size, int) else 0)
        layout.type_names[name] = _name(member_type)
        if member_type.tag == "DW_TAG_structure_type" and depth < _MAX_DEPTH:
            _flatten(member_type, name + ".", base + location, layout, depth + 1)


def read_struct_layouts(
    elf: object, names: Iterable[str], package_cus: Iterable[str] = ("runtime",)
) -> dict[str, StructLayout]:
    """Find the named struct types in the CUs of ``package_cus`` and flatten them.

    Returns only the structs found; raises CorruptDataError if DWARF is unreadable.
    """
    wanted = set(names)
    found: dict[str, StructLayout] = {}
    packages = {p.encode() for p in package_cus}
    try:
        dwarf = dwarf_info(elf)
        for cu in dwarf.iter_CUs():
            top = cu.get_top_DIE()
            if _attr(top, "DW_AT_name") not in packages:
                continue
            for die in top.iter_children():
                if die.tag != "DW_TAG_structure_type":
                    continue
                name = _name(die)
                if name in wanted and name not in found:
                    size = _attr(die, "DW_AT_byte_size")
                    layout = StructLayout(name, size if isinstance(size, int) else 0)
                    _flatten(die, "", 0, layout, 0)
                    found[name] = layout
            if len(found) == len(wanted):
                break
    except elf_parse_errors() as exc:
        raise CorruptDataError(f"cannot read DWARF: {describe_parse_error(exc)}") from None
    return found
