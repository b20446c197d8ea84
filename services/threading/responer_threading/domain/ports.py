"""The port threading decides over: lookups by deterministic keys only, plus the writes it makes.

Two adapters implement it: `InMemoryThreadStore` (dry-run import, unit tests, benchmarks) and
`RepositoryThreadStore` (the eventsourcing application, one aggregate per key).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol
from uuid import UUID

from responer_threading.domain.facts import MailFacts, ThreadingResult

DEFAULT_SUBJECT_WINDOW = timedelta(days=14)
# A customer with no answer yet writes the same question again within a working week (a Friday
# question nudged by Wednesday); later than that the same subject is as likely a new matter.
DEFAULT_RESEND_WINDOW = timedelta(days=5)
# Two weeks of silence after we answered is a finished conversation (people reply after a two-week
# holiday, rarely later); a reply on it after that is usually a new matter (decision._quiet_thread).
DEFAULT_FOLLOW_UP_WINDOW = timedelta(days=14)
REPLY_TO_CLOSED = ("reopen", "new_thread")
STATUSES = ("open", "pending", "closed")


@dataclass(frozen=True, slots=True)
class MessageRef:
    """What a Message-ID points at. A ghost is an id seen only in References / In-Reply-To."""

    thread_id: UUID
    ghost: bool
    outgoing: bool
    subject: str = ""
    answered: bool = False  # a later message named it in In-Reply-To
    at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ThreadInfo:
    thread_id: UUID
    number: int
    subject: str
    participants: frozenset[str]
    merged_into: UUID | None = None
    has_outgoing: bool = False
    status: str = "open"
    # Started on purpose apart from the conversation its headers point into (a new topic written
    # as a reply, a split): References must not silently merge it back.
    detached: bool = False
    last_outgoing_at: datetime | None = None
    last_incoming_at: datetime | None = None
    # Salient terms of the conversation so far (topics.py; bounded): what decision._topic_shift compares.
    vocabulary: frozenset[str] = frozenset()

    @property
    def last_at(self) -> datetime | None:
        """When the thread last had mail, either way."""
        times = [t for t in (self.last_incoming_at, self.last_outgoing_at) if t is not None]
        return max(times) if times else None


@dataclass(frozen=True, slots=True)
class SubjectKey:
    tenant_id: str
    mailbox_id: str
    customer: str
    subject: str  # normalised


@dataclass(frozen=True, slots=True)
class MailboxPolicy:
    subject_window: timedelta = DEFAULT_SUBJECT_WINDOW
    reply_to_closed: str = "reopen"  # reopen | new_thread
    own_domains: frozenset[str] = frozenset()
    resend_window: timedelta = DEFAULT_RESEND_WINDOW
    follow_up_window: timedelta = DEFAULT_FOLLOW_UP_WINDOW
    topic_shift: bool = True  # decision._topic_shift: a reply naming only another matter starts a thread


class ThreadIndex(Protocol):
    def message(self, tenant_id: str, message_id: str) -> MessageRef | None: ...

    def thread(self, tenant_id: str, thread_id: UUID) -> ThreadInfo | None: ...

    def thread_by_number(self, tenant_id: str, number: int) -> ThreadInfo | None: ...

    def subject_thread(self, key: SubjectKey) -> tuple[UUID, datetime] | None: ...

    def recipient_thread(self, tenant_id: str, mailbox_id: str, address: str) -> tuple[UUID, datetime] | None:
        """The thread we last wrote to this address from, and when."""
        ...

    def machine_sender(self, tenant_id: str, address: str) -> bool:
        """This address has started conversations with automatic mail (a system, not a person)."""
        ...

    def policy(self, tenant_id: str, mailbox_id: str) -> MailboxPolicy: ...

    def tenant_domains(self, tenant_id: str) -> frozenset[str]: ...


class ThreadStore(ThreadIndex, Protocol):
    def already_threaded(self, tenant_id: str, responer_message_id: UUID) -> ThreadingResult | None: ...

    def start_thread(self, facts: MailFacts, *, signal: str, detached: bool) -> ThreadInfo: ...

    def attach(self, thread_id: UUID, facts: MailFacts, signal: str, payload: bytes) -> None: ...

    def see_message_id(
        self,
        tenant_id: str,
        message_id: str,
        thread_id: UUID,
        outgoing: bool,
        subject: str = "",
        at: datetime | None = None,
    ) -> None: ...

    def mark_answered(self, tenant_id: str, message_id: str) -> None: ...

    def add_ghost(self, tenant_id: str, message_id: str, thread_id: UUID) -> None: ...

    def merge(self, tenant_id: str, source: UUID, target: UUID) -> None: ...

    def move_messages(self, tenant_id: str, message_ids: tuple[str, ...], source: UUID, target: UUID) -> None:
        """Split: these messages (by Message-ID) leave `source` for `target`."""
        ...

    def touch_subject(self, key: SubjectKey, thread_id: UUID, at: datetime) -> None: ...

    def touch_recipient(
        self, tenant_id: str, mailbox_id: str, address: str, thread_id: UUID, at: datetime
    ) -> None: ...

    def learn_domain(self, tenant_id: str, domain: str) -> None: ...

    def learn_machine_sender(self, tenant_id: str, address: str) -> None: ...

    def reopen(self, tenant_id: str, thread_id: UUID, message_id: str, at: datetime | None) -> None: ...

    def suggest_merge(self, tenant_id: str, thread_id: UUID, into: UUID, reason: str) -> None: ...

    def remember(self, tenant_id: str, responer_message_id: UUID, result: ThreadingResult) -> None: ...
