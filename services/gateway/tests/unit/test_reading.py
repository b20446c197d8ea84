"""A user's reading of a thread: one aggregate per (tenant, user, thread), published as ThreadRead /
ThreadMarkedUnread with the user and the time, in the order the user did things."""

from __future__ import annotations

import uuid

import pytest
from responer.events.v1 import events_pb2
from responer_gateway.adapters.event_mapping import to_integration_events
from responer_gateway.application import GatewayApplication
from responer_gateway.domain import ThreadReading

pytestmark = pytest.mark.unit


@pytest.fixture
def app() -> GatewayApplication:
    return GatewayApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})


def published(app: GatewayApplication) -> list[object]:
    events = [app.mapper.to_domain_event(n) for n in app.recorder.select_notifications(start=1, limit=1000)]
    return [o.payload for e in events for o in to_integration_events(e)]


def test_opening_and_marking_unread_publish_the_users_read_state_in_order(app):
    tenant, anna, bob = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    app.record_thread_read(tenant, anna, "t-1")
    app.mark_thread_unread(tenant, anna, "t-1")
    app.record_thread_read(tenant, anna, "t-1")
    app.record_thread_read(tenant, bob, "t-1")
    events = published(app)
    assert [type(e).__name__ for e in events] == [
        "ThreadRead",
        "ThreadMarkedUnread",
        "ThreadRead",
        "ThreadRead",
    ]
    assert [(e.tenant_id, e.thread_id, e.user_id) for e in events] == [
        (str(tenant), "t-1", str(anna)),
        (str(tenant), "t-1", str(anna)),
        (str(tenant), "t-1", str(anna)),
        (str(tenant), "t-1", str(bob)),
    ]
    times = [e.at.ToDatetime() for e in events]
    assert times == sorted(times) and all(
        isinstance(e, events_pb2.ThreadRead | events_pb2.ThreadMarkedUnread) for e in events
    )


def test_one_aggregate_per_user_and_thread(app):
    tenant, anna = uuid.uuid4(), uuid.uuid4()
    first = app.record_thread_read(tenant, anna, "t-1")
    again = app.mark_thread_unread(tenant, anna, "t-1")
    other = app.record_thread_read(tenant, anna, "t-2")
    assert first.id == again.id == ThreadReading.create_id(tenant, anna, "t-1") != other.id
    stored = app.repository.get(first.id)
    assert stored.marked_unread is True and stored.read_at is not None
