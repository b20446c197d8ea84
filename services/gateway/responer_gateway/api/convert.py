"""Protobuf views from the backends -> the public JSON shapes of the API."""

from __future__ import annotations

from google.protobuf.timestamp_pb2 import Timestamp
from responer.events.v1 import mail_pb2
from responer.ingest.v1 import ingest_pb2
from responer.outbox.v1 import outbox_pb2
from responer.search.v1 import search_pb2

from responer_gateway.adapters.html import sanitise_html
from responer_gateway.api.schemas import (
    AddressPublic,
    AttachmentPublic,
    MailboxPublic,
    MailboxRefPublic,
    MessagePublic,
    ReplyPublic,
    ThreadDetailPublic,
    ThreadPublic,
    ThreadsPublic,
)


def iso(ts: Timestamp) -> str | None:
    if not ts.seconds and not ts.nanos:
        return None
    return ts.ToDatetime().isoformat(timespec="seconds") + "Z"


def address(a: mail_pb2.Address) -> AddressPublic:
    return AddressPublic(name=a.name, email=a.email)


def thread(t: search_pb2.ThreadSummary) -> ThreadPublic:
    return ThreadPublic(**_thread_fields(t))


def _thread_fields(t: search_pb2.ThreadSummary) -> dict:
    return {
        "id": t.thread_id,
        "number": t.number,
        "subject": t.subject,
        "folder": t.folder,
        "status": t.status,
        "customer": AddressPublic(name=t.customer_name, email=t.customer_email),
        "message_count": t.message_count,
        "last_message_at": iso(t.last_message_at),
        "snippet": t.snippet,
        "system_reason": t.system_reason,
        "mailbox_id": t.mailbox_id,
        "assignee_user_id": t.assignee_user_id,
        "unread": t.unread,
    }


def thread_page(page: search_pb2.ThreadPage) -> ThreadsPublic:
    return ThreadsPublic(
        threads=[thread(t) for t in page.threads], next_cursor=page.next_cursor or None, total=page.total
    )


def is_outbound(mail: mail_pb2.Mail) -> bool:
    return mail.direction == mail_pb2.DIRECTION_OUTBOUND


def message(m: search_pb2.MessageView) -> MessagePublic:
    mail = m.mail
    return MessagePublic(
        id=m.message_id,
        message_id=mail.message_id,
        direction="outbound" if is_outbound(mail) else "inbound",
        from_=address(getattr(mail, "from")),  # type: ignore[call-arg]  # alias "from"
        to=[address(a) for a in mail.to],
        cc=[address(a) for a in mail.cc],
        reply_to=[address(a) for a in mail.reply_to],
        subject=mail.subject,
        date=iso(mail.date) or iso(m.at),
        text=mail.text,
        html=sanitise_html(mail.html),
        attachments=[
            AttachmentPublic(filename=a.filename, content_type=a.content_type, size=a.size)
            for a in mail.attachments
        ],
        mailbox_id=m.mailbox_id,
        mailbox_address=m.mailbox_address,
        other_mailboxes=[mailbox_ref(o) for o in m.other_mailboxes],
    )


def mailbox_ref(m: search_pb2.Mailbox) -> MailboxRefPublic:
    return MailboxRefPublic(id=m.mailbox_id, address=m.mailbox_address)


def thread_detail(detail: search_pb2.ThreadDetail) -> ThreadDetailPublic:
    return ThreadDetailPublic(
        **_thread_fields(detail.thread),
        messages=[message(m) for m in detail.messages],
        mailboxes=[mailbox_ref(m) for m in detail.mailboxes],
    )


def mailbox(v: ingest_pb2.MailboxView) -> MailboxPublic:
    return MailboxPublic(
        id=v.mailbox_id,
        name=v.name,
        address=v.address,
        imap_host=v.imap_host,
        imap_port=v.imap_port,
        tls_mode=v.tls_mode,
        username=v.username,
        folders=list(v.folders),
        messages_received=v.messages_received,
        last_sync_at=iso(v.last_sync_at),
        last_error=v.last_error,
        smtp_host=v.smtp_host,
        smtp_port=v.smtp_port,
    )


def reply(v: outbox_pb2.ReplyView) -> ReplyPublic:
    return ReplyPublic(
        reply_id=v.reply_id,
        thread_id=v.thread_id,
        status=v.status,
        message_id=v.message_id,
        error=v.error,
        attempts=v.attempts,
        sent_at=iso(v.sent_at),
    )
