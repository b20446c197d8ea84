"""Readiness checks shared by the services."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from responer_runtime.es import ResponerApplication


def event_store_reachable(app: ResponerApplication) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        await asyncio.to_thread(app.recorder.max_notification_id)
        return True

    return check
