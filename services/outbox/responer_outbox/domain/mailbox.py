"""The mailbox directory: what the outbox needs to know about a mailbox to send from it.

Learnt from ingest's MailboxConnected events; ingest owns mailboxes, this is a local copy.
"""

from __future__ import annotations

import uuid

from eventsourcing.domain import Aggregate, event

MAILBOX_NAMESPACE = uuid.UUID("5a0e7f3c-2d61-5b8e-9c1a-7e4b3f20d6a8")


class Mailbox(Aggregate):
    @staticmethod
    def create_id(tenant_id: str, mailbox_id: str) -> uuid.UUID:
        return uuid.uuid5(MAILBOX_NAMESPACE, f"{tenant_id}/{mailbox_id}")

    @event("Connected")
    def __init__(
        self,
        *,
        tenant_id: str,
        mailbox_id: str,
        name: str,
        address: str,
        smtp_host: str,
        smtp_port: int,
        smtp_tls_mode: str,
    ) -> None:
        self.tenant_id = tenant_id
        self.mailbox_id = mailbox_id
        self._apply(name, address, smtp_host, smtp_port, smtp_tls_mode)

    @event("Reconnected")
    def reconnect(self, name: str, address: str, smtp_host: str, smtp_port: int, smtp_tls_mode: str) -> None:
        self._apply(name, address, smtp_host, smtp_port, smtp_tls_mode)

    def _apply(self, name: str, address: str, smtp_host: str, smtp_port: int, smtp_tls_mode: str) -> None:
        self.name = name
        self.address = address
        self.smtp_host = smtp_host
        self.smtp_port = smtp_port
        self.smtp_tls_mode = smtp_tls_mode

    def same_as(self, name: str, address: str, smtp_host: str, smtp_port: int, smtp_tls_mode: str) -> bool:
        return (self.name, self.address, self.smtp_host, self.smtp_port, self.smtp_tls_mode) == (
            name,
            address,
            smtp_host,
            smtp_port,
            smtp_tls_mode,
        )
