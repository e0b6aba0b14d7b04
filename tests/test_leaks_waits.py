"""What the goroutine leak analysis takes from a real core: the leak candidates of
tests/programs/heaproots and what each waits on (the heap-graph fixpoint itself is
tested on synthetic graphs in tests/unit/test_leaks.py)."""

from __future__ import annotations

import pytest

from goext_core.runtime.leaks import CANDIDATE_REASONS, blocked_goroutines
from goext_core.runtime.waitgraph import build_wait_graph
from support.offline import core_programs


@pytest.fixture(scope="module")
def cores():
    return core_programs("heaproots")


def _ids(stdout: str, word: str) -> set[int]:
    return {int(line.split()[1]) for line in stdout.splitlines() if line.startswith(word + " ")}


@pytest.mark.go_versions("1.19", "1.22", "1.24", "1.27")
@pytest.mark.flavours("default", "stripped")
def test_leak_candidates_and_their_channels(cores, go_version: str, flavour: str) -> None:
    artifact, program = cores(go_version, flavour)
    leaked, waiting = _ids(artifact.stdout, "LEAKED"), _ids(artifact.stdout, "WAITING")
    assert len(leaked) == 5 and len(waiting) == 1
    blocked = {b.goroutine: b for b in blocked_goroutines(program, build_wait_graph(program))}
    assert all(b.reason in CANDIDATE_REASONS and b.known for b in blocked.values())
    # The five leakOne goroutines wait on one channel, through their own sudogs.
    channels = {tuple(blocked[g].blocking) for g in leaked}
    assert len(channels) == 1 and len(next(iter(channels))) == 1
    for goroutine in leaked | waiting:
        candidate = blocked[goroutine]
        assert candidate.reason == "chan receive"
        assert [pointer for _, pointer in candidate.hidden] == candidate.blocking
        assert len({sudog for sudog, _ in candidate.hidden}) == 1
    assert blocked[next(iter(waiting))].blocking != list(next(iter(channels)))
    # holdLocally waits too, on the global's channel as waitOnGlobal does; main panics (runs): not a candidate.
    others = set(blocked) - leaked - waiting
    assert len(others) == 1
    holder = blocked[others.pop()]
    assert "holdLocally" in holder.location and holder.blocking == blocked[next(iter(waiting))].blocking
    assert 1 not in blocked
