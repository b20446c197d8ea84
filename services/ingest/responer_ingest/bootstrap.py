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

from responer_ingest.adapters.blobs import BlobStore, FilesystemBlobStore, PostgresBlobStore, S3BlobStore
from responer_ingest.adapters.event_mapping import map_event
from responer_ingest.adapters.grpc_servicer import IngestServicer
from responer_ingest.adapters.imap_sync import MailboxSync
from responer_ingest.adapters.oauth import TokenCache
from responer_ingest.adapters.sync_supervisor import SyncSupervisor
from responer_ingest.application import IngestApplication, Login
from responer_ingest.config import Settings

SCHEMA = "ingest"


def build_blob_store(settings: Settings, pool: ConnectionPool) -> BlobStore:
    if settings.blob_store == "filesystem":
        if not settings.blob_dir:
            raise ValueError("RESPONER_BLOB_DIR is required with RESPONER_BLOB_STORE=filesystem")
        return FilesystemBlobStore(settings.blob_dir)
    if settings.blob_store == "s3":
        if not (settings.s3_endpoint and settings.s3_bucket):
            raise ValueError(
                "RESPONER_S3_ENDPOINT and RESPONER_S3_BUCKET are required with RESPONER_BLOB_STORE=s3"
            )
        return S3BlobStore(
            settings.s3_endpoint,
            settings.s3_bucket,
            settings.s3_access_key.get_secret_value(),
            settings.s3_secret_key.get_secret_value(),
            region=settings.s3_region,
            prefix=settings.s3_prefix,
        )
    return PostgresBlobStore(pool)


def build_application(settings: Settings) -> tuple[IngestApplication, ConnectionPool]:
    """The application and its blob store: what the service and the command line (import,
    quarantine replay) share."""
    ensure_schema(**settings.pg_kwargs(), schema=SCHEMA)
    pool = ConnectionPool(settings.pg_conninfo(), min_size=1, max_size=4, open=True)
    app = IngestApplication(
        env=settings.es_env(SCHEMA),
        cipher=Fernet(settings.secret_key.get_secret_value().encode()),
        blobs=build_blob_store(settings, pool),
        max_message_bytes=settings.max_message_bytes,
        max_attachment_bytes=settings.max_attachment_bytes,
    )
    return app, pool


def build(settings: Settings) -> Service:
    service = Service("ingest", settings)
    app, pool = build_application(settings)
    bus = Bus(settings.nats_url, settings.namespace, "responer-ingest")
    relay = Relay(app, bus, "ingest", map_event, "ingest")
    tokens = TokenCache(on_rotated=app.rotate_refresh_token, timeout=settings.oauth_timeout)

    def access_token_for(mailbox_id: str):  # noqa: ANN202
        return lambda login, force: tokens.access_token(mailbox_id, login, force)

    def make_sync(mailbox_id: str) -> MailboxSync:
        return MailboxSync(
            app,
            mailbox_id,
            idle_timeout=settings.idle_timeout,
            poll_interval=settings.poll_interval,
            fetch_batch=settings.fetch_batch,
            imap_timeout=settings.imap_timeout,
            on_stored=lambda _stored: relay.wake(),
            tokens=access_token_for(mailbox_id),
            max_backoff=settings.max_backoff,
            ca_file=settings.imap_ca_file,
        )

    supervisor = SyncSupervisor(app, make_sync, rescan_s=settings.poll_interval)

    def on_changed() -> None:
        relay.wake()
        supervisor.rescan()

    def probe_tokens(login: Login, force: bool) -> str:
        # A connection test refreshes a token without keeping it or any rotated refresh token.
        from responer_ingest.adapters.oauth import refresh_access_token

        return refresh_access_token(login, settings.oauth_timeout)[0]

    service.on_startup(bus.connect)
    service.add_task("relay", relay.run)
    service.add_task("imap-sync", supervisor.run)
    service.add_grpc(
        lambda server: ingest_pb2_grpc.add_IngestServiceServicer_to_server(
            IngestServicer(
                app,
                supervisor.health_of,
                on_changed,
                probe_tokens,
                access_token_for,
                settings.imap_timeout,
                settings.imap_ca_file,
            ),
            server,
        )
    )
    service.add_readiness("nats", lambda: bus.connected)
    service.add_readiness("postgres", lambda: asyncio.to_thread(_ping, pool))
    service.on_shutdown(bus.close)

    async def close_pool() -> None:
        await asyncio.to_thread(pool.close)

    service.on_shutdown(close_pool)
    service.app = app  # type: ignore[attr-defined]  # for in-process tests
    service.supervisor = supervisor  # type: ignore[attr-defined]
    return service


def _ping(pool: ConnectionPool) -> bool:
    with pool.connection(timeout=2) as conn:
        conn.execute("SELECT 1")
    return True
