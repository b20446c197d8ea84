"""Incoming integration events -> outbox commands. The registry at the bottom is the whole list."""

from __future__ import annotations

from functools import partial

from eventsourcing.persistence import Tracking
from responer.events.v1 import events_pb2
from responer_events import DecodedEvent
from responer_runtime.consumer import Subscription

from responer_outbox.application import OutboxApplication
from responer_outbox.domain.commands import ConnectMailbox


def learn_mailbox(app: OutboxApplication, event: DecodedEvent, tracking: Tracking) -> None:
    """ingest's MailboxConnected -> the mailbox directory (From address, SMTP route)."""
    payload = event.payload
    if not isinstance(payload, events_pb2.MailboxConnected):
        return
    app.connect_mailbox(
        ConnectMailbox(
            tenant_id=payload.tenant_id or event.tenant_id,
            mailbox_id=payload.mailbox_id,
            name=payload.name,
            address=payload.address,
            smtp_host=payload.smtp_host,
            smtp_port=payload.smtp_port,
            smtp_tls_mode=payload.smtp_tls_mode,
        ),
        tracking,
    )


def send_reply(app: OutboxApplication, event: DecodedEvent, tracking: Tracking) -> None:
    """Our own ReplyQueued (as stored and published) -> an SMTP delivery, so sending survives restarts."""
    payload = event.payload
    if not isinstance(payload, events_pb2.ReplyQueued):
        return
    app.deliver_reply(payload.tenant_id or event.tenant_id, payload.reply_id, tracking)


def subscriptions(app: OutboxApplication) -> list[Subscription]:
    return [
        Subscription("ingest", "mailboxes", partial(learn_mailbox, app), filter_suffix="mailbox.>"),
        Subscription("outbox", "sender", partial(send_reply, app), filter_suffix="reply.queued"),
    ]
