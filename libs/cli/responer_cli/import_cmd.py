"""`responer import`: bring existing mail (an mbox, a Maildir, a tree of .eml files) into a mailbox.

`responer import PATH --mailbox M` stores each message through ingest's own pipeline (the same
`receive_import` -> parse -> exactly-once identity -> MailReceived as IMAP mail), on the event store
and NATS given by the RESPONER_* environment of the ingest service. Every message is recorded under
its file identity (absolute path, or `path:N` in an mbox, plus its sha256), so running the same
import twice stores nothing new. A progress bar shows how far it is.

`--dry-run` runs the real domain (parsing, system-mail sorting, threading) in one process over mail
on disk and writes a JSON-lines report, one line per input message, and nothing else.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from responer_ingest.domain import ParsedMail, parse_mail
from responer_routing.domain.system_mail import IncomingMail, Verdict, classify
from responer_threading.domain import (
    InMemoryThreadStore,
    MailFacts,
    ThreadingResult,
    is_automatic,
    thread_message,
)

from responer_cli import ingest_report
from responer_cli.ingest_env import add_connection_flags

_MBOX_SEPARATOR = re.compile(rb"^From [^\n]*\n", re.MULTILINE)
# mboxrd quoting: a body line ">From " was written as ">>From "; undo one level.
_MBOXRD_QUOTED = re.compile(rb"^>(>*From )", re.MULTILINE)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "import",
        help="import mail from an mbox, a Maildir or a directory of message files",
        description="Import mail. With --dry-run, run parsing, sorting and threading and report only.",
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="mbox file, Maildir, or directory tree")
    parser.add_argument("--dry-run", action="store_true", help="change nothing; write the report only")
    parser.add_argument("--report", metavar="FILE", help="JSON-lines report (default: standard output)")
    parser.add_argument("--tenant", default="default", help="tenant id (real import: to pick the mailbox)")
    parser.add_argument("--mailbox", default="import", help="the mailbox's address or id (real import)")
    parser.add_argument("--batch", type=int, default=100, help="messages per stored batch (real import)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_connection_flags(parser)
    parser.set_defaults(func=run)


@dataclass(frozen=True, slots=True)
class Source:
    name: str
    raw: bytes


def run(args: argparse.Namespace) -> int:
    for path in args.paths:
        if not Path(path).exists():
            print(f"responer import: no such file or directory: {path}", file=sys.stderr)
            return 2
    if not args.dry_run:
        from responer_cli.import_real import run_import

        return run_import(args, iter_sources)
    started = time.monotonic()
    lines = dry_run(iter_sources(args.paths), tenant=args.tenant, mailbox=args.mailbox)
    out = open(args.report, "w", encoding="utf-8") if args.report else sys.stdout  # noqa: SIM115
    try:
        for line in lines:
            out.write(json.dumps(line, ensure_ascii=False) + "\n")
    finally:
        if out is not sys.stdout:
            out.close()
    threads = len({line["thread"] for line in lines if line.get("thread")})
    system = sum(1 for line in lines if line.get("system"))
    errors = sum(1 for line in lines if "error" in line)
    print(
        f"dry run: {len(lines)} messages, {threads} threads, {system} system, {errors} errors "
        f"in {time.monotonic() - started:.1f}s",
        file=sys.stderr,
    )
    return 0


# --- reading mail from disk -------------------------------------------------------------------


def iter_sources(paths: list[str]) -> Iterator[Source]:
    for given in paths:
        path = Path(given)
        if path.is_dir():
            yield from _walk_tree(given)
        else:
            yield from _read_file(given)


def _walk_tree(root: str) -> Iterator[Source]:
    for directory, files in _sorted_walk(Path(root)):
        if directory.name == "tmp" and (
            (directory.parent / "cur").is_dir() or (directory.parent / "new").is_dir()
        ):
            continue  # Maildir tmp/ holds deliveries in progress, not messages
        for name in files:
            yield from _read_file(str(directory / name), in_tree=True)


def _sorted_walk(root: Path) -> Iterator[tuple[Path, list[str]]]:
    entries = sorted(root.iterdir(), key=lambda p: p.name)
    files = [p.name for p in entries if p.is_file()]
    dirs = [p.name for p in entries if p.is_dir() and not p.is_symlink()]
    yield root, files
    for name in dirs:
        yield from _sorted_walk(root / name)


def _looks_like_mbox_name(name: str) -> bool:
    base = Path(name).name.lower()
    return base == "mbox" or base.endswith((".mbox", ".mbx"))


def _read_file(name: str, *, in_tree: bool = False) -> Iterator[Source]:
    """A PATH given as a file is an mbox when it starts with a From_ line. Inside a tree every regular
    file is one message (a saved .eml may begin with a From_ line and carry "From " lines in an
    attached patch); only a file named like an mbox is split there."""
    try:
        data = Path(name).read_bytes()
    except OSError as exc:
        yield Source(name, b"")  # reported as an error line below via the empty raw
        print(f"responer import: cannot read {name}: {exc}", file=sys.stderr)
        return
    if not data.startswith(b"From "):
        yield Source(name, data)
    elif in_tree and not _looks_like_mbox_name(name):
        yield Source(name, data[data.find(b"\n") + 1 :])  # drop the From_ line only
    else:
        yield from split_mbox(name, data)


def split_mbox(name: str, data: bytes) -> Iterator[Source]:
    """Messages of an mbox (mboxrd or mboxo), named `PATH:N` from 0, without the From_ line."""
    starts = [
        m
        for m in _MBOX_SEPARATOR.finditer(data)
        if m.start() == 0 or data[m.start() - 1 : m.start()] == b"\n"
    ]
    for index, match in enumerate(starts):
        end = starts[index + 1].start() if index + 1 < len(starts) else len(data)
        raw = data[match.end() : end]
        if raw.endswith(b"\n\n"):
            raw = raw[:-1]  # the blank line mbox writers put between messages
        yield Source(f"{name}:{index}", _MBOXRD_QUOTED.sub(rb"\1", raw))


# --- the domain pipeline ----------------------------------------------------------------------


def incoming_mail(mail: ParsedMail) -> IncomingMail:
    """Routing's view of a parsed message."""
    return IncomingMail(
        headers=mail.headers,
        part_types=mail.part_types,
        from_email=mail.from_email,
        from_name=mail.from_name,
        subject=mail.subject,
        text=mail.text,
        message_id=mail.message_id,
        report_parts=mail.report_parts,
        html=mail.html,
    )


def mail_facts(mail: ParsedMail, *, tenant: str, mailbox: str, responer_message_id: uuid.UUID) -> MailFacts:
    """Threading's view of a parsed message."""
    return MailFacts(
        tenant_id=tenant,
        mailbox_id=mailbox,
        responer_message_id=responer_message_id,
        message_id=mail.message_id,
        in_reply_to=mail.in_reply_to,
        references=mail.references,
        subject=mail.subject,
        from_email=mail.from_email,
        to=tuple(address for _, address in mail.to),
        cc=tuple(address for _, address in mail.cc),
        date=mail.date,
        direction="inbound",
        quoted_message_ids=mail.quoted_message_ids,
        automatic=is_automatic(mail.headers, mail.part_types),
        text=mail.text,
    )


def dry_run(sources: Iterator[Source], *, tenant: str, mailbox: str) -> list[dict[str, Any]]:
    """Process in input order, as a mailbox would receive it; out-of-order mail is threading's job.

    Lines are returned at the end so that each names its thread as it stands after later merges.
    """
    store = InMemoryThreadStore()
    first_source: dict[str, str] = {}
    first_result: dict[str, ThreadingResult] = {}
    pending: list[tuple[dict[str, Any], ThreadingResult | None]] = []
    for source in sources:
        try:
            line, result = _process(source, store, first_source, first_result, tenant=tenant, mailbox=mailbox)
        except Exception as exc:  # one bad message must not stop an import
            line, result = {"source": source.name, "error": f"{type(exc).__name__}: {exc}"}, None
            line["quarantine_reason"] = ingest_report.processing_failed(exc)  # what ingest would do
        pending.append((line, result))
    for line, result in pending:
        if result is not None:
            # Where the message is now: later merges, and splits that moved it, included.
            ref = store.message(tenant, line["message_id"])
            final = store.final_thread(tenant, ref.thread_id if ref else result.thread_id)
            line["thread"] = str(final.thread_id)
            line["thread_number"] = final.number
    return [line for line, _ in pending]


def _process(
    source: Source,
    store: InMemoryThreadStore,
    first_source: dict[str, str],
    first_result: dict[str, ThreadingResult],
    *,
    tenant: str,
    mailbox: str,
) -> tuple[dict[str, Any], ThreadingResult | None]:
    if not source.raw:
        return {"source": source.name, "error": "empty or unreadable"}, None
    oversized = ingest_report.too_large(source.raw)
    if oversized:
        return {"source": source.name, "error": oversized, "quarantine_reason": oversized}, None
    mail = parse_mail(source.raw)
    verdict = classify(incoming_mail(mail))
    line = _line(source.name, mail, verdict)
    line.update(ingest_report.learnings(mail))
    duplicate_of = first_source.get(mail.message_id)
    if duplicate_of is not None:
        line["duplicate_of"] = duplicate_of
        result = first_result[mail.message_id]
    else:
        first_source[mail.message_id] = source.name
        responer_id = uuid.uuid5(uuid.NAMESPACE_URL, f"responer-import:{tenant}:{mailbox}:{source.name}")
        result = thread_message(
            mail_facts(mail, tenant=tenant, mailbox=mailbox, responer_message_id=responer_id), store
        )
        first_result[mail.message_id] = result
    line["thread_signal"] = result.signal
    return line, result


def _line(source: str, mail: ParsedMail, verdict: Verdict) -> dict[str, Any]:
    return {
        "source": source,
        "message_id": mail.message_id,
        "message_id_derived": mail.message_id_derived,
        "from": mail.from_email,
        "from_name": mail.from_name,
        "subject": mail.subject,
        "date": mail.date.isoformat() if mail.date else None,
        "in_reply_to": list(mail.in_reply_to),
        "references": list(mail.references),
        "text": mail.text,
        "attachments": [a.filename for a in mail.attachments if not a.inline],
        "inline_parts": [a.filename or a.content_id for a in mail.attachments if a.inline],
        "parse_defects": list(mail.parse_defects),
        "charset_repairs": list(mail.charset_repairs),
        "attached_messages": [
            {"subject": m.subject, "from": m.from_email, "attachments": list(m.attachment_names)}
            for m in mail.attached_messages
        ],
        "signed": mail.signed,
        "encrypted": mail.encrypted,
        "thread": None,
        "thread_number": None,
        "thread_signal": None,
        "folder": verdict.folder,
        "system": verdict.system,
        "system_reason": verdict.reason,
        "system_kind": verdict.kind,
        "bounce_recipient": verdict.bounce_recipient,
        "bounce_status": verdict.bounce_status,
    }
