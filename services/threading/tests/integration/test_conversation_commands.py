"""Agents' commands on conversations through ThreadingApplication on a real PostgreSQL (private database):
merge and its undo, split and its undo, status and reopen, notes, merge suggestions, mailbox policy."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from responer.events.v1 import events_pb2
from responer_runtime.esenv import ensure_schema, eventsourcing_env
from responer_threading.adapters.event_mapping import map_event
from responer_threading.application import CommandError, NotFound, ThreadingApplication
from responer_threading.domain import MailFacts

pytestmark = pytest.mark.integration
T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
TENANT = "acme"


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


def mail(message_id, *, refs=(), irt=(), subject="Order 12", sender="anna@example.com", at=T0, **kw):
    return MailFacts(
        tenant_id=TENANT,
        mailbox_id=kw.pop("mailbox", "support"),
        responer_message_id=uuid.uuid5(uuid.NAMESPACE_URL, message_id),
        message_id=message_id,
        in_reply_to=tuple(irt),
        references=tuple(refs),
        subject=subject,
        from_email=sender,
        to=kw.pop("to", ("support@acme.example",)),
        date=at,
        mailbox_address="support@acme.example",
        **kw,
    )


def ours(message_id, *, irt, subject="Re: Order 12", to=("anna@example.com",), at=T0):
    return mail(
        message_id,
        irt=[irt],
        refs=[irt],
        subject=subject,
        sender="support@acme.example",
        to=to,
        direction="outbound",
        at=at,
    )


def published(app, cls):
    out = []
    for item in app.recorder.select_notifications(start=1, limit=10_000):
        for outgoing in map_event(app.mapper.to_domain_event(item)):
            if isinstance(outgoing.payload, cls):
                out.append(outgoing.payload)
    return out


def rid(message_id: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, message_id))


def test_merge_then_reply_follows_the_merge_and_undo_brings_the_source_back(app):
    a = app.thread_message(mail("a@x"), b"")
    b = app.thread_message(mail("b@x", subject="Invoice", sender="bob@example.com"), b"")
    note = str(uuid.uuid4())
    app.add_note(TENANT, b.thread_id, note, author_user_id="u1", body="bob is a VIP", mentions=[])
    merge_id = app.merge_threads(TENANT, b.thread_id, a.thread_id, by_user_id="u1")

    target = app.get_thread(a.thread_id)
    assert set(target.members) == {rid("a@x"), rid("b@x")} and note in target.notes
    assert app.get_thread(b.thread_id).merged_into == a.thread_id
    # A reply to the merged thread's message lands in the target.
    reply = app.thread_message(mail("r@x", irt=["b@x"], subject="Re: Invoice", sender="bob@example.com"), b"")
    assert reply.thread_id == a.thread_id
    # Notes written on the merged thread's number go to the survivor.
    assert (
        app.add_note(TENANT, b.thread_id, str(uuid.uuid4()), author_user_id="u1", body="x", mentions=[])
        == a.thread_id
    )

    event = published(app, events_pb2.ThreadMerged)[-1]
    assert (event.merge_id, event.by_user_id, event.target_number) == (merge_id, "u1", a.thread_number)
    assert set(event.message_ids) == {rid("b@x")} and list(event.note_ids) == [note]

    source_id, target_id = app.undo_merge(TENANT, merge_id, by_user_id="u2")
    assert (source_id, target_id) == (b.thread_id, a.thread_id)
    source, target = app.get_thread(b.thread_id), app.get_thread(a.thread_id)
    assert source.merged_into is None and set(source.members) == {rid("b@x")} and note in source.notes
    assert rid("b@x") not in target.members and rid("r@x") in target.members  # later mail stays
    undone = published(app, events_pb2.ThreadUnmerged)[-1]
    assert (undone.merge_id, list(undone.message_ids), undone.by_user_id) == (merge_id, [rid("b@x")], "u2")
    assert [h["kind"] for h in source.history] == ["merged_into", "unmerged"]
    # Mail to the revived thread stays there now.
    again = app.thread_message(mail("q@x", irt=["b@x"], subject="Re: Invoice", sender="bob@example.com"), b"")
    assert again.thread_id == b.thread_id
    assert app.undo_merge(TENANT, merge_id, by_user_id="u2") == (b.thread_id, a.thread_id)  # once only


def test_split_moves_a_message_and_those_after_it_and_undo_restores(app):
    a = app.thread_message(mail("a@x"), b"")
    app.thread_message(ours("o1@x", irt="a@x"), b"")
    app.thread_message(mail("c@x", irt=["o1@x"], subject="Re: Order 12"), b"")
    app.thread_message(mail("d@x", irt=["c@x"], subject="Re: Order 12"), b"")

    split_id, new_id = app.split_thread(TENANT, a.thread_id, rid("c@x"), with_following=True, by_user_id="u1")
    new, source = app.get_thread(new_id), app.get_thread(a.thread_id)
    assert list(new.members) == [rid("c@x"), rid("d@x")] and new.number == a.thread_number + 1
    assert list(source.members) == [rid("a@x"), rid("o1@x")]
    # A reply to a split-off message follows it into the new thread, and does not merge them back.
    late = app.thread_message(mail("e@x", refs=["a@x", "o1@x", "c@x", "d@x"], subject="Re: Order 12"), b"")
    assert late.thread_id == new_id and not late.merged_thread_ids
    event = published(app, events_pb2.ThreadSplit)[-1]
    assert (event.split_id, list(event.message_ids), event.new_number) == (
        split_id,
        [rid("c@x"), rid("d@x")],
        new.number,
    )

    app.undo_split(TENANT, split_id, by_user_id="u1")
    source = app.get_thread(a.thread_id)
    assert set(source.members) == {rid(m) for m in ("a@x", "o1@x", "c@x", "d@x", "e@x")}
    assert app.get_thread(new_id).merged_into == a.thread_id
    after = app.thread_message(mail("f@x", irt=["d@x"], subject="Re: Order 12"), b"")
    assert after.thread_id == a.thread_id
    assert published(app, events_pb2.ThreadUnsplit)[-1].split_id == split_id


def test_split_of_one_message_only_and_refusals(app):
    a = app.thread_message(mail("a@x"), b"")
    app.thread_message(mail("b@x", irt=["a@x"], subject="Re: Order 12"), b"")
    app.thread_message(mail("c@x", irt=["b@x"], subject="Re: Order 12"), b"")
    _, new_id = app.split_thread(TENANT, a.thread_id, rid("b@x"), with_following=False, by_user_id="u1")
    assert list(app.get_thread(new_id).members) == [rid("b@x")]
    assert list(app.get_thread(a.thread_id).members) == [rid("a@x"), rid("c@x")]
    with pytest.raises(CommandError):
        app.split_thread(TENANT, a.thread_id, rid("a@x"), with_following=True, by_user_id="u1")
    with pytest.raises(NotFound):
        app.split_thread(TENANT, a.thread_id, rid("zz@x"), with_following=False, by_user_id="u1")
    with pytest.raises(NotFound):
        app.undo_merge(TENANT, "no-such-merge", by_user_id="u1")


def test_status_history_and_a_customer_reply_reopens(app):
    a = app.thread_message(mail("a@x"), b"")
    app.set_status(TENANT, a.thread_id, "pending", by_user_id="u1")
    app.set_status(TENANT, a.thread_id, "closed", by_user_id="u1")
    with pytest.raises(CommandError):
        app.set_status(TENANT, a.thread_id, "archived", by_user_id="u1")
    reply = app.thread_message(mail("b@x", irt=["a@x"], subject="Re: Order 12"), b"")
    assert reply.thread_id == a.thread_id
    thread = app.get_thread(a.thread_id)
    assert thread.status == "open"
    assert [(h["status"], h["reason"]) for h in thread.status_history] == [
        ("pending", "agent"),
        ("closed", "agent"),
        ("open", "customer_replied"),
    ]
    changes = published(app, events_pb2.ThreadStatusChanged)
    assert [(c.previous, c.status) for c in changes] == [
        ("open", "pending"),
        ("pending", "closed"),
        ("closed", "open"),
    ]
    assert changes[-1].message_id == "b@x" and changes[-1].reason == "customer_replied"
    # Our own reply does not reopen.
    app.set_status(TENANT, a.thread_id, "closed", by_user_id="u1")
    app.thread_message(ours("o@x", irt="b@x"), b"")
    assert app.get_thread(a.thread_id).status == "closed"


def test_mailbox_policy_reply_to_closed_starts_a_new_thread_and_window_length(app):
    app.set_policy(TENANT, "support", window_days=3, reply_to_closed="new_thread", own_domains=[])
    a = app.thread_message(mail("a@x"), b"")
    app.set_status(TENANT, a.thread_id, "closed", by_user_id="u1")
    reply = app.thread_message(mail("b@x", irt=["a@x"], subject="Re: Order 12"), b"")
    assert reply.new_thread and reply.signal == "closed_thread"
    assert app.get_thread(a.thread_id).status == "closed"
    # Window: 3 days now, so a header-less reply after 5 days is not joined by subject.
    c = app.thread_message(mail("c@x", subject="Parcel", at=T0), b"")
    late = app.thread_message(mail("d@x", subject="Re: Parcel", at=T0 + timedelta(days=5)), b"")
    assert late.thread_id != c.thread_id
    with pytest.raises(CommandError):
        app.set_policy(TENANT, "support", window_days=3, reply_to_closed="sometimes", own_domains=[])


def test_mailbox_policy_sets_the_resend_and_follow_up_windows(app):
    assert (
        app.get_policy(TENANT, "support").resend_window,
        app.get_policy(TENANT, "support").follow_up_window,
    ) == (
        timedelta(days=5),
        timedelta(days=14),
    )
    policy = app.set_policy(
        TENANT,
        "support",
        window_days=0,
        reply_to_closed="reopen",
        own_domains=[],
        resend_days=1,
        follow_up_days=3,
    )
    assert (policy.resend_window, policy.follow_up_window) == (timedelta(days=1), timedelta(days=3))
    assert policy.topic_shift  # on unless a mailbox turns it off
    off = app.set_policy(
        TENANT, "support", window_days=0, reply_to_closed="reopen", own_domains=[], topic_shift=False
    )
    assert not off.topic_shift and not app.get_policy(TENANT, "support").topic_shift
    app.set_policy(
        TENANT,
        "support",
        window_days=0,
        reply_to_closed="reopen",
        own_domains=[],
        resend_days=1,
        follow_up_days=3,
    )
    a = app.thread_message(mail("a@x", subject="Parcel"), b"")
    resend = app.thread_message(mail("b@x", subject="Parcel", at=T0 + timedelta(hours=20)), b"")
    late = app.thread_message(mail("c@x", subject="Parcel", at=T0 + timedelta(days=3)), b"")
    assert (resend.thread_id, resend.signal) == (a.thread_id, "resend")
    assert late.new_thread and late.merge_suggested_into == a.thread_id
    app.thread_message(ours("o@x", irt="c@x", subject="Re: Parcel", at=T0 + timedelta(days=3, hours=1)), b"")
    quiet = app.thread_message(mail("d@x", irt=["o@x"], subject="Re: Parcel", at=T0 + timedelta(days=7)), b"")
    assert (quiet.signal, quiet.merge_suggested_into) == ("quiet_thread", late.thread_id)
    assert published(app, events_pb2.MergeSuggested)[-1].target_thread_id == str(late.thread_id)
    with pytest.raises(CommandError):
        app.set_policy(
            TENANT, "support", window_days=0, reply_to_closed="reopen", own_domains=[], follow_up_days=400
        )


def test_notes_add_edit_delete_with_mentions_and_events(app):
    a = app.thread_message(mail("a@x"), b"")
    note = str(uuid.uuid4())
    app.add_note(TENANT, a.thread_id, note, author_user_id="u1", body="@bob look", mentions=["u2", "u2"])
    app.add_note(TENANT, a.thread_id, note, author_user_id="u1", body="@bob look", mentions=["u2"])  # retry
    app.edit_note(TENANT, a.thread_id, note, body="@carol look", mentions=["u3"], by_user_id="u1")
    assert app.get_thread(a.thread_id).notes[note]["mentions"] == ["u3"]
    app.delete_note(TENANT, a.thread_id, note, by_user_id="u1")
    assert app.get_thread(a.thread_id).notes[note]["deleted"]
    with pytest.raises(NotFound):
        app.edit_note(TENANT, a.thread_id, note, body="again", mentions=[], by_user_id="u1")
    added = published(app, events_pb2.NoteAdded)
    assert len(added) == 1 and list(added[0].mentions) == ["u2"] and added[0].thread_number == a.thread_number
    assert published(app, events_pb2.NoteEdited)[0].body == "@carol look"
    assert published(app, events_pb2.NoteDeleted)[0].note_id == note


def test_customer_writing_twice_gets_a_merge_suggestion_accepted_in_one_action(app):
    first = app.thread_message(mail("a@x", subject="Parcel missing"), b"")
    # Six days later: past the resend window (5 days) that would join it, so a suggestion.
    second = app.thread_message(mail("b@x", subject="Parcel missing", at=T0 + timedelta(days=6)), b"")
    assert second.new_thread and second.merge_suggested_into == first.thread_id  # never silently merged
    thread = app.get_thread(second.thread_id)
    ((suggestion_id, suggestion),) = thread.suggestions.items()
    assert suggestion["target_number"] == first.thread_number and suggestion["state"] == "open"
    assert published(app, events_pb2.MergeSuggested)[0].target_thread_id == str(first.thread_id)
    merge_id = app.accept_merge_suggestion(TENANT, second.thread_id, suggestion_id, by_user_id="u1")
    assert app.get_thread(second.thread_id).merged_into == first.thread_id
    assert published(app, events_pb2.ThreadMerged)[-1].suggestion_id == suggestion_id
    assert app.get_thread(second.thread_id).suggestions[suggestion_id]["state"] == "accepted"
    assert merge_id


def test_foreign_tag_is_ignored_but_the_tenants_own_domain_may_use_it(app):
    a = app.thread_message(mail("a@x"), b"")
    stranger = app.thread_message(
        mail("s@x", subject=f"[#{a.thread_number}] hi", sender="eve@evil.example"), b""
    )
    assert stranger.new_thread and "sender not a participant" in stranger.detail
    colleague = app.thread_message(
        mail("k@x", subject=f"[#{a.thread_number}] forwarded", sender="boss@acme.example"), b""
    )
    assert (colleague.thread_id, colleague.signal) == (a.thread_id, "thread_tag")


def test_self_referencing_and_looping_references_thread_once(app):
    a = app.thread_message(mail("a@x", refs=["a@x"], irt=["a@x"]), b"")
    # b and c name each other as parent (a loop), b also itself; bob's subject matches nothing of his.
    b = app.thread_message(
        mail("b@x", refs=["c@x", "b@x"], irt=["c@x"], subject="Re: Order 12", sender="bob@y.example"), b""
    )
    c = app.thread_message(
        mail("c@x", refs=["b@x", "a@x"], irt=["b@x"], subject="Re: Order 12", sender="bob@y.example"), b""
    )
    assert a.new_thread and b.new_thread
    assert c.thread_id == a.thread_id and c.merged_thread_ids == (b.thread_id,)
    assert app.get_thread(b.thread_id).merged_into == a.thread_id


def test_a_routing_rule_requests_a_status_once_per_event(app):
    from eventsourcing.persistence import Tracking
    from responer_threading.handlers import apply_requested_status

    a = app.thread_message(mail("a@x"), b"")
    request = events_pb2.ThreadStatusRequested(
        tenant_id=TENANT, thread_id=str(a.thread_id), status="closed", by_rule_id="r1"
    )
    tracking = Tracking(notification_id=3, application_name="routing")
    apply_requested_status(app, request, tracking)
    assert app.get_thread(a.thread_id).status_history[-1] | {"at": ""} == {
        "status": "closed",
        "previous": "open",
        "by_user_id": "",
        "reason": "rule r1",
        "at": "",
    }
    assert app.already_processed(tracking)
    unknown = events_pb2.ThreadStatusRequested(tenant_id=TENANT, thread_id=str(uuid.uuid4()), status="closed")
    apply_requested_status(app, unknown, Tracking(notification_id=4, application_name="routing"))
    assert app.already_processed(Tracking(notification_id=4, application_name="routing"))
