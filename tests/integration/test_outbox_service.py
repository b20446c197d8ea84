"""The outbox service in-process against real PostgreSQL, NATS JetStream and aiosmtpd servers.

It learns a mailbox from a MailboxConnected event on ingest's stream, takes QueueReply over a real
gRPC channel, sends over SMTP and publishes ReplySent/ReplyFailed on its own stream.
"""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage

import grpc
import nats
import pytest
from responer.events.v1 import events_pb2, mail_pb2
from responer.outbox.v1 import outbox_pb2, outbox_pb2_grpc
from responer_cli.devstack.nats import delete_streams
from responer_cli.devstack.postgres import create_database, drop_database
from responer_cli.devstack.smtp import CaughtMessage, SmtpCatcher
from responer_events import DecodedEvent, decode, encode, subject_for
from responer_outbox import bootstrap
from responer_outbox.config import Settings
from responer_runtime.bus import Bus
from responer_runtime.grpcutil import channel

pytestmark = pytest.mark.integration

TENANT = str(uuid.uuid4())
BODY = "Dzień dobry,\n\nzamówienie zostało wysłane. Zażółć gęślą jaźń.\n\nPozdrawiamy,\nZespół Obsługi\n"


# -- fixtures ---------------------------------------------------------------------------------------
@dataclass
class Outbox:
    settings: Settings
    stub: outbox_pb2_grpc.OutboxServiceStub
    js: nats.js.JetStreamContext
    events: list[DecodedEvent] = field(default_factory=list)

    async def connect_mailbox(self, tenant_id: str, mailbox_id: str, address: str, **smtp: object) -> None:
        """Publishes MailboxConnected the way ingest does, then waits until QueueReply knows the mailbox."""
        payload = events_pb2.MailboxConnected(
            mailbox_id=mailbox_id, tenant_id=tenant_id, name="Obsługa", address=address, **smtp
        )
        env = encode(payload, tenant_id=tenant_id, aggregate_id=mailbox_id, aggregate_version=1)
        await self.js.publish(
            subject_for(events_pb2.MailboxConnected, self.settings.namespace),
            env.SerializeToString(),
            headers={"Nats-Msg-Id": env.event_id},
        )

    async def queue(self, **fields: object) -> outbox_pb2.ReplyView:
        return await self.stub.QueueReply(outbox_pb2.QueueReplyRequest(**fields), timeout=10)

    async def queue_when_mailbox_known(self, timeout: float = 15.0, **fields: object) -> outbox_pb2.ReplyView:
        deadline = time.monotonic() + timeout
        while True:
            try:
                return await self.queue(**fields)
            except grpc.aio.AioRpcError as exc:
                if exc.code() != grpc.StatusCode.FAILED_PRECONDITION or time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.1)

    async def get(self, tenant_id: str, reply_id: str) -> outbox_pb2.ReplyView:
        return await self.stub.GetReply(outbox_pb2.GetReplyRequest(tenant_id=tenant_id, reply_id=reply_id))

    async def wait_status(self, tenant_id: str, reply_id: str, status: str, timeout: float = 20.0):
        deadline = time.monotonic() + timeout
        view = await self.get(tenant_id, reply_id)
        while view.status != status:
            assert time.monotonic() < deadline, f"reply stayed {view.status!r} ({view.error!r})"
            await asyncio.sleep(0.1)
            view = await self.get(tenant_id, reply_id)
        return view

    async def wait_event(self, cls: type, predicate: Callable[[object], bool], timeout: float = 15.0):
        deadline = time.monotonic() + timeout
        while True:
            found = [e.payload for e in self.events if isinstance(e.payload, cls) and predicate(e.payload)]
            if found:
                return found
            assert time.monotonic() < deadline, f"no {cls.__name__} on the outbox stream"
            await asyncio.sleep(0.05)


@pytest.fixture(scope="module")
def outbox_db(pg_server) -> Iterator[dict[str, object]]:
    # Its own database: the session's pg_database may hold the schema of a full stack's outbox.
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


@pytest.fixture(scope="module")
async def outbox(outbox_db, nats_server, namespace, smtp_catcher) -> AsyncIterator[Outbox]:
    ns = f"{namespace}ob"  # durable consumers of a full stack's outbox must not share our events
    settings = Settings(
        namespace=ns,
        nats_url=nats_server.url,
        smtp_host=smtp_catcher.host,
        smtp_port=smtp_catcher.port,
        smtp_timeout_s=5,
        mail_domain="responer.test",
        send_max_attempts=3,
        send_retry_initial_s=0.2,
        send_retry_max_s=1.0,
        **outbox_db,
    )
    service = await asyncio.to_thread(bootstrap.build, settings)
    task = asyncio.create_task(service.serve())
    deadline = time.monotonic() + 20
    while not (service.ready and service.grpc_port):
        assert not task.done(), "the outbox service stopped during start-up"
        assert time.monotonic() < deadline, "the outbox service did not start"
        await asyncio.sleep(0.05)
    bus = Bus(nats_server.url, ns, "outbox-test")
    await bus.connect()
    await bus.ensure_stream("ingest")
    await bus.ensure_stream("outbox")
    events: list[DecodedEvent] = []

    async def collect(msg) -> None:  # noqa: ANN001
        events.append(decode(msg.data))

    sub = await bus.js.subscribe(f"{ns}.outbox.>", cb=collect, ordered_consumer=True)
    grpc_channel = channel(f"127.0.0.1:{service.grpc_port}")
    try:
        yield Outbox(settings, outbox_pb2_grpc.OutboxServiceStub(grpc_channel), bus.js, events)
    finally:
        await grpc_channel.close()
        await sub.unsubscribe()
        await bus.close()
        service.stop.set()
        assert await asyncio.wait_for(task, 30) == 0
        delete_streams(nats_server.url, ns)


@pytest.fixture
def scripted_smtp(tmp_path) -> Iterator[SmtpCatcher]:
    """A private SMTP server whose answers a test scripts with fail_next (the session catcher is shared)."""
    with SmtpCatcher(directory=tmp_path / "caught") as catcher:
        yield catcher


def _new_mailbox() -> tuple[str, str]:
    mailbox_id = str(uuid.uuid4())
    return mailbox_id, f"pomoc+{mailbox_id[:8]}@sklep.example.pl"


def _reply(mailbox_id: str, **overrides: object) -> dict[str, object]:
    fields: dict[str, object] = {
        "tenant_id": TENANT,
        "reply_id": str(uuid.uuid4()),
        "thread_id": str(uuid.uuid4()),
        "thread_number": 104233,
        "mailbox_id": mailbox_id,
        "to": ["Jan Żółtowski <jan.zoltowski@example.com>"],
        "cc": ["biuro@example.com"],
        "subject": "Re: Zamówienie nr 77 — gdzie jest paczka?",
        "body_text": BODY,
        "in_reply_to": "customer-2@mail.example.com",
        "references": ["customer-1@mail.example.com", "customer-2@mail.example.com"],
        "author_user_id": "agent-1",
    }
    fields.update(overrides)
    return fields


def _with_message_id(catcher: SmtpCatcher, message_id: str) -> list[CaughtMessage]:
    return [m for m in catcher.messages if m.message()["Message-ID"] == f"<{message_id}>"]


# -- behaviour -------------------------------------------------------------------------------------
async def test_reply_goes_out_once_with_threading_headers_and_reply_sent_is_published(outbox, smtp_catcher):
    mailbox_id, address = _new_mailbox()
    await outbox.connect_mailbox(TENANT, mailbox_id, address)  # no smtp_host: the default relay
    request = _reply(mailbox_id)

    queued = await outbox.queue_when_mailbox_known(**request)

    assert queued.status == "queued"
    assert queued.message_id.endswith("@responer.test")
    sent = await outbox.wait_status(TENANT, request["reply_id"], "sent")
    assert sent.attempts == 1 and sent.error == "" and sent.sent_at.seconds > 0
    (caught,) = _with_message_id(smtp_catcher, queued.message_id)
    msg: EmailMessage = caught.message()
    assert msg["In-Reply-To"] == "<customer-2@mail.example.com>"
    assert msg["References"] == "<customer-1@mail.example.com> <customer-2@mail.example.com>"
    assert msg["From"].addresses[0].addr_spec == address
    assert caught.mail_from == address
    assert set(caught.rcpt_tos) == {"jan.zoltowski@example.com", "biuro@example.com"}
    assert msg["To"].addresses[0].display_name == "Jan Żółtowski"
    assert msg["Subject"] == "Re: Zamówienie nr 77 — gdzie jest paczka? [#104233]"
    assert msg["Date"] is not None
    assert msg["Auto-Submitted"] is None
    assert msg.get_content_charset() == "utf-8"
    assert msg.get_content().replace("\r\n", "\n") == BODY

    (event,) = await outbox.wait_event(events_pb2.ReplySent, lambda e: e.reply_id == request["reply_id"])
    assert event.tenant_id == TENANT and event.thread_id == request["thread_id"]
    assert event.mailbox_address == address
    assert event.mail.message_id == queued.message_id
    assert list(event.mail.in_reply_to) == ["customer-2@mail.example.com"]
    assert list(event.mail.references) == ["customer-1@mail.example.com", "customer-2@mail.example.com"]
    assert event.mail.direction == mail_pb2.DIRECTION_OUTBOUND
    assert event.mail.subject == msg["Subject"]
    assert getattr(event.mail, "from").email == address
    assert [a.email for a in event.mail.to] == ["jan.zoltowski@example.com"]
    assert event.mail.text == BODY
    assert event.mail.date.seconds > 0
    queued_events = await outbox.wait_event(
        events_pb2.ReplyQueued, lambda e: e.reply_id == request["reply_id"]
    )
    assert len(queued_events) == 1


async def test_same_reply_id_twice_sends_one_mail(outbox, smtp_catcher):
    mailbox_id, address = _new_mailbox()
    await outbox.connect_mailbox(TENANT, mailbox_id, address)
    request = _reply(mailbox_id)

    first = await outbox.queue_when_mailbox_known(**request)
    second = await outbox.queue(**request)
    await outbox.wait_status(TENANT, request["reply_id"], "sent")
    third = await outbox.queue(**{**request, "body_text": "a different text, same reply_id"})

    assert first.message_id == second.message_id == third.message_id
    assert third.status == "sent"
    await asyncio.sleep(1.0)  # time for a wrongly repeated delivery to show up
    assert len(_with_message_id(smtp_catcher, first.message_id)) == 1
    sent = [e for e in outbox.events if isinstance(e.payload, events_pb2.ReplySent)]
    assert [e.payload.reply_id for e in sent].count(request["reply_id"]) == 1


async def test_permanent_refusal_is_a_visible_failure(outbox, scripted_smtp):
    mailbox_id, address = _new_mailbox()
    scripted_smtp.fail_next("550 5.7.1 Message rejected as spam")
    await outbox.connect_mailbox(
        TENANT, mailbox_id, address, smtp_host=scripted_smtp.host, smtp_port=scripted_smtp.port
    )
    request = _reply(mailbox_id)

    await outbox.queue_when_mailbox_known(**request)

    failed = await outbox.wait_status(TENANT, request["reply_id"], "failed")
    assert failed.attempts == 1
    assert "550" in failed.error and "rejected as spam" in failed.error
    (event,) = await outbox.wait_event(events_pb2.ReplyFailed, lambda e: e.reply_id == request["reply_id"])
    assert event.permanent is True and event.attempts == 1 and "550" in event.error
    assert scripted_smtp.messages == []


async def test_temporary_failure_is_retried_until_sent(outbox, scripted_smtp):
    mailbox_id, address = _new_mailbox()
    scripted_smtp.fail_next("451 4.7.1 Greylisted, try again later")
    await outbox.connect_mailbox(
        TENANT, mailbox_id, address, smtp_host=scripted_smtp.host, smtp_port=scripted_smtp.port
    )
    request = _reply(mailbox_id)

    queued = await outbox.queue_when_mailbox_known(**request)

    sent = await outbox.wait_status(TENANT, request["reply_id"], "sent")
    assert sent.attempts == 2
    (caught,) = scripted_smtp.wait_for(1, timeout=5)
    assert caught.message()["Message-ID"] == f"<{queued.message_id}>"


async def test_temporary_failures_give_up_after_the_last_attempt(outbox, scripted_smtp):
    mailbox_id, address = _new_mailbox()
    scripted_smtp.fail_next("421 4.3.2 Service shutting down", times=outbox.settings.send_max_attempts)
    await outbox.connect_mailbox(
        TENANT, mailbox_id, address, smtp_host=scripted_smtp.host, smtp_port=scripted_smtp.port
    )
    request = _reply(mailbox_id)

    await outbox.queue_when_mailbox_known(**request)

    failed = await outbox.wait_status(TENANT, request["reply_id"], "failed")
    assert failed.attempts == outbox.settings.send_max_attempts
    assert "421" in failed.error
    (event,) = await outbox.wait_event(events_pb2.ReplyFailed, lambda e: e.reply_id == request["reply_id"])
    assert event.permanent is False
    assert scripted_smtp.messages == []


@pytest.mark.parametrize(
    "overrides",
    [
        {"subject": "Re: zwrot\r\nBcc: everyone@evil.example"},
        {"subject": "Re: zwrot\nX-Injected: yes"},
        {"to": ["jan@example.com\r\nBcc: everyone@evil.example"]},
        {"cc": ["biuro@example.com, everyone@evil.example"]},
        {"to": ["not an address"]},
        {"in_reply_to": "id@x>\r\nBcc: everyone@evil.example"},
    ],
    ids=["subject-crlf", "subject-lf", "to-crlf", "cc-two-addresses", "to-invalid", "in-reply-to-crlf"],
)
async def test_header_injection_is_rejected_and_nothing_is_sent(outbox, smtp_catcher, overrides):
    mailbox_id, address = _new_mailbox()
    await outbox.connect_mailbox(TENANT, mailbox_id, address)
    await outbox.queue_when_mailbox_known(**_reply(mailbox_id))  # the mailbox is known from here on
    request = _reply(mailbox_id, **overrides)

    with pytest.raises(grpc.aio.AioRpcError) as rejected:
        await outbox.queue(**request)

    assert rejected.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert rejected.value.details()
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await outbox.get(TENANT, request["reply_id"])
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    assert not [m for m in smtp_catcher.messages if b"evil.example" in m.data or b"X-Injected" in m.data]


async def test_reply_from_an_unknown_mailbox_is_a_failed_precondition(outbox):
    with pytest.raises(grpc.aio.AioRpcError) as rejected:
        await outbox.queue(**_reply(str(uuid.uuid4())))

    assert rejected.value.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_missing_recipient_or_body_is_invalid(outbox):
    mailbox_id, address = _new_mailbox()
    await outbox.connect_mailbox(TENANT, mailbox_id, address)
    await outbox.queue_when_mailbox_known(**_reply(mailbox_id))

    for overrides in ({"to": []}, {"body_text": "  \n"}, {"thread_id": ""}):
        with pytest.raises(grpc.aio.AioRpcError) as rejected:
            await outbox.queue(**_reply(mailbox_id, **overrides))
        assert rejected.value.code() == grpc.StatusCode.INVALID_ARGUMENT, overrides


async def test_another_tenants_reply_is_not_found(outbox):
    mailbox_id, address = _new_mailbox()
    await outbox.connect_mailbox(TENANT, mailbox_id, address)
    request = _reply(mailbox_id)
    await outbox.queue_when_mailbox_known(**request)

    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await outbox.get(str(uuid.uuid4()), request["reply_id"])

    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    # and another tenant cannot send from this tenant's mailbox either
    with pytest.raises(grpc.aio.AioRpcError) as foreign:
        await outbox.queue(**_reply(mailbox_id, tenant_id=str(uuid.uuid4())))
    assert foreign.value.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_a_replayed_reply_queued_sends_nothing_more(outbox, smtp_catcher):
    mailbox_id, address = _new_mailbox()
    await outbox.connect_mailbox(TENANT, mailbox_id, address)
    request = _reply(mailbox_id)
    queued = await outbox.queue_when_mailbox_known(**request)
    await outbox.wait_status(TENANT, request["reply_id"], "sent")

    # The same ReplyQueued again at a new stream position, as after a lost ack or a replayed stream.
    payload = events_pb2.ReplyQueued(
        reply_id=request["reply_id"], tenant_id=TENANT, thread_id=request["thread_id"], mailbox_id=mailbox_id
    )
    env = encode(payload, tenant_id=TENANT, aggregate_id=str(uuid.uuid4()), aggregate_version=1)
    await outbox.js.publish(
        subject_for(events_pb2.ReplyQueued, outbox.settings.namespace),
        env.SerializeToString(),
        headers={"Nats-Msg-Id": env.event_id},
    )
    marker = _reply(mailbox_id)  # queued after the replay: once it is sent, the replay was handled
    await outbox.queue(**marker)
    await outbox.wait_status(TENANT, marker["reply_id"], "sent")

    assert len(_with_message_id(smtp_catcher, queued.message_id)) == 1
    assert (await outbox.get(TENANT, request["reply_id"])).attempts == 1


async def test_a_malformed_customer_message_id_is_left_out_not_fatal(outbox, smtp_catcher):
    mailbox_id, address = _new_mailbox()
    await outbox.connect_mailbox(TENANT, mailbox_id, address)
    request = _reply(
        mailbox_id, in_reply_to="broken id@client", references=["ok-1@x", "zły@x", "broken id@client"]
    )

    queued = await outbox.queue_when_mailbox_known(**request)
    await outbox.wait_status(TENANT, request["reply_id"], "sent")

    (caught,) = _with_message_id(smtp_catcher, queued.message_id)
    assert caught.message()["In-Reply-To"] is None
    assert caught.message()["References"] == "<ok-1@x>"
