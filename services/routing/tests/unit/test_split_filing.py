"""What a split does to routing's thread filings, and how its undo (a merge back) agrees (pure domain)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from responer_routing.domain.filing import ThreadFiling, filing_id

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
TENANT = str(uuid.uuid4())


def a_filing(thread_id: str) -> ThreadFiling:
    return ThreadFiling(tenant_id=TENANT, thread_id=thread_id, id=filing_id(TENANT, thread_id))


def arrive(f: ThreadFiling, message_id: str, minutes: int, *, system: bool = False) -> None:
    at = T0 + timedelta(minutes=minutes)
    folder = "System" if system else "Inbox"
    f.sort(message_id, system=system, kind="bounce" if system else "", reason="r", folder=folder)
    f.describe("Faktura", "ola@klient.pl", "mb-1", at, [], message_id, system)


def due(f: ThreadFiling, minutes: int) -> None:
    f.set_due("first_response", T0 + timedelta(minutes=minutes), T0 + timedelta(minutes=minutes - 10), "p")


def test_the_split_off_thread_takes_folder_assignee_tags_and_priority_of_the_original():
    original, new = a_filing("O"), a_filing("N")
    arrive(original, "m1", 0)
    arrive(original, "m2", 30)
    original.move("Billing")
    original.assign("u-ola", "g-1", kind="manual", at=T0)
    original.tag("vip")
    original.prioritise("high")
    assert new.inherit("s1", original, ["m2"], T0 + timedelta(hours=1), by_user_id="u-piotr")
    assert (new.folder, new.user_id, new.group_id, new.tags, new.priority) == ("Billing", "u-ola", "g-1", ["vip"], "high")  # fmt: skip
    assert [(h["kind"], h["by_user_id"]) for h in new.history] == [("split", "u-piotr")]
    assert new.sorted_messages == ["m2"] and new.split_from == "O"
    assert not new.inherit("s1", original, ["m2"], T0 + timedelta(hours=1))  # redelivered: nothing twice


def test_customer_mail_split_off_a_system_thread_goes_to_the_inbox_but_system_mail_stays_in_system():
    original = a_filing("O")
    arrive(original, "bounce", 0, system=True)
    arrive(original, "customer", 5)  # pulls the thread to the Inbox; an agent puts it back in System
    original.move("System")
    customer, bounce = a_filing("N1"), a_filing("N2")
    customer.inherit("s1", original, ["customer"], T0)
    bounce.inherit("s2", original, ["bounce"], T0)
    assert (customer.folder, customer.system) == ("Inbox", False)
    assert bounce.folder == "System"


def test_unanswered_customer_mail_is_told_from_answered_and_from_system_mail():
    f = a_filing("O")
    arrive(f, "m1", 0)
    f.answered(T0 + timedelta(minutes=10), message_id="r1")
    arrive(f, "m2", 20)
    arrive(f, "m3", 25)
    arrive(f, "bounce", 30, system=True)
    assert f.unanswered_since(["m1", "r1"]) is None  # answered
    assert f.unanswered_since(["m1", "r1", "m2", "m3"]) == T0 + timedelta(minutes=20)
    assert f.unanswered_since(["m3", "bounce"]) == T0 + timedelta(minutes=25)
    assert f.unanswered_since(["bounce"]) is None
    assert f.unanswered_since(["never-seen"]) is None


def test_a_deadline_only_the_split_off_mail_kept_running_is_parked_and_the_undo_brings_it_back():
    original, new = a_filing("O"), a_filing("N")
    arrive(original, "m1", 0)
    original.answered(T0 + timedelta(minutes=10), message_id="r1")
    arrive(original, "m2", 20)
    due(original, 80)
    original.assign("u-ola", "g-1", kind="manual", at=T0)
    new.inherit("s1", original, ["m2"], T0 + timedelta(hours=1))
    assert original.split_away("s1", "N", ["m2"])
    assert not original.split_away("s1", "N", ["m2"])
    assert original.deadline is None and original.sorted_messages == ["m1"]
    assert (original.last_inbound_at, original.last_reply_at) == (T0, T0 + timedelta(minutes=10))  # answered
    assert new.unanswered_since(new.sorted_messages) == T0 + timedelta(minutes=20)
    # The undo is a merge of N back into O, then O takes back what the split parked.
    new.set_due("first_response", T0 + timedelta(minutes=50), T0 + timedelta(minutes=40), "p")  # its own
    brought = dict(new.deadline)
    assert original.absorb("unsplit:s1", new, T0 + timedelta(hours=2))
    assert original.deadline["due_at"] == T0 + timedelta(minutes=50)  # the earlier, as in any merge ...
    new.merge_away("unsplit:s1", "O")
    assert original.rejoin("s1", brought) and not original.rejoin("s1", brought)
    assert original.deadline["due_at"] == T0 + timedelta(minutes=80)  # ... but the split's own goes
    assert original.sorted_messages == ["m1", "m2"] and original.user_id == "u-ola"
    assert [h["kind"] for h in original.history] == ["manual"]  # the inherited assignment is not repeated
    assert original.unanswered_since(original.sorted_messages + ["r1"]) == T0 + timedelta(minutes=20)


def test_the_original_keeps_its_deadline_while_its_own_customer_mail_waits_or_is_unknown():
    waiting, new = a_filing("O"), a_filing("N")
    arrive(waiting, "m1", 0)
    arrive(waiting, "m2", 20)
    due(waiting, 60)
    new.inherit("s1", waiting, ["m2"], T0)
    waiting.split_away("s1", "N", ["m2"])
    assert waiting.deadline["due_at"] == T0 + timedelta(minutes=60)

    legacy = a_filing("L")  # filed before routing remembered arrivals
    legacy.sort("old", system=False, kind="", reason="", folder="Inbox")
    arrive(legacy, "m2", 20)
    due(legacy, 60)
    legacy.split_away("s2", "N2", ["m2"])
    assert legacy.deadline is not None
