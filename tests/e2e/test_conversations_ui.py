"""Conversations in the agent's web UI, against the full stack: an internal note, the status, a merge
by number and its undo, a merge suggestion accepted in one click."""

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


async def test_notes_status_merge_undo_and_a_suggestion_from_the_ui(page, stack, imap_account):
    from playwright.async_api import expect

    api = login(stack.gateway_url, stack.admin_email, stack.admin_password)
    marker = uuid.uuid4().hex[:6]
    address = f"conv-{marker}@shop.test"
    register_mailbox(api, imap_account, address)
    sender = f"Ewa <ewa{marker}@klient.pl>"
    subject, other = f"Zwrot {marker}", f"Faktura {marker}"
    imap_account.append(customer_mail(subject, "Chcę zwrócić towar.", to=address, sender=sender)[1])
    imap_account.append(
        customer_mail(other, "Proszę o fakturę.", to=address, sender=f"Jan <jan{marker}@klient.pl>")[1]
    )
    # The same customer again, same subject, before any answer, six days later (past the 5-day resend
    # window that would join it): a merge suggestion.
    again = customer_mail(
        subject, "Dodam, że pilne.", to=address, sender=sender, date="Mon, 30 Nov 2026 09:15:00 +0100"
    )
    imap_account.append(again[1])

    def threads() -> list[dict]:
        return (
            api.get("/api/threads", params={"folder": "Inbox", "limit": 200})
            .raise_for_status()
            .json()["threads"]
        )

    def ours() -> list[dict] | None:
        found = [t for t in threads() if t["subject"] in (subject, other)]
        return found if len(found) == 3 else None

    found = sorted(eventually(ours, 30, "three threads in the Inbox"), key=lambda t: t["number"])
    first, newer = [t for t in found if t["subject"] == subject]
    (second,) = [t for t in found if t["subject"] == other]

    await page.goto(stack.gateway_url + "/")
    await page.get_by_test_id("login-email").fill(stack.admin_email)
    await page.get_by_test_id("login-password").fill(stack.admin_password)
    await page.get_by_test_id("login-submit").click()
    await expect(page.get_by_test_id("app-view")).to_be_visible()

    # Search: the list and its count first, then the facets from their own request.
    await page.get_by_test_id("search-input").fill(marker)
    await page.get_by_test_id("search-submit").click()
    hits = page.get_by_test_id("thread-item")
    await expect(hits).to_have_count(len(found))
    await expect(page.get_by_test_id("search-total")).to_have_text(f"{len(found)} conversations")
    folder_facet = page.locator('[data-testid="facet"][data-facet="folder"]')
    await expect(folder_facet).to_have_text([f"Inbox {len(found)}"])
    await page.get_by_test_id("clear-search").click()
    await expect(page.get_by_test_id("search-total")).to_be_hidden()

    # A note on the first thread, then the status.
    await page.locator(f'[data-testid="thread-item"][data-thread-id="{first["id"]}"]').click()
    panel = page.get_by_test_id("conversation-panel")
    await expect(panel).to_have_attribute("data-thread-id", first["id"])
    await page.get_by_test_id("note-body").fill(f"Klient VIP {marker}")
    await page.get_by_test_id("note-add").click()
    await expect(page.get_by_test_id("note-body-text")).to_have_text(f"Klient VIP {marker}")
    await page.get_by_test_id("status-select").select_option("pending")
    await expect(page.get_by_test_id("thread-status")).to_have_text("pending")
    assert api.get(f"/api/threads/{first['id']}/state").json()["status"] == "pending"

    # Merge the other customer's thread into the first by number, then undo.
    await page.locator(f'[data-testid="thread-item"][data-thread-id="{second["id"]}"]').click()
    await expect(page.get_by_test_id("thread-subject")).to_have_text(other)
    await expect(panel).to_have_attribute("data-thread-id", second["id"])
    await page.get_by_test_id("merge-into-number").fill(str(first["number"]))
    await page.get_by_test_id("merge-submit").click()
    await expect(page.get_by_test_id("merge-undo")).to_be_visible()
    assert api.get(f"/api/threads/{second['id']}/state").json()["merged_into_thread_id"] == first["id"]
    await page.get_by_test_id("merge-undo").click()
    await expect(page.get_by_test_id("merge-undo")).to_be_hidden()
    assert api.get(f"/api/threads/{second['id']}/state").json()["merged_into_thread_id"] == ""

    # The newer thread of the same customer offers the merge; one click accepts it.
    await page.locator(f'[data-testid="thread-item"][data-thread-id="{newer["id"]}"]').click()
    await expect(panel).to_have_attribute("data-thread-id", newer["id"])
    await expect(page.get_by_test_id("merge-suggestion")).to_be_visible()
    await page.get_by_test_id("merge-suggestion-accept").click()
    eventually(
        lambda: (
            api.get(f"/api/threads/{newer['id']}/state").json()["merged_into_thread_id"] == first["id"]
            or None
        ),
        10,
        "suggestion accepted",
    )
    assert page.errors == []  # type: ignore[attr-defined]
