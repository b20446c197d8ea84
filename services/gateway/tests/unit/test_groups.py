"""Groups, the tenant directory and agent availability: commands and the events the relay publishes."""

from __future__ import annotations

import uuid

import pytest
from responer.events.v1 import events_pb2
from responer_gateway.adapters.event_mapping import to_integration_events
from responer_gateway.application import GatewayApplication, GroupError, GroupNameTakenError, NotInTenantError
from responer_gateway.domain import Tenant, User
from responer_gateway.security import Passwords

pytestmark = pytest.mark.unit


class FastPasswords(Passwords):
    def hash(self, password: str) -> str:
        return "plain:" + password

    def verify(self, password_hash: str | None, password: str) -> bool:
        return password_hash == "plain:" + password


@pytest.fixture
def app() -> GatewayApplication:
    return GatewayApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}, passwords=FastPasswords())


def published(app: GatewayApplication) -> list[object]:
    events = [app.mapper.to_domain_event(n) for n in app.recorder.select_notifications(start=1, limit=1000)]
    return [o.payload for e in events for o in to_integration_events(e)]


def test_users_are_listed_per_tenant_only(app):
    admin = app.seed_admin("Acme", "admin@acme.test", "secret-password")
    other = app.seed_admin("Other", "admin@other.test", "secret-password")
    anna = app.add_user(admin.tenant_id, "anna@acme.test", "Anna", "secret-password")
    assert [u.email for u in app.list_users(admin.tenant_id)] == ["admin@acme.test", "anna@acme.test"]
    assert [u.email for u in app.list_users(other.tenant_id)] == ["admin@other.test"]
    with pytest.raises(NotInTenantError):
        app.tenant_user(other.tenant_id, str(anna.id))


def test_a_group_publishes_its_whole_state_on_every_change(app):
    admin = app.seed_admin("Acme", "admin@acme.test", "secret-password")
    anna = app.add_user(admin.tenant_id, "anna@acme.test", "Anna", "secret-password")
    group = app.create_group(admin.tenant_id, "Billing", [str(anna.id), str(anna.id)], str(admin.id))
    app.change_group(admin.tenant_id, str(group.id), None, [str(admin.id), str(anna.id)], None)
    app.remove_group(admin.tenant_id, str(group.id))
    changes = [p for p in published(app) if isinstance(p, events_pb2.GroupChanged)]
    assert [(list(c.member_user_ids), c.manager_user_id, c.removed) for c in changes] == [
        ([str(anna.id)], str(admin.id), False),
        ([str(admin.id), str(anna.id)], str(admin.id), False),
        ([], "", True),
    ]
    assert {c.tenant_id for c in changes} == {str(admin.tenant_id)}
    assert app.list_groups(admin.tenant_id) == []


def test_a_group_refuses_foreign_members_and_a_taken_name(app):
    admin = app.seed_admin("Acme", "admin@acme.test", "secret-password")
    stranger = app.seed_admin("Other", "admin@other.test", "secret-password")
    with pytest.raises(GroupError, match="members and the manager"):
        app.create_group(admin.tenant_id, "Billing", [str(stranger.id)], "")
    with pytest.raises(GroupError, match="name"):
        app.create_group(admin.tenant_id, "  ", [], "")
    app.create_group(admin.tenant_id, "Billing", [], "")
    with pytest.raises(GroupNameTakenError):
        app.create_group(admin.tenant_id, "billing", [], "")
    # Another tenant may use the same name.
    app.create_group(stranger.tenant_id, "Billing", [], "")


def test_availability_keeps_what_is_not_given_and_is_published_whole(app):
    admin = app.seed_admin("Acme", "admin@acme.test", "secret-password")
    app.set_availability(admin.tenant_id, str(admin.id), True, [" vip ", "pl", "vip"], 3)
    user = app.set_availability(admin.tenant_id, str(admin.id), False, None, None)
    assert (user.available, user.skills, user.max_open) == (False, ("vip", "pl"), 3)
    changes = [p for p in published(app) if isinstance(p, events_pb2.AgentAvailabilityChanged)]
    assert [(c.available, list(c.skills), c.max_open) for c in changes] == [
        (True, ["vip", "pl"], 3),
        (False, ["vip", "pl"], 3),
    ]
    with pytest.raises(NotInTenantError):
        app.set_availability(uuid.uuid4(), str(admin.id), True, None, None)


def test_a_directory_is_opened_from_users_added_before_it_existed(app):
    # A store from before the directory: the tenant and a user saved on their own.
    tenant = Tenant(slug="acme", name="Acme")
    old = User(email="old@acme.test", tenant_id=tenant.id, name="Old", role="agent", password_hash="h")
    app.save(tenant, old)
    assert [u.email for u in app.list_users(tenant.id)] == ["old@acme.test"]
    app.add_user(tenant.id, "new@acme.test", "New", "secret-password")
    assert [u.email for u in app.list_users(tenant.id)] == ["old@acme.test", "new@acme.test"]
