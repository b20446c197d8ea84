"""`responer quarantine list|replay`: mail ingest could not process (kept raw, with a reason), and
running it through the pipeline again — on the event store and NATS of the RESPONER_* environment."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from responer_cli.ingest_env import add_connection_flags, ingest_settings, open_application, publish_stored


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "quarantine",
        help="list or replay quarantined mail",
        description="Mail ingest could not process is quarantined with its raw bytes and a reason. "
        "List it, or replay it (after a fix or a raised limit): what now works becomes a message.",
    )
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = sub.add_parser("list", help="quarantined mail as JSON lines")
    listing.add_argument("--tenant", help="tenant id (default: every tenant)")
    listing.add_argument("--mailbox", default="", help="mailbox id")
    listing.add_argument("--all", action="store_true", help="include mail replayed successfully")
    add_connection_flags(listing)
    replay = sub.add_parser("replay", help="run quarantined mail through ingest again")
    which = replay.add_mutually_exclusive_group(required=True)
    which.add_argument("--id", action="append", dest="ids", metavar="ID", help="a quarantine id (repeatable)")
    which.add_argument("--all", action="store_true", help="everything still quarantined")
    replay.add_argument("--tenant", help="tenant id (default: every tenant)")
    add_connection_flags(replay)
    parser.set_defaults(func=run)


def _tenants(app: Any, tenant: str | None) -> list[str]:
    return [tenant] if tenant else app.all_tenants_with_quarantine()


def _line(q: Any) -> dict[str, Any]:
    folder, uidvalidity, uid = q.location
    return {
        "id": str(q.id),
        "tenant_id": q.tenant_id,
        "mailbox_id": q.mailbox_id,
        "folder": folder,
        "uidvalidity": uidvalidity,
        "uid": uid,
        "source": q.source,
        "raw_sha256": q.raw_sha256,
        "raw_size": q.raw_size,
        "reason": q.reason,
        "status": q.status,
        "message_id": q.message_id,
        "replays": q.replays,
        "quarantined_at": q.created_on.isoformat(),
    }


def run(args: argparse.Namespace) -> int:
    settings = ingest_settings(args)
    app, pool = open_application(settings)
    try:
        if args.action == "list":
            for tenant in _tenants(app, args.tenant):
                for q in app.quarantined(tenant, args.mailbox, include_replayed=args.all):
                    print(json.dumps(_line(q), ensure_ascii=False))
            return 0
        done: list[Any] = []
        if args.ids:
            for qid in args.ids:
                found = None
                for tenant in _tenants(app, args.tenant):
                    try:
                        found = app.replay(tenant, [qid])
                        break
                    except (LookupError, ValueError):
                        continue
                if found is None:
                    print(f"responer quarantine: no quarantined mail {qid}", file=sys.stderr)
                    return 2
                done += found
        else:
            for tenant in _tenants(app, args.tenant):
                done += app.replay(tenant, all_=True)
        for q in done:
            print(json.dumps(_line(q), ensure_ascii=False))
        replayed = sum(1 for q in done if q.status == "replayed")
        if not args.no_publish:
            publish_stored(app, settings)
        print(f"replayed {replayed} of {len(done)}; {len(done) - replayed} stay quarantined", file=sys.stderr)
        return 0 if replayed == len(done) else 1
    finally:
        pool.close()
