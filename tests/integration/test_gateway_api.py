"""The gateway's HTTP API against real gRPC servers (in-test stand-ins) and a real PostgreSQL store.

The stand-ins (responer_gateway.testing) answer per tenant and record every request, so these tests
prove the gateway's side of the contract: auth, tenant isolation, shapes, validation, error mapping,
sanitising, and how a reply is threaded. tests/e2e proves the real services behind it.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid

import httpx
import nats
import pytest
from responer.ingest.v1 import ingest_pb2
from responer.outbox.v1 import outbox_pb2
from responer.search.v1 import search_pb2
from responer_events import decode, stream_name
from responer_gateway import bootstrap
from responer_gateway.api.main import create_app
from responer_gateway.config import Settings
from responer_gateway.domain import Tenant, User
from responer_gateway.security import Session, Tokens
from responer_gateway.testing import FakeBackends, demo_threads

pytestmark = pytest.mark.integration

TENANT = "Sklep Żółw"
ADMIN_EMAIL = "Admin@Shop.test"
ADMIN_PASSWORD = "correct horse battery staple"
SECRET = "gateway-test-secret-" + "x" * 16


def make_settings(pg, backends_addr: str, **overrides) -> Settings:  # noqa: ANN001
    values = {
        "pg_host": pg.host,
        "pg_port": pg.port,
        "pg_dbname": pg.dbname,
        "pg_user": pg.user,
        "pg_password": pg.password,
        "search_addr": backends_addr,
        "ingest_addr": backends_addr,
        "outbox_addr": backends_addr,
        "session_secret": SECRET,
        "admin_email": ADMIN_EMAIL,
        "admin_password": ADMIN_PASSWORD,
        "tenant_name": TENANT,
        "grpc_timeout_s": 5.0,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture(scope="module")
async def backends():
    fake = await FakeBackends().start()
    yield fake
    await fake.stop()


@pytest.fixture(scope="module")
def schema() -> str:
    return f"gateway_t{secrets.token_hex(3)}"


@pytest.fixture(scope="module")
async def gateway(pg_database, backends, schema):
    settings = make_settings(pg_database, backends.addr)
    app = await asyncio.to_thread(bootstrap.build_application, settings, schema)
    ctx = bootstrap.build_context(settings, app)
    await asyncio.to_thread(bootstrap.seed, ctx)
    backends.data.threads[str(Tenant.id_for(TENANT))] = demo_threads()
    yield ctx
    await ctx.backends.close()


@pytest.fixture
async def client(gateway):
    transport = httpx.ASGITransport(app=create_app(gateway))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


async def login(client: httpx.AsyncClient, email: str = ADMIN_EMAIL, password: str = ADMIN_PASSWORD) -> dict:
    response = await client.post("/api/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
async def api(client):
    body = await login(client)
    client.cookies.clear()  # prove the bearer token alone is enough
    client.headers["Authorization"] = f"Bearer {body['token']}"
    return client


def tenant_id() -> str:
    return str(Tenant.id_for(TENANT))


# -- auth ---------------------------------------------------------------------------------------------
async def test_login_returns_a_token_and_sets_an_http_only_session_cookie(client):
    response = await client.post(
        "/api/auth/login", json={"email": "admin@shop.test", "password": ADMIN_PASSWORD}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["user"] == {
        "id": str(User.id_for(ADMIN_EMAIL)),
        "email": "admin@shop.test",
        "name": "Administrator",
        "role": "admin",
        "tenant": {"id": tenant_id(), "name": TENANT},
        "available": False,
        "skills": [],
        "max_open": 0,
    }
    assert body["token"] and body["expires_in"] > 0
    cookie = response.headers["set-cookie"]
    assert "responer_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert ADMIN_PASSWORD not in response.text

    me = await client.get("/api/me")  # the cookie alone authenticates the web UI
    assert me.status_code == 200 and me.json()["email"] == "admin@shop.test"

    logout = await client.post("/api/auth/logout")
    assert logout.status_code == 204
    assert (await client.get("/api/me")).status_code == 401


async def test_wrong_password_and_unknown_user_get_the_same_clear_401(client):
    wrong = await client.post("/api/auth/login", json={"email": ADMIN_EMAIL, "password": "nope"})
    unknown = await client.post("/api/auth/login", json={"email": "who@shop.test", "password": "nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json() == {"detail": "wrong e-mail or password"}
    assert "set-cookie" not in wrong.headers


async def test_api_refuses_requests_without_a_valid_token(client, gateway):
    forged = Tokens("another-secret-0123456789", 3600).issue(
        Session(str(User.id_for(ADMIN_EMAIL)), tenant_id())
    )
    for path in ("/api/me", "/api/folders", "/api/threads", "/api/search?q=x", "/api/mailboxes"):
        assert (await client.get(path)).status_code == 401, path
    for token in ("garbage", forged):
        response = await client.get("/api/folders", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        assert "log in again" in response.json()["detail"]


async def test_openapi_and_docs_are_served(client):
    spec = (await client.get("/api/openapi.json")).json()
    assert "/api/threads/{thread_id}/replies" in spec["paths"]
    assert spec["paths"]["/api/auth/login"]["post"]["summary"] == "Login"
    assert (await client.get("/api/docs")).status_code == 200


# -- reading ------------------------------------------------------------------------------------------
async def test_folders_always_list_inbox_and_system_with_counts(api, backends):
    assert (await api.get("/api/folders")).json() == [
        {"folder": "Inbox", "threads": 2},
        {"folder": "System", "threads": 1},
    ]
    backends.data.folders[tenant_id()] = [("Faktury", 4)]
    try:
        assert (await api.get("/api/folders")).json() == [
            {"folder": "Inbox", "threads": 0},
            {"folder": "Faktury", "threads": 4},
            {"folder": "System", "threads": 0},
        ]
    finally:
        del backends.data.folders[tenant_id()]


async def test_thread_list_has_the_documented_shape_and_passes_the_tenant(api, backends):
    backends.data.requests.clear()
    response = await api.get("/api/threads", params={"folder": "Inbox", "limit": 1})
    assert response.status_code == 200
    page = response.json()
    assert [t["number"] for t in page["threads"]] == [1001]
    assert page["next_cursor"] == "1"
    first = page["threads"][0]
    assert set(first) >= {
        "id", "number", "subject", "folder", "status", "customer", "message_count",
        "last_message_at", "snippet", "system_reason",
    }  # fmt: skip
    assert first["customer"] == {"email": "jan.nowak@klient.pl", "name": "Jan Nowak"}
    assert first["last_message_at"].endswith("Z")
    (request,) = backends.data.requests_of(search_pb2.ListThreadsRequest)
    assert (request.tenant_id, request.folder, request.limit) == (tenant_id(), "Inbox", 1)

    second = (await api.get("/api/threads", params={"cursor": page["next_cursor"], "limit": 1})).json()
    assert [t["number"] for t in second["threads"]] == [1000] and second["next_cursor"] is None


async def test_a_thread_has_its_messages_oldest_first_with_sanitised_html(api):
    listed = (await api.get("/api/threads")).json()["threads"]
    thread_id = next(t["id"] for t in listed if t["number"] == 1000)
    thread = (await api.get(f"/api/threads/{thread_id}")).json()
    assert thread["subject"] == "Zamówienie 123 — zwrot żółwia"
    assert [m["direction"] for m in thread["messages"]] == ["inbound", "outbound", "inbound"]
    first = thread["messages"][0]
    assert first["from"] == {"name": "Anna Kowalska", "email": "anna.kowalska@klient.pl"}
    assert first["attachments"] == [
        {"filename": "paragon.pdf", "content_type": "application/pdf", "size": 2048}
    ]
    html = first["html"]
    assert "żółwia" in html
    for hostile in ("<script", "alert(", "onerror", "onclick", "tracker.example"):
        assert hostile not in html, hostile
    assert first["text"].startswith("Dzień dobry")

    by_number = (await api.get("/api/threads/by-number/1000")).json()
    assert by_number["id"] == thread_id and len(by_number["messages"]) == 3


async def test_missing_thread_is_404(api):
    assert (await api.get("/api/threads/by-number/999999")).status_code == 404
    assert (await api.get(f"/api/threads/{uuid.uuid4()}")).status_code == 404


async def test_search_passes_the_query_and_keeps_the_marked_snippet(api, backends):
    backends.data.requests.clear()
    page = (await api.get("/api/search", params={"q": "faktura", "limit": 10})).json()
    assert [t["number"] for t in page["threads"]] == [1001]
    assert page["threads"][0]["snippet"] == "…<mark>faktura</mark>…"
    (request,) = backends.data.requests_of(search_pb2.SearchRequest)
    assert (request.tenant_id, request.query, request.limit) == (tenant_id(), "faktura", 10)

    bad = await api.get("/api/search", params={"q": "bad:field"})
    assert bad.status_code == 422 and "unknown search field" in bad.json()["detail"]
    assert (await api.get("/api/search")).status_code == 422


async def test_another_tenant_sees_none_of_this_tenants_data(client, gateway, backends):
    other = await asyncio.to_thread(gateway.app.register_tenant, "Inna Firma")
    await asyncio.to_thread(
        gateway.app.add_user, other.id, "agent@inna.test", "Agent", "another good password"
    )
    body = await login(client, "agent@inna.test", "another good password")
    assert body["user"]["tenant"]["id"] == str(other.id) and body["user"]["role"] == "agent"
    client.cookies.clear()
    client.headers["Authorization"] = f"Bearer {body['token']}"

    backends.data.requests.clear()
    assert (await client.get("/api/threads/by-number/1000")).status_code == 404
    assert (await client.get("/api/threads")).json()["threads"] == []
    assert (await client.get("/api/search", params={"q": "faktura"})).json()["threads"] == []
    assert {r.tenant_id for r in backends.data.requests} == {str(other.id)}
    # Agents may read but not connect mailboxes.
    assert (await client.post("/api/mailboxes", json={})).status_code == 403


# -- mailboxes ----------------------------------------------------------------------------------------
MAILBOX = {
    "name": "Obsługa klienta",
    "address": "Support@Shop.test",
    "imap_host": "imap.shop.test",
    "imap_port": 993,
    "tls_mode": "tls",
    "username": "support",
    "password": "imap-secret-123",
}


async def test_a_mailbox_is_registered_for_the_tenant_without_echoing_the_password(api, backends):
    backends.data.requests.clear()
    response = await api.post(
        "/api/mailboxes", json={**MAILBOX, "smtp_host": "smtp.shop.test", "smtp_port": 587}
    )
    assert response.status_code == 201, response.text
    mailbox = response.json()
    assert mailbox["address"] == "support@shop.test" and mailbox["folders"] == ["INBOX"]
    assert "password" not in mailbox and "imap-secret-123" not in response.text
    (request,) = backends.data.requests_of(ingest_pb2.RegisterMailboxRequest)
    assert request.tenant_id == tenant_id() and request.password == "imap-secret-123"
    assert (request.smtp_host, request.smtp_port) == ("smtp.shop.test", 587)

    listed = (await api.get("/api/mailboxes")).json()
    assert [m["id"] for m in listed] == [mailbox["id"]]

    local = await api.post(
        "/api/mailboxes",
        json={
            **MAILBOX,
            "address": "local@shop.test",
            "imap_host": "127.0.0.1",
            "imap_port": 1143,
            "tls_mode": "plain",
        },
    )
    assert local.status_code == 201, local.text


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"tls_mode": "plain"}, "body", "only allowed for localhost"),
        ({"imap_port": 70000}, "imap_port", "less than or equal to 65535"),
        ({"tls_mode": "ssl"}, "tls_mode", "'tls', 'starttls' or 'plain'"),
        ({"address": "not-an-address"}, "address", "must be an e-mail address"),
        ({"imap_host": "bad host!"}, "imap_host", "host name or IP address"),
        ({"password": ""}, "password", "at least 1 character"),
    ],
)
async def test_invalid_mailboxes_are_422_with_clear_messages(api, change, field, message):
    response = await api.post("/api/mailboxes", json={**MAILBOX, **change})
    assert response.status_code == 422
    errors = response.json()["detail"]
    assert any(e["loc"][-1] == field and message in e["msg"] for e in errors), errors


async def test_a_backend_refusal_maps_to_409(api):
    response = await api.post("/api/mailboxes", json={**MAILBOX, "address": "unreachable@shop.test"})
    assert response.status_code == 409
    assert response.json()["detail"] == "cannot log in to the IMAP server"


# -- replies ------------------------------------------------------------------------------------------
async def test_a_reply_answers_the_last_customer_message_with_threading_headers(api, backends):
    thread = (await api.get("/api/threads/by-number/1000")).json()
    backends.data.requests.clear()
    reply_id = str(uuid.uuid4())
    response = await api.post(
        f"/api/threads/{thread['id']}/replies",
        json={"body": "Zwrot przyjęty. Dziękujemy!", "reply_id": reply_id},
    )
    assert response.status_code == 202, response.text
    assert response.json()["reply_id"] == reply_id and response.json()["status"] == "queued"

    (queued,) = backends.data.requests_of(outbox_pb2.QueueReplyRequest)
    assert queued.tenant_id == tenant_id()
    assert queued.thread_id == thread["id"] and queued.thread_number == 1000
    assert list(queued.to) == ["zwroty@klient.pl"]  # the Reply-To of the last inbound message
    assert queued.in_reply_to == "order-123-2@klient.pl"
    assert list(queued.references) == ["order-123@klient.pl", "r1@responer.test", "order-123-2@klient.pl"]
    assert queued.subject == "Re: Zamówienie 123 — zwrot żółwia"
    assert queued.mailbox_id == thread["messages"][-1]["mailbox_id"]
    assert queued.body_text == "Zwrot przyjęty. Dziękujemy!"
    assert queued.author_user_id == str(User.id_for(ADMIN_EMAIL))

    status = (await api.get(f"/api/replies/{reply_id}")).json()
    assert status["status"] == "sent" and status["thread_id"] == thread["id"]


async def test_a_reply_without_reply_to_goes_to_the_sender_and_gets_an_id(api, backends):
    thread = (await api.get("/api/threads/by-number/1001")).json()
    backends.data.requests.clear()
    response = await api.post(f"/api/threads/{thread['id']}/replies", json={"body": "Faktura w załączniku."})
    assert response.status_code == 202
    uuid.UUID(response.json()["reply_id"])
    (queued,) = backends.data.requests_of(outbox_pb2.QueueReplyRequest)
    assert list(queued.to) == ["jan.nowak@klient.pl"]
    assert queued.subject == "Re: Faktura VAT"
    assert list(queued.references) == ["faktura-1@klient.pl"]


async def test_reply_validation_and_unknown_reply(api):
    thread = (await api.get("/api/threads/by-number/1001")).json()
    blank = await api.post(f"/api/threads/{thread['id']}/replies", json={"body": "   "})
    assert blank.status_code == 422 and "must not be empty" in blank.json()["detail"][0]["msg"]
    bad_id = await api.post(f"/api/threads/{thread['id']}/replies", json={"body": "x", "reply_id": "nope"})
    assert bad_id.status_code == 422
    assert (await api.get(f"/api/replies/{uuid.uuid4()}")).status_code == 404


async def test_an_unreachable_backend_is_503(gateway, unused_tcp_port):
    settings = gateway.settings.model_copy(
        update={"search_addr": f"127.0.0.1:{unused_tcp_port}", "grpc_timeout_s": 2.0}
    )
    ctx = bootstrap.build_context(settings, gateway.app)
    transport = httpx.ASGITransport(app=create_app(ctx))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        token = (await login(c))["token"]
        response = await c.get("/api/folders", headers={"Authorization": f"Bearer {token}"})
    await ctx.backends.close()
    assert response.status_code == 503
    assert "unavailable" in response.json()["detail"]


# -- the process --------------------------------------------------------------------------------------
async def test_the_gateway_process_serves_http_and_ops_and_publishes_user_added(
    pg_database, backends, nats_url, namespace, unused_tcp_port_factory
):
    ns = f"{namespace}g{secrets.token_hex(2)}"
    settings = make_settings(
        pg_database,
        backends.addr,
        namespace=ns,
        nats_url=nats_url,
        http_port=0,
        ops_port=unused_tcp_port_factory(),
        admin_email="owner@proc.test",
        tenant_name="Proces",
    )
    service = bootstrap.build(settings, schema=f"gateway_p{secrets.token_hex(3)}")
    task = asyncio.create_task(service.serve())
    try:
        await asyncio.wait_for(service.http.started.wait(), 20)
        base = f"http://127.0.0.1:{service.http.port}"
        async with httpx.AsyncClient(base_url=base) as c:
            login_response = await c.post(
                "/api/auth/login", json={"email": "owner@proc.test", "password": ADMIN_PASSWORD}
            )
            assert login_response.status_code == 200
            index = await c.get("/")
            assert index.status_code == 200 and "text/html" in index.headers["content-type"]
            ready = (await c.get(f"http://127.0.0.1:{settings.ops_port}/readyz")).json()
            assert ready["checks"] == {
                "postgres": True, "nats": True, "search": True, "ingest": True, "outbox": True
            }  # fmt: skip
            assert ready["ready"] is True

        nc = await nats.connect(nats_url)
        try:
            js = nc.jetstream()
            sub = await js.pull_subscribe(f"{ns}.gateway.>", stream=stream_name("gateway", ns))
            for _ in range(50):
                try:
                    msgs = await sub.fetch(1, timeout=0.5)
                    break
                except (nats.errors.TimeoutError, TimeoutError):
                    continue
            event = decode(msgs[0].data)
        finally:
            await nc.close()
        assert event.type == "responer.events.v1.UserAdded"
        assert event.payload.email == "owner@proc.test" and event.payload.role == "admin"
        assert event.payload.tenant_id == str(Tenant.id_for("Proces")) == event.tenant_id
        assert "argon2" not in str(event.payload)
    finally:
        service.stop.set()
        assert await asyncio.wait_for(task, 20) == 0
