"""One conversation as routing sees it: folder and system verdict, tags, priority, assignment with
its full history, and the response deadline.

Filing: the first message decides. Later, a customer's (non-system) message pulls a System thread
back to the Inbox — precision first: a thread a customer is writing in must never stay hidden.
System mail arriving in an Inbox thread (an auto-reply to our answer) does not hide the conversation.

Merge (threading's ThreadMerged): the target takes the source's assignment history (each entry marked
with the thread it came from), its sorted messages, and — as a support team expects (Front, Zammad) —
keeps its own assignee if it has one, otherwise takes the source's; it gains the source's tags, the
higher priority and the earlier pending deadline, and leaves System when the source was customer mail.
The source is parked (no deadline, no assignment timeout, not listed) but keeps its own record, so
the undo (ThreadUnmerged) revives it as it was and takes back from the target exactly what the merge
brought, each attribute only where nobody changed it since.

Split (threading's ThreadSplit): the split-off thread is routed like the conversation it came from — the
original's folder (Inbox instead of System when customer mail is split off a System thread), assignee
and group (kind `split`), tags and priority; its own deadline is the application's to start, from the
SLA policy, when the split-off messages end in unanswered customer mail. The original keeps its
routing, but a deadline that only the split-off mail kept running is parked with the split. The undo
(ThreadUnsplit) is a merge of the split-off thread back, after which the original takes back that
deadline; the inherited assignment is not repeated in the original's history.

To tell customer mail from system mail and an answered message from an unanswered one after a split,
the filing remembers each message's arrival (time, verdict) and each of our replies by message id.

Every change is an event of this aggregate, so two replicas changing one thread at once collide on
its version: the second reloads and sees the first's assignment instead of assigning again.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from eventsourcing.domain import Aggregate, event

from responer_routing.domain.folders import INBOX, SYSTEM

PRIORITY_RANK = {"low": 0, "normal": 1, "high": 2, "urgent": 3}


def filing_id(tenant_id: str, thread_id: str) -> uuid.UUID:
    return uuid.uuid5(uuid.UUID(tenant_id), f"filing:{thread_id}")


class ThreadFiling(Aggregate):
    @event("Opened")
    def __init__(self, tenant_id: str, thread_id: str, id: uuid.UUID) -> None:  # noqa: A002
        self.tenant_id = tenant_id
        self.thread_id = thread_id
        self.folder: str | None = None
        self.system = False
        self.system_kind = ""
        self.system_reason = ""
        self.sorted_messages: list[str] = []
        self.subject = ""
        self.from_email = ""
        self.mailbox_id = ""
        self.tags: list[str] = []
        self.priority = "normal"
        self.user_id = ""
        self.group_id = ""
        self.assigned_at: datetime | None = None
        self.assigned_kind = ""
        self.touched = False
        self.history: list[dict[str, Any]] = []
        self.deadline: dict[str, Any] | None = None
        self.last_inbound_at: datetime | None = None
        self.last_reply_at: datetime | None = None
        self.closed = False
        self.rule_trace: list[str] = []
        self.notified: list[str] = []
        self.merged_into = ""  # set while this thread is merged into another
        self.parked_deadline: dict[str, Any] | None = None  # its own deadline, back on the undo
        self.merges: dict[str, dict[str, Any]] = {}  # on a target: what each merge brought, for its undo
        self.arrivals: dict[str, dict[str, Any]] = {}  # message id -> {"at", "system"} (customer/system mail)
        self.replies: dict[str, datetime] = {}  # our replies by message id
        self.split_from = ""  # on a split-off thread: the thread it came from
        self.split_id = ""
        self.splits: dict[str, dict[str, Any]] = {}  # on an original: what each split parked, for its undo

    # -- filing --------------------------------------------------------------------------------
    def is_new_message(self, message_id: str) -> bool:
        return message_id not in self.sorted_messages

    def sort(self, message_id: str, *, system: bool, kind: str, reason: str, folder: str) -> bool:
        """Files the thread for a new message; True when the folder (or verdict) changed."""
        if message_id in self.sorted_messages:
            return False
        first = self.folder is None
        if first or (self.system and not system):
            self.filed(self.tenant_id, self.thread_id, message_id, folder, system, kind, reason)
            return True
        self.noted(message_id)
        return False

    @event("Filed")
    def filed(
        self,
        tenant_id: str,
        thread_id: str,
        message_id: str,
        folder: str,
        system: bool,
        kind: str,
        reason: str,
    ) -> None:
        self.folder = folder
        self.system = system
        self.system_kind = kind
        self.system_reason = reason
        self.sorted_messages.append(message_id)

    @event("Noted")
    def noted(self, message_id: str) -> None:
        self.sorted_messages.append(message_id)

    @event("Described")
    def describe(
        self,
        subject: str,
        from_email: str,
        mailbox_id: str,
        at: datetime,
        trace: list[str],
        message_id: str = "",
        system: bool = False,
    ) -> None:
        self.subject = self.subject or subject
        self.from_email = self.from_email or from_email
        self.mailbox_id = self.mailbox_id or mailbox_id
        self.last_inbound_at = at
        self.rule_trace = list(trace)
        if message_id:
            self.arrivals[message_id] = {"at": at, "system": system}

    @event("Moved")
    def move(self, folder: str, by_user_id: str = "", by_rule_id: str = "") -> None:
        self.folder = folder

    # -- tags and priority ---------------------------------------------------------------------
    def tag(self, tag: str, by_user_id: str = "", by_rule_id: str = "") -> None:
        if tag not in self.tags:
            self.tagged(tag, by_user_id, by_rule_id)

    @event("Tagged")
    def tagged(self, tag: str, by_user_id: str, by_rule_id: str) -> None:
        self.tags.append(tag)

    def untag(self, tag: str, by_user_id: str = "", by_rule_id: str = "") -> None:
        if tag in self.tags:
            self.untagged(tag, by_user_id, by_rule_id)

    @event("Untagged")
    def untagged(self, tag: str, by_user_id: str, by_rule_id: str) -> None:
        self.tags.remove(tag)

    def prioritise(self, priority: str, by_user_id: str = "", by_rule_id: str = "") -> None:
        if priority != self.priority:
            self.priority_set(priority, self.priority, by_user_id, by_rule_id)

    @event("PrioritySet")
    def priority_set(self, priority: str, previous: str, by_user_id: str, by_rule_id: str) -> None:
        self.priority = priority

    @event("StatusRequested")
    def request_status(self, status: str, by_rule_id: str) -> None:
        pass

    @event("StatusKnown")
    def status_known(self, closed: bool) -> None:
        self.closed = closed

    # -- assignment ----------------------------------------------------------------------------
    def assign(
        self,
        user_id: str,
        group_id: str,
        *,
        kind: str,
        at: datetime,
        strategy: str = "",
        by_user_id: str = "",
        by_rule_id: str = "",
        by_rule_name: str = "",
        reason: str = "",
    ) -> bool:
        if (user_id, group_id) == (self.user_id, self.group_id):
            return False
        self.assigned(
            user_id,
            group_id,
            self.user_id,
            self.group_id,
            kind,
            strategy,
            by_user_id,
            by_rule_id,
            by_rule_name,
            reason,
            at,
        )
        return True

    @event("Assigned")
    def assigned(
        self,
        user_id: str,
        group_id: str,
        previous_user_id: str,
        previous_group_id: str,
        kind: str,
        strategy: str,
        by_user_id: str,
        by_rule_id: str,
        by_rule_name: str,
        reason: str,
        at: datetime,
    ) -> None:
        self.user_id = user_id
        self.group_id = group_id
        self.assigned_at = at
        self.assigned_kind = kind
        self.touched = False
        self.history.append(
            {
                "user_id": user_id,
                "group_id": group_id,
                "previous_user_id": previous_user_id,
                "previous_group_id": previous_group_id,
                "kind": kind,
                "strategy": strategy,
                "by_user_id": by_user_id,
                "by_rule_id": by_rule_id,
                "by_rule_name": by_rule_name,
                "reason": reason,
                "at": at,
            }
        )

    def touch(self, by_user_id: str) -> None:
        """The assignee worked on the thread: the assignment timeout no longer applies."""
        if self.user_id and by_user_id == self.user_id and not self.touched:
            self.touched_by(by_user_id)

    @event("Touched")
    def touched_by(self, by_user_id: str) -> None:
        self.touched = True

    # -- deadlines -----------------------------------------------------------------------------
    @event("DueSet")
    def set_due(self, kind: str, due_at: datetime, warn_at: datetime, policy_id: str) -> None:
        self.deadline = {
            "kind": kind,
            "due_at": due_at,
            "warn_at": warn_at,
            "policy_id": policy_id,
            "warned": False,
            "overdue": False,
        }

    @event("Answered")
    def answered(self, at: datetime, by_user_id: str = "", message_id: str = "") -> None:
        self.last_reply_at = at
        if message_id:
            self.replies[message_id] = at
        self.deadline = None
        # Our reply is work on the thread (MessageThreaded does not say which agent sent it).
        self.touched = True

    def warn(self, now: datetime, recipients: list[str]) -> bool:
        d = self.deadline
        if d is None or d["warned"] or d["overdue"] or now < d["warn_at"] or now >= d["due_at"]:
            return False
        self.warned(d["kind"], d["due_at"], d["policy_id"], recipients)
        return True

    @event("Warned")
    def warned(self, kind: str, due_at: datetime, policy_id: str, recipients: list[str]) -> None:
        if self.deadline is not None:
            self.deadline["warned"] = True

    def breach(self, now: datetime, recipients: list[str]) -> bool:
        """Marks the running deadline overdue once; False when there is nothing (new) to breach."""
        d = self.deadline
        if d is None or d["overdue"] or now < d["due_at"]:
            return False
        self.overdue(d["kind"], d["due_at"], d["policy_id"], recipients)
        return True

    @event("Overdue")
    def overdue(self, kind: str, due_at: datetime, policy_id: str, recipients: list[str]) -> None:
        if self.deadline is not None:
            self.deadline["overdue"] = True
            self.deadline["warned"] = True

    # -- merge and its undo --------------------------------------------------------------------
    def routing_state(self) -> dict[str, Any]:
        """What a merge may change on its target (and its undo may give back)."""
        return {
            "user_id": self.user_id,
            "group_id": self.group_id,
            "tags": list(self.tags),
            "priority": self.priority,
            "deadline": dict(self.deadline) if self.deadline else None,
            "folder": self.folder,
            "system": self.system,
            "system_kind": self.system_kind,
            "system_reason": self.system_reason,
        }

    def absorb(self, merge_id: str, source: ThreadFiling, at: datetime, by_user_id: str = "") -> bool:
        """Takes what `source` brings into this (target) thread; False when this merge was seen before."""
        if merge_id in self.merges or source.thread_id == self.thread_id:
            return False
        before = self.routing_state()
        refile = self.system and source.folder is not None and not source.system
        # A split-off thread coming back does not repeat the assignment it inherited from this one.
        history = [h for h in source.history if not (h["kind"] == "split" and source.split_from == self.thread_id)]  # fmt: skip
        entries = [{**h, "merged_from": h.get("merged_from") or source.thread_id} for h in history]
        self.absorbed(
            merge_id,
            source.thread_id,
            entries,
            list(source.sorted_messages),
            source.last_inbound_at,
            source.last_reply_at,
            (source.folder or "") if refile else "",
            before,
            dict(source.arrivals),
            dict(source.replies),
        )
        reason = "taken over from a merged thread"
        if not self.user_id and source.user_id:
            self.assign(source.user_id, source.group_id, kind="merge", at=at, by_user_id=by_user_id, reason=reason)  # fmt: skip
        elif not self.user_id and not self.group_id and source.group_id:
            self.assign("", source.group_id, kind="merge", at=at, by_user_id=by_user_id, reason=reason)
        for tag in source.tags:
            self.tag(tag, by_user_id=by_user_id)
        if PRIORITY_RANK.get(source.priority, 1) > PRIORITY_RANK.get(self.priority, 1):
            self.prioritise(source.priority, by_user_id=by_user_id)
        theirs = source.deadline
        if theirs and (self.deadline is None or theirs["due_at"] < self.deadline["due_at"]):
            self.take_deadline(dict(theirs))
        self.merge_settled(merge_id, self.routing_state())
        return True

    @event("Absorbed")
    def absorbed(
        self,
        merge_id: str,
        source_thread_id: str,
        entries: list[dict[str, Any]],
        messages: list[str],
        last_inbound_at: datetime | None,
        last_reply_at: datetime | None,
        folder: str,
        before: dict[str, Any],
        arrivals: dict[str, dict[str, Any]] | None = None,
        replies: dict[str, datetime] | None = None,
    ) -> None:
        self.history = sorted([*self.history, *entries], key=lambda h: h["at"])
        self.sorted_messages.extend(m for m in messages if m not in self.sorted_messages)
        self.arrivals.update(arrivals or {})
        self.replies.update(replies or {})
        if last_inbound_at and (self.last_inbound_at is None or last_inbound_at > self.last_inbound_at):
            self.last_inbound_at = last_inbound_at
        if last_reply_at and (self.last_reply_at is None or last_reply_at > self.last_reply_at):
            self.last_reply_at = last_reply_at
        if folder:
            self.folder, self.system, self.system_kind, self.system_reason = folder, False, "", "merged"
        self.merges[merge_id] = {
            "source_thread_id": source_thread_id,
            "entries": entries,
            "before": before,
            "after": before,
        }

    @event("MergeSettled")
    def merge_settled(self, merge_id: str, after: dict[str, Any]) -> None:
        self.merges[merge_id]["after"] = after

    @event("DeadlineTaken")
    def take_deadline(self, deadline: dict[str, Any] | None) -> None:
        self.deadline = dict(deadline) if deadline else None

    @event("MergedInto")
    def merge_away(self, merge_id: str, target_thread_id: str) -> None:
        self.merged_into = target_thread_id
        self.parked_deadline = self.deadline
        self.deadline = None

    def undo_merge(self, merge_id: str, message_ids: list[str], at: datetime, by_user_id: str = "") -> bool:
        """Gives back what merge `merge_id` brought, where nobody changed it since; False if unknown."""
        record = self.merges.get(merge_id)
        if record is None:
            return False
        before, after = record["before"], record["after"]
        restore = self.folder == after["folder"] and after["folder"] != before["folder"]
        self.merge_undone(
            merge_id,
            list(message_ids),
            before["folder"] if restore else "",
            bool(before["system"]),
            before.get("system_kind", ""),
            before.get("system_reason", ""),
        )
        took = (after["user_id"], after["group_id"]) != (before["user_id"], before["group_id"])
        if took and (self.user_id, self.group_id) == (after["user_id"], after["group_id"]):
            self.assign(before["user_id"], before["group_id"], kind="unmerge", at=at, by_user_id=by_user_id, reason="merge undone")  # fmt: skip
        for tag in after["tags"]:
            if tag not in before["tags"]:
                self.untag(tag, by_user_id=by_user_id)
        if self.priority == after["priority"] != before["priority"]:
            self.prioritise(before["priority"], by_user_id=by_user_id)
        if _same_deadline(self.deadline, after["deadline"]) and not _same_deadline(after["deadline"], before["deadline"]):  # fmt: skip
            self.take_deadline(before["deadline"])
        return True

    @event("MergeUndone")
    def merge_undone(
        self,
        merge_id: str,
        message_ids: list[str],
        folder: str,
        system: bool,
        system_kind: str,
        system_reason: str,
    ) -> None:
        record = self.merges.pop(merge_id)
        history = list(self.history)
        for entry in record["entries"]:
            if entry in history:
                history.remove(entry)
        self.history = history
        self.sorted_messages = [m for m in self.sorted_messages if m not in message_ids]
        for m in message_ids:
            self.arrivals.pop(m, None)
            self.replies.pop(m, None)
        if folder:
            self.folder, self.system, self.system_kind, self.system_reason = folder, system, system_kind, system_reason  # fmt: skip

    def revive(self, merge_id: str) -> bool:
        if not self.merged_into:
            return False
        self.revived(merge_id)
        return True

    @event("Revived")
    def revived(self, merge_id: str) -> None:
        self.merged_into = ""
        self.deadline = self.parked_deadline
        self.parked_deadline = None

    # -- split and its undo --------------------------------------------------------------------
    def unanswered_since(self, message_ids: list[str]) -> datetime | None:
        """When the oldest customer message among `message_ids` that no reply among them followed
        arrived; None when they hold no unanswered customer mail (or routing never saw them)."""
        replied = max((self.replies[m] for m in message_ids if m in self.replies), default=None)
        waiting = [
            a["at"]
            for m in message_ids
            if (a := self.arrivals.get(m)) is not None
            and not a["system"]
            and (replied is None or a["at"] > replied)
        ]
        return min(waiting, default=None)

    def has_customer_mail(self, message_ids: list[str]) -> bool:
        return any(not a["system"] for m in message_ids if (a := self.arrivals.get(m)) is not None)

    def split_away(self, split_id: str, new_thread_id: str, message_ids: list[str]) -> bool:
        """`message_ids` left for a new thread; False when this split was seen before."""
        if split_id in self.splits:
            return False
        moved = [m for m in message_ids if m in self.sorted_messages or m in self.replies]
        left = [m for m in [*self.sorted_messages, *self.replies] if m not in message_ids]
        # Park a deadline only the split-off mail kept running, and count what is left as answered or
        # waiting — known messages only: older filings did not record arrivals, and a deadline must
        # never silently vanish.
        known = all(m in self.arrivals or m in self.replies for m in left)
        park = self.deadline is not None and known and self.unanswered_since(left) is None
        last_inbound, last_reply = self.last_inbound_at, self.last_reply_at
        if known:
            last_inbound = max((self.arrivals[m]["at"] for m in left if m in self.arrivals), default=None)
            last_reply = max((self.replies[m] for m in left if m in self.replies), default=None)
        self.split_off_messages(
            split_id,
            new_thread_id,
            moved,
            dict(self.deadline) if park and self.deadline else None,
            last_inbound,
            last_reply,
        )
        if park:
            self.take_deadline(None)
        return True

    @event("SplitAway")
    def split_off_messages(
        self,
        split_id: str,
        new_thread_id: str,
        message_ids: list[str],
        parked_deadline: dict[str, Any] | None,
        last_inbound_at: datetime | None,
        last_reply_at: datetime | None,
    ) -> None:
        self.sorted_messages = [m for m in self.sorted_messages if m not in message_ids]
        self.last_inbound_at, self.last_reply_at = last_inbound_at, last_reply_at
        for m in message_ids:
            self.arrivals.pop(m, None)
            self.replies.pop(m, None)
        self.splits[split_id] = {"new_thread_id": new_thread_id, "deadline": parked_deadline}

    def inherit(
        self, split_id: str, source: ThreadFiling, message_ids: list[str], at: datetime, by_user_id: str = ""
    ) -> bool:
        """This (split-off) thread takes the original's routing; False when seen before or when this
        thread was already filed on its own. Call before `source.split_away` (which forgets the
        moved messages' arrivals)."""
        if self.split_id or self.folder is not None or source.folder is None:
            return False
        customer = source.has_customer_mail(message_ids)
        refile = (source.system or source.folder == SYSTEM) and customer
        moved = [m for m in message_ids if m in source.sorted_messages]
        arrivals = {m: dict(source.arrivals[m]) for m in message_ids if m in source.arrivals}
        replies = {m: source.replies[m] for m in message_ids if m in source.replies}
        last_inbound = max((a["at"] for a in arrivals.values()), default=None)
        self.split_off(
            split_id,
            source.thread_id,
            moved,
            arrivals,
            replies,
            INBOX if refile else source.folder,
            False if refile else source.system,
            "" if refile else source.system_kind,
            f"split off from {source.thread_id}" if refile else source.system_reason,
            source.subject,
            source.from_email,
            source.mailbox_id,
            last_inbound,
            max(replies.values(), default=None),
        )
        if source.user_id or source.group_id:
            self.assign(source.user_id, source.group_id, kind="split", at=at, by_user_id=by_user_id, reason="split off from its thread")  # fmt: skip
        for tag in source.tags:
            self.tag(tag, by_user_id=by_user_id)
        self.prioritise(source.priority, by_user_id=by_user_id)
        return True

    @event("SplitOff")
    def split_off(
        self,
        split_id: str,
        source_thread_id: str,
        message_ids: list[str],
        arrivals: dict[str, dict[str, Any]],
        replies: dict[str, datetime],
        folder: str,
        system: bool,
        system_kind: str,
        system_reason: str,
        subject: str,
        from_email: str,
        mailbox_id: str,
        last_inbound_at: datetime | None,
        last_reply_at: datetime | None,
    ) -> None:
        self.split_id, self.split_from = split_id, source_thread_id
        self.sorted_messages = list(message_ids)
        self.arrivals, self.replies = dict(arrivals), dict(replies)
        self.folder, self.system, self.system_kind, self.system_reason = folder, system, system_kind, system_reason  # fmt: skip
        self.subject, self.from_email, self.mailbox_id = subject, from_email, mailbox_id
        self.last_inbound_at, self.last_reply_at = last_inbound_at, last_reply_at

    def rejoin(self, split_id: str, brought: dict[str, Any] | None = None) -> bool:
        """The split was undone (its thread merged back, bringing deadline `brought`): the deadline the
        split parked runs again — instead of the one the split-off thread brought back (that one only
        existed because of the split), otherwise when it is the earlier one."""
        record = self.splits.get(split_id)
        if record is None:
            return False
        self.split_undone(split_id)
        parked = record["deadline"]
        mine = self.deadline
        if parked and (mine is None or _same_deadline(mine, brought) or parked["due_at"] < mine["due_at"]):
            self.take_deadline(parked)
        return True

    @event("SplitUndone")
    def split_undone(self, split_id: str) -> None:
        self.splits.pop(split_id, None)


def _same_deadline(a: dict[str, Any] | None, b: dict[str, Any] | None) -> bool:
    if a is None or b is None:
        return a is b
    return (a["kind"], a["due_at"]) == (b["kind"], b["due_at"])
