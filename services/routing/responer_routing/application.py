"""Routing: sorts every conversation into a folder (system mail vs. mail that needs an answer)."""

from __future__ import annotations

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import Tracking
from responer_runtime.es import ResponerApplication

from responer_routing.domain.filing import ThreadFiling, filing_id
from responer_routing.domain.system_mail import IncomingMail, SortingPolicy, Verdict, classify


class RoutingApplication(ResponerApplication):
    name = "routing"

    def __init__(self, env: dict[str, str], policy: SortingPolicy) -> None:
        super().__init__(env=env)
        self.policy = policy

    def sort_message(
        self,
        tenant_id: str,
        thread_id: str,
        message_id: str,
        mail: IncomingMail,
        tracking: Tracking | None = None,
    ) -> Verdict:
        verdict = classify(mail, self.policy)
        aggregate_id = filing_id(tenant_id, thread_id)
        try:
            filing = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            filing = ThreadFiling(tenant_id=tenant_id, thread_id=thread_id, id=aggregate_id)
        filing.sort(
            message_id,
            system=verdict.system,
            kind=verdict.kind or "",
            reason=verdict.reason,
            folder=verdict.folder,
        )
        self.record(filing, tracking=tracking)
        return verdict

    def skip(self, tracking: Tracking) -> None:
        """Consumes an event that needs no sorting (our own outgoing mail), so it is not seen twice."""
        self.record(tracking=tracking)

    def filing(self, tenant_id: str, thread_id: str) -> ThreadFiling | None:
        try:
            return self.repository.get(filing_id(tenant_id, thread_id))
        except AggregateNotFoundError:
            return None
