"""Request dependencies: the shared context, the current user, and the backend stubs."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from responer.ingest.v1 import ingest_pb2_grpc
from responer.outbox.v1 import outbox_pb2_grpc
from responer.routing.v1 import routing_pb2_grpc
from responer.search.v1 import search_pb2_grpc
from responer.threading.v1 import threading_pb2_grpc

from responer_gateway.api.context import GatewayContext

SESSION_COOKIE = "responer_session"

_bearer = HTTPBearer(auto_error=False, description="the token from POST /api/auth/login")


def get_context(request: Request) -> GatewayContext:
    return request.app.state.ctx


Context = Annotated[GatewayContext, Depends(get_context)]


@dataclass(frozen=True)
class Principal:
    user_id: str
    tenant_id: str
    email: str
    name: str
    role: str


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": "Bearer"}
    )


async def get_current_user(
    request: Request,
    ctx: Context,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    token = credentials.credentials if credentials else request.cookies.get(SESSION_COOKIE)
    if not token:
        raise _unauthorized("not logged in: send 'Authorization: Bearer <token>' or the session cookie")
    session = ctx.tokens.verify(token)
    if session is None:
        raise _unauthorized("the session token is invalid or has expired; log in again")
    user = await asyncio.to_thread(ctx.app.get_user, uuid.UUID(session.user_id))
    if user is None or str(user.tenant_id) != session.tenant_id:
        raise _unauthorized("the session's user no longer exists; log in again")
    return Principal(
        user_id=str(user.id), tenant_id=str(user.tenant_id), email=user.email, name=user.name, role=user.role
    )


CurrentUser = Annotated[Principal, Depends(get_current_user)]


async def get_current_admin(user: CurrentUser) -> Principal:
    if user.role != "admin":
        raise HTTPException(status_code=status.HTTP_403_FORBIDDEN, detail="only an admin may do this")
    return user


CurrentAdmin = Annotated[Principal, Depends(get_current_admin)]


def _search(ctx: Context) -> search_pb2_grpc.SearchServiceStub:
    return ctx.backends.search


def _ingest(ctx: Context) -> ingest_pb2_grpc.IngestServiceStub:
    return ctx.backends.ingest


def _outbox(ctx: Context) -> outbox_pb2_grpc.OutboxServiceStub:
    return ctx.backends.outbox


SearchClient = Annotated[search_pb2_grpc.SearchServiceStub, Depends(_search)]
IngestClient = Annotated[ingest_pb2_grpc.IngestServiceStub, Depends(_ingest)]
OutboxClient = Annotated[outbox_pb2_grpc.OutboxServiceStub, Depends(_outbox)]


def _routing(ctx: Context) -> routing_pb2_grpc.RoutingServiceStub:
    if ctx.backends.routing is None:
        raise HTTPException(
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE, detail="routing is not configured"
        )
    return ctx.backends.routing


RoutingClient = Annotated[routing_pb2_grpc.RoutingServiceStub, Depends(_routing)]


def _threading(ctx: Context) -> threading_pb2_grpc.ThreadingServiceStub:
    if ctx.backends.threading is None:
        raise HTTPException(
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE, detail="threading is not configured"
        )
    return ctx.backends.threading


ThreadingClient = Annotated[threading_pb2_grpc.ThreadingServiceStub, Depends(_threading)]
