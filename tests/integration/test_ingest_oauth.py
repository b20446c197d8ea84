"""Acceptance (issue 3): XOAUTH2 and OAUTHBEARER logins against a real dovecot that verifies the
bearer token at a local OAuth2 introspection endpoint, with the access token obtained by ingest from
a refresh token at a local token endpoint (both served by this test, as a provider would)."""

from __future__ import annotations

import json
import logging
import secrets
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import grpc
import psycopg
import pytest
from responer.ingest.v1 import ingest_pb2, ingest_pb2_grpc
from responer_cli.devstack.dovecot import Dovecot, DovecotMissing
from responer_ingest.testing import ingest_settings, make_mail, read_stream, running_ingest, wait_for

pytestmark = pytest.mark.integration

CLIENT_ID = "responer-test-client"
CLIENT_SECRET = "client-secret-" + secrets.token_hex(8)


class OAuthProvider:
    """Token endpoint (refresh_token grant, rotating refresh tokens) and RFC 7662 introspection."""

    def __init__(self, username: str) -> None:
        self.username = username
        self.refresh_tokens = {"refresh-" + secrets.token_hex(12)}
        self.access_tokens: set[str] = set()
        self.token_requests: list[dict[str, list[str]]] = []
        self.introspections: list[str] = []
        self.rotate = True
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # noqa: ANN002
                pass

            def _json(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:  # noqa: N802
                form = parse_qs(self.rfile.read(int(self.headers.get("Content-Length", 0))).decode())
                if self.path == "/token":
                    provider.token_requests.append(form)
                    refresh = form.get("refresh_token", [""])[0]
                    if (
                        form.get("grant_type") != ["refresh_token"]
                        or form.get("client_id") != [CLIENT_ID]
                        or form.get("client_secret") != [CLIENT_SECRET]
                        or refresh not in provider.refresh_tokens
                    ):
                        self._json(400, {"error": "invalid_grant"})
                        return
                    access = "access-" + secrets.token_hex(16)
                    provider.access_tokens.add(access)
                    body = {"access_token": access, "token_type": "Bearer", "expires_in": 3600}
                    if provider.rotate:
                        provider.refresh_tokens.discard(refresh)
                        new = "refresh-" + secrets.token_hex(12)
                        provider.refresh_tokens.add(new)
                        body["refresh_token"] = new
                    self._json(200, body)
                elif self.path == "/introspect":
                    token = form.get("token", [""])[0]
                    provider.introspections.append(token)
                    if token in provider.access_tokens:
                        self._json(200, {"active": True, "username": provider.username})
                    else:
                        self._json(200, {"active": False})
                else:
                    self._json(404, {})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class OAuthDovecot(Dovecot):
    """The devstack's dovecot plus a passdb that verifies XOAUTH2/OAUTHBEARER bearer tokens against
    an introspection URL (dovecot's `oauth2` driver). Password logins keep working for APPEND."""

    def __init__(self, state_dir, introspection_url: str) -> None:  # noqa: ANN001
        super().__init__(state_dir)
        self.introspection_url = introspection_url

    def _write_config(self) -> None:
        super()._write_config()
        oauth_conf = self.root / "dovecot-oauth2.conf.ext"
        oauth_conf.write_text(
            f"introspection_mode = post\n"
            f"introspection_url = {self.introspection_url}\n"
            "force_introspection = yes\n"
            "username_attribute = username\n"
            "active_attribute = active\n"
            "active_value = true\n"
        )
        text = self.config_file.read_text()
        text = text.replace(
            "auth_mechanisms = plain login", "auth_mechanisms = plain login xoauth2 oauthbearer"
        )
        text += (
            f"passdb {{\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n  args = {oauth_conf}\n}}\n"
        )
        self.config_file.write_text(text)


@pytest.fixture
def oauth_imap(responer_state_dir):
    user = f"o{secrets.token_hex(4)}@imap.responer.test"
    provider = OAuthProvider(user)
    server = OAuthDovecot(responer_state_dir / f"oauth-{secrets.token_hex(3)}", f"{provider.url}/introspect")
    try:
        server.start()
    except DovecotMissing as exc:
        pytest.skip(str(exc))
    password = secrets.token_urlsafe(10)
    server.add_user(user, password)
    yield server, provider, user, password
    server.stop()
    provider.close()


def oauth_request(
    tenant: str, server, provider, user: str, method: str, refresh: str
) -> ingest_pb2.RegisterMailboxRequest:  # noqa: ANN001
    return ingest_pb2.RegisterMailboxRequest(
        tenant_id=tenant,
        name="Microsoft 365 (test)",
        address="office@shop.test",
        imap_host=server.host,
        imap_port=server.port,
        tls_mode="plain",
        username=user,
        auth_method=method,
        oauth=ingest_pb2.OAuthConfig(
            token_endpoint=f"{provider.url}/token",
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            refresh_token=refresh,
            scope="https://outlook.office.com/IMAP.AccessAsUser.All offline_access",
        ),
    )


async def test_xoauth2_login_with_a_refreshed_token_syncs_mail_and_keeps_every_secret(
    oauth_imap, private_database, nats_url, fresh_namespace, caplog
):
    server, provider, user, password = oauth_imap
    caplog.set_level(logging.DEBUG)
    for n in range(3):
        server.append(user, password, make_mail(n))
    first_refresh = next(iter(provider.refresh_tokens))
    settings = ingest_settings(private_database, nats_url, fresh_namespace)
    tenant = str(uuid.uuid4())
    async with running_ingest(settings) as service:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{service.grpc_port}") as channel:
            stub = ingest_pb2_grpc.IngestServiceStub(channel)

            # A refresh token the provider does not know: the test says it is the login that failed.
            bad = await stub.TestConnection(
                ingest_pb2.TestConnectionRequest(
                    tenant_id=tenant,
                    spec=oauth_request(tenant, server, provider, user, "xoauth2", "refresh-unknown"),
                )
            )
            assert (bad.ok, bad.stage) == (False, "auth") and "invalid_grant" in bad.reason

            provider.rotate = False  # a connection test must not spend a rotating refresh token
            good = await stub.TestConnection(
                ingest_pb2.TestConnectionRequest(
                    tenant_id=tenant,
                    spec=oauth_request(tenant, server, provider, user, "oauthbearer", first_refresh),
                )
            )
            assert good.ok, good.reason
            provider.rotate = True

            view = await stub.RegisterMailbox(
                oauth_request(tenant, server, provider, user, "xoauth2", first_refresh)
            )
            assert view.auth_method == "xoauth2" and view.oauth_client_id == CLIENT_ID

            async def received():
                found = [e.payload for _, e in await read_stream(settings.nats_url, settings.namespace) if e]
                mails = [p for p in found if type(p).__name__ == "MailReceived"]
                return mails if len(mails) == 3 else None

            mails = await wait_for(received, timeout=30)
            assert sorted(m.mail.message_id for m in mails) == [f"order-{n}@klient.pl" for n in range(3)]
            # Dovecot asked the introspection endpoint about the token ingest got from the token endpoint.
            assert provider.introspections and provider.introspections[-1] in provider.access_tokens
            grant = provider.token_requests[-1]
            assert grant["grant_type"] == ["refresh_token"] and grant["scope"][0].startswith(
                "https://outlook"
            )

            # The provider rotated the refresh token: ingest stored the new one (encrypted).
            mailbox = service.app.mailbox(view.mailbox_id)
            stored = service.app.credentials(mailbox)
            assert stored.refresh_token in provider.refresh_tokens and stored.refresh_token != first_refresh
            assert stored.refresh_token.encode() not in bytes(mailbox.secret)

            # IDLE picks up new mail over the same OAuth session.
            server.append(user, password, make_mail(10))
            await wait_for(lambda: service.app.mailbox(view.mailbox_id).messages_received == 4, timeout=20)
            listed = await stub.ListMailboxes(ingest_pb2.ListMailboxesRequest(tenant_id=tenant))
            tested = await stub.TestConnection(
                ingest_pb2.TestConnectionRequest(tenant_id=tenant, mailbox_id=view.mailbox_id)
            )
            assert tested.ok, tested.reason

        events = await read_stream(settings.nats_url, settings.namespace)
        secrets_seen = {CLIENT_SECRET, first_refresh, *provider.refresh_tokens, *provider.access_tokens}
        api_text = str(view) + str(listed) + str(good) + str(bad) + str(tested)
        for secret in secrets_seen:
            assert secret not in api_text
            assert secret not in caplog.text
            assert not any(secret.encode() in raw for raw, _ in events)
        # What is stored is ciphertext too: no event in ingest's store holds a secret in clear.
        pg = private_database
        with psycopg.connect(
            host=pg.host, port=pg.port, dbname=pg.dbname, user=pg.user, password=pg.password
        ) as conn:
            rows = conn.execute("SELECT state FROM ingest.ingest_events").fetchall()
        stored_events = b"".join(bytes(row[0]) for row in rows)
        for secret in secrets_seen:
            assert secret.encode() not in stored_events
