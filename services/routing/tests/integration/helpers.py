"""Helpers of routing's service-level integration tests (merge, split): events as threading publishes them."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

from responer.events.v1 import events_pb2, mail_pb2


def threaded(tenant: str, thread: str, subject: str, *, outbound: bool = False) -> events_pb2.MessageThreaded:
    mail = mail_pb2.Mail(message_id=f"{uuid.uuid4()}@klient.pl", subject=subject, text="Dzień dobry")
    sender = "pomoc@sklep.test" if outbound else "ola@klient.pl"
    getattr(mail, "from").CopyFrom(mail_pb2.Address(email=sender, name="Ola"))
    if outbound:
        mail.direction = mail_pb2.DIRECTION_OUTBOUND
    return events_pb2.MessageThreaded(
        message_id=str(uuid.uuid4()), tenant_id=tenant, thread_id=thread, thread_number=1000, mail=mail
    )


async def eventually(probe: Callable, what: str, budget: float = 15.0):  # noqa: ANN202
    deadline = asyncio.get_running_loop().time() + budget
    while True:
        result = await probe()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)
