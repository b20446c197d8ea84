"""Builds the search service: the only place adapters are constructed."""

from __future__ import annotations

import asyncio

from psycopg_pool import ConnectionPool
from responer.search.v1 import search_pb2_grpc
from responer_runtime.bus import Bus
from responer_runtime.consumer import ConsumerRunner, Subscription
from responer_runtime.service import Service

from responer_search.adapters.grpc_servicer import SearchServicer
from responer_search.adapters.pg_backend import PostgresSearchBackend
from responer_search.config import Settings
from responer_search.handlers import dispatcher

SERVICE = "search"
# Streams this read model follows; one durable consumer `search-index` on each.
UPSTREAMS = ("threading", "routing")


def build(settings: Settings) -> Service:
    service = Service(SERVICE, settings)
    pool = ConnectionPool(
        settings.pg_conninfo(),
        min_size=1,
        max_size=settings.pg_pool_size,
        open=False,
        name="search",
    )
    backend = PostgresSearchBackend(pool)
    bus = Bus(settings.nats_url, settings.namespace, f"responer-{SERVICE}")

    async def start() -> None:
        await asyncio.to_thread(pool.open, True, 30.0)
        await asyncio.to_thread(backend.ensure_schema)
        await bus.connect()

    async def close_pool() -> None:
        await asyncio.to_thread(pool.close)

    service.on_startup(start)
    dispatch = dispatcher(backend)
    for producer in UPSTREAMS:
        runner = ConsumerRunner(bus, SERVICE, Subscription(producer, "index", dispatch))
        service.add_task(f"consume-{producer}", runner.run)
    servicer = SearchServicer(backend, settings.search_default_limit, settings.search_max_limit)
    service.add_grpc(lambda server: search_pb2_grpc.add_SearchServiceServicer_to_server(servicer, server))

    async def postgres_ready() -> bool:
        return await asyncio.to_thread(backend.ping)

    service.add_readiness("postgres", postgres_ready)
    service.add_readiness("nats", lambda: bus.connected)
    service.on_shutdown(bus.close)
    service.on_shutdown(close_pool)
    return service
