"""SLA deadlines: response times counted in a tenant's business hours, skipping holidays.

`BusinessCalendar.add(start, minutes)` walks forward through the tenant's opening hours in its
time zone (DST-correct through zoneinfo): a mail at Friday 15:30 with a 60-minute SLA and hours
08:00-16:00 is due on Monday 08:30 — or Tuesday 08:30 when that Monday is a holiday.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

FIRST_RESPONSE, NEXT_RESPONSE = "first_response", "next_response"


def _hm(value: str) -> time:
    h, m = value.strip().split(":")
    if h == "24":
        return time(23, 59, 59, 999999)
    return time(int(h), int(m))


@dataclass(frozen=True)
class BusinessCalendar:
    time_zone: str = "UTC"
    # weekday (0 = Monday) -> (start, end) as "HH:MM"; a weekday missing is closed.
    hours: dict[int, tuple[str, str]] = field(default_factory=dict)
    holidays: frozenset[date] = frozenset()

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def open_intervals(self, day: date) -> tuple[datetime, datetime] | None:
        if day in self.holidays or day.weekday() not in self.hours:
            return None
        start, end = self.hours[day.weekday()]
        opens = datetime.combine(day, _hm(start), self.zone)
        closes = datetime.combine(day, _hm(end), self.zone)
        return (opens, closes) if closes > opens else None

    def add(self, start: datetime, minutes: int) -> datetime:
        """The moment `minutes` of business time after `start` (aware datetime) have passed."""
        if not self.hours:  # no business hours configured: the clock always runs
            return start + timedelta(minutes=minutes)
        remaining = timedelta(minutes=minutes)
        cursor = start.astimezone(self.zone)
        for _ in range(3 * 366):  # a year of holidays cannot make this loop forever
            window = self.open_intervals(cursor.date())
            if window is not None:
                opens, closes = window
                begin = max(cursor, opens)
                if begin < closes:
                    available = closes - begin
                    if remaining <= available:
                        return (begin + remaining).astimezone(UTC)
                    remaining -= available
            next_day = cursor.date() + timedelta(days=1)
            cursor = datetime.combine(next_day, time(0, 0), self.zone)
        raise ValueError("no business hours within three years: check the calendar")

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.zone)


@dataclass(frozen=True)
class SlaPolicy:
    policy_id: str
    name: str
    first_response_minutes: int
    next_response_minutes: int
    warn_before_minutes: int = 0
    business_hours: bool = True
    priorities: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    mailbox_ids: tuple[str, ...] = ()

    def applies(self, priority: str, tags: list[str], mailbox_id: str) -> int | None:
        """Specificity of a match (more criteria met = more specific), None when it does not apply."""
        score = 0
        for wanted, have in (
            (self.priorities, [priority]),
            (self.tags, tags),
            (self.mailbox_ids, [mailbox_id]),
        ):
            if wanted:
                if not set(wanted) & set(have):
                    return None
                score += 1
        return score


def pick_policy(
    policies: list[SlaPolicy], priority: str, tags: list[str], mailbox_id: str
) -> SlaPolicy | None:
    best: tuple[int, int, SlaPolicy] | None = None
    for index, policy in enumerate(policies):
        score = policy.applies(priority, tags, mailbox_id)
        if score is not None and (best is None or score > best[0]):
            best = (score, -index, policy)
    return best[2] if best else None


def deadline(
    policy: SlaPolicy, calendar: BusinessCalendar, kind: str, since: datetime
) -> tuple[datetime, datetime] | None:
    """(due, warn) for a deadline of `kind` starting at `since`; None if the policy sets none."""
    minutes = policy.first_response_minutes if kind == FIRST_RESPONSE else policy.next_response_minutes
    if minutes <= 0:
        return None
    cal = calendar if policy.business_hours else BusinessCalendar(calendar.time_zone)
    due = cal.add(since, minutes)
    warn_after = max(0, minutes - policy.warn_before_minutes) if policy.warn_before_minutes else minutes
    warn = cal.add(since, warn_after)
    return due, warn
