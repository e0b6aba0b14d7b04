"""Evaluate Go expressions against a program's memory, for ``go print`` and for
gdb's ``print`` fallback (the same code in gdb, lldb and offline).

Nothing here runs target code: every operation is a read of target memory
(through :class:`goext_core.values.decode.Decoder`) or arithmetic in Python.
An operand is where a Go value lives (an address, bytes read from memory or a
register, or a value the decoder already decoded) or an untyped constant.
A value the decoder marked (optimized out, unreadable, partly known) is never
computed on: the expression stops with one line saying so.

Go's rules followed here: selectors pick the shallowest field and refuse
ambiguous ones (the Go spec, "Selectors"); ``.field`` goes through one
pointer and, as delve does, through an interface's dynamic value; map lookups
compare keys with Go's == for comparable kinds (NaN never equals itself).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Optional, Union

from goext_core.errors import CorruptDataError, GoextError, MemoryReadError
from goext_core.values.decode import Decoder, format_complex, format_float, frame_variables, is_direct_iface
from goext_core.values.exprparse import (
    Binary,
    Call,
    Composite,
    ExpressionError,
    Index,
    Literal,
    Name,
    Node,
    PackagePath,
    Paren,
    Selector,
    SliceExpr,
    TypeAssert,
    TypeName,
    Unary,
    describe,
    parse,
    type_spelling,
)
from goext_core.values.maps import map_entries
from goext_core.values.model import Settings, Value, quote_go_string
from goext_core.values.types import (
    COMPLEX_KINDS,
    FLOAT_KINDS,
    SIGNED_KINDS,
    UNSIGNED_KINDS,
    Field,
    GoType,
    Kind,
)

if TYPE_CHECKING:
    from goext_core.program import GoProgram

MAX_SELECTOR_DEPTH = 32  # embedding levels searched for a promoted field
MAX_EMBEDDED_PER_LEVEL = 1024
MAX_MAP_PROBES = 1 << 22  # entries compared in one map lookup
MAX_KEY_STRING = 1 << 20  # string bytes read to compare one map key
MAX_STEPS = 10_000  # nodes evaluated in one expression
MAX_PRINTED_BYTES = 1 << 24  # a value read whole (arrays made by conversions can be any size)

INTEGER_KINDS = SIGNED_KINDS | UNSIGNED_KINDS
SCALAR_RESULT_KINDS = INTEGER_KINDS | FLOAT_KINDS | COMPLEX_KINDS
_BUILTINS = frozenset({"len", "cap", "real", "imag"})
_UNSUPPORTED_BUILTINS = frozenset(
    {"append", "make", "new", "copy", "delete", "panic", "print", "println", "recover", "close", "complex", "clear"}
)
_PREDECLARED: dict[str, tuple[Kind, int]] = {
    "bool": (Kind.BOOL, 1),
    "int8": (Kind.INT8, 1),
    "int16": (Kind.INT16, 2),
    "int32": (Kind.INT32, 4),
    "int64": (Kind.INT64, 8),
    "uint8": (Kind.UINT8, 1),
    "uint16": (Kind.UINT16, 2),
    "uint32": (Kind.UINT32, 4),
    "uint64": (Kind.UINT64, 8),
    "float32": (Kind.FLOAT32, 4),
    "float64": (Kind.FLOAT64, 8),
    "complex64": (Kind.COMPLEX64, 8),
    "complex128": (Kind.COMPLEX128, 16),
}
_ALIASES = {"byte": "uint8", "rune": "int32", "any": "interface {}", "interface{}": "interface {}"}
# Value.details keys the decoder and its recognizers use to say part of a value is not known.
_MARK_KEYS = ("partial", "optimized_out", "unavailable", "unknown")


class _Nil:
    """The predeclared nil."""

    def __repr__(self) -> str:
        return "nil"


NIL = _Nil()
Constant = Union[int, float, complex, bytes, bool, _Nil]


@dataclass
class Operand:
    """Where one Go value is.  Exactly one of address, data, value, constant
    (with ``go_type`` None for an untyped constant) describes it."""

    go_type: Optional[GoType]
    source: str  # the expression text it came from, for messages
    address: Optional[int] = None
    data: Optional[bytes] = None
    value: Optional[Value] = None
    constant: Any = None
    literal: Any = None  # a composite literal's comparable form (map keys only)

    @property
    def type_name(self) -> str:
        if self.go_type is not None:
            return self.go_type.name
        return f"untyped {_constant_kind(self.constant)} constant"


@dataclass
class Scope:
    """Where identifiers are looked up: the locals of one frame of one goroutine
    (if any), then package variables (the frame's package, then main, then by
    full name)."""

    program: "GoProgram"
    locals_loader: Optional[Callable[[], list[tuple[str, Value, bool]]]] = None
    package: Optional[str] = None
    _locals: Optional[list[tuple[str, Value, bool]]] = field(default=None, repr=False)
    locals_error: Optional[str] = None
    locals_optional: bool = False  # the frame was not asked for: its failures are not worth a mention

    def local(self, name: str) -> Optional[Value]:
        if self.locals_loader is None:
            return None
        if self._locals is None:
            try:
                self._locals = self.locals_loader()
            except GoextError as exc:
                self.locals_error = str(exc)
                self._locals = []
        found = None
        for variable_name, value, _ in self._locals:
            if variable_name == name:
                found = value  # the last one is the innermost lexical block's
        return found


def evaluate(program: "GoProgram", decoder: Decoder, text: str, scope: Optional[Scope] = None) -> Value:
    """The value of the Go expression ``text``; ExpressionError (one line) when
    it cannot be evaluated."""
    tree = parse(text)
    evaluator = Evaluator(program, decoder, scope or Scope(program))
    return evaluator.to_value(evaluator.operand(tree))


class Evaluator:
    def __init__(self, program: "GoProgram", decoder: Decoder, scope: Scope) -> None:
        self.program = program
        self.decoder = decoder
        self.scope = scope
        self.ptr_size = decoder.ptr_size
        self.steps = 0
        self._synthetic: dict[str, GoType] = {}

    # -- results ------------------------------------------------------------------------
    def to_value(self, op: Operand) -> Value:
        if op.literal is not None:
            raise ExpressionError(f"a composite literal ({op.source}) can only be used as a map key")
        if op.go_type is None:
            return _constant_value(op.constant)
        if op.value is not None:
            return op.value
        if op.go_type.size > MAX_PRINTED_BYTES:
            raise ExpressionError(
                f"{op.source} is too large to print ({op.go_type.size} bytes of {op.go_type.name}): index or slice it"
            )
        if op.data is not None:
            return self.decoder.decode_bytes(op.go_type, op.data, None)
        assert op.address is not None
        return self.decoder.decode(op.go_type, op.address)

    # -- the tree -----------------------------------------------------------------------
    def operand(self, node: Node) -> Operand:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise ExpressionError("expression too complex")
        if isinstance(node, Literal):
            return Operand(None, node.text, constant=node.value)
        if isinstance(node, Name):
            return self.identifier(node.ident)
        if isinstance(node, Paren):
            return self.operand(node.inner)
        if isinstance(node, Selector):
            return self.selector(node)
        if isinstance(node, Index):
            return self.index(self.operand(node.base), node)
        if isinstance(node, SliceExpr):
            return self.slice(node)
        if isinstance(node, Unary):
            return self.unary(node)
        if isinstance(node, Binary):
            return self.binary(node)
        if isinstance(node, TypeAssert):
            return self.type_assert(node)
        if isinstance(node, Call):
            return self.call(node)
        if isinstance(node, Composite):
            return self.composite(node, None)
        if isinstance(node, (TypeName, PackagePath)):
            raise ExpressionError(f"{describe(node)} is a type or package, not a value")
        raise ExpressionError(f"cannot evaluate {describe(node)}")

    # -- identifiers --------------------------------------------------------------------
    def identifier(self, name: str) -> Operand:
        if name == "nil":
            return Operand(None, "nil", constant=NIL)
        if name in ("true", "false"):
            local = self.scope.local(name)
            if local is None:
                return Operand(None, name, constant=name == "true")
        found = self.variable(name)
        if found is not None:
            return found
        raise ExpressionError(self.undefined(name))

    def undefined(self, name: str) -> str:
        message = f"no variable named {name!r}"
        if self.scope.locals_error and not self.scope.locals_optional:
            message += f" (locals: {self.scope.locals_error})"
        elif self.scope.locals_loader is None:
            message += " (for locals give -g ID)"
        return message

    def variable(self, name: str) -> Optional[Operand]:
        """A local (an escaped one too: DWARF names it "&name") or a package variable."""
        local = self.scope.local(name)
        if local is not None:
            return self.from_value(local, name)
        escaped = self.scope.local("&" + name)
        if escaped is not None:
            pointer = self.from_value(escaped, "&" + name)
            return self.dereference(pointer, name)
        candidates = [name]
        if "." not in name:
            packages = [self.scope.package] if self.scope.package else []
            candidates = [f"{package}.{name}" for package in (*packages, "main")]
        for candidate in candidates:
            found = self.global_variable(candidate)
            if found is not None:
                found.source = name
                return found
        return None

    def global_variable(self, full_name: str) -> Optional[Operand]:
        try:
            found = self.decoder.types.global_variable(full_name)
        except GoextError:
            return None
        if found is None:
            return None
        address, go_type = found
        return Operand(go_type, full_name, address=address)

    def package_variable(self, package: str, name: str) -> Optional[Operand]:
        """pkg.Name where pkg is a package's name or its import path's last element."""
        found = self.global_variable(f"{package}.{name}")
        if found is not None:
            return found
        dwarf = self.decoder.types.dwarf
        if dwarf is None or "/" in package:
            return None
        try:
            units = [unit for unit, _ in dwarf.compile_units()]
        except GoextError:
            return None
        for unit in units:
            if unit.rsplit("/", 1)[-1] == package and unit != package:
                found = self.global_variable(f"{unit}.{name}")
                if found is not None:
                    return found
        return None

    def from_value(self, value: Value, source: str) -> Operand:
        """A decoded variable as an operand: by address when it has one."""
        go_type = value.go_type
        if go_type is None:
            raise ExpressionError(f"{source}: type unknown")
        if value.address is not None and not _is_marked(value):
            return Operand(go_type, source, address=value.address)
        if value.raw is not None and len(value.raw) == go_type.size and not _is_marked(value):
            return Operand(go_type, source, data=value.raw)
        return Operand(go_type, source, value=value)

    # -- reading ------------------------------------------------------------------------
    def raw(self, op: Operand, size: Optional[int] = None) -> bytes:
        """The bytes of a typed operand (its first ``size`` bytes)."""
        assert op.go_type is not None
        wanted = op.go_type.size if size is None else size
        if op.data is not None:
            return op.data[:wanted]
        if op.address is not None:
            if wanted > 1 << 24:
                raise ExpressionError(f"{op.source} is too large to read ({wanted} bytes)")
            try:
                return self.decoder.memory.read(op.address, wanted)
            except MemoryReadError:
                raise ExpressionError(f"{op.source}: memory at {op.address:#x} is unreadable") from None
        if op.value is not None:
            _refuse_marked(op.value, op.source)
            data = _value_bytes(op.value, op.go_type, self.ptr_size)
            if data is None:
                raise ExpressionError(f"{op.source} lives in registers: goext cannot take it apart (print it whole)")
            return data[:wanted]
        raise ExpressionError(f"{op.source} is not a value in memory")

    def word(self, data: bytes, offset: int = 0) -> int:
        return int.from_bytes(data[offset : offset + self.ptr_size], "little")

    def check_usable(self, op: Operand) -> None:
        if op.value is not None:
            _refuse_marked(op.value, op.source)

    # -- types --------------------------------------------------------------------------
    def lookup_type(self, spelled: str) -> Optional[GoType]:
        spelled = _ALIASES.get(spelled, spelled)
        if spelled in self._synthetic:
            return self._synthetic[spelled]
        made = self._make_type(spelled)
        if made is not None:
            self._synthetic[spelled] = made
        return made

    def _make_type(self, spelled: str) -> Optional[GoType]:
        ptr = self.ptr_size
        if spelled in _PREDECLARED:
            kind, size = _PREDECLARED[spelled]
            return GoType(spelled, kind, size, source="expression")
        if spelled in ("int", "uint", "uintptr"):
            kind = {"int": Kind.INT, "uint": Kind.UINT, "uintptr": Kind.UINTPTR}[spelled]
            return GoType(spelled, kind, ptr, source="expression")
        if spelled == "string":
            return GoType("string", Kind.STRING, 2 * ptr, source="expression")
        if spelled == "unsafe.Pointer":
            return GoType("unsafe.Pointer", Kind.UNSAFE_POINTER, ptr, source="expression")
        types = self.decoder.types
        found = types.by_name(spelled)
        if found is not None:
            return found
        if spelled.startswith("*"):
            elem = self.lookup_type(spelled[1:])
            return None if elem is None else self.pointer_to(elem)
        if spelled.startswith("[]"):
            elem = self.lookup_type(spelled[2:])
            return None if elem is None else self.slice_of(elem)
        if spelled.startswith("[") and "]" in spelled:
            length_text, _, rest = spelled[1:].partition("]")
            elem = self.lookup_type(rest)
            if elem is None or not length_text.isdigit() or int(length_text) * max(elem.size, 1) > 1 << 32:
                return None
            array = GoType(spelled, Kind.ARRAY, int(length_text) * elem.size, length=int(length_text))
            array.set_elem(elem)
            return array
        if "." not in spelled and spelled[:1].isalpha():
            for package in (self.scope.package, "main"):
                if package:
                    found = types.by_name(f"{package}.{spelled}")
                    if found is not None:
                        return found
        return None

    def require_type(self, spelled: str) -> GoType:
        found = self.lookup_type(spelled)
        if found is None:
            raise ExpressionError(f"no type named {spelled!r}")
        return found

    def pointer_to(self, elem: GoType) -> GoType:
        name = "*" + elem.name
        if name in self._synthetic:
            return self._synthetic[name]
        found = self.decoder.types.by_name(name) if elem.source != "expression" else None
        if found is None:
            found = GoType(name, Kind.POINTER, self.ptr_size, source="expression")
            found.set_elem(elem)
        self._synthetic[name] = found
        return found

    def slice_of(self, elem: GoType) -> GoType:
        name = "[]" + elem.name
        if name not in self._synthetic:
            made = GoType(name, Kind.SLICE, 3 * self.ptr_size, source="expression")
            made.set_elem(elem)
            self._synthetic[name] = made
        return self._synthetic[name]

    def typed_scalar(self, go_type: GoType, number: Union[int, float, complex, bool], source: str) -> Operand:
        return Operand(go_type, source, data=_pack(go_type, number))

    # -- selectors ----------------------------------------------------------------------
    def selector(self, node: Selector) -> Operand:
        base_node = node.base
        if isinstance(base_node, PackagePath):
            found = self.package_variable(base_node.path, node.name)
            if found is None:
                raise ExpressionError(f'no variable named {node.name!r} in package "{base_node.path}"')
            return found
        if isinstance(base_node, Name) and self.scope.local(base_node.ident) is None:
            if self.scope.local("&" + base_node.ident) is None and self.variable(base_node.ident) is None:
                found = self.package_variable(base_node.ident, node.name)
                if found is not None:
                    found.source = describe(node)
                    return found
                raise ExpressionError(
                    self.undefined(base_node.ident) + f", and no package variable named '{describe(node)}'"
                )
        base = self.operand(base_node)
        return self.field(base, node.name, describe(node))

    def field(self, op: Operand, name: str, source: str) -> Operand:
        self.check_usable(op)
        if op.go_type is None:
            raise ExpressionError(f"{source} undefined ({op.source} is a constant)")
        shown_type = op.go_type.name
        if op.go_type.kind == Kind.INTERFACE:
            op = self.dynamic_value(op)
        if op.go_type is not None and op.go_type.kind == Kind.POINTER:
            op = self.dereference(op, op.source)
        go_type = op.go_type
        assert go_type is not None
        path = find_field(go_type, name, source) if go_type.kind == Kind.STRUCT else None
        if path is None:
            if self.has_method(go_type, name):
                raise ExpressionError(f"{source} is a method: calling functions is not supported")
            raise ExpressionError(f"{source} undefined (type {shown_type} has no field or method {name})")
        current = op
        for step_index, member in enumerate(path):
            if step_index and current.go_type is not None and current.go_type.kind == Kind.POINTER:
                current = self.dereference(current, current.source)
            current = self.member(current, member)
        current.source = source
        return current

    def has_method(self, go_type: GoType, name: str) -> bool:
        """Whether the binary has method ``name`` of the named type (value or
        pointer receiver); a method the linker dropped is not known."""
        type_name = go_type.name.lstrip("*")
        slash = type_name.rfind("/")
        dot = type_name.find(".", slash + 1)
        if dot <= 0 or "[" in type_name:
            return False
        package, local = type_name[:dot], type_name[dot + 1 :]
        for function in (f"{package}.(*{local}).{name}", f"{package}.{local}.{name}"):
            try:
                if self.program.pclntab.func_by_name(function) is not None:
                    return True
            except GoextError:
                return False
        return False

    def member(self, op: Operand, member: Field) -> Operand:
        source = f"{op.source}.{member.name}"
        if op.address is not None:
            return Operand(member.type, source, address=op.address + member.offset)
        if op.data is not None:
            return Operand(member.type, source, data=op.data[member.offset : member.offset + member.type.size])
        assert op.value is not None
        _refuse_marked(op.value, op.source)
        for child_name, child in op.value.children:
            if child_name == member.name:
                return (
                    self.from_value(child, source)
                    if child.go_type is not None
                    else Operand(member.type, source, value=child)
                )
        raise ExpressionError(f"{source}: not decoded")

    def dereference(self, op: Operand, source: str) -> Operand:
        self.check_usable(op)
        go_type = op.go_type
        if go_type is None:
            raise ExpressionError(f"invalid operation: cannot indirect {op.source} ({op.type_name})")
        if go_type.kind == Kind.UNSAFE_POINTER:
            raise ExpressionError(
                f"cannot dereference {op.source} (unsafe.Pointer): convert it first, e.g. *(*T)({op.source})"
            )
        if go_type.kind != Kind.POINTER:
            raise ExpressionError(f"invalid operation: cannot indirect {op.source} (variable of type {go_type.name})")
        elem = go_type.elem
        if elem is None:
            raise ExpressionError(f"{op.source}: unknown element type of {go_type.name}")
        target = self.word(self.raw(op))
        if target == 0:
            raise ExpressionError(f"nil pointer dereference: {op.source} is nil")
        return Operand(elem, source, address=target)

    def dynamic_value(self, op: Operand) -> Operand:
        """The dynamic value of an interface (its concrete type and where the value is)."""
        self.check_usable(op)
        assert op.go_type is not None
        if op.address is None and op.data is None and op.value is not None:
            if op.value.is_nil:
                raise ExpressionError(f"{op.source} is a nil interface")
            if not op.value.children:
                raise ExpressionError(f"{op.source}: dynamic value not decoded")
            dynamic_name, inner = op.value.children[0]
            if inner.go_type is None:
                raise ExpressionError(f"{op.source}: unknown dynamic type {dynamic_name}")
            return self.from_value(inner, f"{op.source}.({dynamic_name})")
        data = self.raw(op)
        try:
            type_address, data_word = self.decoder.dynamic_type(op.go_type, data)
        except MemoryReadError:
            raise ExpressionError(f"{op.source}: unreadable interface") from None
        if type_address == 0:
            raise ExpressionError(f"{op.source} is a nil interface")
        dynamic = self.decoder.runtime_type(type_address)
        if dynamic is None:
            raise ExpressionError(f"{op.source}: no type descriptor at {type_address:#x}")
        source = f"{op.source}.({dynamic.name})"
        if is_direct_iface(dynamic):
            word = data_word.to_bytes(self.ptr_size, "little")
            return Operand(dynamic, source, data=word[: dynamic.size].ljust(dynamic.size, b"\0"))
        if data_word == 0:
            raise ExpressionError(f"{op.source}: nil data word")
        return Operand(dynamic, source, address=data_word)

    # -- index, slice -------------------------------------------------------------------
    def index(self, base: Operand, node: Index) -> Operand:
        source = describe(node)
        self.check_usable(base)
        go_type = base.go_type
        if go_type is None and isinstance(base.constant, bytes):
            # Indexing a constant string gives a byte (a non-constant uint8).
            position = self.integer(self.operand(node.index), "index")
            _check_index(position, len(base.constant), base.source)
            return self.typed_scalar(self.require_type("uint8"), base.constant[position], source)
        if go_type is None:
            raise ExpressionError(f"invalid operation: cannot index {base.source} ({base.type_name})")
        if go_type.kind == Kind.MAP:
            key = self.operand_for(node.index, go_type.key)
            return self.map_lookup(base, key, source)
        if go_type.kind == Kind.POINTER and go_type.elem is not None and go_type.elem.kind == Kind.ARRAY:
            base = self.dereference(base, base.source)
            go_type = base.go_type
            assert go_type is not None
        position = self.integer(self.operand(node.index), "index")
        if go_type.kind == Kind.ARRAY:
            elem = _elem(go_type)
            _check_index(position, go_type.length, base.source)
            return self.element(base, elem, position, source)
        if go_type.kind == Kind.SLICE:
            data = self.raw(base)
            pointer, length = self.word(data), self.word(data, self.ptr_size)
            _check_index(position, length, base.source)
            return Operand(_elem(go_type), source, address=pointer + position * _elem(go_type).size)
        if go_type.kind == Kind.STRING:
            data = self.raw(base)
            pointer, length = self.word(data), self.word(data, self.ptr_size)
            _check_index(position, length, base.source)
            return Operand(self.require_type("uint8"), source, address=pointer + position)
        raise ExpressionError(f"invalid operation: cannot index {base.source} (variable of type {go_type.name})")

    def element(self, base: Operand, elem: GoType, position: int, source: str) -> Operand:
        offset = position * elem.size
        if base.address is not None:
            return Operand(elem, source, address=base.address + offset)
        if base.data is not None:
            return Operand(elem, source, data=base.data[offset : offset + elem.size])
        assert base.value is not None
        for child_name, child in base.value.children:
            if child_name == f"[{position}]":
                return self.from_value(child, source)
        raise ExpressionError(f"{source}: element not decoded ({base.source} lives in registers)")

    def slice(self, node: SliceExpr) -> Operand:
        base = self.operand(node.base)
        source = describe(node)
        self.check_usable(base)
        go_type = base.go_type
        if go_type is None and isinstance(base.constant, bytes):
            if node.max is not None:
                raise ExpressionError(f"invalid operation: 3-index slice of string ({source})")
            start = 0 if node.low is None else self.integer(self.operand(node.low), "slice index")
            stop = len(base.constant) if node.high is None else self.integer(self.operand(node.high), "slice index")
            start, stop, _ = _check_slice(start, stop, None, len(base.constant), base.source)
            return Operand(None, source, constant=base.constant[start:stop])
        if go_type is None:
            raise ExpressionError(f"cannot slice {base.source} ({base.type_name})")
        if go_type.kind == Kind.POINTER and go_type.elem is not None and go_type.elem.kind == Kind.ARRAY:
            base = self.dereference(base, base.source)
            go_type = base.go_type
            assert go_type is not None
        bounds = [
            None if part is None else self.integer(self.operand(part), "slice index")
            for part in (node.low, node.high, node.max)
        ]
        low, high, maximum = bounds
        if go_type.kind == Kind.STRING:
            if node.max is not None:
                raise ExpressionError(f"invalid operation: 3-index slice of string ({source})")
            data = self.raw(base)
            pointer, length = self.word(data), self.word(data, self.ptr_size)
            low, high, _ = _check_slice(low or 0, length if high is None else high, None, length, base.source)
            header = (pointer + low if high > low else pointer).to_bytes(self.ptr_size, "little")
            return Operand(go_type, source, data=header + (high - low).to_bytes(self.ptr_size, "little"))
        if go_type.kind == Kind.SLICE:
            data = self.raw(base)
            pointer = self.word(data)
            length, capacity = self.word(data, self.ptr_size), self.word(data, 2 * self.ptr_size)
            result_type = go_type
        elif go_type.kind == Kind.ARRAY:
            if base.address is None:
                raise ExpressionError(f"invalid operation: {base.source} (slice of unaddressable value)")
            pointer, length, capacity = base.address, go_type.length, go_type.length
            result_type = self.slice_of(_elem(go_type))
        else:
            raise ExpressionError(f"cannot slice {base.source} (variable of type {go_type.name})")
        elem = _elem(result_type)
        if high is not None and high > length and go_type.kind == Kind.ARRAY:
            raise ExpressionError(f"slice bounds out of range [:{high}] with length {length} ({base.source})")
        low, high, new_cap = _check_slice(low or 0, length if high is None else high, maximum, capacity, base.source)
        start = pointer + low * elem.size if new_cap > low else pointer
        header = b"".join(number.to_bytes(self.ptr_size, "little") for number in (start, high - low, new_cap - low))
        return Operand(result_type, source, data=header)

    # -- maps ---------------------------------------------------------------------------
    def operand_for(self, node: Node, wanted: Optional[GoType]) -> Operand:
        """An operand; a composite literal whose type is elided takes ``wanted``."""
        if isinstance(node, Composite):
            return self.composite(node, wanted)
        return self.operand(node)

    def map_lookup(self, base: Operand, key: Operand, source: str) -> Operand:
        map_type = base.go_type
        assert map_type is not None
        key_type, elem_type = map_type.key, map_type.elem
        if key_type is None or elem_type is None:
            raise ExpressionError(f"{base.source}: unknown key or element type of {map_type.name}")
        wanted = self.comparable(key, key_type)
        map_address = self.word(self.raw(base))
        if map_address == 0:
            raise ExpressionError(f"key {describe_key(key)} not found: {base.source} is a nil map")
        probes = 0
        try:
            for key_at, elem_at in map_entries(self.decoder, map_type, map_address, MAX_MAP_PROBES):
                probes += 1
                stored = self.comparable(Operand(key_type, "key", address=key_at), key_type)
                if _go_equal(stored, wanted):
                    return Operand(elem_type, source, address=elem_at)
        except (MemoryReadError, CorruptDataError) as exc:
            raise ExpressionError(f"{base.source}: {exc}") from None
        if probes >= MAX_MAP_PROBES:
            raise ExpressionError(
                f"key {describe_key(key)} not found among the first {probes} entries of {base.source}"
            )
        raise ExpressionError(f"key {describe_key(key)} not found in {base.source}")

    def comparable(self, op: Operand, as_type: GoType, depth: int = 0) -> Any:
        """A Python value that is == another exactly when Go's == says the two are
        equal, for ``op`` converted to ``as_type`` (a map's key type)."""
        if depth > 16:
            raise ExpressionError("map key nested too deeply")
        kind = as_type.kind
        if kind == Kind.INTERFACE:
            return self._comparable_interface(op, depth)
        if op.literal is not None:
            if op.go_type is not None and op.go_type.name != as_type.name:
                raise ExpressionError(f"cannot use {op.source} (type {op.go_type.name}) as {as_type.name} value")
            return op.literal
        if op.go_type is None:
            return _convert_constant(op.constant, as_type, op.source)
        if op.go_type.name != as_type.name and not (op.go_type.kind == kind and op.go_type.size == as_type.size):
            raise ExpressionError(f"cannot use {op.source} (type {op.go_type.name}) as {as_type.name} value")
        return self._comparable_stored(op, as_type, depth)

    def _comparable_interface(self, op: Operand, depth: int) -> Any:
        if op.literal is not None:
            assert op.go_type is not None
            return (op.go_type.name, op.literal)
        if op.go_type is None:
            if isinstance(op.constant, _Nil):
                return None
            type_name = _default_type(op.constant)
            return (type_name, _convert_constant(op.constant, self.require_type(type_name), op.source))
        if op.go_type.kind == Kind.INTERFACE:
            data = self.raw(op)
            try:
                type_address, _ = self.decoder.dynamic_type(op.go_type, data)
            except MemoryReadError:
                raise ExpressionError(f"{op.source}: unreadable interface") from None
            if type_address == 0:
                return None
            inner = self.dynamic_value(op)
            assert inner.go_type is not None
            return (inner.go_type.name, self._comparable_stored(inner, inner.go_type, depth + 1))
        return (op.go_type.name, self._comparable_stored(op, op.go_type, depth + 1))

    def _comparable_stored(self, op: Operand, go_type: GoType, depth: int) -> Any:
        kind = go_type.kind
        if kind == Kind.INTERFACE:
            return self._comparable_interface(
                Operand(go_type, op.source, address=op.address, data=op.data, value=op.value), depth + 1
            )
        if kind == Kind.STRING:
            data = self.raw(Operand(go_type, op.source, address=op.address, data=op.data, value=op.value))
            pointer, length = self.word(data), self.word(data, self.ptr_size)
            if length > MAX_KEY_STRING:
                raise ExpressionError(f"{op.source}: string too long to compare ({length} bytes)")
            try:
                return self.decoder.memory.read(pointer, length) if length else b""
            except MemoryReadError:
                raise ExpressionError(f"{op.source}: unreadable string at {pointer:#x}") from None
        if kind == Kind.STRUCT:
            parts = []
            for member in go_type.fields:
                if member.name == "_":
                    continue  # blank fields are not compared (the Go spec, "Comparison operators")
                parts.append(self._comparable_stored(self.member(op, member), member.type, depth + 1))
            return tuple(parts)
        if kind == Kind.ARRAY:
            elem = _elem(go_type)
            if go_type.length > 4096:
                raise ExpressionError(f"{op.source}: array key too long to compare")
            return tuple(
                self._comparable_stored(self.element(op, elem, i, op.source), elem, depth + 1)
                for i in range(go_type.length)
            )
        if kind in (Kind.SLICE, Kind.MAP, Kind.FUNC):
            raise ExpressionError(f"invalid map key type {go_type.name}")
        return _scalar_from_bytes(
            go_type, self.raw(Operand(go_type, op.source, address=op.address, data=op.data, value=op.value))
        )

    # -- composite literals ---------------------------------------------------------------
    def composite(self, node: Composite, wanted: Optional[GoType]) -> Operand:
        if node.type is not None:
            spelled = type_spelling(node.type)
            if spelled is None:
                raise ExpressionError(f"{describe(node.type)} is not a type")
            go_type = self.require_type(spelled)
        elif wanted is not None:
            go_type = wanted
        else:
            raise ExpressionError(f"missing type in composite literal {describe(node)}")
        return Operand(go_type, describe(node), literal=self.literal_form(node, go_type, 0))

    def literal_form(self, node: Composite, go_type: GoType, depth: int) -> Any:
        """The comparable form (see :meth:`comparable`) of a composite literal of ``go_type``."""
        if depth > 16:
            raise ExpressionError("composite literal nested too deeply")
        if go_type.kind == Kind.STRUCT:
            members = [member for member in go_type.fields if member.name != "_"]
            values: dict[str, Any] = {}
            keyed = [key is not None for key, _ in node.elements]
            if any(keyed) and not all(keyed):
                raise ExpressionError(f"mixture of field:value and value elements in {describe(node)}")
            for position, (key, element) in enumerate(node.elements):
                if key is None:
                    if position >= len(members):
                        raise ExpressionError(f"too many values in {describe(node)}")
                    member = members[position]
                else:
                    if not isinstance(key, Name):
                        raise ExpressionError(f"invalid field name {describe(key)} in {describe(node)}")
                    found = next((m for m in members if m.name == key.ident), None)
                    if found is None:
                        raise ExpressionError(f"unknown field {key.ident} in struct literal of type {go_type.name}")
                    member = found
                values[member.name] = self.element_form(element, member.type, depth)
            if node.elements and not any(keyed) and len(node.elements) != len(members):
                raise ExpressionError(f"too few values in {describe(node)}")
            return tuple(values[m.name] if m.name in values else _zero(m.type, depth) for m in members)
        if go_type.kind == Kind.ARRAY:
            elem = _elem(go_type)
            items: dict[int, Any] = {}
            position = 0
            for key, element in node.elements:
                if key is not None:
                    position = self.integer(self.operand(key), "array index")
                if not 0 <= position < go_type.length:
                    raise ExpressionError(f"index {position} out of bounds [0:{go_type.length}] in {describe(node)}")
                items[position] = self.element_form(element, elem, depth)
                position += 1
            if go_type.length > 4096:
                raise ExpressionError(f"{go_type.name} is too long for a literal key")
            return tuple(items[i] if i in items else _zero(elem, depth) for i in range(go_type.length))
        raise ExpressionError(f"composite literals of {go_type.name} cannot be map keys (not comparable)")

    def element_form(self, node: Node, go_type: GoType, depth: int) -> Any:
        if isinstance(node, Composite):
            element_type = go_type
            if node.type is not None:
                spelled = type_spelling(node.type)
                element_type = self.require_type(spelled) if spelled else go_type
            if go_type.kind == Kind.INTERFACE:
                return (element_type.name, self.literal_form(node, element_type, depth + 1))
            return self.literal_form(node, element_type, depth + 1)
        return self.comparable(self.operand(node), go_type, depth + 1)

    # -- operators ----------------------------------------------------------------------
    def unary(self, node: Unary) -> Operand:
        source = describe(node)
        if node.op == "*":
            operand = self.operand(node.operand)
            return self.dereference(operand, source)
        if node.op == "&":
            operand = self.operand(node.operand)
            if operand.literal is not None:
                raise ExpressionError(f"cannot take the address of a composite literal ({source})")
            if operand.go_type is None or operand.address is None:
                where = "a constant" if operand.go_type is None else "not in memory (it lives in registers)"
                raise ExpressionError(f"cannot take the address of {operand.source}: {where}")
            pointer = self.pointer_to(operand.go_type)
            return Operand(pointer, source, data=operand.address.to_bytes(self.ptr_size, "little"))
        if node.op == "<-":
            raise ExpressionError("receiving from a channel is not supported")
        operand = self.operand(node.operand)
        value = self.scalar(operand)
        if node.op == "+" and isinstance(value, (int, float, complex)) and not isinstance(value, bool):
            result: Any = value
        elif node.op == "-" and isinstance(value, (int, float, complex)) and not isinstance(value, bool):
            result = -value
        elif node.op == "!" and isinstance(value, bool):
            result = not value
        elif node.op == "^" and isinstance(value, int) and not isinstance(value, bool):
            result = ~value
        else:
            raise ExpressionError(f"invalid operation: operator {node.op} not defined on {operand.source}")
        return self.result(result, operand.go_type, source)

    def binary(self, node: Binary) -> Operand:
        source = describe(node)
        left_op = self.operand(node.left)
        if node.op in ("&&", "||"):
            left = self.scalar(left_op)
            if not isinstance(left, bool):
                raise ExpressionError(f"invalid operation: operator {node.op} not defined on {left_op.source}")
            if (node.op == "&&" and not left) or (node.op == "||" and left):
                return Operand(None, source, constant=left)
            right = self.scalar(self.operand(node.right))
            if not isinstance(right, bool):
                raise ExpressionError(f"invalid operation: operator {node.op} not defined on {describe(node.right)}")
            return Operand(None, source, constant=right)
        right_op = self.operand(node.right)
        left, right = self.scalar(left_op), self.scalar(right_op)
        typed = left_op.go_type or right_op.go_type
        if node.op in ("==", "!=", "<", "<=", ">", ">="):
            return Operand(None, source, constant=_compare(node.op, left, right, source))
        result = _arithmetic(node.op, left, right, source, typed)
        return self.result(result, typed, source)

    def result(self, number: Any, go_type: Optional[GoType], source: str) -> Operand:
        """An arithmetic result: typed like its typed operand (wrapped to its size), else a constant."""
        if go_type is None or isinstance(number, bytes) or go_type.kind not in SCALAR_RESULT_KINDS:
            return Operand(None, source, constant=number)
        return self.typed_scalar(go_type, number, source)

    def scalar(self, op: Operand) -> Constant:
        """The Python value of a scalar operand (numbers, bools, strings as bytes, pointers as ints)."""
        self.check_usable(op)
        if op.literal is not None:
            raise ExpressionError(f"invalid operation on a composite literal ({op.source})")
        if op.go_type is None:
            return op.constant
        kind = op.go_type.kind
        if kind == Kind.STRING:
            data = self.raw(op)
            pointer, length = self.word(data), self.word(data, self.ptr_size)
            if length > MAX_KEY_STRING:
                raise ExpressionError(f"{op.source}: string too long to compare ({length} bytes)")
            try:
                return self.decoder.memory.read(pointer, length) if length else b""
            except MemoryReadError:
                raise ExpressionError(f"{op.source}: unreadable string at {pointer:#x}") from None
        if kind in (Kind.STRUCT, Kind.ARRAY, Kind.SLICE, Kind.MAP, Kind.INTERFACE, Kind.FUNC, Kind.CHAN):
            raise ExpressionError(
                f"invalid operation: {op.source} (variable of type {op.go_type.name}) is not a scalar"
            )
        return _scalar_from_bytes(op.go_type, self.raw(op))

    def integer(self, op: Operand, what: str) -> int:
        value = self.scalar(op)
        if isinstance(value, bool) or isinstance(value, (bytes, _Nil)):
            raise ExpressionError(f"invalid argument: {what} {op.source} must be integer")
        if isinstance(value, float) and value.is_integer() and op.go_type is None:
            return int(value)
        if not isinstance(value, int) or (op.go_type is not None and op.go_type.kind not in INTEGER_KINDS):
            raise ExpressionError(f"invalid argument: {what} {op.source} ({op.type_name}) must be integer")
        return value

    # -- type assertions ----------------------------------------------------------------
    def type_assert(self, node: TypeAssert) -> Operand:
        base = self.operand(node.base)
        self.check_usable(base)
        if base.go_type is None or base.go_type.kind != Kind.INTERFACE:
            raise ExpressionError(f"invalid operation: {base.source} ({base.type_name}) is not an interface")
        if node.type is None:
            try:
                inner = self.dynamic_value(base)
                name = inner.go_type.name if inner.go_type is not None else "?"
            except ExpressionError as exc:
                if "nil interface" not in str(exc):
                    raise
                name = "nil"
            return Operand(None, describe(node), constant=_TypeNameConstant(name))
        wanted = self.require_type(node.type.text)
        try:
            inner = self.dynamic_value(base)
        except ExpressionError as exc:
            if "nil interface" in str(exc):
                raise ExpressionError(f"interface conversion: {base.source} is nil, not {wanted.name}") from None
            raise
        assert inner.go_type is not None
        if wanted.kind == Kind.INTERFACE:
            raise ExpressionError(
                f"type assertion to an interface type ({wanted.name}) is not supported; "
                f"{base.source} holds {inner.go_type.name}"
            )
        if inner.go_type.name != wanted.name:
            raise ExpressionError(f"interface conversion: {base.source} holds {inner.go_type.name}, not {wanted.name}")
        inner.source = describe(node)
        return inner

    # -- calls: builtins and conversions ------------------------------------------------
    def call(self, node: Call) -> Operand:
        function = node.func
        spelled = type_spelling(function)
        if isinstance(function, Name) and function.ident in _BUILTINS and self.scope.local(function.ident) is None:
            return self.builtin(function.ident, node)
        if isinstance(function, Name) and function.ident in _UNSUPPORTED_BUILTINS:
            raise ExpressionError(f"calling {function.ident} is not supported")
        if spelled is not None:
            target_type = self.lookup_type(spelled)
            if target_type is not None and not self._is_variable(function):
                if len(node.args) != 1:
                    raise ExpressionError(f"conversion to {target_type.name} takes exactly one argument")
                return self.convert(self.operand_for(node.args[0], target_type), target_type, describe(node))
        raise ExpressionError("calling functions is not supported")

    def _is_variable(self, node: Node) -> bool:
        if isinstance(node, Name):
            return self.scope.local(node.ident) is not None or self.variable(node.ident) is not None
        return False

    def builtin(self, name: str, node: Call) -> Operand:
        source = describe(node)
        if len(node.args) != 1:
            raise ExpressionError(f"{name} takes exactly one argument ({source})")
        op = self.operand(node.args[0])
        int_type = self.require_type("int")
        if name in ("real", "imag"):
            value = self.scalar(op)
            if op.go_type is None and isinstance(value, (int, float)) and not isinstance(value, bool):
                value = complex(
                    value
                )  # an untyped numeric constant is a complex one (the Go spec, "Manipulating complex numbers")
            if not isinstance(value, complex):
                raise ExpressionError(f"invalid argument: {op.source} ({op.type_name}) is not a complex number")
            part = value.real if name == "real" else value.imag
            if op.go_type is None:
                return Operand(None, source, constant=part)
            return self.typed_scalar(self.require_type("float32" if op.go_type.size == 8 else "float64"), part, source)
        if op.go_type is None:
            if name == "len" and isinstance(op.constant, bytes):
                return Operand(None, source, constant=len(op.constant))
            raise ExpressionError(f"invalid argument: {op.source} ({op.type_name}) for built-in {name}")
        go_type = op.go_type
        if go_type.kind == Kind.POINTER and go_type.elem is not None and go_type.elem.kind == Kind.ARRAY:
            return self.typed_scalar(int_type, go_type.elem.length, source)  # len/cap of *[N]T is N, even nil
        if go_type.kind == Kind.ARRAY:
            return self.typed_scalar(int_type, go_type.length, source)
        allowed = (Kind.STRING, Kind.SLICE, Kind.MAP, Kind.CHAN) if name == "len" else (Kind.SLICE, Kind.CHAN)
        if go_type.kind not in allowed:
            raise ExpressionError(
                f"invalid argument: {op.source} (variable of type {go_type.name}) for built-in {name}"
            )
        shallow = self.shallow_value(op)
        number = shallow.length if name == "len" else shallow.capacity
        if shallow.is_nil and go_type.kind != Kind.STRING:
            number = 0
        if number is None or shallow.error:
            raise ExpressionError(f"{name}({op.source}): {shallow.error or 'unknown'}")
        return self.typed_scalar(int_type, int(number), source)

    def shallow_value(self, op: Operand) -> Value:
        """The operand decoded without its elements (for len and cap)."""
        if op.value is not None:
            _refuse_marked(op.value, op.source)
            return op.value
        shallow = Decoder(self.program, Settings(max_elements=0, max_string=0, max_depth=1))
        assert op.go_type is not None
        if op.data is not None:
            return shallow.decode_bytes(op.go_type, op.data, None)
        assert op.address is not None
        return shallow.decode(op.go_type, op.address)

    def convert(self, op: Operand, target: GoType, source: str) -> Operand:
        self.check_usable(op)
        kind = target.kind
        if op.literal is not None:
            if op.go_type is not None and op.go_type.name == target.name:
                return op
            raise ExpressionError(f"cannot convert {op.source} to type {target.name}")
        source_kind = op.go_type.kind if op.go_type is not None else None
        if kind in (Kind.POINTER, Kind.UNSAFE_POINTER, Kind.UINTPTR):
            pointer_like = (Kind.POINTER, Kind.UNSAFE_POINTER, Kind.UINTPTR)
            if (
                op.go_type is None
                or source_kind in pointer_like
                or (kind == Kind.UINTPTR and source_kind in INTEGER_KINDS)
                or (kind == Kind.UNSAFE_POINTER and source_kind in INTEGER_KINDS)
            ):
                value = self.scalar(op)
                if isinstance(value, _Nil):
                    value = 0
                if isinstance(value, float) and value.is_integer():
                    value = int(value)
                if not isinstance(value, int) or isinstance(value, bool):
                    raise ExpressionError(f"cannot convert {op.source} ({op.type_name}) to type {target.name}")
                if kind == Kind.POINTER and source_kind == Kind.POINTER and op.go_type is not None:
                    if op.go_type.name != target.name and _underlying_differs(op.go_type, target):
                        raise ExpressionError(
                            f"cannot convert {op.source} (type {op.go_type.name}) to type {target.name} "
                            f"(go through unsafe.Pointer)"
                        )
                return Operand(
                    target, source, data=(value & ((1 << (8 * self.ptr_size)) - 1)).to_bytes(self.ptr_size, "little")
                )
        if kind in INTEGER_KINDS or kind in FLOAT_KINDS or kind in COMPLEX_KINDS:
            value = self.scalar(op)
            if isinstance(value, (bytes, _Nil)) or isinstance(value, bool):
                raise ExpressionError(f"cannot convert {op.source} ({op.type_name}) to type {target.name}")
            if kind in INTEGER_KINDS:
                if isinstance(value, complex):
                    raise ExpressionError(f"cannot convert {op.source} ({op.type_name}) to type {target.name}")
                if isinstance(value, float):
                    if value != value or value in (float("inf"), float("-inf")):
                        raise ExpressionError(f"cannot convert {op.source} to type {target.name}")
                    if op.go_type is None and not value.is_integer():
                        raise ExpressionError(
                            f"cannot convert {op.source} (untyped float constant) to type {target.name} (truncated)"
                        )
                    value = int(value)
                if op.go_type is None:  # a constant must fit (the Go spec, "Conversions")
                    _convert_constant(value, target, op.source)
                return self.typed_scalar(target, value, source)
            if kind in FLOAT_KINDS:
                if isinstance(value, complex):
                    raise ExpressionError(f"cannot convert {op.source} ({op.type_name}) to type {target.name}")
                return self.typed_scalar(target, float(value), source)
            return self.typed_scalar(target, complex(value), source)
        if kind == Kind.STRING:
            if source_kind == Kind.STRING or (op.go_type is None and isinstance(op.constant, bytes)):
                if op.go_type is None:
                    return Operand(None, source, constant=op.constant)
                return _retyped(op, target, source)
            if (
                source_kind == Kind.SLICE
                and op.go_type is not None
                and _elem(op.go_type).kind in (Kind.UINT8, Kind.INT32)
            ):
                data = self.raw(op)
                return (
                    _retyped(Operand(op.go_type, op.source, data=data[: 2 * self.ptr_size]), target, source)
                    if _elem(op.go_type).kind == Kind.UINT8
                    else self._runes_to_string(op, source)
                )
            value = self.scalar(op)
            if isinstance(value, int) and not isinstance(value, bool):
                text = chr(value) if 0 <= value <= 0x10FFFF and not 0xD800 <= value <= 0xDFFF else "\ufffd"
                return Operand(None, source, constant=text.encode("utf-8"))
            raise ExpressionError(f"cannot convert {op.source} ({op.type_name}) to type {target.name}")
        if kind == Kind.SLICE and source_kind == Kind.STRING and _elem(target).kind == Kind.UINT8:
            data = self.raw(op)
            length = self.word(data, self.ptr_size)
            return Operand(target, source, data=data[: 2 * self.ptr_size] + length.to_bytes(self.ptr_size, "little"))
        if op.go_type is not None and op.go_type.kind == kind and op.go_type.size == target.size:
            if _underlying_differs(op.go_type, target):
                raise ExpressionError(f"cannot convert {op.source} (type {op.go_type.name}) to type {target.name}")
            return _retyped(op, target, source)
        raise ExpressionError(f"cannot convert {op.source} ({op.type_name}) to type {target.name}")

    def _runes_to_string(self, op: Operand, source: str) -> Operand:
        data = self.raw(op)
        pointer, length = self.word(data), self.word(data, self.ptr_size)
        if length > MAX_KEY_STRING // 4:
            raise ExpressionError(f"{op.source} is too long to convert ({length} runes)")
        try:
            blob = self.decoder.memory.read(pointer, 4 * length) if length else b""
        except MemoryReadError:
            raise ExpressionError(f"{op.source}: unreadable at {pointer:#x}") from None
        runes = struct.unpack(f"<{length}i", blob)
        text = "".join(chr(r) if 0 <= r <= 0x10FFFF and not 0xD800 <= r <= 0xDFFF else "\ufffd" for r in runes)
        return Operand(None, source, constant=text.encode("utf-8"))


# -- Go's selector rule ----------------------------------------------------------------
class AmbiguousSelector(ExpressionError):
    pass


def find_field(struct_type: GoType, name: str, source: str = "") -> Optional[list[Field]]:
    """The path of fields to ``name`` in ``struct_type`` by Go's selector rule:
    the shallowest depth wins; two at the same depth are ambiguous
    (AmbiguousSelector names both paths); embedded pointers are followed; a
    struct type already searched at a shallower depth is not searched again, so
    self-embedding ends.  None when there is no such field."""
    level: list[tuple[GoType, list[Field]]] = [(struct_type, [])]
    seen: set[object] = set()
    for _ in range(MAX_SELECTOR_DEPTH):
        found: list[list[Field]] = []
        following: list[tuple[GoType, list[Field]]] = []
        searched_here: set[object] = set()
        for go_type, path in level:
            identity = _type_identity(go_type)
            if identity in seen:
                continue
            searched_here.add(identity)
            for member in go_type.fields:
                if member.name == name:
                    found.append(path + [member])
                if member.embedded and len(following) < MAX_EMBEDDED_PER_LEVEL:
                    inner = member.type
                    if inner.kind == Kind.POINTER and inner.elem is not None:
                        inner = inner.elem
                    if inner.kind == Kind.STRUCT:
                        following.append((inner, path + [member]))
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            spelled = [".".join([struct_type.name.rsplit(".", 1)[-1]] + [m.name for m in path]) for path in found[:2]]
            raise AmbiguousSelector(
                f"ambiguous selector {source or '.' + name}: {spelled[0]} and {spelled[1]} are at the same depth"
            )
        seen |= searched_here
        level = following
        if not level:
            return None
    return None


def _type_identity(go_type: GoType) -> object:
    """Named types are identical when their names are; a type reader may build one type twice."""
    return go_type.name or id(go_type)


# -- helpers ------------------------------------------------------------------------------
class _TypeNameConstant(str):
    """The result of x.(type): a type's name."""


def describe_key(op: Operand) -> str:
    if op.go_type is None and isinstance(op.constant, bytes):
        return quote_go_string(op.constant)
    if op.go_type is None and not isinstance(op.constant, _Nil):
        return _constant_text(op.constant)
    return op.source


def _elem(go_type: GoType) -> GoType:
    elem = go_type.elem
    if elem is None:
        raise ExpressionError(f"unknown element type of {go_type.name}")
    return elem


def _check_index(position: int, length: int, source: str) -> None:
    if not 0 <= position < length:
        raise ExpressionError(f"index {position} out of range: {source} has length {length}")


def _check_slice(low: int, high: int, maximum: Optional[int], capacity: int, source: str) -> tuple[int, int, int]:
    """(low, high, max) of a slice expression after Go's bounds checks."""
    limit = capacity if maximum is None else maximum
    if maximum is not None and not 0 <= maximum <= capacity:
        raise ExpressionError(f"slice bounds out of range [::{maximum}] with capacity {capacity} ({source})")
    if not 0 <= high <= limit:
        what = "capacity" if maximum is None else "max"
        raise ExpressionError(f"slice bounds out of range [:{high}] with {what} {limit} ({source})")
    if not 0 <= low <= high:
        raise ExpressionError(f"slice bounds out of range [{low}:{high}] ({source})")
    return low, high, limit


def _is_marked(value: Value) -> bool:
    if value.error:
        return True
    return any(value.details.get(key) for key in _MARK_KEYS)


def _refuse_marked(value: Value, source: str) -> None:
    if _is_marked(value):
        reason = value.error or next(key for key in _MARK_KEYS if value.details.get(key)).replace("_", " ")
        if reason == "partial":
            reason = "partly optimized out"
        raise ExpressionError(f"{source} is {reason}" if "optimized" in reason else f"{source}: {reason}")


def _value_bytes(value: Value, go_type: GoType, ptr: int, depth: int = 0) -> Optional[bytes]:
    """The bytes of a value that lives in registers, rebuilt from what the decoder
    read; None when a part of it cannot be rebuilt (or is marked)."""
    if depth > 16 or _is_marked(value):
        return None
    kind = go_type.kind
    try:
        if kind in INTEGER_KINDS or kind == Kind.BOOL or kind in FLOAT_KINDS:
            if value.text is None:
                return None
            if kind == Kind.BOOL:
                return _pack(go_type, value.text == "true")
            if kind in FLOAT_KINDS:
                return _pack(go_type, float(value.text))
            return _pack(go_type, int(value.text, 0))
        if kind in (Kind.POINTER, Kind.UNSAFE_POINTER, Kind.MAP, Kind.CHAN):
            key = {Kind.POINTER: "target", Kind.MAP: "map", Kind.CHAN: "hchan"}.get(kind)
            if value.is_nil:
                return bytes(ptr)
            number = value.details.get(key) if key else int(value.text or "", 16)
            return None if number is None else int(number).to_bytes(ptr, "little")
        if kind == Kind.SLICE:
            if value.is_nil:
                return bytes(3 * ptr)
            if value.length is None or value.capacity is None or not value.children:
                return None
            base = value.children[0][1].address
            if base is None:
                return None
            return b"".join(n.to_bytes(ptr, "little") for n in (base, value.length, value.capacity))
        if kind == Kind.STRUCT:
            out = bytearray(go_type.size)
            children = dict(value.children)
            for member in go_type.fields:
                if member.type.size == 0:
                    continue
                child = children.get(member.name)
                if child is None:
                    return None
                part = _value_bytes(child, member.type, ptr, depth + 1)
                if part is None:
                    return None
                out[member.offset : member.offset + member.type.size] = part
            return bytes(out)
        if kind == Kind.ARRAY:
            elem = go_type.elem
            if elem is None or len(value.children) != go_type.length:
                return None
            parts = [_value_bytes(child, elem, ptr, depth + 1) for _, child in value.children]
            if any(part is None for part in parts):
                return None
            return b"".join(part for part in parts if part is not None)
    except (ValueError, OverflowError, struct.error):
        return None
    return None


def _pack(go_type: GoType, number: Union[int, float, complex, bool]) -> bytes:
    kind, size = go_type.kind, go_type.size
    if kind == Kind.BOOL:
        return b"\x01" if number else b"\x00"
    if kind in INTEGER_KINDS or kind in (Kind.POINTER, Kind.UNSAFE_POINTER):
        return (int(number.real if isinstance(number, complex) else number) & ((1 << (8 * size)) - 1)).to_bytes(
            size, "little"
        )
    if kind in FLOAT_KINDS:
        return struct.pack("<f" if size == 4 else "<d", float(number.real if isinstance(number, complex) else number))
    if kind in COMPLEX_KINDS:
        value = complex(number)
        fmt = "<ff" if size == 8 else "<dd"
        return struct.pack(fmt, value.real, value.imag)
    raise ExpressionError(f"cannot hold a number in {go_type.name}")


def _scalar_from_bytes(go_type: GoType, data: bytes) -> Constant:
    kind, size = go_type.kind, go_type.size
    if len(data) < size:
        raise ExpressionError(f"short read of {go_type.name}")
    if kind == Kind.BOOL:
        return data[0] != 0
    if kind in SIGNED_KINDS:
        return int.from_bytes(data[:size], "little", signed=True)
    if kind in UNSIGNED_KINDS or kind in (Kind.POINTER, Kind.UNSAFE_POINTER, Kind.CHAN, Kind.MAP, Kind.FUNC):
        return int.from_bytes(data[:size], "little")
    if kind in FLOAT_KINDS:
        return float(struct.unpack("<f" if size == 4 else "<d", data[:size])[0])
    if kind in COMPLEX_KINDS:
        half = size // 2
        fmt = "<f" if half == 4 else "<d"
        return complex(struct.unpack(fmt, data[:half])[0], struct.unpack(fmt, data[half:size])[0])
    raise ExpressionError(f"{go_type.name} is not a scalar")


def _convert_constant(constant: Any, go_type: GoType, source: str) -> Any:
    """An untyped constant as a value of ``go_type`` (in comparable form), with Go's range checks."""
    kind = go_type.kind
    if isinstance(constant, _Nil):
        if kind in (Kind.POINTER, Kind.UNSAFE_POINTER, Kind.CHAN, Kind.MAP, Kind.FUNC, Kind.SLICE):
            return 0
        raise ExpressionError(f"cannot use nil as {go_type.name} value")
    if kind == Kind.BOOL:
        if isinstance(constant, bool):
            return constant
    elif kind == Kind.STRING:
        if isinstance(constant, bytes):
            return constant
    elif kind in INTEGER_KINDS and not isinstance(constant, (bool, bytes)):
        number = constant
        if isinstance(number, complex) and number.imag == 0:
            number = number.real
        if isinstance(number, float) and number.is_integer():
            number = int(number)
        if isinstance(number, int):
            bits = 8 * go_type.size
            low, high = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if kind in SIGNED_KINDS else (0, (1 << bits) - 1)
            if not low <= number <= high:
                raise ExpressionError(f"cannot use {source} as {go_type.name} value (overflows)")
            return number
        raise ExpressionError(f"cannot use {source} as {go_type.name} value (truncated)")
    elif kind in FLOAT_KINDS and isinstance(constant, (int, float)) and not isinstance(constant, bool):
        value = float(constant)
        if go_type.size == 4:
            value = struct.unpack("<f", struct.pack("<f", value))[0]
        return value
    elif kind in COMPLEX_KINDS and isinstance(constant, (int, float, complex)) and not isinstance(constant, bool):
        return complex(constant)
    raise ExpressionError(f"cannot use {source} ({_constant_kind(constant)} constant) as {go_type.name} value")


def _default_type(constant: Any) -> str:
    if isinstance(constant, bool):
        return "bool"
    if isinstance(constant, int):
        return "int"
    if isinstance(constant, float):
        return "float64"
    if isinstance(constant, complex):
        return "complex128"
    return "string"


def _constant_kind(constant: Any) -> str:
    if isinstance(constant, _Nil):
        return "nil"
    return {"int": "int", "float64": "float", "complex128": "complex", "string": "string", "bool": "bool"}[
        _default_type(constant)
    ]


def _zero(go_type: GoType, depth: int) -> Any:
    if depth > 16:
        raise ExpressionError("type nested too deeply")
    kind = go_type.kind
    if kind == Kind.STRUCT:
        return tuple(_zero(member.type, depth + 1) for member in go_type.fields if member.name != "_")
    if kind == Kind.ARRAY:
        if go_type.length > 4096:
            raise ExpressionError(f"{go_type.name} is too long for a literal key")
        elem = _elem(go_type)
        return tuple(_zero(elem, depth + 1) for _ in range(go_type.length))
    if kind == Kind.STRING:
        return b""
    if kind == Kind.BOOL:
        return False
    if kind in FLOAT_KINDS:
        return 0.0
    if kind in COMPLEX_KINDS:
        return 0j
    if kind == Kind.INTERFACE:
        return None
    return 0


def _go_equal(left: Any, right: Any) -> bool:
    """Go's == on two comparable forms of one key type: both sides were
    converted to that type, and interface forms carry the dynamic type's name,
    so Python's == decides (it too says NaN != NaN and 0.0 == -0.0)."""
    return bool(left == right)


def _underlying_differs(source: GoType, target: GoType) -> bool:
    """A conservative identical-underlying-type check for conversions between named types."""
    if source.kind != target.kind or source.size != target.size:
        return True
    if source.kind == Kind.STRUCT:
        left = [(m.name, m.offset, m.type.size) for m in source.fields]
        right = [(m.name, m.offset, m.type.size) for m in target.fields]
        return left != right
    return False


def _retyped(op: Operand, target: GoType, source: str) -> Operand:
    if op.value is not None and op.address is None and op.data is None:
        raise ExpressionError(f"{op.source} lives in registers: convert it after printing it whole")
    return Operand(target, source, address=op.address, data=op.data)


def _compare(operator: str, left: Any, right: Any, source: str) -> bool:
    if isinstance(left, _Nil) or isinstance(right, _Nil):
        if operator not in ("==", "!="):
            raise ExpressionError(f"invalid operation: {source} (operator {operator} not defined on nil)")
        equal = (left == 0 or isinstance(left, _Nil)) and (right == 0 or isinstance(right, _Nil))
        return equal if operator == "==" else not equal
    if isinstance(left, bool) != isinstance(right, bool) or isinstance(left, bytes) != isinstance(right, bytes):
        raise ExpressionError(f"invalid operation: {source} (mismatched types)")
    if operator == "==":
        return bool(left == right)
    if operator == "!=":
        return bool(left != right)
    if isinstance(left, (bool, complex)) or isinstance(right, (bool, complex)):
        raise ExpressionError(f"invalid operation: {source} (operator {operator} not defined)")
    comparisons: dict[str, Callable[[Any, Any], bool]] = {
        "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b,
        ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b,
    }
    return comparisons[operator](left, right)


def _arithmetic(operator: str, left: Any, right: Any, source: str, typed: Optional[GoType]) -> Any:
    if isinstance(left, bytes) and isinstance(right, bytes) and operator == "+":
        return left + right
    if not (_is_number(left) and _is_number(right)):
        raise ExpressionError(f"invalid operation: {source} (operator {operator} not defined on these operands)")
    if isinstance(left, int) and isinstance(right, int):
        return _integer_arithmetic(operator, left, right, source)
    if typed is not None and typed.kind in INTEGER_KINDS:
        raise ExpressionError(f"invalid operation: {source} (truncated: {typed.name} needs integers)")
    if operator not in ("+", "-", "*", "/"):
        raise ExpressionError(f"invalid operation: operator {operator} not defined on {source} (not integers)")
    if operator == "/" and right == 0:
        raise ExpressionError(f"invalid operation: division by zero ({source})")
    number_left: complex = left
    number_right: complex = right
    results = {
        "+": lambda: number_left + number_right,
        "-": lambda: number_left - number_right,
        "*": lambda: number_left * number_right,
        "/": lambda: number_left / number_right,
    }
    return results[operator]()


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, complex)) and not isinstance(value, bool)


def _integer_arithmetic(operator: str, left: int, right: int, source: str) -> int:
    if operator in ("/", "%") and right == 0:
        raise ExpressionError(f"invalid operation: division by zero ({source})")
    if operator in ("<<", ">>"):
        if right < 0:
            raise ExpressionError(f"invalid operation: negative shift count ({source})")
        if right > 4096:
            raise ExpressionError(f"invalid operation: shift count too large ({source})")
    if operator == "/":
        quotient = abs(left) // abs(right)
        return quotient if (left >= 0) == (right >= 0) else -quotient  # Go truncates toward zero
    if operator == "%":
        remainder = abs(left) % abs(right)
        return remainder if left >= 0 else -remainder  # the sign of the dividend, as Go
    results: dict[str, Callable[[int, int], int]] = {
        "+": lambda a, b: a + b,
        "-": lambda a, b: a - b,
        "*": lambda a, b: a * b,
        "<<": lambda a, b: a << b,
        ">>": lambda a, b: a >> b,
        "&": lambda a, b: a & b,
        "|": lambda a, b: a | b,
        "^": lambda a, b: a ^ b,
        "&^": lambda a, b: a & ~b,
    }
    if operator not in results:
        raise ExpressionError(f"operator {operator} is not supported")
    return results[operator](left, right)


def _constant_text(constant: Any) -> str:
    if isinstance(constant, _TypeNameConstant):
        return str(constant)
    if isinstance(constant, bool):
        return "true" if constant else "false"
    if isinstance(constant, int):
        return str(constant)
    if isinstance(constant, float):
        return format_float(constant)
    if isinstance(constant, complex):
        return format_complex(constant.real, constant.imag)
    if isinstance(constant, bytes):
        return quote_go_string(constant)
    return "nil"


def _constant_value(constant: Any) -> Value:
    if isinstance(constant, _TypeNameConstant):
        return Value("type", "type", text=str(constant))
    if isinstance(constant, _Nil):
        return Value("nil", "nil", text="nil", is_nil=True)
    kind = _constant_kind(constant)
    if isinstance(constant, bytes):
        return Value("string", "string", text=quote_go_string(constant), length=len(constant))
    return Value(f"untyped {kind}", kind if kind != "float" else "float64", text=_constant_text(constant))


__all__ = [
    "AmbiguousSelector",
    "Evaluator",
    "ExpressionError",
    "Operand",
    "Scope",
    "evaluate",
    "find_field",
    "frame_scope",
]


def frame_scope(program: "GoProgram", decoder: Decoder, record: Any, frame_index: int) -> Scope:
    """Identifiers of one frame of a goroutine: its variables, then its package's.

    A closure inlined into the function that defines it has no DWARF entries
    for the variables it captured: they are the defining function's own, in
    the same physical frame.  Its body sees them by Go's scoping, so they are
    looked up there too (the closure's own variables shadow them)."""
    frames = program.stack(record).frames
    function = frames[frame_index].function if 0 <= frame_index < len(frames) else ""
    enclosing = inlined_closure_parents(frames, frame_index)
    line = frames[frame_index].line if enclosing else 0

    def load() -> list[tuple[str, Value, bool]]:
        # Outermost first: Scope.local takes the last match as the innermost.
        out: list[tuple[str, Value, bool]] = []
        for parent in reversed(enclosing):
            out += frame_variables(program, record, parent, decoder.settings, declared_by_line=line)
        return out + frame_variables(program, record, frame_index, decoder.settings)

    return Scope(program, locals_loader=load, package=function_package(function))


MAX_CLOSURE_NESTING = 16


def inlined_closure_parents(frames: list[Any], frame_index: int) -> list[int]:
    """The frames (innermost first) of the functions that lexically enclose an
    inlined closure literal and that it is inlined into: frame ``i`` is
    "F.funcN" (also "F.funcN.M", Go's older spelling of nested closures), and
    frame ``i+1``, in the same physical frame, is F."""
    out: list[int] = []
    index = frame_index
    while len(out) < MAX_CLOSURE_NESTING and 0 <= index < len(frames) - 1 and frames[index].inlined:
        closure, parent = frames[index].function, frames[index + 1].function
        if not (closure.startswith(parent + ".") and _is_closure_suffix(closure[len(parent) + 1 :])):
            break
        index += 1
        out.append(index)
    return out


def _is_closure_suffix(suffix: str) -> bool:
    """ "func3", "func3.1", "1", "2.func1": the names Go gives closure literals."""
    parts = suffix.split(".")
    return all(part.isdigit() or (part.startswith("func") and part[4:].isdigit() and len(part) > 4) for part in parts)


def function_package(function: str) -> Optional[str]:
    """The package path of a function name ("net/http.(*Client).Do" -> "net/http")."""
    if not function:
        return None
    slash = function.rfind("/")
    dot = function.find(".", slash + 1)
    return function[:dot] if dot > 0 else None
