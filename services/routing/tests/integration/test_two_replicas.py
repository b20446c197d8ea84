"""Two routing replicas on one database and one stream never assign a thread twice, and raise
exactly one ThreadOverdue per breached deadline."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import nats
import pytest
from responer.events.v1 import events_pb2, mail_pb2
from responer_events import decode, encode, stream_name, subject_for
from responer_routing.adapters.scheduler import Scheduler
from responer_routing.application import Arrival
from responer_routing.bootstrap import build
from responer_routing.config import Settings
from responer_routing.domain.rules import Action, Condition, MessageFacts, Rule
from responer_routing.domain.sla import SlaPolicy
from responer_routing.handlers import incoming_mail

pytestmark = pytest.mark.integration

THREADS = 100
AGENTS = 5


def settings_for(db, nats_url: str, ns: str, port: int) -> Settings:  # noqa: ANN001
    return Settings(
        namespace=ns,
        nats_url=nats_url,
        pg_host=db.host,
        pg_port=db.port,
        pg_dbname=db.dbname,
        pg_user=db.user,
        pg_password=db.password,
        ops_port=port,
        scheduler_interval_s=3600,
    )


def customer_mail(i: int) -> mail_pb2.Mail:
    mail = mail_pb2.Mail(message_id=f"q{i}@klient.pl", subject=f"Pytanie {i}", text="Dzień dobry")
    getattr(mail, "from").CopyFrom(mail_pb2.Address(email=f"klient{i % 7}@klient.pl", name="Klient"))
    return mail


async def publish(js, payload, tenant: str, ns: str) -> None:  # noqa: ANN001
    env = encode(payload, tenant_id=tenant, aggregate_id=str(uuid.uuid4()), aggregate_version=1)
    await js.publish(subject_for(type(payload), ns), env.SerializeToString())


async def until(predicate, timeout: float = 60.0) -> None:  # noqa: ANN001
    deadline = asyncio.get_running_loop().time() + timeout
    while not await asyncio.to_thread(predicate):
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.2)


async def test_two_replicas_never_assign_one_thread_twice(
    private_database, nats_url, namespace, unused_tcp_port_factory
):
    ns = f"{namespace}rr{uuid.uuid4().hex[:4]}"
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    for producer in ("threading", "gateway"):
        await js.add_stream(name=stream_name(producer, ns), subjects=[f"{ns}.{producer}.>"])
    replicas = [
        build(settings_for(private_database, nats_url, ns, unused_tcp_port_factory())) for _ in range(2)
    ]
    tasks = [asyncio.create_task(r.serve()) for r in replicas]
    app = replicas[0].app
    tenant = str(uuid.uuid4())
    agents = [str(uuid.uuid4()) for _ in range(AGENTS)]
    manager, group = str(uuid.uuid4()), str(uuid.uuid4())
    try:
        for i, user in enumerate(agents):
            await publish(js, events_pb2.UserAdded(tenant_id=tenant, user_id=user, email=f"a{i}@f.pl", name=f"A{i}"), tenant, ns)  # fmt: skip
            await publish(js, events_pb2.AgentAvailabilityChanged(tenant_id=tenant, user_id=user, available=True), tenant, ns)  # fmt: skip
        await publish(
            js,
            events_pb2.GroupChanged(
                tenant_id=tenant,
                group_id=group,
                name="Support",
                member_user_ids=agents,
                manager_user_id=manager,
            ),
            tenant,
            ns,
        )
        await until(lambda: len(app.roster(tenant).agents) == AGENTS and group in app.roster(tenant).groups)
        await until(lambda: all(a["available"] for a in app.roster(tenant).agents.values()))
        await asyncio.to_thread(app.set_group_policy, tenant, group, "round_robin", 0, 0, [])
        rule = Rule(
            "", "Everything to support", (Condition("from", "exists"),), (Action("assign_group", group),)
        )
        await asyncio.to_thread(app.save_rule, tenant, rule)
        await asyncio.to_thread(app.set_sla_policy, tenant, SlaPolicy("", "Standard", 60, 120, 15, False))

        threads = [str(uuid.uuid4()) for _ in range(THREADS)]
        for i, thread in enumerate(threads):
            threaded = events_pb2.MessageThreaded(
                message_id=f"m{i}",
                tenant_id=tenant,
                thread_id=thread,
                thread_number=1000 + i,
                mail=customer_mail(i),
            )
            # Each message twice, as two stream messages: the replicas may handle both copies at once.
            for _ in range(2):
                await publish(js, threaded, tenant, ns)

        def all_assigned() -> bool:
            return sum(len(v) for v in app.roster(tenant).open.values()) >= THREADS

        await until(all_assigned, 90)
        await asyncio.sleep(1.0)  # let any late duplicate land, if one were possible

        histories = [await asyncio.to_thread(app.filing, tenant, t) for t in threads]
        assert all(h is not None and len(h.history) == 1 for h in histories)
        assert all(h.history[0]["kind"] == "auto" for h in histories)  # type: ignore[union-attr]
        roster = app.roster(tenant)
        load = Counter({u: len(roster.open.get(u, ())) for u in agents})
        assert sum(load.values()) == THREADS
        assert set(load.values()) == {THREADS // AGENTS}  # round-robin stayed fair across replicas

        # The same new messages handled by both replicas at the very same time (as during a consumer
        # takeover): the aggregates' versions let exactly one of them assign each thread.
        racing = [str(uuid.uuid4()) for _ in range(40)]

        def route(args: tuple[int, int]) -> None:
            replica, i = args
            mail = customer_mail(1000 + i)
            arrival = Arrival(tenant, racing[i], f"race{i}", incoming_mail(mail), MessageFacts(from_email="x@klient.pl"), datetime.now(UTC))  # fmt: skip
            replicas[replica].app.sort_message(tenant, racing[i], f"race{i}", arrival.mail, None, arrival)

        with ThreadPoolExecutor(4) as pool:
            list(pool.map(route, [(r, i) for i in range(len(racing)) for r in (0, 1)]))
        for t in racing:
            f = await asyncio.to_thread(app.filing, tenant, t)
            assert f is not None and len(f.history) == 1, f.history if f else None
        threads += racing
        roster = app.roster(tenant)
        load = Counter({u: len(roster.open.get(u, ())) for u in agents})
        assert sum(load.values()) == THREADS + len(racing)
        assert set(load.values()) == {(THREADS + len(racing)) // AGENTS}

        # The deadline: both replicas' schedulers look at the same moment after the breach.
        later = datetime.now(UTC) + timedelta(hours=2)
        schedulers = [Scheduler(r.app, r.views, clock=lambda: later) for r in replicas]
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda s: s.tick(), schedulers))
            list(pool.map(lambda s: s.tick(), schedulers))
        for t in threads:
            f = await asyncio.to_thread(app.filing, tenant, t)
            assert f is not None and f.deadline is not None and f.deadline["overdue"]

        # What the relays published: one ThreadAssigned and one ThreadOverdue per thread.
        sub = await js.pull_subscribe(f"{ns}.routing.>", durable=None, stream=stream_name("routing", ns))
        assigned: Counter[str] = Counter()
        overdue: Counter[str] = Counter()
        notified: Counter[str] = Counter()
        idle = 0
        while idle < 3:
            try:
                msgs = await sub.fetch(500, timeout=1.0)
            except (nats.errors.TimeoutError, TimeoutError):
                idle += 1
                continue
            for msg in msgs:
                event = decode(msg.data).payload
                if isinstance(event, events_pb2.ThreadAssigned):
                    assigned[event.thread_id] += 1
                elif isinstance(event, events_pb2.ThreadOverdue):
                    overdue[event.thread_id] += 1
                elif isinstance(event, events_pb2.NotificationRaised):
                    notified[event.user_id] += 1
        assert set(assigned) == set(threads) and set(assigned.values()) == {1}
        assert set(overdue) == set(threads) and set(overdue.values()) == {1}
        assert notified[manager] == len(threads)  # the group's manager hears of every breach
        stored = replicas[0].views.notifications(tenant, manager, limit=1000)
        assert len(stored) == len(threads) and {n["kind"] for n in stored} == {"overdue"}
    finally:
        for r in replicas:
            r.stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 30)
        for producer in ("threading", "gateway", "routing"):
            try:
                await js.delete_stream(stream_name(producer, ns))
            except Exception:  # noqa: BLE001
                pass
        await nc.close()
