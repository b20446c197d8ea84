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
    new_thread = decision.thread_id is None or bool(decision.split_off)
    if decision.split_off and decision.thread_id is not None:
        info = store.start_thread(facts, signal=decision.signal, detached=True)
        store.move_messages(tenant, decision.split_off, decision.thread_id, info.thread_id)
    elif decision.thread_id is None:
        info = store.start_thread(facts, signal=decision.signal, detached=decision.detached)
    else:
        found = store.thread(tenant, decision.thread_id)
        assert found is not None, "decide() returns only threads the index knows"
        info = found
    for source in decision.merge_from:
        store.merge(tenant, source, info.thread_id)

    store.attach(info.thread_id, facts, decision.signal, payload)
    if facts.direction == "inbound" and info.status != "open" and not new_thread:
        store.reopen(tenant, info.thread_id, facts.message_id, facts.date)
    store.see_message_id(
        tenant, facts.message_id, info.thread_id, facts.direction == "outbound", facts.subject, facts.date
    )
    # What the customer answered (not an out-of-office): see decision._stale_reply.
    if facts.in_reply_to and facts.in_reply_to[0] != facts.message_id and not facts.automatic:
        parent = store.message(tenant, facts.in_reply_to[0])
        if parent is not None and not parent.ghost and not parent.answered:
            store.mark_answered(tenant, facts.in_reply_to[0])
    for mid in linked_ids(facts):
        if store.message(tenant, mid) is None:
            store.add_ghost(tenant, mid, info.thread_id)
    if facts.date is not None:
        key = subject_key(facts)
        if key is not None:
            store.touch_subject(key, info.thread_id, facts.date)
        if facts.direction == "outbound" and facts.customer:
            store.touch_recipient(tenant, facts.mailbox_id, facts.customer, info.thread_id, facts.date)
    # A sender whose automatic mail starts conversations, and whom we never wrote to, is a system
    # (alerts, e-invoicing, shop notifications): its repeats are not a person asking again. A
    # customer's own out-of-office answers mail we sent them, so it never marks them.
    if (
        decision.signal == "new_thread"
        and facts.automatic
        and facts.direction == "inbound"
        and facts.from_email
        and store.recipient_thread(tenant, facts.mailbox_id, facts.from_email) is None
        and not store.machine_sender(tenant, facts.from_email)
    ):
        store.learn_machine_sender(tenant, facts.from_email)
    if facts.mailbox_address:
        store.learn_domain(tenant, facts.mailbox_address.rpartition("@")[2].casefold())
    if decision.suggest_merge_into is not None:
        store.suggest_merge(tenant, info.thread_id, decision.suggest_merge_into, "; ".join(decision.notes))

    result = ThreadingResult(
        thread_id=info.thread_id,
        thread_number=info.number,
        signal=decision.signal,
        new_thread=new_thread,
        merged_thread_ids=decision.merge_from,
        thread_subject=info.subject,
        detail="; ".join(decision.notes),
        merge_suggested_into=decision.suggest_merge_into,
    )
    store.remember(tenant, facts.responer_message_id, result)
    return result
