"""Contract tests of the search backend port, run against every implementation (PostgreSQL for now).

Events enter through the same handlers the consumers use, with explicit stream positions, so the
suite covers event translation, idempotency and ordering as well as queries.
"""

from __future__ import annotations

import itertools
import secrets
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from eventsourcing.persistence import Tracking
from google.protobuf.message import Message
from psycopg import sql
from psycopg_pool import ConnectionPool
from responer.events.v1 import events_pb2, mail_pb2
from responer_events import decode, encode
from responer_search.adapters.pg_backend import PostgresSearchBackend
from responer_search.domain.cursor import InvalidCursor
from responer_search.domain.ports import SearchBackend
from responer_search.domain.query import InvalidQuery, parse
from responer_search.handlers import dispatcher

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


# -- factories ---------------------------------------------------------------------------------------


def a_mail(
    *,
    subject: str = "Order question",
    text: str = "Hello, where is my parcel?",
    from_email: str = "anna.nowak@customer.test",
    from_name: str = "Anna Nowak",
    to: tuple[str, ...] = ("support@acme.test",),
    date: datetime = T0,
    inbound: bool = True,
    attachments: tuple[str, ...] = (),
) -> mail_pb2.Mail:
    mail = mail_pb2.Mail(
        message_id=f"{uuid.uuid4()}@customer.test",
        subject=subject,
        text=text,
        to=[mail_pb2.Address(email=e) for e in to],
        direction=mail_pb2.DIRECTION_INBOUND if inbound else mail_pb2.DIRECTION_OUTBOUND,
        attachments=[mail_pb2.Attachment(filename=a) for a in attachments],
    )
    getattr(mail, "from").CopyFrom(mail_pb2.Address(email=from_email, name=from_name))
    mail.date.FromDatetime(date)
    return mail


class Feed:
    """Delivers events to the backend as the consumers would: by stream, with increasing positions."""

    def __init__(self, backend: SearchBackend) -> None:
        run = secrets.token_hex(4).upper()
        self.dispatch = dispatcher(backend)
        self.streams = {"threading": f"T{run}_THREADING", "routing": f"T{run}_ROUTING"}
        self.positions = {"threading": itertools.count(1), "routing": itertools.count(1)}
        self.tenant = str(uuid.uuid4())
        self.numbers = itertools.count(1000)

    def deliver(self, producer: str, payload: Message, position: int | None = None, tenant: str = "") -> int:
        tenant = tenant or self.tenant
        envelope = encode(payload, tenant_id=tenant, aggregate_id=str(uuid.uuid4()), aggregate_version=1)
        position = position if position is not None else next(self.positions[producer])
        self.dispatch(decode(envelope.SerializeToString()), Tracking(self.streams[producer], position))
        return position

    def message(
        self, thread_id: str | None = None, number: int | None = None, tenant: str = "", **mail_fields
    ) -> events_pb2.MessageThreaded:
        mail = a_mail(**mail_fields)
        event = events_pb2.MessageThreaded(
            message_id=str(uuid.uuid4()),
            tenant_id=tenant or self.tenant,
            thread_id=thread_id or str(uuid.uuid4()),
            thread_number=number or next(self.numbers),
            mailbox_id="mbx-1",
            mailbox_address="support@acme.test",
            signal="new",
            new_thread=thread_id is None,
            mail=mail,
            thread_subject=mail.subject,
        )
        self.deliver("threading", event, tenant=tenant)
        return event

    def sort(self, thread_id: str, folder: str, system: bool = False, kind: str = "") -> None:
        self.deliver(
            "routing",
            events_pb2.ThreadSorted(
                tenant_id=self.tenant,
                thread_id=thread_id,
                folder=folder,
                system=system,
                system_reason=f"{kind} detected" if system else "",
                system_kind=kind,
            ),
        )


# -- the contract ------------------------------------------------------------------------------------


class SearchBackendContract:
    """Subclass once per backend and provide the `backend` fixture (a ready, schema-created backend)."""

    @pytest.fixture
    def backend(self) -> SearchBackend:
        raise NotImplementedError

    @pytest.fixture
    def feed(self, backend: SearchBackend) -> Feed:
        return Feed(backend)

    @staticmethod
    def found(backend: SearchBackend, feed: Feed, query: str) -> list[int]:
        return [t.number for t in backend.search(feed.tenant, parse(query), 50).threads]

    # -- indexing and lists -----------------------------------------------------------------------
    def test_a_new_thread_is_listed_in_the_inbox_before_routing_sorts_it(self, backend, feed):
        msg = feed.message(subject="Broken kettle", date=T0)
        page = backend.list_threads(feed.tenant, "Inbox", 10)
        assert [t.thread_id for t in page.threads] == [msg.thread_id]
        summary = page.threads[0]
        assert (summary.number, summary.subject, summary.folder, summary.status) == (
            msg.thread_number,
            "Broken kettle",
            "Inbox",
            "open",
        )
        assert (summary.customer_email, summary.customer_name) == ("anna.nowak@customer.test", "Anna Nowak")
        assert summary.message_count == 1 and summary.last_message_at == T0
        assert page.total == 1 and page.next_cursor == ""

    def test_a_thread_sorted_as_system_leaves_the_inbox(self, backend, feed):
        bounce = feed.message(
            subject="Undelivered Mail Returned to Sender", from_email="mailer-daemon@mx.test"
        )
        customer = feed.message(subject="Refund please")
        feed.sort(bounce.thread_id, "System", system=True, kind="bounce")
        feed.sort(customer.thread_id, "Inbox")
        assert [t.thread_id for t in backend.list_threads(feed.tenant, "Inbox", 10).threads] == [
            customer.thread_id
        ]
        system = backend.list_threads(feed.tenant, "System", 10).threads
        assert [(t.thread_id, t.folder, t.system_reason) for t in system] == [
            (bounce.thread_id, "System", "bounce detected")
        ]

    def test_thread_sorted_before_message_threaded_keeps_its_folder(self, backend, feed):
        thread_id = str(uuid.uuid4())
        feed.sort(thread_id, "Billing")
        assert backend.list_threads(feed.tenant, "Billing", 10).threads == []  # nothing to show yet
        msg = feed.message(thread_id=thread_id, subject="Invoice 7/2026")
        [summary] = backend.list_threads(feed.tenant, "Billing", 10).threads
        assert (summary.thread_id, summary.number, summary.subject) == (
            thread_id,
            msg.thread_number,
            "Invoice 7/2026",
        )
        assert backend.list_threads(feed.tenant, "Inbox", 10).threads == []

    def test_customer_is_the_first_inbound_sender_and_counts_follow_the_messages(self, backend, feed):
        first = feed.message(
            subject="Welcome", from_email="agent@acme.test", inbound=False, date=T0 - timedelta(hours=1)
        )
        feed.message(
            first.thread_id, first.thread_number, from_email="jan@customer.test", from_name="Jan", date=T0
        )
        feed.message(
            first.thread_id, first.thread_number, from_email="eva@customer.test", date=T0 + timedelta(hours=1)
        )
        [summary] = backend.list_threads(feed.tenant, "Inbox", 10).threads
        assert (summary.customer_email, summary.customer_name) == ("jan@customer.test", "Jan")
        assert summary.message_count == 3
        assert summary.last_message_at == T0 + timedelta(hours=1)

    def test_a_redelivered_position_has_no_second_effect(self, backend, feed):
        msg = feed.message(subject="Once only")
        again = events_pb2.MessageThreaded()
        again.CopyFrom(msg)
        again.message_id = str(uuid.uuid4())  # even a different event at that position is ignored
        feed.deliver("threading", again, position=1)
        [summary] = backend.list_threads(feed.tenant, "Inbox", 10).threads
        assert summary.message_count == 1
        feed.deliver(
            "routing", events_pb2.ThreadSorted(tenant_id=feed.tenant, thread_id=msg.thread_id, folder="X"), 5
        )
        feed.deliver(
            "routing", events_pb2.ThreadSorted(tenant_id=feed.tenant, thread_id=msg.thread_id, folder="Y"), 5
        )
        assert [t.folder for t in backend.list_threads(feed.tenant, "X", 10).threads] == ["X"]

    def test_events_the_read_model_does_not_use_still_advance_the_position(self, backend, feed):
        note = events_pb2.NoteAdded(tenant_id=feed.tenant, thread_id=str(uuid.uuid4()), body="internal")
        position = feed.deliver("threading", note)
        late = events_pb2.MessageThreaded()
        late.CopyFrom(feed.message(subject="After the note"))
        late.message_id = str(uuid.uuid4())
        feed.deliver("threading", late, position=position)  # at or below the claimed position: ignored
        assert backend.list_threads(feed.tenant, "Inbox", 10).threads[0].message_count == 1

    def test_get_thread_returns_messages_oldest_first_with_the_parsed_mail(self, backend, feed):
        later = feed.message(subject="Re: Kettle", text="second", date=T0 + timedelta(minutes=5))
        feed.message(later.thread_id, later.thread_number, subject="Kettle", text="first", date=T0)
        detail = backend.get_thread(feed.tenant, thread_id=later.thread_id)
        assert detail is not None
        texts = []
        for m in detail.messages:
            mail = mail_pb2.Mail()
            mail.ParseFromString(m.mail)
            texts.append(mail.text)
        assert texts == ["first", "second"]
        by_number = backend.get_thread(feed.tenant, number=later.thread_number)
        assert by_number is not None and by_number.thread.thread_id == later.thread_id

    def test_messages_with_the_same_date_keep_their_arrival_order(self, backend, feed):
        first = feed.message(text="first", date=T0)
        for text in ("second", "third", "fourth"):
            feed.message(first.thread_id, first.thread_number, text=text, date=T0)
        detail = backend.get_thread(feed.tenant, thread_id=first.thread_id)
        texts = []
        for m in detail.messages:
            mail = mail_pb2.Mail()
            mail.ParseFromString(m.mail)
            texts.append(mail.text)
        assert texts == ["first", "second", "third", "fourth"]

    # -- merge, status, assignment, counts -------------------------------------------------------------
    def test_a_merged_thread_disappears_and_its_messages_join_the_target(self, backend, feed):
        target = feed.message(subject="Printer jam", date=T0)
        source = feed.message(subject="Printer still jammed", date=T0 + timedelta(minutes=1))
        feed.deliver(
            "threading",
            events_pb2.ThreadMerged(
                tenant_id=feed.tenant,
                source_thread_id=source.thread_id,
                target_thread_id=target.thread_id,
                source_number=source.thread_number,
                target_number=target.thread_number,
            ),
        )
        [summary] = backend.list_threads(feed.tenant, "Inbox", 10).threads
        assert summary.thread_id == target.thread_id and summary.message_count == 2
        assert summary.last_message_at == T0 + timedelta(minutes=1)
        assert self.found(backend, feed, "jammed") == [target.thread_number]
        followed = backend.get_thread(feed.tenant, number=source.thread_number)
        assert followed is not None and followed.thread.thread_id == target.thread_id
        assert [c.threads for c in backend.folder_counts(feed.tenant) if c.folder == "Inbox"] == [1]

    def test_a_late_message_for_a_merged_thread_follows_the_merge(self, backend, feed):
        target = feed.message(subject="Lamp")
        source_id = str(uuid.uuid4())
        feed.deliver(
            "threading",
            events_pb2.ThreadMerged(
                tenant_id=feed.tenant,
                source_thread_id=source_id,
                target_thread_id=target.thread_id,
                target_number=target.thread_number,
            ),
        )
        feed.message(source_id, 9999, subject="Lamp again", text="straggler")
        [summary] = backend.list_threads(feed.tenant, "Inbox", 10).threads
        assert (summary.thread_id, summary.number, summary.message_count) == (
            target.thread_id,
            target.thread_number,
            2,
        )
        assert self.found(backend, feed, "straggler") == [target.thread_number]

    def test_status_and_assignment_show_in_the_summary(self, backend, feed):
        msg = feed.message()
        feed.deliver(
            "threading",
            events_pb2.ThreadStatusChanged(tenant_id=feed.tenant, thread_id=msg.thread_id, status="pending"),
        )
        feed.deliver(
            "routing",
            events_pb2.ThreadAssigned(tenant_id=feed.tenant, thread_id=msg.thread_id, user_id="u-7"),
        )
        [summary] = backend.list_threads(feed.tenant, "Inbox", 10).threads
        assert (summary.status, summary.assignee_user_id) == ("pending", "u-7")
        feed.deliver(
            "routing", events_pb2.ThreadAssigned(tenant_id=feed.tenant, thread_id=msg.thread_id, user_id="")
        )
        assert backend.list_threads(feed.tenant, "Inbox", 10).threads[0].assignee_user_id == ""

    def test_folder_counts_put_unsorted_threads_in_the_inbox(self, backend, feed):
        feed.message()  # not sorted yet
        sorted_in = feed.message()
        feed.sort(sorted_in.thread_id, "Inbox")
        feed.sort(feed.message().thread_id, "System", system=True, kind="auto_reply")
        feed.sort(feed.message().thread_id, "Billing")
        counts = [(c.folder, c.threads) for c in backend.folder_counts(feed.tenant)]
        assert counts == [("Inbox", 2), ("System", 1), ("Billing", 1)]

    def test_cursor_pagination_walks_every_thread_exactly_once(self, backend, feed):
        expected = []
        for i in range(7):
            # Pairs share a timestamp, so the thread id must break ties.
            expected.append(feed.message(date=T0 + timedelta(minutes=i // 2)).thread_id)
        seen, cursor = [], ""
        for _ in range(10):
            page = backend.list_threads(feed.tenant, "Inbox", 3, cursor)
            assert page.total == 7
            seen += [t.thread_id for t in page.threads]
            cursor = page.next_cursor
            if not cursor:
                break
        assert sorted(seen) == sorted(expected) and len(seen) == 7
        times = [t.last_message_at for t in backend.list_threads(feed.tenant, "Inbox", 10).threads]
        assert times == sorted(times, reverse=True)

    def test_a_foreign_cursor_is_rejected(self, backend, feed):
        for cursor in ("garbage", "MTox", "' OR 1=1 --"):
            with pytest.raises(InvalidCursor):
                backend.list_threads(feed.tenant, "Inbox", 3, cursor)

    # -- search ----------------------------------------------------------------------------------------
    def test_diacritics_fold_both_ways(self, backend, feed):
        polish = feed.message(subject="Zamówienie", text="Mój żółw zjadł ŁÓDKĘ")
        plain = feed.message(subject="Order", text="the zolw of mine")
        assert sorted(self.found(backend, feed, "zolw")) == sorted(
            [polish.thread_number, plain.thread_number]
        )
        assert sorted(self.found(backend, feed, "żółw")) == sorted(
            [polish.thread_number, plain.thread_number]
        )
        assert self.found(backend, feed, "lodke") == [polish.thread_number]
        assert self.found(backend, feed, "zamowienie") == [polish.thread_number]

    def test_words_mixing_letters_and_digits_fold_too(self, backend, feed):
        msg = feed.message(text="kod rabatowy ŻÓŁW2024 i numer-ŁÓDŹ7")
        assert self.found(backend, feed, "zolw2024") == [msg.thread_number]
        assert self.found(backend, feed, "numer-lodz7") == [msg.thread_number]

    def test_all_free_words_must_match(self, backend, feed):
        both = feed.message(text="red kettle broken")
        feed.message(text="red toaster")
        assert self.found(backend, feed, "kettle red") == [both.thread_number]

    def test_a_quoted_phrase_matches_adjacent_words_only(self, backend, feed):
        adjacent = feed.message(text="the parcel never arrived at all")
        feed.message(text="arrived, but never the parcel")
        assert self.found(backend, feed, '"parcel never arrived"') == [adjacent.thread_number]

    def test_the_last_word_matches_as_a_prefix(self, backend, feed):
        msg = feed.message(text="please send the invoice")
        assert self.found(backend, feed, "invo") == [msg.thread_number]
        assert self.found(backend, feed, "invo please") == []  # only the last word is a prefix
        assert self.found(backend, feed, "please invo") == [msg.thread_number]

    def test_from_and_subject_fields(self, backend, feed):
        anna = feed.message(
            subject="Kettle", text="about the toaster", from_email="anna@one.test", from_name="Anna Żak"
        )
        bob = feed.message(
            subject="Toaster", text="about the kettle", from_email="bob@two.test", from_name="Bob"
        )
        assert self.found(backend, feed, "from:anna@one.test") == [anna.thread_number]
        assert self.found(backend, feed, "from:zak") == [anna.thread_number]
        assert self.found(backend, feed, "from:two.test") == [bob.thread_number]
        assert self.found(backend, feed, "subject:kettle") == [anna.thread_number]
        assert sorted(self.found(backend, feed, "kettle")) == sorted([anna.thread_number, bob.thread_number])
        assert self.found(backend, feed, 'subject:"toaster"') == [bob.thread_number]
        assert self.found(backend, feed, "from:bob subject:kettle") == []
        assert sorted(self.found(backend, feed, "to:support@acme")) == sorted(
            [anna.thread_number, bob.thread_number]
        )
        assert self.found(backend, feed, "to:nobody@acme") == []

    def test_a_thread_number_finds_that_thread(self, backend, feed):
        feed.message(number=424242)
        feed.message(text="mentions 424242 in the body")
        for query in ("#424242", "thread:#424242", "thread:424242"):
            assert self.found(backend, feed, query) == [424242], query

    def test_snippets_highlight_matches_and_escape_mail_html(self, backend, feed):
        feed.message(text='Hi <script>alert("x")</script> & my żółw <b>ate</b> "it" & more')
        [hit] = backend.search(feed.tenant, parse("zolw"), 10).threads
        assert "<mark>żółw</mark>" in hit.snippet
        assert "<script" not in hit.snippet and "<b>" not in hit.snippet
        assert "&amp;" in hit.snippet
        without_marks = hit.snippet.replace("<mark>", "").replace("</mark>", "")
        assert "<" not in without_marks and ">" not in without_marks

    def test_sentinels_in_mail_cannot_forge_highlights(self, backend, feed):
        feed.message(text="evil \ue000<img src=x onerror=alert(1)>\ue001 kettle")
        [hit] = backend.search(feed.tenant, parse("kettle"), 10).threads
        assert hit.snippet.count("<mark>") == 1 and "<img" not in hit.snippet

    def test_search_results_page_with_a_cursor(self, backend, feed):
        for i in range(5):
            feed.message(text=f"common word {i}", date=T0 + timedelta(minutes=i))
        first = backend.search(feed.tenant, parse("common"), 2)
        assert first.total == 5 and len(first.threads) == 2 and first.next_cursor
        seen = [t.thread_id for t in first.threads]
        cursor = first.next_cursor
        while cursor:
            page = backend.search(feed.tenant, parse("common"), 2, cursor)
            seen += [t.thread_id for t in page.threads]
            cursor = page.next_cursor
        assert len(seen) == len(set(seen)) == 5

    # -- tenant isolation and hostile input ---------------------------------------------------------------
    def test_another_tenants_threads_are_invisible(self, backend, feed):
        other = str(uuid.uuid4())
        theirs = feed.message(tenant=other, subject="Secret merger", text="confidential", number=777)
        feed.message(subject="Ours")
        assert backend.get_thread(feed.tenant, thread_id=theirs.thread_id) is None
        assert backend.get_thread(feed.tenant, number=777) is None
        assert self.found(backend, feed, "confidential") == []
        assert self.found(backend, feed, "#777") == []
        for hostile in ("' OR 1=1 --", "%", "_", "\\", "'; DROP TABLE search.messages; --", "*:*"):
            assert backend.get_thread(hostile, thread_id=theirs.thread_id) is None
            assert backend.list_threads(hostile, "Inbox", 10).threads == []
            try:
                query = parse(hostile)
            except InvalidQuery:
                continue
            assert backend.search(hostile, query, 10).threads == []
            assert all(t.number != 777 for t in backend.search(feed.tenant, query, 10).threads)
        assert backend.get_thread(other, thread_id=theirs.thread_id) is not None  # still intact

    def test_hostile_queries_never_reach_sql_as_syntax(self, backend, feed):
        feed.message(text="ordinary text with o'brien and 100% sure_thing")
        assert len(self.found(backend, feed, "o'brien")) == 1
        assert len(self.found(backend, feed, "100%")) == 1
        queries = [
            "' OR 1=1 --",
            '" OR ""="',
            "\\",
            "\\'",
            "'':*",
            "a & b | !c",
            "(((",
            ")",
            "<->",
            "!",
            ":*",
            "foo:*",
            "from:%",
            "from:_",
            "from:\\",
            "subject:'",
            "#",
            "#abc",
            "##1",
            "thread:#",
            "a\x00b",
            "x" * 900,
            "żółw'\"\\",
            'from:"\'"',
            'subject:"a ) ( b"',
            "-",
            "&",
            "||",
            "re: 10:30 http://x",
            "#99999999999999999999",
            "😀 emoji",
            "a:b:c",
            "\u200b",
            "'",
            "''",
            "'a'",
            "\ue000\ue001",
        ]
        for q in queries:
            try:
                query = parse(q)
            except InvalidQuery:
                continue
            backend.search(feed.tenant, query, 10)  # must not raise


# -- PostgreSQL --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fresh_search_database(pg_database) -> Iterator[str]:
    """A database of its own: the schema is created from nothing, by two replicas at once."""
    name = f"{pg_database.dbname}_search_{secrets.token_hex(3)}"
    admin = psycopg.conninfo.make_conninfo(
        host=pg_database.host,
        port=pg_database.port,
        user=pg_database.user,
        password=pg_database.password,
        dbname="postgres",
    )
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    conninfo = psycopg.conninfo.make_conninfo(admin, dbname=name)
    yield conninfo
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="module")
def pg_backend(fresh_search_database: str) -> Iterator[PostgresSearchBackend]:
    pool = ConnectionPool(fresh_search_database, min_size=2, max_size=4, open=True)
    backend = PostgresSearchBackend(pool)
    errors: list[BaseException] = []

    def start_replica() -> None:
        try:
            PostgresSearchBackend(pool).ensure_schema()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    replicas = [threading.Thread(target=start_replica) for _ in range(2)]
    for r in replicas:
        r.start()
    for r in replicas:
        r.join()
    assert errors == []
    backend.ensure_schema()  # and once more, later: still fine
    yield backend
    pool.close()


class TestPostgresBackend(SearchBackendContract):
    @pytest.fixture
    def backend(self, pg_backend: PostgresSearchBackend) -> SearchBackend:
        return pg_backend
