"""Delivery reports: bounces (failed or delayed) and successful-delivery / read notifications.

The strongest evidence is a machine-readable RFC 3464 report (multipart/report with a
message/delivery-status part); many MTAs (qmail, old Exchange, provider webmail) send only prose,
so a daemon sender, X-Failed-Recipients, or an empty Return-Path together with a typical bounce
subject also count. A subject alone never does: a customer may forward a bounce to ask about it.
"""

from __future__ import annotations

import re

from responer_routing.domain.system_mail.evidence import (
    content_type_param,
    is_reply_or_forward,
    local_part,
    return_path_is_empty,
    top_content_type,
)
from responer_routing.domain.system_mail.facts import IncomingMail, SortingPolicy
from responer_routing.domain.system_mail.verdict import Verdict

_DAEMONS = frozenset(
    {
        "mailer-daemon",
        "mailer_daemon",
        "mailerdaemon",
        "mail-daemon",
        "postmaster",
        "maildelivery",
        "mail-delivery",
        "mail.delivery",
        "bounce",
        "bounces",
        "mdaemon",
        "post_master",
        "post-master",
    }
)
_DAEMON_NAMES = re.compile(r"mail delivery (subsystem|system|service)|mailer.daemon|postmaster", re.I)
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|undelivered|delivery (status notification|failure|failed|has failed|problem)|"
    r"returned mail|mail delivery failed|failure notice|non.?deliver|delivery notification|"
    r"could not (be )?deliver|not delivered|delivery (report|error)|mail system error|"
    r"warning: could not send|delayed mail|message delayed|delivery delayed|rejected|"
    r"nicht zustellbar|unzustellbar|niedostarczon|nie (został|mogła|można|udało).{0,30}dostarcz|"
    r"mail could not|returned to sender|returning to sender|permanent error|bounce|failed delivery|"
    r"mail failed|message .{0,60}\bdelayed\b|error sending your (mail|message)",
    re.I,
)
_SUCCESS_SUBJECT = re.compile(r"^\s*(delivered|relayed|delivery status notification \(success\))", re.I)
_STATUS = re.compile(r"\b([245]\.\d{1,3}\.\d{1,3})\b")
_SMTP_REPLY = re.compile(
    r"\b[45]\d\d[ -]#?[45]\.\d{1,3}\.\d{1,3}\b|\b[45]\d\d[ -]<[^>\s]+@|^\s*<<<\s*[45]\d\d\b", re.M
)
_REPLY_CODE = re.compile(r"\b([45]\d\d)[ -]")
# A quoted local part ("neko..nyaan"@example.org) is rare but legal, and MTAs report it quoted.
_ADDR = r"(?:\"[^\"\s@]+\"|[\w.+'=-]+)@[\w-]+(?:\.[\w-]+)+"
_ADDRESS = re.compile(_ADDR)
_FIELD = re.compile(r"^([\w-]+):[ \t]*(.*)$", re.M)
# "deliverable" is what address verification (sendmail -bv) reports; not in RFC 3464 but seen.
_SUCCESS_ACTIONS = frozenset({"delivered", "relayed", "expanded", "deliverable"})
# Prose of a bounce; counts only with an attached original and an automated sender.
_BOUNCE_TEXT = re.compile(
    r"could not be delivered|couldn't be delivered|undeliverable|delivery (has )?failed|"
    r"permanent(ly)? (error|fatal)|user unknown|no such (user|mailbox)|mailbox (is )?(full|unavailable)|"
    r"was not delivered|message (was )?rejected|nie (został[ao]?|mogła|można|udało się).{0,40}dostarcz|niedostarczon",
    re.I,
)
# A mailing-list manager refusing a post (not a member, moderated, too big) is a bounce in prose.
_LIST_MANAGER_HEADERS = (
    "X-MLServer",
    "X-ML-Name",
    "X-ML-Info",
    "Mailing-List",
    "X-Mailman-Version",
    "List-Subscribe",
    "List-Help",
    "List-Owner",
    "X-Listprocessor-Version",
    "X-Listserver",
)
_LIST_ADMIN = re.compile(
    r"[-_.](admin|owner|request|bounces?|ctl|approval)$|^(mailman|majordomo|listserv|ezmlm|fml|sympa|listmaster)\b",
    re.I,
)
_LIST_REJECTION = re.compile(
    r"\bnot (a )?(member|subscriber)|non-?member|not (allowed|authori[sz]ed|permitted) to post|"
    r"only (list )?(members|subscribers) (may|can) post|posting (is )?(restricted|not allowed)|"
    r"(message|post(ing)?|submission)\b.{0,80}\b(was|has been|is) (rejected|refused|denied|discarded)|"
    r"rejected by the (list|moderator)",
    re.I | re.S,
)
_ATTACHED_ORIGINAL = frozenset({"message/rfc822", "text/rfc822-headers", "message/rfc822-headers"})


def _recipients(dsn: str) -> list[dict[str, str]]:
    """Per-recipient field blocks of a delivery-status body (the first block is per-message)."""
    blocks = []
    # Unfold continuation lines first: a Diagnostic-Code often wraps, and its detail is on line two.
    unfolded = re.sub(r"\r?\n[ \t]+(?=\S)", " ", dsn.replace("\r\n", "\n"))
    for block in re.split(r"\n\s*\n", unfolded):
        fields = {k.lower(): v.strip() for k, v in _FIELD.findall(block)}
        if "final-recipient" in fields or "action" in fields or "original-recipient" in fields:
            blocks.append(fields)
    return blocks


def _address(value: str) -> str | None:
    match = _ADDRESS.search(value.partition(";")[2] or value)
    return match.group(0).lower() if match else None


def _dsn_recipient(fields: dict[str, str]) -> str | None:
    return _address(fields.get("final-recipient", "")) or _address(fields.get("original-recipient", ""))


def _from_dsn(dsn: str, prose: str = "") -> Verdict | None:
    recipients = _recipients(dsn)
    if not recipients:
        return None
    actions = [r.get("action", "").lower() for r in recipients]
    if actions and all(a.split()[0] in _SUCCESS_ACTIONS for a in actions if a) and any(actions):
        first = recipients[0]
        return Verdict.system_mail(
            "delivery_notification",
            f"delivery-status report, action {actions[0]}",
            recipient=_dsn_recipient(first),
            status=_status(first.get("status", "")),
        )
    failed = next(
        (r for r in recipients if r.get("action", "").lower() not in _SUCCESS_ACTIONS), recipients[0]
    )
    recipient = _dsn_recipient(failed) or _prose_recipient_in(prose)
    return Verdict.system_mail(
        "bounce",
        f"delivery-status report, action {failed.get('action', 'unknown').lower() or 'unknown'}",
        recipient=recipient,
        status=_specific_status(
            failed.get("status", ""), failed.get("diagnostic-code", ""), prose, recipient
        ),
    )


def _specific_status(
    status: str, diagnostic: str, prose: str = "", recipient: str | None = None
) -> str | None:
    """MTAs often put a generic x.0.0 in Status and the real enhanced code in Diagnostic-Code, or
    only in the human-readable part next to the recipient: prefer a specific code of the same class.
    A Diagnostic-Code that itself says x.0.0 is the remote server's word and stands."""
    declared = _STATUS.search(status)
    if declared and declared.group(1).endswith(".0.0"):
        klass = declared.group(1)[0]
        codes = [m.group(1) for m in _STATUS.finditer(diagnostic)]
        if not codes and recipient:
            lines = (line for line in prose[:6000].splitlines() if recipient in line.lower())
            codes = [m.group(1) for line in lines for m in _STATUS.finditer(line)]
        specific = [c for c in codes if c[0] == klass and not c.endswith(".0.0")]
        if specific and (not codes or not codes[0].endswith(".0.0")):
            return specific[0]
    if declared:
        return declared.group(1)
    return _status(diagnostic)


def _status(text: str) -> str | None:
    match = _STATUS.search(text)
    if match:
        return match.group(1)
    code = _REPLY_CODE.search(text)
    return code.group(1) if code else None


_LABELLED_RECIPIENT = re.compile(
    r"^\s*(final-recipient|original-recipient|recipient( address)?|failed recipient)\s*:\s*(rfc822\s*;)?\s*<?"
    rf"({_ADDR})",
    re.I | re.M,
)
# Prose bounces put the failed address alone at the start of a line: "<a@b>: host said", "  a@b".
_LEADING_ADDRESS = re.compile(rf"^\s*<?({_ADDR})>?\s*(:|$|\.\.\.)", re.M)
# Lines of the quoted original's header: their addresses are the sender's, not the failed recipient.
_ORIGINAL_HEADER_LINE = re.compile(
    r"^\s*(message-id|from|sender|reply-to|return-path|references|in-reply-to)\s*:", re.I
)


def _prose_recipient(mail: IncomingMail) -> str | None:
    failed = mail.header("X-Failed-Recipients")
    if failed:
        found = _address(failed)
        if found:
            return found
    return _prose_recipient_in(mail.text, mail.from_email, strict=False)


def _prose_recipient_in(text: str, sender: str = "", *, strict: bool = True) -> str | None:
    """The failed address in a bounce's prose: a labelled line, then an address alone at the start
    of a line; unless `strict`, then any address outside the quoted original's header lines."""
    text = text[:20000]

    def usable(address: str) -> bool:
        return address != sender and local_part(address) not in _DAEMONS

    for pattern, group in ((_LABELLED_RECIPIENT, 4), (_LEADING_ADDRESS, 1)):
        for match in pattern.finditer(text):
            address = match.group(group).lower()
            if usable(address):
                return address
    if strict:
        return None
    for line in text.splitlines():
        if _ORIGINAL_HEADER_LINE.match(line):
            continue
        for match in _ADDRESS.finditer(line):
            address = match.group(0).lower()
            if usable(address):
                return address
    return None


def _automated_sender(mail: IncomingMail) -> bool:
    local = local_part(mail.from_email)
    submitted = (mail.header("Auto-Submitted") or "no").strip().lower()
    return not submitted.startswith("no") or any(w in local for w in ("noreply", "no-reply", "daemon"))


def _list_manager_rejection(mail: IncomingMail) -> bool:
    if not _LIST_ADMIN.search(local_part(mail.from_email)):
        return False
    if not any(mail.has_header(name) for name in _LIST_MANAGER_HEADERS):
        return False
    return bool(_LIST_REJECTION.search(mail.subject) or _LIST_REJECTION.search(mail.text[:1500]))


def detect_delivery_report(mail: IncomingMail, policy: SortingPolicy) -> Verdict | None:
    report_type = content_type_param(mail, "report-type")
    dsn = mail.report("message/delivery-status", "message/global-delivery-status")
    if dsn is not None:
        verdict = _from_dsn(dsn, mail.text)
        if verdict is not None:
            return verdict
    if report_type == "disposition-notification" or mail.report(
        "message/disposition-notification", "message/global-disposition-notification"
    ):
        return Verdict.system_mail("delivery_notification", "disposition notification (read receipt)")

    subject = mail.subject
    human_quote = is_reply_or_forward(subject)
    evidence: list[str] = []
    if top_content_type(mail) == "multipart/report" and report_type in ("delivery-status", ""):
        evidence.append("multipart/report")
    if mail.has_header("X-Failed-Recipients"):
        evidence.append("X-Failed-Recipients")
    bounce_subject = bool(_BOUNCE_SUBJECT.search(subject)) and not human_quote
    if local_part(mail.from_email) in _DAEMONS or _DAEMON_NAMES.search(mail.from_name or ""):
        # A postmaster is sometimes a person answering a question: the daemon's name needs
        # something a bounce says (its subject, its wording, an SMTP reply) besides.
        head = mail.text[:5000]
        if _BOUNCE_SUBJECT.search(subject) or _BOUNCE_TEXT.search(head) or _SMTP_REPLY.search(head):
            evidence.append(f"daemon sender {mail.from_email or mail.from_name}")
    if return_path_is_empty(mail) and bounce_subject:
        evidence.append("empty Return-Path")
    automated = bool(evidence) or return_path_is_empty(mail) or _automated_sender(mail)
    if (
        automated
        and not human_quote
        and _ATTACHED_ORIGINAL.intersection(mail.part_types)
        and _BOUNCE_TEXT.search(mail.text[:5000])
    ):
        evidence.append("bounce wording with the original message attached")
    if not evidence and not human_quote and _list_manager_rejection(mail):
        evidence.append(f"mailing-list manager {mail.from_email} refused the post")
        bounce_subject = True
    if not evidence:
        return None
    if not bounce_subject and evidence == ["empty Return-Path"]:
        return None
    if _SUCCESS_SUBJECT.search(subject) and not mail.has_header("X-Failed-Recipients"):
        return Verdict.system_mail("delivery_notification", f"{', '.join(evidence)}; subject {subject!r}")
    status = _status(dsn or "") or _status(mail.text)
    reason = ", ".join(evidence) + (f"; subject {subject!r}" if bounce_subject else "")
    return Verdict.system_mail("bounce", reason, recipient=_prose_recipient(mail), status=status)
