"""Check a JSON document against the subset of JSON Schema that
``snapshot.schema.json`` uses, without the jsonschema package (the Pythons
embedded in gdb and lldb rarely have it).

Keywords checked: type, properties, required, additionalProperties, items,
enum, const, oneOf, anyOf, $ref (to ``#/...`` in the same schema).  Anything
else is an annotation and ignored.  Nesting deeper than ``max_depth`` is an
error in itself, so a hostile file cannot exhaust the Python stack here or
later in the renderer.
"""

from __future__ import annotations

from typing import Any, Optional

MAX_DEPTH = 64

_TYPE_CHECKS = {
    "object": lambda value: isinstance(value, dict),
    "array": lambda value: isinstance(value, list),
    "string": lambda value: isinstance(value, str),
    "integer": lambda value: isinstance(value, int) and not isinstance(value, bool),
    "number": lambda value: isinstance(value, (int, float)) and not isinstance(value, bool),
    "boolean": lambda value: isinstance(value, bool),
    "null": lambda value: value is None,
}


class SchemaViolation(ValueError):
    """The document does not follow the schema; the message names where."""


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _where(path: str) -> str:
    return path or "the top level"


class _Checker:
    def __init__(self, schema: dict[str, Any], max_depth: int) -> None:
        self._root = schema
        self._max_depth = max_depth

    def _resolve(self, reference: str) -> dict[str, Any]:
        if not reference.startswith("#"):
            raise SchemaViolation(f"schema reference {reference} is not local")
        node: Any = self._root
        for part in reference[1:].split("/"):
            if not part:
                continue
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(node, dict) or part not in node:
                raise SchemaViolation(f"schema reference {reference} does not resolve")
            node = node[part]
        if not isinstance(node, dict):
            raise SchemaViolation(f"schema reference {reference} does not resolve")
        return node

    def check(self, value: Any, schema: dict[str, Any], path: str, depth: int) -> None:
        if depth > self._max_depth:
            raise SchemaViolation(f"nested more than {self._max_depth} levels deep at {_where(path)}")
        hops = 0
        while "$ref" in schema:  # a reference replaces the schema (draft 2019+ keeps siblings; ours has none)
            hops += 1
            if hops > 32:
                raise SchemaViolation("schema references loop")
            schema = self._resolve(str(schema["$ref"]))
        expected = schema.get("type")
        if expected is not None:
            names = [expected] if isinstance(expected, str) else list(expected)
            if not any(_TYPE_CHECKS.get(name, lambda _value: True)(value) for name in names):
                raise SchemaViolation(f"{_where(path)} is {_describe(value)}, expected {' or '.join(names)}")
        if "const" in schema and value != schema["const"]:
            raise SchemaViolation(f"{_where(path)} must be {schema['const']!r}")
        if "enum" in schema and value not in schema["enum"]:
            shown = repr(value) if isinstance(value, (str, int, float, bool)) or value is None else _describe(value)
            raise SchemaViolation(f"{_where(path)} is {shown[:80]}, not one of the allowed values")
        for keyword in ("oneOf", "anyOf"):
            if keyword in schema:
                self._alternatives(value, schema[keyword], keyword, path, depth)
        if isinstance(value, dict):
            self._object(value, schema, path, depth)
        elif isinstance(value, list) and isinstance(schema.get("items"), dict):
            for index, item in enumerate(value):
                self.check(item, schema["items"], f"{path}[{index}]", depth + 1)

    def _alternatives(self, value: Any, options: list[dict[str, Any]], keyword: str, path: str, depth: int) -> None:
        matched = 0
        first_error: Optional[str] = None
        for option in options:
            try:
                self.check(value, option, path, depth)
                matched += 1
            except SchemaViolation as exc:
                first_error = first_error or str(exc)
        if matched == 0:
            raise SchemaViolation(first_error or f"{_where(path)} matches none of the allowed shapes")
        if keyword == "oneOf" and matched > 1:
            raise SchemaViolation(f"{_where(path)} matches more than one allowed shape")

    def _object(self, value: dict[str, Any], schema: dict[str, Any], path: str, depth: int) -> None:
        for name in schema.get("required", ()):
            if name not in value:
                raise SchemaViolation(f"{_where(path)} lacks the required field {name!r}")
        properties: dict[str, Any] = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        for name, item in value.items():
            child = f"{path}.{name}" if path else str(name)
            if name in properties:
                self.check(item, properties[name], child, depth + 1)
            elif extra is False:
                raise SchemaViolation(f"{_where(path)} has an unexpected field {str(name)[:60]!r}")
            elif isinstance(extra, dict):
                self.check(item, extra, child, depth + 1)
            else:
                self._depth_only(item, child, depth + 1)

    def _depth_only(self, value: Any, path: str, depth: int) -> None:
        """Free-form values still may not nest without bound."""
        pending = [(value, depth)]
        while pending:
            item, level = pending.pop()
            if level > self._max_depth:
                raise SchemaViolation(f"nested more than {self._max_depth} levels deep at {_where(path)}")
            if isinstance(item, dict):
                pending.extend((child, level + 1) for child in item.values())
            elif isinstance(item, list):
                pending.extend((child, level + 1) for child in item)


def validate(document: Any, schema: dict[str, Any], max_depth: int = MAX_DEPTH) -> None:
    """Raise :class:`SchemaViolation` (one line) unless ``document`` follows ``schema``."""
    _Checker(schema, max_depth).check(document, schema, "", 0)


__all__ = ["MAX_DEPTH", "SchemaViolation", "validate"]
