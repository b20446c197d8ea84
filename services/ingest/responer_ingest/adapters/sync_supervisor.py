"""Starts one sync worker per active mailbox; stops the workers of paused and removed ones."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from responer_ingest.adapters.imap_sync import MailboxSync, SyncHealth
from responer_ingest.application import IngestApplication

log = logging.getLogger(__name__)


class SyncSupervisor:
    def __init__(
        self, app: IngestApplication, make_sync: Callable[[str], MailboxSync], rescan_s: float
    ) -> None:
        self.app = app
        self.make_sync = make_sync
        self.rescan_s = rescan_s
        self.workers: dict[str, MailboxSync] = {}
        # Health outlives a stopped worker, so a paused mailbox still shows its last sync.
        self.last_health: dict[str, SyncHealth] = {}
        self._rescan = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    def health_of(self, mailbox_id: str) -> SyncHealth | None:
        worker = self.workers.get(mailbox_id)
        return worker.health if worker else self.last_health.get(mailbox_id)

    def rescan(self) -> None:
        """Re-read the mailbox list now; safe from any thread."""
        for worker in list(self.workers.values()):
            worker.poke()
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._rescan.set)
        else:
            self._rescan.set()

    async def _scan(self) -> None:
        mailboxes = await asyncio.to_thread(self.app.mailboxes)
        active = {str(m.id): m for m in mailboxes if m.active}
        for key, worker in list(self.workers.items()):
            if key not in active or not worker.thread.is_alive():
                worker.stop()
                self.last_health[key] = worker.health
                del self.workers[key]
        for key, mailbox in active.items():
            if key not in self.workers:
                log.info("starting mailbox sync", extra={"mailbox_id": key, "address": mailbox.address})
                worker = self.make_sync(key)
                previous = self.last_health.get(key)
                if previous is not None:
                    worker.health.last_sync_at = previous.last_sync_at
                self.workers[key] = worker
                worker.start()

    async def run(self, stop: asyncio.Event) -> None:
        self._loop = asyncio.get_running_loop()
        try:
            while not stop.is_set():
                await self._scan()
                self._rescan.clear()
                waiters = [asyncio.create_task(stop.wait()), asyncio.create_task(self._rescan.wait())]
                await asyncio.wait(waiters, timeout=self.rescan_s, return_when=asyncio.FIRST_COMPLETED)
                for w in waiters:
                    w.cancel()
        finally:
            for worker in self.workers.values():
                worker.stop()
            for worker in self.workers.values():
                await asyncio.to_thread(worker.thread.join, 5.0)
