"""Threading's domain events -> integration events (what the relay publishes).

Each domain event carries everything its integration event needs, so mapping is a pure function of
one event (the relay may replay any of them). Fields added later are read with defaults.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp
from responer.events.v1 import events_pb2
from responer_runtime.relay import Outgoing

from responer_threading.domain.aggregates import Thread


def _ts(at: datetime | None) -> Timestamp | None:
    if at is None:
        return None
    ts = Timestamp()
    ts.FromDatetime(at if at.tzinfo else at.replace(tzinfo=UTC))
    return ts


def _members(value: Any) -> list[str]:
    return list(value or ())


def map_event(domain_event: object) -> list[Outgoing]:
    e: Any = domain_event
    payload = _payload(e)
    if payload is None:
        return []
    return [Outgoing(payload, tenant_id=payload.tenant_id)]


def _payload(e: Any) -> Any:  # noqa: PLR0911 - one branch per event type is the clearest shape
    if isinstance(e, Thread.MessageAttached):
        received = events_pb2.MailReceived()
        received.ParseFromString(e.payload)
        return events_pb2.MessageThreaded(
            message_id=received.message_id,
            tenant_id=e.tenant_id,
            thread_id=str(e.originator_id),
            thread_number=e.thread_number,
            mailbox_id=received.mailbox_id,
            mailbox_address=received.mailbox_address,
            signal=e.signal,
            new_thread=e.new_thread,
            mail=received.mail,
            # A thread is named by its first message; later messages leave the name alone.
            thread_subject=e.subject if e.new_thread else "",
            signal_detail=getattr(e, "detail", ""),
        )
    if isinstance(e, Thread.MailboxAdded):
        return events_pb2.ThreadMailboxAdded(
            tenant_id=e.tenant_id,
            thread_id=str(e.originator_id),
            thread_number=e.thread_number,
            message_id=e.responer_message_id,
            mailbox_id=e.mailbox_id,
            mailbox_address=e.mailbox_address,
            mailbox_ids=list(e.mailbox_ids),
            at=_ts(e.at),
        )
    if isinstance(e, Thread.Merged):
        return events_pb2.ThreadMerged(
            tenant_id=e.tenant_id,
            source_thread_id=str(e.originator_id),
            target_thread_id=str(e.into_thread_id),
            source_number=e.thread_number,
            target_number=e.into_number,
            reason=getattr(e, "reason", "references link both threads"),
            by_user_id=getattr(e, "by_user_id", ""),
            merge_id=getattr(e, "merge_id", ""),
            message_ids=_members(getattr(e, "message_ids", None)),
            note_ids=_members(getattr(e, "note_ids", None)),
            at=_ts(getattr(e, "at", None) or e.timestamp),
            suggestion_id=getattr(e, "suggestion_id", ""),
        )
    if isinstance(e, Thread.Unmerged):
        return events_pb2.ThreadUnmerged(
            tenant_id=e.tenant_id,
            merge_id=e.merge_id,
            source_thread_id=str(e.originator_id),
            target_thread_id=str(e.from_thread_id),
            source_number=e.thread_number,
            target_number=e.from_number,
            message_ids=list(e.members),
            note_ids=list(e.notes),
            by_user_id=e.by_user_id,
            at=_ts(e.at),
            source_status="open",
        )
    if isinstance(e, Thread.SplitOff):
        first = next(iter(e.members.values()), {})
        return events_pb2.ThreadSplit(
            tenant_id=e.tenant_id,
            split_id=e.split_id,
            source_thread_id=str(e.from_thread_id),
            source_number=e.from_number,
            new_thread_id=str(e.originator_id),
            new_number=e.thread_number,
            message_ids=list(e.members),
            subject=first.get("subject", ""),
            by_user_id=e.by_user_id,
            at=_ts(e.at),
            status="open",
        )
    if isinstance(e, Thread.Unsplit):
        return events_pb2.ThreadUnsplit(
            tenant_id=e.tenant_id,
            split_id=e.split_id,
            source_thread_id=str(e.into_thread_id),
            source_number=e.into_number,
            new_thread_id=str(e.originator_id),
            new_number=e.thread_number,
            message_ids=list(e.member_ids),
            note_ids=list(e.note_ids),
            by_user_id=e.by_user_id,
            at=_ts(e.at),
        )
    if isinstance(e, Thread.StatusChanged):
        return events_pb2.ThreadStatusChanged(
            tenant_id=e.tenant_id,
            thread_id=str(e.originator_id),
            status=e.status,
            previous=e.previous,
            by_user_id=e.by_user_id,
            reason=e.reason,
            message_id=e.message_id,
            at=_ts(e.at),
            thread_number=e.thread_number,
        )
    if isinstance(e, Thread.NoteAdded):
        return events_pb2.NoteAdded(
            tenant_id=e.tenant_id,
            thread_id=str(e.originator_id),
            note_id=e.note_id,
            author_user_id=e.author_user_id,
            body=e.body,
            mentions=list(e.mentions),
            at=_ts(e.at),
            thread_number=e.thread_number,
        )
    if isinstance(e, Thread.NoteEdited):
        return events_pb2.NoteEdited(
            tenant_id=e.tenant_id,
            thread_id=str(e.originator_id),
            note_id=e.note_id,
            body=e.body,
            mentions=list(e.mentions),
            by_user_id=e.by_user_id,
            at=_ts(e.at),
        )
    if isinstance(e, Thread.NoteDeleted):
        return events_pb2.NoteDeleted(
            tenant_id=e.tenant_id,
            thread_id=str(e.originator_id),
            note_id=e.note_id,
            by_user_id=e.by_user_id,
            at=_ts(e.at),
        )
    if isinstance(e, Thread.MergeSuggested):
        return events_pb2.MergeSuggested(
            tenant_id=e.tenant_id,
            suggestion_id=e.suggestion_id,
            thread_id=str(e.originator_id),
            thread_number=e.thread_number,
            target_thread_id=str(e.target_thread_id),
            target_number=e.target_number,
            reason=e.reason,
            at=_ts(e.at),
        )
    if isinstance(e, Thread.MergeSuggestionDismissed):
        return events_pb2.MergeSuggestionDismissed(
            tenant_id=e.tenant_id,
            suggestion_id=e.suggestion_id,
            thread_id=str(e.originator_id),
            by_user_id=e.by_user_id,
            at=_ts(e.at),
        )
    return None
