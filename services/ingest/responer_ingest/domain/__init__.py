"""The pure mail domain of ingest: turning raw RFC 5322 bytes into a `ParsedMail` (stdlib only)."""

from responer_ingest.domain.mail import Attachment, ParsedMail
from responer_ingest.domain.parsing import parse_mail

__all__ = ["Attachment", "ParsedMail", "parse_mail"]
