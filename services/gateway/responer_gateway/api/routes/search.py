from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from responer.search.v1 import search_pb2

from responer_gateway.api import convert
from responer_gateway.api.deps import Context, CurrentUser, SearchClient
from responer_gateway.api.schemas import ThreadPublic

router = APIRouter(prefix="/api/search", tags=["search"])


class SearchThreadPublic(ThreadPublic):
    tags: list[str]
    best_message_id: str = Field(description="the best-matching message, the snippet's source")


class FacetCountPublic(BaseModel):
    value: str = Field(description='folder name, tag, or assignee user id ("" = unassigned)')
    threads: int


class FacetsPublic(BaseModel):
    folders: list[FacetCountPublic]
    tags: list[FacetCountPublic]
    assignees: list[FacetCountPublic]


class MessageHitPublic(BaseModel):
    id: str
    thread_id: str
    thread_number: int
    subject: str
    from_email: str
    from_name: str
    date: str | None
    snippet: str = Field(description="HTML-escaped excerpt with <mark> around the hits")


class SearchPublic(BaseModel):
    threads: list[SearchThreadPublic]
    messages: list[MessageHitPublic] = Field(description="result=messages: the matching messages")
    next_cursor: str | None
    total: int
    total_exact: bool = Field(
        True,
        description="false: total is not exact - a lower bound (PostgreSQL: a large result is read newest "
        "first; facets then count its newest conversations) or an estimate (OpenSearch, above 40,000)",
    )
    facets: FacetsPublic | None = Field(
        description="facets=true, first page: thread counts over the whole result"
    )


def _facets(f: search_pb2.Facets) -> FacetsPublic:
    def counts(items) -> list[FacetCountPublic]:  # noqa: ANN001
        return [FacetCountPublic(value=c.value, threads=c.threads) for c in items]

    return FacetsPublic(folders=counts(f.folders), tags=counts(f.tags), assignees=counts(f.assignees))


@router.get("", response_model=SearchPublic)
async def search_threads(
    user: CurrentUser,
    search: SearchClient,
    ctx: Context,
    q: Annotated[
        str,
        Query(
            min_length=1,
            max_length=1000,
            description='e.g. from:anna subject:faktura zolw, "parcel never arrived" -spam, tag:vip OR is:pending, '
            "assignee:me is:open after:2026-11-01",
        ),
    ],
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str, Query(max_length=1000)] = "",
    sort: Annotated[Literal["date", "relevance"], Query()] = "date",
    result: Annotated[Literal["threads", "messages"], Query()] = "threads",
    facets: Annotated[bool, Query(description="count threads per folder, tag and assignee")] = False,
) -> SearchPublic:
    """Search with the query language; snippets are HTML-escaped with <mark> around hits."""
    page = await search.Search(
        search_pb2.SearchRequest(
            tenant_id=user.tenant_id,
            query=q,
            limit=limit,
            cursor=cursor,
            user_id=user.user_id,
            sort=sort,
            result=result,
            facets=facets,
        ),
        timeout=ctx.timeout,
    )
    base = convert.thread_page(page)
    return SearchPublic(
        threads=[
            SearchThreadPublic(**t.model_dump(), tags=list(s.tags), best_message_id=s.best_message_id)
            for t, s in zip(base.threads, page.threads, strict=True)
        ],
        messages=[
            MessageHitPublic(
                id=m.message_id,
                thread_id=m.thread_id,
                thread_number=m.thread_number,
                subject=m.subject,
                from_email=m.from_email,
                from_name=m.from_name,
                date=convert.iso(m.at),
                snippet=m.snippet,
            )
            for m in page.messages
        ],
        next_cursor=base.next_cursor,
        total=base.total,
        total_exact=not page.total_estimated,
        facets=_facets(page.facets) if page.HasField("facets") else None,
    )
