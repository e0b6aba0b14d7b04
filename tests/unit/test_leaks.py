"""Goroutine leak fixpoint on synthetic heap graphs and fake wait data."""

from __future__ import annotations

import random
from types import SimpleNamespace
from typing import Sequence

from goext_core.runtime.goroutines import GoroutineRecord
from goext_core.runtime.layouts import G_LEAKED, G_RUNNING, G_WAITING
from goext_core.runtime.leaks import (
    LEAKED,
    NOT_LEAKED,
    POSSIBLY_LEAKED,
    UNKNOWN,
    BlockedGoroutine,
    find_leaks,
    format_leaks,
    leak_report,
    leak_verdicts,
)
from goext_core.runtime.waitgraph import GoroutineWait, WaitGraph, WaitObject

from .heapgraph_fakes import FakeGraph, make_graph

SIZE = 0x100  # every fake object: 0x100 bytes at base + i * 0x100


def address(graph: FakeGraph, index: int, offset: int = 0) -> int:
    return graph.objects.addresses[index] + offset


def chan_wait(
    graph: FakeGraph, goroutine: int, channels: Sequence[int], reason: str = "chan receive"
) -> BlockedGoroutine:
    return BlockedGoroutine(goroutine, reason, "chan receive", blocking=[address(graph, c) for c in channels])


def verdicts(graph: FakeGraph, blocked: Sequence[BlockedGoroutine]) -> dict[int, str]:
    return {v.goroutine: v.verdict for v in leak_verdicts(graph, blocked)}


def test_channel_only_its_waiter_reaches_is_leaked() -> None:
    # object 0: a channel only goroutine 10's stack points at; object 1: a global's channel.
    graph = make_graph([SIZE] * 2, {}, [("main.jobs", [1])], [(10, [0]), (11, [1])])
    blocked = [chan_wait(graph, 10, [0]), chan_wait(graph, 11, [1])]
    assert verdicts(graph, blocked) == {10: LEAKED, 11: NOT_LEAKED}


def test_running_goroutine_stack_keeps_channel_alive() -> None:
    # goroutine 1 (running, not a candidate) holds object 2 -> 0 (a struct holding the channel).
    graph = make_graph([SIZE] * 3, {2: [0]}, [], [(1, [2]), (10, [0])])
    assert verdicts(graph, [chan_wait(graph, 10, [0])]) == {10: NOT_LEAKED}


def test_fixpoint_wakes_a_chain_of_waiters() -> None:
    # 10 waits on A (0); 11 waits on B (1) and holds A; 12 waits on C (2) and holds B.
    # C reachable from a global: 12 wakes, so B is reached, 11 wakes, so A is reached.
    sizes = [SIZE] * 3
    blocked_of = lambda g: [chan_wait(g, 10, [0]), chan_wait(g, 11, [1]), chan_wait(g, 12, [2])]  # noqa: E731
    alive = make_graph(sizes, {}, [("main.c", [2])], [(10, [0]), (11, [0]), (12, [1])])
    assert verdicts(alive, blocked_of(alive)) == {10: NOT_LEAKED, 11: NOT_LEAKED, 12: NOT_LEAKED}
    dead = make_graph(sizes, {}, [], [(10, [0]), (11, [0]), (12, [1, 2])])
    assert verdicts(dead, blocked_of(dead)) == {10: LEAKED, 11: LEAKED, 12: LEAKED}


def test_goroutines_waiting_on_each_other_are_both_leaked() -> None:
    # 10 holds B and waits on A; 11 holds A and waits on B; nothing else reaches either.
    graph = make_graph([SIZE] * 2, {}, [], [(10, [1]), (11, [0])])
    blocked = [chan_wait(graph, 10, [0], "chan send"), chan_wait(graph, 11, [1], "chan send")]
    assert verdicts(graph, blocked) == {10: LEAKED, 11: LEAKED}


def test_select_wakes_when_any_channel_is_reachable() -> None:
    graph = make_graph([SIZE] * 2, {}, [("main.quit", [1])], [(10, [0, 1])])
    assert verdicts(graph, [chan_wait(graph, 10, [0, 1], "select")]) == {10: NOT_LEAKED}
    unreachable = make_graph([SIZE] * 2, {}, [], [(10, [0, 1])])
    assert verdicts(unreachable, [chan_wait(unreachable, 10, [0, 1], "select")]) == {10: LEAKED}


def test_sync_wait_uses_the_object_holding_the_semaphore() -> None:
    # object 1 is a struct with a sync.Mutex at +0x10 (sema at +0x14); object 0 holds a pointer to it.
    graph = make_graph([SIZE] * 2, {0: [1]}, [], [(1, [0]), (10, [1])])
    lock = BlockedGoroutine(10, "sync.Mutex.Lock", "sync.Mutex.Lock", blocking=[address(graph, 1, 0x14)])
    assert verdicts(graph, [lock]) == {10: NOT_LEAKED}
    alone = make_graph([SIZE] * 2, {0: [1]}, [], [(10, [1])])
    lock = BlockedGoroutine(10, "sync.WaitGroup.Wait", "", blocking=[address(alone, 1, 0x18)])
    assert verdicts(alone, [lock]) == {10: LEAKED}
    # Only the first sudog of a sync wait counts (gp.waiting.elem).
    lock = BlockedGoroutine(10, "sync.Mutex.Lock", "", blocking=[address(alone, 1, 4), 0x1000])
    assert verdicts(alone, [lock]) == {10: LEAKED}


def test_object_outside_the_heap_counts_as_reachable() -> None:
    # A mutex in a global, or on a stack: the runtime's isMarkedOrNotInHeap says reachable.
    graph = make_graph([SIZE], {}, [], [(10, [0])])
    lock = BlockedGoroutine(10, "sync.Mutex.Lock", "", blocking=[0x5A0000])
    assert verdicts(graph, [lock, chan_wait(graph, 11, [])]) == {10: NOT_LEAKED, 11: LEAKED}


def test_sudog_pointers_are_hidden_like_the_runtime_does() -> None:
    # global allgs -> g (0) -> sudog (1) -> channel (2): only the sudog reaches the channel.
    graph = make_graph([SIZE] * 3, {0: [1], 1: [2]}, [("runtime.allgs", [0])], [(10, [2])])
    waiting = chan_wait(graph, 10, [2])
    assert verdicts(graph, [waiting]) == {10: NOT_LEAKED}
    waiting.hidden = [(address(graph, 1, 0x10), address(graph, 2))]
    assert verdicts(graph, [waiting]) == {10: LEAKED}


def test_unknown_waits_stay_unknown_and_make_dependents_possibly_leaked() -> None:
    # 12's wait is unknown; only its stack reaches A (0), on which 10 waits.
    graph = make_graph([SIZE] * 2, {}, [], [(10, [0]), (12, [0])])
    unknown = BlockedGoroutine(12, "chan receive", "", known=False, unknown_reason="its sudogs are unreadable")
    result = {v.goroutine: (v.verdict, v.reason) for v in leak_verdicts(graph, [chan_wait(graph, 10, [0]), unknown])}
    assert result[10][0] == POSSIBLY_LEAKED
    assert result[12] == (UNKNOWN, "its sudogs are unreadable")
    # The same, with a global also reaching A: not leaked whatever 12 does.
    reached = make_graph([SIZE] * 2, {}, [("main.a", [0])], [(10, [0]), (12, [0])])
    assert verdicts(reached, [chan_wait(reached, 10, [0]), unknown])[10] == NOT_LEAKED


def test_forever_waits_and_the_main_goroutine_in_select() -> None:
    # main (1) in select {} holds channel 0; 10 waits on it: the runtime reports 10, not main.
    graph = make_graph([SIZE], {}, [], [(1, [0]), (10, [0])])
    main = BlockedGoroutine(1, "select (no cases)", "select (no cases)", reported=False)
    nil = BlockedGoroutine(11, "chan send (nil chan)", "chan send (nil chan)")
    report = leak_report(graph, [main, chan_wait(graph, 10, [0]), nil])
    assert {v.goroutine: v.verdict for v in report.verdicts} == {10: LEAKED, 11: LEAKED}
    assert report.candidates == 2 and report.counts[LEAKED] == 2
    assert any("goroutine 1 waits in select {}" in note for note in report.notes)


def test_runtime_marked_leaked_and_conservative_graphs() -> None:
    graph = make_graph([SIZE], {}, [("main.c", [0])], [(10, [0])], precise=False)
    marked = BlockedGoroutine(10, "chan receive", "leaked", runtime_leaked=True)
    report = leak_report(graph, [marked, chan_wait(graph, 11, [])])
    assert [v.verdict for v in report.verdicts] == [LEAKED, LEAKED]
    assert "(_Gleaked)" in report.verdicts[0].reason
    assert any("scanned conservatively" in note for note in report.notes)


def test_groups_by_stack_and_formatting() -> None:
    graph = make_graph([SIZE] * 4, {}, [], [(10, [0]), (11, [1]), (12, [2]), (13, [3])])
    blocked = [chan_wait(graph, g, [g - 10]) for g in (10, 11, 12, 13)]
    for b in blocked:
        b.waits_on, b.state = ["chan int"], "chan receive"
    stacks = {g: ["main.worker at app/main.go:42", "main.main.gowrap1 at app/main.go:30"] for g in (10, 11, 13)}
    stacks[12] = ["main.other at app/main.go:50"]
    report = leak_report(graph, blocked, lambda g: stacks[g])
    assert [(g.count, g.goroutines) for g in report.groups] == [(3, [10, 11, 13]), (1, [12])]
    lines = format_leaks(report)
    assert lines[0] == (
        "4 goroutines blocked on channels or sync objects: 4 leaked, 0 possibly leaked, 0 unknown, 0 not leaked"
    )
    assert "3 goroutines leaked [chan receive]: 10, 11, 13" in lines
    assert "    main.worker at app/main.go:42" in lines
    data = report.to_json()
    assert data["counts"][LEAKED] == 4 and data["groups"][0]["count"] == 3


def _record(goroutine: int, status: int, reason: str = "", system: bool = False) -> GoroutineRecord:
    return GoroutineRecord(
        address=0x1000 * goroutine,
        id=goroutine,
        status=status,
        state=reason or "running",
        wait_reason=reason,
        system=system,
    )


def _frame(function: str, line: int) -> SimpleNamespace:
    return SimpleNamespace(function=function, file="/src/app/main.go", line=line, stack="goroutine")


def fake_program(records: list[GoroutineRecord], minor: int = 27) -> SimpleNamespace:
    def stack(record: GoroutineRecord) -> SimpleNamespace:
        return SimpleNamespace(frames=[_frame(f"main.g{record.id}", 40), _frame("main.main", 9)], error=None)

    return SimpleNamespace(goroutines=lambda: records, stack=stack, go_minor=minor)


def test_find_leaks_from_goroutines_and_the_wait_graph() -> None:
    # 2 runs and holds object 3 -> 4 (a channel); 10 waits on 4; 11 waits on 0 (only its own stack);
    # 12 locks a mutex inside object 1 (only its stack); 13 waits on a Cond it cannot name (Go 1.25);
    # 14 sleeps (not a candidate: its stack is a root); 15 is a runtime goroutine in chan receive.
    graph = make_graph([SIZE] * 5, {3: [4]}, [], [(2, [3]), (10, [4]), (11, [0]), (12, [1]), (14, [3])])
    waits = WaitGraph()
    chan0 = WaitObject("chan", address(graph, 0), elem_type="int")
    chan4 = WaitObject("chan", address(graph, 4), elem_type="string")
    mutex = WaitObject("mutex", address(graph, 1, 0x20))
    cond = WaitObject("cond", None)
    waits.objects = [chan0, chan4, mutex, cond]
    waits.waits = {
        10: GoroutineWait(
            10, "chan receive", [1], "receive", "main.g10 at app/main.go:40", [(0xDEAD0, chan4.address or 0)]
        ),
        11: GoroutineWait(11, "chan send", [0], "send", "main.g11 at app/main.go:40", [(0xDEAD8, chan0.address or 0)]),
        12: GoroutineWait(12, "sync.Mutex.Lock", [2], "lock", "main.g12 at app/main.go:40"),
        13: GoroutineWait(13, "sync.Cond.Wait", [3], "wait", "main.g13 at app/main.go:40"),
    }
    records = [
        _record(2, G_RUNNING),
        _record(10, G_WAITING, "chan receive"),
        _record(11, G_WAITING, "chan send"),
        _record(12, G_WAITING, "sync.Mutex.Lock"),
        _record(13, G_WAITING, "sync.Cond.Wait"),
        _record(14, G_WAITING, "sleep"),
        _record(15, G_WAITING, "chan receive", system=True),
    ]
    report = find_leaks(fake_program(records, 25), graph, waits)  # type: ignore[arg-type]
    found = {v.goroutine: v.verdict for v in report.verdicts}
    assert found == {11: LEAKED, 12: LEAKED, 13: UNKNOWN, 15: UNKNOWN}
    assert report.counts == {LEAKED: 2, POSSIBLY_LEAKED: 0, UNKNOWN: 2, NOT_LEAKED: 1}
    leaked = next(v for v in report.verdicts if v.goroutine == 11)
    assert leaked.waits_on == [chan0.label()] and leaked.stack[0] == "main.g11 at app/main.go:40"
    assert next(v for v in report.verdicts if v.goroutine == 13).reason.startswith("which sync.Cond")
    # Go 1.26+: _Gleaked goroutines are the runtime's own verdict.
    records.append(_record(16, G_LEAKED, "chan receive"))
    report = find_leaks(fake_program(records, 27), graph, waits)  # type: ignore[arg-type]
    assert {v.goroutine: v.verdict for v in report.verdicts}[16] == LEAKED


def test_unreadable_spans_make_object_waits_only_possibly_leaked() -> None:
    graph = make_graph([SIZE], {}, [], [(10, [0])])
    graph.objects.problems.append("span 0x1000 at 0xc000100000: allocation bits: unreadable")
    nil = BlockedGoroutine(11, "chan receive (nil chan)", "")
    found = {v.goroutine: (v.verdict, v.reason) for v in leak_verdicts(graph, [chan_wait(graph, 10, [0]), nil])}
    assert found[10][0] == POSSIBLY_LEAKED and "could not be read" in found[10][1]
    assert found[11][0] == LEAKED


def test_select_whose_sudog_list_was_cut_short_is_unknown() -> None:
    graph = make_graph([SIZE] * 2, {}, [], [(10, [0])])
    waits = WaitGraph()
    waits.objects = [WaitObject("chan", address(graph, 0))]
    cut = GoroutineWait(10, "select", [0], "select", "main.f at app/main.go:1", [(0xBEEF0, address(graph, 0))])
    cut.sudogs_complete = False
    waits.waits = {10: cut}
    report = find_leaks(fake_program([_record(10, G_WAITING, "select")]), graph, waits)  # type: ignore[arg-type]
    assert [(v.verdict, v.reason) for v in report.verdicts] == [
        (UNKNOWN, "its list of waits (sudogs) could not be read whole")
    ]


def test_sync_wait_on_several_semaphores_is_unknown() -> None:
    graph = make_graph([SIZE] * 2, {}, [], [(10, [0, 1])])
    waits = WaitGraph()
    waits.objects = [WaitObject("mutex", address(graph, 0)), WaitObject("mutex", address(graph, 1))]
    torn = GoroutineWait(10, "sync.Mutex.Lock", [0, 1], "lock", "main.f at app/main.go:1")
    torn.sudogs = [(0xBEEF0, address(graph, 0, 4)), (0xBEF00, address(graph, 1, 4))]
    waits.waits = {10: torn}
    report = find_leaks(fake_program([_record(10, G_WAITING, "sync.Mutex.Lock")]), graph, waits)  # type: ignore[arg-type]
    assert [v.verdict for v in report.verdicts] == [UNKNOWN]


def naive_awake(graph: FakeGraph, blocked: Sequence[BlockedGoroutine], wake_unknown: bool) -> set[int]:
    """The rule applied literally: recompute reachability from scratch until nothing changes."""
    ids = {b.goroutine for b in blocked}
    hidden = {
        (graph.objects.find(s), graph.objects.find(p))
        for b in blocked
        for s, p in b.hidden
        if graph.objects.find(s) >= 0 and graph.objects.find(p) >= 0
    }
    awake: set[int] = set()
    while True:
        roots = [r for r in graph.roots if r.goroutine not in ids or r.goroutine in awake]
        seen: set[int] = set()
        work = [t for r in roots for t in r.targets]
        while work:
            index = work.pop()
            if index in seen:
                continue
            seen.add(index)
            start, end = graph.edge_start[index], graph.edge_start[index + 1]
            work.extend(t for t in graph.edges[start:end] if (index, t) not in hidden)
        now = set(awake)
        for b in blocked:
            if not b.known:
                if wake_unknown:
                    now.add(b.goroutine)
                continue
            if b.runtime_leaked or b.reason in ("select (no cases)", "chan send (nil chan)"):
                continue
            deciding = b.blocking[:1] if b.reason.startswith("sync.") else b.blocking
            if any(graph.objects.find(a) < 0 or graph.objects.find(a) in seen for a in deciding):
                now.add(b.goroutine)
        if now == awake:
            return awake
        awake = now


def test_fixpoint_matches_the_literal_rule_on_random_graphs() -> None:

    rng = random.Random(1126)
    for _ in range(300):
        objects = rng.randint(1, 30)
        pointers = {i: [rng.randrange(objects) for _ in range(rng.randint(0, 2))] for i in range(objects)}
        goroutines = list(range(10, 10 + rng.randint(1, 8)))
        globals_ = [(f"g{n}", [rng.randrange(objects)]) for n in range(rng.randint(0, 2))]
        stacks = [(g, [rng.randrange(objects) for _ in range(rng.randint(0, 2))]) for g in goroutines + [1, 2]]
        graph = make_graph([SIZE] * objects, pointers, globals_, stacks)
        blocked = []
        for goroutine in goroutines:
            kind = rng.choice(["chan receive", "select", "sync.Mutex.Lock", "select (no cases)", "unknown"])
            if kind == "unknown":
                blocked.append(BlockedGoroutine(goroutine, "chan receive", known=False))
                continue
            count = 0 if kind == "select (no cases)" else (rng.randint(1, 3) if kind == "select" else 1)
            targets = [rng.randrange(objects) for _ in range(count)]
            candidate = BlockedGoroutine(goroutine, kind, blocking=[address(graph, t, 8) for t in targets])
            if rng.random() < 0.1:
                candidate.blocking.append(0x5A0000)  # outside the heap
            if targets and rng.random() < 0.5:
                source = rng.randrange(objects)
                candidate.hidden = [(address(graph, source), address(graph, targets[0]))]
            blocked.append(candidate)
        sure, worst = naive_awake(graph, blocked, True), naive_awake(graph, blocked, False)
        for verdict, candidate in zip(leak_verdicts(graph, blocked), blocked):
            if not candidate.known:
                expected = UNKNOWN
            elif candidate.goroutine not in sure:
                expected = LEAKED
            elif candidate.goroutine not in worst:
                expected = POSSIBLY_LEAKED
            else:
                expected = NOT_LEAKED
            assert verdict.verdict == expected, (candidate, verdict)


def test_old_releases_say_which_sync_waits_are_not_examined() -> None:
    graph = make_graph([SIZE], {}, [], [])
    notes = {
        minor: find_leaks(fake_program([], minor), graph, WaitGraph()).notes  # type: ignore[arg-type]
        for minor in (19, 22, 24)
    }
    assert any(n.startswith("before Go 1.20, sync.Mutex, RWMutex and WaitGroup waits") for n in notes[19])
    assert any(n.startswith("before Go 1.24, sync.WaitGroup waits") for n in notes[22])
    assert not any("semacquire" in n for n in notes[24])
