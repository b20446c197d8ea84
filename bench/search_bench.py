"""Search at scale (issue 6): indexing throughput and query latency on PostgreSQL, next to notmuch.

    SIZE=100000 make bench-search        # or: .venv/bin/python bench/search_bench.py --size 100000

1. Corpus: ../shared/bench/gen_corpus.py --count SIZE --seed 42 writes a Maildir + truth once into the
   cache dir (BENCH_CACHE, default ~/.cache/responer-bench); later runs reuse it.
2. Events: every message is parsed by ingest's parse_mail and becomes the MessageThreaded event the
   search service consumes (thread = the truth's conversation); cached next to the corpus.
3. Indexing, real code path: the first INDEX_SAMPLE events through the service's batch handler (200
   events per transaction, as the consumer hands them) and, for the ratio, 1,000 through the
   one-transaction-per-event handler. Then the rest with the bulk path (COPY + set-based INSERT,
   text indexes built once) that `responer search reindex` of a large corpus would use.
4. Queries: a fixed mix of 20 queries (words, folding, phrases, prefixes, fields, negation, OR, dates)
   against the largest tenant, each run ROUNDS times after one warm-up, first page of 50 threads with
   the total count, newest first: p50/p95/p99. A second pass adds facets (counts per folder, tag and
   assignee), as the web UI asks on a first page.
5. notmuch: `notmuch new` over the same Maildir (timed), then the same queries (notmuch syntax,
   accented words since notmuch does not fold) through its Python bindings in one process, first 50
   threads newest first plus the message count. notmuch searches all four tenants' mail; PostgreSQL
   one tenant's (about 40% of it).

Ends with one JSON line: {"messages", "index_per_s", "p50_ms", "p95_ms", "p99_ms", "notmuch_p95_ms", ...}.
Exit status 1 when p95 misses GOAL_P95_MS. PostgreSQL: RESPONER_DEV_PG_HOST/PORT (default 127.0.0.1:5432).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import struct
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

GOAL_P95_MS = 50.0
INDEX_SAMPLE = 20_000
ROOT = Path(__file__).resolve().parents[1]
GEN = ROOT.parent / "shared" / "bench" / "gen_corpus.py"
NS = uuid.UUID("6c1f3d52-8a44-4f0e-9a55-0b1e5e7c0c01")
TENANT = "domowyzakatek"

# (PostgreSQL query language, notmuch query): the same question in each.
MIX = [
    ("reklamacja", "reklamacja"),
    ("zamowienie", "zamówienie"),
    ('"gdzie jest moja paczka"', '"gdzie jest moja paczka"'),
    ("from:wp.pl", "from:wp.pl"),
    ("subject:faktura", "subject:faktura"),
    ("czajnik elektryczny", "czajnik and elektryczny"),
    ("zwrot -przesylka", "zwrot and not przesyłka"),
    ("reklamacja OR uszkodzenie", "reklamacja or uszkodzenie"),
    ("fakt", "fakt*"),
    ("kowalski", "kowalski"),
    ("has:attachment zwrot", "tag:attachment and zwrot"),
    ("odkurzacz after:2026-01-10", "odkurzacz and date:2026-01-10.."),
    ("potwierdzenie zamowienia", "potwierdzenie and zamówienia"),
    ("undelivered", "undelivered"),
    ("from:gmail.com subject:zwrot", "from:gmail.com and subject:zwrot"),
    ("lampa", "lampa"),
    ("platnosci OR faktura", "płatności or faktura"),
    ('"ekspres cisnieniowy"', '"ekspres ciśnieniowy"'),
    ("nie dziala", "nie and działa"),
    ("to:zwroty@domowyzakatek.pl", "to:zwroty@domowyzakatek.pl"),
]

NOTMUCH_RUNNER = r"""
import json, sys, time
import notmuch2
db = notmuch2.Database(sys.argv[1], mode=notmuch2.Database.MODE.READ_ONLY)
queries, rounds = json.loads(sys.argv[2]), int(sys.argv[3])
out = []
for r in range(rounds + 1):
    for q in queries:
        t = time.perf_counter()
        threads = db.threads(q, sort=notmuch2.Database.SORT.NEWEST_FIRST)
        n = 0
        for th in threads:
            th.subject; th.last
            n += 1
            if n >= 50:
                break
        db.count_messages(q)
        if r:
            out.append((q, (time.perf_counter() - t) * 1000, n))
print(json.dumps(out))
"""


def log(*args: object) -> None:
    print(*args, file=sys.stderr, flush=True)


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    k = min(len(values) - 1, max(0, int(round(p / 100 * len(values) + 0.5)) - 1))
    return values[k]


# -- corpus and events ------------------------------------------------------------------------------


def corpus(cache: Path, size: int) -> Path:
    d = cache / f"corpus-{size}"
    if (d / "done").exists():
        return d
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    log(f"generating {size} messages into {d} (once) ...")
    t = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            str(GEN),
            "--count",
            str(size),
            "--seed",
            "42",
            "--maildir",
            str(d / "Maildir"),
            "--truth",
            str(d / "truth.jsonl"),
            "--quiet",
        ],
        check=True,
    )
    (d / "done").write_text(f"{time.perf_counter() - t:.1f}\n")
    return d


def _event(args: tuple[str, dict, int, str]) -> bytes:
    from responer.events.v1 import events_pb2, mail_pb2
    from responer_events import encode
    from responer_ingest.adapters.mail_mapping import to_mail_proto
    from responer_ingest.domain import parse_mail

    maildir, truth, number, thread_id = args
    raw = (Path(maildir) / truth["file"]).read_bytes()
    mail = to_mail_proto(parse_mail(raw))
    if truth["kind"] == "agent_reply":
        mail.direction = mail_pb2.DIRECTION_OUTBOUND
    event = events_pb2.MessageThreaded(
        message_id=str(uuid.uuid5(NS, truth["message_id"])),
        tenant_id=truth["tenant"],
        thread_id=thread_id,
        thread_number=number,
        mailbox_id=truth["mailbox"],
        mailbox_address=truth["mailbox"],
        signal="bench",
        mail=mail,
        thread_subject=mail.subject,
    )
    # The event happens when the mail arrives: the Maildir name starts with the arrival time. Without
    # it every message dated after the moment of the run would be indexed as arriving now.
    arrived = datetime.fromtimestamp(int(Path(truth["file"]).name.split(".")[0]), UTC)
    envelope = encode(
        event, tenant_id=truth["tenant"], aggregate_id=thread_id, aggregate_version=1, occurred_at=arrived
    )
    return envelope.SerializeToString()


def events(d: Path) -> Path:
    path = d / "events.bin"
    if path.exists():
        return path
    log("parsing the corpus into MessageThreaded events (once) ...")
    numbers: dict[str, int] = {}
    next_number: dict[str, int] = {}
    jobs = []
    with open(d / "truth.jsonl") as f:
        for line in f:
            t = json.loads(line)
            key = t["thread_key"]
            if key not in numbers:
                next_number[t["tenant"]] = next_number.get(t["tenant"], 1000) + 1
                numbers[key] = next_number[t["tenant"]]
            jobs.append((str(d / "Maildir"), t, numbers[key], str(uuid.uuid5(NS, key))))
    tmp = path.with_suffix(".tmp")
    started = time.perf_counter()
    with open(tmp, "wb") as out, multiprocessing.Pool(os.cpu_count() or 2) as pool:
        for i, blob in enumerate(pool.imap(_event, jobs, chunksize=256), 1):
            out.write(struct.pack(">I", len(blob)) + blob)
            if i % 20000 == 0:
                log(f"  {i} parsed ({i / (time.perf_counter() - started):.0f}/s)")
    tmp.rename(path)
    return path


def read_events(path: Path):  # noqa: ANN201
    from responer_events import decode

    with open(path, "rb") as f:
        while head := f.read(4):
            (n,) = struct.unpack(">I", head)
            yield decode(f.read(n))


# -- PostgreSQL ----------------------------------------------------------------------------------------


def pg_database(size: int) -> str:
    import psycopg

    host = os.environ.get("RESPONER_DEV_PG_HOST", "127.0.0.1")
    port = os.environ.get("RESPONER_DEV_PG_PORT", "5432")
    admin = f"host={host} port={port} user=postgres dbname=postgres"
    name = f"bench_search_{size}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
        fsync = conn.execute("SHOW fsync").fetchone()[0]
    log(f"PostgreSQL {host}:{port}/{name} (fsync={fsync})")
    return f"host={host} port={port} user=postgres dbname={name}"


def index(conninfo: str, path: Path, size: int) -> dict[str, float]:
    from eventsourcing.persistence import Tracking
    from psycopg_pool import ConnectionPool
    from responer_search.adapters import pg_bulk
    from responer_search.adapters.pg_backend import PostgresSearchBackend
    from responer_search.handlers import batch_dispatcher, dispatcher, message_doc

    pool = ConnectionPool(conninfo, min_size=1, max_size=4, open=True)
    backend = PostgresSearchBackend(pool)
    backend.ensure_schema()
    stream = "BENCH_THREADING"
    it = read_events(path)
    sample = min(INDEX_SAMPLE, size)
    single = min(1000, sample // 4)

    # one transaction per event: the old path, for the ratio
    dispatch = dispatcher(backend)
    t = time.perf_counter()
    seq = 0
    for _ in range(single):
        seq += 1
        dispatch(next(it), Tracking(stream, seq))
    single_rate = single / (time.perf_counter() - t)

    # the consumer's batch path: 200 events per transaction
    apply = batch_dispatcher(backend)
    t = time.perf_counter()
    batch: list = []
    for _ in range(sample - single):
        seq += 1
        batch.append((next(it), Tracking(stream, seq)))
        if len(batch) == 200:
            apply(batch)
            batch = []
    if batch:
        apply(batch)
    batch_rate = (sample - single) / (time.perf_counter() - t)
    log(f"event path: {single_rate:.0f} msg/s one per transaction, {batch_rate:.0f} msg/s batched")

    # the bulk path for the rest: COPY + INSERT ... SELECT, two connections, text indexes built at the end
    t = time.perf_counter()
    bulk = 0
    import threading
    from queue import Queue

    chunks: Queue = Queue(maxsize=4)

    def worker() -> None:
        with pool.connection() as conn:
            while (chunk := chunks.get()) is not None:
                with conn.transaction():
                    pg_bulk.load_messages(conn, chunk)

    with pool.connection() as ddl:
        ddl.autocommit = True
        with pg_bulk.without_text_indexes(ddl):
            workers = [threading.Thread(target=worker) for _ in range(2)]
            for w in workers:
                w.start()
            chunk = []
            for event in it:
                seq += 1
                doc = message_doc(event)
                if doc is not None:
                    chunk.append((doc, seq))
                if len(chunk) == 5000:
                    chunks.put(chunk)
                    bulk += len(chunk)
                    chunk = []
                    if bulk % 50000 == 0:
                        log(f"  bulk {bulk} ({bulk / (time.perf_counter() - t):.0f}/s)")
            if chunk:
                chunks.put(chunk)
                bulk += len(chunk)
            for _ in workers:
                chunks.put(None)
            for w in workers:
                w.join()
            loaded = time.perf_counter() - t
            log(f"bulk rows loaded in {loaded:.1f}s; building text indexes ...")
        pg_bulk.refresh_all_threads(ddl)
        ddl.execute("VACUUM ANALYZE search.messages")
        ddl.execute("VACUUM ANALYZE search.threads")
    bulk_rate = bulk / (time.perf_counter() - t) if bulk else 0.0
    pool.close()
    return {"single_per_s": single_rate, "batch_per_s": batch_rate, "bulk_per_s": bulk_rate, "bulk": bulk}


def query_latencies(conninfo: str, rounds: int, facets: bool) -> tuple[list[float], dict[str, float]]:
    from psycopg_pool import ConnectionPool
    from responer_search.adapters.pg_backend import PostgresSearchBackend
    from responer_search.domain.model import SearchOptions
    from responer_search.domain.query import parse

    pool = ConnectionPool(conninfo, min_size=1, max_size=2, open=True)
    backend = PostgresSearchBackend(pool)
    options = SearchOptions(facets=facets)
    times: list[float] = []
    per_query: dict[str, list[float]] = {q: [] for q, _ in MIX}
    for r in range(rounds + 1):
        for q, _ in MIX:
            parsed = parse(q)
            t = time.perf_counter()
            page = backend.search(TENANT, parsed, 50, options=options)
            ms = (time.perf_counter() - t) * 1000
            if r:
                times.append(ms)
                per_query[q].append(ms)
            elif facets is False:
                log(f"  {q!r}: {page.total} threads")
    pool.close()
    return times, {q: pct(v, 50) for q, v in per_query.items()}


# -- notmuch -----------------------------------------------------------------------------------------------


def notmuch(d: Path, rounds: int) -> tuple[list[float], float]:
    if not shutil.which("notmuch"):
        log("notmuch missing: apt-get install -y notmuch python3-notmuch2")
        subprocess.run(["apt-get", "install", "-y", "-qq", "notmuch", "python3-notmuch2"], check=False)
    config = d / "notmuch-config"
    maildir = d / "Maildir"
    env = os.environ | {"NOTMUCH_CONFIG": str(config)}
    index_s = 0.0
    if not (maildir / ".notmuch").exists() or not (d / "notmuch-done").exists():
        config.write_text(
            f"[database]\npath={maildir}\n[user]\nname=bench\nprimary_email=bench@example.com\n"
            "[new]\ntags=\n[search]\nexclude_tags=\n[maildir]\nsynchronize_flags=false\n"
        )
        log("notmuch new (indexing the same Maildir) ...")
        t = time.perf_counter()
        subprocess.run(["notmuch", "new", "--quiet"], env=env, check=True)
        index_s = time.perf_counter() - t
        (d / "notmuch-done").write_text(f"{index_s:.1f}\n")
    else:
        index_s = float((d / "notmuch-done").read_text())
    out = subprocess.run(
        [
            "/usr/bin/python3",
            "-c",
            NOTMUCH_RUNNER,
            str(maildir),
            json.dumps([nq for _, nq in MIX]),
            str(rounds),
        ],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return [ms for _, ms, _ in json.loads(out.stdout)], index_s


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=int(os.environ.get("SIZE", "1000000")))
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument(
        "--cache", default=os.environ.get("BENCH_CACHE", str(Path.home() / ".cache" / "responer-bench"))
    )
    ap.add_argument("--json", help="also write the result here")
    args = ap.parse_args()
    d = corpus(Path(args.cache), args.size)
    path = events(d)
    conninfo = pg_database(args.size)
    t = time.perf_counter()
    rates = index(conninfo, path, args.size)
    load_s = time.perf_counter() - t
    log(f"loaded {args.size} messages in {load_s:.1f}s")
    times, per_query = query_latencies(conninfo, args.rounds, facets=False)
    # Facets count the whole result (the UI asks for them in a second request): fewer rounds.
    facet_times, _ = query_latencies(conninfo, min(args.rounds, 3), facets=True)
    nm_times, nm_index_s = notmuch(d, args.rounds)
    result = {
        "messages": args.size,
        "index_per_s": round(rates["batch_per_s"], 1),
        "p50_ms": round(pct(times, 50), 2),
        "p95_ms": round(pct(times, 95), 2),
        "p99_ms": round(pct(times, 99), 2),
        "notmuch_p95_ms": round(pct(nm_times, 95), 2),
        "notmuch_p50_ms": round(pct(nm_times, 50), 2),
        "p95_ratio_vs_notmuch": round(pct(times, 95) / pct(nm_times, 95), 3),
        "facets_p50_ms": round(pct(facet_times, 50), 2),
        "facets_p95_ms": round(pct(facet_times, 95), 2),
        "index_one_tx_per_event_per_s": round(rates["single_per_s"], 1),
        "bulk_load_per_s": round(rates["bulk_per_s"], 1),
        "load_seconds": round(load_s, 1),
        "notmuch_index_seconds": round(nm_index_s, 1),
        "notmuch_index_per_s": round(args.size / nm_index_s, 1) if nm_index_s else None,
        "cores": os.cpu_count(),
    }
    log("per query p50 ms: " + json.dumps({q: round(v, 1) for q, v in per_query.items()}, ensure_ascii=False))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))
    return 0 if result["p95_ms"] <= GOAL_P95_MS else 1


if __name__ == "__main__":
    sys.exit(main())
