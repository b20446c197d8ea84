"""How long `is:unread` takes over a large folder (PostgreSQL read model).

Loads THREADS threads (a customer message, our reply, and for every third thread a second customer
message) for one tenant into a database of its own (never a bench_search_* one), gives one agent a
realistic reading (40% opened after the last message, 20% before it, 5% marked unread, the rest never
opened), then times the Inbox list with `is:unread`, `is:read`, a plain list with the per-row flag,
and a search `is:unread`, and checks the unread count against the reading it made.

    .venv/bin/python bench/unread_filter.py [--threads 20000] [--reuse] [--rounds 15]

--reuse keeps the loaded database (to time the same data after a schema change: ensure_schema runs
every time, so a new column is added and backfilled here exactly as on a deployed database).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg_pool import ConnectionPool
from responer_search.adapters import pg_bulk
from responer_search.adapters.pg_backend import PostgresSearchBackend
from responer_search.domain.model import INBOX, MessageDoc, SearchOptions
from responer_search.domain.query import parse

DB = "responer_unread_filter"
TENANT = "7d3c0e8e-2a0f-4c57-9a52-0f5b3c1d2e11"
USER = "agent-anna"
T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


def conninfo(dbname: str) -> str:
    host = os.environ.get("RESPONER_DEV_PG_HOST", "127.0.0.1")
    port = os.environ.get("RESPONER_DEV_PG_PORT", "5432")
    return f"host={host} port={port} user=postgres dbname={dbname}"


def doc(thread: str, number: int, k: int, inbound: bool, at: datetime) -> MessageDoc:
    return MessageDoc(
        tenant_id=TENANT,
        message_id=f"{thread}-{k}",
        thread_id=thread,
        thread_number=number,
        thread_subject=f"Order {number}",
        mailbox_id="mb-1",
        mailbox_address="help@shop.test",
        inbound=inbound,
        rfc822_id=f"<{thread}-{k}@x>",
        subject=f"Order {number}",
        from_email="ola@klient.pl" if inbound else "agent@shop.test",
        from_name="Ola" if inbound else "Agent",
        to_emails=("help@shop.test",),
        cc_emails=(),
        at=at,
        text=f"Where is my order {number}? Please check the parcel.",
        attachment_names=(),
        mail=b"",
        arrived_at=at + timedelta(seconds=30),
    )


def load(threads: int) -> int:
    """Loads the corpus; returns how many threads should be unread for USER."""
    rng = random.Random(7)
    docs, reads, expected = [], [], 0
    for i in range(threads):
        thread = str(uuid.UUID(int=rng.getrandbits(128)))
        start = T0 + timedelta(minutes=7 * i)
        docs.append((doc(thread, i + 1, 0, True, start), 0))
        docs.append((doc(thread, i + 1, 1, False, start + timedelta(hours=1)), 0))
        last_inbound = start + timedelta(seconds=30)
        if i % 3 == 0:
            docs.append((doc(thread, i + 1, 2, True, start + timedelta(hours=2)), 0))
            last_inbound = start + timedelta(hours=2, seconds=30)
        roll = rng.random()
        if roll < 0.40:
            reads.append((thread, last_inbound + timedelta(minutes=5), False))
        elif roll < 0.60:
            reads.append((thread, start + timedelta(minutes=1), False))
            expected += last_inbound > start + timedelta(minutes=1)
        elif roll < 0.65:
            reads.append((thread, last_inbound + timedelta(minutes=5), True))
            expected += 1
        else:
            expected += 1
    with psycopg.connect(conninfo(DB), autocommit=True) as conn:
        with conn.transaction():
            for n in range(0, len(docs), 5000):
                pg_bulk.load_messages(conn, [(d, n + j) for j, (d, _) in enumerate(docs[n : n + 5000])])
            pg_bulk.refresh_all_threads(conn)
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO search.reads (tenant_id, user_id, thread_id, read_at, marked_unread) "
                "VALUES (%s, %s, %s, %s, %s)",
                [(TENANT, USER, t, at, marked) for t, at, marked in reads],
            )
        conn.execute("ANALYZE")
    return expected


def timed(fn, rounds: int) -> tuple[float, float, object]:  # noqa: ANN001
    fn()  # warm
    times, result = [], None
    for _ in range(rounds):
        t = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1], result


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=20_000)
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--reuse", action="store_true")
    args = ap.parse_args()
    with psycopg.connect(conninfo("postgres"), autocommit=True) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DB,)).fetchone()
        if not (args.reuse and exists):
            admin.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{DB}"')
            exists = None
    pool = ConnectionPool(conninfo(DB), min_size=1, max_size=2, open=True)
    backend = PostgresSearchBackend(pool)
    t = time.perf_counter()
    backend.ensure_schema()
    print(f"ensure_schema {(time.perf_counter() - t) * 1000:.0f} ms")
    if not exists:
        t = time.perf_counter()
        expected = load(args.threads)
        print(f"loaded {args.threads} threads in {time.perf_counter() - t:.1f} s")
    else:
        expected = -1
    unread, read = parse("is:unread"), parse("is:read")
    cases = {
        "list Inbox is:unread (page 50 + total)": lambda: backend.list_threads(
            TENANT, INBOX, 50, filter=unread, user_id=USER
        ),  # fmt: skip
        "list Inbox is:read (page 50 + total)": lambda: backend.list_threads(
            TENANT, INBOX, 50, filter=read, user_id=USER
        ),  # fmt: skip
        "list Inbox, unread flag per row": lambda: backend.list_threads(TENANT, INBOX, 50, user_id=USER),
        "search is:unread (page 50)": lambda: backend.search(
            TENANT, unread, 50, options=SearchOptions(user_id=USER)
        ),  # fmt: skip
    }
    for name, fn in cases.items():
        p50, p95, page = timed(fn, args.rounds)
        total = getattr(page, "total", None)
        print(f"{name:42s} p50 {p50:8.1f} ms  p95 {p95:8.1f} ms  total={total}")
    page = backend.list_threads(TENANT, INBOX, 50, filter=unread, user_id=USER)
    flagged = backend.list_threads(TENANT, INBOX, 50, user_id=USER)
    print(f"unread total {page.total} (expected {expected if expected >= 0 else 'n/a, reused'}); "
          f"flags on the first plain page: {sum(t.unread for t in flagged.threads)}/50")  # fmt: skip
    pool.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
