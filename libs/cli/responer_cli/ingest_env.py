"""What `responer import` and `responer quarantine` share: the ingest service's own settings
(RESPONER_* environment, a few flags on top), its application on the real event store, and a
one-shot relay that publishes what the command stored to NATS JetStream."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from typing import Any

from cryptography.fernet import Fernet


def add_connection_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "where to store (default: the RESPONER_* environment of the ingest service)"
    )
    group.add_argument("--nats-url", help="NATS server (RESPONER_NATS_URL)")
    group.add_argument("--namespace", help="subject namespace (RESPONER_NAMESPACE)")
    group.add_argument("--pg-host", help="PostgreSQL host (RESPONER_PG_HOST)")
    group.add_argument("--pg-port", type=int, help="PostgreSQL port (RESPONER_PG_PORT)")
    group.add_argument("--pg-dbname", help="database (RESPONER_PG_DBNAME)")
    group.add_argument("--pg-user", help="database user (RESPONER_PG_USER)")
    group.add_argument(
        "--no-publish",
        action="store_true",
        help="only store; leave publishing to the running ingest service's relay",
    )


def ingest_settings(args: argparse.Namespace) -> Any:
    from responer_ingest.config import Settings

    overrides: dict[str, Any] = {}
    for flag in ("nats_url", "namespace", "pg_host", "pg_port", "pg_dbname", "pg_user"):
        value = getattr(args, flag, None)
        if value is not None:
            overrides[flag] = value
    if not os.environ.get("RESPONER_SECRET_KEY"):
        # Importing and replaying never read mailbox credentials; a throwaway key keeps the
        # settings valid without asking for the service's secret.
        overrides["secret_key"] = Fernet.generate_key().decode()
    overrides.setdefault("log_level", "WARNING")
    return Settings(**overrides)


def open_application(settings: Any) -> tuple[Any, Any]:
    from responer_ingest.bootstrap import build_application

    return build_application(settings)


def publish_stored(app: Any, settings: Any, timeout: float = 300.0) -> int:
    """Publishes every stored, not yet published ingest event (what the service's relay would do),
    then returns. Event ids are deterministic, so a service relay running at the same time only
    causes duplicates JetStream drops."""
    return asyncio.run(_publish(app, settings, timeout))


async def _publish(app: Any, settings: Any, timeout: float) -> int:
    from responer_ingest.adapters.event_mapping import map_event
    from responer_runtime.bus import Bus
    from responer_runtime.relay import Relay

    target = app.recorder.max_notification_id() or 0
    bus = Bus(settings.nats_url, settings.namespace, "responer-cli")
    await bus.connect()
    relay = Relay(app, bus, "ingest", map_event, "ingest-cli")
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    deadline = time.monotonic() + timeout
    try:
        while (relay.position or 0) < target:
            if task.done():
                task.result()
                break
            if time.monotonic() > deadline:
                print(f"responer: publishing did not finish in {timeout:.0f}s", file=sys.stderr)
                break
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
        await bus.close()
    return target
