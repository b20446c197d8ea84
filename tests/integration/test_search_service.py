"""The whole search service in-process (bootstrap.build), fed through real JetStream, asked over gRPC."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import grpc
import pytest
import pytest_asyncio
from google.protobuf.message import Message
from responer.events.v1 import events_pb2, mail_pb2
from responer.search.v1 import search_pb2, search_pb2_grpc
from responer_events import encode, subject_for
from responer_runtime.bus import HEADER_TENANT, HEADER_TYPE, Bus
from responer_runtime.grpcutil import channel
from responer_search.bootstrap import build
from responer_search.config import Settings

pytestmark = pytest.mark.integration

T = TypeVar("T")
T0 = datetime(2026, 11, 3, 8, 30, tzinfo=UTC)


async def eventually(probe: Callable[[], Awaitable[T | None]], what: str, timeout: float = 20.0) -> T:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await probe()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for: {what}")
        await asyncio.sleep(0.1)


@pytest_asyncio.fixture(scope="module")
async def search_service(pg_database, nats_url, namespace) -> AsyncIterator:
    settings = Settings(
        # Not the session namespace: the session's stack runs its own search service, and two services
        # on one durable consumer would split its events between them.
        namespace=f"{namespace}s",
        nats_url=nats_url,
        pg_host=pg_database.host,
        pg_port=pg_database.port,
        pg_dbname=pg_database.dbname,
        pg_user=pg_database.user,
        pg_password=pg_database.password,
    )
    service = build(settings)
    task = asyncio.create_task(service.serve())

    async def started() -> bool:
        if task.done():
            raise AssertionError(f"search service exited early: {task.result()}")
        return service.ready

    await eventually(started, "search service ready", timeout=30)
    yield service
    service.stop.set()
    assert await asyncio.wait_for(task, 30) == 0


@pytest_asyncio.fixture(scope="module")
async def publisher(nats_url, namespace) -> AsyncIterator[Bus]:
    bus = Bus(nats_url, f"{namespace}s", "test-search-publisher")
    await bus.connect()
    for producer in ("threading", "routing"):
        await bus.ensure_stream(producer)
    yield bus
    await bus.close()


@pytest_asyncio.fixture(scope="module")
async def stub(search_service) -> AsyncIterator[search_pb2_grpc.SearchServiceStub]:
    async with channel(f"127.0.0.1:{search_service.grpc_port}") as ch:
        yield search_pb2_grpc.SearchServiceStub(ch)


async def publish(bus: Bus, payload: Message, tenant: str, event_id: str | None = None) -> None:
    envelope = encode(
        payload, tenant_id=tenant, aggregate_id=str(uuid.uuid4()), aggregate_version=1, event_id=event_id
    )
    await bus.js.publish(
        subject_for(type(payload), bus.namespace),
        envelope.SerializeToString(),
        headers={"Nats-Msg-Id": envelope.event_id, HEADER_TENANT: tenant, HEADER_TYPE: envelope.type},
    )


def threaded(
    tenant: str, number: int, *, subject: str, text: str, thread_id: str = ""
) -> events_pb2.MessageThreaded:
    mail = mail_pb2.Mail(
        message_id=f"{uuid.uuid4()}@customer.test",
        subject=subject,
        text=text,
        to=[mail_pb2.Address(email="support@acme.test")],
        direction=mail_pb2.DIRECTION_INBOUND,
    )
    getattr(mail, "from").CopyFrom(mail_pb2.Address(email="zofia@customer.test", name="Zofia Łąka"))
    mail.date.FromDatetime(T0 + timedelta(seconds=number % 1000))
    return events_pb2.MessageThreaded(
        message_id=str(uuid.uuid4()),
        tenant_id=tenant,
        thread_id=thread_id or str(uuid.uuid4()),
        thread_number=number,
        mailbox_id="mbx-1",
        mailbox_address="support@acme.test",
        signal="new",
        new_thread=True,
        mail=mail,
        thread_subject=subject,
    )


async def test_the_service_is_ready_when_postgres_and_nats_are(search_service):
    assert await search_service.check_readiness() == {"postgres": True, "nats": True}


async def test_a_published_message_becomes_listed_searchable_and_readable(publisher, stub):
    tenant = str(uuid.uuid4())
    event = threaded(tenant, 104233, subject="Mój żółw", text="Mój żółw nie je sałaty <script>x</script>")
    await publish(publisher, event, tenant)

    async def in_inbox():
        page = await stub.ListThreads(search_pb2.ListThreadsRequest(tenant_id=tenant, folder="Inbox"))
        return page if page.threads else None

    page = await eventually(in_inbox, "thread listed in Inbox")
    [summary] = page.threads
    assert (summary.thread_id, summary.number, summary.subject) == (event.thread_id, 104233, "Mój żółw")
    assert (summary.customer_email, summary.customer_name, summary.message_count) == (
        "zofia@customer.test",
        "Zofia Łąka",
        1,
    )

    found = await stub.Search(search_pb2.SearchRequest(tenant_id=tenant, query="zolw salat"))
    [hit] = found.threads
    assert hit.number == 104233 and "<mark>" in hit.snippet and "<script" not in hit.snippet
    assert [
        t.number
        for t in (await stub.Search(search_pb2.SearchRequest(tenant_id=tenant, query="#104233"))).threads
    ] == [104233]

    detail = await stub.GetThread(search_pb2.GetThreadRequest(tenant_id=tenant, number=104233))
    assert [m.mail.text for m in detail.messages] == [event.mail.text]
    assert detail.messages[0].mail.message_id == event.mail.message_id

    await publish(
        publisher,
        events_pb2.ThreadSorted(
            tenant_id=tenant,
            thread_id=event.thread_id,
            folder="System",
            system=True,
            system_kind="auto_reply",
        ),
        tenant,
    )

    async def in_system():
        page = await stub.ListThreads(search_pb2.ListThreadsRequest(tenant_id=tenant, folder="System"))
        return page if page.threads else None

    await eventually(in_system, "thread moved to System")
    assert not (
        await stub.ListThreads(search_pb2.ListThreadsRequest(tenant_id=tenant, folder="Inbox"))
    ).threads
    counts = await stub.FolderCounts(search_pb2.FolderCountsRequest(tenant_id=tenant))
    assert [(c.folder, c.threads) for c in counts.folders] == [("Inbox", 0), ("System", 1)]


async def test_a_sort_published_before_its_message_is_not_lost(publisher, stub):
    tenant = str(uuid.uuid4())
    thread_id = str(uuid.uuid4())
    await publish(
        publisher, events_pb2.ThreadSorted(tenant_id=tenant, thread_id=thread_id, folder="Billing"), tenant
    )
    await asyncio.sleep(0.3)  # let routing's event land first
    await publish(
        publisher, threaded(tenant, 5, subject="Invoice", text="faktura", thread_id=thread_id), tenant
    )

    async def in_billing():
        page = await stub.ListThreads(search_pb2.ListThreadsRequest(tenant_id=tenant, folder="Billing"))
        return page if page.threads else None

    page = await eventually(in_billing, "thread listed in Billing")
    assert [(t.thread_id, t.number, t.subject) for t in page.threads] == [(thread_id, 5, "Invoice")]


async def test_a_republished_event_is_indexed_once(publisher, stub):
    tenant = str(uuid.uuid4())
    event = threaded(tenant, 9, subject="Twice", text="duplicate")
    event_id = str(uuid.uuid4())
    await publish(publisher, event, tenant, event_id=event_id)
    await publish(publisher, event, tenant, event_id=event_id)  # JetStream drops it by Nats-Msg-Id
    await publish(publisher, event, tenant)  # a true second delivery: the same message upserts
    marker = threaded(tenant, 10, subject="Marker", text="after")
    await publish(publisher, marker, tenant)

    async def both():
        page = await stub.ListThreads(search_pb2.ListThreadsRequest(tenant_id=tenant))
        return page if len(page.threads) == 2 else None

    page = await eventually(both, "both threads listed")
    assert {t.number: t.message_count for t in page.threads} == {9: 1, 10: 1}


async def test_bad_requests_are_invalid_argument_and_foreign_threads_not_found(publisher, stub):
    tenant = str(uuid.uuid4())
    theirs = threaded(tenant, 31337, subject="Private", text="private")
    await publish(publisher, theirs, tenant)

    async def indexed():
        page = await stub.ListThreads(search_pb2.ListThreadsRequest(tenant_id=tenant))
        return page if page.threads else None

    await eventually(indexed, "foreign thread indexed")
    other = str(uuid.uuid4())
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.GetThread(search_pb2.GetThreadRequest(tenant_id=other, thread_id=theirs.thread_id))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    for request in (
        search_pb2.SearchRequest(tenant_id=tenant, query='"unterminated'),
        search_pb2.SearchRequest(tenant_id=tenant, query="thread:#abc"),
        search_pb2.SearchRequest(tenant_id=tenant, query="   "),
        search_pb2.SearchRequest(tenant_id="", query="x"),
        search_pb2.SearchRequest(tenant_id=tenant, query="x", cursor="not-a-cursor"),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.Search(request)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, request
        assert err.value.details()
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.ListThreads(search_pb2.ListThreadsRequest(tenant_id=tenant, cursor="%%%"))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    hostile = await stub.Search(search_pb2.SearchRequest(tenant_id=other, query="' OR 1=1 --"))
    assert list(hostile.threads) == []


async def test_an_assignment_is_searchable_within_a_second(publisher, stub):
    tenant = str(uuid.uuid4())
    event = threaded(tenant, 4242, subject="Kto to weźmie?", text="needs an owner")
    await publish(publisher, event, tenant)

    async def indexed():
        page = await stub.Search(search_pb2.SearchRequest(tenant_id=tenant, query="#4242"))
        return page if page.threads else None

    await eventually(indexed, "thread indexed")
    mine = search_pb2.SearchRequest(tenant_id=tenant, query="assignee:me is:open", user_id="agent-7")
    assert not (await stub.Search(mine)).threads
    loop = asyncio.get_running_loop()
    started = loop.time()
    await publish(
        publisher,
        events_pb2.ThreadAssigned(tenant_id=tenant, thread_id=event.thread_id, user_id="agent-7"),
        tenant,
    )

    async def assigned():
        page = await stub.Search(mine)
        return page if page.threads else None

    page = await eventually(assigned, "assignee:me finds the thread", timeout=5)
    elapsed = loop.time() - started
    assert [t.number for t in page.threads] == [4242]
    assert elapsed < 1.0, f"assignment searchable after {elapsed:.2f}s"
    # ... and the same read model serves the inbox view and the thread's history
    listed = await stub.ListThreads(
        search_pb2.ListThreadsRequest(tenant_id=tenant, folder="*", filter="assignee:me", user_id="agent-7")
    )
    assert [t.thread_id for t in listed.threads] == [event.thread_id]
    detail = await stub.GetThread(search_pb2.GetThreadRequest(tenant_id=tenant, thread_id=event.thread_id))
    assert [(i.kind, i.detail["user_id"]) for i in detail.timeline] == [("assignment", "agent-7")]


async def test_a_burst_of_events_is_indexed_in_batches_once_and_in_order(publisher, stub):
    tenant = str(uuid.uuid4())
    thread_id = str(uuid.uuid4())
    events = [
        threaded(
            tenant,
            7000 + i,
            subject=f"burst {i}",
            text=f"burst message {i}",
            thread_id=thread_id if i else "",
        )
        for i in range(150)
    ]
    for event in events:
        event.thread_id = thread_id
        event.thread_number = 7000
    await asyncio.gather(*(publish(publisher, e, tenant) for e in events))
    statuses = ["pending", "open", "closed"]
    for s in statuses:  # the last one wins only if order is kept
        await publish(
            publisher, events_pb2.ThreadStatusChanged(tenant_id=tenant, thread_id=thread_id, status=s), tenant
        )

    async def all_indexed():
        detail = await stub.GetThread(search_pb2.GetThreadRequest(tenant_id=tenant, thread_id=thread_id))
        return detail if detail.thread.message_count == 150 and detail.thread.status == "closed" else None

    async def get_or_none():
        try:
            return await all_indexed()
        except grpc.aio.AioRpcError:
            return None

    detail = await eventually(get_or_none, "150 messages and the last status")
    assert len({m.message_id for m in detail.messages}) == 150
    page = await stub.Search(
        search_pb2.SearchRequest(tenant_id=tenant, query="burst", result="messages", limit=200)
    )
    assert page.total == 150
