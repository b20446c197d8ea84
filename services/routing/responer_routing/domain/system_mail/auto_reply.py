"""Automatic replies (RFC 3834 and the vendor headers that predate it), and out-of-office subjects."""

from __future__ import annotations

import re

from responer_routing.domain.system_mail.evidence import is_reply_or_forward, own_words, relays_a_person
from responer_routing.domain.system_mail.facts import IncomingMail, SortingPolicy
from responer_routing.domain.system_mail.verdict import Verdict

# Anchored at the start: auto-replies lead with the phrase ("Automatic reply: <subject>"), while a
# customer asking about "out of office hours support" does not.
_OUT_OF_OFFICE = re.compile(
    r"^\s*(i am |i'm |jestem )?(out of (the )?office|automatic reply|auto(matic)?[ -]?(reply|response)|autoreply|autoresponder|"
    r"vacation (reply|message|notice)|away from (my|the) (office|desk)|i am away|"
    r"abwesenheitsnotiz|automatische antwort|réponse automatique|"
    r"odpowied[zź] automatyczna|automatyczna odpowied[zź]|autoodpowied[zź]|nieobecno[sś][cć]( w (biurze|pracy))?|"
    r"poza biurem|jestem na urlopie)"
    # ...and the phrase ends the subject or is followed by a separator or a date range.
    r"(?=\s*($|[:\-–(,.!\[]|until|till|from|auto|w dniach|do\b|od\b|re\b))",
    re.I,
)


_LEADING_TAGS = re.compile(r"^\s*(\[[^\]]*\]\s*)+")

# An autoresponder without headers says only in words what it is. It takes all three: a first-person
# absence with a return date, a deferral or redirect ("I will reply when I return", "limited access
# to e-mail", "in urgent matters"), and no question. A customer writing "I am on vacation, please
# deliver later" states an absence but defers nothing, and asks.
_ABSENCE = re.compile(
    r"\b(i am|i'm|i will be|i'll be|i shall be)\s+(currently\s+|now\s+)?"
    r"(out of (the )?office|on (annual |parental |maternity |paternity |sick )?(holidays?|vacation|leave)|"
    r"away( from (the|my) (office|desk))?|absent|not in the office|out of the country)|"
    r"\b(jestem|będę|przebywam)\s+(obecnie\s+|teraz\s+|aktualnie\s+)?"
    r"(na urlopie|poza biurem|nieobecn[aey]|na zwolnieniu( lekarskim)?|w delegacji|w podróży służbowej|poza firmą)",
    re.I,
)
_RETURN_DATE = re.compile(
    r"\b(until|till|through|back (on|in|at)|return(ing)? (on|in)|returning|from|do|od|dnia|wracam|wrócę)\b"
    r"[^.\n]{0,25}?(\d{1,2}[./-]\d{1,2}|\d{1,2}(st|nd|rd|th)?\s+[a-zA-Zęóąśłżźćń]{3,}|"
    r"(mon|tues|wednes|thurs|fri|satur|sun)day|poniedziałk|wtork|środ|czwart|piąt|sobot|niedziel|"
    r"(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\s+\d{1,2})",
    re.I,
)
_DEFERRAL = re.compile(
    r"limited (access to (my )?e-?mails?|e-?mail access)|no access to (my )?e-?mails?|"
    r"\b(will|shall|'ll) (reply|respond|answer|get back to you|be in touch|read)|"
    r"\b(upon|on|after) my return|when i (return|am back|get back)|"
    r"\b(in|for) (urgent|pressing) (matters|cases|issues|enquiries|inquiries)|for anything urgent|"
    r"ograniczony dost[eę]p|(nie mam|brak) dost[eę]pu do (poczty|e-?maila)|odpowiem|odpiszę|"
    r"\bif (it is|it's|your (matter|enquiry|inquiry|query|request) is) urgent|"
    r"po (moim )?powrocie|w (pilnych|pilnej|nagłych|nagłej) (sprawach|sprawie)|w sprawach (pilnych|nagłych)",
    re.I,
)


_MACHINE_WORDS = re.compile(
    r"automatic|auto[ -]?(reply|response)|autoreply|autoresponder|automatische|automatique|automatyczn|"
    r"autoodpowied|abwesenheitsnotiz|vacation (reply|message|notice)",
    re.I,
)


def _states_without_asking(mail: IncomingMail) -> bool:
    words = own_words(mail.text)
    return len(words) <= 1500 and "?" not in words


def _absence_notice(mail: IncomingMail) -> str | None:
    words = " ".join(own_words(mail.text).split())  # wrapped lines: "W pilnych\nsprawach"
    if len(words) > 1200 or "?" in words:
        return None
    absence = _ABSENCE.search(words)
    if absence is None or _DEFERRAL.search(words) is None:
        return None
    # The date may come first: "Do 15.01 jestem na urlopie."
    if _RETURN_DATE.search(words[max(0, absence.start() - 60) : absence.end() + 120]) is None:
        return None
    return absence.group(0)


def detect_auto_reply(mail: IncomingMail, policy: SortingPolicy) -> Verdict | None:
    submitted = (mail.header("Auto-Submitted") or "").strip().lower()
    if submitted and not submitted.startswith("no"):
        if submitted.startswith("auto-generated") or submitted.startswith("auto-notified"):
            if relays_a_person(mail):
                return None  # a contact form passing on a person's words (Reply-To on another site)
            # Generated, not a response (RFC 3834 §5): a notification unless it reads as a reply.
            if _OUT_OF_OFFICE.search(mail.subject):
                return Verdict.system_mail(
                    "auto_reply", f"Auto-Submitted: {submitted}; subject {mail.subject!r}"
                )
            return Verdict.system_mail("notification", f"Auto-Submitted: {submitted}")
        return Verdict.system_mail("auto_reply", f"Auto-Submitted: {submitted}")
    for name in ("X-Autoreply", "X-Autorespond", "X-Auto-Response-Suppress", "X-Autogenerated"):
        value = mail.header(name)
        if value is not None and value.strip().lower() not in ("", "no", "false", "none"):
            if name == "X-Auto-Response-Suppress" and not _OUT_OF_OFFICE.search(mail.subject):
                # Outlook also sets it on calendar and some ordinary mail; alone it is not enough.
                continue
            return Verdict.system_mail("auto_reply", f"{name}: {value.strip()}")
    # Helpdesks put their ticket tag first: "[support #33575] AutoReply: ..." (RT).
    subject = _LEADING_TAGS.sub("", mail.subject)
    precedence = (mail.header("Precedence") or "").strip().lower()
    if precedence == "auto_reply":
        return Verdict.system_mail("auto_reply", "Precedence: auto_reply")
    matched = _OUT_OF_OFFICE.search(subject)
    if matched and not is_reply_or_forward(subject):
        # "Automatic reply" is a machine's word; "Nieobecność – dostawa" or "Out of office" could be
        # a person's subject, so those also need a text that asks nothing and is short.
        if _MACHINE_WORDS.search(matched.group(0)) or _states_without_asking(mail):
            return Verdict.system_mail("auto_reply", f"out-of-office subject {mail.subject!r}")
    # "Auto:" is also Polish for a car ("Auto: Skoda Octavia – pasuje?"): only with a text that asks nothing.
    if re.match(r"^\s*(auto|autoreply|automatic reply)\s*:", subject, re.I) and (
        not subject.lower().startswith("auto:") or _states_without_asking(mail)
    ):
        return Verdict.system_mail("auto_reply", f"auto-reply subject prefix {mail.subject!r}")
    if not re.match(r"^\s*(fw|fwd|wg|pd|tr|rv|enc)\s*:", subject, re.I):
        notice = _absence_notice(mail)
        if notice:
            return Verdict.system_mail("auto_reply", f"out-of-office notice in the text ({notice!r})")
    return None
