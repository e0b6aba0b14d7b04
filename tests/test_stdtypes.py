"""Standard-library values (times in their zones, big numbers, addresses, URLs,
regexps, reflect values, sync types, context chains, builders and buffers)
printed from stdtypes cores equal what Go itself printed.

The truth is the fixture's own stdout: before it crashes, tests/programs/stdtypes
prints every value through the type's String method or accessors
("TRUTH name<TAB>text").  goext reads the same values from the core without
calling any code.  Where goext's spelling differs on purpose (a Go-quoted
string for a Builder's content, the dynamic type around a reflect.Value's
value, a context chain instead of one method's answer), the expectation is
built from the truth, and what the truth cannot tell (the chain's kinds, the
Cond's waiters) is written from the fixture's source.
"""

from __future__ import annotations

import json
import re
from typing import Callable

import pytest

from goext_core.values.model import quote_go_string
from support.cores import CoreArtifact, kernel_core
from support.debuggers import require_gdb, require_lldb, run_gdb, run_lldb
from support.offline import core_programs, run

VERSIONS = ("1.19", "1.22", "1.24", "1.27")
POINTER = re.compile(r"^\(\S+?\)\(0x[0-9a-f]+\) → ")


def _quoted(text: str) -> str:
    return quote_go_string(text.encode())


# Printed value = the truth, after goext's pointer head "(*T)(0x…) → ".
SAME_AS_TRUTH = (
    "gLocMazatlan gLocNewYork gLocSydney gLocKolkata gLocFixed gLocUTC gLocLocal "
    "gTimeMazatlan gTimeNYWinter gTimeNYSummer gTimeSydney gTimeKolkata gTimeFar gTimeAncient gTimeFixed "
    "gTimeNoName gTimeLocal gTimeUTC gTimeNow gTimeNowIn gTimeZero gTimeBCE gTimeFuture "
    "gBigInt gBigSmall gBigZero gBigFloat gBigFloatPi gBigFloatNeg gBigFloatInf gBigFloatBig gBigFloat0 "
    "gIPv4 gIPv4Short gIPv6 gIPv6Full gIPNil gIPOdd gAddr4 gAddr6 gAddr6Zone gAddr4in6 gAddrZero "
    "gPrefix4 gPrefix6 gPrefix0 gURL gURLPlain gURLOpaque gURLPath gURLValue "
    "gReflectZero gReflectType gReflectType2"
).split()
# Printed value = a spelling of the truth.
SPELLED: dict[str, Callable[[str], str]] = {
    "gLocNoName": lambda truth: '""' if truth == "" else truth,
    "gRegexp": lambda truth: f"`{truth}`",
    "gReflectInt": lambda truth: f"int({truth})",
    "gReflectString": lambda truth: f"string({_quoted(truth)})",
    "gReflectPoint": lambda truth: "main.point({X: %s, Y: %s})" % tuple(truth.strip("{}").split()),
    "gAtomicValue": lambda truth: f"string({_quoted(truth)})",
    "gAtomicPtr": lambda truth: "{X: %s, Y: %s}" % tuple(truth.strip("{}").split()),
    "gBuilder": _quoted,
    "gBuffer": _quoted,
    # Too long to spell: said so, with the exact size.
    "gBigHuge.bits": lambda truth: f"<{truth}-bit integer, too long to show>",
}
# From the fixture's source (main.go): what Go's own output does not say.
FROM_SOURCE = {
    "gCtxBackground": "background",
    "gCtxTODO": "todo",
    "gOnceDone": "done",
    "gOnceNotDone": "not done",
    "gCond": "2 waiters",  # two condWaiter goroutines are in gCond.Wait
    "gCtxCustom": 'value{main.ctxKey("user"): string("carol")} → main.customCtx (parent unknown)',
}
# Context chains from each value towards the root, as main.go builds them.
CONTEXT_KINDS = {
    "gCtxValue": ["value", "background"],
    "gCtxCancel": ["cancel", "value", "background"],
    "gCtxTimer": ["timer", "value", "background"],
    "gCtxExpired": ["timer", "background"],
    "gCtxCause": ["cancel", "value", "background"],  # Go 1.21+
    "gCtxWithout": ["withoutCancel", "cancel", "value", "background"],  # Go 1.21+
}
LOCAL_SPELLED: dict[str, Callable[[str], str]] = {
    "localTime": lambda truth: truth,
    "localAddr": lambda truth: truth,
    "localIP": lambda truth: truth,
    "localURL": lambda truth: truth,
    "localBig": lambda truth: truth,
    "localBuilder": _quoted,
    "localDuration": lambda truth: truth,
}


def truths(artifact: CoreArtifact) -> dict[str, str]:
    out = {}
    for line in artifact.stdout.splitlines():
        if line.startswith("TRUTH "):
            name, _, text = line[len("TRUTH ") :].partition("\t")
            out[name] = text
    assert len(out) > 80, artifact.stdout[-2000:]
    return out


def expected_texts(truth: dict[str, str]) -> dict[str, str]:
    """name -> the exact text goext must print (after any pointer head)."""
    expected = {name: truth[name] for name in SAME_AS_TRUTH}
    expected.update({name: spell(truth[name]) for name, spell in SPELLED.items()})
    expected.update(FROM_SOURCE)
    return expected


def value_of(printed: str) -> str:
    return POINTER.sub("", printed.strip(), count=1)


def context_wrong(name: str, printed: str, truth: dict[str, str]) -> list[str]:
    """A context chain's kinds, deadline, error, cause and the "user" value, against the truth."""
    links = printed.split(" → ")
    kinds = [re.match(r"[A-Za-z]+", link).group(0) for link in links]  # type: ignore[union-attr]
    wrong = []
    if kinds != CONTEXT_KINDS[name]:
        wrong.append(f"{name}: kinds {kinds}")
    first = links[0]
    deadline = truth[f"{name}.deadline"]
    if deadline != "none" and f"deadline {deadline}" not in printed:
        wrong.append(f"{name}: deadline {deadline!r} missing")
    err, cause = truth[f"{name}.err"], truth[f"{name}.cause"]
    if err == "nil":
        if "canceled" in first:
            wrong.append(f"{name}: cancelled, but Err() is nil")
    elif f"canceled: {err}" not in first:
        wrong.append(f"{name}: error {err!r} missing")
    if cause not in ("nil", "unknown", err) and f"(cause: {cause})" not in first:
        wrong.append(f"{name}: cause {cause!r} missing")
    user = truth[f"{name}.user"]
    value_links = [link for link in links if link.startswith("value{")]
    if user != "<nil>" and not value_links[0].startswith(f'value{{main.ctxKey("user"): string({_quoted(user)})'):
        wrong.append(f"{name}: user value {user!r} missing")
    return [f"{line} in {printed!r}" for line in wrong]


def check_globals(outputs: dict[str, str], truth: dict[str, str]) -> list[str]:
    wrong = []
    for name, want in expected_texts(truth).items():
        got = value_of(outputs[name.split(".")[0]])
        if got != want:
            wrong.append(f"{name}: got {got!r}, want {want!r}")
    for name in CONTEXT_KINDS:
        if f"{name}.err" in truth:
            wrong += context_wrong(name, value_of(outputs[name]), truth)
    return wrong


@pytest.fixture(scope="module")
def cores():
    return core_programs("stdtypes")


def _printed_names(truth: dict[str, str]) -> list[str]:
    names = [name.split(".")[0] for name in expected_texts(truth)]
    return names + [name for name in CONTEXT_KINDS if f"{name}.err" in truth] + ["gBigFloatExp"]


def approximate_wrong(printed: str, truth: str) -> list[str]:
    """A big.Float with too many digits to spell: 15 significant digits and the
    exponent agree with Go's, and the text says it is approximate."""
    match = re.fullmatch(r"(\d)\.(\d{14})\d*e\+(\d+) \(approximately\)", printed)
    want = re.fullmatch(r"(\d)\.(\d{14})\d*e\+(\d+)", truth)
    if match is None or want is None or match.groups() != want.groups():
        return [f"gBigFloatExp: {printed!r}, Go printed {truth!r}"]
    return []


@pytest.mark.go_versions(*VERSIONS)
@pytest.mark.flavours("default")
def test_globals_print_as_go_prints_them(cores, go_version, flavour):
    _check_globals(cores, go_version, flavour)


@pytest.mark.go_versions("1.22")  # one unoptimized build proves the unoptimized path
@pytest.mark.flavours("noopt")
def test_globals_print_as_go_prints_them_unoptimized(cores, go_version, flavour):
    _check_globals(cores, go_version, flavour)


def _check_globals(cores, go_version: str, flavour: str) -> None:
    artifact, program = cores(go_version, flavour)
    truth = truths(artifact)
    outputs = {name: run(program, "print", name) for name in _printed_names(truth)}
    wrong = check_globals(outputs, truth)
    wrong += approximate_wrong(value_of(outputs["gBigFloatExp"]), truth["gBigFloatExp"])
    assert not wrong, "\n".join(wrong)


@pytest.mark.go_versions("1.19", "1.27")
@pytest.mark.flavours("default")
def test_json_carries_the_offset_and_monotonic_reading(cores, go_version, flavour):
    artifact, program = cores(go_version, flavour)
    truth = truths(artifact)
    when = json.loads(run(program, "print", "--json gTimeMazatlan"))
    assert when["rfc3339"] == truth["gTimeMazatlan.rfc3339"] == "2022-06-07T02:03:04-06:00"
    assert (when["offset"], when["zone"], when["location"]) == (-6 * 3600, "MDT", "America/Mazatlan")
    assert "monotonic" not in when
    now = json.loads(run(program, "print", "--json gTimeNow"))
    assert now["rfc3339"] == truth["gTimeNow.rfc3339"]
    monotonic = re.search(r"m=\+(\d+)\.(\d{9})$", truth["gTimeNow"])
    assert monotonic and now["monotonic"] == int(monotonic.group(1)) * 10**9 + int(monotonic.group(2))
    url = json.loads(run(program, "print", "--json gURL"))
    assert url["target"]["redacted"] is True and "s3cret" not in json.dumps(url)
    entries = json.loads(run(program, "print", "--json gSyncMap"))["entries"]
    got = {(e["key"]["text"], e["value"]["text"]) for e in entries}
    want = {(f"string({_quoted(k)})", f"int({v})") for k, v in (p.split("=") for p in truth["gSyncMap"].split(","))}
    assert got == want
    bounded = json.loads(run(program, "print", "--json --max-elements 2 gSyncMap"))
    assert (len(bounded["entries"]), bounded["len"], bounded["more"]) == (2, 3, 1)
    assert bounded["text"].endswith(", …(1 more)]")


@pytest.mark.go_versions(*VERSIONS)
@pytest.mark.flavours("default")
def test_locals_are_right_or_marked(cores, go_version, flavour):
    _check_locals(cores, go_version, flavour)


@pytest.mark.go_versions("1.22")  # one unoptimized build proves the unoptimized path
@pytest.mark.flavours("noopt")
def test_locals_are_right_unoptimized(cores, go_version, flavour):
    _check_locals(cores, go_version, flavour)


def _check_locals(cores, go_version: str, flavour: str) -> None:
    artifact, program = cores(go_version, flavour)
    truth = truths(artifact)
    goid = next(
        record.id
        for record in program.goroutines()
        if any(frame.function == "main.holdStdLocals" for frame in program.stack(record).frames)
    )
    payload = json.loads(run(program, "locals", f"{goid} --json"))
    got = {item["name"]: value_of(item["text"]) for item in payload["variables"]}
    # Marked by the JSON flags (wholly or partly optimized out) or a "<...>" text.
    marked = {
        item["name"]
        for item in payload["variables"]
        if item.get("optimized_out") or item.get("partly_optimized_out") or item["text"].startswith("<")
    }
    wrong, shown = [], 0
    for name, spell in LOCAL_SPELLED.items():
        want = spell(truth[f"local.{name}"])
        text = got.get(name)
        if text == want:
            shown += 1
        elif flavour == "noopt" or not (text is None or name in marked):
            wrong.append(f"{name}: got {text!r}, want {want!r}")
    context = got.get("localCtx")
    if context is not None and not context.startswith("<"):
        shown += 1
        if not context.startswith(f'value{{main.ctxKey("user"): string({_quoted(truth["local.localCtx.user"])})}}'):
            wrong.append(f"localCtx: {context!r}")
    assert not wrong, "\n".join(wrong)
    assert shown >= (len(LOCAL_SPELLED) + 1 if flavour == "noopt" else 3)


# Stripped builds: no DWARF and no symbols, only the runtime's type metadata,
# which spells types with their package's name.  The fixture prints where these
# values live ("ADDR name<TAB>0x…"); goext reads them by type and address.
STRIPPED_TYPES = {
    "gTimeMazatlan": "time.Time",
    "gLocSydney": "time.Location",
    "gBigInt": "big.Int",
    "gBigFloatPi": "big.Float",
    "gIPv6": "net.IP",
    "gAddr6Zone": "netip.Addr",
    "gPrefix6": "netip.Prefix",
    "gURL": "url.URL",
    "gRegexp": "regexp.Regexp",
    "gReflectPoint": "reflect.Value",
    "gCond": "sync.Cond",
    "gBuilder": "strings.Builder",
    "gBuffer": "bytes.Buffer",
    "gOnceDone": "sync.Once",
}


@pytest.mark.go_versions("1.22", "1.27")
@pytest.mark.flavours("stripped")
def test_stripped_builds_read_through_runtime_type_metadata(cores, go_version, flavour):
    artifact, program = cores(go_version, flavour)
    assert not program.binary.has_dwarf()
    truth = truths(artifact)
    expected = expected_texts(truth)
    addresses = dict(
        line[len("ADDR ") :].split("\t", 1) for line in artifact.stdout.splitlines() if line.startswith("ADDR ")
    )
    wrong = []
    for name, type_name in STRIPPED_TYPES.items():
        text = run(program, "print", f"--type {type_name} {addresses[name]}").strip()
        if text != expected[name]:
            wrong.append(f"{name} as {type_name}: got {text!r}, want {expected[name]!r}")
    entries = json.loads(run(program, "print", f"--json --type sync.Map {addresses['gSyncMap']}"))["entries"]
    want = {(f"string({_quoted(k)})", f"int({v})") for k, v in (p.split("=") for p in truth["gSyncMap"].split(","))}
    if {(e["key"]["text"], e["value"]["text"]) for e in entries} != want:
        wrong.append(f"gSyncMap: {entries!r}")
    context = run(program, "print", f"--type context.Context {addresses['gCtxTimer']}").strip()
    wrong += context_wrong("gCtxTimer", context, truth)
    assert not wrong, "\n".join(wrong)


# -- the debuggers: the same table behind gdb's and lldb's output ------------------------------------
DEBUGGER_SAMPLE = (
    "gTimeMazatlan",
    "gTimeNow",
    "gTimeAncient",
    "gLocSydney",
    "gBigFloatPi",
    "gAddr6Zone",
    "gPrefix4",
    "gIPv6",
    "gURL",
    "gRegexp",
    "gReflectPoint",
    "gCond",
    "gBuffer",
)


@pytest.mark.e2e
@pytest.mark.gdb
@pytest.mark.go_versions("1.24")
@pytest.mark.flavours("default")
def test_gdb_go_print_and_pretty_printers(go_version, flavour):
    require_gdb()
    artifact = kernel_core("stdtypes", go_version, flavour, "panic")
    truth = truths(artifact)
    expected = expected_texts(truth)
    commands = [f"go print {name}" for name in DEBUGGER_SAMPLE] + ["go print gCtxWithout"]
    pretty = ("gTimeMazatlan", "gAddr6Zone", "gURLValue", "gReflectType", "gIPv6", "gBuilder", "gOnceDone")
    commands += [f"print 'main.{name}'" for name in pretty]
    outputs = run_gdb(commands, exe=artifact.exe, core=artifact.core).outputs
    wrong = []
    for name, output in zip(DEBUGGER_SAMPLE, outputs):
        if value_of(output) != expected[name]:
            wrong.append(f"go print {name}: {output.strip()!r}")
    wrong += context_wrong("gCtxWithout", value_of(outputs[len(DEBUGGER_SAMPLE)]), truth)
    for name, output in zip(pretty, outputs[len(DEBUGGER_SAMPLE) + 1 :]):
        if not output.strip().endswith(f"= {expected[name]}"):
            wrong.append(f"print 'main.{name}': {output.strip()!r}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.e2e
@pytest.mark.lldb
@pytest.mark.go_versions("1.24")
@pytest.mark.flavours("default")
def test_lldb_go_print(go_version, flavour):
    require_lldb()
    artifact = kernel_core("stdtypes", go_version, flavour, "panic")
    truth = truths(artifact)
    expected = expected_texts(truth)
    commands = [f"go print {name}" for name in DEBUGGER_SAMPLE] + ["go print gCtxWithout"]
    outputs = run_lldb(commands, exe=artifact.exe, core=artifact.core).outputs
    wrong = [
        f"go print {name}: {output.strip()!r}"
        for name, output in zip(DEBUGGER_SAMPLE, outputs)
        if value_of(output) != expected[name]
    ]
    wrong += context_wrong("gCtxWithout", value_of(outputs[len(DEBUGGER_SAMPLE)]), truth)
    assert not wrong, "\n".join(wrong)
