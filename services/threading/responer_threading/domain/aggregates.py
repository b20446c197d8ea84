"""Threading's aggregates. Each is keyed by a natural key (uuid5), so a lookup is a `repository.get`.

Domain events a relay maps to integration events:
- `Thread.Started`         -> (thread created; number, subject, mailbox)
- `Thread.MessageAttached` -> MessageThreaded (carries the opaque `payload` built by the service)
- `Thread.Merged`          -> ThreadMerged (on the source thread, `into_thread_id` is the target)
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from responer_threading.domain import ids


class Thread(Aggregate):
    @event("Started")
    def __init__(self, tenant_id: str, number: int, subject: str, mailbox_id: str) -> None:
        self.tenant_id = tenant_id
        self.number = number
        self.subject = subject
        self.mailbox_id = mailbox_id
        self.participants: list[str] = []
        self.message_ids: list[str] = []
        self.responer_message_ids: list[UUID] = []
        self.has_outgoing = False
        self.merged_into: UUID | None = None
        self.merged_from: list[UUID] = []

    @staticmethod
    def create_id(tenant_id: str, number: int, **_: object) -> UUID:
        return ids.thread_id(tenant_id, number)

    @event("MessageAttached")
    def attach_message(
        self,
        tenant_id: str,
        thread_number: int,
        responer_message_id: UUID,
        message_id: str,
        mailbox_id: str,
        direction: str,
        from_email: str,
        participants: list[str],
        subject: str,
        signal: str,
        new_thread: bool,
        merged_thread_ids: list[UUID],
        sent_at: datetime | None,
        payload: bytes,
    ) -> None:
        self.message_ids.append(message_id)
        self.responer_message_ids.append(responer_message_id)
        for address in participants:
            if address not in self.participants:
                self.participants.append(address)
        self.has_outgoing = self.has_outgoing or direction == "outbound"

    @event("Merged")
    def merge_into(self, tenant_id: str, thread_number: int, into_thread_id: UUID, into_number: int) -> None:
        self.merged_into = into_thread_id

    @event("Absorbed")
    def absorb(
        self, from_thread_id: UUID, from_number: int, participants: list[str], has_outgoing: bool
    ) -> None:
        self.merged_from.append(from_thread_id)
        for address in participants:
            if address not in self.participants:
                self.participants.append(address)
        self.has_outgoing = self.has_outgoing or has_outgoing


class MessageRef(Aggregate):
    """A Message-ID within a tenant -> its thread. `ghost` until the message itself arrives."""

    @event("Registered")
    def __init__(self, tenant_id: str, message_id: str, thread_id: UUID, ghost: bool, outgoing: bool) -> None:
        self.tenant_id = tenant_id
        self.message_id = message_id
        self.thread_id = thread_id
        self.ghost = ghost
        self.outgoing = outgoing

    @staticmethod
    def create_id(tenant_id: str, message_id: str, **_: object) -> UUID:
        return ids.message_ref_id(tenant_id, message_id)

    @event("Seen")
    def see(self, thread_id: UUID, outgoing: bool) -> None:
        self.thread_id = thread_id
        self.ghost = False
        self.outgoing = outgoing


class ThreadCounter(Aggregate):
    """Issues a tenant's human-friendly thread numbers in sequence (optimistic concurrency keeps them unique)."""

    @event("Started")
    def __init__(self, tenant_id: str) -> None:
        self.tenant_id = tenant_id
        self.last_number = ids.FIRST_THREAD_NUMBER - 1

    @staticmethod
    def create_id(tenant_id: str) -> UUID:
        return ids.counter_id(tenant_id)

    def issue_next(self) -> int:
        self._issue(self.last_number + 1)
        return self.last_number

    @event("NumberIssued")
    def _issue(self, number: int) -> None:
        self.last_number = number


class SubjectThread(Aggregate):
    """(tenant, mailbox, customer, normalised subject) -> the latest thread and when it was active."""

    @event("Registered")
    def __init__(
        self, tenant_id: str, mailbox_id: str, customer: str, subject: str, thread_id: UUID, last_at: datetime
    ) -> None:
        self.thread_id = thread_id
        self.last_at = last_at

    @staticmethod
    def create_id(tenant_id: str, mailbox_id: str, customer: str, subject: str, **_: object) -> UUID:
        return ids.subject_key_id(tenant_id, mailbox_id, customer, subject)

    @event("Touched")
    def touch(self, thread_id: UUID, last_at: datetime) -> None:
        self.thread_id = thread_id
        self.last_at = last_at


class ThreadedMessage(Aggregate):
    """The outcome for one stored message (responer_message_id): what makes threading idempotent."""

    @event("Recorded")
    def __init__(
        self,
        tenant_id: str,
        responer_message_id: UUID,
        thread_id: UUID,
        thread_number: int,
        signal: str,
        new_thread: bool,
        merged_thread_ids: list[UUID],
        thread_subject: str,
    ) -> None:
        self.thread_id = thread_id
        self.thread_number = thread_number
        self.signal = signal
        self.new_thread = new_thread
        self.merged_thread_ids = merged_thread_ids
        self.thread_subject = thread_subject

    @staticmethod
    def create_id(tenant_id: str, responer_message_id: UUID, **_: object) -> UUID:
        return ids.threaded_message_id(tenant_id, responer_message_id)
