"""Tenants and users: who may log in, and which tenant's data they see."""

from responer_gateway.domain.accounts import ROLES, Tenant, User, slugify

__all__ = ["ROLES", "Tenant", "User", "slugify"]
