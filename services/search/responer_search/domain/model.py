"""What the search read model stores and answers, as small backend-neutral records."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

INBOX = "Inbox"
SYSTEM = "System"


@dataclass(frozen=True)
class Position:
    """Where a consumed event sits in its upstream (stream name, stream sequence)."""

    upstream: str
    position: int


@dataclass(frozen=True)
class MessageDoc:
    """One threaded message as the read model indexes it."""

    tenant_id: str
    message_id: str
    thread_id: str
    thread_number: int
    thread_subject: str
    mailbox_id: str
    mailbox_address: str
    inbound: bool
    rfc822_id: str
    subject: str
    from_email: str
    from_name: str
    to_emails: tuple[str, ...]
    cc_emails: tuple[str, ...]
    at: datetime
    text: str
    attachment_names: tuple[str, ...]
    mail: bytes  # the serialized Mail, returned as is by GetThread


@dataclass(frozen=True)
class ThreadFiling:
    tenant_id: str
    thread_id: str
    folder: str
    system: bool
    system_reason: str
    system_kind: str


@dataclass(frozen=True)
class ThreadMerge:
    tenant_id: str
    source_thread_id: str
    target_thread_id: str
    target_number: int


@dataclass(frozen=True)
class StatusChange:
    tenant_id: str
    thread_id: str
    status: str


@dataclass(frozen=True)
class Assignment:
    tenant_id: str
    thread_id: str
    user_id: str  # empty: unassigned
    group_id: str


@dataclass(frozen=True)
class ThreadSummary:
    thread_id: str
    number: int
    subject: str
    folder: str
    status: str
    customer_email: str
    customer_name: str
    message_count: int
    last_message_at: datetime
    mailbox_id: str
    system_reason: str
    assignee_user_id: str
    snippet: str = ""  # HTML-escaped, matches wrapped in <mark></mark>


@dataclass(frozen=True)
class StoredMessage:
    message_id: str
    thread_id: str
    mailbox_id: str
    mailbox_address: str
    at: datetime
    mail: bytes


@dataclass(frozen=True)
class ThreadDetail:
    thread: ThreadSummary
    messages: list[StoredMessage]  # oldest first


@dataclass(frozen=True)
class ThreadPage:
    threads: list[ThreadSummary]
    next_cursor: str = ""
    total: int = 0


@dataclass(frozen=True)
class FolderCount:
    folder: str
    threads: int
