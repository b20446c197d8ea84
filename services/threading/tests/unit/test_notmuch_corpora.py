"""Threading reproduces notmuch's verified groupings (References / In-Reply-To / ghosts)."""

from __future__ import annotations

import json
import uuid

import pytest
from responer_ingest.domain import parse_mail
from responer_threading.domain import InMemoryThreadStore, MailFacts, thread_message

pytestmark = pytest.mark.unit


def facts_from_file(path, raw: bytes) -> MailFacts:
    mail = parse_mail(raw)
    return MailFacts(
        tenant_id="t",
        mailbox_id="corpus",
        responer_message_id=uuid.uuid5(uuid.NAMESPACE_URL, str(path)),
        message_id=mail.message_id,
        in_reply_to=mail.in_reply_to,
        references=mail.references,
        subject=mail.subject,
        from_email=mail.from_email,
        to=tuple(a for _, a in mail.to),
        cc=tuple(a for _, a in mail.cc),
        date=mail.date,
        quoted_message_ids=mail.quoted_message_ids,
        text=mail.text,
    )


@pytest.mark.parametrize("name", ["default", "threading", "lkml"])
def test_groupings_match_expected_threads(corpus, name):
    expected = json.loads((corpus / "notmuch" / "expected-threads.json").read_text())["corpora"][name]
    store = InMemoryThreadStore()
    thread_of: dict[str, uuid.UUID] = {}
    for path in sorted(p for p in (corpus / "notmuch" / "corpora" / name).rglob("*") if p.is_file()):
        facts = facts_from_file(path, path.read_bytes())
        thread_of[facts.message_id] = thread_message(facts, store).thread_id
    groups: dict[uuid.UUID, set[str]] = {}
    for message_id, thread_id in thread_of.items():
        groups.setdefault(store.final_thread("t", thread_id).thread_id, set()).add(message_id)
    got = {frozenset(g) for g in groups.values()}
    want = {frozenset(t["message_ids"]) for t in expected["threads"]}
    assert len(thread_of) == expected["message_count"]
    assert got == want
