"""Groups, availability, round-robin, SLA and contacts through the gateway's API, on real mail from IMAP:
the gateway publishes who is in a group and who is available; routing assigns new mail by it."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from tests.e2e.helpers import customer_mail, eventually, login, register_mailbox

pytestmark = pytest.mark.e2e

PASSWORD = "agent-password-1"


@pytest.fixture(scope="module")
def api(stack):
    client = login(stack.gateway_url, stack.admin_email, stack.admin_password)
    yield client
    client.close()


def add_agent(api, name: str) -> dict:
    email = f"{name.lower()}-{uuid.uuid4().hex[:6]}@shop.test"
    body = {"email": email, "name": name, "password": PASSWORD, "role": "agent"}
    return api.post("/api/users", json=body).raise_for_status().json()


def routed(api, subject: str) -> dict:
    """The thread's routing once routing has assigned it to someone."""

    def probe() -> dict | None:
        threads = api.get("/api/threads", params={"folder": "Inbox"}).raise_for_status().json()["threads"]
        thread = next((t for t in threads if t["subject"] == subject), None)
        if thread is None:
            return None
        routing = api.get(f"/api/threads/{thread['id']}/routing").raise_for_status().json()
        return routing if routing["user_id"] else None

    return eventually(probe, 30, f"{subject!r} assigned")


def routing_sees(api, user_id: str, available: bool, group_id: str) -> bool:
    agents = {a["user_id"]: a for a in api.get("/api/groups/agents").raise_for_status().json()}
    agent = agents.get(user_id)
    return bool(agent and agent["available"] == available and group_id in agent["group_ids"])


def test_new_mail_goes_round_robin_to_available_agents_with_a_due_time(stack, api, imap_account):
    marker = uuid.uuid4().hex[:6]
    address = f"assign-{marker}@shop.test"
    mailbox = register_mailbox(api, imap_account, address)
    anna, bob = add_agent(api, "Anna"), add_agent(api, "Bob")
    users = {u["id"] for u in api.get("/api/users").raise_for_status().json()}
    assert {anna["id"], bob["id"]} <= users

    # Invalid input is refused with a message that says what is wrong.
    foreign = api.post("/api/groups", json={"name": f"X {marker}", "member_user_ids": [str(uuid.uuid4())]})
    assert foreign.status_code == 422 and "users of the tenant" in foreign.json()["detail"]
    bad_strategy = api.post("/api/groups", json={"name": f"X {marker}", "policy": {"strategy": "lottery"}})
    assert bad_strategy.status_code == 422
    bad_zone = api.put("/api/sla/business-hours", json={"time_zone": "Mars/Olympus", "days": []})
    assert bad_zone.status_code == 422 and "time zone" in bad_zone.text
    no_deadline = api.post("/api/sla/policies", json={"name": "empty", "first_response_minutes": 0})
    assert no_deadline.status_code == 422 and "first_response_minutes" in no_deadline.text

    group = (
        api.post(
            "/api/groups", json={"name": f"Support {marker}", "member_user_ids": [anna["id"], bob["id"]]}
        )
        .raise_for_status()
        .json()
    )
    assert api.post("/api/groups", json={"name": f"support {marker}"}).status_code == 409
    for agent in (anna, bob):
        agent_api = login(stack.gateway_url, agent["email"], PASSWORD)
        me = agent_api.put("/api/me/availability", json={"available": True}).raise_for_status().json()
        assert me["available"] is True
        agent_api.close()
    policy = (
        api.put(f"/api/groups/{group['group_id']}/policy", json={"strategy": "round_robin"})
        .raise_for_status()
        .json()
    )
    assert policy["policy"]["strategy"] == "round_robin"
    listed = {g["group_id"]: g for g in api.get("/api/groups").raise_for_status().json()}
    assert listed[group["group_id"]]["member_user_ids"] == [anna["id"], bob["id"]]
    assert listed[group["group_id"]]["policy"]["strategy"] == "round_robin"
    for agent in (anna, bob):
        eventually(lambda a=agent: routing_sees(api, a["id"], True, group["group_id"]), 15, "routing knows")

    sla = (
        api.post(
            "/api/sla/policies",
            json={"name": f"Support {marker}", "first_response_minutes": 60, "mailbox_ids": [mailbox["id"]]},
        )
        .raise_for_status()
        .json()
    )
    assert sla["policy_id"] and sla["first_response_minutes"] == 60
    rule = api.post(
        "/api/rules",
        json={
            "name": f"Support {marker}",
            "conditions": [{"field": "subject", "op": "contains", "value": marker}],
            "actions": [{"type": "assign_group", "value": group["group_id"]}],
        },
    ).raise_for_status()
    try:
        check_assignment(api, imap_account, marker, address, anna, bob, group, sla)
    finally:  # the stack is shared by the session: other tests expect no rules of ours
        api.delete(f"/api/rules/{rule.json()['rule_id']}").raise_for_status()
    assert api.delete(f"/api/groups/{group['group_id']}").status_code == 204
    assert group["group_id"] not in {g["group_id"] for g in api.get("/api/groups").json()}


def check_assignment(api, imap_account, marker, address, anna, bob, group, sla) -> None:  # noqa: ANN001
    """Round-robin between two available agents, the SLA's due time, an away agent skipped, the contact."""
    sender = f"Klient {marker} <klient-{marker}@klient.pl>"
    first, second = f"Pytanie {marker} 1", f"Pytanie {marker} 2"
    imap_account.append(customer_mail(first, "Dzień dobry, mam pytanie.", sender=sender, to=address)[1])
    one = routed(api, first)
    imap_account.append(customer_mail(second, "I jeszcze jedno.", sender=sender, to=address)[1])
    two = routed(api, second)
    assert {one["user_id"], two["user_id"]} == {anna["id"], bob["id"]}, "round-robin takes turns"
    assert one["group_id"] == two["group_id"] == group["group_id"]
    assert one["history"][-1]["kind"] == "auto" and one["history"][-1]["strategy"] == "round_robin"

    # The SLA policy gave the thread a first-response deadline an hour after the mail arrived.
    deadline = one["deadline"]
    assert deadline["kind"] == "first_response" and deadline["policy_id"] == sla["policy_id"]
    due = dt.datetime.fromisoformat(deadline["due_at"].replace("Z", "+00:00"))
    left = due - dt.datetime.now(dt.UTC)
    assert dt.timedelta(minutes=55) < left <= dt.timedelta(minutes=60), left

    # Bob goes away (set by the admin): the next two threads both go to Anna.
    api.put(f"/api/users/{bob['id']}/availability", json={"available": False}).raise_for_status()
    eventually(
        lambda: routing_sees(api, bob["id"], False, group["group_id"]), 15, "routing knows Bob is away"
    )
    for n in (3, 4):
        subject = f"Pytanie {marker} {n}"
        imap_account.append(customer_mail(subject, "Kolejna sprawa.", sender=sender, to=address)[1])
        assert routed(api, subject)["user_id"] == anna["id"], "an away agent is skipped"

    # The sender became a contact; marked VIP, with its threads.
    contacts = api.get("/api/contacts", params={"q": f"klient-{marker}"}).raise_for_status().json()
    assert [c["email"] for c in contacts] == [f"klient-{marker}@klient.pl"]
    contact = contacts[0]
    edited = api.patch(f"/api/contacts/{contact['contact_id']}", json={"attributes": {"vip": "yes"}}).json()
    assert edited["attributes"] == {"vip": "yes"}
    threads = api.get(f"/api/contacts/{contact['contact_id']}/threads").raise_for_status().json()["threads"]
    assert {t["subject"] for t in threads} >= {first, second}
    assert api.get(f"/api/contacts/{uuid.uuid4()}").status_code == 404


def test_business_hours_round_trip_and_agents_cannot_administer_groups(stack, api):
    hours = {
        "time_zone": "Europe/Warsaw",
        "days": [{"weekday": d, "start": "08:00", "end": "16:00"} for d in range(5)],
        "holidays": ["2026-12-25", "2026-12-26"],
    }
    original = api.get("/api/sla/business-hours").raise_for_status().json()
    saved = api.put("/api/sla/business-hours", json=hours).raise_for_status().json()
    assert saved["time_zone"] == "Europe/Warsaw" and saved["holidays"] == hours["holidays"]
    assert [d["weekday"] for d in saved["days"]] == [0, 1, 2, 3, 4]
    backwards = hours | {"days": [{"weekday": 0, "start": "16:00", "end": "08:00"}]}
    assert api.put("/api/sla/business-hours", json=backwards).status_code == 422
    not_a_date = hours | {"holidays": ["Christmas"]}
    assert api.put("/api/sla/business-hours", json=not_a_date).status_code == 422
    restored = {k: original.get(k) or [] for k in ("days", "holidays")} | {
        "time_zone": original["time_zone"] or "UTC"
    }
    api.put("/api/sla/business-hours", json=restored).raise_for_status()

    agent = add_agent(api, "Cezary")
    agent_api = login(stack.gateway_url, agent["email"], PASSWORD)
    assert agent_api.post("/api/groups", json={"name": "mine"}).status_code == 403
    assert (
        agent_api.put(f"/api/users/{agent['id']}/availability", json={"available": True}).status_code == 403
    )
    agent_api.close()
