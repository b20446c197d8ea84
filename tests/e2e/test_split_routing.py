"""A split across services, on real mail from IMAP: the split-off thread keeps the conversation's
routing (assignee, tags, priority — routing's /routing), is listed with its assignee in the Inbox and
found by tag (search's read model, from routing's ThreadAssigned kind `split`), and the undo brings the
message back to the original, which keeps its own routing."""

from __future__ import annotations

import uuid

import pytest

from tests.e2e.helpers import customer_mail, eventually, login, register_mailbox

pytestmark = pytest.mark.e2e
BUDGET_S = 30.0


@pytest.fixture(scope="module")
def api(stack):
    client = login(stack.gateway_url, stack.admin_email, stack.admin_password)
    yield client
    client.close()


def listed(api, thread_id: str) -> dict | None:
    threads = api.get("/api/threads", params={"folder": "Inbox", "limit": 200}).raise_for_status().json()
    return next((t for t in threads["threads"] if t["id"] == thread_id), None)


def found(api, query: str) -> list[str]:
    return [t["id"] for t in api.get("/api/search", params={"q": query}).raise_for_status().json()["threads"]]


def routing(api, thread_id: str) -> dict:
    return api.get(f"/api/threads/{thread_id}/routing").raise_for_status().json()


def test_a_split_off_thread_keeps_its_assignee_tags_and_priority_and_the_undo_brings_it_back(api, imap_account):  # fmt: skip
    mailbox = register_mailbox(api, imap_account, f"split-{uuid.uuid4().hex[:6]}@shop.test")
    to, sender = mailbox["address"], "Ola <ola@klient.pl>"
    subject = f"Faktura {uuid.uuid4().hex[:6]}"
    first_id, raw = customer_mail(subject, "Proszę o fakturę.", to=to, sender=sender)
    imap_account.append(raw)

    def by_subject():
        threads = api.get("/api/threads", params={"folder": "Inbox", "limit": 200}).json()["threads"]
        return next((t for t in threads if t["subject"] == subject), None)

    thread = eventually(by_subject, BUDGET_S, f"thread {subject!r} in Inbox")
    email = f"marta-{uuid.uuid4().hex[:6]}@shop.test"
    body = {"email": email, "name": "Marta", "password": "agent-password-1", "role": "agent"}
    marta = api.post("/api/users", json=body).raise_for_status().json()["id"]
    api.post(f"/api/threads/{thread['id']}/assign", json={"user_id": marta}).raise_for_status()
    tag = f"vip{uuid.uuid4().hex[:4]}"
    api.post(f"/api/threads/{thread['id']}/tags", json={"add": [tag]}).raise_for_status()
    api.post(f"/api/threads/{thread['id']}/priority", json={"priority": "high"}).raise_for_status()

    late_id, raw = customer_mail(
        f"Re: {subject}", "A przy okazji: zmiana adresu.", to=to, sender=sender, in_reply_to=first_id
    )
    imap_account.append(raw)

    def late_message():
        messages = api.get(f"/api/threads/{thread['id']}/state").json()["messages"]
        return next((m for m in messages if m["rfc_message_id"] == late_id), None)

    late = eventually(late_message, BUDGET_S, "the second message in the thread")
    split = api.post(f"/api/threads/{thread['id']}/split", json={"message_id": late["message_id"]})
    assert split.status_code == 200, split.text
    new_id = split.json()["new_thread"]["thread_id"]

    def inherited():
        r = routing(api, new_id)
        return r if r["history"] else None

    r = eventually(inherited, BUDGET_S, "the split-off thread's routing")
    assert (r["folder"], r["user_id"], r["tags"], r["priority"]) == ("Inbox", marta, [tag], "high")
    assert [h["kind"] for h in r["history"]] == ["split"]
    # Search heard it too: listed with its assignee, found by the inherited tag.
    eventually(
        lambda: (listed(api, new_id) or {}).get("assignee_user_id") == marta, BUDGET_S, "assignee listed"
    )
    eventually(lambda: new_id in found(api, f"tag:{tag}"), BUDGET_S, "found by its tag")

    assert api.post(f"/api/splits/{split.json()['split_id']}/undo").status_code == 200
    eventually(lambda: routing(api, new_id)["merged_into"] == thread["id"], BUDGET_S, "merged back")
    original = routing(api, thread["id"])
    assert (original["user_id"], original["tags"], original["priority"]) == (marta, [tag], "high")
    assert [h["kind"] for h in original["history"]] == ["manual"]
