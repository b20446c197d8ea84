"""Routing's domain events -> integration events."""

from __future__ import annotations

from responer.events.v1 import events_pb2
from responer_runtime.relay import Outgoing

from responer_routing.domain.filing import ThreadFiling


def map_event(domain_event: object) -> list[Outgoing]:
    if isinstance(domain_event, ThreadFiling.Filed):
        return [
            Outgoing(
                events_pb2.ThreadSorted(
                    tenant_id=domain_event.tenant_id,
                    thread_id=domain_event.thread_id,
                    message_id=domain_event.message_id,
                    folder=domain_event.folder,
                    system=domain_event.system,
                    system_reason=domain_event.reason,
                    system_kind=domain_event.kind,
                ),
                tenant_id=domain_event.tenant_id,
            )
        ]
    return []
