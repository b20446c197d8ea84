"""What a merge does to routing's thread filings, and what its undo gives back (pure domain)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from responer_routing.domain.filing import ThreadFiling, filing_id

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
TENANT = str(uuid.uuid4())


def a_filing(thread_id: str, *, system: bool = False) -> ThreadFiling:
    f = ThreadFiling(tenant_id=TENANT, thread_id=thread_id, id=filing_id(TENANT, thread_id))
    f.sort(f"m-{thread_id}", system=system, kind="bounce" if system else "", reason="", folder="System" if system else "Inbox")  # fmt: skip
    return f


def due(f: ThreadFiling, minutes: int) -> None:
    f.set_due("first_response", T0 + timedelta(minutes=minutes), T0 + timedelta(minutes=minutes - 10), "p")


def test_a_target_with_an_assignee_keeps_it_and_shows_the_sources_history():
    source, target = a_filing("S"), a_filing("T")
    source.assign("u-ola", "g-1", kind="manual", at=T0)
    target.assign("u-piotr", "g-1", kind="manual", at=T0 + timedelta(minutes=5))
    assert target.absorb("m1", source, T0 + timedelta(hours=1))
    assert (target.user_id, [h["user_id"] for h in target.history]) == ("u-piotr", ["u-ola", "u-piotr"])
    assert [h.get("merged_from") for h in target.history] == ["S", None]
    assert not target.absorb("m1", source, T0 + timedelta(hours=1))  # a redelivered merge: nothing twice


def test_the_earlier_pending_deadline_and_the_higher_priority_win_and_the_undo_restores_them():
    source, target = a_filing("S"), a_filing("T")
    due(source, 30)
    due(target, 90)
    source.prioritise("high")
    target.absorb("m1", source, T0)
    source.merge_away("m1", "T")
    assert (target.deadline["due_at"], target.priority) == (T0 + timedelta(minutes=30), "high")
    assert source.deadline is None and source.merged_into == "T"
    assert target.undo_merge("m1", ["m-S"], T0 + timedelta(minutes=1))
    assert source.revive("m1")
    assert (target.deadline["due_at"], target.priority) == (T0 + timedelta(minutes=90), "normal")
    assert source.deadline["due_at"] == T0 + timedelta(minutes=30) and source.merged_into == ""
    assert "m-S" not in target.sorted_messages


def test_the_undo_keeps_what_an_agent_changed_on_the_target_since_the_merge():
    source, target = a_filing("S"), a_filing("T")
    source.assign("u-ola", "g-1", kind="manual", at=T0)
    source.tag("vip")
    target.absorb("m1", source, T0 + timedelta(minutes=1))
    assert target.user_id == "u-ola"
    target.assign("u-piotr", "g-1", kind="manual", at=T0 + timedelta(minutes=2))
    target.undo_merge("m1", [], T0 + timedelta(minutes=3))
    assert target.user_id == "u-piotr"  # reassigned by hand after the merge: stays
    assert target.tags == []  # the tag came with the source: goes back with it
    assert [h["kind"] for h in target.history] == ["merge", "manual"]


def test_customer_mail_merged_into_a_system_thread_brings_it_back_to_the_inbox_until_the_undo():
    source, target = a_filing("S"), a_filing("T", system=True)
    target.absorb("m1", source, T0)
    assert (target.folder, target.system) == ("Inbox", False)
    target.undo_merge("m1", [], T0)
    assert (target.folder, target.system, target.system_kind) == ("System", True, "bounce")


def test_nested_merges_undo_one_at_a_time():
    r, s, t = a_filing("R"), a_filing("S"), a_filing("T")
    r.assign("u-1", "", kind="manual", at=T0)
    s.assign("u-2", "", kind="manual", at=T0 + timedelta(minutes=1))
    s.absorb("m1", r, T0 + timedelta(minutes=2))
    t.absorb("m2", s, T0 + timedelta(minutes=3))
    assert [(h["user_id"], h.get("merged_from")) for h in t.history] == [
        ("u-1", "R"),
        ("u-2", "S"),
        ("u-2", None),
    ]
    t.undo_merge("m2", [], T0 + timedelta(minutes=4))
    assert [h["kind"] for h in t.history] == ["merge", "unmerge"]
    assert [(h["user_id"], h.get("merged_from")) for h in s.history] == [("u-1", "R"), ("u-2", None)]
    s.undo_merge("m1", [], T0 + timedelta(minutes=5))
    assert [h["user_id"] for h in s.history] == ["u-2"]
