"""Which thread a message belongs to: an ordered decision over signals, recording the one that decided.

Order, strongest first:
1. `own_message_id` - it replies to a message we sent (our Message-ID in References/In-Reply-To);
   `thread_tag` - `[#1234]` in the subject, accepted only from a participant of that thread, so a
   stranger who copies a tag (or a spammer guessing numbers) cannot read or hijack a conversation.
2. `quoted_own_message` - a bounce or auto-reply quoting a message we sent (message/rfc822 or
   text/rfc822-headers part): it has no References of its own but is about that message.
3. `ghost` / `references` / `in_reply_to` / `duplicate_message_id` - ids we have seen, including
   placeholders (ghosts) for ids only ever referenced, so that a reply arriving before its parent
   and the parent arriving later meet in one thread (notmuch's lib/add-message.cc does the same).
   When the ids point into several threads, the message proves they are one conversation: merge.
4. `subject` - the guarded fallback for clients that drop References (some webmail, Outlook on
   forward): only for mail that looks like a reply, same normalised subject, same customer address,
   same mailbox, within 14 days. A subject alone never joins two customers' mail.
5. `new_thread`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

from responer_threading.domain.facts import MailFacts
from responer_threading.domain.ports import SubjectKey, ThreadIndex, ThreadInfo
from responer_threading.domain.subjects import has_reply_prefix, normalise_subject, thread_tag

SUBJECT_WINDOW = timedelta(days=14)


@dataclass(frozen=True, slots=True)
class Decision:
    signal: str
    thread_id: UUID | None  # None: start a new thread
    merge_from: tuple[UUID, ...] = ()
    notes: tuple[str, ...] = ()


def linked_ids(facts: MailFacts) -> tuple[str, ...]:
    """References newest first, then In-Reply-To; never the message itself (self-references exist)."""
    ids = (*reversed(facts.references), *facts.in_reply_to)
    return tuple(i for i in dict.fromkeys(ids) if i and i != facts.message_id)


def subject_key(facts: MailFacts) -> SubjectKey | None:
    subject = normalise_subject(facts.subject)
    customer = facts.customer
    if not subject or not customer:
        return None
    return SubjectKey(facts.tenant_id, facts.mailbox_id, customer, subject)


def resolve(index: ThreadIndex, tenant_id: str, thread_id: UUID) -> ThreadInfo | None:
    """Follow merges to the surviving thread; a merge cycle (should not happen) stops the walk."""
    seen: set[UUID] = set()
    info = index.thread(tenant_id, thread_id)
    while info is not None and info.merged_into is not None and info.thread_id not in seen:
        seen.add(info.thread_id)
        info = index.thread(tenant_id, info.merged_into)
    return info


def decide(facts: MailFacts, index: ThreadIndex) -> Decision:
    tenant = facts.tenant_id
    linked = linked_ids(facts)
    notes: list[str] = []

    for mid in linked:
        ref = index.message(tenant, mid)
        if ref and ref.outgoing and not ref.ghost:
            info = resolve(index, tenant, ref.thread_id)
            if info:
                return Decision("own_message_id", info.thread_id, notes=(f"replies to our {mid}",))

    tag = thread_tag(facts.subject)
    if tag is not None:
        tagged = index.thread_by_number(tenant, tag)
        info = resolve(index, tenant, tagged.thread_id) if tagged else None
        if info and facts.from_email and facts.from_email in info.participants:
            return Decision("thread_tag", info.thread_id, notes=(f"tag #{tag}",))
        notes.append(
            f"tag #{tag} ignored: " + ("no such thread" if info is None else "sender not a participant")
        )

    for mid in facts.quoted_message_ids:
        ref = index.message(tenant, mid)
        if ref and ref.outgoing and not ref.ghost:
            info = resolve(index, tenant, ref.thread_id)
            if info:
                return Decision("quoted_own_message", info.thread_id, notes=(*notes, f"quotes our {mid}"))

    found: list[tuple[ThreadInfo, str]] = []
    own = index.message(tenant, facts.message_id)
    if own is not None:
        info = resolve(index, tenant, own.thread_id)
        if info:
            found.append((info, "ghost" if own.ghost else "duplicate_message_id"))
    for mid in linked:
        ref = index.message(tenant, mid)
        if ref is None:
            continue
        info = resolve(index, tenant, ref.thread_id)
        if info:
            found.append((info, "references" if mid in facts.references else "in_reply_to"))
    if found:
        threads = {info.thread_id: info for info, _ in found}
        # The oldest thread survives a merge, so repeated merges converge on one stable number.
        target = min(threads.values(), key=lambda t: t.number)
        others = tuple(t for t in threads if t != target.thread_id)
        if others:
            notes.append(f"links {len(threads)} threads")
        return Decision(found[0][1], target.thread_id, merge_from=others, notes=tuple(notes))

    prefixed = has_reply_prefix(facts.subject)
    if prefixed or linked:
        key = subject_key(facts)
        hit = index.subject_thread(key) if key else None
        if key and hit and facts.date is not None and abs(facts.date - hit[1]) <= SUBJECT_WINDOW:
            info = resolve(index, tenant, hit[0])
            # Unknown References without a reply prefix are a reply to *something*; the usual
            # something is our own reply whose Message-ID the sending provider rewrote
            # (Exchange Online, Outlook.com). Without a message of ours in the candidate thread,
            # the customer is answering another conversation with the same subject (notmuch's
            # threading/parent-priority corpus has exactly that), so stay apart.
            if info and (prefixed or info.has_outgoing):
                return Decision("subject", info.thread_id, notes=(*notes, f"subject {key.subject!r}"))

    return Decision("new_thread", None, notes=tuple(notes))
