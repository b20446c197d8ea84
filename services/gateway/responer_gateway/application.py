"""The gateway's eventsourcing application: tenants, users, groups and availability, as commands."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError
from eventsourcing.utils import get_topic
from responer_runtime.es import ResponerApplication

from responer_gateway.domain import Directory, Group, Tenant, ThreadReading, User, slugify
from responer_gateway.domain.accounts import normalise_email
from responer_gateway.security import Passwords

log = logging.getLogger(__name__)


class UserExistsError(Exception):
    pass


class GroupError(ValueError):
    """A group command that cannot be carried out as asked (the API answers 422)."""


class GroupNameTakenError(Exception):
    pass


class NotInTenantError(LookupError):
    """The user or group does not exist in the caller's tenant (the API answers 404)."""


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
        for _ in range(5):
            directory = self.directory(tenant_id)
            directory.list_user(str(user.id))
            try:
                self.save(user, directory)
            except IntegrityError as exc:
                if self.get_user(user.id) is not None:
                    raise UserExistsError(f"a user with e-mail {user.email} already exists") from exc
                continue  # the directory moved on under us: read it again
            return user
        raise RuntimeError("the tenant's directory kept changing; try again")

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
        directory = self.directory(tenant.id)
        if directory.pending_events:  # opened from the log just now
            try:
                self.save(directory)
            except IntegrityError:
                pass  # another replica opened it
        return user

    def authenticate(self, email: str, password: str) -> User | None:
        """The user when the password matches; None otherwise, in about the same time either way."""
        user = self.get_user(User.id_for(email))
        ok = self.passwords.verify(user.password_hash if user else None, password)
        return user if ok and user is not None else None

    # -- directory, groups, availability ------------------------------------------------------
    def directory(self, tenant_id: UUID) -> Directory:
        """The tenant's directory; opened on first use from the users the event store already has."""
        try:
            return self.repository.get(Directory.create_id(tenant_id))
        except AggregateNotFoundError:
            return Directory(tenant_id=tenant_id, user_ids=self._users_added_before(tenant_id))

    def _users_added_before(self, tenant_id: UUID) -> list[str]:
        # Users added before the directory existed: found once, in the notification log.
        found: list[str] = []
        topic = get_topic(User.Added)  # type: ignore[attr-defined]  # made by @event
        start: int | None = 1
        while start is not None:
            page = self.recorder.select_notifications(start=start, limit=1000, topics=[topic])
            for notification in page:
                user = self.get_user(notification.originator_id)
                if user is not None and user.tenant_id == tenant_id:
                    found.append(str(user.id))
            start = page[-1].id + 1 if len(page) == 1000 else None
        return list(dict.fromkeys(found))

    def list_users(self, tenant_id: UUID) -> list[User]:
        ids = self.directory(tenant_id).user_ids
        users = [self.get_user(UUID(i)) for i in ids]
        return [u for u in users if u is not None and u.tenant_id == tenant_id]

    def tenant_user(self, tenant_id: UUID, user_id: str) -> User:
        try:
            user = self.get_user(UUID(user_id))
        except ValueError:
            user = None
        if user is None or user.tenant_id != tenant_id:
            raise NotInTenantError(f"no user {user_id} in this tenant")
        return user

    def list_groups(self, tenant_id: UUID) -> list[Group]:
        groups = [self.get_group(tenant_id, i) for i in self.directory(tenant_id).group_ids]
        return [g for g in groups if g is not None]

    def get_group(self, tenant_id: UUID, group_id: str) -> Group | None:
        try:
            group = self.repository.get(UUID(group_id))
        except (ValueError, AggregateNotFoundError):
            return None
        if not isinstance(group, Group) or group.tenant_id != tenant_id or group.removed:
            return None
        return group

    def _check_group(self, tenant_id: UUID, name: str, members: list[str], manager: str, group_id: str = "") -> str:  # fmt: skip
        name = name.strip()
        if not name:
            raise GroupError("a group needs a name")
        for user_id in [*members, *([manager] if manager else [])]:
            try:
                self.tenant_user(tenant_id, user_id)
            except NotInTenantError as exc:
                raise GroupError(f"{exc}: members and the manager must be users of the tenant") from exc
        for other in self.list_groups(tenant_id):
            if str(other.id) != group_id and other.name.casefold() == name.casefold():
                raise GroupNameTakenError(f"a group named {other.name!r} already exists")
        return name

    def create_group(self, tenant_id: UUID, name: str, members: list[str], manager: str) -> Group:
        name = self._check_group(tenant_id, name, members, manager)
        group = Group(tenant_id=tenant_id, name=name, member_user_ids=members, manager_user_id=manager)
        for _ in range(5):
            directory = self.directory(tenant_id)
            directory.list_group(str(group.id))
            try:
                self.save(group, directory)
            except IntegrityError:
                continue
            return group
        raise RuntimeError("the tenant's directory kept changing; try again")

    def change_group(self, tenant_id: UUID, group_id: str, name: str | None, members: list[str] | None, manager: str | None) -> Group:  # fmt: skip
        """Unset arguments keep their value; a concurrent edit is retried on the group's fresh state."""
        for _ in range(5):
            group = self.get_group(tenant_id, group_id)
            if group is None:
                raise NotInTenantError(f"no group {group_id} in this tenant")
            new_name = group.name if name is None else name
            new_members = group.member_user_ids if members is None else members
            new_manager = group.manager_user_id if manager is None else manager
            new_name = self._check_group(tenant_id, new_name, new_members, new_manager, group_id)
            group.change(
                tenant_id=tenant_id, name=new_name, member_user_ids=new_members, manager_user_id=new_manager
            )
            try:
                self.save(group)
            except IntegrityError:
                continue
            return group
        raise RuntimeError("the group kept changing; try again")

    def remove_group(self, tenant_id: UUID, group_id: str) -> None:
        group = self.get_group(tenant_id, group_id)
        if group is None:
            raise NotInTenantError(f"no group {group_id} in this tenant")
        directory = self.directory(tenant_id)
        directory.unlist_group(group_id)
        group.remove(tenant_id=tenant_id, name=group.name)
        self.save(group, directory)

    def set_availability(self, tenant_id: UUID, user_id: str, available: bool | None, skills: list[str] | None, max_open: int | None) -> User:  # fmt: skip
        """Unset arguments keep their value; the event carries the whole state."""
        for _ in range(5):
            user = self.tenant_user(tenant_id, user_id)
            kept = list(user.skills) if skills is None else skills
            user.set_availability(
                tenant_id=tenant_id,
                available=user.available if available is None else available,
                skills=list(dict.fromkeys(s.strip() for s in kept if s.strip())),
                max_open=user.max_open if max_open is None else max_open,
            )
            try:
                self.save(user)
            except IntegrityError:
                continue  # a concurrent change (a password, another toggle): apply ours on top of it
            return user
        raise RuntimeError("the user kept changing; try again")

    # -- read state -----------------------------------------------------------------------------
    def record_thread_read(self, tenant_id: UUID, user_id: UUID, thread_id: str) -> ThreadReading:
        """The user opened the thread now: what reached it so far is read, for them only."""
        return self._reading(tenant_id, user_id, thread_id, unread=False)

    def mark_thread_unread(self, tenant_id: UUID, user_id: UUID, thread_id: str) -> ThreadReading:
        """The user wants the thread shown as unread until they open it again."""
        return self._reading(tenant_id, user_id, thread_id, unread=True)

    def _reading(self, tenant_id: UUID, user_id: UUID, thread_id: str, unread: bool) -> ThreadReading:
        reading_id = ThreadReading.create_id(tenant_id, user_id, thread_id)
        for _ in range(5):
            try:
                reading = self.repository.get(reading_id)
            except AggregateNotFoundError:
                reading = ThreadReading(tenant_id=tenant_id, user_id=user_id, thread_id=thread_id)
            at = datetime.now(UTC)
            if unread:
                reading.mark_unread(tenant_id=tenant_id, user_id=user_id, thread_id=thread_id, at=at)
            else:
                reading.read(tenant_id=tenant_id, user_id=user_id, thread_id=thread_id, at=at)
            try:
                self.save(reading)
            except IntegrityError:
                continue  # the same user in another tab at the same moment: record ours after theirs
            return reading
        raise RuntimeError("the thread's read state kept changing; try again")
