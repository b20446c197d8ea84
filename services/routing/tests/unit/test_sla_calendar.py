"""SLA due times across business hours, weekends, a holiday and DST (pure domain)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from responer_routing.domain.sla import (
    FIRST_RESPONSE,
    NEXT_RESPONSE,
    BusinessCalendar,
    SlaPolicy,
    deadline,
    pick_policy,
)

pytestmark = pytest.mark.unit

WEEKDAYS = {d: ("08:00", "16:00") for d in range(5)}
WARSAW = BusinessCalendar("Europe/Warsaw", WEEKDAYS, frozenset({date(2026, 12, 28)}))


def warsaw(*args: int) -> datetime:
    return datetime(*args, tzinfo=WARSAW.zone)


def test_inside_business_hours_the_clock_runs() -> None:
    assert WARSAW.add(warsaw(2026, 12, 2, 9, 0), 60) == warsaw(2026, 12, 2, 10, 0).astimezone(UTC)


def test_before_opening_the_clock_starts_at_opening() -> None:
    assert WARSAW.add(warsaw(2026, 12, 2, 6, 0), 30) == warsaw(2026, 12, 2, 8, 30).astimezone(UTC)


def test_friday_afternoon_rolls_over_the_weekend_and_the_holiday() -> None:
    # Friday 2026-12-25 is not a holiday here; Monday 2026-12-28 is: due Tuesday 08:30.
    due = WARSAW.add(warsaw(2026, 12, 25, 15, 30), 60)
    assert due == warsaw(2026, 12, 29, 8, 30).astimezone(UTC)
    # Without the holiday it would be Monday.
    plain = BusinessCalendar("Europe/Warsaw", WEEKDAYS)
    assert plain.add(warsaw(2026, 12, 25, 15, 30), 60) == warsaw(2026, 12, 28, 8, 30).astimezone(UTC)


def test_a_long_sla_spans_several_business_days() -> None:
    # 20 business hours from Wednesday 12:00: Wed 4h, Thu 8h, Fri 8h -> Friday 16:00.
    assert WARSAW.add(warsaw(2026, 12, 2, 12, 0), 20 * 60) == warsaw(2026, 12, 4, 16, 0).astimezone(UTC)


def test_dst_change_keeps_local_opening_hours() -> None:
    # Europe/Warsaw leaves DST on Sunday 2026-10-25: Monday opens at 08:00 local = 07:00 UTC.
    due = WARSAW.add(warsaw(2026, 10, 23, 15, 0), 120)
    assert due == datetime(2026, 10, 26, 7, 0, tzinfo=UTC) + (
        warsaw(2026, 10, 26, 9, 0) - warsaw(2026, 10, 26, 8, 0)
    )


def test_without_business_hours_the_clock_always_runs() -> None:
    cal = BusinessCalendar("UTC")
    assert cal.add(datetime(2026, 12, 26, 23, 0, tzinfo=UTC), 90) == datetime(2026, 12, 27, 0, 30, tzinfo=UTC)


def test_deadline_and_warning_from_a_policy() -> None:
    policy = SlaPolicy("p", "Standard", 120, 240, warn_before_minutes=30)
    due, warn = deadline(policy, WARSAW, FIRST_RESPONSE, warsaw(2026, 12, 2, 15, 0))
    assert due == warsaw(2026, 12, 3, 9, 0).astimezone(UTC)
    assert warn == warsaw(2026, 12, 3, 8, 30).astimezone(UTC)
    due2, _ = deadline(policy, WARSAW, NEXT_RESPONSE, warsaw(2026, 12, 2, 9, 0))
    assert due2 == warsaw(2026, 12, 2, 13, 0).astimezone(UTC)


def test_the_most_specific_policy_wins() -> None:
    general = SlaPolicy("g", "General", 480, 480)
    urgent = SlaPolicy("u", "Urgent", 60, 60, priorities=("urgent",))
    vip = SlaPolicy("v", "VIP urgent", 30, 30, priorities=("urgent",), tags=("vip",))
    policies = [general, urgent, vip]
    assert pick_policy(policies, "normal", [], "") is general
    assert pick_policy(policies, "urgent", [], "") is urgent
    assert pick_policy(policies, "urgent", ["vip"], "") is vip
