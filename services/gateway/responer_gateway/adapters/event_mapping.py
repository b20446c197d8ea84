"""Domain events of the gateway -> integration events published on the "gateway" stream."""

from __future__ import annotations

from responer.events.v1 import events_pb2
from responer_runtime.relay import Outgoing

from responer_gateway.domain import Group, ThreadReading, User

PRODUCER = "gateway"


def to_integration_events(domain_event: object) -> list[Outgoing]:
    # Password hashes never leave the service: UserAdded carries identity and role only.
    if isinstance(domain_event, User.Added):  # type: ignore[attr-defined]  # made by @event
        payload = events_pb2.UserAdded(
            tenant_id=str(domain_event.tenant_id),
            user_id=str(domain_event.originator_id),
            email=domain_event.email.strip().lower(),
            name=domain_event.name,
            role=domain_event.role,
        )
        return [Outgoing(payload=payload, tenant_id=str(domain_event.tenant_id))]
    if isinstance(domain_event, User.AvailabilityChanged):  # type: ignore[attr-defined]
        availability = events_pb2.AgentAvailabilityChanged(
            tenant_id=str(domain_event.tenant_id),
            user_id=str(domain_event.originator_id),
            available=domain_event.available,
            skills=list(domain_event.skills),
            max_open=domain_event.max_open,
        )
        return [Outgoing(payload=availability, tenant_id=str(domain_event.tenant_id))]
    # Every group event carries the group's whole state: GroupChanged says what the group is now.
    if isinstance(domain_event, (Group.Created, Group.Changed)):  # type: ignore[attr-defined]
        group = events_pb2.GroupChanged(
            tenant_id=str(domain_event.tenant_id),
            group_id=str(domain_event.originator_id),
            name=domain_event.name,
            member_user_ids=list(dict.fromkeys(m for m in domain_event.member_user_ids if m)),
            manager_user_id=domain_event.manager_user_id,
        )
        return [Outgoing(payload=group, tenant_id=str(domain_event.tenant_id))]
    if isinstance(domain_event, Group.Removed):  # type: ignore[attr-defined]
        removed = events_pb2.GroupChanged(
            tenant_id=str(domain_event.tenant_id),
            group_id=str(domain_event.originator_id),
            name=domain_event.name,
            removed=True,
        )
        return [Outgoing(payload=removed, tenant_id=str(domain_event.tenant_id))]
    # Read state is per user; search turns it into unread flags and is:unread.
    if isinstance(domain_event, (ThreadReading.Read, ThreadReading.MarkedUnread)):  # type: ignore[attr-defined]
        kind = events_pb2.ThreadRead if isinstance(domain_event, ThreadReading.Read) else events_pb2.ThreadMarkedUnread  # type: ignore[attr-defined]  # fmt: skip
        reading = kind(
            tenant_id=str(domain_event.tenant_id),
            thread_id=domain_event.thread_id,
            user_id=str(domain_event.user_id),
        )
        reading.at.FromDatetime(domain_event.at)
        return [Outgoing(payload=reading, tenant_id=str(domain_event.tenant_id))]
    return []
