"""The public FastAPI app: /api (OpenAPI at /api/openapi.json, docs at /api/docs) and the web UI at /."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from responer_gateway.api import errors
from responer_gateway.api.context import GatewayContext
from responer_gateway.api.routes import (
    assignment,
    auth,
    contacts,
    conversations,
    features,
    folders,
    groups,
    mailboxes,
    quarantine,
    replies,
    rules,
    search,
    sla,
    threads,
    users,
)

STATIC = Path(__file__).resolve().parent.parent / "web" / "static"

# Mail HTML is shown in a sandboxed srcdoc iframe, which inherits this policy: no remote images,
# no script but our own file, nothing may frame the app.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "frame-src 'self' about:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"
)


def create_app(ctx: GatewayContext) -> FastAPI:
    app = FastAPI(
        title="Responer API",
        version="0.1.0",
        description="Shared inbox for customer-service teams. Log in at POST /api/auth/login, then send "
        "the token as 'Authorization: Bearer <token>' (the web UI uses the session cookie).",
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
    )
    app.state.ctx = ctx
    errors.install(app)
    for module in (auth, users, folders, threads, search, mailboxes, quarantine, replies, rules, assignment):
        app.include_router(module.router)
    app.include_router(conversations.router)
    for module in (groups, sla, contacts, features):
        app.include_router(module.router)

    @app.middleware("http")
    async def security_headers(request: Request, call_next):  # noqa: ANN001, ANN202
        response: Response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        if request.url.path.startswith("/api/"):
            response.headers.setdefault("Cache-Control", "no-store")
        if not request.url.path.startswith("/api/docs"):
            response.headers.setdefault("Content-Security-Policy", CSP)
            response.headers.setdefault("X-Frame-Options", "DENY")
        return response

    web = APIRouter(include_in_schema=False)

    @web.get("/")
    async def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8")

    app.include_router(web)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
