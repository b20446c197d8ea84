"""Builds the gateway: the ONLY place adapters are constructed (entrypoints and tests both use it)."""

from __future__ import annotations

import asyncio
import logging

import psycopg
import uvicorn
from responer_runtime.bus import Bus
from responer_runtime.esenv import ensure_schema
from responer_runtime.relay import Relay
from responer_runtime.service import Service

from responer_gateway.adapters.event_mapping import PRODUCER, to_integration_events
from responer_gateway.adapters.grpc_clients import Backends
from responer_gateway.api.context import GatewayContext
from responer_gateway.api.main import create_app
from responer_gateway.application import GatewayApplication
from responer_gateway.config import Settings
from responer_gateway.security import Tokens

log = logging.getLogger(__name__)

SERVICE = "gateway"
SCHEMA = "gateway"


def build_application(settings: Settings, schema: str = SCHEMA) -> GatewayApplication:
    ensure_schema(**settings.pg_kwargs(), schema=schema)  # type: ignore[arg-type]
    return GatewayApplication(env=settings.es_env(schema))


def build_context(settings: Settings, app: GatewayApplication | None = None) -> GatewayContext:
    return GatewayContext(
        settings=settings,
        app=app or build_application(settings),
        backends=Backends.connect(
            search_addr=settings.search_addr,
            ingest_addr=settings.ingest_addr,
            outbox_addr=settings.outbox_addr,
            routing_addr=settings.routing_addr,
            threading_addr=settings.threading_addr,
        ),
        tokens=Tokens(settings.session_secret.get_secret_value(), settings.session_ttl_s),
    )


def seed(ctx: GatewayContext) -> None:
    s = ctx.settings
    user = ctx.app.seed_admin(s.tenant_name, s.admin_email, s.admin_password.get_secret_value(), s.admin_name)
    log.info("admin seeded", extra={"user_id": str(user.id), "tenant_id": str(user.tenant_id)})


class HttpServer:
    """The public app under uvicorn, as a Service task: stops when the service's stop event is set."""

    def __init__(self, app, host: str, port: int) -> None:  # noqa: ANN001
        self.server = uvicorn.Server(
            uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off", access_log=False)
        )
        self.server.install_signal_handlers = lambda: None  # type: ignore[attr-defined]
        self.started = asyncio.Event()

    @property
    def port(self) -> int | None:
        if not self.server.started or not self.server.servers:
            return None
        return self.server.servers[0].sockets[0].getsockname()[1]

    async def run(self, stop: asyncio.Event) -> None:
        serving = asyncio.create_task(self.server.serve(), name="public-http")
        waiter = asyncio.create_task(stop.wait())
        while not self.server.started and not serving.done():
            await asyncio.sleep(0.02)
        if self.server.started:
            self.started.set()
            log.info("http listening", extra={"port": self.port})
        await asyncio.wait({serving, waiter}, return_when=asyncio.FIRST_COMPLETED)
        self.server.should_exit = True
        waiter.cancel()
        await serving
        if not stop.is_set():  # uvicorn gave up (e.g. port taken): stop the service, loudly
            raise RuntimeError(f"public HTTP server on port {self.server.config.port} stopped")


def build(settings: Settings, schema: str = SCHEMA) -> Service:
    service = Service(SERVICE, settings)
    app = build_application(settings, schema)
    ctx = build_context(settings, app)
    bus = Bus(settings.nats_url, settings.namespace, client_name=f"responer-{SERVICE}")
    relay = Relay(app, bus, PRODUCER, to_integration_events, SERVICE)
    ctx.on_saved = relay.wake
    http = HttpServer(create_app(ctx), settings.http_host, settings.http_port)
    service.http = http  # type: ignore[attr-defined]  # tests read the bound port

    async def startup() -> None:
        # grpc.aio channels belong to the loop they are created in: make them inside the running one.
        ctx.backends = Backends.connect(
            search_addr=settings.search_addr,
            ingest_addr=settings.ingest_addr,
            outbox_addr=settings.outbox_addr,
            routing_addr=settings.routing_addr,
            threading_addr=settings.threading_addr,
        )
        await asyncio.to_thread(seed, ctx)
        await bus.connect()

    async def postgres_ready() -> bool:
        async with await psycopg.AsyncConnection.connect(settings.pg_conninfo(), connect_timeout=2) as conn:
            await conn.execute("SELECT 1")
        return True

    service.on_startup(startup)
    service.add_task("relay", relay.run)
    service.add_task("http", http.run)
    service.add_readiness("postgres", postgres_ready)
    service.add_readiness("nats", lambda: bus.connected)
    for name in ("search", "ingest", "outbox"):
        service.add_readiness(name, lambda name=name: ctx.backends.healthy(name))
    if settings.threading_addr:
        service.add_readiness("threading", lambda: ctx.backends.healthy("threading"))
    service.on_shutdown(bus.close)

    async def close_backends() -> None:
        await ctx.backends.close()

    service.on_shutdown(close_backends)
    return service
