from __future__ import annotations

import asyncio
import uuid

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, Field

from responer_gateway.api.deps import Context, CurrentAdmin, CurrentUser
from responer_gateway.api.schemas import TenantPublic, UserCreate, UserPublic
from responer_gateway.application import NotInTenantError, UserExistsError
from responer_gateway.domain import Tenant, User

router = APIRouter(prefix="/api", tags=["users"])


def user_public(user: User, tenant: Tenant | None) -> UserPublic:
    return UserPublic(
        id=str(user.id),
        email=user.email,
        name=user.name,
        role=user.role,
        tenant=TenantPublic(id=str(user.tenant_id), name=tenant.name if tenant else ""),
        available=user.available,
        skills=list(user.skills),
        max_open=user.max_open,
    )


class AvailabilityIn(BaseModel):
    available: bool | None = Field(None, description="available for automatic assignment; unset: unchanged")
    skills: list[str] | None = Field(
        None, max_length=100, description="for competence routing; unset: unchanged"
    )
    max_open: int | None = Field(
        None, ge=0, le=10_000, description="personal open-thread limit, 0: the group's"
    )


@router.get("/me", response_model=UserPublic)
async def read_me(user: CurrentUser, ctx: Context) -> UserPublic:
    """The logged-in user and their tenant."""
    found = await asyncio.to_thread(ctx.app.get_user, uuid.UUID(user.user_id))
    tenant = await asyncio.to_thread(ctx.app.get_tenant, uuid.UUID(user.tenant_id))
    assert found is not None
    return user_public(found, tenant)


@router.put("/me/availability", response_model=UserPublic)
async def set_my_availability(body: AvailabilityIn, user: CurrentUser, ctx: Context) -> UserPublic:
    """Mark yourself available or away for automatic assignment (and set your skills and limit)."""
    return await _set_availability(ctx, user.tenant_id, user.user_id, body)


@router.get("/users", response_model=list[UserPublic])
async def list_users(user: CurrentUser, ctx: Context) -> list[UserPublic]:
    """The users of the caller's tenant, with their availability."""
    tenant_id = uuid.UUID(user.tenant_id)
    users = await asyncio.to_thread(ctx.app.list_users, tenant_id)
    tenant = await asyncio.to_thread(ctx.app.get_tenant, tenant_id)
    return [user_public(u, tenant) for u in users]


@router.post("/users", response_model=UserPublic, status_code=status.HTTP_201_CREATED)
async def create_user(body: UserCreate, admin: CurrentAdmin, ctx: Context) -> UserPublic:
    """Add a user (agent or admin) to the admin's own tenant."""
    tenant_id = uuid.UUID(admin.tenant_id)
    try:
        user = await asyncio.to_thread(
            ctx.app.add_user, tenant_id, body.email, body.name, body.password, body.role
        )
    except UserExistsError as exc:
        raise HTTPException(status_code=status.HTTP_409_CONFLICT, detail=str(exc)) from exc
    ctx.on_saved()
    tenant = await asyncio.to_thread(ctx.app.get_tenant, tenant_id)
    return user_public(user, tenant)


@router.put("/users/{user_id}/availability", response_model=UserPublic)
async def set_availability(user_id: str, body: AvailabilityIn, admin: CurrentAdmin, ctx: Context) -> UserPublic:  # fmt: skip
    """An admin sets an agent's availability, skills and personal limit."""
    return await _set_availability(ctx, admin.tenant_id, user_id, body)


async def _set_availability(ctx: Context, tenant_id: str, user_id: str, body: AvailabilityIn) -> UserPublic:
    tid = uuid.UUID(tenant_id)
    try:
        user = await asyncio.to_thread(
            ctx.app.set_availability, tid, user_id, body.available, body.skills, body.max_open
        )
    except NotInTenantError as exc:
        raise HTTPException(status_code=status.HTTP_404_NOT_FOUND, detail=str(exc)) from exc
    ctx.on_saved()
    tenant = await asyncio.to_thread(ctx.app.get_tenant, tid)
    return user_public(user, tenant)
