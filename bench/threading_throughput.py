"""Threading decisions per second over generated helpdesk mail (issue 4), in-memory and on PostgreSQL.

    .venv/bin/python bench/threading_throughput.py [--count 100000] [--pg-count 10000] [--seed 4404]

Generates `--count` messages with /work/shared/bench/gen_corpus.py, parses them once (not timed), then
times, in one run and on one core:

* decide — the bare decision function `decide()` for every message against the finished in-memory
  index (reads only): the baseline, what deciding costs without keeping any state;
* memory — `thread_message()` on the in-memory store (`responer import --dry-run`): decide + every write;
* postgres — `ThreadingApplication.thread_message()` for the first `--pg-count` messages: the service's
  own path, each message one transaction of events in a fresh database (RESPONER_DEV_PG_HOST/PORT/USER/
  PASSWORD, default 127.0.0.1:5432), dropped afterwards. 10,000 by default: at tens of messages per
  second the whole 100,000 take an hour (`--pg-count 100000` does it).

Reports messages per second and the ratios to the baseline. No threshold: this is a figure for
docs/benchmarks.md, and a regression shows as a changed ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from responer_cli.devstack.postgres import PgServer, create_database, drop_database  # noqa: E402
from responer_runtime.esenv import ensure_schema, eventsourcing_env  # noqa: E402
from responer_threading.application import ThreadingApplication  # noqa: E402
from responer_threading.domain import InMemoryThreadStore, decide, thread_message  # noqa: E402
from threading_quality import _DEFAULT_GENERATOR, facts_of, generate  # noqa: E402


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--pg-count", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=4404)
    parser.add_argument("--generator", type=Path, default=_DEFAULT_GENERATOR)
    parser.add_argument("--workdir", type=Path, help="keep the generated corpus here (reused when present)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if not args.generator.is_file():
        print(f"threading throughput: skipped, generator not found at {args.generator}")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        out = args.workdir or Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        maildir, truth = generate(args.generator, args.count, args.seed, out)
        facts = facts_of(maildir, truth)

    store = InMemoryThreadStore()
    started = time.perf_counter()
    for f in facts:
        thread_message(f, store)
    memory_s = time.perf_counter() - started

    started = time.perf_counter()
    for f in facts:
        decide(f, store)
    decide_s = time.perf_counter() - started

    pg = PgServer(
        host=os.environ.get("RESPONER_DEV_PG_HOST", "127.0.0.1"),
        port=int(os.environ.get("RESPONER_DEV_PG_PORT", "5432")),
        user=os.environ.get("RESPONER_DEV_PG_USER", "postgres"),
        password=os.environ.get("RESPONER_DEV_PG_PASSWORD", ""),
    )
    dbname = f"responer_bench_{secrets.token_hex(4)}"
    create_database(pg, dbname)
    pg_facts = facts[: args.pg_count]
    try:
        params = dict(host=pg.host, port=pg.port, dbname=dbname, user=pg.user, password=pg.password)
        ensure_schema(**params, schema="threading")
        app = ThreadingApplication(env=eventsourcing_env(**params, schema="threading"))
        started = time.perf_counter()
        for f in pg_facts:
            app.thread_message(f, b"")
        pg_s = time.perf_counter() - started
        app.close()
    finally:
        drop_database(pg, dbname)

    figures = {
        "messages": len(facts),
        "decide_per_s": rate(len(facts), decide_s),
        "memory_per_s": rate(len(facts), memory_s),
        "postgres_messages": len(pg_facts),
        "postgres_per_s": rate(len(pg_facts), pg_s),
    }
    figures["memory_vs_decide"] = figures["memory_per_s"] / figures["decide_per_s"]
    figures["postgres_vs_decide"] = figures["postgres_per_s"] / figures["decide_per_s"]
    print(
        f"threading throughput ({len(facts)} generated messages, seed {args.seed}; one core):\n"
        f"  decide (baseline, reads only)     {figures['decide_per_s']:10.0f} msg/s\n"
        f"  in-memory store, decide + writes  {figures['memory_per_s']:10.0f} msg/s "
        f"({figures['memory_vs_decide']:.2f}x the baseline)\n"
        f"  PostgreSQL application ({len(pg_facts)} msgs) {figures['postgres_per_s']:8.0f} msg/s "
        f"({figures['postgres_vs_decide']:.4f}x the baseline)"
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
