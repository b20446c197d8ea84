"""`responer search reindex`: rebuild the search read model from the event streams, with a progress bar.

Connection settings are the search service's own (RESPONER_* environment: namespace, NATS, PostgreSQL,
RESPONER_SEARCH_BACKEND, RESPONER_SEARCH_OPENSEARCH_URL, ...); flags override them. See
services/search/responer_search/reindex.py for what happens on each backend.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from nats.js.errors import NotFoundError


def register(subparsers: argparse._SubParsersAction) -> None:
    search = subparsers.add_parser("search", help="search read model maintenance")
    commands = search.add_subparsers(dest="search_command", metavar="COMMAND")
    reindex = commands.add_parser(
        "reindex",
        help="rebuild the search read model from the event streams",
        description=__doc__.split("\n\n")[0],
    )
    reindex.add_argument(
        "--backend", choices=("postgres", "opensearch"), help="default: RESPONER_SEARCH_BACKEND"
    )
    reindex.add_argument("--opensearch-url", help="default: RESPONER_SEARCH_OPENSEARCH_URL")
    reindex.add_argument("--index-prefix", help="OpenSearch index/alias prefix (default: responer)")
    reindex.add_argument("--namespace", help="stream namespace (default: RESPONER_NAMESPACE)")
    reindex.add_argument("--nats-url", help="default: RESPONER_NATS_URL")
    reindex.add_argument("--pg-host")
    reindex.add_argument("--pg-port", type=int)
    reindex.add_argument("--pg-dbname")
    reindex.add_argument("--pg-user")
    reindex.add_argument(
        "--force", action="store_true", help="PostgreSQL: even while a search service consumes"
    )
    reindex.add_argument("--no-progress", action="store_true")
    reindex.set_defaults(func=run_reindex)
    search.set_defaults(func=lambda args: search.print_help() or 0)


def _settings(args: argparse.Namespace):  # noqa: ANN202
    from responer_search.config import Settings

    overrides = {
        "search_backend": args.backend,
        "search_opensearch_url": args.opensearch_url,
        "search_opensearch_index_prefix": args.index_prefix,
        "namespace": args.namespace,
        "nats_url": args.nats_url,
        "pg_host": args.pg_host,
        "pg_port": args.pg_port,
        "pg_dbname": args.pg_dbname,
        "pg_user": args.pg_user,
    }
    return Settings(**{k: v for k, v in overrides.items() if v is not None})


def run_reindex(args: argparse.Namespace) -> int:
    return asyncio.run(reindex(args))


async def _lease_held(bus) -> bool:  # noqa: ANN001
    """Is a search service consuming right now (one of its consumers holds a lease)?"""
    try:
        kv = await bus.js.key_value(bus.lease_bucket())
    except NotFoundError:
        return False
    for producer in ("threading", "routing", "gateway"):
        try:
            entry = await kv.get(f"{bus.stream(producer)}.search-index")
        except Exception:  # noqa: BLE001 - no such key
            continue
        if entry is not None and entry.value:
            return True
    return False


async def reindex(args: argparse.Namespace) -> int:
    from psycopg_pool import ConnectionPool
    from responer_runtime.bus import Bus
    from responer_search.bootstrap import build_backend
    from responer_search.reindex import replay, stream_size
    from tqdm import tqdm

    settings = _settings(args)
    bus = Bus(settings.nats_url, settings.namespace, "responer-search-reindex")
    await bus.connect()
    pool = ConnectionPool(settings.pg_conninfo(), min_size=1, max_size=2, open=False)
    bars: dict[str, tqdm] = {}
    try:
        total = 0
        for producer in ("threading", "routing", "gateway"):
            total += (await stream_size(bus, producer))[1]
        bar = tqdm(total=total, unit="ev", disable=args.no_progress, desc="reindex", file=sys.stderr)
        bars["all"] = bar
        state = {"base": 0, "last": 0}

        def progress(done: int, _size: int) -> None:
            bar.update(done - state["last"])
            state["last"] = done

        if settings.search_backend == "postgres":
            if await _lease_held(bus) and not args.force:
                print(
                    "responer search reindex: a search service is consuming (its lease is held); stop it first "
                    "or pass --force",
                    file=sys.stderr,
                )
                return 2
            await asyncio.to_thread(pool.open, True, 30.0)
            with pool.connection() as conn:
                conn.execute("DROP SCHEMA IF EXISTS search CASCADE")
            backend = build_backend(settings, pool)
            await asyncio.to_thread(backend.ensure_schema)
            stats = await _replay_all(replay, bus, backend, progress, state)
        else:
            live = build_backend(settings, pool)
            await asyncio.to_thread(live.ensure_schema)
            staging = await asyncio.to_thread(live.new_generation)  # type: ignore[attr-defined]
            stats = await _replay_all(replay, bus, staging, progress, state)
            positions = {s: await asyncio.to_thread(staging._position, s) for s in stats.per_stream}
            await asyncio.to_thread(live.swap_in, staging)  # type: ignore[attr-defined]
            # What the live service indexed between the end of the replay and the swap.
            await replay(bus, live, start_after=positions)
        bar.close()
        print(
            json.dumps(
                {
                    "backend": settings.search_backend,
                    "events": stats.events,
                    "seconds": round(stats.seconds, 2),
                    "events_per_s": round(stats.per_second, 1),
                }
            )
        )
        return 0
    finally:
        for b in bars.values():
            b.close()
        await bus.close()
        if not pool.closed:
            await asyncio.to_thread(pool.close)


async def _replay_all(replay, bus, backend, progress, state):  # noqa: ANN001, ANN202
    """Stream by stream, so the progress bar counts every stream's events once."""
    from responer_search.reindex import ReplayStats

    total = ReplayStats()
    for producer in ("threading", "routing", "gateway"):
        state["last"] = 0
        stats = await replay(bus, backend, (producer,), progress)
        total.events += stats.events
        total.seconds += stats.seconds
        total.per_stream |= stats.per_stream
    return total
