"""Conversation commands through the public HTTP API against the running stack: notes that never go out
by mail, merge and split with their undo, status and reopen, a foreign thread tag, merge suggestions
and the mailbox's threading policy. Threading's own record (GET /api/threads/{id}/state) is the witness."""

from __future__ import annotations

import uuid

import pytest

from tests.e2e.helpers import customer_mail, eventually, login, register_mailbox

pytestmark = pytest.mark.e2e
BUDGET_S = 15.0


@pytest.fixture(scope="module")
def api(stack):
    client = login(stack.gateway_url, stack.admin_email, stack.admin_password)
    yield client
    client.close()


@pytest.fixture
def mailbox(api, imap_account):
    address = f"help-{uuid.uuid4().hex[:6]}@shop.test"
    return register_mailbox(api, imap_account, address)


def thread_of(api, subject: str) -> dict:
    def probe():
        for thread in api.get("/api/threads", params={"folder": "Inbox", "limit": 200}).json()["threads"]:
            if thread["subject"] == subject:
                return thread
        return None

    return eventually(probe, BUDGET_S, f"thread {subject!r} in Inbox")


def state(api, thread_id: str) -> dict:
    return api.get(f"/api/threads/{thread_id}/state").raise_for_status().json()


def has_message(api, thread_id: str, rfc_id: str) -> dict | None:
    current = state(api, thread_id)
    return current if any(m["rfc_message_id"] == rfc_id for m in current["messages"]) else None


def test_a_note_never_reaches_the_customer_even_when_the_agent_replies_right_after(
    api, mailbox, imap_account, smtp_catcher
):
    subject = f"Zwrot {uuid.uuid4().hex[:6]}"
    _, raw = customer_mail(subject, "Chcę zwrócić czajnik.", to=mailbox["address"])
    imap_account.append(raw)
    thread = thread_of(api, subject)
    secret = f"internal-{uuid.uuid4().hex}"
    colleague = api.post(
        "/api/users",
        json={"email": f"marta-{secret[-6:]}@shop.test", "name": "Marta", "password": "agent-password-1"},
    ).json()
    body = f"VIP, be nice. @marta-{secret[-6:]}@shop.test @nobody@else.test {secret}"
    note = api.post(f"/api/threads/{thread['id']}/notes", json={"body": body})
    assert note.status_code == 201, note.text
    assert note.json()["mentions"] == [colleague["id"]]
    before = len(smtp_catcher.messages)
    sent = api.post(f"/api/threads/{thread['id']}/replies", json={"body": "Dzień dobry, prosimy odesłać."})
    assert sent.status_code == 202, sent.text
    smtp_catcher.wait_for(before + 1, timeout=15)
    assert all(secret.encode() not in m.data for m in smtp_catcher.messages)
    notes = state(api, thread["id"])["notes"]
    assert [n["body"] for n in notes] == [body]

    # Edit and delete; the note stays in the record as deleted.
    note_id = note.json()["note_id"]
    edited = api.patch(f"/api/threads/{thread['id']}/notes/{note_id}", json={"body": "edited"})
    assert edited.json()["body"] == "edited"
    api.delete(f"/api/threads/{thread['id']}/notes/{note_id}").raise_for_status()
    assert state(api, thread["id"])["notes"][0]["deleted"] is True
    missing = api.patch(f"/api/threads/{thread['id']}/notes/{uuid.uuid4()}", json={"body": "x"})
    assert missing.status_code == 404


def test_merge_then_reply_follows_and_undo_merge_and_split(api, mailbox, imap_account):
    to = mailbox["address"]
    subject_a, subject_b = f"Faktura {uuid.uuid4().hex[:6]}", f"Dostawa {uuid.uuid4().hex[:6]}"
    a_id, a_raw = customer_mail(subject_a, "Proszę o fakturę.", to=to, sender="Ola <ola@klient.pl>")
    b_id, b_raw = customer_mail(subject_b, "Gdzie paczka?", to=to, sender="Ola <ola@klient.pl>")
    imap_account.append(a_raw)
    a = thread_of(api, subject_a)
    imap_account.append(b_raw)
    b = thread_of(api, subject_b)
    assert a["id"] != b["id"]

    merged = api.post(f"/api/threads/{b['id']}/merge", json={"into_number": a["number"]})
    assert merged.status_code == 200, merged.text
    merge_id = merged.json()["merge_id"]
    assert merged.json()["source"]["merged_into_number"] == str(a["number"])
    # Later mail to the merged thread follows the merge.
    r_id, r_raw = customer_mail(
        f"Re: {subject_b}", "Nadal czekam.", to=to, sender="Ola <ola@klient.pl>", in_reply_to=b_id
    )
    imap_account.append(r_raw)
    eventually(lambda: has_message(api, a["id"], r_id), BUDGET_S, "reply to merged thread in the target")

    undone = api.post(f"/api/merges/{merge_id}/undo")
    assert undone.status_code == 200, undone.text
    source = state(api, b["id"])
    assert source["merged_into_thread_id"] == "" and [m["rfc_message_id"] for m in source["messages"]] == [
        b_id
    ]
    assert [h["kind"] for h in source["history"]] == ["merged_into", "unmerged"]

    # Split the late reply out of A into a thread of its own, then undo.
    late = next(m for m in state(api, a["id"])["messages"] if m["rfc_message_id"] == r_id)
    split = api.post(f"/api/threads/{a['id']}/split", json={"message_id": late["message_id"]})
    assert split.status_code == 200, split.text
    new_thread = split.json()["new_thread"]
    assert [m["rfc_message_id"] for m in new_thread["messages"]] == [r_id]
    assert r_id not in [m["rfc_message_id"] for m in state(api, a["id"])["messages"]]
    assert api.post(f"/api/splits/{split.json()['split_id']}/undo").status_code == 200
    assert has_message(api, a["id"], r_id)
    assert api.post(f"/api/merges/{uuid.uuid4()}/undo").status_code == 404


def test_status_pending_then_customer_reply_reopens_and_foreign_tag_is_ignored(api, mailbox, imap_account):
    to = mailbox["address"]
    subject = f"Reklamacja {uuid.uuid4().hex[:6]}"
    first_id, raw = customer_mail(subject, "Uszkodzony.", to=to, sender="Piotr <piotr@klient.pl>")
    imap_account.append(raw)
    thread = thread_of(api, subject)
    assert (
        api.put(f"/api/threads/{thread['id']}/status", json={"status": "pending"}).json()["status"]
        == "pending"
    )
    assert api.put(f"/api/threads/{thread['id']}/status", json={"status": "lost"}).status_code == 422

    # A stranger's mail carrying this thread's tag does not join it.
    stranger_id, stranger = customer_mail(
        f"[#{thread['number']}] hello", "Let me in.", to=to, sender="Eve <eve@evil.example>"
    )
    imap_account.append(stranger)
    reply_id, reply = customer_mail(
        f"Re: {subject}", "Jakieś wieści?", to=to, sender="Piotr <piotr@klient.pl>", in_reply_to=first_id
    )
    imap_account.append(reply)

    def reopened():
        current = has_message(api, thread["id"], reply_id)
        return current if current and current["status"] == "open" else None

    current = eventually(reopened, BUDGET_S, "customer reply reopened the thread")
    assert [(h["previous"], h["status"], h["reason"]) for h in current["status_history"]] == [
        ("open", "pending", "agent"),
        ("pending", "open", "customer_replied"),
    ]
    assert stranger_id not in [m["rfc_message_id"] for m in current["messages"]]


def test_customer_writing_twice_gets_one_click_merge_suggestion(api, mailbox, imap_account):
    to = mailbox["address"]
    subject = f"Brak paczki {uuid.uuid4().hex[:6]}"
    sender = f"Kasia <kasia{uuid.uuid4().hex[:4]}@klient.pl>"
    _, first = customer_mail(subject, "Gdzie jest paczka?", to=to, sender=sender)
    imap_account.append(first)
    older = thread_of(api, subject)
    # Six days later, past the resend window (5 days) that would join it: a suggestion, not a merge.
    _, second = customer_mail(
        subject, "Dodam, że to pilne.", to=to, sender=sender, date="Mon, 30 Nov 2026 09:15:00 +0100"
    )
    imap_account.append(second)

    def suggested():
        for thread in api.get("/api/threads", params={"folder": "Inbox", "limit": 200}).json()["threads"]:
            if thread["subject"] == subject and thread["id"] != older["id"]:
                current = state(api, thread["id"])
                if current["merge_suggestions"]:
                    return current
        return None

    newer = eventually(suggested, BUDGET_S, "merge suggestion on the second thread")
    suggestion = newer["merge_suggestions"][0]
    assert suggestion["target_thread_id"] == older["id"] and suggestion["state"] == "open"
    assert newer["merged_into_thread_id"] == ""  # never merged silently
    accepted = api.post(
        f"/api/threads/{newer['thread_id']}/merge-suggestions/{suggestion['suggestion_id']}/accept"
    )
    assert accepted.status_code == 200, accepted.text
    assert state(api, newer["thread_id"])["merged_into_thread_id"] == older["id"]


def test_mailbox_threading_policy_round_trip(api, mailbox):
    path = f"/api/mailboxes/{mailbox['id']}/threading-policy"
    assert api.get(path).json()["reply_to_closed"] == "reopen"
    put = api.put(path, json={"subject_window_days": 7, "reply_to_closed": "new_thread"})
    assert put.status_code == 200, put.text
    assert api.get(path).json() | {} == put.json()
    assert put.json()["subject_window_days"] == 7 and put.json()["reply_to_closed"] == "new_thread"
    api.put(path, json={"reply_to_closed": "reopen"}).raise_for_status()
