"""Builds the threading service: the only place its adapters are constructed."""

from __future__ import annotations

from responer.threading.v1 import threading_pb2_grpc
from responer_runtime.bus import Bus
from responer_runtime.checks import event_store_reachable
from responer_runtime.consumer import ConsumerRunner, Subscription
from responer_runtime.esenv import ensure_schema
from responer_runtime.relay import Relay
from responer_runtime.service import Service

from responer_threading.adapters.event_mapping import map_event
from responer_threading.adapters.grpc_servicer import ThreadingServicer
from responer_threading.application import ThreadingApplication
from responer_threading.config import Settings
from responer_threading.handlers import dispatch

SCHEMA = "threading"


def build(settings: Settings) -> Service:
    service = Service("threading", settings)
    ensure_schema(**settings.pg_kwargs(), schema=SCHEMA)
    app = ThreadingApplication(env=settings.es_env(SCHEMA))
    bus = Bus(settings.nats_url, settings.namespace, "responer-threading")
    relay = Relay(app, bus, "threading", map_event, "threading")
    handle = dispatch(app)

    service.on_startup(bus.connect)
    service.add_task("relay", relay.run)
    service.add_task(
        "mail", ConsumerRunner(bus, "threading", Subscription("ingest", "mail", relay.waking(handle))).run
    )
    service.add_task(
        "status",
        ConsumerRunner(bus, "threading", Subscription("routing", "status", relay.waking(handle))).run,
    )
    service.add_task(
        "replies",
        ConsumerRunner(bus, "threading", Subscription("outbox", "replies", relay.waking(handle))).run,
    )
    servicer = ThreadingServicer(app, relay.wake)
    service.add_grpc(
        lambda server: threading_pb2_grpc.add_ThreadingServiceServicer_to_server(servicer, server)
    )
    service.add_readiness("nats", lambda: bus.connected)
    service.add_readiness("postgres", event_store_reachable(app))
    service.on_shutdown(bus.close)
    service.app = app  # type: ignore[attr-defined]
    return service
