"""Merge and its undo across services, on real mail from IMAP: the merged thread's assignment history
shows on the target (the gateway's /routing, from routing) and its notes in the target's timeline
(search's read model); the undo takes both back to the thread that lives again."""

from __future__ import annotations

import uuid

import grpc
import pytest
from responer.search.v1 import search_pb2, search_pb2_grpc

from tests.e2e.helpers import customer_mail, eventually, login, register_mailbox

pytestmark = pytest.mark.e2e
BUDGET_S = 30.0


@pytest.fixture(scope="module")
def api(stack):
    client = login(stack.gateway_url, stack.admin_email, stack.admin_password)
    yield client
    client.close()


@pytest.fixture(scope="module")
def search(stack):
    channel = grpc.insecure_channel(f"127.0.0.1:{stack.grpc_ports['search']}")
    yield search_pb2_grpc.SearchServiceStub(channel)
    channel.close()


def thread_of(api, subject: str) -> dict:
    def probe():
        for thread in api.get("/api/threads", params={"folder": "Inbox", "limit": 200}).json()["threads"]:
            if thread["subject"] == subject:
                return thread
        return None

    return eventually(probe, BUDGET_S, f"thread {subject!r} in Inbox")


def routing(api, thread_id: str) -> dict:
    return api.get(f"/api/threads/{thread_id}/routing").raise_for_status().json()


def notes_in_timeline(search, tenant_id: str, thread_id: str) -> list[str]:
    detail = search.GetThread(search_pb2.GetThreadRequest(tenant_id=tenant_id, thread_id=thread_id))
    return [i.body for i in detail.timeline if i.kind == "note"]


def test_merged_history_follows_the_merge_and_returns_on_undo(api, search, imap_account):
    tenant_id = api.get("/api/me").raise_for_status().json()["tenant"]["id"]
    mailbox = register_mailbox(api, imap_account, f"merge-{uuid.uuid4().hex[:6]}@shop.test")
    to, sender = mailbox["address"], "Ola <ola@klient.pl>"
    subject_a, subject_b = f"Faktura {uuid.uuid4().hex[:6]}", f"Dostawa {uuid.uuid4().hex[:6]}"
    imap_account.append(customer_mail(subject_a, "Proszę o fakturę.", to=to, sender=sender)[1])
    a = thread_of(api, subject_a)
    imap_account.append(customer_mail(subject_b, "Gdzie paczka?", to=to, sender=sender)[1])
    b = thread_of(api, subject_b)

    agents = []
    for name in ("Marta", "Piotr"):
        email = f"{name.lower()}-{uuid.uuid4().hex[:6]}@shop.test"
        body = {"email": email, "name": name, "password": "agent-password-1", "role": "agent"}
        agents.append(api.post("/api/users", json=body).raise_for_status().json()["id"])
    for agent in agents:  # B is assigned to Marta, then handed over to Piotr
        api.post(f"/api/threads/{b['id']}/assign", json={"user_id": agent}).raise_for_status()
    note = f"Klientka VIP {uuid.uuid4().hex[:6]}"
    api.post(f"/api/threads/{b['id']}/notes", json={"body": note}).raise_for_status()
    eventually(lambda: note in notes_in_timeline(search, tenant_id, b["id"]), BUDGET_S, "note indexed")
    assert routing(api, a["id"])["history"] == []

    merged = api.post(f"/api/threads/{b['id']}/merge", json={"into_number": a["number"]})
    assert merged.status_code == 200, merged.text
    merge_id = merged.json()["merge_id"]

    def target_history():
        history = routing(api, a["id"])["history"]
        return history if len(history) >= 3 else None

    history = eventually(target_history, BUDGET_S, "B's assignment history on A")
    assert [(h["user_id"], h["kind"], h["merged_from"]) for h in history] == [
        (agents[0], "manual", b["id"]),
        (agents[1], "manual", b["id"]),
        (agents[1], "merge", ""),  # A had no assignee: it takes B's
    ]
    assert routing(api, b["id"])["merged_into"] == a["id"]
    eventually(lambda: note in notes_in_timeline(search, tenant_id, a["id"]), BUDGET_S, "B's note on A")

    assert api.post(f"/api/merges/{merge_id}/undo").status_code == 200

    def revived():
        state = routing(api, b["id"])
        return state if not state["merged_into"] else None

    back = eventually(revived, BUDGET_S, "B's routing revived")
    assert [(h["user_id"], h["merged_from"]) for h in back["history"]] == [(agents[0], ""), (agents[1], "")]
    assert back["user_id"] == agents[1]
    target = routing(api, a["id"])
    assert [h["merged_from"] for h in target["history"]] == ["", ""]  # B's entries went back
    assert target["user_id"] == ""  # what the merge brought, the undo gives back
    eventually(lambda: note in notes_in_timeline(search, tenant_id, b["id"]), BUDGET_S, "B's note back on B")
    assert note not in notes_in_timeline(search, tenant_id, a["id"])
