"""A received message, and mail that could not be processed (kept, never dropped)."""

from __future__ import annotations

import uuid

from eventsourcing.domain import Aggregate, event


def message_key(tenant_id: str, message_id: str, content_hash: str) -> uuid.UUID:
    """The identity of a message within a tenant: Message-ID plus a hash of its content.

    A UID is only a position in one folder (it changes with UIDVALIDITY); a Message-ID alone is not
    unique in practice (broken clients reuse them), so both facts together name a message.
    """
    return uuid.uuid5(uuid.UUID(tenant_id), f"msg:{message_id}:{content_hash}")


class Message(Aggregate):
    @event("Received")
    def __init__(
        self,
        tenant_id: str,
        mailbox_id: str,
        folder: str,
        uidvalidity: int,
        uid: int,
        raw_sha256: str,
        payload: bytes,
        id: uuid.UUID,  # noqa: A002 - eventsourcing takes the aggregate id by this name
    ) -> None:
        self.tenant_id = tenant_id
        self.mailbox_id = mailbox_id
        self.locations = [(mailbox_id, folder, uidvalidity, uid)]
        self.raw_sha256 = raw_sha256
        self.payload = payload  # the integration event, serialized; opaque to the domain

    @event("SeenAgain")
    def seen_again(self, mailbox_id: str, folder: str, uidvalidity: int, uid: int) -> None:
        self.locations.append((mailbox_id, folder, uidvalidity, uid))


class QuarantinedMail(Aggregate):
    @event("Quarantined")
    def __init__(
        self,
        tenant_id: str,
        mailbox_id: str,
        folder: str,
        uidvalidity: int,
        uid: int,
        raw_sha256: str,
        reason: str,
    ) -> None:
        self.tenant_id = tenant_id
        self.mailbox_id = mailbox_id
        self.location = (folder, uidvalidity, uid)
        self.raw_sha256 = raw_sha256
        self.reason = reason
