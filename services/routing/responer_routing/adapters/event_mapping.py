"""Routing's domain events -> integration events (what the relay publishes).

Most of an aggregate's events do not repeat its tenant and thread ids; the mapper reads them once
from the aggregate's first event (and caches them), given the application.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from typing import Any

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from responer.events.v1 import events_pb2
from responer_runtime.es import ResponerApplication
from responer_runtime.relay import Outgoing

from responer_routing.application import notification_id
from responer_routing.domain.contacts import Contact
from responer_routing.domain.filing import ThreadFiling
from responer_routing.domain.setup import TenantSetup


def ts(moment: datetime | None) -> Timestamp | None:
    if moment is None:
        return None
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def make_mapper(app: ResponerApplication) -> Callable[[object], list[Outgoing]]:
    @lru_cache(maxsize=50_000)
    def origin(originator_id: uuid.UUID) -> Any:
        return app.repository.get(originator_id, version=1)

    def contact_saved(e: Any) -> list[Outgoing]:
        c: Contact = app.repository.get(e.originator_id, version=e.originator_version)
        payload = events_pb2.ContactSaved(
            tenant_id=c.tenant_id,
            contact_id=str(c.id),
            email=c.email,
            name=c.name,
            organisation=c.organisation,
            attributes=c.attributes,
            first_seen=ts(c.first_seen),
            last_seen=ts(c.last_seen),
            thread_count=len(c.thread_ids),
        )
        return [Outgoing(payload, tenant_id=c.tenant_id)]

    def mapper(e: object) -> list[Outgoing]:
        if isinstance(e, ThreadFiling.Opened | TenantSetup.Started):  # type: ignore[attr-defined]
            return []
        if isinstance(e, Contact.Created | Contact.Seen | Contact.Edited):  # type: ignore[attr-defined]
            return contact_saved(e)
        agg = origin(e.originator_id)  # type: ignore[attr-defined]
        if isinstance(agg, ThreadFiling):
            return [
                Outgoing(p, tenant_id=agg.tenant_id) for p in thread_events(e, agg.tenant_id, agg.thread_id)
            ]
        if isinstance(agg, TenantSetup):
            return [Outgoing(p, tenant_id=agg.tenant_id) for p in setup_events(e, agg.tenant_id)]
        return []

    return mapper


def thread_events(e: Any, tenant: str, thread: str) -> list[Message]:  # noqa: C901, PLR0911
    ids = {"tenant_id": tenant, "thread_id": thread}
    if isinstance(e, ThreadFiling.Filed):
        return [
            events_pb2.ThreadSorted(
                **ids,
                message_id=e.message_id,
                folder=e.folder,
                system=e.system,
                system_reason=e.reason,
                system_kind=e.kind,
            )
        ]
    if isinstance(e, ThreadFiling.Moved):
        return [events_pb2.ThreadSorted(**ids, folder=e.folder, system_reason=f"moved by {e.by_user_id or 'rule ' + e.by_rule_id}")]  # fmt: skip
    if isinstance(e, ThreadFiling.Tagged):
        return [events_pb2.ThreadTagged(**ids, tag=e.tag, by_user_id=e.by_user_id, by_rule_id=e.by_rule_id)]
    if isinstance(e, ThreadFiling.Untagged):
        return [events_pb2.ThreadUntagged(**ids, tag=e.tag, by_user_id=e.by_user_id, by_rule_id=e.by_rule_id)]
    if isinstance(e, ThreadFiling.PrioritySet):
        return [
            events_pb2.ThreadPrioritySet(
                **ids,
                priority=e.priority,
                previous=e.previous,
                by_user_id=e.by_user_id,
                by_rule_id=e.by_rule_id,
            )
        ]
    if isinstance(e, ThreadFiling.StatusRequested):
        return [events_pb2.ThreadStatusRequested(**ids, status=e.status, by_rule_id=e.by_rule_id)]
    if isinstance(e, ThreadFiling.Assigned):
        return [
            events_pb2.ThreadAssigned(
                **ids,
                user_id=e.user_id,
                group_id=e.group_id,
                previous_user_id=e.previous_user_id,
                previous_group_id=e.previous_group_id,
                by_user_id=e.by_user_id,
                reason=e.reason,
                kind=e.kind,
                strategy=e.strategy,
                by_rule_id=e.by_rule_id,
                by_rule_name=e.by_rule_name,
                at=ts(e.at),
            )
        ]
    if isinstance(e, ThreadFiling.DueSet):
        return [
            events_pb2.ThreadDueSet(
                **ids, kind=e.kind, due_at=ts(e.due_at), warn_at=ts(e.warn_at), policy_id=e.policy_id
            )
        ]
    if isinstance(e, ThreadFiling.DeadlineTaken):  # a merge brought (or its undo gave back) a deadline
        d = e.deadline
        if not d:
            return [events_pb2.ThreadDueSet(**ids)]
        return [
            events_pb2.ThreadDueSet(
                **ids,
                kind=d["kind"],
                due_at=ts(d["due_at"]),
                warn_at=ts(d["warn_at"]),
                policy_id=d["policy_id"],
            )
        ]
    if isinstance(e, ThreadFiling.SplitOff):  # the split-off thread starts in its original's folder
        return [
            events_pb2.ThreadSorted(
                **ids,
                message_id=(e.message_ids or [""])[0],
                folder=e.folder,
                system=e.system,
                system_kind=e.system_kind,
                system_reason=e.system_reason,
            )
        ]
    if isinstance(e, ThreadFiling.Absorbed) and e.folder:  # customer mail merged into a System thread
        return [events_pb2.ThreadSorted(**ids, folder=e.folder, system=False, system_reason="merged")]
    if isinstance(e, ThreadFiling.MergeUndone) and e.folder:
        return [
            events_pb2.ThreadSorted(
                **ids,
                folder=e.folder,
                system=e.system,
                system_kind=e.system_kind,
                system_reason=e.system_reason,
            )
        ]
    if isinstance(e, ThreadFiling.Answered):
        return [events_pb2.ThreadDueSet(**ids, answered=True)]
    if isinstance(e, ThreadFiling.Warned | ThreadFiling.Overdue):  # type: ignore[attr-defined]
        overdue = isinstance(e, ThreadFiling.Overdue)
        cls = events_pb2.ThreadOverdue if overdue else events_pb2.SlaWarning
        kind = "overdue" if overdue else "sla_warning"
        out: list[Message] = [cls(**ids, kind=e.kind, due_at=ts(e.due_at), policy_id=e.policy_id, user_id=(e.recipients or [""])[0])]  # fmt: skip
        for user_id in e.recipients:
            out.append(
                events_pb2.NotificationRaised(
                    tenant_id=tenant,
                    thread_id=thread,
                    notification_id=notification_id(e.originator_id, e.originator_version, user_id),
                    user_id=user_id,
                    kind=kind,
                    text=f"{'Overdue' if overdue else 'Due soon'}: {e.kind.replace('_', ' ')} due at "
                    f"{e.due_at.isoformat(timespec='minutes')}",
                    at=ts(e.timestamp),
                )
            )
        return out
    return []


def setup_events(e: Any, tenant: str) -> list[Message]:
    if isinstance(e, TenantSetup.FolderCreated):
        return [events_pb2.FolderCreated(tenant_id=tenant, folder_id=e.folder_id, name=e.name)]
    if isinstance(e, TenantSetup.FolderRemoved):
        return [events_pb2.FolderRemoved(tenant_id=tenant, folder_id=e.folder_id, name=e.name)]
    if isinstance(e, TenantSetup.RuleSaved):
        r = e.rule
        return [
            events_pb2.RuleChanged(
                tenant_id=tenant,
                rule_id=r["rule_id"],
                name=r["name"],
                position=e.position,
                enabled=r.get("enabled", True),
                definition_json=json.dumps(r, sort_keys=True),
            )
        ]
    if isinstance(e, TenantSetup.RuleRemoved):
        return [events_pb2.RuleChanged(tenant_id=tenant, rule_id=e.rule_id, removed=True)]
    return []
