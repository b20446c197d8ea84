"""What threading needs to know about one message, and what it answers."""

from __future__ import annotations

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
