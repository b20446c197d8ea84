from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from responer_threading.domain import InMemoryThreadStore, MailFacts, thread_message
from responer_threading.domain.subjects import has_reply_prefix, normalise_subject, thread_tag

pytestmark = pytest.mark.unit
T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def facts(message_id, *, refs=(), irt=(), subject="Order 12", sender="anna@example.com", at=T0, **kw):
    return MailFacts(
        tenant_id="acme",
        mailbox_id=kw.pop("mailbox", "support"),
        responer_message_id=uuid.uuid5(uuid.NAMESPACE_URL, message_id + kw.pop("copy", "")),
        message_id=message_id,
        in_reply_to=tuple(irt),
        references=tuple(refs),
        subject=subject,
        from_email=sender,
        to=kw.pop("to", ("support@acme.example",)),
        date=at,
        **kw,
    )


@pytest.fixture
def store():
    return InMemoryThreadStore()


def run(store, *messages):
    return [thread_message(m, store) for m in messages]


def test_reply_with_in_reply_to_joins_parent(store):
    a, b = run(store, facts("a@x"), facts("b@x", irt=["a@x"], subject="Re: Order 12"))
    assert a.new_thread and a.thread_number == 1000
    assert (b.thread_id, b.signal) == (a.thread_id, "in_reply_to")


def test_numbers_are_sequential_per_tenant(store):
    results = run(store, facts("a@x", subject="A"), facts("b@x", subject="B", sender="b@y"))
    assert [r.thread_number for r in results] == [1000, 1001]


def test_out_of_order_arrival_meets_through_ghosts(store):
    grandchild, child, root = run(
        store,
        facts("gc@x", refs=["r@x", "c@x"], subject="Re: Re: A"),
        facts("c2@x", refs=["r@x"], subject="Re: A"),
        facts("r@x", subject="A"),
    )
    assert child.signal == "references" and root.signal == "ghost"
    assert grandchild.thread_id == child.thread_id == root.thread_id


def test_self_reference_and_reference_loops_do_not_break(store):
    a, b, c = run(
        store,
        facts("a@x", refs=["a@x", "b@x"], irt=["a@x"]),
        facts("b@x", refs=["a@x", "b@x"], irt=["a@x"]),
        facts("c@x", refs=["c@x"], subject="Unrelated", sender="z@y"),
    )
    assert a.new_thread and b.thread_id == a.thread_id
    assert c.new_thread and c.signal == "new_thread"


def test_message_linking_two_threads_merges_them_and_later_mail_follows(store):
    a, b = run(store, facts("a@x", subject="A"), facts("b@x", subject="B", sender="bob@y"))
    bridge = thread_message(facts("m@x", refs=["a@x", "b@x"]), store)
    assert bridge.thread_id == a.thread_id and bridge.merged_thread_ids == (b.thread_id,)
    late = thread_message(facts("l@x", irt=["b@x"], sender="bob@y"), store)
    assert late.thread_id == a.thread_id


def test_strangers_thread_tag_does_not_hijack(store):
    a = thread_message(facts("a@x"), store)
    ok = thread_message(facts("t@x", subject="[#1000] update"), store)
    evil = thread_message(facts("e@x", subject="Re: [#1000] update", sender="eve@evil"), store)
    assert (ok.thread_id, ok.signal) == (a.thread_id, "thread_tag")
    assert evil.new_thread


def test_our_outgoing_message_id_wins(store):
    a = thread_message(facts("a@x"), store)
    ours = facts(
        "ours@responer",
        irt=["a@x"],
        direction="outbound",
        sender="support@acme.example",
        to=("anna@example.com",),
        subject="Re: Order 12 [#1000]",
    )
    assert thread_message(ours, store).thread_id == a.thread_id
    reply = thread_message(facts("r@x", refs=["zz@x", "ours@responer"], subject="Re: Order 12"), store)
    assert (reply.thread_id, reply.signal) == (a.thread_id, "own_message_id")


def test_bounce_quoting_our_message_joins_its_thread(store):
    a = thread_message(facts("a@x"), store)
    ours = facts(
        "ours@responer",
        irt=["a@x"],
        direction="outbound",
        sender="support@acme.example",
        to=("anna@example.com",),
    )
    thread_message(ours, store)
    bounce = facts(
        "bnc@mx", subject="Undelivered Mail", sender="mailer-daemon@mx", quoted_message_ids=("ours@responer",)
    )
    result = thread_message(bounce, store)
    assert (result.thread_id, result.signal) == (a.thread_id, "quoted_own_message")


def test_subject_fallback_only_for_replies_same_customer_within_window(store):
    a, _ = run(store, facts("a@x"), ours("ours@x", irt="a@x", at=T0 + timedelta(hours=1)))
    no_prefix = thread_message(facts("n@x", at=T0 + timedelta(days=1)), store)  # answered: no resend
    other_customer = thread_message(facts("o@x", subject="Re: Order 12", sender="bob@y"), store)
    other_mailbox = thread_message(facts("m@x", subject="Re: Order 12", mailbox="sales"), store)
    reply = thread_message(facts("r@x", subject="Odp: order 12", at=T0 + timedelta(days=2)), store)
    late = thread_message(facts("l@x", subject="AW: Order 12", at=T0 + timedelta(days=30)), store)
    assert no_prefix.new_thread and other_customer.new_thread and other_mailbox.new_thread
    assert (reply.signal, reply.thread_id) == ("subject", no_prefix.thread_id)  # the latest thread
    assert late.new_thread
    assert a.thread_id != no_prefix.thread_id


def test_unknown_references_join_by_subject_only_where_we_replied(store):
    a = thread_message(facts("a@x"), store)
    thread_message(
        facts(
            "ours@responer",
            irt=["a@x"],
            direction="outbound",
            sender="support@acme.example",
            to=("anna@example.com",),
        ),
        store,
    )
    # The provider rewrote our Message-ID: the customer's reply references an id we never saw.
    rewritten = thread_message(facts("c@x", refs=["rewritten@outlook"], at=T0 + timedelta(hours=2)), store)
    assert (rewritten.thread_id, rewritten.signal) == (a.thread_id, "subject")


def test_same_message_twice_is_idempotent(store):
    first = thread_message(facts("a@x"), store)
    assert thread_message(facts("a@x"), store) == first
    copy = thread_message(facts("a@x", copy="-2"), store)  # same Message-ID, another stored copy
    assert (copy.thread_id, copy.signal) == (first.thread_id, "duplicate_message_id")


@pytest.mark.parametrize(
    ("subject", "normal", "reply"),
    [
        ("Re: RE: Odp: Zamówienie 12", "zamówienie 12", True),
        ("AW: Fwd: PD: [#1000] Order", "order", True),
        ("[usrp-users] Re: B210 issue", "b210 issue", True),
        ("Order 12", "order 12", False),
    ],
)
def test_subject_normalisation(subject, normal, reply):
    assert normalise_subject(subject) == normal
    assert has_reply_prefix(subject) is reply


def test_thread_tag():
    assert thread_tag("Re: [#104233] faktura") == 104233
    assert thread_tag("Order #12") is None


def ours(message_id, *, irt, subject="Re: Order 12", to=("anna@example.com",), at=T0):
    return facts(
        message_id,
        irt=[irt],
        refs=[irt],
        subject=subject,
        sender="support@acme.example",
        to=to,
        direction="outbound",
        at=at,
    )


def test_reply_to_our_answer_with_a_new_subject_and_no_prefix_is_a_new_topic(store):
    a, _ = run(store, facts("a@x"), ours("o@x", irt="a@x", at=T0 + timedelta(hours=1)))
    new = thread_message(
        facts(
            "n@x", irt=["o@x"], refs=["a@x", "o@x"], subject="Invoice correction", at=T0 + timedelta(days=1)
        ),
        store,
    )
    assert new.new_thread and new.signal == "new_topic"
    # Its answer follows it (the newest known reference decides), and nothing merges back.
    reply = thread_message(
        ours("o2@x", irt="n@x", subject="Re: Invoice correction", at=T0 + timedelta(days=2)), store
    )
    assert reply.thread_id == new.thread_id and not reply.merged_thread_ids
    assert store.final_thread("acme", a.thread_id).thread_id == a.thread_id


def test_our_reply_under_a_new_subject_splits_the_message_it_answers(store):
    a, _ = run(store, facts("a@x"), ours("o@x", irt="a@x", at=T0 + timedelta(hours=1)))
    c = thread_message(facts("c@x", irt=["o@x"], subject="Re: Order 12", at=T0 + timedelta(days=1)), store)
    assert c.thread_id == a.thread_id
    renamed = thread_message(
        ours("o2@x", irt="c@x", subject="Re: Broken invoice", at=T0 + timedelta(days=2)), store
    )
    assert renamed.signal == "renamed_by_reply" and renamed.thread_id != a.thread_id
    assert store.message("acme", "c@x").thread_id == renamed.thread_id  # the customer's message moved
    assert store.message("acme", "a@x").thread_id == a.thread_id


def test_second_answer_to_an_old_message_days_later_is_stale_with_a_suggestion_back(store):
    a, _ = run(store, facts("a@x"), ours("o@x", irt="a@x", at=T0 + timedelta(hours=1)))
    first = thread_message(
        facts("r1@x", irt=["o@x"], subject="Re: Order 12", at=T0 + timedelta(hours=2)), store
    )
    soon = thread_message(
        facts("r2@x", irt=["o@x"], subject="Re: Order 12", at=T0 + timedelta(hours=3)), store
    )
    assert first.thread_id == soon.thread_id == a.thread_id  # "one more thing" the same day stays
    later = thread_message(
        facts("r3@x", irt=["o@x"], subject="Re: Order 12", at=T0 + timedelta(days=4)), store
    )
    assert later.signal == "stale_reply" and later.new_thread
    assert later.merge_suggested_into == a.thread_id


def test_out_of_office_without_headers_joins_the_thread_we_just_wrote_from(store):
    a, _ = run(store, facts("a@x"), ours("o@x", irt="a@x", at=T0 + timedelta(hours=1)))
    ooo = thread_message(
        facts("ooo@x", subject="Nieobecność", automatic=True, at=T0 + timedelta(hours=1, minutes=1)), store
    )
    assert (ooo.thread_id, ooo.signal) == (a.thread_id, "auto_reply")
    late = thread_message(
        facts("ooo2@x", subject="Nieobecność", automatic=True, at=T0 + timedelta(days=1)), store
    )
    assert late.new_thread


def test_same_question_again_before_an_answer_joins_as_a_resend(store):
    a = thread_message(facts("a@x", subject="Parcel"), store)
    again = thread_message(facts("b@x", subject="parcel ", at=T0 + timedelta(days=2)), store)
    assert (again.thread_id, again.signal, again.new_thread) == (a.thread_id, "resend", False)
    # The window counts from the customer's last message, so a third nudge days later still joins.
    third = thread_message(facts("c@x", subject="Parcel", at=T0 + timedelta(days=6)), store)
    assert (third.thread_id, third.signal) == (a.thread_id, "resend")


def test_a_generic_subject_resent_joins_only_the_same_customers_thread(store):
    anna = thread_message(facts("a@x", subject="Invoice"), store)
    bob = thread_message(facts("b@x", subject="Invoice", sender="bob@y", at=T0 + timedelta(hours=1)), store)
    assert bob.new_thread and bob.merge_suggested_into is None
    again = thread_message(facts("c@x", subject="Invoice", at=T0 + timedelta(hours=2)), store)
    bob_again = thread_message(
        facts("d@x", subject="Invoice", sender="bob@y", at=T0 + timedelta(hours=3)), store
    )
    assert (again.thread_id, again.signal) == (anna.thread_id, "resend")
    assert (bob_again.thread_id, bob_again.signal) == (bob.thread_id, "resend")


def test_no_resend_after_our_answer_outside_the_window_or_with_another_subject(store):
    a = thread_message(facts("a@x", subject="Parcel"), store)
    other = thread_message(facts("o@x", subject="Another thing", at=T0 + timedelta(hours=2)), store)
    assert other.new_thread and other.merge_suggested_into is None  # a different subject: another matter
    late = thread_message(facts("l@x", subject="Parcel", at=T0 + timedelta(days=8)), store)
    # Past the resend window (5 days), within the subject window: a suggestion, never a silent merge.
    assert late.new_thread and late.merge_suggested_into == a.thread_id

    b = thread_message(facts("b@x", subject="Delivery", at=T0 + timedelta(days=10)), store)
    thread_message(
        ours("ob@x", irt="b@x", subject="Re: Delivery", at=T0 + timedelta(days=10, hours=1)), store
    )
    after_answer = thread_message(facts("b2@x", subject="Delivery", at=T0 + timedelta(days=11)), store)
    assert after_answer.new_thread and after_answer.thread_id != b.thread_id


def test_automatic_mail_and_system_senders_never_resend(store):
    thread_message(facts("a@x", subject="Parcel"), store)
    machine = thread_message(
        facts("m@x", subject="Parcel", automatic=True, at=T0 + timedelta(hours=1)), store
    )
    assert machine.new_thread and machine.merge_suggested_into is None
    # A sender whose automatic mail starts conversations is a system: its unmarked repeats stay apart.
    alert = "monitor@status.example"
    first = thread_message(facts("s1@x", subject="API down", sender=alert, automatic=True), store)
    unmarked = thread_message(
        facts("s2@x", subject="API down", sender=alert, at=T0 + timedelta(hours=2)), store
    )
    assert first.new_thread and unmarked.new_thread and unmarked.thread_id != first.thread_id
    assert store.machine_sender("acme", alert)


def test_a_customers_own_out_of_office_does_not_make_them_a_system(store):
    a, _ = run(store, facts("a@x"), ours("o@x", irt="a@x", at=T0 + timedelta(hours=1)))
    thread_message(
        facts("ooo@x", subject="Urlop", automatic=True, at=T0 + timedelta(days=1)), store
    )  # too late for auto_reply: a new thread, but we wrote to this address
    assert not store.machine_sender("acme", "anna@example.com")


def test_reply_after_the_follow_up_window_of_a_quiet_thread_starts_a_new_one(store):
    a, _ = run(store, facts("a@x"), ours("o@x", irt="a@x", at=T0 + timedelta(hours=1)))
    late = thread_message(
        facts("n@x", irt=["o@x"], refs=["a@x", "o@x"], subject="Re: Order 12", at=T0 + timedelta(days=16)),
        store,
    )
    assert (late.signal, late.new_thread, late.merge_suggested_into) == ("quiet_thread", True, a.thread_id)
    # The new conversation goes on in its own thread; nothing merges it back.
    answer = thread_message(ours("o2@x", irt="n@x", at=T0 + timedelta(days=16, hours=2)), store)
    assert answer.thread_id == late.thread_id and not answer.merged_thread_ids


def test_quiet_thread_near_misses_stay_in_the_thread(store):
    a, _ = run(store, facts("a@x"), ours("o@x", irt="a@x", at=T0 + timedelta(hours=1)))
    within = thread_message(
        facts("r@x", irt=["o@x"], subject="Re: Order 12", at=T0 + timedelta(days=13)), store
    )
    assert within.thread_id == a.thread_id
    # Quiet counts from the last message either way: thirteen more days after that reply is still in time.
    again = thread_message(
        facts("r2@x", irt=["r@x"], subject="Re: Order 12", at=T0 + timedelta(days=26)), store
    )
    assert again.thread_id == a.thread_id
    machine = thread_message(
        facts("ar@x", irt=["o@x"], subject="Re: Order 12", automatic=True, at=T0 + timedelta(days=60)), store
    )
    assert machine.thread_id == a.thread_id  # automatic mail is no new matter
    # Never answered: the customer is still waiting for us, however long it has been.
    b = thread_message(facts("b@x", subject="Refund", sender="bob@y"), store)
    nudge = thread_message(
        facts("b2@x", irt=["b@x"], subject="Re: Refund", sender="bob@y", at=T0 + timedelta(days=40)), store
    )
    assert nudge.thread_id == b.thread_id


def test_follow_up_and_resend_windows_are_mailbox_policy(store):
    from responer_threading.domain.ports import MailboxPolicy

    store.policies[("acme", "support")] = MailboxPolicy(
        follow_up_window=timedelta(days=3), resend_window=timedelta(hours=12)
    )
    a, _ = run(store, facts("a@x"), ours("o@x", irt="a@x", at=T0 + timedelta(hours=1)))
    late = thread_message(facts("r@x", irt=["o@x"], subject="Re: Order 12", at=T0 + timedelta(days=4)), store)
    assert late.signal == "quiet_thread" and late.merge_suggested_into == a.thread_id
    p = thread_message(facts("p@x", subject="Parcel", at=T0 + timedelta(days=5)), store)
    resend = thread_message(facts("p2@x", subject="Parcel", at=T0 + timedelta(days=5, hours=11)), store)
    too_late = thread_message(facts("p3@x", subject="Parcel", at=T0 + timedelta(days=6, hours=12)), store)
    assert resend.thread_id == p.thread_id and too_late.new_thread


def test_reply_to_closed_thread_reopens_or_starts_new_by_policy(store):
    from responer_threading.domain.ports import MailboxPolicy

    a = thread_message(facts("a@x"), store)
    store.set_status("acme", a.thread_id, "closed")
    reopened = thread_message(facts("b@x", irt=["a@x"], subject="Re: Order 12"), store)
    assert reopened.thread_id == a.thread_id and store.thread("acme", a.thread_id).status == "open"
    store.set_status("acme", a.thread_id, "closed")
    store.policies[("acme", "support")] = MailboxPolicy(reply_to_closed="new_thread")
    fresh = thread_message(facts("c@x", irt=["b@x"], subject="Re: Order 12"), store)
    assert fresh.new_thread and fresh.signal == "closed_thread"
