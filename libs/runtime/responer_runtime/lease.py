"""A lease that lets exactly one replica at a time do a named job (NATS KV compare-and-set with a TTL).

Used by ConsumerRunner so that replicas of a service sharing one durable consumer take turns rather
than interleave: the holder consumes in stream order, the others stand by and take over when the
holder stops renewing (crash, network split) or releases the lease (graceful shutdown).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid

from nats.js import JetStreamContext, api
from nats.js.errors import BucketNotFoundError, KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

log = logging.getLogger(__name__)


RELEASED = b"released"


def replica_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class Lease:
    def __init__(self, js: JetStreamContext, bucket: str, key: str, holder: str, ttl: float = 15.0) -> None:
        self.js = js
        self.bucket = bucket
        self.key = key
        self.holder = holder.encode()
        self.ttl = ttl
        self.revision: int | None = None
        # True when the previous holder released the lease; False when the lease was free or expired
        # (a holder may have died mid-work, leaving messages in flight).
        self.graceful = False
        self._kv: KeyValue | None = None
        self._renewed_at = 0.0

    async def _store(self) -> KeyValue:
        if self._kv is None:
            try:
                self._kv = await self.js.key_value(self.bucket)
            except BucketNotFoundError:
                self._kv = await self.js.create_key_value(
                    api.KeyValueConfig(bucket=self.bucket, ttl=self.ttl, history=1)
                )
        return self._kv

    @property
    def held(self) -> bool:
        return self.revision is not None

    async def acquire(self, stop: asyncio.Event) -> bool:
        """Waits until this replica holds the lease (True) or stop is set (False)."""
        kv = await self._store()
        saw_holder = False
        while not stop.is_set():
            try:
                self.revision = await kv.create(self.key, self.holder)
                # Free: never held, or the holder's entry expired because it stopped renewing. The two
                # look alike, so only an explicit release counts as a clean hand-over.
                self.graceful = False
                return self._acquired()
            except KeyWrongLastSequenceError:
                pass
            try:
                entry = await kv.get(self.key)
            except KeyNotFoundError:
                continue  # expired between the two calls
            if entry.value == RELEASED:
                try:
                    self.revision = await kv.update(self.key, self.holder, last=entry.revision)
                    self.graceful = True
                    return self._acquired()
                except KeyWrongLastSequenceError:
                    continue  # another standby was faster
            if not saw_holder:
                log.info("lease held by another replica; standing by", extra={"lease": self.key})
                saw_holder = True
            try:
                await asyncio.wait_for(stop.wait(), self.ttl / 3)
            except TimeoutError:
                pass
        return False

    def _acquired(self) -> bool:
        self._renewed_at = asyncio.get_running_loop().time()
        log.info("lease acquired", extra={"lease": self.key, "graceful": self.graceful})
        return True

    async def renew_if_due(self) -> bool:
        """Renews at a third of the TTL. False means the lease was lost: stop working at once."""
        if self.revision is None:
            return False
        now = asyncio.get_running_loop().time()
        if now - self._renewed_at < self.ttl / 3:
            return True
        kv = await self._store()
        try:
            self.revision = await kv.update(self.key, self.holder, last=self.revision)
        except (KeyWrongLastSequenceError, KeyNotFoundError):
            log.warning("lease lost", extra={"lease": self.key})
            self.revision = None
            return False
        self._renewed_at = now
        return True

    async def release(self) -> None:
        if self.revision is None:
            return
        kv = await self._store()
        try:
            # Not a delete: a successor must be able to tell a clean hand-over from an expiry.
            await kv.update(self.key, RELEASED, last=self.revision)
        except Exception:  # noqa: BLE001 - it expires by itself anyway
            log.info("lease release failed; it will expire", extra={"lease": self.key})
        self.revision = None
