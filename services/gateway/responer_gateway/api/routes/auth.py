from __future__ import annotations

import asyncio

from fastapi import APIRouter, HTTPException, Request, Response, status

from responer_gateway.api.deps import SESSION_COOKIE, Context
from responer_gateway.api.routes.users import user_public
from responer_gateway.api.schemas import LoginPublic, LoginRequest
from responer_gateway.security import Session

router = APIRouter(prefix="/api/auth", tags=["auth"])


@router.post("/login", response_model=LoginPublic)
async def login(body: LoginRequest, ctx: Context, request: Request, response: Response) -> LoginPublic:
    """Log in with e-mail and password; returns a bearer token and sets the session cookie."""
    user = await asyncio.to_thread(ctx.app.authenticate, body.email, body.password)
    if user is None:
        # One message for unknown address and wrong password: the answer reveals no accounts.
        raise HTTPException(status_code=status.HTTP_401_UNAUTHORIZED, detail="wrong e-mail or password")
    tenant = await asyncio.to_thread(ctx.app.get_tenant, user.tenant_id)
    token = ctx.tokens.issue(Session(user_id=str(user.id), tenant_id=str(user.tenant_id)))
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=ctx.tokens.ttl_s,
        httponly=True,
        samesite="lax",
        secure=ctx.settings.cookie_secure or request.url.scheme == "https",
        path="/",
    )
    return LoginPublic(token=token, expires_in=ctx.tokens.ttl_s, user=user_public(user, tenant))


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(response: Response) -> Response:
    """Log out: clears the session cookie (bearer tokens simply expire)."""
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")
    response.status_code = status.HTTP_204_NO_CONTENT
    return response
