from __future__ import annotations

import asyncio
import uuid

from fastapi import APIRouter, HTTPException, status

from responer_gateway.api.deps import Context, CurrentAdmin, CurrentUser
from responer_gateway.api.schemas import TenantPublic, UserCreate, UserPublic
from responer_gateway.application import UserExistsError
from responer_gateway.domain import Tenant, User

router = APIRouter(prefix="/api", tags=["users"])


def user_public(user: User, tenant: Tenant | None) -> UserPublic:
    return UserPublic(
        id=str(user.id),
        email=user.email,
        name=user.name,
        role=user.role,
        tenant=TenantPublic(id=str(user.tenant_id), name=tenant.name if tenant else ""),
    )


@router.get("/me", response_model=UserPublic)
async def read_me(user: CurrentUser, ctx: Context) -> UserPublic:
    """The logged-in user and their tenant."""
    found = await asyncio.to_thread(ctx.app.get_user, uuid.UUID(user.user_id))
    tenant = await asyncio.to_thread(ctx.app.get_tenant, uuid.UUID(user.tenant_id))
    assert found is not None
    return user_public(found, tenant)


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
