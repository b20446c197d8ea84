"""The in-memory ThreadStore: for the dry-run import, unit tests and benchmarks (one process, no persistence)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from uuid import UUID

from responer_threading.domain.decision import resolve
from responer_threading.domain.facts import MailFacts, ThreadingResult
from responer_threading.domain.ids import FIRST_THREAD_NUMBER, thread_id
from responer_threading.domain.ports import MailboxPolicy, MessageRef, SubjectKey, ThreadInfo
from responer_threading.domain.topics import bounded, vocabulary_terms


@dataclass
class InMemoryThreadStore:
    threads: dict[tuple[str, UUID], ThreadInfo] = field(default_factory=dict)
    numbers: dict[tuple[str, int], UUID] = field(default_factory=dict)
    messages: dict[tuple[str, str], MessageRef] = field(default_factory=dict)
    subjects: dict[SubjectKey, tuple[UUID, datetime]] = field(default_factory=dict)
    recipients: dict[tuple[str, str, str], tuple[UUID, datetime]] = field(default_factory=dict)
    results: dict[tuple[str, UUID], ThreadingResult] = field(default_factory=dict)
    last_number: dict[str, int] = field(default_factory=dict)
    attached: dict[UUID, list[tuple[UUID, str]]] = field(default_factory=dict)
    policies: dict[tuple[str, str], MailboxPolicy] = field(default_factory=dict)
    domains: dict[str, frozenset[str]] = field(default_factory=dict)
    suggestions: dict[UUID, UUID] = field(default_factory=dict)  # new thread -> suggested target
    machine_senders: set[tuple[str, str]] = field(default_factory=set)

    def message(self, tenant_id: str, message_id: str) -> MessageRef | None:
        return self.messages.get((tenant_id, message_id))

    def thread(self, tenant_id: str, thread_id: UUID) -> ThreadInfo | None:
        return self.threads.get((tenant_id, thread_id))

    def thread_by_number(self, tenant_id: str, number: int) -> ThreadInfo | None:
        tid = self.numbers.get((tenant_id, number))
        return self.thread(tenant_id, tid) if tid else None

    def subject_thread(self, key: SubjectKey) -> tuple[UUID, datetime] | None:
        return self.subjects.get(key)

    def recipient_thread(self, tenant_id: str, mailbox_id: str, address: str) -> tuple[UUID, datetime] | None:
        return self.recipients.get((tenant_id, mailbox_id, address))

    def touch_recipient(
        self, tenant_id: str, mailbox_id: str, address: str, thread_id: UUID, at: datetime
    ) -> None:
        current = self.recipients.get((tenant_id, mailbox_id, address))
        if current is None or at >= current[1]:
            self.recipients[(tenant_id, mailbox_id, address)] = (thread_id, at)

    def policy(self, tenant_id: str, mailbox_id: str) -> MailboxPolicy:
        return self.policies.get((tenant_id, mailbox_id)) or MailboxPolicy()

    def tenant_domains(self, tenant_id: str) -> frozenset[str]:
        return self.domains.get(tenant_id, frozenset())

    def already_threaded(self, tenant_id: str, responer_message_id: UUID) -> ThreadingResult | None:
        return self.results.get((tenant_id, responer_message_id))

    def start_thread(
        self, facts: MailFacts, *, signal: str = "new_thread", detached: bool = False
    ) -> ThreadInfo:
        number = self.last_number.get(facts.tenant_id, FIRST_THREAD_NUMBER - 1) + 1
        self.last_number[facts.tenant_id] = number
        info = ThreadInfo(
            thread_id(facts.tenant_id, number), number, facts.subject, frozenset(), detached=detached
        )
        self.threads[(facts.tenant_id, info.thread_id)] = info
        self.numbers[(facts.tenant_id, number)] = info.thread_id
        return info

    def attach(self, thread_id: UUID, facts: MailFacts, signal: str, payload: bytes) -> None:
        key = (facts.tenant_id, thread_id)
        info = self.threads[key]
        outgoing_at, incoming_at = info.last_outgoing_at, info.last_incoming_at
        if facts.direction == "outbound":
            outgoing_at = _latest(outgoing_at, facts.date)
        else:
            incoming_at = _latest(incoming_at, facts.date)
        self.threads[key] = replace(
            info,
            participants=info.participants | set(facts.participants),
            has_outgoing=info.has_outgoing or facts.direction == "outbound",
            last_outgoing_at=outgoing_at,
            last_incoming_at=incoming_at,
            vocabulary=frozenset(bounded(info.vocabulary, vocabulary_terms(facts))),
        )
        self.attached.setdefault(thread_id, []).append((facts.responer_message_id, signal))

    def see_message_id(
        self,
        tenant_id: str,
        message_id: str,
        thread_id: UUID,
        outgoing: bool,
        subject: str = "",
        at: datetime | None = None,
    ) -> None:
        existing = self.messages.get((tenant_id, message_id))
        if existing is None or existing.ghost:
            self.messages[(tenant_id, message_id)] = MessageRef(thread_id, False, outgoing, subject, at=at)

    def mark_answered(self, tenant_id: str, message_id: str) -> None:
        ref = self.messages[(tenant_id, message_id)]
        self.messages[(tenant_id, message_id)] = replace(ref, answered=True)

    def move_messages(self, tenant_id: str, message_ids: tuple[str, ...], source: UUID, target: UUID) -> None:
        src, dst = self.threads[(tenant_id, source)], self.threads[(tenant_id, target)]
        outgoing_at, incoming_at = dst.last_outgoing_at, dst.last_incoming_at
        for mid in message_ids:
            ref = self.messages.get((tenant_id, mid))
            if ref is not None:
                self.messages[(tenant_id, mid)] = replace(ref, thread_id=target)
                if ref.outgoing:
                    outgoing_at = _latest(outgoing_at, ref.at)
                else:
                    incoming_at = _latest(incoming_at, ref.at)
        self.threads[(tenant_id, target)] = replace(
            dst,
            participants=dst.participants | src.participants,
            last_outgoing_at=outgoing_at,
            last_incoming_at=incoming_at,
        )

    def add_ghost(self, tenant_id: str, message_id: str, thread_id: UUID) -> None:
        self.messages.setdefault((tenant_id, message_id), MessageRef(thread_id, ghost=True, outgoing=False))

    def merge(self, tenant_id: str, source: UUID, target: UUID) -> None:
        src = self.threads[(tenant_id, source)]
        dst = self.threads[(tenant_id, target)]
        self.threads[(tenant_id, source)] = replace(src, merged_into=target)
        self.threads[(tenant_id, target)] = replace(
            dst,
            participants=dst.participants | src.participants,
            has_outgoing=dst.has_outgoing or src.has_outgoing,
            last_outgoing_at=_latest(dst.last_outgoing_at, src.last_outgoing_at),
            last_incoming_at=_latest(dst.last_incoming_at, src.last_incoming_at),
            vocabulary=frozenset(bounded(dst.vocabulary, src.vocabulary)),
        )

    def touch_subject(self, key: SubjectKey, thread_id: UUID, at: datetime) -> None:
        current = self.subjects.get(key)
        if current is None or current[0] != thread_id or at > current[1]:
            self.subjects[key] = (thread_id, at)

    def machine_sender(self, tenant_id: str, address: str) -> bool:
        return (tenant_id, address) in self.machine_senders

    def learn_machine_sender(self, tenant_id: str, address: str) -> None:
        self.machine_senders.add((tenant_id, address))

    def learn_domain(self, tenant_id: str, domain: str) -> None:
        known = self.domains.get(tenant_id, frozenset())
        if domain and domain not in known:
            self.domains[tenant_id] = known | {domain}

    def reopen(self, tenant_id: str, thread_id: UUID, message_id: str, at: datetime | None) -> None:
        self.threads[(tenant_id, thread_id)] = replace(self.threads[(tenant_id, thread_id)], status="open")

    def set_status(self, tenant_id: str, thread_id: UUID, status: str) -> None:
        self.threads[(tenant_id, thread_id)] = replace(self.threads[(tenant_id, thread_id)], status=status)

    def suggest_merge(self, tenant_id: str, thread_id: UUID, into: UUID, reason: str) -> None:
        self.suggestions[thread_id] = into

    def remember(self, tenant_id: str, responer_message_id: UUID, result: ThreadingResult) -> None:
        self.results[(tenant_id, responer_message_id)] = result

    def final_thread(self, tenant_id: str, thread_id: UUID) -> ThreadInfo:
        """The thread a message ended up in after later merges (for reports)."""
        info = resolve(self, tenant_id, thread_id)
        assert info is not None
        return info


def _latest(current: datetime | None, at: datetime | None) -> datetime | None:
    if current is None:
        return at
    return current if at is None else max(current, at)
