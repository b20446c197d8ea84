from __future__ import annotations

import uuid

from fastapi import APIRouter
from responer.outbox.v1 import outbox_pb2

from responer_gateway.api import convert
from responer_gateway.api.deps import Context, CurrentUser, OutboxClient
from responer_gateway.api.schemas import ReplyPublic

router = APIRouter(prefix="/api/replies", tags=["replies"])


@router.get("/{reply_id}", response_model=ReplyPublic)
async def read_reply(
    reply_id: uuid.UUID, user: CurrentUser, outbox: OutboxClient, ctx: Context
) -> ReplyPublic:
    """A reply's delivery state: queued, sent or failed (with the error)."""
    view = await outbox.GetReply(
        outbox_pb2.GetReplyRequest(tenant_id=user.tenant_id, reply_id=str(reply_id)), timeout=ctx.timeout
    )
    return convert.reply(view)
