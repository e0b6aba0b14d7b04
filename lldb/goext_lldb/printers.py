"""Go values in lldb's own views (``frame variable``, ``v``, ``target
variable``, ``expression``, lldb-dap's Locals/Watch/hover): type summaries and
synthetic children in a ``go`` category, from the core's one
recognizer/formatter table (the Decoder), so lldb shows what ``go print``
shows.

lldb has no Go type system; goext hands it the executable's DWARF with the Go
units marked C99 (``debugfile.py``), so lldb builds C types for Go variables:
structs, typedefs and pointers keep Go's names (``[]int``,
``map[string]main.Point``, ``main.Point *``), while base types become C
builtins (Go's ``int`` is ``long``, ``int8`` is ``char``, a named
``float64`` is ``double``) and arrays C arrays (``long[5]``).  So:

* a variable (a global, or a local/argument of a frame) is looked up by name
  in goext's own DWARF reader, with goext's locations for locals (the frame is
  matched to its goroutine and goext frame): its Go type and its value are
  exactly ``go print``'s and ``go locals``', optimized-out parts marked;
* any other value (a child, an expression result) is decoded by the Go type
  its lldb type name spells (structs, strings, slices, maps, chans,
  interfaces, funcs, pointers to named types) from its address; scalars that
  lost their Go name are spelled as Go spells them (``char`` as a number);
* slices, maps, chans and interfaces get synthetic children, typed where
  lldb knows the element's type, so they expand further.

The category is enabled once a Go executable's debug file is loaded, so C
programs are not affected; ``type category disable go`` turns it off.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from types import ModuleType
from typing import Callable, Optional

import lldb  # type: ignore[import-not-found]

from goext_core.errors import GoextError
from goext_core.program import GoProgram
from goext_core.runtime.goroutines import GoroutineRecord
from goext_core.values.decode import Decoder, format_complex, format_float, frame_variables, type_system
from goext_core.values.formatters import format_value
from goext_core.values.model import Settings, Value
from goext_core.values.types import GoType

from .goroutine_threads import presented

CATEGORY = "go"
# Types whose lldb value column (an address, a C char) is replaced by the summary.
_NO_VALUE_REGEX = (
    r"^(string|map\[.+|chan .+|chan<- .+|<-chan .+|func\(.*|.+ \*+|char|signed char|unsigned char|"
    r"float|double|_Complex float|_Complex double|error|interface \{.*\}|\[\].+|.*\..*|.+\[[0-9]*\]|struct \{.*\}|"
    r"(unsigned )?(long|int|short|long long)|bool)$"
)
_SYNTHETIC_REGEX = r"^(string|\[\].+|map\[.+|chan .+|chan<- .+|<-chan .+|error|interface \{.*\}|.*\..*)$"
# The most elements a synthetic child list offers (lldb shows 256 unless told more).
_MAX_CHILDREN = 100_000
_TOP_VARIABLE_TYPES = {
    lldb.eValueTypeVariableGlobal,
    lldb.eValueTypeVariableStatic,
    lldb.eValueTypeVariableLocal,
    lldb.eValueTypeVariableArgument,
}
_FRAME_VARIABLE_TYPES = {lldb.eValueTypeVariableLocal, lldb.eValueTypeVariableArgument}
# Go's base types as lldb's builtins (checked against the Go size when used).
_BASIC_TYPES = {
    "int": lldb.eBasicTypeLong,
    "int64": lldb.eBasicTypeLong,
    "uint": lldb.eBasicTypeUnsignedLong,
    "uint64": lldb.eBasicTypeUnsignedLong,
    "uintptr": lldb.eBasicTypeUnsignedLong,
    "int32": lldb.eBasicTypeInt,
    "rune": lldb.eBasicTypeInt,
    "uint32": lldb.eBasicTypeUnsignedInt,
    "int16": lldb.eBasicTypeShort,
    "uint16": lldb.eBasicTypeUnsignedShort,
    "int8": lldb.eBasicTypeSignedChar,
    "uint8": lldb.eBasicTypeUnsignedChar,
    "byte": lldb.eBasicTypeUnsignedChar,
    "bool": lldb.eBasicTypeBool,
    "float32": lldb.eBasicTypeFloat,
    "float64": lldb.eBasicTypeDouble,
    "complex64": lldb.eBasicTypeFloatComplex,
    "complex128": lldb.eBasicTypeDoubleComplex,
}
_C_CHARS = {"char", "signed char", "unsigned char"}
_LLDB_MAX_CHILDREN = 256  # lldb's target.max-children-count default
_C_ARRAY = re.compile(r"^(.+?)((\[[0-9]+\])+)$")

# Set by the front end: the GoProgram of an SBTarget, or None when goext is
# not showing Go values for it (not a Go program, no debug file).
program_for_value: Optional[Callable[["lldb.SBTarget"], Optional[GoProgram]]] = None


@dataclass
class _FrameCache:
    key: tuple
    variables: dict[tuple[int, int], Optional[list[tuple[str, Value, bool]]]]


_frame_cache = _FrameCache((), {})


def _program(valobj: "lldb.SBValue") -> Optional[GoProgram]:
    if program_for_value is None:
        return None
    try:
        return program_for_value(valobj.GetTarget())
    except GoextError:
        return None


# -- Go types of lldb values -----------------------------------------------------------------
def go_type_name(sbtype: "lldb.SBType", depth: int = 0) -> Optional[str]:
    """The Go spelling of an lldb type built from Go's DWARF, or None when lldb
    made it a C builtin (the Go name is lost: ``long`` is int or int64)."""
    if depth > 32 or not sbtype.IsValid():
        return None
    name = sbtype.GetName() or ""
    if name.endswith("*") and sbtype.IsPointerType():
        pointee = sbtype.GetPointeeType()
        if (pointee.GetName() or "") == "void":
            return "unsafe.Pointer"
        inner = go_type_name(pointee, depth + 1)
        return "*" + inner if inner else None
    if sbtype.IsArrayType() and not name.startswith("["):
        match = _C_ARRAY.match(name)
        element = go_type_name(sbtype.GetArrayElementType(), depth + 1)
        if match is None or element is None:
            return None
        # lldb spells [3][4]int "long[3][4]": the outer length first.
        return match.group(2) + element if "[" not in element else None
    if sbtype.GetTypeClass() == lldb.eTypeClassBuiltin:
        return None
    return name or None


def _scalar_text(valobj: "lldb.SBValue") -> Optional[str]:
    """Go's spelling of a value lldb typed as a C builtin (``char`` is Go's
    int8, ``double`` float64); None: lldb's own spelling is Go's (ints, bool)."""
    name = valobj.GetType().GetCanonicalType().GetName()
    data = valobj.GetData()
    error = lldb.SBError()
    size = data.GetByteSize()
    if size == 0:
        return None
    raw = bytes(data.ReadRawData(error, 0, size))
    if error.Fail() or len(raw) != size:
        return None
    order = "<" if data.GetByteOrder() != lldb.eByteOrderBig else ">"
    if name in ("char", "signed char") and size == 1:
        return str(int.from_bytes(raw, "little", signed=True))
    if name == "unsigned char" and size == 1:
        return str(raw[0])
    if name in ("float", "double") and size in (4, 8):
        return format_float(struct.unpack(order + ("f" if size == 4 else "d"), raw)[0], size == 4)
    if name in ("_Complex float", "_Complex double") and size in (8, 16):
        half = "f" if size == 8 else "d"
        real, imag = struct.unpack(order + half * 2, raw)
        return format_complex(real, imag, size == 8)
    return None


# -- values ------------------------------------------------------------------------------------
def _decoded(valobj: "lldb.SBValue", settings: Optional[Settings] = None) -> Optional[Value]:
    """goext's Value for an lldb value: by variable when it is one, else by type."""
    program = _program(valobj)
    if program is None:
        return None
    try:
        if valobj.GetValueType() in _TOP_VARIABLE_TYPES:
            path = _expression_path(valobj)
            if path == valobj.GetName():
                found = _variable_value(program, valobj, settings)
            else:
                found = _package_member_value(program, valobj, path, settings)
            if found is not None:
                return found
        address = valobj.GetLoadAddress()
        # An expression's result ("$0"), not in memory.
        register_result = (
            valobj.GetValueType() == lldb.eValueTypeConstResult
            and (valobj.GetName() or "").startswith("$")
            and (address == lldb.LLDB_INVALID_ADDRESS or not address)
        )
        if register_result:
            # ``expression -- x`` of a variable lldb holds in registers: lldb's
            # bytes fill what the compiler optimized out with zeros, so the
            # answer is the variable's own (goext's locations).
            same = _same_variable_value(program, valobj)
            if same is not None:
                return same
        name = go_type_name(valobj.GetType())
        go_type = type_system(program).by_name(name) if name else None
        if go_type is None:
            return None
        if register_result and go_type.size > program.target.ptr_size:
            # Several words out of registers, not a variable's: a part may be
            # a zero lldb filled in.  Not shown rather than maybe wrong.
            return Value(
                go_type.name,
                "unknown",
                error="not known: lldb may hold zeros for its optimized-out parts (go print shows it)",
                go_type=go_type,
            )
        return _value_at(program, valobj, go_type, settings)
    except GoextError:
        return None


def _same_variable_value(program: GoProgram, valobj: "lldb.SBValue") -> Optional[Value]:
    """goext's value of the frame variable an expression result copies: the
    one variable with the result's type and bytes; None when there is not
    exactly one."""
    frame = valobj.GetFrame()
    if not frame.IsValid():
        return None
    variables = _frame_variables(program, frame)
    if variables is None:
        return None
    blob = _bytes(valobj)
    if blob is None:
        return None
    matches = []
    for name, value, _ in variables:
        variable = frame.FindVariable(name)
        if variable.IsValid() and variable.GetTypeName() == valobj.GetTypeName() and _bytes(variable) == blob:
            matches.append(value)
    return matches[0] if len(matches) == 1 else None


def _bytes(valobj: "lldb.SBValue") -> Optional[bytes]:
    data = valobj.GetData()
    error = lldb.SBError()
    blob = bytes(data.ReadRawData(error, 0, data.GetByteSize())) if data.GetByteSize() else b""
    return None if error.Fail() else blob


def _expression_path(valobj: "lldb.SBValue") -> str:
    stream = lldb.SBStream()
    valobj.GetExpressionPath(stream)
    return stream.GetData() or ""


def _value_at(
    program: GoProgram, valobj: "lldb.SBValue", go_type: GoType, settings: Optional[Settings]
) -> Optional[Value]:
    decoder = Decoder(program, settings)
    address = valobj.GetLoadAddress()
    if address != lldb.LLDB_INVALID_ADDRESS and address:
        return decoder.decode(go_type, address)
    # Not in memory (a register, an expression result): lldb's bytes, only
    # when lldb has all of them.
    data = valobj.GetData()
    error = lldb.SBError()
    if data.GetByteSize() != go_type.size:
        return None
    blob = bytes(data.ReadRawData(error, 0, data.GetByteSize())) if go_type.size else b""
    if error.Fail() or not valobj.GetError().Success():
        return None
    return decoder.decode_bytes(go_type, blob, None)


def _variable_value(program: GoProgram, valobj: "lldb.SBValue", settings: Optional[Settings]) -> Optional[Value]:
    name = valobj.GetName() or ""
    if valobj.GetValueType() not in _FRAME_VARIABLE_TYPES:
        found = type_system(program).global_variable(name)
        if found is None:
            return None
        address, go_type = found
        return Decoder(program, settings).decode(go_type, address)
    variables = _frame_variables(program, valobj.GetFrame())
    if variables is None:
        return None
    matches = [value for variable, value, _ in variables if variable == name]
    if len(matches) > 1:
        # Shadowed names: the one at lldb's address, if lldb placed it in memory.
        address = valobj.GetLoadAddress()
        matches = [value for value in matches if value.address == address]
    return matches[0] if len(matches) == 1 else None


def _package_member_value(
    program: GoProgram, valobj: "lldb.SBValue", path: str, settings: Optional[Settings]
) -> Optional[Value]:
    """A global reached as a member of its package's variable (``target
    variable main.gX``, see ``goext_core.binary.packagevars``): the global's
    own value, as for the variable ``main.gX`` itself, when the member is
    that global (same name, same address)."""
    if path.count(".") != 1 or not path.endswith("." + (valobj.GetName() or "")):
        return None
    found = type_system(program).global_variable(path)
    if found is None or found[0] != valobj.GetLoadAddress():
        return None
    address, go_type = found
    return Decoder(program, settings).decode(go_type, address)


def _frame_variables(program: GoProgram, frame: "lldb.SBFrame") -> Optional[list[tuple[str, Value, bool]]]:
    """goext's variables of the goroutine frame behind an lldb frame (cached per stop)."""
    thread = frame.GetThread()
    process = thread.GetProcess()
    key = (process.GetUniqueID(), process.GetStopID(), id(program))
    if _frame_cache.key != key:
        _frame_cache.key = key
        _frame_cache.variables = {}
    record = _goroutine_of_thread(program, thread)
    if record is None:
        return None
    index = _goext_frame_index(program, record, frame)
    if index is None:
        return None
    cache_key = (record.id, index)
    if cache_key not in _frame_cache.variables:
        try:
            _frame_cache.variables[cache_key] = frame_variables(program, record, index)
        except GoextError:
            _frame_cache.variables[cache_key] = None
    return _frame_cache.variables[cache_key]


def _goroutine_of_thread(program: GoProgram, thread: "lldb.SBThread") -> Optional[GoroutineRecord]:
    process = thread.GetProcess()
    view = presented(process)
    goid = view.goroutine_of.get(thread.GetThreadID()) if view is not None else None
    records = program.goroutines()
    if goid is not None:
        return next((record for record in records if record.id == goid), None)
    # An OS thread: the goroutine its M runs.
    for machine in program.machines():
        if machine.procid == thread.GetThreadID() and machine.curg:
            return next((record for record in records if record.address == machine.curg), None)
    return None


def _goext_frame_index(program: GoProgram, record: GoroutineRecord, frame: "lldb.SBFrame") -> Optional[int]:
    """The goext frame of a goroutine that is lldb's ``frame``: the same pc;
    among several (inlined calls share one pc, recursion repeats it), the
    same function, then the same stack pointer.  lldb and goext may spell a
    generic function differently (lldb's name comes from DWARF)."""
    frames = program.stack(record).frames
    pc = frame.GetPC()
    candidates = [index for index, candidate in enumerate(frames) if candidate.pc == pc]
    if len(candidates) > 1:
        function = frame.GetFunctionName() or ""
        named = [index for index in candidates if frames[index].function == function]
        candidates = named or candidates
    if len(candidates) > 1:
        candidates = [index for index in candidates if frames[index].sp == frame.GetSP()]
    return candidates[0] if len(candidates) == 1 else None


# -- lldb's entry points ---------------------------------------------------------------------
def summary(valobj: "lldb.SBValue", internal_dict: dict) -> str:
    raw = valobj.GetNonSyntheticValue()
    try:
        if _is_go_value(raw):
            decoded = _decoded(raw)
            if decoded is not None:
                return format_value(decoded)
            text = _scalar_text(raw)
            if text is not None:
                return text
        # Not Go's (C code of a cgo program, another target) or not decoded:
        # lldb's own text, since this summary replaces lldb's.
        return _lldb_text(raw)
    except Exception as exc:  # a summary must never raise into lldb
        return f"<goext: {type(exc).__name__}>"


def _is_go_value(valobj: "lldb.SBValue") -> bool:
    """A value of a Go program whose debug file goext gave lldb; a variable
    only when Go source declares it (C variables of a cgo program are C's)."""
    if _program(valobj) is None:
        return False
    if valobj.GetValueType() in _TOP_VARIABLE_TYPES:
        declared = valobj.GetDeclaration()
        name = declared.GetFileSpec().GetFilename() if declared.IsValid() else None
        return name is None or name.endswith(".go")
    return True


def _lldb_text(valobj: "lldb.SBValue", depth: int = 0) -> str:
    """What lldb shows for a value without a summary: its value, a C string for
    a char array, else its children on one line."""
    value = valobj.GetValue()
    if value is not None:
        return value
    sbtype = valobj.GetType().GetCanonicalType()
    count = min(valobj.GetNumChildren(), _LLDB_MAX_CHILDREN)
    if sbtype.IsArrayType() and sbtype.GetArrayElementType().GetCanonicalType().GetName() in _C_CHARS:
        data = valobj.GetData()
        blob = bytes(data.ReadRawData(lldb.SBError(), 0, data.GetByteSize())) if data.GetByteSize() else b""
        text = blob.split(b"\0", 1)[0].decode("utf-8", "replace")
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if depth > 4:
        return "{...}"
    parts = []
    for index in range(count):
        child = valobj.GetChildAtIndex(index)
        text = child.GetSummary() or _lldb_text(child, depth + 1)
        parts.append(f"{child.GetName()} = {text}")
    return "(" + ", ".join(parts) + ")"


class SyntheticChildren:
    """Elements of slices and chans, key/value pairs of maps, the dynamic value
    of interfaces: typed lldb values where lldb knows the element's type (so
    they expand further), else the element's Go text."""

    def __init__(self, valobj: "lldb.SBValue", internal_dict: dict) -> None:
        self.valobj = valobj
        # name, address, Go type (name, size), text
        self.children: list[tuple[str, Optional[int], Optional[tuple[str, int]], str]] = []
        self.raw = False
        self.updated = False

    def update(self) -> bool:
        self.children = []
        self.raw = False
        self.updated = True
        try:
            decoded = _decoded(self.valobj, Settings(max_elements=256, max_depth=2))
        except Exception:
            decoded = None
        if decoded is None or not decoded.ok or decoded.is_nil:
            # Not ours to expand (or nil): lldb's own children, a raw view.
            self.raw = decoded is None
            return False
        if decoded.kind == "map":
            for key, elem in decoded.entries[:_MAX_CHILDREN]:
                self.children.append(
                    (f"[{format_value(key, top=False)}]", elem.address, _typed(elem), format_value(elem))
                )
        elif decoded.kind in ("slice", "chan"):
            for name, child in decoded.children[:_MAX_CHILDREN]:
                self.children.append((name, child.address, _typed(child), format_value(child)))
        elif decoded.kind == "interface" and decoded.children:
            name, child = decoded.children[0]
            self.children.append((name, child.address, _typed(child), format_value(child)))
        elif decoded.kind not in ("string",):
            self.raw = True
        return False

    def num_children(self) -> int:
        if self.raw:
            return self.valobj.GetNonSyntheticValue().GetNumChildren()
        return len(self.children)

    def get_child_index(self, name: str) -> int:
        if self.raw:
            return self.valobj.GetNonSyntheticValue().GetIndexOfChildWithName(name)
        for index, (child_name, _, _, _) in enumerate(self.children):
            if child_name == name:
                return index
        return -1

    def get_child_at_index(self, index: int) -> Optional["lldb.SBValue"]:
        if self.raw:
            return self.valobj.GetNonSyntheticValue().GetChildAtIndex(index)
        if not 0 <= index < len(self.children):
            return None
        name, address, typed, text = self.children[index]
        target = self.valobj.GetTarget()
        if address is not None and typed is not None:
            sbtype = _lldb_type(target, *typed)
            if sbtype is not None:
                child = self.valobj.CreateValueFromAddress(name, address, sbtype)
                if child.GetError().Success():
                    return child
                # lldb cannot read it (a core leaves out the executable's
                # read-only data): the bytes goext reads, typed.
                blob = _read(self.valobj, address, sbtype.GetByteSize())
                if blob is not None:
                    data = lldb.SBData()
                    data.SetData(lldb.SBError(), blob, target.GetByteOrder(), target.GetAddressByteSize())
                    return self.valobj.CreateValueFromData(name, data, sbtype)
        encoded = text.encode("utf-8", "surrogateescape")
        data = lldb.SBData.CreateDataFromCString(target.GetByteOrder(), target.GetAddressByteSize(), text)
        char_type = target.GetBasicType(lldb.eBasicTypeChar).GetArrayType(len(encoded) + 1)
        return self.valobj.CreateValueFromData(name, data, char_type)

    def has_children(self) -> bool:
        # lldb (and lldb-dap, deciding what expands) may ask before update().
        if not self.updated:
            self.update()
        return self.num_children() > 0


def _read(valobj: "lldb.SBValue", address: int, size: int) -> Optional[bytes]:
    program = _program(valobj)
    if program is None or size <= 0:
        return None
    try:
        return program.target.read(address, size)
    except GoextError:
        return None


def _typed(value: Value) -> Optional[tuple[str, int]]:
    """(Go type name, size) of a decoded element, when it is whole and typed."""
    if value.go_type is None or not value.ok:
        return None
    return value.go_type.name, value.go_type.size


def _lldb_type(target: "lldb.SBTarget", go_name: str, size: int) -> Optional["lldb.SBType"]:
    """lldb's type for a Go type of ``size`` bytes: a Go base type is a C
    builtin of the same size and kind (lldb's own "int" is C's, 4 bytes); a
    pointer type is made from its pointee's."""
    basic = _BASIC_TYPES.get(go_name)
    if basic is not None:
        found = target.GetBasicType(basic)
    elif go_name.startswith("*"):
        pointee = target.FindFirstType(go_name[1:])
        found = pointee.GetPointerType() if pointee.IsValid() else lldb.SBType()
    else:
        found = target.FindFirstType(go_name)
    if not found.IsValid() or found.GetByteSize() != size:
        return None
    return found


def register(
    debugger: "lldb.SBDebugger",
    entry_module: ModuleType,
    program_factory: Callable[["lldb.SBTarget"], Optional[GoProgram]],
) -> None:
    """Add the ``go`` category (enabled when a Go program's debug file is loaded).
    lldb finds the providers by name in its own namespace: the entry module's."""
    global program_for_value
    program_for_value = program_factory
    entry_module.goext_value_summary = summary  # type: ignore[attr-defined]
    entry_module.GoextValueChildren = SyntheticChildren  # type: ignore[attr-defined]
    module_name = entry_module.__name__
    interpreter = debugger.GetCommandInterpreter()
    result = lldb.SBCommandReturnObject()
    for command in (
        f"type summary add --category {CATEGORY} -v -p -r --python-function {module_name}.goext_value_summary "
        f"-x '{_NO_VALUE_REGEX}'",
        f"type synthetic add --category {CATEGORY} -p -r --python-class {module_name}.GoextValueChildren "
        f"-x '{_SYNTHETIC_REGEX}'",
    ):
        interpreter.HandleCommand(command, result)


_enabled_debuggers: set[int] = set()


def enable(debugger: "lldb.SBDebugger") -> None:
    """Turn the ``go`` category on, once per debugger (and not through the
    command interpreter: run from inside a command, ``type category enable``
    sometimes never returned in lldb 16)."""
    if debugger.GetID() in _enabled_debuggers:
        return
    category = debugger.GetCategory(CATEGORY)
    if not category.IsValid():
        return  # not registered yet: register() comes first, a later call enables it
    _enabled_debuggers.add(debugger.GetID())
    category.SetEnabled(True)


__all__ = ["CATEGORY", "SyntheticChildren", "enable", "go_type_name", "register", "summary"]
