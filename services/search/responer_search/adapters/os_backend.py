"""OpenSearch implementation of the SearchBackend port (opensearch-py, synchronous client).

Documents: one per message (carrying a copy of its thread's fields, so one query can mix message and
thread conditions), one per thread (lists, counts, thread-only filters), timeline items, users, and one
tracking document per upstream. OpenSearch has no transactions: an event's change is applied first and
its position recorded after it, and every change is idempotent (documents are keyed by natural ids and
recomputed, never incremented), so a crash in between and the redelivery that follows converge on the
same state: exactly once in effect. Writes refresh what they touch, so an event is searchable when its
handler returns (well within the one-second promise).
"""

from __future__ import annotations

import base64
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from opensearchpy import OpenSearch
from opensearchpy import exceptions as os_errors
from opensearchpy.helpers import bulk

from responer_search.adapters import os_schema
from responer_search.adapters.os_query import compile_query
from responer_search.domain import snippet
from responer_search.domain.cursor import MAX_OFFSET, Cursor, decode_offset, encode_offset
from responer_search.domain.fold import fold
from responer_search.domain.model import (
    INBOX,
    SYSTEM,
    Assignment,
    FacetCount,
    Facets,
    FolderCount,
    GroupRecord,
    MessageDoc,
    MessageHit,
    MessageMailbox,
    MessageMove,
    Position,
    ReadMark,
    SearchOptions,
    StatusChange,
    StoredMessage,
    TagChange,
    ThreadAttributes,
    ThreadDetail,
    ThreadFiling,
    ThreadMerge,
    ThreadPage,
    ThreadSummary,
    TimelineItem,
    UserRecord,
    apply_tags,
)
from responer_search.domain.ports import BackendUnavailable
from responer_search.domain.query import InvalidQuery, Query

log = logging.getLogger(__name__)

MAX_INDEXED_CHARS = 200_000
MAX_THREAD_MESSAGES = 10_000
MAX_MERGE_HOPS = 16
FACET_LIMIT = 50
CARDINALITY_PRECISION = 40_000
ANY_FOLDER = "*"
_OTHER_MAILBOX_FIELDS = ("other_mailbox_ids", "other_mailbox_addresses", "other_mailbox_kw")
# Thread fields copied onto each of its message documents.
_COPIED = (
    "number",
    "folder",
    "folder_kw",
    "status",
    "assignee_user_id",
    "assignee_group_id",
    "group_kw",
    "tags",
    "tags_kw",
    "notes",
    "listed",
    "last_message_at",
    "last_inbound_at",
    "read_by",
    "unread_marks",
)


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


def _parse_dt(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _clean(text: str) -> str:
    return text.replace("\x00", "")


def _read_state(thread: dict[str, Any]) -> None:
    """Derive the thread's searchable read_by / unread_marks from its per-user `reads` and the time
    of its last inbound message (a user's open at or after it reads it; a mark holds until the next)."""
    last_inbound = _parse_dt(thread.get("last_inbound_at"))
    read_by, marks = [], []
    for user_id, state in sorted((thread.get("reads") or {}).items()):
        if state.get("unread"):
            marks.append(user_id)
            continue
        at = _parse_dt(state.get("at"))
        if last_inbound is None or (at is not None and at >= last_inbound):
            read_by.append(user_id)
    thread["read_by"] = read_by
    thread["unread_marks"] = marks


def _unread(src: dict[str, Any], user_id: str) -> bool:
    if not user_id or user_id in (src.get("read_by") or ()):
        return False
    return bool(src.get("last_inbound_at")) or user_id in (src.get("unread_marks") or ())


def _address_terms(email: str) -> list[str]:
    if not email:
        return []
    return [email, email.replace("@", " ").replace(".", " ").replace("-", " ").replace("+", " ")]


class OpenSearchBackend:
    def __init__(self, client: OpenSearch, prefix: str = "responer") -> None:
        self.client = client
        self.prefix = prefix
        self._lock = threading.Lock()  # the port is used from several threads; writes are serialised
        self._positions: dict[str, int] = {}

    # -- names -------------------------------------------------------------------------------------
    def alias(self, kind: str) -> str:
        return f"{self.prefix}-{kind}"

    def _stempel(self) -> bool:
        try:
            plugins = self.client.cat.plugins(format="json")
        except os_errors.TransportError:
            return False
        return any("stempel" in str(p.get("component", "")) for p in plugins or [])

    # -- schema ------------------------------------------------------------------------------------
    def ensure_schema(self) -> None:
        stempel = self._stempel()
        for kind in os_schema.KINDS:
            self.client.indices.put_index_template(
                name=f"{self.prefix}-{kind}-template", body=os_schema.template(self.prefix, kind, stempel)
            )
            if self.client.indices.exists_alias(name=self.alias(kind)):
                if kind in os_schema.ADDED_FIELDS:
                    self.client.indices.put_mapping(
                        index=self.alias(kind), body={"properties": os_schema.ADDED_FIELDS[kind]}
                    )
            else:
                index = f"{self.prefix}-{kind}-g1"
                try:
                    self.client.indices.create(
                        index=index, body={"aliases": {self.alias(kind): {"is_write_index": True}}}
                    )
                except os_errors.RequestError as exc:  # another replica created it first
                    if "already_exists" not in str(exc) and "exists" not in str(exc):
                        raise

    def new_generation(self) -> OpenSearchBackend:
        """A backend writing to fresh indices (aliases `<prefix>-next-<kind>`); swap_in() makes them live."""
        generations = []
        for name in self.client.indices.get(index=f"{self.prefix}-messages-g*"):
            tail = name.rsplit("-g", 1)[-1]
            if tail.isdigit():
                generations.append(int(tail))
        n = max(generations, default=1) + 1
        staging = OpenSearchBackend(self.client, f"{self.prefix}-next")
        staging.generation = n  # type: ignore[attr-defined]
        for kind in os_schema.KINDS:
            index = f"{self.prefix}-{kind}-g{n}"
            if self.client.indices.exists(index=index):
                self.client.indices.delete(index=index)
            self.client.indices.create(
                index=index, body={"aliases": {staging.alias(kind): {"is_write_index": True}}}
            )
        return staging

    def swap_in(self, staging: OpenSearchBackend) -> None:
        """Point the live aliases at the staging generation in one atomic call; drop the old indices."""
        n = staging.generation  # type: ignore[attr-defined]
        actions: list[dict[str, Any]] = []
        old: list[str] = []
        for kind in os_schema.KINDS:
            current = list(self.client.indices.get_alias(name=self.alias(kind)).keys())
            old += current
            actions += [{"remove": {"index": i, "alias": self.alias(kind)}} for i in current]
            actions.append({"remove": {"index": f"{self.prefix}-{kind}-g{n}", "alias": staging.alias(kind)}})
            actions.append(
                {
                    "add": {
                        "index": f"{self.prefix}-{kind}-g{n}",
                        "alias": self.alias(kind),
                        "is_write_index": True,
                    }
                }
            )
        self.client.indices.update_aliases(body={"actions": actions})
        for index in old:
            self.client.indices.delete(index=index, ignore_unavailable=True)
        self._positions.clear()

    def ping(self) -> bool:
        try:
            return bool(self.client.ping())
        except os_errors.TransportError:
            return False

    # -- tracking ----------------------------------------------------------------------------------
    def _position(self, upstream: str) -> int:
        if upstream not in self._positions:
            doc = self.client.get(index=self.alias("tracking"), id=upstream, ignore=[404])
            self._positions[upstream] = int(doc["_source"]["position"]) if doc.get("found") else 0
        return self._positions[upstream]

    def _apply(self, position: Position, change) -> bool:  # noqa: ANN001
        with self._lock:
            try:
                if position.position <= self._position(position.upstream):
                    return False
                if change is not None:
                    change()
                self.client.index(
                    index=self.alias("tracking"), id=position.upstream, body={"position": position.position}
                )
            except os_errors.ConnectionError as exc:
                raise BackendUnavailable(str(exc)) from exc
            self._positions[position.upstream] = position.position
            return True

    @contextmanager
    def batch(self) -> Iterator[None]:
        # Each write is idempotent and tracked on its own; a failed batch is replayed one by one.
        yield

    def skip(self, position: Position) -> bool:
        return self._apply(position, None)

    # -- thread documents ----------------------------------------------------------------------------
    def _tid(self, tenant: str, thread_id: str) -> str:
        return f"{tenant}:{thread_id}"

    def _get(self, kind: str, doc_id: str) -> dict[str, Any] | None:
        doc = self.client.get(index=self.alias(kind), id=doc_id, ignore=[404])
        return doc["_source"] if doc.get("found") else None

    def _thread(self, tenant: str, thread_id: str) -> dict[str, Any]:
        return self._get("threads", self._tid(tenant, thread_id)) or {
            "tenant_id": tenant,
            "thread_id": thread_id,
            "status": "open",
            "tags": [],
            "tags_kw": [],
            "notes": "",
            "message_count": 0,
            "listed": False,
            "system": False,
            "system_reason": "",
            "system_kind": "",
            "priority": "",
        }

    def _resolve(self, tenant: str, thread_id: str) -> str:
        for _ in range(MAX_MERGE_HOPS):
            doc = self._get("threads", self._tid(tenant, thread_id))
            if doc is None or not doc.get("merged_into") or doc["merged_into"] == thread_id:
                return thread_id
            thread_id = doc["merged_into"]
        return thread_id

    def _refresh(self, *kinds: str) -> None:
        self.client.indices.refresh(index=",".join(self.alias(k) for k in kinds))

    def _thread_message_ids(self, tenant: str, thread_id: str) -> list[dict[str, Any]]:
        self._refresh("messages")
        hits = self.client.search(
            index=self.alias("messages"),
            body={
                "size": MAX_THREAD_MESSAGES,
                "query": {
                    "bool": {"filter": [{"term": {"tenant_id": tenant}}, {"term": {"thread_id": thread_id}}]}
                },
                "_source": ["message_id", "date", "seq", "inbound", "from_email", "from_name", "arrived_at"],
                "sort": [{"date": "asc"}, {"seq": "asc"}, {"message_id": "asc"}],
            },
        )["hits"]["hits"]
        return [h["_source"] for h in hits]

    def _sync_thread(self, tenant: str, thread_id: str, thread: dict[str, Any] | None = None) -> None:
        """Recompute the thread's aggregates from its messages, store it, copy its fields to them."""
        thread = thread if thread is not None else self._thread(tenant, thread_id)
        messages = self._thread_message_ids(tenant, thread_id)
        thread["message_count"] = len(messages)
        dates = [m["date"] for m in messages]
        thread["last_message_at"] = max(dates, key=lambda d: _parse_dt(d)) if dates else None
        inbound = [_parse_dt(m.get("arrived_at") or m["date"]) for m in messages if m.get("inbound")]
        thread["last_inbound_at"] = _iso(max(d for d in inbound if d is not None)) if inbound else None
        _read_state(thread)
        customer = next((m for m in messages if m.get("inbound")), None)
        thread["customer_email"] = customer["from_email"] if customer else None
        thread["customer_name"] = customer["from_name"] if customer else None
        thread["listed"] = not thread.get("merged_into") and len(messages) > 0
        thread["folder_kw"] = fold(thread.get("folder") or INBOX)
        thread["group_kw"] = fold(thread.get("assignee_group_id") or "")
        thread["tags_kw"] = [fold(t) for t in thread.get("tags") or []]
        self.client.index(
            index=self.alias("threads"), id=self._tid(tenant, thread_id), body=thread, refresh=True
        )
        copied = {k: thread.get(k) for k in _COPIED}
        actions = [
            {
                "_op_type": "update",
                "_index": self.alias("messages"),
                "_id": self._tid(tenant, m["message_id"]),
                "doc": copied | {"thread_id": thread_id},
            }
            for m in messages
        ]
        if actions:
            bulk(self.client, actions, refresh=True)

    def _move(self, tenant: str, message_ids: list[str], to_thread: str) -> None:
        actions = [
            {
                "_op_type": "update",
                "_index": self.alias("messages"),
                "_id": self._tid(tenant, mid),
                "doc": {"thread_id": to_thread},
            }
            for mid in message_ids
        ]
        if actions:
            bulk(self.client, actions, refresh=True, raise_on_error=False)

    def _items_of(self, tenant: str, thread_id: str, kind: str | None = None) -> list[dict[str, Any]]:
        self._refresh("timeline")
        filters: list[dict[str, Any]] = [{"term": {"tenant_id": tenant}}, {"term": {"thread_id": thread_id}}]
        if kind:
            filters.append({"term": {"kind": kind}})
        hits = self.client.search(
            index=self.alias("timeline"),
            body={
                "size": 10_000,
                "query": {"bool": {"filter": filters}},
                "sort": [{"at": "asc"}, {"seq": "asc"}, {"item_id": "asc"}],
            },
        )["hits"]["hits"]
        return [h["_source"] for h in hits]

    def _sync_notes(self, tenant: str, thread_id: str) -> None:
        thread = self._thread(tenant, thread_id)
        thread["notes"] = "\n".join(i["body"] for i in self._items_of(tenant, thread_id, "note"))
        self._sync_thread(tenant, thread_id, thread)

    def _move_items(self, tenant: str, from_thread: str, to_thread: str, item_ids: list[str] | None) -> list[str]:  # fmt: skip
        items = self._items_of(tenant, from_thread)
        moved = [i["item_id"] for i in items if item_ids is None or i["item_id"] in item_ids]
        self._move_item_ids(tenant, moved, to_thread)
        return moved

    def _move_item_ids(self, tenant: str, item_ids: list[str], to_thread: str) -> None:
        actions = [
            {
                "_op_type": "update",
                "_index": self.alias("timeline"),
                "_id": self._tid(tenant, item_id),
                "doc": {"thread_id": to_thread},
            }
            for item_id in item_ids
        ]
        if actions:  # an item deleted since (a note) is simply not there any more
            bulk(self.client, actions, refresh=True, raise_on_error=False)

    # -- writes --------------------------------------------------------------------------------------
    def index_message(self, doc: MessageDoc, position: Position) -> bool:
        def change() -> None:
            tenant = doc.tenant_id
            thread_id = self._resolve(tenant, doc.thread_id)
            thread = self._thread(tenant, thread_id)
            if thread_id == doc.thread_id:
                thread["number"] = doc.thread_number or thread.get("number")
                thread["subject"] = _clean(doc.thread_subject) or thread.get("subject") or _clean(doc.subject)
                thread["mailbox_id"] = thread.get("mailbox_id") or doc.mailbox_id or None
            previous = self._get("messages", self._tid(tenant, doc.message_id))
            addresses = " ".join(
                [doc.from_name, *_address_terms(doc.from_email)]
                + [t for e in doc.to_emails + doc.cc_emails for t in _address_terms(e)]
            )
            text = snippet.strip_sentinels(_clean(doc.text[:MAX_INDEXED_CHARS]))
            files = [_clean(a) for a in doc.attachment_names]
            body = {
                "tenant_id": tenant,
                "message_id": doc.message_id,
                "thread_id": thread_id,
                "mailbox_id": doc.mailbox_id,
                "mailbox_address": _clean(doc.mailbox_address),
                "mailbox_kw": fold(_clean(doc.mailbox_address)),
                "inbound": doc.inbound,
                "rfc822_id": _clean(doc.rfc822_id),
                "subject": _clean(doc.subject),
                "subject_raw": _clean(doc.subject),
                "text": text,
                "all": "\n".join([_clean(doc.subject), _clean(addresses), text, *files]),
                "from_email": _clean(doc.from_email),
                "from_name": _clean(doc.from_name),
                "from_kw": [fold(_clean(doc.from_email)), fold(_clean(doc.from_name))],
                "to_kw": [fold(_clean(e)) for e in doc.to_emails + doc.cc_emails],
                "cc_kw": [fold(_clean(e)) for e in doc.cc_emails],
                "files_kw": [fold(f) for f in files],
                "has_attachment": bool(files),
                "date": _iso(doc.at),
                "seq": position.position,
                # the first arrival stays: a message re-threaded later does not make its thread unread
                "arrived_at": (previous or {}).get("arrived_at") or _iso(doc.arrived_at or doc.at),
                "mail": base64.b64encode(doc.mail).decode("ascii"),
                # mailboxes it was seen in too stay when the message is indexed again
                **{k: (previous or {}).get(k) or [] for k in _OTHER_MAILBOX_FIELDS},
            } | {k: thread.get(k) for k in _COPIED}
            self.client.index(index=self.alias("messages"), id=self._tid(tenant, doc.message_id), body=body)
            self._sync_thread(tenant, thread_id, thread)
            if previous is not None and previous.get("thread_id") not in (None, thread_id):
                self._sync_thread(tenant, previous["thread_id"])

        return self._apply(position, change)

    def add_message_mailbox(self, change: MessageMailbox, position: Position) -> bool:
        def apply() -> None:
            doc_id = self._tid(change.tenant_id, change.message_id)
            message = self._get("messages", doc_id)
            if message is None:
                return
            ids = list(message.get("other_mailbox_ids") or [])
            if change.mailbox_id == message.get("mailbox_id") or change.mailbox_id in ids:
                return
            address = _clean(change.mailbox_address)
            fields = {
                "other_mailbox_ids": [*ids, change.mailbox_id],
                "other_mailbox_addresses": [*(message.get("other_mailbox_addresses") or []), address],
                "other_mailbox_kw": [*(message.get("other_mailbox_kw") or []), fold(address)],
            }
            self.client.update(index=self.alias("messages"), id=doc_id, body={"doc": fields}, refresh=True)

        return self._apply(position, apply)

    def file_thread(self, filing: ThreadFiling, position: Position) -> bool:
        def change() -> None:
            thread = self._thread(filing.tenant_id, filing.thread_id)
            thread |= {
                "folder": _clean(filing.folder) or None,
                "system": filing.system,
                "system_reason": _clean(filing.system_reason),
                "system_kind": _clean(filing.system_kind),
            }
            self._sync_thread(filing.tenant_id, filing.thread_id, thread)

        return self._apply(position, change)

    def merge_threads(self, merge: ThreadMerge, position: Position) -> bool:
        def change() -> None:
            tenant = merge.tenant_id
            target = self._resolve(tenant, merge.target_thread_id)
            source = merge.source_thread_id
            if source == target:
                return
            target_doc = self._thread(tenant, target)
            target_doc["number"] = target_doc.get("number") or merge.target_number or None
            moved = [m["message_id"] for m in self._thread_message_ids(tenant, source)]
            self._move(tenant, moved, target)
            items = self._move_items(tenant, source, target, None)
            self._merged_away(tenant, source, target, merge.merge_id, items)
            self._sync_thread(tenant, target, target_doc)
            self._sync_notes(tenant, target)

        return self._apply(position, change)

    def _merged_away(
        self, tenant: str, source: str, target: str, merge_id: str = "", items: list[str] | None = None
    ) -> None:
        """Marks `source` merged into `target`; earlier merges into the source now point at the target."""
        self._refresh("threads")
        earlier = self.client.search(
            index=self.alias("threads"),
            body={
                "size": 1000,
                "query": {
                    "bool": {"filter": [{"term": {"tenant_id": tenant}}, {"term": {"merged_into": source}}]}
                },
            },
        )["hits"]["hits"]
        for hit in earlier:
            doc = hit["_source"] | {"merged_into": target}
            self.client.index(index=self.alias("threads"), id=hit["_id"], body=doc, refresh=True)
        source_doc = self._thread(tenant, source) | {"merged_into": target}
        if merge_id:  # which timeline items this merge carried, for its undo
            source_doc["merge_moves"] = (source_doc.get("merge_moves") or {}) | {merge_id: items or []}
        self._sync_thread(tenant, source, source_doc)

    def move_messages(self, move: MessageMove, position: Position) -> bool:
        def change() -> None:
            tenant = move.tenant_id
            target = self._thread(tenant, move.to_thread_id)
            target["number"] = target.get("number") or move.to_number or None
            target["subject"] = target.get("subject") or _clean(move.subject) or None
            target["mailbox_id"] = target.get("mailbox_id") or move.mailbox_id or None
            if move.revive:
                target["merged_into"] = None
            if move.status:
                target["status"] = move.status
            self._move(tenant, list(move.message_ids), move.to_thread_id)
            self._move_items(tenant, move.from_thread_id, move.to_thread_id, list(move.note_ids))
            if move.merge_id:
                carried = (target.get("merge_moves") or {}).pop(move.merge_id, [])
                self._move_item_ids(tenant, carried, move.to_thread_id)
            if move.absorb:
                self._move_items(tenant, move.from_thread_id, move.to_thread_id, None)
                self._merged_away(tenant, move.from_thread_id, move.to_thread_id)
            self._sync_thread(tenant, move.to_thread_id, target)
            self._sync_thread(tenant, move.from_thread_id)
            self._sync_notes(tenant, move.to_thread_id)
            self._sync_notes(tenant, move.from_thread_id)

        return self._apply(position, change)

    def _update_thread(
        self, tenant: str, thread_id: str, position: Position, fields: dict[str, Any], item=None
    ) -> bool:  # noqa: ANN001
        def change() -> None:
            resolved = self._resolve(tenant, thread_id)
            thread = self._thread(tenant, resolved) | fields
            self._sync_thread(tenant, resolved, thread)
            if item is not None:
                self._index_item(item, resolved, position.position)

        return self._apply(position, change)

    def set_status(self, change: StatusChange, position: Position) -> bool:
        item = None
        if change.event_id and change.at is not None:
            detail = {"status": change.status, "previous": change.previous}
            item = TimelineItem(
                change.tenant_id,
                change.thread_id,
                change.event_id,
                "status",
                change.at,
                change.by_user_id,
                "",
                detail,
            )
        return self._update_thread(
            change.tenant_id, change.thread_id, position, {"status": change.status or "open"}, item
        )

    def assign_thread(self, assignment: Assignment, position: Position) -> bool:
        item = None
        if assignment.event_id and assignment.at is not None:
            detail = {
                "user_id": assignment.user_id,
                "group_id": assignment.group_id,
                "previous_user_id": assignment.previous_user_id,
                "reason": assignment.reason,
            }
            item = TimelineItem(
                assignment.tenant_id,
                assignment.thread_id,
                assignment.event_id,
                "assignment",
                assignment.at,
                assignment.by_user_id,
                "",
                detail,
            )
        fields = {
            "assignee_user_id": assignment.user_id or None,
            "assignee_group_id": assignment.group_id or None,
        }
        return self._update_thread(assignment.tenant_id, assignment.thread_id, position, fields, item)

    def tag_thread(self, change: TagChange, position: Position) -> bool:
        def apply() -> None:
            resolved = self._resolve(change.tenant_id, change.thread_id)
            thread = self._thread(change.tenant_id, resolved)
            thread["tags"] = apply_tags(list(thread.get("tags") or []), change)
            self._sync_thread(change.tenant_id, resolved, thread)

        return self._apply(position, apply)

    def set_attributes(self, attrs: ThreadAttributes, position: Position) -> bool:
        fields: dict[str, Any] = {}
        if attrs.priority is not None:
            fields["priority"] = _clean(attrs.priority)
        if attrs.due_at is not None or attrs.clear_due:
            fields["due_at"] = _iso(attrs.due_at)
        return self._update_thread(attrs.tenant_id, attrs.thread_id, position, fields)

    def _index_item(self, item: TimelineItem, thread_id: str, seq: int) -> None:
        doc_id = self._tid(item.tenant_id, item.item_id)
        existing = self._get("timeline", doc_id)
        body = {
            "tenant_id": item.tenant_id,
            "thread_id": existing["thread_id"] if existing else thread_id,
            "item_id": item.item_id,
            "kind": item.kind,
            "at": existing["at"] if existing else _iso(item.at),
            "seq": existing["seq"] if existing else seq,
            "actor": existing["actor"] if existing else _clean(item.actor),
            "body": _clean(item.body[:MAX_INDEXED_CHARS]),
            "detail": item.detail,
        }
        self.client.index(index=self.alias("timeline"), id=doc_id, body=body, refresh=True)

    def add_timeline_item(self, item: TimelineItem, position: Position) -> bool:
        def change() -> None:
            resolved = self._resolve(item.tenant_id, item.thread_id)
            self._index_item(item, resolved, position.position)
            if item.kind == "note":
                self._sync_notes(item.tenant_id, resolved)

        return self._apply(position, change)

    def remove_timeline_item(self, tenant_id: str, item_id: str, position: Position) -> bool:
        def change() -> None:
            existing = self._get("timeline", self._tid(tenant_id, item_id))
            if existing is None:
                return
            self.client.delete(index=self.alias("timeline"), id=self._tid(tenant_id, item_id), refresh=True)
            self._sync_notes(tenant_id, existing["thread_id"])

        return self._apply(position, change)

    def upsert_group(self, group: GroupRecord, position: Position) -> bool:
        # Groups share the users index: kind "group", name_kw folded for group: by name.
        def change() -> None:
            doc_id = self._tid(group.tenant_id, f"group:{group.group_id}")
            if group.removed:
                self.client.delete(index=self.alias("users"), id=doc_id, refresh=True, ignore=[404])
                return
            body = {
                "tenant_id": group.tenant_id,
                "user_id": f"group:{group.group_id}",
                "name": _clean(group.name),
                "email": "",
                "name_kw": fold(_clean(group.name)),
                "email_kw": "",
            }
            self.client.index(index=self.alias("users"), id=doc_id, body=body, refresh=True)

        return self._apply(position, change)

    def upsert_user(self, user: UserRecord, position: Position) -> bool:
        def change() -> None:
            body = {
                "tenant_id": user.tenant_id,
                "user_id": user.user_id,
                "name": _clean(user.name),
                "email": _clean(user.email),
                "name_kw": fold(_clean(user.name)),
                "email_kw": fold(_clean(user.email)),
            }
            self.client.index(
                index=self.alias("users"), id=self._tid(user.tenant_id, user.user_id), body=body, refresh=True
            )

        return self._apply(position, change)

    def mark_read(self, mark: ReadMark, position: Position) -> bool:
        def change() -> None:
            # Kept on the thread document (created unlisted if the thread is not indexed yet), so the
            # read state and the thread's messages meet whatever order their streams arrive in.
            thread = self._thread(mark.tenant_id, mark.thread_id)
            reads = dict(thread.get("reads") or {})
            state = dict(reads.get(mark.user_id) or {})
            if mark.unread:
                state["unread"] = True
            else:
                state = {"at": _iso(mark.at), "unread": False}
            reads[mark.user_id] = state
            thread["reads"] = reads
            self._sync_thread(mark.tenant_id, mark.thread_id, thread)

        return self._apply(position, change)

    # -- reads ---------------------------------------------------------------------------------------
    @contextmanager
    def _reading(self) -> Iterator[None]:
        try:
            yield
        except (os_errors.ConnectionError, os_errors.ConnectionTimeout) as exc:
            raise BackendUnavailable(str(exc)) from exc

    def _resolve_groups(self, tenant: str):  # noqa: ANN202
        def resolve(value: str) -> list[str]:
            hits = self.client.search(
                index=self.alias("users"),
                body={
                    "size": 100,
                    "query": {
                        "bool": {
                            "filter": [{"term": {"tenant_id": tenant}}, {"term": {"name_kw": fold(value)}}]
                        }
                    },
                },
            )["hits"]["hits"]
            ids = [h["_source"]["user_id"] for h in hits]
            return [i.removeprefix("group:") for i in ids if i.startswith("group:")]

        return resolve

    def _resolve_users(self, tenant: str):  # noqa: ANN202
        def resolve(value: str) -> list[str]:
            pattern = "*" + fold(value).replace("\\", "\\\\").replace("*", "\\*").replace("?", "\\?") + "*"
            hits = self.client.search(
                index=self.alias("users"),
                body={
                    "size": 100,
                    "query": {
                        "bool": {
                            "filter": [{"term": {"tenant_id": tenant}}],
                            "should": [
                                {"wildcard": {"name_kw": {"value": pattern}}},
                                {"wildcard": {"email_kw": {"value": pattern}}},
                            ],
                            "minimum_should_match": 1,
                        }
                    },
                },
            )["hits"]["hits"]
            return [h["_source"]["user_id"] for h in hits if not h["_source"]["user_id"].startswith("group:")]

        return resolve

    @staticmethod
    def _summary(
        src: dict[str, Any], snippet_html: str = "", best: str = "", user_id: str = ""
    ) -> ThreadSummary:
        return ThreadSummary(
            thread_id=src["thread_id"],
            number=int(src.get("number") or 0),
            subject=src.get("subject") or "",
            folder=src.get("folder") or INBOX,
            status=src.get("status") or "open",
            customer_email=src.get("customer_email") or "",
            customer_name=src.get("customer_name") or "",
            message_count=int(src.get("message_count") or 0),
            last_message_at=_parse_dt(src.get("last_message_at")),  # type: ignore[arg-type]
            mailbox_id=src.get("mailbox_id") or "",
            system_reason=src.get("system_reason") or "",
            assignee_user_id=src.get("assignee_user_id") or "",
            snippet=snippet_html,
            tags=tuple(src.get("tags") or ()),
            assignee_group_id=src.get("assignee_group_id") or "",
            best_message_id=best,
            priority=src.get("priority") or "",
            due_at=_parse_dt(src.get("due_at")),
            unread=_unread(src, user_id),
        )

    def list_threads(
        self,
        tenant_id: str,
        folder: str,
        limit: int,
        cursor: str = "",
        filter: Query | None = None,  # noqa: A002
        user_id: str = "",
    ) -> ThreadPage:
        after = Cursor.decode(cursor)
        filters: list[dict[str, Any]] = [{"term": {"tenant_id": tenant_id}}, {"term": {"listed": True}}]
        if folder != ANY_FOLDER:
            filters.append({"term": {"folder_kw": fold(folder or INBOX)}})
        if filter is not None:
            if filter.has_message_conditions:
                raise InvalidQuery(
                    "list filters take thread fields only (tag:, is:, assignee:, folder:, ...)"
                )
            q, _ = compile_query(
                filter, tenant_id, user_id, self._resolve_users(tenant_id), self._resolve_groups(tenant_id)
            )
            filters.append(q)
        body: dict[str, Any] = {
            "size": limit + 1,
            "query": {"bool": {"filter": filters}},
            "sort": [{"last_message_at": "desc"}, {"thread_id": "desc"}],
            "track_total_hits": True,
        }
        if after is not None:
            body["search_after"] = [int(after.last_message_at.timestamp() * 1000), after.thread_id]
        with self._reading():
            result = self.client.search(index=self.alias("threads"), body=body)
        hits = result["hits"]["hits"]
        total = int(result["hits"]["total"]["value"])
        threads = [self._summary(h["_source"], user_id=user_id) for h in hits[:limit]]
        next_cursor = ""
        if len(hits) > limit:
            last = hits[limit - 1]
            at = _parse_dt(last["sort"][0])
            assert at is not None
            next_cursor = Cursor(at, last["sort"][1]).encode()
        return ThreadPage(threads, next_cursor, total)

    def get_thread(self, tenant_id: str, *, thread_id: str = "", number: int = 0) -> ThreadDetail | None:
        with self._reading():
            if thread_id:
                doc = self._get("threads", self._tid(tenant_id, thread_id))
            else:
                hits = self.client.search(
                    index=self.alias("threads"),
                    body={
                        "size": 10,
                        "query": {
                            "bool": {
                                "filter": [{"term": {"tenant_id": tenant_id}}, {"term": {"number": number}}]
                            }
                        },
                    },
                )["hits"]["hits"]
                docs = sorted((h["_source"] for h in hits), key=lambda d: bool(d.get("merged_into")))
                doc = docs[0] if docs else None
            hops = 0
            while doc is not None and doc.get("merged_into") and hops < MAX_MERGE_HOPS:
                doc = self._get("threads", self._tid(tenant_id, doc["merged_into"]))
                hops += 1
            if (
                doc is None
                or doc.get("tenant_id") != tenant_id
                or doc.get("merged_into")
                or not doc.get("message_count")
            ):
                return None
            hits = self.client.search(
                index=self.alias("messages"),
                body={
                    "size": MAX_THREAD_MESSAGES,
                    "query": {
                        "bool": {
                            "filter": [
                                {"term": {"tenant_id": tenant_id}},
                                {"term": {"thread_id": doc["thread_id"]}},
                            ]
                        }
                    },
                    "_source": [
                        "message_id",
                        "thread_id",
                        "mailbox_id",
                        "mailbox_address",
                        "date",
                        "mail",
                        "other_mailbox_ids",
                        "other_mailbox_addresses",
                    ],
                    "sort": [{"date": "asc"}, {"seq": "asc"}, {"message_id": "asc"}],
                },
            )["hits"]["hits"]
            items = self._items_of(tenant_id, doc["thread_id"])
        return ThreadDetail(
            thread=self._summary(doc),
            messages=[
                StoredMessage(
                    message_id=h["_source"]["message_id"],
                    thread_id=h["_source"]["thread_id"],
                    mailbox_id=h["_source"].get("mailbox_id") or "",
                    mailbox_address=h["_source"].get("mailbox_address") or "",
                    at=_parse_dt(h["_source"]["date"]),  # type: ignore[arg-type]
                    mail=base64.b64decode(h["_source"].get("mail") or ""),
                    other_mailboxes=tuple(
                        zip(
                            h["_source"].get("other_mailbox_ids") or [],
                            h["_source"].get("other_mailbox_addresses") or [],
                            strict=True,
                        )
                    ),
                )
                for h in hits
            ],
            timeline=[
                TimelineItem(
                    tenant_id,
                    doc["thread_id"],
                    i["item_id"],
                    i["kind"],
                    _parse_dt(i["at"]),  # type: ignore[arg-type]
                    i.get("actor") or "",
                    i.get("body") or "",
                    {str(k): str(v) for k, v in (i.get("detail") or {}).items()},
                )
                for i in items
            ],
        )

    def _facet_aggs(self, per_thread: bool) -> dict[str, Any]:
        def terms(field: str, missing: str | None = None) -> dict[str, Any]:
            agg: dict[str, Any] = {"terms": {"field": field, "size": FACET_LIMIT}}
            if missing is not None:
                agg["terms"]["missing"] = missing
            if per_thread:
                agg["aggs"] = {
                    "threads": {
                        "cardinality": {"field": "thread_id", "precision_threshold": CARDINALITY_PRECISION}
                    }
                }
            return agg

        return {
            "folders": terms("folder", INBOX),
            "tags": terms("tags"),
            "assignees": terms("assignee_user_id", ""),
        }

    @staticmethod
    def _facets(aggs: dict[str, Any], per_thread: bool) -> Facets:
        def counts(name: str) -> list[FacetCount]:
            out = [
                FacetCount(str(b["key"]), int(b["threads"]["value"] if per_thread else b["doc_count"]))
                for b in aggs[name]["buckets"]
            ]
            return sorted(out, key=lambda c: (-c.threads, c.value))

        return Facets(counts("folders"), counts("tags"), counts("assignees"))

    def search(
        self, tenant_id: str, query: Query, limit: int, cursor: str = "", options: SearchOptions | None = None
    ) -> ThreadPage:
        options = options or SearchOptions()
        offset = decode_offset(cursor)
        q, highlight = compile_query(
            query, tenant_id, options.user_id, self._resolve_users(tenant_id), self._resolve_groups(tenant_id)
        )
        by_relevance = options.sort == "relevance"
        body: dict[str, Any] = {"from": offset, "size": limit + 1, "query": q, "track_total_hits": True}
        if highlight is not None:
            body["highlight"] = {
                "pre_tags": [snippet.START],
                "post_tags": [snippet.STOP],
                "fields": {"text": {"number_of_fragments": 2, "fragment_size": 160}},
            }
        if options.result == "messages":
            body["sort"] = (["_score"] if by_relevance else []) + [{"date": "desc"}, {"message_id": "desc"}]
            with self._reading():
                result = self.client.search(index=self.alias("messages"), body=body)
            hits = result["hits"]["hits"]
            messages = [
                MessageHit(
                    h["_source"]["message_id"],
                    h["_source"]["thread_id"],
                    int(h["_source"].get("number") or 0),
                    h["_source"].get("subject_raw") or "",
                    h["_source"].get("from_email") or "",
                    h["_source"].get("from_name") or "",
                    _parse_dt(h["_source"]["date"]),  # type: ignore[arg-type]
                    self._snippet(h, highlight is not None),
                )
                for h in hits[:limit]
            ]
            return ThreadPage(
                [],
                self._next(offset, limit, len(hits)),
                int(result["hits"]["total"]["value"]),
                None,
                messages,
            )
        if not query.has_message_conditions:
            return self._search_thread_docs(tenant_id, q, body, limit, offset, options, cursor)
        body["collapse"] = {"field": "thread_id"}
        # A thread ranks by its newest matching message (the collapse keeps that one per thread).
        body["sort"] = (["_score"] if by_relevance else []) + [{"date": "desc"}, {"thread_id": "desc"}]
        body["aggs"] = {
            "total": {"cardinality": {"field": "thread_id", "precision_threshold": CARDINALITY_PRECISION}}
        }
        if options.facets and not cursor:
            body["aggs"] |= self._facet_aggs(per_thread=True)
        with self._reading():
            result = self.client.search(index=self.alias("messages"), body=body)
            hits = result["hits"]["hits"]
            docs = self._thread_docs(tenant_id, [h["_source"]["thread_id"] for h in hits[:limit]])
        threads = [
            self._summary(
                docs[h["_source"]["thread_id"]],
                self._snippet(h, highlight is not None),
                h["_source"]["message_id"],
                options.user_id,
            )
            for h in hits[:limit]
            if h["_source"]["thread_id"] in docs
        ]
        aggs = result.get("aggregations", {})
        facets = self._facets(aggs, True) if options.facets and not cursor else None
        total = int(aggs["total"]["value"])
        # The cardinality count is exact up to its precision threshold and an estimate above it.
        return ThreadPage(
            threads,
            self._next(offset, limit, len(hits)),
            total,
            facets,
            total_exact=total <= CARDINALITY_PRECISION,
        )

    def _search_thread_docs(
        self,
        tenant_id: str,
        q: dict[str, Any],
        body: dict[str, Any],
        limit: int,
        offset: int,
        options: SearchOptions,
        cursor: str,
    ) -> ThreadPage:
        body.pop("highlight", None)
        body["sort"] = [{"last_message_at": "desc"}, {"thread_id": "desc"}]
        if options.facets and not cursor:
            body["aggs"] = self._facet_aggs(per_thread=False)
        with self._reading():
            result = self.client.search(index=self.alias("threads"), body=body)
            hits = result["hits"]["hits"]
            newest = self._newest_texts(tenant_id, [h["_source"]["thread_id"] for h in hits[:limit]])
        threads = [
            self._summary(
                h["_source"],
                snippet.plain(newest.get(h["_source"]["thread_id"], ("", ""))[1]),
                newest.get(h["_source"]["thread_id"], ("", ""))[0],
                options.user_id,
            )
            for h in hits[:limit]
        ]
        facets = (
            self._facets(result.get("aggregations", {}), False) if options.facets and not cursor else None
        )
        return ThreadPage(
            threads, self._next(offset, limit, len(hits)), int(result["hits"]["total"]["value"]), facets
        )

    def _thread_docs(self, tenant_id: str, thread_ids: list[str]) -> dict[str, dict[str, Any]]:
        if not thread_ids:
            return {}
        docs = self.client.mget(
            index=self.alias("threads"), body={"ids": [self._tid(tenant_id, t) for t in thread_ids]}
        )
        return {d["_source"]["thread_id"]: d["_source"] for d in docs["docs"] if d.get("found")}

    def _newest_texts(self, tenant_id: str, thread_ids: list[str]) -> dict[str, tuple[str, str]]:
        if not thread_ids:
            return {}
        hits = self.client.search(
            index=self.alias("messages"),
            body={
                "size": len(thread_ids),
                "query": {
                    "bool": {
                        "filter": [{"term": {"tenant_id": tenant_id}}, {"terms": {"thread_id": thread_ids}}]
                    }
                },
                "collapse": {"field": "thread_id"},
                "sort": [{"date": "desc"}, {"seq": "desc"}],
                "_source": ["thread_id", "message_id", "text"],
            },
        )["hits"]["hits"]
        return {
            h["_source"]["thread_id"]: (h["_source"]["message_id"], h["_source"].get("text") or "")
            for h in hits
        }

    @staticmethod
    def _snippet(hit: dict[str, Any], highlighted: bool) -> str:
        fragments = (hit.get("highlight") or {}).get("text")
        if highlighted and fragments:
            return snippet.render(" … ".join(fragments))
        return snippet.plain(hit["_source"].get("text") or "")

    @staticmethod
    def _next(offset: int, limit: int, fetched: int) -> str:
        if fetched > limit and offset + limit <= MAX_OFFSET:
            return encode_offset(offset + limit)
        return ""

    def folder_counts(self, tenant_id: str) -> list[FolderCount]:
        with self._reading():
            result = self.client.search(
                index=self.alias("threads"),
                body={
                    "size": 0,
                    "query": {
                        "bool": {"filter": [{"term": {"tenant_id": tenant_id}}, {"term": {"listed": True}}]}
                    },
                    "aggs": {"folders": {"terms": {"field": "folder", "missing": INBOX, "size": 1000}}},
                },
            )
        counts = {INBOX: 0, SYSTEM: 0} | {
            b["key"]: int(b["doc_count"]) for b in result["aggregations"]["folders"]["buckets"]
        }
        order = [INBOX, SYSTEM, *sorted(f for f in counts if f not in (INBOX, SYSTEM))]
        return [FolderCount(f, counts[f]) for f in order]
