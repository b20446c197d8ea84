"""Prometheus metrics every service exposes on /metrics (default registry)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EVENTS_PUBLISHED = Counter(
    "responer_events_published_total", "Integration events published to JetStream", ["service", "subject"]
)
EVENTS_CONSUMED = Counter(
    "responer_events_consumed_total", "Integration events handled", ["service", "consumer", "outcome"]
)
HANDLER_SECONDS = Histogram(
    "responer_handler_seconds", "Time spent handling one consumed event", ["service", "consumer"]
)
RELAY_POSITION = Gauge("responer_relay_position", "Last notification id published by the relay", ["service"])
RELAY_LAG = Gauge("responer_relay_lag", "Stored notifications not yet published", ["service"])
CONSUMER_PENDING = Gauge(
    "responer_consumer_pending", "Messages pending on a durable consumer", ["service", "consumer"]
)
READY = Gauge("responer_ready", "1 when the service reports ready", ["service"])
