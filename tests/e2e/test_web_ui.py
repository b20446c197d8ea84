"""The agent's web UI in headless Chromium: log in, folders with counts, a thread, search, a reply.

By default the gateway runs in-process (the same bootstrap as production) against in-test gRPC
stand-ins for search/ingest/outbox (responer_gateway.testing), so the UI is tested on its own.
With RESPONER_UI_TARGET=stack the same steps run against the full system (`stack` fixture):
mail is APPENDed to a real IMAP mailbox first and the reply must reach the SMTP catcher.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import os
import re
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from responer.outbox.v1 import outbox_pb2
from responer_gateway import bootstrap
from responer_gateway.config import Settings
from responer_gateway.domain import Tenant
from responer_gateway.testing import FakeBackends, demo_threads

pytestmark = [pytest.mark.browser]

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass
class UiTarget:
    """What the browser steps need to know about the system they drive."""

    gateway_url: str
    admin_email: str
    admin_password: str
    inbox_subject: str  # a customer thread in Inbox, with Polish diacritics
    inbox_customer: str
    system_subject: str  # a bounce sorted into System
    search_word: str  # found only in inbox_subject's thread
    reply_delivered: Callable[[str], bool]  # body text -> did the reply reach the outbox/SMTP?


async def _fake_target(pg_database, nats_url, namespace, unused_tcp_port_factory):
    backends = await FakeBackends().start()
    tenant = "Sklep Żółw"
    settings = Settings(
        namespace=f"{namespace}ui{secrets.token_hex(2)}",
        nats_url=nats_url,
        pg_host=pg_database.host,
        pg_port=pg_database.port,
        pg_dbname=pg_database.dbname,
        pg_user=pg_database.user,
        pg_password=pg_database.password,
        ops_port=unused_tcp_port_factory(),
        http_port=0,
        search_addr=backends.addr,
        ingest_addr=backends.addr,
        outbox_addr=backends.addr,
        session_secret=secrets.token_urlsafe(32),
        admin_email="agent@sklep.test",
        admin_password="hasło-żółw-123",
        admin_name="Zofia Agentka",
        tenant_name=tenant,
    )
    backends.data.threads[str(Tenant.id_for(tenant))] = demo_threads()
    service = bootstrap.build(settings, schema=f"gateway_ui{secrets.token_hex(3)}")
    task = asyncio.create_task(service.serve())
    await asyncio.wait_for(service.http.started.wait(), 20)

    def delivered(body: str) -> bool:
        return any(r.body_text == body for r in backends.data.requests_of(outbox_pb2.QueueReplyRequest))

    target = UiTarget(
        gateway_url=f"http://127.0.0.1:{service.http.port}",
        admin_email=settings.admin_email,
        admin_password=settings.admin_password.get_secret_value(),
        inbox_subject="Zamówienie 123 — zwrot żółwia",
        inbox_customer="Anna Kowalska",
        system_subject="Undelivered Mail Returned to Sender",
        search_word="faktura",
        reply_delivered=delivered,
    )

    async def stop() -> None:
        service.stop.set()
        await asyncio.wait_for(task, 20)
        await backends.stop()

    return target, stop


def _stack_target(request):  # noqa: ANN001, ANN202
    """The full system: real mail through IMAP, threading, routing, search and SMTP."""
    from tests.e2e.helpers import customer_mail, dsn_bounce, eventually, login, register_mailbox

    stack = request.getfixturevalue("stack")
    account = request.getfixturevalue("imap_account")
    catcher = request.getfixturevalue("smtp_catcher")
    api = login(stack.gateway_url, stack.admin_email, stack.admin_password)
    address = f"ui-{uuid.uuid4().hex[:6]}@shop.test"
    register_mailbox(api, account, address)
    tag = uuid.uuid4().hex[:6]
    subject = f"Zamówienie {tag} — zwrot żółwia"
    word = f"faktura{tag}"
    _, mail = customer_mail(
        subject,
        f"Dzień dobry, chcę zwrócić żółwia. {word}",
        sender="Anna Kowalska <anna@klient.pl>",
        to=address,
    )
    account.append(mail)
    account.append(dsn_bounce(address, "ktos@nieistnieje.pl"))

    def arrived() -> bool:
        inbox = api.get("/api/threads", params={"folder": "Inbox"}).json()["threads"]
        system = api.get("/api/threads", params={"folder": "System"}).json()["threads"]
        return any(t["subject"] == subject for t in inbox) and bool(system)

    eventually(arrived, 30, "demo mail in Inbox and System")
    system_subject = api.get("/api/threads", params={"folder": "System"}).json()["threads"][0]["subject"]
    api.close()

    def delivered(body: str) -> bool:
        for caught in list(catcher.messages):
            mail = email.message_from_bytes(caught.data, policy=email.policy.default)
            if body in mail.get_body(("plain",)).get_content():
                return True
        return False

    return UiTarget(
        gateway_url=stack.gateway_url,
        admin_email=stack.admin_email,
        admin_password=stack.admin_password,
        inbox_subject=subject,
        inbox_customer="Anna Kowalska",
        system_subject=system_subject,
        search_word=word,
        reply_delivered=delivered,
    )


@pytest.fixture
async def target(request, pg_database, nats_url, namespace, unused_tcp_port_factory):
    if os.environ.get("RESPONER_UI_TARGET") == "stack":
        yield await asyncio.to_thread(_stack_target, request)
        return
    target, stop = await _fake_target(pg_database, nats_url, namespace, unused_tcp_port_factory)
    yield target
    await stop()


def _unexpected(msg) -> bool:  # noqa: ANN001
    # Chromium logs every 4xx as a console error; the 401s of "not logged in yet" and of the wrong
    # password are the API answering as designed. Anything else (CSP violations, JS errors) is a bug.
    return msg.type == "error" and "status of 401" not in msg.text


@pytest.fixture
async def page(chromium_path):
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        context = await browser.new_context(locale="pl-PL", timezone_id="Europe/Warsaw")
        page = await context.new_page()
        page.errors = []  # type: ignore[attr-defined]
        page.on("pageerror", lambda exc: page.errors.append(str(exc)))
        page.on("console", lambda msg: page.errors.append(msg.text) if _unexpected(msg) else None)
        yield page
        await browser.close()


async def test_an_agent_logs_in_reads_searches_and_replies(page, target: UiTarget):
    from playwright.async_api import expect

    await page.goto(target.gateway_url + "/")

    # A wrong password says so and stays on the login page.
    await expect(page.get_by_test_id("login-view")).to_be_visible()
    await page.get_by_test_id("login-email").fill(target.admin_email)
    await page.get_by_test_id("login-password").fill("wrong password")
    await page.get_by_test_id("login-submit").click()
    await expect(page.get_by_test_id("login-error")).to_have_text("Wrong e-mail or password.")

    await page.get_by_test_id("login-password").fill(target.admin_password)
    await page.get_by_test_id("login-submit").click()
    await expect(page.get_by_test_id("app-view")).to_be_visible()
    await expect(page.get_by_test_id("current-user")).to_contain_text(target.admin_email)

    # Folders with counts: Inbox and System are always there.
    inbox = page.locator('[data-testid="folder"][data-folder="Inbox"]')
    system = page.locator('[data-testid="folder"][data-folder="System"]')
    await expect(inbox.get_by_test_id("folder-count")).not_to_have_text("0")
    await expect(system.get_by_test_id("folder-count")).not_to_have_text("0")
    await expect(inbox).to_have_attribute("aria-current", "true")

    # The Inbox lists the thread with its number, subject (diacritics intact) and customer.
    item = page.get_by_test_id("thread-item").filter(has_text=target.inbox_subject)
    await expect(item).to_have_count(1)
    number = await item.get_attribute("data-number")
    await expect(item.get_by_test_id("thread-item-number")).to_have_text(f"#{number}")
    await expect(item.get_by_test_id("thread-item-customer")).to_have_text(target.inbox_customer)

    # Opening it shows the messages; mail HTML is sanitised and sandboxed.
    await item.click()
    await expect(page.get_by_test_id("thread-subject")).to_have_text(target.inbox_subject)
    messages = page.get_by_test_id("message")
    await expect(messages.first).to_be_visible()
    frames = page.get_by_test_id("message-html")
    for i in range(await frames.count()):
        frame = frames.nth(i)
        assert await frame.get_attribute("sandbox") == ""
        srcdoc = await frame.get_attribute("srcdoc")
        assert "<script" not in srcdoc and "onerror" not in srcdoc and "onclick" not in srcdoc
    body_texts = await page.get_by_test_id("messages").inner_text()
    if await frames.count():
        inside = await page.frame_locator('[data-testid="message-html"]').first.locator("body").inner_text()
        body_texts += inside
    assert "żółwia" in body_texts

    if shots := os.environ.get("RESPONER_UI_SCREENSHOTS"):  # a directory: keep a picture for humans
        await page.screenshot(path=os.path.join(shots, "thread.png"), full_page=True)

    # System holds the bounce.
    await system.click()
    await expect(page.get_by_test_id("list-title")).to_have_text("System")
    await expect(
        page.get_by_test_id("thread-item").filter(has_text=target.system_subject).first
    ).to_be_visible()

    # Search replaces the list; the snippet's <mark> is rendered as markup, not as text.
    await page.get_by_test_id("search-input").fill(target.search_word)
    await page.get_by_test_id("search-submit").click()
    await expect(page.get_by_test_id("list-title")).to_have_text(f"Search: {target.search_word}")
    hits = page.get_by_test_id("thread-item")
    await expect(hits).not_to_have_count(0)
    # The count says how many conversations match (facets, in their own request, are covered where
    # the real search service runs: tests/e2e/test_conversations_ui.py).
    shown = await hits.count()
    await expect(page.get_by_test_id("search-total")).to_have_text(
        re.compile(rf"^{shown} conversations?$|^more than [\d,. ]+ conversations$")
    )
    snippet = hits.first.get_by_test_id("thread-item-snippet")
    if await snippet.count():
        await expect(snippet.locator("mark").first).to_be_visible()
        assert "<mark>" not in await snippet.inner_text()

    # Reply from the thread view: queued at once, then sent.
    await hits.first.click()
    await expect(page.get_by_test_id("thread-subject")).to_have_text(
        await hits.first.get_by_test_id("thread-item-subject").inner_text()
    )
    body = f"Dziękujemy, zwrot przyjęty — żółw wraca do sklepu. {uuid.uuid4().hex[:6]}"
    await page.get_by_test_id("reply-body").fill(body)
    await page.get_by_test_id("reply-send").click()
    status = page.get_by_test_id("reply-status")
    await expect(status).to_have_text("queued", timeout=5000)
    await expect(status).to_have_text("sent", timeout=30000)
    assert target.reply_delivered(body)
    await expect(page.get_by_test_id("reply-body")).to_have_value("")

    # Leaving the search returns to the folder it was started from; then sign out.
    await page.get_by_test_id("clear-search").click()
    await expect(page.get_by_test_id("list-title")).to_have_text("System")
    await inbox.click()
    await expect(page.get_by_test_id("list-title")).to_have_text("Inbox")
    await page.get_by_test_id("logout").click()
    await expect(page.get_by_test_id("login-view")).to_be_visible()

    assert page.errors == [], page.errors
