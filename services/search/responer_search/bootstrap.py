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
from responer_search.domain.ports import SearchBackend
from responer_search.handlers import batch_dispatcher, dispatcher

SERVICE = "search"
# Streams this read model follows; one durable consumer `search-index` on each.
UPSTREAMS = ("threading", "routing", "gateway")


def build_backend(settings: Settings, pool: ConnectionPool) -> SearchBackend:
    """The configured SearchBackend (not connected yet: ensure_schema() at startup does that)."""
    if settings.search_backend == "opensearch":
        from opensearchpy import OpenSearch

        from responer_search.adapters.os_backend import OpenSearchBackend

        client = OpenSearch(hosts=[settings.search_opensearch_url], timeout=10, max_retries=2)
        return OpenSearchBackend(client, settings.search_opensearch_index_prefix)
    return PostgresSearchBackend(pool)


def build(settings: Settings) -> Service:
    service = Service(SERVICE, settings)
    pool = ConnectionPool(
        settings.pg_conninfo(),
        min_size=1,
        max_size=settings.pg_pool_size,
        open=False,
        name="search",
    )
    backend = build_backend(settings, pool)
    bus = Bus(settings.nats_url, settings.namespace, f"responer-{SERVICE}")

    uses_postgres = settings.search_backend == "postgres"

    async def start() -> None:
        if uses_postgres:
            await asyncio.to_thread(pool.open, True, 30.0)
        await asyncio.to_thread(backend.ensure_schema)
        await bus.connect()

    async def close_pool() -> None:
        if uses_postgres:
            await asyncio.to_thread(pool.close)

    service.on_startup(start)
    dispatch = dispatcher(backend)
    dispatch_batch = batch_dispatcher(backend)
    for producer in UPSTREAMS:
        subscription = Subscription(producer, "index", dispatch, batch_handler=dispatch_batch)
        runner = ConsumerRunner(bus, SERVICE, subscription, batch=settings.search_consume_batch)
        service.add_task(f"consume-{producer}", runner.run)
    servicer = SearchServicer(backend, settings.search_default_limit, settings.search_max_limit)
    service.add_grpc(lambda server: search_pb2_grpc.add_SearchServiceServicer_to_server(servicer, server))

    async def backend_ready() -> bool:
        return await asyncio.to_thread(backend.ping)

    service.add_readiness(settings.search_backend, backend_ready)
    service.add_readiness("nats", lambda: bus.connected)
    service.on_shutdown(bus.close)
    service.on_shutdown(close_pool)
    return service
