"""Incoming integration events -> threading commands. The registry at the bottom is the whole list.

Mail arrives from two streams: ingest (customer mail) and outbox (our sent replies). Both become a
MailReceived-shaped payload stored on the thread, so the relay publishes one MessageThreaded shape.
The same mail seen in a second mailbox (MailSeenInMailbox) adds that mailbox to the message's thread.
Routing's rules may ask for a status (ThreadStatusRequested); threading owns status and applies it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC

from eventsourcing.persistence import Tracking
from responer.events.v1 import events_pb2, mail_pb2
from responer_events import DecodedEvent

from responer_threading.application import CommandError, ThreadingApplication
from responer_threading.domain import MailFacts, is_automatic


def mail_facts(
    tenant_id: str, mailbox_id: str, responer_message_id: str, mail: mail_pb2.Mail, mailbox_address: str = ""
) -> MailFacts:
    sender = getattr(mail, "from")
    return MailFacts(
        tenant_id=tenant_id,
        mailbox_id=mailbox_id,
        responer_message_id=uuid.UUID(responer_message_id),
        message_id=mail.message_id,
        in_reply_to=tuple(mail.in_reply_to),
        references=tuple(mail.references),
        subject=mail.subject,
        from_email=sender.email,
        to=tuple(a.email for a in mail.to),
        cc=tuple(a.email for a in mail.cc),
        date=mail.date.ToDatetime(tzinfo=UTC) if mail.HasField("date") else None,
        direction="outbound" if mail.direction == mail_pb2.DIRECTION_OUTBOUND else "inbound",
        quoted_message_ids=tuple(mail.quoted_message_ids),
        automatic=is_automatic(((h.name, h.value) for h in mail.headers), mail.part_types),
        mailbox_address=mailbox_address,
        text=mail.text,
    )


def attach_received_mail(
    app: ThreadingApplication, event: events_pb2.MailReceived, tracking: Tracking
) -> None:
    facts = mail_facts(event.tenant_id, event.mailbox_id, event.message_id, event.mail, event.mailbox_address)
    app.thread_message(facts, event.SerializeToString(), tracking=tracking)


def attach_sent_reply(app: ThreadingApplication, event: events_pb2.ReplySent, tracking: Tracking) -> None:
    message_id = str(uuid.uuid5(uuid.UUID(event.tenant_id), f"reply:{event.reply_id}"))
    as_received = events_pb2.MailReceived(
        message_id=message_id,
        tenant_id=event.tenant_id,
        mailbox_id=event.mailbox_id,
        mailbox_address=event.mailbox_address,
        mail=event.mail,
        received_at=event.sent_at,
    )
    facts = mail_facts(event.tenant_id, event.mailbox_id, message_id, event.mail, event.mailbox_address)
    app.thread_message(facts, as_received.SerializeToString(), tracking=tracking)


def add_mailbox_to_thread(
    app: ThreadingApplication, event: events_pb2.MailSeenInMailbox, tracking: Tracking
) -> None:
    """The same mail arrived in a second mailbox of the tenant: one message, its thread in both."""
    try:
        message_id = uuid.UUID(event.message_id)
    except ValueError:
        app.record(tracking=tracking)  # not a message of ours: nothing to do, never retried
        return
    app.see_in_mailbox(
        event.tenant_id, message_id, event.mailbox_id, event.mailbox_address, tracking=tracking
    )


def apply_requested_status(
    app: ThreadingApplication, event: events_pb2.ThreadStatusRequested, tracking: Tracking
) -> None:
    """A routing rule asks for a status (e.g. close newsletters' threads): threading owns it."""
    try:
        app.set_status(
            event.tenant_id,
            uuid.UUID(event.thread_id),
            event.status,
            by_user_id="",
            reason=f"rule {event.by_rule_id}" if event.by_rule_id else "rule",
            tracking=tracking,
        )
    except (CommandError, ValueError):
        app.record(tracking=tracking)  # an unknown thread or status: nothing to do, never retried


HANDLERS: dict[type, Callable[[ThreadingApplication, object, Tracking], None]] = {
    events_pb2.MailReceived: attach_received_mail,  # type: ignore[dict-item]
    events_pb2.ReplySent: attach_sent_reply,  # type: ignore[dict-item]
    events_pb2.MailSeenInMailbox: add_mailbox_to_thread,  # type: ignore[dict-item]
    events_pb2.ThreadStatusRequested: apply_requested_status,  # type: ignore[dict-item]
}


def dispatch(app: ThreadingApplication) -> Callable[[DecodedEvent, Tracking], None]:
    def handle(event: DecodedEvent, tracking: Tracking) -> None:
        with app.write_lock:
            if app.already_processed(tracking):
                return
            handler = HANDLERS.get(type(event.payload))
            if handler is None:
                app.record(tracking=tracking)
                return
            handler(app, event.payload, tracking)

    return handle
