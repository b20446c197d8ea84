"""Mailboxes: connect (password or OAuth2), test the connection, edit, pause/resume, remove, and
their sync health. Secrets go to ingest, which stores them encrypted; no response ever contains one."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Response, status
from pydantic import BaseModel, Field, field_validator, model_validator
from responer.ingest.v1 import ingest_pb2

from responer_gateway.api import convert
from responer_gateway.api.deps import Context, CurrentAdmin, CurrentUser, IngestClient
from responer_gateway.api.schemas import LOCAL_HOSTS, MailboxCreate, MailboxPublic

router = APIRouter(prefix="/api/mailboxes", tags=["mailboxes"])


# -- shapes -----------------------------------------------------------------------------------------
class OAuthCreate(BaseModel):
    provider: Literal["microsoft", "google", ""] = ""
    token_endpoint: str = Field(default="", max_length=2000)
    client_id: str = Field(min_length=1, max_length=500)
    client_secret: str = Field(default="", max_length=4096)
    refresh_token: str = Field(min_length=1, max_length=16384)
    scope: str = Field(default="", max_length=2000)

    @model_validator(mode="after")
    def _endpoint(self) -> OAuthCreate:
        if not self.provider and not self.token_endpoint:
            raise ValueError("give a provider (microsoft, google) or a token_endpoint")
        return self


class MailboxConnect(MailboxCreate):
    """A mailbox to connect. `password` for auth_method=password; `oauth` for xoauth2/oauthbearer."""

    password: str | None = Field(default=None, min_length=1, max_length=4096)  # type: ignore[assignment]
    auth_method: Literal["password", "xoauth2", "oauthbearer"] = "password"
    oauth: OAuthCreate | None = None

    @model_validator(mode="after")
    def _login(self) -> MailboxConnect:
        if self.auth_method == "password" and not self.password:
            raise ValueError("password is required with auth_method 'password'")
        if self.auth_method != "password" and self.oauth is None:
            raise ValueError(
                f"oauth (client_id, refresh_token, provider or token_endpoint) is required with {self.auth_method}"
            )
        return self


class MailboxUpdate(BaseModel):
    """Only the fields given change; `folders` replaces the list."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    imap_host: str | None = Field(default=None, min_length=1, max_length=253)
    imap_port: int | None = Field(default=None, ge=1, le=65535)
    tls_mode: Literal["tls", "starttls", "plain"] | None = None
    username: str | None = Field(default=None, min_length=1, max_length=320)
    password: str | None = Field(default=None, min_length=1, max_length=4096)
    folders: list[str] | None = Field(default=None, min_length=1, max_length=50)
    smtp_host: str | None = Field(default=None, max_length=253)
    smtp_port: int | None = Field(default=None, ge=1, le=65535)
    smtp_tls_mode: Literal["tls", "starttls", "plain"] | None = None
    auth_method: Literal["password", "xoauth2", "oauthbearer"] | None = None
    oauth: OAuthCreate | None = None

    @field_validator("folders")
    @classmethod
    def _folders(cls, v: list[str] | None) -> list[str] | None:
        if v is None:
            return v
        cleaned = [f.strip() for f in v]
        if any(not f for f in cleaned):
            raise ValueError("folder names must not be empty")
        return cleaned

    @model_validator(mode="after")
    def _plain_only_locally(self) -> MailboxUpdate:
        if self.tls_mode == "plain" and self.imap_host is not None and self.imap_host not in LOCAL_HOSTS:
            raise ValueError("tls_mode 'plain' is only allowed for localhost/127.0.0.1; use tls or starttls")
        return self


class FolderSyncPublic(BaseModel):
    folder: str
    uidvalidity: int
    last_uid: int
    backfill_total: int
    backfill_done: int
    backfill_remaining: int


class BackfillPublic(BaseModel):
    total: int
    done: int
    remaining: int


class HealthPublic(BaseModel):
    connected: bool
    last_sync_at: str | None
    lag_seconds: int
    last_error: str
    last_error_stage: str
    errors: int


class MailboxDetailPublic(MailboxPublic):
    status: Literal["active", "paused"]
    auth_method: str
    oauth_provider: str
    oauth_client_id: str
    messages_quarantined: int
    health: HealthPublic
    backfill: BackfillPublic
    folder_sync: list[FolderSyncPublic]


class ConnectionTestPublic(BaseModel):
    ok: bool
    stage: str = Field(description="the step that failed: dns, tcp, tls, auth or folder ('' when ok)")
    reason: str
    folders_found: list[str]
    capabilities: list[str]


def detail(v: ingest_pb2.MailboxView) -> MailboxDetailPublic:
    return MailboxDetailPublic(
        **convert.mailbox(v).model_dump(),
        status="paused" if v.paused else "active",
        auth_method=v.auth_method or "password",
        oauth_provider=v.oauth_provider,
        oauth_client_id=v.oauth_client_id,
        messages_quarantined=v.messages_quarantined,
        health=HealthPublic(
            connected=v.connected,
            last_sync_at=convert.iso(v.last_sync_at),
            lag_seconds=v.lag_seconds,
            last_error=v.last_error,
            last_error_stage=v.last_error_stage,
            errors=v.errors,
        ),
        backfill=BackfillPublic(total=v.backfill_total, done=v.backfill_done, remaining=v.backfill_remaining),
        folder_sync=[
            FolderSyncPublic(
                folder=f.folder,
                uidvalidity=f.uidvalidity,
                last_uid=f.last_uid,
                backfill_total=f.backfill_total,
                backfill_done=f.backfill_done,
                backfill_remaining=f.backfill_remaining,
            )
            for f in v.folder_sync
        ],
    )


def _oauth(o: OAuthCreate | None) -> ingest_pb2.OAuthConfig | None:
    if o is None:
        return None
    return ingest_pb2.OAuthConfig(
        provider=o.provider,
        token_endpoint=o.token_endpoint,
        client_id=o.client_id,
        client_secret=o.client_secret,
        refresh_token=o.refresh_token,
        scope=o.scope,
    )


def _register_request(body: MailboxConnect, tenant_id: str) -> ingest_pb2.RegisterMailboxRequest:
    request = ingest_pb2.RegisterMailboxRequest(
        tenant_id=tenant_id,
        name=body.name,
        address=body.address,
        imap_host=body.imap_host,
        imap_port=body.imap_port,
        tls_mode=body.tls_mode,
        username=body.username,
        password=body.password or "",
        folders=body.folders,
        smtp_host=body.smtp_host or "",
        smtp_port=body.smtp_port or 0,
        smtp_tls_mode=body.smtp_tls_mode or "",
        auth_method=body.auth_method,
    )
    oauth = _oauth(body.oauth)
    if oauth is not None:
        request.oauth.CopyFrom(oauth)
    return request


def _test_result(r: ingest_pb2.ConnectionTestResult) -> ConnectionTestPublic:
    return ConnectionTestPublic(
        ok=r.ok,
        stage=r.stage,
        reason=r.reason,
        folders_found=list(r.folders_found),
        capabilities=list(r.capabilities),
    )


# -- routes -----------------------------------------------------------------------------------------
@router.get("", response_model=list[MailboxDetailPublic])
async def list_mailboxes(user: CurrentUser, ingest: IngestClient, ctx: Context) -> list[MailboxDetailPublic]:
    """The tenant's mailboxes with their sync health and backfill progress (never their secrets)."""
    reply = await ingest.ListMailboxes(
        ingest_pb2.ListMailboxesRequest(tenant_id=user.tenant_id), timeout=ctx.timeout
    )
    return [detail(m) for m in reply.mailboxes]


@router.post("", response_model=MailboxDetailPublic, status_code=status.HTTP_201_CREATED)
async def create_mailbox(
    body: MailboxConnect, admin: CurrentAdmin, ingest: IngestClient, ctx: Context
) -> MailboxDetailPublic:
    """Connect an IMAP mailbox; ingest stores the password or OAuth tokens encrypted and starts syncing."""
    view = await ingest.RegisterMailbox(_register_request(body, admin.tenant_id), timeout=ctx.timeout)
    return detail(view)


@router.post("/test", response_model=ConnectionTestPublic)
async def test_new_mailbox(
    body: MailboxConnect, admin: CurrentAdmin, ingest: IngestClient, ctx: Context
) -> ConnectionTestPublic:
    """Try settings before connecting them: DNS, TCP, TLS, login, folders; says which step failed."""
    result = await ingest.TestConnection(
        ingest_pb2.TestConnectionRequest(
            tenant_id=admin.tenant_id, spec=_register_request(body, admin.tenant_id)
        ),
        timeout=max(ctx.timeout, 60.0),
    )
    return _test_result(result)


@router.get("/{mailbox_id}", response_model=MailboxDetailPublic)
async def get_mailbox(
    mailbox_id: str, user: CurrentUser, ingest: IngestClient, ctx: Context
) -> MailboxDetailPublic:
    """One mailbox with its sync health."""
    view = await ingest.GetMailbox(
        ingest_pb2.GetMailboxRequest(tenant_id=user.tenant_id, mailbox_id=mailbox_id), timeout=ctx.timeout
    )
    return detail(view)


@router.post("/{mailbox_id}/test", response_model=ConnectionTestPublic)
async def test_mailbox(
    mailbox_id: str, admin: CurrentAdmin, ingest: IngestClient, ctx: Context
) -> ConnectionTestPublic:
    """Test a connected mailbox's stored settings and credentials."""
    result = await ingest.TestConnection(
        ingest_pb2.TestConnectionRequest(tenant_id=admin.tenant_id, mailbox_id=mailbox_id),
        timeout=max(ctx.timeout, 60.0),
    )
    return _test_result(result)


@router.patch("/{mailbox_id}", response_model=MailboxDetailPublic)
async def update_mailbox(
    mailbox_id: str, body: MailboxUpdate, admin: CurrentAdmin, ingest: IngestClient, ctx: Context
) -> MailboxDetailPublic:
    """Edit a mailbox; the sync reconnects with the new settings."""
    request = ingest_pb2.UpdateMailboxRequest(
        tenant_id=admin.tenant_id,
        mailbox_id=mailbox_id,
        name=body.name or "",
        imap_host=body.imap_host or "",
        imap_port=body.imap_port or 0,
        tls_mode=body.tls_mode or "",
        username=body.username or "",
        password=body.password or "",
        folders=body.folders or [],
        auth_method=body.auth_method or "",
    )
    given = body.model_fields_set
    if "smtp_host" in given:
        request.smtp_host = body.smtp_host or ""
    if "smtp_port" in given:
        request.smtp_port = body.smtp_port or 0
    if "smtp_tls_mode" in given:
        request.smtp_tls_mode = body.smtp_tls_mode or ""
    oauth = _oauth(body.oauth)
    if oauth is not None:
        request.oauth.CopyFrom(oauth)
    return detail(await ingest.UpdateMailbox(request, timeout=ctx.timeout))


@router.post("/{mailbox_id}/pause", response_model=MailboxDetailPublic)
async def pause_mailbox(
    mailbox_id: str, admin: CurrentAdmin, ingest: IngestClient, ctx: Context
) -> MailboxDetailPublic:
    """Stop syncing until resumed (mail stays on the server and is read after resume)."""
    view = await ingest.PauseMailbox(
        ingest_pb2.GetMailboxRequest(tenant_id=admin.tenant_id, mailbox_id=mailbox_id), timeout=ctx.timeout
    )
    return detail(view)


@router.post("/{mailbox_id}/resume", response_model=MailboxDetailPublic)
async def resume_mailbox(
    mailbox_id: str, admin: CurrentAdmin, ingest: IngestClient, ctx: Context
) -> MailboxDetailPublic:
    """Sync again, from where it stopped."""
    view = await ingest.ResumeMailbox(
        ingest_pb2.GetMailboxRequest(tenant_id=admin.tenant_id, mailbox_id=mailbox_id), timeout=ctx.timeout
    )
    return detail(view)


@router.delete("/{mailbox_id}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_mailbox(
    mailbox_id: str, admin: CurrentAdmin, ingest: IngestClient, ctx: Context
) -> Response:
    """Disconnect a mailbox: sync stops, credentials are deleted; received mail stays."""
    await ingest.RemoveMailbox(
        ingest_pb2.GetMailboxRequest(tenant_id=admin.tenant_id, mailbox_id=mailbox_id), timeout=ctx.timeout
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
