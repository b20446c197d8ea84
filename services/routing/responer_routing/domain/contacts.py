"""Contacts: every sender becomes a contact of the tenant on first mail; editable, with attributes.

The contact's id comes from the tenant and the lower-cased address, so the first mail from an
address creates it and every later one (on any replica) finds the same aggregate.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from eventsourcing.domain import Aggregate, event

# Mailbox providers: their domain says nothing about the sender's organisation.
FREEMAIL = frozenset(
    "gmail.com googlemail.com yahoo.com outlook.com hotmail.com live.com icloud.com me.com aol.com "
    "proton.me protonmail.com gmx.com gmx.de gmx.net web.de wp.pl o2.pl onet.pl interia.pl op.pl "
    "tlen.pl poczta.fm yandex.ru mail.ru seznam.cz".split()
)


def normalise_address(email: str) -> str:
    return email.strip().lower()


def contact_id_for(tenant_id: str, email: str) -> uuid.UUID:
    return uuid.uuid5(uuid.UUID(tenant_id), f"contact:{normalise_address(email)}")


def organisation_of(email: str) -> str:
    """The sender's organisation guessed from the domain: 'shop.example.co.uk' -> 'example.co.uk'."""
    domain = normalise_address(email).rpartition("@")[2]
    if not domain or domain in FREEMAIL:
        return ""
    parts = domain.split(".")
    if len(parts) >= 3 and len(parts[-2]) <= 3 and len(parts[-1]) == 2:  # co.uk, com.pl
        return ".".join(parts[-3:])
    return ".".join(parts[-2:])


class Contact(Aggregate):
    @event("Created")
    def __init__(
        self, tenant_id: str, email: str, name: str, organisation: str, at: datetime, id: uuid.UUID
    ) -> None:  # noqa: A002
        self.tenant_id = tenant_id
        self.email = normalise_address(email)
        self.name = name
        self.organisation = organisation
        self.attributes: dict[str, str] = {}
        self.first_seen = at
        self.last_seen = at
        self.thread_ids: list[str] = []
        self.edited_name = False

    def seen(self, thread_id: str, name: str, at: datetime) -> None:
        new_thread = thread_id not in self.thread_ids
        newer = at > self.last_seen
        better_name = bool(name) and not self.edited_name and name != self.name
        if new_thread or newer or better_name:
            self.saw(thread_id, name if better_name else self.name, max(at, self.last_seen))

    @event("Seen")
    def saw(self, thread_id: str, name: str, at: datetime) -> None:
        if thread_id not in self.thread_ids:
            self.thread_ids.append(thread_id)
        self.name = name
        self.last_seen = at

    @event("Edited")
    def edit(self, name: str, organisation: str, attributes: dict[str, str]) -> None:
        if name:
            self.name = name
            self.edited_name = True
        if organisation:
            self.organisation = organisation
        for key, value in attributes.items():
            key = key.strip().lower()
            if value == "":
                self.attributes.pop(key, None)
            else:
                self.attributes[key] = value

    def view(self) -> dict[str, Any]:
        return {
            "contact_id": str(self.id),
            "email": self.email,
            "name": self.name,
            "organisation": self.organisation,
            "attributes": dict(self.attributes),
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
            "thread_count": len(self.thread_ids),
            "thread_ids": list(self.thread_ids),
        }
