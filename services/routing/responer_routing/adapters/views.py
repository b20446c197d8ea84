"""Routing's query tables next to its event store (schema `routing`): disposable, derived state.

- thread_index: each conversation's routing state for the scheduler (deadlines, assignment
  timeouts) and the "unanswered" view. Written after each save from the aggregate, guarded by the
  aggregate's version so a slower replica never overwrites newer state.
- recent_mail: what rules look at, for the last messages of each tenant (trying a rule).
- notifications: what was raised for a user (SLA warnings, breaches), readable through the API.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from responer_routing.domain.filing import ThreadFiling

KEEP_RECENT = 500

DDL = """
CREATE TABLE IF NOT EXISTS {s}.thread_index (
    tenant_id text NOT NULL,
    thread_id text NOT NULL,
    version bigint NOT NULL,
    folder text, user_id text, group_id text, priority text, tags text[], subject text, from_email text,
    deadline_kind text, due_at timestamptz, warn_at timestamptz, warned boolean, overdue boolean,
    timeout_at timestamptz, closed boolean, system boolean,
    last_inbound_at timestamptz, last_reply_at timestamptz,
    PRIMARY KEY (tenant_id, thread_id)
);
ALTER TABLE {s}.thread_index ADD COLUMN IF NOT EXISTS merged_into text;
CREATE INDEX IF NOT EXISTS thread_index_due ON {s}.thread_index (due_at) WHERE due_at IS NOT NULL AND NOT overdue;
CREATE INDEX IF NOT EXISTS thread_index_timeout ON {s}.thread_index (timeout_at) WHERE timeout_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS {s}.recent_mail (
    tenant_id text NOT NULL,
    message_id text NOT NULL,
    thread_id text NOT NULL,
    at timestamptz NOT NULL,
    facts jsonb NOT NULL,
    PRIMARY KEY (tenant_id, message_id)
);
CREATE INDEX IF NOT EXISTS recent_mail_at ON {s}.recent_mail (tenant_id, at DESC);
CREATE TABLE IF NOT EXISTS {s}.notifications (
    notification_id text PRIMARY KEY,
    tenant_id text NOT NULL,
    user_id text NOT NULL,
    thread_id text NOT NULL,
    kind text NOT NULL,
    text text NOT NULL,
    at timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS {s}.contacts (
    tenant_id text NOT NULL,
    contact_id text NOT NULL,
    email text NOT NULL,
    name text NOT NULL,
    organisation text NOT NULL,
    last_seen timestamptz,
    PRIMARY KEY (tenant_id, contact_id)
);
CREATE INDEX IF NOT EXISTS notifications_user ON {s}.notifications (tenant_id, user_id, at DESC);
"""

COLUMNS = (
    "version", "folder", "user_id", "group_id", "priority", "tags", "subject", "from_email", "deadline_kind",
    "due_at", "warn_at", "warned", "overdue", "timeout_at", "closed", "system", "last_inbound_at", "last_reply_at", "merged_into",
)  # fmt: skip


class PostgresViews:
    def __init__(self, conninfo: str, schema: str = "routing") -> None:
        self.schema = schema
        self.pool = ConnectionPool(conninfo, min_size=1, max_size=3, open=True, kwargs={"autocommit": True})
        with self.pool.connection() as conn:
            # Two replicas starting at once would race on CREATE TABLE IF NOT EXISTS.
            conn.execute("SELECT pg_advisory_lock(hashtext('responer-routing-ddl'))")
            try:
                conn.execute(sql.SQL(DDL).format(s=sql.Identifier(schema)))  # type: ignore[arg-type]
            finally:
                conn.execute("SELECT pg_advisory_unlock(hashtext('responer-routing-ddl'))")

    def _t(self, table: str) -> sql.Composed:
        return sql.SQL("{}.{}").format(sql.Identifier(self.schema), sql.Identifier(table))

    def close(self) -> None:
        self.pool.close()

    # -- writes --------------------------------------------------------------------------------
    def thread_changed(self, filing: ThreadFiling, timeout_at: datetime | None) -> None:
        d = filing.deadline or {}
        row = {
            "version": filing.version,
            "folder": filing.folder,
            "user_id": filing.user_id,
            "group_id": filing.group_id,
            "priority": filing.priority,
            "tags": list(filing.tags),
            "subject": filing.subject,
            "from_email": filing.from_email,
            "deadline_kind": d.get("kind"),
            "due_at": d.get("due_at"),
            "warn_at": d.get("warn_at"),
            "warned": bool(d.get("warned")),
            "overdue": bool(d.get("overdue")),
            "timeout_at": timeout_at,
            "closed": filing.closed,
            "system": filing.system,
            "last_inbound_at": filing.last_inbound_at,
            "last_reply_at": filing.last_reply_at,
            "merged_into": filing.merged_into or None,
        }
        cols = sql.SQL(", ").join(sql.Identifier(c) for c in COLUMNS)
        vals = sql.SQL(", ").join(sql.Placeholder(c) for c in COLUMNS)
        sets = sql.SQL(", ").join(sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(c)) for c in COLUMNS)
        query = sql.SQL(
            "INSERT INTO {t} (tenant_id, thread_id, {cols}) VALUES (%(tenant_id)s, %(thread_id)s, {vals}) "
            "ON CONFLICT (tenant_id, thread_id) DO UPDATE SET {sets} WHERE {t}.version < EXCLUDED.version"
        ).format(t=self._t("thread_index"), cols=cols, vals=vals, sets=sets)
        with self.pool.connection() as conn:
            conn.execute(query, {**row, "tenant_id": filing.tenant_id, "thread_id": filing.thread_id})

    def remember_mail(
        self, tenant_id: str, thread_id: str, message_id: str, at: datetime, facts: dict
    ) -> None:
        with self.pool.connection() as conn:
            conn.execute(
                sql.SQL(
                    "INSERT INTO {t} (tenant_id, message_id, thread_id, at, facts) VALUES (%s, %s, %s, %s, %s) "
                    "ON CONFLICT DO NOTHING"
                ).format(t=self._t("recent_mail")),
                (tenant_id, message_id, thread_id, at, Jsonb(facts)),
            )
            # Keep about the last KEEP_RECENT per tenant; prune now and then, not on every insert.
            if hash(message_id) % 50 == 0:
                conn.execute(
                    sql.SQL(
                        "DELETE FROM {t} WHERE tenant_id = %s AND at < (SELECT at FROM {t} WHERE tenant_id = %s "
                        "ORDER BY at DESC OFFSET %s LIMIT 1)"
                    ).format(t=self._t("recent_mail")),
                    (tenant_id, tenant_id, KEEP_RECENT),
                )

    def notify(self, tenant_id: str, notification_id: str, user_id: str, thread_id: str, kind: str, text: str, at: datetime) -> None:  # fmt: skip
        with self.pool.connection() as conn:
            conn.execute(
                sql.SQL("INSERT INTO {t} VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING").format(
                    t=self._t("notifications")
                ),
                (notification_id, tenant_id, user_id, thread_id, kind, text, at),
            )

    def contact_changed(self, tenant_id: str, contact_id: str, email: str, name: str, organisation: str, last_seen: datetime) -> None:  # fmt: skip
        with self.pool.connection() as conn:
            conn.execute(
                sql.SQL(
                    "INSERT INTO {t} VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (tenant_id, contact_id) DO UPDATE "
                    "SET name = EXCLUDED.name, organisation = EXCLUDED.organisation, "
                    "last_seen = greatest({t}.last_seen, EXCLUDED.last_seen)"
                ).format(t=self._t("contacts")),
                (tenant_id, contact_id, email, name, organisation, last_seen),
            )

    def contact_ids(self, tenant_id: str, query: str, limit: int) -> list[str]:
        like = f"%{query.strip().lower()}%"
        with self.pool.connection() as conn:
            rows = conn.execute(
                sql.SQL(
                    "SELECT contact_id FROM {t} WHERE tenant_id = %s AND (lower(email) LIKE %s OR lower(name) LIKE %s "
                    "OR lower(organisation) LIKE %s) ORDER BY last_seen DESC NULLS LAST LIMIT %s"
                ).format(t=self._t("contacts")),
                (tenant_id, like, like, like, limit),
            ).fetchall()
        return [r[0] for r in rows]

    # -- reads ---------------------------------------------------------------------------------
    def recent(self, tenant_id: str, last: int) -> list[tuple[str, str, datetime, dict[str, Any]]]:
        """The last `last` threads' latest inbound message each, newest first."""
        with self.pool.connection() as conn:
            rows = conn.execute(
                sql.SQL(
                    "SELECT thread_id, message_id, at, facts FROM ("
                    " SELECT DISTINCT ON (thread_id) thread_id, message_id, at, facts FROM {t}"
                    " WHERE tenant_id = %s ORDER BY thread_id, at DESC) latest ORDER BY at DESC LIMIT %s"
                ).format(t=self._t("recent_mail")),
                (tenant_id, last),
            ).fetchall()
        out = []
        for thread_id, message_id, at, facts in rows:
            data = facts if isinstance(facts, dict) else json.loads(facts)
            data["tenant_id"] = tenant_id
            out.append((thread_id, message_id, at, data))
        return out

    def due(self, now: datetime, limit: int = 200) -> list[tuple[str, str]]:
        """Threads whose warning or deadline time has come (and that are not marked yet)."""
        with self.pool.connection() as conn:
            rows = conn.execute(
                sql.SQL(
                    "SELECT tenant_id, thread_id FROM {t} WHERE due_at IS NOT NULL AND NOT overdue AND "
                    "(due_at <= %s OR (NOT warned AND warn_at <= %s)) ORDER BY due_at LIMIT %s"
                ).format(t=self._t("thread_index")),
                (now, now, limit),
            ).fetchall()
        return [(r[0], r[1]) for r in rows]

    def timed_out(self, now: datetime, limit: int = 200) -> list[tuple[str, str]]:
        with self.pool.connection() as conn:
            rows = conn.execute(
                sql.SQL(
                    "SELECT tenant_id, thread_id FROM {t} WHERE timeout_at <= %s ORDER BY timeout_at LIMIT %s"
                ).format(t=self._t("thread_index")),
                (now, limit),
            ).fetchall()
        return [(r[0], r[1]) for r in rows]

    def unanswered(self, tenant_id: str, user_id: str = "", overdue_only: bool = False, limit: int = 100) -> list[dict[str, Any]]:  # fmt: skip
        """Open customer conversations waiting for our answer, the most urgent deadline first."""
        where = [
            sql.SQL("tenant_id = %(tenant)s"),
            sql.SQL("NOT coalesce(closed, false)"),
            sql.SQL("NOT coalesce(system, false)"),
            sql.SQL("last_inbound_at IS NOT NULL"),
            sql.SQL("merged_into IS NULL"),  # a merged thread is listed as its target
            sql.SQL("(last_reply_at IS NULL OR last_reply_at < last_inbound_at)"),
        ]
        if user_id:
            where.append(sql.SQL("user_id = %(user)s"))
        if overdue_only:
            where.append(sql.SQL("overdue"))
        query = sql.SQL(
            "SELECT * FROM {t} WHERE {w} ORDER BY due_at NULLS LAST, last_inbound_at LIMIT %(limit)s"
        ).format(t=self._t("thread_index"), w=sql.SQL(" AND ").join(where))
        with self.pool.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            return cur.execute(query, {"tenant": tenant_id, "user": user_id, "limit": limit}).fetchall()

    def notifications(self, tenant_id: str, user_id: str = "", limit: int = 50) -> list[dict[str, Any]]:
        cond = sql.SQL("AND user_id = %(user)s") if user_id else sql.SQL("")
        query = sql.SQL(
            "SELECT * FROM {t} WHERE tenant_id = %(tenant)s {c} ORDER BY at DESC LIMIT %(limit)s"
        ).format(t=self._t("notifications"), c=cond)
        with self.pool.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            return cur.execute(query, {"tenant": tenant_id, "user": user_id, "limit": limit}).fetchall()

    def contact_threads(self, tenant_id: str, thread_ids: list[str]) -> list[dict[str, Any]]:
        with self.pool.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            return cur.execute(
                sql.SQL(
                    "SELECT * FROM {t} WHERE tenant_id = %s AND thread_id = ANY(%s) AND merged_into IS NULL "
                    "ORDER BY last_inbound_at DESC"
                ).format(t=self._t("thread_index")),
                (tenant_id, thread_ids),
            ).fetchall()
