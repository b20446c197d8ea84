"""What the sorting filters read: routing's own view of a message (not ingest's ParsedMail)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class IncomingMail:
    headers: tuple[tuple[str, str], ...]
    part_types: tuple[str, ...] = ()
    from_email: str = ""
    from_name: str = ""
    subject: str = ""
    text: str = ""
    message_id: str = ""
    # (content type, text) of machine-readable report parts: message/delivery-status,
    # message/feedback-report, text/rfc822-headers.
    report_parts: tuple[tuple[str, str], ...] = ()
    # The HTML body, if any: machine templates (role="presentation" tables, tracking pixels) show there.
    html: str = ""

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        for key, value in self.headers:
            if key.lower() == wanted:
                return value
        return None

    def has_header(self, name: str) -> bool:
        return self.header(name) is not None

    def report(self, *content_types: str) -> str | None:
        for ctype, text in self.report_parts:
            if ctype in content_types:
                return text
        return None


@dataclass(frozen=True, slots=True)
class SortingPolicy:
    """Per-mailbox knowledge the filters need to recognise our own mail."""

    own_addresses: frozenset[str] = field(default_factory=frozenset)
    own_message_id_domains: frozenset[str] = field(default_factory=frozenset)
    # The value our outgoing mail carries in X-Loop.
    loop_markers: frozenset[str] = field(default_factory=frozenset)
