"""IMAP sync of one mailbox: backfill, then IDLE (or polling), reconnecting with backoff and jitter.

Runs in its own thread (imapclient is synchronous), over ONE connection per mailbox: each pass reads
every configured folder, then IDLEs on the first folder. With several folders the IDLE is cut short
after `poll_interval`, so the others are polled at that rate; one connection per mailbox keeps within
the per-account connection limits of real servers (Gmail 15, dovecot 10 per IP, Exchange 8-20).

Every fetched batch goes through IngestApplication.receive_batch_outcome, which stores the messages
and the new UID position together; the worker keeps no position of its own, so a restart or reconnect
resumes exactly where the store says. A change of the mailbox's settings (or pause/remove) is noticed
at the next pass (poke() makes that immediate) and the worker reconnects or stops.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from imapclient import IMAPClient

from responer_ingest.adapters import metrics
from responer_ingest.adapters.imap_connect import ConnectError, TokenSource, open_client
from responer_ingest.application import IngestApplication
from responer_ingest.domain.mailbox import Mailbox

log = logging.getLogger(__name__)


@dataclass
class FolderProgress:
    uidvalidity: int = 0
    last_uid: int = 0
    backfill_total: int = 0
    backfill_done: int = 0

    @property
    def remaining(self) -> int:
        return max(0, self.backfill_total - self.backfill_done)


@dataclass
class SyncHealth:
    last_sync_at: float | None = None
    last_error: str = ""
    last_error_stage: str = ""
    connected: bool = False
    errors: int = 0
    folders: dict[str, FolderProgress] = field(default_factory=dict)

    @property
    def backfill_total(self) -> int:
        return sum(f.backfill_total for f in self.folders.values())

    @property
    def backfill_done(self) -> int:
        return sum(f.backfill_done for f in self.folders.values())

    @property
    def backfill_remaining(self) -> int:
        return sum(f.remaining for f in self.folders.values())

    @property
    def lag_seconds(self) -> int:
        return int(time.time() - self.last_sync_at) if self.last_sync_at else 0


class _SettingsChanged(Exception):
    pass


def _fingerprint(mailbox: Mailbox) -> tuple:
    return (
        mailbox.imap_host,
        mailbox.imap_port,
        mailbox.tls_mode,
        mailbox.username,
        mailbox.auth_method,
        bytes(mailbox.secret),
        tuple(mailbox.folders),
        mailbox.token_endpoint,
        mailbox.client_id,
    )


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
        tokens: TokenSource | None = None,
        max_backoff: float = 60.0,
        ca_file: str = "",
    ) -> None:
        self.app = app
        self.mailbox_id = mailbox_id
        self.idle_timeout = idle_timeout
        self.poll_interval = poll_interval
        self.fetch_batch = fetch_batch
        self.imap_timeout = imap_timeout
        self.on_stored = on_stored
        self.tokens = tokens or _no_tokens
        self.max_backoff = max_backoff
        self.ca_file = ca_file
        self.health = SyncHealth()
        self.stop_event = threading.Event()
        self._poke = threading.Event()
        self.thread = threading.Thread(target=self.run, name=f"imap-{mailbox_id[:8]}", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stop_event.set()
        self._poke.set()

    def poke(self) -> None:
        """Re-read the mailbox's settings now (they may have changed) instead of after the IDLE."""
        self._poke.set()

    def run(self) -> None:
        backoff = 1.0
        while not self.stop_event.is_set():
            mailbox = self.app.mailbox(self.mailbox_id)
            if not mailbox.active:
                log.info("mailbox not active; sync stops", extra={"mailbox_id": self.mailbox_id})
                return
            try:
                client = open_client(
                    mailbox.imap_host,
                    mailbox.imap_port,
                    mailbox.tls_mode,
                    self.app.credentials(mailbox),
                    self.tokens,
                    self.imap_timeout,
                    self.ca_file,
                )
                try:
                    self._set_connected(True)
                    backoff = 1.0
                    self._sync_loop(client, mailbox)
                finally:
                    _logout(client)
            except _SettingsChanged:
                log.info("mailbox settings changed; reconnecting", extra={"mailbox_id": self.mailbox_id})
                continue
            except ConnectError as exc:
                self._failed(exc.stage, exc.reason, backoff)
            except Exception as exc:  # noqa: BLE001 - any failure: reconnect later, never give up
                self._failed("sync", f"{type(exc).__name__}: {exc}"[:500], backoff)
            finally:
                self._set_connected(False)
            # Full jitter keeps many mailboxes of one failed server from reconnecting in lockstep.
            self.stop_event.wait(random.uniform(0.5, 1.0) * backoff)  # noqa: S311 - jitter, not crypto
            backoff = min(backoff * 2, self.max_backoff)

    def _failed(self, stage: str, reason: str, retry_in: float) -> None:
        self.health.errors += 1
        self.health.last_error = reason
        self.health.last_error_stage = stage
        metrics.SYNC_ERRORS.labels(self.mailbox_id, stage).inc()
        log.warning(
            "mailbox sync failed; reconnecting",
            extra={"mailbox_id": self.mailbox_id, "stage": stage, "error": reason, "retry_in": retry_in},
        )

    def _set_connected(self, up: bool) -> None:
        self.health.connected = up
        metrics.CONNECTED.labels(self.mailbox_id).set(1 if up else 0)

    def _sync_loop(self, client: IMAPClient, mailbox: Mailbox) -> None:
        fingerprint = _fingerprint(mailbox)
        folders = list(mailbox.folders or ["INBOX"])
        can_idle = b"IDLE" in client.capabilities()
        while not self.stop_event.is_set():
            for folder in folders:
                info = client.select_folder(folder, readonly=True)
                self._fetch_new(client, folder, int(info[b"UIDVALIDITY"]))
                if self.stop_event.is_set():
                    return
            self.health.last_sync_at = time.time()
            self.health.last_error = ""
            self.health.last_error_stage = ""
            metrics.LAST_SYNC.labels(self.mailbox_id).set(self.health.last_sync_at)
            self._poke.clear()
            current = self.app.mailbox(self.mailbox_id)
            if not current.active:
                self.stop_event.set()
                return
            if _fingerprint(current) != fingerprint:
                raise _SettingsChanged
            wait = self.idle_timeout if len(folders) == 1 else min(self.idle_timeout, self.poll_interval)
            if can_idle:
                if len(folders) > 1:
                    client.select_folder(folders[0], readonly=True)
                self._idle(client, wait)
            else:
                self._poke.wait(self.poll_interval)

    def _fetch_new(self, client: IMAPClient, folder: str, uidvalidity: int) -> None:
        last = self.app.mailbox(self.mailbox_id).position(folder, uidvalidity)
        # "UID n:*" always answers at least the highest UID, even when it is below n.
        uids = sorted(uid for uid in client.search(["UID", f"{last + 1}:*"]) if uid > last)
        progress = self.health.folders.setdefault(folder, FolderProgress())
        progress.uidvalidity = uidvalidity
        progress.last_uid = last
        progress.backfill_total = len(uids)
        progress.backfill_done = 0
        self._publish_progress(folder, progress)
        for start in range(0, len(uids), self.fetch_batch):
            if self.stop_event.is_set():
                return
            batch = uids[start : start + self.fetch_batch]
            fetched = client.fetch(batch, ["BODY.PEEK[]"])
            items = [(uid, data[b"BODY[]"]) for uid, data in fetched.items() if b"BODY[]" in data]
            outcome = self.app.receive_batch_outcome(self.mailbox_id, folder, uidvalidity, items)
            progress.backfill_done += len(batch)
            progress.last_uid = max(batch)
            self._publish_progress(folder, progress)
            for name in ("received", "seen", "quarantined", "skipped"):
                count = getattr(outcome, name)
                if count:
                    metrics.MESSAGES.labels(self.mailbox_id, name).inc(count)
            if outcome.received or outcome.seen:
                self.on_stored(outcome.received + outcome.seen)

    def _publish_progress(self, folder: str, progress: FolderProgress) -> None:
        metrics.BACKFILL_TOTAL.labels(self.mailbox_id, folder).set(progress.backfill_total)
        metrics.BACKFILL_DONE.labels(self.mailbox_id, folder).set(progress.backfill_done)
        metrics.BACKFILL_REMAINING.labels(self.mailbox_id, folder).set(progress.remaining)

    def _idle(self, client: IMAPClient, wait: float) -> None:
        # RFC 2177: servers may drop an IDLE after 30 minutes; `idle_timeout` (10 min by default)
        # ends it well before, and the next pass issues a new one.
        client.idle()
        try:
            deadline = time.monotonic() + wait
            while not self.stop_event.is_set() and not self._poke.is_set() and time.monotonic() < deadline:
                responses = client.idle_check(timeout=1.0)
                if any(b"EXISTS" in r or b"RECENT" in r for r in (_flatten(x) for x in responses)):
                    return
        finally:
            client.idle_done()


def _no_tokens(login, force):  # noqa: ANN001, ANN202
    raise ConnectError("auth", "OAuth2 is not configured in this process")


def _logout(client: IMAPClient) -> None:
    try:
        client.logout()
    except Exception:  # noqa: BLE001 - the connection may be gone already
        try:
            client.shutdown()
        except Exception:  # noqa: BLE001
            pass


def _flatten(response: object) -> bytes:
    if isinstance(response, tuple):
        return b" ".join(_flatten(x) for x in response)
    if isinstance(response, bytes):
        return response
    return str(response).encode()
