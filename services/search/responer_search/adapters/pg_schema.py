"""The `search` schema: threads and messages read model with diacritic-folding full text.

Created idempotently at startup. Two replicas may start at once, and CREATE TEXT SEARCH
CONFIGURATION has no IF NOT EXISTS (and CREATE ... IF NOT EXISTS itself can still collide in the
catalog), so the whole DDL runs in one transaction under an advisory lock.
"""

from __future__ import annotations

from psycopg import Connection, sql
from responer_runtime.sqltracking import create_tracking_table

SCHEMA = "search"
TS_CONFIG = "search.responer_fold"
_LOCK_KEY = 0x5E_A4C4_0001  # advisory lock id for "search schema DDL"

_TABLES = """
CREATE TABLE IF NOT EXISTS search.threads (
    tenant_id         text NOT NULL,
    thread_id         text NOT NULL,
    number            bigint,
    subject           text,
    folder            text,            -- NULL until routing sorts the thread: listed in Inbox
    system            boolean NOT NULL DEFAULT false,
    system_reason     text NOT NULL DEFAULT '',
    system_kind       text NOT NULL DEFAULT '',
    status            text NOT NULL DEFAULT 'open',
    customer_email    text,            -- sender of the first inbound message
    customer_name     text,
    mailbox_id        text,
    message_count     integer NOT NULL DEFAULT 0,
    last_message_at   timestamptz,
    assignee_user_id  text,
    assignee_group_id text,
    merged_into       text,
    PRIMARY KEY (tenant_id, thread_id)
);
CREATE INDEX IF NOT EXISTS threads_by_folder ON search.threads
    (tenant_id, (coalesce(folder, 'Inbox')), last_message_at DESC, thread_id DESC)
    WHERE merged_into IS NULL AND message_count > 0;
CREATE INDEX IF NOT EXISTS threads_by_number ON search.threads (tenant_id, number);
CREATE INDEX IF NOT EXISTS threads_by_merge ON search.threads (tenant_id, merged_into)
    WHERE merged_into IS NOT NULL;

CREATE TABLE IF NOT EXISTS search.messages (
    tenant_id        text NOT NULL,
    message_id       text NOT NULL,
    thread_id        text NOT NULL,
    mailbox_id       text NOT NULL DEFAULT '',
    mailbox_address  text NOT NULL DEFAULT '',
    direction        text NOT NULL,    -- inbound | outbound
    rfc822_id        text NOT NULL DEFAULT '',
    subject          text NOT NULL DEFAULT '',
    from_email       text NOT NULL DEFAULT '',
    from_name        text NOT NULL DEFAULT '',
    to_emails        text[] NOT NULL DEFAULT '{}',
    cc_emails        text[] NOT NULL DEFAULT '{}',
    date             timestamptz NOT NULL,
    text             text NOT NULL DEFAULT '',
    attachment_names text[] NOT NULL DEFAULT '{}',
    mail             bytea NOT NULL,   -- serialized responer.events.v1.Mail
    from_folded      text NOT NULL DEFAULT '',
    to_folded        text NOT NULL DEFAULT '',
    tsv              tsvector NOT NULL,
    seq              bigint NOT NULL DEFAULT 0,  -- threading stream position: arrival order for ties
    PRIMARY KEY (tenant_id, message_id)
);
ALTER TABLE search.messages ADD COLUMN IF NOT EXISTS seq bigint NOT NULL DEFAULT 0;
-- issue 6: cc: and filename: fields, tags, priority and due dates; attachment names moved to weight D
-- (rows indexed before keep them in C until `responer search reindex`).
ALTER TABLE search.messages ADD COLUMN IF NOT EXISTS cc_folded text NOT NULL DEFAULT '';
ALTER TABLE search.messages ADD COLUMN IF NOT EXISTS files_folded text NOT NULL DEFAULT '';
-- The same mail seen in other mailboxes of the tenant (ThreadMailboxAdded): mailbox: finds it there too.
ALTER TABLE search.messages ADD COLUMN IF NOT EXISTS other_mailbox_ids text[] NOT NULL DEFAULT '{}';
ALTER TABLE search.messages ADD COLUMN IF NOT EXISTS other_mailbox_addresses text[] NOT NULL DEFAULT '{}';
ALTER TABLE search.threads ADD COLUMN IF NOT EXISTS tags text[] NOT NULL DEFAULT '{}';
ALTER TABLE search.threads ADD COLUMN IF NOT EXISTS tags_folded text[] NOT NULL DEFAULT '{}';
ALTER TABLE search.threads ADD COLUMN IF NOT EXISTS priority text NOT NULL DEFAULT '';
ALTER TABLE search.threads ADD COLUMN IF NOT EXISTS due_at timestamptz;
CREATE INDEX IF NOT EXISTS messages_by_thread ON search.messages (tenant_id, thread_id, date);
-- Tenant and words in one GIN index (btree_gin): a tenant's hits without a second bitmap over the
-- primary key. Big values (text, mail, tsvector) live out of line so the heap rows a search visits are
-- small and stay cached: measured 3-6x faster on 100k messages (docs/benchmarks.md).
DROP INDEX IF EXISTS search.messages_tsv;
-- The day of each message in the same GIN index (issue 6, 1M messages): newest-first search reads a
-- window of recent days, and with the day inside the index only that window's hits are fetched from
-- the heap (a common word's 20,000 hits elsewhere in the archive cost 280 ms, inside the index 20 ms).
ALTER TABLE search.messages ADD COLUMN IF NOT EXISTS day integer GENERATED ALWAYS AS (search.day(date)) STORED;
DROP INDEX IF EXISTS search.messages_tenant_tsv;
CREATE INDEX IF NOT EXISTS messages_tenant_day_tsv ON search.messages USING gin (tenant_id, day, tsv);
ALTER TABLE search.messages SET (toast_tuple_target = 1024);
ALTER TABLE search.messages ALTER COLUMN tsv SET STORAGE EXTERNAL;
CREATE INDEX IF NOT EXISTS messages_by_date ON search.messages (tenant_id, date DESC, message_id DESC);
-- from:/to: substrings by trigram, with the day inside the index for the same reason as the words.
DROP INDEX IF EXISTS search.messages_from_trgm;
DROP INDEX IF EXISTS search.messages_to_trgm;
CREATE INDEX IF NOT EXISTS messages_from_day_trgm ON search.messages USING gin (day, from_folded gin_trgm_ops);
CREATE INDEX IF NOT EXISTS messages_to_day_trgm ON search.messages USING gin (day, to_folded gin_trgm_ops);
CREATE INDEX IF NOT EXISTS threads_tags ON search.threads USING gin (tags_folded);
CREATE INDEX IF NOT EXISTS threads_by_assignee ON search.threads (tenant_id, assignee_user_id)
    WHERE assignee_user_id IS NOT NULL;

-- The thread's timeline beyond its messages: notes (searchable with note:), status, assignment,
-- tag and merge history. item_id is deterministic (the event id), so a replay rewrites the same row.
CREATE TABLE IF NOT EXISTS search.timeline (
    tenant_id  text NOT NULL,
    item_id    text NOT NULL,
    thread_id  text NOT NULL,
    kind       text NOT NULL,        -- note | status | assignment | tags | merge
    at         timestamptz NOT NULL,
    actor      text NOT NULL DEFAULT '',
    body       text NOT NULL DEFAULT '',
    detail     jsonb NOT NULL DEFAULT '{}',
    tsv        tsvector,             -- notes only
    seq        bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, item_id)
);
CREATE INDEX IF NOT EXISTS timeline_by_thread ON search.timeline (tenant_id, thread_id, at, seq);
CREATE INDEX IF NOT EXISTS timeline_tsv ON search.timeline USING gin (tsv) WHERE tsv IS NOT NULL;

-- Which timeline items a merge carried from its source to its target, so the undo takes them back.
CREATE TABLE IF NOT EXISTS search.merge_moves (
    tenant_id text NOT NULL,
    merge_id  text NOT NULL,
    item_id   text NOT NULL,
    PRIMARY KEY (tenant_id, merge_id, item_id)
);

-- Every word the messages were indexed with, so a prefix (the last word typed) becomes the exact
-- words it completes to: exact GIN entries are intersected inside the index, while a prefix (partial
-- match) collects every hit of every completion first (at 1M messages: 0.2 ms against 20 ms).
-- Shared by tenants: it only ever shapes a query, and a word of another tenant matches nothing.
CREATE TABLE IF NOT EXISTS search.lexemes (
    lexeme text COLLATE "C" PRIMARY KEY
);

-- Teams (GroupChanged), so group:billing finds threads assigned to the group named Billing.
CREATE TABLE IF NOT EXISTS search.groups (
    tenant_id   text NOT NULL,
    group_id    text NOT NULL,
    name        text NOT NULL DEFAULT '',
    name_folded text NOT NULL DEFAULT '',
    PRIMARY KEY (tenant_id, group_id)
);

-- Users of a tenant (UserAdded), so assignee:anna finds threads assigned to Anna.
CREATE TABLE IF NOT EXISTS search.users (
    tenant_id    text NOT NULL,
    user_id      text NOT NULL,
    name         text NOT NULL DEFAULT '',
    email        text NOT NULL DEFAULT '',
    name_folded  text NOT NULL DEFAULT '',
    email_folded text NOT NULL DEFAULT '',
    PRIMARY KEY (tenant_id, user_id)
);

-- Per-user unread state (ThreadRead, ThreadMarkedUnread from the gateway). A thread is unread for a
-- user when they marked it so, or when an inbound message arrived after they last opened it (no row:
-- never opened). arrived_at is when threading took a message in (NULL for rows indexed before it
-- existed: the message date stands in); our replies and notes never count.
ALTER TABLE search.messages ADD COLUMN IF NOT EXISTS arrived_at timestamptz;
CREATE TABLE IF NOT EXISTS search.reads (
    tenant_id     text NOT NULL,
    user_id       text NOT NULL,
    thread_id     text NOT NULL,
    read_at       timestamptz,
    marked_unread boolean NOT NULL DEFAULT false,
    PRIMARY KEY (tenant_id, user_id, thread_id)
);
-- The newest inbound arrival of each thread (coalesce(arrived_at, date) of its inbound messages), kept
-- with the thread aggregates: unread is then one LEFT JOIN of a thread with the user's reads row (see
-- UNREAD below) instead of a look at the thread's messages per thread.
ALTER TABLE search.threads ADD COLUMN IF NOT EXISTS last_inbound_at timestamptz;
-- Kept for anything that still asks per thread (an older replica during a rollout); the same rule.
CREATE OR REPLACE FUNCTION search.unread(p_tenant text, p_thread text, p_user text)
RETURNS boolean LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce((
        SELECT coalesce(r.marked_unread, false)
            OR coalesce(t.last_inbound_at > coalesce(r.read_at, '-infinity'::timestamptz), false)
        FROM search.threads t LEFT JOIN search.reads r
            ON r.tenant_id = t.tenant_id AND r.user_id = p_user AND r.thread_id = t.thread_id
        WHERE t.tenant_id = p_tenant AND t.thread_id = p_thread), false)
$$;
"""

# Unread for the user of the reads row `r` LEFT JOINed to thread `t` (no row: never opened): marked so,
# or an inbound message arrived after they last opened it. Never NULL, so NOT gives is:read.
UNREAD = sql.SQL(
    "(coalesce(r.marked_unread, false) "
    "OR coalesce(t.last_inbound_at > coalesce(r.read_at, '-infinity'::timestamptz), false))"
)


def reads_join(user: sql.Composable) -> sql.Composable:
    """LEFT JOIN of the reads row `r` of `user` (a placeholder) to thread `t`."""
    return sql.SQL(
        "LEFT JOIN search.reads r ON r.tenant_id = t.tenant_id AND r.thread_id = t.thread_id "
        "AND r.user_id = {}"
    ).format(user)


# last_inbound_at of every thread with inbound mail, once, when the column is added.
_BACKFILL_LAST_INBOUND = """
UPDATE search.threads t SET last_inbound_at = s.at
FROM (
    SELECT tenant_id, thread_id, max(coalesce(arrived_at, date)) AS at FROM search.messages
    WHERE direction = 'inbound' GROUP BY tenant_id, thread_id
) s
WHERE t.tenant_id = s.tenant_id AND t.thread_id = s.thread_id
"""


# New words of some messages (`join`/`where` pick rows of search.messages m), in one order so that concurrent
# loaders wait for each other instead of deadlocking.
LEXICON_FROM_MESSAGES = sql.SQL(
    "INSERT INTO search.lexemes (lexeme) SELECT DISTINCT x FROM search.messages m {join}"
    "CROSS JOIN LATERAL unnest(tsvector_to_array(m.tsv)) AS x {where} ORDER BY x ON CONFLICT DO NOTHING"
)


def ensure_schema(conn: Connection) -> None:
    """Runs in the caller's transaction (commit it)."""
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
    conn.execute("CREATE SCHEMA IF NOT EXISTS search")
    conn.execute("CREATE EXTENSION IF NOT EXISTS unaccent")
    conn.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")  # indexed substring match for from:/to:
    conn.execute("CREATE EXTENSION IF NOT EXISTS btree_gin")  # tenant_id inside the text GIN index
    row = conn.execute(
        "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
        "WHERE e.extname = 'unaccent'"
    ).fetchone()
    assert row is not None
    unaccent_schema = sql.Identifier(row[0])
    exists = conn.execute(
        "SELECT 1 FROM pg_ts_config c JOIN pg_namespace n ON n.oid = c.cfgnamespace "
        "WHERE n.nspname = 'search' AND c.cfgname = 'responer_fold'"
    ).fetchone()
    if exists is None:
        conn.execute("CREATE TEXT SEARCH CONFIGURATION search.responer_fold (COPY = pg_catalog.simple)")
    # Every token type that may hold non-ASCII letters folds: "żółw2" is a numword, not a word.
    conn.execute(
        sql.SQL(
            "ALTER TEXT SEARCH CONFIGURATION search.responer_fold ALTER MAPPING FOR "
            "hword, hword_part, word, numword, numhword, hword_numpart WITH {}.unaccent, pg_catalog.simple"
        ).format(unaccent_schema)
    )
    # unaccent() is only STABLE (its dictionary could change), hence a function and not a generated
    # column: the folded columns and the tsvector are computed by the INSERT.
    conn.execute(
        sql.SQL(
            "CREATE OR REPLACE FUNCTION search.fold(text) RETURNS text LANGUAGE sql STABLE PARALLEL SAFE "
            "AS $$ SELECT lower({s}.unaccent({dict}::regdictionary, coalesce($1, ''))) $$"
        ).format(s=unaccent_schema, dict=sql.Literal(f"{row[0]}.unaccent"))
    )
    # Days since the epoch: the same for every time zone, hence IMMUTABLE (a generated column).
    conn.execute(
        "CREATE OR REPLACE FUNCTION search.day(timestamptz) RETURNS integer LANGUAGE sql IMMUTABLE "
        "PARALLEL SAFE AS $$ SELECT floor(extract(epoch FROM $1) / 86400)::integer $$"
    )
    new_lexicon = conn.execute("SELECT to_regclass('search.lexemes') IS NULL").fetchone()[0]
    had_last_inbound = conn.execute(
        "SELECT 1 FROM information_schema.columns WHERE table_schema = 'search' "
        "AND table_name = 'threads' AND column_name = 'last_inbound_at'"
    ).fetchone()
    conn.execute(_TABLES)
    if had_last_inbound is None:  # the column is new here: fill it once from what is indexed
        conn.execute(_BACKFILL_LAST_INBOUND)
    if new_lexicon:  # a database from before the lexicon: fill it once from what is indexed
        conn.execute(LEXICON_FROM_MESSAGES.format(join=sql.SQL(""), where=sql.SQL("")))
    create_tracking_table(conn, SCHEMA)
