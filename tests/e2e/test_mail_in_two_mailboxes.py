"""The same mail CC'd to two mailboxes of one tenant (sales@ and support@, two logins on one dovecot) is
one conversation in both: one message, `mailbox:` finds it under either, the thread lists both.
Observed through the public HTTP API only."""

from __future__ import annotations

import secrets
import uuid

import pytest
from responer_cli.devstack.pytest_plugin import ImapAccount

from tests.e2e.helpers import customer_mail, eventually, login, register_mailbox

ARRIVAL_BUDGET_S = 15.0


@pytest.fixture(scope="module")
def api(stack):
    client = login(stack.gateway_url, stack.admin_email, stack.admin_password)
    yield client
    client.close()


@pytest.fixture
def second_account(dovecot) -> ImapAccount:
    user = f"u{secrets.token_hex(5)}@imap.responer.test"
    password = secrets.token_urlsafe(10)
    dovecot.add_user(user, password)
    return ImapAccount(dovecot.host, dovecot.port, user, password, dovecot)


def search(api, query: str) -> list[dict]:
    return api.get("/api/search", params={"q": query}).raise_for_status().json()["threads"]


def test_mail_cced_to_two_mailboxes_is_one_conversation_in_both(api, imap_account, second_account):
    run = uuid.uuid4().hex[:6]
    support = register_mailbox(api, imap_account, f"support-{run}@shop.test")
    sales = register_mailbox(api, second_account, f"sales-{run}@shop.test")
    word = f"kangur{run}"
    subject = f"Faktura i dostawa {run}"
    message_id, raw = customer_mail(
        subject,
        f"Proszę o fakturę, paczka nie dotarła. {word}",
        to=f"{support['address']}, {sales['address']}",
    )

    imap_account.append(raw)
    thread = eventually(lambda: next(iter(search(api, word)), None), ARRIVAL_BUDGET_S, "the mail in support")
    assert search(api, f"mailbox:{sales['address']} {word}") == []

    # The same bytes arrive in the sales mailbox: still one conversation with one message, now in both.
    second_account.append(raw)

    def in_both() -> dict | None:
        detail = api.get(f"/api/threads/{thread['id']}").raise_for_status().json()
        return detail if len(detail["mailboxes"]) == 2 else None

    detail = eventually(in_both, ARRIVAL_BUDGET_S, "the conversation lists both mailboxes")
    assert detail["mailboxes"] == [
        {"id": support["id"], "address": support["address"]},
        {"id": sales["id"], "address": sales["address"]},
    ]
    assert [m["message_id"] for m in detail["messages"]] == [message_id]
    (message,) = detail["messages"]
    assert message["mailbox_id"] == support["id"]
    assert message["other_mailboxes"] == [{"id": sales["id"], "address": sales["address"]}]

    state = api.get(f"/api/threads/{thread['id']}/state").raise_for_status().json()
    assert state["mailbox_ids"] == [support["id"], sales["id"]]  # threading's own record

    for mailbox in (support, sales):
        assert [t["id"] for t in search(api, f"mailbox:{mailbox['address']} {word}")] == [thread["id"]]
        assert [t["id"] for t in search(api, f"mailbox:{mailbox['id']} {word}")] == [thread["id"]]
    (only,) = search(api, word)
    assert only["id"] == thread["id"] and only["message_count"] == 1
