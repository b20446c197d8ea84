"""The Tenant and User aggregates.

Ids are deterministic (uuid5 of the natural key) so seeding twice, or two replicas seeding at once,
lands on the same aggregate and the event store's optimistic concurrency rejects the duplicate.
A user's id comes from the lower-cased e-mail address: an address is one account platform-wide.
"""

from __future__ import annotations

import re
import unicodedata
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

ACCOUNTS_NAMESPACE = uuid5(NAMESPACE_URL, "https://responer.dev/gateway/accounts")
ROLES = ("admin", "agent")


def slugify(name: str) -> str:
    folded = unicodedata.normalize("NFKD", name.replace("ł", "l").replace("Ł", "L"))
    ascii_only = folded.encode("ascii", "ignore").decode("ascii").lower()
    return re.sub(r"[^a-z0-9]+", "-", ascii_only).strip("-") or "tenant"


def normalise_email(email: str) -> str:
    return email.strip().lower()


class Tenant(Aggregate):
    @staticmethod
    def create_id(slug: str) -> UUID:
        return uuid5(ACCOUNTS_NAMESPACE, f"tenant:{slug}")

    @classmethod
    def id_for(cls, name: str) -> UUID:
        return cls.create_id(slugify(name))

    @event("Registered")
    def __init__(self, slug: str, name: str) -> None:
        self.slug = slug
        self.name = name


class User(Aggregate):
    @staticmethod
    def create_id(email: str) -> UUID:
        return uuid5(ACCOUNTS_NAMESPACE, f"user:{normalise_email(email)}")

    @classmethod
    def id_for(cls, email: str) -> UUID:
        return cls.create_id(email)

    @event("Added")
    def __init__(self, email: str, tenant_id: UUID, name: str, role: str, password_hash: str) -> None:
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
        self.email = normalise_email(email)
        self.tenant_id = tenant_id
        self.name = name
        self.role = role
        self.password_hash = password_hash

    @event("PasswordChanged")
    def change_password(self, password_hash: str) -> None:
        self.password_hash = password_hash

    # Users added before availability existed have no such event: these defaults stand in.
    available: bool = False
    skills: tuple[str, ...] = ()
    max_open: int = 0

    @event("AvailabilityChanged")
    def set_availability(self, tenant_id: UUID, available: bool, skills: list[str], max_open: int) -> None:
        """Every event carries the whole state (and the tenant), so the relay maps it on its own."""
        if max_open < 0:
            raise ValueError("max_open must not be negative")
        self.available = available
        self.skills = tuple(dict.fromkeys(s.strip() for s in skills if s.strip()))
        self.max_open = max_open
