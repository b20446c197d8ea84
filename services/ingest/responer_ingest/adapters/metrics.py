"""Prometheus metrics of the IMAP sync (on the service's /metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

BACKFILL_TOTAL = Gauge(
    "responer_ingest_backfill_total",
    "Messages found new on the server when the current backfill of a folder began",
    ["mailbox_id", "folder"],
)
BACKFILL_DONE = Gauge(
    "responer_ingest_backfill_done",
    "Messages of the current backfill already stored",
    ["mailbox_id", "folder"],
)
BACKFILL_REMAINING = Gauge(
    "responer_ingest_backfill_remaining",
    "Messages of the current backfill still to fetch",
    ["mailbox_id", "folder"],
)
MESSAGES = Counter(
    "responer_ingest_messages_total",
    "Fetched messages by outcome (received, seen, quarantined, skipped)",
    ["mailbox_id", "outcome"],
)
SYNC_ERRORS = Counter(
    "responer_ingest_sync_errors_total", "Failed syncs by the step that failed", ["mailbox_id", "stage"]
)
LAST_SYNC = Gauge(
    "responer_ingest_last_sync_timestamp_seconds", "When a mailbox was last completely synced", ["mailbox_id"]
)
CONNECTED = Gauge("responer_ingest_connected", "1 while a mailbox's IMAP connection is up", ["mailbox_id"])
