"""Threading's aggregates. Each is keyed by a natural key (uuid5), so a lookup is a `repository.get`.

Domain events a relay maps to integration events (adapters/event_mapping.py):
- `Thread.Started`            -> (thread created; number, subject, mailbox)
- `Thread.MessageAttached`    -> MessageThreaded (carries the opaque `payload` built by the service)
- `Thread.Merged`             -> ThreadMerged (on the source thread, `into_thread_id` is the target)
- `Thread.Unmerged`           -> ThreadUnmerged (on the source thread that lives again)
- `Thread.SplitOff`           -> ThreadSplit (on the new thread)
- `Thread.Unsplit`            -> ThreadUnsplit (on the split-off thread, merged back)
- `Thread.StatusChanged`      -> ThreadStatusChanged
- `Thread.NoteAdded/NoteEdited/NoteDeleted` -> NoteAdded / NoteEdited / NoteDeleted
- `Thread.MergeSuggested/MergeSuggestionDismissed` -> MergeSuggested / MergeSuggestionDismissed
- `Thread.MailboxAdded`       -> ThreadMailboxAdded (a message was seen in another mailbox too)

New fields on old events have defaults: events stored before them still load.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from responer_threading.domain import ids, topics


class Thread(Aggregate):
    @event("Started")
    def __init__(
        self,
        tenant_id: str,
        number: int,
        subject: str,
        mailbox_id: str,
        signal: str = "new_thread",
        detached: bool = False,
    ) -> None:
        self.tenant_id = tenant_id
        self.number = number
        self.subject = subject
        self.mailbox_id = mailbox_id
        self.participants: list[str] = []
        self.message_ids: list[str] = []
        self.responer_message_ids: list[UUID] = []
        self.has_outgoing = False
        self.merged_into: UUID | None = None
        self.merged_from: list[UUID] = []
        self.signal = signal
        self.detached = detached
        self.status = "open"
        self.status_history: list[dict[str, Any]] = []
        # Responer message id (str) -> what the timeline and a split need to know of it.
        self.members: dict[str, dict[str, Any]] = {}
        self.notes: dict[str, dict[str, Any]] = {}
        self.history: list[dict[str, Any]] = []
        self.suggestions: dict[str, dict[str, Any]] = {}
        self.vocabulary: list[str] = []  # decision._topic_shift reads it (bounded, topics.py)

    @staticmethod
    def create_id(tenant_id: str, number: int, **_: object) -> UUID:
        return ids.thread_id(tenant_id, number)

    def _state(self) -> None:
        # Threads stored before these fields existed.
        for name, default in (
            ("status", "open"),
            ("detached", False),
            ("signal", "new_thread"),
        ):
            if not hasattr(self, name):
                setattr(self, name, default)
        for name in ("status_history", "history", "vocabulary"):
            if not hasattr(self, name):
                setattr(self, name, [])
        for name in ("members", "notes", "suggestions"):
            if not hasattr(self, name):
                setattr(self, name, {})

    @event("MessageAttached")
    def attach_message(
        self,
        tenant_id: str,
        thread_number: int,
        responer_message_id: UUID,
        message_id: str,
        mailbox_id: str,
        direction: str,
        from_email: str,
        participants: list[str],
        subject: str,
        signal: str,
        new_thread: bool,
        merged_thread_ids: list[UUID],
        sent_at: datetime | None,
        payload: bytes,
        detail: str = "",
        terms: list[str] | None = None,
    ) -> None:
        self._state()
        self.vocabulary = list(topics.bounded(self.vocabulary, terms or ()))
        self.message_ids.append(message_id)
        self.responer_message_ids.append(responer_message_id)
        for address in participants:
            if address not in self.participants:
                self.participants.append(address)
        self.has_outgoing = self.has_outgoing or direction == "outbound"
        if sent_at is not None:
            self._saw(direction, sent_at)
        self.members[str(responer_message_id)] = {
            "message_id": message_id,
            "direction": direction,
            "from_email": from_email,
            "subject": subject,
            "signal": signal,
            "detail": detail,
            "sent_at": sent_at.isoformat() if sent_at else "",
            "participants": list(participants),
            "mailboxes": [mailbox_id],
        }

    @property
    def mailbox_ids(self) -> list[str]:
        """Every mailbox the conversation is in, the first one first: its messages' mailboxes (members
        carry theirs, so a split or merge takes them along)."""
        self._state()
        found = [self.mailbox_id]
        for member in self.members.values():
            found.extend(m for m in member.get("mailboxes", ()) if m not in found)
        return found

    def message_in_mailbox(self, responer_message_id: str, mailbox_id: str) -> bool:
        member = self.members.get(responer_message_id)
        return member is not None and mailbox_id in member.get("mailboxes", ())

    def see_in_mailbox(
        self, responer_message_id: str, mailbox_id: str, mailbox_address: str, at: datetime
    ) -> bool:
        """Note that one of this thread's messages is in `mailbox_id` too; False when known already (or
        the message is not here)."""
        self._state()
        if responer_message_id not in self.members or self.message_in_mailbox(
            responer_message_id, mailbox_id
        ):
            return False
        self.add_mailbox(
            tenant_id=self.tenant_id,
            thread_number=self.number,
            responer_message_id=responer_message_id,
            mailbox_id=mailbox_id,
            mailbox_address=mailbox_address,
            mailbox_ids=[*self.mailbox_ids, *([] if mailbox_id in self.mailbox_ids else [mailbox_id])],
            at=at,
        )
        return True

    @event("MailboxAdded")
    def add_mailbox(
        self,
        tenant_id: str,
        thread_number: int,
        responer_message_id: str,
        mailbox_id: str,
        mailbox_address: str,
        mailbox_ids: list[str],
        at: datetime,
    ) -> None:
        """The same mail arrived in another of the tenant's mailboxes (CC'd to sales@ and support@)."""
        self._state()
        member = self.members.get(responer_message_id)
        if member is not None:
            mailboxes = list(member.get("mailboxes", ()))
            self.members[responer_message_id] = {**member, "mailboxes": [*mailboxes, mailbox_id]}

    def _saw(self, direction: str, at: datetime) -> None:
        # The latest mail each way: the resend and quiet-thread rules of decision.py read them.
        name = "last_outgoing_at" if direction == "outbound" else "last_incoming_at"
        last = getattr(self, name, None)
        setattr(self, name, max(last, at) if last else at)

    @event("Merged")
    def merge_into(
        self,
        tenant_id: str,
        thread_number: int,
        into_thread_id: UUID,
        into_number: int,
        merge_id: str = "",
        by_user_id: str = "",
        reason: str = "references link both threads",
        message_ids: list[str] | None = None,
        note_ids: list[str] | None = None,
        suggestion_id: str = "",
        at: datetime | None = None,
    ) -> None:
        self._state()
        self.merged_into = into_thread_id
        self.history.append(
            {
                "kind": "merged_into",
                "ref_id": merge_id,
                "other_thread_id": str(into_thread_id),
                "other_number": into_number,
                "by_user_id": by_user_id,
                "detail": reason,
                "at": at.isoformat() if at else "",
            }
        )

    @event("Absorbed")
    def absorb(
        self,
        from_thread_id: UUID,
        from_number: int,
        participants: list[str],
        has_outgoing: bool,
        merge_id: str = "",
        members: dict[str, dict[str, Any]] | None = None,
        notes: dict[str, dict[str, Any]] | None = None,
        by_user_id: str = "",
        at: datetime | None = None,
        last_outgoing_at: datetime | None = None,
        last_incoming_at: datetime | None = None,
        vocabulary: list[str] | None = None,
    ) -> None:
        self._state()
        self.vocabulary = list(topics.bounded(self.vocabulary, vocabulary or ()))
        self.merged_from.append(from_thread_id)
        if last_outgoing_at is not None:
            self._saw("outbound", last_outgoing_at)
        if last_incoming_at is not None:
            self._saw("inbound", last_incoming_at)
        for address in participants:
            if address not in self.participants:
                self.participants.append(address)
        self.has_outgoing = self.has_outgoing or has_outgoing
        self.members.update(members or {})
        self.notes.update(notes or {})
        self.history.append(
            {
                "kind": "merged_in",
                "ref_id": merge_id,
                "other_thread_id": str(from_thread_id),
                "other_number": from_number,
                "by_user_id": by_user_id,
                "detail": "",
                "at": at.isoformat() if at else "",
            }
        )

    @event("Unmerged")
    def unmerge(
        self,
        tenant_id: str,
        thread_number: int,
        merge_id: str,
        from_thread_id: UUID,
        from_number: int,
        members: dict[str, dict[str, Any]],
        notes: dict[str, dict[str, Any]],
        by_user_id: str,
        at: datetime,
    ) -> None:
        """This (source) thread lives again with the messages and notes it had when merged."""
        self._state()
        self.merged_into = None
        self.members = dict(members)
        self.notes = dict(notes)
        self.history.append(
            {
                "kind": "unmerged",
                "ref_id": merge_id,
                "other_thread_id": str(from_thread_id),
                "other_number": from_number,
                "by_user_id": by_user_id,
                "detail": "",
                "at": at.isoformat(),
            }
        )

    @event("Released")
    def release(
        self,
        ref_id: str,
        kind: str,
        other_thread_id: UUID,
        other_number: int,
        member_ids: list[str],
        note_ids: list[str],
        by_user_id: str,
        at: datetime,
    ) -> None:
        """Messages and notes leave this thread (an undone merge, a split)."""
        self._state()
        for key in member_ids:
            self.members.pop(key, None)
        for key in note_ids:
            self.notes.pop(key, None)
        self.history.append(
            {
                "kind": kind,
                "ref_id": ref_id,
                "other_thread_id": str(other_thread_id),
                "other_number": other_number,
                "by_user_id": by_user_id,
                "detail": f"{len(member_ids)} message(s)",
                "at": at.isoformat(),
            }
        )

    @event("SplitOff")
    def split_off(
        self,
        tenant_id: str,
        thread_number: int,
        split_id: str,
        from_thread_id: UUID,
        from_number: int,
        members: dict[str, dict[str, Any]],
        by_user_id: str,
        at: datetime,
    ) -> None:
        """This new thread receives messages split off `from_thread_id`."""
        self._state()
        self.detached = True
        self.members.update(members)
        for member in members.values():
            for address in member.get("participants", ()):
                if address not in self.participants:
                    self.participants.append(address)
            self.has_outgoing = self.has_outgoing or member.get("direction") == "outbound"
            if member.get("sent_at"):
                self._saw(member.get("direction", "inbound"), datetime.fromisoformat(member["sent_at"]))
        self.history.append(
            {
                "kind": "split_from",
                "ref_id": split_id,
                "other_thread_id": str(from_thread_id),
                "other_number": from_number,
                "by_user_id": by_user_id,
                "detail": f"{len(members)} message(s)",
                "at": at.isoformat(),
            }
        )

    @event("Unsplit")
    def unsplit(
        self,
        tenant_id: str,
        thread_number: int,
        split_id: str,
        into_thread_id: UUID,
        into_number: int,
        member_ids: list[str],
        note_ids: list[str],
        by_user_id: str,
        at: datetime,
    ) -> None:
        """A split is undone: this thread's messages go back, and it follows the source from now on."""
        self._state()
        self.merged_into = into_thread_id
        self.history.append(
            {
                "kind": "unsplit",
                "ref_id": split_id,
                "other_thread_id": str(into_thread_id),
                "other_number": into_number,
                "by_user_id": by_user_id,
                "detail": "",
                "at": at.isoformat(),
            }
        )

    @event("Received")
    def receive(
        self,
        ref_id: str,
        kind: str,
        from_thread_id: UUID,
        from_number: int,
        members: dict[str, dict[str, Any]],
        notes: dict[str, dict[str, Any]],
        by_user_id: str,
        at: datetime,
    ) -> None:
        """Messages and notes come back (an undone split)."""
        self._state()
        self.members.update(members)
        self.notes.update(notes)
        self.history.append(
            {
                "kind": kind,
                "ref_id": ref_id,
                "other_thread_id": str(from_thread_id),
                "other_number": from_number,
                "by_user_id": by_user_id,
                "detail": "",
                "at": at.isoformat(),
            }
        )

    @event("StatusChanged")
    def change_status(
        self,
        tenant_id: str,
        thread_number: int,
        status: str,
        previous: str,
        by_user_id: str,
        reason: str,
        message_id: str,
        at: datetime,
    ) -> None:
        self._state()
        self.status = status
        self.status_history.append(
            {
                "status": status,
                "previous": previous,
                "by_user_id": by_user_id,
                "reason": reason,
                "at": at.isoformat(),
            }
        )

    @event("NoteAdded")
    def add_note(
        self,
        tenant_id: str,
        thread_number: int,
        note_id: str,
        author_user_id: str,
        body: str,
        mentions: list[str],
        at: datetime,
    ) -> None:
        self._state()
        self.notes[note_id] = {
            "author_user_id": author_user_id,
            "body": body,
            "mentions": list(mentions),
            "created_at": at.isoformat(),
            "edited_at": "",
            "deleted": False,
        }

    @event("NoteEdited")
    def edit_note(
        self, tenant_id: str, note_id: str, body: str, mentions: list[str], by_user_id: str, at: datetime
    ) -> None:
        self.notes[note_id] = {
            **self.notes[note_id],
            "body": body,
            "mentions": list(mentions),
            "edited_at": at.isoformat(),
        }

    @event("NoteDeleted")
    def delete_note(self, tenant_id: str, note_id: str, by_user_id: str, at: datetime) -> None:
        self.notes[note_id] = {
            **self.notes[note_id],
            "deleted": True,
            "body": "",
            "edited_at": at.isoformat(),
        }

    @event("MergeSuggested")
    def suggest_merge(
        self,
        tenant_id: str,
        thread_number: int,
        suggestion_id: str,
        target_thread_id: UUID,
        target_number: int,
        reason: str,
        at: datetime,
    ) -> None:
        self._state()
        self.suggestions[suggestion_id] = {
            "target_thread_id": str(target_thread_id),
            "target_number": target_number,
            "reason": reason,
            "state": "open",
        }

    @event("MergeSuggestionDismissed")
    def dismiss_suggestion(self, tenant_id: str, suggestion_id: str, by_user_id: str, at: datetime) -> None:
        self.suggestions[suggestion_id] = {**self.suggestions[suggestion_id], "state": "dismissed"}

    @event("MergeSuggestionAccepted")
    def accept_suggestion(self, suggestion_id: str, by_user_id: str) -> None:
        self.suggestions[suggestion_id] = {**self.suggestions[suggestion_id], "state": "accepted"}


class MessageRef(Aggregate):
    """A Message-ID within a tenant -> its thread. `ghost` until the message itself arrives."""

    @event("Registered")
    def __init__(
        self,
        tenant_id: str,
        message_id: str,
        thread_id: UUID,
        ghost: bool,
        outgoing: bool,
        subject: str = "",
        responer_message_id: str = "",
        at: datetime | None = None,
    ) -> None:
        self.tenant_id = tenant_id
        self.message_id = message_id
        self.thread_id = thread_id
        self.ghost = ghost
        self.outgoing = outgoing
        self.subject = subject
        self.responer_message_id = responer_message_id
        self.at = at
        self.answered = False

    @staticmethod
    def create_id(tenant_id: str, message_id: str, **_: object) -> UUID:
        return ids.message_ref_id(tenant_id, message_id)

    @event("Seen")
    def see(
        self,
        thread_id: UUID,
        outgoing: bool,
        subject: str = "",
        responer_message_id: str = "",
        at: datetime | None = None,
    ) -> None:
        self.thread_id = thread_id
        self.ghost = False
        self.outgoing = outgoing
        self.subject = subject
        self.responer_message_id = responer_message_id
        self.at = at

    @event("Answered")
    def mark_answered(self) -> None:
        self.answered = True

    @event("Moved")
    def move(self, thread_id: UUID) -> None:
        self.thread_id = thread_id


class ThreadCounter(Aggregate):
    """Issues a tenant's human-friendly thread numbers in sequence (optimistic concurrency keeps them unique)."""

    @event("Started")
    def __init__(self, tenant_id: str) -> None:
        self.tenant_id = tenant_id
        self.last_number = ids.FIRST_THREAD_NUMBER - 1

    @staticmethod
    def create_id(tenant_id: str) -> UUID:
        return ids.counter_id(tenant_id)

    def issue_next(self) -> int:
        self._issue(self.last_number + 1)
        return self.last_number

    @event("NumberIssued")
    def _issue(self, number: int) -> None:
        self.last_number = number


class SubjectThread(Aggregate):
    """(tenant, mailbox, customer, normalised subject) -> the latest thread and when it was active."""

    @event("Registered")
    def __init__(
        self, tenant_id: str, mailbox_id: str, customer: str, subject: str, thread_id: UUID, last_at: datetime
    ) -> None:
        self.thread_id = thread_id
        self.last_at = last_at

    @staticmethod
    def create_id(tenant_id: str, mailbox_id: str, customer: str, subject: str, **_: object) -> UUID:
        return ids.subject_key_id(tenant_id, mailbox_id, customer, subject)

    @event("Touched")
    def touch(self, thread_id: UUID, last_at: datetime) -> None:
        self.thread_id = thread_id
        self.last_at = last_at


class CustomerThread(Aggregate):
    """(tenant, mailbox, customer) -> the latest thread the customer started there. No longer written or
    read (merge suggestions and resends look up the subject key); kept so that stored events still load."""

    @event("Registered")
    def __init__(
        self, tenant_id: str, mailbox_id: str, customer: str, thread_id: UUID, last_at: datetime
    ) -> None:
        self.thread_id = thread_id
        self.last_at = last_at

    @staticmethod
    def create_id(tenant_id: str, mailbox_id: str, customer: str, **_: object) -> UUID:
        return ids.customer_key_id(tenant_id, mailbox_id, customer)

    @event("Touched")
    def touch(self, thread_id: UUID, last_at: datetime) -> None:
        self.thread_id = thread_id
        self.last_at = last_at


class RecipientThread(Aggregate):
    """(tenant, mailbox, address) -> the thread we last wrote to that address from (auto-replies)."""

    @event("Registered")
    def __init__(
        self, tenant_id: str, mailbox_id: str, address: str, thread_id: UUID, last_at: datetime
    ) -> None:
        self.thread_id = thread_id
        self.last_at = last_at

    @staticmethod
    def create_id(tenant_id: str, mailbox_id: str, address: str, **_: object) -> UUID:
        return ids.recipient_key_id(tenant_id, mailbox_id, address)

    @event("Touched")
    def touch(self, thread_id: UUID, last_at: datetime) -> None:
        self.thread_id = thread_id
        self.last_at = last_at


class MailboxPolicyRecord(Aggregate):
    """A mailbox's threading policy: subject window, reply to a closed thread, the tenant's own domains."""

    @event("Set")
    def __init__(
        self,
        tenant_id: str,
        mailbox_id: str,
        window_days: int,
        reply_to_closed: str,
        own_domains: list[str],
        resend_days: int = 0,
        follow_up_days: int = 0,
        topic_shift: bool = True,
    ) -> None:
        self.tenant_id = tenant_id
        self.mailbox_id = mailbox_id
        self.window_days = window_days
        self.reply_to_closed = reply_to_closed
        self.own_domains = list(own_domains)
        self.resend_days = resend_days
        self.follow_up_days = follow_up_days
        self.topic_shift = topic_shift

    @staticmethod
    def create_id(tenant_id: str, mailbox_id: str, **_: object) -> UUID:
        return ids.policy_id(tenant_id, mailbox_id)

    @event("Changed")
    def change(
        self,
        window_days: int,
        reply_to_closed: str,
        own_domains: list[str],
        resend_days: int = 0,
        follow_up_days: int = 0,
        topic_shift: bool = True,
    ) -> None:
        self.window_days = window_days
        self.reply_to_closed = reply_to_closed
        self.own_domains = list(own_domains)
        self.resend_days = resend_days
        self.follow_up_days = follow_up_days
        self.topic_shift = topic_shift


class MachineSender(Aggregate):
    """An address that started conversations with automatic mail: a system, not a person (decision._person)."""

    @event("Learned")
    def __init__(self, tenant_id: str, address: str) -> None:
        self.tenant_id = tenant_id
        self.address = address

    @staticmethod
    def create_id(tenant_id: str, address: str) -> UUID:
        return ids.machine_sender_id(tenant_id, address)


class TenantDomains(Aggregate):
    """The domains of a tenant's own mailboxes: their senders may use a thread tag."""

    @event("Started")
    def __init__(self, tenant_id: str) -> None:
        self.domains: list[str] = []

    @staticmethod
    def create_id(tenant_id: str) -> UUID:
        return ids.tenant_domains_id(tenant_id)

    @event("Learned")
    def learn(self, domain: str) -> None:
        self.domains.append(domain)


class OperationRecord(Aggregate):
    """A merge or split by id, so that it can be undone once (`merge_id` / `split_id`)."""

    @event("Recorded")
    def __init__(
        self,
        tenant_id: str,
        kind: str,
        op_id: str,
        source_thread_id: UUID,
        target_thread_id: UUID,
        member_ids: list[str],
        note_ids: list[str],
        message_ids: list[str],
    ) -> None:
        self.tenant_id = tenant_id
        self.kind = kind
        self.source_thread_id = source_thread_id
        self.target_thread_id = target_thread_id
        self.member_ids = list(member_ids)
        self.note_ids = list(note_ids)
        self.message_ids = list(message_ids)  # RFC Message-IDs, whose pointers move
        self.undone = False

    @staticmethod
    def create_id(tenant_id: str, kind: str, op_id: str, **_: object) -> UUID:
        return ids.operation_id(tenant_id, kind, op_id)

    @event("Undone")
    def undo(self, by_user_id: str) -> None:
        self.undone = True


class ThreadedMessage(Aggregate):
    """The outcome for one stored message (responer_message_id): what makes threading idempotent.

    A message seen in a second mailbox before it was threaded waits here (`waiting`, thread_id None,
    `pending_mailboxes`) and is settled when it is threaded: thread_message() reads this record anyway,
    so the rare early mailbox costs no extra read per message. Ingest publishes MailSeenInMailbox after
    the message's MailReceived on the same stream, so waiting records stay rare or absent."""

    @event("Recorded")
    def __init__(
        self,
        tenant_id: str,
        responer_message_id: UUID,
        thread_id: UUID | None,
        thread_number: int,
        signal: str,
        new_thread: bool,
        merged_thread_ids: list[UUID],
        thread_subject: str,
    ) -> None:
        self.thread_id = thread_id
        self.thread_number = thread_number
        self.signal = signal
        self.new_thread = new_thread
        self.merged_thread_ids = merged_thread_ids
        self.thread_subject = thread_subject
        self.pending_mailboxes: list[list[str]] = []  # [mailbox_id, mailbox_address] while not threaded

    @staticmethod
    def create_id(tenant_id: str, responer_message_id: UUID, **_: object) -> UUID:
        return ids.threaded_message_id(tenant_id, responer_message_id)

    @classmethod
    def waiting(cls, tenant_id: str, responer_message_id: UUID) -> ThreadedMessage:
        return cls(
            tenant_id=tenant_id,
            responer_message_id=responer_message_id,
            thread_id=None,
            thread_number=0,
            signal="",
            new_thread=False,
            merged_thread_ids=[],
            thread_subject="",
        )

    @property
    def threaded(self) -> bool:
        return self.thread_id is not None

    @event("MailboxPending")
    def note_mailbox(self, mailbox_id: str, mailbox_address: str) -> None:
        self.pending_mailboxes = [*getattr(self, "pending_mailboxes", []), [mailbox_id, mailbox_address]]

    @event("Settled")
    def settle(
        self,
        thread_id: UUID,
        thread_number: int,
        signal: str,
        new_thread: bool,
        merged_thread_ids: list[UUID],
        thread_subject: str,
    ) -> None:
        """A waiting record: the message is threaded now (its pending mailboxes were applied)."""
        self.thread_id = thread_id
        self.thread_number = thread_number
        self.signal = signal
        self.new_thread = new_thread
        self.merged_thread_ids = merged_thread_ids
        self.thread_subject = thread_subject
        self.pending_mailboxes = []
