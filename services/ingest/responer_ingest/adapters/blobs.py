"""The blob store port and its PostgreSQL default: raw MIME and attachments, stored once by sha256."""

from __future__ import annotations

import hashlib
from typing import Protocol

from psycopg_pool import ConnectionPool

DDL = """
CREATE TABLE IF NOT EXISTS ingest.blobs (
    sha256 text PRIMARY KEY,
    size bigint NOT NULL,
    data bytea NOT NULL,
    stored_at timestamptz NOT NULL DEFAULT now()
)
"""


class BlobStore(Protocol):
    def put(self, data: bytes) -> str: ...
    def get(self, sha256: str) -> bytes | None: ...


class PostgresBlobStore:
    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool
        with self.pool.connection() as conn:
            conn.execute(DDL)

    def put(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        with self.pool.connection() as conn:
            conn.execute(
                "INSERT INTO ingest.blobs (sha256, size, data) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
                (digest, len(data), data),
            )
        return digest

    def get(self, sha256: str) -> bytes | None:
        with self.pool.connection() as conn:
            row = conn.execute("SELECT data FROM ingest.blobs WHERE sha256 = %s", (sha256,)).fetchone()
        return bytes(row[0]) if row else None
