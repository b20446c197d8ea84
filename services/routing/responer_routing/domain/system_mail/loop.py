"""Our own mail coming back (a forwarding loop, a copy to ourselves): never answer it."""

from __future__ import annotations

from responer_routing.domain.system_mail.facts import IncomingMail, SortingPolicy
from responer_routing.domain.system_mail.verdict import Verdict


def detect_loop(mail: IncomingMail, policy: SortingPolicy) -> Verdict | None:
    loop = (mail.header("X-Loop") or "").strip().lower()
    if loop and (loop in policy.loop_markers or loop in policy.own_addresses):
        return Verdict.system_mail("loop", f"X-Loop: {loop} is ours")
    domain = mail.message_id.rpartition("@")[2].lower()
    if domain and domain in policy.own_message_id_domains:
        return Verdict.system_mail("loop", f"Message-ID domain {domain} is ours")
    if mail.from_email and mail.from_email in policy.own_addresses:
        return Verdict.system_mail("loop", f"sent from our own address {mail.from_email}")
    return None
