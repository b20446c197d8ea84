from __future__ import annotations

from fastapi import APIRouter, status
from responer.ingest.v1 import ingest_pb2

from responer_gateway.api import convert
from responer_gateway.api.deps import Context, CurrentAdmin, CurrentUser, IngestClient
from responer_gateway.api.schemas import MailboxCreate, MailboxPublic

router = APIRouter(prefix="/api/mailboxes", tags=["mailboxes"])


@router.get("", response_model=list[MailboxPublic])
async def list_mailboxes(user: CurrentUser, ingest: IngestClient, ctx: Context) -> list[MailboxPublic]:
    """The tenant's mailboxes with their sync state (never their passwords)."""
    reply = await ingest.ListMailboxes(
        ingest_pb2.ListMailboxesRequest(tenant_id=user.tenant_id), timeout=ctx.timeout
    )
    return [convert.mailbox(m) for m in reply.mailboxes]


@router.post("", response_model=MailboxPublic, status_code=status.HTTP_201_CREATED)
async def create_mailbox(
    body: MailboxCreate, admin: CurrentAdmin, ingest: IngestClient, ctx: Context
) -> MailboxPublic:
    """Connect an IMAP mailbox; ingest stores the password encrypted and starts syncing."""
    view = await ingest.RegisterMailbox(
        ingest_pb2.RegisterMailboxRequest(
            tenant_id=admin.tenant_id,
            name=body.name,
            address=body.address,
            imap_host=body.imap_host,
            imap_port=body.imap_port,
            tls_mode=body.tls_mode,
            username=body.username,
            password=body.password,
            folders=body.folders,
            smtp_host=body.smtp_host or "",
            smtp_port=body.smtp_port or 0,
            smtp_tls_mode=body.smtp_tls_mode or "",
        ),
        timeout=ctx.timeout,
    )
    return convert.mailbox(view)
