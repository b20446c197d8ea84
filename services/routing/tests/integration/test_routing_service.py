"""The routing service sorts threaded messages from JetStream and publishes ThreadSorted."""

from __future__ import annotations

import asyncio
import uuid

import nats
import pytest
from responer.events.v1 import events_pb2, mail_pb2
from responer_events import decode, encode, stream_name, subject_for
from responer_routing.bootstrap import build
from responer_routing.config import Settings

pytestmark = pytest.mark.integration


def threaded(tenant: str, thread: str, mail: mail_pb2.Mail) -> events_pb2.MessageThreaded:
    return events_pb2.MessageThreaded(
        message_id=str(uuid.uuid4()), tenant_id=tenant, thread_id=thread, thread_number=1000, mail=mail
    )


def customer_mail() -> mail_pb2.Mail:
    mail = mail_pb2.Mail(message_id="q1@klient.pl", subject="Gdzie jest moja paczka?", text="Dzień dobry")
    getattr(mail, "from").CopyFrom(mail_pb2.Address(email="jan@klient.pl", name="Jan"))
    return mail


def bounce_mail() -> mail_pb2.Mail:
    mail = mail_pb2.Mail(
        message_id="dsn1@mx.example",
        subject="Undelivered Mail Returned to Sender",
        part_types=["multipart/report", "text/plain", "message/delivery-status", "message/rfc822"],
        headers=[
            mail_pb2.Header(
                name="Content-Type", value='multipart/report; report-type=delivery-status; boundary="b"'
            ),
            mail_pb2.Header(name="Return-Path", value="<>"),
        ],
        report_parts=[
            mail_pb2.ReportPart(
                content_type="message/delivery-status",
                text="Reporting-MTA: dns; mx.example\n\nFinal-Recipient: rfc822; gone@example.org\n"
                "Action: failed\nStatus: 5.1.1\n",
            )
        ],
    )
    getattr(mail, "from").CopyFrom(mail_pb2.Address(email="mailer-daemon@mx.example"))
    return mail


async def test_customer_mail_goes_to_inbox_and_a_bounce_to_system(
    private_database, nats_url, namespace, unused_tcp_port_factory
):
    ns = f"{namespace}r{uuid.uuid4().hex[:4]}"
    settings = Settings(
        namespace=ns,
        nats_url=nats_url,
        pg_host=private_database.host,
        pg_port=private_database.port,
        pg_dbname=private_database.dbname,
        pg_user=private_database.user,
        pg_password=private_database.password,
        ops_port=unused_tcp_port_factory(),
    )
    service = build(settings)
    task = asyncio.create_task(service.serve())
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    try:
        tenant = str(uuid.uuid4())
        inbox_thread, system_thread = str(uuid.uuid4()), str(uuid.uuid4())
        await js.add_stream(name=stream_name("threading", ns), subjects=[f"{ns}.threading.>"])
        for thread, mail in ((inbox_thread, customer_mail()), (system_thread, bounce_mail())):
            payload = threaded(tenant, thread, mail)
            env = encode(payload, tenant_id=tenant, aggregate_id=thread, aggregate_version=1)
            # Published twice: a redelivered event must not be sorted twice.
            for _ in range(2):
                await js.publish(subject_for(events_pb2.MessageThreaded, ns), env.SerializeToString())
        sorted_: dict[str, list] = {}
        sub = await js.pull_subscribe(f"{ns}.routing.>", durable=None, stream=stream_name("routing", ns))
        for _ in range(40):
            try:
                for msg in await sub.fetch(10, timeout=0.5):
                    event = decode(msg.data).payload
                    if not isinstance(event, events_pb2.ThreadSorted):
                        continue
                    sorted_.setdefault(event.thread_id, []).append(event)
            except (nats.errors.TimeoutError, TimeoutError):
                if len(sorted_) == 2:
                    break
        assert [e.folder for e in sorted_[inbox_thread]] == ["Inbox"]
        bounce = sorted_[system_thread]
        assert [e.folder for e in bounce] == ["System"]
        assert bounce[0].system and bounce[0].system_kind == "bounce"
        assert bounce[0].tenant_id == tenant
    finally:
        service.stop.set()
        await asyncio.wait_for(task, 20)
        for producer in ("threading", "routing"):
            try:
                await js.delete_stream(stream_name(producer, ns))
            except Exception:  # noqa: BLE001
                pass
        await nc.close()
