"""Mailing-list and bulk mail: newsletters, campaigns, list traffic (List-Id, List-Unsubscribe, Precedence).

A group address that forwards to us (support@ as a Google Group) adds List-Id to every customer
mail, so a list whose address is one of our own is not evidence of bulk mail.
"""

from __future__ import annotations

import re

from responer_routing.domain.system_mail.facts import IncomingMail, SortingPolicy
from responer_routing.domain.system_mail.noreply import no_reply_sender, notification_hints
from responer_routing.domain.system_mail.verdict import Verdict

_LIST_ID = re.compile(r"<([^<>]+)>")


def _own_list(mail: IncomingMail, policy: SortingPolicy) -> bool:
    list_id = mail.header("List-Id") or ""
    match = _LIST_ID.search(list_id)
    ident = (match.group(1) if match else list_id).strip().lower()
    post = (mail.header("List-Post") or "").lower()
    for address in policy.own_addresses:
        local, _, domain = address.partition("@")
        if ident and ident == f"{local}.{domain}" or address in post:
            return True
    return False


def detect_list_or_bulk(mail: IncomingMail, policy: SortingPolicy) -> Verdict | None:
    if _own_list(mail, policy):
        return None
    for name in ("List-Id", "List-Unsubscribe"):
        value = mail.header(name)
        if value is not None and value.strip():
            return Verdict.system_mail("newsletter", f"{name}: {value.strip()[:120]}")
    precedence = (mail.header("Precedence") or "").strip().lower()
    if precedence == "list":
        return Verdict.system_mail("newsletter", f"Precedence: {precedence}")
    if precedence in ("bulk", "junk"):
        # Bulk without list headers from a no-reply or otherwise automated sender is transactional
        # (payment confirmations, shipping updates); otherwise an old-style list or mass mailing.
        if no_reply_sender(mail) or notification_hints(mail):
            return Verdict.system_mail("notification", f"Precedence: {precedence} from a notification sender")
        return Verdict.system_mail("newsletter", f"Precedence: {precedence}")
    if mail.has_header("X-Campaign") or mail.has_header("X-Mailchimp-Campaign"):  # some ESPs omit List-*
        return Verdict.system_mail("newsletter", "campaign header")
    return None
