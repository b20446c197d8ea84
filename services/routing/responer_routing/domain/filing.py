"""Which folder a conversation is filed in, and why.

The first message decides. Later, a customer's (non-system) message pulls a System thread back to
the Inbox — precision first: a thread a customer is writing in must never stay hidden. System mail
arriving in an Inbox thread (an auto-reply to our answer) does not hide the conversation.
"""

from __future__ import annotations

import uuid

from eventsourcing.domain import Aggregate, event


def filing_id(tenant_id: str, thread_id: str) -> uuid.UUID:
    return uuid.uuid5(uuid.UUID(tenant_id), f"filing:{thread_id}")


class ThreadFiling(Aggregate):
    @event("Opened")
    def __init__(self, tenant_id: str, thread_id: str, id: uuid.UUID) -> None:  # noqa: A002
        self.tenant_id = tenant_id
        self.thread_id = thread_id
        self.folder: str | None = None
        self.system = False
        self.sorted_messages: list[str] = []

    def sort(self, message_id: str, *, system: bool, kind: str, reason: str, folder: str) -> None:
        if message_id in self.sorted_messages:
            return
        first = self.folder is None
        if first or (self.system and not system):
            self.filed(self.tenant_id, self.thread_id, message_id, folder, system, kind, reason)
        else:
            self.noted(message_id)

    @event("Filed")
    def filed(
        self,
        tenant_id: str,
        thread_id: str,
        message_id: str,
        folder: str,
        system: bool,
        kind: str,
        reason: str,
    ) -> None:
        self.folder = folder
        self.system = system
        self.sorted_messages.append(message_id)

    @event("Noted")
    def noted(self, message_id: str) -> None:
        self.sorted_messages.append(message_id)
