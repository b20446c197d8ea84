"""A tenant's routing setup: own folders, ordered rules, SLA policies and business hours.

One aggregate per tenant (id from the tenant id): changes are rare and the ordered rule list must
be changed atomically, so one aggregate with optimistic concurrency keeps the order consistent.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict
from datetime import date
from typing import Any

from eventsourcing.domain import Aggregate, event

from responer_routing.domain.rules import Rule
from responer_routing.domain.sla import BusinessCalendar, SlaPolicy


def setup_id(tenant_id: str) -> uuid.UUID:
    return uuid.uuid5(uuid.UUID(tenant_id), "routing-setup")


class TenantSetup(Aggregate):
    @event("Started")
    def __init__(self, tenant_id: str, id: uuid.UUID) -> None:  # noqa: A002
        self.tenant_id = tenant_id
        self.folders: dict[str, str] = {}  # folder id -> name
        self.rules: list[dict[str, Any]] = []
        self.sla: list[dict[str, Any]] = []
        self.hours: dict[str, Any] = {"time_zone": "UTC", "days": {}, "holidays": []}

    # -- folders -------------------------------------------------------------------------------
    @event("FolderCreated")
    def create_folder(self, folder_id: str, name: str) -> None:
        self.folders[folder_id] = name

    @event("FolderRemoved")
    def remove_folder(self, folder_id: str, name: str) -> None:
        self.folders.pop(folder_id, None)

    # -- rules ---------------------------------------------------------------------------------
    @event("RuleSaved")
    def save_rule(self, rule: dict[str, Any], position: int) -> None:
        self.rules = [r for r in self.rules if r["rule_id"] != rule["rule_id"]]
        position = max(0, min(position, len(self.rules))) if position >= 0 else len(self.rules)
        self.rules.insert(position, rule)

    @event("RuleRemoved")
    def remove_rule(self, rule_id: str) -> None:
        self.rules = [r for r in self.rules if r["rule_id"] != rule_id]

    @event("RulesReordered")
    def reorder_rules(self, rule_ids: list[str]) -> None:
        by_id = {r["rule_id"]: r for r in self.rules}
        ordered = [by_id[i] for i in rule_ids if i in by_id]
        rest = [r for r in self.rules if r["rule_id"] not in set(rule_ids)]
        self.rules = ordered + rest

    def rule_list(self) -> list[Rule]:
        return [Rule.from_dict(r) for r in self.rules]

    def position_of(self, rule_id: str) -> int:
        for i, r in enumerate(self.rules):
            if r["rule_id"] == rule_id:
                return i
        return -1

    # -- SLA -----------------------------------------------------------------------------------
    @event("SlaPolicySet")
    def set_sla_policy(self, policy: dict[str, Any]) -> None:
        self.sla = [p for p in self.sla if p["policy_id"] != policy["policy_id"]] + [policy]

    @event("BusinessHoursSet")
    def set_hours(self, time_zone: str, days: dict[str, list[str]], holidays: list[str]) -> None:
        self.hours = {"time_zone": time_zone, "days": dict(days), "holidays": list(holidays)}

    def policies(self) -> list[SlaPolicy]:
        out = []
        for p in self.sla:
            data = dict(p)
            for key in ("priorities", "tags", "mailbox_ids"):
                data[key] = tuple(data.get(key) or ())
            out.append(SlaPolicy(**data))
        return out

    def calendar(self) -> BusinessCalendar:
        return calendar_from(self.hours)


def calendar_from(hours: dict[str, Any]) -> BusinessCalendar:
    return BusinessCalendar(
        time_zone=hours.get("time_zone") or "UTC",
        hours={int(k): (v[0], v[1]) for k, v in (hours.get("days") or {}).items()},
        holidays=frozenset(date.fromisoformat(d) for d in hours.get("holidays") or ()),
    )


def policy_dict(policy: SlaPolicy) -> dict[str, Any]:
    data = asdict(policy)
    for key in ("priorities", "tags", "mailbox_ids"):
        data[key] = list(data[key])
    return data
