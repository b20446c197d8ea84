from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

Kind = Literal[
    "bounce", "auto_reply", "feedback_report", "delivery_notification", "newsletter", "notification", "loop"
]


@dataclass(frozen=True, slots=True)
class Verdict:
    system: bool
    kind: Kind | None
    reason: str
    folder: Literal["Inbox", "System"]
    bounce_recipient: str | None = None
    bounce_status: str | None = None
    # What each filter said, in pipeline order, up to the one that decided: (filter, "abstained" |
    # "error: ..." | "kind: reason"). For showing why; not part of the verdict's identity.
    trace: tuple[tuple[str, str], ...] = field(default=(), compare=False)

    def traced(self, trace: tuple[tuple[str, str], ...]) -> Verdict:
        return replace(self, trace=trace)

    @classmethod
    def customer(cls, reason: str = "no system-mail signal") -> Verdict:
        return cls(system=False, kind=None, reason=reason, folder="Inbox")

    @classmethod
    def system_mail(
        cls, kind: Kind, reason: str, *, recipient: str | None = None, status: str | None = None
    ) -> Verdict:
        return cls(True, kind, reason, "System", bounce_recipient=recipient, bounce_status=status)
