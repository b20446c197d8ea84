"""Incoming integration events -> routing commands. The registries at the bottom are the whole list."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from eventsourcing.persistence import Tracking
from responer.events.v1 import events_pb2, mail_pb2
from responer_events import DecodedEvent

from responer_routing.application import Arrival, RoutingApplication
from responer_routing.domain.assignment import AgentRoster
from responer_routing.domain.rules import MessageFacts
from responer_routing.domain.system_mail import IncomingMail


def incoming_mail(mail: mail_pb2.Mail) -> IncomingMail:
    sender = getattr(mail, "from")
    return IncomingMail(
        headers=tuple((h.name, h.value) for h in mail.headers),
        part_types=tuple(mail.part_types),
        from_email=sender.email,
        from_name=sender.name,
        subject=mail.subject,
        text=mail.text,
        message_id=mail.message_id,
        report_parts=tuple((p.content_type, p.text) for p in mail.report_parts),
        html=mail.html,
    )


def message_facts(event: events_pb2.MessageThreaded) -> MessageFacts:
    mail = event.mail
    sender = getattr(mail, "from")
    return MessageFacts(
        headers=tuple((h.name, h.value) for h in mail.headers),
        from_email=sender.email,
        from_name=sender.name,
        to=tuple(a.email for a in mail.to),
        cc=tuple(a.email for a in mail.cc),
        mailbox=f"{event.mailbox_id} {event.mailbox_address}".strip(),
        subject=mail.subject,
        body=mail.text,
        attachment_names=tuple(a.filename for a in mail.attachments if a.filename),
        attachment_types=tuple(a.content_type for a in mail.attachments if a.content_type),
    )


def occurred(event: DecodedEvent) -> datetime:
    at = event.envelope.occurred_at
    return at.ToDatetime(tzinfo=UTC) if at.seconds else datetime.now(UTC)


def route_threaded_message(app: RoutingApplication, event: DecodedEvent, tracking: Tracking) -> None:
    payload: events_pb2.MessageThreaded = event.payload  # type: ignore[assignment]
    if payload.mail.direction == mail_pb2.DIRECTION_OUTBOUND:
        # Our reply: the running deadline is met (first or next response).
        app.record_reply(
            payload.tenant_id, payload.thread_id, occurred(event), "", tracking, payload.message_id
        )
        return
    mail = incoming_mail(payload.mail)
    arrival = Arrival(
        tenant_id=payload.tenant_id,
        thread_id=payload.thread_id,
        message_id=payload.message_id,
        mail=mail,
        facts=message_facts(payload),
        at=occurred(event),
        mailbox_id=payload.mailbox_id,
    )
    app.sort_message(payload.tenant_id, payload.thread_id, payload.message_id, mail, tracking, arrival)


def learn_thread_status(app: RoutingApplication, event: DecodedEvent, tracking: Tracking) -> None:
    payload: events_pb2.ThreadStatusChanged = event.payload  # type: ignore[assignment]
    app.thread_status(payload.tenant_id, payload.thread_id, payload.status, tracking)


def merge_routing(app: RoutingApplication, event: DecodedEvent, tracking: Tracking) -> None:
    p: events_pb2.ThreadMerged = event.payload  # type: ignore[assignment]
    at = p.at.ToDatetime(tzinfo=UTC) if p.at.seconds else occurred(event)
    merge_id = p.merge_id or f"{p.source_thread_id}>{p.target_thread_id}"
    app.merge_threads(
        p.tenant_id, p.source_thread_id, p.target_thread_id, merge_id, at, p.by_user_id, tracking
    )


def unmerge_routing(app: RoutingApplication, event: DecodedEvent, tracking: Tracking) -> None:
    p: events_pb2.ThreadUnmerged = event.payload  # type: ignore[assignment]
    at = p.at.ToDatetime(tzinfo=UTC) if p.at.seconds else occurred(event)
    app.unmerge_threads(
        p.tenant_id,
        p.source_thread_id,
        p.target_thread_id,
        p.merge_id,
        list(p.message_ids),
        at,
        p.by_user_id,
        tracking,
    )


def inherit_split_routing(app: RoutingApplication, event: DecodedEvent, tracking: Tracking) -> None:
    p: events_pb2.ThreadSplit = event.payload  # type: ignore[assignment]
    at = p.at.ToDatetime(tzinfo=UTC) if p.at.seconds else occurred(event)
    app.split_thread(
        p.tenant_id,
        p.source_thread_id,
        p.new_thread_id,
        p.split_id,
        list(p.message_ids),
        at,
        p.by_user_id,
        tracking,
    )


def merge_back_split(app: RoutingApplication, event: DecodedEvent, tracking: Tracking) -> None:
    """An undone split merges the split-off thread back: its routing joins the source like a merge."""
    p: events_pb2.ThreadUnsplit = event.payload  # type: ignore[assignment]
    at = p.at.ToDatetime(tzinfo=UTC) if p.at.seconds else occurred(event)
    app.merge_threads(
        p.tenant_id,
        p.new_thread_id,
        p.source_thread_id,
        f"unsplit:{p.split_id}",
        at,
        p.by_user_id,
        tracking,
        undone_split_id=p.split_id,
    )


def learn_user(app: RoutingApplication, event: DecodedEvent, tracking: Tracking) -> None:
    p: events_pb2.UserAdded = event.payload  # type: ignore[assignment]

    def change(roster: AgentRoster) -> None:
        roster.know_agent(p.user_id, p.name, p.email)

    app.learn(p.tenant_id, change, tracking)


def learn_group(app: RoutingApplication, event: DecodedEvent, tracking: Tracking) -> None:
    p: events_pb2.GroupChanged = event.payload  # type: ignore[assignment]

    def change(roster: AgentRoster) -> None:
        roster.set_group(p.group_id, p.name, list(p.member_user_ids), p.manager_user_id, p.removed)

    app.learn(p.tenant_id, change, tracking)


def learn_availability(app: RoutingApplication, event: DecodedEvent, tracking: Tracking) -> None:
    p: events_pb2.AgentAvailabilityChanged = event.payload  # type: ignore[assignment]

    def change(roster: AgentRoster) -> None:
        roster.set_availability(p.user_id, p.available, list(p.skills), p.max_open)

    app.learn(p.tenant_id, change, tracking)


Handler = Callable[[RoutingApplication, DecodedEvent, Tracking], None]

# From the threading stream (consumer routing-sort).
THREADING_HANDLERS: dict[type, Handler] = {
    events_pb2.MessageThreaded: route_threaded_message,
    events_pb2.ThreadStatusChanged: learn_thread_status,
    events_pb2.ThreadMerged: merge_routing,
    events_pb2.ThreadUnmerged: unmerge_routing,
    events_pb2.ThreadSplit: inherit_split_routing,
    events_pb2.ThreadUnsplit: merge_back_split,
}

# From the gateway stream (consumer routing-agents).
GATEWAY_HANDLERS: dict[type, Handler] = {
    events_pb2.UserAdded: learn_user,
    events_pb2.GroupChanged: learn_group,
    events_pb2.AgentAvailabilityChanged: learn_availability,
}


def dispatch(app: RoutingApplication, handlers: dict[type, Handler] | None = None) -> Callable[[DecodedEvent, Tracking], None]:  # fmt: skip
    table = THREADING_HANDLERS if handlers is None else handlers

    def handle(event: DecodedEvent, tracking: Tracking) -> None:
        if app.already_processed(tracking):
            return
        handler = table.get(type(event.payload))
        if handler is None:
            app.skip(tracking)
            return
        handler(app, event, tracking)

    return handle
