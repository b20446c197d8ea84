"""Ingest: mailboxes and the messages read from them, recorded exactly once."""

from __future__ import annotations

import hashlib
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.fernet import Fernet
from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError
from responer.events.v1 import events_pb2
from responer_runtime.es import ResponerApplication

from responer_ingest.adapters.blobs import BlobStore
from responer_ingest.adapters.mail_mapping import to_mail_proto
from responer_ingest.domain.mail import ParsedMail
from responer_ingest.domain.mailbox import (
    InvalidMailbox,
    Mailbox,
    MailboxDirectory,
    mailbox_id_for,
    validate_connection,
)
from responer_ingest.domain.message import Message, QuarantinedMail, message_key
from responer_ingest.domain.parsing import parse_mail

log = logging.getLogger(__name__)


class MailboxExists(ValueError):
    pass


@dataclass(frozen=True)
class MailboxSpec:
    tenant_id: str
    name: str
    address: str
    imap_host: str
    imap_port: int
    tls_mode: str
    username: str
    password: str
    folders: tuple[str, ...] = ("INBOX",)
    smtp_host: str = ""
    smtp_port: int = 0
    smtp_tls_mode: str = ""


def content_hash(parsed: ParsedMail) -> str:
    """What stays the same when one mail reaches two mailboxes (transport headers differ)."""
    basis = "\x1f".join(
        [parsed.from_email, parsed.subject, parsed.date.isoformat() if parsed.date else "", parsed.text]
    )
    return hashlib.sha256(basis.encode("utf-8", "surrogatepass")).hexdigest()[:32]


class IngestApplication(ResponerApplication):
    name = "ingest"

    def __init__(self, env: dict[str, str], cipher: Fernet, blobs: BlobStore, max_message_bytes: int) -> None:
        super().__init__(env=env)
        self.cipher = cipher
        self.blobs = blobs
        self.max_message_bytes = max_message_bytes

    # -- mailboxes ---------------------------------------------------------------------------
    def register_mailbox(self, spec: MailboxSpec) -> Mailbox:
        try:
            uuid.UUID(spec.tenant_id)
        except ValueError:
            raise InvalidMailbox("tenant_id must be a UUID") from None
        if "@" not in spec.address or any(c in spec.address for c in "\r\n <>"):
            raise InvalidMailbox(f"address {spec.address!r} is not an e-mail address")
        validate_connection(spec.imap_host, spec.imap_port, spec.tls_mode)
        mailbox_id = mailbox_id_for(spec.tenant_id, spec.address)
        if self._find(mailbox_id) is not None:
            raise MailboxExists(f"mailbox {spec.address} is already connected")
        mailbox = Mailbox(
            tenant_id=spec.tenant_id,
            name=spec.name or spec.address,
            address=spec.address.lower(),
            imap_host=spec.imap_host,
            imap_port=spec.imap_port,
            tls_mode=spec.tls_mode,
            username=spec.username,
            secret=self.cipher.encrypt(spec.password.encode()),
            folders=list(spec.folders or ("INBOX",)),
            smtp_host=spec.smtp_host,
            smtp_port=spec.smtp_port,
            smtp_tls_mode=spec.smtp_tls_mode,
            id=mailbox_id,
        )
        directory = self._directory() or MailboxDirectory()
        directory.add(str(mailbox_id), spec.tenant_id)
        self.save(mailbox, directory)
        return mailbox

    def mailbox(self, mailbox_id: uuid.UUID | str) -> Mailbox:
        return self.repository.get(uuid.UUID(str(mailbox_id)))

    def mailboxes(self, tenant_id: str | None = None) -> list[Mailbox]:
        directory = self._directory()
        if directory is None:
            return []
        return [
            self.mailbox(mid)
            for mid, tid in directory.mailboxes.items()
            if tenant_id is None or tid == tenant_id
        ]

    def password(self, mailbox: Mailbox) -> str:
        return self.cipher.decrypt(mailbox.secret).decode()

    def _directory(self) -> MailboxDirectory | None:
        found = self._find(MailboxDirectory.ID)
        return found  # type: ignore[return-value]

    def _find(self, aggregate_id: uuid.UUID) -> object | None:
        try:
            return self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None

    # -- messages ----------------------------------------------------------------------------
    def receive_batch(
        self, mailbox_id: str, folder: str, uidvalidity: int, items: list[tuple[int, bytes]]
    ) -> int:
        """Stores one fetched batch: new messages, repeats, quarantined mail, and the new position.

        All of it is one save, so the folder position advances only together with the events of
        the messages it covers; a crash in between re-reads the batch and finds them stored.
        """
        for attempt in range(3):
            try:
                return self._receive_batch(mailbox_id, folder, uidvalidity, items)
            except IntegrityError:
                # Another mailbox stored the same message concurrently: read again and retry.
                if attempt == 2:
                    raise
        return 0

    def _receive_batch(
        self, mailbox_id: str, folder: str, uidvalidity: int, items: list[tuple[int, bytes]]
    ) -> int:
        mailbox = self.mailbox(mailbox_id)
        last = mailbox.position(folder, uidvalidity)
        pending: dict[uuid.UUID, Message | QuarantinedMail] = {}
        new = 0
        highest = last
        for uid, raw in sorted(items):
            if uid <= last:
                continue
            highest = max(highest, uid)
            raw_sha = self.blobs.put(raw)
            if len(raw) > self.max_message_bytes:
                pending_q = self._quarantine(mailbox, folder, uidvalidity, uid, raw_sha, "message too large")
                pending[pending_q.id] = pending_q
                continue
            try:
                parsed = parse_mail(raw)
            except Exception as exc:  # noqa: BLE001 - parse_mail should never raise; keep the mail if it does
                log.exception("parse failed; quarantined", extra={"uid": uid})
                pending_q = self._quarantine(
                    mailbox, folder, uidvalidity, uid, raw_sha, f"parse error: {exc!r}"
                )
                pending[pending_q.id] = pending_q
                continue
            key = message_key(mailbox.tenant_id, parsed.message_id, content_hash(parsed))
            existing = pending.get(key) or self._find(key)
            if isinstance(existing, Message):
                existing.seen_again(str(mailbox.id), folder, uidvalidity, uid)
                pending[key] = existing
                continue
            payload = events_pb2.MailReceived(
                message_id=str(key),
                tenant_id=mailbox.tenant_id,
                mailbox_id=str(mailbox.id),
                mailbox_address=mailbox.address,
                folder=folder,
                uidvalidity=uidvalidity,
                uid=uid,
                mail=to_mail_proto(parsed),
            )
            payload.received_at.FromDatetime(datetime.now(UTC))
            pending[key] = Message(
                tenant_id=mailbox.tenant_id,
                mailbox_id=str(mailbox.id),
                folder=folder,
                uidvalidity=uidvalidity,
                uid=uid,
                raw_sha256=raw_sha,
                payload=payload.SerializeToString(),
                id=key,
            )
            new += 1
        if highest > last:
            mailbox.advance(folder, uidvalidity, highest, new)
        self.save(mailbox, *pending.values())
        return new

    def _quarantine(
        self, mailbox: Mailbox, folder: str, uidvalidity: int, uid: int, raw_sha: str, reason: str
    ) -> QuarantinedMail:
        qid = uuid.uuid5(mailbox.id, f"quarantine:{folder}:{uidvalidity}:{uid}")
        return QuarantinedMail(
            tenant_id=mailbox.tenant_id,
            mailbox_id=str(mailbox.id),
            folder=folder,
            uidvalidity=uidvalidity,
            uid=uid,
            raw_sha256=raw_sha,
            reason=reason,
            id=qid,
        )
