"""Mail APPENDed to a real IMAP mailbox becomes a threaded, sorted, searchable conversation that an
agent answers over SMTP — observed through the public HTTP API only."""

from __future__ import annotations

import email
import email.policy
import uuid

import pytest

from tests.e2e.helpers import customer_mail, dsn_bounce, eventually, login, register_mailbox

ARRIVAL_BUDGET_S = 5.0


@pytest.fixture(scope="module")
def api(stack):
    client = login(stack.gateway_url, stack.admin_email, stack.admin_password)
    yield client
    client.close()


def threads_in(api, folder: str) -> list[dict]:
    return api.get("/api/threads", params={"folder": folder}).raise_for_status().json()["threads"]


def find_thread(api, folder: str, subject: str, messages: int) -> dict | None:
    for thread in threads_in(api, folder):
        if thread["subject"] == subject and thread["message_count"] >= messages:
            return thread
    return None


def test_mail_is_threaded_sorted_searchable_and_answered(stack, api, imap_account, smtp_catcher):
    address = f"support-{uuid.uuid4().hex[:6]}@shop.test"
    mailbox = register_mailbox(api, imap_account, address)
    assert "password" not in mailbox and imap_account.password not in str(mailbox)

    word = f"hipopotam{uuid.uuid4().hex[:8]}"
    subject = f"Reklamacja zamówienia {uuid.uuid4().hex[:5]}"
    first_id, first = customer_mail(subject, f"Dzień dobry, żółw przyszedł uszkodzony. {word}", to=address)
    imap_account.append(first)
    thread = eventually(
        lambda: find_thread(api, "Inbox", subject, 1), ARRIVAL_BUDGET_S + 10, "first mail in Inbox"
    )

    # A reply with In-Reply-To lands in the same thread as its parent, within the budget.
    reply_id, reply = customer_mail(
        f"Re: {subject}", "Czy mogę odesłać paczkę?", to=address, in_reply_to=first_id
    )
    imap_account.append(reply)
    same = eventually(
        lambda: find_thread(api, "Inbox", subject, 2), ARRIVAL_BUDGET_S, "reply joined its thread"
    )
    assert same["id"] == thread["id"]
    assert same["number"] == thread["number"]

    # A DSN bounce lands in System, not in the Inbox.
    imap_account.append(dsn_bounce(address, "ktos@nieistnieje.pl"))
    bounce = eventually(
        lambda: next((t for t in threads_in(api, "System") if "Undelivered" in t["subject"]), None),
        ARRIVAL_BUDGET_S,
        "bounce in System",
    )
    assert not any(t["id"] == bounce["id"] for t in threads_in(api, "Inbox"))

    # Findable by a body word, and by the same word without diacritics folding issues.
    found = eventually(
        lambda: api.get("/api/search", params={"q": word}).raise_for_status().json()["threads"],
        ARRIVAL_BUDGET_S,
        "search by body word",
    )
    assert [t["id"] for t in found] == [thread["id"]]
    folded = api.get("/api/search", params={"q": f"zolw {word}"}).raise_for_status().json()["threads"]
    assert [t["id"] for t in folded] == [thread["id"]]

    detail = api.get(f"/api/threads/{thread['id']}").raise_for_status().json()
    assert [m["message_id"] for m in detail["messages"]] == [first_id, reply_id]

    # The agent answers; the reply reaches the SMTP server with correct threading headers.
    before = len(smtp_catcher.messages)
    sent = api.post(
        f"/api/threads/{thread['id']}/replies", json={"body": "Dzień dobry, prosimy odesłać żółwia."}
    )
    assert sent.status_code == 202, sent.text
    smtp_catcher.wait_for(before + 1, timeout=15)
    out = email.message_from_bytes(smtp_catcher.messages[before].data, policy=email.policy.default)
    assert out["In-Reply-To"] == f"<{reply_id}>"
    assert out["References"].split() == [f"<{first_id}>", f"<{reply_id}>"]
    assert out["From"].addresses[0].addr_spec == address
    assert out["To"].addresses[0].addr_spec == "jan.nowak@klient.pl"
    assert f"[#{thread['number']}]" in out["Subject"]
    assert "żółwia" in out.get_content()
    our_id = out["Message-ID"].strip("<>")

    # The sent reply joins its thread.
    def reply_in_thread():
        messages = api.get(f"/api/threads/{thread['id']}").raise_for_status().json()["messages"]
        return messages if any(m["message_id"] == our_id for m in messages) else None

    messages = eventually(reply_in_thread, 10, "sent reply in its thread")
    assert [m["direction"] for m in messages] == ["inbound", "inbound", "outbound"]


def test_every_service_answers_metrics_and_readiness(stack):
    import httpx

    for name in stack.names:
        ready = httpx.get(f"{stack.ops_url(name)}/readyz", timeout=5)
        assert ready.status_code == 200, (name, ready.text)
        metrics = httpx.get(f"{stack.ops_url(name)}/metrics", timeout=5)
        assert metrics.status_code == 200
        assert "responer_ready" in metrics.text, name
