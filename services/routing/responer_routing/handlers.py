"""Incoming integration events -> routing commands. The registry at the bottom is the whole list."""

from __future__ import annotations

from collections.abc import Callable

from eventsourcing.persistence import Tracking
from responer.events.v1 import events_pb2, mail_pb2
from responer_events import DecodedEvent

from responer_routing.application import RoutingApplication
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
    )


def sort_threaded_message(
    app: RoutingApplication, event: events_pb2.MessageThreaded, tracking: Tracking
) -> None:
    if event.mail.direction == mail_pb2.DIRECTION_OUTBOUND:
        app.skip(tracking)
        return
    app.sort_message(event.tenant_id, event.thread_id, event.message_id, incoming_mail(event.mail), tracking)


HANDLERS: dict[type, Callable[[RoutingApplication, object, Tracking], None]] = {
    events_pb2.MessageThreaded: sort_threaded_message,  # type: ignore[dict-item]
}


def dispatch(app: RoutingApplication) -> Callable[[DecodedEvent, Tracking], None]:
    def handle(event: DecodedEvent, tracking: Tracking) -> None:
        if app.already_processed(tracking):
            return
        handler = HANDLERS.get(type(event.payload))
        if handler is None:
            app.skip(tracking)
            return
        handler(app, event.payload, tracking)

    return handle
