"""Notification senders that cannot be answered (no-reply@, notifications@): nobody reads a reply."""

from __future__ import annotations

import re

from responer_routing.domain.system_mail.evidence import local_part
from responer_routing.domain.system_mail.facts import IncomingMail, SortingPolicy
from responer_routing.domain.system_mail.verdict import Verdict

_NO_REPLY = re.compile(
    r"^(no|do|dont|do-not|do_not|please-do-not)?[-_.]?(not)?[-_.]?reply\b|^noreply|^no-?reply|"
    r"^(notifications?|notify|alerts?|automated|auto-confirm|bounces?)([-_.+].*)?$|nie[-_.]?odpowiadaj",
    re.I,
)


def detect_noreply_sender(mail: IncomingMail, policy: SortingPolicy) -> Verdict | None:
    local = local_part(mail.from_email)
    if local and _NO_REPLY.search(local):
        return Verdict.system_mail("notification", f"no-reply sender {mail.from_email}")
    return None
