"""Per-user unread state through the public HTTP API against the running stack: opening a thread
reads it for that user only, our reply and a note keep it read, the customer writing again makes it
unread, "mark unread" holds until the next open, and GET /api/threads?unread=true lists just those."""

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


@pytest.fixture(scope="module")
def colleague(api, stack):
    email = f"ewa-{uuid.uuid4().hex[:6]}@shop.test"
    api.post(
        "/api/users", json={"email": email, "name": "Ewa", "password": "agent-password-1"}
    ).raise_for_status()
    client = login(stack.gateway_url, email, "agent-password-1")
    yield client
    client.close()


def listed(client, subject: str, **params) -> dict | None:
    query = {"folder": "Inbox", "limit": 200} | params
    threads = client.get("/api/threads", params=query).raise_for_status().json()["threads"]
    return next((t for t in threads if t["subject"] == subject), None)


def becomes(client, subject: str, unread: bool, what: str, **expect) -> dict:
    def probe():
        thread = listed(client, subject)
        if thread is None or thread["unread"] is not unread:
            return None
        return thread if all(thread[k] == v for k, v in expect.items()) else None

    return eventually(probe, BUDGET_S, what)


def test_unread_follows_each_user_opening_replying_new_mail_and_mark_unread(
    api, colleague, imap_account, smtp_catcher
):
    mailbox = register_mailbox(api, imap_account, f"help-{uuid.uuid4().hex[:6]}@shop.test")
    subject = f"Reklamacja {uuid.uuid4().hex[:6]}"
    first_id, raw = customer_mail(subject, "Czajnik przecieka.", to=mailbox["address"])
    imap_account.append(raw)
    thread = becomes(api, subject, True, "a new customer thread, unread for the admin")
    assert becomes(colleague, subject, True, "and unread for a colleague")["id"] == thread["id"]
    assert listed(api, subject, unread="true") is not None
    assert listed(api, subject, unread="false") is None

    # Opening it reads it for the admin only.
    opened = api.get(f"/api/threads/{thread['id']}").raise_for_status().json()
    assert [m["message_id"] for m in opened["messages"]] == [first_id]
    becomes(api, subject, False, "read for the admin after opening it")
    assert listed(api, subject, unread="true") is None
    assert listed(colleague, subject)["unread"] is True

    # Our reply and a note do not make it unread.
    api.post(f"/api/threads/{thread['id']}/notes", json={"body": "Sprawdzam gwarancję"}).raise_for_status()
    before = len(smtp_catcher.messages)
    sent = api.post(f"/api/threads/{thread['id']}/replies", json={"body": "Prosimy o zdjęcie."})
    assert sent.status_code == 202, sent.text
    smtp_catcher.wait_for(before + 1, timeout=15)
    becomes(api, subject, False, "still read once our reply is in the thread", message_count=2)

    # The customer writes again: unread for the admin, listed by ?unread=true.
    _, again = customer_mail(
        f"Re: {subject}", "Zdjęcie w załączniku.", to=mailbox["address"], in_reply_to=first_id
    )
    imap_account.append(again)
    becomes(api, subject, True, "unread again after the customer's new message", message_count=3)
    assert listed(api, subject, unread="true")["id"] == thread["id"]

    # Open, then mark unread: unread until the next open.
    api.get(f"/api/threads/{thread['id']}").raise_for_status()
    becomes(api, subject, False, "read after opening it again")
    marked = api.post(f"/api/threads/{thread['id']}/unread")
    assert marked.status_code == 204, marked.text
    becomes(api, subject, True, "unread after 'mark unread'")
    assert listed(colleague, subject)["unread"] is True  # the colleague never opened it
    api.get(f"/api/threads/{thread['id']}").raise_for_status()
    becomes(api, subject, False, "read after opening it once more")

    # is:unread in search is per user too.
    hits = api.get("/api/search", params={"q": f'"{subject}" is:unread'}).raise_for_status().json()
    assert hits["threads"] == []
    mine = colleague.get("/api/search", params={"q": f'"{subject}" is:unread'}).raise_for_status().json()
    assert [(t["id"], t["unread"]) for t in mine["threads"]] == [(thread["id"], True)]


def test_marking_another_tenants_or_an_unknown_thread_unread_is_not_found(api):
    response = api.post(f"/api/threads/{uuid.uuid4()}/unread")
    assert response.status_code == 404, response.text
