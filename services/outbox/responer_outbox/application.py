"""The outbox application: queue replies, learn mailboxes, deliver queued replies over SMTP."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from eventsourcing.application import AggregateNotFoundError, ProcessingEvent
from eventsourcing.persistence import IntegrityError, InterfaceError, OperationalError, Tracking
from responer_runtime.es import ResponerApplication

from responer_outbox.domain.commands import ConnectMailbox, QueueReply
from responer_outbox.domain.delivery import PermanentFailure, SmtpRoute, TemporaryFailure, Transport
from responer_outbox.domain.mailbox import Mailbox
from responer_outbox.domain.message import (
    InvalidReply,
    build_message,
    check_header_text,
    clean_message_id,
    format_address,
    message_bytes,
    parse_address,
    tag_subject,
    thread_references,
)
from responer_outbox.domain.reply import QUEUED, Reply

log = logging.getLogger(__name__)


class UnknownMailbox(Exception):
    """The reply names a mailbox this tenant has not connected (or the outbox has not learnt yet)."""


class Interrupted(Exception):
    """The service is stopping; the queued reply stays queued and is picked up after the restart."""


def _usable_ids(values: list[str], field_name: str) -> list[str]:
    """Message-IDs for In-Reply-To/References. Line breaks are refused like anywhere in a header; an
    id that is merely malformed (a space, non-ASCII: some mail clients make those) is left out, since
    the agent cannot fix the customer's mail and the thread tag still threads the answer."""
    ids: list[str] = []
    for value in values:
        check_header_text(value, field_name)
        if not value.strip():
            continue
        try:
            ids.append(clean_message_id(value, field_name))
        except InvalidReply:
            log.warning(
                "malformed Message-ID left out of the reply", extra={"field": field_name, "id": value}
            )
    return ids


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    initial_s: float = 2.0
    max_s: float = 60.0

    def delay(self, attempts: int) -> float:
        return min(self.initial_s * 2 ** max(attempts - 1, 0), self.max_s)


@dataclass(frozen=True)
class DefaultRelay:
    host: str
    port: int


class OutboxApplication(ResponerApplication):
    name = "outbox"

    def __init__(
        self,
        env: dict[str, str],
        *,
        transport: Transport,
        default_relay: DefaultRelay,
        mail_domain: str,
        retry: RetryPolicy,
    ) -> None:
        super().__init__(env=env)
        self.transport = transport
        self.default_relay = default_relay
        self.mail_domain = mail_domain
        self.retry = retry
        self.stopping = threading.Event()

    # -- mailboxes --------------------------------------------------------------------------------
    def connect_mailbox(self, cmd: ConnectMailbox, tracking: Tracking) -> None:
        if self.already_processed(tracking):
            return
        settings = (cmd.name, cmd.address, cmd.smtp_host, cmd.smtp_port, cmd.smtp_tls_mode)
        mailbox = self._find(Mailbox, Mailbox.create_id(cmd.tenant_id, cmd.mailbox_id))
        if mailbox is None:
            mailbox = Mailbox(
                tenant_id=cmd.tenant_id,
                mailbox_id=cmd.mailbox_id,
                name=cmd.name,
                address=cmd.address,
                smtp_host=cmd.smtp_host,
                smtp_port=cmd.smtp_port,
                smtp_tls_mode=cmd.smtp_tls_mode,
            )
        elif not mailbox.same_as(*settings):
            mailbox.reconnect(*settings)
        self.record(mailbox, tracking=tracking)

    def get_mailbox(self, tenant_id: str, mailbox_id: str) -> Mailbox | None:
        return self._find(Mailbox, Mailbox.create_id(tenant_id, mailbox_id))

    # -- replies ----------------------------------------------------------------------------------
    def queue_reply(self, cmd: QueueReply) -> Reply:
        """Stores a new queued reply, or returns the one already queued under this reply_id.

        Raises InvalidReply (bad input, nothing stored) or UnknownMailbox.
        """
        for name in ("tenant_id", "reply_id"):
            if not getattr(cmd, name).strip():
                raise InvalidReply(f"{name} is required")
        existing = self.get_reply(cmd.tenant_id, cmd.reply_id)
        if existing is not None:
            return existing
        reply = self._new_reply(cmd)
        try:
            self.save(reply)
        except IntegrityError:
            # The same reply_id queued concurrently: the first one stored wins.
            existing = self.get_reply(cmd.tenant_id, cmd.reply_id)
            if existing is None:
                raise
            return existing
        return reply

    def _new_reply(self, cmd: QueueReply) -> Reply:
        if not cmd.thread_id.strip():
            raise InvalidReply("thread_id is required")
        if not cmd.mailbox_id.strip():
            raise InvalidReply("mailbox_id is required")
        if cmd.thread_number < 0:
            raise InvalidReply("thread_number must not be negative")
        if not cmd.to:
            raise InvalidReply("at least one recipient (to) is required")
        if not cmd.body_text.strip():
            raise InvalidReply("body_text must not be empty")
        to = [format_address(parse_address(a, "to")) for a in cmd.to]
        cc = [format_address(parse_address(a, "cc")) for a in cmd.cc]
        subject = tag_subject(check_header_text(cmd.subject, "subject"), cmd.thread_number)
        in_reply_to = next(iter(_usable_ids([cmd.in_reply_to], "in_reply_to")), "")
        references = _usable_ids(cmd.references, "references")
        mailbox = self.get_mailbox(cmd.tenant_id, cmd.mailbox_id)
        if mailbox is None:
            raise UnknownMailbox(f"mailbox {cmd.mailbox_id} is not connected for this tenant")
        try:
            from_address = format_address(parse_address(mailbox.address, "mailbox address"))
        except InvalidReply as exc:
            raise UnknownMailbox(f"mailbox {cmd.mailbox_id} has no usable address: {exc}") from exc
        reply = Reply(
            tenant_id=cmd.tenant_id,
            client_reply_id=cmd.reply_id,
            thread_id=cmd.thread_id,
            thread_number=cmd.thread_number,
            mailbox_id=cmd.mailbox_id,
            from_address=from_address,
            to=to,
            cc=cc,
            subject=subject,
            body_text=cmd.body_text,
            in_reply_to=in_reply_to,
            references=thread_references(references, in_reply_to),
            author_user_id=cmd.author_user_id,
            mail_domain=self.mail_domain,
        )
        build_message(reply.outgoing, datetime.now(UTC))  # fails now, not at send time
        return reply

    def get_reply(self, tenant_id: str, reply_id: str) -> Reply | None:
        reply = self._find(Reply, Reply.create_id(tenant_id, reply_id))
        if reply is None or reply.tenant_id != tenant_id:
            return None
        return reply

    # -- delivery ---------------------------------------------------------------------------------
    def deliver_reply(self, tenant_id: str, reply_id: str, tracking: Tracking) -> None:
        """Sends a queued reply: at most once per success, retrying temporary failures with back-off.

        The aggregate's state is checked first, so a redelivered ReplyQueued (or one for a reply
        already sent before a restart) sends nothing. `sent` is recorded right after the SMTP
        transaction; only a crash between the two could repeat a mail, and then with the same
        Message-ID. While retrying, the consumer waits: replies are delivered in queue order.
        """
        if self.already_processed(tracking):
            return
        reply = self.get_reply(tenant_id, reply_id)
        if reply is None or reply.status != QUEUED:
            return
        route = self._route(reply)
        while True:
            if self.stopping.is_set():
                raise Interrupted(f"stopping before attempt {reply.attempts + 1}")
            now = datetime.now(UTC)
            mail = reply.outgoing
            try:
                refused = self.transport.send(
                    route, mail.envelope_sender, mail.recipients, message_bytes(build_message(mail, now))
                )
            except PermanentFailure as exc:
                log.warning("reply refused permanently", extra={"reply": str(reply.id), "error": str(exc)})
                reply.attempt_failed(str(exc), permanent=True, attempted_at=now)
                reply.give_up()
                self._record_durably(reply, tracking)
                return
            except TemporaryFailure as exc:
                reply.attempt_failed(str(exc), permanent=False, attempted_at=now)
                if reply.attempts >= self.retry.max_attempts:
                    log.warning("reply failed, giving up", extra={"reply": str(reply.id), "error": str(exc)})
                    reply.give_up()
                    self._record_durably(reply, tracking)
                    return
                self._record_durably(reply, None)
                delay = self.retry.delay(reply.attempts)
                log.info(
                    "temporary failure, retrying",
                    extra={
                        "reply": str(reply.id),
                        "error": str(exc),
                        "attempts": reply.attempts,
                        "delay": delay,
                    },
                )
                if self.stopping.wait(delay):
                    raise Interrupted(f"stopping after attempt {reply.attempts}") from exc
                continue
            reply.mark_sent(now, refused)
            self._record_durably(reply, tracking)
            log.info("reply sent", extra={"reply": str(reply.id), "message_id": reply.message_id})
            return

    def _route(self, reply: Reply) -> SmtpRoute:
        mailbox = self.get_mailbox(reply.tenant_id, reply.mailbox_id)
        if mailbox is None or not mailbox.smtp_host:
            return SmtpRoute(self.default_relay.host, self.default_relay.port)
        return SmtpRoute(mailbox.smtp_host, mailbox.smtp_port or 25, mailbox.smtp_tls_mode)

    def _record_durably(self, reply: Reply, tracking: Tracking | None, tries: int = 5) -> None:
        """After a mail left, losing the fact would mean sending it again: ride out short DB outages."""
        processing_event: ProcessingEvent = ProcessingEvent(tracking=tracking)
        processing_event.collect_events(reply)  # takes the pending events once; retries reuse them
        for attempt in range(1, tries + 1):
            try:
                recordings = self._record(processing_event)
            except (OperationalError, InterfaceError):
                if attempt == tries:
                    raise
                log.warning("recording the delivery failed, retrying", extra={"reply": str(reply.id)})
                time.sleep(0.5 * attempt)
                continue
            self._notify(recordings)
            return

    def _find(self, cls: type[Any], aggregate_id: Any) -> Any:
        try:
            aggregate = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None
        return aggregate if isinstance(aggregate, cls) else None
