"""Builds the eventsourcing environment (PostgreSQL, one schema per service) from settings."""

from __future__ import annotations

import psycopg
from psycopg import sql


def ensure_schema(*, host: str, port: int, dbname: str, user: str, password: str, schema: str) -> None:
    with psycopg.connect(
        host=host, port=port, dbname=dbname, user=user, password=password, autocommit=True
    ) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))


def eventsourcing_env(
    *, host: str, port: int, dbname: str, user: str, password: str, schema: str, pool_size: int = 3
) -> dict[str, str]:
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": dbname,
        "POSTGRES_HOST": host,
        "POSTGRES_PORT": str(port),
        "POSTGRES_USER": user,
        "POSTGRES_PASSWORD": password,
        "POSTGRES_SCHEMA": schema,
        "POSTGRES_POOL_SIZE": str(pool_size),
        # A stack of six services must stay far below PostgreSQL's default max_connections (100).
        "POSTGRES_MAX_OVERFLOW": "2",
        "CREATE_TABLE": "y",
    }
