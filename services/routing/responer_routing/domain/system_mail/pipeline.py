"""The order of the filters is the policy: most specific, machine-readable evidence first."""

from __future__ import annotations

from collections.abc import Callable

from responer_routing.domain.system_mail.auto_reply import detect_auto_reply
from responer_routing.domain.system_mail.delivery_report import detect_delivery_report
from responer_routing.domain.system_mail.esp_event import detect_esp_event
from responer_routing.domain.system_mail.facts import IncomingMail, SortingPolicy
from responer_routing.domain.system_mail.feedback_report import detect_feedback_report
from responer_routing.domain.system_mail.list_bulk import detect_list_or_bulk
from responer_routing.domain.system_mail.loop import detect_loop
from responer_routing.domain.system_mail.noreply import detect_noreply_sender
from responer_routing.domain.system_mail.verdict import Verdict

Filter = Callable[[IncomingMail, SortingPolicy], Verdict | None]

FILTERS: tuple[tuple[str, Filter], ...] = (
    ("loop", detect_loop),
    # Provider events (SES via SNS) come from a no-reply sender; their JSON says what they are.
    ("esp_event", detect_esp_event),
    # Before delivery reports: ARF is also multipart/report, and its senders look like daemons.
    ("feedback_report", detect_feedback_report),
    ("delivery_report", detect_delivery_report),
    # After delivery reports: bounces carry Auto-Submitted too, and their kind is more specific.
    ("auto_reply", detect_auto_reply),
    ("list_bulk", detect_list_or_bulk),
    ("noreply_sender", detect_noreply_sender),
)

_DEFAULT_POLICY = SortingPolicy()


def classify(mail: IncomingMail, policy: SortingPolicy | None = None) -> Verdict:
    """The first filter that recognises system mail decides; otherwise the mail is a customer's.
    Every filter consulted leaves its word in `Verdict.trace`."""
    policy = policy or _DEFAULT_POLICY
    trace: list[tuple[str, str]] = []
    for name, detect in FILTERS:
        try:
            verdict = detect(mail, policy)
        except Exception as exc:  # a broken filter must not drop mail; it just abstains
            trace.append((name, f"error: {type(exc).__name__}: {exc}"))
            continue
        if verdict is None:
            trace.append((name, "abstained"))
            continue
        trace.append((name, f"{verdict.kind}: {verdict.reason}"))
        return Verdict(
            verdict.system,
            verdict.kind,
            f"{name}: {verdict.reason}",
            verdict.folder,
            verdict.bounce_recipient,
            verdict.bounce_status,
            tuple(trace),
        )
    return Verdict.customer().traced(tuple(trace))
