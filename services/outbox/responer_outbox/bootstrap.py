"""Builds the outbox service: the only place adapters are constructed (entrypoints and tests use it)."""

from __future__ import annotations

import asyncio

from responer.outbox.v1 import outbox_pb2_grpc
from responer_runtime.bus import Bus
from responer_runtime.checks import event_store_reachable
from responer_runtime.consumer import ConsumerRunner
from responer_runtime.esenv import ensure_schema
from responer_runtime.relay import Relay
from responer_runtime.service import Service

from responer_outbox.adapters.event_mapping import map_event
from responer_outbox.adapters.grpc_servicer import OutboxServicer
from responer_outbox.adapters.smtp_sender import SmtpTransport
from responer_outbox.application import DefaultRelay, OutboxApplication, RetryPolicy
from responer_outbox.config import Settings
from responer_outbox.handlers import subscriptions

NAME = "outbox"
SCHEMA = "outbox"


def build(settings: Settings) -> Service:
    service = Service(NAME, settings)
    ensure_schema(**settings.pg_kwargs(), schema=SCHEMA)  # type: ignore[arg-type]
    app = OutboxApplication(
        env=settings.es_env(SCHEMA),
        transport=SmtpTransport(timeout_s=settings.smtp_timeout_s, local_hostname=settings.mail_domain),
        default_relay=DefaultRelay(settings.smtp_host, settings.smtp_port),
        mail_domain=settings.mail_domain,
        retry=RetryPolicy(
            max_attempts=settings.send_max_attempts,
            initial_s=settings.send_retry_initial_s,
            max_s=settings.send_retry_max_s,
        ),
    )
    bus = Bus(settings.nats_url, settings.namespace, client_name=f"responer-{NAME}")
    relay = Relay(app, bus, NAME, map_event, NAME)

    service.on_startup(bus.connect)
    service.add_task("relay", relay.run)
    for sub in subscriptions(app):
        service.add_task(f"consume-{sub.producer}-{sub.purpose}", ConsumerRunner(bus, NAME, sub).run)

    async def interrupt_retries(stop: asyncio.Event) -> None:
        # A delivery waiting between retries runs in a worker thread: let it stop with the service.
        await stop.wait()
        app.stopping.set()

    service.add_task("interrupt-retries", interrupt_retries)
    servicer = OutboxServicer(app, on_queued=relay.wake)
    service.add_grpc(lambda server: outbox_pb2_grpc.add_OutboxServiceServicer_to_server(servicer, server))

    service.add_readiness("postgres", event_store_reachable(app))
    service.add_readiness("nats", lambda: bus.connected)

    async def close_app() -> None:
        await asyncio.to_thread(app.close)

    service.on_shutdown(bus.close)
    service.on_shutdown(close_app)
    return service
