"""The Reply aggregate: one outgoing answer, from queued to sent or failed.

Its id is uuid5(tenant, client reply id), so queueing the same reply twice finds the first one.
Our Message-ID is fixed when the reply is queued and stored in the Queued event, so every attempt
(and a retry after a restart) sends the same id and a receiver can spot a duplicate.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from eventsourcing.domain import Aggregate, event

from responer_outbox.domain.message import OutgoingMail

REPLY_NAMESPACE = uuid.UUID("0f6c2a4e-3b0e-5f59-8a57-4d1f0c7b9e21")

QUEUED = "queued"
SENT = "sent"
FAILED = "failed"


class Reply(Aggregate):
    @staticmethod
    def create_id(tenant_id: str, client_reply_id: str) -> uuid.UUID:
        return uuid.uuid5(REPLY_NAMESPACE, f"{tenant_id}/{client_reply_id}")

    @event("Queued")
    def __init__(
        self,
        *,
        tenant_id: str,
        client_reply_id: str,
        thread_id: str,
        thread_number: int,
        mailbox_id: str,
        from_address: str,
        to: list[str],
        cc: list[str],
        subject: str,
        body_text: str,
        in_reply_to: str,
        references: list[str],
        author_user_id: str,
        mail_domain: str,
    ) -> None:
        self.tenant_id = tenant_id
        self.client_reply_id = client_reply_id
        self.thread_id = thread_id
        self.thread_number = thread_number
        self.mailbox_id = mailbox_id
        self.from_address = from_address
        self.to = list(to)
        self.cc = list(cc)
        self.subject = subject
        self.body_text = body_text
        self.in_reply_to = in_reply_to
        self.references = list(references)
        self.author_user_id = author_user_id
        self.message_id = f"{self.id}@{mail_domain}"
        self.status = QUEUED
        self.attempts = 0
        self.last_error = ""
        self.permanent = False
        self.sent_at: datetime | None = None

    # -- state changes ----------------------------------------------------------------------------
    @event("AttemptFailed")
    def attempt_failed(self, error: str, permanent: bool, attempted_at: datetime) -> None:
        self.attempts += 1
        self.last_error = error
        self.permanent = permanent

    def mark_sent(self, sent_at: datetime, refused: dict[str, str]) -> None:
        if self.status != QUEUED:
            raise ValueError(f"reply {self.id} is {self.status}, not queued")
        # The Sent event carries what went out, so the relay can publish it without a lookup.
        self._sent(sent_at=sent_at, refused=dict(refused), mail=self._snapshot(sent_at))

    @event("Sent")
    def _sent(self, sent_at: datetime, refused: dict[str, str], mail: dict[str, Any]) -> None:
        self.attempts += 1
        self.status = SENT
        self.sent_at = sent_at
        self.last_error = (
            "refused by the server: " + "; ".join(f"{k}: {v}" for k, v in refused.items()) if refused else ""
        )

    def give_up(self) -> None:
        """Marks the reply failed after its last failed attempt (that attempt's error is the reason)."""
        if self.status != QUEUED:
            raise ValueError(f"reply {self.id} is {self.status}, not queued")
        self._failed(
            tenant_id=self.tenant_id,
            client_reply_id=self.client_reply_id,
            thread_id=self.thread_id,
            error=self.last_error,
            permanent=self.permanent,
            attempts=self.attempts,
        )

    @event("Failed")
    def _failed(
        self, tenant_id: str, client_reply_id: str, thread_id: str, error: str, permanent: bool, attempts: int
    ) -> None:
        self.status = FAILED

    # -- views ------------------------------------------------------------------------------------
    @property
    def outgoing(self) -> OutgoingMail:
        return OutgoingMail(
            message_id=self.message_id,
            from_address=self.from_address,
            to=self.to,
            cc=self.cc,
            subject=self.subject,
            body_text=self.body_text,
            in_reply_to=self.in_reply_to,
            references=self.references,
        )

    def _snapshot(self, date: datetime) -> dict[str, Any]:
        return {
            "reply_id": self.client_reply_id,
            "tenant_id": self.tenant_id,
            "thread_id": self.thread_id,
            "mailbox_id": self.mailbox_id,
            "author_user_id": self.author_user_id,
            "message_id": self.message_id,
            "in_reply_to": self.in_reply_to,
            "references": list(self.references),
            "subject": self.subject,
            "from": self.from_address,
            "to": list(self.to),
            "cc": list(self.cc),
            "text": self.body_text,
            "date": date,
        }
