"""Bulk loading of messages into the PostgreSQL read model (reindex of a large corpus, benchmarks).

The event path (pg_backend.index_message) does one upsert and one thread refresh per message. Here a
chunk of messages is COPY'd into a temporary table and moved with two set-based INSERT ... SELECT
statements that compute the folded columns and the tsvector in PostgreSQL, exactly as the event path
does; thread aggregates are computed once for the whole load. With `without_text_indexes()` the GIN
and trigram indexes are dropped for the load and built once afterwards, which is much cheaper than
maintaining them row by row. Merges, sorts and assignments still go through the event path.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from psycopg import Connection, sql

from responer_search.adapters import pg_schema
from responer_search.adapters.pg_backend import MAX_INDEXED_CHARS, _address_terms, _clean
from responer_search.domain.model import MessageDoc

_LOAD_COLUMNS = (
    "tenant_id, message_id, thread_id, thread_number, thread_subject, mailbox_id, mailbox_address, direction, "
    "rfc822_id, subject, from_email, from_name, to_emails, cc_emails, date, text, attachment_names, mail, "
    "addresses, seq, own_thread, arrived_at"
)

_TEXT_INDEXES = {
    "messages_tenant_day_tsv": "CREATE INDEX IF NOT EXISTS messages_tenant_day_tsv ON search.messages "
    "USING gin (tenant_id, day, tsv)",
    "messages_from_day_trgm": "CREATE INDEX IF NOT EXISTS messages_from_day_trgm ON search.messages "
    "USING gin (day, from_folded gin_trgm_ops)",
    "messages_to_day_trgm": "CREATE INDEX IF NOT EXISTS messages_to_day_trgm ON search.messages "
    "USING gin (day, to_folded gin_trgm_ops)",
}


def _row(doc: MessageDoc, seq: int, thread_id: str = "") -> tuple:
    addresses = " ".join(
        [doc.from_name, *_address_terms(doc.from_email)]
        + [term for email in doc.to_emails + doc.cc_emails for term in _address_terms(email)]
    )
    return (
        doc.tenant_id,
        doc.message_id,
        thread_id or doc.thread_id,
        doc.thread_number or None,
        _clean(doc.thread_subject) or None,
        doc.mailbox_id,
        _clean(doc.mailbox_address),
        "inbound" if doc.inbound else "outbound",
        _clean(doc.rfc822_id),
        _clean(doc.subject),
        _clean(doc.from_email),
        _clean(doc.from_name),
        [_clean(e) for e in doc.to_emails],
        [_clean(e) for e in doc.cc_emails],
        doc.at,
        _clean(doc.text),
        [_clean(a) for a in doc.attachment_names],
        doc.mail,
        _clean(addresses),
        seq,
        not thread_id or thread_id == doc.thread_id,
        doc.arrived_at,
    )


def load_messages(
    conn: Connection,
    docs: Iterable[tuple[MessageDoc, int]],
    *,
    upsert: bool = False,
    resolved: dict | None = None,
) -> int:
    """One chunk of (message, stream position) in the caller's transaction; returns rows copied.

    upsert=False (a load into an empty read model): existing rows are kept. upsert=True (the consumer's
    batch path): the same effect as index_message applied in order: `resolved` maps (tenant, thread) to
    the thread a merge sent it to, a message seen again is moved and updated, the last message of a
    thread in the chunk names it. A message id must occur once per chunk.
    """
    resolved = resolved or {}
    conn.execute(
        "CREATE TEMP TABLE IF NOT EXISTS search_load ("
        "tenant_id text, message_id text, thread_id text, thread_number bigint, thread_subject text, "
        "mailbox_id text, mailbox_address text, direction text, rfc822_id text, subject text, "
        "from_email text, from_name text, to_emails text[], cc_emails text[], date timestamptz, text text, "
        "attachment_names text[], mail bytea, addresses text, seq bigint, own_thread boolean, "
        "arrived_at timestamptz) "
        "ON COMMIT DELETE ROWS"
    )
    conn.execute("TRUNCATE search_load")
    n = 0
    with conn.cursor().copy(f"COPY search_load ({_LOAD_COLUMNS}) FROM STDIN") as copy:
        for doc, seq in docs:
            copy.write_row(_row(doc, seq, resolved.get((doc.tenant_id, doc.thread_id), "")))
            n += 1
    conn.execute(
        """
        INSERT INTO search.threads (tenant_id, thread_id, number, subject, mailbox_id)
        SELECT DISTINCT ON (tenant_id, thread_id) tenant_id, thread_id, thread_number,
               coalesce(thread_subject, nullif(subject, '')), nullif(mailbox_id, '')
        FROM search_load WHERE own_thread ORDER BY tenant_id, thread_id, seq
        ON CONFLICT (tenant_id, thread_id) DO NOTHING
        """
    )
    touched: list[tuple[str, str]] = []
    if upsert:
        # What index_message does to a thread routing (or an earlier batch) created first.
        conn.execute(
            """
            UPDATE search.threads t SET
                number = l.thread_number,
                subject = coalesce(l.thread_subject, t.subject, nullif(l.subject, '')),
                mailbox_id = coalesce(t.mailbox_id, nullif(l.mailbox_id, ''))
            FROM (SELECT DISTINCT ON (tenant_id, thread_id) * FROM search_load WHERE own_thread
                  ORDER BY tenant_id, thread_id, seq DESC) l
            WHERE t.tenant_id = l.tenant_id AND t.thread_id = l.thread_id
            """
        )
        touched = conn.execute(
            "SELECT m.tenant_id, m.thread_id FROM search.messages m JOIN search_load l "
            "ON m.tenant_id = l.tenant_id AND m.message_id = l.message_id AND m.thread_id <> l.thread_id"
        ).fetchall()
    conflict = (
        sql.SQL(
            "DO UPDATE SET thread_id = EXCLUDED.thread_id, mailbox_id = EXCLUDED.mailbox_id, "
            "mailbox_address = EXCLUDED.mailbox_address, direction = EXCLUDED.direction, "
            "rfc822_id = EXCLUDED.rfc822_id, subject = EXCLUDED.subject, from_email = EXCLUDED.from_email, "
            "from_name = EXCLUDED.from_name, to_emails = EXCLUDED.to_emails, cc_emails = EXCLUDED.cc_emails, "
            "date = EXCLUDED.date, text = EXCLUDED.text, attachment_names = EXCLUDED.attachment_names, "
            "mail = EXCLUDED.mail, from_folded = EXCLUDED.from_folded, to_folded = EXCLUDED.to_folded, "
            "cc_folded = EXCLUDED.cc_folded, files_folded = EXCLUDED.files_folded, tsv = EXCLUDED.tsv, "
            "arrived_at = coalesce(search.messages.arrived_at, EXCLUDED.arrived_at)"
        )
        if upsert
        else sql.SQL("DO NOTHING")
    )
    conn.execute(
        sql.SQL(
            """
        INSERT INTO search.messages (
            tenant_id, message_id, thread_id, mailbox_id, mailbox_address, direction, rfc822_id,
            subject, from_email, from_name, to_emails, cc_emails, date, text, attachment_names, mail,
            from_folded, to_folded, cc_folded, files_folded, tsv, seq, arrived_at
        )
        SELECT tenant_id, message_id, thread_id, mailbox_id, mailbox_address, direction, rfc822_id,
            subject, from_email, from_name, to_emails, cc_emails, date, text, attachment_names, mail,
            search.fold(from_email || ' ' || from_name),
            search.fold(array_to_string(to_emails || cc_emails, ' ')),
            search.fold(array_to_string(cc_emails, ' ')),
            search.fold(array_to_string(attachment_names, E'\\n')),
            setweight(to_tsvector('search.responer_fold'::regconfig, subject), 'A')
            || setweight(to_tsvector('search.responer_fold'::regconfig, addresses), 'B')
            || setweight(to_tsvector('search.responer_fold'::regconfig, left(text, {n})), 'C')
            || setweight(to_tsvector('search.responer_fold'::regconfig,
                                     array_to_string(attachment_names, E'\\n')), 'D'),
            seq, arrived_at
        FROM search_load
        ON CONFLICT (tenant_id, message_id) {conflict}
        """
        ).format(n=sql.Literal(MAX_INDEXED_CHARS), conflict=conflict)
    )
    conn.execute(
        pg_schema.LEXICON_FROM_MESSAGES.format(
            join=sql.SQL("JOIN search_load l ON l.tenant_id = m.tenant_id AND l.message_id = m.message_id "),
            where=sql.SQL(""),
        )
    )
    if upsert:
        touched += conn.execute("SELECT DISTINCT tenant_id, thread_id FROM search_load").fetchall()
        refresh_threads(conn, touched)
    return n


def refresh_threads(conn: Connection, keys: list[tuple[str, str]]) -> None:
    """Thread aggregates of the given (tenant, thread) pairs, set-based."""
    if not keys:
        return
    conn.execute(
        """
        UPDATE search.threads t SET
            message_count = coalesce(s.n, 0), last_message_at = s.last,
            last_inbound_at = s.last_inbound,
            customer_email = c.from_email, customer_name = c.from_name
        FROM (SELECT DISTINCT * FROM unnest(%s::text[], %s::text[]) AS k(tenant_id, thread_id)) k
        LEFT JOIN LATERAL (
            SELECT count(*) AS n, max(date) AS last,
                   max(coalesce(arrived_at, date)) FILTER (WHERE direction = 'inbound') AS last_inbound
            FROM search.messages m
            WHERE m.tenant_id = k.tenant_id AND m.thread_id = k.thread_id
        ) s ON true
        LEFT JOIN LATERAL (
            SELECT from_email, from_name FROM search.messages m
            WHERE m.tenant_id = k.tenant_id AND m.thread_id = k.thread_id AND m.direction = 'inbound'
            ORDER BY date, seq, message_id LIMIT 1
        ) c ON true
        WHERE t.tenant_id = k.tenant_id AND t.thread_id = k.thread_id
        """,
        ([k[0] for k in keys], [k[1] for k in keys]),
    )


def refresh_all_threads(conn: Connection) -> None:
    """Thread aggregates (count, last activity, customer) from their messages, for every thread."""
    conn.execute(
        """
        UPDATE search.threads t SET
            message_count = s.n, last_message_at = s.last, last_inbound_at = s.last_inbound,
            customer_email = c.from_email, customer_name = c.from_name
        FROM (
            SELECT tenant_id, thread_id, count(*) AS n, max(date) AS last,
                   max(coalesce(arrived_at, date)) FILTER (WHERE direction = 'inbound') AS last_inbound
            FROM search.messages GROUP BY tenant_id, thread_id
        ) s
        LEFT JOIN (
            SELECT DISTINCT ON (tenant_id, thread_id) tenant_id, thread_id, from_email, from_name
            FROM search.messages WHERE direction = 'inbound'
            ORDER BY tenant_id, thread_id, date, seq, message_id
        ) c ON c.tenant_id = s.tenant_id AND c.thread_id = s.thread_id
        WHERE t.tenant_id = s.tenant_id AND t.thread_id = s.thread_id
        """
    )


@contextmanager
def without_text_indexes(conn: Connection) -> Iterator[None]:
    """Drop the text indexes for a bulk load and build them once at the end (autocommit connection)."""
    for name in _TEXT_INDEXES:
        conn.execute(f"DROP INDEX IF EXISTS search.{name}")
    try:
        yield
    finally:
        conn.execute("SET maintenance_work_mem = '512MB'")
        for ddl in _TEXT_INDEXES.values():
            conn.execute(ddl)
