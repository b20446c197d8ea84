"""The same mail in two mailboxes of a tenant (MailSeenInMailbox): one message, its thread in both.

Through the consumer's dispatch on a real PostgreSQL (private database), as the ingest stream delivers it.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from eventsourcing.persistence import Tracking
from responer.events.v1 import envelope_pb2, events_pb2, mail_pb2
from responer_events import DecodedEvent
from responer_runtime.esenv import ensure_schema, eventsourcing_env
from responer_threading.adapters.event_mapping import map_event
from responer_threading.adapters.grpc_servicer import thread_state
from responer_threading.application import ThreadingApplication
from responer_threading.handlers import dispatch

pytestmark = pytest.mark.integration
TENANT = str(uuid.uuid5(uuid.NAMESPACE_URL, "tenant/acme"))
SUPPORT, SALES = "mb-support", "mb-sales"
T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def app(private_database):
    params = dict(
        host=private_database.host,
        port=private_database.port,
        dbname=private_database.dbname,
        user=private_database.user,
        password=private_database.password,
    )
    ensure_schema(**params, schema="threading")
    application = ThreadingApplication(env=eventsourcing_env(**params, schema="threading"))
    yield application
    application.close()


class Ingest:
    """Delivers ingest-stream events to threading's handler with increasing stream positions."""

    def __init__(self, app: ThreadingApplication) -> None:
        self.handle = dispatch(app)
        self.position = 0

    def deliver(self, payload, *, position: int | None = None) -> Tracking:
        if position is None:
            self.position += 1
            position = self.position
        tracking = Tracking(notification_id=position, application_name="ingest")
        self.handle(event(payload), tracking)
        return tracking


def event(payload) -> DecodedEvent:
    envelope = envelope_pb2.Envelope(type=type(payload).__name__, tenant_id=TENANT)
    return DecodedEvent(envelope=envelope, payload=payload)


def rid(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"message/{name}"))


def received(name: str, *, mailbox=SUPPORT, irt: str = "", subject="Order 12") -> events_pb2.MailReceived:
    mail = mail_pb2.Mail(message_id=f"<{name}@shop.test>", subject=subject, text="Where is my order?")
    getattr(mail, "from").email = "anna@example.com"
    mail.to.add(email="support@acme.test")
    mail.cc.add(email="sales@acme.test")
    mail.date.FromDatetime(T0)
    if irt:
        mail.in_reply_to.append(f"<{irt}@shop.test>")
        mail.references.append(f"<{irt}@shop.test>")
    return events_pb2.MailReceived(
        message_id=rid(name),
        tenant_id=TENANT,
        mailbox_id=mailbox,
        mailbox_address=f"{mailbox.removeprefix('mb-')}@acme.test",
        mail=mail,
    )


def seen_in(name: str, mailbox: str = SALES) -> events_pb2.MailSeenInMailbox:
    return events_pb2.MailSeenInMailbox(
        message_id=rid(name),
        tenant_id=TENANT,
        mailbox_id=mailbox,
        mailbox_address=f"{mailbox.removeprefix('mb-')}@acme.test",
        folder="INBOX",
        uidvalidity=1,
        uid=7,
        first_mailbox_id=SUPPORT,
    )


def published(app, cls):
    out = []
    for item in app.recorder.select_notifications(start=1, limit=10_000):
        for outgoing in map_event(app.mapper.to_domain_event(item)):
            if isinstance(outgoing.payload, cls):
                out.append(outgoing.payload)
    return out


def thread_of(app, name: str):
    (threaded,) = [m for m in published(app, events_pb2.MessageThreaded) if m.message_id == rid(name)]
    return app.get_thread(uuid.UUID(threaded.thread_id))


def test_mail_seen_in_a_second_mailbox_adds_that_mailbox_to_its_thread_once(app):
    ingest = Ingest(app)
    ingest.deliver(received("a"))
    tracking = ingest.deliver(seen_in("a"))
    thread = thread_of(app, "a")
    assert thread.mailbox_ids == [SUPPORT, SALES]
    assert thread.members[rid("a")]["mailboxes"] == [SUPPORT, SALES]
    assert list(thread_state(thread).mailbox_ids) == [SUPPORT, SALES]  # threading's own record (gRPC)
    (added,) = published(app, events_pb2.ThreadMailboxAdded)
    assert (added.tenant_id, added.thread_id, added.thread_number, added.message_id) == (
        TENANT,
        str(thread.id),
        thread.number,
        rid("a"),
    )
    assert (added.mailbox_id, added.mailbox_address, list(added.mailbox_ids)) == (
        SALES,
        "sales@acme.test",
        [SUPPORT, SALES],
    )
    # A redelivery, and the same mail seen in that mailbox again (another folder), change nothing.
    before = app.recorder.max_notification_id()
    ingest.handle(event(seen_in("a")), tracking)
    ingest.deliver(seen_in("a"))
    assert len(published(app, events_pb2.ThreadMailboxAdded)) == 1
    assert app.get_thread(thread.id).mailbox_ids == [SUPPORT, SALES]
    assert app.already_processed(Tracking(notification_id=ingest.position, application_name="ingest"))
    assert app.recorder.max_notification_id() == before


def test_a_reply_stays_in_the_one_conversation_that_is_now_in_both_mailboxes(app):
    ingest = Ingest(app)
    ingest.deliver(received("a"))
    ingest.deliver(seen_in("a"))
    ingest.deliver(received("b", irt="a", subject="Re: Order 12"))
    first, reply = thread_of(app, "a"), thread_of(app, "b")
    assert reply.id == first.id and reply.mailbox_ids == [SUPPORT, SALES]


def test_the_mailbox_follows_the_message_through_a_merge_and_a_split(app):
    ingest = Ingest(app)
    ingest.deliver(received("a"))
    ingest.deliver(received("b", irt="a", subject="Re: Order 12"))
    ingest.deliver(received("x", subject="Invoice", mailbox=SUPPORT))
    a, x = thread_of(app, "a"), thread_of(app, "x")
    assert a.id != x.id
    # b is split off into its own thread, then seen in sales: the mailbox lands where b is now.
    _, new_id = app.split_thread(TENANT, a.id, rid("b"), with_following=False, by_user_id="u1")
    ingest.deliver(seen_in("b"))
    assert app.get_thread(new_id).mailbox_ids == [SUPPORT, SALES]
    assert app.get_thread(a.id).mailbox_ids == [SUPPORT]
    # x's thread is merged into a's, then x is seen in sales: the surviving thread is in both.
    app.merge_threads(TENANT, x.id, a.id, by_user_id="u1")
    ingest.deliver(seen_in("x"))
    assert app.get_thread(a.id).mailbox_ids == [SUPPORT, SALES]
    added = published(app, events_pb2.ThreadMailboxAdded)
    assert [(e.thread_id, e.message_id) for e in added] == [(str(new_id), rid("b")), (str(a.id), rid("x"))]


def test_seen_in_a_mailbox_before_it_was_threaded_is_applied_when_it_is(app):
    ingest = Ingest(app)
    ingest.deliver(seen_in("a"))  # the ingest stream never does this; threading must not lose it
    assert published(app, events_pb2.ThreadMailboxAdded) == []
    ingest.deliver(received("a"))
    thread = thread_of(app, "a")
    assert thread.mailbox_ids == [SUPPORT, SALES]
    (added,) = published(app, events_pb2.ThreadMailboxAdded)
    assert (added.thread_id, added.message_id, added.mailbox_id) == (str(thread.id), rid("a"), SALES)


def test_an_unknown_message_id_is_consumed_without_effect(app):
    ingest = Ingest(app)
    bad = seen_in("a")
    bad.message_id = "not-a-uuid"
    tracking = ingest.deliver(bad)
    assert app.already_processed(tracking)
    assert published(app, events_pb2.ThreadMailboxAdded) == []
