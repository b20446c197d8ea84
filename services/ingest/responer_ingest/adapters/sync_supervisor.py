"""Starts one sync worker per connected mailbox and stops them all on shutdown."""

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
        self._rescan = asyncio.Event()

    def health_of(self, mailbox_id: str) -> SyncHealth | None:
        worker = self.workers.get(mailbox_id)
        return worker.health if worker else None

    def rescan(self) -> None:
        self._rescan.set()

    async def run(self, stop: asyncio.Event) -> None:
        try:
            while not stop.is_set():
                for mailbox in await asyncio.to_thread(self.app.mailboxes):
                    key = str(mailbox.id)
                    if key not in self.workers:
                        log.info(
                            "starting mailbox sync", extra={"mailbox_id": key, "address": mailbox.address}
                        )
                        worker = self.make_sync(key)
                        self.workers[key] = worker
                        worker.start()
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
