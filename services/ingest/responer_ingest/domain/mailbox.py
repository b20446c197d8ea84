"""A connected mailbox: its settings, its login (secrets only as ciphertext), status, and the sync
position of each of its folders."""

from __future__ import annotations

import uuid

from eventsourcing.domain import Aggregate, event

TLS_MODES = ("tls", "starttls", "plain")
AUTH_METHODS = ("password", "xoauth2", "oauthbearer")
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")
STATUSES = ("active", "paused", "removed")

# OAuth2 providers as data: what a mailbox of that provider needs besides its client id and tokens.
OAUTH_PROVIDERS: dict[str, dict[str, str]] = {
    "microsoft": {
        "token_endpoint": "https://login.microsoftonline.com/common/oauth2/v2.0/token",
        "scope": "https://outlook.office.com/IMAP.AccessAsUser.All offline_access",
        "imap_host": "outlook.office365.com",
    },
    "google": {
        "token_endpoint": "https://oauth2.googleapis.com/token",
        "scope": "https://mail.google.com/",
        "imap_host": "imap.gmail.com",
    },
}


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


def validate_folders(folders: list[str]) -> None:
    if not folders:
        raise InvalidMailbox("at least one folder is required")
    for folder in folders:
        if not folder.strip() or any(c in folder for c in "\r\n\x00"):
            raise InvalidMailbox(f"folder name {folder!r} is not valid")
    if len(set(folders)) != len(folders):
        raise InvalidMailbox("a folder is listed twice")


class Mailbox(Aggregate):
    # Mailboxes registered before logins and statuses existed used a password and were active.
    auth_method = "password"
    oauth_provider = ""
    token_endpoint = ""
    client_id = ""
    scope = ""
    status = "active"
    messages_quarantined = 0

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
        # Ciphertext; the application holds the key. A password, or for OAuth a JSON document with
        # the client secret and the refresh token.
        self.secret = secret
        self.folders = folders
        self.smtp_host = smtp_host
        self.smtp_port = smtp_port
        self.smtp_tls_mode = smtp_tls_mode
        self.positions: dict[str, tuple[int, int]] = {}  # folder -> (uidvalidity, last uid)
        self.messages_received = 0

    @property
    def active(self) -> bool:
        return self.status == "active"

    def position(self, folder: str, uidvalidity: int) -> int:
        """Last stored UID of the folder, or 0 when its UIDVALIDITY changed (everything re-read)."""
        known = self.positions.get(folder)
        if known is None or known[0] != uidvalidity:
            return 0
        return known[1]

    @event("PositionAdvanced")
    def advance(
        self, folder: str, uidvalidity: int, last_uid: int, received: int, quarantined: int = 0
    ) -> None:
        self.positions[folder] = (uidvalidity, last_uid)
        self.messages_received += received
        self.messages_quarantined += quarantined

    @event("LoginSet")
    def set_login(
        self,
        auth_method: str,
        username: str,
        secret: bytes,
        oauth_provider: str,
        token_endpoint: str,
        client_id: str,
        scope: str,
    ) -> None:
        self.auth_method = auth_method
        self.username = username
        self.secret = secret
        self.oauth_provider = oauth_provider
        self.token_endpoint = token_endpoint
        self.client_id = client_id
        self.scope = scope

    @event("SecretRotated")
    def rotate_secret(self, secret: bytes) -> None:
        """The provider issued a new refresh token (rotation); only the ciphertext is recorded."""
        self.secret = secret

    def change_settings(
        self,
        name: str,
        imap_host: str,
        imap_port: int,
        tls_mode: str,
        folders: list[str],
        smtp_host: str,
        smtp_port: int,
        smtp_tls_mode: str,
    ) -> None:
        self._settings_changed(
            name,
            imap_host,
            imap_port,
            tls_mode,
            folders,
            smtp_host,
            smtp_port,
            smtp_tls_mode,
            self.tenant_id,
            self.address,
            self.status,
        )

    # Events that change what others know of a mailbox carry its tenant and address, so the relay
    # can publish MailboxChanged from the event alone.
    @event("SettingsChanged")
    def _settings_changed(
        self,
        name: str,
        imap_host: str,
        imap_port: int,
        tls_mode: str,
        folders: list[str],
        smtp_host: str,
        smtp_port: int,
        smtp_tls_mode: str,
        tenant_id: str,
        address: str,
        status: str,
    ) -> None:
        self.name = name
        self.imap_host = imap_host
        self.imap_port = imap_port
        self.tls_mode = tls_mode
        self.folders = folders
        self.smtp_host = smtp_host
        self.smtp_port = smtp_port
        self.smtp_tls_mode = smtp_tls_mode

    def pause(self) -> None:
        self._status_changed("paused", self.tenant_id, self.address, self.name)

    def resume(self) -> None:
        self._status_changed("active", self.tenant_id, self.address, self.name)

    def remove(self) -> None:
        """Sync stops and the credentials are forgotten; positions stay, so reconnecting resumes."""
        self._status_changed("removed", self.tenant_id, self.address, self.name)

    @event("StatusChanged")
    def _status_changed(self, status: str, tenant_id: str, address: str, name: str) -> None:
        self.status = status
        if status == "removed":
            self.secret = b""


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

    @event("MailboxRemoved")
    def discard(self, mailbox_id: str) -> None:
        self.mailboxes.pop(mailbox_id, None)
