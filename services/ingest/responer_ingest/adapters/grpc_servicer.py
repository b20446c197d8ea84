"""IngestService over gRPC. Secrets (password, client secret, refresh token) go in, never out."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

import grpc
from responer.ingest.v1 import ingest_pb2, ingest_pb2_grpc

from responer_ingest.adapters.imap_connect import TokenSource, probe
from responer_ingest.adapters.imap_sync import SyncHealth
from responer_ingest.application import (
    IngestApplication,
    MailboxChanges,
    MailboxExists,
    MailboxNotFound,
    MailboxSpec,
    OAuthSpec,
)
from responer_ingest.domain.mailbox import InvalidMailbox, Mailbox
from responer_ingest.domain.message import QuarantinedMail


def _oauth(o: ingest_pb2.OAuthConfig) -> OAuthSpec:
    return OAuthSpec(
        token_endpoint=o.token_endpoint,
        client_id=o.client_id,
        client_secret=o.client_secret,
        refresh_token=o.refresh_token,
        scope=o.scope,
        provider=o.provider,
    )


def spec_of(request: ingest_pb2.RegisterMailboxRequest, tenant_id: str | None = None) -> MailboxSpec:
    return MailboxSpec(
        tenant_id=tenant_id or request.tenant_id,
        name=request.name,
        address=request.address,
        imap_host=request.imap_host,
        imap_port=request.imap_port,
        tls_mode=request.tls_mode or "tls",
        username=request.username,
        password=request.password,
        folders=tuple(request.folders) or ("INBOX",),
        smtp_host=request.smtp_host,
        smtp_port=request.smtp_port,
        smtp_tls_mode=request.smtp_tls_mode,
        auth_method=request.auth_method or "password",
        oauth=_oauth(request.oauth),
    )


def quarantine_view(q: QuarantinedMail) -> ingest_pb2.QuarantinedView:
    folder, uidvalidity, uid = q.location
    view = ingest_pb2.QuarantinedView(
        quarantine_id=str(q.id),
        tenant_id=q.tenant_id,
        mailbox_id=q.mailbox_id,
        folder=folder,
        uidvalidity=uidvalidity,
        uid=uid,
        source=q.source,
        raw_sha256=q.raw_sha256,
        raw_size=q.raw_size,
        reason=q.reason,
        status=q.status,
        message_id=q.message_id,
        replays=q.replays,
    )
    view.quarantined_at.FromDatetime(q.created_on)
    return view


class IngestServicer(ingest_pb2_grpc.IngestServiceServicer):
    def __init__(
        self,
        app: IngestApplication,
        health_of: Callable[[str], SyncHealth | None],
        on_changed: Callable[[], None],
        probe_tokens: TokenSource,
        tokens_for: Callable[[str], TokenSource],
        imap_timeout: float = 15.0,
        ca_file: str = "",
    ) -> None:
        self.app = app
        self.health_of = health_of
        self.on_changed = on_changed
        self.probe_tokens = probe_tokens
        self.tokens_for = tokens_for
        self.imap_timeout = imap_timeout
        self.ca_file = ca_file

    def _view(self, mailbox: Mailbox) -> ingest_pb2.MailboxView:
        view = ingest_pb2.MailboxView(
            mailbox_id=str(mailbox.id),
            tenant_id=mailbox.tenant_id,
            name=mailbox.name,
            address=mailbox.address,
            imap_host=mailbox.imap_host,
            imap_port=mailbox.imap_port,
            tls_mode=mailbox.tls_mode,
            username=mailbox.username,
            folders=mailbox.folders,
            messages_received=mailbox.messages_received,
            smtp_host=mailbox.smtp_host,
            smtp_port=mailbox.smtp_port,
            paused=mailbox.status == "paused",
            auth_method=mailbox.auth_method,
            oauth_provider=mailbox.oauth_provider,
            oauth_token_endpoint=mailbox.token_endpoint,
            oauth_client_id=mailbox.client_id,
            messages_quarantined=mailbox.messages_quarantined,
        )
        for folder in mailbox.folders:
            uidvalidity, last_uid = mailbox.positions.get(folder, (0, 0))
            view.folder_sync.add(folder=folder, uidvalidity=uidvalidity, last_uid=last_uid)
        health = self.health_of(str(mailbox.id))
        if health is not None:
            view.last_error = health.last_error
            view.last_error_stage = health.last_error_stage
            view.connected = health.connected
            view.errors = health.errors
            view.lag_seconds = health.lag_seconds
            view.backfill_total = health.backfill_total
            view.backfill_done = health.backfill_done
            view.backfill_remaining = health.backfill_remaining
            if health.last_sync_at:
                view.last_sync_at.FromSeconds(int(health.last_sync_at))
            for row in view.folder_sync:
                progress = health.folders.get(row.folder)
                if progress is not None:
                    row.backfill_total = progress.backfill_total
                    row.backfill_done = progress.backfill_done
                    row.backfill_remaining = progress.remaining
        return view

    async def _mailbox(self, context, tenant_id: str, mailbox_id: str) -> Mailbox:  # noqa: ANN001
        try:
            return await asyncio.to_thread(self.app.tenant_mailbox, tenant_id, mailbox_id)
        except MailboxNotFound:
            await context.abort(grpc.StatusCode.NOT_FOUND, "no such mailbox")
            raise

    async def RegisterMailbox(self, request, context):  # noqa: N802, ANN001
        try:
            mailbox = await asyncio.to_thread(self.app.register_mailbox, spec_of(request))
        except InvalidMailbox as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        except MailboxExists as exc:
            await context.abort(grpc.StatusCode.ALREADY_EXISTS, str(exc))
        self.on_changed()
        return self._view(mailbox)

    async def ListMailboxes(self, request, context):  # noqa: N802, ANN001
        mailboxes = await asyncio.to_thread(self.app.mailboxes, request.tenant_id)
        return ingest_pb2.ListMailboxesResponse(mailboxes=[self._view(m) for m in mailboxes])

    async def GetMailbox(self, request, context):  # noqa: N802, ANN001
        return self._view(await self._mailbox(context, request.tenant_id, request.mailbox_id))

    async def TestConnection(self, request, context):  # noqa: N802, ANN001
        if request.mailbox_id:
            mailbox = await self._mailbox(context, request.tenant_id, request.mailbox_id)
            login = await asyncio.to_thread(self.app.credentials, mailbox)
            host, port, tls_mode, folders = (
                mailbox.imap_host,
                mailbox.imap_port,
                mailbox.tls_mode,
                mailbox.folders,
            )
            tokens = self.tokens_for(str(mailbox.id))
        else:
            spec = spec_of(request.spec, tenant_id=request.tenant_id)
            try:
                self.app.validate_spec(spec)
                login = self.app.login_of_spec(spec)
            except InvalidMailbox as exc:
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
            host, port, tls_mode, folders = spec.imap_host, spec.imap_port, spec.tls_mode, list(spec.folders)
            tokens = self.probe_tokens
        result = await asyncio.to_thread(
            probe, host, port, tls_mode, list(folders), login, tokens, self.imap_timeout, self.ca_file
        )
        return ingest_pb2.ConnectionTestResult(
            ok=result.ok,
            stage=result.stage,
            reason=result.reason,
            folders_found=result.folders_found,
            capabilities=result.capabilities,
        )

    async def UpdateMailbox(self, request, context):  # noqa: N802, ANN001
        changes = MailboxChanges(
            name=request.name or None,
            imap_host=request.imap_host or None,
            imap_port=request.imap_port or None,
            tls_mode=request.tls_mode or None,
            folders=tuple(request.folders) or None,
            smtp_host=request.smtp_host if request.HasField("smtp_host") else None,
            smtp_port=request.smtp_port if request.HasField("smtp_port") else None,
            smtp_tls_mode=request.smtp_tls_mode if request.HasField("smtp_tls_mode") else None,
            username=request.username or None,
            password=request.password or None,
            auth_method=request.auth_method or None,
            oauth=_oauth(request.oauth) if request.HasField("oauth") else None,
        )
        try:
            mailbox = await asyncio.to_thread(
                self.app.update_mailbox, request.tenant_id, request.mailbox_id, changes
            )
        except MailboxNotFound:
            await context.abort(grpc.StatusCode.NOT_FOUND, "no such mailbox")
        except InvalidMailbox as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        self.on_changed()
        return self._view(mailbox)

    async def _status(self, method, request, context):  # noqa: ANN001, ANN202
        try:
            mailbox = await asyncio.to_thread(method, request.tenant_id, request.mailbox_id)
        except MailboxNotFound:
            await context.abort(grpc.StatusCode.NOT_FOUND, "no such mailbox")
        self.on_changed()
        return mailbox

    async def PauseMailbox(self, request, context):  # noqa: N802, ANN001
        return self._view(await self._status(self.app.pause_mailbox, request, context))

    async def ResumeMailbox(self, request, context):  # noqa: N802, ANN001
        return self._view(await self._status(self.app.resume_mailbox, request, context))

    async def RemoveMailbox(self, request, context):  # noqa: N802, ANN001
        mailbox = await self._status(self.app.remove_mailbox, request, context)
        return ingest_pb2.RemoveMailboxResponse(mailbox_id=str(mailbox.id))

    async def ListQuarantine(self, request, context):  # noqa: N802, ANN001
        items = await asyncio.to_thread(
            self.app.quarantined, request.tenant_id, request.mailbox_id, request.include_replayed
        )
        return ingest_pb2.ListQuarantineResponse(items=[quarantine_view(q) for q in items])

    async def ReplayQuarantine(self, request, context):  # noqa: N802, ANN001
        try:
            for qid in request.quarantine_ids:
                uuid.UUID(qid)
            items = await asyncio.to_thread(
                self.app.replay, request.tenant_id, list(request.quarantine_ids), request.all
            )
        except (ValueError, LookupError) as exc:
            await context.abort(grpc.StatusCode.NOT_FOUND, str(exc) or "no such quarantined mail")
        self.on_changed()
        return ingest_pb2.ReplayQuarantineResponse(items=[quarantine_view(q) for q in items])
