"""Ingest: mailboxes and the messages read from them, recorded exactly once."""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
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
    AUTH_METHODS,
    OAUTH_PROVIDERS,
    InvalidMailbox,
    Mailbox,
    MailboxDirectory,
    mailbox_id_for,
    validate_connection,
    validate_folders,
)
from responer_ingest.domain.message import (
    ImportedSource,
    Message,
    QuarantinedMail,
    QuarantineIndex,
    imported_source_id,
    message_key,
    quarantine_index_id,
)
from responer_ingest.domain.parsing import parse_mail

log = logging.getLogger(__name__)

IMPORT_FOLDER = "(import)"
# NATS refuses messages over its max_payload (1 MiB by default): the parsed form in the event is
# bounded; the raw message stays whole in the blob store.
MAX_EVENT_TEXT_CHARS = 256 * 1024
MAX_EVENT_HTML_CHARS = 512 * 1024


class MailboxExists(ValueError):
    pass


class MailboxNotFound(LookupError):
    pass


@dataclass(frozen=True)
class OAuthSpec:
    token_endpoint: str = ""
    client_id: str = ""
    client_secret: str = ""
    refresh_token: str = ""
    scope: str = ""
    provider: str = ""


@dataclass(frozen=True)
class MailboxSpec:
    tenant_id: str
    name: str
    address: str
    imap_host: str
    imap_port: int
    tls_mode: str
    username: str
    password: str = ""
    folders: tuple[str, ...] = ("INBOX",)
    smtp_host: str = ""
    smtp_port: int = 0
    smtp_tls_mode: str = ""
    auth_method: str = "password"
    oauth: OAuthSpec = field(default_factory=OAuthSpec)


@dataclass(frozen=True)
class MailboxChanges:
    """An edit: None keeps the current value."""

    name: str | None = None
    imap_host: str | None = None
    imap_port: int | None = None
    tls_mode: str | None = None
    folders: tuple[str, ...] | None = None
    smtp_host: str | None = None
    smtp_port: int | None = None
    smtp_tls_mode: str | None = None
    username: str | None = None
    password: str | None = None
    auth_method: str | None = None
    oauth: OAuthSpec | None = None


@dataclass(frozen=True)
class Login:
    """What a connection needs to log in. Holds secrets: never log it, never put it in an event."""

    method: str
    username: str
    password: str = ""
    token_endpoint: str = ""
    client_id: str = ""
    client_secret: str = ""
    refresh_token: str = ""
    scope: str = ""

    def __repr__(self) -> str:  # secrets never reach a log line or a traceback through repr
        return f"Login(method={self.method!r}, username={self.username!r})"


@dataclass
class BatchOutcome:
    received: int = 0
    seen: int = 0
    quarantined: int = 0
    skipped: int = 0

    def add(self, other: BatchOutcome) -> None:
        self.received += other.received
        self.seen += other.seen
        self.quarantined += other.quarantined
        self.skipped += other.skipped


def content_hash(parsed: ParsedMail) -> str:
    """What stays the same when one mail reaches two mailboxes (transport headers differ)."""
    basis = "\x1f".join(
        [parsed.from_email, parsed.subject, parsed.date.isoformat() if parsed.date else "", parsed.text]
    )
    return hashlib.sha256(basis.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _resolve_oauth(spec: OAuthSpec) -> OAuthSpec:
    provider = OAUTH_PROVIDERS.get(spec.provider, {})
    if spec.provider and not provider:
        raise InvalidMailbox(f"unknown OAuth provider {spec.provider!r}; known: {', '.join(OAUTH_PROVIDERS)}")
    resolved = OAuthSpec(
        token_endpoint=spec.token_endpoint or provider.get("token_endpoint", ""),
        client_id=spec.client_id,
        client_secret=spec.client_secret,
        refresh_token=spec.refresh_token,
        scope=spec.scope or provider.get("scope", ""),
        provider=spec.provider,
    )
    if not resolved.token_endpoint.startswith(("https://", "http://127.", "http://localhost")):
        raise InvalidMailbox("oauth.token_endpoint must be an https:// URL (http only on localhost)")
    if not resolved.client_id:
        raise InvalidMailbox("oauth.client_id is required")
    if not resolved.refresh_token:
        raise InvalidMailbox("oauth.refresh_token is required")
    return resolved


class IngestApplication(ResponerApplication):
    name = "ingest"

    def __init__(
        self,
        env: dict[str, str],
        cipher: Fernet,
        blobs: BlobStore,
        max_message_bytes: int,
        max_attachment_bytes: int = 25 * 1024 * 1024,
    ) -> None:
        super().__init__(env=env)
        self.cipher = cipher
        self.blobs = blobs
        self.max_message_bytes = max_message_bytes
        self.max_attachment_bytes = max_attachment_bytes

    # -- mailboxes ---------------------------------------------------------------------------
    def _login_fields(
        self, auth_method: str, username: str, password: str, oauth: OAuthSpec
    ) -> dict[str, object]:
        if auth_method not in AUTH_METHODS:
            raise InvalidMailbox(f"auth_method must be one of {', '.join(AUTH_METHODS)}, not {auth_method!r}")
        if not username:
            raise InvalidMailbox("username is required")
        if auth_method == "password":
            if not password:
                raise InvalidMailbox("password is required")
            return {
                "auth_method": auth_method,
                "username": username,
                "secret": self.cipher.encrypt(password.encode()),
                "oauth_provider": "",
                "token_endpoint": "",
                "client_id": "",
                "scope": "",
            }
        resolved = _resolve_oauth(oauth)
        document = {"client_secret": resolved.client_secret, "refresh_token": resolved.refresh_token}
        return {
            "auth_method": auth_method,
            "username": username,
            "secret": self.cipher.encrypt(json.dumps(document).encode()),
            "oauth_provider": resolved.provider,
            "token_endpoint": resolved.token_endpoint,
            "client_id": resolved.client_id,
            "scope": resolved.scope,
        }

    def validate_spec(self, spec: MailboxSpec) -> None:
        try:
            uuid.UUID(spec.tenant_id)
        except ValueError:
            raise InvalidMailbox("tenant_id must be a UUID") from None
        if "@" not in spec.address or any(c in spec.address for c in "\r\n <>"):
            raise InvalidMailbox(f"address {spec.address!r} is not an e-mail address")
        validate_connection(spec.imap_host, spec.imap_port, spec.tls_mode)
        validate_folders(list(spec.folders or ("INBOX",)))
        self._login_fields(spec.auth_method or "password", spec.username, spec.password, spec.oauth)

    def login_of_spec(self, spec: MailboxSpec) -> Login:
        """The login a not yet registered mailbox would use (for a connection test)."""
        if (spec.auth_method or "password") == "password":
            return Login("password", spec.username, password=spec.password)
        o = _resolve_oauth(spec.oauth)
        return Login(
            spec.auth_method,
            spec.username,
            token_endpoint=o.token_endpoint,
            client_id=o.client_id,
            client_secret=o.client_secret,
            refresh_token=o.refresh_token,
            scope=o.scope,
        )

    def register_mailbox(self, spec: MailboxSpec) -> Mailbox:
        self.validate_spec(spec)
        login = self._login_fields(spec.auth_method or "password", spec.username, spec.password, spec.oauth)
        mailbox_id = mailbox_id_for(spec.tenant_id, spec.address)
        folders = list(spec.folders or ("INBOX",))
        existing = self._find(mailbox_id)
        if isinstance(existing, Mailbox):
            if existing.status != "removed":
                raise MailboxExists(f"mailbox {spec.address} is already connected")
            # Reconnecting a removed mailbox: its positions are kept, so nothing is read twice.
            mailbox = existing
            mailbox.change_settings(
                name=spec.name or spec.address,
                imap_host=spec.imap_host,
                imap_port=spec.imap_port,
                tls_mode=spec.tls_mode,
                folders=folders,
                smtp_host=spec.smtp_host,
                smtp_port=spec.smtp_port,
                smtp_tls_mode=spec.smtp_tls_mode,
            )
            mailbox.resume()
        else:
            mailbox = Mailbox(
                tenant_id=spec.tenant_id,
                name=spec.name or spec.address,
                address=spec.address.lower(),
                imap_host=spec.imap_host,
                imap_port=spec.imap_port,
                tls_mode=spec.tls_mode,
                username=spec.username,
                secret=b"",
                folders=folders,
                smtp_host=spec.smtp_host,
                smtp_port=spec.smtp_port,
                smtp_tls_mode=spec.smtp_tls_mode,
                id=mailbox_id,
            )
        mailbox.set_login(**login)  # type: ignore[arg-type]
        directory = self._directory() or MailboxDirectory()
        directory.add(str(mailbox_id), spec.tenant_id)
        self.save(mailbox, directory)
        return mailbox

    def update_mailbox(self, tenant_id: str, mailbox_id: str, changes: MailboxChanges) -> Mailbox:
        mailbox = self.tenant_mailbox(tenant_id, mailbox_id)
        settings = {
            "name": changes.name if changes.name else mailbox.name,
            "imap_host": changes.imap_host or mailbox.imap_host,
            "imap_port": changes.imap_port or mailbox.imap_port,
            "tls_mode": changes.tls_mode or mailbox.tls_mode,
            "folders": list(changes.folders) if changes.folders else list(mailbox.folders),
            "smtp_host": mailbox.smtp_host if changes.smtp_host is None else changes.smtp_host,
            "smtp_port": mailbox.smtp_port if changes.smtp_port is None else changes.smtp_port,
            "smtp_tls_mode": mailbox.smtp_tls_mode
            if changes.smtp_tls_mode is None
            else changes.smtp_tls_mode,
        }
        validate_connection(settings["imap_host"], settings["imap_port"], settings["tls_mode"])  # type: ignore[arg-type]
        validate_folders(settings["folders"])  # type: ignore[arg-type]
        current = {
            "name": mailbox.name,
            "imap_host": mailbox.imap_host,
            "imap_port": mailbox.imap_port,
            "tls_mode": mailbox.tls_mode,
            "folders": list(mailbox.folders),
            "smtp_host": mailbox.smtp_host,
            "smtp_port": mailbox.smtp_port,
            "smtp_tls_mode": mailbox.smtp_tls_mode,
        }
        if settings != current:
            mailbox.change_settings(**settings)  # type: ignore[arg-type]
        method = changes.auth_method or mailbox.auth_method
        login_changed = (
            changes.password
            or changes.oauth is not None
            or (changes.auth_method and changes.auth_method != mailbox.auth_method)
            or (changes.username and changes.username != mailbox.username)
        )
        if login_changed:
            username = changes.username or mailbox.username
            if method == "password":
                password = changes.password or (
                    self.credentials(mailbox).password if mailbox.auth_method == "password" else ""
                )
                mailbox.set_login(**self._login_fields(method, username, password, OAuthSpec()))  # type: ignore[arg-type]
            else:
                oauth = changes.oauth or OAuthSpec()
                if mailbox.auth_method != "password":
                    old = self.credentials(mailbox)
                    oauth = OAuthSpec(
                        token_endpoint=oauth.token_endpoint or old.token_endpoint,
                        client_id=oauth.client_id or old.client_id,
                        client_secret=oauth.client_secret or old.client_secret,
                        refresh_token=oauth.refresh_token or old.refresh_token,
                        scope=oauth.scope or old.scope,
                        provider=oauth.provider or mailbox.oauth_provider,
                    )
                mailbox.set_login(**self._login_fields(method, username, "", oauth))  # type: ignore[arg-type]
        self.save(mailbox)
        return mailbox

    def pause_mailbox(self, tenant_id: str, mailbox_id: str) -> Mailbox:
        mailbox = self.tenant_mailbox(tenant_id, mailbox_id)
        if mailbox.status == "active":
            mailbox.pause()
            self.save(mailbox)
        return mailbox

    def resume_mailbox(self, tenant_id: str, mailbox_id: str) -> Mailbox:
        mailbox = self.tenant_mailbox(tenant_id, mailbox_id)
        if mailbox.status == "paused":
            mailbox.resume()
            self.save(mailbox)
        return mailbox

    def remove_mailbox(self, tenant_id: str, mailbox_id: str) -> Mailbox:
        mailbox = self.tenant_mailbox(tenant_id, mailbox_id)
        mailbox.remove()
        directory = self._directory() or MailboxDirectory()
        directory.discard(str(mailbox.id))
        self.save(mailbox, directory)
        return mailbox

    def rotate_refresh_token(self, mailbox_id: str, refresh_token: str) -> None:
        mailbox = self.mailbox(mailbox_id)
        login = self.credentials(mailbox)
        if mailbox.auth_method == "password" or login.refresh_token == refresh_token:
            return
        document = {"client_secret": login.client_secret, "refresh_token": refresh_token}
        mailbox.rotate_secret(self.cipher.encrypt(json.dumps(document).encode()))
        self.save(mailbox)

    def mailbox(self, mailbox_id: uuid.UUID | str) -> Mailbox:
        return self.repository.get(uuid.UUID(str(mailbox_id)))

    def tenant_mailbox(self, tenant_id: str, mailbox_id: str) -> Mailbox:
        try:
            mailbox = self.mailbox(mailbox_id)
        except (ValueError, AggregateNotFoundError):
            raise MailboxNotFound("no such mailbox") from None
        if mailbox.tenant_id != tenant_id or mailbox.status == "removed":
            raise MailboxNotFound("no such mailbox")
        return mailbox

    def mailboxes(self, tenant_id: str | None = None) -> list[Mailbox]:
        directory = self._directory()
        if directory is None:
            return []
        return [
            self.mailbox(mid)
            for mid, tid in directory.mailboxes.items()
            if tenant_id is None or tid == tenant_id
        ]

    def find_mailbox(self, reference: str, tenant_id: str | None = None) -> Mailbox:
        """A mailbox by id or by address (for the command line)."""
        for mailbox in self.mailboxes(tenant_id):
            if reference in (str(mailbox.id), mailbox.address):
                return mailbox
        raise MailboxNotFound(f"no mailbox {reference!r}")

    def credentials(self, mailbox: Mailbox) -> Login:
        if mailbox.status == "removed" or not mailbox.secret:
            raise MailboxNotFound("the mailbox was removed; its credentials are gone")
        plain = self.cipher.decrypt(mailbox.secret).decode()
        if mailbox.auth_method == "password":
            return Login("password", mailbox.username, password=plain)
        document = json.loads(plain)
        return Login(
            mailbox.auth_method,
            mailbox.username,
            token_endpoint=mailbox.token_endpoint,
            client_id=mailbox.client_id,
            client_secret=document.get("client_secret", ""),
            refresh_token=document.get("refresh_token", ""),
            scope=mailbox.scope,
        )

    def password(self, mailbox: Mailbox) -> str:
        return self.credentials(mailbox).password

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
        Returns how many new messages were stored.
        """
        return self.receive_batch_outcome(mailbox_id, folder, uidvalidity, items).received

    def receive_batch_outcome(
        self, mailbox_id: str, folder: str, uidvalidity: int, items: list[tuple[int, bytes]]
    ) -> BatchOutcome:
        return self._retrying(lambda: self._receive_batch(mailbox_id, folder, uidvalidity, items))

    def _retrying(self, attempt_once):  # noqa: ANN001, ANN202
        for attempt in range(5):
            try:
                return attempt_once()
            except IntegrityError:
                # Another mailbox (or an import) stored the same message or index concurrently:
                # read again and retry; what is stored now is found and not stored twice.
                if attempt == 4:
                    raise
        raise AssertionError("unreachable")

    def _receive_batch(
        self, mailbox_id: str, folder: str, uidvalidity: int, items: list[tuple[int, bytes]]
    ) -> BatchOutcome:
        mailbox = self.mailbox(mailbox_id)
        last = mailbox.position(folder, uidvalidity)
        pending: dict[uuid.UUID, object] = {}
        outcome = BatchOutcome()
        highest = last
        blobs: list[bytes] = []
        fresh = [(uid, raw) for uid, raw in sorted(items) if uid > last]
        outcome.skipped = len(items) - len(fresh)
        parsed, known = self._prepare(mailbox.tenant_id, [raw for _, raw in fresh])
        for (uid, raw), early in zip(fresh, parsed, strict=True):
            highest = max(highest, uid)
            kind, _ = self._accept(
                mailbox, folder, uidvalidity, uid, raw, pending, blobs, parsed=early, known=known
            )
            setattr(outcome, kind, getattr(outcome, kind) + 1)
        if highest > last:
            mailbox.advance(folder, uidvalidity, highest, outcome.received, outcome.quarantined)
        # Blobs first (one transaction for the batch), then the events that name them.
        self.blobs.put_many(blobs)
        self.save(mailbox, *pending.values())
        return outcome

    def _prepare(self, tenant_id: str, raws: list[bytes]) -> tuple[list[ParsedMail | None], set[uuid.UUID]]:
        """Parses a batch up front and finds, in one query, which of its messages are stored already
        (instead of one read per message). A message that fails here is parsed again, and
        quarantined, by `_accept`."""
        parsed: list[ParsedMail | None] = []
        for raw in raws:
            try:
                parsed.append(parse_mail(raw) if len(raw) <= self.max_message_bytes else None)
            except Exception:  # noqa: BLE001 - handled (and quarantined) by _accept
                parsed.append(None)
        keys = [message_key(tenant_id, p.message_id, content_hash(p)) for p in parsed if p is not None]
        return parsed, self._existing(keys)

    def _existing(self, ids: list[uuid.UUID]) -> set[uuid.UUID]:
        datastore = getattr(self.recorder, "datastore", None)
        if not ids or datastore is None:  # not PostgreSQL: every id is looked up on its own
            return set(ids)
        from psycopg.sql import SQL, Identifier

        statement = SQL(
            "SELECT DISTINCT originator_id FROM {schema}.{table} WHERE originator_id = ANY(%s)"
        ).format(schema=Identifier(datastore.schema), table=Identifier(self.recorder.events_table_name))
        as_text = datastore.originator_id_type == "text"
        with datastore.transaction(commit=False) as cursor:
            cursor.execute(statement, ([str(i) for i in ids] if as_text else ids,))
            return {uuid.UUID(str(row["originator_id"])) for row in cursor.fetchall()}

    def _accept(
        self,
        mailbox: Mailbox,
        folder: str,
        uidvalidity: int,
        uid: int,
        raw: bytes,
        pending: dict[uuid.UUID, object],
        blobs: list[bytes],
        source: str = "",
        parsed: ParsedMail | None = None,
        known: set[uuid.UUID] | None = None,
    ) -> tuple[str, uuid.UUID]:
        """One raw message into `pending` aggregates: ("received"|"seen"|"quarantined", id).

        The raw message and the attachments to store go to `blobs`; the caller stores them
        before it saves the aggregates."""
        raw_sha = hashlib.sha256(raw).hexdigest()
        blobs.append(raw)
        if len(raw) > self.max_message_bytes:
            reason = f"message too large: {len(raw)} bytes over the limit of {self.max_message_bytes}"
            qid = self._quarantine(mailbox, folder, uidvalidity, uid, raw, raw_sha, reason, source, pending)
            return "quarantined", qid
        try:
            return self._process(
                mailbox, folder, uidvalidity, uid, raw_sha, raw, pending, blobs, parsed, known
            )
        except Exception as exc:  # noqa: BLE001 - parse_mail should never raise; keep the mail if it does
            log.exception("processing failed; quarantined", extra={"uid": uid, "mailbox_id": str(mailbox.id)})
            reason = f"processing failed: {type(exc).__name__}: {exc}"[:500]
            qid = self._quarantine(mailbox, folder, uidvalidity, uid, raw, raw_sha, reason, source, pending)
            return "quarantined", qid

    def _process(
        self,
        mailbox: Mailbox,
        folder: str,
        uidvalidity: int,
        uid: int,
        raw_sha: str,
        raw: bytes,
        pending: dict[uuid.UUID, object],
        blobs: list[bytes],
        parsed: ParsedMail | None = None,
        known: set[uuid.UUID] | None = None,
    ) -> tuple[str, uuid.UUID]:
        parsed = parsed or parse_mail(raw)
        key = message_key(mailbox.tenant_id, parsed.message_id, content_hash(parsed))
        # `known`: the ids a batch query found stored; only those need reading (the others are new).
        existing = pending.get(key) or (self._find(key) if known is None or key in known else None)
        if isinstance(existing, Message):
            existing.seen_at(str(mailbox.id), mailbox.address, folder, uidvalidity, uid)
            pending[key] = existing
            return "seen", key
        payload = self._mail_received(mailbox, folder, uidvalidity, uid, parsed, key, blobs)
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
        return "received", key

    def _mail_received(
        self,
        mailbox: Mailbox,
        folder: str,
        uidvalidity: int,
        uid: int,
        parsed: ParsedMail,
        key: uuid.UUID,
        blobs: list[bytes],
    ) -> events_pb2.MailReceived:
        mail = to_mail_proto(parsed)
        cuts: list[str] = []
        # Attachments are stored once, content-addressed; one over the limit is recorded, not stored.
        for attachment, record in zip(parsed.attachments, mail.attachments, strict=True):
            if attachment.size > self.max_attachment_bytes:
                record.omitted_reason = (
                    f"over the {self.max_attachment_bytes}-byte attachment limit; in the raw message only"
                )
                cuts.append(
                    f"attachment {attachment.filename!r} ({attachment.size} bytes): {record.omitted_reason}"
                )
            else:
                record.sha256 = attachment.sha256
                blobs.append(attachment.payload)
        if len(mail.text) > MAX_EVENT_TEXT_CHARS:
            cuts.append(f"text cut at {MAX_EVENT_TEXT_CHARS} of {len(mail.text)} characters")
            mail.text = mail.text[:MAX_EVENT_TEXT_CHARS]
        if len(mail.html) > MAX_EVENT_HTML_CHARS:
            cuts.append(f"html cut at {MAX_EVENT_HTML_CHARS} of {len(mail.html)} characters")
            mail.html = mail.html[:MAX_EVENT_HTML_CHARS]
        mail.cuts.extend(cuts)
        payload = events_pb2.MailReceived(
            message_id=str(key),
            tenant_id=mailbox.tenant_id,
            mailbox_id=str(mailbox.id),
            mailbox_address=mailbox.address,
            folder=folder,
            uidvalidity=uidvalidity,
            uid=uid,
            mail=mail,
        )
        payload.received_at.FromDatetime(datetime.now(UTC))
        return payload

    def _quarantine(
        self,
        mailbox: Mailbox,
        folder: str,
        uidvalidity: int,
        uid: int,
        raw: bytes,
        raw_sha: str,
        reason: str,
        source: str,
        pending: dict[uuid.UUID, object],
    ) -> uuid.UUID:
        where = f"import:{source}" if source else f"{folder}:{uidvalidity}:{uid}"
        qid = uuid.uuid5(mailbox.id, f"quarantine:{where}")
        if qid in pending or self._find(qid) is not None:
            return qid
        pending[qid] = QuarantinedMail(
            tenant_id=mailbox.tenant_id,
            mailbox_id=str(mailbox.id),
            folder=folder,
            uidvalidity=uidvalidity,
            uid=uid,
            raw_sha256=raw_sha,
            reason=reason,
            source=source,
            raw_size=len(raw),
            id=qid,
        )
        index = self._quarantine_index(mailbox.tenant_id, pending)
        index.add(str(qid))
        pending[index.id] = index
        return qid

    def _quarantine_index(self, tenant_id: str, pending: dict[uuid.UUID, object]) -> QuarantineIndex:
        index_id = quarantine_index_id(tenant_id)
        found = pending.get(index_id) or self._find(index_id)
        if isinstance(found, QuarantineIndex):
            return found
        return QuarantineIndex(tenant_id=tenant_id, id=index_id)

    # -- import ------------------------------------------------------------------------------
    def receive_import(self, mailbox_id: str, items: list[tuple[str, bytes]]) -> BatchOutcome:
        """Messages read from files by `responer import`, each named by its identity (a path, or
        `path:N` in an mbox): the same pipeline as IMAP mail, and each identity is recorded with its
        outcome in the same save, so a second run skips what the first one stored."""
        return self._retrying(lambda: self._receive_import(mailbox_id, items))

    def _receive_import(self, mailbox_id: str, items: list[tuple[str, bytes]]) -> BatchOutcome:
        mailbox = self.mailbox(mailbox_id)
        pending: dict[uuid.UUID, object] = {}
        blobs: list[bytes] = []
        outcome = BatchOutcome()
        for identity, raw in items:
            raw_sha = hashlib.sha256(raw).hexdigest()
            source_id = imported_source_id(mailbox.id, f"{identity}:{raw_sha}")
            if source_id in pending or self._find(source_id) is not None:
                outcome.skipped += 1
                continue
            kind, ref = self._accept(mailbox, IMPORT_FOLDER, 0, 0, raw, pending, blobs, source=identity)
            setattr(outcome, kind, getattr(outcome, kind) + 1)
            pending[source_id] = ImportedSource(
                mailbox_id=str(mailbox.id),
                source=identity,
                raw_sha256=raw_sha,
                outcome=f"{kind}:{ref}",
                id=source_id,
            )
        self.blobs.put_many(blobs)
        self.save(*pending.values())
        return outcome

    # -- quarantine --------------------------------------------------------------------------
    def quarantined(
        self, tenant_id: str, mailbox_id: str = "", include_replayed: bool = False
    ) -> list[QuarantinedMail]:
        index = self._find(quarantine_index_id(tenant_id))
        if not isinstance(index, QuarantineIndex):
            return []
        items = [self.repository.get(uuid.UUID(qid)) for qid in index.items]
        return [
            q
            for q in items
            if (not mailbox_id or q.mailbox_id == mailbox_id) and (include_replayed or q.status != "replayed")
        ]

    def all_tenants_with_quarantine(self) -> list[str]:
        return sorted({tid for tid in (self._directory() or MailboxDirectory()).mailboxes.values()})

    def replay(
        self, tenant_id: str, quarantine_ids: Iterable[str] = (), all_: bool = False
    ) -> list[QuarantinedMail]:
        """Runs quarantined mail through the pipeline again (after a fix or a raised limit).

        The raw bytes come from the blob store; a message that now parses becomes a message like any
        other (or is found to be one already), and the quarantine record says so. Mail that fails
        again stays quarantined with the new reason.
        """
        if all_:
            targets = [q for q in self.quarantined(tenant_id) if q.status != "replayed"]
        else:
            targets = []
            for qid in quarantine_ids:
                found = self._find(uuid.UUID(qid))
                if not isinstance(found, QuarantinedMail) or found.tenant_id != tenant_id:
                    raise LookupError(f"no quarantined mail {qid}")
                targets.append(found)
        done = []
        for q in targets:
            done.append(self._retrying(lambda q=q: self._replay_one(q.id)))
        return done

    def _replay_one(self, quarantine_id: uuid.UUID) -> QuarantinedMail:
        q: QuarantinedMail = self.repository.get(quarantine_id)
        if q.status == "replayed":
            return q
        raw = self.blobs.get(q.raw_sha256)
        if raw is None:
            q.failed_again(f"raw message {q.raw_sha256} is missing from the blob store")
            self.save(q)
            return q
        mailbox = self.mailbox(q.mailbox_id)
        folder, uidvalidity, uid = q.location
        if len(raw) > self.max_message_bytes:
            q.failed_again(f"message too large: {len(raw)} bytes over the limit of {self.max_message_bytes}")
            self.save(q)
            return q
        pending: dict[uuid.UUID, object] = {}
        blobs: list[bytes] = []
        try:
            _, key = self._process(mailbox, folder, uidvalidity, uid, q.raw_sha256, raw, pending, blobs)
        except Exception as exc:  # noqa: BLE001 - stays quarantined, with the new reason
            log.warning("replay failed again", extra={"quarantine_id": str(q.id), "error": repr(exc)[:300]})
            q.failed_again(f"processing failed: {type(exc).__name__}: {exc}"[:500])
            self.save(q)
            return q
        q.replayed(str(key))
        self.blobs.put_many(blobs)
        self.save(q, *pending.values())
        return q
