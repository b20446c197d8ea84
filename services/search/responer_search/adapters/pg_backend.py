"""PostgreSQL implementation of the SearchBackend port (plain SQL, psycopg 3, a connection pool).

Writes: each consumed event changes the view and claims its stream position in one transaction; a
position already claimed changes nothing. Thread aggregates (count, last activity, customer) are
recomputed from the thread's messages rather than incremented, so replays and out-of-order
arrivals converge on the same rows.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timedelta

import psycopg
from eventsourcing.persistence import Tracking
from psycopg import Connection, sql
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolTimeout
from responer_runtime.sqltracking import claim

from responer_search.adapters import pg_schema
from responer_search.adapters.pg_query import compile_query, prefix_word
from responer_search.domain import snippet
from responer_search.domain.cursor import MAX_OFFSET, Cursor, decode_offset, encode_offset
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
from responer_search.domain.query import Body, Query, Subject, Text, walk

READ_TIMEOUT_MS = 5000
# tsvector has a 1 MB limit; positions stop counting at 16383 anyway.
MAX_INDEXED_CHARS = 200_000
MAX_MERGE_HOPS = 16
ANY_FOLDER = "*"  # list_threads over every folder (with a filter: "all my open threads")
MAX_HIGHLIGHT_CHARS = 10_000  # ts_headline parses the whole text it is given: the start of long mail only
HEADLINE_OPTIONS = (
    f"StartSel={snippet.START}, StopSel={snippet.STOP}, MaxWords=30, MinWords=12, "
    'MaxFragments=2, FragmentDelimiter=" … "'
)

_SUMMARY = sql.SQL(
    "t.thread_id, coalesce(t.number, 0) AS number, coalesce(t.subject, '') AS subject, "
    "coalesce(t.folder, 'Inbox') AS folder, t.status, coalesce(t.customer_email, '') AS customer_email, "
    "coalesce(t.customer_name, '') AS customer_name, t.message_count, t.last_message_at, "
    "coalesce(t.mailbox_id, '') AS mailbox_id, t.system_reason, "
    "coalesce(t.assignee_user_id, '') AS assignee_user_id, t.tags, "
    "coalesce(t.assignee_group_id, '') AS assignee_group_id, t.priority, t.due_at"
)
FACET_LIMIT = 50
# Newest-first search reads the newest FIRST_WINDOW of a tenant's mail first, then wider by what it held (see
# _newest_threads).
FIRST_WINDOW = timedelta(days=2)
WINDOW_GROWTH = 8
MAX_COMPLETIONS = 64  # a prefix completing to more words is matched as a prefix
NO_FLOOR_DAY = -(2**31)  # search.messages.day >= this: every day
FACET_POOL = 5000  # matching messages whose threads facets count at most, the newest (_pool_window)
RELEVANCE_POOL = 2000  # matching messages ranked at most, the newest (see _pool_window)
_LISTED = sql.SQL("t.tenant_id = %(tenant)s AND t.merged_into IS NULL AND t.message_count > 0")
_ORDER = sql.SQL("ORDER BY t.last_message_at DESC, t.thread_id DESC")
_AFTER = sql.SQL("(t.last_message_at, t.thread_id) < (%(after_at)s, %(after_id)s)")


def _summary(row: dict, snippet_html: str = "", best_message_id: str = "") -> ThreadSummary:
    return ThreadSummary(
        thread_id=row["thread_id"],
        number=row["number"],
        subject=row["subject"],
        folder=row["folder"],
        status=row["status"],
        customer_email=row["customer_email"],
        customer_name=row["customer_name"],
        message_count=row["message_count"],
        last_message_at=row["last_message_at"],
        mailbox_id=row["mailbox_id"],
        system_reason=row["system_reason"],
        assignee_user_id=row["assignee_user_id"],
        snippet=snippet_html,
        tags=tuple(row["tags"] or ()),
        assignee_group_id=row["assignee_group_id"],
        priority=row["priority"],
        due_at=row["due_at"],
        best_message_id=best_message_id,
    )


def _clean(text: str) -> str:
    return text.replace("\x00", "")  # PostgreSQL text cannot hold NUL


class PostgresSearchBackend:
    def __init__(
        self, pool: ConnectionPool, relevance_pool: int = RELEVANCE_POOL, facet_pool: int = FACET_POOL
    ) -> None:
        self.pool = pool
        self.relevance_pool = relevance_pool
        self.facet_pool = facet_pool
        self._local = threading.local()  # the connection of a batch() in progress, per thread

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        """A read-only transaction with a time limit; storage trouble becomes BackendUnavailable."""
        try:
            with self.pool.connection(timeout=5.0) as conn:
                # One round trip. Plans per parameters: psycopg prepares a statement after five runs,
                # and PostgreSQL's generic plan for it cannot see which words are rare or which date
                # window is small (measured at 1M messages: 25 ms custom, 1.1 s generic).
                conn.execute(
                    f"SET TRANSACTION READ ONLY; SET LOCAL statement_timeout = {READ_TIMEOUT_MS}; "
                    "SET LOCAL plan_cache_mode = force_custom_plan"
                )
                yield conn
        except (psycopg.OperationalError, PoolTimeout) as exc:
            raise BackendUnavailable(str(exc)) from exc

    def ensure_schema(self) -> None:
        with self.pool.connection() as conn:
            pg_schema.ensure_schema(conn)

    def ping(self) -> bool:
        with self.pool.connection(timeout=2.0) as conn:
            return conn.execute("SELECT 1").fetchone() is not None

    # -- writes ------------------------------------------------------------------------------------
    @contextmanager
    def batch(self) -> Iterator[None]:
        """Writes inside share one transaction: all of them (and their positions) or none.

        Positions are checked against the tracking row read once (FOR UPDATE) and written once at
        the end, instead of one round trip per event.
        """
        if getattr(self._local, "conn", None) is not None:
            yield
            return
        with self.pool.connection() as conn, conn.transaction():
            self._local.conn = conn
            self._local.positions = {}
            self._local.claimed = {}
            try:
                yield
                for upstream, position in self._local.claimed.items():
                    claim(conn, pg_schema.SCHEMA, Tracking(upstream, position))
            finally:
                self._local.conn = None

    def _claim(self, conn: Connection, position: Position) -> bool:
        positions = getattr(self._local, "positions", None)
        if getattr(self._local, "conn", None) is not conn or positions is None:
            return claim(conn, pg_schema.SCHEMA, Tracking(position.upstream, position.position))
        if position.upstream not in positions:
            row = conn.execute(
                "SELECT position FROM search.tracking WHERE upstream = %s FOR UPDATE", (position.upstream,)
            ).fetchone()
            positions[position.upstream] = int(row[0]) if row else 0
        if position.position <= positions[position.upstream]:
            return False
        positions[position.upstream] = position.position
        self._local.claimed[position.upstream] = position.position
        return True

    def _apply(self, position: Position, change) -> bool:  # noqa: ANN001
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            return self._apply_on(conn, position, change)
        with self.pool.connection() as conn, conn.transaction():
            return self._apply_on(conn, position, change)

    def _apply_on(self, conn: Connection, position: Position, change) -> bool:  # noqa: ANN001
        if not self._claim(conn, position):
            return False
        if change is not None:
            change(conn)
        return True

    def index_messages(self, items: list[tuple[MessageDoc, Position]]) -> int:
        """Consecutive MessageThreaded events of one batch in a few set-based statements (COPY);
        the same effect as index_message on each, in order. Returns how many were new."""
        from responer_search.adapters import pg_bulk

        conn = getattr(self._local, "conn", None)
        if conn is None:
            with self.batch():
                return self.index_messages(items)
        fresh = [(doc, p) for doc, p in items if self._claim(conn, p)]
        if not fresh:
            return 0
        # A message threaded twice in one batch: its last event wins, as applied in order.
        last = {(doc.tenant_id, doc.message_id): (doc, p) for doc, p in fresh}
        docs = sorted(last.values(), key=lambda dp: dp[1].position)
        keys = sorted({(d.tenant_id, d.thread_id) for d, _ in docs})
        merged = conn.execute(
            "SELECT t.tenant_id, t.thread_id FROM search.threads t "
            "JOIN unnest(%s::text[], %s::text[]) AS k(tenant_id, thread_id) "
            "ON t.tenant_id = k.tenant_id AND t.thread_id = k.thread_id WHERE t.merged_into IS NOT NULL",
            ([k[0] for k in keys], [k[1] for k in keys]),
        ).fetchall()
        resolved = {(tenant, thread): _resolve(conn, tenant, thread) for tenant, thread in merged}
        pg_bulk.load_messages(conn, [(d, p.position) for d, p in docs], upsert=True, resolved=resolved)
        return len(fresh)

    def skip(self, position: Position) -> bool:
        return self._apply(position, None)

    def index_message(self, doc: MessageDoc, position: Position) -> bool:
        return self._apply(position, lambda conn: _index_message(conn, doc, position.position))

    def file_thread(self, filing: ThreadFiling, position: Position) -> bool:
        return self._apply(position, lambda conn: _file_thread(conn, filing))

    def merge_threads(self, merge: ThreadMerge, position: Position) -> bool:
        return self._apply(position, lambda conn: _merge_threads(conn, merge))

    def set_status(self, change: StatusChange, position: Position) -> bool:
        def apply(conn: Connection) -> None:
            thread_id = _resolve(conn, change.tenant_id, change.thread_id)
            _upsert_thread_field(conn, change.tenant_id, thread_id, "status", change.status or "open")
            if change.event_id and change.at is not None:
                detail = {"status": change.status, "previous": change.previous}
                item = TimelineItem(
                    change.tenant_id,
                    thread_id,
                    change.event_id,
                    "status",
                    change.at,
                    change.by_user_id,
                    "",
                    detail,
                )
                _timeline(conn, item, position.position)

        return self._apply(position, apply)

    def add_timeline_item(self, item: TimelineItem, position: Position) -> bool:
        def apply(conn: Connection) -> None:
            thread_id = _resolve(conn, item.tenant_id, item.thread_id)
            _ensure_thread(conn, item.tenant_id, thread_id)
            _timeline(conn, item, position.position, thread_id)

        return self._apply(position, apply)

    def tag_thread(self, change: TagChange, position: Position) -> bool:
        def apply(conn: Connection) -> None:
            thread_id = _resolve(conn, change.tenant_id, change.thread_id)
            _ensure_thread(conn, change.tenant_id, thread_id)
            row = conn.execute(
                "SELECT tags FROM search.threads WHERE tenant_id = %s AND thread_id = %s FOR UPDATE",
                (change.tenant_id, thread_id),
            ).fetchone()
            tags = apply_tags(list(row[0]) if row else [], change)
            conn.execute(
                "UPDATE search.threads SET tags = %s, tags_folded = ARRAY(SELECT search.fold(x) FROM unnest(%s::text[]) x) "
                "WHERE tenant_id = %s AND thread_id = %s",
                (tags, tags, change.tenant_id, thread_id),
            )

        return self._apply(position, apply)

    def add_message_mailbox(self, change: MessageMailbox, position: Position) -> bool:
        def apply(conn: Connection) -> None:
            conn.execute(
                "UPDATE search.messages SET other_mailbox_ids = other_mailbox_ids || %(id)s::text, "
                "other_mailbox_addresses = other_mailbox_addresses || %(address)s::text "
                "WHERE tenant_id = %(tenant)s AND message_id = %(message)s "
                "AND mailbox_id <> %(id)s AND NOT %(id)s = ANY(other_mailbox_ids)",
                {
                    "tenant": change.tenant_id,
                    "message": change.message_id,
                    "id": change.mailbox_id,
                    "address": _clean(change.mailbox_address),
                },
            )

        return self._apply(position, apply)

    def remove_timeline_item(self, tenant_id: str, item_id: str, position: Position) -> bool:
        return self._apply(
            position,
            lambda conn: conn.execute(
                "DELETE FROM search.timeline WHERE tenant_id = %s AND item_id = %s", (tenant_id, item_id)
            ),
        )

    def set_attributes(self, attrs: ThreadAttributes, position: Position) -> bool:
        def apply(conn: Connection) -> None:
            thread_id = _resolve(conn, attrs.tenant_id, attrs.thread_id)
            _ensure_thread(conn, attrs.tenant_id, thread_id)
            if attrs.priority is not None:
                _upsert_thread_field(conn, attrs.tenant_id, thread_id, "priority", _clean(attrs.priority))
            if attrs.due_at is not None or attrs.clear_due:
                _upsert_thread_field(conn, attrs.tenant_id, thread_id, "due_at", attrs.due_at)

        return self._apply(position, apply)

    def move_messages(self, move: MessageMove, position: Position) -> bool:
        def apply(conn: Connection) -> None:
            tenant, target = move.tenant_id, move.to_thread_id
            conn.execute(
                "INSERT INTO search.threads (tenant_id, thread_id, number, subject, mailbox_id, status) "
                "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (tenant_id, thread_id) DO UPDATE SET "
                "number = coalesce(search.threads.number, EXCLUDED.number), "
                "subject = coalesce(search.threads.subject, EXCLUDED.subject), "
                "mailbox_id = coalesce(search.threads.mailbox_id, EXCLUDED.mailbox_id)",
                (
                    tenant,
                    target,
                    move.to_number or None,
                    _clean(move.subject) or None,
                    move.mailbox_id or None,
                    move.status or "open",
                ),
            )
            if move.revive:
                conn.execute(
                    "UPDATE search.threads SET merged_into = NULL WHERE tenant_id = %s AND thread_id = %s",
                    (tenant, target),
                )
            if move.status:
                _upsert_thread_field(conn, tenant, target, "status", move.status)
            conn.execute(
                "UPDATE search.messages SET thread_id = %s WHERE tenant_id = %s AND message_id = ANY(%s)",
                (target, tenant, list(move.message_ids)),
            )
            items = list(move.note_ids)
            if move.merge_id:
                items += [
                    r[0]
                    for r in conn.execute(
                        "DELETE FROM search.merge_moves WHERE tenant_id = %s AND merge_id = %s RETURNING item_id",
                        (tenant, move.merge_id),
                    ).fetchall()
                ]
            conn.execute(
                "UPDATE search.timeline SET thread_id = %s WHERE tenant_id = %s AND item_id = ANY(%s)",
                (target, tenant, items),
            )
            if move.absorb:
                _merge_threads(conn, ThreadMerge(tenant, move.from_thread_id, target, 0))
            _refresh_thread(conn, tenant, target)
            _refresh_thread(conn, tenant, move.from_thread_id)

        return self._apply(position, apply)

    def upsert_group(self, group: GroupRecord, position: Position) -> bool:
        def apply(conn: Connection) -> None:
            if group.removed:
                conn.execute(
                    "DELETE FROM search.groups WHERE tenant_id = %s AND group_id = %s",
                    (group.tenant_id, group.group_id),
                )
                return
            conn.execute(
                "INSERT INTO search.groups (tenant_id, group_id, name, name_folded) "
                "VALUES (%(t)s, %(g)s, %(n)s, search.fold(%(n)s)) ON CONFLICT (tenant_id, group_id) "
                "DO UPDATE SET name = EXCLUDED.name, name_folded = EXCLUDED.name_folded",
                {"t": group.tenant_id, "g": group.group_id, "n": _clean(group.name)},
            )

        return self._apply(position, apply)

    def upsert_user(self, user: UserRecord, position: Position) -> bool:
        def apply(conn: Connection) -> None:
            conn.execute(
                "INSERT INTO search.users (tenant_id, user_id, name, email, name_folded, email_folded) "
                "VALUES (%(t)s, %(u)s, %(n)s, %(e)s, search.fold(%(n)s), search.fold(%(e)s)) "
                "ON CONFLICT (tenant_id, user_id) DO UPDATE SET name = EXCLUDED.name, email = EXCLUDED.email, "
                "name_folded = EXCLUDED.name_folded, email_folded = EXCLUDED.email_folded",
                {"t": user.tenant_id, "u": user.user_id, "n": _clean(user.name), "e": _clean(user.email)},
            )

        return self._apply(position, apply)

    def mark_read(self, mark: ReadMark, position: Position) -> bool:
        def apply(conn: Connection) -> None:
            if mark.unread:
                conn.execute(
                    "INSERT INTO search.reads (tenant_id, user_id, thread_id, marked_unread) "
                    "VALUES (%s, %s, %s, true) ON CONFLICT (tenant_id, user_id, thread_id) "
                    "DO UPDATE SET marked_unread = true",
                    (mark.tenant_id, mark.user_id, mark.thread_id),
                )
                return
            conn.execute(
                "INSERT INTO search.reads (tenant_id, user_id, thread_id, read_at) VALUES (%s, %s, %s, %s) "
                "ON CONFLICT (tenant_id, user_id, thread_id) "
                "DO UPDATE SET read_at = EXCLUDED.read_at, marked_unread = false",
                (mark.tenant_id, mark.user_id, mark.thread_id, mark.at),
            )

        return self._apply(position, apply)

    def assign_thread(self, assignment: Assignment, position: Position) -> bool:
        def change(conn: Connection) -> None:
            thread_id = _resolve(conn, assignment.tenant_id, assignment.thread_id)
            _ensure_thread(conn, assignment.tenant_id, thread_id)
            conn.execute(
                "UPDATE search.threads SET assignee_user_id = %s, assignee_group_id = %s "
                "WHERE tenant_id = %s AND thread_id = %s",
                (
                    assignment.user_id or None,
                    assignment.group_id or None,
                    assignment.tenant_id,
                    thread_id,
                ),
            )
            if assignment.event_id and assignment.at is not None:
                detail = {
                    "user_id": assignment.user_id,
                    "group_id": assignment.group_id,
                    "previous_user_id": assignment.previous_user_id,
                    "reason": assignment.reason,
                }
                item = TimelineItem(
                    assignment.tenant_id,
                    thread_id,
                    assignment.event_id,
                    "assignment",
                    assignment.at,
                    assignment.by_user_id,
                    "",
                    detail,
                )
                _timeline(conn, item, position.position)

        return self._apply(position, change)

    # -- reads -------------------------------------------------------------------------------------
    def list_threads(
        self,
        tenant_id: str,
        folder: str,
        limit: int,
        cursor: str = "",
        filter: Query | None = None,  # noqa: A002 - the request's name
        user_id: str = "",
    ) -> ThreadPage:
        after = Cursor.decode(cursor)
        params: dict[str, object] = {"tenant": tenant_id, "folder": folder or INBOX, "limit": limit + 1}
        where: list[sql.Composable] = [_LISTED]
        # The asking user's reads row joins each thread: its unread flag, and is:unread/is:read.
        join, unread, counted = sql.SQL(""), sql.SQL("false"), sql.SQL("")
        if user_id:
            params["reader"] = user_id
            join, unread = pg_schema.reads_join(sql.Placeholder("reader")), pg_schema.UNREAD
        if folder != ANY_FOLDER:
            where.append(sql.SQL("coalesce(t.folder, 'Inbox') = %(folder)s"))
        if filter is not None:
            with self._reading() as conn:
                completions = _completions(conn, filter)
            c = compile_query(filter, user_id, completions, reads_joined=bool(user_id))
            params |= c.params
            counted = join if c.reads else counted  # the count joins the reads only to filter by them
            if c.message_level:
                where.append(
                    sql.SQL(
                        "EXISTS (SELECT 1 FROM search.messages m WHERE m.tenant_id = t.tenant_id "
                        "AND m.thread_id = t.thread_id AND {})"
                    ).format(c.condition)
                )
            else:
                where.append(c.condition)
        with self._reading() as conn:
            cur = conn.cursor(row_factory=dict_row)
            total = _count(conn, where, params, counted)
            if after is not None:
                where.append(_AFTER)
                params |= {"after_at": after.last_message_at, "after_id": after.thread_id}
            rows = cur.execute(
                sql.SQL(
                    "SELECT {}, {} AS unread FROM search.threads t {} WHERE {} {} LIMIT %(limit)s"
                ).format(_SUMMARY, unread, join, sql.SQL(" AND ").join(where), _ORDER),
                params,
            ).fetchall()
            threads = [replace(_summary(r), unread=r["unread"]) for r in rows]
        return _page(threads, limit, total)

    def get_thread(self, tenant_id: str, *, thread_id: str = "", number: int = 0) -> ThreadDetail | None:
        with self._reading() as conn:
            cur = conn.cursor(row_factory=dict_row)
            value: str | int
            if thread_id:
                key, value = sql.SQL("t.thread_id = %(key)s"), thread_id
            else:
                key, value = sql.SQL("t.number = %(key)s"), number
            query = sql.SQL(
                "SELECT {}, t.merged_into FROM search.threads t WHERE t.tenant_id = %(tenant)s AND {} "
                "ORDER BY t.merged_into NULLS FIRST LIMIT 1"
            )
            row = cur.execute(query.format(_SUMMARY, key), {"tenant": tenant_id, "key": value}).fetchone()
            hops = 0
            # Links to a merged thread (an old #number in a customer's mail) land on its target.
            while row is not None and row["merged_into"] and hops < MAX_MERGE_HOPS:
                row = cur.execute(
                    query.format(_SUMMARY, sql.SQL("t.thread_id = %(key)s")),
                    {"tenant": tenant_id, "key": row["merged_into"]},
                ).fetchone()
                hops += 1
            if row is None or row["merged_into"] or row["message_count"] == 0:
                return None
            timeline = cur.execute(
                "SELECT item_id, kind, at, actor, body, detail FROM search.timeline "
                "WHERE tenant_id = %s AND thread_id = %s ORDER BY at, seq, item_id",
                (tenant_id, row["thread_id"]),
            ).fetchall()
            messages = cur.execute(
                "SELECT message_id, thread_id, mailbox_id, mailbox_address, date, mail, other_mailbox_ids, "
                "other_mailbox_addresses FROM search.messages "
                "WHERE tenant_id = %s AND thread_id = %s ORDER BY date, seq, message_id",
                (tenant_id, row["thread_id"]),
            ).fetchall()
        return ThreadDetail(
            thread=_summary(row),
            messages=[
                StoredMessage(
                    message_id=m["message_id"],
                    thread_id=m["thread_id"],
                    mailbox_id=m["mailbox_id"],
                    mailbox_address=m["mailbox_address"],
                    at=m["date"],
                    mail=bytes(m["mail"]),
                    other_mailboxes=tuple(
                        zip(m["other_mailbox_ids"], m["other_mailbox_addresses"], strict=True)
                    ),
                )
                for m in messages
            ],
            timeline=[
                TimelineItem(
                    tenant_id,
                    row["thread_id"],
                    i["item_id"],
                    i["kind"],
                    i["at"],
                    i["actor"],
                    i["body"],
                    {str(k): str(v) for k, v in (i["detail"] or {}).items()},
                )
                for i in timeline
            ],
        )

    def search(
        self, tenant_id: str, query: Query, limit: int, cursor: str = "", options: SearchOptions | None = None
    ) -> ThreadPage:
        options = options or SearchOptions()
        with self._reading() as conn:
            completions = _completions(conn, query)
        c = compile_query(query, options.user_id, completions)
        c.params |= {"tenant": tenant_id, "limit": limit + 1, "headline": HEADLINE_OPTIONS}
        rank = (
            sql.SQL("ts_rank(m.tsv, {})").format(c.tsquery)
            if c.tsquery is not None and options.sort == "relevance"
            else sql.SQL("0::real")
        )
        with self._reading() as conn:
            if options.result == "messages":
                return self._search_messages(conn, c, rank, limit, cursor, options)
            page = self._search_threads(conn, c, rank, limit, cursor, options)
            return replace(page, threads=_with_unread(conn, tenant_id, options.user_id, page.threads))

    def _search_threads(
        self,
        conn: Connection,
        c,
        rank: sql.Composable,
        limit: int,
        cursor: str,
        options: SearchOptions,  # noqa: ANN001
    ) -> ThreadPage:
        by_relevance = options.sort == "relevance"
        offset = decode_offset(cursor) if by_relevance else 0
        after = None if by_relevance else Cursor.decode(cursor)
        want_facets = options.facets and not cursor
        if c.message_level and not by_relevance and not want_facets:
            return self._newest_threads(conn, c, limit, after)
        exact = True
        if c.message_level and by_relevance:
            exact = self._pool_window(conn, c, self.relevance_pool)
        elif c.message_level and want_facets:
            exact = self._pool_window(conn, c, self.facet_pool)
        if c.message_level:
            # Messages only ever sit in listed threads (a merge moves them), so the thread row is
            # joined only when the query reads thread fields. A thread ranks by its newest hit.
            join = (
                sql.SQL("JOIN search.threads t ON t.tenant_id = m.tenant_id AND t.thread_id = m.thread_id ")
                if c.thread_level
                else sql.SQL("")
            )
            hits = sql.SQL(
                "SELECT m.thread_id, max(m.date) AS at, max({rank}) AS score FROM search.messages m {join}"
                "WHERE m.tenant_id = %(tenant)s AND m.date >= %(floor)s::timestamptz AND m.day >= %(floor_day)s::integer AND {cond} "
                "GROUP BY m.thread_id"
            ).format(rank=rank, join=join, cond=c.condition)
        else:
            hits = sql.SQL(
                "SELECT t.thread_id, t.last_message_at AS at, 0::real AS score FROM search.threads t WHERE {} AND {}"
            ).format(_LISTED, c.condition)
        where = [sql.SQL("true")]
        if after is not None:
            where.append(sql.SQL("(h.at, h.thread_id) < (%(after_at)s, %(after_id)s)"))
            c.params |= {"after_at": after.last_message_at, "after_id": after.thread_id}
        order = sql.SQL("score DESC, at DESC, thread_id DESC" if by_relevance else "at DESC, thread_id DESC")
        facets = _FACETS if want_facets else sql.SQL("NULL::json AS facets")
        c.params |= {"offset": offset}
        cur = conn.cursor(row_factory=dict_row)
        rows = cur.execute(
            sql.SQL(
                "WITH h AS MATERIALIZED ({hits}), "
                "p AS (SELECT * FROM h WHERE {where} ORDER BY {order} OFFSET %(offset)s LIMIT %(limit)s) "
                "SELECT {summary}, p.at AS hit_at, (SELECT count(*) FROM h) AS total, {facets} "
                "FROM p JOIN search.threads t ON t.tenant_id = %(tenant)s AND t.thread_id = p.thread_id "
                "ORDER BY {porder}"
            ).format(
                hits=hits,
                summary=_SUMMARY,
                facets=facets,
                where=sql.SQL(" AND ").join(where),
                order=order,
                porder=sql.SQL(
                    "p.score DESC, p.at DESC, p.thread_id DESC"
                    if by_relevance
                    else "p.at DESC, p.thread_id DESC"
                ),
            ),
            c.params,
        ).fetchall()
        total = rows[0]["total"] if rows else 0
        facet_json = rows[0]["facets"] if rows else None
        page = rows[:limit]
        if not rows and cursor:
            total = _count_hits(conn, hits, c.params)
        snippets = self._snippets(conn, c, rank, [r["thread_id"] for r in page])
        render = snippet.render if c.tsquery is not None else snippet.plain
        threads = [
            _summary(
                r,
                render(snippets.get(r["thread_id"], ("", ""))[1] or ""),
                snippets.get(r["thread_id"], ("", ""))[0],
            )
            for r in page
        ]
        next_cursor = ""
        if len(rows) > limit:
            if by_relevance:
                next_cursor = encode_offset(offset + limit) if offset + limit <= MAX_OFFSET else ""
            else:
                last = page[-1]
                next_cursor = Cursor(last["hit_at"], last["thread_id"]).encode()
        empty = options.facets and not cursor
        return ThreadPage(
            threads,
            next_cursor,
            total,
            _facets(facet_json) if facet_json or empty else None,
            total_exact=exact,
        )

    def _pool_window(self, conn: Connection, c, pool: int) -> bool:  # noqa: ANN001
        """Sets the window floor so that the query reads the newest `pool` matching messages.

        Ranking needs every candidate's tsvector and facets every hit's thread, so for a common word
        over an archive of millions they read its newest few thousand hits (the windows of
        _newest_threads); a rarer word all of them. True when the window holds every match (the
        total, and the facets, are then exact; otherwise both are counts over the newest hits).
        """
        count = sql.SQL(
            "SELECT count(*) FROM (SELECT 1 FROM search.messages m {join}WHERE m.tenant_id = %(tenant)s "
            "AND m.date >= %(floor)s::timestamptz AND m.day >= %(floor_day)s::integer AND {cond} LIMIT {pool}) x"
        ).format(join=_thread_join(c), cond=c.condition, pool=sql.Literal(pool))
        windows = _Windows(_span(conn, c), pool)
        for floor, bounded in windows:
            _set_floor(c.params, floor)
            if not bounded:
                return True
            row = conn.execute(count, c.params).fetchone()
            windows.found = int(row[0]) if row else 0
            if windows.found >= pool:
                return False
        return True  # pragma: no cover - the last floor is unbounded

    def _newest_threads(self, conn: Connection, c, limit: int, after: Cursor | None) -> ThreadPage:  # noqa: ANN001
        """Threads newest first by their newest matching message, reading the newest mail first.

        The page needs only the newest matching threads, so the condition is evaluated on a window of
        the tenant's newest mail (the GIN hits AND-ed with a date range, then only those rows read),
        widened (by the density of its hits, 2-8x) until the page is full or the window holds everything. A common word fills
        the page from the last days' mail whatever the size of the archive; a rare word ends in the
        unbounded window, where its few hits are cheap. A thread whose newest hit is in the window
        ranks above every thread without one, so each page is exact. The total is exact when the last
        window held everything; otherwise it is the number of matching threads in the window, a lower
        bound (`total_exact` false: "more than 1,234"), because counting every hit is exactly the cost
        that grows with the archive.
        """
        span = _span(conn, c)
        if span is None:
            return ThreadPage([], "", 0)
        where = sql.SQL("true")
        if after is not None:
            where = sql.SQL("(g.at, g.thread_id) < (%(after_at)s, %(after_id)s)")
            c.params |= {"after_at": after.last_message_at, "after_id": after.thread_id}
        query = sql.SQL(
            "WITH g AS MATERIALIZED (SELECT m.thread_id, max(m.date) AS at FROM search.messages m {join}"
            "WHERE m.tenant_id = %(tenant)s AND m.date >= %(floor)s::timestamptz AND m.day >= %(floor_day)s::integer AND {cond} "
            "GROUP BY m.thread_id) "
            "SELECT g.thread_id, g.at, (SELECT count(*) FROM g) AS groups FROM g WHERE {where} "
            "ORDER BY g.at DESC, g.thread_id DESC LIMIT %(limit)s"
        ).format(join=_thread_join(c), cond=c.condition, where=where)
        windows = _Windows(span, int(c.params["limit"]))  # type: ignore[call-overload]
        for floor, _bounded in windows:
            _set_floor(c.params, floor)
            hits = conn.execute(query, c.params).fetchall()
            windows.found = len(hits)
            if len(hits) >= c.params["limit"]:  # type: ignore[operator]
                break
        groups = int(hits[0][2]) if hits else 0
        exact = not _bounded
        total = groups
        page_ids = [h[0] for h in hits]
        rows = {
            r["thread_id"]: r
            for r in conn.cursor(row_factory=dict_row).execute(
                sql.SQL(
                    "SELECT {} FROM search.threads t WHERE t.tenant_id = %(tenant)s "
                    "AND t.thread_id = ANY(%(page)s::text[])"
                ).format(_SUMMARY),
                {"tenant": c.params["tenant"], "page": page_ids},
            )
        }
        ordered = [(rows[h[0]], h[1]) for h in hits if h[0] in rows]
        page = ordered[:limit]
        snippets = self._snippets(conn, c, sql.SQL("0::real"), [r["thread_id"] for r, _ in page])
        render = snippet.render if c.tsquery is not None else snippet.plain
        threads = [
            _summary(
                r,
                render(snippets.get(r["thread_id"], ("", ""))[1] or ""),
                snippets.get(r["thread_id"], ("", ""))[0],
            )
            for r, _ in page
        ]
        next_cursor = ""
        if len(ordered) > limit:
            next_cursor = Cursor(page[-1][1], page[-1][0]["thread_id"]).encode()
        return ThreadPage(threads, next_cursor, total, None, total_exact=exact)

    def _snippets(
        self,
        conn: Connection,
        c,
        rank: sql.Composable,
        thread_ids: list[str],  # noqa: ANN001
    ) -> dict[str, tuple[str, str]]:
        """thread_id -> (best message id, marked snippet text) for one page of threads.

        Read within the window the page came from (its newest hits are there), so the index narrows
        it to the page's days instead of every hit of a common word.
        """
        if not thread_ids:
            return {}
        text: sql.Composable
        if c.tsquery is not None:
            text = sql.SQL("ts_headline('search.responer_fold'::regconfig, {}, {}, %(headline)s)").format(
                sql.SQL("translate(left(b.text, {}), {}, '')").format(
                    sql.Literal(MAX_HIGHLIGHT_CHARS), sql.Literal(snippet.START + snippet.STOP)
                ),
                c.tsquery,
            )
        else:
            text = sql.SQL("left(b.text, 2000)")
        cond = c.condition if c.message_level else sql.SQL("true")
        # One pass over the page's matching messages (subplans of the condition run once), then the
        # snippet of each thread's best one only.
        rows = conn.execute(
            sql.SQL(
                "SELECT b.thread_id, b.message_id, {text} FROM ("
                "SELECT DISTINCT ON (m.thread_id) m.thread_id, m.message_id, m.text FROM search.messages m "
                "JOIN search.threads t ON t.tenant_id = m.tenant_id AND t.thread_id = m.thread_id "
                "WHERE m.tenant_id = %(tenant)s AND m.thread_id = ANY(%(page)s::text[]) "
                "AND m.date >= %(floor)s::timestamptz AND m.day >= %(floor_day)s::integer AND {cond} "
                "ORDER BY m.thread_id, {rank} DESC, m.date DESC, m.seq DESC) b"
            ).format(text=text, cond=cond, rank=rank),
            c.params | {"page": thread_ids},
        ).fetchall()
        return {r[0]: (r[1] or "", r[2] or "") for r in rows}

    def _search_messages(
        self,
        conn: Connection,
        c,
        rank: sql.Composable,
        limit: int,
        cursor: str,
        options: SearchOptions,  # noqa: ANN001
    ) -> ThreadPage:
        by_relevance = options.sort == "relevance"
        offset = decode_offset(cursor) if by_relevance else 0
        after = None if by_relevance else Cursor.decode(cursor)
        where = [
            sql.SQL("m.tenant_id = %(tenant)s AND t.merged_into IS NULL AND t.message_count > 0"),
            sql.SQL("m.date >= %(floor)s::timestamptz AND m.day >= %(floor_day)s::integer"),
            c.condition,
        ]
        base_where = list(where)
        if after is not None:
            where.append(sql.SQL("(m.date, m.message_id) < (%(after_at)s, %(after_id)s)"))
            c.params |= {"after_at": after.last_message_at, "after_id": after.thread_id}
        order = (
            sql.SQL("ORDER BY score DESC, m.date DESC, m.message_id DESC")
            if by_relevance
            else sql.SQL("ORDER BY m.date DESC, m.message_id DESC")
        )
        text = (
            sql.SQL("ts_headline('search.responer_fold'::regconfig, {}, {}, %(headline)s)").format(
                sql.SQL("translate(left(p.text, {}), {}, '')").format(
                    sql.Literal(MAX_HIGHLIGHT_CHARS), sql.Literal(snippet.START + snippet.STOP)
                ),
                c.tsquery,
            )
            if c.tsquery is not None
            else sql.SQL("left(p.text, 2000)")
        )
        c.params |= {"offset": offset}
        join = sql.SQL(
            "FROM search.messages m JOIN search.threads t ON t.tenant_id = m.tenant_id AND t.thread_id = m.thread_id"
        )
        query = sql.SQL(
            "SELECT p.message_id, p.thread_id, p.number, p.subject, p.from_email, p.from_name, p.date, {text} "
            "FROM (SELECT m.message_id, m.thread_id, coalesce(t.number, 0) AS number, m.subject, m.from_email, "
            "m.from_name, m.date, m.text, {rank} AS score {join} WHERE {where} {order} "
            "OFFSET %(offset)s LIMIT %(limit)s) p"
        ).format(text=text, rank=rank, join=join, where=sql.SQL(" AND ").join(where), order=order)
        # Newest first: the same widening windows as threads; by relevance: the newest pool of hits.
        if by_relevance:
            exact = self._pool_window(conn, c, self.relevance_pool)
            rows = conn.execute(query, c.params).fetchall()
        else:
            windows = _Windows(_span(conn, c), limit + 1)
            for floor, _bounded in windows:
                _set_floor(c.params, floor)
                rows = conn.execute(query, c.params).fetchall()
                windows.found = len(rows)
                if len(rows) > limit:
                    break
            exact = not _bounded
        total_row = conn.execute(
            sql.SQL("SELECT count(*) {} WHERE {}").format(join, sql.SQL(" AND ").join(base_where)), c.params
        ).fetchone()
        render = snippet.render if c.tsquery is not None else snippet.plain
        hits = [
            MessageHit(r[0], r[1], r[2], r[3], r[4], r[5], r[6], render(r[7] or "")) for r in rows[:limit]
        ]
        next_cursor = ""
        if len(rows) > limit:
            if by_relevance:
                next_cursor = encode_offset(offset + limit) if offset + limit <= MAX_OFFSET else ""
            else:
                next_cursor = Cursor(hits[-1].at, hits[-1].message_id).encode()
        total = int(total_row[0]) if total_row else 0
        return ThreadPage([], next_cursor, total, None, hits, total_exact=exact)

    def folder_counts(self, tenant_id: str) -> list[FolderCount]:
        with self._reading() as conn:
            rows = conn.execute(
                sql.SQL(
                    "SELECT coalesce(t.folder, 'Inbox'), count(*) FROM search.threads t WHERE {} GROUP BY 1"
                ).format(_LISTED),
                {"tenant": tenant_id},
            ).fetchall()
        counts = {INBOX: 0, SYSTEM: 0} | {folder: n for folder, n in rows}
        order = [INBOX, SYSTEM, *sorted(f for f in counts if f not in (INBOX, SYSTEM))]
        return [FolderCount(f, counts[f]) for f in order]


_FACETS = sql.SQL(
    "(SELECT json_build_object("
    "'folders', (SELECT json_agg(json_build_array(f, n)) FROM (SELECT coalesce(ft.folder, 'Inbox') AS f, count(*) AS n "
    "  FROM h JOIN search.threads ft ON ft.tenant_id = %(tenant)s AND ft.thread_id = h.thread_id "
    "  GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT {n}) x), "
    "'tags', (SELECT json_agg(json_build_array(f, n)) FROM (SELECT tag AS f, count(*) AS n "
    "  FROM h JOIN search.threads ft ON ft.tenant_id = %(tenant)s AND ft.thread_id = h.thread_id, "
    "  unnest(ft.tags) AS tag GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT {n}) x), "
    "'assignees', (SELECT json_agg(json_build_array(f, n)) FROM ("
    "  SELECT coalesce(ft.assignee_user_id, '') AS f, count(*) AS n "
    "  FROM h JOIN search.threads ft ON ft.tenant_id = %(tenant)s AND ft.thread_id = h.thread_id "
    "  GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT {n}) x))) AS facets"
).format(n=sql.Literal(FACET_LIMIT))


def _completions(conn: Connection, query: Query) -> dict[str, list[str]]:
    """Prefix word -> the indexed words it completes to, when there are at most MAX_COMPLETIONS."""
    out: dict[str, list[str]] = {}
    for node in walk(query.root):
        word = prefix_word(node.term) if isinstance(node, Text | Subject | Body) else None
        if word is None or word in out:
            continue
        folded = conn.execute("SELECT search.fold(%s)", (word,)).fetchone()
        if not folded or not folded[0]:
            continue
        # A range on the primary key (C collation: code point order), with the prefix as a value.
        rows = conn.execute(
            "SELECT lexeme FROM search.lexemes WHERE lexeme >= %s AND lexeme < %s ORDER BY lexeme LIMIT %s",
            (folded[0], folded[0] + "\U0010ffff", MAX_COMPLETIONS + 1),
        ).fetchall()
        if 0 < len(rows) <= MAX_COMPLETIONS:
            out[word] = [r[0] for r in rows]
    return out


def _span(conn: Connection, c) -> tuple[datetime, datetime] | None:  # noqa: ANN001
    """The tenant's oldest and newest message dates (two index probes), None without mail."""
    row = conn.execute(
        "SELECT min(date), max(date) FROM search.messages WHERE tenant_id = %(tenant)s", c.params
    ).fetchone()
    return None if row is None or row[0] is None else (row[0], row[1])


def _set_floor(params: dict[str, object], floor: datetime | str) -> None:
    """The window's floor as a time and as a day number: the day is what the GIN index can use."""
    params["floor"] = floor
    params["floor_day"] = (
        math.floor(floor.timestamp() / 86400) if isinstance(floor, datetime) else NO_FLOOR_DAY
    )


class _Windows:
    """Date floors of ever wider windows of the newest mail, then no floor: (floor, bounded).

    Each next window is sized from what the last one held (`found` of `need`), assuming the hits
    keep their density, with room to spare: 1.5x what the density asks, at least 2x and at most
    WINDOW_GROWTH x wider. A word that is rare lately still gets there in a few steps.
    """

    def __init__(self, span: tuple[datetime, datetime] | None, need: int) -> None:
        self.span = span
        self.need = need
        self.found = 0

    def __iter__(self) -> Iterator[tuple[datetime | str, bool]]:
        if self.span is not None:
            first, newest = self.span
            window = FIRST_WINDOW
            while newest - window > first:
                yield newest - window, True
                growth = WINDOW_GROWTH if not self.found else 1.5 * self.need / self.found
                window *= min(WINDOW_GROWTH, max(2.0, growth))
        yield "-infinity", False


def _thread_join(c) -> sql.Composable:  # noqa: ANN001
    if c.thread_level:
        return sql.SQL("JOIN search.threads t ON t.tenant_id = m.tenant_id AND t.thread_id = m.thread_id ")
    return sql.SQL("")


def _facets(raw: object) -> Facets:
    data = raw if isinstance(raw, dict) else json.loads(raw) if isinstance(raw, str) else {}

    def counts(key: str) -> list[FacetCount]:
        return [FacetCount(str(v), int(n)) for v, n in (data.get(key) or [])]

    return Facets(counts("folders"), counts("tags"), counts("assignees"))


def _count_hits(conn: Connection, hits: sql.Composable, params: dict[str, object]) -> int:
    row = conn.execute(sql.SQL("SELECT count(*) FROM ({}) h").format(hits), params).fetchone()
    return int(row[0]) if row else 0


def _timeline(conn: Connection, item: TimelineItem, seq: int, thread_id: str = "") -> None:
    is_note = item.kind == "note"
    conn.execute(
        """
        INSERT INTO search.timeline (tenant_id, item_id, thread_id, kind, at, actor, body, detail, tsv, seq)
        VALUES (%(tenant)s, %(item)s, %(thread)s, %(kind)s, %(at)s, %(actor)s, %(body)s, %(detail)s,
                CASE WHEN %(note)s THEN to_tsvector('search.responer_fold'::regconfig, %(body)s) END, %(seq)s)
        ON CONFLICT (tenant_id, item_id) DO UPDATE SET
            body = EXCLUDED.body, detail = EXCLUDED.detail, tsv = EXCLUDED.tsv
        """,
        {
            "tenant": item.tenant_id,
            "item": item.item_id,
            "thread": thread_id or item.thread_id,
            "kind": item.kind,
            "at": item.at,
            "actor": _clean(item.actor),
            "body": _clean(item.body[:MAX_INDEXED_CHARS]),
            "detail": json.dumps(item.detail),
            "note": is_note,
            "seq": seq,
        },
    )


def _count(
    conn: Connection,
    where: list[sql.Composable],
    params: dict[str, object],
    join: sql.Composable = sql.SQL(""),
) -> int:
    query = sql.SQL("SELECT count(*) FROM search.threads t {} WHERE {}").format(
        join, sql.SQL(" AND ").join(where)
    )
    row = conn.execute(query, params).fetchone()
    return int(row[0]) if row else 0


def _with_unread(
    conn: Connection, tenant_id: str, user_id: str, threads: list[ThreadSummary]
) -> list[ThreadSummary]:
    """The summaries with `unread` set for `user_id` (one query for the page; none without a user)."""
    if not user_id or not threads:
        return threads
    query = sql.SQL(
        "SELECT t.thread_id FROM search.threads t {} "
        "WHERE t.tenant_id = %(tenant)s AND t.thread_id = ANY(%(ids)s) AND {}"
    ).format(pg_schema.reads_join(sql.Placeholder("reader")), pg_schema.UNREAD)
    rows = conn.execute(
        query, {"tenant": tenant_id, "ids": [t.thread_id for t in threads], "reader": user_id}
    ).fetchall()
    unread = {r[0] for r in rows}
    return [replace(t, unread=t.thread_id in unread) for t in threads]


def _page(threads: list[ThreadSummary], limit: int, total: int) -> ThreadPage:
    if len(threads) > limit:
        threads = threads[:limit]
        last = threads[-1]
        return ThreadPage(threads, Cursor(last.last_message_at, last.thread_id).encode(), total)
    return ThreadPage(threads, "", total)


# -- write helpers (inside the caller's transaction) --------------------------------------------


def _ensure_thread(conn: Connection, tenant_id: str, thread_id: str) -> None:
    conn.execute(
        "INSERT INTO search.threads (tenant_id, thread_id) VALUES (%s, %s) ON CONFLICT DO NOTHING",
        (tenant_id, thread_id),
    )


def _upsert_thread_field(
    conn: Connection, tenant_id: str, thread_id: str, column: str, value: object
) -> None:
    _ensure_thread(conn, tenant_id, thread_id)
    conn.execute(
        sql.SQL("UPDATE search.threads SET {} = %s WHERE tenant_id = %s AND thread_id = %s").format(
            sql.Identifier(column)
        ),
        (value, tenant_id, thread_id),
    )


def _resolve(conn: Connection, tenant_id: str, thread_id: str) -> str:
    """The thread that now holds what was addressed to `thread_id` (follows merges)."""
    for _ in range(MAX_MERGE_HOPS):
        row = conn.execute(
            "SELECT merged_into FROM search.threads WHERE tenant_id = %s AND thread_id = %s",
            (tenant_id, thread_id),
        ).fetchone()
        if row is None or not row[0] or row[0] == thread_id:
            return thread_id
        thread_id = row[0]
    return thread_id


def _refresh_thread(conn: Connection, tenant_id: str, thread_id: str) -> None:
    conn.execute(
        """
        UPDATE search.threads t SET
            message_count = s.n,
            last_message_at = s.last,
            last_inbound_at = s.last_inbound,
            customer_email = c.from_email,
            customer_name = c.from_name
        FROM (
            SELECT count(*) AS n, max(date) AS last,
                   max(coalesce(arrived_at, date)) FILTER (WHERE direction = 'inbound') AS last_inbound
            FROM search.messages
            WHERE tenant_id = %(tenant)s AND thread_id = %(thread)s
        ) s
        LEFT JOIN LATERAL (
            SELECT from_email, from_name FROM search.messages
            WHERE tenant_id = %(tenant)s AND thread_id = %(thread)s AND direction = 'inbound'
            ORDER BY date, seq, message_id LIMIT 1
        ) c ON true
        WHERE t.tenant_id = %(tenant)s AND t.thread_id = %(thread)s
        """,
        {"tenant": tenant_id, "thread": thread_id},
    )


def _index_message(conn: Connection, doc: MessageDoc, seq: int) -> None:
    thread_id = _resolve(conn, doc.tenant_id, doc.thread_id)
    if thread_id == doc.thread_id:
        # ThreadSorted may have created the row first: fill in what only threading knows.
        conn.execute(
            """
            INSERT INTO search.threads (tenant_id, thread_id, number, subject, mailbox_id)
            VALUES (%(tenant)s, %(thread)s, %(number)s, coalesce(%(subject)s, %(fallback)s), %(mailbox)s)
            ON CONFLICT (tenant_id, thread_id) DO UPDATE SET
                number = EXCLUDED.number,
                -- The thread is named by its first message (thread_subject); any other message's
                -- subject only names a thread we know nothing better about yet.
                subject = coalesce(%(subject)s, search.threads.subject, %(fallback)s),
                mailbox_id = coalesce(search.threads.mailbox_id, EXCLUDED.mailbox_id)
            """,
            {
                "tenant": doc.tenant_id,
                "thread": thread_id,
                "number": doc.thread_number or None,
                "subject": _clean(doc.thread_subject) or None,
                "fallback": _clean(doc.subject) or None,
                "mailbox": doc.mailbox_id or None,
            },
        )
    previous = conn.execute(
        "SELECT thread_id FROM search.messages WHERE tenant_id = %s AND message_id = %s FOR UPDATE",
        (doc.tenant_id, doc.message_id),
    ).fetchone()
    addresses = " ".join(
        [doc.from_name, *_address_terms(doc.from_email)]
        + [term for email in doc.to_emails + doc.cc_emails for term in _address_terms(email)]
    )
    body = doc.text[:MAX_INDEXED_CHARS]
    conn.execute(
        """
        INSERT INTO search.messages (
            tenant_id, message_id, thread_id, mailbox_id, mailbox_address, direction, rfc822_id,
            subject, from_email, from_name, to_emails, cc_emails, date, text, attachment_names, mail,
            from_folded, to_folded, cc_folded, files_folded, tsv, seq, arrived_at
        ) VALUES (
            %(tenant)s, %(message)s, %(thread)s, %(mailbox)s, %(mailbox_address)s, %(direction)s,
            %(rfc822)s, %(subject)s, %(from_email)s, %(from_name)s, %(to)s, %(cc)s, %(date)s, %(text)s,
            %(attachments)s, %(mail)s,
            search.fold(%(from_all)s), search.fold(%(to_all)s), search.fold(%(cc_all)s),
            search.fold(%(files)s),
            setweight(to_tsvector('search.responer_fold'::regconfig, %(subject)s), 'A')
            || setweight(to_tsvector('search.responer_fold'::regconfig, %(addresses)s), 'B')
            || setweight(to_tsvector('search.responer_fold'::regconfig, %(body)s), 'C')
            || setweight(to_tsvector('search.responer_fold'::regconfig, %(files)s), 'D'),
            %(seq)s, %(arrived)s
        )
        ON CONFLICT (tenant_id, message_id) DO UPDATE SET
            thread_id = EXCLUDED.thread_id, mailbox_id = EXCLUDED.mailbox_id,
            mailbox_address = EXCLUDED.mailbox_address, direction = EXCLUDED.direction,
            rfc822_id = EXCLUDED.rfc822_id, subject = EXCLUDED.subject,
            from_email = EXCLUDED.from_email, from_name = EXCLUDED.from_name,
            to_emails = EXCLUDED.to_emails, cc_emails = EXCLUDED.cc_emails, date = EXCLUDED.date,
            text = EXCLUDED.text, attachment_names = EXCLUDED.attachment_names, mail = EXCLUDED.mail,
            from_folded = EXCLUDED.from_folded, to_folded = EXCLUDED.to_folded,
            cc_folded = EXCLUDED.cc_folded, files_folded = EXCLUDED.files_folded, tsv = EXCLUDED.tsv,
            arrived_at = coalesce(search.messages.arrived_at, EXCLUDED.arrived_at)
        """,
        {
            "tenant": doc.tenant_id,
            "message": doc.message_id,
            "thread": thread_id,
            "mailbox": doc.mailbox_id,
            "mailbox_address": _clean(doc.mailbox_address),
            "direction": "inbound" if doc.inbound else "outbound",
            "rfc822": _clean(doc.rfc822_id),
            "subject": _clean(doc.subject),
            "from_email": _clean(doc.from_email),
            "from_name": _clean(doc.from_name),
            "to": [_clean(e) for e in doc.to_emails],
            "cc": [_clean(e) for e in doc.cc_emails],
            "date": doc.at,
            "text": _clean(doc.text),
            "attachments": [_clean(a) for a in doc.attachment_names],
            "mail": doc.mail,
            "from_all": _clean(f"{doc.from_email} {doc.from_name}"),
            "to_all": _clean(" ".join(doc.to_emails + doc.cc_emails)),
            "cc_all": _clean(" ".join(doc.cc_emails)),
            "files": _clean("\n".join(doc.attachment_names)),
            "addresses": _clean(addresses),
            "body": _clean(body),
            "seq": seq,
            "arrived": doc.arrived_at,
        },
    )
    conn.execute(
        pg_schema.LEXICON_FROM_MESSAGES.format(
            join=sql.SQL(""), where=sql.SQL("WHERE m.tenant_id = %s AND m.message_id = %s")
        ),
        (doc.tenant_id, doc.message_id),
    )

    _refresh_thread(conn, doc.tenant_id, thread_id)
    if previous is not None and previous[0] != thread_id:
        _refresh_thread(conn, doc.tenant_id, previous[0])


def _address_terms(email: str) -> list[str]:
    """The address itself plus its parts, so `nowak` finds anna.nowak@firma.pl."""
    if not email:
        return []
    return [email, email.replace("@", " ").replace(".", " ").replace("-", " ").replace("+", " ")]


def _file_thread(conn: Connection, filing: ThreadFiling) -> None:
    conn.execute(
        """
        INSERT INTO search.threads (tenant_id, thread_id, folder, system, system_reason, system_kind)
        VALUES (%(tenant)s, %(thread)s, %(folder)s, %(system)s, %(reason)s, %(kind)s)
        ON CONFLICT (tenant_id, thread_id) DO UPDATE SET
            folder = EXCLUDED.folder, system = EXCLUDED.system,
            system_reason = EXCLUDED.system_reason, system_kind = EXCLUDED.system_kind
        """,
        {
            "tenant": filing.tenant_id,
            "thread": filing.thread_id,
            "folder": _clean(filing.folder) or None,
            "system": filing.system,
            "reason": _clean(filing.system_reason),
            "kind": _clean(filing.system_kind),
        },
    )


def _merge_threads(conn: Connection, merge: ThreadMerge) -> None:
    tenant = merge.tenant_id
    target = _resolve(conn, tenant, merge.target_thread_id)
    source = merge.source_thread_id
    if source == target:
        return
    _ensure_thread(conn, tenant, source)
    conn.execute(
        "INSERT INTO search.threads (tenant_id, thread_id, number) VALUES (%s, %s, %s) "
        "ON CONFLICT (tenant_id, thread_id) DO UPDATE SET "
        "number = coalesce(search.threads.number, EXCLUDED.number)",
        (tenant, target, merge.target_number or None),
    )
    conn.execute(
        "UPDATE search.messages SET thread_id = %s WHERE tenant_id = %s AND thread_id = %s",
        (target, tenant, source),
    )
    moved = conn.execute(
        "UPDATE search.timeline SET thread_id = %s WHERE tenant_id = %s AND thread_id = %s RETURNING item_id",
        (target, tenant, source),
    ).fetchall()
    if merge.merge_id and moved:
        conn.execute(
            "INSERT INTO search.merge_moves (tenant_id, merge_id, item_id) SELECT %s, %s, unnest(%s::text[]) "
            "ON CONFLICT DO NOTHING",
            (tenant, merge.merge_id, [r[0] for r in moved]),
        )
    # Earlier merges into the source now point straight at the target.
    conn.execute(
        "UPDATE search.threads SET merged_into = %s WHERE tenant_id = %s AND (thread_id = %s OR merged_into = %s)",
        (target, tenant, source, source),
    )
    _refresh_thread(conn, tenant, source)
    _refresh_thread(conn, tenant, target)
