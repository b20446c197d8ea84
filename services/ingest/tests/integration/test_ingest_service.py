"""The ingest service against a real dovecot, PostgreSQL and NATS JetStream."""

from __future__ import annotations

import asyncio
import uuid
from email.message import EmailMessage

import grpc
import nats
import pytest
from cryptography.fernet import Fernet
from responer.ingest.v1 import ingest_pb2, ingest_pb2_grpc
from responer_events import decode, stream_name
from responer_ingest.bootstrap import build
from responer_ingest.config import Settings

pytestmark = pytest.mark.integration


def make_mail(n: int, *, body: str = "", reply_to: str | None = None) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Anna Kowalska <anna@klient.pl>"
    msg["To"] = "sklep@shop.test"
    msg["Subject"] = f"Zamówienie {n} — pytanie o zwrot"
    msg["Message-ID"] = f"<order-{n}@klient.pl>"
    msg["Date"] = f"Mon, 0{1 + n % 8} Jun 2026 10:00:00 +0200"
    if reply_to:
        msg["In-Reply-To"] = f"<{reply_to}>"
    msg.set_content(body or f"Dzień dobry, proszę o zwrot żółwia nr {n}.")
    return msg.as_bytes()


@pytest.fixture
async def ingest(private_database, nats_url, namespace, unused_tcp_port_factory):
    settings = Settings(
        namespace=f"{namespace}i{uuid.uuid4().hex[:4]}",
        nats_url=nats_url,
        pg_host=private_database.host,
        pg_port=private_database.port,
        pg_dbname=private_database.dbname,
        pg_user=private_database.user,
        pg_password=private_database.password,
        ops_port=unused_tcp_port_factory(),
        grpc_port=unused_tcp_port_factory(),
        secret_key=Fernet.generate_key().decode(),
        idle_timeout=30,
        poll_interval=1,
    )
    service = build(settings)
    task = asyncio.create_task(service.serve())
    for _ in range(100):
        if service.ready:
            break
        await asyncio.sleep(0.05)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{service.grpc_port}")
    yield service, ingest_pb2_grpc.IngestServiceStub(channel), settings
    await channel.close()
    service.stop.set()
    await asyncio.wait_for(task, 20)
    nc = await nats.connect(nats_url)
    try:
        await nc.jetstream().delete_stream(stream_name("ingest", settings.namespace))
    finally:
        await nc.close()


async def received(settings: Settings, expected: int, timeout: float = 10.0) -> list:
    nc = await nats.connect(settings.nats_url)
    js = nc.jetstream()
    events: list = []
    try:
        sub = await js.pull_subscribe(
            f"{settings.namespace}.ingest.mail.received",
            durable=None,
            stream=stream_name("ingest", settings.namespace),
        )
        deadline = asyncio.get_running_loop().time() + timeout
        while len(events) < expected and asyncio.get_running_loop().time() < deadline:
            try:
                for msg in await sub.fetch(50, timeout=0.5):
                    events.append(decode(msg.data).payload)
                    await msg.ack()
            except (nats.errors.TimeoutError, TimeoutError):
                pass
        # Anything beyond `expected` would be a duplicate: give it a moment to show up.
        try:
            for msg in await sub.fetch(50, timeout=1.0):
                events.append(decode(msg.data).payload)
        except (nats.errors.TimeoutError, TimeoutError):
            pass
    finally:
        await nc.close()
    return events


async def test_backfill_then_idle_publishes_each_message_once(ingest, imap_account):
    service, stub, settings = ingest
    tenant = str(uuid.uuid4())
    for n in range(3):
        imap_account.append(make_mail(n))
    view = await stub.RegisterMailbox(
        ingest_pb2.RegisterMailboxRequest(
            tenant_id=tenant,
            name="Sklep",
            address="sklep@shop.test",
            imap_host=imap_account.host,
            imap_port=imap_account.port,
            tls_mode="plain",
            username=imap_account.user,
            password=imap_account.password,
        )
    )
    assert view.username == imap_account.user
    assert imap_account.password not in str(view)

    events = await received(settings, 3)
    assert sorted(e.mail.message_id for e in events) == [f"order-{n}@klient.pl" for n in range(3)]
    assert events[0].mail.subject.startswith("Zamówienie")
    assert "żółwia" in events[0].mail.text
    assert {e.tenant_id for e in events} == {tenant}

    # While the worker idles: a new mail, and a second copy of an old one (same Message-ID and content).
    imap_account.append(make_mail(3, reply_to="order-0@klient.pl"))
    imap_account.append(make_mail(1))
    events = await received(settings, 4)
    ids = [e.mail.message_id for e in events]
    assert sorted(ids) == sorted({*ids}), f"duplicates published: {ids}"
    assert "order-3@klient.pl" in ids
    new = next(e for e in events if e.mail.message_id == "order-3@klient.pl")
    assert list(new.mail.in_reply_to) == ["order-0@klient.pl"]

    listed = await stub.ListMailboxes(ingest_pb2.ListMailboxesRequest(tenant_id=tenant))
    assert [m.address for m in listed.mailboxes] == ["sklep@shop.test"]
    assert listed.mailboxes[0].messages_received == 4
    other = await stub.ListMailboxes(ingest_pb2.ListMailboxesRequest(tenant_id=str(uuid.uuid4())))
    assert list(other.mailboxes) == []


async def test_plain_text_login_to_a_remote_host_is_refused(ingest):
    _, stub, _ = ingest
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.RegisterMailbox(
            ingest_pb2.RegisterMailboxRequest(
                tenant_id=str(uuid.uuid4()),
                address="x@example.com",
                imap_host="imap.example.com",
                imap_port=143,
                tls_mode="plain",
                username="x",
                password="secret-pw",
            )
        )
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "localhost" in err.value.details()
    assert "secret-pw" not in err.value.details()
