"""PostgreSQL implementation of the SearchBackend port (plain SQL, psycopg 3, a connection pool).

Writes: each consumed event changes the view and claims its stream position in one transaction; a
position already claimed changes nothing. Thread aggregates (count, last activity, customer) are
recomputed from the thread's messages rather than incremented, so replays and out-of-order
arrivals converge on the same rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from eventsourcing.persistence import Tracking
from psycopg import Connection, sql
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolTimeout
from responer_runtime.sqltracking import claim

from responer_search.adapters import pg_schema
from responer_search.adapters.pg_query import compile_query
from responer_search.domain import snippet
from responer_search.domain.cursor import Cursor
from responer_search.domain.model import (
    INBOX,
    SYSTEM,
    Assignment,
    FolderCount,
    MessageDoc,
    Position,
    StatusChange,
    StoredMessage,
    ThreadDetail,
    ThreadFiling,
    ThreadMerge,
    ThreadPage,
    ThreadSummary,
)
from responer_search.domain.ports import BackendUnavailable
from responer_search.domain.query import Query

READ_TIMEOUT_MS = 5000
# tsvector has a 1 MB limit; positions stop counting at 16383 anyway.
MAX_INDEXED_CHARS = 200_000
MAX_MERGE_HOPS = 16
MAX_HIGHLIGHT_CHARS = 50_000  # ts_headline parses the whole text it is given
HEADLINE_OPTIONS = (
    f"StartSel={snippet.START}, StopSel={snippet.STOP}, MaxWords=30, MinWords=12, "
    'MaxFragments=2, FragmentDelimiter=" … "'
)

_SUMMARY = sql.SQL(
    "t.thread_id, coalesce(t.number, 0) AS number, coalesce(t.subject, '') AS subject, "
    "coalesce(t.folder, 'Inbox') AS folder, t.status, coalesce(t.customer_email, '') AS customer_email, "
    "coalesce(t.customer_name, '') AS customer_name, t.message_count, t.last_message_at, "
    "coalesce(t.mailbox_id, '') AS mailbox_id, t.system_reason, "
    "coalesce(t.assignee_user_id, '') AS assignee_user_id"
)
_LISTED = sql.SQL("t.tenant_id = %(tenant)s AND t.merged_into IS NULL AND t.message_count > 0")
_ORDER = sql.SQL("ORDER BY t.last_message_at DESC, t.thread_id DESC")
_AFTER = sql.SQL("(t.last_message_at, t.thread_id) < (%(after_at)s, %(after_id)s)")


def _summary(row: dict, snippet_html: str = "") -> ThreadSummary:
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
    )


def _clean(text: str) -> str:
    return text.replace("\x00", "")  # PostgreSQL text cannot hold NUL


class PostgresSearchBackend:
    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        """A read-only transaction with a time limit; storage trouble becomes BackendUnavailable."""
        try:
            with self.pool.connection(timeout=5.0) as conn:
                conn.execute("SET TRANSACTION READ ONLY")
                conn.execute(f"SET LOCAL statement_timeout = {READ_TIMEOUT_MS}")
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
    def _apply(self, position: Position, change) -> bool:  # noqa: ANN001
        with self.pool.connection() as conn, conn.transaction():
            if not claim(conn, pg_schema.SCHEMA, Tracking(position.upstream, position.position)):
                return False
            if change is not None:
                change(conn)
            return True

    def skip(self, position: Position) -> bool:
        return self._apply(position, None)

    def index_message(self, doc: MessageDoc, position: Position) -> bool:
        return self._apply(position, lambda conn: _index_message(conn, doc, position.position))

    def file_thread(self, filing: ThreadFiling, position: Position) -> bool:
        return self._apply(position, lambda conn: _file_thread(conn, filing))

    def merge_threads(self, merge: ThreadMerge, position: Position) -> bool:
        return self._apply(position, lambda conn: _merge_threads(conn, merge))

    def set_status(self, change: StatusChange, position: Position) -> bool:
        return self._apply(
            position,
            lambda conn: _upsert_thread_field(
                conn, change.tenant_id, change.thread_id, "status", change.status or "open"
            ),
        )

    def assign_thread(self, assignment: Assignment, position: Position) -> bool:
        def change(conn: Connection) -> None:
            _ensure_thread(conn, assignment.tenant_id, assignment.thread_id)
            conn.execute(
                "UPDATE search.threads SET assignee_user_id = %s, assignee_group_id = %s "
                "WHERE tenant_id = %s AND thread_id = %s",
                (
                    assignment.user_id or None,
                    assignment.group_id or None,
                    assignment.tenant_id,
                    assignment.thread_id,
                ),
            )

        return self._apply(position, change)

    # -- reads -------------------------------------------------------------------------------------
    def list_threads(self, tenant_id: str, folder: str, limit: int, cursor: str = "") -> ThreadPage:
        after = Cursor.decode(cursor)
        params: dict[str, object] = {"tenant": tenant_id, "folder": folder or INBOX, "limit": limit + 1}
        where: list[sql.Composable] = [_LISTED, sql.SQL("coalesce(t.folder, 'Inbox') = %(folder)s")]
        with self._reading() as conn:
            cur = conn.cursor(row_factory=dict_row)
            total = _count(conn, where, params)
            if after is not None:
                where.append(_AFTER)
                params |= {"after_at": after.last_message_at, "after_id": after.thread_id}
            rows = cur.execute(
                sql.SQL("SELECT {} FROM search.threads t WHERE {} {} LIMIT %(limit)s").format(
                    _SUMMARY, sql.SQL(" AND ").join(where), _ORDER
                ),
                params,
            ).fetchall()
        return _page([_summary(r) for r in rows], limit, total)

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
            messages = cur.execute(
                "SELECT message_id, thread_id, mailbox_id, mailbox_address, date, mail FROM search.messages "
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
                )
                for m in messages
            ],
        )

    def search(self, tenant_id: str, query: Query, limit: int, cursor: str = "") -> ThreadPage:
        after = Cursor.decode(cursor)
        c = compile_query(query)
        c.params |= {"tenant": tenant_id, "limit": limit + 1, "headline": HEADLINE_OPTIONS}
        where: list[sql.Composable] = [_LISTED, *c.thread_conditions]
        message_filter = sql.SQL(" AND ").join([sql.SQL("m.tenant_id = %(tenant)s"), *c.message_conditions])
        if c.message_conditions:
            where.append(
                sql.SQL("t.thread_id IN (SELECT m.thread_id FROM search.messages m WHERE {})").format(
                    message_filter
                )
            )
        text: sql.Composable
        if c.tsquery is not None:
            text = sql.SQL("ts_headline('search.responer_fold'::regconfig, {}, {}, %(headline)s)").format(
                sql.SQL("translate(left(m.text, {}), {}, '')").format(
                    sql.Literal(MAX_HIGHLIGHT_CHARS), sql.Literal(snippet.START + snippet.STOP)
                ),
                c.tsquery,
            )
        else:
            text = sql.SQL("m.text")
        with self._reading() as conn:
            cur = conn.cursor(row_factory=dict_row)
            total = _count(conn, where, c.params)
            if after is not None:
                where.append(_AFTER)
                c.params |= {"after_at": after.last_message_at, "after_id": after.thread_id}
            # The snippet comes from the newest matching message, computed for this page only.
            rows = cur.execute(
                sql.SQL(
                    "SELECT p.*, s.snippet FROM ("
                    "  SELECT {summary} FROM search.threads t WHERE {where} {order} LIMIT %(limit)s"
                    ") p LEFT JOIN LATERAL ("
                    "  SELECT {text} AS snippet FROM search.messages m"
                    "  WHERE {message_filter} AND m.thread_id = p.thread_id"
                    "  ORDER BY m.date DESC, m.seq DESC LIMIT 1"
                    ") s ON true ORDER BY p.last_message_at DESC, p.thread_id DESC"
                ).format(
                    summary=_SUMMARY,
                    where=sql.SQL(" AND ").join(where),
                    order=_ORDER,
                    text=text,
                    message_filter=message_filter,
                ),
                c.params,
            ).fetchall()
        render = snippet.render if c.tsquery is not None else snippet.plain
        return _page([_summary(r, render(r["snippet"] or "")) for r in rows], limit, total)

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


def _count(conn: Connection, where: list[sql.Composable], params: dict[str, object]) -> int:
    query = sql.SQL("SELECT count(*) FROM search.threads t WHERE {}").format(sql.SQL(" AND ").join(where))
    row = conn.execute(query, params).fetchone()
    return int(row[0]) if row else 0


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
            customer_email = c.from_email,
            customer_name = c.from_name
        FROM (
            SELECT count(*) AS n, max(date) AS last FROM search.messages
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
    body = "\n".join([doc.text[:MAX_INDEXED_CHARS], *doc.attachment_names])
    conn.execute(
        """
        INSERT INTO search.messages (
            tenant_id, message_id, thread_id, mailbox_id, mailbox_address, direction, rfc822_id,
            subject, from_email, from_name, to_emails, cc_emails, date, text, attachment_names, mail,
            from_folded, to_folded, tsv, seq
        ) VALUES (
            %(tenant)s, %(message)s, %(thread)s, %(mailbox)s, %(mailbox_address)s, %(direction)s,
            %(rfc822)s, %(subject)s, %(from_email)s, %(from_name)s, %(to)s, %(cc)s, %(date)s, %(text)s,
            %(attachments)s, %(mail)s,
            search.fold(%(from_all)s), search.fold(%(to_all)s),
            setweight(to_tsvector('search.responer_fold'::regconfig, %(subject)s), 'A')
            || setweight(to_tsvector('search.responer_fold'::regconfig, %(addresses)s), 'B')
            || setweight(to_tsvector('search.responer_fold'::regconfig, %(body)s), 'C'),
            %(seq)s
        )
        ON CONFLICT (tenant_id, message_id) DO UPDATE SET
            thread_id = EXCLUDED.thread_id, mailbox_id = EXCLUDED.mailbox_id,
            mailbox_address = EXCLUDED.mailbox_address, direction = EXCLUDED.direction,
            rfc822_id = EXCLUDED.rfc822_id, subject = EXCLUDED.subject,
            from_email = EXCLUDED.from_email, from_name = EXCLUDED.from_name,
            to_emails = EXCLUDED.to_emails, cc_emails = EXCLUDED.cc_emails, date = EXCLUDED.date,
            text = EXCLUDED.text, attachment_names = EXCLUDED.attachment_names, mail = EXCLUDED.mail,
            from_folded = EXCLUDED.from_folded, to_folded = EXCLUDED.to_folded, tsv = EXCLUDED.tsv
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
            "addresses": _clean(addresses),
            "body": _clean(body),
            "seq": seq,
        },
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
    # Earlier merges into the source now point straight at the target.
    conn.execute(
        "UPDATE search.threads SET merged_into = %s WHERE tenant_id = %s AND (thread_id = %s OR merged_into = %s)",
        (target, tenant, source, source),
    )
    _refresh_thread(conn, tenant, source)
    _refresh_thread(conn, tenant, target)
