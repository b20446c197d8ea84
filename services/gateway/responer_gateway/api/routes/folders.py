from __future__ import annotations

from fastapi import APIRouter
from responer.search.v1 import search_pb2

from responer_gateway.api.deps import Context, CurrentUser, SearchClient
from responer_gateway.api.schemas import FolderPublic

router = APIRouter(prefix="/api/folders", tags=["folders"])

INBOX, SYSTEM = "Inbox", "System"


@router.get("", response_model=list[FolderPublic])
async def list_folders(user: CurrentUser, search: SearchClient, ctx: Context) -> list[FolderPublic]:
    """Folders with their thread counts: Inbox first, the tenant's own folders, System last."""
    reply = await search.FolderCounts(
        search_pb2.FolderCountsRequest(tenant_id=user.tenant_id), timeout=ctx.timeout
    )
    counts = {f.folder: f.threads for f in reply.folders}
    own = [name for name in counts if name not in (INBOX, SYSTEM)]
    return [FolderPublic(folder=name, threads=counts.get(name, 0)) for name in [INBOX, *own, SYSTEM]]
