"""Ingest's domain events -> integration events (what the relay publishes)."""

from __future__ import annotations

from responer.events.v1 import events_pb2
from responer_runtime.relay import Outgoing

from responer_ingest.domain.mailbox import Mailbox
from responer_ingest.domain.message import Message


def map_event(domain_event: object) -> list[Outgoing]:
    if isinstance(domain_event, Message.Received):
        payload = events_pb2.MailReceived()
        payload.ParseFromString(domain_event.payload)
        return [Outgoing(payload, tenant_id=domain_event.tenant_id)]
    if isinstance(domain_event, Mailbox.Registered):
        e = domain_event
        return [
            Outgoing(
                events_pb2.MailboxConnected(
                    mailbox_id=str(e.originator_id),
                    tenant_id=e.tenant_id,
                    name=e.name,
                    address=e.address,
                    imap_host=e.imap_host,
                    imap_port=e.imap_port,
                    tls_mode=e.tls_mode,
                    smtp_host=e.smtp_host,
                    smtp_port=e.smtp_port,
                    smtp_tls_mode=e.smtp_tls_mode,
                ),
                tenant_id=e.tenant_id,
            )
        ]
    return []
