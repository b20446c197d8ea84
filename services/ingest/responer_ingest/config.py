from __future__ import annotations

from pydantic import SecretStr
from responer_runtime.settings import RuntimeSettings


class Settings(RuntimeSettings):
    # Fernet key that encrypts mailbox credentials at rest. Required: no default.
    secret_key: SecretStr
    # IDLE is re-issued before servers drop it (RFC 2177 asks clients to re-issue within 29 minutes).
    idle_timeout: float = 600.0
    # Polling interval when the server has no IDLE, and how often the mailbox list is re-read.
    poll_interval: float = 15.0
    fetch_batch: int = 100
    imap_timeout: float = 30.0
    max_message_bytes: int = 50 * 1024 * 1024
