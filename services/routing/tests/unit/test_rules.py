"""Tenant rules: ordering, stop-processing, each operator and each action (pure domain)."""

from __future__ import annotations

import time

import pytest
from responer_routing.domain.rules import (
    Action,
    Condition,
    MessageFacts,
    Rule,
    RuleError,
    apply_rules,
    condition_holds,
    validate,
)

pytestmark = pytest.mark.unit


def rule(name: str, *conds: Condition, actions: tuple[Action, ...], match: str = "all") -> Rule:
    return Rule(rule_id=name, name=name, conditions=conds, actions=actions, match=match)


FACTS = MessageFacts(
    headers=(("X-Shop-Order", "A-1234"), ("Subject", "Reklamacja")),
    from_email="jan@klient.pl",
    from_name="Jan Kowalski",
    to=("support@firma.pl",),
    cc=("boss@firma.pl",),
    mailbox="mbx-1 support@firma.pl",
    subject="Reklamacja zamówienia 1234",
    body="Dzień dobry, paczka przyszła uszkodzona.",
    attachment_names=("zdjecie.jpg",),
    attachment_types=("image/jpeg",),
    contact_attributes={"vip": "true"},
    local_minutes=9 * 60 + 30,
    local_weekday=2,
)


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (Condition("header", "equals", "a-1234", name="x-shop-order"), True),
        (Condition("header", "exists", name="X-Missing"), False),
        (Condition("header", "not_exists", name="X-Missing"), True),
        (Condition("from", "contains", "@klient.pl"), True),
        (Condition("from", "contains", "Kowalski"), True),
        (Condition("to", "equals", "support@firma.pl"), True),
        (Condition("cc", "equals", "support@firma.pl"), False),
        (Condition("to_cc", "equals", "boss@firma.pl"), True),
        (Condition("mailbox", "contains", "support@"), True),
        (Condition("subject", "regex", r"zam[oó]wienia\s+\d{4}"), True),
        (Condition("subject", "not_contains", "faktura"), True),
        (Condition("body", "contains", "USZKODZONA"), True),
        (Condition("attachment_name", "regex", r"\.jpe?g$"), True),
        (Condition("attachment_type", "equals", "application/pdf"), False),
        (Condition("contact_attribute", "equals", "true", name="VIP"), True),
        (Condition("contact_attribute", "exists", name="segment"), False),
        (Condition("time_of_day", "equals", "08:00-16:00"), True),
        (Condition("time_of_day", "equals", "22:00-06:00"), False),
        (Condition("weekday", "equals", "2"), True),
        (Condition("system", "equals", "false"), True),
    ],
)
def test_each_condition_field_and_operator(condition: Condition, expected: bool) -> None:
    assert condition_holds(condition, FACTS) is expected


def test_regex_is_linear_time_on_a_hostile_body() -> None:
    evil = MessageFacts(body="a" * 60_000 + "!")
    started = time.perf_counter()
    assert condition_holds(Condition("body", "regex", r"(a+)+!$"), evil) is True
    assert condition_holds(Condition("body", "regex", r"^(a+)+b"), evil) is False  # backtracking: hours
    assert time.perf_counter() - started < 1.0


def test_invalid_rules_are_refused_with_a_reason() -> None:
    with pytest.raises(RuleError, match="regex"):
        validate(rule("r", Condition("subject", "regex", "(unclosed"), actions=(Action("stop"),)))
    with pytest.raises(RuleError, match="at most"):
        validate(rule("r", Condition("subject", "regex", "a" * 400), actions=(Action("stop"),)))
    with pytest.raises(RuleError, match="unknown action"):
        validate(rule("r", Condition("subject", "exists"), actions=(Action("explode"),)))
    with pytest.raises(RuleError, match="priority"):
        validate(rule("r", Condition("subject", "exists"), actions=(Action("priority", "asap"),)))


def test_any_of_and_all_of() -> None:
    yes, no = Condition("subject", "contains", "reklamacja"), Condition("subject", "contains", "faktura")
    tag = (Action("tag", "t"),)
    assert apply_rules([rule("all", yes, no, actions=tag)], FACTS).tags == []
    assert apply_rules([rule("any", yes, no, actions=tag, match="any")], FACTS).tags == ["t"]


def test_rules_run_in_order_and_a_later_folder_wins() -> None:
    cond = Condition("subject", "contains", "reklamacja")
    out = apply_rules(
        [
            rule("first", cond, actions=(Action("folder", "Reklamacje"),)),
            rule("second", cond, actions=(Action("folder", "VIP"),)),
        ],  # fmt: skip
        FACTS,
    )
    assert out.folder == "VIP"
    assert out.matched == ["first", "second"]


def test_stop_processing_ends_the_run() -> None:
    cond = Condition("subject", "contains", "reklamacja")
    out = apply_rules(
        [
            rule("first", cond, actions=(Action("tag", "complaint"), Action("stop"))),
            rule("second", cond, actions=(Action("tag", "never"),)),
        ],
        FACTS,
    )
    assert out.tags == ["complaint"]
    assert out.matched == ["first"]


def test_each_action_lands_in_the_outcome() -> None:
    cond = Condition("from", "contains", "klient.pl")
    out = apply_rules(
        [
            rule(
                "all-actions",
                cond,
                actions=(
                    Action("folder", "Klienci"),
                    Action("tag", "pl"),
                    Action("assign_user", "u1"),
                    Action("assign_group", "g1"),
                    Action("status", "pending"),
                    Action("priority", "high"),
                    Action("mark_system"),
                ),
            ),
            rule("undo", cond, actions=(Action("mark_not_system"),)),
        ],
        FACTS,
    )
    assert out.folder == "Klienci" and out.tags == ["pl"]
    assert out.assign_user is not None and out.assign_user[0] == "u1"
    assert out.assign_group is not None and out.assign_group[0] == "g1"
    assert out.status is not None and out.status[0] == "pending"
    assert out.priority is not None and out.priority[0] == "high"
    assert out.system is False  # the later rule's mark_not_system wins


def test_a_disabled_rule_does_nothing() -> None:
    r = Rule("r", "r", (Condition("subject", "exists"),), (Action("tag", "x"),), enabled=False)
    assert apply_rules([r], FACTS).tags == []
