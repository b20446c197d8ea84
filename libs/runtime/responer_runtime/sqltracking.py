"""Tracking for plain-SQL read models: the view change and the consumed position in one transaction."""

from __future__ import annotations

from eventsourcing.persistence import Tracking
from psycopg import Connection, sql

DDL = """
CREATE TABLE IF NOT EXISTS {schema}.tracking (
    upstream text PRIMARY KEY,
    position bigint NOT NULL
)
"""


def create_tracking_table(conn: Connection, schema: str) -> None:
    conn.execute(sql.SQL(DDL).format(schema=sql.Identifier(schema)))


def claim(conn: Connection, schema: str, tracking: Tracking) -> bool:
    """Inside the caller's transaction: records the position and returns True when it is new.

    Returns False (and changes nothing) for a position at or below the stored one: a redelivery.
    The row lock taken by the upsert serialises two replicas handling the same upstream.
    """
    row = conn.execute(
        sql.SQL(
            "INSERT INTO {schema}.tracking (upstream, position) VALUES (%s, %s) "
            "ON CONFLICT (upstream) DO UPDATE SET position = EXCLUDED.position "
            "WHERE {schema}.tracking.position < EXCLUDED.position RETURNING position"
        ).format(schema=sql.Identifier(schema)),
        (tracking.application_name, tracking.notification_id),
    ).fetchone()
    return row is not None
