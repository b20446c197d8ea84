"""The real `responer import`: mail on disk into a mailbox through ingest's pipeline."""

from __future__ import annotations

import argparse
import re
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from tqdm import tqdm

from responer_cli.ingest_env import ingest_settings, open_application, publish_stored

_MBOX_SEPARATOR = re.compile(rb"^From [^\n]*\n", re.MULTILINE)


def count_messages(paths: list[str]) -> int:
    """How many messages the sources hold (for the progress bar): files, and From_ lines of mboxes."""
    total = 0
    for given in paths:
        path = Path(given)
        files = [p for p in path.rglob("*") if p.is_file()] if path.is_dir() else [path]
        for file in files:
            if file.parent.name == "tmp" and (
                (file.parent.parent / "cur").is_dir() or (file.parent.parent / "new").is_dir()
            ):
                continue
            try:
                with file.open("rb") as f:
                    head = f.read(5)
                    if head != b"From ":
                        total += 1
                        continue
                data = file.read_bytes()
            except OSError:
                total += 1
                continue
            total += sum(
                1
                for m in _MBOX_SEPARATOR.finditer(data)
                if m.start() == 0 or data[m.start() - 1 : m.start()] == b"\n"
            )
    return total


def _resolve_mailbox(app: Any, reference: str, tenant: str) -> Any:
    from responer_ingest.application import MailboxNotFound

    tenant_id = None if tenant in ("", "default") else tenant
    if tenant_id is not None:
        uuid.UUID(tenant_id)
    matches = [m for m in app.mailboxes(tenant_id) if reference.lower() in (str(m.id), m.address)]
    if not matches:
        raise MailboxNotFound(f"no connected mailbox {reference!r}; connect it first (POST /api/mailboxes)")
    if len(matches) > 1:
        raise MailboxNotFound(f"{reference!r} is a mailbox of several tenants; give --tenant")
    return matches[0]


def run_import(args: argparse.Namespace, iter_sources: Callable[[list[str]], Iterator[Any]]) -> int:
    settings = ingest_settings(args)
    app, pool = open_application(settings)
    try:
        try:
            mailbox = _resolve_mailbox(app, args.mailbox, args.tenant)
        except (LookupError, ValueError) as exc:
            print(f"responer import: {exc}", file=sys.stderr)
            return 2
        paths = [str(Path(p).resolve()) for p in args.paths]
        started = time.monotonic()
        from responer_ingest.application import BatchOutcome

        totals = BatchOutcome()
        unreadable = 0
        batch: list[tuple[str, bytes]] = []
        size = 0
        progress = tqdm(
            total=count_messages(paths),
            unit="msg",
            desc=f"import into {mailbox.address}",
            disable=args.no_progress,
            file=sys.stderr,
        )

        def flush() -> None:
            nonlocal size
            if batch:
                outcome = app.receive_import(str(mailbox.id), list(batch))
                totals.add(outcome)
                progress.update(len(batch))
                progress.set_postfix(
                    new=totals.received, known=totals.seen + totals.skipped, quarantined=totals.quarantined
                )
                batch.clear()
                size = 0

        for source in iter_sources(paths):
            if not source.raw:
                unreadable += 1
                progress.update(1)
                continue
            batch.append((source.name, source.raw))
            size += len(source.raw)
            if len(batch) >= args.batch or size > 32 * 1024 * 1024:
                flush()
        flush()
        progress.close()
        published = 0 if args.no_publish else publish_stored(app, settings)
        print(
            f"import into {mailbox.address}: {totals.received} new, {totals.seen} already known, "
            f"{totals.skipped} imported before, {totals.quarantined} quarantined, {unreadable} unreadable "
            f"in {time.monotonic() - started:.1f}s"
            + ("" if args.no_publish else f"; published up to event {published}"),
            file=sys.stderr,
        )
        return 0
    finally:
        pool.close()
