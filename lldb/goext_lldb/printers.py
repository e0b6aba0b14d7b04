"""lldb type summaries and synthetic children for Go values, in a ``go`` category
(``type category disable go`` turns them off), from the core's one
recognizer/formatter table.

lldb 16 has no Go TypeSystem, so it creates no SBValue for a Go variable from
DWARF ("TypeSystem for language go doesn't exist"): ``frame variable`` and
``target variable`` cannot list Go variables there, and ``go print`` /
``go locals`` / ``go args`` are the way to see them.  The providers below
apply wherever lldb does produce a value whose type carries a Go name (an
lldb with a Go or C-fallback type system for DW_LANG_Go); they decode from the
value's load address through the same Target the commands use.
"""

from __future__ import annotations

import re
from typing import Any, Optional

import lldb  # type: ignore[import-not-found]

from goext_core.errors import GoextError
from goext_core.textsafe import safe_field
from goext_core.values.decode import Decoder, type_system
from goext_core.values.formatters import format_value, recognized_names
from goext_core.values.model import Settings, Value
from goext_core.values.types import GoType

CATEGORY = "go"
# Go type names that get a summary: strings, slices, maps, chans, funcs,
# interfaces and the recognized standard-library types.
TYPE_REGEX = (
    r"^(string|\[\].+|map\[.+|chan .+|chan<- .+|<-chan .+|func\(.*|interface \{.*\}|error|"
    + "|".join(re.escape(name) + (".+" if name.endswith("[") else "") for name in recognized_names())
    + r")$"
)

_program_factory: Any = None


def _decoded(valobj: "lldb.SBValue", settings: Optional[Settings] = None) -> Optional[Value]:
    if _program_factory is None:
        return None
    try:
        program = _program_factory(valobj)
        types = type_system(program)
        go_type: Optional[GoType] = types.by_name(valobj.GetTypeName())
        if go_type is None:
            return None
        address = valobj.GetLoadAddress()
        if address == lldb.LLDB_INVALID_ADDRESS:
            data = valobj.GetData()
            error = lldb.SBError()
            blob = bytes(data.ReadRawData(error, 0, data.GetByteSize())) if data.GetByteSize() else b""
            if error.Fail():
                return None
            return Decoder(program, settings or Settings(max_depth=3)).decode_bytes(go_type, blob, None)
        return Decoder(program, settings or Settings(max_depth=3)).decode(go_type, address)
    except GoextError:
        return None


def summary(valobj: "lldb.SBValue", internal_dict: dict) -> str:
    decoded = _decoded(valobj.GetNonSyntheticValue())
    if decoded is None:
        return ""
    if decoded.marked:  # partly optimized out or unavailable: the parts that are not known are marked
        return format_value(decoded, top=decoded.kind == "slice")
    if decoded.kind in ("slice", "map", "chan") and decoded.ok and not decoded.is_nil:
        parts = [safe_field(decoded.type_name), f"len {decoded.length}"]  # a type name from the target
        if decoded.capacity is not None:
            parts.append(f"cap {decoded.capacity}")
        return " ".join(parts)
    return format_value(decoded, top=False)


class SyntheticChildren:
    """Elements of slices/arrays/chans and key/value pairs of maps, as text children."""

    def __init__(self, valobj: "lldb.SBValue", internal_dict: dict) -> None:
        self.valobj = valobj
        self.items: list[tuple[str, str]] = []

    def update(self) -> bool:
        decoded = _decoded(self.valobj)
        self.items = []
        if decoded is None or not decoded.ok or decoded.marked:
            return False
        if decoded.kind == "map":
            for key, elem in decoded.entries:
                self.items.append((f"[{format_value(key, top=False)}]", format_value(elem, top=False)))
        elif decoded.kind in ("slice", "array", "chan"):
            self.items = [(name, format_value(child, top=False)) for name, child in decoded.children]
        return False

    def num_children(self) -> int:
        return len(self.items)

    def get_child_index(self, name: str) -> int:
        for index, (child_name, _) in enumerate(self.items):
            if child_name == name:
                return index
        return -1

    def get_child_at_index(self, index: int) -> Optional["lldb.SBValue"]:
        if not 0 <= index < len(self.items):
            return None
        name, text = self.items[index]
        data = lldb.SBData.CreateDataFromCString(lldb.eByteOrderLittle, 8, text)
        char_type = self.valobj.GetTarget().GetBasicType(lldb.eBasicTypeChar).GetArrayType(len(text) + 1)
        return self.valobj.CreateValueFromData(name, data, char_type)

    def has_children(self) -> bool:
        return bool(self.items)


def register(debugger: "lldb.SBDebugger", module_name: str, program_factory: Any) -> None:
    """Add the ``go`` category with the summary and synthetic providers, enabled."""
    global _program_factory
    _program_factory = program_factory
    interpreter = debugger.GetCommandInterpreter()
    result = lldb.SBCommandReturnObject()
    for command in (
        f"type summary add --category {CATEGORY} --python-function {module_name}.summary -x '{TYPE_REGEX}'",
        f"type synthetic add --category {CATEGORY} --python-class {module_name}.SyntheticChildren "
        f"-x '^(\\[\\].+|\\[[0-9]+\\].+|map\\[.+|chan .+)$'",
        f"type category enable {CATEGORY}",
    ):
        interpreter.HandleCommand(command, result)


__all__ = ["CATEGORY", "SyntheticChildren", "register", "summary"]
