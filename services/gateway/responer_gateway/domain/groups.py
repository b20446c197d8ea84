"""Groups of agents (members and a manager), and each tenant's directory of its users and groups.

A group's every event carries the group's whole state, so the relay maps each one to a `GroupChanged`
without reading the aggregate: routing replaces what it knew with what the event says.
The directory exists so a tenant's users and groups can be listed without a read model; its id is
derived from the tenant, and it is saved together with the user or group it lists.
"""

from __future__ import annotations

from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from responer_gateway.domain.accounts import ACCOUNTS_NAMESPACE


def clean_members(members: list[str]) -> list[str]:
    """Order kept, duplicates dropped: round-robin follows the order the manager gave."""
    return list(dict.fromkeys(m for m in members if m))


class Group(Aggregate):
    @event("Created")
    def __init__(self, tenant_id: UUID, name: str, member_user_ids: list[str], manager_user_id: str) -> None:
        self.tenant_id = tenant_id
        self.name = name
        self.member_user_ids = clean_members(member_user_ids)
        self.manager_user_id = manager_user_id
        self.removed = False

    @event("Changed")
    def change(self, tenant_id: UUID, name: str, member_user_ids: list[str], manager_user_id: str) -> None:
        self.name = name
        self.member_user_ids = clean_members(member_user_ids)
        self.manager_user_id = manager_user_id

    @event("Removed")
    def remove(self, tenant_id: UUID, name: str) -> None:
        self.removed = True


class Directory(Aggregate):
    """Which users and groups a tenant has."""

    @staticmethod
    def create_id(tenant_id: UUID) -> UUID:
        return uuid5(ACCOUNTS_NAMESPACE, f"directory:{tenant_id}")

    @event("Opened")
    def __init__(self, tenant_id: UUID, user_ids: list[str]) -> None:
        self.tenant_id = tenant_id
        self.user_ids: list[str] = list(user_ids)
        self.group_ids: list[str] = []

    @event("UserListed")
    def list_user(self, user_id: str) -> None:
        if user_id not in self.user_ids:
            self.user_ids.append(user_id)

    @event("GroupListed")
    def list_group(self, group_id: str) -> None:
        if group_id not in self.group_ids:
            self.group_ids.append(group_id)

    @event("GroupUnlisted")
    def unlist_group(self, group_id: str) -> None:
        if group_id in self.group_ids:
            self.group_ids.remove(group_id)
