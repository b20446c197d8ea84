from __future__ import annotations

from typing import Literal

from pydantic import SecretStr
from responer_runtime.settings import RuntimeSettings


class Settings(RuntimeSettings):
    # Fernet key that encrypts mailbox credentials at rest. Required: no default.
    secret_key: SecretStr
    # IDLE is re-issued before servers drop it (RFC 2177 asks clients to re-issue within 29 minutes).
    idle_timeout: float = 600.0
    # Polling interval when the server has no IDLE (and of a mailbox's other folders), and how often
    # the mailbox list is re-read.
    poll_interval: float = 15.0
    fetch_batch: int = 100
    imap_timeout: float = 30.0
    # PEM file of a private CA to trust for IMAP TLS/STARTTLS besides the system's (company CAs).
    imap_ca_file: str = ""
    # A message over this is quarantined (raw kept) instead of parsed; replay it after raising the limit.
    max_message_bytes: int = 50 * 1024 * 1024
    # An attachment over this is recorded (name, size, reason) but not stored on its own.
    max_attachment_bytes: int = 25 * 1024 * 1024
    # Reconnect backoff: doubles from 1 s up to this, with full jitter.
    max_backoff: float = 60.0
    # Where raw mail and attachments go: postgres (ingest.blobs), filesystem (blob_dir) or s3.
    blob_store: Literal["postgres", "filesystem", "s3"] = "postgres"
    blob_dir: str = ""
    s3_endpoint: str = ""
    s3_bucket: str = ""
    s3_region: str = "us-east-1"
    s3_prefix: str = "blobs/"
    s3_access_key: SecretStr = SecretStr("")
    s3_secret_key: SecretStr = SecretStr("")
    oauth_timeout: float = 15.0
