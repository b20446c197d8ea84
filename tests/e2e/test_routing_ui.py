"""Routing in the agent's web UI, against the full stack: assign a thread to a colleague and tag it
from the thread view; the availability toggle; the rules page tries a rule on recent threads."""

from __future__ import annotations

import uuid

import pytest

from tests.e2e.helpers import customer_mail, eventually, login, register_mailbox
from tests.e2e.test_web_ui import CHROMIUM_ARGS

pytestmark = [pytest.mark.browser, pytest.mark.e2e]


@pytest.fixture
async def page(chromium_path):
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        page = await (await browser.new_context(locale="pl-PL", timezone_id="Europe/Warsaw")).new_page()
        page.errors = []  # type: ignore[attr-defined]
        page.on("pageerror", lambda exc: page.errors.append(str(exc)))
        yield page
        await browser.close()


async def test_an_agent_assigns_and_tags_a_thread_from_the_ui(page, stack, imap_account):
    from playwright.async_api import expect

    api = login(stack.gateway_url, stack.admin_email, stack.admin_password)
    marker = uuid.uuid4().hex[:6]
    address = f"ui-{marker}@shop.test"
    register_mailbox(api, imap_account, address)
    colleague = api.post(
        "/api/users",
        json={
            "email": f"dorota-{marker}@shop.test",
            "name": f"Dorota {marker}",
            "password": "agent-password-1",
        },
    ).json()
    subject = f"Reklamacja {marker}"
    imap_account.append(customer_mail(subject, "Paczka przyszła uszkodzona.", to=address)[1])

    def in_inbox() -> dict | None:
        threads = api.get("/api/threads", params={"folder": "Inbox"}).raise_for_status().json()["threads"]
        return next((t for t in threads if t["subject"] == subject), None)

    thread = eventually(in_inbox, 30, "the mail in the Inbox")

    await page.goto(stack.gateway_url + "/")
    await page.get_by_test_id("login-email").fill(stack.admin_email)
    await page.get_by_test_id("login-password").fill(stack.admin_password)
    await page.get_by_test_id("login-submit").click()
    await expect(page.get_by_test_id("app-view")).to_be_visible()

    # The availability toggle in the header.
    toggle = page.get_by_test_id("availability-toggle")
    before = await toggle.get_attribute("data-available")
    await toggle.click()
    after = "false" if before == "true" else "true"
    await expect(toggle).to_have_attribute("data-available", after)
    assert str(api.get("/api/me").json()["available"]).lower() == after
    await expect(page.get_by_test_id("notifications")).to_be_visible()

    # Open the thread: its routing shows, unassigned.
    await page.locator(f'[data-testid="thread-item"][data-thread-id="{thread["id"]}"]').click()
    await expect(page.get_by_test_id("thread-subject")).to_have_text(subject)
    await expect(page.get_by_test_id("thread-assignee")).to_have_text("Unassigned")
    await expect(page.get_by_test_id("thread-priority")).to_have_text("normal")

    # Assign to the colleague with the picker, tag it, raise the priority.
    await page.get_by_test_id("assign-select").select_option(f"user:{colleague['id']}")
    await page.get_by_test_id("assign-submit").click()
    await expect(page.get_by_test_id("thread-assignee")).to_have_text(f"Dorota {marker}")
    await page.get_by_test_id("tag-input").fill("uszkodzenie")
    await page.get_by_test_id("tag-add").click()
    await expect(page.locator('[data-testid="thread-tag"][data-tag="uszkodzenie"]')).to_be_visible()
    await page.get_by_test_id("priority-select").select_option("high")
    await expect(page.get_by_test_id("thread-priority")).to_have_text("high")

    routing = api.get(f"/api/threads/{thread['id']}/routing").raise_for_status().json()
    assert routing["user_id"] == colleague["id"] and routing["history"][-1]["kind"] == "manual"
    assert routing["tags"] == ["uszkodzenie"] and routing["priority"] == "high"

    # Untag from the chip.
    await page.locator(
        '[data-testid="thread-tag"][data-tag="uszkodzenie"] [data-testid="tag-remove"]'
    ).click()
    await expect(page.get_by_test_id("thread-tag")).to_have_count(0)

    # The rules page tries an unsaved rule on recent threads and lists what it matches.
    await page.locator('[data-testid="view"][data-view="rules"]').click()
    await expect(page.get_by_test_id("rules-page")).to_be_visible()
    conditions = f'[{{"field": "subject", "op": "contains", "value": "{marker}"}}]'
    await page.get_by_test_id("rule-conditions").fill(conditions)
    await page.get_by_test_id("rule-try").click()
    await expect(page.locator(f'[data-testid="rule-match"][data-thread-id="{thread["id"]}"]')).to_be_visible()
    await page.get_by_test_id("rule-conditions").fill("[not json")
    await page.get_by_test_id("rule-try").click()
    await expect(page.get_by_test_id("rule-status")).to_contain_text("Not JSON")
    api.close()
    assert page.errors == []  # type: ignore[attr-defined]
