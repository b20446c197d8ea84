"""Domain events of the gateway -> integration events published on the "gateway" stream."""

from __future__ import annotations

from responer.events.v1 import events_pb2
from responer_runtime.relay import Outgoing

from responer_gateway.domain import User

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
    return []
