"""The gRPC SearchService: validates requests, calls the (synchronous) backend in a thread."""

from __future__ import annotations

import asyncio
import logging

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from responer.events.v1 import mail_pb2
from responer.search.v1 import search_pb2, search_pb2_grpc
from responer_runtime.grpcutil import abort_invalid, abort_not_found

from responer_search.domain.cursor import InvalidCursor
from responer_search.domain.model import (
    INBOX,
    RESULTS,
    SORTS,
    Facets,
    SearchOptions,
    StoredMessage,
    ThreadPage,
    ThreadSummary,
    TimelineItem,
)
from responer_search.domain.ports import BackendUnavailable, SearchBackend
from responer_search.domain.query import InvalidQuery, parse

log = logging.getLogger(__name__)

MAX_ID_CHARS = 200


def _timestamp(value) -> Timestamp:  # noqa: ANN001
    ts = Timestamp()
    if value is not None:
        ts.FromDatetime(value)
    return ts


def thread_summary(t: ThreadSummary) -> search_pb2.ThreadSummary:
    return search_pb2.ThreadSummary(
        thread_id=t.thread_id,
        number=t.number,
        subject=t.subject,
        folder=t.folder,
        status=t.status,
        customer_email=t.customer_email,
        customer_name=t.customer_name,
        message_count=t.message_count,
        last_message_at=_timestamp(t.last_message_at),
        snippet=t.snippet,
        mailbox_id=t.mailbox_id,
        system_reason=t.system_reason,
        assignee_user_id=t.assignee_user_id,
        tags=list(t.tags),
        assignee_group_id=t.assignee_group_id,
        best_message_id=t.best_message_id,
        priority=t.priority,
        due_at=_timestamp(t.due_at) if t.due_at is not None else None,
        unread=t.unread,
    )


def timeline_item(i: TimelineItem) -> search_pb2.TimelineItem:
    return search_pb2.TimelineItem(
        item_id=i.item_id,
        kind=i.kind,
        at=_timestamp(i.at),
        actor_user_id=i.actor,
        body=i.body,
        detail=i.detail,
    )


def facets(f: Facets) -> search_pb2.Facets:
    def counts(items):  # noqa: ANN001, ANN202
        return [search_pb2.FacetCount(value=c.value, threads=c.threads) for c in items]

    return search_pb2.Facets(folders=counts(f.folders), tags=counts(f.tags), assignees=counts(f.assignees))


def message_view(m: StoredMessage) -> search_pb2.MessageView:
    mail = mail_pb2.Mail()
    mail.ParseFromString(m.mail)
    return search_pb2.MessageView(
        message_id=m.message_id,
        thread_id=m.thread_id,
        mail=mail,
        mailbox_id=m.mailbox_id,
        mailbox_address=m.mailbox_address,
        at=_timestamp(m.at),
        other_mailboxes=[search_pb2.Mailbox(mailbox_id=i, mailbox_address=a) for i, a in m.other_mailboxes],
    )


def thread_page(page: ThreadPage) -> search_pb2.ThreadPage:
    return search_pb2.ThreadPage(
        threads=[thread_summary(t) for t in page.threads],
        next_cursor=page.next_cursor,
        total=page.total,
        total_estimated=not page.total_exact,
        facets=facets(page.facets) if page.facets is not None else None,
        messages=[
            search_pb2.MessageHit(
                message_id=m.message_id,
                thread_id=m.thread_id,
                thread_number=m.thread_number,
                subject=m.subject,
                from_email=m.from_email,
                from_name=m.from_name,
                at=_timestamp(m.at),
                snippet=m.snippet,
            )
            for m in page.messages
        ],
    )


class InvalidRequest(ValueError):
    pass


def _text(value: str, name: str, required: bool = True) -> str:
    if required and not value:
        raise InvalidRequest(f"{name} is required")
    if len(value) > MAX_ID_CHARS or "\x00" in value:
        raise InvalidRequest(f"{name} is not valid")
    return value


def _choice(value: str, allowed: tuple[str, ...], name: str) -> str:
    if not value:
        return allowed[0]
    if value not in allowed:
        raise InvalidRequest(f"{name} must be one of {', '.join(allowed)}")
    return value


class SearchServicer(search_pb2_grpc.SearchServiceServicer):
    def __init__(self, backend: SearchBackend, default_limit: int = 50, max_limit: int = 200) -> None:
        self.backend = backend
        self.default_limit = default_limit
        self.max_limit = max_limit

    def _limit(self, limit: int) -> int:
        if limit < 0:
            raise InvalidRequest("limit must not be negative")
        return min(limit or self.default_limit, self.max_limit)

    async def _call(self, context: grpc.aio.ServicerContext, fn, *args, **kwargs):  # noqa: ANN001, ANN202
        try:
            return await asyncio.to_thread(fn, *args, **kwargs)
        except (InvalidCursor, InvalidQuery, InvalidRequest) as exc:
            await abort_invalid(context, str(exc))
        except BackendUnavailable:
            log.warning("search backend unavailable", exc_info=True)
            await context.abort(grpc.StatusCode.UNAVAILABLE, "search is temporarily unavailable; retry")

    async def ListThreads(self, request, context):  # noqa: ANN001, ANN201, N802
        try:
            tenant = _text(request.tenant_id, "tenant_id")
            folder = _text(request.folder, "folder", required=False) or INBOX
            limit = self._limit(request.limit)
            user_id = _text(request.user_id, "user_id", required=False)
            query = parse(request.filter) if request.filter.strip() else None
        except (InvalidRequest, InvalidQuery) as exc:
            await abort_invalid(context, str(exc))
        page = await self._call(
            context, self.backend.list_threads, tenant, folder, limit, request.cursor, query, user_id
        )
        return thread_page(page)

    async def GetThread(self, request, context):  # noqa: ANN001, ANN201, N802
        try:
            tenant = _text(request.tenant_id, "tenant_id")
            thread_id = _text(request.thread_id, "thread_id", required=False)
            if not thread_id and request.number <= 0:
                raise InvalidRequest("thread_id or number is required")
        except InvalidRequest as exc:
            await abort_invalid(context, str(exc))
        detail = await self._call(
            context, self.backend.get_thread, tenant, thread_id=thread_id, number=request.number
        )
        if detail is None:
            # Also the answer for another tenant's thread: existence elsewhere is not disclosed.
            await abort_not_found(context, "no such thread")
        return search_pb2.ThreadDetail(
            thread=thread_summary(detail.thread),
            messages=[message_view(m) for m in detail.messages],
            timeline=[timeline_item(i) for i in detail.timeline],
            mailboxes=[search_pb2.Mailbox(mailbox_id=i, mailbox_address=a) for i, a in detail.mailboxes],
        )

    async def Search(self, request, context):  # noqa: ANN001, ANN201, N802
        try:
            tenant = _text(request.tenant_id, "tenant_id")
            limit = self._limit(request.limit)
            query = parse(request.query)
            options = SearchOptions(
                user_id=_text(request.user_id, "user_id", required=False),
                sort=_choice(request.sort, SORTS, "sort"),
                result=_choice(request.result, RESULTS, "result"),
                facets=request.facets,
            )
        except (InvalidRequest, InvalidQuery) as exc:
            await abort_invalid(context, str(exc))
        page = await self._call(context, self.backend.search, tenant, query, limit, request.cursor, options)
        return thread_page(page)

    async def FolderCounts(self, request, context):  # noqa: ANN001, ANN201, N802
        try:
            tenant = _text(request.tenant_id, "tenant_id")
        except InvalidRequest as exc:
            await abort_invalid(context, str(exc))
        counts = await self._call(context, self.backend.folder_counts, tenant)
        return search_pb2.FolderCountsResponse(
            folders=[search_pb2.FolderCount(folder=c.folder, threads=c.threads) for c in counts]
        )
