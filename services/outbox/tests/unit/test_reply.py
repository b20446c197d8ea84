"""The Reply aggregate: deterministic ids, a stable Message-ID, and its queued -> sent | failed life."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from responer_outbox.domain.reply import FAILED, QUEUED, SENT, Reply

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def _reply(**overrides: object) -> Reply:
    fields: dict[str, object] = {
        "tenant_id": "t1",
        "client_reply_id": "r1",
        "thread_id": "th1",
        "thread_number": 7,
        "mailbox_id": "mb1",
        "from_address": "pomoc@sklep.example.pl",
        "to": ["jan@example.com"],
        "cc": [],
        "subject": "Re: x [#7]",
        "body_text": "Dzień dobry",
        "in_reply_to": "c1@x",
        "references": ["c1@x"],
        "author_user_id": "u1",
        "mail_domain": "responer.test",
    }
    fields.update(overrides)
    return Reply(**fields)  # type: ignore[arg-type]


def test_same_tenant_and_reply_id_give_the_same_aggregate_and_message_id():
    a, b = _reply(), _reply()

    assert a.id == b.id == Reply.create_id("t1", "r1")
    assert a.message_id == b.message_id == f"{a.id}@responer.test"
    assert _reply(tenant_id="t2").id != a.id


def test_sent_after_a_temporary_failure_counts_both_attempts():
    reply = _reply()
    reply.attempt_failed("451 greylisted", permanent=False, attempted_at=NOW)
    assert reply.status == QUEUED

    reply.mark_sent(NOW, {})

    assert (reply.status, reply.attempts, reply.sent_at, reply.last_error) == (SENT, 2, NOW, "")
    sent_event = reply.collect_events()[-1]
    assert sent_event.mail["message_id"] == reply.message_id
    assert sent_event.mail["references"] == ["c1@x"]


def test_permanent_failure_keeps_the_servers_reason():
    reply = _reply()
    reply.attempt_failed("550 5.1.1 no such user", permanent=True, attempted_at=NOW)
    reply.give_up()

    assert (reply.status, reply.attempts, reply.last_error, reply.permanent) == (
        FAILED,
        1,
        "550 5.1.1 no such user",
        True,
    )
    failed_event = reply.collect_events()[-1]
    assert (failed_event.permanent, failed_event.attempts) == (True, 1)


def test_a_sent_reply_cannot_be_sent_or_failed_again():
    reply = _reply()
    reply.mark_sent(NOW, {})

    with pytest.raises(ValueError):
        reply.mark_sent(NOW, {})
    with pytest.raises(ValueError):
        reply.give_up()
