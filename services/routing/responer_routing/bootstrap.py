"""Builds the routing service: the only place its adapters are constructed."""

from __future__ import annotations

from responer_runtime.bus import Bus
from responer_runtime.checks import event_store_reachable
from responer_runtime.consumer import ConsumerRunner, Subscription
from responer_runtime.esenv import ensure_schema
from responer_runtime.relay import Relay
from responer_runtime.service import Service

from responer_routing.adapters.event_mapping import map_event
from responer_routing.application import RoutingApplication
from responer_routing.config import Settings
from responer_routing.domain.system_mail import SortingPolicy
from responer_routing.handlers import dispatch

SCHEMA = "routing"


def build(settings: Settings) -> Service:
    service = Service("routing", settings)
    ensure_schema(**settings.pg_kwargs(), schema=SCHEMA)
    policy = SortingPolicy(own_message_id_domains=frozenset({settings.mail_domain}))
    app = RoutingApplication(env=settings.es_env(SCHEMA), policy=policy)
    bus = Bus(settings.nats_url, settings.namespace, "responer-routing")
    relay = Relay(app, bus, "routing", map_event, "routing")
    handle = dispatch(app)

    consumer = ConsumerRunner(bus, "routing", Subscription("threading", "sort", relay.waking(handle)))
    service.on_startup(bus.connect)
    service.add_task("relay", relay.run)
    service.add_task("sort", consumer.run)
    service.add_readiness("nats", lambda: bus.connected)
    service.add_readiness("postgres", event_store_reachable(app))
    service.on_shutdown(bus.close)
    service.app = app  # type: ignore[attr-defined]
    return service
