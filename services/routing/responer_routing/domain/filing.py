"""One conversation as routing sees it: folder and system verdict, tags, priority, assignment with
its full history, and the response deadline.

Filing: the first message decides. Later, a customer's (non-system) message pulls a System thread
back to the Inbox — precision first: a thread a customer is writing in must never stay hidden.
System mail arriving in an Inbox thread (an auto-reply to our answer) does not hide the conversation.

Every change is an event of this aggregate, so two replicas changing one thread at once collide on
its version: the second reloads and sees the first's assignment instead of assigning again.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from eventsourcing.domain import Aggregate, event


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
        self, subject: str, from_email: str, mailbox_id: str, at: datetime, trace: list[str]
    ) -> None:
        self.subject = self.subject or subject
        self.from_email = self.from_email or from_email
        self.mailbox_id = self.mailbox_id or mailbox_id
        self.last_inbound_at = at
        self.rule_trace = list(trace)

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
    def answered(self, at: datetime, by_user_id: str = "") -> None:
        self.last_reply_at = at
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
