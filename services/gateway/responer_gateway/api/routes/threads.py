from __future__ import annotations

import asyncio
import uuid
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, status
from responer.outbox.v1 import outbox_pb2
from responer.search.v1 import search_pb2

from responer_gateway.api import convert
from responer_gateway.api.deps import Context, CurrentUser, OutboxClient, Principal, SearchClient
from responer_gateway.api.schemas import ReplyCreate, ReplyPublic, ThreadDetailPublic, ThreadsPublic
from responer_gateway.replies import NothingToAnswerError, build_queue_reply

router = APIRouter(prefix="/api/threads", tags=["threads"])

ThreadId = Annotated[str, Path(min_length=1, max_length=100, description="the thread's id")]


@router.get("", response_model=ThreadsPublic)
async def list_threads(
    user: CurrentUser,
    search: SearchClient,
    ctx: Context,
    folder: Annotated[str, Query(min_length=1, max_length=200)] = "Inbox",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str, Query(max_length=1000)] = "",
    unread: Annotated[
        bool | None, Query(description="true: only threads unread for you; false: only those you have read")
    ] = None,
) -> ThreadsPublic:
    """Threads of one folder, newest activity first, paginated by an opaque cursor; `unread` is yours."""
    page = await search.ListThreads(
        search_pb2.ListThreadsRequest(
            tenant_id=user.tenant_id,
            folder=folder,
            limit=limit,
            cursor=cursor,
            user_id=user.user_id,
            filter="" if unread is None else ("is:unread" if unread else "is:read"),
        ),
        timeout=ctx.timeout,
    )
    return convert.thread_page(page)


async def _record_reading(ctx: Context, user: Principal, thread_id: str, unread: bool = False) -> None:
    command = ctx.app.mark_thread_unread if unread else ctx.app.record_thread_read
    await asyncio.to_thread(command, uuid.UUID(user.tenant_id), uuid.UUID(user.user_id), thread_id)
    ctx.on_saved()


@router.get("/by-number/{number}", response_model=ThreadDetailPublic)
async def read_thread_by_number(
    number: Annotated[int, Path(ge=1)], user: CurrentUser, search: SearchClient, ctx: Context
) -> ThreadDetailPublic:
    """One thread by its human number (#1000) with its messages, oldest first; marks it read for you."""
    detail = await search.GetThread(
        search_pb2.GetThreadRequest(tenant_id=user.tenant_id, number=number), timeout=ctx.timeout
    )
    await _record_reading(ctx, user, detail.thread.thread_id)
    return convert.thread_detail(detail)


@router.get("/{thread_id}", response_model=ThreadDetailPublic)
async def read_thread(
    thread_id: ThreadId, user: CurrentUser, search: SearchClient, ctx: Context
) -> ThreadDetailPublic:
    """One thread with its messages, oldest first; HTML bodies are sanitised. Marks it read for you."""
    detail = await search.GetThread(
        search_pb2.GetThreadRequest(tenant_id=user.tenant_id, thread_id=thread_id), timeout=ctx.timeout
    )
    # Recorded on the thread the reader sees (a merged thread's id answers as its target).
    await _record_reading(ctx, user, detail.thread.thread_id)
    return convert.thread_detail(detail)


@router.post("/{thread_id}/unread", status_code=status.HTTP_204_NO_CONTENT)
async def mark_thread_unread(
    thread_id: ThreadId, user: CurrentUser, search: SearchClient, ctx: Context
) -> None:
    """Mark the thread unread for you (only you) until you open it again."""
    detail = await search.GetThread(
        search_pb2.GetThreadRequest(tenant_id=user.tenant_id, thread_id=thread_id), timeout=ctx.timeout
    )
    await _record_reading(ctx, user, detail.thread.thread_id, unread=True)


@router.post("/{thread_id}/read", status_code=status.HTTP_204_NO_CONTENT)
async def mark_thread_read(
    thread_id: ThreadId, user: CurrentUser, search: SearchClient, ctx: Context
) -> None:
    """Mark the thread read for you without opening it (e.g. from the list)."""
    detail = await search.GetThread(
        search_pb2.GetThreadRequest(tenant_id=user.tenant_id, thread_id=thread_id), timeout=ctx.timeout
    )
    await _record_reading(ctx, user, detail.thread.thread_id)


@router.post("/{thread_id}/replies", response_model=ReplyPublic, status_code=status.HTTP_202_ACCEPTED)
async def create_reply(
    thread_id: ThreadId,
    body: ReplyCreate,
    user: CurrentUser,
    search: SearchClient,
    outbox: OutboxClient,
    ctx: Context,
) -> ReplyPublic:
    """Queue a reply to the thread's last customer message; poll GET /api/replies/{id} for delivery."""
    detail = await search.GetThread(
        search_pb2.GetThreadRequest(tenant_id=user.tenant_id, thread_id=thread_id), timeout=ctx.timeout
    )
    try:
        request = build_queue_reply(
            detail,
            body=body.body,
            reply_id=str(body.reply_id or uuid.uuid4()),
            tenant_id=user.tenant_id,
            author_user_id=user.user_id,
        )
    except NothingToAnswerError as exc:
        raise HTTPException(status_code=status.HTTP_409_CONFLICT, detail=str(exc)) from exc
    view: outbox_pb2.ReplyView = await outbox.QueueReply(request, timeout=ctx.timeout)
    return convert.reply(view)
