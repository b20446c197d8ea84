"""A received message, mail that could not be processed (kept, never dropped), and the record of
which imported file produced what."""

from __future__ import annotations

import uuid

from eventsourcing.domain import Aggregate, event


def message_key(tenant_id: str, message_id: str, content_hash: str) -> uuid.UUID:
    """The identity of a message within a tenant: Message-ID plus a hash of its content.

    A UID is only a position in one folder (it changes with UIDVALIDITY); a Message-ID alone is not
    unique in practice (broken clients reuse them), so both facts together name a message.
    """
    return uuid.uuid5(uuid.UUID(tenant_id), f"msg:{message_id}:{content_hash}")


def quarantine_index_id(tenant_id: str) -> uuid.UUID:
    return uuid.uuid5(uuid.UUID(tenant_id), "quarantine-index")


def imported_source_id(mailbox_id: uuid.UUID, identity: str) -> uuid.UUID:
    """An imported file (or one message of an mbox) by its identity: where it is and what it holds."""
    return uuid.uuid5(mailbox_id, f"import:{identity}")


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

    @property
    def mailbox_ids(self) -> list[str]:
        seen: list[str] = []
        for mailbox_id, *_ in self.locations:
            if mailbox_id not in seen:
                seen.append(mailbox_id)
        return seen

    def seen_at(self, mailbox_id: str, mailbox_address: str, folder: str, uidvalidity: int, uid: int) -> None:
        """Another copy arrived: in a mailbox it is already in (a re-read, a UIDVALIDITY change, a copy
        in a second folder) it is only noted; in another mailbox of the tenant it becomes visible."""
        if (mailbox_id, folder, uidvalidity, uid) in self.locations:
            return
        if mailbox_id in self.mailbox_ids:
            self.seen_again(mailbox_id, folder, uidvalidity, uid)
        else:
            self.seen_in_mailbox(
                mailbox_id, mailbox_address, folder, uidvalidity, uid, self.tenant_id, self.mailbox_id
            )

    @event("SeenAgain")
    def seen_again(self, mailbox_id: str, folder: str, uidvalidity: int, uid: int) -> None:
        self.locations.append((mailbox_id, folder, uidvalidity, uid))

    @event("SeenInMailbox")
    def seen_in_mailbox(
        self,
        mailbox_id: str,
        mailbox_address: str,
        folder: str,
        uidvalidity: int,
        uid: int,
        tenant_id: str,
        first_mailbox_id: str,
    ) -> None:
        """Carries the tenant and the first mailbox so the relay can publish it on its own."""
        self.locations.append((mailbox_id, folder, uidvalidity, uid))


class QuarantinedMail(Aggregate):
    status = "quarantined"
    message_id = ""
    replays = 0
    source = ""
    raw_size = 0

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
        id: uuid.UUID,  # noqa: A002 - eventsourcing takes the aggregate id by this name
        source: str = "",
        raw_size: int = 0,
    ) -> None:
        self.tenant_id = tenant_id
        self.mailbox_id = mailbox_id
        self.location = (folder, uidvalidity, uid)
        self.raw_sha256 = raw_sha256
        self.reason = reason
        self.source = source
        self.raw_size = raw_size

    @event("Replayed")
    def replayed(self, message_id: str) -> None:
        self.status = "replayed"
        self.message_id = message_id
        self.replays += 1

    @event("ReplayFailed")
    def failed_again(self, reason: str) -> None:
        self.status = "failed_again"
        self.reason = reason
        self.replays += 1


class QuarantineIndex(Aggregate):
    """The quarantined mail of one tenant, so it can be listed (and replayed) without a scan."""

    @event("Created")
    def __init__(self, tenant_id: str, id: uuid.UUID) -> None:  # noqa: A002
        self.tenant_id = tenant_id
        self.items: list[str] = []

    @event("Added")
    def add(self, quarantine_id: str) -> None:
        if quarantine_id not in self.items:
            self.items.append(quarantine_id)


class ImportedSource(Aggregate):
    """One message read by `responer import` from a file: running the import again skips it."""

    @event("Imported")
    def __init__(self, mailbox_id: str, source: str, raw_sha256: str, outcome: str, id: uuid.UUID) -> None:  # noqa: A002
        self.mailbox_id = mailbox_id
        self.source = source
        self.raw_sha256 = raw_sha256
        self.outcome = outcome  # "received:<message id>" | "seen:<message id>" | "quarantined:<id>"
