"""Builds the RFC 5322 message of a reply, and validates everything that ends up in a header.

Header injection is the risk here: a subject or an address with a line break would let the caller
write headers of their own (`Bcc:`) or end the header block early. Every value that becomes a header
is checked before any message is built, and rejected with a clear reason, never silently cleaned.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime


class InvalidReply(ValueError):
    """The reply cannot be sent as given (the message names the field and the reason)."""


# C0 controls, DEL, and the Unicode characters str.splitlines() treats as line breaks: the email
# package splits on those too, so each of them could start a new header line.
_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")
_LINE_BREAK = re.compile(r"[\r\n\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
# An ASCII addr-spec: dot-atom local part and a host name. Quoted local parts and SMTPUTF8
# addresses are refused for now; they are rare in support mail and easy to get wrong.
_LOCAL = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_ADDR_SPEC = re.compile(rf"^{_LOCAL}@{_LABEL}(?:\.{_LABEL})*$")
_MSG_ID = re.compile(r"^[\x21-\x3b\x3d\x3f-\x7e]+$")  # visible ASCII without < and >

MAX_SUBJECT = 998 - len("Subject: ")


def check_header_text(value: str, field_name: str) -> str:
    if _LINE_BREAK.search(value):
        raise InvalidReply(f"{field_name} must not contain CR or LF (line breaks would create headers)")
    if _FORBIDDEN.search(value.replace("\t", " ")):
        raise InvalidReply(f"{field_name} must not contain control characters")
    return value


def parse_address(value: str, field_name: str) -> Address:
    """One mailbox, `user@example.com` or `Name <user@example.com>`; anything else is refused."""
    check_header_text(value, field_name)
    if not value.strip():
        raise InvalidReply(f"{field_name}: empty address")
    try:
        header = policy.default.header_factory("To", value)
        addresses = header.addresses  # type: ignore[attr-defined]
    except Exception as exc:  # noqa: BLE001 - the email parser's errors are all "invalid"
        raise InvalidReply(f"{field_name}: not a valid address: {value!r}") from exc
    if header.defects:  # type: ignore[attr-defined]
        raise InvalidReply(f"{field_name}: not a valid address: {value!r}")
    if len(addresses) != 1:
        raise InvalidReply(f"{field_name}: exactly one address per entry, got {value!r}")
    address = addresses[0]
    if not _ADDR_SPEC.match(address.addr_spec or ""):
        raise InvalidReply(f"{field_name}: not a valid address: {value!r}")
    return Address(display_name=address.display_name, addr_spec=address.addr_spec)


def format_address(address: Address) -> str:
    return str(address)


def clean_message_id(value: str, field_name: str) -> str:
    """A Message-ID without its angle brackets; `<id>` is accepted and unwrapped."""
    value = value.strip()
    if value.startswith("<") and value.endswith(">"):
        value = value[1:-1]
    if not value or not _MSG_ID.match(value):
        raise InvalidReply(f"{field_name}: not a valid Message-ID: {value!r}")
    return value


def thread_references(references: list[str], in_reply_to: str) -> list[str]:
    """References of the reply: the given chain plus the message answered, each id once, order kept."""
    chain = [*references, in_reply_to] if in_reply_to else list(references)
    return list(dict.fromkeys(ref for ref in chain if ref))


def tag_subject(subject: str, thread_number: int) -> str:
    """Keeps the caller's subject and makes sure the thread tag `[#N]` is in it exactly once.

    The tag is how threading recognises answers to our replies even when a mail client drops
    In-Reply-To/References, so it is appended when missing and repeats are collapsed.
    """
    subject = subject.strip()
    if thread_number <= 0:
        return subject
    tag = f"[#{thread_number}]"
    first = subject.find(tag)
    if first < 0:
        return f"{subject} {tag}" if subject else tag
    end = first + len(tag)
    rest = subject[end:].replace(tag, "")
    return re.sub(r"[ \t]{2,}", " ", subject[:end] + rest).strip()


@dataclass(frozen=True)
class OutgoingMail:
    """Everything that goes into the message; built from a queued reply."""

    message_id: str  # without <>
    from_address: str
    to: list[str]
    subject: str
    body_text: str
    cc: list[str] = field(default_factory=list)
    in_reply_to: str = ""
    references: list[str] = field(default_factory=list)  # already including in_reply_to

    @property
    def recipients(self) -> list[str]:
        addrs = [parse_address(a, "to").addr_spec for a in self.to]
        addrs += [parse_address(a, "cc").addr_spec for a in self.cc]
        return list(dict.fromkeys(addrs))

    @property
    def envelope_sender(self) -> str:
        return parse_address(self.from_address, "from").addr_spec


def build_message(mail: OutgoingMail, date: datetime) -> EmailMessage:
    """The message as it goes out: utf-8 text body, threading headers, no Auto-Submitted.

    Only the body text is used: notes and anything else about the conversation never reach it.
    """
    check_header_text(mail.subject, "subject")
    if len(mail.subject) > MAX_SUBJECT:
        raise InvalidReply("subject is too long")
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = parse_address(mail.from_address, "from")
    msg["To"] = [parse_address(a, "to") for a in mail.to]
    if mail.cc:
        msg["Cc"] = [parse_address(a, "cc") for a in mail.cc]
    msg["Subject"] = mail.subject
    msg["Date"] = format_datetime(date)
    msg["Message-ID"] = f"<{clean_message_id(mail.message_id, 'message_id')}>"
    if mail.in_reply_to:
        msg["In-Reply-To"] = f"<{clean_message_id(mail.in_reply_to, 'in_reply_to')}>"
    if mail.references:
        msg["References"] = " ".join(f"<{clean_message_id(r, 'references')}>" for r in mail.references)
    body = mail.body_text.replace("\r\n", "\n").replace("\r", "\n")
    if not body.endswith("\n"):
        body += "\n"
    # quoted-printable keeps the body 7-bit: no relay needs 8BITMIME to pass Polish text on.
    msg.set_content(body, subtype="plain", charset="utf-8", cte="quoted-printable")
    return msg


def message_bytes(msg: EmailMessage) -> bytes:
    return msg.as_bytes(policy=policy.SMTP)
