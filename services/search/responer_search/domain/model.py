"""What the search read model stores and answers, as small backend-neutral records."""

from __future__ import annotations

from dataclasses import dataclass, field
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
    # When threading took it in (its arrival, on our clock): unread state compares this, not the
    # Date header, so mail delayed in transit still makes a thread unread. None: `at` stands in.
    arrived_at: datetime | None = None


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
    merge_id: str = ""  # names the merge, so its undo knows which timeline items came with the source


@dataclass(frozen=True)
class MessageMove:
    """Messages (and notes) moving between threads: a split, an unsplit or an unmerge.

    `to_thread_id` gets `to_number`/`subject` when it is new; `revive` clears its merged_into (unmerge),
    and `merge_id` brings back the timeline items (notes, status, assignment) that merge took along.
    `absorb` (an undone split) merges what is left of `from_thread_id` into `to_thread_id`.
    """

    tenant_id: str
    from_thread_id: str
    to_thread_id: str
    message_ids: tuple[str, ...]
    note_ids: tuple[str, ...] = ()
    to_number: int = 0
    subject: str = ""
    mailbox_id: str = ""
    revive: bool = False
    status: str = ""
    merge_id: str = ""
    absorb: bool = False


@dataclass(frozen=True)
class ThreadAttributes:
    """Routing's priority and due date of a thread (None: unchanged; a due date of None with
    `clear_due` removes it)."""

    tenant_id: str
    thread_id: str
    priority: str | None = None
    due_at: datetime | None = None
    clear_due: bool = False


@dataclass(frozen=True)
class StatusChange:
    tenant_id: str
    thread_id: str
    status: str
    previous: str = ""
    by_user_id: str = ""
    event_id: str = ""  # with `at`: also recorded on the thread's timeline
    at: datetime | None = None


@dataclass(frozen=True)
class Assignment:
    tenant_id: str
    thread_id: str
    user_id: str  # empty: unassigned
    group_id: str
    previous_user_id: str = ""
    by_user_id: str = ""
    reason: str = ""
    event_id: str = ""  # with `at`: also recorded on the thread's timeline
    at: datetime | None = None


@dataclass(frozen=True)
class TimelineItem:
    """A thread event that is not a message: a note, a status, assignment, tag or merge change.

    `item_id` is the event id (deterministic), `detail` holds the kind's fields as strings.
    """

    tenant_id: str
    thread_id: str
    item_id: str
    kind: str  # note | status | assignment | tags | merge
    at: datetime
    actor: str = ""
    body: str = ""
    detail: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TagChange:
    """Tags added to and removed from a thread; `replace` sets exactly `added` instead."""

    tenant_id: str
    thread_id: str
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    replace: bool = False


@dataclass(frozen=True)
class ReadMark:
    """A user opened a thread at `at` (ThreadRead), or marked it unread (`unread`, ThreadMarkedUnread).

    Per user: a thread is unread for them when it was marked unread, or when an inbound message
    arrived after they last opened it (or they never did). Replies and notes never make it unread.
    """

    tenant_id: str
    thread_id: str
    user_id: str
    at: datetime
    unread: bool = False


@dataclass(frozen=True)
class GroupRecord:
    """A team (GroupChanged): `group:billing` finds threads assigned to the group named Billing."""

    tenant_id: str
    group_id: str
    name: str
    removed: bool = False


@dataclass(frozen=True)
class UserRecord:
    tenant_id: str
    user_id: str
    name: str
    email: str


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
    tags: tuple[str, ...] = ()
    assignee_group_id: str = ""
    best_message_id: str = ""  # search results: the best-matching message (the snippet's source)
    priority: str = ""
    due_at: datetime | None = None
    unread: bool = False  # for the asking user (list_threads/search with a user_id)


@dataclass(frozen=True)
class StoredMessage:
    message_id: str
    thread_id: str
    mailbox_id: str
    mailbox_address: str
    at: datetime
    mail: bytes
    # The same mail seen in other mailboxes of the tenant too: (mailbox_id, mailbox_address), in order.
    other_mailboxes: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class MessageMailbox:
    """A message was seen in another mailbox of its tenant too (ThreadMailboxAdded): `mailbox:` finds it
    under either, and its thread lists both."""

    tenant_id: str
    message_id: str
    mailbox_id: str
    mailbox_address: str


@dataclass(frozen=True)
class ThreadDetail:
    thread: ThreadSummary
    messages: list[StoredMessage]  # oldest first
    timeline: list[TimelineItem] = field(default_factory=list)  # oldest first

    @property
    def mailboxes(self) -> list[tuple[str, str]]:
        """Every mailbox the conversation is in, (mailbox_id, mailbox_address), in the order first seen."""
        found: dict[str, str] = {}
        for m in self.messages:
            for mailbox_id, address in ((m.mailbox_id, m.mailbox_address), *m.other_mailboxes):
                if mailbox_id and mailbox_id not in found:
                    found[mailbox_id] = address
        return list(found.items())


@dataclass(frozen=True)
class FacetCount:
    value: str
    threads: int


@dataclass(frozen=True)
class Facets:
    """Thread counts of a search's whole result, per folder, tag and assignee ("" = unassigned)."""

    folders: list[FacetCount] = field(default_factory=list)
    tags: list[FacetCount] = field(default_factory=list)
    assignees: list[FacetCount] = field(default_factory=list)


@dataclass(frozen=True)
class MessageHit:
    """A message as a search result (result="messages")."""

    message_id: str
    thread_id: str
    thread_number: int
    subject: str
    from_email: str
    from_name: str
    at: datetime
    snippet: str = ""


@dataclass(frozen=True)
class ThreadPage:
    threads: list[ThreadSummary]
    next_cursor: str = ""
    total: int = 0
    facets: Facets | None = None
    messages: list[MessageHit] = field(default_factory=list)
    total_exact: bool = (
        True  # False: a lower bound (PostgreSQL windows) or an estimate (OpenSearch cardinality)
    )


SORTS = ("date", "relevance")
RESULTS = ("threads", "messages")


@dataclass(frozen=True)
class SearchOptions:
    """How to answer a search: who asks (assignee:me), order, result kind, whether to count facets."""

    user_id: str = ""
    sort: str = "date"
    result: str = "threads"
    facets: bool = False


@dataclass(frozen=True)
class FolderCount:
    folder: str
    threads: int


def apply_tags(current: list[str], change: TagChange) -> list[str]:
    """The thread's tags after `change`: case-insensitive set semantics, first spelling kept, sorted."""
    if change.replace:
        current = []
    removed = {t.casefold() for t in change.removed}
    kept = {t.casefold(): t for t in current if t.casefold() not in removed}
    for tag in change.added:
        tag = tag.strip()
        if tag and tag.casefold() not in removed:
            kept.setdefault(tag.casefold(), tag)
    return sorted(kept.values(), key=str.casefold)
