"""Builds the ingest service: the only place its adapters are constructed."""

from __future__ import annotations

import asyncio

from cryptography.fernet import Fernet
from psycopg_pool import ConnectionPool
from responer.ingest.v1 import ingest_pb2_grpc
from responer_runtime.bus import Bus
from responer_runtime.esenv import ensure_schema
from responer_runtime.relay import Relay
from responer_runtime.service import Service

from responer_ingest.adapters.blobs import PostgresBlobStore
from responer_ingest.adapters.event_mapping import map_event
from responer_ingest.adapters.grpc_servicer import IngestServicer
from responer_ingest.adapters.imap_sync import MailboxSync
from responer_ingest.adapters.sync_supervisor import SyncSupervisor
from responer_ingest.application import IngestApplication
from responer_ingest.config import Settings

SCHEMA = "ingest"


def build(settings: Settings) -> Service:
    service = Service("ingest", settings)
    ensure_schema(**settings.pg_kwargs(), schema=SCHEMA)
    pool = ConnectionPool(settings.pg_conninfo(), min_size=1, max_size=4, open=True)
    app = IngestApplication(
        env=settings.es_env(SCHEMA),
        cipher=Fernet(settings.secret_key.get_secret_value().encode()),
        blobs=PostgresBlobStore(pool),
        max_message_bytes=settings.max_message_bytes,
    )
    bus = Bus(settings.nats_url, settings.namespace, "responer-ingest")
    relay = Relay(app, bus, "ingest", map_event, "ingest")

    def make_sync(mailbox_id: str) -> MailboxSync:
        return MailboxSync(
            app,
            mailbox_id,
            idle_timeout=settings.idle_timeout,
            poll_interval=settings.poll_interval,
            fetch_batch=settings.fetch_batch,
            imap_timeout=settings.imap_timeout,
            on_stored=lambda _stored: relay.wake(),
        )

    supervisor = SyncSupervisor(app, make_sync, rescan_s=settings.poll_interval)

    def on_registered() -> None:
        relay.wake()
        supervisor.rescan()

    service.on_startup(bus.connect)
    service.add_task("relay", relay.run)
    service.add_task("imap-sync", supervisor.run)
    service.add_grpc(
        lambda server: ingest_pb2_grpc.add_IngestServiceServicer_to_server(
            IngestServicer(app, supervisor.health_of, on_registered), server
        )
    )
    service.add_readiness("nats", lambda: bus.connected)
    service.add_readiness("postgres", lambda: asyncio.to_thread(_ping, pool))
    service.on_shutdown(bus.close)

    async def close_pool() -> None:
        await asyncio.to_thread(pool.close)

    service.on_shutdown(close_pool)
    service.app = app  # type: ignore[attr-defined]  # for in-process tests
    return service


def _ping(pool: ConnectionPool) -> bool:
    with pool.connection(timeout=2) as conn:
        conn.execute("SELECT 1")
    return True
