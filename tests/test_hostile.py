"""Strings from a hostile target never reach the terminal raw (issue 9).

The ``hostile`` fixture puts ESC sequences (screen clear, OSC 52 clipboard
write, window title), BEL, C1 controls, DEL, bidi overrides and isolates and
HTML into its strings, map keys, pprof labels, error texts, locals and, through
``//line`` directives, the file names of pclntab and DWARF.  Every text output
of every command, offline, in gdb and in lldb, must hold none of them raw
(only goext's own newlines and tabs); JSON output must give back the exact
strings; the HTML report, opened in headless Chromium, must run no injected
script (no dialog) and show the literal text.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Optional

import pytest

from goext_core.commands import Context, dispatch
from goext_core.program import GoProgram
from goext_core.target.core import CoreTarget
from goext_core.textsafe import unsafe_characters
from support.cores import CoreArtifact, kernel_core
from support.debuggers import require_gdb, run_gdb, run_lldb

VERSIONS = ("1.19", "1.22", "1.27")

# The fixture's constants (tests/programs/hostile/main.go), spelled again here.
ESC_CLEAR_SCREEN = "\x1b[2J\x1b[H"
OSC_CLIPBOARD = "\x1b]52;c;Z29leHQtcHduZWQ=\x07"
OSC_TITLE = "\x1b]0;goext-title\x07"
BELL = "\a"
C1_SEQUENCE = "\u009b31m\u0085\u009d"
BIDI_OVERRIDE = "\u202eesrever\u202c"
BIDI_ISOLATE = "\u2066isolate\u2069\u200f\u061c\u200e"
FAKE_LINE = "\ngoroutine 1 [running]:\r"
DEL_CHAR = "\x7f"
SCRIPT_CLOSE = "</script><script>alert(1)</script><!--"
IMG_ONERROR = "<img src=x onerror=alert(1)>"
HOSTILE_STRING = (
    "goext-hostile:"
    + ESC_CLEAR_SCREEN
    + OSC_CLIPBOARD
    + OSC_TITLE
    + BELL
    + C1_SEQUENCE
    + BIDI_OVERRIDE
    + BIDI_ISOLATE
    + FAKE_LINE
    + DEL_CHAR
)
HOSTILE_MAP = {
    "key" + ESC_CLEAR_SCREEN: "value" + OSC_TITLE,
    "clip" + OSC_CLIPBOARD: "bell" + BELL,
    "rlo" + BIDI_OVERRIDE: "c1" + C1_SEQUENCE,
    "html" + IMG_ONERROR: SCRIPT_CLOSE,
    "line" + FAKE_LINE: "del" + DEL_CHAR,
    "isolate" + BIDI_ISOLATE: "plain",
}
HOSTILE_ERROR = "error text" + OSC_CLIPBOARD + BIDI_OVERRIDE + ESC_CLEAR_SCREEN
WRAPPED_ERROR = "wrapped" + OSC_TITLE + ": " + HOSTILE_ERROR
HOSTILE_LABELS = {
    "label" + OSC_TITLE: "value" + OSC_CLIPBOARD + BIDI_OVERRIDE,
    "html" + IMG_ONERROR: SCRIPT_CLOSE + C1_SEQUENCE,
}
HOSTILE_FILE = "evil" + OSC_CLIPBOARD + OSC_TITLE + "\x1b[2J\u009b31m\u202eog.elif"

GLOBALS = (
    "gHostileString",
    "gHostileHTML",
    "gHostileMap",
    "gHostileSlice",
    "gHostileRecord",
    "gHostileError",
    "gWrappedError",
)


# -- helpers --------------------------------------------------------------------------------
def _go_unquote(literal: str) -> str:
    """The text of a Go double-quoted string literal (strconv.Unquote)."""
    assert literal[0] == '"' and literal[-1] == '"', literal
    body, out, index = literal[1:-1], bytearray(), 0
    simple = {"a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11, "\\": 92, '"': 34}
    while index < len(body):
        char = body[index]
        if char != "\\":
            out += char.encode("utf-8")
            index += 1
            continue
        kind = body[index + 1]
        if kind in simple:
            out.append(simple[kind])
            index += 2
        elif kind == "x":
            out.append(int(body[index + 2 : index + 4], 16))
            index += 4
        else:
            width = 4 if kind == "u" else 8
            out += chr(int(body[index + 2 : index + 2 + width], 16)).encode("utf-8")
            index += 2 + width
    return out.decode("utf-8")


def _raw(outputs: dict[str, str]) -> list[str]:
    """Commands whose text holds a raw control, bidi or format character."""
    return [
        f"{name}: {sorted(set(unsafe_characters(text)))!r}" for name, text in outputs.items() if unsafe_characters(text)
    ]


def _goroutine_running(program: GoProgram, function: str) -> int:
    for record in program.goroutines():
        if any(frame.function == function for frame in program.stack(record).frames):
            return record.id
    raise AssertionError(f"no goroutine runs {function}")


def _text_commands(program: GoProgram) -> list[str]:
    locals_goid = _goroutine_running(program, "main.holdHostileLocals")
    near_goid = _goroutine_running(program, "main.waitNearHostileSource")
    hostile_goid = _goroutine_running(program, "main.waitInHostileFile")
    return (
        ["go goroutines", "go goroutines -t 20", "go goroutines --group", "go bt", "go bt all", "go bt all --full"]
        + [f"go print {name}" for name in GLOBALS]
        + [
            f"go locals {locals_goid}",
            f"go args {locals_goid}",
            f"go list {near_goid}",
            f"go list {hostile_goid}",
            "go list",
            "go info",
            "go info --modules",
            "go deadlock --waits",
            "go threads",
        ]
    )


def _offline(program: GoProgram, command: str) -> str:
    name, _, arguments = command.removeprefix("go ").partition(" ")
    out: list[str] = []
    dispatch(Context(lambda: program), name, arguments, out.append)
    return "".join(out)


def _artifact(go_version: str, flavour: str) -> tuple[CoreArtifact, GoProgram]:
    artifact = kernel_core("hostile", go_version, flavour, "panic")
    return artifact, GoProgram(CoreTarget(str(artifact.exe), str(artifact.core)))


# -- text output ------------------------------------------------------------------------------
@pytest.mark.e2e
@pytest.mark.go_versions(*VERSIONS)
def test_offline_text_output_holds_no_raw_control_or_bidi_character(go_version, flavour):
    _, program = _artifact(go_version, flavour)
    outputs = {command: _offline(program, command) for command in _text_commands(program)}
    assert not _raw(outputs), "\n".join(_raw(outputs))
    everything = "\n".join(outputs.values())
    assert "Traceback" not in everything and "internal error" not in everything, everything[:3000]
    # The hostile text was there, and shows escaped the Go way.
    assert "evil\\x1b]52;c;Z29leHQtcHduZWQ=\\a\\x1b]0;goext-title\\a" in outputs["go goroutines"]
    assert "\\u202eog.elif" in outputs["go bt all"]
    near = next(text for command, text in outputs.items() if command.startswith("go list ") and "raw in the" in text)
    assert "// raw in the source: \\x1b[2J\\x1b]0;goext-title\\a \\u202eesrever\\u202c" in near
    assert "\\u202eog.elif: not on this machine" in outputs["go list"]
    if flavour == "stripped":
        return  # globals are found by name only through a symbol table or DWARF
    assert outputs["go print gHostileString"].strip() == (
        '"goext-hostile:\\x1b[2J\\x1b[H\\x1b]52;c;Z29leHQtcHduZWQ=\\a\\x1b]0;goext-title\\a\\a\\u009b31m\\u0085\\u009d'
        '\\u202eesrever\\u202c\\u2066isolate\\u2069\\u200f\\u061c\\u200e\\ngoroutine 1 [running]:\\r\\x7f"'
    )
    assert '"line\\ngoroutine 1 [running]:\\r": "del\\x7f"' in outputs["go print gHostileMap"]
    assert outputs["go print gWrappedError"].count("\n") == 1
    assert '"wrapped\\x1b]0;goext-title\\a: error text\\x1b]52;c;' in outputs["go print gWrappedError"]


def _check_debugger_outputs(commands: list[str], outputs: list[str]) -> None:
    by_command = dict(zip(commands, outputs))
    assert not _raw(by_command), "\n".join(_raw(by_command))
    assert "Traceback" not in "".join(outputs), "".join(outputs)[:3000]
    assert "evil\\x1b]52;c;" in by_command["go goroutines"]
    assert "\\u202eesrever\\u202c" in by_command["go print gHostileString"]


@pytest.mark.e2e
@pytest.mark.gdb
@pytest.mark.go_versions(*VERSIONS)
@pytest.mark.flavours("default")
def test_gdb_text_output_and_pretty_printers_hold_no_raw_control_character(go_version, flavour):
    require_gdb()
    artifact, program = _artifact(go_version, flavour)
    commands = _text_commands(program)
    printed = [f"print 'main.{name}'" for name in GLOBALS] + [
        "print *'main.gHostileRecord'",
        "print $dtype('main.gWrappedError')",
    ]
    result = run_gdb(commands + printed, exe=artifact.exe, core=artifact.core, env={"GOEXT_QUIET": "1"})
    assert result.completed == len(commands) + len(printed), result.transcript()[-3000:]
    _check_debugger_outputs(commands, result.outputs[: len(commands)])
    pretty = dict(zip(printed, result.outputs[len(commands) :]))
    assert not _raw(pretty), "\n".join(_raw(pretty))
    assert "\\x1b]52;c;" in pretty["print 'main.gHostileString'"], pretty
    assert "\\u202eesrever" in pretty["print 'main.gHostileMap'"], pretty
    assert '"record\\x1b]52;c;' in pretty["print *'main.gHostileRecord'"], pretty


@pytest.mark.e2e
@pytest.mark.lldb
@pytest.mark.go_versions(*VERSIONS)
@pytest.mark.flavours("default")
def test_lldb_text_output_and_summaries_hold_no_raw_control_character(go_version, flavour):
    artifact, program = _artifact(go_version, flavour)
    commands = _text_commands(program)
    # lldb's own views of the hostile globals: goext's summaries and synthetic
    # children print them (through goext's lldb debug file, which gives lldb the
    # Go variables), and must escape them like every other output.
    views = [
        r"target variable -r '^main\.gHostileString$'",
        r"target variable -r '^main\.gHostileMap$'",
        r"target variable -P 1 -r '^main\.gHostileMap$'",
        "target variable main.gHostileString main.gHostileMap",  # through the package variable
    ]
    result = run_lldb(commands + views, exe=artifact.exe, core=artifact.core, env={"GOEXT_QUIET": "1"})
    assert result.completed == len(commands) + len(views), result.transcript()[-3000:]
    _check_debugger_outputs(commands, result.outputs[: len(commands)])
    providers = "".join(result.outputs[len(commands) :])
    assert not unsafe_characters(providers), (sorted(set(unsafe_characters(providers))), providers)
    # The string's text, the map's summary, and its children (one per entry).
    assert 'main.gHostileString = "goext-hostile:' in providers, providers
    assert providers.count("main.gHostileMap = map[string]string len 6") == 3, providers
    assert providers.count('main.gHostileString = "goext-hostile:') == 2, providers
    assert '["html<img src=x onerror=alert(1)>"] = ' in providers, providers
    assert '"goext-hostile:\\x1b[2J' in providers and "map[string]string len 6" in providers, providers
    assert "\\u202eesrever" in providers, providers


# -- JSON output ----------------------------------------------------------------------------------
@pytest.mark.e2e
@pytest.mark.go_versions(*VERSIONS)
@pytest.mark.flavours("default")
def test_json_output_round_trips_the_exact_strings(go_version, flavour, tmp_path):
    _, program = _artifact(go_version, flavour)
    printed = {
        name: _offline(program, f"go print --json {name}")
        for name in ("gHostileString", "gHostileMap", "gWrappedError")
    }
    assert not _raw(printed), "\n".join(_raw(printed))
    string = json.loads(printed["gHostileString"])
    assert _go_unquote(string["value"]) == HOSTILE_STRING
    entries = json.loads(printed["gHostileMap"])["entries"]
    assert {_go_unquote(e["key"]["value"]): _go_unquote(e["value"]["value"]) for e in entries} == HOSTILE_MAP
    assert json.loads(printed["gWrappedError"])["error_message"] == WRAPPED_ERROR

    locals_goid = _goroutine_running(program, "main.holdHostileLocals")
    listing = json.loads(_offline(program, f"go locals --json {locals_goid}"))
    assert listing["function"] == "main.holdHostileLocals"

    snapshot_path = tmp_path / "snapshot.json"
    assert _offline(program, f"go snapshot -o {snapshot_path}").startswith("wrote ")
    snapshot = json.loads(snapshot_path.read_text(encoding="utf-8"))
    labelled = [g for g in snapshot["goroutines"] if g["labels"]]
    assert [g["labels"] for g in labelled] == [HOSTILE_LABELS]
    files = {frame["file"] for g in snapshot["goroutines"] for frame in g["frames"]}
    # Go 1.27 joins a relative //line file name with the source directory; older releases keep it as written.
    assert any(file == HOSTILE_FILE or file.endswith("/" + HOSTILE_FILE) for file in files), sorted(files)
    piped = _offline(program, "go snapshot -o -")
    assert not unsafe_characters(piped) and json.loads(piped)["goroutines"][0]["frames"]


# -- the HTML report in a browser -------------------------------------------------------------------
class _DevTools:
    """Chromium's DevTools protocol over --remote-debugging-pipe (fd 3: commands
    in, fd 4: replies and events out, each a JSON text ended by NUL)."""

    def __init__(self, chromium: str, profile: str) -> None:
        to_browser_read, self._to_browser = os.pipe()
        self._from_browser, from_browser_write = os.pipe()

        def wire_pipes() -> None:  # in the child, before exec
            os.dup2(to_browser_read, 3)
            os.dup2(from_browser_write, 4)

        self.process = subprocess.Popen(
            [
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--remote-debugging-pipe",
                f"--user-data-dir={profile}",
                "about:blank",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=wire_pipes,
            pass_fds=(3, 4),
        )
        os.close(to_browser_read)
        os.close(from_browser_write)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []

    def send(
        self, method: str, params: Optional[dict[str, Any]] = None, session: Optional[str] = None, timeout: float = 60.0
    ) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            reply = self._read_one(deadline)
            if reply.get("id") == self._next_id:
                assert "error" not in reply, reply
                return reply.get("result", {})
            self.events.append(reply)
            self._answer_dialogs(reply)
        raise AssertionError(f"no reply to {method}")

    def _answer_dialogs(self, event: dict[str, Any]) -> None:
        if event.get("method") == "Page.javascriptDialogOpening":  # dismiss it, or the page blocks
            message = {
                "id": 0,
                "method": "Page.handleJavaScriptDialog",
                "params": {"accept": False},
                "sessionId": event.get("sessionId"),
            }
            os.write(self._to_browser, json.dumps(message).encode() + b"\0")

    def _read_one(self, deadline: float) -> dict[str, Any]:
        import select

        while b"\0" not in self._buffer:
            ready, _, _ = select.select([self._from_browser], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                raise AssertionError("Chromium sent nothing in time")
            chunk = os.read(self._from_browser, 1 << 20)
            if not chunk:
                raise AssertionError("Chromium closed its DevTools pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)  # type: ignore[no-any-return]

    def close(self) -> None:
        try:
            os.write(self._to_browser, json.dumps({"id": -1, "method": "Browser.close"}).encode() + b"\0")
            self.process.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()
        finally:
            os.close(self._to_browser)
            os.close(self._from_browser)


# Run in the page: open every group and the goroutine with locals, then report what is there.
_EXPLORE = """(() => {
  for (const head of document.querySelectorAll('.group .head')) head.click();
  const links = [...document.querySelectorAll('.group')].filter(g => g.textContent.includes('holdHostileLocals'))
    .flatMap(g => [...g.querySelectorAll('.ids a')]);
  if (links.length) links[0].click();
  const canvas = document.getElementById('icicle'), tip = document.getElementById('tip');
  const box = canvas ? canvas.getBoundingClientRect() : {height: 0};
  for (let y = 5; y < box.height; y += 18)
    canvas.dispatchEvent(new MouseEvent('mousemove', {clientX: box.left + 20, clientY: box.top + y}));
  return JSON.stringify({rendered: document.body.getAttribute('data-rendered'), text: document.body.textContent,
    tip: tip ? tip.textContent : null, title: document.title,
    elements: [...document.querySelectorAll('img, iframe, object, embed, a[href], [onerror], [onmouseover]')].length,
    scripts: document.querySelectorAll('script').length});
})()"""


def _explore_report(page: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    from test_report import _chromium

    with tempfile.TemporaryDirectory(prefix="goext-chromium-") as profile:
        tools = _DevTools(_chromium(), profile)
        try:
            target = tools.send("Target.createTarget", {"url": "about:blank"})["targetId"]
            session = tools.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            for domain in ("Page.enable", "Runtime.enable", "Log.enable"):
                tools.send(domain, session=session)
            tools.send("Page.navigate", {"url": page.as_uri()}, session=session)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                state = tools.send(
                    "Runtime.evaluate",
                    {
                        "expression": "document.body && document.body.getAttribute('data-rendered')",
                        "returnByValue": True,
                    },
                    session=session,
                )
                if state["result"].get("value") == "yes":
                    break
                time.sleep(0.2)
            found = tools.send("Runtime.evaluate", {"expression": _EXPLORE, "returnByValue": True}, session=session)
            time.sleep(0.5)  # let anything an injection scheduled run
            tools.send("Runtime.evaluate", {"expression": "1"}, session=session)
            return json.loads(found["result"]["value"]), tools.events
        finally:
            tools.close()


def _dialogs_and_errors(events: list[dict[str, Any]]) -> list[str]:
    bad = []
    for event in events:
        method = event.get("method")
        if method == "Page.javascriptDialogOpening":
            bad.append(f"dialog: {event['params'].get('message')!r}")
        elif method == "Runtime.exceptionThrown":
            bad.append(f"exception: {event['params']['exceptionDetails'].get('text')}")
        elif method == "Log.entryAdded" and "Content Security Policy" in event["params"]["entry"].get("text", ""):
            bad.append(f"CSP violation: {event['params']['entry']['text']}")
    return bad


@pytest.mark.e2e
@pytest.mark.go_versions("1.27")
@pytest.mark.flavours("default")
def test_report_of_the_hostile_core_runs_no_injected_script_and_shows_the_literal_text(go_version, flavour, tmp_path):
    _, program = _artifact(go_version, flavour)
    page = tmp_path / "report.html"
    assert _offline(program, f"go report --html {page} --locals").startswith("wrote ")
    found, events = _explore_report(page)
    assert found["rendered"] == "yes", found
    assert not _dialogs_and_errors(events), _dialogs_and_errors(events)
    assert found["elements"] == 0 and found["scripts"] == 2, found
    assert HOSTILE_FILE in found["text"], found["text"][:3000]


def _hostile_snapshot() -> dict[str, Any]:
    """A snapshot whose every string field is hostile: names, files, states, notes, locals."""
    evil = SCRIPT_CLOSE + IMG_ONERROR + '" onmouseover="alert(2)" \'><a href="javascript:alert(3)">x</a>' + OSC_TITLE
    frames = [
        {
            "function": "main.f" + evil,
            "file": "/src/" + evil + ".go",
            "line": 7,
            "pc": 4198400,
            "sp": 1,
            "inlined": False,
            "stack": "goroutine",
            "locals": [
                {"name": "v" + evil, "type": "string" + evil, "value": '"' + evil + '"', "kind": "string", "arg": False}
            ],
        },
        {
            "function": "runtime.goexit",
            "file": "/go/src/runtime/asm_amd64.s",
            "line": 1700,
            "pc": 4198500,
            "sp": 2,
            "inlined": False,
            "stack": "goroutine",
        },
    ]
    goroutine = {
        "id": 1,
        "address": 0,
        "state": "chan receive" + evil,
        "status": 4,
        "wait_reason": evil,
        "wait_minutes": None,
        "locked_to_thread": False,
        "system": False,
        "thread": None,
        "m": None,
        "parent": None,
        "labels": {evil: evil},
        "frames": frames,
        "created_by": {"function": "main.g" + evil, "file": evil, "line": 3, "goroutine": None},
        "error": None,
    }
    return {
        "format": "goext.snapshot/2",
        "target": {
            "go_version": "go1.27" + evil,
            "goos": "linux",
            "goarch": "amd64",
            "executable": "/srv/" + evil,
            "core": "/srv/core" + evil,
            "has_dwarf": True,
            "build": None,
        },
        "scheduler": None,
        "gc": None,
        "threads": [
            {
                "tid": 1,
                "pc": 1,
                "sp": 1,
                "m": 0,
                "goroutine": 1,
                "p": None,
                "role": evil,
                "locked_goroutine": None,
                "in_syscall": False,
                "in_cgo": False,
                "frames": [{"pc": 1, "function": evil, "location": evil}],
            }
        ],
        "goroutines": [goroutine],
        "notes": [evil],
    }


@pytest.mark.e2e
def test_report_of_a_snapshot_with_html_everywhere_runs_no_injected_script(tmp_path):
    from goext_core.output.report import write_report

    page = tmp_path / "evil.html"
    snapshot = _hostile_snapshot()
    deadlock = {
        "all_asleep": True,
        "user_goroutines": 1,
        "progressing": [],
        "cycles": [[1]],
        "notes": [],
        "stuck": [
            {
                "goroutine": 1,
                "state": SCRIPT_CLOSE,
                "location": IMG_ONERROR,
                "waits_on": [IMG_ONERROR],
                "evidence": [SCRIPT_CLOSE],
            }
        ],
    }
    write_report(str(page), snapshot, deadlock)
    found, events = _explore_report(page)
    assert found["rendered"] == "yes", found
    assert not _dialogs_and_errors(events), _dialogs_and_errors(events)
    assert found["elements"] == 0 and found["scripts"] == 2, found
    assert SCRIPT_CLOSE + IMG_ONERROR in found["text"], found["text"][:3000]
    assert found["title"].startswith("goext report: /srv/" + SCRIPT_CLOSE), found["title"]


@pytest.mark.e2e
def test_report_heap_section_with_html_in_type_and_root_names_runs_no_injected_script(tmp_path):
    from goext_core.output.report import write_report
    from unit.test_report_heap import heap_section, snapshot_with

    evil = SCRIPT_CLOSE + IMG_ONERROR + '" onmouseover="alert(2)" \'><a href="javascript:alert(3)">x</a>' + OSC_TITLE
    page = tmp_path / "evil-heap.html"
    write_report(str(page), snapshot_with(heap_section(evil)))
    found, events = _explore_report(page)
    assert found["rendered"] == "yes", found
    assert not _dialogs_and_errors(events), _dialogs_and_errors(events)
    assert found["elements"] == 0 and found["scripts"] == 2, found
    for text in ("main.Box[" + evil + "]", "main.gBig" + evil, "main" + evil, "span 0x1 at 0x2: state 85" + evil):
        assert text in found["text"], text
