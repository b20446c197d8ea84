"""The relay: publishes a service's stored domain events to JetStream, in notification order.

Nothing is published that was not stored first. The stream itself is the checkpoint: each message
carries the notification id in a header, so after a restart the relay resumes after the last one.
Nats-Msg-Id is a deterministic event id, so a re-publish inside the duplicate window is dropped.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import Message
from responer_events import encode, subject_for

from responer_runtime.bus import HEADER_POSITION, HEADER_TENANT, HEADER_TYPE, Bus
from responer_runtime.es import ResponerApplication
from responer_runtime.metrics import EVENTS_PUBLISHED, RELAY_LAG, RELAY_POSITION

log = logging.getLogger(__name__)

EVENT_ID_NAMESPACE = uuid.UUID("6f1d1b7e-5a0c-4c8f-9d55-2f4d2b0f9a11")


@dataclass(frozen=True)
class Outgoing:
    payload: Message
    tenant_id: str
    correlation_id: str = ""
    causation_id: str = ""


# Maps one domain event to its integration events (usually zero or one).
EventMapper = Callable[[object], list[Outgoing]]


def event_id_of(originator_id: uuid.UUID, version: int, index: int = 0) -> str:
    return str(uuid.uuid5(EVENT_ID_NAMESPACE, f"{originator_id}/{version}/{index}"))


class Relay:
    def __init__(
        self,
        app: ResponerApplication,
        bus: Bus,
        producer: str,
        mapper: EventMapper,
        service: str,
        batch: int = 200,
        poll_interval: float = 0.05,
    ) -> None:
        self.app = app
        self.bus = bus
        self.producer = producer
        self.mapper = mapper
        self.service = service
        self.batch = batch
        self.poll_interval = poll_interval
        self.position: int | None = None
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    def wake(self) -> None:
        """Publish now rather than at the next poll. Safe to call from any thread."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    def waking(self, handler: Callable[[Any, Any], None]) -> Callable[[Any, Any], None]:
        """Wraps a consumer handler so that the events it stored are published at once."""

        def handle(event: Any, tracking: Any) -> None:
            handler(event, tracking)
            self.wake()

        return handle

    async def run(self, stop: asyncio.Event) -> None:
        self._loop = asyncio.get_running_loop()
        await self.bus.ensure_stream(self.producer)
        last = await self.bus.last_header(self.producer, HEADER_POSITION)
        self.position = int(last) if last else None
        # Re-read the last published notification: if it maps to several events, a crash may have
        # published only some of them. Nats-Msg-Id makes the repeats harmless.
        inclusive = self.position is not None
        log.info("relay starting", extra={"producer": self.producer, "position": self.position})
        while not stop.is_set():
            notifications = await asyncio.to_thread(
                self.app.recorder.select_notifications,
                start=self.position,
                limit=self.batch,
                inclusive_of_start=inclusive,
            )
            inclusive = False
            for notification in notifications:
                await self._publish(notification, stop)
                if stop.is_set():
                    return
                self.position = notification.id
                RELAY_POSITION.labels(self.service).set(notification.id)
            if len(notifications) < self.batch:
                RELAY_LAG.labels(self.service).set(0)
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), self.poll_interval)
                except TimeoutError:
                    pass

    async def _publish(self, notification: object, stop: asyncio.Event) -> None:
        domain_event = self.app.mapper.to_domain_event(notification)  # type: ignore[arg-type]
        for index, out in enumerate(self.mapper(domain_event)):
            subject = subject_for(type(out.payload), self.bus.namespace)
            event_id = event_id_of(domain_event.originator_id, domain_event.originator_version, index)
            envelope = encode(
                out.payload,
                tenant_id=out.tenant_id,
                aggregate_id=str(domain_event.originator_id),
                aggregate_version=domain_event.originator_version,
                event_id=event_id,
                occurred_at=domain_event.timestamp,
                correlation_id=out.correlation_id,
                causation_id=out.causation_id,
            )
            headers = {
                "Nats-Msg-Id": event_id,
                HEADER_POSITION: str(notification.id),  # type: ignore[attr-defined]
                HEADER_TENANT: out.tenant_id,
                HEADER_TYPE: envelope.type,
            }
            delay = 0.2
            while True:
                try:
                    await self.bus.js.publish(subject, envelope.SerializeToString(), headers=headers)
                    break
                except Exception as exc:  # noqa: BLE001 - NATS down or slow: keep the event, retry
                    if stop.is_set():
                        return
                    log.warning("publish failed, retrying", extra={"subject": subject, "error": repr(exc)})
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 5.0)
            EVENTS_PUBLISHED.labels(self.service, subject).inc()
