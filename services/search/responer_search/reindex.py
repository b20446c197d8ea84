"""Rebuild the search read model from the event streams (`responer search reindex`).

The streams keep every event, so the read model is a function of them: each upstream stream is read
from its first message with an ephemeral ordered consumer and fed, in batches, through the same
handlers the service's consumers use (batch_dispatcher: one transaction per batch on PostgreSQL).

- PostgreSQL: the `search` schema is dropped and recreated, then replayed. The service must be stopped
  meanwhile (a running consumer would claim newer positions first and the replay's older ones would
  then be refused); the command refuses to start while a `search-index` lease is held.
- OpenSearch: a new generation of indices is filled while the live one keeps answering, the aliases
  are swapped in one atomic call, and a last catch-up pass applies what the live service indexed
  between the end of the replay and the swap. No downtime.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from eventsourcing.persistence import Tracking
from nats.js import api
from responer_events import DecodedEvent, decode
from responer_runtime.bus import Bus

from responer_search.domain.ports import SearchBackend
from responer_search.handlers import batch_dispatcher

UPSTREAMS = ("threading", "routing", "gateway")
BATCH = 1000

Progress = Callable[[int, int], None]  # (events done in this stream, events in the stream)


@dataclass
class ReplayStats:
    events: int = 0
    seconds: float = 0.0
    per_stream: dict[str, int] = field(default_factory=dict)

    @property
    def per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


async def stream_size(bus: Bus, producer: str) -> tuple[str, int]:
    stream = await bus.ensure_stream(producer)
    info = await bus.js.stream_info(stream)
    return stream, int(info.state.last_seq or 0)


async def replay(
    bus: Bus,
    backend: SearchBackend,
    upstreams: tuple[str, ...] = UPSTREAMS,
    progress: Progress | None = None,
    batch: int = BATCH,
    start_after: dict[str, int] | None = None,
) -> ReplayStats:
    """Every event of each upstream (after `start_after[stream]`) through the handlers, in order."""
    apply = batch_dispatcher(backend)
    stats = ReplayStats()
    started = time.perf_counter()
    for producer in upstreams:
        stream, last = await stream_size(bus, producer)
        first = (start_after or {}).get(stream, 0) + 1
        if last < first:
            stats.per_stream[stream] = 0
            continue
        sub = await bus.js.pull_subscribe(
            bus.subject_filter(producer),
            stream=stream,
            config=api.ConsumerConfig(
                deliver_policy=api.DeliverPolicy.BY_START_SEQUENCE,
                opt_start_seq=first,
                ack_policy=api.AckPolicy.NONE,
                inactive_threshold=60.0,
            ),
        )
        done = 0
        seq = first - 1
        try:
            while seq < last:
                try:
                    msgs = await sub.fetch(batch, timeout=2.0)
                except TimeoutError:
                    # Nothing more (a stream's last message may have been deleted): the end.
                    break
                items: list[tuple[DecodedEvent, Tracking]] = []
                for msg in msgs:
                    seq = msg.metadata.sequence.stream
                    try:
                        items.append((decode(msg.data), Tracking(stream, seq)))
                    except KeyError:
                        continue  # a newer event type: not ours
                await asyncio.to_thread(apply, items)
                done += len(msgs)
                if progress is not None:
                    progress(done, last - first + 1)
        finally:
            await sub.unsubscribe()
        stats.per_stream[stream] = done
        stats.events += done
    stats.seconds = time.perf_counter() - started
    return stats
