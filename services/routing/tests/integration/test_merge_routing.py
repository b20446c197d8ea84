"""Merge and its undo in routing, through the running service: threading's ThreadMerged/ThreadUnmerged
arrive over JetStream, the moved assignment history is read back over routing's gRPC API, and the
take-over is published as ThreadAssigned/ThreadTagged/ThreadDueSet for the read models."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import nats
import pytest
from responer.events.v1 import events_pb2
from responer.routing.v1 import routing_pb2 as pb
from responer_events import decode, stream_name
from responer_routing.domain.sla import SlaPolicy

from services.routing.tests.integration.helpers import eventually, threaded

pytestmark = pytest.mark.integration


async def test_merge_moves_the_assignment_history_to_the_target_and_the_undo_takes_it_back(routing):
    service, stub, publish, js, ns = routing
    tenant = str(uuid.uuid4())
    source, target = str(uuid.uuid4()), str(uuid.uuid4())
    app = service.app
    app.learn(tenant, lambda r: r.know_agent("u-ola", "Ola", "ola@shop.test"))
    app.learn(tenant, lambda r: r.know_agent("u-piotr", "Piotr", "piotr@shop.test"))
    app.learn(tenant, lambda r: r.set_group("g-1", "Support", ["u-ola", "u-piotr"], "", False))
    app.set_sla_policy(tenant, SlaPolicy(policy_id="", name="all", first_response_minutes=60, next_response_minutes=60, business_hours=False))  # fmt: skip
    # The source came first, so its deadline is the earlier one.
    await publish(threaded(tenant, source, "Dostawa"), tenant)
    await asyncio.sleep(1.1)
    await publish(threaded(tenant, target, "Faktura"), tenant)

    async def filed(thread: str) -> pb.ThreadRouting | None:
        reply = await stub.GetThread(pb.ThreadRef(tenant_id=tenant, thread_id=thread))
        return reply if reply.folder else None

    await eventually(lambda: filed(target), "target filed")
    await eventually(lambda: filed(source), "source filed")
    # The source's history: assigned to Ola, then handed over to Piotr; tagged; urgent.
    for user in ("u-ola", "u-piotr"):
        await stub.AssignThread(pb.AssignThreadRequest(tenant_id=tenant, thread_id=source, user_id=user, group_id="g-1", by_user_id="u-boss"))  # fmt: skip
    await stub.TagThread(pb.TagThreadRequest(tenant_id=tenant, thread_id=source, add=["vip"], by_user_id="u-boss"))  # fmt: skip
    await stub.SetPriority(pb.SetPriorityRequest(tenant_id=tenant, thread_id=source, priority="urgent", by_user_id="u-boss"))  # fmt: skip
    before = await stub.GetThread(pb.ThreadRef(tenant_id=tenant, thread_id=target))
    assert before.user_id == "" and list(before.history) == []
    source_due = (await stub.GetThread(pb.ThreadRef(tenant_id=tenant, thread_id=source))).deadline.due_at

    merge_id = str(uuid.uuid4())
    merged_at = datetime.now(UTC)
    merged = events_pb2.ThreadMerged(
        tenant_id=tenant,
        source_thread_id=source,
        target_thread_id=target,
        merge_id=merge_id,
        by_user_id="u-boss",
    )
    merged.at.FromDatetime(merged_at)
    await publish(merged, tenant)

    async def absorbed() -> pb.ThreadRouting | None:
        reply = await stub.GetThread(pb.ThreadRef(tenant_id=tenant, thread_id=target))
        return reply if len(reply.history) >= 3 else None

    after = await eventually(absorbed, "the source's history in the target")
    assert [(h.user_id, h.kind, h.merged_from) for h in after.history] == [
        ("u-ola", "manual", source),
        ("u-piotr", "manual", source),
        ("u-piotr", "merge", ""),  # the target had no assignee: it takes the source's
    ]
    assert (after.user_id, after.group_id, list(after.tags), after.priority) == (
        "u-piotr",
        "g-1",
        ["vip"],
        "urgent",
    )
    assert source_due.ToDatetime() < before.deadline.due_at.ToDatetime()
    assert after.deadline.due_at == source_due  # the earlier pending deadline
    parked = await stub.GetThread(pb.ThreadRef(tenant_id=tenant, thread_id=source))
    assert parked.merged_into == target and not parked.HasField("deadline")
    # Only the target is open for Piotr; the source is no longer listed among the unanswered.
    assert app.roster(tenant).open["u-piotr"] == [target]
    listed = await stub.ListUnanswered(pb.ListUnansweredRequest(tenant_id=tenant))
    assert [t.thread_id for t in listed.threads] == [target]
    # A command addressed to the merged thread acts on its target.
    await stub.TagThread(pb.TagThreadRequest(tenant_id=tenant, thread_id=source, add=["late"], by_user_id="u-boss"))  # fmt: skip
    assert "late" in (await stub.GetThread(pb.ThreadRef(tenant_id=tenant, thread_id=target))).tags

    # Published for the read models: the take-over on the target.
    sub = await js.pull_subscribe(f"{ns}.routing.thread.>", durable=None, stream=stream_name("routing", ns))
    seen: list = []

    async def published() -> bool:
        try:
            seen.extend(decode(m.data).payload for m in await sub.fetch(50, timeout=0.5))
        except (nats.errors.TimeoutError, TimeoutError):
            pass
        return any(isinstance(e, events_pb2.ThreadAssigned) and e.kind == "merge" for e in seen)

    await eventually(published, "ThreadAssigned(kind=merge) published")
    take_over = next(e for e in seen if isinstance(e, events_pb2.ThreadAssigned) and e.kind == "merge")
    assert (take_over.thread_id, take_over.user_id) == (target, "u-piotr")
    assert any(
        isinstance(e, events_pb2.ThreadTagged) and (e.thread_id, e.tag) == (target, "vip") for e in seen
    )

    # Undo: the history goes back, the target gives back what the merge brought.
    unmerged = events_pb2.ThreadUnmerged(
        tenant_id=tenant,
        merge_id=merge_id,
        source_thread_id=source,
        target_thread_id=target,
        by_user_id="u-boss",
    )
    unmerged.at.FromDatetime(merged_at + timedelta(minutes=5))
    await publish(unmerged, tenant)

    async def revived() -> pb.ThreadRouting | None:
        reply = await stub.GetThread(pb.ThreadRef(tenant_id=tenant, thread_id=source))
        return reply if not reply.merged_into else None

    back = await eventually(revived, "the source revived")
    assert [(h.user_id, h.merged_from) for h in back.history] == [("u-ola", ""), ("u-piotr", "")]
    assert (back.user_id, list(back.tags), back.priority) == ("u-piotr", ["vip"], "urgent")
    assert back.deadline.due_at == source_due
    target_now = await stub.GetThread(pb.ThreadRef(tenant_id=tenant, thread_id=target))
    assert [h.merged_from for h in target_now.history] == ["", ""]
    assert [(h.user_id, h.kind) for h in target_now.history] == [("u-piotr", "merge"), ("", "unmerge")]
    # "late" was added to the target during the merge: it stays; what the merge brought goes.
    assert (target_now.user_id, list(target_now.tags), target_now.priority) == ("", ["late"], "normal")
    assert target_now.deadline.due_at == before.deadline.due_at
    assert app.roster(tenant).open["u-piotr"] == [source]
    listed = await stub.ListUnanswered(pb.ListUnansweredRequest(tenant_id=tenant))
    assert sorted(t.thread_id for t in listed.threads) == sorted([source, target])
