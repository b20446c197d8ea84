"""Threading's domain events -> integration events (what the relay publishes)."""

from __future__ import annotations

from responer.events.v1 import events_pb2
from responer_runtime.relay import Outgoing

from responer_threading.domain.aggregates import Thread


def map_event(domain_event: object) -> list[Outgoing]:
    if isinstance(domain_event, Thread.MessageAttached):
        e = domain_event
        received = events_pb2.MailReceived()
        received.ParseFromString(e.payload)
        return [
            Outgoing(
                events_pb2.MessageThreaded(
                    message_id=received.message_id,
                    tenant_id=e.tenant_id,
                    thread_id=str(e.originator_id),
                    thread_number=e.thread_number,
                    mailbox_id=received.mailbox_id,
                    mailbox_address=received.mailbox_address,
                    signal=e.signal,
                    new_thread=e.new_thread,
                    mail=received.mail,
                    # A thread is named by its first message; later messages leave the name alone.
                    thread_subject=e.subject if e.new_thread else "",
                ),
                tenant_id=e.tenant_id,
            )
        ]
    if isinstance(domain_event, Thread.Merged):
        e = domain_event
        return [
            Outgoing(
                events_pb2.ThreadMerged(
                    tenant_id=e.tenant_id,
                    source_thread_id=str(e.originator_id),
                    target_thread_id=str(e.into_thread_id),
                    source_number=e.thread_number,
                    target_number=e.into_number,
                    reason="references link both threads",
                ),
                tenant_id=e.tenant_id,
            )
        ]
    return []
