from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status
from pydantic import BaseModel
from responer.routing.v1 import routing_pb2
from responer.search.v1 import search_pb2

from responer_gateway.api.deps import Context, CurrentAdmin, CurrentUser, RoutingClient, SearchClient
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


class FolderCreate(BaseModel):
    name: str


@router.get("/setup")
async def folder_setup(user: CurrentUser, routing: RoutingClient, search: SearchClient, ctx: Context) -> list[dict[str, Any]]:  # fmt: skip
    """System folders (Inbox, Mine, Unassigned, System, Closed, Spam) and the tenant's own, with ids and counts."""
    reply = await routing.ListFolders(routing_pb2.TenantRef(tenant_id=user.tenant_id), timeout=ctx.timeout)
    counts = await search.FolderCounts(
        search_pb2.FolderCountsRequest(tenant_id=user.tenant_id), timeout=ctx.timeout
    )
    by_name = {f.folder: f.threads for f in counts.folders}
    return [
        {"folder_id": f.folder_id, "name": f.name, "system": f.system, "threads": by_name.get(f.name, 0)}
        for f in reply.folders
    ]


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_folder(body: FolderCreate, admin: CurrentAdmin, routing: RoutingClient, ctx: Context) -> dict[str, Any]:  # fmt: skip
    """Create one of the tenant's own folders (rules and agents can move threads into it)."""
    f = await routing.CreateFolder(routing_pb2.CreateFolderRequest(tenant_id=admin.tenant_id, name=body.name), timeout=ctx.timeout)  # fmt: skip
    return {"folder_id": f.folder_id, "name": f.name, "system": False}


@router.delete("/{folder_id}")
async def remove_folder(folder_id: str, admin: CurrentAdmin, routing: RoutingClient, ctx: Context) -> list[dict[str, Any]]:  # fmt: skip
    """Remove one of the tenant's own folders."""
    reply = await routing.RemoveFolder(routing_pb2.RemoveFolderRequest(tenant_id=admin.tenant_id, folder_id=folder_id), timeout=ctx.timeout)  # fmt: skip
    return [{"folder_id": f.folder_id, "name": f.name, "system": f.system} for f in reply.folders]
