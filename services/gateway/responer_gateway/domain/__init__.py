"""Tenants, users and groups: who may log in, which tenant's data they see, who works together."""

from responer_gateway.domain.accounts import ROLES, Tenant, User, slugify
from responer_gateway.domain.groups import Directory, Group
from responer_gateway.domain.reading import ThreadReading

__all__ = ["ROLES", "Directory", "Group", "Tenant", "ThreadReading", "User", "slugify"]
