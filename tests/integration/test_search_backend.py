"""Contract tests of the search backend port, run against every implementation (PostgreSQL for now).

Events enter through the same handlers the consumers use, with explicit stream positions, so the
suite covers event translation, idempotency and ordering as well as queries.
"""

from __future__ import annotations

import itertools
import os
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
from responer_search.domain.model import INBOX, MessageMailbox, Position, SearchOptions
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

    def mailbox_added(self, message: events_pb2.MessageThreaded, mailbox_id: str, address: str) -> int:
        """Threading's ThreadMailboxAdded: the message was seen in another mailbox of the tenant too."""
        event = events_pb2.ThreadMailboxAdded(
            tenant_id=message.tenant_id,
            thread_id=message.thread_id,
            thread_number=message.thread_number,
            message_id=message.message_id,
            mailbox_id=mailbox_id,
            mailbox_address=address,
            mailbox_ids=[message.mailbox_id, mailbox_id],
        )
        return self.deliver("threading", event)

    def assign(self, thread_id: str, user_id: str, group_id: str = "", tenant: str = "") -> None:
        event = events_pb2.ThreadAssigned(
            tenant_id=tenant or self.tenant, thread_id=thread_id, user_id=user_id, group_id=group_id
        )
        self.deliver("routing", event, tenant=tenant)

    def tag(self, thread_id: str, tag: str, untag: bool = False) -> None:
        kind = events_pb2.ThreadUntagged if untag else events_pb2.ThreadTagged
        self.deliver("routing", kind(tenant_id=self.tenant, thread_id=thread_id, tag=tag))

    def status(self, thread_id: str, status: str) -> None:
        self.deliver(
            "threading",
            events_pb2.ThreadStatusChanged(tenant_id=self.tenant, thread_id=thread_id, status=status),
        )

    def note(
        self, thread_id: str, body: str, note_id: str = "", author: str = "u-1", tenant: str = ""
    ) -> str:
        note_id = note_id or str(uuid.uuid4())
        event = events_pb2.NoteAdded(
            tenant_id=tenant or self.tenant,
            thread_id=thread_id,
            note_id=note_id,
            author_user_id=author,
            body=body,
        )
        self.deliver("threading", event, tenant=tenant)
        return note_id

    def user(self, user_id: str, name: str, email: str) -> None:
        self.streams.setdefault("gateway", self.streams["threading"].replace("THREADING", "GATEWAY"))
        self.positions.setdefault("gateway", itertools.count(1))
        self.deliver(
            "gateway", events_pb2.UserAdded(tenant_id=self.tenant, user_id=user_id, name=name, email=email)
        )

    def read(self, thread_id: str, user_id: str, unread: bool = False, tenant: str = "") -> None:
        """The gateway's ThreadRead (a user opened the thread now) or ThreadMarkedUnread."""
        self.streams.setdefault("gateway", self.streams["threading"].replace("THREADING", "GATEWAY"))
        self.positions.setdefault("gateway", itertools.count(1))
        kind = events_pb2.ThreadMarkedUnread if unread else events_pb2.ThreadRead
        event = kind(tenant_id=tenant or self.tenant, thread_id=thread_id, user_id=user_id)
        event.at.FromDatetime(datetime.now(UTC))
        self.deliver("gateway", event, tenant=tenant)

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
    def found(backend: SearchBackend, feed: Feed, query: str, user_id: str = "") -> list[int]:
        options = SearchOptions(user_id=user_id)
        return sorted(
            t.number for t in backend.search(feed.tenant, parse(query), 50, options=options).threads
        )

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

    def test_newest_first_pages_over_a_long_archive_are_exact(self, backend, feed):
        """Pages of a result spread over years equal the full order, however the backend reads them.

        Each thread ranks by its newest matching message: a thread whose newest mail does not match
        ranks by an older hit. Busy recent days and a sparse past (the PostgreSQL backend reads the
        newest mail first and widens its window), a negated word in old and new mail.
        """
        newest = T0  # dates in the future are indexed as received now
        hits: dict[str, datetime] = {}  # thread -> newest message that matches "kettle -broken"
        for i in range(40):
            at = newest - timedelta(hours=i * 3) if i < 12 else newest - timedelta(days=(i - 11) * 25)
            words = "kettle broken" if i % 7 == 3 else "kettle"
            first = feed.message(text=f"{words} number {i}", date=at - timedelta(days=30))
            if i % 4 == 1:  # the newest message of the thread does not match
                feed.message(thread_id=first.thread_id, number=first.thread_number, text="thanks", date=at)
            else:
                feed.message(thread_id=first.thread_id, number=first.thread_number, text=words, date=at)
            if words == "kettle":
                hits[first.thread_id] = at if i % 4 != 1 else at - timedelta(days=30)
        feed.message(text="lamp only", date=newest)
        expected = [t for t, _ in sorted(hits.items(), key=lambda kv: (kv[1], kv[0]), reverse=True)]
        seen: list[str] = []
        cursor, first_page = "", None
        while True:
            page = backend.search(feed.tenant, parse("kettle -broken"), 4, cursor)
            first_page = first_page or page
            seen += [t.thread_id for t in page.threads]
            if not page.next_cursor:
                break
            cursor = page.next_cursor
        assert seen == expected
        assert first_page.total >= len(first_page.threads) + 1
        # exact, or a lower bound that says there is more than this page
        assert (
            first_page.total == len(expected) if first_page.total_exact else first_page.total < len(expected)
        )

    def test_newest_first_message_results_over_a_long_archive_are_exact(self, backend, feed):
        dates = [T0 - timedelta(hours=i) for i in range(6)] + [
            T0 - timedelta(days=40 * i) for i in range(1, 15)
        ]
        sent = [feed.message(text=f"kettle {i}", date=at) for i, at in enumerate(dates)]
        feed.message(text="lamp", date=T0)
        options = SearchOptions(result="messages")
        seen, cursor, first = [], "", None
        while True:
            page = backend.search(feed.tenant, parse("kettle"), 3, cursor, options=options)
            first = first or page
            seen += [m.message_id for m in page.messages]
            if not page.next_cursor:
                break
            cursor = page.next_cursor
        assert seen == [m.message_id for m in sent]
        assert first.total == len(sent) if first.total_exact else 3 < first.total < len(sent)

    # -- the full query language ------------------------------------------------------------------------
    def test_negation_excludes_messages_with_the_word(self, backend, feed):
        kettle = feed.message(text="red kettle")
        feed.message(text="red kettle broken")
        lamp = feed.message(text="lamp")
        assert self.found(backend, feed, "kettle -broken") == [kettle.thread_number]
        assert self.found(backend, feed, 'kettle -"kettle broken"') == [kettle.thread_number]
        assert lamp.thread_number not in self.found(backend, feed, "-kettle -red zzz OR kettle -broken")

    def test_or_finds_either_side_and_binds_looser_than_and(self, backend, feed):
        kettle = feed.message(text="red kettle")
        lamp = feed.message(text="blue lamp")
        feed.message(text="green vacuum")
        assert self.found(backend, feed, "kettle OR lamp") == sorted(
            [kettle.thread_number, lamp.thread_number]
        )
        assert self.found(backend, feed, "red kettle OR blue lamp") == sorted(
            [kettle.thread_number, lamp.thread_number]
        )
        assert self.found(backend, feed, "red (kettle OR lamp)") == [kettle.thread_number]

    def test_cc_body_and_filename_fields(self, backend, feed):
        first = feed.message(
            subject="Faktura",
            text="w załączniku zwrot",
            to=("support@acme.test",),
            attachments=("Faktura-VAT_2026.PDF",),
        )
        second = feed.message(subject="zwrot", text="nothing here")
        # a cc'd message
        mail_cc = feed.message(text="copy")
        assert self.found(backend, feed, "body:zwrot") == [first.thread_number]
        assert self.found(backend, feed, "subject:zwrot") == [second.thread_number]
        assert self.found(backend, feed, "filename:faktura-vat") == [first.thread_number]
        assert self.found(backend, feed, "filename:pdf") == [first.thread_number]
        assert self.found(backend, feed, "has:attachment") == [first.thread_number]
        assert mail_cc.thread_number not in self.found(backend, feed, "has:attachment")
        assert self.found(backend, feed, "cc:nobody") == []

    def test_cc_matches_only_copied_addresses(self, backend, feed):
        mail = a_mail(text="copied")
        mail.cc.append(mail_pb2.Address(email="szef@firma.pl"))
        event = events_pb2.MessageThreaded(
            message_id=str(uuid.uuid4()),
            tenant_id=feed.tenant,
            thread_id=str(uuid.uuid4()),
            thread_number=5151,
            mail=mail,
            thread_subject=mail.subject,
        )
        feed.deliver("threading", event)
        feed.message(text="not copied")
        assert self.found(backend, feed, "cc:szef") == [5151]
        assert self.found(backend, feed, "to:szef@firma.pl") == [5151]  # to: includes cc
        assert self.found(backend, feed, "cc:support@acme") == []

    def test_email_addresses_and_their_parts_match(self, backend, feed):
        jan = feed.message(from_email="jan.kowalski@wp.pl", from_name="Jan Kowalski")
        feed.message(from_email="ola@onet.pl", from_name="Ola")
        for query in (
            "kowalski",
            "from:kowalski",
            "from:@wp.pl",
            "jan.kowalski@wp.pl",
            "from:jan.kowalski@wp.pl",
        ):
            assert self.found(backend, feed, query) == [jan.thread_number], query

    def test_dates_bound_messages(self, backend, feed):
        old = feed.message(text="dated", date=datetime(2026, 3, 15, 12, tzinfo=UTC))
        new = feed.message(text="dated", date=datetime(2026, 10, 1, 12, tzinfo=UTC))
        assert self.found(backend, feed, "dated after:2026-06-01") == [new.thread_number]
        assert self.found(backend, feed, "dated before:2026-06") == [old.thread_number]
        assert self.found(backend, feed, "after:2026-03-15 before:2026-03-16") == [old.thread_number]

    def test_mailbox_matches_id_or_address(self, backend, feed):
        msg = feed.message(text="mailbox test")
        assert self.found(backend, feed, "mailbox:mbx-1") == [msg.thread_number]
        assert self.found(backend, feed, "mailbox:support@acme") == [msg.thread_number]
        assert self.found(backend, feed, "mailbox:sales@acme") == []

    def test_mail_seen_in_a_second_mailbox_is_found_under_both_and_its_thread_lists_both(self, backend, feed):
        both = feed.message(text="parcel lost, writing to sales and support")
        only = feed.message(text="parcel lost, writing to support")
        assert self.found(backend, feed, "mailbox:sales@acme") == []
        position = feed.mailbox_added(both, "mbx-2", "sales@acme.test")
        assert self.found(backend, feed, "mailbox:mbx-2") == [both.thread_number]
        assert self.found(backend, feed, "mailbox:sales@acme") == [both.thread_number]
        assert self.found(backend, feed, "mailbox:sales@acme parcel") == [both.thread_number]
        assert self.found(backend, feed, "mailbox:support@acme") == sorted(
            [both.thread_number, only.thread_number]
        )
        detail = backend.get_thread(feed.tenant, thread_id=both.thread_id)
        assert detail is not None
        assert detail.mailboxes == [("mbx-1", "support@acme.test"), ("mbx-2", "sales@acme.test")]
        assert detail.messages[0].other_mailboxes == (("mbx-2", "sales@acme.test"),)
        single = backend.get_thread(feed.tenant, thread_id=only.thread_id)
        assert single is not None and single.mailboxes == [("mbx-1", "support@acme.test")]
        # A redelivery, the same mailbox again and the mailbox it arrived in change nothing.
        assert not backend.add_message_mailbox(
            MessageMailbox(feed.tenant, both.message_id, "mbx-3", "other@acme.test"),
            Position(feed.streams["threading"], position),
        )
        feed.mailbox_added(both, "mbx-2", "sales@acme.test")
        feed.mailbox_added(both, "mbx-1", "support@acme.test")
        detail = backend.get_thread(feed.tenant, thread_id=both.thread_id)
        assert detail is not None and detail.messages[0].other_mailboxes == (("mbx-2", "sales@acme.test"),)
        assert self.found(backend, feed, "mailbox:mbx-3") == []
        # Indexed again (the message re-threaded), it keeps the mailboxes it was seen in.
        feed.deliver("threading", both)
        assert self.found(backend, feed, "mailbox:sales@acme") == [both.thread_number]

    def test_the_second_mailbox_of_a_message_of_another_tenant_changes_nothing(self, backend, feed):
        msg = feed.message(text="tenant check")
        stranger = events_pb2.MessageThreaded()
        stranger.CopyFrom(msg)
        stranger.tenant_id = str(uuid.uuid4())
        feed.deliver(
            "threading",
            events_pb2.ThreadMailboxAdded(
                tenant_id=stranger.tenant_id,
                thread_id=msg.thread_id,
                message_id=msg.message_id,
                mailbox_id="mbx-2",
                mailbox_address="sales@acme.test",
            ),
            tenant=stranger.tenant_id,
        )
        assert self.found(backend, feed, "mailbox:mbx-2") == []

    def test_thread_filters_tag_folder_status_group(self, backend, feed):
        vip = feed.message(text="one")
        other = feed.message(text="two")
        feed.tag(vip.thread_id, "VIP")
        feed.tag(vip.thread_id, "Łódź")
        feed.sort(other.thread_id, "Billing")
        feed.status(other.thread_id, "pending")
        feed.assign(other.thread_id, "", group_id="billing-team")
        assert self.found(backend, feed, "tag:vip") == [vip.thread_number]
        assert self.found(backend, feed, "tag:lodz") == [vip.thread_number]
        assert self.found(backend, feed, "folder:billing") == [other.thread_number]
        assert self.found(backend, feed, "folder:inbox") == [vip.thread_number]
        assert self.found(backend, feed, "is:pending") == [other.thread_number]
        assert self.found(backend, feed, "is:open") == [vip.thread_number]
        assert self.found(backend, feed, "status:open -tag:vip") == []
        assert self.found(backend, feed, "group:billing-team") == [other.thread_number]
        feed.tag(vip.thread_id, "vip", untag=True)
        assert self.found(backend, feed, "tag:vip") == []
        [summary] = [t for t in backend.list_threads(feed.tenant, "Inbox", 10).threads]
        assert summary.tags == ("Łódź",)

    def test_group_by_id_or_by_name(self, backend, feed):
        theirs = feed.message(text="a")
        feed.message(text="b")
        feed.assign(theirs.thread_id, "", group_id="g-42")
        feed.streams.setdefault("gateway", feed.streams["threading"].replace("THREADING", "GATEWAY"))
        feed.positions.setdefault("gateway", itertools.count(1))
        feed.deliver(
            "gateway", events_pb2.GroupChanged(tenant_id=feed.tenant, group_id="g-42", name="Księgowość")
        )
        assert self.found(backend, feed, "group:g-42") == [theirs.thread_number]
        assert self.found(backend, feed, "group:ksiegowosc") == [theirs.thread_number]
        assert self.found(backend, feed, "group:sprzedaz") == []

    def test_assignee_me_name_and_unassigned(self, backend, feed):
        mine = feed.message(text="a")
        annas = feed.message(text="b")
        free = feed.message(text="c")
        feed.user("u-anna", "Anna Żółtowska", "anna@acme.test")
        feed.assign(mine.thread_id, "u-me")
        feed.assign(annas.thread_id, "u-anna")
        assert self.found(backend, feed, "assignee:me", user_id="u-me") == [mine.thread_number]
        assert self.found(backend, feed, "assignee:zoltowska") == [annas.thread_number]
        assert self.found(backend, feed, "assignee:anna@acme") == [annas.thread_number]
        assert self.found(backend, feed, "assignee:u-me") == [mine.thread_number]
        assert self.found(backend, feed, "is:unassigned") == [free.thread_number]
        assert self.found(backend, feed, "is:assigned") == sorted([mine.thread_number, annas.thread_number])
        with pytest.raises(InvalidQuery, match="signed-in"):
            backend.search(feed.tenant, parse("assignee:me"), 10)

    def test_live_update_assign_then_assignee_finds_it(self, backend, feed):
        msg = feed.message(text="needs an owner")
        assert self.found(backend, feed, "assignee:me", user_id="u-42") == []
        feed.assign(msg.thread_id, "u-42")
        assert self.found(backend, feed, "assignee:me", user_id="u-42") == [msg.thread_number]
        feed.assign(msg.thread_id, "u-43")
        assert self.found(backend, feed, "assignee:me", user_id="u-42") == []

    def test_notes_are_searchable_with_note_and_shown_on_the_timeline(self, backend, feed):
        msg = feed.message(text="customer mail")
        note_id = feed.note(msg.thread_id, "Oddzwonić do klienta w piątek")
        assert self.found(backend, feed, "note:oddzwonic") == [msg.thread_number]
        assert self.found(backend, feed, "oddzwonic") == []  # notes are not customer mail
        feed.status(msg.thread_id, "closed")
        feed.assign(msg.thread_id, "u-5")
        detail = backend.get_thread(feed.tenant, thread_id=msg.thread_id)
        assert [i.kind for i in detail.timeline] == ["note", "status", "assignment"]
        assert detail.timeline[0].body.startswith("Oddzwonić")
        assert detail.timeline[1].detail["status"] == "closed"
        assert detail.timeline[2].detail["user_id"] == "u-5"
        feed.deliver(
            "threading",
            events_pb2.NoteEdited(
                tenant_id=feed.tenant, thread_id=msg.thread_id, note_id=note_id, body="sobota"
            ),
        )
        assert self.found(backend, feed, "note:piatek") == []
        assert self.found(backend, feed, "note:sobota") == [msg.thread_number]
        feed.deliver(
            "threading",
            events_pb2.NoteDeleted(tenant_id=feed.tenant, thread_id=msg.thread_id, note_id=note_id),
        )
        assert self.found(backend, feed, "note:sobota") == []

    def test_notes_follow_a_merge(self, backend, feed):
        source = feed.message(text="first")
        target = feed.message(text="second")
        feed.note(source.thread_id, "ważna notatka")
        feed.deliver(
            "threading",
            events_pb2.ThreadMerged(
                tenant_id=feed.tenant,
                source_thread_id=source.thread_id,
                target_thread_id=target.thread_id,
                target_number=target.thread_number,
            ),
        )
        assert self.found(backend, feed, "note:wazna") == [target.thread_number]

    def test_notes_and_history_follow_a_merge_and_those_of_the_source_return_on_the_undo(self, backend, feed):
        source = feed.message(text="first", date=T0)
        target = feed.message(text="second", date=T0 + timedelta(minutes=1))
        own = feed.note(target.thread_id, "notatka celu")
        came = feed.note(source.thread_id, "ważna notatka")
        feed.assign(source.thread_id, "u-ola")
        merge_id = str(uuid.uuid4())
        feed.deliver(
            "threading",
            events_pb2.ThreadMerged(
                tenant_id=feed.tenant,
                source_thread_id=source.thread_id,
                target_thread_id=target.thread_id,
                source_number=source.thread_number,
                target_number=target.thread_number,
                merge_id=merge_id,
                message_ids=[source.message_id],
                note_ids=[came],
            ),
        )
        during = feed.note(target.thread_id, "po scaleniu")
        merged = backend.get_thread(feed.tenant, thread_id=target.thread_id)
        assert sorted(i.item_id for i in merged.timeline if i.kind == "note") == sorted(
            f"note:{n}" for n in (own, came, during)
        )
        assert [i.detail["user_id"] for i in merged.timeline if i.kind == "assignment"] == ["u-ola"]
        assert self.found(backend, feed, "note:wazna") == [target.thread_number]

        feed.deliver(
            "threading",
            events_pb2.ThreadUnmerged(
                tenant_id=feed.tenant,
                merge_id=merge_id,
                source_thread_id=source.thread_id,
                target_thread_id=target.thread_id,
                source_number=source.thread_number,
                target_number=target.thread_number,
                message_ids=[source.message_id],
                note_ids=[came],
                source_status="open",
            ),
        )
        back = backend.get_thread(feed.tenant, thread_id=source.thread_id)
        assert [m.message_id for m in back.messages] == [source.message_id]
        assert [(i.kind, i.body or i.detail.get("user_id")) for i in back.timeline] == [
            ("note", "ważna notatka"),
            ("assignment", "u-ola"),
        ]
        kept = backend.get_thread(feed.tenant, thread_id=target.thread_id)
        assert [i.item_id for i in kept.timeline] == [f"note:{own}", f"note:{during}"]
        assert self.found(backend, feed, "note:wazna") == [source.thread_number]
        assert self.found(backend, feed, "note:scaleniu") == [target.thread_number]
        assert len(backend.list_threads(feed.tenant, "Inbox", 10).threads) == 2

    def test_a_split_leaves_notes_with_the_original_and_its_undo_brings_the_split_offs_back(
        self, backend, feed
    ):
        first = feed.message(text="first topic")
        second = feed.message(thread_id=first.thread_id, number=first.thread_number, text="second topic")
        old_note = feed.note(first.thread_id, "stara notatka")
        new_thread, split_id = str(uuid.uuid4()), str(uuid.uuid4())
        feed.deliver(
            "threading",
            events_pb2.ThreadSplit(
                tenant_id=feed.tenant,
                split_id=split_id,
                source_thread_id=first.thread_id,
                new_thread_id=new_thread,
                new_number=9292,
                message_ids=[second.message_id],
                subject="Second topic",
                status="open",
            ),
        )
        split_off = backend.get_thread(feed.tenant, number=9292)
        assert split_off.timeline == []
        original = backend.get_thread(feed.tenant, thread_id=first.thread_id)
        assert [i.item_id for i in original.timeline] == [f"note:{old_note}"]
        new_note = feed.note(new_thread, "nowa notatka")
        feed.assign(new_thread, "u-piotr")
        feed.deliver(
            "threading",
            events_pb2.ThreadUnsplit(
                tenant_id=feed.tenant,
                split_id=split_id,
                source_thread_id=first.thread_id,
                source_number=first.thread_number,
                new_thread_id=new_thread,
                new_number=9292,
                message_ids=[second.message_id],
                note_ids=[new_note],
            ),
        )
        whole = backend.get_thread(feed.tenant, thread_id=first.thread_id)
        assert len(whole.messages) == 2
        assert [i.kind for i in whole.timeline] == ["note", "note", "assignment"]
        # The split-off number follows the merge back, like a merged thread's.
        assert backend.get_thread(feed.tenant, number=9292).thread.thread_id == first.thread_id
        assert [t.thread_id for t in backend.list_threads(feed.tenant, "Inbox", 10).threads] == [
            first.thread_id
        ]
        assert self.found(backend, feed, "note:nowa") == [first.thread_number]

    def test_a_split_moves_messages_to_a_new_thread(self, backend, feed):
        first = feed.message(text="first topic")
        second = feed.message(thread_id=first.thread_id, number=first.thread_number, text="second topic")
        new_thread = str(uuid.uuid4())
        feed.deliver(
            "threading",
            events_pb2.ThreadSplit(
                tenant_id=feed.tenant,
                source_thread_id=first.thread_id,
                new_thread_id=new_thread,
                new_number=9191,
                message_ids=[second.message_id],
                subject="Second topic",
                status="open",
            ),
        )
        assert self.found(backend, feed, "second") == [9191]
        assert self.found(backend, feed, "first") == [first.thread_number]
        assert backend.get_thread(feed.tenant, number=9191).thread.message_count == 1

    def test_results_as_messages_sorted_by_date(self, backend, feed):
        msg = feed.message(text="kettle one", date=T0)
        later = feed.message(
            thread_id=msg.thread_id, number=msg.thread_number, text="kettle two", date=T0 + timedelta(hours=1)
        )
        page = backend.search(feed.tenant, parse("kettle"), 1, options=SearchOptions(result="messages"))
        assert [m.message_id for m in page.messages] == [later.message_id] and page.total == 2
        assert "<mark>kettle</mark>" in page.messages[0].snippet
        rest = backend.search(
            feed.tenant, parse("kettle"), 1, page.next_cursor, SearchOptions(result="messages")
        )
        assert [m.message_id for m in rest.messages] == [msg.message_id] and not rest.next_cursor

    def test_relevance_sort_and_best_matching_message(self, backend, feed):
        weak = feed.message(subject="hello", text="zwrot", date=T0 + timedelta(hours=2))
        strong = feed.message(subject="zwrot zwrot", text="zwrot zwrot zwrot towaru", date=T0)
        page = backend.search(feed.tenant, parse("zwrot"), 1, options=SearchOptions(sort="relevance"))
        assert [t.number for t in page.threads] == [strong.thread_number]
        assert page.threads[0].best_message_id == strong.message_id
        rest = backend.search(
            feed.tenant, parse("zwrot"), 1, page.next_cursor, SearchOptions(sort="relevance")
        )
        assert [t.number for t in rest.threads] == [weak.thread_number] and not rest.next_cursor
        by_date = backend.search(feed.tenant, parse("zwrot"), 5)
        assert [t.number for t in by_date.threads] == [weak.thread_number, strong.thread_number]

    def test_facets_count_threads_per_folder_tag_and_assignee(self, backend, feed):
        a = feed.message(text="facet")
        b = feed.message(text="facet")
        c = feed.message(text="facet")
        feed.message(text="unrelated")
        feed.sort(a.thread_id, "Billing")
        feed.tag(a.thread_id, "vip")
        feed.tag(b.thread_id, "vip")
        feed.tag(b.thread_id, "urgent")
        feed.assign(c.thread_id, "u-1")
        page = backend.search(feed.tenant, parse("facet"), 1, options=SearchOptions(facets=True))
        assert page.total == 3
        f = page.facets
        assert {(x.value, x.threads) for x in f.folders} == {("Inbox", 2), ("Billing", 1)}
        assert {(x.value, x.threads) for x in f.tags} == {("vip", 2), ("urgent", 1)}
        assert {(x.value, x.threads) for x in f.assignees} == {("", 2), ("u-1", 1)}

    def test_inbox_lists_take_filters_of_the_same_language(self, backend, feed):
        mine = feed.message(text="x")
        feed.message(text="y")
        feed.assign(mine.thread_id, "u-9")
        page = backend.list_threads(
            feed.tenant, "Inbox", 10, filter=parse("assignee:me is:open"), user_id="u-9"
        )
        assert [t.thread_id for t in page.threads] == [mine.thread_id] and page.total == 1
        assert backend.list_threads(feed.tenant, "*", 10).total == 2

    def test_hostile_inputs_in_every_field_stay_in_the_tenant(self, backend, feed):
        other = str(uuid.uuid4())
        theirs = feed.message(tenant=other, subject="Secret", text="confidential", number=888)
        feed.assign(theirs.thread_id, "u-x", tenant=other)
        feed.note(theirs.thread_id, "secret note", tenant=other)
        feed.message(text="ours")
        hostile = ["'", "%", "_", "\\", "*", "' OR '1'='1", "\ue000", ")--"]
        fields = [
            "",
            "from:",
            "to:",
            "cc:",
            "subject:",
            "body:",
            "filename:",
            "note:",
            "tag:",
            "folder:",
            "mailbox:",
            "group:",
            "assignee:",
        ]
        for f in fields:
            for h in hostile:
                for q in (
                    f + h,
                    f + '"' + h + '"',
                    f"-{f}{h}",
                    f"{f}{h} OR confidential",
                    "secret OR " + f + h,
                ):
                    try:
                        query = parse(q)
                    except InvalidQuery:
                        continue
                    for options in (
                        SearchOptions(user_id="u-x"),
                        SearchOptions(result="messages", facets=True),
                    ):
                        page = backend.search(feed.tenant, query, 50, options=options)
                        assert 888 not in [t.number for t in page.threads], q
                        assert theirs.message_id not in [m.message_id for m in page.messages], q
                        assert all(
                            x.value != "u-x" for x in (page.facets.assignees if page.facets else [])
                        ), q
        assert self.found(backend, feed, "assignee:me", user_id="u-x") == []
        assert self.found(backend, feed, "-nothinglikethis") != [888]

    def test_a_batch_has_the_same_effect_as_one_event_at_a_time(self, backend, feed):
        from responer_search.handlers import batch_dispatcher

        x, y = str(uuid.uuid4()), str(uuid.uuid4())

        def threaded_in(thread_id, number, message_id, text, minutes):
            mail = a_mail(text=text, subject=f"s-{text}", date=T0 + timedelta(minutes=minutes))
            return events_pb2.MessageThreaded(
                message_id=message_id,
                thread_id=thread_id,
                thread_number=number,
                mail=mail,
                thread_subject=mail.subject,
            )

        m = [str(uuid.uuid4()) for _ in range(5)]
        history = [
            ("routing", events_pb2.ThreadSorted(thread_id=x, folder="Billing")),
            ("threading", threaded_in(x, 1, m[0], "first", 0)),
            ("threading", threaded_in(x, 1, m[1], "second", 1)),
            ("threading", threaded_in(y, 2, m[2], "third", 2)),
            ("threading", events_pb2.ThreadMerged(source_thread_id=y, target_thread_id=x, target_number=1)),
            ("threading", threaded_in(y, 2, m[3], "late", 3)),
            ("threading", threaded_in(x, 1, m[4], "fifth", 4)),
            ("threading", threaded_in(x, 1, m[4], "fifth edited", 4)),  # the same message again
            ("routing", events_pb2.ThreadAssigned(thread_id=x, user_id="u-1")),
        ]

        def state(tenant):
            detail = backend.get_thread(tenant, thread_id=x)
            t = detail.thread
            return (
                [
                    (s.number, s.message_count, s.folder, s.subject)
                    for s in backend.list_threads(tenant, "*", 10).threads
                ],
                (t.message_count, t.customer_email, t.assignee_user_id, t.last_message_at),
                [msg.message_id for msg in detail.messages],
                sorted(n.number for n in backend.search(tenant, parse("fifth edited"), 10).threads),
            )

        one_by_one, batched = str(uuid.uuid4()), str(uuid.uuid4())
        for producer, payload in history:
            payload.tenant_id = one_by_one
            feed.deliver(producer, payload, tenant=one_by_one)
        apply = batch_dispatcher(backend)
        items = []
        positions = {"threading": 10_000, "routing": 10_000}
        for producer, payload in history:
            payload.tenant_id = batched
            positions[producer] += 1
            envelope = encode(payload, tenant_id=batched, aggregate_id=str(uuid.uuid4()), aggregate_version=1)
            items.append(
                (decode(envelope.SerializeToString()), Tracking(feed.streams[producer], positions[producer]))
            )
        apply(items)
        apply(items)  # redelivered: no second effect
        assert state(batched) == state(one_by_one)
        assert state(batched)[1][0] == 5

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

    # -- unread, per user ------------------------------------------------------------------------------

    @staticmethod
    def unread(backend: SearchBackend, feed: Feed, user_id: str, tenant: str = "") -> dict[int, bool]:
        page = backend.list_threads(tenant or feed.tenant, "*", 50, user_id=user_id)
        return {t.number: t.unread for t in page.threads}

    def test_a_customer_thread_is_unread_for_each_user_until_that_user_opens_it(self, backend, feed):
        first = feed.message(subject="Parcel lost")
        second = feed.message(subject="Invoice copy")
        n1, n2 = first.thread_number, second.thread_number
        assert self.unread(backend, feed, "anna") == {n1: True, n2: True}
        feed.read(first.thread_id, "anna")
        assert self.unread(backend, feed, "anna") == {n1: False, n2: True}
        assert self.unread(backend, feed, "bob") == {n1: True, n2: True}  # Anna's reading is hers
        assert self.found(backend, feed, "is:unread", user_id="anna") == [n2]
        assert self.found(backend, feed, "is:read", user_id="anna") == [n1]
        assert self.found(backend, feed, "is:unread", user_id="bob") == [n1, n2]
        assert self.found(backend, feed, "subject:lost -is:read", user_id="bob") == [n1]
        hits = backend.search(feed.tenant, parse("invoice"), 10, options=SearchOptions(user_id="anna"))
        assert [(t.number, t.unread) for t in hits.threads] == [(n2, True)]
        # without an asking user nothing is flagged, and is:unread cannot be answered
        assert {t.unread for t in backend.list_threads(feed.tenant, "*", 50).threads} == {False}
        with pytest.raises(InvalidQuery, match="is:unread"):
            backend.search(feed.tenant, parse("is:unread"), 10)

    def test_our_reply_and_a_note_keep_it_read_a_new_customer_message_makes_it_unread(self, backend, feed):
        thread = feed.message(subject="Broken kettle")
        n = thread.thread_number
        feed.read(thread.thread_id, "anna")
        feed.message(thread_id=thread.thread_id, number=n, subject="Re: Broken kettle", inbound=False,
                     from_email="agent@acme.test", date=datetime.now(UTC))  # fmt: skip
        feed.note(thread.thread_id, "called the customer")
        assert self.unread(backend, feed, "anna") == {n: False}
        # the customer's answer is dated before Anna opened the thread (a slow server) but arrives after
        feed.message(thread_id=thread.thread_id, number=n, subject="Re: Broken kettle", date=T0)
        assert self.unread(backend, feed, "anna") == {n: True}
        assert self.found(backend, feed, "kettle is:unread", user_id="anna") == [n]
        feed.read(thread.thread_id, "anna")
        assert self.unread(backend, feed, "anna") == {n: False}

    def test_a_thread_we_started_is_not_unread_until_the_customer_answers(self, backend, feed):
        ours = feed.message(subject="Your order shipped", inbound=False, from_email="agent@acme.test")
        assert self.unread(backend, feed, "anna") == {ours.thread_number: False}

    def test_mark_unread_holds_until_the_user_opens_the_thread_again(self, backend, feed):
        thread = feed.message(subject="Refund")
        n = thread.thread_number
        feed.read(thread.thread_id, "anna")
        feed.read(thread.thread_id, "bob")
        feed.read(thread.thread_id, "anna", unread=True)
        assert self.unread(backend, feed, "anna") == {n: True}
        assert self.unread(backend, feed, "bob") == {n: False}
        feed.read(thread.thread_id, "anna")
        assert self.unread(backend, feed, "anna") == {n: False}

    def test_the_inbox_lists_only_unread_threads_when_asked(self, backend, feed):
        threads = [feed.message(subject=f"Question {i}") for i in range(3)]
        feed.read(threads[1].thread_id, "anna")
        feed.sort(threads[2].thread_id, "Sales")
        page = backend.list_threads(feed.tenant, INBOX, 50, filter=parse("is:unread"), user_id="anna")
        assert [t.number for t in page.threads] == [threads[0].thread_number]
        assert page.total == 1 and page.threads[0].unread
        read = backend.list_threads(feed.tenant, INBOX, 50, filter=parse("is:read"), user_id="anna")
        assert [(t.number, t.unread) for t in read.threads] == [(threads[1].thread_number, False)]

    def test_read_state_is_confined_to_its_tenant(self, backend, feed):
        thread = feed.message(subject="Shared id")
        other = str(uuid.uuid4())
        # Another tenant's user "reads" a thread with the same id: nothing changes here.
        feed.read(thread.thread_id, "anna", tenant=other)
        assert self.unread(backend, feed, "anna") == {thread.thread_number: True}
        assert backend.list_threads(other, "*", 50, user_id="anna").threads == []
        assert (
            backend.search(other, parse("is:read"), 10, options=SearchOptions(user_id="anna")).threads == []
        )

    def test_unread_follows_the_customer_message_a_split_moves_and_its_undo_brings_back(self, backend, feed):
        first = feed.message(subject="Order 7")
        feed.read(first.thread_id, "anna")
        later = feed.message(thread_id=first.thread_id, number=first.thread_number, subject="Other matter")
        assert self.unread(backend, feed, "anna") == {first.thread_number: True}
        new_thread, split_id = str(uuid.uuid4()), str(uuid.uuid4())
        split = dict(tenant_id=feed.tenant, split_id=split_id, source_thread_id=first.thread_id,
                     new_thread_id=new_thread, new_number=9393, message_ids=[later.message_id])  # fmt: skip
        feed.deliver("threading", events_pb2.ThreadSplit(**split, subject="Other matter", status="open"))
        # The original's only unanswered news left with the split; the split-off thread was never opened.
        assert self.unread(backend, feed, "anna") == {first.thread_number: False, 9393: True}
        assert self.found(backend, feed, "is:unread", user_id="anna") == [9393]
        feed.deliver("threading", events_pb2.ThreadUnsplit(**split, source_number=first.thread_number))
        assert self.unread(backend, feed, "anna") == {first.thread_number: True}
        assert self.found(backend, feed, "is:read", user_id="anna") == []

    def test_a_redelivered_read_has_no_second_effect(self, backend, feed):
        thread = feed.message(subject="Twice")
        feed.read(thread.thread_id, "anna")
        position = next(feed.positions["gateway"]) - 1
        feed.read(thread.thread_id, "anna", unread=True)
        marked = events_pb2.ThreadRead(tenant_id=feed.tenant, thread_id=thread.thread_id, user_id="anna")
        feed.deliver("gateway", marked, position=position)  # an old position again: ignored
        assert self.unread(backend, feed, "anna") == {thread.thread_number: True}


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

    def test_a_prefix_completes_through_the_lexicon_and_past_its_limit(self, pg_backend):
        """The last word becomes the indexed words it completes to (at most MAX_COMPLETIONS), and a
        prefix with more completions still matches every one of them."""
        from responer_search.adapters.pg_backend import MAX_COMPLETIONS

        feed = Feed(pg_backend)
        marker = secrets.token_hex(3)
        words = [f"q{marker}z{i:03d}" for i in range(MAX_COMPLETIONS + 6)]
        sent = {
            w: feed.message(text=f"numer {w}", date=T0 - timedelta(minutes=i)) for i, w in enumerate(words)
        }
        feed.message(text="Żółwik", subject="zolwik", date=T0)
        everything = pg_backend.search(feed.tenant, parse(f"q{marker}z"), 200)
        assert {t.thread_id for t in everything.threads} == {m.thread_id for m in sent.values()}
        few = pg_backend.search(feed.tenant, parse(f"q{marker}z00"), 200)
        assert {t.thread_id for t in few.threads} == {sent[w].thread_id for w in words[:10]}
        assert len(pg_backend.search(feed.tenant, parse("żółwi"), 10).threads) == 1  # folded both ways
        from responer_search.adapters.pg_backend import _completions

        with pg_backend.pool.connection() as conn:
            assert _completions(conn, parse(f"numer q{marker}z00")) == {f"q{marker}z00": words[:10]}
            assert _completions(conn, parse(f"q{marker}z")) == {}  # too many: stays a prefix
            assert _completions(conn, parse("ŻÓŁWI")) == {"ŻÓŁWI": ["zolwik"]}

    def test_unread_state_survives_the_upgrade_that_adds_last_inbound_at_and_a_bulk_load(self, pg_backend):
        """A database from before threads.last_inbound_at gets it filled once by ensure_schema; the
        bulk loader (reindex, the consumer's batches) keeps it like the event path."""
        from responer_search.adapters import pg_bulk
        from responer_search.handlers import message_doc

        feed = Feed(pg_backend)
        read, waiting = feed.message(subject="Old read"), feed.message(subject="Old waiting")
        ours = feed.message(subject="We wrote first", inbound=False, from_email="agent@acme.test")
        feed.read(read.thread_id, "anna")
        with pg_backend.pool.connection() as conn:
            conn.execute("ALTER TABLE search.threads DROP COLUMN last_inbound_at")
        pg_backend.ensure_schema()
        pg_backend.ensure_schema()  # added once: the second start finds it and fills nothing
        with pg_backend.pool.connection() as conn:
            filled = dict(
                conn.execute(
                    "SELECT thread_id, last_inbound_at IS NOT NULL FROM search.threads WHERE tenant_id = %s",
                    (feed.tenant,),
                ).fetchall()
            )
        assert filled == {read.thread_id: True, waiting.thread_id: True, ours.thread_id: False}
        expected = {read.thread_number: False, waiting.thread_number: True, ours.thread_number: False}
        assert SearchBackendContract.unread(pg_backend, feed, "anna") == expected
        # A customer's answer to the read thread arrives through the bulk loader.
        answer = events_pb2.MessageThreaded()
        answer.CopyFrom(read)
        answer.message_id, answer.new_thread = str(uuid.uuid4()), False
        answer.mail.message_id = f"{uuid.uuid4()}@klient.test"
        envelope = decode(encode(answer, tenant_id=feed.tenant, aggregate_id=str(uuid.uuid4()), aggregate_version=1).SerializeToString())  # fmt: skip
        with pg_backend.pool.connection() as conn:
            pg_bulk.load_messages(conn, [(message_doc(envelope), 10_000)], upsert=True)
        found = pg_backend.list_threads(feed.tenant, INBOX, 50, filter=parse("is:unread"), user_id="anna")
        assert sorted(t.number for t in found.threads) == sorted([read.thread_number, waiting.thread_number])

    def test_facets_of_a_large_result_count_its_newest_hits(self, pg_backend):
        """Facets over a common word count the threads of its newest `facet_pool` hits (a lower bound,
        said by total_exact), and everything when the result is small."""
        small = PostgresSearchBackend(pg_backend.pool, facet_pool=4)
        feed = Feed(small)
        recent = [feed.message(text=f"kettle {i}", date=T0 - timedelta(hours=i)) for i in range(6)]
        old = feed.message(text="kettle old", date=T0 - timedelta(days=300))
        for m in [*recent, old]:
            feed.sort(m.thread_id, "Inbox")
        feed.sort(old.thread_id, "Archive")
        with_facets = SearchOptions(facets=True)
        page = small.search(feed.tenant, parse("kettle"), 2, options=with_facets)
        folders = {f.value: f.threads for f in page.facets.folders}
        assert page.total_exact is False and "Archive" not in folders and 4 <= folders["Inbox"] <= 6
        assert [t.thread_id for t in page.threads] == [recent[0].thread_id, recent[1].thread_id]
        full = pg_backend.search(feed.tenant, parse("kettle"), 2, options=with_facets)
        assert full.total_exact and full.total == 7
        assert {f.value: f.threads for f in full.facets.folders} == {"Inbox": 6, "Archive": 1}

    def test_relevance_over_a_large_result_ranks_its_newest_hits(self, pg_backend):
        """A common word is ranked among its newest `relevance_pool` hits, not over the whole archive."""
        small = PostgresSearchBackend(pg_backend.pool, relevance_pool=4)
        feed = Feed(small)
        old_best = feed.message(text="kettle kettle kettle kettle", date=T0 - timedelta(days=300))
        recent = [feed.message(text=f"kettle {i}", date=T0 - timedelta(hours=i)) for i in range(6)]
        by_relevance = SearchOptions(sort="relevance")
        page = small.search(feed.tenant, parse("kettle"), 10, options=by_relevance)
        found = {t.thread_id for t in page.threads}
        assert old_best.thread_id not in found and found <= {m.thread_id for m in recent}
        assert page.total_exact is False and page.total == len(page.threads) >= 4
        # a rare word is ranked over everything it matches, and the total is exact
        rare = small.search(feed.tenant, parse("kettle kettle 0"), 10, options=by_relevance)
        assert rare.total_exact and rare.total == 1
        # the same backend with the default pool ranks the old, better match first
        best = pg_backend.search(feed.tenant, parse("kettle"), 10, options=by_relevance)
        assert best.threads[0].thread_id == old_best.thread_id and best.total_exact and best.total == 7


# -- OpenSearch: osmem-server always, a real cluster when RESPONER_TEST_OPENSEARCH_URL is set ------------


@pytest.fixture(scope="module")
def opensearch_url() -> Iterator[str]:
    from osmem_server import OsmemServer

    server = OsmemServer.start(freeze=False)
    yield server.url
    server.close()


def _opensearch_backend(url: str) -> Iterator[SearchBackend]:
    from opensearchpy import OpenSearch
    from responer_search.adapters.os_backend import OpenSearchBackend

    client = OpenSearch(hosts=[url], timeout=30)
    prefix = f"rt-{secrets.token_hex(4)}"
    backend = OpenSearchBackend(client, prefix)
    backend.ensure_schema()
    OpenSearchBackend(client, prefix).ensure_schema()  # a second replica starting: still fine
    yield backend
    client.indices.delete(index=f"{prefix}-*", ignore_unavailable=True)
    client.indices.delete_index_template(name=f"{prefix}-*", ignore=[404])


@pytest.fixture(scope="module")
def osmem_backend(opensearch_url: str) -> Iterator[SearchBackend]:
    yield from _opensearch_backend(opensearch_url)


@pytest.fixture(scope="module")
def cluster_backend() -> Iterator[SearchBackend]:
    yield from _opensearch_backend(os.environ["RESPONER_TEST_OPENSEARCH_URL"])


class TestOpenSearchBackendOnOsmem(SearchBackendContract):
    @pytest.fixture
    def backend(self, osmem_backend: SearchBackend) -> SearchBackend:
        return osmem_backend


@pytest.mark.skipif(
    not os.environ.get("RESPONER_TEST_OPENSEARCH_URL"), reason="RESPONER_TEST_OPENSEARCH_URL not set"
)
class TestOpenSearchBackendOnACluster(SearchBackendContract):
    @pytest.fixture
    def backend(self, cluster_backend: SearchBackend) -> SearchBackend:
        return cluster_backend
