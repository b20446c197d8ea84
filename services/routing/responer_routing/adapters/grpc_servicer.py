"""RoutingService over gRPC: requests -> application commands and queries (run in threads)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

import grpc
from responer.routing.v1 import routing_pb2 as pb
from responer.routing.v1 import routing_pb2_grpc

from responer_routing.adapters.event_mapping import ts
from responer_routing.adapters.views import PostgresViews
from responer_routing.application import NotFoundError, RoutingApplication
from responer_routing.domain import folders as F
from responer_routing.domain.contacts import Contact
from responer_routing.domain.filing import ThreadFiling
from responer_routing.domain.folders import FolderError
from responer_routing.domain.rules import Action, Condition, Rule, RuleError
from responer_routing.domain.sla import SlaPolicy

T = TypeVar("T")
ENTRY_FIELDS = frozenset(pb.AssignmentEntry.DESCRIPTOR.fields_by_name) - {"at"}


def thread_view(f: ThreadFiling) -> pb.ThreadRouting:
    view = pb.ThreadRouting(
        tenant_id=f.tenant_id,
        thread_id=f.thread_id,
        folder=f.folder or "",
        system=f.system,
        system_kind=f.system_kind,
        system_reason=f.system_reason,
        user_id=f.user_id,
        group_id=f.group_id,
        tags=f.tags,
        priority=f.priority,
        rule_trace=f.rule_trace,
        subject=f.subject,
        from_email=f.from_email,
        last_inbound_at=ts(f.last_inbound_at),
        last_reply_at=ts(f.last_reply_at),
        history=[
            pb.AssignmentEntry(**{k: v for k, v in h.items() if k in ENTRY_FIELDS}, at=ts(h["at"]))
            for h in f.history
        ],
        merged_into=f.merged_into,
    )
    if f.deadline:
        d = f.deadline
        view.deadline.CopyFrom(
            pb.Deadline(
                kind=d["kind"],
                due_at=ts(d["due_at"]),
                warn_at=ts(d["warn_at"]),
                warned=d["warned"],
                overdue=d["overdue"],
                policy_id=d["policy_id"],
            )
        )
    return view


def rule_from_pb(r: pb.Rule) -> Rule:
    return Rule(
        rule_id=r.rule_id,
        name=r.name,
        match=r.match or "all",
        enabled=r.enabled,
        conditions=tuple(Condition(field=c.field, op=c.op, value=c.value, name=c.name) for c in r.conditions),
        actions=tuple(Action(type=a.type, value=a.value) for a in r.actions),
    )


def rule_to_pb(tenant_id: str, rule: dict[str, Any], position: int) -> pb.Rule:
    return pb.Rule(
        tenant_id=tenant_id,
        rule_id=rule["rule_id"],
        name=rule["name"],
        position=position,
        enabled=rule.get("enabled", True),
        match=rule.get("match", "all"),
        conditions=[pb.Condition(**c) for c in rule["conditions"]],
        actions=[pb.Action(**a) for a in rule["actions"]],
    )


def contact_view(c: Contact, with_threads: bool = False) -> pb.Contact:
    return pb.Contact(
        tenant_id=c.tenant_id,
        contact_id=str(c.id),
        email=c.email,
        name=c.name,
        organisation=c.organisation,
        attributes=c.attributes,
        first_seen=ts(c.first_seen),
        last_seen=ts(c.last_seen),
        thread_count=len(c.thread_ids),
        thread_ids=c.thread_ids if with_threads else [],
    )


class RoutingServicer(routing_pb2_grpc.RoutingServiceServicer):
    def __init__(self, app: RoutingApplication, views: PostgresViews, on_saved: Callable[[], None]) -> None:
        self.app = app
        self.views = views
        self.on_saved = on_saved

    async def _run(self, context: grpc.aio.ServicerContext, fn: Callable[..., T], *args: Any) -> T:
        try:
            result = await asyncio.to_thread(fn, *args)
        except (RuleError, FolderError, ValueError) as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        except NotFoundError as exc:
            await context.abort(grpc.StatusCode.NOT_FOUND, str(exc))
        self.on_saved()
        return result

    # -- threads -------------------------------------------------------------------------------
    async def GetThread(self, request: pb.ThreadRef, context: grpc.aio.ServicerContext) -> pb.ThreadRouting:
        f = await asyncio.to_thread(self.app.filing, request.tenant_id, request.thread_id)
        if f is None:
            return pb.ThreadRouting(
                tenant_id=request.tenant_id, thread_id=request.thread_id, priority="normal"
            )
        return thread_view(f)

    async def AssignThread(
        self, r: pb.AssignThreadRequest, context: grpc.aio.ServicerContext
    ) -> pb.ThreadRouting:
        f = await self._run(
            context,
            self.app.assign,
            r.tenant_id,
            r.thread_id,
            r.user_id,
            r.group_id,
            r.by_user_id,
            r.reason,
            r.auto,
        )
        return thread_view(f)

    async def TagThread(self, r: pb.TagThreadRequest, context: grpc.aio.ServicerContext) -> pb.ThreadRouting:
        f = await self._run(
            context, self.app.tag, r.tenant_id, r.thread_id, list(r.add), list(r.remove), r.by_user_id
        )
        return thread_view(f)

    async def SetPriority(
        self, r: pb.SetPriorityRequest, context: grpc.aio.ServicerContext
    ) -> pb.ThreadRouting:
        f = await self._run(
            context, self.app.set_priority, r.tenant_id, r.thread_id, r.priority, r.by_user_id
        )
        return thread_view(f)

    async def MoveThread(
        self, r: pb.MoveThreadRequest, context: grpc.aio.ServicerContext
    ) -> pb.ThreadRouting:
        f = await self._run(context, self.app.move, r.tenant_id, r.thread_id, r.folder, r.by_user_id)
        return thread_view(f)

    # -- folders -------------------------------------------------------------------------------
    async def ListFolders(self, r: pb.TenantRef, context: grpc.aio.ServicerContext) -> pb.FolderList:
        setup = await asyncio.to_thread(self.app.setup, r.tenant_id)
        system = [pb.Folder(folder_id=name.lower(), name=name, system=True) for name in F.SYSTEM_FOLDERS]
        own = sorted(setup.folders.items(), key=lambda kv: kv[1].casefold())
        return pb.FolderList(folders=system + [pb.Folder(folder_id=i, name=n) for i, n in own])

    async def CreateFolder(self, r: pb.CreateFolderRequest, context: grpc.aio.ServicerContext) -> pb.Folder:
        folder_id, name = await self._run(context, self.app.create_folder, r.tenant_id, r.name)
        return pb.Folder(folder_id=folder_id, name=name)

    async def RemoveFolder(
        self, r: pb.RemoveFolderRequest, context: grpc.aio.ServicerContext
    ) -> pb.FolderList:
        await self._run(context, self.app.remove_folder, r.tenant_id, r.folder_id)
        return await self.ListFolders(pb.TenantRef(tenant_id=r.tenant_id), context)

    # -- rules ---------------------------------------------------------------------------------
    async def ListRules(self, r: pb.TenantRef, context: grpc.aio.ServicerContext) -> pb.RuleList:
        setup = await asyncio.to_thread(self.app.setup, r.tenant_id)
        return pb.RuleList(rules=[rule_to_pb(r.tenant_id, rule, i + 1) for i, rule in enumerate(setup.rules)])

    async def SaveRule(self, r: pb.SaveRuleRequest, context: grpc.aio.ServicerContext) -> pb.Rule:
        # 1-based in the API; 0 keeps a saved rule's place (a new one goes last).
        position = r.rule.position - 1 if r.rule.position > 0 else -1
        rule = await self._run(context, self.app.save_rule, r.rule.tenant_id, rule_from_pb(r.rule), position)
        setup = await asyncio.to_thread(self.app.setup, r.rule.tenant_id)
        pos = setup.position_of(rule.rule_id)
        return rule_to_pb(r.rule.tenant_id, setup.rules[pos], pos + 1)

    async def RemoveRule(self, r: pb.RuleRef, context: grpc.aio.ServicerContext) -> pb.RuleList:
        await self._run(context, self.app.remove_rule, r.tenant_id, r.rule_id)
        return await self.ListRules(pb.TenantRef(tenant_id=r.tenant_id), context)

    async def ReorderRules(self, r: pb.ReorderRulesRequest, context: grpc.aio.ServicerContext) -> pb.RuleList:
        await self._run(context, self.app.reorder_rules, r.tenant_id, list(r.rule_ids))
        return await self.ListRules(pb.TenantRef(tenant_id=r.tenant_id), context)

    async def TryRule(self, r: pb.TryRuleRequest, context: grpc.aio.ServicerContext) -> pb.TryRuleResponse:
        last = max(1, min(r.last or 50, 500))
        recent = await asyncio.to_thread(self.views.recent, r.rule.tenant_id, last)
        rule = rule_from_pb(r.rule)
        rule = Rule(
            rule.rule_id or "trial", rule.name or "trial", rule.conditions, rule.actions, rule.match, True
        )
        matches = await self._run(context, self.app.try_rule, rule, recent)
        return pb.TryRuleResponse(
            tried=len(recent),
            matches=[
                pb.RuleMatch(
                    thread_id=thread_id,
                    message_id=message_id,
                    subject=data.get("subject", ""),
                    from_email=data.get("from_email", ""),
                    at=ts(at),
                    actions=actions,
                )
                for thread_id, message_id, at, data, actions in matches
            ],
        )

    # -- groups and agents ---------------------------------------------------------------------
    async def SetGroupPolicy(self, r: pb.GroupPolicy, context: grpc.aio.ServicerContext) -> pb.GroupPolicy:
        await self._run(
            context,
            self.app.set_group_policy,
            r.tenant_id,
            r.group_id,
            r.strategy or "manual",
            r.max_open_per_agent,
            r.assignment_timeout_minutes,
            list(r.skills),
        )
        return r

    async def ListGroups(self, r: pb.TenantRef, context: grpc.aio.ServicerContext) -> pb.GroupList:
        roster = await asyncio.to_thread(self.app.roster, r.tenant_id)
        out = []
        for group_id, g in roster.groups.items():
            p = roster.policy(group_id)
            out.append(
                pb.GroupView(
                    group_id=group_id,
                    name=g["name"],
                    member_user_ids=g["members"],
                    manager_user_id=g["manager"],
                    policy=pb.GroupPolicy(
                        tenant_id=r.tenant_id,
                        group_id=group_id,
                        strategy=p.strategy,
                        max_open_per_agent=p.max_open_per_agent,
                        assignment_timeout_minutes=p.assignment_timeout_minutes,
                        skills=p.skills,
                    ),
                )
            )
        return pb.GroupList(groups=out)

    async def ListAgents(self, r: pb.TenantRef, context: grpc.aio.ServicerContext) -> pb.AgentList:
        roster = await asyncio.to_thread(self.app.roster, r.tenant_id)
        return pb.AgentList(
            agents=[
                pb.AgentView(
                    user_id=user_id,
                    name=a.get("name", ""),
                    email=a.get("email", ""),
                    available=bool(a.get("available")),
                    skills=a.get("skills") or [],
                    max_open=int(a.get("max_open") or 0),
                    open_threads=len(roster.open.get(user_id, ())),
                    group_ids=[g for g, v in roster.groups.items() if user_id in v["members"]],
                )
                for user_id, a in roster.agents.items()
            ]
        )

    # -- SLA -----------------------------------------------------------------------------------
    async def SetSlaPolicy(self, r: pb.SlaPolicy, context: grpc.aio.ServicerContext) -> pb.SlaPolicy:
        policy = SlaPolicy(
            policy_id=r.policy_id,
            name=r.name,
            first_response_minutes=r.first_response_minutes,
            next_response_minutes=r.next_response_minutes,
            warn_before_minutes=r.warn_before_minutes,
            business_hours=r.business_hours,
            priorities=tuple(r.priorities),
            tags=tuple(r.tags),
            mailbox_ids=tuple(r.mailbox_ids),
        )
        saved = await self._run(context, self.app.set_sla_policy, r.tenant_id, policy)
        out = pb.SlaPolicy()
        out.CopyFrom(r)
        out.policy_id = saved.policy_id
        return out

    async def ListSlaPolicies(self, r: pb.TenantRef, context: grpc.aio.ServicerContext) -> pb.SlaPolicyList:
        setup = await asyncio.to_thread(self.app.setup, r.tenant_id)
        return pb.SlaPolicyList(policies=[pb.SlaPolicy(tenant_id=r.tenant_id, **p) for p in setup.sla])

    async def SetBusinessHours(
        self, r: pb.BusinessHours, context: grpc.aio.ServicerContext
    ) -> pb.BusinessHours:
        days = {d.weekday: (d.start, d.end) for d in r.days}
        await self._run(
            context, self.app.set_business_hours, r.tenant_id, r.time_zone or "UTC", days, list(r.holidays)
        )
        return await self.GetBusinessHours(pb.TenantRef(tenant_id=r.tenant_id), context)

    async def GetBusinessHours(self, r: pb.TenantRef, context: grpc.aio.ServicerContext) -> pb.BusinessHours:
        setup = await asyncio.to_thread(self.app.setup, r.tenant_id)
        h = setup.hours
        return pb.BusinessHours(
            tenant_id=r.tenant_id,
            time_zone=h["time_zone"],
            days=[pb.DayHours(weekday=int(k), start=v[0], end=v[1]) for k, v in sorted(h["days"].items())],
            holidays=h["holidays"],
        )

    async def ListUnanswered(self, r: pb.ListUnansweredRequest, context: grpc.aio.ServicerContext) -> pb.ThreadRoutingList:  # fmt: skip
        rows = await asyncio.to_thread(
            self.views.unanswered, r.tenant_id, r.user_id, r.overdue_only, r.limit or 100
        )
        out = []
        for row in rows:
            view = pb.ThreadRouting(
                tenant_id=row["tenant_id"],
                thread_id=row["thread_id"],
                folder=row["folder"] or "",
                user_id=row["user_id"] or "",
                group_id=row["group_id"] or "",
                tags=row["tags"] or [],
                priority=row["priority"] or "normal",
                subject=row["subject"] or "",
                from_email=row["from_email"] or "",
                last_inbound_at=ts(row["last_inbound_at"]),
                last_reply_at=ts(row["last_reply_at"]),
            )
            if row["due_at"] is not None:
                view.deadline.CopyFrom(
                    pb.Deadline(
                        kind=row["deadline_kind"] or "",
                        due_at=ts(row["due_at"]),
                        warn_at=ts(row["warn_at"]),
                        warned=bool(row["warned"]),
                        overdue=bool(row["overdue"]),
                    )
                )
            out.append(view)
        return pb.ThreadRoutingList(threads=out)

    async def ListNotifications(self, r: pb.ListNotificationsRequest, context: grpc.aio.ServicerContext) -> pb.NotificationList:  # fmt: skip
        rows = await asyncio.to_thread(self.views.notifications, r.tenant_id, r.user_id, r.limit or 50)
        return pb.NotificationList(
            notifications=[
                pb.Notification(
                    notification_id=n["notification_id"],
                    user_id=n["user_id"],
                    thread_id=n["thread_id"],
                    kind=n["kind"],
                    text=n["text"],
                    at=ts(n["at"]),
                )
                for n in rows
            ]
        )

    # -- contacts ------------------------------------------------------------------------------
    async def ListContacts(
        self, r: pb.ListContactsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ContactList:
        contacts = await asyncio.to_thread(self._contacts, r.tenant_id, r.query, r.limit or 100)
        return pb.ContactList(contacts=[contact_view(c) for c in contacts])

    def _contacts(self, tenant_id: str, query: str, limit: int) -> list[Contact]:
        ids = self.views.contact_ids(tenant_id, query, limit)
        out = []
        for cid in ids:
            try:
                out.append(self.app.contact(tenant_id, cid))
            except NotFoundError:
                continue
        return out

    async def GetContact(self, r: pb.ContactRef, context: grpc.aio.ServicerContext) -> pb.Contact:
        c = await self._run(context, self.app.contact, r.tenant_id, r.contact_id, r.email)
        return contact_view(c, with_threads=True)

    async def UpdateContact(
        self, r: pb.UpdateContactRequest, context: grpc.aio.ServicerContext
    ) -> pb.Contact:
        c = await self._run(
            context,
            self.app.update_contact,
            r.tenant_id,
            r.contact_id,
            r.name,
            r.organisation,
            dict(r.attributes),
        )
        return contact_view(c, with_threads=True)
