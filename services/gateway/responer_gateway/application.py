"""The gateway's eventsourcing application: tenants and users, as commands."""

from __future__ import annotations

import logging
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError
from responer_runtime.es import ResponerApplication

from responer_gateway.domain import Tenant, User, slugify
from responer_gateway.domain.accounts import normalise_email
from responer_gateway.security import Passwords

log = logging.getLogger(__name__)


class UserExistsError(Exception):
    pass


class GatewayApplication(ResponerApplication):
    name = "gateway"

    def __init__(self, env: dict[str, str] | None = None, passwords: Passwords | None = None) -> None:
        super().__init__(env=env)
        self.passwords = passwords or Passwords()

    # -- queries --------------------------------------------------------------------------------
    def get_tenant(self, tenant_id: UUID) -> Tenant | None:
        try:
            return self.repository.get(tenant_id)
        except AggregateNotFoundError:
            return None

    def get_user(self, user_id: UUID) -> User | None:
        try:
            return self.repository.get(user_id)
        except AggregateNotFoundError:
            return None

    # -- commands -------------------------------------------------------------------------------
    def register_tenant(self, name: str) -> Tenant:
        """Idempotent: the tenant's id is derived from its slug."""
        existing = self.get_tenant(Tenant.id_for(name))
        if existing is not None:
            return existing
        tenant = Tenant(slug=slugify(name), name=name)
        try:
            self.save(tenant)
        except IntegrityError:  # another replica seeded it at the same moment
            return self.repository.get(tenant.id)
        return tenant

    def add_user(self, tenant_id: UUID, email: str, name: str, password: str, role: str = "agent") -> User:
        if self.get_tenant(tenant_id) is None:
            raise ValueError(f"tenant {tenant_id} does not exist")
        if self.get_user(User.id_for(email)) is not None:
            raise UserExistsError(f"a user with e-mail {normalise_email(email)} already exists")
        user = User(
            email=email,
            tenant_id=tenant_id,
            name=name,
            role=role,
            password_hash=self.passwords.hash(password),
        )
        try:
            self.save(user)
        except IntegrityError as exc:
            raise UserExistsError(f"a user with e-mail {user.email} already exists") from exc
        return user

    def seed_admin(self, tenant_name: str, email: str, password: str, name: str = "Administrator") -> User:
        """Makes sure the configured tenant and its admin exist and the admin's password is the configured one.

        Safe to run at every start, by every replica. The configuration is the source of truth for the
        seeded admin's password, so rotating RESPONER_ADMIN_PASSWORD and restarting changes it.
        """
        if not password:
            raise ValueError("RESPONER_ADMIN_PASSWORD must not be empty")
        tenant = self.register_tenant(tenant_name)
        user = self.get_user(User.id_for(email))
        if user is None:
            try:
                return self.add_user(tenant.id, email, name, password, role="admin")
            except UserExistsError:
                user = self.repository.get(User.id_for(email))
        if not self.passwords.verify(user.password_hash, password):
            user.change_password(self.passwords.hash(password))
            self.save(user)
            log.info("seeded admin's password changed", extra={"user_id": str(user.id)})
        return user

    def authenticate(self, email: str, password: str) -> User | None:
        """The user when the password matches; None otherwise, in about the same time either way."""
        user = self.get_user(User.id_for(email))
        ok = self.passwords.verify(user.password_hash if user else None, password)
        return user if ok and user is not None else None
