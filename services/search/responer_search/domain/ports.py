"""The search backend port: PostgreSQL (adapters/pg_backend.py) and OpenSearch (adapters/os_backend.py).

Every write applies one consumed event together with its upstream position, atomically, and returns
False without changing anything when that position was already applied (a redelivery). Writes must
tolerate events of different streams arriving in any order. Every read is confined to one tenant.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Protocol

from responer_search.domain.model import (
    Assignment,
    FolderCount,
    GroupRecord,
    MessageDoc,
    MessageMailbox,
    MessageMove,
    Position,
    ReadMark,
    SearchOptions,
    StatusChange,
    TagChange,
    ThreadAttributes,
    ThreadDetail,
    ThreadFiling,
    ThreadMerge,
    ThreadPage,
    TimelineItem,
    UserRecord,
)
from responer_search.domain.query import Query


class BackendUnavailable(RuntimeError):
    """The backend cannot answer right now (down, overloaded, timed out); the caller may retry."""


class SearchBackend(Protocol):
    def ensure_schema(self) -> None:
        """Create what the backend needs; idempotent and safe with several replicas starting."""

    def ping(self) -> bool: ...

    # -- writes (one consumed event each) ---------------------------------------------------------
    def index_message(self, doc: MessageDoc, position: Position) -> bool: ...

    def file_thread(self, filing: ThreadFiling, position: Position) -> bool: ...

    def merge_threads(self, merge: ThreadMerge, position: Position) -> bool: ...

    def set_status(self, change: StatusChange, position: Position) -> bool: ...

    def assign_thread(self, assignment: Assignment, position: Position) -> bool: ...

    def add_timeline_item(self, item: TimelineItem, position: Position) -> bool:
        """A note (searchable with note:) or other history item; the same item_id rewrites it."""

    def remove_timeline_item(self, tenant_id: str, item_id: str, position: Position) -> bool: ...

    def tag_thread(self, change: TagChange, position: Position) -> bool: ...

    def set_attributes(self, attrs: ThreadAttributes, position: Position) -> bool: ...

    def move_messages(self, move: MessageMove, position: Position) -> bool: ...

    def add_message_mailbox(self, change: MessageMailbox, position: Position) -> bool:
        """The message is in `change.mailbox_id` too; a mailbox it is already in changes nothing."""

    def upsert_user(self, user: UserRecord, position: Position) -> bool: ...

    def upsert_group(self, group: GroupRecord, position: Position) -> bool: ...

    def mark_read(self, mark: ReadMark, position: Position) -> bool:
        """One user's read state of one thread: opened at `mark.at`, or marked unread."""

    def batch(self) -> AbstractContextManager[None]:
        """Writes made inside (by this thread) are applied together: all of them with their positions,
        or none (the batch raised). Lets a consumer index a fetched batch in one go."""

    def skip(self, position: Position) -> bool:
        """Record the position of an event this read model does not use."""

    # -- reads -------------------------------------------------------------------------------------
    def list_threads(
        self,
        tenant_id: str,
        folder: str,
        limit: int,
        cursor: str = "",
        filter: Query | None = None,  # noqa: A002
        user_id: str = "",
    ) -> ThreadPage:
        """Threads of one folder ("*": every folder), newest activity first, optionally narrowed by a
        query's conditions (inbox views: assignee:me is:open, is:unread, tag:vip, ...). Folder "Inbox"
        includes not-yet-sorted ones. With a user_id each summary says whether it is unread for them."""

    def get_thread(self, tenant_id: str, *, thread_id: str = "", number: int = 0) -> ThreadDetail | None:
        """One thread with its messages oldest first; a merged thread answers as its target."""

    def search(
        self, tenant_id: str, query: Query, limit: int, cursor: str = "", options: SearchOptions | None = None
    ) -> ThreadPage:
        """Threads (or messages, options.result) matching the query; facets on the first page if asked."""

    def folder_counts(self, tenant_id: str) -> list[FolderCount]: ...
