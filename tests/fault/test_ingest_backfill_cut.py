"""Acceptance (issue 3): 2,000 messages backfilled from dovecot, the connection cut mid-backfill and
restored, UIDVALIDITY reset once — the system ends with exactly the mailbox's messages, no duplicates.

The cut is real: the ingest service talks to dovecot through a TCP proxy that the test severs (every
open connection closed, new ones refused) and then restores. The UIDVALIDITY reset is dovecot's own
(`doveadm mailbox update --uid-validity`), after which the next session sees every UID as new.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
import uuid
from email.message import EmailMessage

import grpc
import pytest
from imapclient import IMAPClient
from responer.ingest.v1 import ingest_pb2, ingest_pb2_grpc
from responer_ingest.testing import TcpProxy, ingest_settings, read_stream, running_ingest, wait_for

MESSAGES = 2000


def mail(n: int) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Klient {n % 37} <klient{n % 37}@example.pl>"
    msg["To"] = "support@shop.test"
    msg["Subject"] = f"Zgłoszenie {n}: reklamacja zamówienia {10000 + n}"
    msg["Message-ID"] = f"<backfill-{n}@example.pl>"
    msg["Date"] = f"Tue, {1 + n % 28:02d} Apr 2025 {n % 24:02d}:{n % 60:02d}:00 +0200"
    msg.set_content(f"Dzień dobry,\n\nzamówienie {10000 + n} przyszło uszkodzone. " * (3 + n % 5))
    return msg.as_bytes()


def fill(account, count: int) -> None:
    with IMAPClient(account.host, port=account.port, ssl=False, timeout=30) as c:
        c.login(account.user, account.password)
        for n in range(count):
            c.append("INBOX", mail(n))


def reset_uidvalidity(account, value: int) -> None:
    doveadm = shutil.which("doveadm")
    result = subprocess.run(
        [doveadm, "-c", str(account.server.config_file), "mailbox", "update", "-u", account.user]
        + ["--uid-validity", str(value), "INBOX"],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert result.returncode == 0, result.stderr


async def test_backfill_survives_a_cut_connection_and_a_uidvalidity_reset(
    private_database, nats_url, fresh_namespace, imap_account
):
    if not shutil.which("doveadm"):
        pytest.skip("doveadm (dovecot-core) is not installed")
    started = time.monotonic()
    await asyncio.to_thread(fill, imap_account, MESSAGES)
    assert imap_account.server.count(imap_account.user, imap_account.password) == MESSAGES
    proxy = TcpProxy(imap_account.host, imap_account.port)
    settings = ingest_settings(
        private_database,
        nats_url,
        fresh_namespace,
        fetch_batch=50,
        idle_timeout=5,
        max_backoff=1,
        log_level="INFO",
    )
    tenant = str(uuid.uuid4())
    try:
        async with running_ingest(settings) as service:
            app = service.app
            async with grpc.aio.insecure_channel(f"127.0.0.1:{service.grpc_port}") as channel:
                stub = ingest_pb2_grpc.IngestServiceStub(channel)
                view = await stub.RegisterMailbox(
                    ingest_pb2.RegisterMailboxRequest(
                        tenant_id=tenant,
                        name="Support",
                        address="support@shop.test",
                        imap_host="127.0.0.1",
                        imap_port=proxy.port,
                        tls_mode="plain",
                        username=imap_account.user,
                        password=imap_account.password,
                    )
                )

                def stored() -> int:
                    return app.mailbox(view.mailbox_id).messages_received

                async def progress() -> ingest_pb2.MailboxView:
                    return await stub.GetMailbox(
                        ingest_pb2.GetMailboxRequest(tenant_id=tenant, mailbox_id=view.mailbox_id)
                    )

                # Mid-backfill: progress is visible, then the network goes away under the fetches.
                await wait_for(lambda: stored() >= 300, timeout=60, interval=0.05)
                during = await progress()
                assert during.backfill_total == MESSAGES and 0 < during.backfill_done < MESSAGES
                before_cut = stored()
                proxy.cut()
                await wait_for(lambda: service.supervisor.health_of(view.mailbox_id).errors >= 1, timeout=30)
                cut_view = await progress()
                assert cut_view.last_error and cut_view.last_error_stage in ("sync", "tcp")
                assert not cut_view.connected
                await asyncio.sleep(1.0)
                assert stored() < MESSAGES, "the cut came too late to interrupt the backfill"
                proxy.restore()

                # Still mid-backfill: dovecot gives the folder a new UIDVALIDITY, and the connection is
                # cut once more so the next session sees it.
                await wait_for(lambda: stored() >= before_cut + 300, timeout=60, interval=0.05)
                reset_uidvalidity(imap_account, 777000 + int(time.time()) % 1000)
                proxy.cut()
                await asyncio.sleep(0.5)
                proxy.restore()

                await wait_for(
                    lambda: (
                        app.mailbox(view.mailbox_id).positions.get("INBOX", (0, 0))[1] == MESSAGES
                        and app.mailbox(view.mailbox_id).positions["INBOX"][0] >= 777000
                    ),
                    timeout=90,
                    interval=0.2,
                )
                final = await progress()

            async def published():
                events = [e.payload for _, e in await read_stream(settings.nats_url, settings.namespace) if e]
                received = [p for p in events if type(p).__name__ == "MailReceived"]
                return received if len(received) >= MESSAGES else None

            received = await wait_for(published, timeout=60)
            await asyncio.sleep(1.0)
            received = [
                e.payload
                for _, e in await read_stream(settings.nats_url, settings.namespace)
                if e and type(e.payload).__name__ == "MailReceived"
            ]
    finally:
        proxy.close()

    on_server = imap_account.server.count(imap_account.user, imap_account.password)
    ids = [r.mail.message_id for r in received]
    assert on_server == MESSAGES
    assert len(ids) == len(set(ids)) == on_server, "a message was lost or published twice"
    assert len({r.message_id for r in received}) == on_server
    assert set(ids) == {f"backfill-{n}@example.pl" for n in range(MESSAGES)}
    assert final.messages_received == MESSAGES
    assert final.errors >= 2
    assert final.folder_sync[0].last_uid == MESSAGES
    print(f"backfill of {MESSAGES} with a cut and a UIDVALIDITY reset: {time.monotonic() - started:.1f}s")
