"""Make text that came from the target safe to print on the analyst's terminal.

A debugged program controls its strings, map keys, pprof labels, error texts,
and (through ``//line`` directives, directory names or a hostile build) its
function names, file names, package and module paths.  Printed raw, such text
can drive the terminal: ESC sequences clear the screen, set the window title
or write the clipboard (OSC 52), BEL rings, C1 controls act as ESC on some
terminals, and Unicode bidi overrides or invisible format characters make the
text read differently from what it is ("Trojan Source").

Every such character is escaped the way Go's ``strconv.Quote`` (``%q``) spells
it: ``\\x1b`` below U+0080, ``\\u202e`` in the BMP, ``\\U000e0041`` above; and
bytes that were not valid UTF-8 (kept by ``surrogateescape`` decoding) as
``\\xNN``.  Backslashes are left alone, so the escaping is idempotent: text that
is already safe (including Go-quoted strings) passes through unchanged, and the
last-line-of-defence pass over a command's whole output never double-escapes.

- :func:`safe_field` is for one value from the target (a file name, a label, a
  module path): it escapes newlines and tabs too, so a target string can never
  start a fake output line.
- :func:`safe_output` is for goext's own output, which uses newlines and tabs
  as layout: it keeps those two and escapes everything else that is unsafe.
JSON output needs neither: JSON escaping keeps the exact text.
"""

from __future__ import annotations

import json
import re
from typing import Any, Optional, Pattern

# Unicode format characters (category Cf), line/paragraph separators (Zl, Zp):
# bidi embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069), the
# marks U+200E/U+200F/U+061C, zero-width characters, the BOM, interlinear
# annotations and the invisible tag characters (U+E0000-U+E007F).  All of them
# change how surrounding text reads or are invisible; Go's %q escapes them too.
_FORMAT_RANGES: tuple[tuple[int, int], ...] = (
    (0x00AD, 0x00AD),
    (0x0600, 0x0605),
    (0x061C, 0x061C),
    (0x06DD, 0x06DD),
    (0x070F, 0x070F),
    (0x0890, 0x0891),
    (0x08E2, 0x08E2),
    (0x180E, 0x180E),
    (0x200B, 0x200F),
    (0x2028, 0x202E),
    (0x2060, 0x2064),
    (0x2066, 0x206F),
    (0xFEFF, 0xFEFF),
    (0xFFF9, 0xFFFB),
    (0x110BD, 0x110BD),
    (0x110CD, 0x110CD),
    (0x13430, 0x1343F),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0000, 0xE007F),
)
# Surrogates: a lone one cannot be printed; U+DC80-U+DCFF are the bytes that
# were not UTF-8 when the target's bytes were decoded with "surrogateescape".
_SURROGATES = (0xD800, 0xDFFF)
_UNDECODABLE_BYTES = (0xDC80, 0xDCFF)

# Go's short escapes (strconv.appendEscapedRune).
_SHORT_ESCAPES: dict[str, str] = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
}


def _class_range(first: int, last: int) -> str:
    return re.escape(chr(first)) if first == last else f"{re.escape(chr(first))}-{re.escape(chr(last))}"


def _unsafe_pattern(keep_layout: bool) -> Pattern[str]:
    # C0 controls, DEL and C1 controls (U+0080-U+009F).
    parts = ["\\x00-\\x08", "\\x0b-\\x1f", "\\x7f-\\x9f"] if keep_layout else ["\\x00-\\x1f", "\\x7f-\\x9f"]
    parts += [_class_range(first, last) for first, last in _FORMAT_RANGES]
    parts.append(_class_range(*_SURROGATES))
    return re.compile("[" + "".join(parts) + "]")


_UNSAFE_IN_FIELD = _unsafe_pattern(keep_layout=False)
_UNSAFE_IN_OUTPUT = _unsafe_pattern(keep_layout=True)


def escape_char(char: str) -> str:
    """Go's %q spelling of one character that must not be printed raw."""
    code = ord(char)
    short = _SHORT_ESCAPES.get(char)
    if short is not None:
        return short
    if _UNDECODABLE_BYTES[0] <= code <= _UNDECODABLE_BYTES[1]:
        return f"\\x{code - 0xDC00:02x}"  # the original byte
    if code < 0x80:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def _escape_match(match: "re.Match[str]") -> str:
    return escape_char(match.group(0))


def safe_field(text: Any) -> str:
    """One value from the target, safe to print inside a line of output.

    Escapes every control, format and bidi character, newline and tab included.
    """
    if not isinstance(text, str):
        text = str(text)
    if text.isprintable():  # no control, format, separator or surrogate character: the common case
        return text
    return _UNSAFE_IN_FIELD.sub(_escape_match, text)


def safe_output(text: str) -> str:
    """A chunk of goext's text output, safe for a terminal: layout newlines and
    tabs stay, every other unsafe character is escaped."""
    if not isinstance(text, str):
        text = str(text)
    if text.isprintable() or (text.endswith("\n") and text[:-1].isprintable()):  # one plain line
        return text
    # Several plain lines (bt all writes 100,000 chunks): every unsafe character
    # is non-printable, and so is nothing else left once newlines are spaces.
    if text.replace("\n", " ").isprintable():
        return text
    if _UNSAFE_IN_OUTPUT.search(text) is None:  # a scan, no new string
        return text
    return _UNSAFE_IN_OUTPUT.sub(_escape_match, text)


def _json_escape_match(match: "re.Match[str]") -> str:
    code = ord(match.group(0))
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000  # a UTF-16 surrogate pair, as JSON spells characters above the BMP
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def json_for_terminal(data: Any, indent: Optional[int] = 1) -> str:
    """``data`` as JSON that keeps non-ASCII text readable but spells every
    unsafe character as a JSON ``\\uXXXX`` escape: it decodes to the exact
    text, and :func:`safe_output` leaves it unchanged."""
    text = json.dumps(data, indent=indent, ensure_ascii=False)
    # Outside strings JSON has only ASCII punctuation, digits and layout
    # whitespace, so every unsafe character found here is inside a string.
    return _UNSAFE_IN_OUTPUT.sub(_json_escape_match, text)


def unsafe_characters(text: str, keep_layout: bool = True) -> list[str]:
    """The characters of ``text`` that :func:`safe_output` (or, without
    ``keep_layout``, :func:`safe_field`) would escape; empty when it is safe."""
    pattern = _UNSAFE_IN_OUTPUT if keep_layout else _UNSAFE_IN_FIELD
    return pattern.findall(text)


def is_terminal_safe(text: str, keep_layout: bool = True) -> bool:
    return not (_UNSAFE_IN_OUTPUT if keep_layout else _UNSAFE_IN_FIELD).search(text)


__all__ = ["escape_char", "is_terminal_safe", "json_for_terminal", "safe_field", "safe_output", "unsafe_characters"]
