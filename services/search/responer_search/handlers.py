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
    MessageDoc,
    Position,
    StatusChange,
    ThreadFiling,
    ThreadMerge,
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


def index_message(backend: SearchBackend, event: DecodedEvent, position: Position) -> None:
    p: events_pb2.MessageThreaded = event.payload  # type: ignore[assignment]
    tenant = _tenant(event, p.tenant_id)
    if tenant is None or not p.thread_id or not p.message_id:
        backend.skip(position)
        return
    mail = p.mail
    sender = getattr(mail, "from")  # a Python keyword as a field name
    backend.index_message(
        MessageDoc(
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
        ),
        position,
    )


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
        ThreadMerge(tenant, p.source_thread_id, p.target_thread_id, p.target_number), position
    )


def set_status(backend: SearchBackend, event: DecodedEvent, position: Position) -> None:
    p: events_pb2.ThreadStatusChanged = event.payload  # type: ignore[assignment]
    tenant = _tenant(event, p.tenant_id)
    if tenant is None or not p.thread_id:
        backend.skip(position)
        return
    backend.set_status(StatusChange(tenant, p.thread_id, p.status), position)


def assign_thread(backend: SearchBackend, event: DecodedEvent, position: Position) -> None:
    p: events_pb2.ThreadAssigned = event.payload  # type: ignore[assignment]
    tenant = _tenant(event, p.tenant_id)
    if tenant is None or not p.thread_id:
        backend.skip(position)
        return
    backend.assign_thread(Assignment(tenant, p.thread_id, p.user_id, p.group_id), position)


HANDLERS: dict[type[Message], HandlerFn] = {
    events_pb2.MessageThreaded: index_message,
    events_pb2.ThreadMerged: merge_threads,
    events_pb2.ThreadStatusChanged: set_status,
    events_pb2.ThreadSorted: file_thread,
    events_pb2.ThreadAssigned: assign_thread,
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
