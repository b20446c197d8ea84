"""Agents, groups and the automatic assignment strategies.

`AgentRoster` (one per tenant) knows what routing learns from the gateway (agents, availability,
skills, groups) plus what routing owns (each group's strategy, the round-robin cursor, the open
threads per agent). Every automatic assignment is saved together with the thread's aggregate, so
two replicas choosing at once collide on the roster's version and one of them retries: one thread
is never assigned twice, and counts and cursors stay exact.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from eventsourcing.domain import Aggregate, event

MANUAL, ROUND_ROBIN, LEAST_OPEN, COMPETENCE = "manual", "round_robin", "least_open", "competence"
STRATEGIES = (MANUAL, ROUND_ROBIN, LEAST_OPEN, COMPETENCE)


def roster_id(tenant_id: str) -> uuid.UUID:
    return uuid.uuid5(uuid.UUID(tenant_id), "roster")


@dataclass(frozen=True, slots=True)
class Candidate:
    user_id: str
    available: bool
    open_threads: int
    max_open: int  # 0: no limit
    skills: frozenset[str] = frozenset()


def eligible(candidates: list[Candidate]) -> list[Candidate]:
    return [c for c in candidates if c.available and (c.max_open <= 0 or c.open_threads < c.max_open)]


def choose_round_robin(candidates: list[Candidate], last: str | None) -> Candidate | None:
    """The next eligible member after the last one chosen, in the group's (stable) member order."""
    if not candidates:
        return None
    order = [c.user_id for c in candidates]
    start = order.index(last) + 1 if last in order else 0
    ok = {c.user_id for c in eligible(candidates)}
    for step in range(len(order)):
        user = order[(start + step) % len(order)]
        if user in ok:
            return next(c for c in candidates if c.user_id == user)
    return None


def choose_least_open(candidates: list[Candidate]) -> Candidate | None:
    ok = eligible(candidates)
    # Ties go to the member listed first, so the choice is deterministic (and testable).
    return min(ok, key=lambda c: c.open_threads) if ok else None


def choose_competence(candidates: list[Candidate], needed: set[str]) -> Candidate | None:
    """The eligible agent with the most of the needed skills; least open threads breaks ties.

    With no skill needed, or nobody having any of them, falls back to least open.
    """
    ok = eligible(candidates)
    if not ok:
        return None
    wanted = {s.casefold() for s in needed}
    scored = [(len(wanted & {s.casefold() for s in c.skills}), c) for c in ok]
    best = max(score for score, _ in scored)
    pool = [c for score, c in scored if score == best]
    return min(pool, key=lambda c: c.open_threads)


def choose(
    strategy: str, candidates: list[Candidate], last: str | None, needed: set[str]
) -> Candidate | None:
    if strategy == ROUND_ROBIN:
        return choose_round_robin(candidates, last)
    if strategy == LEAST_OPEN:
        return choose_least_open(candidates)
    if strategy == COMPETENCE:
        return choose_competence(candidates, needed)
    return None


@dataclass
class GroupPolicy:
    strategy: str = MANUAL
    max_open_per_agent: int = 0
    assignment_timeout_minutes: int = 0
    skills: list[str] = field(default_factory=list)


class AgentRoster(Aggregate):
    @event("Started")
    def __init__(self, tenant_id: str, id: uuid.UUID) -> None:  # noqa: A002
        self.tenant_id = tenant_id
        self.agents: dict[str, dict[str, Any]] = {}
        self.groups: dict[str, dict[str, Any]] = {}
        self.policies: dict[str, dict[str, Any]] = {}
        self.cursor: dict[str, str] = {}
        self.open: dict[str, list[str]] = {}  # user id -> open thread ids assigned to them

    # -- learnt from the gateway ---------------------------------------------------------------
    @event("AgentKnown")
    def know_agent(self, user_id: str, name: str, email: str) -> None:
        agent = self.agents.setdefault(user_id, {"available": False, "skills": [], "max_open": 0})
        agent.update(name=name, email=email)

    @event("AvailabilityChanged")
    def set_availability(self, user_id: str, available: bool, skills: list[str], max_open: int) -> None:
        agent = self.agents.setdefault(user_id, {"name": "", "email": ""})
        agent.update(available=available, skills=list(skills), max_open=max_open)

    @event("GroupChanged")
    def set_group(self, group_id: str, name: str, members: list[str], manager: str, removed: bool) -> None:
        if removed:
            self.groups.pop(group_id, None)
        else:
            self.groups[group_id] = {"name": name, "members": list(members), "manager": manager}

    # -- owned by routing ----------------------------------------------------------------------
    @event("PolicySet")
    def set_policy(
        self, group_id: str, strategy: str, max_open_per_agent: int, timeout_minutes: int, skills: list[str]
    ) -> None:
        self.policies[group_id] = {
            "strategy": strategy,
            "max_open_per_agent": max_open_per_agent,
            "assignment_timeout_minutes": timeout_minutes,
            "skills": list(skills),
        }

    def policy(self, group_id: str) -> GroupPolicy:
        return GroupPolicy(**self.policies.get(group_id, {}))

    def candidates(self, group_id: str) -> list[Candidate]:
        group = self.groups.get(group_id)
        if group is None:
            return []
        limit = self.policy(group_id).max_open_per_agent
        out = []
        for user_id in group["members"]:
            agent = self.agents.get(user_id, {})
            own = int(agent.get("max_open") or 0)
            out.append(
                Candidate(
                    user_id=user_id,
                    available=bool(agent.get("available")),
                    open_threads=len(self.open.get(user_id, ())),
                    max_open=own or limit,
                    skills=frozenset(agent.get("skills") or ()),
                )
            )
        return out

    def pick(self, group_id: str, needed: set[str], exclude: str = "") -> tuple[str, str] | None:
        """(user id, strategy) chosen by the group's strategy, or None (manual group, nobody free)."""
        policy = self.policy(group_id)
        pool = [c for c in self.candidates(group_id) if c.user_id != exclude]
        chosen = choose(policy.strategy, pool, self.cursor.get(group_id), needed | set(policy.skills))
        return (chosen.user_id, policy.strategy) if chosen else None

    @event("ThreadTaken")
    def take(self, group_id: str, user_id: str, thread_id: str, strategy: str) -> None:
        for threads in self.open.values():
            if thread_id in threads:
                threads.remove(thread_id)
        self.open.setdefault(user_id, []).append(thread_id)
        if strategy == ROUND_ROBIN and group_id:
            self.cursor[group_id] = user_id

    @event("ThreadReleased")
    def release(self, thread_id: str) -> None:
        for threads in self.open.values():
            if thread_id in threads:
                threads.remove(thread_id)

    def holder(self, thread_id: str) -> str | None:
        for user_id, threads in self.open.items():
            if thread_id in threads:
                return user_id
        return None

    def manager_of(self, group_id: str) -> str:
        return str(self.groups.get(group_id, {}).get("manager") or "")
