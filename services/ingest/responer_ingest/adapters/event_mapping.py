"""Ingest's domain events -> integration events (what the relay publishes). No secret is ever mapped:
LoginSet and SecretRotated carry only ciphertext and are not published at all."""

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
    if isinstance(domain_event, Message.SeenInMailbox):
        e = domain_event
        return [
            Outgoing(
                events_pb2.MailSeenInMailbox(
                    message_id=str(e.originator_id),
                    tenant_id=e.tenant_id,
                    mailbox_id=e.mailbox_id,
                    mailbox_address=e.mailbox_address,
                    folder=e.folder,
                    uidvalidity=e.uidvalidity,
                    uid=e.uid,
                    first_mailbox_id=e.first_mailbox_id,
                    seen_at=_timestamp(e.timestamp),
                ),
                tenant_id=e.tenant_id,
            )
        ]
    if isinstance(domain_event, (Mailbox.SettingsChanged, Mailbox.StatusChanged)):
        e = domain_event
        return [
            Outgoing(
                events_pb2.MailboxChanged(
                    mailbox_id=str(e.originator_id),
                    tenant_id=e.tenant_id,
                    name=e.name,
                    address=e.address,
                    status=getattr(e, "status", "active"),
                    smtp_host=getattr(e, "smtp_host", ""),
                    smtp_port=getattr(e, "smtp_port", 0),
                    smtp_tls_mode=getattr(e, "smtp_tls_mode", ""),
                ),
                tenant_id=e.tenant_id,
            )
        ]
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


def _timestamp(dt):  # noqa: ANN001, ANN202
    from google.protobuf.timestamp_pb2 import Timestamp

    ts = Timestamp()
    ts.FromDatetime(dt)
    return ts
