"""Automatic assignment strategies (pure domain): fairness, limits, availability, competence."""

from __future__ import annotations

import uuid
from collections import Counter

import pytest
from responer_routing.domain.assignment import (
    COMPETENCE,
    LEAST_OPEN,
    ROUND_ROBIN,
    AgentRoster,
    Candidate,
    choose_competence,
    choose_least_open,
    choose_round_robin,
)

pytestmark = pytest.mark.unit

TENANT = str(uuid.uuid4())


def roster(strategy: str, agents: int = 5, limit: int = 0, unavailable: tuple[int, ...] = ()) -> AgentRoster:
    r = AgentRoster(tenant_id=TENANT, id=uuid.uuid4())
    members = [f"u{i}" for i in range(agents)]
    for i, user in enumerate(members):
        r.know_agent(user, f"Agent {i}", f"{user}@firma.pl")
        r.set_availability(user, i not in unavailable, [], 0)
    r.set_group("g", "Support", members, "boss", False)
    r.set_policy("g", strategy, limit, 0, [])
    return r


def assign_many(r: AgentRoster, n: int, tags: set[str] | None = None) -> Counter[str]:
    got: Counter[str] = Counter()
    for i in range(n):
        picked = r.pick("g", tags or set())
        if picked is None:
            break
        r.take("g", picked[0], f"t{i}", picked[1])
        got[picked[0]] += 1
    return got


def test_round_robin_is_fair_over_1000_threads_and_5_agents() -> None:
    got = assign_many(roster(ROUND_ROBIN), 1000)
    assert got == {f"u{i}": 200 for i in range(5)}


def test_round_robin_skips_unavailable_agents_and_stays_fair() -> None:
    got = assign_many(roster(ROUND_ROBIN, unavailable=(1, 3)), 999)
    assert got == {"u0": 333, "u2": 333, "u4": 333}


def test_round_robin_respects_the_per_agent_limit() -> None:
    r = roster(ROUND_ROBIN, limit=3)
    got = assign_many(r, 100)
    assert got == {f"u{i}": 3 for i in range(5)}  # 15 assigned, then nobody is free
    assert r.pick("g", set()) is None
    r.release("t0")  # u0 closes one: u0 is the only one with room
    assert r.pick("g", set()) == ("u0", ROUND_ROBIN)


def test_least_open_balances_load_and_respects_limits() -> None:
    r = roster(LEAST_OPEN, limit=4)
    for i in range(3):  # u0 already has three conversations
        r.take("g", "u0", f"old{i}", "manual")
    got = assign_many(r, 100)
    assert sum(got.values()) == 4 * 5 - 3
    assert all(len(r.open[u]) <= 4 for u in r.open)
    assert got["u0"] == 1


def test_least_open_skips_unavailable_agents() -> None:
    got = assign_many(roster(LEAST_OPEN, unavailable=(0,)), 40)
    assert "u0" not in got and set(got.values()) == {10}


def test_competence_prefers_matching_skills_then_load() -> None:
    r = roster(COMPETENCE)
    r.set_availability("u3", True, ["billing", "polish"], 0)
    r.set_availability("u4", True, ["billing"], 0)
    assert r.pick("g", {"billing", "polish"}) == ("u3", COMPETENCE)
    r.take("g", "u3", "x1", COMPETENCE)
    r.take("g", "u4", "x2", COMPETENCE)
    assert r.pick("g", {"billing"}) in {("u3", COMPETENCE), ("u4", COMPETENCE)}
    r.take("g", "u4", "x3", COMPETENCE)
    assert r.pick("g", {"billing"}) == ("u3", COMPETENCE)  # same skill score: fewer open wins
    r.set_availability("u3", False, ["billing", "polish"], 0)
    assert r.pick("g", {"billing", "polish"}) == ("u4", COMPETENCE)  # unavailable skipped


def test_pure_strategy_functions_handle_nobody_free() -> None:
    busy = [Candidate("a", True, 2, 2), Candidate("b", False, 0, 0)]
    assert choose_round_robin(busy, None) is None
    assert choose_least_open(busy) is None
    assert choose_competence(busy, {"x"}) is None


def test_personal_limit_overrides_the_groups() -> None:
    r = roster(ROUND_ROBIN, agents=2, limit=10)
    r.set_availability("u0", True, [], 1)
    got = assign_many(r, 30)
    assert got == {"u0": 1, "u1": 10}
