"""Go types, globals and function variables from DWARF (pyelftools), lazily.

The Go linker writes every type into one compile unit named "runtime" (the
second one of that name) as top-level DIEs carrying Go's own attributes
(src/cmd/internal/dwarf/dwarf.go): DW_AT_go_kind 0x2900, _key 0x2901,
_elem 0x2902, _embedded_field 0x2903, _runtime_type 0x2904,
_package_name 0x2905, _dict_index 0x2906.  One pass over the top-level DIEs of
those compile units indexes types by name and by runtime type address (the
"typename cache"); the DIEs themselves are turned into :class:`GoType` only
when asked for, and their fields/elements only when used.

Multi-dimensional arrays are chains of single-subrange array types ([3][4]int is
an array of 3 "[4]int"), which is also how the model represents them.
"""

from __future__ import annotations

import bisect
import functools
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Optional, TypeVar

from goext_core.binary.leb128 import read_uleb128, skip_leb128
from goext_core.binary.pyelf import describe_parse_error, dwarf_info, elf_parse_errors
from goext_core.errors import CorruptDataError, GoextError
from goext_core.values.types import CHAN_BOTH, CHAN_RECV, CHAN_SEND, Field, GoType, Kind, kind_from_int

AT_GO_KIND = 0x2900
AT_GO_KEY = 0x2901
AT_GO_ELEM = 0x2902
AT_GO_EMBEDDED = 0x2903
AT_GO_RUNTIME_TYPE = 0x2904
AT_GO_DICT_INDEX = 0x2906

_TYPE_TAGS = frozenset(
    {
        "DW_TAG_base_type",
        "DW_TAG_typedef",
        "DW_TAG_structure_type",
        "DW_TAG_pointer_type",
        "DW_TAG_array_type",
        "DW_TAG_subroutine_type",
        "DW_TAG_unspecified_type",
    }
)
_CU_RELATIVE_FORMS = frozenset({"DW_FORM_ref1", "DW_FORM_ref2", "DW_FORM_ref4", "DW_FORM_ref8", "DW_FORM_ref_udata"})
_MAX_TYPEDEF_CHAIN = 16
_MAX_MEMBERS = 1 << 14
_MAX_CHILDREN = 1 << 16

# DW_ATE_* encodings -> kind, for base types without DW_AT_go_kind (old toolchains).
_ENCODING_KINDS = {
    (2, 1): Kind.BOOL,
    (4, 4): Kind.FLOAT32,
    (4, 8): Kind.FLOAT64,
    (3, 8): Kind.COMPLEX64,
    (3, 16): Kind.COMPLEX128,
}


def _attr(die: Any, name: Any) -> Any:
    attribute = die.attributes.get(name)
    return None if attribute is None else attribute.value


def _name(die: Any) -> str:
    value = _attr(die, "DW_AT_name")
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else (value or "")


def ref_offset(die: Any, name: Any) -> Optional[int]:
    """Absolute .debug_info offset of a reference attribute (CU-relative or ref_addr)."""
    attribute = die.attributes.get(name)
    if attribute is None:
        return None
    if attribute.form in _CU_RELATIVE_FORMS:
        return attribute.value + die.cu.cu_offset
    return int(attribute.value)


_MAX_REMEMBERED_PCS = 1 << 16


@dataclass
class VariableDie:
    """A local variable or parameter of a function, as DWARF describes it."""

    name: str
    is_param: bool
    type_offset: Optional[int]
    location: Any  # exprloc bytes (list of ints) or a location-list offset, or None
    location_form: str
    decl_line: int = 0
    die_offset: int = 0
    # The pc ranges of each lexical block around the variable, outermost first:
    # it is in scope where every one of them holds the pc.
    scopes: tuple[tuple[tuple[int, int], ...], ...] = ()
    inlined_in: int = 0  # .debug_info offset of the inlined call it belongs to (0: the function itself)


@dataclass
class InlinedCall:
    """A DW_TAG_inlined_subroutine: a call the compiler inlined into the function."""

    offset: int
    name: str
    ranges: tuple[tuple[int, int], ...]
    parent: int = 0  # the inlined call it is inlined into (0: the function itself)
    call_line: int = 0


@dataclass
class FunctionDie:
    name: str
    low_pc: int
    high_pc: int
    variables: list[VariableDie] = field(default_factory=list)
    cu_offset: int = 0
    inlined_calls: list[InlinedCall] = field(default_factory=list)

    def inlined_chain(self, pc: int) -> list[InlinedCall]:
        """The inlined calls whose code holds ``pc``, outermost first."""
        chain: list[InlinedCall] = []
        parent = 0
        for _ in range(64):
            inner = next(
                (
                    call
                    for call in self.inlined_calls
                    if call.parent == parent and any(low <= pc < high for low, high in call.ranges)
                ),
                None,
            )
            if inner is None:
                break
            chain.append(inner)
            parent = inner.offset
        return chain


F = TypeVar("F", bound=Callable[..., Any])


def _damage_is_corruption(method: F) -> F:
    """pyelftools parses DIEs lazily, so damaged DWARF surfaces in whatever
    lookup reaches it: turn what it raises into CorruptDataError there."""

    @functools.wraps(method)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except GoextError:
            raise
        except elf_parse_errors() as exc:
            raise CorruptDataError(f"DWARF is damaged: {describe_parse_error(exc)}") from None

    return guarded  # type: ignore[return-value]


class DwarfTypes:
    """Lazy Go type and variable index over one executable's DWARF."""

    def __init__(self, elf: Any, types_base: int = 0, ptr_size: int = 8) -> None:
        self.dwarf = dwarf_info(elf)
        self.types_base = types_base
        self.ptr_size = ptr_size
        self._types: dict[int, GoType] = {}
        self._by_name: Optional[dict[str, int]] = None
        self._by_runtime_type: dict[int, int] = {}
        self._globals: dict[str, tuple[int, Optional[int]]] = {}
        self._global_cus_done: set[int] = set()
        self._cus: Optional[list[tuple[str, Any]]] = None
        self._functions: dict[int, Optional[FunctionDie]] = {}
        # function_at by pc, misses included: the frames of 10,000 goroutines
        # sit at a few pcs, and a miss would rescan its compile unit each time.
        self._function_at_pc: dict[int, Optional[FunctionDie]] = {}
        self._cu_subprograms: dict[int, tuple[list[int], list[tuple[int, int, Any]]]] = {}
        # (variable DIE offset, pc) -> its location list's expression there (values/locations.py)
        self.location_memo: dict[tuple[int, int], Optional[tuple[int, bytes]]] = {}

    # -- compile units ------------------------------------------------------
    @_damage_is_corruption
    def compile_units(self) -> list[tuple[str, Any]]:
        if self._cus is None:
            out = []
            for cu in self.dwarf.iter_CUs():
                out.append((_name(cu.get_top_DIE()), cu))
            self._cus = out
        return self._cus

    def _ensure_type_index(self) -> None:
        if self._by_name is not None:
            return
        by_name: dict[str, int] = {}
        for cu_name, cu in self.compile_units():
            if cu_name != "runtime":
                continue
            for offset, tag, found in scan_top_level(self.dwarf, cu):
                if tag not in _TYPE_TAGS:
                    continue
                name = found.get("name")
                # A kind-less typedef repeats a named type's name: keep the real one.
                if name and (name not in by_name or "kind" in found):
                    by_name[name] = offset
                runtime_type = found.get("rtype")
                if runtime_type:
                    self._by_runtime_type[self._absolute_type_address(runtime_type)] = offset
        self._by_name = by_name

    def _absolute_type_address(self, value: int) -> int:
        # The linker writes the descriptor's offset in moduledata.types for most
        # types and an absolute address for a few: accept both.
        if self.types_base and value < self.types_base:
            return value + self.types_base
        return value

    # -- types -----------------------------------------------------------------
    def type_names(self) -> Iterator[str]:
        self._ensure_type_index()
        assert self._by_name is not None
        return iter(self._by_name)

    @_damage_is_corruption
    def type_by_name(self, name: str) -> Optional[GoType]:
        self._ensure_type_index()
        assert self._by_name is not None
        offset = self._by_name.get(name)
        if offset is None and name == "any":
            offset = self._by_name.get("interface {}")
        return self.type_at(offset) if offset is not None else None

    @_damage_is_corruption
    def type_by_runtime_type(self, address: int) -> Optional[GoType]:
        """The DWARF type whose runtime descriptor is at link-time ``address``."""
        self._ensure_type_index()
        offset = self._by_runtime_type.get(address)
        return self.type_at(offset) if offset is not None else None

    @_damage_is_corruption
    def type_at(self, offset: int) -> GoType:
        cached = self._types.get(offset)
        if cached is not None:
            return cached
        try:
            die = self.dwarf.get_DIE_from_refaddr(offset)
        except Exception as exc:  # pyelftools raises many kinds on bad offsets
            raise CorruptDataError(f"bad DWARF type reference {offset:#x}: {exc}") from None
        go_type = self._build(die)
        self._types[offset] = go_type
        return go_type

    def _build(self, die: Any) -> GoType:
        name = _name(die)
        tag = die.tag
        raw_kind = _attr(die, AT_GO_KIND)
        size = _attr(die, "DW_AT_byte_size") or 0
        runtime_type = _attr(die, AT_GO_RUNTIME_TYPE) or 0
        if runtime_type:
            runtime_type = self._absolute_type_address(runtime_type)
        if tag == "DW_TAG_typedef" and raw_kind is None:
            # A plain alias typedef: the type is the target.
            target = ref_offset(die, "DW_AT_type")
            if target is None:
                return GoType(name or "?", Kind.INVALID, 0)
            resolved = self.type_at(target)
            return resolved
        # Go 1.19 writes go_kind 0 on some pointer types: guess those from the DIE.
        kind = kind_from_int(raw_kind) if raw_kind else self._guess_kind(die, name)
        if kind in (Kind.MAP, Kind.CHAN, Kind.FUNC, Kind.POINTER, Kind.UNSAFE_POINTER):
            size = self.ptr_size
        elif kind == Kind.INTERFACE or kind == Kind.STRING:
            size = 2 * self.ptr_size
        elif kind == Kind.SLICE:
            size = 3 * self.ptr_size
        go_type = GoType(name or "?", kind, int(size), runtime_type=runtime_type)
        if kind == Kind.ARRAY:
            for child in die.iter_children():
                if child.tag == "DW_TAG_subrange_type":
                    go_type.length = int(_attr(child, "DW_AT_count") or (_attr(child, "DW_AT_upper_bound") or -1) + 1)
                    break
        if kind == Kind.CHAN:
            if name.startswith("<-chan"):
                go_type.chan_dir = CHAN_RECV
            elif name.startswith("chan<-"):
                go_type.chan_dir = CHAN_SEND
            else:
                go_type.chan_dir = CHAN_BOTH
        go_type.load_parts_with(functools.partial(self._load_parts, die=die))
        return go_type

    def _guess_kind(self, die: Any, name: str) -> Kind:
        tag = die.tag
        if tag == "DW_TAG_pointer_type":
            return (
                Kind.UNSAFE_POINTER if name == "unsafe.Pointer" or "DW_AT_type" not in die.attributes else Kind.POINTER
            )
        if tag == "DW_TAG_base_type":
            encoding = _attr(die, "DW_AT_encoding") or 0
            size = _attr(die, "DW_AT_byte_size") or 0
            if (encoding, size) in _ENCODING_KINDS:
                return _ENCODING_KINDS[(encoding, size)]
            signed = encoding in (5, 6)
            table = (
                {1: Kind.INT8, 2: Kind.INT16, 4: Kind.INT32, 8: Kind.INT64}
                if signed
                else {1: Kind.UINT8, 2: Kind.UINT16, 4: Kind.UINT32, 8: Kind.UINT64}
            )
            return table.get(size, Kind.INVALID)
        if tag == "DW_TAG_array_type":
            return Kind.ARRAY
        if tag == "DW_TAG_subroutine_type":
            return Kind.FUNC
        if tag == "DW_TAG_structure_type":
            if name == "string":
                return Kind.STRING
            if name.startswith("[]"):
                return Kind.SLICE
            if name in ("runtime.eface", "runtime.iface"):
                return Kind.INTERFACE
            return Kind.STRUCT
        return Kind.INVALID

    def _load_parts(self, go_type: GoType, die: Any) -> None:
        kind = go_type.kind
        if kind == Kind.STRUCT:
            go_type.set_fields(self._members(die))
        elif kind in (Kind.POINTER, Kind.ARRAY):
            target = ref_offset(die, "DW_AT_type")
            go_type.set_elem(self.type_at(target) if target is not None else None)
        elif kind == Kind.SLICE:
            elem = ref_offset(die, AT_GO_ELEM)
            if elem is not None:
                go_type.set_elem(self.type_at(elem))
            else:  # element type from the array member's pointer
                for member in self._members(die):
                    if member.name == "array" and member.type.kind == Kind.POINTER:
                        go_type.set_elem(member.type.elem)
        elif kind in (Kind.MAP, Kind.CHAN):
            elem = ref_offset(die, AT_GO_ELEM)
            key = ref_offset(die, AT_GO_KEY)
            go_type.set_elem(self.type_at(elem) if elem is not None else None)
            go_type.set_key(self.type_at(key) if key is not None else None)
            # Named map/chan types point at the unnamed one: inherit from it.
            target = ref_offset(die, "DW_AT_type")
            if target is not None and (go_type.elem is None):
                underlying = self.type_at(target)
                if underlying.kind == kind:
                    go_type.set_elem(underlying.elem)
                    go_type.set_key(underlying.key)
        elif kind == Kind.INTERFACE:
            struct_name = self._underlying_struct_name(die)
            go_type.facts["empty_interface"] = (
                struct_name.endswith("eface") if struct_name else go_type.name in ("interface {}", "any")
            )
        elif kind == Kind.STRING:
            go_type.set_fields(self._members(die))

    def _underlying_struct_name(self, die: Any) -> str:
        for _ in range(_MAX_TYPEDEF_CHAIN):
            if die.tag == "DW_TAG_structure_type":
                return _name(die)
            target = ref_offset(die, "DW_AT_type")
            if target is None:
                return _name(die)
            name = _name(die)
            if name in ("runtime.eface", "runtime.iface"):
                return name
            die = self.dwarf.get_DIE_from_refaddr(target)
        return ""

    def _members(self, die: Any) -> list[Field]:
        out: list[Field] = []
        for count, child in enumerate(die.iter_children()):
            if count >= _MAX_MEMBERS:
                break
            if child.tag != "DW_TAG_member":
                continue
            target = ref_offset(child, "DW_AT_type")
            if target is None:
                continue
            offset = _attr(child, "DW_AT_data_member_location") or 0
            if isinstance(offset, list):  # an expression: DW_OP_plus_uconst N
                offset = offset[-1] if offset else 0
            embedded = bool(_attr(child, AT_GO_EMBEDDED))
            out.append(Field(_name(child), int(offset), self.type_at(target), embedded))
        return out

    # -- globals ------------------------------------------------------------------
    @_damage_is_corruption
    def global_variable(self, name: str) -> Optional[tuple[int, GoType]]:
        """(link-time address, type) of a package-level variable named like "main.gInt"."""
        if name not in self._globals:
            package = name.rsplit(".", 1)[0] if "." in name else ""
            # A package's variables live in its own compile unit(s): only those are read.
            for cu_name, cu in self.compile_units():
                if cu_name != package:
                    continue
                self._index_globals(cu)
                if name in self._globals:
                    break
        entry = self._globals.get(name)
        if entry is None or entry[1] is None:
            return None
        return entry[0], self.type_at(entry[1])

    @_damage_is_corruption
    def global_names(self, package: str) -> list[str]:
        for cu_name, cu in self.compile_units():
            if cu_name == package:
                self._index_globals(cu)
        return [name for name in self._globals if name.startswith(package + ".")]

    def _index_globals(self, cu: Any) -> None:
        if cu.cu_offset in self._global_cus_done:
            return
        self._global_cus_done.add(cu.cu_offset)
        for count, die in enumerate(cu.get_top_DIE().iter_children()):
            if count > _MAX_CHILDREN * 16:
                break
            if die.tag != "DW_TAG_variable":
                continue
            location = _attr(die, "DW_AT_location")
            if not isinstance(location, list) or len(location) != 1 + self.ptr_size or location[0] != 0x03:
                continue  # only DW_OP_addr globals
            address = int.from_bytes(bytes(location[1:]), "little")
            self._globals.setdefault(_name(die), (address, ref_offset(die, "DW_AT_type")))

    @_damage_is_corruption
    def all_globals(self) -> list[tuple[str, int, int]]:
        """(name, link-time address, type offset) of every package-level variable at a
        fixed address (DW_OP_addr), read with the fast top-level scanner."""
        out = []
        for _, cu in self.compile_units():
            for _, tag, found in scan_top_level(self.dwarf, cu, _GLOBAL_WANTED):
                location = found.get("location")
                type_offset = found.get("type")
                if tag != "DW_TAG_variable" or not isinstance(location, bytes) or not isinstance(type_offset, int):
                    continue
                if len(location) != 1 + self.ptr_size or location[0] != 0x03:
                    continue  # only DW_OP_addr globals
                out.append((str(found.get("name", "")), int.from_bytes(location[1:], "little"), type_offset))
        return out

    # -- functions ------------------------------------------------------------------
    def function_at(self, pc: int) -> Optional[FunctionDie]:
        """The DW_TAG_subprogram containing link-time ``pc`` and its variables."""
        if pc in self._function_at_pc:
            return self._function_at_pc[pc]
        function = self._find_function(pc)
        if len(self._function_at_pc) > _MAX_REMEMBERED_PCS:
            self._function_at_pc.clear()
        self._function_at_pc[pc] = function
        return function

    @_damage_is_corruption
    def _find_function(self, pc: int) -> Optional[FunctionDie]:
        cu = self._cu_for_pc(pc)
        if cu is None:
            return None
        lows, subprograms = self._subprograms_of(cu)
        index = bisect.bisect_right(lows, pc) - 1
        if index < 0:
            return None
        low, high, die = subprograms[index]
        if not low <= pc < high:
            return None
        function = self._functions.get(low)
        if function is None:
            name = _name(die) or _name(self._origin(die) or die)
            function = FunctionDie(name, low, high, cu_offset=cu.cu_offset)
            self._collect_variables(die, function, (), 0, 0)
            self._functions[low] = function
        return function

    def _subprograms_of(self, cu: Any) -> tuple[list[int], list[tuple[int, int, Any]]]:
        """The compile unit's functions with code, by address: read once per
        unit (walking its DIEs again for every pc looked up was most of the
        time of typing the heap from 10,000 goroutines' frames)."""
        known = self._cu_subprograms.get(cu.cu_offset)
        if known is not None:
            return known
        subprograms: list[tuple[int, int, Any]] = []
        for count, die in enumerate(cu.get_top_DIE().iter_children()):
            if count > _MAX_CHILDREN * 16:
                break
            if die.tag != "DW_TAG_subprogram":
                continue
            low = _attr(die, "DW_AT_low_pc")
            high = _attr(die, "DW_AT_high_pc")
            if low is None or high is None:
                continue
            if die.attributes["DW_AT_high_pc"].form != "DW_FORM_addr":
                high = low + high
            subprograms.append((low, high, die))
        subprograms.sort(key=lambda entry: entry[0])
        known = self._cu_subprograms[cu.cu_offset] = ([entry[0] for entry in subprograms], subprograms)
        return known

    def _origin(self, die: Any) -> Optional[Any]:
        """The abstract DIE a concrete one refers to (DW_AT_abstract_origin):
        inlined calls, their variables, and out-of-line copies of functions
        that are inlined elsewhere take name, type and line from it."""
        if "DW_AT_abstract_origin" not in die.attributes:
            return None
        try:
            return die.get_DIE_from_attribute("DW_AT_abstract_origin")
        except Exception:
            return None

    def _collect_variables(
        self,
        die: Any,
        function: FunctionDie,
        scopes: tuple[tuple[tuple[int, int], ...], ...],
        inlined_in: int,
        depth: int,
    ) -> None:
        if depth > 16:
            return
        for count, child in enumerate(die.iter_children()):
            if count > _MAX_CHILDREN:
                break
            if child.tag in ("DW_TAG_variable", "DW_TAG_formal_parameter"):
                attribute = child.attributes.get("DW_AT_location")
                origin = self._origin(child)
                described = child if origin is None or "DW_AT_name" in child.attributes else origin
                type_offset = ref_offset(child, "DW_AT_type")
                if type_offset is None and origin is not None:
                    type_offset = ref_offset(origin, "DW_AT_type")
                function.variables.append(
                    VariableDie(
                        _name(described),
                        child.tag == "DW_TAG_formal_parameter",
                        type_offset,
                        attribute.value if attribute is not None else None,
                        attribute.form if attribute is not None else "",
                        int(_attr(child, "DW_AT_decl_line") or _attr(described, "DW_AT_decl_line") or 0),
                        child.offset,
                        scopes,
                        inlined_in,
                    )
                )
            elif child.tag == "DW_TAG_lexical_block":
                ranges = self._die_ranges(child)
                inner = scopes + (ranges,) if ranges else scopes
                self._collect_variables(child, function, inner, inlined_in, depth + 1)
            elif child.tag == "DW_TAG_inlined_subroutine":
                origin = self._origin(child)
                function.inlined_calls.append(
                    InlinedCall(
                        child.offset,
                        _name(origin) if origin is not None else "",
                        self._die_ranges(child),
                        inlined_in,
                        int(_attr(child, "DW_AT_call_line") or 0),
                    )
                )
                self._collect_variables(child, function, (), child.offset, depth + 1)

    def _die_ranges(self, die: Any) -> tuple[tuple[int, int], ...]:
        """The pc ranges of a block or inlined call (low/high pc, or DW_AT_ranges)."""
        low = _attr(die, "DW_AT_low_pc")
        if low is not None and "DW_AT_high_pc" in die.attributes:
            high = _attr(die, "DW_AT_high_pc")
            if die.attributes["DW_AT_high_pc"].form != "DW_FORM_addr":
                high = low + high
            return ((low, high),)
        if "DW_AT_ranges" not in die.attributes:
            return ()
        try:
            range_lists = self.dwarf.range_lists()
            if range_lists is None:
                return ()
            top = die.cu.get_top_DIE()
            base = _attr(top, "DW_AT_low_pc") or 0
            return tuple(self._range_entries(range_lists, die, die.cu, base)[:4096])
        except GoextError:
            raise
        except Exception:
            return ()

    def _cu_for_pc(self, pc: int) -> Optional[Any]:
        ranges = self._cu_ranges()
        for low, high, cu in ranges:
            if low <= pc < high:
                return cu
        return None

    def _cu_ranges(self) -> list[tuple[int, int, Any]]:
        cached = getattr(self, "_cached_cu_ranges", None)
        if cached is not None:
            return cached
        out: list[tuple[int, int, Any]] = []
        try:
            aranges = self.dwarf.get_aranges()
        except Exception:
            aranges = None
        by_offset = {cu.cu_offset: cu for _, cu in self.compile_units()}
        if aranges is not None:
            for entry in aranges.entries:
                cu = by_offset.get(entry.info_offset)
                if cu is not None:
                    out.append((entry.begin_addr, entry.begin_addr + entry.length, cu))
        if not out:
            range_lists = None
            try:
                range_lists = self.dwarf.range_lists()
            except Exception:
                pass
            for _, cu in self.compile_units():
                top = cu.get_top_DIE()
                low = _attr(top, "DW_AT_low_pc") or 0
                if "DW_AT_ranges" in top.attributes and range_lists is not None:
                    try:
                        entries = self._range_entries(range_lists, top, cu, low)
                    except Exception:
                        entries = []
                    out.extend((begin, end, cu) for begin, end in entries)
                elif "DW_AT_high_pc" in top.attributes:
                    high = _attr(top, "DW_AT_high_pc")
                    if top.attributes["DW_AT_high_pc"].form != "DW_FORM_addr":
                        high = low + high
                    out.append((low, high, cu))
        self._cached_cu_ranges = out
        return out

    @staticmethod
    def _range_entries(range_lists: Any, top: Any, cu: Any, base: int) -> list[tuple[int, int]]:
        out = []
        attribute = top.attributes["DW_AT_ranges"]
        if cu["version"] >= 5:
            entries = range_lists.get_range_list_at_offset(attribute.value, cu=cu)
        else:
            entries = range_lists.get_range_list_at_offset(attribute.value)
        for entry in entries:
            kind = type(entry).__name__
            if kind == "BaseAddressEntry":
                base = entry.base_address
                continue
            begin, end = entry.begin_offset, entry.end_offset
            if not getattr(entry, "is_absolute", False):
                begin, end = begin + base, end + base
            out.append((begin, end))
        return out


def load_dwarf_types(binary: Any, types_base: int) -> Optional[DwarfTypes]:
    """DwarfTypes for a binary with DWARF, else None."""
    if not binary.has_dwarf():
        return None
    try:
        return DwarfTypes(binary.elf, types_base, binary.ptr_size)
    except GoextError:
        raise
    except Exception as exc:
        raise CorruptDataError(f"cannot read DWARF: {exc}") from None


# -- a fast scanner for top-level DIEs -------------------------------------------------------
# pyelftools parses every attribute of every DIE through construct, which costs
# ~100 µs a DIE; the type index needs only a few attributes of the ~40k
# top-level DIEs of the types unit, so it scans the bytes itself.
_FIXED_FORM_SIZES = {
    "DW_FORM_data1": 1,
    "DW_FORM_ref1": 1,
    "DW_FORM_flag": 1,
    "DW_FORM_strx1": 1,
    "DW_FORM_addrx1": 1,
    "DW_FORM_data2": 2,
    "DW_FORM_ref2": 2,
    "DW_FORM_strx2": 2,
    "DW_FORM_addrx2": 2,
    "DW_FORM_strx3": 3,
    "DW_FORM_addrx3": 3,
    "DW_FORM_data4": 4,
    "DW_FORM_ref4": 4,
    "DW_FORM_strx4": 4,
    "DW_FORM_addrx4": 4,
    "DW_FORM_ref_sup4": 4,
    "DW_FORM_data8": 8,
    "DW_FORM_ref8": 8,
    "DW_FORM_ref_sig8": 8,
    "DW_FORM_ref_sup8": 8,
    "DW_FORM_data16": 16,
    "DW_FORM_flag_present": 0,
    "DW_FORM_implicit_const": 0,
}
_OFFSET_FORMS = frozenset(
    {
        "DW_FORM_sec_offset",
        "DW_FORM_strp",
        "DW_FORM_line_strp",
        "DW_FORM_strp_sup",
        "DW_FORM_GNU_ref_alt",
        "DW_FORM_GNU_strp_alt",
    }
)
_LEB_FORMS = frozenset(
    {
        "DW_FORM_udata",
        "DW_FORM_sdata",
        "DW_FORM_ref_udata",
        "DW_FORM_strx",
        "DW_FORM_addrx",
        "DW_FORM_loclistx",
        "DW_FORM_rnglistx",
    }
)
_WANTED: dict[Any, str] = {"DW_AT_name": "name", AT_GO_KIND: "kind", AT_GO_RUNTIME_TYPE: "rtype"}
_GLOBAL_WANTED: dict[Any, str] = {"DW_AT_name": "name", "DW_AT_location": "location", "DW_AT_type": "type"}
_BLOCK_FORMS = {"DW_FORM_block1": 1, "DW_FORM_block2": 2, "DW_FORM_block4": 4}
_CU_REF_FORMS = frozenset({"DW_FORM_ref1", "DW_FORM_ref2", "DW_FORM_ref4", "DW_FORM_ref8"})


def scan_top_level(
    dwarf: Any, cu: Any, wanted: Optional[dict[Any, str]] = None
) -> Iterator[tuple[int, str, dict[str, Any]]]:
    """(offset, tag, {"name", "kind", "rtype"}) of each child of a unit's top DIE
    (``wanted`` maps other attributes to keys: a reference is given as an absolute
    .debug_info offset, an expression as its bytes)."""
    attributes: dict[Any, str] = wanted or _WANTED
    stream = dwarf.debug_info_sec.stream
    stream.seek(cu.cu_offset)
    data = stream.read(cu.size)
    base = cu.cu_offset
    address_size = cu["address_size"]
    offset_size = 8 if cu.structs.dwarf_format == 64 else 4
    ref_addr_size = address_size if cu["version"] == 2 else offset_size
    table = cu.get_abbrev_table()
    decoded: dict[int, tuple[str, bool, list[tuple[Any, str]]]] = {}
    position = cu.cu_die_offset - base
    depth = 0
    end = len(data)
    for _ in range(1 << 22):
        if position >= end:
            return
        die_offset = base + position
        code, position = read_uleb128(data, position)
        if code == 0:
            depth -= 1
            if depth <= 0:
                return
            continue
        entry = decoded.get(code)
        if entry is None:
            abbrev = table.get_abbrev(code)
            entry = (abbrev["tag"], abbrev.has_children(), [(spec[0], spec[1]) for spec in abbrev.iter_attr_specs()])
            decoded[code] = entry
        tag, has_children, specs = entry
        found: dict[str, Any] = {}
        top_level = depth == 1
        for name, form in specs:
            want = attributes.get(name) if top_level else None
            size = _FIXED_FORM_SIZES.get(form)
            if size is not None:
                if want is not None and size:
                    found[want] = int.from_bytes(data[position : position + size], "little")
                    if form in _CU_REF_FORMS:
                        found[want] += base
                position += size
            elif form == "DW_FORM_string":
                nul = data.index(b"\0", position)
                if want is not None:
                    found[want] = data[position:nul].decode("utf-8", "replace")
                position = nul + 1
            elif form == "DW_FORM_addr":
                if want is not None:
                    found[want] = int.from_bytes(data[position : position + address_size], "little")
                position += address_size
            elif form == "DW_FORM_ref_addr":
                if want is not None:
                    found[want] = int.from_bytes(data[position : position + ref_addr_size], "little")
                position += ref_addr_size
            elif form in _OFFSET_FORMS:
                position += offset_size
            elif form in _LEB_FORMS:
                if want is not None:
                    found[want], position = read_uleb128(data, position)
                else:
                    position = skip_leb128(data, position)
            elif form in ("DW_FORM_exprloc", "DW_FORM_block"):
                length, position = read_uleb128(data, position)
                if want is not None:
                    found[want] = bytes(data[position : position + length])
                position += length
            elif form in _BLOCK_FORMS:
                width = _BLOCK_FORMS[form]
                length = int.from_bytes(data[position : position + width], "little")
                if want is not None:
                    found[want] = bytes(data[position + width : position + width + length])
                position += width + length
            else:
                raise CorruptDataError(f"unsupported DWARF form {form}")
        if top_level:
            yield die_offset, tag, found
        if has_children:
            depth += 1
        elif depth == 0:
            return  # the unit's top DIE had no children
        if depth == 0:
            depth = 1  # entered the top DIE's children
