"""Small shared readings of a message that several filters use."""

from __future__ import annotations

import re

from responer_routing.domain.system_mail.facts import IncomingMail

# A reply or forward prefix: the sender is a person quoting system mail, not the system itself.
REPLY_PREFIX = re.compile(r"^\s*(re|fw|fwd|aw|wg|odp|pd|sv|vs|tr|rv|enc)\s*(\[\d+\])?\s*:", re.IGNORECASE)
_PARAM = re.compile(r';\s*([\w-]+)\s*=\s*"?([^";]*)"?')


def content_type_param(mail: IncomingMail, name: str) -> str:
    value = mail.header("Content-Type") or ""
    for key, param in _PARAM.findall(value):
        if key.lower() == name:
            return param.strip().lower()
    return ""


def top_content_type(mail: IncomingMail) -> str:
    if mail.part_types:
        return mail.part_types[0]
    return (mail.header("Content-Type") or "text/plain").split(";", 1)[0].strip().lower()


def local_part(address: str) -> str:
    return address.rpartition("@")[0].lower() if "@" in address else address.lower()


def is_reply_or_forward(subject: str) -> bool:
    return bool(REPLY_PREFIX.match(subject))


def return_path_is_empty(mail: IncomingMail) -> bool:
    value = mail.header("Return-Path")
    return value is not None and value.strip() in ("<>", "")


# Where the quoted earlier message starts in a reply: "> " lines or an attribution line.
_QUOTE_START = re.compile(
    r"^\s*>|^.{0,120}\b(wrote|napisa[łl]\(a\)|napisa[łl]a?|schrieb|a écrit)\s*:\s*$|"
    r"^-{2,}\s*(original message|oryginalna wiadomo|wiadomo[sś][cć] oryginalna|forwarded message)|^(from|od):\s",
    re.I | re.M,
)


def own_words(text: str) -> str:
    """The sender's own text: everything before the quoted message, if there is one."""
    match = _QUOTE_START.search(text)
    return text[: match.start()] if match else text


def in_reply_chain(mail: IncomingMail) -> bool:
    """A reply by its headers and its subject: someone answering a message, not a fresh broadcast."""
    threaded = mail.has_header("In-Reply-To") or mail.has_header("References")
    return threaded and is_reply_or_forward(mail.subject)


_SECOND_LEVEL = frozenset({"co", "com", "net", "org", "gov", "edu", "ac", "or", "ne"})


def _site(address: str) -> str:
    labels = address.rpartition("@")[2].lower().split(".")
    keep = 3 if len(labels) >= 3 and labels[-2] in _SECOND_LEVEL else 2
    return ".".join(labels[-keep:])


def relays_a_person(mail: IncomingMail, no_reply: re.Pattern[str] | None = None) -> str | None:
    """A contact form or marketplace sends from its own (often no-reply) address with the person who
    wrote in Reply-To, on another site: that is a customer's message, whatever the sender looks like."""
    for address in re.findall(r"[\w.+'=-]+@[\w-]+(?:\.[\w-]+)+", mail.header("Reply-To") or ""):
        if _site(address) != _site(mail.from_email) and not (
            no_reply and no_reply.search(local_part(address))
        ):
            return address.lower()
    return None
