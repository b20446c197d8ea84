"""System-mail sorting: an ordered pipeline of one-concern filters, first confident verdict wins.

Entry point: `classify(mail, policy) -> Verdict`. Each filter lives in its own module and returns
a `Verdict` or None. Precision first: a customer's mail must never vanish into System, so every
filter acts only on evidence a human sender does not produce by accident.
"""

from responer_routing.domain.system_mail.facts import IncomingMail, SortingPolicy
from responer_routing.domain.system_mail.pipeline import FILTERS, classify
from responer_routing.domain.system_mail.verdict import Verdict

__all__ = ["FILTERS", "IncomingMail", "SortingPolicy", "Verdict", "classify"]
