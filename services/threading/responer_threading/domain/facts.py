"""What threading needs to know about one message, and what it answers."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from uuid import UUID


@dataclass(frozen=True, slots=True)
class MailFacts:
    tenant_id: str
    mailbox_id: str
    responer_message_id: UUID
    message_id: str
    in_reply_to: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    subject: str = ""
    from_email: str = ""
    to: tuple[str, ...] = ()
    cc: tuple[str, ...] = ()
    date: datetime | None = None
    direction: Literal["inbound", "outbound"] = "inbound"
    quoted_message_ids: tuple[str, ...] = ()
    automatic: bool = False  # machine-written (see is_automatic)
    mailbox_address: str = ""  # the mailbox's own address: its domain is one of the tenant's own
    text: str = ""  # readable plain text, quotes included (topics.own_text cuts them)

    @property
    def customer(self) -> str:
        """The other party: the sender of inbound mail, the first recipient of outbound mail."""
        if self.direction == "outbound":
            return self.to[0] if self.to else ""
        return self.from_email

    @property
    def participants(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(a for a in (self.from_email, *self.to, *self.cc) if a))


@dataclass(frozen=True, slots=True)
class ThreadingResult:
    thread_id: UUID
    thread_number: int
    signal: str
    new_thread: bool
    merged_thread_ids: tuple[UUID, ...] = ()
    thread_subject: str = ""
    detail: str = ""  # the decision's notes, for people ("tag #1042 ignored: sender not a participant")
    merge_suggested_into: UUID | None = None


_AUTOMATIC_HEADERS = ("x-autoreply", "x-autorespond", "list-id", "list-unsubscribe", "x-failed-recipients")


def is_automatic(headers: Iterable[tuple[str, str]], part_types: Iterable[str] = ()) -> bool:
    """Machine-written mail (auto-replies, bounces, list and bulk mail; RFC 3834 and the usual headers).

    Threading only uses it to hold back people-shaped guesses: an out-of-office is no new topic, and a
    newsletter's tenth issue is no reason to suggest merging threads.
    """
    for name, value in headers:
        key, text = name.casefold(), value.strip().casefold()
        if key == "auto-submitted" and text and text != "no":
            return True
        if key == "precedence" and text in ("bulk", "junk", "list", "auto_reply"):
            return True
        if key == "return-path" and text in ("<>", ""):
            return True
        if key in _AUTOMATIC_HEADERS:
            return True
    return any(t.casefold() in ("multipart/report", "message/delivery-status") for t in part_types)
