"""Applying a decision: the writes one threaded message makes, through the ThreadStore port."""

from __future__ import annotations

from responer_threading.domain.decision import decide, linked_ids, subject_key
from responer_threading.domain.facts import MailFacts, ThreadingResult
from responer_threading.domain.ports import ThreadStore


def thread_message(facts: MailFacts, store: ThreadStore, payload: bytes = b"") -> ThreadingResult:
    """Thread one message. The same responer_message_id twice returns the first result unchanged."""
    tenant = facts.tenant_id
    prior = store.already_threaded(tenant, facts.responer_message_id)
    if prior is not None:
        return prior

    decision = decide(facts, store)
    new_thread = decision.thread_id is None
    if decision.thread_id is None:
        info = store.start_thread(facts)
    else:
        found = store.thread(tenant, decision.thread_id)
        assert found is not None, "decide() returns only threads the index knows"
        info = found
    for source in decision.merge_from:
        store.merge(tenant, source, info.thread_id)

    store.attach(info.thread_id, facts, decision.signal, payload)
    store.see_message_id(tenant, facts.message_id, info.thread_id, facts.direction == "outbound")
    for mid in linked_ids(facts):
        if store.message(tenant, mid) is None:
            store.add_ghost(tenant, mid, info.thread_id)
    key = subject_key(facts)
    if key is not None and facts.date is not None:
        store.touch_subject(key, info.thread_id, facts.date)

    result = ThreadingResult(
        thread_id=info.thread_id,
        thread_number=info.number,
        signal=decision.signal,
        new_thread=new_thread,
        merged_thread_ids=decision.merge_from,
        thread_subject=info.subject,
    )
    store.remember(tenant, facts.responer_message_id, result)
    return result
