"""Groups of agents: members and manager (owned here, published as GroupChanged) and the group's
assignment strategy and limits (owned by routing, set over its gRPC API)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any, Literal

import grpc
from fastapi import APIRouter, HTTPException, Response, status
from pydantic import BaseModel, Field
from responer.routing.v1 import routing_pb2 as pb

from responer_gateway.api.deps import Context, CurrentAdmin, CurrentUser, RoutingClient
from responer_gateway.api.routes.rules import public
from responer_gateway.application import GroupError, GroupNameTakenError, NotInTenantError
from responer_gateway.domain import Group

router = APIRouter(prefix="/api/groups", tags=["groups"])

Strategy = Literal["manual", "round_robin", "least_open", "competence"]


class PolicyIn(BaseModel):
    strategy: Strategy = "manual"
    max_open_per_agent: int = Field(0, ge=0, le=10_000, description="0: no limit")
    assignment_timeout_minutes: int = Field(0, ge=0, le=60 * 24 * 30, description="0: never returned")
    skills: list[str] = Field(
        [], max_length=100, description="for competence: skills the group's threads need"
    )


class GroupCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    member_user_ids: list[str] = Field([], max_length=1000)
    manager_user_id: str = ""
    policy: PolicyIn | None = None


class GroupUpdate(BaseModel):
    name: str | None = Field(None, min_length=1, max_length=200)
    member_user_ids: list[str] | None = Field(None, max_length=1000)
    manager_user_id: str | None = None


def group_public(group: Group, policy: pb.GroupPolicy | None) -> dict[str, Any]:
    return {
        "group_id": str(group.id),
        "name": group.name,
        "member_user_ids": list(group.member_user_ids),
        "manager_user_id": group.manager_user_id,
        "policy": None
        if policy is None
        else {
            "strategy": policy.strategy or "manual",
            "max_open_per_agent": policy.max_open_per_agent,
            "assignment_timeout_minutes": policy.assignment_timeout_minutes,
            "skills": list(policy.skills),
        },
    }


async def _policies(ctx: Context, tenant_id: str) -> dict[str, pb.GroupPolicy]:
    """Routing's policies by group; empty when routing cannot be asked (the groups still list)."""
    if ctx.backends.routing is None:
        return {}
    try:
        reply = await ctx.backends.routing.ListGroups(pb.TenantRef(tenant_id=tenant_id), timeout=ctx.timeout)
    except grpc.aio.AioRpcError:
        return {}
    return {g.group_id: g.policy for g in reply.groups if g.HasField("policy")}


async def _set_policy(ctx: Context, tenant_id: str, group_id: str, body: PolicyIn) -> pb.GroupPolicy:
    if ctx.backends.routing is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail="routing is not configured")
    return await ctx.backends.routing.SetGroupPolicy(
        pb.GroupPolicy(tenant_id=tenant_id, group_id=group_id, **body.model_dump()), timeout=ctx.timeout
    )


async def _command(ctx: Context, fn: Any, *args: Any) -> Any:
    try:
        result = await asyncio.to_thread(fn, *args)
    except NotInTenantError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc)) from exc
    except GroupNameTakenError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from exc
    except GroupError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, detail=str(exc)) from exc
    ctx.on_saved()
    return result


@router.get("")
async def list_groups(user: CurrentUser, ctx: Context) -> list[dict[str, Any]]:
    """The tenant's groups with members, manager and assignment policy."""
    groups = await asyncio.to_thread(ctx.app.list_groups, uuid.UUID(user.tenant_id))
    policies = await _policies(ctx, user.tenant_id)
    return [group_public(g, policies.get(str(g.id))) for g in groups]


@router.get("/agents")
async def list_agents(user: CurrentUser, routing: RoutingClient, ctx: Context) -> list[dict[str, Any]]:
    """Agents as routing sees them: availability, skills, limit, open threads, groups."""
    reply = await routing.ListAgents(pb.TenantRef(tenant_id=user.tenant_id), timeout=ctx.timeout)
    return [public(a) for a in reply.agents]


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_group(body: GroupCreate, admin: CurrentAdmin, ctx: Context) -> dict[str, Any]:
    """Create a group (members and manager must be users of the tenant), optionally with its policy."""
    tid = uuid.UUID(admin.tenant_id)
    group = await _command(
        ctx, ctx.app.create_group, tid, body.name, body.member_user_ids, body.manager_user_id
    )
    policy = await _set_policy(ctx, admin.tenant_id, str(group.id), body.policy) if body.policy else None
    return group_public(group, policy)


@router.get("/{group_id}")
async def read_group(group_id: str, user: CurrentUser, ctx: Context) -> dict[str, Any]:
    """One group."""
    group = await asyncio.to_thread(ctx.app.get_group, uuid.UUID(user.tenant_id), group_id)
    if group is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no group {group_id} in this tenant")
    return group_public(group, (await _policies(ctx, user.tenant_id)).get(group_id))


@router.put("/{group_id}")
async def update_group(group_id: str, body: GroupUpdate, admin: CurrentAdmin, ctx: Context) -> dict[str, Any]:  # fmt: skip
    """Rename a group, replace its members (in round-robin order) or its manager; unset fields stay."""
    tid = uuid.UUID(admin.tenant_id)
    group = await _command(ctx, ctx.app.change_group, tid, group_id, body.name, body.member_user_ids, body.manager_user_id)  # fmt: skip
    return group_public(group, (await _policies(ctx, admin.tenant_id)).get(group_id))


@router.put("/{group_id}/policy")
async def set_group_policy(group_id: str, body: PolicyIn, admin: CurrentAdmin, ctx: Context) -> dict[str, Any]:  # fmt: skip
    """Set how threads given to the group pick an agent: manual, round_robin, least_open or competence."""
    group = await asyncio.to_thread(ctx.app.get_group, uuid.UUID(admin.tenant_id), group_id)
    if group is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no group {group_id} in this tenant")
    return group_public(group, await _set_policy(ctx, admin.tenant_id, group_id, body))


@router.delete("/{group_id}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_group(group_id: str, admin: CurrentAdmin, ctx: Context) -> Response:
    """Remove a group (its threads keep their assignee)."""
    await _command(ctx, ctx.app.remove_group, uuid.UUID(admin.tenant_id), group_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
