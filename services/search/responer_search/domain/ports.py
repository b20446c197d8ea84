"""The search backend port: the PostgreSQL adapter implements it now, an OpenSearch adapter later.

Every write applies one consumed event together with its upstream position, atomically, and returns
False without changing anything when that position was already applied (a redelivery). Writes must
tolerate events of different streams arriving in any order. Every read is confined to one tenant.
"""

from __future__ import annotations

from typing import Protocol

from responer_search.domain.model import (
    Assignment,
    FolderCount,
    MessageDoc,
    Position,
    StatusChange,
    ThreadDetail,
    ThreadFiling,
    ThreadMerge,
    ThreadPage,
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

    def skip(self, position: Position) -> bool:
        """Record the position of an event this read model does not use."""

    # -- reads -------------------------------------------------------------------------------------
    def list_threads(self, tenant_id: str, folder: str, limit: int, cursor: str = "") -> ThreadPage:
        """Threads of one folder, newest activity first. Folder "Inbox" includes not-yet-sorted ones."""

    def get_thread(self, tenant_id: str, *, thread_id: str = "", number: int = 0) -> ThreadDetail | None:
        """One thread with its messages oldest first; a merged thread answers as its target."""

    def search(self, tenant_id: str, query: Query, limit: int, cursor: str = "") -> ThreadPage: ...

    def folder_counts(self, tenant_id: str) -> list[FolderCount]: ...
