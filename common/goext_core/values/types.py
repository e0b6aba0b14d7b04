"""The debugger-neutral Go type model.

A :class:`GoType` is what the value decoder needs about a type, whatever it was
read from: DWARF (:mod:`goext_core.values.dwarftypes`) or the runtime's own type
descriptors (:mod:`goext_core.values.rtypes`).  Parts that need more reading (struct
fields, element/key types, the runtime struct behind a map or chan) are
resolved lazily through a loader callback, so building ``map[K]V`` does not pull
in every runtime type reachable from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Callable, Optional


class Kind(IntEnum):
    """reflect.Kind / internal/abi.Kind (src/internal/abi/type.go; src/runtime/typekind.go before 1.21)."""

    INVALID = 0
    BOOL = 1
    INT = 2
    INT8 = 3
    INT16 = 4
    INT32 = 5
    INT64 = 6
    UINT = 7
    UINT8 = 8
    UINT16 = 9
    UINT32 = 10
    UINT64 = 11
    UINTPTR = 12
    FLOAT32 = 13
    FLOAT64 = 14
    COMPLEX64 = 15
    COMPLEX128 = 16
    ARRAY = 17
    CHAN = 18
    FUNC = 19
    INTERFACE = 20
    MAP = 21
    POINTER = 22
    SLICE = 23
    STRING = 24
    STRUCT = 25
    UNSAFE_POINTER = 26


SIGNED_KINDS = frozenset({Kind.INT, Kind.INT8, Kind.INT16, Kind.INT32, Kind.INT64})
UNSIGNED_KINDS = frozenset({Kind.UINT, Kind.UINT8, Kind.UINT16, Kind.UINT32, Kind.UINT64, Kind.UINTPTR})
FLOAT_KINDS = frozenset({Kind.FLOAT32, Kind.FLOAT64})
COMPLEX_KINDS = frozenset({Kind.COMPLEX64, Kind.COMPLEX128})
SCALAR_KINDS = SIGNED_KINDS | UNSIGNED_KINDS | FLOAT_KINDS | COMPLEX_KINDS | {Kind.BOOL}

# Chan directions (reflect.ChanDir).
CHAN_RECV, CHAN_SEND, CHAN_BOTH = 1, 2, 3


@dataclass
class Field:
    name: str
    offset: int
    type: "GoType"
    embedded: bool = False


@dataclass(eq=False)
class GoType:
    """One Go type.  ``name`` is Go's spelling ("map[string]main.Point")."""

    name: str
    kind: Kind
    size: int
    runtime_type: int = 0  # address of the runtime type descriptor, 0 if unknown
    length: int = 0  # arrays
    chan_dir: int = CHAN_BOTH
    source: str = "dwarf"  # or "runtime"
    # Lazily resolved parts; the loader fills them in on first access.
    _fields: Optional[list[Field]] = field(default=None, repr=False)
    _elem: Optional["GoType"] = field(default=None, repr=False)
    _key: Optional["GoType"] = field(default=None, repr=False)
    _loader: Optional[Callable[["GoType"], None]] = field(default=None, repr=False)
    # Extra facts the loader may record (e.g. "direct_iface", "nonempty_iface").
    facts: dict[str, object] = field(default_factory=dict, repr=False)

    def _load(self) -> None:
        loader, self._loader = self._loader, None
        if loader is not None:
            loader(self)

    # -- for the type readers (dwarftypes, rtypes) that build types lazily --------------
    def load_parts_with(self, loader: Callable[["GoType"], None]) -> None:
        """Have ``loader`` fill in this type's fields, elem and key (with
        :meth:`set_fields`, :meth:`set_elem`, :meth:`set_key`) on first access."""
        self._loader = loader

    def set_fields(self, fields: Optional[list[Field]]) -> None:
        self._fields = fields

    def set_elem(self, elem: Optional["GoType"]) -> None:
        self._elem = elem

    def set_key(self, key: Optional["GoType"]) -> None:
        self._key = key

    @property
    def fields(self) -> list[Field]:
        self._load()
        return self._fields or []

    @property
    def elem(self) -> Optional["GoType"]:
        self._load()
        return self._elem

    @property
    def key(self) -> Optional["GoType"]:
        self._load()
        return self._key

    def field(self, name: str) -> Optional[Field]:
        for candidate in self.fields:
            if candidate.name == name:
                return candidate
        return None

    @property
    def is_empty_interface(self) -> bool:
        """interface{} / any, stored as eface{_type, data}; others are iface{tab, data}."""
        if self.kind != Kind.INTERFACE:
            return False
        known = self.facts.get("empty_interface")
        if isinstance(known, bool):
            return known
        return self.name in ("interface {}", "interface{}", "any")

    @property
    def package(self) -> str:
        """Package path of a named type ("" for unnamed ones)."""
        base = self.name.split("[", 1)[0]
        if base.startswith(("*", "[", "map[", "chan ", "func(", "struct ", "interface ")):
            return ""
        dot = base.rfind(".")
        return base[:dot] if dot > 0 else ""

    def __repr__(self) -> str:
        return f"GoType({self.name!r}, {self.kind.name}, size={self.size})"


def kind_from_int(value: int) -> Kind:
    try:
        return Kind(value)
    except ValueError:
        return Kind.INVALID
