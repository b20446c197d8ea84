"""Which optional backends answer right now, so the web UI shows only what can work."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter

from responer_gateway.api.deps import Context, CurrentUser

router = APIRouter(prefix="/api/features", tags=["features"])

OPTIONAL = ("routing", "threading")


@router.get("")
async def features(user: CurrentUser, ctx: Context) -> dict[str, bool]:
    """{"routing": bool, "threading": bool}: configured and SERVING on gRPC health."""
    names = [n for n in OPTIONAL if n in ctx.backends.channels]
    answers = await asyncio.gather(*(ctx.backends.healthy(n) for n in names))
    return {n: dict(zip(names, answers, strict=True)).get(n, False) for n in OPTIONAL}
