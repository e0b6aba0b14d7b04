"""The terminal sanitizer (goext_core.textsafe) on its own: what it escapes, how
it spells it (as Go's %q does), and what it must leave alone."""

from __future__ import annotations

import json
import unicodedata

import pytest

from goext_core.commands import Context, dispatch
from goext_core.output.report import _embedded_json, render_html
from goext_core.textsafe import (
    escape_char,
    is_terminal_safe,
    json_for_terminal,
    safe_field,
    safe_output,
    unsafe_characters,
)
from goext_core.values.formatters import format_value
from goext_core.values.model import Value, quote_go_string

pytestmark = pytest.mark.unit

HOSTILE = (
    "\x1b[2J\x1b]52;c;Z29leHQ=\x07\x1b]0;title\x07\a\u009b31m\u0085\x7f\u202eevil\u202c"
    "\u2066iso\u2069\u200e\u200f\u061c\u200b\ufeff\u2028\u2029\U000e0041\udc9b\r\x00"
)


def test_escapes_are_spelled_as_go_quote_spells_them() -> None:
    assert escape_char("\x1b") == "\\x1b"
    assert escape_char("\x07") == "\\a" and escape_char("\r") == "\\r" and escape_char("\v") == "\\v"
    assert escape_char("\x7f") == "\\x7f"
    assert escape_char("\u009b") == "\\u009b"
    assert escape_char("\u202e") == "\\u202e"
    assert escape_char("\U000e0041") == "\\U000e0041"
    assert escape_char("\udcff") == "\\xff"  # a byte that was not UTF-8 (surrogateescape)


def test_field_escapes_every_control_bidi_and_format_character() -> None:
    text = safe_field(HOSTILE + "\n\t")
    assert is_terminal_safe(text, keep_layout=False)
    assert text == (
        "\\x1b[2J\\x1b]52;c;Z29leHQ=\\a\\x1b]0;title\\a\\a\\u009b31m\\u0085\\x7f\\u202eevil\\u202c"
        "\\u2066iso\\u2069\\u200e\\u200f\\u061c\\u200b\\ufeff\\u2028\\u2029\\U000e0041\\x9b\\r\\x00\\n\\t"
    )


def test_output_keeps_layout_newlines_and_tabs_only() -> None:
    assert safe_output("a\n\tb\n") == "a\n\tb\n"
    assert safe_output("x\ry\x0bz\x0c") == "x\\ry\\vz\\f"
    assert unsafe_characters(safe_output(HOSTILE)) == []


@pytest.mark.parametrize("category", ["Cc", "Cf", "Zl", "Zp"])
def test_every_control_and_format_code_point_of_this_unicode_is_escaped(category: str) -> None:
    missed = [
        f"U+{code:04X}"
        for code in range(0x110000)
        if unicodedata.category(chr(code)) == category and chr(code) not in "\n\t" and is_terminal_safe(chr(code))
    ]
    assert not missed, missed


def test_ordinary_text_passes_unchanged_and_escaping_is_idempotent() -> None:
    ordinary = 'main.(*T).Method[...] at /src/ünï 字/x.go:12 "quoted\\x1b" → ok é ☃ 😀'
    assert safe_output(ordinary) == ordinary == safe_field(ordinary)
    once = safe_output(HOSTILE)
    assert safe_output(once) == once and safe_field(safe_field(HOSTILE)) == safe_field(HOSTILE)


def test_go_quoted_strings_escape_c1_bidi_and_format_characters() -> None:
    quoted = quote_go_string('a\u009b\u202e\u2066\x1b"\\'.encode() + b"\xff")
    assert quoted == '"a\\u009b\\u202e\\u2066\\x1b\\"\\\\\\xff"'
    assert safe_output(quoted) == quoted


def test_format_value_escapes_names_that_come_from_the_target() -> None:
    value = Value("main.T\x1b]0;x\x07", "struct", None)
    value.children = [("F\u202e", Value("string", "string", None, text=quote_go_string(b"\x1b[2J")))]
    assert format_value(value) == 'main.T\\x1b]0;x\\a{F\\u202e: "\\x1b[2J"}'


def test_json_for_terminal_is_safe_and_decodes_to_the_exact_text() -> None:
    data = {"s": HOSTILE.replace("\udc9b", ""), "k\u202e": ["\x7f", "\U000e0041"]}
    text = json_for_terminal(data)
    assert is_terminal_safe(text) and safe_output(text) == text
    assert json.loads(text) == data


def test_dispatch_writes_nothing_raw_even_when_a_renderer_forgets() -> None:
    from goext_core import commands

    def careless(context: Context, args: object, write) -> None:
        write("line one " + HOSTILE + "\nline two\n")

    commands.COMMANDS["__careless"] = commands.CommandSpec("__careless", "test", lambda parser: None, careless)
    try:
        out: list[str] = []
        assert dispatch(Context(lambda: None), "__careless", "", out.append)  # type: ignore[arg-type,return-value]
        text = "".join(out)
        assert unsafe_characters(text) == [] and text.count("\n") == 2 and "\\x1b]52;c;" in text
        errors: list[str] = []
        assert not dispatch(Context(lambda: None), "no-such\x1b[2J", "", errors.append)  # type: ignore[arg-type,return-value]
        assert unsafe_characters("".join(errors)) == []
    finally:
        del commands.COMMANDS["__careless"]


def test_report_data_block_holds_no_markup_and_parses_back_exactly() -> None:
    data = {
        "target": {"executable": "/srv/</title><script>alert(1)</script>@DATA@"},
        "x": "</script><!--<script>&amp;\u2028<img src=x onerror=alert(1)>",
    }
    block = _embedded_json(data)
    assert "<" not in block and ">" not in block and "&" not in block
    assert json.loads(block) == data
    page = render_html(data)
    assert page.count("<script") == 2 and page.count("</script>") == 2
    assert "<title>goext report: /srv/&lt;/title&gt;&lt;script&gt;alert(1)&lt;/script&gt;@DATA@</title>" in page
    policy = page.split('http-equiv="Content-Security-Policy" content="', 1)[1].split('"', 1)[0]
    assert "script-src &#x27;sha256-" in policy and "unsafe-inline&#x27;; img" not in policy
    assert "script-src &#x27;unsafe-inline" not in policy and "default-src &#x27;none&#x27;" in policy
