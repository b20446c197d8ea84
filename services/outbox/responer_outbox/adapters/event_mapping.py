"""Maps the outbox's domain events to integration events for the relay (explicit, one by one)."""

from __future__ import annotations

from datetime import datetime
from email.utils import parseaddr
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp
from responer.events.v1 import events_pb2, mail_pb2
from responer_runtime.relay import Outgoing

from responer_outbox.domain.reply import Reply


def _ts(value: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(value)
    return ts


def _address(value: str) -> mail_pb2.Address:
    name, email = parseaddr(value)
    return mail_pb2.Address(name=name, email=email.lower())


def _sent_mail(mail: dict[str, Any]) -> mail_pb2.Mail:
    return mail_pb2.Mail(
        message_id=mail["message_id"],
        in_reply_to=[mail["in_reply_to"]] if mail["in_reply_to"] else [],
        references=mail["references"],
        subject=mail["subject"],
        to=[_address(a) for a in mail["to"]],
        cc=[_address(a) for a in mail["cc"]],
        date=_ts(mail["date"]),
        text=mail["text"],
        direction=mail_pb2.DIRECTION_OUTBOUND,
        **{"from": _address(mail["from"])},
    )


def map_event(domain_event: object) -> list[Outgoing]:
    if isinstance(domain_event, Reply.Queued):
        e: Any = domain_event
        payload = events_pb2.ReplyQueued(
            reply_id=e.client_reply_id, tenant_id=e.tenant_id, thread_id=e.thread_id, mailbox_id=e.mailbox_id
        )
        return [Outgoing(payload=payload, tenant_id=e.tenant_id)]
    if isinstance(domain_event, Reply.Sent):
        e = domain_event
        mail = e.mail
        sent = events_pb2.ReplySent(
            reply_id=mail["reply_id"],
            tenant_id=mail["tenant_id"],
            thread_id=mail["thread_id"],
            mailbox_id=mail["mailbox_id"],
            mailbox_address=parseaddr(mail["from"])[1].lower(),
            mail=_sent_mail(mail),
            author_user_id=mail["author_user_id"],
            sent_at=_ts(e.sent_at),
        )
        return [Outgoing(payload=sent, tenant_id=mail["tenant_id"])]
    if isinstance(domain_event, Reply.Failed):
        e = domain_event
        failed = events_pb2.ReplyFailed(
            reply_id=e.client_reply_id,
            tenant_id=e.tenant_id,
            thread_id=e.thread_id,
            error=e.error,
            permanent=e.permanent,
            attempts=e.attempts,
        )
        return [Outgoing(payload=failed, tenant_id=e.tenant_id)]
    return []  # AttemptFailed, mailbox directory changes: internal only
