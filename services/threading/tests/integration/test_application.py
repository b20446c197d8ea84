"""ThreadingApplication on a real PostgreSQL (127.0.0.1:5432, user postgres), one schema per run."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from eventsourcing.persistence import Tracking
from psycopg import sql
from responer_runtime.esenv import ensure_schema, eventsourcing_env
from responer_threading.application import ThreadingApplication
from responer_threading.domain import InMemoryThreadStore, MailFacts, thread_message
from responer_threading.domain.aggregates import Thread

pytestmark = pytest.mark.integration

PG = {
    "host": os.environ.get("RESPONER_TEST_PGHOST", "127.0.0.1"),
    "port": int(os.environ.get("RESPONER_TEST_PGPORT", "5432")),
    "dbname": os.environ.get("RESPONER_TEST_PGDATABASE", "postgres"),
    "user": os.environ.get("RESPONER_TEST_PGUSER", "postgres"),
    "password": os.environ.get("RESPONER_TEST_PGPASSWORD", ""),
}
T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def app_env():
    schema = f"test_threading_{uuid.uuid4().hex[:12]}"
    try:
        ensure_schema(**PG, schema=schema)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL not reachable at {PG['host']}:{PG['port']}: {exc}")
    env = eventsourcing_env(**PG, schema=schema)
    try:
        yield env
    finally:
        with psycopg.connect(**PG, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


@pytest.fixture
def app(app_env):
    application = ThreadingApplication(env=app_env)
    yield application
    application.close()


def facts(message_id: str, *, refs=(), irt=(), subject="Order 12", sender="anna@example.com", at=T0, **kw):
    return MailFacts(
        tenant_id="acme",
        mailbox_id="support",
        responer_message_id=uuid.uuid5(uuid.NAMESPACE_URL, message_id),
        message_id=message_id,
        in_reply_to=tuple(irt),
        references=tuple(refs),
        subject=subject,
        from_email=sender,
        to=("support@acme.example",),
        date=at,
        **kw,
    )


def test_reply_joins_and_payload_is_stored_on_message_attached(app):
    first = app.thread_message(facts("a@x"), b"\x00first")
    reply = app.thread_message(facts("b@x", irt=["a@x"], subject="Re: Order 12"), b"second")
    assert first.new_thread and first.thread_number == 1000
    assert (reply.thread_id, reply.signal, reply.new_thread) == (first.thread_id, "in_reply_to", False)
    thread = app.get_thread(first.thread_id)
    assert thread.message_ids == ["a@x", "b@x"]
    events = list(app.events.get(first.thread_id))
    attached = [e for e in events if isinstance(e, Thread.MessageAttached)]
    assert [e.payload for e in attached] == [b"\x00first", b"second"]
    assert attached[0].thread_number == 1000 and attached[0].tenant_id == "acme"


def test_same_message_twice_returns_first_result_without_new_events(app):
    first = app.thread_message(facts("a@x"), b"p")
    before = app.recorder.max_notification_id()
    again = app.thread_message(facts("a@x"), b"p")
    assert again == first
    assert app.recorder.max_notification_id() == before


def test_tracking_makes_a_redelivered_event_a_no_op(app):
    tracking = Tracking(notification_id=7, application_name="ingest")
    first = app.thread_message(facts("a@x"), b"p", tracking=tracking)
    before = app.recorder.max_notification_id()
    assert app.thread_message(facts("a@x"), b"p", tracking=tracking) == first
    assert app.recorder.max_notification_id() == before
    assert app.already_processed(tracking)


def test_out_of_order_child_then_parent_and_merge(app):
    child = app.thread_message(facts("c@x", refs=["p@x"], irt=["p@x"], subject="Re: A"), b"")
    other = app.thread_message(facts("o@x", subject="B", sender="bob@example.com"), b"")
    assert child.thread_number == 1000 and other.thread_number == 1001
    parent = app.thread_message(facts("p@x", subject="A"), b"")
    assert (parent.thread_id, parent.signal) == (child.thread_id, "ghost")
    # A message referencing both threads proves they are one conversation: the newer one merges.
    bridge = app.thread_message(facts("m@x", refs=["o@x", "p@x"], subject="Re: A"), b"")
    assert bridge.thread_id == child.thread_id
    assert bridge.merged_thread_ids == (other.thread_id,)
    source = app.get_thread(other.thread_id)
    assert source.merged_into == child.thread_id
    merged = [e for e in app.events.get(other.thread_id) if isinstance(e, Thread.Merged)]
    assert merged[0].into_thread_id == child.thread_id and merged[0].into_number == 1000
    # Later mail to the source thread follows the merge.
    late = app.thread_message(facts("l@x", irt=["o@x"], subject="Re: B", sender="bob@example.com"), b"")
    assert late.thread_id == child.thread_id


def test_thread_tag_needs_a_participant_and_subject_fallback_is_guarded(app):
    first = app.thread_message(facts("a@x"), b"")
    tagged = app.thread_message(facts("t@x", subject="[#1000] more info"), b"")
    assert (tagged.thread_id, tagged.signal) == (first.thread_id, "thread_tag")
    stranger = app.thread_message(facts("s@x", subject="[#1000] hello", sender="eve@evil.example"), b"")
    assert stranger.new_thread
    later = app.thread_message(facts("r@x", subject="RE: Order 12", at=T0 + timedelta(days=3)), b"")
    assert (later.thread_id, later.signal) == (first.thread_id, "subject")
    too_late = app.thread_message(facts("z@x", subject="RE: Order 12", at=T0 + timedelta(days=40)), b"")
    assert too_late.new_thread


def test_numbers_continue_in_a_new_application_instance(app, app_env):
    app.thread_message(facts("a@x"), b"")
    second = ThreadingApplication(env=app_env)
    try:
        assert (
            second.thread_message(facts("b@x", subject="Other", sender="x@example.com"), b"").thread_number
            == 1001
        )
    finally:
        second.close()


def _mail(message_id, at_hours, *, subject, sender="anna@example.com", irt=(), outbound=False, **kw):
    return MailFacts(
        tenant_id="acme",
        mailbox_id="support",
        responer_message_id=uuid.uuid5(uuid.NAMESPACE_URL, message_id),
        message_id=message_id,
        in_reply_to=tuple(irt),
        references=tuple(irt),
        subject=subject,
        from_email="support@acme.example" if outbound else sender,
        to=(sender,) if outbound else ("support@acme.example",),
        date=T0 + timedelta(hours=at_hours),
        direction="outbound" if outbound else "inbound",
        mailbox_address="support@acme.example",
        **kw,
    )


# Every rule that reads the store's lookups (resend: unanswered thread and its last customer mail;
# quiet_thread: last mail either way, kept across merges and splits; learnt system senders).
SCRIPT = [
    _mail("a1", 0, subject="Parcel"),
    _mail("a2", 30, subject="parcel"),  # resend
    _mail("s1", 1, subject="API down", sender="alerts@status.example", automatic=True),
    _mail("s2", 2, subject="API down", sender="alerts@status.example"),  # learnt system: apart
    _mail("o1", 40, subject="Re: Parcel", irt=["a2"], outbound=True),
    _mail("a3", 41, subject="Parcel"),  # answered now: no resend
    _mail("b1", 50, subject="Refund", sender="bob@example.com"),
    _mail(
        "b2", 51, subject="Re: Refund", sender="bob@example.com", irt=["b1", "a1"]
    ),  # merges a1's thread in
    _mail("o2", 52, subject="Re: Refund", irt=["b2"], outbound=True, sender="bob@example.com"),
    _mail("b3", 60, subject="Re: Refund", sender="bob@example.com", irt=["o2"]),
    _mail(
        "o3", 61, subject="Re: Broken invoice", irt=["b3"], outbound=True, sender="bob@example.com"
    ),  # split
    _mail("b4", 61 + 15 * 24, subject="Re: Broken invoice", sender="bob@example.com", irt=["o3"]),  # quiet
    _mail("b5", 62 + 15 * 24, subject="Re: Refund", sender="bob@example.com", irt=["o2"]),  # quiet too
    _mail("b6", 63 + 15 * 24, subject="Refund", sender="bob@example.com"),  # answered long ago: new
    # topic_shift: the thread's vocabulary (kept on the aggregate) against the reply's own text.
    _mail(
        "k1",
        70,
        subject="Order 482913",
        sender="kim@example.com",
        text=(
            "Hello,\n\nmy order 482913 with the blue kettle has not arrived, could you check the delivery?\n\n"
            "Kind regards\nKim"
        ),
    ),
    _mail(
        "ko1",
        71,
        subject="Re: Order 482913",
        irt=["k1"],
        outbound=True,
        sender="kim@example.com",
        text="Hello Kim,\n\nyour order 482913 was shipped yesterday, the kettle arrives tomorrow.",
    ),
    _mail(
        "k2",
        72,
        subject="Re: Order 482913",
        sender="kim@example.com",
        irt=["ko1"],
        text=(
            "Hello,\n\nI would also like to return the ceramic teapot from order 771204, it cracked in transport."
            "\n\nKind regards\nKim\n\nOn Monday Support wrote:\n> your order 482913 was shipped"
        ),
    ),
    _mail(
        "ko2",
        73,
        subject="Re: Order 482913",
        irt=["k2"],
        outbound=True,
        sender="kim@example.com",
        text="Hello Kim,\n\nplease send the teapot back with the return form.",
    ),
    _mail(
        "k3",
        74,
        subject="Re: Order 482913",
        sender="kim@example.com",
        irt=["ko2"],
        text="Thanks, the teapot from order 771204 is on its way back to you.",
    ),
]


def test_postgres_store_decides_like_the_in_memory_store(app):
    memory = InMemoryThreadStore()
    expected = [thread_message(m, memory) for m in SCRIPT]
    got = [app.thread_message(m, b"") for m in SCRIPT]
    assert [(r.signal, r.thread_number, r.new_thread, r.merged_thread_ids) for r in got] == [
        (r.signal, r.thread_number, r.new_thread, r.merged_thread_ids) for r in expected
    ]
    assert [r.merge_suggested_into for r in got] == [r.merge_suggested_into for r in expected]
    signals = [r.signal for r in got]
    assert {"resend", "quiet_thread", "renamed_by_reply"} <= set(signals)
    assert signals[1] == "resend" and signals[3] == "new_thread" and signals[5] == "new_thread"
    assert signals[11] == signals[12] == "quiet_thread"
    assert signals[16:] == ["topic_shift", "references", "own_message_id"]
    assert got[16].merge_suggested_into == got[14].thread_id and got[18].thread_id == got[16].thread_id
