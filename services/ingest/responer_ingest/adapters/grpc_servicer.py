"""IngestService over gRPC. Passwords go in, never out."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

import grpc
from eventsourcing.application import AggregateNotFoundError
from responer.ingest.v1 import ingest_pb2, ingest_pb2_grpc

from responer_ingest.adapters.imap_sync import SyncHealth
from responer_ingest.application import IngestApplication, MailboxExists, MailboxSpec
from responer_ingest.domain.mailbox import InvalidMailbox, Mailbox


class IngestServicer(ingest_pb2_grpc.IngestServiceServicer):
    def __init__(
        self,
        app: IngestApplication,
        health_of: Callable[[str], SyncHealth | None],
        on_registered: Callable[[], None],
    ) -> None:
        self.app = app
        self.health_of = health_of
        self.on_registered = on_registered

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
        )
        health = self.health_of(str(mailbox.id))
        if health is not None:
            view.last_error = health.last_error
            if health.last_sync_at:
                view.last_sync_at.FromSeconds(int(health.last_sync_at))
        return view

    async def RegisterMailbox(self, request, context):  # noqa: N802, ANN001
        spec = MailboxSpec(
            tenant_id=request.tenant_id,
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
        )
        try:
            mailbox = await asyncio.to_thread(self.app.register_mailbox, spec)
        except InvalidMailbox as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        except MailboxExists as exc:
            await context.abort(grpc.StatusCode.ALREADY_EXISTS, str(exc))
        self.on_registered()
        return self._view(mailbox)

    async def ListMailboxes(self, request, context):  # noqa: N802, ANN001
        mailboxes = await asyncio.to_thread(self.app.mailboxes, request.tenant_id)
        return ingest_pb2.ListMailboxesResponse(mailboxes=[self._view(m) for m in mailboxes])

    async def GetMailbox(self, request, context):  # noqa: N802, ANN001
        try:
            mailbox = await asyncio.to_thread(self.app.mailbox, uuid.UUID(request.mailbox_id))
        except (ValueError, AggregateNotFoundError):
            mailbox = None
        if mailbox is None or mailbox.tenant_id != request.tenant_id:
            await context.abort(grpc.StatusCode.NOT_FOUND, "no such mailbox")
        return self._view(mailbox)
