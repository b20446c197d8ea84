"""Quarantine: mail ingest could not process, kept raw with a reason, and its replay."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field, model_validator
from responer.ingest.v1 import ingest_pb2

from responer_gateway.api import convert
from responer_gateway.api.deps import Context, CurrentAdmin, CurrentUser, IngestClient

router = APIRouter(prefix="/api/quarantine", tags=["quarantine"])


class QuarantinedPublic(BaseModel):
    id: str
    mailbox_id: str
    folder: str
    uidvalidity: int
    uid: int
    source: str
    raw_sha256: str
    raw_size: int
    reason: str
    quarantined_at: str | None
    status: str
    message_id: str
    replays: int


class ReplayRequest(BaseModel):
    ids: list[str] = Field(default_factory=list, max_length=1000)
    all: bool = False

    @model_validator(mode="after")
    def _something(self) -> ReplayRequest:
        if not self.ids and not self.all:
            raise ValueError("give ids or all=true")
        return self


def item(v: ingest_pb2.QuarantinedView) -> QuarantinedPublic:
    return QuarantinedPublic(
        id=v.quarantine_id,
        mailbox_id=v.mailbox_id,
        folder=v.folder,
        uidvalidity=v.uidvalidity,
        uid=v.uid,
        source=v.source,
        raw_sha256=v.raw_sha256,
        raw_size=v.raw_size,
        reason=v.reason,
        quarantined_at=convert.iso(v.quarantined_at),
        status=v.status,
        message_id=v.message_id,
        replays=v.replays,
    )


@router.get("", response_model=list[QuarantinedPublic])
async def list_quarantine(
    user: CurrentUser,
    ingest: IngestClient,
    ctx: Context,
    mailbox_id: str = "",
    include_replayed: bool = False,
) -> list[QuarantinedPublic]:
    """Mail that could not be processed (raw kept), with the reason."""
    reply = await ingest.ListQuarantine(
        ingest_pb2.ListQuarantineRequest(
            tenant_id=user.tenant_id, mailbox_id=mailbox_id, include_replayed=include_replayed
        ),
        timeout=ctx.timeout,
    )
    return [item(v) for v in reply.items]


@router.post("/replay", response_model=list[QuarantinedPublic])
async def replay(
    body: ReplayRequest, admin: CurrentAdmin, ingest: IngestClient, ctx: Context
) -> list[QuarantinedPublic]:
    """Run quarantined mail through ingest again; what now works becomes a message."""
    reply = await ingest.ReplayQuarantine(
        ingest_pb2.ReplayQuarantineRequest(tenant_id=admin.tenant_id, quarantine_ids=body.ids, all=body.all),
        timeout=max(ctx.timeout, 120.0),
    )
    return [item(v) for v in reply.items]
