"""Incoming integration events -> read-model changes. One small function per effect, one registry.

A handler translates a protobuf event into the backend's vocabulary and applies it together with
its stream position (the backend does both in one transaction and ignores a position it has seen).
Events this read model does not use still have their position recorded.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from eventsourcing.persistence import Tracking
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from responer.events.v1 import events_pb2, mail_pb2
from responer_events import DecodedEvent

from responer_search.domain.model import (
    Assignment,
    GroupRecord,
    MessageDoc,
    MessageMailbox,
    MessageMove,
    Position,
    ReadMark,
    StatusChange,
    TagChange,
    ThreadAttributes,
    ThreadFiling,
    ThreadMerge,
    TimelineItem,
    UserRecord,
)
from responer_search.domain.ports import SearchBackend

log = logging.getLogger(__name__)

HandlerFn = Callable[[SearchBackend, DecodedEvent, Position], None]


def _tenant(event: DecodedEvent, payload_tenant: str) -> str | None:
    """The envelope's tenant; None (skip the event) when the payload claims another tenant."""
    tenant = event.envelope.tenant_id or payload_tenant
    if payload_tenant and tenant != payload_tenant:
        log.error(
            "tenant mismatch between envelope and payload; event ignored",
            extra={"envelope_tenant": tenant, "payload_tenant": payload_tenant, "type": event.type},
        )
        return None
    return tenant or None


def _dt(ts: Timestamp) -> datetime:
    return ts.ToDatetime(tzinfo=UTC)


def message_time(mail: mail_pb2.Mail, threaded_at: Timestamp) -> datetime:
    """When the message happened, for ordering: its Date header, but never later than its arrival.

    A Date header is what the sender's clock (or a spammer) says. Old mail synced from a mailbox
    keeps its real date, while a message dated in 2099 cannot pin itself to the top of the inbox.
    """
    arrived = _dt(threaded_at) if threaded_at.seconds or threaded_at.nanos else None
    dated = _dt(mail.date) if mail.HasField("date") and (mail.date.seconds or mail.date.nanos) else None
    if dated and arrived:
        return min(dated, arrived)
    return dated or arrived or datetime.now(UTC)


def message_doc(event: DecodedEvent) -> MessageDoc | None:
    """A MessageThreaded as the read model indexes it; None when it cannot be indexed."""
    p: events_pb2.MessageThreaded = event.payload  # type: ignore[assignment]
    tenant = _tenant(event, p.tenant_id)
    if tenant is None or not p.thread_id or not p.message_id:
        return None
    mail = p.mail
    sender = getattr(mail, "from")  # a Python keyword as a field name
    return MessageDoc(
        tenant_id=tenant,
        message_id=p.message_id,
        thread_id=p.thread_id,
        thread_number=p.thread_number,
        thread_subject=p.thread_subject,
        mailbox_id=p.mailbox_id,
        mailbox_address=p.mailbox_address,
        inbound=mail.direction != mail_pb2.DIRECTION_OUTBOUND,
        rfc822_id=mail.message_id,
        subject=mail.subject,
        from_email=sender.email,
        from_name=sender.name,
        to_emails=tuple(a.email for a in mail.to if a.email),
        cc_emails=tuple(a.email for a in mail.cc if a.email),
        at=message_time(mail, event.envelope.occurred_at),
        text=mail.text,
        attachment_names=tuple(a.filename for a in mail.attachments if a.filename),
        mail=mail.SerializeToString(),
        arrived_at=_dt(event.envelope.occurred_at)
        if event.envelope.occurred_at.seconds or event.envelope.occurred_at.nanos
        else None,
    )


def index_message(backend: SearchBackend, event: DecodedEvent, position: Position) -> None:
    doc = message_doc(event)
    if doc is None:
        backend.skip(position)
        return
    backend.index_message(doc, position)


def file_thread(backend: SearchBackend, event: DecodedEvent, position: Position) -> None:
    p: events_pb2.ThreadSorted = event.payload  # type: ignore[assignment]
    tenant = _tenant(event, p.tenant_id)
    if tenant is None or not p.thread_id:
        backend.skip(position)
        return
    backend.file_thread(
        ThreadFiling(tenant, p.thread_id, p.folder, p.system, p.system_reason, p.system_kind), position
    )


def merge_threads(backend: SearchBackend, event: DecodedEvent, position: Position) -> None:
    p: events_pb2.ThreadMerged = event.payload  # type: ignore[assignment]
    tenant = _tenant(event, p.tenant_id)
    if tenant is None or not p.source_thread_id or not p.target_thread_id:
        backend.skip(position)
        return
    backend.merge_threads(
        ThreadMerge(tenant, p.source_thread_id, p.target_thread_id, p.target_number, p.merge_id), position
    )


def _at(event: DecodedEvent, ts: Timestamp | None = None) -> datetime:
    """When it happened: the payload's own time if set, else the envelope's."""
    if ts is not None and (ts.seconds or ts.nanos):
        return _dt(ts)
    occurred = event.envelope.occurred_at
    return _dt(occurred) if occurred.seconds or occurred.nanos else datetime.now(UTC)


def set_status(backend: SearchBackend, event: DecodedEvent, position: Position) -> None:
    p: events_pb2.ThreadStatusChanged = event.payload  # type: ignore[assignment]
    tenant = _tenant(event, p.tenant_id)
    if tenant is None or not p.thread_id:
        backend.skip(position)
        return
    backend.set_status(
        StatusChange(
            tenant,
            p.thread_id,
            p.status,
            previous=p.previous,
            by_user_id=p.by_user_id,
            event_id=event.envelope.event_id,
            at=_at(event, p.at),
        ),
        position,
    )


def assign_thread(backend: SearchBackend, event: DecodedEvent, position: Position) -> None:
    p: events_pb2.ThreadAssigned = event.payload  # type: ignore[assignment]
    tenant = _tenant(event, p.tenant_id)
    if tenant is None or not p.thread_id:
        backend.skip(position)
        return
    backend.assign_thread(
        Assignment(
            tenant,
            p.thread_id,
            p.user_id,
            p.group_id,
            previous_user_id=p.previous_user_id,
            by_user_id=p.by_user_id,
            reason=p.reason or p.kind,
            event_id=event.envelope.event_id,
            at=_at(event, p.at),
        ),
        position,
    )


def add_note(backend: SearchBackend, event: DecodedEvent, position: Position) -> None:
    p: events_pb2.NoteAdded | events_pb2.NoteEdited = event.payload  # type: ignore[assignment]
    tenant = _tenant(event, p.tenant_id)
    if tenant is None or not p.thread_id or not p.note_id:
        backend.skip(position)
        return
    # An edit rewrites the note's row (same item id); it keeps its place by its first `at`.
    author = p.author_user_id if isinstance(p, events_pb2.NoteAdded) else p.by_user_id
    item = TimelineItem(tenant, p.thread_id, f"note:{p.note_id}", "note", _at(event, p.at), author, p.body)
    backend.add_timeline_item(item, position)


def delete_note(backend: SearchBackend, event: DecodedEvent, position: Position) -> None:
    p: events_pb2.NoteDeleted = event.payload  # type: ignore[assignment]
    tenant = _tenant(event, p.tenant_id)
    if tenant is None or not p.note_id:
        backend.skip(position)
        return
    backend.remove_timeline_item(tenant, f"note:{p.note_id}", position)


def tag_thread(backend: SearchBackend, event: DecodedEvent, position: Position) -> None:
    p: events_pb2.ThreadTagged | events_pb2.ThreadUntagged = event.payload  # type: ignore[assignment]
    tenant = _tenant(event, p.tenant_id)
    if tenant is None or not p.thread_id or not p.tag:
        backend.skip(position)
        return
    tagged = isinstance(p, events_pb2.ThreadTagged)
    change = TagChange(
        tenant, p.thread_id, added=(p.tag,) if tagged else (), removed=() if tagged else (p.tag,)
    )
    backend.tag_thread(change, position)


def set_priority(backend: SearchBackend, event: DecodedEvent, position: Position) -> None:
    p: events_pb2.ThreadPrioritySet = event.payload  # type: ignore[assignment]
    tenant = _tenant(event, p.tenant_id)
    if tenant is None or not p.thread_id:
        backend.skip(position)
        return
    backend.set_attributes(ThreadAttributes(tenant, p.thread_id, priority=p.priority), position)


def set_due(backend: SearchBackend, event: DecodedEvent, position: Position) -> None:
    p: events_pb2.ThreadDueSet = event.payload  # type: ignore[assignment]
    tenant = _tenant(event, p.tenant_id)
    if tenant is None or not p.thread_id:
        backend.skip(position)
        return
    due = None if p.answered or not (p.due_at.seconds or p.due_at.nanos) else _dt(p.due_at)
    backend.set_attributes(ThreadAttributes(tenant, p.thread_id, due_at=due, clear_due=due is None), position)


def split_thread(backend: SearchBackend, event: DecodedEvent, position: Position) -> None:
    p: events_pb2.ThreadSplit = event.payload  # type: ignore[assignment]
    tenant = _tenant(event, p.tenant_id)
    if tenant is None or not p.source_thread_id or not p.new_thread_id:
        backend.skip(position)
        return
    move = MessageMove(
        tenant,
        p.source_thread_id,
        p.new_thread_id,
        tuple(p.message_ids),
        to_number=p.new_number,
        subject=p.subject,
        mailbox_id=p.mailbox_id,
        status=p.status,
    )
    backend.move_messages(move, position)


def unsplit_thread(backend: SearchBackend, event: DecodedEvent, position: Position) -> None:
    p: events_pb2.ThreadUnsplit = event.payload  # type: ignore[assignment]
    tenant = _tenant(event, p.tenant_id)
    if tenant is None or not p.source_thread_id or not p.new_thread_id:
        backend.skip(position)
        return
    move = MessageMove(
        tenant,
        p.new_thread_id,
        p.source_thread_id,
        tuple(p.message_ids),
        tuple(f"note:{n}" for n in p.note_ids),
        absorb=True,  # the split-off thread is merged away: the rest of its timeline joins the source
    )
    backend.move_messages(move, position)


def unmerge_thread(backend: SearchBackend, event: DecodedEvent, position: Position) -> None:
    p: events_pb2.ThreadUnmerged = event.payload  # type: ignore[assignment]
    tenant = _tenant(event, p.tenant_id)
    if tenant is None or not p.source_thread_id or not p.target_thread_id:
        backend.skip(position)
        return
    move = MessageMove(
        tenant,
        p.target_thread_id,
        p.source_thread_id,
        tuple(p.message_ids),
        tuple(f"note:{n}" for n in p.note_ids),
        to_number=p.source_number,
        revive=True,
        status=p.source_status,
        merge_id=p.merge_id,
    )
    backend.move_messages(move, position)


def add_message_mailbox(backend: SearchBackend, event: DecodedEvent, position: Position) -> None:
    p: events_pb2.ThreadMailboxAdded = event.payload  # type: ignore[assignment]
    tenant = _tenant(event, p.tenant_id)
    if tenant is None or not p.message_id or not p.mailbox_id:
        backend.skip(position)
        return
    change = MessageMailbox(tenant, p.message_id, p.mailbox_id, p.mailbox_address)
    backend.add_message_mailbox(change, position)


def add_user(backend: SearchBackend, event: DecodedEvent, position: Position) -> None:
    p: events_pb2.UserAdded = event.payload  # type: ignore[assignment]
    tenant = _tenant(event, p.tenant_id)
    if tenant is None or not p.user_id:
        backend.skip(position)
        return
    backend.upsert_user(UserRecord(tenant, p.user_id, p.name, p.email), position)


def change_group(backend: SearchBackend, event: DecodedEvent, position: Position) -> None:
    p: events_pb2.GroupChanged = event.payload  # type: ignore[assignment]
    tenant = _tenant(event, p.tenant_id)
    if tenant is None or not p.group_id:
        backend.skip(position)
        return
    backend.upsert_group(GroupRecord(tenant, p.group_id, p.name, p.removed), position)


def mark_thread_read(backend: SearchBackend, event: DecodedEvent, position: Position) -> None:
    """ThreadRead or ThreadMarkedUnread: one user's read state of one thread."""
    p: events_pb2.ThreadRead | events_pb2.ThreadMarkedUnread = event.payload  # type: ignore[assignment]
    tenant = _tenant(event, p.tenant_id)
    if tenant is None or not p.thread_id or not p.user_id:
        backend.skip(position)
        return
    unread = isinstance(p, events_pb2.ThreadMarkedUnread)
    backend.mark_read(ReadMark(tenant, p.thread_id, p.user_id, _at(event, p.at), unread), position)


HANDLERS: dict[type[Message], HandlerFn] = {
    events_pb2.MessageThreaded: index_message,
    events_pb2.ThreadMerged: merge_threads,
    events_pb2.ThreadStatusChanged: set_status,
    events_pb2.ThreadSorted: file_thread,
    events_pb2.ThreadAssigned: assign_thread,
    events_pb2.NoteAdded: add_note,
    events_pb2.NoteEdited: add_note,
    events_pb2.NoteDeleted: delete_note,
    events_pb2.ThreadTagged: tag_thread,
    events_pb2.ThreadUntagged: tag_thread,
    events_pb2.ThreadPrioritySet: set_priority,
    events_pb2.ThreadDueSet: set_due,
    events_pb2.ThreadSplit: split_thread,
    events_pb2.ThreadUnsplit: unsplit_thread,
    events_pb2.ThreadUnmerged: unmerge_thread,
    events_pb2.ThreadMailboxAdded: add_message_mailbox,
    events_pb2.UserAdded: add_user,
    events_pb2.GroupChanged: change_group,
    events_pb2.ThreadRead: mark_thread_read,
    events_pb2.ThreadMarkedUnread: mark_thread_read,
}


def dispatcher(backend: SearchBackend) -> Callable[[DecodedEvent, Tracking], None]:
    """The ConsumerRunner handler for one stream: routes by payload type, skips the rest."""

    def dispatch(event: DecodedEvent, tracking: Tracking) -> None:
        position = Position(tracking.application_name, tracking.notification_id)
        handler = HANDLERS.get(type(event.payload))
        if handler is None:
            backend.skip(position)
            return
        handler(backend, event, position)

    return dispatch


def batch_dispatcher(backend: SearchBackend) -> Callable[[list[tuple[DecodedEvent, Tracking]]], None]:
    """The ConsumerRunner batch handler: a whole fetched batch in one backend transaction (bulk)."""
    dispatch = dispatcher(backend)

    bulk = getattr(backend, "index_messages", None)

    def dispatch_batch(items: list[tuple[DecodedEvent, Tracking]]) -> None:
        with backend.batch():
            run: list[tuple[MessageDoc, Position]] = []
            for event, tracking in items:
                position = Position(tracking.application_name, tracking.notification_id)
                doc = (
                    message_doc(event)
                    if bulk is not None and type(event.payload) is events_pb2.MessageThreaded
                    else None
                )
                if doc is not None:
                    run.append((doc, position))  # consecutive messages go in one bulk write
                    continue
                if run:
                    bulk(run)
                    run = []
                dispatch(event, tracking)
            if run:
                bulk(run)

    return dispatch_batch
