"""Builds the routing service: the only place its adapters are constructed."""

from __future__ import annotations

from responer.routing.v1 import routing_pb2_grpc
from responer_runtime.bus import Bus
from responer_runtime.checks import event_store_reachable
from responer_runtime.consumer import ConsumerRunner, Subscription
from responer_runtime.esenv import ensure_schema
from responer_runtime.relay import Relay
from responer_runtime.service import Service

from responer_routing.adapters.event_mapping import make_mapper
from responer_routing.adapters.grpc_servicer import RoutingServicer
from responer_routing.adapters.scheduler import Scheduler
from responer_routing.adapters.views import PostgresViews
from responer_routing.application import RoutingApplication
from responer_routing.config import Settings
from responer_routing.domain.system_mail import SortingPolicy
from responer_routing.handlers import GATEWAY_HANDLERS, THREADING_HANDLERS, dispatch

SCHEMA = "routing"


def build(settings: Settings) -> Service:
    service = Service("routing", settings)
    ensure_schema(**settings.pg_kwargs(), schema=SCHEMA)
    policy = SortingPolicy(own_message_id_domains=frozenset({settings.mail_domain}))
    # Replicas of a consumer take turns (the runtime's lease), so each upstream is consumed in order
    # and the default single-row tracking holds; concurrent writers (a takeover, the gRPC commands,
    # every replica's scheduler) meet on the aggregates' versions instead.
    env = settings.es_env(SCHEMA)
    views = PostgresViews(settings.pg_conninfo(), SCHEMA)
    app = RoutingApplication(env=env, policy=policy, views=views)
    bus = Bus(settings.nats_url, settings.namespace, "responer-routing")
    relay = Relay(app, bus, "routing", make_mapper(app), "routing")
    scheduler = Scheduler(app, views, interval=settings.scheduler_interval_s, on_change=relay.wake)

    sort = ConsumerRunner(bus, "routing", Subscription("threading", "sort", relay.waking(dispatch(app))))
    agents = ConsumerRunner(
        bus, "routing", Subscription("gateway", "agents", relay.waking(dispatch(app, GATEWAY_HANDLERS)))
    )
    servicer = RoutingServicer(app, views, relay.wake)
    service.add_grpc(lambda server: routing_pb2_grpc.add_RoutingServiceServicer_to_server(servicer, server))
    service.on_startup(bus.connect)
    service.add_task("relay", relay.run)
    service.add_task("sort", sort.run)
    service.add_task("agents", agents.run)
    service.add_task("scheduler", scheduler.run)
    service.add_readiness("nats", lambda: bus.connected)
    service.add_readiness("postgres", event_store_reachable(app))
    service.on_shutdown(bus.close)

    async def close_views() -> None:
        views.close()

    service.on_shutdown(close_views)
    service.app = app  # type: ignore[attr-defined]
    service.views = views  # type: ignore[attr-defined]
    service.scheduler = scheduler  # type: ignore[attr-defined]
    _ = THREADING_HANDLERS
    return service
