"""A tenant's own sorting rules: ordered; conditions on the message, actions on the thread.

A rule matches when all (or any) of its conditions hold. Rules run in order after system-mail
detection; a `stop` action ends the run. Regexes are RE2 (linear time: no catastrophic
backtracking on a hostile body), their length is bounded and the text they see is truncated.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import re2

FIELDS = (
    "header", "from", "to", "cc", "to_cc", "mailbox", "subject", "body", "attachment_name",
    "attachment_type", "contact_attribute", "time_of_day", "weekday", "system", "system_kind",
)  # fmt: skip
OPS = ("contains", "equals", "regex", "exists", "not_contains", "not_equals", "not_exists")
ACTIONS = (
    "folder", "tag", "assign_user", "assign_group", "status", "priority", "mark_system",
    "mark_not_system", "stop",
)  # fmt: skip
STATUSES = ("open", "pending", "closed")
PRIORITIES = ("low", "normal", "high", "urgent")
MAX_PATTERN = 300
MAX_TEXT = 64 * 1024
MAX_CONDITIONS = 30
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.max_mem = 1 << 20
_RE2_OPTIONS.case_sensitive = False


class RuleError(ValueError):
    """A rule that cannot be saved, with the reason a person can act on."""


def rule_id_for(tenant_id: str, name: str) -> str:
    return str(uuid.uuid5(uuid.UUID(tenant_id), f"rule:{name.strip().lower()}"))


@dataclass(frozen=True, slots=True)
class Condition:
    field: str
    op: str
    value: str = ""
    name: str = ""  # header name or contact attribute


@dataclass(frozen=True, slots=True)
class Action:
    type: str
    value: str = ""

    def describe(self) -> str:
        return f"{self.type}:{self.value}" if self.value else self.type


@dataclass(frozen=True, slots=True)
class Rule:
    rule_id: str
    name: str
    conditions: tuple[Condition, ...]
    actions: tuple[Action, ...]
    match: str = "all"
    enabled: bool = True

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule_id": self.rule_id,
            "name": self.name,
            "match": self.match,
            "enabled": self.enabled,
            "conditions": [
                {"field": c.field, "op": c.op, "value": c.value, "name": c.name} for c in self.conditions
            ],
            "actions": [{"type": a.type, "value": a.value} for a in self.actions],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Rule:
        return cls(
            rule_id=data["rule_id"],
            name=data["name"],
            match=data.get("match", "all"),
            enabled=data.get("enabled", True),
            conditions=tuple(Condition(**c) for c in data.get("conditions", ())),
            actions=tuple(Action(**a) for a in data.get("actions", ())),
        )


def validate(rule: Rule) -> None:
    if not rule.name.strip():
        raise RuleError("a rule needs a name")
    if rule.match not in ("all", "any"):
        raise RuleError("match must be 'all' or 'any'")
    if not rule.conditions:
        raise RuleError("a rule needs at least one condition")
    if len(rule.conditions) > MAX_CONDITIONS:
        raise RuleError(f"at most {MAX_CONDITIONS} conditions")
    if not rule.actions:
        raise RuleError("a rule needs at least one action")
    for c in rule.conditions:
        if c.field not in FIELDS:
            raise RuleError(f"unknown condition field {c.field!r}; expected one of {', '.join(FIELDS)}")
        if c.op not in OPS:
            raise RuleError(f"unknown operator {c.op!r}; expected one of {', '.join(OPS)}")
        if c.field in ("header", "contact_attribute") and not c.name.strip():
            raise RuleError(f"a {c.field} condition needs the {c.field} name")
        if c.op == "regex":
            if len(c.value) > MAX_PATTERN:
                raise RuleError(f"a regex may be at most {MAX_PATTERN} characters")
            try:
                re2.compile(c.value, _RE2_OPTIONS)
            except Exception as exc:  # re2.error
                raise RuleError(f"invalid regex {c.value!r}: {exc}") from exc
        if c.field == "time_of_day":
            _parse_range(c.value)
    for a in rule.actions:
        if a.type not in ACTIONS:
            raise RuleError(f"unknown action {a.type!r}; expected one of {', '.join(ACTIONS)}")
        if a.type in ("folder", "tag", "assign_user", "assign_group") and not a.value.strip():
            raise RuleError(f"the {a.type} action needs a value")
        if a.type == "status" and a.value not in STATUSES:
            raise RuleError(f"status must be one of {', '.join(STATUSES)}")
        if a.type == "priority" and a.value not in PRIORITIES:
            raise RuleError(f"priority must be one of {', '.join(PRIORITIES)}")


def _parse_range(value: str) -> tuple[int, int]:
    try:
        start, end = value.split("-", 1)
        return _minutes(start), _minutes(end)
    except (ValueError, IndexError) as exc:
        raise RuleError(f"a time range looks like 08:00-16:00, not {value!r}") from exc


def _minutes(hhmm: str) -> int:
    h, m = hhmm.strip().split(":")
    value = int(h) * 60 + int(m)
    if not 0 <= value <= 24 * 60:
        raise ValueError(hhmm)
    return value


@dataclass(frozen=True, slots=True)
class MessageFacts:
    """What a rule can look at: one message, its mailbox, sender's contact and the system verdict."""

    headers: tuple[tuple[str, str], ...] = ()
    from_email: str = ""
    from_name: str = ""
    to: tuple[str, ...] = ()
    cc: tuple[str, ...] = ()
    mailbox: str = ""  # mailbox id and address, space separated
    subject: str = ""
    body: str = ""
    attachment_names: tuple[str, ...] = ()
    attachment_types: tuple[str, ...] = ()
    contact_attributes: dict[str, str] = field(default_factory=dict)
    local_minutes: int = 0  # minutes since local midnight at arrival (tenant time zone)
    local_weekday: int = 0  # 0 = Monday
    system: bool = False
    system_kind: str = ""

    def values(self, c: Condition) -> list[str] | None:
        """The values a condition tests; None when the thing does not exist (for exists/not_exists)."""
        f = c.field
        if f == "header":
            wanted = c.name.strip().lower()
            found = [v for k, v in self.headers if k.lower() == wanted]
            return found or None
        if f == "from":
            return [f"{self.from_name} <{self.from_email}>", self.from_email]
        if f in ("to", "cc", "to_cc"):
            got = {"to": self.to, "cc": self.cc, "to_cc": self.to + self.cc}[f]
            return list(got) or None
        if f == "mailbox":
            return [self.mailbox]
        if f == "subject":
            return [self.subject]
        if f == "body":
            return [self.body[:MAX_TEXT]] if self.body else None
        if f == "attachment_name":
            return list(self.attachment_names) or None
        if f == "attachment_type":
            return list(self.attachment_types) or None
        if f == "contact_attribute":
            value = self.contact_attributes.get(c.name.strip().lower())
            return None if value in (None, "") else [value]
        if f == "system":
            return ["true" if self.system else "false"]
        if f == "system_kind":
            return [self.system_kind] if self.system_kind else None
        if f == "weekday":
            return [str(self.local_weekday)]
        return None


def condition_holds(c: Condition, facts: MessageFacts) -> bool:
    if c.field == "time_of_day":
        start, end = _parse_range(c.value)
        t = facts.local_minutes
        inside = start <= t < end if start <= end else (t >= start or t < end)  # over midnight
        return inside if c.op != "not_equals" else not inside
    values = facts.values(c)
    op = c.op
    if op == "exists":
        return values is not None
    if op == "not_exists":
        return values is None
    negate = op.startswith("not_")
    base = op[4:] if negate else op
    test = _test(base, c.value)
    hit = any(test(v[:MAX_TEXT]) for v in (values or ()))
    return not hit if negate else hit


def _test(op: str, needle: str) -> Callable[[str], bool]:
    lowered = needle.casefold()
    if op == "contains":
        return lambda v: lowered in v.casefold()
    if op == "equals":
        return lambda v: v.strip().casefold() == lowered.strip()
    if op == "regex":
        pattern = re2.compile(needle, _RE2_OPTIONS)
        return lambda v: pattern.search(v) is not None
    raise RuleError(f"unknown operator {op!r}")


def rule_matches(rule: Rule, facts: MessageFacts) -> bool:
    results = (condition_holds(c, facts) for c in rule.conditions)
    return all(results) if rule.match == "all" else any(results)


@dataclass
class Outcome:
    """The sum of the matching rules' actions, in rule order (later rules override a folder)."""

    folder: str | None = None
    tags: list[str] = field(default_factory=list)
    assign_user: tuple[str, Rule] | None = None
    assign_group: tuple[str, Rule] | None = None
    status: tuple[str, Rule] | None = None
    priority: tuple[str, Rule] | None = None
    system: bool | None = None
    trace: list[str] = field(default_factory=list)
    tag_rules: dict[str, str] = field(default_factory=dict)
    matched: list[str] = field(default_factory=list)


def apply_rules(rules: list[Rule], facts: MessageFacts) -> Outcome:
    out = Outcome()
    for rule in rules:
        if not rule.enabled:
            continue
        try:
            matched = rule_matches(rule, facts)
        except Exception as exc:  # noqa: BLE001 - a broken rule abstains, it never drops mail
            out.trace.append(f"{rule.name}: error {exc}")
            continue
        if not matched:
            continue
        out.matched.append(rule.rule_id)
        out.trace.append(f"{rule.name}: " + ", ".join(a.describe() for a in rule.actions))
        stop = False
        for a in rule.actions:
            if a.type == "folder":
                out.folder = a.value
            elif a.type == "tag" and a.value not in out.tags:
                out.tags.append(a.value)
                out.tag_rules[a.value] = rule.rule_id
            elif a.type == "assign_user":
                out.assign_user = (a.value, rule)
            elif a.type == "assign_group":
                out.assign_group = (a.value, rule)
            elif a.type == "status":
                out.status = (a.value, rule)
            elif a.type == "priority":
                out.priority = (a.value, rule)
            elif a.type == "mark_system":
                out.system = True
            elif a.type == "mark_not_system":
                out.system = False
            elif a.type == "stop":
                stop = True
        if stop:
            break
    return out
