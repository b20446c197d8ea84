"""IMAP sync of one mailbox: backfill, then IDLE (or polling), reconnecting with backoff and jitter.

Runs in its own thread (imapclient is synchronous). Every fetched batch goes through
IngestApplication.receive_batch, which stores the messages and the new UID position together;
the worker keeps no position of its own, so a restart or reconnect resumes exactly where the
store says.
"""

from __future__ import annotations

import logging
import random
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from imapclient import IMAPClient

from responer_ingest.application import IngestApplication
from responer_ingest.domain.mailbox import Mailbox

log = logging.getLogger(__name__)


@dataclass
class SyncHealth:
    last_sync_at: float | None = None
    last_error: str = ""
    connected: bool = False
    backfill_remaining: int = 0
    errors: int = 0
    extra: dict[str, str] = field(default_factory=dict)


class MailboxSync:
    def __init__(
        self,
        app: IngestApplication,
        mailbox_id: str,
        *,
        idle_timeout: float,
        poll_interval: float,
        fetch_batch: int,
        imap_timeout: float,
        on_stored: Callable[[int], None],
    ) -> None:
        self.app = app
        self.mailbox_id = mailbox_id
        self.idle_timeout = idle_timeout
        self.poll_interval = poll_interval
        self.fetch_batch = fetch_batch
        self.imap_timeout = imap_timeout
        self.on_stored = on_stored
        self.health = SyncHealth()
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self.run, name=f"imap-{mailbox_id[:8]}", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stop_event.set()

    def run(self) -> None:
        backoff = 1.0
        while not self.stop_event.is_set():
            try:
                mailbox = self.app.mailbox(self.mailbox_id)
                with self._connect(mailbox) as client:
                    self.health.connected = True
                    backoff = 1.0
                    self._sync_loop(client, mailbox)
            except Exception as exc:  # noqa: BLE001 - any failure: reconnect later, never give up
                self.health.errors += 1
                self.health.last_error = f"{type(exc).__name__}: {exc}"
                log.warning(
                    "mailbox sync failed; reconnecting",
                    extra={
                        "mailbox_id": self.mailbox_id,
                        "error": self.health.last_error,
                        "retry_in": backoff,
                    },
                )
            finally:
                self.health.connected = False
            # Full jitter keeps many mailboxes of one failed server from reconnecting in lockstep.
            self.stop_event.wait(random.uniform(0.5, 1.0) * backoff)  # noqa: S311 - jitter, not crypto
            backoff = min(backoff * 2, 60.0)

    def _connect(self, mailbox: Mailbox) -> IMAPClient:
        use_ssl = mailbox.tls_mode == "tls"
        context = ssl.create_default_context() if mailbox.tls_mode in ("tls", "starttls") else None
        client = IMAPClient(
            mailbox.imap_host,
            port=mailbox.imap_port,
            ssl=use_ssl,
            ssl_context=context if use_ssl else None,
            timeout=self.imap_timeout,
        )
        if mailbox.tls_mode == "starttls":
            client.starttls(context)
        client.login(mailbox.username, self.app.password(mailbox))
        return client

    def _sync_loop(self, client: IMAPClient, mailbox: Mailbox) -> None:
        folder = mailbox.folders[0] if mailbox.folders else "INBOX"
        can_idle = b"IDLE" in client.capabilities()
        while not self.stop_event.is_set():
            info = client.select_folder(folder, readonly=True)
            uidvalidity = int(info[b"UIDVALIDITY"])
            self._fetch_new(client, folder, uidvalidity)
            self.health.last_sync_at = time.time()
            self.health.last_error = ""
            if can_idle:
                self._idle(client)
            else:
                self.stop_event.wait(self.poll_interval)

    def _fetch_new(self, client: IMAPClient, folder: str, uidvalidity: int) -> None:
        last = self.app.mailbox(self.mailbox_id).position(folder, uidvalidity)
        # "UID n:*" always answers at least the highest UID, even when it is below n.
        uids = sorted(uid for uid in client.search(["UID", f"{last + 1}:*"]) if uid > last)
        self.health.backfill_remaining = len(uids)
        for start in range(0, len(uids), self.fetch_batch):
            if self.stop_event.is_set():
                return
            batch = uids[start : start + self.fetch_batch]
            fetched = client.fetch(batch, ["BODY.PEEK[]"])
            items = [(uid, data[b"BODY[]"]) for uid, data in fetched.items() if b"BODY[]" in data]
            stored = self.app.receive_batch(self.mailbox_id, folder, uidvalidity, items)
            self.health.backfill_remaining = max(0, len(uids) - start - len(batch))
            if stored:
                self.on_stored(stored)

    def _idle(self, client: IMAPClient) -> None:
        client.idle()
        try:
            deadline = time.monotonic() + self.idle_timeout
            while not self.stop_event.is_set() and time.monotonic() < deadline:
                responses = client.idle_check(timeout=1.0)
                if any(b"EXISTS" in r or b"RECENT" in r for r in (_flatten(x) for x in responses)):
                    return
        finally:
            client.idle_done()


def _flatten(response: object) -> bytes:
    if isinstance(response, tuple):
        return b" ".join(_flatten(x) for x in response)
    if isinstance(response, bytes):
        return response
    return str(response).encode()
