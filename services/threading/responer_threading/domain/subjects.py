"""Subject normalisation for the guarded subject fallback, and thread tags such as `[#104233]`."""

from __future__ import annotations

import re

# Reply/forward prefixes in the languages our customers write in (en, pl, de, nordic, fr, es, it), and
# the prefixes automatic replies put before the subject they answer ("Automatic reply: Re: Order 12"):
# an out-of-office that dropped the headers is still a reply to that conversation.
_PREFIX = re.compile(
    r"^\s*(re|fw|fwd|odp|pd|aw|wg|sv|vs|tr|rv|enc|antw|ynt|r"
    r"|auto|autoreply|auto-reply|automatic reply|automatische antwort|abwesenheitsnotiz|autosvar"
    r"|out of office(?: autoreply)?|odpowied[zź] automatyczna|automatyczna odpowied[zź]|r[ée]ponse automatique"
    r"|respuesta autom[aá]tica|risposta automatica)"
    r"\s*(\[\d+\]|\(\d+\))?\s*:\s*",
    re.IGNORECASE,
)
_TAG = re.compile(r"\[#(\d{1,12})\]")
_LIST_TAG = re.compile(r"^\s*\[[^\]#]{1,40}\]\s*")
_SPACE = re.compile(r"\s+")


def thread_tag(subject: str) -> int | None:
    match = _TAG.search(subject)
    return int(match.group(1)) if match else None


def has_reply_prefix(subject: str) -> bool:
    return bool(_PREFIX.match(_LIST_TAG.sub("", _TAG.sub(" ", subject))))


def normalise_subject(subject: str) -> str:
    """Lower-cased subject without reply prefixes, thread tags, list tags and extra whitespace."""
    text = _TAG.sub(" ", subject)
    while True:
        stripped = _PREFIX.sub("", _LIST_TAG.sub("", text), count=1)
        if stripped == text:
            break
        text = stripped
    return _SPACE.sub(" ", text).strip().casefold()
