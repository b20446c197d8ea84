"""Unread threads in the agent's web UI, against the full stack: bold with a dot in the list, read once
opened, "Mark unread" in the thread view, and the state survives a reload (it is the server's)."""

from __future__ import annotations

import uuid

import pytest

from tests.e2e.helpers import customer_mail, eventually, login, register_mailbox
from tests.e2e.test_conversations_ui import page  # noqa: F401 - the browser page fixture

pytestmark = [pytest.mark.browser, pytest.mark.e2e]


async def test_unread_is_bold_with_a_dot_opening_reads_it_and_mark_unread_brings_it_back(
    page,  # noqa: F811
    stack,
    imap_account,
):
    from playwright.async_api import expect

    api = login(stack.gateway_url, stack.admin_email, stack.admin_password)
    marker = uuid.uuid4().hex[:6]
    address = f"unread-{marker}@shop.test"
    register_mailbox(api, imap_account, address)
    subject = f"Nieprzeczytane {marker}"
    imap_account.append(customer_mail(subject, "Gdzie moja paczka?", to=address)[1])

    def ours(unread: bool):
        def probe() -> dict | None:
            threads = api.get("/api/threads", params={"folder": "Inbox", "limit": 200}).json()["threads"]
            return next((t for t in threads if t["subject"] == subject and t["unread"] is unread), None)

        return probe

    thread = eventually(ours(True), 30, "the new thread, unread for the admin")

    await page.goto(stack.gateway_url + "/")
    await page.get_by_test_id("login-email").fill(stack.admin_email)
    await page.get_by_test_id("login-password").fill(stack.admin_password)
    await page.get_by_test_id("login-submit").click()
    await expect(page.get_by_test_id("app-view")).to_be_visible()

    item = page.locator(f'[data-testid="thread-item"][data-thread-id="{thread["id"]}"]')
    dot = item.get_by_test_id("thread-item-unread-dot")
    await expect(item).to_have_attribute("data-unread", "true")
    await expect(dot).to_be_visible()
    weight = await item.get_by_test_id("thread-item-subject").evaluate("e => getComputedStyle(e).fontWeight")
    assert int(weight) >= 700

    await item.click()
    await expect(page.get_by_test_id("thread-subject")).to_have_text(subject)
    await expect(item).to_have_attribute("data-unread", "false")
    await expect(dot).to_be_hidden()
    eventually(ours(False), 15, "read on the server after opening it")

    await page.get_by_test_id("mark-unread").click()
    await expect(item).to_have_attribute("data-unread", "true")
    eventually(ours(True), 15, "unread on the server after 'Mark unread'")
    await page.reload()
    await expect(item).to_have_attribute("data-unread", "true")
    await expect(dot).to_be_visible()
    assert page.errors == []  # type: ignore[attr-defined]
    api.close()
