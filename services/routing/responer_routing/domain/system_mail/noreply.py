"""Notification senders: mail from a system nobody reads replies to (no-reply@, powiadomienia@, alerts@).

Two strengths of evidence:
- a sender that says it takes no replies (no-reply, do-not-reply, nie-odpowiadaj, notifications,
  powiadomienia, alerts): alone enough;
- weaker hints, each of which a person's mail can carry by accident (a sending provider's headers
  or Message-ID, a table-layout HTML template, an "automated message, do not reply" footer, an
  e-invoicing, portal or robot@ sender, a shop platform's X-Mailer): two of them.
Neither counts for a reply in a conversation (In-Reply-To/References and a "Re:" subject) or a
forward: a person answering from an odd address, or passing a notification on, is a customer. Nor
for a contact form or marketplace that relays a person (Reply-To on another site).
"""

from __future__ import annotations

import re

from responer_routing.domain.system_mail.evidence import (
    in_reply_chain,
    is_reply_or_forward,
    local_part,
    relays_a_person,
)
from responer_routing.domain.system_mail.facts import IncomingMail, SortingPolicy
from responer_routing.domain.system_mail.verdict import Verdict

_SEP = r"[-_.+]"
_NO_REPLY = re.compile(
    rf"(^|{_SEP})(no|do{_SEP}?not|dont|please{_SEP}?do{_SEP}?not){_SEP}?repl(y|ies)({_SEP}|\d|$)|"
    rf"(^|{_SEP})(nie{_SEP}?odpowiadaj|bez{_SEP}?odpowiedzi|brak{_SEP}?odpowiedzi)({_SEP}|\d|$)|"
    rf"^(notifications?|notify|notyfikacj[ae]|powiadomieni[ae]|alerts?|alerty|automated|"
    rf"auto{_SEP}?confirm|bounces|mailer)({_SEP}.*)?$",
    re.I,
)
# Senders that are usually systems but could be a monitored mailbox: a hint, not a verdict.
_SYSTEM_LOCAL = re.compile(
    rf"^(e{_SEP}?faktur[ay]|e{_SEP}?invoic(e|es|ing)|e{_SEP}?bok|portal|system|platform|billing{_SEP}?system|"
    rf"info{_SEP}?system|shop{_SEP}?system|sklep{_SEP}?system|robot|automat)({_SEP}.*)?$",
    re.I,
)
_ESP_HEADERS = (
    "X-SES-Outgoing",
    "X-SES-Configuration-Set",
    "X-SES-Message-Tags",
    "Feedback-ID",
    "X-Mailgun-Sid",
    "X-Mailgun-Tag",
    "X-Mailgun-Variables",
    "X-SG-EID",
    "X-SG-ID",
    "X-PM-Message-Id",
    "X-PM-Tag",
    "X-MC-User",
    "X-Mandrill-User",
    "X-MSYS-API",
    "X-Mailjet-Campaign",
    "X-MJ-Mid",
    "X-CSA-Complaints",
    "List-Unsubscribe-Post",
    "X-Campaign-Id",
    "X-Sib-Id",
    "X-Mailer-RecptId",
)
_ESP_MESSAGE_ID = re.compile(
    r"@([\w-]+\.)*(amazonses\.com|sendgrid\.net|mailgun\.(org|net)|mandrillapp\.com|sparkpostmail\.com|"
    r"mailjet\.com|mcsv\.net|mcdlv\.net|postmarkapp\.com|sendinblue\.com|brevo\.com|mtasv\.net|"
    r"rsgsv\.net|exacttarget\.com|salesforce\.com|hubspotemail\.net|klaviyomail\.com)$",
    re.I,
)
_TEMPLATE_HTML = re.compile(r"<table\b[^>]*\brole\s*=\s*[\"']?presentation", re.I)
_AUTOMATED_FOOTER = re.compile(
    r"(please )?(do not|don't) reply (to )?(this|directly)|this (e-?mail|message|notification) "
    r"(was|is|has been) (sent |generated )?automatically|automated (message|e-?mail|notification)|"
    r"(wiadomo[sś][cć]|e-?mail) (zosta[łl]a )?(wygenerowan[aey]|wys[łl]an[aey]) automatycznie|"
    r"wiadomo[sś][cć] automatyczna|prosimy (na ni[aą] )?nie odpowiada[cć]|nie odpowiadaj (na t[eę] wiadomo)",
    re.I,
)
# Shop, invoicing and campaign platforms. Not PHPMailer (its X-Mailer names github.com) nor tools
# people write with (helpdesks, CRMs): a website's contact form sends a customer's words through them.
_PLATFORM_MAILER = re.compile(
    r"\b(prestashop|woocommerce|magento|shopify|shoper|idosell|iai-shop|sky-?shop|redcart|baselinker|"
    r"salesmanago|freshmail|getresponse|mailchimp|sendinblue|brevo|odoo|subiekt|wfirma|fakturownia|"
    r"infakt|ifirma)\b",
    re.I,
)


def notification_hints(mail: IncomingMail) -> list[str]:
    # Not X-Auto-Response-Suppress (Outlook puts it on some ordinary mail) nor a 1x1 tracking pixel
    # (sales people's mail trackers add one): each would pair too easily with a signature's table.
    hints = []
    # One hint however many ways it shows: a list or a person's mail can be relayed through SES too.
    esp = next((name for name in _ESP_HEADERS if mail.has_header(name)), None)
    if esp:
        hints.append(f"sending-provider header {esp}")
    elif _ESP_MESSAGE_ID.search(mail.message_id):
        hints.append(f"sending-provider Message-ID {mail.message_id.rpartition('@')[2]}")
    if _TEMPLATE_HTML.search(mail.html[:200_000]):
        hints.append("table-layout HTML template")
    footer = _AUTOMATED_FOOTER.search(mail.text[-3000:] if len(mail.text) > 6000 else mail.text)
    if footer:
        hints.append(f"automated-message footer {footer.group(0)!r}")
    if _SYSTEM_LOCAL.search(local_part(mail.from_email)):
        hints.append(f"system sender {mail.from_email}")
    mailer = mail.header("X-Mailer") or ""
    if _PLATFORM_MAILER.search(mailer):
        hints.append(f"X-Mailer {mailer.strip()[:60]}")
    return hints


def no_reply_sender(mail: IncomingMail) -> bool:
    local = local_part(mail.from_email)
    return bool(local and _NO_REPLY.search(local))


def detect_noreply_sender(mail: IncomingMail, policy: SortingPolicy) -> Verdict | None:
    if in_reply_chain(mail) or re.match(r"^\s*(fw|fwd|wg|pd|tr|rv|enc)\s*:", mail.subject, re.I):
        return None
    if relays_a_person(mail, _NO_REPLY):
        return None
    if no_reply_sender(mail):
        return Verdict.system_mail("notification", f"no-reply sender {mail.from_email}")
    if is_reply_or_forward(mail.subject) or mail.has_header("In-Reply-To"):
        return None  # weak hints never outweigh a conversation
    hints = notification_hints(mail)
    if len(hints) >= 2:
        return Verdict.system_mail("notification", "; ".join(hints))
    return None
