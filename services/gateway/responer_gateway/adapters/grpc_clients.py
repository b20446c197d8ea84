"""Client stubs of the gRPC services the gateway calls, and their health checks."""

from __future__ import annotations

from dataclasses import dataclass

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from responer.ingest.v1 import ingest_pb2_grpc
from responer.outbox.v1 import outbox_pb2_grpc
from responer.routing.v1 import routing_pb2_grpc
from responer.search.v1 import search_pb2_grpc
from responer.threading.v1 import threading_pb2_grpc
from responer_runtime.grpcutil import channel


@dataclass
class Backends:
    search: search_pb2_grpc.SearchServiceStub
    ingest: ingest_pb2_grpc.IngestServiceStub
    outbox: outbox_pb2_grpc.OutboxServiceStub
    channels: dict[str, grpc.aio.Channel]
    routing: routing_pb2_grpc.RoutingServiceStub | None = None
    threading: threading_pb2_grpc.ThreadingServiceStub | None = None

    @classmethod
    def connect(
        cls,
        *,
        search_addr: str,
        ingest_addr: str,
        outbox_addr: str,
        routing_addr: str = "",
        threading_addr: str = "",
    ) -> Backends:
        """Creates the channels; gRPC connects lazily, so this works before the services are up."""
        channels = {
            "search": channel(search_addr),
            "ingest": channel(ingest_addr),
            "outbox": channel(outbox_addr),
        }
        if routing_addr:
            channels["routing"] = channel(routing_addr)
        if threading_addr:
            channels["threading"] = channel(threading_addr)
        return cls(
            routing=routing_pb2_grpc.RoutingServiceStub(channels["routing"]) if routing_addr else None,
            search=search_pb2_grpc.SearchServiceStub(channels["search"]),
            ingest=ingest_pb2_grpc.IngestServiceStub(channels["ingest"]),
            outbox=outbox_pb2_grpc.OutboxServiceStub(channels["outbox"]),
            channels=channels,
            threading=threading_pb2_grpc.ThreadingServiceStub(channels["threading"])
            if threading_addr
            else None,
        )

    async def healthy(self, name: str, timeout: float = 1.5) -> bool:
        stub = health_pb2_grpc.HealthStub(self.channels[name])
        try:
            reply = await stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=timeout)
        except grpc.aio.AioRpcError:
            return False
        return reply.status == health_pb2.HealthCheckResponse.SERVING

    async def close(self) -> None:
        for ch in self.channels.values():
            await ch.close()
