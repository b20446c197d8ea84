"""Commands the outbox accepts (they arrive over gRPC)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class QueueReply:
    tenant_id: str
    reply_id: str  # the client's idempotency key
    thread_id: str
    thread_number: int
    mailbox_id: str
    to: list[str]
    subject: str
    body_text: str
    cc: list[str] = field(default_factory=list)
    in_reply_to: str = ""
    references: list[str] = field(default_factory=list)
    author_user_id: str = ""


@dataclass(frozen=True)
class ConnectMailbox:
    tenant_id: str
    mailbox_id: str
    name: str
    address: str
    smtp_host: str
    smtp_port: int
    smtp_tls_mode: str
