"""Subjects, streams and the envelope codec.

Subjects are `<namespace>.<producer>.<entity>.<event>`; the namespace is "responer" in production
and unique per test run, so runs sharing one NATS server never see each other's events.
One JetStream stream per producing service captures `<namespace>.<producer>.>`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from responer.events.v1 import envelope_pb2, events_pb2

# type -> subject suffix (after the namespace). The producer is the second token.
EVENT_SUBJECTS: dict[type[Message], str] = {
    events_pb2.MailboxConnected: "ingest.mailbox.connected",
    events_pb2.MailReceived: "ingest.mail.received",
    events_pb2.MailSeenInMailbox: "ingest.mail.seen_in_mailbox",
    events_pb2.MailboxChanged: "ingest.mailbox.changed",
    events_pb2.MessageThreaded: "threading.message.threaded",
    events_pb2.ThreadMerged: "threading.thread.merged",
    events_pb2.ThreadMailboxAdded: "threading.thread.mailbox_added",
    events_pb2.ThreadStatusChanged: "threading.thread.status_changed",
    events_pb2.NoteAdded: "threading.note.added",
    events_pb2.NoteEdited: "threading.note.edited",
    events_pb2.NoteDeleted: "threading.note.deleted",
    events_pb2.ThreadUnmerged: "threading.thread.unmerged",
    events_pb2.ThreadSplit: "threading.thread.split",
    events_pb2.ThreadUnsplit: "threading.thread.unsplit",
    events_pb2.MergeSuggested: "threading.thread.merge_suggested",
    events_pb2.MergeSuggestionDismissed: "threading.thread.merge_suggestion_dismissed",
    events_pb2.ThreadSorted: "routing.thread.sorted",
    events_pb2.ThreadAssigned: "routing.thread.assigned",
    events_pb2.ThreadTagged: "routing.thread.tagged",
    events_pb2.ThreadUntagged: "routing.thread.untagged",
    events_pb2.ThreadPrioritySet: "routing.thread.priority_set",
    events_pb2.ThreadStatusRequested: "routing.thread.status_requested",
    events_pb2.ThreadDueSet: "routing.thread.due_set",
    events_pb2.SlaWarning: "routing.sla.warning",
    events_pb2.ThreadOverdue: "routing.thread.overdue",
    events_pb2.NotificationRaised: "routing.notification.raised",
    events_pb2.ContactSaved: "routing.contact.saved",
    events_pb2.FolderCreated: "routing.folder.created",
    events_pb2.FolderRemoved: "routing.folder.removed",
    events_pb2.RuleChanged: "routing.rule.changed",
    events_pb2.ReplyQueued: "outbox.reply.queued",
    events_pb2.ReplySent: "outbox.reply.sent",
    events_pb2.ReplyFailed: "outbox.reply.failed",
    events_pb2.UserAdded: "gateway.user.added",
    events_pb2.GroupChanged: "gateway.group.changed",
    events_pb2.AgentAvailabilityChanged: "gateway.agent.availability_changed",
    events_pb2.ThreadRead: "gateway.thread.read",
    events_pb2.ThreadMarkedUnread: "gateway.thread.marked_unread",
}

STREAMS = ("ingest", "threading", "routing", "outbox", "gateway")

_BY_NAME: dict[str, type[Message]] = {cls.DESCRIPTOR.full_name: cls for cls in EVENT_SUBJECTS}


def subject_for(event_type: type[Message], namespace: str = "responer") -> str:
    return f"{namespace}.{EVENT_SUBJECTS[event_type]}"


def stream_name(producer: str, namespace: str = "responer") -> str:
    """JetStream stream of one producer; stream names may not contain dots."""
    return f"{namespace}_{producer}".upper().replace(".", "_").replace("-", "_")


@dataclass(frozen=True)
class DecodedEvent:
    envelope: envelope_pb2.Envelope
    payload: Message

    @property
    def type(self) -> str:
        return self.envelope.type

    @property
    def tenant_id(self) -> str:
        return self.envelope.tenant_id


def encode(
    payload: Message,
    *,
    tenant_id: str,
    aggregate_id: str,
    aggregate_version: int,
    event_id: str | None = None,
    occurred_at: datetime | None = None,
    correlation_id: str = "",
    causation_id: str = "",
) -> envelope_pb2.Envelope:
    ts = Timestamp()
    ts.FromDatetime(occurred_at or datetime.now(UTC))
    event_id = event_id or str(uuid.uuid4())
    return envelope_pb2.Envelope(
        event_id=event_id,
        type=payload.DESCRIPTOR.full_name,
        tenant_id=tenant_id,
        aggregate_id=aggregate_id,
        aggregate_version=aggregate_version,
        occurred_at=ts,
        correlation_id=correlation_id or event_id,
        causation_id=causation_id,
        payload=payload.SerializeToString(),
    )


def decode(data: bytes) -> DecodedEvent:
    """Decodes an envelope and its payload. Unknown types raise KeyError (a newer producer)."""
    env = envelope_pb2.Envelope()
    env.ParseFromString(data)
    cls = _BY_NAME[env.type]
    payload = cls()
    payload.ParseFromString(env.payload)
    return DecodedEvent(env, payload)
