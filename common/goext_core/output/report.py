"""``go report --html FILE``: one self-contained HTML page of the whole process.

The page is built from a snapshot (``goext.snapshot/2``, taken now or read from
a file), reduced to what a person looks at: goroutines grouped by identical
stack with counts, a state histogram, an icicle of all stacks together, the
scheduler and thread tables, per-goroutine locals when the snapshot has them,
the deadlock analysis when it was run, and the heap (totals reconciled with
the runtime's figures, top types and packages, and, when the snapshot has
them, the top retainers as an icicle of bars) when the snapshot has a heap
section.  Frames are interned in a string
table and goroutines are folded into groups, so 100,000 goroutines make a page
of a few megabytes at most; the page renders group rows lazily as they scroll
into view and draws the icicle on a canvas, so the DOM stays small.

Offline, from a snapshot file:  python3 -m goext_core.output.report SNAPSHOT.json REPORT.html
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
import sys
from collections import Counter
from typing import Any, Optional

from goext_core.errors import GoextError
from goext_core.output.schemacheck import SchemaViolation, validate
from goext_core.output.snapshot import schema
from goext_core.runtime.stacks import LibraryCode
from goext_core.target.regularfile import open_regular_file

MAX_IDS_PER_GROUP = 2000  # goroutine ids listed per group (the count is always exact)
MAX_LOCAL_TEXT = 300  # characters of one local's value
MAX_LOCALS_BYTES = 8 << 20  # locals embedded in the page, in all
MAX_HEAP_ROWS = 100  # rows of each heap table (types, packages) embedded in the page
MAX_RETAINERS = 200  # top retainers embedded in the page
MAX_HEAP_LINES = 200  # reconciliation lines, problems and notes of the heap section


class _Strings:
    def __init__(self) -> None:
        self.items: list[str] = []
        self.index: dict[str, int] = {}

    def add(self, text: str) -> int:
        position = self.index.get(text)
        if position is None:
            position = self.index[text] = len(self.items)
            self.items.append(text)
        return position


def _goroutine_frames(entry: dict[str, Any]) -> list[dict[str, Any]]:
    return [f for f in entry.get("frames", []) if f.get("stack", "goroutine") == "goroutine"]


def _goroot_src(goroutines: list[dict[str, Any]]) -> Optional[str]:
    """GOROOT/src/ as the frames spell it (from any runtime frame's file)."""
    for entry in goroutines[:1000]:
        for frame in entry.get("frames", []):
            file = str(frame.get("file", ""))
            index = file.rfind("/src/runtime/")
            if index >= 0 and str(frame.get("function", "")).startswith("runtime."):
                return file[: index + len("/src/")]
    return None


def _library_code(snapshot: dict[str, Any], goroot_src: Optional[str]) -> LibraryCode:
    """stacks.LibraryCode from the snapshot: its GOROOT, and the program's own
    module, package and required modules from target.build (-trimpath builds)."""
    build = (snapshot.get("target") or {}).get("build") or {}
    own = [build.get("path"), (build.get("main") or {}).get("path")]
    own += [dep.get("path") for dep in build.get("deps") or [] if isinstance(dep, dict)]
    return LibraryCode(goroot_src, tuple(sorted({path for path in own if isinstance(path, str) and path})))


def _user_location(frames: list[dict[str, Any]], library: LibraryCode) -> Optional[dict[str, Any]]:
    """Like stacks.user_frame: the innermost frame of the program's own code; for a
    runtime goroutine, its outermost real frame (the start function)."""
    for frame in frames:
        if not library.holds_code(str(frame.get("function", "")), str(frame.get("file", ""))):
            return frame
    for frame in reversed(frames):
        if frame.get("function") != "runtime.goexit" and not frame.get("inlined"):
            return frame
    return frames[0] if frames else None


def _count(value: Any) -> Optional[int]:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _heap_rows(rows: Any, limit: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for row in rows if isinstance(rows, list) else []:
        if isinstance(row, dict) and len(out) < limit:
            item = {
                "what": str(row.get("what", "?")),
                "objects": _count(row.get("objects")),
                "bytes": _count(row.get("bytes")),
            }
            if "types" in row:
                item["types"] = _count(row.get("types"))
            out.append(item)
    return out


def _texts(items: Any) -> list[str]:
    return [str(item) for item in items[:MAX_HEAP_LINES]] if isinstance(items, list) else []


def _heap_model(heap: Any) -> Optional[dict[str, Any]]:
    """The snapshot's heap section reduced to what the page shows (strings as text,
    counts as integers or None, lists capped)."""
    if not isinstance(heap, dict):
        return None
    reconciliation: list[dict[str, Any]] = []
    for line in heap.get("reconciliation") or []:
        if isinstance(line, dict) and len(reconciliation) < MAX_HEAP_LINES:
            reconciliation.append(
                {
                    "what": str(line.get("what", "?")),
                    "goext": _count(line.get("goext")),
                    "runtime": _count(line.get("runtime")),
                    "expected": _count(line.get("expected")),
                    "adjustment": _count(line.get("adjustment")) or 0,
                    "source": str(line.get("runtime_source", "")),
                    "why": str(line.get("adjustment_explained", "")),
                    "per_class": bool(line.get("per_class")),
                }
            )
    retainers: list[dict[str, Any]] = []
    for root in heap.get("top_retainers") or []:
        if isinstance(root, dict) and len(retainers) < MAX_RETAINERS:
            retainers.append(
                {
                    "name": str(root.get("name", "?")),
                    "kind": str(root.get("kind", "?")),
                    "bytes": _count(root.get("retained_bytes")) or 0,
                    "objects": _count(root.get("retained_objects")),
                }
            )
    return {
        "objects": _count(heap.get("objects")),
        "bytes": _count(heap.get("bytes")),
        "spans": _count(heap.get("spans")),
        "span_bytes": _count(heap.get("span_bytes")),
        "types_note": str(heap.get("types", "")),
        "reconciled": heap.get("reconciled") is True,
        "reconciliation": reconciliation,
        "top_types": _heap_rows(heap.get("top_types"), MAX_HEAP_ROWS),
        "types_total": _count(heap.get("types_total")),
        "top_packages": _heap_rows(heap.get("top_packages"), MAX_HEAP_ROWS),
        "packages_total": _count(heap.get("packages_total")),
        "top_retainers": retainers if "top_retainers" in heap else None,
        "problems": _texts(heap.get("problems")),
        "notes": _texts(heap.get("notes")),
        "alloc_count_mismatches": _count(heap.get("alloc_count_mismatches")) or 0,
    }


def report_data(snapshot: dict[str, Any], deadlock: Optional[dict[str, Any]] = None) -> dict[str, Any]:
    """The compact model the page's script renders."""
    if not isinstance(snapshot, dict) or not str(snapshot.get("format", "")).startswith("goext.snapshot/"):
        raise GoextError("not a goext snapshot (no 'format': 'goext.snapshot/N')")
    strings = _Strings()
    frame_ids: dict[tuple[int, int, int], int] = {}
    frames_table: list[list[int]] = []

    def frame_id(frame: dict[str, Any]) -> int:
        key = (
            strings.add(str(frame.get("function", "?"))),
            strings.add(str(frame.get("file", ""))),
            int(frame.get("line") or 0),
        )
        if key not in frame_ids:
            frame_ids[key] = len(frames_table)
            frames_table.append([key[0], key[1], key[2], 1 if frame.get("inlined") else 0])
        return frame_ids[key]

    groups: dict[tuple[str, tuple[int, ...]], dict[str, Any]] = {}
    states: Counter[str] = Counter()
    system = 0
    locals_out: dict[str, list[Any]] = {}
    locals_budget = MAX_LOCALS_BYTES
    goroutines = snapshot.get("goroutines", [])
    library = _library_code(snapshot, _goroot_src(goroutines))
    for entry in goroutines:
        state = str(entry.get("state") or "?")
        states[state] += 1
        system += 1 if entry.get("system") else 0
        frames = _goroutine_frames(entry)
        stack = tuple(frame_id(f) for f in frames)
        key = (state, stack)
        group = groups.get(key)
        if group is None:
            location = _user_location(frames, library)
            creator = entry.get("created_by") or None
            group = groups[key] = {
                "state": state,
                "count": 0,
                "frames": list(stack),
                "ids": [],
                "system": bool(entry.get("system")),
                "where": frame_id(location) if location else None,
                "created_by": strings.add(f"{creator['function']} at {creator['file']}:{creator['line']}")
                if creator
                else None,
                "minutes": 0,
            }
        group["count"] += 1
        if entry.get("wait_minutes"):
            group["minutes"] = max(group["minutes"], int(entry["wait_minutes"]))
        if len(group["ids"]) < MAX_IDS_PER_GROUP:
            group["ids"].append(entry.get("id"))
        if locals_budget > 0:
            captured = []
            for index, frame in enumerate(frames):
                if "locals" in frame or "locals_error" in frame:
                    items = [
                        [
                            str(v.get("name", "")),
                            str(v.get("type", "")),
                            str(v.get("value", v.get("error", "")))[:MAX_LOCAL_TEXT],
                        ]
                        for v in frame.get("locals", [])[:64]
                    ]
                    captured.append([index, items, frame.get("locals_error")])
            if captured:
                text_size = len(json.dumps(captured))
                locals_budget -= text_size
                locals_out[str(entry.get("id"))] = captured
    ordered = sorted(groups.values(), key=lambda g: (-g["count"], g["state"]))
    target = snapshot.get("target", {})
    return {
        "format": snapshot.get("format"),
        "target": target,
        "counts": {
            "goroutines": len(goroutines),
            "system": system,
            "groups": len(ordered),
            "threads": len(snapshot.get("threads", [])),
        },
        "states": sorted(states.items(), key=lambda item: -item[1]),
        "strings": strings.items,
        "frames": frames_table,
        "groups": ordered,
        "scheduler": snapshot.get("scheduler"),
        "gc": snapshot.get("gc"),
        "threads": snapshot.get("threads", []),
        "locals": locals_out,
        "locals_truncated": locals_budget <= 0,
        "deadlock": deadlock,
        "heap": _heap_model(snapshot.get("heap")),
        "notes": snapshot.get("notes", []),
    }


def _embedded_json(data: Any) -> str:
    """JSON for the page's data block, with no character the HTML parser acts on.

    Inside <script> the parser looks for "</script", "<!--" and "<script"; in
    JSON "<", ">" and "&" occur only inside strings, so spelling them as
    \\u003c, \\u003e and \\u0026 removes every such sequence while the parsed
    data keeps the exact text.  ensure_ascii escapes every other non-ASCII
    character (U+2028/9 included) the same way."""
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=True)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)
_PLACEHOLDER = re.compile(r"@(TITLE|CSP|DATA)@")


def _script_hash(page: str) -> str:
    """The CSP source that allows exactly the page's own inline script."""
    found = _INLINE_SCRIPT.search(page)
    assert found is not None, "the report page has no inline script"
    digest = hashlib.sha256(found.group(1).encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


# Nothing but the page's own script runs (no inline handlers, no injected
# <script>, no javascript: URLs); nothing is loaded from anywhere; the page
# cannot be re-based or submit forms.  Styles may be inline: they run no code.
def _content_security_policy(page: str) -> str:
    return (
        "default-src 'none'; script-src " + _script_hash(page) + "; style-src 'unsafe-inline'; "
        "base-uri 'none'; form-action 'none'; object-src 'none'"
    )


def render_html(data: dict[str, Any]) -> str:
    title = f"goext report: {data['target'].get('executable') or 'Go process'}"
    parts = {
        "TITLE": html.escape(title, quote=True),
        "CSP": html.escape(_PAGE_POLICY, quote=True),
        "DATA": _embedded_json(data),
    }
    # One pass, so a placeholder spelled inside the title or the data stays text.
    return _PLACEHOLDER.sub(lambda match: parts[match.group(1)], _PAGE)


def write_report(path: str, snapshot: dict[str, Any], deadlock: Optional[dict[str, Any]] = None) -> dict[str, Any]:
    data = report_data(snapshot, deadlock)
    page = render_html(data)
    try:
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(page)
    except OSError as exc:
        raise GoextError(f"cannot write {path}: {exc.strerror}") from None
    return data


MAX_SNAPSHOT_BYTES = 1 << 30


def load_snapshot(path: str) -> dict[str, Any]:
    """The snapshot in ``path``, checked against snapshot.schema.json: a file
    that is not one fails here in one line, never later in the renderer."""
    try:
        with open_regular_file(path, "snapshot") as handle:
            raw = handle.read(MAX_SNAPSHOT_BYTES + 1)
    except OSError as exc:
        raise GoextError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(raw) > MAX_SNAPSHOT_BYTES:
        raise GoextError(f"{path} is over {MAX_SNAPSHOT_BYTES >> 30} GiB: not a goext snapshot")
    try:
        document = json.loads(raw.decode("utf-8"))
    except RecursionError:
        raise GoextError(f"{path} is not a goext snapshot: JSON nested too deeply") from None
    except ValueError as exc:  # also UnicodeDecodeError
        raise GoextError(f"{path} is not JSON: {exc}") from None
    try:
        validate(document, schema())
        if not isinstance(document.get("deadlock"), (dict, type(None))):
            raise SchemaViolation(f"deadlock is {type(document['deadlock']).__name__}, expected object or null")
    except SchemaViolation as exc:
        raise GoextError(f"{path} is not a goext snapshot: {exc}") from None
    return document


_PAGE = r"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="@CSP@">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>@TITLE@</title>
<style>
:root { --fg:#1d232a; --muted:#5d6b78; --line:#d8dee4; --bg:#fff; --soft:#f5f7f9; --accent:#0b6bcb; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); margin: 0; background: var(--bg); }
header { padding: 14px 20px; border-bottom: 1px solid var(--line); background: var(--soft); }
header h1 { font-size: 18px; margin: 0 0 4px; }
header .sub { color: var(--muted); font-size: 12px; word-break: break-all; }
main { padding: 12px 20px 40px; max-width: 1400px; }
section { margin: 18px 0; }
h2 { font-size: 15px; margin: 0 0 8px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
.cards { display: flex; gap: 10px; flex-wrap: wrap; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px; min-width: 130px; }
.card b { display: block; font-size: 20px; }
.card span { color: var(--muted); font-size: 12px; }
.hist .row { display: flex; align-items: center; gap: 8px; margin: 2px 0; font-size: 13px; }
.hist .label { width: 220px; text-align: right; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.hist .bar { height: 14px; background: var(--accent); border-radius: 2px; min-width: 1px; }
.hist .n { color: var(--muted); }
#filter { width: 340px; padding: 5px 8px; border: 1px solid var(--line); border-radius: 4px; }
.group { border: 1px solid var(--line); border-radius: 5px; margin: 4px 0; }
.group > .head { padding: 5px 8px; cursor: pointer; display: flex; gap: 10px; align-items: baseline; }
.group > .head:hover { background: var(--soft); }
.group .count { font-weight: 700; min-width: 70px; text-align: right; font-variant-numeric: tabular-nums; }
.group .state { color: #8a3b00; white-space: nowrap; }
.group .where { font-family: ui-monospace, monospace; font-size: 12.5px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.group .body { display: none; padding: 4px 10px 8px 88px; border-top: 1px dashed var(--line); }
.group.open .body { display: block; }
.frames { font-family: ui-monospace, monospace; font-size: 12.5px; margin: 4px 0; }
.frames .fn { color: var(--fg); }
.frames .loc { color: var(--muted); padding-left: 18px; }
.ids { font-family: ui-monospace, monospace; font-size: 12px; color: var(--muted); word-break: break-all; }
.ids a { color: var(--accent); cursor: pointer; }
table { border-collapse: collapse; font-size: 13px; }
th, td { border: 1px solid var(--line); padding: 3px 7px; text-align: left; vertical-align: top; }
th { background: var(--soft); }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
#icicle-wrap { position: relative; border: 1px solid var(--line); }
#icicle { display: block; width: 100%; }
#tip { position: absolute; pointer-events: none; background: #222; color: #fff; font-size: 12px; padding: 4px 6px; border-radius: 3px; display: none; max-width: 600px; }
.muted { color: var(--muted); }
.locals td { font-family: ui-monospace, monospace; font-size: 12px; }
.cycle { border-left: 3px solid #c62828; padding-left: 8px; margin: 6px 0; }
.card.bad { border-color: #c62828; } .card.bad b { color: #c62828; }
.card.warn { border-color: #b26a00; } .card.warn b { color: #b26a00; }
.verdicts td.v-stuck { color: #c62828; font-weight: 700; } .verdicts td.v-unknown { color: #b26a00; }
#more { color: var(--muted); padding: 6px; }
.heap h3 { font-size: 13px; margin: 12px 0 4px; }
.heap .recon div { margin: 1px 0; }
.heap .recon .bad { color: #c62828; font-weight: 700; }
.heap td.what { font-family: ui-monospace, monospace; font-size: 12px; word-break: break-all; }
.heap .share { display: inline-block; height: 10px; background: var(--accent); border-radius: 2px; min-width: 1px; }
.retained { border: 1px solid var(--line); padding: 2px; }
.retained .level { display: flex; width: 100%; height: 20px; margin: 1px 0; }
.retained .level > div { flex: none; overflow: hidden; white-space: nowrap; text-overflow: ellipsis; font-size: 11px;
  line-height: 20px; padding: 0; text-indent: 3px; box-shadow: inset -1px 0 #fff; background: #b9d4ee; }
.retained .level > div.k-all { background: #8fb8e3; }
.retained .level > div.k-global { background: #f2c57c; } .retained .level > div.k-stack { background: #a5d6a7; }
.retained .level > div.k-finalizer, .retained .level > div.k-cleanup { background: #ce93d8; }
.retained .level > div.k-runtime { background: #cfd8dc; }
</style></head>
<body>
<header><h1 id="title">goext report</h1><div class="sub" id="subtitle"></div></header>
<main>
<section id="summary"><h2>Summary</h2><div class="cards" id="cards"></div><div id="notes" class="muted"></div></section>
<section id="deadlock-section" style="display:none"><h2>Deadlock analysis</h2><div id="deadlock"></div></section>
<section id="heap-section" class="heap" style="display:none"><h2>Heap</h2><div id="heap"></div></section>
<section><h2>Goroutine states</h2><div class="hist" id="hist"></div></section>
<section><h2>All stacks together (icicle: callers on top, width = goroutines; click to zoom, click the top bar to zoom out)</h2>
<div id="icicle-wrap"><canvas id="icicle" height="300"></canvas><div id="tip"></div></div></section>
<section><h2>Goroutines grouped by identical stack</h2>
<div><input id="filter" placeholder="filter: function, file or state" autocomplete="off"> <span id="groupcount" class="muted"></span></div>
<div id="groups"></div><div id="more"></div></section>
<section id="goroutine-section" style="display:none"><h2 id="goroutine-title">Goroutine</h2><div id="goroutine"></div></section>
<section><h2>Scheduler</h2><div id="sched"></div></section>
<section><h2>Threads</h2><div id="threads"></div></section>
</main>
<script type="application/json" id="report-data">@DATA@</script>
<script>
"use strict";
const D = JSON.parse(document.getElementById("report-data").textContent);
const S = D.strings, F = D.frames;
const PAGE = 100;
function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  if (attrs) for (const k in attrs) { if (k === "class") e.className = attrs[k]; else if (k === "text") e.textContent = attrs[k]; else e.setAttribute(k, attrs[k]); }
  for (const k of kids) if (k != null) e.append(k);
  return e;
}
function fname(id) { return S[F[id][0]]; }
function floc(id) { return S[F[id][1]] + ":" + F[id][2]; }
function short(path) { const p = path.split("/"); return p.slice(-2).join("/"); }
function fmtBytes(n) { if (n == null) return "?"; const u = ["B","KiB","MiB","GiB"]; let i = 0; while (n >= 1024 && i < 3) { n /= 1024; i++; } return n.toFixed(i ? 1 : 0) + " " + u[i]; }
function num(n) { return n == null ? "?" : String(n); }

// -- summary
const T = D.target || {};
document.getElementById("title").textContent = "goext report: " + (T.executable || "Go process").split("/").pop();
document.getElementById("subtitle").textContent = [T.go_version, T.goos + "/" + T.goarch, T.executable, T.core ? "core " + T.core : "live process"].filter(Boolean).join("  ·  ");
const cards = document.getElementById("cards");
function card(value, label, tone) { cards.append(el("div", {class: tone ? "card " + tone : "card"}, el("b", {text: value}), el("span", {text: label}))); }
card(D.counts.goroutines.toLocaleString("en-US"), "goroutines (" + D.counts.system + " system)");
card(D.counts.groups.toLocaleString("en-US"), "distinct stacks");
if (D.scheduler) card(num(D.scheduler.gomaxprocs), "GOMAXPROCS");
card(num(D.counts.threads), "threads");
if (D.gc) { card(fmtBytes(D.gc.heap_live), "live heap (GC phase " + D.gc.phase + ")"); card(num(D.gc.cycles), "GC cycles"); }
if (D.deadlock) {
  // Red only for goroutines proven stuck; stuck with high confidence (a reference held in the
  // heap could not be seen) is amber; nothing stuck says how many verdicts are unknown.
  const dl = D.deadlock, stuck = dl.stuck || [];
  const certain = stuck.filter(s => (s.confidence || "certain") === "certain").length;
  const unknown = dl.counts ? dl.counts.unknown : 0;
  if (dl.all_asleep) card("all asleep", "deadlock", "bad");
  else if (certain) card(certain + " stuck", "deadlock (proven)", "bad");
  else if (stuck.length) card(stuck.length + " likely stuck", "deadlock (high confidence)", "warn");
  else card("none", "deadlock" + (unknown ? " (" + unknown + " unknown)" : ""));
}
const notes = document.getElementById("notes");
for (const n of D.notes || []) notes.append(el("div", {text: "note: " + n}));

// -- deadlock
if (D.deadlock) {
  const box = document.getElementById("deadlock");
  document.getElementById("deadlock-section").style.display = "";
  const dl = D.deadlock;
  const stuckN = dl.stuck.length;
  box.append(el("p", {text: dl.all_asleep ? "All user goroutines are asleep: nothing can wake them (deadlock)." :
    stuckN ? stuckN + " of " + dl.user_goroutines + " user goroutines can never proceed (partial deadlock)." :
    "No deadlock found: no user goroutine is proven stuck."}));
  if (dl.counts) box.append(el("p", {text: dl.user_goroutines + " user goroutines: " +
    ["stuck", "parked", "unknown", "blocked", "waiting", "syscall", "runnable", "running"].map(k => (dl.counts[k] || 0) + " " + k).join(", ")}));
  if (dl.groups && dl.groups.length) {
    const t = el("table", {class: "verdicts"}, el("tr", {}, ...["goroutines", "verdict", "state", "where", "waits on", "why"].map(h => el("th", {text: h}))));
    for (const g of dl.groups.slice(0, 60)) {
      const v = g.verdict + (g.verdict === "stuck" ? " (" + g.confidence + ")" : "");
      t.append(el("tr", {}, el("td", {class: "num", text: g.count.toLocaleString("en-US")}), el("td", {class: "v-" + g.verdict, text: v}),
        el("td", {text: g.state}), el("td", {text: g.location}), el("td", {text: (g.waits_on || []).join(", ")}), el("td", {text: g.reason})));
    }
    box.append(t);
  }
  const byId = {}; for (const s of dl.stuck) byId[s.goroutine] = s;
  dl.cycles.forEach((cycle, i) => {
    const c = el("div", {class: "cycle"}, el("b", {text: "wait cycle " + (i + 1) + ": " + cycle.concat([cycle[0]]).map(g => "goroutine " + g).join(" → ")}));
    for (const g of cycle) { const s = byId[g]; if (!s) continue;
      c.append(el("div", {text: "goroutine " + g + " [" + s.state + "] at " + s.location + " waits on " + s.waits_on.join(", ")}));
      for (const ev of s.evidence.slice(0, 3)) c.append(el("div", {class: "muted", text: "  evidence: " + ev})); }
    box.append(c);
  });
}

// -- heap (when the snapshot has its heap section)
const KINDS = ["global", "stack", "finalizer", "cleanup", "runtime"];
function kindClass(kind) { return KINDS.includes(kind) ? "k-" + kind : "k-other"; }
function count(n) { return n == null ? "?" : n.toLocaleString("en-US"); }
function pct(part, whole) { return whole > 0 ? Math.max(0, Math.min(100, 100 * part / whole)) : 0; }
function heapTable(rows, total, heading, what, bytesOfAll) {
  const t = el("table", null, el("tr", null, ...["objects", "bytes", "share", what].map(h => el("th", {text: h}))));
  for (const r of rows) {
    const bar = el("span", {class: "share"}); bar.style.width = Math.max(1, Math.round(2 * pct(r.bytes || 0, bytesOfAll))) + "px";
    const label = r.what + (r.types != null && !r.what.startsWith("(") ? "  (" + r.types + (r.types === 1 ? " type)" : " types)") : "");
    t.append(el("tr", null, el("td", {class: "num", text: count(r.objects)}), el("td", {class: "num", text: count(r.bytes)}),
      el("td", null, bar, " " + pct(r.bytes || 0, bytesOfAll).toFixed(1) + "%"), el("td", {class: "what", text: label})));
  }
  const more = total != null && total > rows.length ? " (the " + rows.length + " largest of " + count(total) + ")" : "";
  return [el("h3", {text: heading + more}), t];
}
function retainedIcicle(roots, heapBytes) {
  // Three levels of bars, widths in proportion to retained bytes: all roots, their kinds, each root.
  const total = roots.reduce((a, r) => a + r.bytes, 0);
  const box = el("div", {class: "retained"});
  if (total <= 0) { box.append(el("div", {class: "muted", text: "no retained bytes"})); return box; }
  const level = () => { const d = el("div", {class: "level"}); box.append(d); return d; };
  const bar = (row, cls, bytes, label, tip) => {
    const d = el("div", {class: cls, text: label, title: tip}); d.style.width = pct(bytes, total) + "%"; row.append(d); };
  const byKind = new Map();
  for (const r of roots) { if (!byKind.has(r.kind)) byKind.set(r.kind, []); byKind.get(r.kind).push(r); }
  const kinds = [...byKind.entries()].map(([k, rs]) => [k, rs, rs.reduce((a, r) => a + r.bytes, 0)]).sort((a, b) => b[2] - a[2]);
  const allLabel = "retained by these " + roots.length + " roots: " + fmtBytes(total) + (heapBytes ? " of " + fmtBytes(heapBytes) + " heap" : "");
  bar(level(), "k-all", total, allLabel, allLabel);
  const kindRow = level(), rootRow = level();
  for (const [kind, rs, bytes] of kinds) {
    bar(kindRow, kindClass(kind), bytes, kind + " " + fmtBytes(bytes), kind + ": " + fmtBytes(bytes) + " in " + rs.length + " roots");
    for (const r of rs.slice().sort((a, b) => b.bytes - a.bytes))
      bar(rootRow, kindClass(kind), r.bytes, r.name, r.name + " (" + kind + "): " + fmtBytes(r.bytes) + ", " + count(r.objects) + " objects");
  }
  return box;
}
if (D.heap) {
  const H = D.heap, box = document.getElementById("heap");
  document.getElementById("heap-section").style.display = "";
  card(count(H.objects), "heap objects (" + fmtBytes(H.bytes) + ")");
  card(H.reconciled ? "agrees" : "DIFFERS", "heap vs the runtime's figures", H.reconciled ? "" : "warn");
  box.append(el("p", {text: count(H.objects) + " objects, " + count(H.bytes) + " bytes in " + count(H.spans) + " spans (" +
    count(H.span_bytes) + " bytes of in-use spans)"}));
  if (H.types_note) box.append(el("p", {class: "muted", text: "(" + H.types_note + ")"}));
  const recon = el("div", {class: "recon"});
  const perClass = H.reconciliation.filter(l => l.per_class);
  for (const l of H.reconciliation.filter(l => !l.per_class)) {
    if (l.runtime == null) { recon.append(el("div", {class: "bad", text: l.what + ": goext " + count(l.goext) + "; " + l.source + " unreadable"})); continue; }
    const agrees = l.goext === l.expected;
    recon.append(el("div", {class: agrees ? "" : "bad", text: l.what + ": goext " + count(l.goext) + " = " + l.source + " " + count(l.runtime) +
      (l.adjustment ? " + " + count(l.adjustment) + " " + l.why : "") + ": " + (agrees ? "agrees" : "DIFFERS by " + (l.goext - l.expected).toLocaleString("en-US"))}));
  }
  const differing = perClass.filter(l => l.goext !== l.expected);
  if (perClass.length && !differing.length) recon.append(el("div", {text: "objects per size class: all " + perClass.length + " classes agree likewise"}));
  for (const l of differing) recon.append(el("div", {class: "bad", text: l.what + ": goext " + count(l.goext) + ", expected " + count(l.expected) + ": DIFFERS"}));
  if (H.alloc_count_mismatches) recon.append(el("div", {class: "bad", text: H.alloc_count_mismatches + " spans' allocCount disagrees with their allocation bits"}));
  for (const p of H.problems) recon.append(el("div", {class: "bad", text: "skipped: " + p}));
  for (const n of H.notes) recon.append(el("div", {class: "muted", text: "note: " + n}));
  box.append(el("h3", {text: "Reconciliation with the runtime's own figures"}), recon);
  if (H.top_retainers) {
    box.append(el("h3", {text: "Top retainers: memory kept alive by each root (bars: all roots, their kinds, each root)"}));
    box.append(retainedIcicle(H.top_retainers, H.bytes));
    const t = el("table", {class: "retainers"}, el("tr", null, ...["retained bytes", "objects", "kind", "root"].map(h => el("th", {text: h}))));
    for (const r of H.top_retainers) t.append(el("tr", null, el("td", {class: "num", text: count(r.bytes)}), el("td", {class: "num", text: count(r.objects)}),
      el("td", {text: r.kind}), el("td", {class: "what", text: r.name})));
    box.append(t);
  }
  box.append(...heapTable(H.top_types, H.types_total, "Top types by bytes", "type", H.bytes));
  box.append(...heapTable(H.top_packages, H.packages_total, "Top packages by bytes", "package", H.bytes));
}

// -- histogram
const hist = document.getElementById("hist");
const maxState = Math.max(1, ...D.states.map(s => s[1]));
for (const [state, n] of D.states) {
  hist.append(el("div", {class: "row"}, el("span", {class: "label", text: state, title: state}),
    (() => { const b = el("span", {class: "bar"}); b.style.width = Math.max(1, Math.round(600 * n / maxState)) + "px"; return b; })(),
    el("span", {class: "n", text: n.toLocaleString("en-US")})));
}

// -- groups: rows are created a page at a time as the list scrolls into view
let shown = D.groups;
let rendered = 0;
const groupsBox = document.getElementById("groups");
const more = document.getElementById("more");
function groupRow(g) {
  const where = g.where != null ? fname(g.where) + "  " + short(floc(g.where)) : "(no frames)";
  const head = el("div", {class: "head"}, el("span", {class: "count", text: g.count.toLocaleString("en-US") + " ×"}),
    el("span", {class: "state", text: "[" + g.state + (g.minutes ? ", " + g.minutes + " minutes" : "") + "]"}),
    el("span", {class: "where", text: where + (g.system ? "  (system)" : "")}));
  const row = el("div", {class: "group"}, head);
  let body = null;
  head.addEventListener("click", () => {
    if (!body) { body = groupBody(g); row.append(body); }
    row.classList.toggle("open");
  });
  return row;
}
function groupBody(g) {
  const frames = el("div", {class: "frames"});
  for (const id of g.frames) frames.append(el("div", {class: "fn", text: fname(id) + (F[id][3] ? " (inlined)" : "")}), el("div", {class: "loc", text: floc(id)}));
  const body = el("div", {class: "body"}, frames);
  if (g.created_by != null) body.append(el("div", {class: "muted", text: "created by " + S[g.created_by]}));
  const ids = el("div", {class: "ids"});
  ids.append("goroutines: ");
  g.ids.forEach((id, i) => { if (i) ids.append(" "); const a = el("a", {text: String(id)}); a.addEventListener("click", () => showGoroutine(id, g)); ids.append(a); });
  if (g.count > g.ids.length) ids.append(" … and " + (g.count - g.ids.length).toLocaleString("en-US") + " more");
  body.append(ids);
  return body;
}
function renderMore() {
  const end = Math.min(shown.length, rendered + PAGE);
  const frag = document.createDocumentFragment();
  for (; rendered < end; rendered++) frag.append(groupRow(shown[rendered]));
  groupsBox.append(frag);
  more.textContent = rendered < shown.length ? "showing " + rendered + " of " + shown.length + " groups (scroll for more)" : "";
}
function resetGroups() {
  groupsBox.textContent = ""; rendered = 0; renderMore();
  document.getElementById("groupcount").textContent = shown.length.toLocaleString("en-US") + " groups, " +
    shown.reduce((a, g) => a + g.count, 0).toLocaleString("en-US") + " goroutines";
}
new IntersectionObserver(entries => { if (entries.some(e => e.isIntersecting) && rendered < shown.length) renderMore(); }).observe(more);
document.getElementById("filter").addEventListener("input", ev => {
  const q = ev.target.value.trim().toLowerCase();
  shown = !q ? D.groups : D.groups.filter(g => g.state.toLowerCase().includes(q) ||
    g.frames.some(id => fname(id).toLowerCase().includes(q) || S[F[id][1]].toLowerCase().includes(q)));
  resetGroups();
});
resetGroups();

// -- one goroutine (with locals when captured)
function showGoroutine(id, g) {
  document.getElementById("goroutine-section").style.display = "";
  document.getElementById("goroutine-title").textContent = "Goroutine " + id + " [" + g.state + "]";
  const box = document.getElementById("goroutine"); box.textContent = "";
  const locals = D.locals[String(id)] || [];
  const byFrame = {}; for (const [index, items, error] of locals) byFrame[index] = [items, error];
  g.frames.forEach((fid, index) => {
    box.append(el("div", {class: "frames"}, el("div", {class: "fn", text: "#" + index + " " + fname(fid)}), el("div", {class: "loc", text: floc(fid)})));
    const entry = byFrame[index];
    if (entry) {
      if (entry[1]) box.append(el("div", {class: "muted", text: "locals: " + entry[1]}));
      if (entry[0].length) {
        const t = el("table", {class: "locals"}, el("tr", null, el("th", {text: "name"}), el("th", {text: "type"}), el("th", {text: "value"})));
        for (const [n, ty, v] of entry[0]) t.append(el("tr", null, el("td", {text: n}), el("td", {text: ty}), el("td", {text: v})));
        box.append(t);
      }
    }
  });
  if (!locals.length) box.append(el("div", {class: "muted", text: "no locals captured (take the snapshot with --locals)"}));
  box.scrollIntoView({block: "start"});
}

// -- icicle of all stacks (root = outermost caller)
const root = {name: "all goroutines", value: 0, children: new Map()};
for (const g of D.groups) {
  root.value += g.count;
  let node = root;
  for (let i = g.frames.length - 1; i >= 0; i--) {
    const key = g.frames[i];
    let child = node.children.get(key);
    if (!child) { child = {name: fname(key), loc: floc(key), value: 0, children: new Map()}; node.children.set(key, child); }
    child.value += g.count;
    node = child;
  }
}
const canvas = document.getElementById("icicle"), tip = document.getElementById("tip");
const ROW = 18;
let focus = root, boxes = [];
function depthOf(n) { let d = 0; for (const c of n.children.values()) d = Math.max(d, depthOf(c)); return d + 1; }
function drawIcicle() {
  const width = canvas.clientWidth || 1200;
  const depth = Math.min(depthOf(focus), 80);
  canvas.width = width * devicePixelRatio; canvas.height = depth * ROW * devicePixelRatio;
  canvas.style.height = depth * ROW + "px";
  const ctx = canvas.getContext("2d"); ctx.scale(devicePixelRatio, devicePixelRatio);
  ctx.font = "11px system-ui, sans-serif"; ctx.textBaseline = "middle";
  boxes = [];
  const draw = (node, x, w, level) => {
    if (w < 1 || level >= depth) return;
    const hue = node === focus ? 210 : (node.name.startsWith("runtime.") ? 35 : 200 + (node.name.length * 7) % 40);
    ctx.fillStyle = "hsl(" + hue + ",60%," + (node === focus ? 70 : 78) + "%)";
    ctx.fillRect(x, level * ROW, w - 0.5, ROW - 1);
    if (w > 30) { ctx.fillStyle = "#111"; ctx.save(); ctx.beginPath(); ctx.rect(x, level * ROW, w - 2, ROW); ctx.clip();
      ctx.fillText(node.name + " (" + node.value + ")", x + 3, level * ROW + ROW / 2); ctx.restore(); }
    boxes.push([x, level * ROW, w, node]);
    let cx = x;
    for (const child of node.children.values()) { const cw = w * child.value / node.value; draw(child, cx, cw, level + 1); cx += cw; }
  };
  draw(focus, 0, width, 0);
}
function hit(ev) { const r = canvas.getBoundingClientRect(); const x = ev.clientX - r.left, y = ev.clientY - r.top;
  for (let i = boxes.length - 1; i >= 0; i--) { const [bx, by, bw, n] = boxes[i]; if (x >= bx && x < bx + bw && y >= by && y < by + ROW) return [n, x, y]; } return null; }
canvas.addEventListener("mousemove", ev => { const h = hit(ev); if (!h) { tip.style.display = "none"; return; }
  const [n, x, y] = h; tip.textContent = n.name + (n.loc ? "  " + n.loc : "") + "  —  " + n.value + " goroutines";
  tip.style.left = Math.min(x + 12, canvas.clientWidth - 300) + "px"; tip.style.top = (y + 14) + "px"; tip.style.display = "block"; });
canvas.addEventListener("mouseleave", () => { tip.style.display = "none"; });
canvas.addEventListener("click", ev => { const h = hit(ev); if (!h) return; focus = (h[0] === focus) ? root : h[0]; drawIcicle(); });
window.addEventListener("resize", drawIcicle);
drawIcicle();

// -- scheduler and threads
function table(headers, rows) {
  const t = el("table", null, el("tr", null, ...headers.map(h => el("th", {text: h}))));
  for (const r of rows) t.append(el("tr", null, ...r.map(v => el("td", {class: typeof v === "number" ? "num" : "", text: v == null ? "-" : String(v)}))));
  return t;
}
const sched = document.getElementById("sched");
const SC = D.scheduler;
if (SC) {
  sched.append(el("p", {text: "GOMAXPROCS " + num(SC.gomaxprocs) + ", ncpu " + num(SC.ncpu) + "; gcwaiting " + num(SC.gcwaiting) + ", stopwait " + num(SC.stopwait) + (SC.stopwait > 0x7fffffff - (1 << 20) ? " (the world frozen for the crash)" : "") +
    ", sysmon " + (SC.sysmon == null ? "?" : "m" + SC.sysmon) + "; idle Ps " + num(SC.npidle) + ", idle Ms " + num(SC.nmidle) + ", spinning Ms " + num(SC.nmspinning) +
    "; global run queue " + num(SC.global_runq_size) + (SC.global_runq.length ? " [" + SC.global_runq.slice(0, 50).join(" ") + "]" : "")}));
  if (D.gc) sched.append(el("p", {text: "GC: phase " + D.gc.phase + ", " + num(D.gc.cycles) + " cycles, GOGC " + num(D.gc.gc_percent) +
    "; heap live " + fmtBytes(D.gc.heap_live) + (D.gc.cycles === 0 ? "; no GC cycle has completed yet" :
    "; the last GC marked " + fmtBytes(D.gc.heap_marked) + ", its goal " + fmtBytes(D.gc.heap_goal))}));
  sched.append(table(["P", "status", "M", "schedtick", "syscalltick", "run queue", "runnext", "queued goroutines"],
    SC.processors.map(p => [p.id, p.status, p.m == null ? null : "m" + p.m, p.schedtick, p.syscalltick, p.runq.length, p.runnext, p.runq.slice(0, 30).join(" ")])));
  sched.append(el("p"));
  sched.append(table(["M", "tid", "P", "curg", "locked g", "state"],
    SC.machines.map(m => [m.id, m.tid, m.p, m.curg, m.lockedg,
      [m.role, m.in_syscall && "syscall", m.in_cgo && "cgo", m.spinning && "spinning", m.blocked && "blocked", m.idle && "idle", m.error].filter(Boolean).join(", ") || "running"])));
} else sched.append(el("p", {class: "muted", text: "no scheduler state in this snapshot"}));
document.getElementById("threads").append(table(["tid", "M", "goroutine", "P", "role", "locked g", "top frame"],
  (D.threads || []).map(t => [t.tid, t.m, t.goroutine, t.p, t.role || "", t.locked_goroutine,
    (t.frames && t.frames.length) ? (t.frames[0].function || "??") + (t.frames[0].location ? "  " + short(t.frames[0].location) : "") : ""])));
document.body.setAttribute("data-rendered", "yes");
</script>
</body></html>
"""

_PAGE_POLICY = _content_security_policy(_PAGE)


def main(argv: Optional[list[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) != 2 or argv[0] in ("-h", "--help"):
        sys.stderr.write("usage: python3 -m goext_core.output.report SNAPSHOT.json REPORT.html\n")
        return 2
    try:
        data = write_report(argv[1], load_snapshot(argv[0]))
    except GoextError as exc:
        sys.stderr.write(f"goext: error: {exc}\n")
        return 1
    sys.stdout.write(
        f"wrote {argv[1]}: {data['counts']['goroutines']} goroutines in {data['counts']['groups']} groups\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
