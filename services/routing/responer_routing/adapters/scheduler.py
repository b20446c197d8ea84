"""The deadline scheduler: warnings before, ThreadOverdue at the breach, assignment timeouts.

Every replica may run it. Each effect is an event of the thread's aggregate that happens once
(`warn`/`breach` refuse a second time), and two replicas acting at once collide on the aggregate's
version: exactly one ThreadOverdue per breach.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from responer_routing.adapters.views import PostgresViews
from responer_routing.application import RoutingApplication

log = logging.getLogger(__name__)


class Scheduler:
    def __init__(
        self,
        app: RoutingApplication,
        views: PostgresViews,
        interval: float = 1.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        self.app = app
        self.views = views
        self.interval = interval
        self.clock = clock
        self.on_change = on_change

    def tick(self) -> int:
        """One pass; returns how many threads changed."""
        now = self.clock()
        changed = 0
        for tenant_id, thread_id in self.views.due(now):
            if self.app.check_deadline(tenant_id, thread_id, now):
                changed += 1
        for tenant_id, thread_id in self.views.timed_out(now):
            if self.app.return_untouched(tenant_id, thread_id, now):
                changed += 1
        if changed:
            self.on_change()
        return changed

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await asyncio.to_thread(self.tick)
            except Exception:  # noqa: BLE001 - a failed pass is retried at the next tick
                log.exception("scheduler pass failed")
            try:
                await asyncio.wait_for(stop.wait(), self.interval)
            except TimeoutError:
                pass
