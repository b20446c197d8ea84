"""What ingest itself would decide about a message, for the dry-run report: whether it would be
quarantined (and why), what size limits would cut, and what parsing learnt beyond the headers.

Field names follow ingest: `quarantine_reason` as in QuarantinedMail.reason, `cuts` as in Mail.cuts,
`charset_repairs`/`parse_defects` as in ParsedMail (already in the report line)."""

from __future__ import annotations

from typing import Any

from responer_ingest.config import Settings
from responer_ingest.domain import ParsedMail

MAX_MESSAGE_BYTES: int = Settings.model_fields["max_message_bytes"].default
MAX_ATTACHMENT_BYTES: int = Settings.model_fields["max_attachment_bytes"].default


def too_large(raw: bytes) -> str | None:
    if len(raw) > MAX_MESSAGE_BYTES:
        return f"message too large: {len(raw)} bytes over the limit of {MAX_MESSAGE_BYTES}"
    return None


def processing_failed(exc: BaseException) -> str:
    return f"processing failed: {type(exc).__name__}: {exc}"[:500]


def learnings(mail: ParsedMail) -> dict[str, Any]:
    cuts = [
        f"attachment {a.filename!r} ({a.size} bytes): over the {MAX_ATTACHMENT_BYTES}-byte attachment limit"
        for a in mail.attachments
        if a.size > MAX_ATTACHMENT_BYTES
    ]
    return {
        "quarantine_reason": None,
        "cuts": cuts,
        "signed": bool(getattr(mail, "signed", False)),
        "encrypted": bool(getattr(mail, "encrypted", False)),
        "attached_messages": len(getattr(mail, "attached_messages", ())),
    }
