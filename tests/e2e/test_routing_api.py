"""Rules, folders and assignment managed through the gateway's API, acting on real mail from IMAP."""

from __future__ import annotations

import uuid

import pytest

from tests.e2e.helpers import customer_mail, eventually, login, register_mailbox

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def api(stack):
    client = login(stack.gateway_url, stack.admin_email, stack.admin_password)
    yield client
    client.close()


def thread_in(api, folder: str, subject: str) -> dict | None:
    threads = api.get("/api/threads", params={"folder": folder}).raise_for_status().json()["threads"]
    return next((t for t in threads if t["subject"] == subject), None)


def test_rules_folders_and_assignment_through_the_api(stack, api, imap_account):
    address = f"routing-{uuid.uuid4().hex[:6]}@shop.test"
    register_mailbox(api, imap_account, address)
    marker = uuid.uuid4().hex[:6]

    # A mail before the rule exists: the rule, tried before saving, shows it would match it.
    early = f"Faktura {marker} do korekty"
    imap_account.append(customer_mail(early, "Proszę o korektę faktury.", to=address)[1])
    eventually(lambda: thread_in(api, "Inbox", early), 20, "first mail in the Inbox")

    folder = api.post("/api/folders", json={"name": f"Faktury {marker}"}).raise_for_status().json()
    names = [f["name"] for f in api.get("/api/folders/setup").raise_for_status().json()]
    assert names[:6] == ["Inbox", "Mine", "Unassigned", "System", "Closed", "Spam"]
    assert folder["name"] in names

    rule = {
        "name": f"Invoices {marker}",
        "match": "all",
        "conditions": [{"field": "subject", "op": "regex", "value": rf"faktur\w*\s+{marker}"}],
        "actions": [
            {"type": "folder", "value": folder["name"]},
            {"type": "tag", "value": "billing"},
            {"type": "priority", "value": "high"},
            {"type": "stop"},
        ],
    }
    tried = eventually(
        lambda: (
            (r := api.post("/api/rules/try", json=rule | {"last": 50}).raise_for_status().json())["matches"]
            and r
        ),
        10,
        "the rule's trial matches the earlier mail",
    )
    assert [m["subject"] for m in tried["matches"]] == [early]
    assert api.get("/api/rules").json() == []  # trying saved nothing

    bad = api.post(
        "/api/rules", json=rule | {"conditions": [{"field": "subject", "op": "regex", "value": "(x"}]}
    )
    assert bad.status_code == 422 and "regex" in bad.json()["detail"]
    saved = api.post("/api/rules", json=rule).raise_for_status().json()
    later = (
        api.post(
            "/api/rules",
            json={
                "name": f"Never {marker}",
                "conditions": [{"field": "subject", "op": "contains", "value": marker}],
                "actions": [{"type": "tag", "value": "never"}],
            },  # fmt: skip
        )
        .raise_for_status()
        .json()
    )
    assert [r["rule_id"] for r in api.get("/api/rules").json()] == [saved["rule_id"], later["rule_id"]]

    # New mail matching the rule: own folder, tag, priority; the later rule never ran (stop).
    subject = f"Faktura {marker} nr 7"
    imap_account.append(customer_mail(subject, "W załączeniu faktura.", to=address)[1])
    thread = eventually(lambda: thread_in(api, folder["name"], subject), 20, "mail filed by the rule")
    routing = api.get(f"/api/threads/{thread['id']}/routing").raise_for_status().json()
    assert routing["folder"] == folder["name"]
    assert routing["tags"] == ["billing"] and routing["priority"] == "high"

    # Reordering puts the other rule first.
    order = api.post("/api/rules/order", json={"rule_ids": [later["rule_id"], saved["rule_id"]]}).json()
    assert [r["rule_id"] for r in order] == [later["rule_id"], saved["rule_id"]]

    # Manual assign, reassign and unassign, with the full history.
    me = api.get("/api/me").json()["id"]
    other = str(uuid.uuid4())
    api.post(f"/api/threads/{thread['id']}/assign", json={"user_id": me, "reason": "mine"}).raise_for_status()
    api.post(
        f"/api/threads/{thread['id']}/assign", json={"user_id": other, "reason": "holiday"}
    ).raise_for_status()
    final = api.post(f"/api/threads/{thread['id']}/assign", json={}).raise_for_status().json()
    history = final["history"]
    assert [(h["user_id"], h["previous_user_id"], h["kind"]) for h in history] == [
        (me, "", "manual"),
        (other, me, "manual"),
        ("", other, "manual"),
    ]
    assert all(h["by_user_id"] == me for h in history) and history[1]["reason"] == "holiday"

    # The unanswered view lists the conversation; removing the rule and the folder works.
    unanswered = api.get("/api/unanswered").raise_for_status().json()
    assert thread["id"] in {t["thread_id"] for t in unanswered}
    assert api.delete(f"/api/rules/{later['rule_id']}").status_code == 200
    assert api.delete(f"/api/folders/{folder['folder_id']}").status_code == 200
    assert api.delete(f"/api/folders/{folder['folder_id']}").status_code == 404
