"""One user's reading of one thread: when they last opened it, and whether they marked it unread.

Unread state is per user (Front / Help Scout style): search decides "unread" from these events and
the thread's inbound messages, so the gateway only records what the user did. The id is derived from
tenant, user and thread, so every open of the same thread by the same user lands on one aggregate.
Every event carries tenant, user and thread, so the relay maps it without reading the aggregate.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from responer_gateway.domain.accounts import ACCOUNTS_NAMESPACE


class ThreadReading(Aggregate):
    @staticmethod
    def create_id(tenant_id: UUID, user_id: UUID, thread_id: str) -> UUID:
        return uuid5(ACCOUNTS_NAMESPACE, f"reading:{tenant_id}:{user_id}:{thread_id}")

    @event("Started")
    def __init__(self, tenant_id: UUID, user_id: UUID, thread_id: str) -> None:
        self.tenant_id = tenant_id
        self.user_id = user_id
        self.thread_id = thread_id
        self.read_at: datetime | None = None
        self.marked_unread = False

    @event("Read")
    def read(self, tenant_id: UUID, user_id: UUID, thread_id: str, at: datetime) -> None:
        self.read_at = at
        self.marked_unread = False

    @event("MarkedUnread")
    def mark_unread(self, tenant_id: UUID, user_id: UUID, thread_id: str, at: datetime) -> None:
        self.marked_unread = True
