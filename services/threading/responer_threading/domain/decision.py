"""Which thread a message belongs to: an ordered decision over signals, recording the one that decided.

Order, strongest first:
1. `own_message_id` - the newest message it refers to that we know is one we sent, and the sender is a
   participant or writes from one of the tenant's own domains; `thread_tag` - `[#1234]` in the subject,
   accepted only from a participant of that thread or the tenant's own domains, so a stranger who copies
   a tag (or a spammer guessing numbers) cannot read or hijack a conversation.
2. `quoted_own_message` - a bounce or auto-reply quoting a message we sent (message/rfc822 or
   text/rfc822-headers part): it has no References of its own but is about that message.
3. `ghost` / `references` / `in_reply_to` / `duplicate_message_id` - ids we have seen, including
   placeholders (ghosts) for ids only ever referenced, so that a reply arriving before its parent
   and the parent arriving later meet in one thread (notmuch's lib/add-message.cc does the same).
   When the ids point into several threads, the message proves they are one conversation: merge -
   unless one of them was started apart on purpose (a new topic, a split), which a merge would undo.
   `new_topic` - a customer who hits Reply on one of our old answers to ask something new (a new
   subject, no reply prefix) starts a new conversation; Gmail splits threads on the same evidence.
4. `subject` - the guarded fallback for clients that drop References (some webmail, Outlook on
   forward, out-of-office replies): only for mail that looks like a reply, same normalised subject,
   same customer address, same mailbox, within the mailbox's window (14 days by default). A subject
   alone never joins two customers' mail.
5. `resend` - a fresh mail (no reply headers, no reply prefix) from the same customer to the same
   mailbox with the same normalised subject, while their thread there has no answer of ours yet and
   within the mailbox's resend window (5 days by default) of their last mail in it: the same question
   asked again, which Gmail threads the same way. Never across customers (a generic "Invoice" from two
   people stays apart), never for automatic mail or system senders; a split undoes it.
6. `new_thread` - and when the same customer's unanswered thread with the same subject is older than
   the resend window (within the subject window), a merge suggestion on the new one (one action for an
   agent to accept); never a silent merge.

After the signal, the mailbox's policies: a person's reply to a thread quiet for longer than the
follow-up window since we answered (14 days by default) starts a new thread with a merge suggestion
back (`quiet_thread`, a helpdesk's "follow-up after N days is a new ticket"); a person's reply by
References into a thread we answered whose own text (quotes and signature cut) names an identifier -
order, invoice, policy number - the conversation never named, shares none of its identifiers and at
most one content word with it (ThreadInfo.vocabulary, topics.py), starts a new thread with a merge
suggestion back (`topic_shift`; per-mailbox switch, on by default); a reply to a closed thread reopens
it, or starts a new thread (`closed_thread`) when the mailbox's policy says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

from responer_threading.domain.facts import MailFacts
from responer_threading.domain.ports import SubjectKey, ThreadIndex, ThreadInfo
from responer_threading.domain.subjects import has_reply_prefix, normalise_subject, thread_tag
from responer_threading.domain.topics import is_identifier, own_text, terms

# Machine senders write many unrelated "new" mails in a row; suggesting merges of those is noise.
# (Also when the mail carries no automatic headers: `billing-noreply@`, `alerts@`.)
_MACHINE_SENDER = re.compile(
    r"^(?:[^@]*[-_.+])?(?:no-?reply|do-?not-?reply)\b"
    r"|^(?:mailer-daemon|postmaster|notifications?|notify|alerts?|monitoring|bounces?)\b",
    re.I,
)
_REFERENCE_SIGNALS = ("own_message_id", "references", "in_reply_to")
# The signals by which a person's mail joins a conversation (not an id we hold, not a machine's echo).
_CUSTOMER_JOINS = (*_REFERENCE_SIGNALS, "thread_tag", "subject", "resend")
# "One more thing" to an answer they already replied to comes within hours; days later it is new.
STALE_AFTER = timedelta(hours=24)
# Out-of-office replies come within seconds to minutes of our mail; a person writing takes longer.
MACHINE_FAST = timedelta(minutes=3)
AUTO_REPLY_WINDOW = timedelta(hours=2)
# topic_shift: enough words of its own to say what it is about (a "thanks, still broken" has fewer),
# and at most this many of them shared with the conversation (a stray "order", "invoice").
TOPIC_MIN_WORDS = 5
TOPIC_MAX_SHARED = 1


@dataclass(frozen=True, slots=True)
class Decision:
    signal: str
    thread_id: UUID | None  # None: start a new thread
    merge_from: tuple[UUID, ...] = ()
    notes: tuple[str, ...] = ()
    detached: bool = False
    suggest_merge_into: UUID | None = None
    split_off: tuple[str, ...] = ()  # Message-IDs that leave `thread_id`'s thread for the new one


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


def _domain(address: str) -> str:
    return address.rpartition("@")[2].casefold()


def trusted_sender(facts: MailFacts, info: ThreadInfo, index: ThreadIndex) -> bool:
    """A participant of the thread, or someone writing from one of the tenant's own domains."""
    sender = facts.from_email
    if not sender:
        return False
    if sender in info.participants:
        return True
    own = index.policy(facts.tenant_id, facts.mailbox_id).own_domains | index.tenant_domains(facts.tenant_id)
    return _domain(sender) in own


def decide(facts: MailFacts, index: ThreadIndex) -> Decision:
    decision = _decide(facts, index)
    if decision.thread_id is None:
        return decision
    if facts.direction == "outbound":
        return _renamed_by_reply(facts, index, decision) or decision
    info = index.thread(facts.tenant_id, decision.thread_id)
    quiet = _quiet_thread(facts, index, decision, info)
    if quiet is not None:
        return quiet
    stale = _stale_reply(facts, index, decision, info)
    if stale is not None:
        return stale
    if decision.signal in _REFERENCE_SIGNALS and info is not None and _new_topic(facts, info, index):
        return Decision(
            "new_topic",
            None,
            notes=(*decision.notes, f"new subject in reply to #{info.number}: a new conversation"),
            detached=True,
        )
    shift = _topic_shift(facts, index, decision, info)
    if shift is not None:
        return shift
    if info is not None and info.status == "closed":
        if index.policy(facts.tenant_id, facts.mailbox_id).reply_to_closed == "new_thread":
            return Decision(
                "closed_thread",
                None,
                notes=(*decision.notes, f"#{info.number} is closed; the mailbox starts a new thread"),
                detached=True,
            )
    return decision


def _renamed_by_reply(facts: MailFacts, index: ThreadIndex, decision: Decision) -> Decision | None:
    """Our reply names another matter than the customer message it answers: the agent saw a new topic.

    Customers start new matters by hitting Reply on an old answer of ours and keeping its subject
    ("Re: Price list" about a broken invoice); only the agent's answer, under a subject of its own,
    shows it. That answer and the customer message it answers become a new thread (a split, undoable
    like any other); the rest stays where it was.
    """
    if decision.signal not in _REFERENCE_SIGNALS or not facts.in_reply_to:
        return None
    parent_id = facts.in_reply_to[0]
    parent = index.message(facts.tenant_id, parent_id)
    info = index.thread(facts.tenant_id, decision.thread_id) if decision.thread_id else None
    if parent is None or parent.ghost or parent.outgoing or info is None or not info.has_outgoing:
        return None
    ours, theirs = normalise_subject(facts.subject), normalise_subject(parent.subject)
    if not ours or ours == theirs or ours == normalise_subject(info.subject):
        return None
    if resolve(index, facts.tenant_id, parent.thread_id) != info:
        return None
    return Decision(
        "renamed_by_reply",
        decision.thread_id,
        notes=(f"our reply names a new matter {ours!r}: split from #{info.number}",),
        detached=True,
        split_off=(parent_id,),
    )


def _quiet_thread(
    facts: MailFacts, index: ThreadIndex, decision: Decision, info: ThreadInfo | None
) -> Decision | None:
    """A customer writing into a conversation that has been quiet since we answered: a new matter.

    Customers keep our last answer in their inbox and hit Reply on it weeks later to ask about
    something else, often keeping "Re: <old subject>". Helpdesks answer this with a follow-up policy
    (Zendesk closes solved tickets after days and makes a reply a follow-up ticket; Zammad's
    "new ticket after N days"). Past the mailbox's follow-up window (14 days by default) the reply
    starts a thread of its own with a merge suggestion back. Only where we answered: a thread we never
    answered is still waiting for us, and mailing lists answer months later by design.
    """
    if decision.signal not in _CUSTOMER_JOINS or info is None or facts.automatic or not info.has_outgoing:
        return None
    last = info.last_at
    if last is None or facts.date is None:
        return None
    window = index.policy(facts.tenant_id, facts.mailbox_id).follow_up_window
    if facts.date - last <= window:
        return None
    return Decision(
        "quiet_thread",
        None,
        notes=(
            *decision.notes,
            f"#{info.number} was quiet for {(facts.date - last).days} days after our answer: merge suggested",
        ),
        detached=True,
        suggest_merge_into=info.thread_id,
    )


def _stale_reply(
    facts: MailFacts, index: ThreadIndex, decision: Decision, info: ThreadInfo | None
) -> Decision | None:
    """A second answer to an old message of ours, days later or after we wrote again: a new matter.

    Customers start new matters from an old mail in their inbox (Reply on our answer from last week).
    Its headers point at that answer, which they had already replied to, while the conversation has
    moved on past it. That becomes a thread of its own, with a merge suggestion back to the old one,
    so an agent who sees a continuation merges it in one action.
    """
    if decision.signal != "own_message_id" or info is None or facts.automatic or not facts.in_reply_to:
        return None
    parent = index.message(facts.tenant_id, facts.in_reply_to[0])
    if parent is None or parent.ghost or not parent.outgoing or not parent.answered:
        return None
    if parent.at is None or facts.date is None or facts.date - parent.at < MACHINE_FAST:
        return None
    moved_on = info.last_outgoing_at is not None and info.last_outgoing_at > parent.at
    if not moved_on and facts.date - parent.at < STALE_AFTER:
        return None
    return Decision(
        "stale_reply",
        None,
        notes=(f"answers our older message again after #{info.number} moved on: merge suggested",),
        detached=True,
        suggest_merge_into=info.thread_id,
    )


def _topic_shift(
    facts: MailFacts, index: ThreadIndex, decision: Decision, info: ThreadInfo | None
) -> Decision | None:
    """A reply by its headers that is about another matter by its text: a new thread, merge suggested.

    Customers start new matters by hitting Reply on our last answer of a finished conversation, and
    keep "Re: <old subject>", the References and the timing of a real reply; only what they write
    differs. A continuation names the conversation's order, product or question again, or is short
    ("thanks", "still broken"). A new matter names an identifier (order, invoice, policy number) the
    conversation never named, shares none of its identifiers and at most one content word with it
    (subject, our answers, the customer's earlier texts: ThreadInfo.vocabulary). Only where we
    answered (a list never has our answer; its replies are the headers' truth), never for automatic
    mail or an out-of-office within minutes of our mail, and only in the text the customer wrote now
    (quotes and signature cut). One click on the merge suggestion undoes it.
    """
    if (
        decision.signal not in _REFERENCE_SIGNALS
        or info is None
        or not info.has_outgoing
        or not info.vocabulary
        or not facts.text
        or not _person(facts, index)
        or not index.policy(facts.tenant_id, facts.mailbox_id).topic_shift
    ):
        return None
    if facts.in_reply_to and facts.date is not None:
        parent = index.message(facts.tenant_id, facts.in_reply_to[0])
        if parent is not None and parent.at is not None and facts.date - parent.at < MACHINE_FAST:
            return None
    said = terms(own_text(facts.text))
    identifiers = {t for t in said if is_identifier(t)}
    shared = said & info.vocabulary
    if (
        len(said) - len(identifiers) < TOPIC_MIN_WORDS
        or not identifiers - info.vocabulary
        or identifiers & shared
        or len(shared) > TOPIC_MAX_SHARED
    ):
        return None
    named = ", ".join(sorted(identifiers - info.vocabulary)[:3])
    return Decision(
        "topic_shift",
        None,
        notes=(
            *decision.notes,
            f"names {named}, which #{info.number} never did: a new matter, merge suggested",
        ),
        detached=True,
        suggest_merge_into=info.thread_id,
    )


def _new_topic(facts: MailFacts, info: ThreadInfo, index: ThreadIndex) -> bool:
    # Only where we answered: on a mailing list (no answer of ours) people change subjects mid-thread
    # and the headers are the truth; a customer replying to our old answer with a fresh subject and
    # no "Re:" is asking something new.
    if facts.automatic or not info.has_outgoing or has_reply_prefix(facts.subject):
        return False
    if facts.in_reply_to and facts.date is not None:
        parent = index.message(facts.tenant_id, facts.in_reply_to[0])
        if parent is not None and parent.at is not None and facts.date - parent.at < MACHINE_FAST:
            return False  # an out-of-office without the usual headers names its own subject
    subject = normalise_subject(facts.subject)
    return bool(subject) and subject != normalise_subject(info.subject)


def _decide(facts: MailFacts, index: ThreadIndex) -> Decision:
    tenant = facts.tenant_id
    linked = linked_ids(facts)
    notes: list[str] = []

    # The newest id we know decides: a customer answering the new-topic thread also quotes the old
    # conversation's ids further back in References.
    for mid in linked:
        ref = index.message(tenant, mid)
        if ref is None or ref.ghost:
            continue
        if ref.outgoing:
            info = resolve(index, tenant, ref.thread_id)
            if info and trusted_sender(facts, info, index):
                return Decision("own_message_id", info.thread_id, notes=(f"replies to our {mid}",))
            if info:
                notes.append(f"replies to our {mid} from a non-participant")
        break

    tag = thread_tag(facts.subject)
    if tag is not None:
        tagged = index.thread_by_number(tenant, tag)
        info = resolve(index, tenant, tagged.thread_id) if tagged else None
        if info and trusted_sender(facts, info, index):
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
        if any(t.detached for t in threads.values()):
            # Kept apart on purpose: the newest link decides, nothing is merged back.
            target = found[0][0]
            others: tuple[UUID, ...] = ()
        else:
            # The oldest thread survives a merge, so repeated merges converge on one stable number.
            target = min(threads.values(), key=lambda t: t.number)
            others = tuple(t for t in threads if t != target.thread_id)
        if others:
            notes.append(f"links {len(threads)} threads")
        return Decision(found[0][1], target.thread_id, merge_from=others, notes=tuple(notes))

    policy = index.policy(tenant, facts.mailbox_id)
    prefixed = has_reply_prefix(facts.subject)
    key = subject_key(facts)
    if (prefixed or linked) and key is not None:
        hit = index.subject_thread(key)
        if hit and facts.date is not None and abs(facts.date - hit[1]) <= policy.subject_window:
            info = resolve(index, tenant, hit[0])
            # Unknown References without a reply prefix are a reply to *something*; the usual
            # something is our own reply whose Message-ID the sending provider rewrote
            # (Exchange Online, Outlook.com). Without a message of ours in the candidate thread,
            # the customer is answering another conversation with the same subject (notmuch's
            # threading/parent-priority corpus has exactly that), so stay apart.
            if info and (prefixed or info.has_outgoing):
                return Decision("subject", info.thread_id, notes=(*notes, f"subject {key.subject!r}"))

    again = _resend(facts, index)
    if again is not None:
        return Decision(
            "resend",
            again.thread_id,
            notes=(
                *notes,
                f"the same question again ({normalise_subject(facts.subject)!r}) before our answer in #{again.number}",
            ),
        )

    auto = _auto_reply_to_our_mail(facts, index)
    if auto is not None:
        return Decision(
            "auto_reply", auto.thread_id, notes=(*notes, f"automatic reply to our mail in #{auto.number}")
        )

    suggestion = _earlier_unanswered(facts, index)
    if suggestion is not None:
        notes.append(f"the same customer's #{suggestion.number} is still unanswered: merge suggested")
    return Decision(
        "new_thread",
        None,
        notes=tuple(notes),
        suggest_merge_into=suggestion.thread_id if suggestion else None,
    )


def _auto_reply_to_our_mail(facts: MailFacts, index: ThreadIndex) -> ThreadInfo | None:
    """An automatic reply (out-of-office) with nothing to go by but its sender: shortly after we wrote
    to that address, it answers that mail."""
    if not facts.automatic or facts.direction == "outbound" or not facts.from_email or facts.date is None:
        return None
    hit = index.recipient_thread(facts.tenant_id, facts.mailbox_id, facts.from_email)
    if hit is None or not timedelta(0) <= facts.date - hit[1] <= AUTO_REPLY_WINDOW:
        return None
    return resolve(index, facts.tenant_id, hit[0])


def _person(facts: MailFacts, index: ThreadIndex) -> bool:
    """Inbound mail a person wrote: not automatic, not from a system address or a learnt system sender."""
    customer = facts.customer
    if facts.direction == "outbound" or facts.automatic or not customer or _MACHINE_SENDER.match(customer):
        return False
    return not index.machine_sender(facts.tenant_id, customer)


def _resend(facts: MailFacts, index: ThreadIndex) -> ThreadInfo | None:
    """The same customer sends the same question again (same subject, no reply headers) before we answered.

    People who get no answer write again: a fresh mail, the subject typed or pasted the same, no
    reply prefix, no In-Reply-To. Gmail threads these as one conversation, and an agent wants them together (answering
    one of two tickets about the same question leaves the other open). Only the same sender, same
    mailbox, same non-empty normalised subject, a thread with no answer of ours yet, and within the
    mailbox's resend window (5 days by default) of that customer's last message there; a generic
    subject ("Invoice") is safe because the sender is the same. A split undoes it.
    """
    # A reply prefix makes it a reply that lost its headers: the subject fallback's, with its window.
    if (
        linked_ids(facts)
        or has_reply_prefix(facts.subject)
        or facts.date is None
        or not _person(facts, index)
    ):
        return None
    key = subject_key(facts)
    hit = index.subject_thread(key) if key is not None else None
    if hit is None:
        return None
    info = resolve(index, facts.tenant_id, hit[0])
    if info is None or info.has_outgoing or info.status == "closed" or info.last_incoming_at is None:
        return None
    window = index.policy(facts.tenant_id, facts.mailbox_id).resend_window
    if abs(facts.date - info.last_incoming_at) > window:
        return None
    return info


def _earlier_unanswered(facts: MailFacts, index: ThreadIndex) -> ThreadInfo | None:
    if not _person(facts, index):
        return None
    key = subject_key(facts)
    hit = index.subject_thread(key) if key is not None else None
    if hit is None or facts.date is None:
        return None
    if abs(facts.date - hit[1]) > index.policy(facts.tenant_id, facts.mailbox_id).subject_window:
        return None
    info = resolve(index, facts.tenant_id, hit[0])
    if info is None or info.has_outgoing or info.status == "closed":
        return None
    # The same matter written again: the same subject (after normalising). Different subjects in a
    # row are as often different matters; an agent merges those by hand.
    if key is None or normalise_subject(info.subject) != key.subject:
        return None
    return info
