"""ARF feedback reports (RFC 5965): a mailbox provider telling us a recipient marked mail as spam."""

from __future__ import annotations

import re

from responer_routing.domain.system_mail.evidence import content_type_param
from responer_routing.domain.system_mail.facts import IncomingMail, SortingPolicy
from responer_routing.domain.system_mail.verdict import Verdict

_JMRP_SUBJECT = re.compile(r"^\s*complaint about message from ", re.I)
_FEEDBACK_TYPE = re.compile(r"^Feedback-Type:\s*([\w-]+)", re.I | re.M)


def detect_feedback_report(mail: IncomingMail, policy: SortingPolicy) -> Verdict | None:
    # Apple Mail's one-tap unsubscribe sends a generated opt-out to the List-Unsubscribe address;
    # it also says Auto-Submitted: auto-replied, but it is a recipient's feedback, not an auto-reply.
    if (mail.header("X-Apple-Unsubscribe") or "").strip().lower() == "true":
        return Verdict.system_mail("feedback_report", "opt-out request (X-Apple-Unsubscribe)")
    report = mail.report("message/feedback-report")
    if report is None and content_type_param(mail, "report-type") != "feedback-report":
        # Microsoft's pre-ARF junk-mail reporting (JMRP): the complained-about message attached.
        if _JMRP_SUBJECT.match(mail.subject) and "message/rfc822" in mail.part_types:
            return Verdict.system_mail("feedback_report", f"complaint report {mail.subject.strip()!r}")
        return None
    kind = _FEEDBACK_TYPE.search(report or "")
    return Verdict.system_mail(
        "feedback_report", f"feedback report ({kind.group(1).lower() if kind else 'unknown type'})"
    )
