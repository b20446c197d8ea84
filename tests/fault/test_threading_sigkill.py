"""Killing the threading service with SIGKILL while mail arrives loses no message and duplicates none."""

from __future__ import annotations

import asyncio
import signal
import time
import uuid

import nats
from responer_events import decode, stream_name

from tests.e2e.helpers import customer_mail, eventually, login, register_mailbox

MESSAGES = 40


async def threaded_events(nats_url: str, namespace: str) -> list:
    nc = await nats.connect(nats_url)
    events = []
    try:
        js = nc.jetstream()
        sub = await js.pull_subscribe(
            f"{namespace}.threading.message.threaded",
            durable=None,
            stream=stream_name("threading", namespace),
        )
        while True:
            try:
                msgs = await sub.fetch(200, timeout=1.0)
            except (nats.errors.TimeoutError, TimeoutError):
                break
            events.extend(decode(m.data).payload for m in msgs)
    finally:
        await nc.close()
    return events


def test_sigkill_threading_mid_stream_loses_and_duplicates_nothing(stack, imap_account, nats_url):
    api = login(stack.gateway_url, stack.admin_email, stack.admin_password)
    address = f"fault-{uuid.uuid4().hex[:6]}@shop.test"
    register_mailbox(api, imap_account, address)
    tag = uuid.uuid4().hex[:6]
    sent_ids = []
    for n in range(MESSAGES):
        message_id, raw = customer_mail(f"Awaria {tag} nr {n}", f"Treść {n} {tag}", to=address)
        sent_ids.append(message_id)
        imap_account.append(raw)
        if n == MESSAGES // 3:
            stack.kill("threading", signal.SIGKILL)
        if n == 2 * MESSAGES // 3:
            stack.restart("threading")
        time.sleep(0.05)

    def all_threaded():
        found = api.get("/api/search", params={"q": tag, "limit": 100}).raise_for_status().json()["threads"]
        return found if len(found) >= MESSAGES else None

    found = eventually(all_threaded, 60, f"all {MESSAGES} messages threaded after the restart")
    assert len(found) == MESSAGES
    assert all(t["message_count"] == 1 for t in found), [t for t in found if t["message_count"] != 1]
    assert len({t["number"] for t in found}) == MESSAGES

    events = asyncio.run(threaded_events(nats_url, stack.namespace))
    ours = [e.mail.message_id for e in events if e.mail.message_id in set(sent_ids)]
    assert sorted(ours) == sorted(sent_ids), "each message threaded exactly once"
    assert stack.restarts["threading"] >= 1 or stack.running("threading")
