"""The routing service running in-process against real PostgreSQL and NATS JetStream, for the merge and
split tests: yields (service, gRPC stub, publish(payload, tenant, at=None), jetstream, namespace)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime

import grpc
import nats
import pytest
from responer.routing.v1 import routing_pb2_grpc
from responer_events import encode, stream_name, subject_for
from responer_routing.bootstrap import build
from responer_routing.config import Settings


@pytest.fixture
async def routing(private_database, nats_url, namespace, unused_tcp_port_factory):
    ns = f"{namespace}s{uuid.uuid4().hex[:4]}"
    settings = Settings(
        namespace=ns,
        nats_url=nats_url,
        pg_host=private_database.host,
        pg_port=private_database.port,
        pg_dbname=private_database.dbname,
        pg_user=private_database.user,
        pg_password=private_database.password,
        ops_port=unused_tcp_port_factory(),
        grpc_port=unused_tcp_port_factory(),
    )
    service = build(settings)
    task = asyncio.create_task(service.serve())
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    await js.add_stream(name=stream_name("threading", ns), subjects=[f"{ns}.threading.>"])
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{settings.grpc_port}")
    stub = routing_pb2_grpc.RoutingServiceStub(channel)

    async def publish(payload, tenant: str, at: datetime | None = None) -> None:  # noqa: ANN001
        env = encode(payload, tenant_id=tenant, aggregate_id=str(uuid.uuid4()), aggregate_version=1, occurred_at=at)  # fmt: skip
        await js.publish(subject_for(type(payload), ns), env.SerializeToString())

    try:
        yield service, stub, publish, js, ns
    finally:
        await channel.close()
        service.stop.set()
        await asyncio.wait_for(task, 20)
        for producer in ("threading", "routing"):
            try:
                await js.delete_stream(stream_name(producer, ns))
            except Exception:  # noqa: BLE001
                pass
        await nc.close()
