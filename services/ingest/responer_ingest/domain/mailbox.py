"""A connected mailbox and the sync position of each of its folders."""

from __future__ import annotations

import uuid

from eventsourcing.domain import Aggregate, event

TLS_MODES = ("tls", "starttls", "plain")
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")


class InvalidMailbox(ValueError):
    pass


def mailbox_id_for(tenant_id: str, address: str) -> uuid.UUID:
    return uuid.uuid5(uuid.UUID(tenant_id), f"mailbox:{address.lower()}")


def validate_connection(host: str, port: int, tls_mode: str) -> None:
    if tls_mode not in TLS_MODES:
        raise InvalidMailbox(f"tls_mode must be one of {', '.join(TLS_MODES)}, not {tls_mode!r}")
    if not host:
        raise InvalidMailbox("imap_host is required")
    if not 0 < port < 65536:
        raise InvalidMailbox(f"imap_port {port} is out of range")
    # Credentials in clear text may only cross the loopback interface.
    if tls_mode == "plain" and host not in LOCAL_HOSTS and not host.startswith("127."):
        raise InvalidMailbox("tls_mode 'plain' is only allowed for a mailbox on localhost")


class Mailbox(Aggregate):
    @event("Registered")
    def __init__(
        self,
        tenant_id: str,
        name: str,
        address: str,
        imap_host: str,
        imap_port: int,
        tls_mode: str,
        username: str,
        secret: bytes,
        folders: list[str],
        smtp_host: str,
        smtp_port: int,
        smtp_tls_mode: str,
        id: uuid.UUID,  # noqa: A002 - eventsourcing takes the aggregate id by this name
    ) -> None:
        self.tenant_id = tenant_id
        self.name = name
        self.address = address
        self.imap_host = imap_host
        self.imap_port = imap_port
        self.tls_mode = tls_mode
        self.username = username
        self.secret = secret  # ciphertext; the application holds the key
        self.folders = folders
        self.smtp_host = smtp_host
        self.smtp_port = smtp_port
        self.smtp_tls_mode = smtp_tls_mode
        self.positions: dict[str, tuple[int, int]] = {}  # folder -> (uidvalidity, last uid)
        self.messages_received = 0

    def position(self, folder: str, uidvalidity: int) -> int:
        """Last stored UID of the folder, or 0 when its UIDVALIDITY changed (everything re-read)."""
        known = self.positions.get(folder)
        if known is None or known[0] != uidvalidity:
            return 0
        return known[1]

    @event("PositionAdvanced")
    def advance(self, folder: str, uidvalidity: int, last_uid: int, received: int) -> None:
        self.positions[folder] = (uidvalidity, last_uid)
        self.messages_received += received


class MailboxDirectory(Aggregate):
    """Which mailboxes exist, so every sync replica can find them by one deterministic id."""

    ID = uuid.UUID("0b5a8d52-6c55-4a3f-9b0e-51a1b8a2c0de")

    @staticmethod
    def create_id() -> uuid.UUID:
        return MailboxDirectory.ID

    @event("Created")
    def __init__(self) -> None:
        self.mailboxes: dict[str, str] = {}  # mailbox id -> tenant id

    @event("MailboxAdded")
    def add(self, mailbox_id: str, tenant_id: str) -> None:
        self.mailboxes[mailbox_id] = tenant_id
