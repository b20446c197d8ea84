"""Sending is driven by stored events: a reply interrupted between retries goes out after a restart.

Two outbox instances, one after the other, on the same database and NATS namespace (real servers).
"""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import grpc
import pytest
from responer.events.v1 import events_pb2
from responer.outbox.v1 import outbox_pb2, outbox_pb2_grpc
from responer_cli.devstack.nats import delete_streams
from responer_cli.devstack.postgres import create_database, drop_database
from responer_cli.devstack.smtp import SmtpCatcher
from responer_events import encode, subject_for
from responer_outbox import bootstrap
from responer_outbox.config import Settings
from responer_runtime.bus import Bus
from responer_runtime.grpcutil import channel
from responer_runtime.service import Service

pytestmark = pytest.mark.integration

TENANT = str(uuid.uuid4())


@pytest.fixture
def fresh_db(pg_server) -> Iterator[dict[str, object]]:
    name = f"responer_outbox_{secrets.token_hex(4)}"
    create_database(pg_server, name)
    yield {
        "pg_host": pg_server.host,
        "pg_port": pg_server.port,
        "pg_dbname": name,
        "pg_user": pg_server.user,
        "pg_password": pg_server.password,
    }
    drop_database(pg_server, name)


@pytest.fixture
def fresh_namespace(nats_server, namespace) -> Iterator[str]:
    ns = f"{namespace}or{secrets.token_hex(2)}"
    yield ns
    delete_streams(nats_server.url, ns)


@pytest.fixture
def scripted_smtp(tmp_path) -> Iterator[SmtpCatcher]:
    with SmtpCatcher(directory=tmp_path / "caught") as catcher:
        yield catcher


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[tuple[Service, outbox_pb2_grpc.OutboxServiceStub]]:
    service = await asyncio.to_thread(bootstrap.build, settings)
    task = asyncio.create_task(service.serve())
    deadline = time.monotonic() + 20
    while not (service.ready and service.grpc_port):
        assert not task.done() and time.monotonic() < deadline, "the outbox service did not start"
        await asyncio.sleep(0.05)
    grpc_channel = channel(f"127.0.0.1:{service.grpc_port}")
    try:
        yield service, outbox_pb2_grpc.OutboxServiceStub(grpc_channel)
    finally:
        await grpc_channel.close()
        service.stop.set()
        assert await asyncio.wait_for(task, 30) == 0


async def _until(predicate, timeout: float, what: str):  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while True:
        value = await predicate()
        if value:
            return value
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.1)


async def test_reply_interrupted_between_retries_is_sent_after_a_restart(
    fresh_db, fresh_namespace, nats_server, scripted_smtp
):
    common = {
        "namespace": fresh_namespace,
        "nats_url": nats_server.url,
        "smtp_host": "127.0.0.1",
        "smtp_port": 9,  # never used: the mailbox has its own SMTP server
        "mail_domain": "responer.test",
        "smtp_timeout_s": 5,
        **fresh_db,
    }
    mailbox_id = str(uuid.uuid4())
    reply_id = str(uuid.uuid4())
    scripted_smtp.fail_next("451 4.7.1 Greylisted, try again later")
    get = outbox_pb2.GetReplyRequest(tenant_id=TENANT, reply_id=reply_id)

    # First instance: the attempt is greylisted, then it waits a minute before the next one...
    async with running(Settings(**common, send_retry_initial_s=60)) as (service, stub):
        bus = Bus(nats_server.url, fresh_namespace, "outbox-restart-test")
        await bus.connect()
        connected = events_pb2.MailboxConnected(
            mailbox_id=mailbox_id,
            tenant_id=TENANT,
            address="pomoc@sklep.example.pl",
            smtp_host=scripted_smtp.host,
            smtp_port=scripted_smtp.port,
        )
        env = encode(connected, tenant_id=TENANT, aggregate_id=mailbox_id, aggregate_version=1)
        await bus.ensure_stream("ingest")
        await bus.js.publish(
            subject_for(events_pb2.MailboxConnected, fresh_namespace),
            env.SerializeToString(),
            headers={"Nats-Msg-Id": env.event_id},
        )
        await bus.close()
        request = outbox_pb2.QueueReplyRequest(
            tenant_id=TENANT,
            reply_id=reply_id,
            thread_id=str(uuid.uuid4()),
            thread_number=12,
            mailbox_id=mailbox_id,
            to=["klient@example.com"],
            subject="Re: Zwrot",
            body_text="Dzień dobry, zwrot przyjęty.",
        )

        async def queued():
            try:
                return await stub.QueueReply(request)
            except grpc.aio.AioRpcError as exc:
                if exc.code() != grpc.StatusCode.FAILED_PRECONDITION:
                    raise
                return None

        first = await _until(queued, 15, "mailbox never became known")

        async def one_failed_attempt():
            view = await stub.GetReply(get)
            return view if view.attempts == 1 else None

        view = await _until(one_failed_attempt, 15, "first attempt not recorded")
        assert view.status == "queued" and "451" in view.error
        stopping_at = time.monotonic()
    # ...but the service stops promptly instead of sleeping through its back-off.
    assert time.monotonic() - stopping_at < 15

    # Second instance: picks the stored ReplyQueued up again and sends it, once.
    async with running(Settings(**common, send_retry_initial_s=0.2)) as (service, stub):

        async def sent():
            view = await stub.GetReply(get)
            return view if view.status == "sent" else None

        view = await _until(sent, 20, "the reply was not sent after the restart")
        assert view.attempts == 2
        assert view.message_id == first.message_id
        (caught,) = scripted_smtp.wait_for(1, timeout=5)
        assert caught.message()["Message-ID"] == f"<{first.message_id}>"
        await asyncio.sleep(1.0)
        assert len(scripted_smtp.messages) == 1
