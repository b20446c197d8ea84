"""The threading service's eventsourcing Application: threading mail, and the agents' commands.

`RepositoryThreadStore` adapts the domain's ThreadStore port to aggregates in the repository; all
aggregates one message (or one command) touches are saved in a single `record()` together with the
tracking row of the consumed event, so a redelivery has no second effect. Commands from agents
(merge, split, their undo, status, notes, merge suggestions, mailbox policy) are idempotent through
their client-chosen ids and retried on optimistic-concurrency conflicts like mail is.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Repository
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, Tracking
from responer_runtime.es import ResponerApplication

from responer_threading.domain import ids
from responer_threading.domain.aggregates import (
    MachineSender,
    MailboxPolicyRecord,
    MessageRef,
    OperationRecord,
    RecipientThread,
    SubjectThread,
    TenantDomains,
    Thread,
    ThreadCounter,
    ThreadedMessage,
)
from responer_threading.domain.decision import resolve
from responer_threading.domain.facts import MailFacts, ThreadingResult
from responer_threading.domain.ports import REPLY_TO_CLOSED, STATUSES, MailboxPolicy, SubjectKey, ThreadInfo
from responer_threading.domain.ports import MessageRef as MessageRefView
from responer_threading.domain.service import thread_message
from responer_threading.domain.topics import vocabulary_terms

A = TypeVar("A", bound=Aggregate)

# A mailbox policy changed on another replica is seen after at most this long.
POLICY_TTL_S = 5.0


@dataclass
class Memo:
    """What one process may remember between units of work: it only spares reads."""

    policies: dict[tuple[str, str], tuple[float, MailboxPolicy]] = field(default_factory=dict)
    domains: set[tuple[str, str]] = field(default_factory=set)
    machine_senders: set[tuple[str, str]] = field(default_factory=set)
    pending_domains: list[tuple[str, str]] = field(default_factory=list)

    def saved(self) -> None:
        self.domains.update(self.pending_domains)
        self.pending_domains.clear()

    def discarded(self) -> None:
        self.pending_domains.clear()


R = TypeVar("R")

# Optimistic-concurrency conflicts (two replicas issuing a number at once) are retried this often.
MAX_ATTEMPTS = 5


class CommandError(ValueError):
    """A command that cannot be carried out as asked (unknown thread, note, merge; a bad status)."""


class NotFound(CommandError):
    pass


def _now() -> datetime:
    return datetime.now(UTC)


class RepositoryThreadStore:
    """One unit of work: aggregates loaded once, changes kept in order until `changed()` is saved."""

    def __init__(self, repository: Repository, memo: Memo | None = None) -> None:
        self._repository = repository
        self._memo = memo or Memo()
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

    def get_thread(self, thread_id: UUID) -> Thread:
        thread = self._get(Thread, thread_id)
        if thread is None:
            raise NotFound(f"no thread {thread_id}")
        thread._state()
        return thread

    def keep(self, aggregate: Aggregate) -> None:
        self._loaded[aggregate.id] = aggregate
        self._changed[aggregate.id] = aggregate

    _keep = keep

    def changed(self) -> list[Aggregate]:
        return list(self._changed.values())

    # --- ThreadIndex -------------------------------------------------------------------------
    def message(self, tenant_id: str, message_id: str) -> MessageRefView | None:
        ref = self._get(MessageRef, ids.message_ref_id(tenant_id, message_id))
        if ref is None:
            return None
        return MessageRefView(
            ref.thread_id,
            ref.ghost,
            ref.outgoing,
            getattr(ref, "subject", ""),
            getattr(ref, "answered", False),
            getattr(ref, "at", None),
        )

    def thread(self, tenant_id: str, thread_id: UUID) -> ThreadInfo | None:
        thread = self._get(Thread, thread_id)
        if thread is None:
            return None
        thread._state()
        return ThreadInfo(
            thread_id=thread.id,
            number=thread.number,
            subject=thread.subject,
            participants=frozenset(thread.participants),
            merged_into=thread.merged_into,
            has_outgoing=thread.has_outgoing,
            status=thread.status,
            detached=thread.detached,
            last_outgoing_at=getattr(thread, "last_outgoing_at", None),
            last_incoming_at=getattr(thread, "last_incoming_at", None),
            vocabulary=frozenset(thread.vocabulary),
        )

    def thread_by_number(self, tenant_id: str, number: int) -> ThreadInfo | None:
        return self.thread(tenant_id, ids.thread_id(tenant_id, number))

    def subject_thread(self, key: SubjectKey) -> tuple[UUID, datetime] | None:
        found = self._get(SubjectThread, _subject_id(key))
        return (found.thread_id, found.last_at) if found else None

    def recipient_thread(self, tenant_id: str, mailbox_id: str, address: str) -> tuple[UUID, datetime] | None:
        found = self._get(RecipientThread, ids.recipient_key_id(tenant_id, mailbox_id, address))
        return (found.thread_id, found.last_at) if found else None

    def touch_recipient(
        self, tenant_id: str, mailbox_id: str, address: str, thread_id: UUID, at: datetime
    ) -> None:
        found = self._get(RecipientThread, ids.recipient_key_id(tenant_id, mailbox_id, address))
        self._touch_latest(
            found,
            lambda: RecipientThread(
                tenant_id=tenant_id, mailbox_id=mailbox_id, address=address, thread_id=thread_id, last_at=at
            ),
            thread_id,
            at,
            newer=found is not None and at >= found.last_at,
        )

    def _touch_latest(
        self,
        found: Aggregate | None,
        create: Callable[[], Aggregate],
        thread_id: UUID,
        at: datetime,
        *,
        newer: bool,
    ) -> None:
        """The keyed "latest thread" records (subject, customer, recipient): create, or move on when newer."""
        if found is None:
            found = create()
        elif newer:
            found.touch(thread_id=thread_id, last_at=at)  # type: ignore[attr-defined]
        else:
            return
        self._keep(found)

    def policy(self, tenant_id: str, mailbox_id: str) -> MailboxPolicy:
        key = (tenant_id, mailbox_id)
        cached = self._memo.policies.get(key)
        if cached is not None and time.monotonic() - cached[0] < POLICY_TTL_S:
            return cached[1]
        policy = self._read_policy(tenant_id, mailbox_id)
        self._memo.policies[key] = (time.monotonic(), policy)
        return policy

    def _read_policy(self, tenant_id: str, mailbox_id: str) -> MailboxPolicy:
        found = self._get(MailboxPolicyRecord, ids.policy_id(tenant_id, mailbox_id))
        default = MailboxPolicy()
        if found is None:
            return default
        resend, follow_up = getattr(found, "resend_days", 0), getattr(found, "follow_up_days", 0)
        return MailboxPolicy(
            subject_window=timedelta(days=found.window_days)
            if found.window_days > 0
            else default.subject_window,
            reply_to_closed=found.reply_to_closed,
            own_domains=frozenset(found.own_domains),
            resend_window=timedelta(days=resend) if resend > 0 else default.resend_window,
            follow_up_window=timedelta(days=follow_up) if follow_up > 0 else default.follow_up_window,
            topic_shift=getattr(found, "topic_shift", True),
        )

    def machine_sender(self, tenant_id: str, address: str) -> bool:
        # Only ever learnt, never forgotten: one known here is known in the store.
        if (tenant_id, address) in self._memo.machine_senders:
            return True
        key = ids.machine_sender_id(tenant_id, address)
        if self._get(MachineSender, key) is None:
            return False
        if key not in self._changed:  # stored, not only learnt in this unit (which may yet be discarded)
            self._memo.machine_senders.add((tenant_id, address))
        return True

    def learn_machine_sender(self, tenant_id: str, address: str) -> None:
        if self._get(MachineSender, ids.machine_sender_id(tenant_id, address)) is None:
            self._keep(MachineSender(tenant_id=tenant_id, address=address))

    def tenant_domains(self, tenant_id: str) -> frozenset[str]:
        found = self._get(TenantDomains, ids.tenant_domains_id(tenant_id))
        return frozenset(found.domains) if found else frozenset()

    # --- ThreadStore -------------------------------------------------------------------------
    def already_threaded(self, tenant_id: str, responer_message_id: UUID) -> ThreadingResult | None:
        done = self._get(ThreadedMessage, ids.threaded_message_id(tenant_id, responer_message_id))
        if done is None or not done.threaded:
            return None
        assert done.thread_id is not None
        return ThreadingResult(
            thread_id=done.thread_id,
            thread_number=done.thread_number,
            signal=done.signal,
            new_thread=done.new_thread,
            merged_thread_ids=tuple(done.merged_thread_ids),
            thread_subject=done.thread_subject,
        )

    def issue_number(self, tenant_id: str) -> int:
        counter = self._get(ThreadCounter, ids.counter_id(tenant_id))
        if counter is None:
            counter = ThreadCounter(tenant_id=tenant_id)
        number = counter.issue_next()
        self._keep(counter)
        return number

    def start_thread(
        self, facts: MailFacts, *, signal: str = "new_thread", detached: bool = False
    ) -> ThreadInfo:
        number = self.issue_number(facts.tenant_id)
        thread = Thread(
            tenant_id=facts.tenant_id,
            number=number,
            subject=facts.subject,
            mailbox_id=facts.mailbox_id,
            signal=signal,
            detached=detached,
        )
        self._keep(thread)
        info = self.thread(facts.tenant_id, thread.id)
        assert info is not None
        return info

    def attach(self, thread_id: UUID, facts: MailFacts, signal: str, payload: bytes) -> None:
        # Deferred to remember(): the MessageAttached event carries the final result fields.
        self._pending_attach = (thread_id, facts, signal, payload)

    def see_message_id(
        self,
        tenant_id: str,
        message_id: str,
        thread_id: UUID,
        outgoing: bool,
        subject: str = "",
        at: datetime | None = None,
    ) -> None:
        rid = str(self._pending_attach[1].responer_message_id) if self._pending_attach else ""
        ref = self._get(MessageRef, ids.message_ref_id(tenant_id, message_id))
        if ref is None:
            ref = MessageRef(
                tenant_id=tenant_id,
                message_id=message_id,
                thread_id=thread_id,
                ghost=False,
                outgoing=outgoing,
                subject=subject,
                responer_message_id=rid,
                at=at,
            )
        elif ref.ghost:
            ref.see(thread_id=thread_id, outgoing=outgoing, subject=subject, responer_message_id=rid, at=at)
        else:
            return
        self._keep(ref)

    def mark_answered(self, tenant_id: str, message_id: str) -> None:
        ref = self._get(MessageRef, ids.message_ref_id(tenant_id, message_id))
        if ref is not None and not getattr(ref, "answered", False):
            ref.mark_answered()
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

    def merge(
        self,
        tenant_id: str,
        source: UUID,
        target: UUID,
        *,
        merge_id: str = "",
        by_user_id: str = "",
        reason: str = "references link both threads",
        suggestion_id: str = "",
    ) -> str:
        src = self.get_thread(source)
        dst = self.get_thread(target)
        if src.merged_into is not None:
            return ""
        merge_id = merge_id or str(uuid.uuid5(ids.tenant_namespace(tenant_id), f"merge:{source}>{target}"))
        at = _now()
        members, notes = dict(src.members), dict(src.notes)
        src.merge_into(
            tenant_id=tenant_id,
            thread_number=src.number,
            into_thread_id=dst.id,
            into_number=dst.number,
            merge_id=merge_id,
            by_user_id=by_user_id,
            reason=reason,
            message_ids=list(members),
            note_ids=list(notes),
            suggestion_id=suggestion_id,
            at=at,
        )
        dst.absorb(
            from_thread_id=src.id,
            from_number=src.number,
            participants=list(src.participants),
            has_outgoing=src.has_outgoing,
            merge_id=merge_id,
            members=members,
            notes=notes,
            by_user_id=by_user_id,
            at=at,
            last_outgoing_at=getattr(src, "last_outgoing_at", None),
            last_incoming_at=getattr(src, "last_incoming_at", None),
            vocabulary=list(getattr(src, "vocabulary", ())),
        )
        record = OperationRecord(
            tenant_id=tenant_id,
            kind="merge",
            op_id=merge_id,
            source_thread_id=src.id,
            target_thread_id=dst.id,
            member_ids=list(members),
            note_ids=list(notes),
            message_ids=[m["message_id"] for m in members.values()],
        )
        self._keep(src)
        self._keep(dst)
        self._keep(record)
        return merge_id

    def move_messages(self, tenant_id: str, message_ids: tuple[str, ...], source: UUID, target: UUID) -> None:
        """The automatic split (`renamed_by_reply`): by Message-ID, into a thread started in this unit."""
        src = self.get_thread(source)
        member_ids = [key for key, m in src.members.items() if m.get("message_id") in message_ids]
        self._split(tenant_id, src, target, member_ids, split_id="", by_user_id="")

    def _split(
        self,
        tenant_id: str,
        src: Thread,
        target: UUID,
        member_ids: list[str],
        *,
        split_id: str,
        by_user_id: str,
    ) -> str:
        dst = self.get_thread(target)
        split_id = split_id or str(uuid.uuid5(ids.tenant_namespace(tenant_id), f"split:{src.id}>{dst.id}"))
        at = _now()
        moving = {key: src.members[key] for key in member_ids if key in src.members}
        src.release(
            ref_id=split_id,
            kind="split",
            other_thread_id=dst.id,
            other_number=dst.number,
            member_ids=list(moving),
            note_ids=[],
            by_user_id=by_user_id,
            at=at,
        )
        dst.split_off(
            tenant_id=tenant_id,
            thread_number=dst.number,
            split_id=split_id,
            from_thread_id=src.id,
            from_number=src.number,
            members=moving,
            by_user_id=by_user_id,
            at=at,
        )
        rfc_ids = [m["message_id"] for m in moving.values()]
        for mid in rfc_ids:
            ref = self._get(MessageRef, ids.message_ref_id(tenant_id, mid))
            if ref is not None and ref.thread_id != dst.id:
                ref.move(thread_id=dst.id)
                self._keep(ref)
        self._keep(src)
        self._keep(dst)
        self._keep(
            OperationRecord(
                tenant_id=tenant_id,
                kind="split",
                op_id=split_id,
                source_thread_id=src.id,
                target_thread_id=dst.id,
                member_ids=list(moving),
                note_ids=[],
                message_ids=rfc_ids,
            )
        )
        return split_id

    def touch_subject(self, key: SubjectKey, thread_id: UUID, at: datetime) -> None:
        found = self._get(SubjectThread, _subject_id(key))
        self._touch_latest(
            found,
            lambda: SubjectThread(
                tenant_id=key.tenant_id,
                mailbox_id=key.mailbox_id,
                customer=key.customer,
                subject=key.subject,
                thread_id=thread_id,
                last_at=at,
            ),
            thread_id,
            at,
            newer=found is not None and (found.thread_id != thread_id or at > found.last_at),
        )

    def learn_domain(self, tenant_id: str, domain: str) -> None:
        # Domains are only ever added: one known here is known in the store.
        if not domain or (tenant_id, domain) in self._memo.domains:
            return
        found = self._get(TenantDomains, ids.tenant_domains_id(tenant_id))
        if found is None:
            found = TenantDomains(tenant_id=tenant_id)
        elif domain in found.domains:
            return
        found.learn(domain=domain)
        self._keep(found)
        self._memo.pending_domains.append((tenant_id, domain))

    def set_status(
        self,
        tenant_id: str,
        thread_id: UUID,
        status: str,
        *,
        by_user_id: str,
        reason: str,
        message_id: str = "",
    ) -> bool:
        thread = self.get_thread(thread_id)
        if thread.status == status:
            return False
        thread.change_status(
            tenant_id=tenant_id,
            thread_number=thread.number,
            status=status,
            previous=thread.status,
            by_user_id=by_user_id,
            reason=reason,
            message_id=message_id,
            at=_now(),
        )
        self._keep(thread)
        return True

    def reopen(self, tenant_id: str, thread_id: UUID, message_id: str, at: datetime | None) -> None:
        self.set_status(
            tenant_id, thread_id, "open", by_user_id="", reason="customer_replied", message_id=message_id
        )

    def suggest_merge(self, tenant_id: str, thread_id: UUID, into: UUID, reason: str) -> None:
        thread = self.get_thread(thread_id)
        target = self.get_thread(into)
        suggestion_id = str(uuid.uuid5(ids.tenant_namespace(tenant_id), f"suggest:{thread_id}>{into}"))
        if suggestion_id in thread.suggestions:
            return
        thread.suggest_merge(
            tenant_id=tenant_id,
            thread_number=thread.number,
            suggestion_id=suggestion_id,
            target_thread_id=target.id,
            target_number=target.number,
            reason=reason,
            at=_now(),
        )
        self._keep(thread)

    def see_in_mailbox(
        self, tenant_id: str, responer_message_id: UUID, mailbox_id: str, mailbox_address: str
    ) -> None:
        """A stored message arrived in another of the tenant's mailboxes: its thread is in that one too.

        Ingest publishes MailSeenInMailbox after the message's MailReceived on the same stream, and this
        consumer reads that stream in order, so the message is threaded by now; should it not be, the
        mailbox waits on its ThreadedMessage record and remember() applies it when the message is threaded.
        """
        done = self._get(ThreadedMessage, ids.threaded_message_id(tenant_id, responer_message_id))
        if done is None or done.thread_id is None:
            done = done or ThreadedMessage.waiting(tenant_id, responer_message_id)
            if mailbox_id not in [m for m, _ in done.pending_mailboxes]:
                done.note_mailbox(mailbox_id=mailbox_id, mailbox_address=mailbox_address)
                self._keep(done)
            return
        thread = self._message_thread(tenant_id, responer_message_id, done.thread_id)
        if thread.see_in_mailbox(str(responer_message_id), mailbox_id, mailbox_address, _now()):
            self._keep(thread)

    def _message_thread(self, tenant_id: str, responer_message_id: UUID, threaded_into: UUID) -> Thread:
        """The thread a message is in now. A merge is followed from the thread it was threaded into; a
        split moved its Message-ID's pointer, which the thread it was threaded into still names."""
        start = threaded_into
        first = self.get_thread(threaded_into)
        if responer_message_id in first.responer_message_ids:
            rfc_id = first.message_ids[first.responer_message_ids.index(responer_message_id)]
            ref = self._get(MessageRef, ids.message_ref_id(tenant_id, rfc_id))
            if ref is not None and getattr(ref, "responer_message_id", "") == str(responer_message_id):
                start = ref.thread_id
        info = resolve(self, tenant_id, start)
        return self.get_thread(info.thread_id if info is not None else start)

    def remember(self, tenant_id: str, responer_message_id: UUID, result: ThreadingResult) -> None:
        assert self._pending_attach is not None, "attach() comes before remember()"
        thread_id, facts, signal, payload = self._pending_attach
        thread = self.get_thread(thread_id)
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
            detail=result.detail,
            terms=sorted(vocabulary_terms(facts)),
        )
        self._keep(thread)
        outcome = dict(
            thread_id=result.thread_id,
            thread_number=result.thread_number,
            signal=result.signal,
            new_thread=result.new_thread,
            merged_thread_ids=list(result.merged_thread_ids),
            thread_subject=result.thread_subject,
        )
        # Loaded already by already_threaded() in this unit: a waiting record costs no extra read.
        waiting = self._get(ThreadedMessage, ids.threaded_message_id(tenant_id, responer_message_id))
        if waiting is None:
            self._keep(
                ThreadedMessage(tenant_id=tenant_id, responer_message_id=responer_message_id, **outcome)
            )
            return
        for mailbox_id, mailbox_address in waiting.pending_mailboxes:
            thread.see_in_mailbox(str(responer_message_id), mailbox_id, mailbox_address, _now())
        waiting.settle(**outcome)
        self._keep(waiting)


def _subject_id(key: SubjectKey) -> UUID:
    return ids.subject_key_id(key.tenant_id, key.mailbox_id, key.customer, key.subject)


class ThreadingApplication(ResponerApplication):
    # Threads, message refs and counters are read for nearly every message: keep recent aggregates in
    # memory (fast-forwarded from the store on each get, so other replicas' writes are seen) instead
    # of replaying a long thread's events each time. Overridable through the environment.
    env = {"AGGREGATE_CACHE_MAXSIZE": "20000", "AGGREGATE_CACHE_FASTFORWARD": "y"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # One writer at a time in this process: consumers and gRPC commands touch the same threads.
        self.write_lock = threading.RLock()
        self.memo = Memo()

    def _unit(self, work: Callable[[RepositoryThreadStore], R], tracking: Tracking | None = None) -> R:
        """Run `work` on a fresh unit of work and save what it changed; retried on conflicts."""
        for attempt in range(MAX_ATTEMPTS):
            with self.write_lock:
                store = RepositoryThreadStore(self.repository, self.memo)
                result = work(store)
                changed = store.changed()
                if not changed and tracking is None:
                    return result
                try:
                    self.record(*changed, tracking=tracking)
                    self.memo.saved()
                    return result
                except IntegrityError:
                    self.memo.discarded()
                    if tracking is not None and self.already_processed(tracking):
                        raise
                    if attempt == MAX_ATTEMPTS - 1:
                        raise
        raise AssertionError("unreachable")

    def thread_message(
        self, facts: MailFacts, payload: bytes, *, tracking: Tracking | None = None
    ) -> ThreadingResult:
        """Thread one stored message; idempotent per `facts.responer_message_id` and per tracking."""
        for attempt in range(MAX_ATTEMPTS):
            with self.write_lock:
                store = RepositoryThreadStore(self.repository, self.memo)
                result = thread_message(facts, store, payload)
                changed = store.changed()
                if not changed and (tracking is None or self.already_processed(tracking)):
                    return result
                try:
                    self.record(*changed, tracking=tracking)
                    self.memo.saved()
                    return result
                except IntegrityError:
                    self.memo.discarded()
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

    def see_in_mailbox(
        self,
        tenant_id: str,
        responer_message_id: UUID,
        mailbox_id: str,
        mailbox_address: str,
        *,
        tracking: Tracking | None = None,
    ) -> None:
        """The message is in `mailbox_id` too (MailSeenInMailbox); idempotent per message and mailbox."""
        self._unit(
            lambda store: store.see_in_mailbox(tenant_id, responer_message_id, mailbox_id, mailbox_address),
            tracking,
        )

    # --- queries ------------------------------------------------------------------------------
    def get_thread(self, thread_id: UUID) -> Thread:
        thread: Thread = self.repository.get(thread_id)
        thread._state()
        return thread

    def get_thread_by_number(self, tenant_id: str, number: int) -> Thread:
        return self.get_thread(ids.thread_id(tenant_id, number))

    def find_thread(self, tenant_id: str, thread_id: UUID) -> Thread:
        try:
            thread = self.get_thread(thread_id)
        except AggregateNotFoundError:
            raise NotFound(f"no thread {thread_id}") from None
        if thread.tenant_id != tenant_id:
            raise NotFound(f"no thread {thread_id}")
        return thread

    def surviving(self, tenant_id: str, thread_id: UUID) -> Thread:
        """The thread that stands for `thread_id` now (following merges)."""
        self.find_thread(tenant_id, thread_id)
        info = resolve(RepositoryThreadStore(self.repository), tenant_id, thread_id)
        assert info is not None
        return self.get_thread(info.thread_id)

    def get_policy(self, tenant_id: str, mailbox_id: str) -> MailboxPolicy:
        return RepositoryThreadStore(self.repository, self.memo).policy(tenant_id, mailbox_id)

    # --- commands -----------------------------------------------------------------------------
    def merge_threads(
        self,
        tenant_id: str,
        source_id: UUID,
        target_id: UUID,
        *,
        by_user_id: str,
        merge_id: str = "",
        suggestion_id: str = "",
    ) -> str:
        """Merge `source` into `target` (both followed through earlier merges). Returns the merge id."""

        def work(store: RepositoryThreadStore) -> str:
            if merge_id:
                done = store._get(OperationRecord, ids.operation_id(tenant_id, "merge", merge_id))
                if done is not None:
                    return merge_id
            self.find_thread(tenant_id, source_id)
            self.find_thread(tenant_id, target_id)
            src = resolve(store, tenant_id, source_id)
            dst = resolve(store, tenant_id, target_id)
            assert src is not None and dst is not None
            if src.thread_id == dst.thread_id:
                raise CommandError("a thread cannot be merged into itself")
            if suggestion_id:
                holder = store.get_thread(src.thread_id)
                if suggestion_id in holder.suggestions:
                    holder.accept_suggestion(suggestion_id=suggestion_id, by_user_id=by_user_id)
                    store.keep(holder)
            return store.merge(
                tenant_id,
                src.thread_id,
                dst.thread_id,
                merge_id=merge_id,
                by_user_id=by_user_id,
                reason="accepted merge suggestion" if suggestion_id else "merged by an agent",
                suggestion_id=suggestion_id,
            )

        return self._unit(work)

    def undo_merge(self, tenant_id: str, merge_id: str, *, by_user_id: str) -> tuple[UUID, UUID]:
        """The source thread lives again with the messages and notes it had; returns (source, target)."""

        def work(store: RepositoryThreadStore) -> tuple[UUID, UUID]:
            record = _operation(store, tenant_id, "merge", merge_id)
            if record.undone:
                return record.source_thread_id, record.target_thread_id
            src = store.get_thread(record.source_thread_id)
            dst = store.get_thread(record.target_thread_id)
            at = _now()
            members = {k: dst.members[k] for k in record.member_ids if k in dst.members}
            notes = {k: dst.notes[k] for k in record.note_ids if k in dst.notes}
            dst.release(
                ref_id=merge_id,
                kind="unmerged_out",
                other_thread_id=src.id,
                other_number=src.number,
                member_ids=list(members),
                note_ids=list(notes),
                by_user_id=by_user_id,
                at=at,
            )
            src.unmerge(
                tenant_id=tenant_id,
                thread_number=src.number,
                merge_id=merge_id,
                from_thread_id=dst.id,
                from_number=dst.number,
                members=members,
                notes=notes,
                by_user_id=by_user_id,
                at=at,
            )
            # Pointers of the returning messages may have moved (a split inside the merged thread).
            for mid in record.message_ids:
                ref = store._get(MessageRef, ids.message_ref_id(tenant_id, mid))
                if ref is not None and ref.thread_id != src.id:
                    ref.move(thread_id=src.id)
                    store.keep(ref)
            record.undo(by_user_id=by_user_id)
            for agg in (src, dst, record):
                store.keep(agg)
            return src.id, dst.id

        return self._unit(work)

    def split_thread(
        self,
        tenant_id: str,
        thread_id: UUID,
        responer_message_id: str,
        *,
        with_following: bool,
        by_user_id: str,
        split_id: str = "",
    ) -> tuple[str, UUID]:
        """Move one message (and optionally those after it) into a new thread; returns (split id, new)."""

        def work(store: RepositoryThreadStore) -> tuple[str, UUID]:
            if split_id:
                done = store._get(OperationRecord, ids.operation_id(tenant_id, "split", split_id))
                if done is not None:
                    return split_id, done.target_thread_id
            self.find_thread(tenant_id, thread_id)
            info = resolve(store, tenant_id, thread_id)
            assert info is not None
            src = store.get_thread(info.thread_id)
            order = list(src.members)
            if responer_message_id not in src.members:
                raise NotFound(f"message {responer_message_id} is not in thread #{src.number}")
            start = order.index(responer_message_id)
            moving = order[start:] if with_following else [responer_message_id]
            if len(moving) == len(order):
                raise CommandError("a split must leave at least one message in the thread")
            first = src.members[moving[0]]
            number = store.issue_number(tenant_id)
            new = Thread(
                tenant_id=tenant_id,
                number=number,
                subject=first.get("subject", src.subject),
                mailbox_id=src.mailbox_id,
                signal="split",
                detached=True,
            )
            store.keep(new)
            sid = split_id or str(uuid.uuid4())
            store._split(tenant_id, src, new.id, moving, split_id=sid, by_user_id=by_user_id)
            return sid, new.id

        return self._unit(work)

    def undo_split(self, tenant_id: str, split_id: str, *, by_user_id: str) -> tuple[UUID, UUID]:
        """The split-off messages (and notes written there) go back; the new thread follows the source."""

        def work(store: RepositoryThreadStore) -> tuple[UUID, UUID]:
            record = _operation(store, tenant_id, "split", split_id)
            if record.undone:
                return record.source_thread_id, record.target_thread_id
            src = store.get_thread(record.source_thread_id)
            new = store.get_thread(record.target_thread_id)
            at = _now()
            members = dict(new.members)
            notes = dict(new.notes)
            new.unsplit(
                tenant_id=tenant_id,
                thread_number=new.number,
                split_id=split_id,
                into_thread_id=src.id,
                into_number=src.number,
                member_ids=list(members),
                note_ids=list(notes),
                by_user_id=by_user_id,
                at=at,
            )
            src.receive(
                ref_id=split_id,
                kind="unsplit",
                from_thread_id=new.id,
                from_number=new.number,
                members=members,
                notes=notes,
                by_user_id=by_user_id,
                at=at,
            )
            for member in members.values():
                ref = store._get(MessageRef, ids.message_ref_id(tenant_id, member["message_id"]))
                if ref is not None and ref.thread_id != src.id:
                    ref.move(thread_id=src.id)
                    store.keep(ref)
            record.undo(by_user_id=by_user_id)
            for agg in (src, new, record):
                store.keep(agg)
            return src.id, new.id

        return self._unit(work)

    def set_status(
        self,
        tenant_id: str,
        thread_id: UUID,
        status: str,
        *,
        by_user_id: str,
        reason: str = "agent",
        tracking: Tracking | None = None,
    ) -> None:
        if status not in STATUSES:
            raise CommandError(f"status must be one of {', '.join(STATUSES)}")

        def work(store: RepositoryThreadStore) -> None:
            self.find_thread(tenant_id, thread_id)
            info = resolve(store, tenant_id, thread_id)
            assert info is not None
            store.set_status(tenant_id, info.thread_id, status, by_user_id=by_user_id, reason=reason)

        self._unit(work, tracking)

    def add_note(
        self,
        tenant_id: str,
        thread_id: UUID,
        note_id: str,
        *,
        author_user_id: str,
        body: str,
        mentions: list[str],
    ) -> UUID:
        """Returns the thread the note is on (a merged thread's notes go to its survivor)."""
        if not body.strip():
            raise CommandError("a note needs some text")
        uuid.UUID(note_id)

        def work(store: RepositoryThreadStore) -> UUID:
            self.find_thread(tenant_id, thread_id)
            info = resolve(store, tenant_id, thread_id)
            assert info is not None
            thread = store.get_thread(info.thread_id)
            if note_id in thread.notes:
                return thread.id
            thread.add_note(
                tenant_id=tenant_id,
                thread_number=thread.number,
                note_id=note_id,
                author_user_id=author_user_id,
                body=body,
                mentions=list(dict.fromkeys(mentions)),
                at=_now(),
            )
            store.keep(thread)
            return thread.id

        return self._unit(work)

    def _note_thread(
        self, store: RepositoryThreadStore, tenant_id: str, thread_id: UUID, note_id: str
    ) -> Thread:
        self.find_thread(tenant_id, thread_id)
        info = resolve(store, tenant_id, thread_id)
        assert info is not None
        thread = store.get_thread(info.thread_id)
        note = thread.notes.get(note_id)
        if note is None or note.get("deleted"):
            raise NotFound(f"no note {note_id} on thread #{thread.number}")
        return thread

    def edit_note(
        self,
        tenant_id: str,
        thread_id: UUID,
        note_id: str,
        *,
        body: str,
        mentions: list[str],
        by_user_id: str,
    ) -> UUID:
        if not body.strip():
            raise CommandError("a note needs some text")

        def work(store: RepositoryThreadStore) -> UUID:
            thread = self._note_thread(store, tenant_id, thread_id, note_id)
            note = thread.notes[note_id]
            if note["body"] != body or note["mentions"] != list(mentions):
                thread.edit_note(
                    tenant_id=tenant_id,
                    note_id=note_id,
                    body=body,
                    mentions=list(dict.fromkeys(mentions)),
                    by_user_id=by_user_id,
                    at=_now(),
                )
                store.keep(thread)
            return thread.id

        return self._unit(work)

    def delete_note(self, tenant_id: str, thread_id: UUID, note_id: str, *, by_user_id: str) -> UUID:
        def work(store: RepositoryThreadStore) -> UUID:
            thread = self._note_thread(store, tenant_id, thread_id, note_id)
            thread.delete_note(tenant_id=tenant_id, note_id=note_id, by_user_id=by_user_id, at=_now())
            store.keep(thread)
            return thread.id

        return self._unit(work)

    def _suggestion(self, tenant_id: str, thread_id: UUID, suggestion_id: str) -> Thread:
        thread = self.find_thread(tenant_id, thread_id)
        if suggestion_id not in thread.suggestions:
            raise NotFound(f"no merge suggestion {suggestion_id} on thread #{thread.number}")
        return thread

    def accept_merge_suggestion(
        self, tenant_id: str, thread_id: UUID, suggestion_id: str, *, by_user_id: str
    ) -> str:
        thread = self._suggestion(tenant_id, thread_id, suggestion_id)
        suggestion = thread.suggestions[suggestion_id]
        return self.merge_threads(
            tenant_id,
            thread.id,
            UUID(suggestion["target_thread_id"]),
            by_user_id=by_user_id,
            merge_id=str(uuid.uuid5(ids.tenant_namespace(tenant_id), f"accepted:{suggestion_id}")),
            suggestion_id=suggestion_id,
        )

    def dismiss_merge_suggestion(
        self, tenant_id: str, thread_id: UUID, suggestion_id: str, *, by_user_id: str
    ) -> None:
        self._suggestion(tenant_id, thread_id, suggestion_id)

        def work(store: RepositoryThreadStore) -> None:
            thread = store.get_thread(thread_id)
            if thread.suggestions[suggestion_id]["state"] == "open":
                thread.dismiss_suggestion(
                    tenant_id=tenant_id, suggestion_id=suggestion_id, by_user_id=by_user_id, at=_now()
                )
                store.keep(thread)

        self._unit(work)

    def set_policy(
        self,
        tenant_id: str,
        mailbox_id: str,
        *,
        window_days: int,
        reply_to_closed: str,
        own_domains: list[str],
        resend_days: int = 0,
        follow_up_days: int = 0,
        topic_shift: bool = True,
    ) -> MailboxPolicy:
        if reply_to_closed not in REPLY_TO_CLOSED:
            raise CommandError(f"reply_to_closed must be one of {', '.join(REPLY_TO_CLOSED)}")
        for name, days in (
            ("subject window", window_days),
            ("resend window", resend_days),
            ("follow-up window", follow_up_days),
        ):
            if days < 0 or days > 365:
                raise CommandError(f"the {name} is 0 (default) to 365 days")
        domains = sorted({d.strip().casefold().lstrip("@") for d in own_domains if d.strip()})

        def work(store: RepositoryThreadStore) -> None:
            found = store._get(MailboxPolicyRecord, ids.policy_id(tenant_id, mailbox_id))
            if found is None:
                found = MailboxPolicyRecord(
                    tenant_id=tenant_id,
                    mailbox_id=mailbox_id,
                    window_days=window_days,
                    reply_to_closed=reply_to_closed,
                    own_domains=domains,
                    resend_days=resend_days,
                    follow_up_days=follow_up_days,
                    topic_shift=topic_shift,
                )
            else:
                found.change(
                    window_days=window_days,
                    reply_to_closed=reply_to_closed,
                    own_domains=domains,
                    resend_days=resend_days,
                    follow_up_days=follow_up_days,
                    topic_shift=topic_shift,
                )
            store.keep(found)

        self._unit(work)
        self.memo.policies.pop((tenant_id, mailbox_id), None)
        return self.get_policy(tenant_id, mailbox_id)


def _operation(store: RepositoryThreadStore, tenant_id: str, kind: str, op_id: str) -> OperationRecord:
    """The record of a merge or split to undo; NotFound for an id that is not one of that kind."""
    record = store._get(OperationRecord, ids.operation_id(tenant_id, kind, op_id))
    if record is None or record.kind != kind:
        raise NotFound(f"no {kind} {op_id}")
    return record
