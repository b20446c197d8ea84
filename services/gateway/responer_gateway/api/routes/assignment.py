"""A thread's routing: assignment (with history), tags, priority, folder; the unanswered view."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field
from responer.routing.v1 import routing_pb2 as pb

from responer_gateway.api.deps import Context, CurrentUser, RoutingClient
from responer_gateway.api.routes.rules import public

router = APIRouter(prefix="/api", tags=["assignment"])


class AssignIn(BaseModel):
    user_id: str = Field("", description="empty with an empty group_id: unassign")
    group_id: str = ""
    reason: str = ""
    auto: bool = Field(False, description="with group_id alone: the group's strategy picks the agent")


class TagsIn(BaseModel):
    add: list[str] = []
    remove: list[str] = []


class PriorityIn(BaseModel):
    priority: str = Field(description="low, normal, high, urgent")


class MoveIn(BaseModel):
    folder: str


@router.get("/threads/{thread_id}/routing")
async def thread_routing(
    thread_id: str, user: CurrentUser, routing: RoutingClient, ctx: Context
) -> dict[str, Any]:
    """Folder, tags, priority, assignee and the full assignment history, the running deadline."""
    reply = await routing.GetThread(
        pb.ThreadRef(tenant_id=user.tenant_id, thread_id=thread_id), timeout=ctx.timeout
    )
    return public(reply)


@router.post("/threads/{thread_id}/assign")
async def assign(thread_id: str, body: AssignIn, user: CurrentUser, routing: RoutingClient, ctx: Context) -> dict[str, Any]:  # fmt: skip
    """Assign, reassign or unassign a thread (to a user and/or a group)."""
    reply = await routing.AssignThread(
        pb.AssignThreadRequest(
            tenant_id=user.tenant_id,
            thread_id=thread_id,
            user_id=body.user_id,
            group_id=body.group_id,
            by_user_id=user.user_id,
            reason=body.reason,
            auto=body.auto,
        ),
        timeout=ctx.timeout,
    )
    return public(reply)


@router.post("/threads/{thread_id}/tags")
async def tag(
    thread_id: str, body: TagsIn, user: CurrentUser, routing: RoutingClient, ctx: Context
) -> dict[str, Any]:
    """Add and remove tags."""
    reply = await routing.TagThread(
        pb.TagThreadRequest(
            tenant_id=user.tenant_id,
            thread_id=thread_id,
            add=body.add,
            remove=body.remove,
            by_user_id=user.user_id,
        ),  # fmt: skip
        timeout=ctx.timeout,
    )
    return public(reply)


@router.post("/threads/{thread_id}/priority")
async def priority(thread_id: str, body: PriorityIn, user: CurrentUser, routing: RoutingClient, ctx: Context) -> dict[str, Any]:  # fmt: skip
    """Set the priority."""
    reply = await routing.SetPriority(
        pb.SetPriorityRequest(
            tenant_id=user.tenant_id, thread_id=thread_id, priority=body.priority, by_user_id=user.user_id
        ),  # fmt: skip
        timeout=ctx.timeout,
    )
    return public(reply)


@router.post("/threads/{thread_id}/move")
async def move(
    thread_id: str, body: MoveIn, user: CurrentUser, routing: RoutingClient, ctx: Context
) -> dict[str, Any]:
    """Move the thread to a folder (Inbox, System, Spam or one of the tenant's own)."""
    reply = await routing.MoveThread(
        pb.MoveThreadRequest(
            tenant_id=user.tenant_id, thread_id=thread_id, folder=body.folder, by_user_id=user.user_id
        ),  # fmt: skip
        timeout=ctx.timeout,
    )
    return public(reply)


@router.get("/unanswered")
async def unanswered(user: CurrentUser, routing: RoutingClient, ctx: Context, mine: bool = False, overdue: bool = False) -> list[dict[str, Any]]:  # fmt: skip
    """Conversations waiting for our answer, the most urgent deadline first."""
    reply = await routing.ListUnanswered(
        pb.ListUnansweredRequest(
            tenant_id=user.tenant_id, user_id=user.user_id if mine else "", overdue_only=overdue
        ),
        timeout=ctx.timeout,
    )
    return [public(t) for t in reply.threads]


@router.get("/notifications")
async def notifications(user: CurrentUser, routing: RoutingClient, ctx: Context) -> list[dict[str, Any]]:
    """The logged-in user's notifications (SLA warnings and breaches), newest first."""
    reply = await routing.ListNotifications(pb.ListNotificationsRequest(tenant_id=user.tenant_id, user_id=user.user_id), timeout=ctx.timeout)  # fmt: skip
    return [public(n) for n in reply.notifications]
