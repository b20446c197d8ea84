from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from responer.search.v1 import search_pb2

from responer_gateway.api import convert
from responer_gateway.api.deps import Context, CurrentUser, SearchClient
from responer_gateway.api.schemas import ThreadsPublic

router = APIRouter(prefix="/api/search", tags=["search"])


@router.get("", response_model=ThreadsPublic)
async def search_threads(
    user: CurrentUser,
    search: SearchClient,
    ctx: Context,
    q: Annotated[
        str, Query(min_length=1, max_length=1000, description="e.g. from:anna subject:faktura zolw")
    ],
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str, Query(max_length=1000)] = "",
) -> ThreadsPublic:
    """Search threads with the query language; snippets are HTML-escaped with <mark> around hits."""
    page = await search.Search(
        search_pb2.SearchRequest(tenant_id=user.tenant_id, query=q, limit=limit, cursor=cursor),
        timeout=ctx.timeout,
    )
    return convert.thread_page(page)
