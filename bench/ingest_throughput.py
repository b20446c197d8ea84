"""End-to-end ingest throughput: IMAP APPEND N messages -> time until N `MailReceived` are stored
(and published), next to the raw IMAP fetch rate of the same messages measured in the same run.

    .venv/bin/python bench/ingest_throughput.py [--count 2000] [--mbox PATH] [--batch 100] [--json FILE]

Messages are the first `--count` distinct messages of the usrp-users mbox of the shared corpus (real
list mail, ~17 KB average), or generated ones when the corpus is missing. Servers are real and
private to the run: PostgreSQL (RESPONER_DEV_PG_* or the local one), NATS JetStream, dovecot.

* baseline — one IMAP connection: UID SEARCH, then UID FETCH BODY.PEEK[] in batches of `--batch`,
  nothing else done with the bytes (what the sync's network part costs at best);
* ingest — the ingest service (bootstrap.build, in this process) registered on the mailbox: backfill
  in batches, parse, content-addressed blobs, exactly-once identity, events stored; then the relay
  publishing every MailReceived to JetStream.

Exits 1 if any message is missing or duplicated; throughput has no threshold (it is reported).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import secrets
import shutil
import sys
import tempfile
import time
import uuid
from email.message import EmailMessage
from pathlib import Path

import nats
from imapclient import IMAPClient
from responer.ingest.v1 import ingest_pb2, ingest_pb2_grpc
from responer_cli.devstack.dovecot import Dovecot
from responer_cli.devstack.nats import ensure_nats
from responer_cli.devstack.postgres import create_database, drop_database, ensure_postgres
from responer_cli.import_cmd import split_mbox
from responer_events import stream_name
from responer_ingest.application import content_hash
from responer_ingest.domain import parse_mail
from responer_ingest.testing import ingest_settings, running_ingest

_DEFAULT_MBOX = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "mbox" / "usrp-users.mbox"


def load_messages(mbox: Path, count: int) -> tuple[list[bytes], str]:
    if mbox.is_file():
        out = [source.raw for source in itertools.islice(split_mbox(str(mbox), mbox.read_bytes()), count)]
        if len(out) == count:
            return out, f"{mbox.name} (first {count})"
    generated = []
    for n in range(count):
        msg = EmailMessage()
        msg["From"] = f"Klient {n} <k{n}@example.pl>"
        msg["To"] = "support@shop.test"
        msg["Subject"] = f"Zamówienie {n}"
        msg["Message-ID"] = f"<bench-{n}@example.pl>"
        msg.set_content("Dzień dobry, proszę o pomoc z zamówieniem. " * 200)
        generated.append(msg.as_bytes())
    return generated, "generated (corpus not found)"


def distinct_messages(messages: list[bytes]) -> int:
    """How many messages ingest must store: repeats (same Message-ID and content, e.g. a list
    delivering a post twice) are one message."""
    return len({(p.message_id, content_hash(p)) for p in map(parse_mail, messages)})


def append_all(host: str, port: int, user: str, password: str, messages: list[bytes]) -> float:
    started = time.perf_counter()
    with IMAPClient(host, port=port, ssl=False, timeout=60) as c:
        c.login(user, password)
        for raw in messages:
            c.append("INBOX", raw)
    return time.perf_counter() - started


def fetch_all(host: str, port: int, user: str, password: str, batch: int) -> tuple[int, float]:
    started = time.perf_counter()
    fetched = 0
    with IMAPClient(host, port=port, ssl=False, timeout=60) as c:
        c.login(user, password)
        c.select_folder("INBOX", readonly=True)
        uids = sorted(c.search(["UID", "1:*"]))
        for start in range(0, len(uids), batch):
            data = c.fetch(uids[start : start + batch], ["BODY.PEEK[]"])
            fetched += sum(1 for d in data.values() if b"BODY[]" in d)
    return fetched, time.perf_counter() - started


async def ingest_run(
    pg, nats_url: str, namespace: str, dovecot: Dovecot, user: str, password: str, count: int, batch: int
) -> dict:  # noqa: ANN001
    settings = ingest_settings(
        pg, nats_url, namespace, fetch_batch=batch, log_level="WARNING", idle_timeout=30
    )
    tenant = str(uuid.uuid4())
    async with running_ingest(settings) as service:
        import grpc

        async with grpc.aio.insecure_channel(f"127.0.0.1:{service.grpc_port}") as channel:
            stub = ingest_pb2_grpc.IngestServiceStub(channel)
            started = time.perf_counter()
            view = await stub.RegisterMailbox(
                ingest_pb2.RegisterMailboxRequest(
                    tenant_id=tenant,
                    name="bench",
                    address="bench@shop.test",
                    imap_host=dovecot.host,
                    imap_port=dovecot.port,
                    tls_mode="plain",
                    username=user,
                    password=password,
                )
            )
            app = service.app
            stored_at = None
            deadline = started + 1800
            while time.perf_counter() < deadline:
                mailbox = await asyncio.to_thread(app.mailbox, view.mailbox_id)
                if mailbox.positions.get("INBOX", (0, 0))[1] >= count:
                    stored_at = time.perf_counter()
                    break
                await asyncio.sleep(0.05)
            received = mailbox.messages_received
            nc = await nats.connect(nats_url)
            try:
                js = nc.jetstream()
                published_at = None
                while time.perf_counter() < deadline:
                    info = await js.stream_info(stream_name("ingest", namespace))
                    if info.state.messages >= received + 1:  # + MailboxConnected
                        published_at = time.perf_counter()
                        break
                    await asyncio.sleep(0.05)
            finally:
                await nc.close()
    if stored_at is None or published_at is None:
        raise SystemExit("ingest did not finish within 30 minutes")
    return {
        "stored_s": stored_at - started,
        "published_s": published_at - started,
        "received": received,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--mbox", type=Path, default=_DEFAULT_MBOX)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    messages, origin = load_messages(args.mbox, args.count)
    expected = distinct_messages(messages)
    state = Path(tempfile.mkdtemp(prefix="responer-bench-ingest-"))
    state.chmod(0o755)
    pg_server = ensure_postgres(state)
    nats_server = ensure_nats(state)
    dbname = f"responer_bench_{secrets.token_hex(4)}"
    create_database(pg_server, dbname)
    dovecot = Dovecot(state).start()
    try:
        user, password = "bench@imap.responer.test", secrets.token_urlsafe(10)
        dovecot.add_user(user, password)
        append_s = append_all(dovecot.host, dovecot.port, user, password, messages)
        fetched, fetch_s = fetch_all(dovecot.host, dovecot.port, user, password, args.batch)

        class Pg:
            host, port, user = pg_server.host, pg_server.port, pg_server.user
            password = pg_server.password

        Pg.dbname = dbname
        namespace = f"bench{secrets.token_hex(3)}"
        result = asyncio.run(
            ingest_run(Pg, nats_server.url, namespace, dovecot, user, password, len(messages), args.batch)
        )
    finally:
        dovecot.stop()
        try:
            drop_database(pg_server, dbname)
        except Exception as exc:  # noqa: BLE001
            print(f"warning: could not drop {dbname}: {exc}", file=sys.stderr)
        if nats_server.started_by_us:
            nats_server.stop()
        if pg_server.origin == "private":
            pg_server.stop()
        shutil.rmtree(state, ignore_errors=True)

    n = len(messages)
    size = sum(len(m) for m in messages)
    report = {
        "messages": n,
        "origin": origin,
        "mean_bytes": size // n,
        "cpus": os.cpu_count(),
        "append_msgs_per_s": n / append_s,
        "baseline_fetch_msgs_per_s": fetched / fetch_s,
        "ingest_stored_msgs_per_s": n / result["stored_s"],
        "ingest_published_msgs_per_s": n / result["published_s"],
        "mail_received": result["received"],
        "distinct_messages": expected,
        "load_average_1m": os.getloadavg()[0],
    }
    report["ratio_stored_to_fetch"] = report["ingest_stored_msgs_per_s"] / report["baseline_fetch_msgs_per_s"]
    print(
        f"ingest throughput, {n} messages of {origin} ({expected} distinct), {report['mean_bytes']} bytes "
        f"on average, {report['cpus']} CPUs, load average {report['load_average_1m']:.1f}:"
    )
    print(f"  IMAP APPEND (setup)                     {report['append_msgs_per_s']:8.0f} msg/s")
    print(f"  baseline: raw IMAP fetch, no processing {report['baseline_fetch_msgs_per_s']:8.0f} msg/s")
    print(
        f"  ingest: IMAP -> MailReceived stored     {report['ingest_stored_msgs_per_s']:8.0f} msg/s"
        f"  ({report['ratio_stored_to_fetch']:.2f}x the fetch rate)"
    )
    print(f"  ingest: ... and published to JetStream  {report['ingest_published_msgs_per_s']:8.0f} msg/s")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2))
    ok = result["received"] == expected
    if not ok:
        print(f"FAILED: {result['received']} MailReceived for {expected} distinct messages", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
