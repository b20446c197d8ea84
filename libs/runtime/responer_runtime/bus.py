"""The NATS JetStream event bus: one stream per producing service, durable pull consumers."""

from __future__ import annotations

import logging

import nats
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext, api
from nats.js.errors import BadRequestError, NotFoundError
from responer_events import stream_name

log = logging.getLogger(__name__)

HEADER_POSITION = "Responer-Position"
HEADER_TENANT = "Responer-Tenant"
HEADER_TYPE = "Responer-Type"


class Bus:
    def __init__(self, url: str, namespace: str, client_name: str) -> None:
        self.url = url
        self.namespace = namespace
        self.client_name = client_name
        self._nc: NATS | None = None
        self._js: JetStreamContext | None = None
        self._streams: set[str] = set()

    async def connect(self) -> None:
        self._nc = await nats.connect(
            self.url,
            name=self.client_name,
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.5,
            connect_timeout=5,
            drain_timeout=3,
            error_cb=self._on_error,
        )
        self._js = self._nc.jetstream(timeout=10)

    async def _on_error(self, exc: Exception) -> None:
        log.warning("nats error", extra={"error": repr(exc)})

    @property
    def js(self) -> JetStreamContext:
        if self._js is None:
            raise RuntimeError("Bus.connect() was not called")
        return self._js

    @property
    def connected(self) -> bool:
        return self._nc is not None and self._nc.is_connected

    def stream(self, producer: str) -> str:
        return stream_name(producer, self.namespace)

    def lease_bucket(self) -> str:
        """KV bucket for the leases that make replicas of one consumer take turns."""
        return f"{self.namespace}_leases".upper().replace(".", "_")

    def subject_filter(self, producer: str, suffix: str = ">") -> str:
        return f"{self.namespace}.{producer}.{suffix}"

    async def ensure_stream(self, producer: str) -> str:
        name = self.stream(producer)
        if name in self._streams:
            return name
        config = api.StreamConfig(
            name=name,
            subjects=[self.subject_filter(producer)],
            storage=api.StorageType.FILE,
            retention=api.RetentionPolicy.LIMITS,
            duplicate_window=120.0,
        )
        try:
            await self.js.add_stream(config)
        except BadRequestError as exc:  # exists with another config: keep the stored one
            log.info("stream exists", extra={"stream": name, "detail": str(exc)})
        self._streams.add(name)
        return name

    async def ensure_consumer(self, producer: str, durable: str, filter_suffix: str = ">") -> str:
        stream = await self.ensure_stream(producer)
        try:
            await self.js.consumer_info(stream, durable)
        except NotFoundError:
            await self.js.add_consumer(
                stream,
                api.ConsumerConfig(
                    durable_name=durable,
                    ack_policy=api.AckPolicy.EXPLICIT,
                    deliver_policy=api.DeliverPolicy.ALL,
                    filter_subject=self.subject_filter(producer, filter_suffix),
                    ack_wait=20.0,
                    max_ack_pending=1000,
                ),
            )
        return stream

    async def last_header(self, producer: str, header: str) -> str | None:
        """The given header of the stream's last message, or None for an empty stream."""
        stream = await self.ensure_stream(producer)
        info = await self.js.stream_info(stream)
        if not info.state.last_seq:
            return None
        try:
            msg = await self.js.get_msg(stream, seq=info.state.last_seq)
        except NotFoundError:
            return None
        return (msg.headers or {}).get(header)

    async def close(self) -> None:
        if self._nc is not None and not self._nc.is_closed:
            try:
                await self._nc.drain()
            except Exception:  # noqa: BLE001 - shutting down anyway
                await self._nc.close()
