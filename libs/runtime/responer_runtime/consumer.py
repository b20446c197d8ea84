"""Durable pull consumers that hand each event to a synchronous handler, exactly once in effect.

A handler receives the decoded event and a Tracking(upstream=stream name, position=stream sequence).
It must write its effect and that tracking record in one transaction (ResponerApplication.record or
sqltracking.tracked) and skip positions already tracked, so a redelivery has no second effect.
Replicas sharing one durable take turns through a lease (lease.py): one consumes, the others stand by.
Events of one consumer are handled strictly in stream order; on an error the message and the rest of
the batch are redelivered after a back-off, so order is kept.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from eventsourcing.persistence import Tracking
from nats.errors import TimeoutError as NatsTimeoutError
from responer_events import DecodedEvent, decode

from responer_runtime.bus import Bus
from responer_runtime.lease import Lease, replica_id
from responer_runtime.logs import correlation_id_var, event_id_var, tenant_id_var
from responer_runtime.metrics import EVENTS_CONSUMED, HANDLER_SECONDS

log = logging.getLogger(__name__)

Handler = Callable[[DecodedEvent, Tracking], None]
# Optional: the events of one fetch, in stream order, applied together (e.g. in one transaction). If it
# raises, it must have changed nothing; the runner then retries the events one by one with `handler`.
BatchHandler = Callable[[list[tuple[DecodedEvent, Tracking]]], None]


@dataclass(frozen=True)
class Subscription:
    """`<service>-<purpose>` consumes the stream of `producer`, filtered by `filter_suffix`."""

    producer: str
    purpose: str
    handler: Handler
    filter_suffix: str = ">"
    batch_handler: BatchHandler | None = None


class ConsumerRunner:
    def __init__(
        self, bus: Bus, service: str, subscription: Subscription, batch: int = 50, lease_ttl: float = 15.0
    ) -> None:
        self.bus = bus
        self.service = service
        self.sub = subscription
        self.batch = batch
        self.durable = f"{service}-{subscription.purpose}"
        self.lease_ttl = lease_ttl

    async def run(self, stop: asyncio.Event) -> None:
        stream = await self.bus.ensure_consumer(self.sub.producer, self.durable, self.sub.filter_suffix)
        # A durable name is unique per stream only: the lease is per (stream, durable).
        key = f"{stream}.{self.durable}"
        lease = Lease(self.bus.js, self.bus.lease_bucket(), key, replica_id(), self.lease_ttl)
        try:
            while not stop.is_set():
                if not await lease.acquire(stop):
                    return
                if lease.graceful or await self._wait_for_inflight(stream, stop, lease):
                    await self._consume(stream, stop, lease)
        finally:
            await lease.release()

    async def _wait_for_inflight(self, stream: str, stop: asyncio.Event, lease: Lease) -> bool:
        """After taking over from a holder that died, its fetched but unacknowledged messages come
        back for redelivery only after ack_wait; fetching earlier would hand us later messages first
        and break order. Redeliveries are served before new messages, so one ack_wait is enough.
        Keeps the lease renewed meanwhile; False if it was lost anyway."""
        info = await self.bus.js.consumer_info(stream, self.durable)
        if not info.num_ack_pending:
            return True
        wait = info.config.ack_wait or 30.0
        log.info(
            "waiting for a previous replica's in-flight messages",
            extra={"consumer": self.durable, "in_flight": info.num_ack_pending, "seconds": wait},
        )
        deadline = asyncio.get_running_loop().time() + wait
        while not stop.is_set():
            if not await lease.renew_if_due():
                return False
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                return True
            try:
                await asyncio.wait_for(stop.wait(), min(remaining, lease.ttl / 4))
            except TimeoutError:
                pass
        return False

    async def _consume(self, stream: str, stop: asyncio.Event, lease: Lease) -> None:
        psub = await self.bus.js.pull_subscribe_bind(self.durable, stream=stream)
        backoff = 0.2
        try:
            while not stop.is_set():
                if not await lease.renew_if_due():
                    return
                try:
                    msgs = await psub.fetch(self.batch, timeout=1.0)
                except (NatsTimeoutError, TimeoutError):
                    continue
                except Exception as exc:  # noqa: BLE001 - reconnecting; keep trying
                    log.warning("fetch failed", extra={"consumer": self.durable, "error": repr(exc)})
                    await asyncio.sleep(1.0)
                    continue
                if self.sub.batch_handler is not None and len(msgs) > 1:
                    if not await lease.renew_if_due():
                        for msg in msgs:
                            await msg.nak(delay=0)
                        return
                    if await self._handle_batch(stream, msgs):
                        for msg in msgs:
                            await msg.ack()
                        backoff = 0.2
                        continue
                    # Nothing of the batch was applied: one by one below finds (and retries) the culprit.
                for i, msg in enumerate(msgs):
                    held = await lease.renew_if_due()
                    ok = held and await self._handle(stream, msg)
                    if not ok:
                        # Give the rest back in order: to our next attempt, or to the next lease holder.
                        for rest in msgs[i:]:
                            await rest.nak(delay=backoff if held else 0)
                        if not held:
                            return
                        await asyncio.sleep(backoff)
                        backoff = min(backoff * 2, 10.0)
                        break
                    backoff = 0.2
                    await msg.ack()
        finally:
            try:
                await psub.unsubscribe()
            except Exception:  # noqa: BLE001 - connection already closing
                pass

    async def _handle_batch(self, stream: str, msgs: list) -> bool:
        assert self.sub.batch_handler is not None
        started = time.perf_counter()
        items: list[tuple[DecodedEvent, Tracking]] = []
        for msg in msgs:
            try:
                event = decode(msg.data)
            except KeyError:
                EVENTS_CONSUMED.labels(self.service, self.durable, "unknown_type").inc()
                continue
            items.append((event, Tracking(stream, msg.metadata.sequence.stream)))
        try:
            await asyncio.to_thread(self.sub.batch_handler, items)
        except Exception:
            log.warning(
                "batch handler failed; handling one by one", exc_info=True, extra={"consumer": self.durable}
            )
            return False
        EVENTS_CONSUMED.labels(self.service, self.durable, "ok").inc(len(items))
        HANDLER_SECONDS.labels(self.service, self.durable).observe(time.perf_counter() - started)
        return True

    async def _handle(self, stream: str, msg) -> bool:  # noqa: ANN001
        started = time.perf_counter()
        try:
            event = decode(msg.data)
        except KeyError:
            # A newer producer's event type we do not know: not ours to handle.
            EVENTS_CONSUMED.labels(self.service, self.durable, "unknown_type").inc()
            return True
        tenant_id_var.set(event.envelope.tenant_id)
        correlation_id_var.set(event.envelope.correlation_id)
        event_id_var.set(event.envelope.event_id)
        tracking = Tracking(stream, msg.metadata.sequence.stream)
        try:
            await asyncio.to_thread(self.sub.handler, event, tracking)
        except Exception:
            log.exception("handler failed", extra={"consumer": self.durable, "type": event.type})
            EVENTS_CONSUMED.labels(self.service, self.durable, "error").inc()
            return False
        EVENTS_CONSUMED.labels(self.service, self.durable, "ok").inc()
        HANDLER_SECONDS.labels(self.service, self.durable).observe(time.perf_counter() - started)
        return True
