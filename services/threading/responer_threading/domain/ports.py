"""The port threading decides over: lookups by deterministic keys only, plus the writes it makes.

Two adapters implement it: `InMemoryThreadStore` (dry-run import, unit tests) and
`RepositoryThreadStore` (the eventsourcing application, one aggregate per key).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID

from responer_threading.domain.facts import MailFacts, ThreadingResult


@dataclass(frozen=True, slots=True)
class MessageRef:
    """What a Message-ID points at. A ghost is an id seen only in References / In-Reply-To."""

    thread_id: UUID
    ghost: bool
    outgoing: bool


@dataclass(frozen=True, slots=True)
class ThreadInfo:
    thread_id: UUID
    number: int
    subject: str
    participants: frozenset[str]
    merged_into: UUID | None = None
    has_outgoing: bool = False


@dataclass(frozen=True, slots=True)
class SubjectKey:
    tenant_id: str
    mailbox_id: str
    customer: str
    subject: str  # normalised


class ThreadIndex(Protocol):
    def message(self, tenant_id: str, message_id: str) -> MessageRef | None: ...

    def thread(self, tenant_id: str, thread_id: UUID) -> ThreadInfo | None: ...

    def thread_by_number(self, tenant_id: str, number: int) -> ThreadInfo | None: ...

    def subject_thread(self, key: SubjectKey) -> tuple[UUID, datetime] | None: ...


class ThreadStore(ThreadIndex, Protocol):
    def already_threaded(self, tenant_id: str, responer_message_id: UUID) -> ThreadingResult | None: ...

    def start_thread(self, facts: MailFacts) -> ThreadInfo: ...

    def attach(self, thread_id: UUID, facts: MailFacts, signal: str, payload: bytes) -> None: ...

    def see_message_id(self, tenant_id: str, message_id: str, thread_id: UUID, outgoing: bool) -> None: ...

    def add_ghost(self, tenant_id: str, message_id: str, thread_id: UUID) -> None: ...

    def merge(self, tenant_id: str, source: UUID, target: UUID) -> None: ...

    def touch_subject(self, key: SubjectKey, thread_id: UUID, at: datetime) -> None: ...

    def remember(self, tenant_id: str, responer_message_id: UUID, result: ThreadingResult) -> None: ...
