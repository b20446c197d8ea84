"""Routing: files every conversation (system mail vs. mail that needs an answer, the tenant's rules),
assigns it (by hand, by rule, by a group's strategy), keeps its response deadline, and knows contacts.

Commands that touch several aggregates save them in one `record()` (with the consumed event's
tracking row), and retry from a fresh read when another replica changed one of them first.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError, Tracking
from responer_runtime.es import ResponerApplication

from responer_routing.domain import folders as F
from responer_routing.domain.assignment import STRATEGIES, AgentRoster, roster_id
from responer_routing.domain.contacts import Contact, contact_id_for, normalise_address, organisation_of
from responer_routing.domain.filing import ThreadFiling, filing_id
from responer_routing.domain.rules import (
    PRIORITIES,
    MessageFacts,
    Outcome,
    Rule,
    RuleError,
    apply_rules,
    rule_matches,
    validate,
)
from responer_routing.domain.setup import TenantSetup, policy_dict, setup_id
from responer_routing.domain.sla import FIRST_RESPONSE, NEXT_RESPONSE, SlaPolicy, deadline, pick_policy
from responer_routing.domain.system_mail import IncomingMail, SortingPolicy, Verdict, classify

log = logging.getLogger(__name__)
T = TypeVar("T")
RETRIES = 20
MAX_MERGE_HOPS = 20


def notification_id(aggregate_id: uuid.UUID, version: int, user_id: str) -> str:
    """The same breach seen twice (relay and API, or two replicas) names the same notification."""
    return str(uuid.uuid5(aggregate_id, f"notification:{version}:{user_id}"))


class NotFoundError(LookupError):
    pass


class Views(Protocol):
    """Query-side tables routing keeps next to its event store (adapters/views.py)."""

    def thread_changed(self, filing: ThreadFiling, timeout_at: datetime | None) -> None: ...
    def remember_mail(
        self, tenant_id: str, thread_id: str, message_id: str, at: datetime, facts: dict
    ) -> None: ...
    def notify(self, tenant_id: str, notification_id: str, user_id: str, thread_id: str, kind: str, text: str, at: datetime) -> None: ...  # fmt: skip
    def contact_changed(self, tenant_id: str, contact_id: str, email: str, name: str, organisation: str, last_seen: datetime) -> None: ...  # fmt: skip


class NoViews:
    def thread_changed(self, filing: ThreadFiling, timeout_at: datetime | None) -> None:
        pass

    def remember_mail(
        self, tenant_id: str, thread_id: str, message_id: str, at: datetime, facts: dict
    ) -> None:
        pass

    def notify(self, *args: Any) -> None:
        pass

    def contact_changed(self, *args: Any) -> None:
        pass


@dataclass
class Arrival:
    """A message that joined a thread, as routing's handler hands it over."""

    tenant_id: str
    thread_id: str
    message_id: str
    mail: IncomingMail
    facts: MessageFacts
    at: datetime
    mailbox_id: str = ""
    to_cc: list[str] = field(default_factory=list)


def facts_dict(facts: MessageFacts) -> dict[str, Any]:
    return {
        "headers": [list(h) for h in facts.headers],
        "from_email": facts.from_email,
        "from_name": facts.from_name,
        "to": list(facts.to),
        "cc": list(facts.cc),
        "mailbox": facts.mailbox,
        "subject": facts.subject,
        "body": facts.body[:20000],
        "attachment_names": list(facts.attachment_names),
        "attachment_types": list(facts.attachment_types),
        "system": facts.system,
        "system_kind": facts.system_kind,
    }


def facts_from_dict(
    data: dict[str, Any], contact_attributes: dict[str, str], at: datetime, tz: Any
) -> MessageFacts:
    local = at.astimezone(tz)
    return MessageFacts(
        headers=tuple((h[0], h[1]) for h in data.get("headers", ())),
        from_email=data.get("from_email", ""),
        from_name=data.get("from_name", ""),
        to=tuple(data.get("to", ())),
        cc=tuple(data.get("cc", ())),
        mailbox=data.get("mailbox", ""),
        subject=data.get("subject", ""),
        body=data.get("body", ""),
        attachment_names=tuple(data.get("attachment_names", ())),
        attachment_types=tuple(data.get("attachment_types", ())),
        contact_attributes=contact_attributes,
        local_minutes=local.hour * 60 + local.minute,
        local_weekday=local.weekday(),
        system=data.get("system", False),
        system_kind=data.get("system_kind", ""),
    )


class RoutingApplication(ResponerApplication):
    name = "routing"

    def __init__(
        self,
        env: dict[str, str],
        policy: SortingPolicy,
        views: Views | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        super().__init__(env=env)
        self.policy = policy
        self.views: Views = views or NoViews()
        self.clock = clock

    # -- loading -------------------------------------------------------------------------------
    def _get(self, aggregate_id: uuid.UUID, factory: Callable[[], T]) -> T:
        try:
            return self.repository.get(aggregate_id)  # type: ignore[no-any-return]
        except AggregateNotFoundError:
            return factory()

    def _filing(self, tenant_id: str, thread_id: str) -> ThreadFiling:
        fid = filing_id(tenant_id, thread_id)
        return self._get(fid, lambda: ThreadFiling(tenant_id=tenant_id, thread_id=thread_id, id=fid))

    def _setup(self, tenant_id: str) -> TenantSetup:
        sid = setup_id(tenant_id)
        return self._get(sid, lambda: TenantSetup(tenant_id=tenant_id, id=sid))

    def _roster(self, tenant_id: str) -> AgentRoster:
        rid = roster_id(tenant_id)
        return self._get(rid, lambda: AgentRoster(tenant_id=tenant_id, id=rid))

    def _retrying(self, attempt: Callable[[], T], tracking: Tracking | None = None) -> T | None:
        """Runs `attempt` (read, decide, record) again from a fresh read after a version conflict."""
        for i in range(RETRIES):
            try:
                return attempt()
            except IntegrityError:
                if tracking is not None and self.already_processed(tracking):
                    return None  # another replica handled this very event
                if i == RETRIES - 1:
                    raise
                log.info("write conflict, retrying", extra={"attempt": i + 1})
        return None

    def _saved(self, *filings: ThreadFiling, roster: AgentRoster | None = None) -> None:
        for filing in filings:
            self.views.thread_changed(filing, self._timeout_at(filing, roster))

    def _timeout_at(self, filing: ThreadFiling, roster: AgentRoster | None) -> datetime | None:
        if (
            filing.merged_into
            or not filing.user_id
            or not filing.group_id
            or filing.touched
            or filing.assigned_at is None
        ):
            return None
        if filing.assigned_kind not in ("auto", "rule"):
            return None
        roster = roster or self._roster(filing.tenant_id)
        minutes = roster.policy(filing.group_id).assignment_timeout_minutes
        return filing.assigned_at + timedelta(minutes=minutes) if minutes > 0 else None

    # -- incoming mail -------------------------------------------------------------------------
    def sort_message(
        self,
        tenant_id: str,
        thread_id: str,
        message_id: str,
        mail: IncomingMail,
        tracking: Tracking | None = None,
        arrival: Arrival | None = None,
    ) -> Verdict:
        verdict = classify(mail, self.policy)
        arrival = arrival or Arrival(tenant_id, thread_id, message_id, mail, MessageFacts(), self.clock())

        def attempt() -> ThreadFiling:
            return self._route(arrival, verdict, tracking)

        filing = self._retrying(attempt, tracking)
        if filing is not None:
            facts = facts_dict(arrival.facts)
            facts.update(system=verdict.system, system_kind=verdict.kind or "")
            self.views.remember_mail(tenant_id, thread_id, message_id, arrival.at, facts)
        return verdict

    def _route(self, a: Arrival, verdict: Verdict, tracking: Tracking | None) -> ThreadFiling:
        filing = self._filing(a.tenant_id, a.thread_id)
        if not filing.is_new_message(a.message_id):
            self.record(tracking=tracking)
            return filing
        setup = self._setup(a.tenant_id)
        roster = self._roster(a.tenant_id)
        contact = self._see_contact(a)
        cal = setup.calendar()
        local = a.at.astimezone(cal.zone)
        facts = MessageFacts(
            **{
                **{k: getattr(a.facts, k) for k in a.facts.__dataclass_fields__},
                "contact_attributes": dict(contact.attributes) if contact else {},
                "local_minutes": local.hour * 60 + local.minute,
                "local_weekday": local.weekday(),
                "system": verdict.system,
                "system_kind": verdict.kind or "",
            }
        )
        first = filing.folder is None
        outcome = apply_rules(setup.rule_list(), facts) if first or not verdict.system else Outcome()
        system = verdict.system if outcome.system is None else outcome.system
        folder = verdict.folder if outcome.system is None else (F.SYSTEM if system else F.INBOX)
        reason = verdict.reason if outcome.system is None else "rule: " + "; ".join(outcome.trace)
        if outcome.folder:
            folder = outcome.folder
        filing.sort(a.message_id, system=system, kind=verdict.kind or "", reason=reason, folder=folder)
        filing.describe(a.mail.subject, a.mail.from_email, a.mailbox_id, a.at, outcome.trace, a.message_id, system)  # fmt: skip
        if outcome.folder and filing.folder != outcome.folder:
            filing.move(outcome.folder, by_rule_id=outcome.matched[-1] if outcome.matched else "")
        for tag in outcome.tags:
            filing.tag(tag, by_rule_id=outcome.tag_rules.get(tag, ""))
        if outcome.priority:
            filing.prioritise(outcome.priority[0], by_rule_id=outcome.priority[1].rule_id)
        if outcome.status:
            filing.request_status(outcome.status[0], outcome.status[1].rule_id)
        if not filing.system and not filing.closed:
            self._assign_by_rules(filing, roster, outcome, a.at)
            self._start_deadline(filing, setup, a.at)
        objs: list[Any] = [filing, roster]
        if contact is not None:
            objs.append(contact)
        self.record(*objs, tracking=tracking)
        self._saved(filing, roster=roster)
        if contact is not None:
            self._contact_saved(contact)
        return filing

    def _contact_saved(self, c: Contact) -> None:
        self.views.contact_changed(c.tenant_id, str(c.id), c.email, c.name, c.organisation, c.last_seen)

    def _see_contact(self, a: Arrival) -> Contact | None:
        email = normalise_address(a.mail.from_email)
        if not email or "@" not in email:
            return None
        cid = contact_id_for(a.tenant_id, email)
        contact = self._get(
            cid,
            lambda: Contact(
                tenant_id=a.tenant_id,
                email=email,
                name=a.mail.from_name,
                organisation=organisation_of(email),
                at=a.at,
                id=cid,
            ),
        )
        contact.seen(a.thread_id, a.mail.from_name, a.at)
        return contact

    def _assign_by_rules(
        self, filing: ThreadFiling, roster: AgentRoster, outcome: Outcome, at: datetime
    ) -> None:
        if filing.user_id:
            return  # an owned conversation keeps its owner
        if outcome.assign_user:
            user, rule = outcome.assign_user
            group = outcome.assign_group[0] if outcome.assign_group else filing.group_id
            if filing.assign(
                user, group, kind="rule", at=at, by_rule_id=rule.rule_id, by_rule_name=rule.name
            ):
                roster.take(group, user, filing.thread_id, "")
            return
        group_id = outcome.assign_group[0] if outcome.assign_group else filing.group_id
        if not group_id:
            return
        rule = outcome.assign_group[1] if outcome.assign_group else None
        picked = roster.pick(group_id, set(filing.tags))
        if picked is None:
            if rule is not None and filing.group_id != group_id:
                filing.assign(
                    "", group_id, kind="rule", at=at, by_rule_id=rule.rule_id, by_rule_name=rule.name
                )
            return
        user, strategy = picked
        filing.assign(
            user,
            group_id,
            kind="auto",
            strategy=strategy,
            at=at,
            by_rule_id=rule.rule_id if rule else "",
            by_rule_name=rule.name if rule else "",
        )
        roster.take(group_id, user, filing.thread_id, strategy)

    def _start_deadline(self, filing: ThreadFiling, setup: TenantSetup, at: datetime) -> None:
        if filing.deadline is not None:
            return  # the clock already runs since the earlier unanswered message
        policy = pick_policy(setup.policies(), filing.priority, filing.tags, filing.mailbox_id)
        if policy is None:
            return
        kind = NEXT_RESPONSE if filing.last_reply_at is not None else FIRST_RESPONSE
        times = deadline(policy, setup.calendar(), kind, at)
        if times is not None:
            filing.set_due(kind, times[0], times[1], policy.policy_id)

    def record_reply(
        self,
        tenant_id: str,
        thread_id: str,
        at: datetime,
        by_user_id: str,
        tracking: Tracking | None = None,
        message_id: str = "",
    ) -> None:
        """Our reply went out: the running deadline is met; the next customer message starts the next one."""

        def attempt() -> None:
            filing = self._filing(tenant_id, thread_id)
            filing.answered(at, by_user_id, message_id)
            self.record(filing, tracking=tracking)
            self._saved(filing)

        self._retrying(attempt, tracking)

    def thread_status(
        self, tenant_id: str, thread_id: str, status: str, tracking: Tracking | None = None
    ) -> None:
        def attempt() -> None:
            filing = self._filing(tenant_id, thread_id)
            roster = self._roster(tenant_id)
            closed = status == "closed"
            if closed != filing.closed:
                filing.status_known(closed)
            if closed and roster.holder(thread_id):
                roster.release(thread_id)
            if not closed and filing.user_id and roster.holder(thread_id) is None:
                roster.take(filing.group_id, filing.user_id, thread_id, "")
            self.record(filing, roster, tracking=tracking)
            self._saved(filing, roster=roster)

        self._retrying(attempt, tracking)

    # -- merge and split (from threading) ------------------------------------------------------
    def _live(self, tenant_id: str, thread_id: str) -> ThreadFiling:
        """The filing that now holds what was addressed to `thread_id` (follows merges)."""
        filing = self._filing(tenant_id, thread_id)
        for _ in range(MAX_MERGE_HOPS):
            if not filing.merged_into:
                break
            filing = self._filing(tenant_id, filing.merged_into)
        return filing

    def merge_threads(
        self,
        tenant_id: str,
        source_thread_id: str,
        target_thread_id: str,
        merge_id: str,
        at: datetime,
        by_user_id: str = "",
        tracking: Tracking | None = None,
        undone_split_id: str = "",
    ) -> None:
        """The source's routing (assignment history, tags, deadline, ...) joins the target; see filing.py.
        With `undone_split_id` the source is that split's thread coming back: the target also takes
        back the deadline the split parked."""

        def attempt() -> None:
            source = self._filing(tenant_id, source_thread_id)
            target = self._live(tenant_id, target_thread_id)
            roster = self._roster(tenant_id)
            brought = dict(source.deadline) if source.deadline else None
            if source.merged_into or not target.absorb(merge_id, source, at, by_user_id):
                self.record(tracking=tracking)
                return
            source.merge_away(merge_id, target.thread_id)
            if undone_split_id:
                target.rejoin(undone_split_id, brought)
            if roster.holder(source.thread_id):
                roster.release(source.thread_id)
            if target.user_id and not target.closed and roster.holder(target.thread_id) != target.user_id:
                roster.take(target.group_id, target.user_id, target.thread_id, "")
            self.record(source, target, roster, tracking=tracking)
            self._saved(source, target, roster=roster)

        self._retrying(attempt, tracking)

    def split_thread(
        self,
        tenant_id: str,
        source_thread_id: str,
        new_thread_id: str,
        split_id: str,
        message_ids: list[str],
        at: datetime,
        by_user_id: str = "",
        tracking: Tracking | None = None,
    ) -> None:
        """The split-off thread inherits the original's routing (see filing.py) and, when its messages
        end in unanswered customer mail, a deadline of its own from the tenant's SLA policy."""

        def attempt() -> None:
            source = self._filing(tenant_id, source_thread_id)
            new = self._filing(tenant_id, new_thread_id)
            if split_id in source.splits or new.split_id:
                self.record(tracking=tracking)
                return
            roster = self._roster(tenant_id)
            waiting = source.unanswered_since(message_ids)
            if new.inherit(split_id, source, message_ids, at, by_user_id):
                if new.user_id and not source.closed:
                    roster.take(new.group_id, new.user_id, new.thread_id, "")
                if waiting is not None and not new.system:
                    # From the customer's message, as if it had arrived in a thread of its own.
                    self._start_deadline(new, self._setup(tenant_id), waiting)
            source.split_away(split_id, new_thread_id, message_ids)
            self.record(source, new, roster, tracking=tracking)
            self._saved(source, new, roster=roster)

        self._retrying(attempt, tracking)

    def unmerge_threads(
        self,
        tenant_id: str,
        source_thread_id: str,
        target_thread_id: str,
        merge_id: str,
        message_ids: list[str],
        at: datetime,
        by_user_id: str = "",
        tracking: Tracking | None = None,
    ) -> None:
        """Undoes `merge_id`: the source lives again with its own routing; the target gives back what
        the merge brought (where nobody changed it since)."""

        def attempt() -> None:
            source = self._filing(tenant_id, source_thread_id)
            target = self._filing(tenant_id, target_thread_id)
            roster = self._roster(tenant_id)
            if not target.undo_merge(merge_id, message_ids, at, by_user_id):
                self.record(tracking=tracking)
                return
            source.revive(merge_id)
            holder = roster.holder(target.thread_id)
            if holder and holder != target.user_id:
                roster.release(target.thread_id)
                if target.user_id and not target.closed:
                    roster.take(target.group_id, target.user_id, target.thread_id, "")
            if source.user_id and not source.closed:
                roster.take(source.group_id, source.user_id, source.thread_id, "")
            self.record(source, target, roster, tracking=tracking)
            self._saved(source, target, roster=roster)

        self._retrying(attempt, tracking)

    def skip(self, tracking: Tracking) -> None:
        """Consumes an event that needs no work, so it is not seen twice."""
        self.record(tracking=tracking)

    # -- agents and groups (from the gateway) --------------------------------------------------
    def learn(
        self, tenant_id: str, change: Callable[[AgentRoster], None], tracking: Tracking | None = None
    ) -> None:
        def attempt() -> None:
            roster = self._roster(tenant_id)
            change(roster)
            self.record(roster, tracking=tracking)

        self._retrying(attempt, tracking)

    # -- queries -------------------------------------------------------------------------------
    def filing(self, tenant_id: str, thread_id: str) -> ThreadFiling | None:
        try:
            return self.repository.get(filing_id(tenant_id, thread_id))
        except AggregateNotFoundError:
            return None

    def setup(self, tenant_id: str) -> TenantSetup:
        return self._setup(tenant_id)

    def roster(self, tenant_id: str) -> AgentRoster:
        return self._roster(tenant_id)

    def contact(self, tenant_id: str, contact_id: str = "", email: str = "") -> Contact:
        cid = uuid.UUID(contact_id) if contact_id else contact_id_for(tenant_id, email)
        try:
            contact: Contact = self.repository.get(cid)
        except AggregateNotFoundError as exc:
            raise NotFoundError("no such contact") from exc
        if contact.tenant_id != tenant_id:
            raise NotFoundError("no such contact")
        return contact

    # -- thread commands -----------------------------------------------------------------------
    def _thread_command(
        self, tenant_id: str, thread_id: str, change: Callable[[ThreadFiling, AgentRoster], None]
    ) -> ThreadFiling:
        def attempt() -> ThreadFiling:
            filing = self._live(tenant_id, thread_id)  # an old link to a merged thread acts on its target
            roster = self._roster(tenant_id)
            change(filing, roster)
            self.record(filing, roster)
            self._saved(filing, roster=roster)
            return filing

        result = self._retrying(attempt)
        assert result is not None
        return result

    def assign(
        self,
        tenant_id: str,
        thread_id: str,
        user_id: str,
        group_id: str,
        by_user_id: str,
        reason: str = "",
        auto: bool = False,
    ) -> ThreadFiling:
        """Manual assign / reassign / unassign; with `auto` the group's strategy chooses the agent."""

        def change(filing: ThreadFiling, roster: AgentRoster) -> None:
            now = self.clock()
            if group_id and group_id not in roster.groups:
                raise RuleError(f"unknown group {group_id}")
            if auto and group_id and not user_id:
                picked = roster.pick(group_id, set(filing.tags), exclude=filing.user_id)
                if picked is not None:
                    if filing.assign(picked[0], group_id, kind="auto", strategy=picked[1], at=now, by_user_id=by_user_id, reason=reason):  # fmt: skip
                        roster.take(group_id, picked[0], filing.thread_id, picked[1])
                    return
            if filing.assign(user_id, group_id, kind="manual", at=now, by_user_id=by_user_id, reason=reason):
                if user_id:
                    roster.take(group_id, user_id, filing.thread_id, "")
                else:
                    roster.release(filing.thread_id)
            if by_user_id and by_user_id == user_id:
                filing.touch(by_user_id)

        return self._thread_command(tenant_id, thread_id, change)

    def tag(
        self, tenant_id: str, thread_id: str, add: list[str], remove: list[str], by_user_id: str
    ) -> ThreadFiling:
        def change(filing: ThreadFiling, roster: AgentRoster) -> None:
            for t in add:
                cleaned = " ".join(t.split())[:60]
                if cleaned:
                    filing.tag(cleaned, by_user_id=by_user_id)
            for t in remove:
                filing.untag(t, by_user_id=by_user_id)
            filing.touch(by_user_id)

        return self._thread_command(tenant_id, thread_id, change)

    def set_priority(self, tenant_id: str, thread_id: str, priority: str, by_user_id: str) -> ThreadFiling:
        if priority not in PRIORITIES:
            raise RuleError(f"priority must be one of {', '.join(PRIORITIES)}")

        def change(filing: ThreadFiling, roster: AgentRoster) -> None:
            filing.prioritise(priority, by_user_id=by_user_id)
            filing.touch(by_user_id)

        return self._thread_command(tenant_id, thread_id, change)

    def move(self, tenant_id: str, thread_id: str, folder: str, by_user_id: str) -> ThreadFiling:
        setup = self._setup(tenant_id)
        if folder not in F.FILING_FOLDERS and folder not in setup.folders.values():
            raise RuleError(f"unknown folder {folder!r}")

        def change(filing: ThreadFiling, roster: AgentRoster) -> None:
            if filing.folder != folder:
                filing.move(folder, by_user_id=by_user_id)
            filing.touch(by_user_id)

        return self._thread_command(tenant_id, thread_id, change)

    # -- setup commands ------------------------------------------------------------------------
    def _setup_command(self, tenant_id: str, change: Callable[[TenantSetup], T]) -> T:
        def attempt() -> T:
            setup = self._setup(tenant_id)
            result = change(setup)
            self.record(setup)
            return result

        result = self._retrying(attempt)
        return result  # type: ignore[return-value]

    def create_folder(self, tenant_id: str, name: str) -> tuple[str, str]:
        cleaned = F.clean_name(name)
        fid = F.folder_id_for(tenant_id, cleaned)

        def change(setup: TenantSetup) -> tuple[str, str]:
            if fid not in setup.folders:
                setup.create_folder(fid, cleaned)
            return fid, setup.folders[fid]

        return self._setup_command(tenant_id, change)

    def remove_folder(self, tenant_id: str, folder_id: str) -> None:
        def change(setup: TenantSetup) -> None:
            if folder_id not in setup.folders:
                raise NotFoundError("no such folder")
            setup.remove_folder(folder_id, setup.folders[folder_id])

        self._setup_command(tenant_id, change)

    def save_rule(self, tenant_id: str, rule: Rule, position: int = -1) -> Rule:
        validate(rule)
        rule_id = rule.rule_id or str(uuid.uuid4())
        rule = Rule(rule_id, rule.name.strip(), rule.conditions, rule.actions, rule.match, rule.enabled)

        def change(setup: TenantSetup) -> Rule:
            for a in rule.actions:
                if (
                    a.type == "folder"
                    and a.value not in F.FILING_FOLDERS
                    and a.value not in setup.folders.values()
                ):
                    raise RuleError(f"unknown folder {a.value!r}: create it first")
            current = setup.position_of(rule_id)
            pos = position if position >= 0 else (current if current >= 0 else len(setup.rules))
            setup.save_rule(rule.as_dict(), pos)
            return rule

        return self._setup_command(tenant_id, change)

    def remove_rule(self, tenant_id: str, rule_id: str) -> None:
        def change(setup: TenantSetup) -> None:
            if setup.position_of(rule_id) < 0:
                raise NotFoundError("no such rule")
            setup.remove_rule(rule_id)

        self._setup_command(tenant_id, change)

    def reorder_rules(self, tenant_id: str, rule_ids: list[str]) -> None:
        self._setup_command(tenant_id, lambda setup: setup.reorder_rules(list(rule_ids)))

    def set_sla_policy(self, tenant_id: str, policy: SlaPolicy) -> SlaPolicy:
        if (
            policy.first_response_minutes < 0
            or policy.next_response_minutes < 0
            or policy.warn_before_minutes < 0
        ):
            raise RuleError("minutes must not be negative")
        policy_id = policy.policy_id or str(uuid.uuid4())
        data = policy_dict(policy) | {"policy_id": policy_id}
        self._setup_command(tenant_id, lambda setup: setup.set_sla_policy(data))
        return SlaPolicy(**{**data, **{k: tuple(data[k]) for k in ("priorities", "tags", "mailbox_ids")}})

    def set_business_hours(self, tenant_id: str, time_zone: str, days: dict[int, tuple[str, str]], holidays: list[str]) -> None:  # fmt: skip
        from zoneinfo import ZoneInfo

        try:
            ZoneInfo(time_zone)
        except Exception as exc:  # noqa: BLE001
            raise RuleError(f"unknown time zone {time_zone!r}") from exc
        for start, end in days.values():
            for v in (start, end):
                h, _, m = v.partition(":")
                if not (h.isdigit() and m.isdigit() and 0 <= int(h) <= 24 and 0 <= int(m) < 60):
                    raise RuleError(f"a time looks like 08:00, not {v!r}")
        from datetime import date

        for d in holidays:
            try:
                date.fromisoformat(d)
            except ValueError as exc:
                raise RuleError(f"a holiday is an ISO date like 2026-12-25, not {d!r}") from exc
        self._setup_command(
            tenant_id,
            lambda setup: setup.set_hours(
                time_zone, {str(k): list(v) for k, v in days.items()}, list(holidays)
            ),
        )

    def set_group_policy(self, tenant_id: str, group_id: str, strategy: str, max_open: int, timeout: int, skills: list[str]) -> None:  # fmt: skip
        if strategy not in STRATEGIES:
            raise RuleError(f"strategy must be one of {', '.join(STRATEGIES)}")
        if max_open < 0 or timeout < 0:
            raise RuleError("limits must not be negative")
        self.learn(tenant_id, lambda r: r.set_policy(group_id, strategy, max_open, timeout, list(skills)))

    def update_contact(self, tenant_id: str, contact_id: str, name: str, organisation: str, attributes: dict[str, str]) -> Contact:  # fmt: skip
        def attempt() -> Contact:
            contact = self.contact(tenant_id, contact_id)
            contact.edit(name.strip(), organisation.strip(), dict(attributes))
            self.record(contact)
            self._contact_saved(contact)
            return contact

        result = self._retrying(attempt)
        assert result is not None
        return result

    # -- scheduler -----------------------------------------------------------------------------
    def check_deadline(self, tenant_id: str, thread_id: str, now: datetime) -> list[str]:
        """Warns or breaches the thread's deadline once; returns what happened ('warned', 'overdue')."""
        happened: list[str] = []

        def attempt() -> None:
            happened.clear()
            filing = self._filing(tenant_id, thread_id)
            if filing.deadline is None:
                return
            roster = self._roster(tenant_id)
            recipients = [u for u in (filing.user_id, roster.manager_of(filing.group_id)) if u]
            recipients = list(dict.fromkeys(recipients))
            if filing.breach(now, recipients):
                happened.append("overdue")
            elif filing.warn(now, recipients):
                happened.append("warned")
            if happened:
                self.record(filing)
                self._saved(filing, roster=roster)
                text = self._notification_text(filing, happened[0])
                for user_id in recipients:
                    nid = notification_id(filing.id, filing.version, user_id)
                    self.views.notify(tenant_id, nid, user_id, thread_id, happened[0], text, now)

        self._retrying(attempt)
        return happened

    @staticmethod
    def _notification_text(filing: ThreadFiling, what: str) -> str:
        d = filing.deadline or {}
        due = d.get("due_at")
        label = "first response" if d.get("kind") == FIRST_RESPONSE else "next response"
        when = due.isoformat(timespec="minutes") if due else ""
        if what == "overdue":
            return f"Overdue: the {label} to '{filing.subject}' was due at {when}"
        return f"Due soon: the {label} to '{filing.subject}' is due at {when}"

    def return_untouched(self, tenant_id: str, thread_id: str, now: datetime) -> bool:
        """An auto-assigned thread nobody touched within the group's timeout goes back to the group."""
        done = False

        def attempt() -> None:
            nonlocal done
            filing = self._filing(tenant_id, thread_id)
            roster = self._roster(tenant_id)
            timeout_at = self._timeout_at(filing, roster)
            if timeout_at is None or now < timeout_at:
                done = False
                return
            filing.assign(
                "", filing.group_id, kind="timeout", at=now, reason="untouched after the assignment timeout"
            )
            roster.release(thread_id)
            self.record(filing, roster)
            self._saved(filing, roster=roster)
            done = True

        self._retrying(attempt)
        return done

    # -- try a rule ----------------------------------------------------------------------------
    def try_rule(self, rule: Rule, recent: list[tuple[str, str, datetime, dict[str, Any]]]) -> list[tuple[str, str, datetime, dict[str, Any], list[str]]]:  # fmt: skip
        """Which of the recent messages (thread id, message id, at, facts) the rule would match."""
        validate(rule)
        tenant_contacts: dict[str, dict[str, str]] = {}
        matches = []
        setup = None
        for thread_id, message_id, at, data in recent:
            tenant_id = data.get("tenant_id", "")
            if setup is None and tenant_id:
                setup = self._setup(tenant_id)
            email = data.get("from_email", "")
            if email not in tenant_contacts:
                try:
                    tenant_contacts[email] = (
                        dict(self.contact(tenant_id, email=email).attributes) if tenant_id and email else {}
                    )
                except (NotFoundError, ValueError):
                    tenant_contacts[email] = {}
            zone = setup.calendar().zone if setup else UTC
            facts = facts_from_dict(data, tenant_contacts[email], at, zone)
            if rule_matches(rule, facts):
                matches.append((thread_id, message_id, at, data, [a.describe() for a in rule.actions]))
        return matches
