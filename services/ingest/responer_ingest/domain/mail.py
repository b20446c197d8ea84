"""The parsed form of one message: immutable facts that later stages (threading, sorting) read."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

Address = tuple[str, str]  # (display name, lower-cased email)


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    content_type: str
    size: int
    sha256: str
    inline: bool
    content_id: str
    payload: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class AttachedMessage:
    """A message carried inside another (a forward as attachment, the original in a bounce)."""

    message_id: str
    subject: str
    from_name: str
    from_email: str
    date: datetime | None
    text: str
    attachment_names: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ParsedMail:
    message_id: str
    message_id_derived: bool
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    subject: str
    from_name: str
    from_email: str
    to: tuple[Address, ...]
    cc: tuple[Address, ...]
    reply_to: tuple[Address, ...]
    date: datetime | None
    text: str
    html: str
    attachments: tuple[Attachment, ...]
    headers: tuple[tuple[str, str], ...]
    part_types: tuple[str, ...]
    parse_defects: tuple[str, ...]
    raw_sha256: str
    raw_size: int
    quoted_message_ids: tuple[str, ...]
    charset_repairs: tuple[str, ...]
    # Text of machine-readable report parts (message/delivery-status, message/feedback-report, ...)
    # as (content type, text): what bounce and feedback classification reads.
    report_parts: tuple[tuple[str, str], ...] = ()
    # Messages attached as message/rfc822 (outermost first), each with its own subject and sender.
    attached_messages: tuple[AttachedMessage, ...] = ()
    # S/MIME or PGP: a signature was present (not verified) / the content is encrypted and unreadable.
    signed: bool = False
    encrypted: bool = False

    def header(self, name: str) -> str | None:
        """The first top-level header called `name` (case-insensitive), decoded, or None."""
        wanted = name.lower()
        for key, value in self.headers:
            if key.lower() == wanted:
                return value
        return None

    def header_all(self, name: str) -> tuple[str, ...]:
        wanted = name.lower()
        return tuple(value for key, value in self.headers if key.lower() == wanted)
