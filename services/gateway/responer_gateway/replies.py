"""Builds the outbox request for an agent's reply to a thread: whom to answer and how to thread it."""

from __future__ import annotations

import re

from responer.events.v1 import mail_pb2
from responer.outbox.v1 import outbox_pb2
from responer.search.v1 import search_pb2

# "Re:", "RE:", "Odp:" (Polish), "AW:" (German), "SV:" (Nordic), "Antw:" at the start: already a reply.
_REPLY_PREFIX = re.compile(r"^\s*(re|odp|aw|sv|antw)\s*(\[\d+\])?\s*:", re.IGNORECASE)


class NothingToAnswerError(Exception):
    pass


def reply_subject(subject: str) -> str:
    subject = subject.strip()
    if _REPLY_PREFIX.match(subject):
        return subject
    return f"Re: {subject}" if subject else "Re:"


def last_inbound(detail: search_pb2.ThreadDetail) -> search_pb2.MessageView:
    for view in reversed(detail.messages):
        if view.mail.direction != mail_pb2.DIRECTION_OUTBOUND:
            return view
    raise NothingToAnswerError("the thread has no customer message to reply to")


def build_queue_reply(
    detail: search_pb2.ThreadDetail, *, body: str, reply_id: str, tenant_id: str, author_user_id: str
) -> outbox_pb2.QueueReplyRequest:
    """Answers the thread's last inbound message (messages are oldest first)."""
    view = last_inbound(detail)
    mail = view.mail
    recipients = [a.email for a in mail.reply_to if a.email] or [getattr(mail, "from").email]
    if not any(recipients):
        raise NothingToAnswerError("the last customer message has no sender address to reply to")
    references: list[str] = []
    for ref in [*mail.references, mail.message_id]:
        if ref and ref not in references:
            references.append(ref)
    return outbox_pb2.QueueReplyRequest(
        tenant_id=tenant_id,
        reply_id=reply_id,
        thread_id=detail.thread.thread_id,
        thread_number=detail.thread.number,
        mailbox_id=view.mailbox_id or detail.thread.mailbox_id,
        to=list(dict.fromkeys(recipients)),
        subject=reply_subject(detail.thread.subject or mail.subject),
        body_text=body,
        in_reply_to=mail.message_id,
        references=references,
        author_user_id=author_user_id,
    )
