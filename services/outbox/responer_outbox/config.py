"""Settings of the outbox service (environment, prefix RESPONER_)."""

from __future__ import annotations

from pydantic import Field
from responer_runtime.settings import RuntimeSettings


class Settings(RuntimeSettings):
    # The default relay: used for mailboxes that were connected without an SMTP host of their own.
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_timeout_s: float = Field(20.0, gt=0)
    # Right-hand side of the Message-IDs we generate: <{reply uuid}@{mail_domain}>.
    mail_domain: str = "responer.local"
    # Temporary SMTP failures (4xx, refused connections, timeouts) are retried with exponential
    # back-off; after send_max_attempts attempts the reply is marked failed (permanent=False).
    send_max_attempts: int = Field(5, ge=1)
    send_retry_initial_s: float = Field(2.0, ge=0)
    send_retry_max_s: float = Field(60.0, ge=0)
