"""The threading service's eventsourcing Application: `thread_message` as its one command so far.

`RepositoryThreadStore` adapts the domain's ThreadStore port to aggregates in the repository; all
aggregates one message touches are saved in a single `record()` together with the tracking row of
the consumed event, so a redelivery has no second effect.
"""

from __future__ import annotations

from datetime import datetime
from typing import TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Repository
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, Tracking
from responer_runtime.es import ResponerApplication

from responer_threading.domain import ids
from responer_threading.domain.aggregates import (
    MessageRef,
    SubjectThread,
    Thread,
    ThreadCounter,
    ThreadedMessage,
)
from responer_threading.domain.facts import MailFacts, ThreadingResult
from responer_threading.domain.ports import MessageRef as MessageRefView
from responer_threading.domain.ports import SubjectKey, ThreadInfo
from responer_threading.domain.service import thread_message

A = TypeVar("A", bound=Aggregate)

# Optimistic-concurrency conflicts (two replicas issuing a number at once) are retried this often.
MAX_ATTEMPTS = 5


class RepositoryThreadStore:
    """One unit of work: aggregates loaded once, changes kept in order until `changed()` is saved."""

    def __init__(self, repository: Repository) -> None:
        self._repository = repository
        self._loaded: dict[UUID, Aggregate | None] = {}
        self._changed: dict[UUID, Aggregate] = {}
        self._pending_attach: tuple[UUID, MailFacts, str, bytes] | None = None

    def _get(self, cls: type[A], aggregate_id: UUID) -> A | None:
        if aggregate_id not in self._loaded:
            try:
                self._loaded[aggregate_id] = self._repository.get(aggregate_id)
            except AggregateNotFoundError:
                self._loaded[aggregate_id] = None
        found = self._loaded[aggregate_id]
        return found if isinstance(found, cls) else None

    def _keep(self, aggregate: Aggregate) -> None:
        self._loaded[aggregate.id] = aggregate
        self._changed[aggregate.id] = aggregate

    def changed(self) -> list[Aggregate]:
        return list(self._changed.values())

    # --- ThreadIndex -------------------------------------------------------------------------
    def message(self, tenant_id: str, message_id: str) -> MessageRefView | None:
        ref = self._get(MessageRef, ids.message_ref_id(tenant_id, message_id))
        return MessageRefView(ref.thread_id, ref.ghost, ref.outgoing) if ref else None

    def thread(self, tenant_id: str, thread_id: UUID) -> ThreadInfo | None:
        thread = self._get(Thread, thread_id)
        if thread is None:
            return None
        return ThreadInfo(
            thread_id=thread.id,
            number=thread.number,
            subject=thread.subject,
            participants=frozenset(thread.participants),
            merged_into=thread.merged_into,
            has_outgoing=thread.has_outgoing,
        )

    def thread_by_number(self, tenant_id: str, number: int) -> ThreadInfo | None:
        return self.thread(tenant_id, ids.thread_id(tenant_id, number))

    def subject_thread(self, key: SubjectKey) -> tuple[UUID, datetime] | None:
        found = self._get(SubjectThread, _subject_id(key))
        return (found.thread_id, found.last_at) if found else None

    # --- ThreadStore -------------------------------------------------------------------------
    def already_threaded(self, tenant_id: str, responer_message_id: UUID) -> ThreadingResult | None:
        done = self._get(ThreadedMessage, ids.threaded_message_id(tenant_id, responer_message_id))
        if done is None:
            return None
        return ThreadingResult(
            thread_id=done.thread_id,
            thread_number=done.thread_number,
            signal=done.signal,
            new_thread=done.new_thread,
            merged_thread_ids=tuple(done.merged_thread_ids),
            thread_subject=done.thread_subject,
        )

    def start_thread(self, facts: MailFacts) -> ThreadInfo:
        counter = self._get(ThreadCounter, ids.counter_id(facts.tenant_id))
        if counter is None:
            counter = ThreadCounter(tenant_id=facts.tenant_id)
        number = counter.issue_next()
        self._keep(counter)
        thread = Thread(
            tenant_id=facts.tenant_id, number=number, subject=facts.subject, mailbox_id=facts.mailbox_id
        )
        self._keep(thread)
        info = self.thread(facts.tenant_id, thread.id)
        assert info is not None
        return info

    def attach(self, thread_id: UUID, facts: MailFacts, signal: str, payload: bytes) -> None:
        # Deferred to remember(): the MessageAttached event carries the final result fields.
        self._pending_attach = (thread_id, facts, signal, payload)

    def see_message_id(self, tenant_id: str, message_id: str, thread_id: UUID, outgoing: bool) -> None:
        ref = self._get(MessageRef, ids.message_ref_id(tenant_id, message_id))
        if ref is None:
            ref = MessageRef(
                tenant_id=tenant_id,
                message_id=message_id,
                thread_id=thread_id,
                ghost=False,
                outgoing=outgoing,
            )
        elif ref.ghost:
            ref.see(thread_id=thread_id, outgoing=outgoing)
        else:
            return
        self._keep(ref)

    def add_ghost(self, tenant_id: str, message_id: str, thread_id: UUID) -> None:
        if self._get(MessageRef, ids.message_ref_id(tenant_id, message_id)) is None:
            self._keep(
                MessageRef(
                    tenant_id=tenant_id,
                    message_id=message_id,
                    thread_id=thread_id,
                    ghost=True,
                    outgoing=False,
                )
            )

    def merge(self, tenant_id: str, source: UUID, target: UUID) -> None:
        src = self._get(Thread, source)
        dst = self._get(Thread, target)
        if src is None or dst is None or src.merged_into is not None:
            return
        src.merge_into(
            tenant_id=tenant_id, thread_number=src.number, into_thread_id=dst.id, into_number=dst.number
        )
        dst.absorb(
            from_thread_id=src.id,
            from_number=src.number,
            participants=list(src.participants),
            has_outgoing=src.has_outgoing,
        )
        self._keep(src)
        self._keep(dst)

    def touch_subject(self, key: SubjectKey, thread_id: UUID, at: datetime) -> None:
        found = self._get(SubjectThread, _subject_id(key))
        if found is None:
            found = SubjectThread(
                tenant_id=key.tenant_id,
                mailbox_id=key.mailbox_id,
                customer=key.customer,
                subject=key.subject,
                thread_id=thread_id,
                last_at=at,
            )
        elif found.thread_id != thread_id or at > found.last_at:
            found.touch(thread_id=thread_id, last_at=at)
        else:
            return
        self._keep(found)

    def remember(self, tenant_id: str, responer_message_id: UUID, result: ThreadingResult) -> None:
        assert self._pending_attach is not None, "attach() comes before remember()"
        thread_id, facts, signal, payload = self._pending_attach
        thread = self._get(Thread, thread_id)
        assert thread is not None
        thread.attach_message(
            tenant_id=tenant_id,
            thread_number=thread.number,
            responer_message_id=responer_message_id,
            message_id=facts.message_id,
            mailbox_id=facts.mailbox_id,
            direction=facts.direction,
            from_email=facts.from_email,
            participants=list(facts.participants),
            subject=facts.subject,
            signal=signal,
            new_thread=result.new_thread,
            merged_thread_ids=list(result.merged_thread_ids),
            sent_at=facts.date,
            payload=payload,
        )
        self._keep(thread)
        self._keep(
            ThreadedMessage(
                tenant_id=tenant_id,
                responer_message_id=responer_message_id,
                thread_id=result.thread_id,
                thread_number=result.thread_number,
                signal=result.signal,
                new_thread=result.new_thread,
                merged_thread_ids=list(result.merged_thread_ids),
                thread_subject=result.thread_subject,
            )
        )


def _subject_id(key: SubjectKey) -> UUID:
    return ids.subject_key_id(key.tenant_id, key.mailbox_id, key.customer, key.subject)


class ThreadingApplication(ResponerApplication):
    def thread_message(
        self, facts: MailFacts, payload: bytes, *, tracking: Tracking | None = None
    ) -> ThreadingResult:
        """Thread one stored message; idempotent per `facts.responer_message_id` and per tracking."""
        for attempt in range(MAX_ATTEMPTS):
            store = RepositoryThreadStore(self.repository)
            result = thread_message(facts, store, payload)
            changed = store.changed()
            if not changed and (tracking is None or self.already_processed(tracking)):
                return result
            try:
                self.record(*changed, tracking=tracking)
                return result
            except IntegrityError:
                # Either this event was consumed meanwhile, or another writer touched one of our
                # aggregates (a thread number, a shared ghost): re-read and decide again.
                if tracking is not None and self.already_processed(tracking):
                    redo = RepositoryThreadStore(self.repository).already_threaded(
                        facts.tenant_id, facts.responer_message_id
                    )
                    if redo is not None:
                        return redo
                if attempt == MAX_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def get_thread(self, thread_id: UUID) -> Thread:
        return self.repository.get(thread_id)

    def get_thread_by_number(self, tenant_id: str, number: int) -> Thread:
        return self.repository.get(ids.thread_id(tenant_id, number))
