"""Split and its undo in routing, through the running service: threading's ThreadSplit/ThreadUnsplit
arrive over JetStream, the split-off thread's routing is read back over routing's gRPC API, and what it
inherited is published (ThreadSorted, ThreadAssigned kind `split`, ThreadTagged, ThreadDueSet)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import nats
import pytest
from responer.events.v1 import events_pb2, mail_pb2
from responer.routing.v1 import routing_pb2 as pb
from responer_events import decode, stream_name
from responer_routing.domain.sla import SlaPolicy

from services.routing.tests.integration.helpers import eventually, threaded

pytestmark = pytest.mark.integration

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)


async def test_a_split_off_thread_inherits_the_routing_and_the_undo_gives_the_original_its_deadline_back(routing):  # fmt: skip
    service, stub, publish, js, ns = routing
    tenant = str(uuid.uuid4())
    original, new = str(uuid.uuid4()), str(uuid.uuid4())
    app = service.app
    app.learn(tenant, lambda r: r.know_agent("u-ola", "Ola", "ola@shop.test"))
    app.learn(tenant, lambda r: r.set_group("g-1", "Support", ["u-ola"], "", False))
    app.set_sla_policy(tenant, SlaPolicy(policy_id="", name="all", first_response_minutes=60, next_response_minutes=120, business_hours=False))  # fmt: skip

    async def routed(thread: str, ok: Callable[[pb.ThreadRouting], bool]) -> pb.ThreadRouting | None:
        reply = await stub.GetThread(pb.ThreadRef(tenant_id=tenant, thread_id=thread))
        return reply if ok(reply) else None

    # The original: a question, our answer, then the customer raises a new matter in the same thread.
    question, answer, matter = (
        threaded(tenant, original, "Dostawa"),
        threaded(tenant, original, "Re: Dostawa", outbound=True),
        threaded(tenant, original, "Re: Dostawa"),
    )
    await publish(question, tenant, T0)
    await publish(answer, tenant, T0 + timedelta(minutes=5))
    await publish(matter, tenant, T0 + timedelta(minutes=10))
    await stub.AssignThread(pb.AssignThreadRequest(tenant_id=tenant, thread_id=original, user_id="u-ola", group_id="g-1", by_user_id="u-boss"))  # fmt: skip
    await stub.TagThread(pb.TagThreadRequest(tenant_id=tenant, thread_id=original, add=["vip"], by_user_id="u-boss"))  # fmt: skip
    await stub.SetPriority(pb.SetPriorityRequest(tenant_id=tenant, thread_id=original, priority="high", by_user_id="u-boss"))  # fmt: skip
    await stub.MoveThread(pb.MoveThreadRequest(tenant_id=tenant, thread_id=original, folder="System", by_user_id="u-boss"))  # fmt: skip
    before = await eventually(
        lambda: routed(original, lambda r: r.deadline.kind == "next_response"), "the next response due"
    )
    assert before.deadline.due_at.ToDatetime(tzinfo=UTC) == T0 + timedelta(minutes=130)

    split = events_pb2.ThreadSplit(
        tenant_id=tenant,
        split_id=str(uuid.uuid4()),
        source_thread_id=original,
        new_thread_id=new,
        message_ids=[matter.message_id],
        by_user_id="u-boss",
        status="open",
    )
    split.at.FromDatetime(T0 + timedelta(minutes=20))
    await publish(split, tenant)

    after = await eventually(lambda: routed(new, lambda r: bool(r.folder)), "the split-off thread filed")
    # Customer mail split off a System thread goes to the Inbox; assignee, group, tags, priority follow.
    assert (after.folder, after.user_id, after.group_id, list(after.tags), after.priority) == (
        "Inbox",
        "u-ola",
        "g-1",
        ["vip"],
        "high",
    )
    assert [(h.user_id, h.kind, h.by_user_id) for h in after.history] == [("u-ola", "split", "u-boss")]
    # Its own deadline: a first response to the matter, counted from when the customer wrote it.
    assert after.deadline.kind == "first_response"
    assert after.deadline.due_at.ToDatetime(tzinfo=UTC) == T0 + timedelta(minutes=70)
    # The original's question was answered: its deadline only ran for the matter, so it is parked.
    left = await stub.GetThread(pb.ThreadRef(tenant_id=tenant, thread_id=original))
    assert not left.HasField("deadline") and left.folder == "System"
    assert sorted(app.roster(tenant).open["u-ola"]) == sorted([original, new])
    listed = await stub.ListUnanswered(pb.ListUnansweredRequest(tenant_id=tenant))
    assert [t.thread_id for t in listed.threads] == [new]

    # Published for search and the gateway.
    sub = await js.pull_subscribe(f"{ns}.routing.thread.>", durable=None, stream=stream_name("routing", ns))
    seen: list = []

    async def published() -> bool:
        try:
            seen.extend(decode(m.data).payload for m in await sub.fetch(100, timeout=0.5))
        except (nats.errors.TimeoutError, TimeoutError):
            pass
        return any(isinstance(e, events_pb2.ThreadDueSet) and e.thread_id == new for e in seen)

    await eventually(published, "the split-off thread's deadline published")
    for_new = [e for e in seen if e.thread_id == new]
    sorted_ = next(e for e in for_new if isinstance(e, events_pb2.ThreadSorted))
    assert (sorted_.folder, sorted_.system, sorted_.message_id) == ("Inbox", False, matter.message_id)
    assigned = next(e for e in for_new if isinstance(e, events_pb2.ThreadAssigned))
    assert (assigned.kind, assigned.user_id, assigned.group_id) == ("split", "u-ola", "g-1")
    assert any(isinstance(e, events_pb2.ThreadTagged) and e.tag == "vip" for e in for_new)
    assert any(isinstance(e, events_pb2.ThreadPrioritySet) and e.priority == "high" for e in for_new)

    # A redelivered split changes nothing.
    await publish(split, tenant)
    # The undo merges the split-off thread back; the original runs its own deadline again.
    unsplit = events_pb2.ThreadUnsplit(
        tenant_id=tenant,
        split_id=split.split_id,
        source_thread_id=original,
        new_thread_id=new,
        message_ids=[matter.message_id],
        by_user_id="u-boss",
    )
    unsplit.at.FromDatetime(T0 + timedelta(minutes=25))
    await publish(unsplit, tenant)
    gone = await eventually(lambda: routed(new, lambda r: r.merged_into == original), "merged back")
    assert len(gone.history) == 1 and not gone.HasField("deadline")
    back = await stub.GetThread(pb.ThreadRef(tenant_id=tenant, thread_id=original))
    assert (back.deadline.kind, back.deadline.due_at) == ("next_response", before.deadline.due_at)
    assert [(h.user_id, h.kind) for h in back.history] == [("u-ola", "manual")]
    assert (back.user_id, list(back.tags), back.priority) == ("u-ola", ["vip"], "high")
    assert app.roster(tenant).open["u-ola"] == [original]
    listed = await stub.ListUnanswered(pb.ListUnansweredRequest(tenant_id=tenant))
    assert [t.thread_id for t in listed.threads] == [original]


async def test_system_mail_split_off_stays_in_system_without_a_deadline(routing):
    service, stub, publish, js, ns = routing
    tenant = str(uuid.uuid4())
    original, new = str(uuid.uuid4()), str(uuid.uuid4())
    service.app.set_sla_policy(tenant, SlaPolicy(policy_id="", name="all", first_response_minutes=60, next_response_minutes=60, business_hours=False))  # fmt: skip
    bounce = threaded(tenant, original, "Undelivered Mail Returned to Sender")
    getattr(bounce.mail, "from").CopyFrom(mail_pb2.Address(email="MAILER-DAEMON@mx.klient.pl"))
    bounce.mail.text = "This is the mail system at host mx.klient.pl. I'm sorry to have to inform you that your message could not be delivered."  # fmt: skip
    await publish(bounce, tenant)
    later = threaded(tenant, original, "Undelivered Mail Returned to Sender")
    later.mail.CopyFrom(bounce.mail)
    later.mail.message_id = f"{uuid.uuid4()}@mx"
    await publish(later, tenant)

    async def routed(thread: str) -> pb.ThreadRouting | None:
        reply = await stub.GetThread(pb.ThreadRef(tenant_id=tenant, thread_id=thread))
        return reply if reply.folder else None

    first = await eventually(lambda: routed(original), "the bounce filed")
    assert first.folder == "System"
    split = events_pb2.ThreadSplit(
        tenant_id=tenant, split_id=str(uuid.uuid4()), source_thread_id=original, new_thread_id=new,
        message_ids=[later.message_id], status="open",
    )  # fmt: skip
    await publish(split, tenant)
    after = await eventually(lambda: routed(new), "the split-off bounce filed")
    assert after.folder == "System" and not after.HasField("deadline") and after.user_id == ""
