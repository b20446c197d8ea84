"""`responer search reindex` rebuilds the read model from the streams: PostgreSQL and OpenSearch."""

from __future__ import annotations

import asyncio
import secrets
import sys
import uuid
from pathlib import Path

import pytest
import pytest_asyncio
from psycopg_pool import ConnectionPool
from responer.events.v1 import events_pb2
from responer_cli.main import main as responer
from responer_runtime.bus import Bus
from responer_search.adapters.pg_backend import PostgresSearchBackend
from responer_search.domain.model import SearchOptions
from responer_search.domain.query import parse

sys.path.insert(0, str(Path(__file__).parent))
from test_search_service import publish, threaded  # noqa: E402

pytestmark = pytest.mark.integration


@pytest_asyncio.fixture
async def history(nats_url, fresh_namespace):
    """A namespace whose streams hold a small history: 30 threads, one assigned, one tagged, one note."""
    bus = Bus(nats_url, fresh_namespace, "test-reindex")
    await bus.connect()
    for producer in ("threading", "routing", "gateway"):
        await bus.ensure_stream(producer)
    tenant = str(uuid.uuid4())
    events = [threaded(tenant, 100 + i, subject=f"Zwrot {i}", text=f"żółw numer {i}") for i in range(30)]
    for e in events:
        await publish(bus, e, tenant)
    first = events[0].thread_id
    await publish(bus, events_pb2.ThreadAssigned(tenant_id=tenant, thread_id=first, user_id="u-1"), tenant)
    await publish(bus, events_pb2.ThreadTagged(tenant_id=tenant, thread_id=first, tag="vip"), tenant)
    await publish(
        bus,
        events_pb2.NoteAdded(tenant_id=tenant, thread_id=first, note_id="n1", body="oddzwonić jutro"),
        tenant,
    )
    yield bus, tenant
    await bus.close()


def _run(*argv: str) -> int:
    return responer(["search", "reindex", "--no-progress", *argv])


async def test_reindex_rebuilds_the_postgres_read_model(history, private_database, nats_url, fresh_namespace):
    bus, tenant = history
    db = private_database
    args = ["--backend", "postgres", "--namespace", fresh_namespace, "--nats-url", nats_url]
    args += ["--pg-host", db.host, "--pg-port", str(db.port), "--pg-dbname", db.dbname, "--pg-user", db.user]
    for _ in range(2):  # and again: a rebuild from nothing each time, same result
        assert await asyncio.to_thread(_run, *args) == 0
        pool = ConnectionPool(f"host={db.host} port={db.port} dbname={db.dbname} user={db.user}", open=True)
        try:
            backend = PostgresSearchBackend(pool)
            assert backend.search(tenant, parse("zolw"), 50).total == 30
            found = backend.search(tenant, parse("tag:vip assignee:u-1 note:oddzwonic"), 50)
            assert [t.number for t in found.threads] == [100]
        finally:
            pool.close()


async def test_reindex_on_opensearch_swaps_a_new_generation_in(history, nats_url, fresh_namespace):
    from opensearchpy import OpenSearch
    from osmem_server import OsmemServer
    from responer_search.adapters.os_backend import OpenSearchBackend

    bus, tenant = history
    prefix = f"rt-{secrets.token_hex(3)}"
    server = OsmemServer.start(freeze=False)
    try:
        client = OpenSearch(hosts=[server.url])
        live = OpenSearchBackend(client, prefix)
        live.ensure_schema()
        args = ["--backend", "opensearch", "--opensearch-url", server.url, "--index-prefix", prefix]
        args += ["--namespace", fresh_namespace, "--nats-url", nats_url]
        assert await asyncio.to_thread(_run, *args) == 0
        assert list(client.indices.get_alias(name=f"{prefix}-messages")) == [f"{prefix}-messages-g2"]
        assert not client.indices.exists(index=f"{prefix}-messages-g1")
        reader = OpenSearchBackend(client, prefix)
        assert reader.search(tenant, parse("zolw"), 50).total == 30
        page = reader.search(
            tenant, parse("tag:vip note:oddzwonic"), 50, options=SearchOptions(user_id="u-1")
        )
        assert [t.number for t in page.threads] == [100]
    finally:
        server.close()
