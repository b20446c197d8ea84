"""Replicas of one consumer take turns: every event is handled once and in stream order, even when the
active replica dies without releasing its lease."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import Tracking
from responer.events.v1 import events_pb2
from responer_events import DecodedEvent, encode, subject_for
from responer_runtime.bus import Bus
from responer_runtime.consumer import ConsumerRunner, Subscription
from responer_runtime.es import ResponerApplication
from responer_runtime.esenv import ensure_schema, eventsourcing_env

pytestmark = pytest.mark.integration


class Seen(Aggregate):
    @event("Seen")
    def __init__(self, name: str, replica: str) -> None:
        self.name = name
        self.replica = replica


class SinkApp(ResponerApplication):
    name = "sink"


async def test_two_replicas_handle_each_event_once_in_order_across_a_crash(
    private_database, nats_url, fresh_namespace
):
    db = private_database
    ensure_schema(
        host=db.host, port=db.port, dbname=db.dbname, user=db.user, password=db.password, schema="sink"
    )
    app = SinkApp(
        env=eventsourcing_env(
            host=db.host, port=db.port, dbname=db.dbname, user=db.user, password=db.password, schema="sink"
        )
    )
    handled: list[tuple[str, str]] = []

    def handler_for(replica: str):
        def handle(decoded: DecodedEvent, tracking: Tracking) -> None:
            if app.already_processed(tracking):
                return
            if replica == "a" and decoded.payload.name >= "m030":
                time.sleep(0.2)  # slow enough to die with fetched messages in flight
            app.record(Seen(decoded.payload.name, replica), tracking=tracking)
            handled.append((decoded.payload.name, replica))

        return handle

    publisher = Bus(nats_url, fresh_namespace, "publisher")
    await publisher.connect()
    await publisher.ensure_stream("ingest")
    buses, tasks, stops = [], [], []
    for replica in ("a", "b"):
        bus = Bus(nats_url, fresh_namespace, f"replica-{replica}")
        await bus.connect()
        stop = asyncio.Event()
        runner = ConsumerRunner(
            bus, "sink", Subscription("ingest", "test", handler_for(replica)), batch=5, lease_ttl=2.0
        )
        buses.append(bus)
        stops.append(stop)
        tasks.append(asyncio.create_task(runner.run(stop)))
        await asyncio.sleep(0.3)  # "a" takes the lease first

    async def publish(n: int) -> None:
        payload = events_pb2.MailboxConnected(name=f"m{n:03d}")
        env = encode(payload, tenant_id=str(uuid.uuid4()), aggregate_id="x", aggregate_version=n)
        await publisher.js.publish(subject_for(type(payload), fresh_namespace), env.SerializeToString())

    for n in range(30):
        await publish(n)
    for _ in range(100):
        if len(handled) >= 30:
            break
        await asyncio.sleep(0.1)
    assert {r for _, r in handled} == {"a"}, "only the lease holder consumes"

    # "a" dies without a goodbye, mid-batch: messages fetched but not acknowledged are in flight.
    for n in range(30, 60):
        await publish(n)
    for _ in range(100):
        if len(handled) >= 32:
            break
        await asyncio.sleep(0.05)
    tasks[0].cancel()
    await buses[0]._nc.close()  # noqa: SLF001 - simulating a crash, not a shutdown
    for _ in range(600):
        if len(handled) >= 60:
            break
        await asyncio.sleep(0.1)

    if tasks[1].done() and tasks[1].exception():
        raise tasks[1].exception()
    stops[1].set()
    await asyncio.wait_for(tasks[1], 10)
    for bus in buses[1:] + [publisher]:
        await bus.close()

    names = [name for name, _ in handled]
    assert names == [f"m{n:03d}" for n in range(60)], "every event once, in stream order"
    replicas = [r for _, r in handled]
    switch = replicas.index("b")
    assert set(replicas[:switch]) == {"a"} and set(replicas[switch:]) == {"b"}, "one hand-over, a to b"
    assert switch < 60, "the standby took over"
